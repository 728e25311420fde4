// Command notes is the example plugin of docs/plugins.md: when a session
// closes it adds a technician note that sums the session up, and counts the
// notes it added in the hub's /metrics. It only talks to the hub through
// the SDK's host API.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/manifest"
)

//go:embed plugin.json
var manifestJSON []byte

// pluginManifest is parsed once at start, by the parser the hub uses: a
// plugin whose own manifest is broken should not start at all.
var pluginManifest = func() manifest.Manifest {
	m, err := manifest.Parse(manifestJSON)
	if err != nil {
		panic(fmt.Sprintf("notes: plugin.json: %v", err))
	}
	return m
}()

// Config is the plugin's settings; the keys are those of plugin.json, the
// validate tags say what the manifest's schema cannot.
type Config struct {
	Prefix       string `json:"prefix" validate:"required,max=80"`
	IncludeTimes bool   `json:"include_times"`
}

// Plugin adds a note to every closed session.
type Plugin struct {
	host sdk.Host
}

var (
	_ sdk.Provisioner  = (*Plugin)(nil)
	_ sdk.Configurer   = (*Plugin)(nil)
	_ sdk.EventHandler = (*Plugin)(nil)
)

// Describe says who the plugin is, from its manifest so the two agree.
func (p *Plugin) Describe() sdk.Description { return pluginManifest.Description() }

// Provision keeps the host API for the events to come.
func (p *Plugin) Provision(_ context.Context, host sdk.Host) error {
	p.host = host
	return nil
}

// Configure checks a unit's settings before the admin centre saves them.
func (p *Plugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	var cfg Config
	return sdk.DecodeConfig(req.Settings, &cfg)
}

// HandleEvent adds the closing note. The hub may deliver an event more than
// once (a lost acknowledgement), so the plugin remembers the events it has
// noted in its key-value store and skips them.
func (p *Plugin) HandleEvent(ctx context.Context, e sdk.Event) sdk.Result {
	if e.Type != "session.closed" {
		return sdk.Acked() // not subscribed: nothing to do
	}
	var cfg Config
	if err := sdk.DecodeConfig(e.Config, &cfg); err != nil {
		// Retrying cannot fix settings; an admin must.
		return sdk.Failed(err.Error())
	}
	doneKey := "noted/" + e.ID
	if _, done, err := p.host.KVGet(ctx, doneKey); err != nil {
		return sdk.RetryLater(0, err.Error())
	} else if done {
		return sdk.Acked()
	}
	s, err := p.host.Session(ctx, e.SessionID, sdk.SessionOptions{})
	if errors.Is(err, sdk.ErrNotFound) {
		return sdk.Failed(fmt.Sprintf("session %d is gone", e.SessionID))
	}
	if err != nil {
		return sdk.RetryLater(0, err.Error())
	}
	if err := p.host.AddNote(ctx, e.SessionID, noteText(cfg, s)); err != nil {
		return sdk.RetryLater(30*time.Second, err.Error())
	}
	// From here on the note exists: failures are logged, not retried, or
	// the retry would add it twice.
	if err := p.host.KVSet(ctx, doneKey, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		sdk.Logger().Warn("cannot remember the noted event", "event", e.ID, "error", err)
	}
	if err := p.host.Metric(ctx, sdk.Metric{Name: "notes_added", Kind: "counter", Value: 1}); err != nil {
		sdk.Logger().Warn("cannot count the note", "error", err)
	}
	sdk.Logger().Info("closing note added", "session", e.SessionID, "event", e.ID)
	return sdk.Acked()
}

func noteText(cfg Config, s sdk.Session) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", cfg.Prefix, s.StateLabel)
	if s.Technician != nil {
		fmt.Fprintf(&b, " (%s)", s.Technician.Name)
	}
	if cfg.IncludeTimes {
		fmt.Fprintf(&b, "; waited %s, worked %s",
			time.Duration(s.WaitingSecs)*time.Second, time.Duration(s.WorkSecs)*time.Second)
	}
	return b.String()
}

func main() {
	sdk.Serve(&Plugin{})
}
