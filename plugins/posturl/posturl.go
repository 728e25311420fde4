// Package posturl is the bundled "Post to URL" plugin (P2U-1..P2U-3): it
// posts a session's data to a technician group's URL when the session first
// becomes Active and/or when it ends, as XML, an HTML form POST or JSON.
//
// cmd/tether runs it with sdk.Serve(posturl.New()).
package posturl

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetherhq/tether/sdk"
)

// Manifest is the plugin's plugin.json.
//
//go:embed plugin.json
var Manifest []byte

// Event types the plugin handles (see plugin.json).
const (
	EventPickedUp = "session.picked_up"
	EventClosed   = "session.closed"
	EventTimedOut = "session.timed_out"
)

// Defaults applied when a setting is absent or zero.
const (
	DefaultFormat         = "xml"
	DefaultTimeoutSeconds = 10
)

// Config is the plugin's settings for one technician group, as plugin.json
// declares them. The validate tags carry the rules the schema cannot say;
// signing_secrets is checked by Validate.
type Config struct {
	StartURL            string `json:"start_url" validate:"omitempty,http_url"`
	EndURL              string `json:"end_url" validate:"omitempty,http_url"`
	Format              string `json:"format" validate:"omitempty,oneof=xml form json"`
	NoChatText          bool   `json:"no_chat_text"`
	TimeoutSeconds      int    `json:"timeout_seconds" validate:"omitempty,min=1,max=60"`
	SigningSecrets      string `json:"signing_secrets"`
	AllowPrivateTargets bool   `json:"allow_private_targets"`
}

// ParseConfig decodes and validates settings (sdk.DecodeConfig, then the
// secret check) and fills in defaults. Errors are *sdk.ConfigError.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	if err := sdk.DecodeConfig(raw, &c); err != nil {
		return Config{}, err
	}
	if _, err := parseSecrets(c.SigningSecrets); err != nil {
		return Config{}, &sdk.ConfigError{Message: "invalid settings",
			Fields: map[string]string{"signing_secrets": err.Error()}}
	}
	if c.Format == "" {
		c.Format = DefaultFormat
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = DefaultTimeoutSeconds
	}
	return c, nil
}

// Plugin is the Post to URL plugin.
type Plugin struct {
	host sdk.Host
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	clients map[bool]*http.Client // keyed by allow_private_targets
}

var (
	_ sdk.Plugin        = (*Plugin)(nil)
	_ sdk.Provisioner   = (*Plugin)(nil)
	_ sdk.Configurer    = (*Plugin)(nil)
	_ sdk.HealthChecker = (*Plugin)(nil)
	_ sdk.EventHandler  = (*Plugin)(nil)
)

// New returns the plugin, logging to stderr (which the host collects).
func New() *Plugin {
	return &Plugin{log: slog.Default().With("plugin", "posturl"), now: time.Now, clients: map[bool]*http.Client{}}
}

// Describe names the plugin from its manifest.
func (p *Plugin) Describe() sdk.Description {
	var m struct{ ID, Name, Version string }
	_ = json.Unmarshal(Manifest, &m) // plugin.json is checked by the tests
	return sdk.Description{ID: m.ID, Name: m.Name, Version: m.Version}
}

// Provision keeps the host API.
func (p *Plugin) Provision(_ context.Context, host sdk.Host) error {
	if host == nil {
		return errors.New("posturl: nil host")
	}
	p.host = host
	return nil
}

// Configure validates a group's settings.
func (p *Plugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	_, err := ParseConfig(req.Settings)
	return err
}

// Health: the plugin has nothing external of its own to check; failed posts
// are reported per delivery in the delivery log.
func (p *Plugin) Health(context.Context) error { return nil }

// HandleEvent posts the session on pick-up (start URL, once per session) and
// on close or time-out (end URL).
func (p *Plugin) HandleEvent(ctx context.Context, e sdk.Event) sdk.Result {
	if p.host == nil {
		return sdk.RetryLater(0, "posturl: not provisioned yet")
	}
	cfg, err := ParseConfig(e.Config)
	if err != nil {
		return sdk.Failed("posturl: invalid settings: " + configErrorText(err))
	}
	var target string
	start := false
	switch e.Type {
	case EventPickedUp:
		target, start = cfg.StartURL, true
	case EventClosed, EventTimedOut:
		target = cfg.EndURL
	default:
		return sdk.Acked()
	}
	if target == "" {
		return sdk.Acked()
	}
	t, err := parseTarget(target)
	if err != nil {
		return sdk.Failed("posturl: " + err.Error())
	}
	if start {
		done, err := p.kvBool(ctx, startKey(e.SessionID))
		if err != nil {
			return sdk.RetryLater(0, "posturl: reading state: "+err.Error())
		}
		if done {
			return sdk.Acked() // re-pickup after a transfer: the start was posted already
		}
	}
	gone, err := p.kvBool(ctx, goneKey(t))
	if err != nil {
		return sdk.RetryLater(0, "posturl: reading state: "+err.Error())
	}
	if gone {
		return sdk.Result{Outcome: sdk.Ack, Message: fmt.Sprintf("posturl: not posted: %s answered 410 Gone earlier; change the URL setting to post again", t.display)}
	}

	res, lastSeq := p.post(ctx, e, cfg, t)
	if res.Outcome != sdk.Ack {
		return res
	}
	if lastSeq > 0 {
		if err := p.host.KVSet(ctx, seqKey(t, e.SessionID), fmt.Appendf(nil, "%d", lastSeq)); err != nil {
			p.log.Warn("posturl: saving chat position", "session", e.SessionID, "error", err)
		}
	}
	if start {
		if err := p.host.KVSet(ctx, startKey(e.SessionID), []byte("1")); err != nil {
			p.log.Warn("posturl: saving start state", "session", e.SessionID, "error", err)
		}
	}
	return res
}

func (p *Plugin) kvBool(ctx context.Context, key string) (bool, error) {
	_, ok, err := p.host.KVGet(ctx, key)
	return ok, err
}

func configErrorText(err error) string {
	var ce *sdk.ConfigError
	if errors.As(err, &ce) && len(ce.Fields) > 0 {
		var b strings.Builder
		b.WriteString(ce.Message)
		for _, k := range slices.Sorted(maps.Keys(ce.Fields)) {
			fmt.Fprintf(&b, "; %s: %s", k, ce.Fields[k])
		}
		return b.String()
	}
	return err.Error()
}
