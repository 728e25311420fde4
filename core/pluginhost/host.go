package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/pluginhost/catalogue"
	"github.com/tetherhq/tether/core/pluginhost/delivery"
	"github.com/tetherhq/tether/core/pluginhost/hostapi"
	"github.com/tetherhq/tether/core/pluginhost/kv"
	"github.com/tetherhq/tether/core/pluginhost/pluginsettings"
	"github.com/tetherhq/tether/core/pluginhost/secrets"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/manifest"
)

// Bundled is a first-party plugin compiled into the hub binary and run as
// `<Self> plugin run <id>`.
type Bundled struct {
	Manifest []byte
}

// Config wires a Host.
type Config struct {
	DB *bun.DB
	// Root is the directory plugins are installed into.
	Root string
	// Self is the hub's own executable, which runs bundled plugins.
	Self    string
	Bundled []Bundled
	// HubVersion is checked against manifests' min_hub_version.
	HubVersion string
	Keyring    *secrets.Keyring
	Tree       settings.Tree
	Sessions   *sessions.Service
	Messages   *relay.Log
	Live       hostapi.Live
	Org        *org.Service
	// Packs stores the routing rule packs plugins ship (nil: packs are
	// ignored).
	Packs    Packs
	Registry prometheus.Registerer
	Logger   hclog.Logger
	Now      func() time.Time
	// Node names this hub node in delivery claims.
	Node string
	// Knobs for tests; zero means the production default.
	HealthEvery  time.Duration
	PollInterval time.Duration
	BackoffBase  time.Duration
}

// Packs receives the routing rule packs of plugins with the routing
// capability: files maps each path of the manifest's routing list to its
// content. core/hub wires it to core/rules.
type Packs interface {
	// Validate checks a pack without storing it; its error (a fault with
	// every problem) refuses the install.
	Validate(plugin, version string, files map[string][]byte) error
	// Install stores a pack, replacing the plugin's earlier one.
	Install(ctx context.Context, plugin, version string, files map[string][]byte) error
	// Remove deletes the plugin's pack, if it has one.
	Remove(ctx context.Context, plugin string) error
}

// Host runs the plugin platform: catalogue, settings, supervision and
// durable delivery of session events.
type Host struct {
	Catalogue  *catalogue.Catalogue
	Settings   *pluginsettings.Service
	KV         *kv.Store
	Queue      *delivery.Queue
	Supervisor *Supervisor
	API        *hostapi.API

	cfg     Config
	log     hclog.Logger
	subs    atomic.Pointer[[]manifest.Manifest]          // enabled plugins that take events
	enabled atomic.Pointer[map[string]manifest.Manifest] // every enabled plugin, by id

	stateGauge *prometheus.GaugeVec

	mu        sync.Mutex
	installMu sync.Mutex // orders installs and removals with their packs
	cancelRun context.CancelFunc
	runDone   chan struct{}
	units     sync.Map // session id -> unitEntry, a small cache for deliveries
	configs   sync.Map // configKey -> configEntry
}

// New builds the host; Start runs it.
func New(cfg Config) (*Host, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	h := &Host{cfg: cfg, log: log}
	h.Catalogue = &catalogue.Catalogue{DB: cfg.DB, Root: cfg.Root, HubVersion: cfg.HubVersion, Now: cfg.Now}
	if cfg.Packs != nil {
		h.Catalogue.Check = h.checkPack
	}
	h.KV = &kv.Store{DB: cfg.DB, Now: cfg.Now}
	h.Settings = &pluginsettings.Service{DB: cfg.DB, Tree: cfg.Tree, Manifests: h.Catalogue, Keyring: cfg.Keyring, Now: cfg.Now}
	h.API = &hostapi.API{Sessions: cfg.Sessions, Messages: cfg.Messages, Live: cfg.Live, Org: cfg.Org, KV: h.KV,
		Sent: h.sent, Metrics: hostapi.NewMetrics(), Logger: log}
	h.Supervisor = &Supervisor{Launch: h.launch, Host: h.API.For, OnState: h.onState, Logger: log.Named("supervisor"),
		HealthEvery: cfg.HealthEvery, Now: cfg.Now}
	if cfg.BackoffBase > 0 {
		base := cfg.BackoffBase
		h.Supervisor.Backoff = func(n int) time.Duration { return base << min(n-1, 6) }
	}
	q, err := delivery.New(delivery.Config{DB: cfg.DB, Deliver: h.deliver, Ready: h.Supervisor.Ready,
		PollInterval: cfg.PollInterval, BackoffBase: cfg.BackoffBase, Node: cfg.Node, Now: cfg.Now,
		Log: log.Named("delivery"), Reg: cfg.Registry})
	if err != nil {
		return nil, err
	}
	h.Queue = q
	h.stateGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tether_plugin_up", Help: "1 for the state each installed plugin is in (installed, starting, running, failed, stopped, disabled).",
	}, []string{"plugin", "state"})
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(h.stateGauge); err != nil {
			return nil, fmt.Errorf("plugin metrics: %w", err)
		}
		if err := cfg.Registry.Register(h.API.Metrics); err != nil {
			return nil, fmt.Errorf("plugin metrics: %w", err)
		}
	}
	empty := []manifest.Manifest{}
	h.subs.Store(&empty)
	none := map[string]manifest.Manifest{}
	h.enabled.Store(&none)
	return h, nil
}

// Start registers the bundled plugins, hands back deliveries a killed hub
// left running, starts every enabled plugin and the delivery queue.
func (h *Host) Start(ctx context.Context) error {
	for _, b := range h.cfg.Bundled {
		if _, err := h.Catalogue.RegisterBundled(ctx, b.Manifest, h.cfg.Self); err != nil {
			return fmt.Errorf("register bundled plugin: %w", err)
		}
	}
	if n, err := h.Queue.Recover(ctx); err != nil {
		return err
	} else if n > 0 {
		h.log.Info("deliveries interrupted by the last stop are due again", "count", n)
	}
	if err := h.refresh(ctx); err != nil {
		return err
	}
	plugins, err := h.Catalogue.List(ctx)
	if err != nil {
		return err
	}
	for _, p := range plugins {
		if p.Enabled {
			if err := h.startPlugin(p); err != nil {
				h.log.Error("plugin not started", "plugin", p.ID, "error", err)
			}
		} else {
			h.setGauge(p.ID, string(catalogue.Disabled))
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.mu.Lock()
	h.cancelRun, h.runDone = cancel, done
	h.mu.Unlock()
	go func() {
		defer close(done)
		h.Queue.Run(runCtx)
	}()
	return nil
}

// Shutdown stops the queue (recording the outcome of deliveries under way)
// and every plugin process.
func (h *Host) Shutdown() {
	h.mu.Lock()
	cancel, done := h.cancelRun, h.runDone
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	h.Supervisor.StopAll()
}

// Wake tells the queue that new deliveries were committed.
func (h *Host) Wake() { h.Queue.Wake() }

// EventsCommitted tells the queue that session events were committed, which
// made deliveries only if an enabled plugin takes events: with none, the
// queue is left to its poll instead of looking for work on every change.
func (h *Host) EventsCommitted() {
	if h.takesEvents() {
		h.Queue.Wake()
	}
}

// takesEvents says whether an enabled plugin takes session events.
func (h *Host) takesEvents() bool {
	subs := h.subs.Load()
	return subs != nil && len(*subs) > 0
}

// refresh reloads which enabled plugins take which events.
func (h *Host) refresh(ctx context.Context) error {
	plugins, err := h.Catalogue.List(ctx)
	if err != nil {
		return err
	}
	subs := []manifest.Manifest{}
	enabled := map[string]manifest.Manifest{}
	for _, p := range plugins {
		if p.Enabled {
			enabled[p.ID] = p.Manifest
		}
		if p.Enabled && p.Manifest.HasCapability(sdk.CapEvents) {
			subs = append(subs, p.Manifest)
		}
	}
	h.subs.Store(&subs)
	h.enabled.Store(&enabled)
	return nil
}

// Subscribes reports whether an enabled plugin takes events of this type.
func (h *Host) Subscribes(eventType string) bool {
	for _, m := range *h.subs.Load() {
		if m.Subscribes(eventType) {
			return true
		}
	}
	return false
}

// Written is the sessions outbox hook: one delivery per enabled plugin that
// subscribes to the event, in the transaction that writes the event.
func (h *Host) Written(ctx context.Context, db bun.IDB, e sessions.Event) error {
	var to []string
	for _, m := range *h.subs.Load() {
		if m.Subscribes(e.Type) {
			to = append(to, m.ID)
		}
	}
	if len(to) == 0 {
		return nil
	}
	return delivery.Enqueue(ctx, db, delivery.Event{ID: e.ID, SessionID: e.SessionID, Type: e.Type,
		ActorID: e.ActorID, Payload: e.Payload, At: e.At}, to)
}

func (h *Host) sent(ctx context.Context, plugin string, sessionID int64) (bool, error) {
	return delivery.Sent(ctx, h.cfg.DB, plugin, sessionID)
}

func (h *Host) setGauge(id, state string) {
	for _, s := range []string{"installed", "starting", "running", "failed", "stopped", "disabled"} {
		v := 0.0
		if s == state {
			v = 1
		}
		h.stateGauge.WithLabelValues(id, s).Set(v)
	}
}

func (h *Host) onState(id, state, lastErr string) {
	h.setGauge(id, state)
	// A fresh context: the state of a plugin stopping at shutdown is still
	// worth recording.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Catalogue.SetState(ctx, id, catalogue.State(state), lastErr); err != nil && !fault.IsKind(err, fault.NotFound) {
		h.log.Warn("record plugin state", "plugin", id, "state", state, "error", err)
	}
	if state == StateRunning {
		h.Queue.Wake()
	}
}

func (h *Host) startPlugin(p catalogue.Plugin) error {
	sum, err := p.PinnedSum()
	if err != nil {
		return err
	}
	h.Supervisor.Start(Spec{ID: p.ID, Executable: p.Executable, Args: p.Args, Checksum: sum})
	return nil
}

// launch starts a plugin process: go-plugin verifies the executable against
// the checksum pinned at install before running it.
func (h *Host) launch(ctx context.Context, spec Spec, host sdk.Host) (Process, error) {
	cmd := exec.Command(spec.Executable, spec.Args...)
	dieWithParent(cmd)
	conn, err := sdk.Launch(ctx, sdk.LaunchConfig{Cmd: cmd, Checksum: spec.Checksum, Host: host,
		Logger: h.log.Named("plugin").Named(spec.ID)})
	if errors.Is(err, sdk.ErrChecksumMismatch) {
		return nil, &Permanent{Err: fmt.Errorf("%s: %w (reinstall the plugin to trust a new binary)", spec.Executable, err)}
	}
	if err != nil {
		return nil, err
	}
	return conn2process{conn}, nil
}

// conn2process adapts *sdk.Conn to Process.
type conn2process struct{ *sdk.Conn }

func (c conn2process) Ping(context.Context) error { return c.Conn.Ping() }

// Enable turns a plugin on and starts it.
func (h *Host) Enable(ctx context.Context, id string) (catalogue.Plugin, error) {
	if err := h.Catalogue.Enable(ctx, id); err != nil {
		return catalogue.Plugin{}, err
	}
	p, err := h.Catalogue.Get(ctx, id)
	if err != nil {
		return catalogue.Plugin{}, err
	}
	if err := h.refresh(ctx); err != nil {
		return catalogue.Plugin{}, err
	}
	if err := h.startPlugin(p); err != nil {
		return catalogue.Plugin{}, err
	}
	return h.Catalogue.Get(ctx, id)
}

// Disable stops a plugin; its pending deliveries wait until it is enabled
// again.
func (h *Host) Disable(ctx context.Context, id string) (catalogue.Plugin, error) {
	if err := h.Catalogue.Disable(ctx, id); err != nil {
		return catalogue.Plugin{}, err
	}
	if err := h.refresh(ctx); err != nil {
		return catalogue.Plugin{}, err
	}
	h.Supervisor.Stop(id)
	if err := h.Catalogue.SetState(ctx, id, catalogue.Disabled, ""); err != nil {
		return catalogue.Plugin{}, err
	}
	h.setGauge(id, string(catalogue.Disabled))
	return h.Catalogue.Get(ctx, id)
}

// Remove stops and uninstalls a plugin, and removes its rule pack first
// (a pack must not outlive its plugin; if the uninstall then fails, the
// plugin stays without its pack until it is installed again).
func (h *Host) Remove(ctx context.Context, id string) error {
	h.installMu.Lock()
	defer h.installMu.Unlock()
	p, err := h.Catalogue.Get(ctx, id)
	if err != nil {
		return err
	}
	if h.cfg.Packs != nil && !p.Bundled {
		if err := h.cfg.Packs.Remove(ctx, id); err != nil {
			return fmt.Errorf("remove plugin %s: its rule pack: %w", id, err)
		}
	}
	h.Supervisor.Stop(id)
	if err := h.Catalogue.Remove(ctx, id); err != nil {
		return err
	}
	h.stateGauge.DeletePartialMatch(prometheus.Labels{"plugin": id})
	return h.refresh(ctx)
}

// InstallTarGz installs (or upgrades) a plugin from an archive; a running
// version is restarted on the new binary.
func (h *Host) InstallTarGz(ctx context.Context, r io.Reader) (catalogue.Plugin, error) {
	h.installMu.Lock()
	defer h.installMu.Unlock()
	p, err := h.Catalogue.InstallTarGz(ctx, r)
	return h.installed(ctx, p, err)
}

// InstallDir installs (or upgrades) a plugin from a directory on the hub.
func (h *Host) InstallDir(ctx context.Context, dir string) (catalogue.Plugin, error) {
	h.installMu.Lock()
	defer h.installMu.Unlock()
	p, err := h.Catalogue.InstallDir(ctx, dir)
	return h.installed(ctx, p, err)
}

func (h *Host) installed(ctx context.Context, p catalogue.Plugin, err error) (catalogue.Plugin, error) {
	if err != nil {
		return catalogue.Plugin{}, err
	}
	if err := h.installPack(ctx, p); err != nil {
		return catalogue.Plugin{}, err
	}
	if err := h.refresh(ctx); err != nil {
		return catalogue.Plugin{}, err
	}
	if p.Enabled {
		if err := h.startPlugin(p); err != nil {
			return catalogue.Plugin{}, err
		}
	} else {
		h.setGauge(p.ID, string(p.State))
	}
	return h.Catalogue.Get(ctx, p.ID)
}

// SaveSettings validates against the manifest, then lets the running
// plugin's Configure check the values, then saves (ORG-8 modes).
func (h *Host) SaveSettings(ctx context.Context, req pluginsettings.SaveRequest) ([]settings.Unit, error) {
	req.Configure = func(ctx context.Context, unitID int64, values map[string]any) error {
		proc, err := h.Supervisor.Process(req.PluginID)
		if err != nil {
			// A stopped plugin cannot check its values; the schema did.
			return nil
		}
		raw, err := jsonObject(values)
		if err != nil {
			return err
		}
		return proc.Configure(ctx, sdk.ConfigureRequest{UnitID: unitID, Settings: raw})
	}
	units, err := h.Settings.Save(ctx, req)
	if err == nil {
		h.configs.Clear()
	}
	return units, err
}

// ResetSettings makes a unit inherit the plugin's settings again.
func (h *Host) ResetSettings(ctx context.Context, plugin string, unit int64, inScope func(settings.Unit) bool) error {
	err := h.Settings.Reset(ctx, plugin, unit, inScope)
	if err == nil {
		h.configs.Clear()
	}
	return err
}

// ServeHTTP serves /plugins/<id>/... from the plugin's http capability.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/plugins/")
	id, _, _ := strings.Cut(rest, "/")
	// The enabled plugins are kept in memory: a page request costs no
	// catalogue read.
	m, ok := (*h.enabled.Load())[id]
	if !ok || !m.HasCapability(sdk.CapHTTP) {
		http.Error(w, fmt.Sprintf("no plugin %q serves pages here", id), http.StatusNotFound)
		return
	}
	proc, err := h.Supervisor.Process(id)
	if err != nil {
		http.Error(w, fmt.Sprintf("plugin %q is not running", id), http.StatusServiceUnavailable)
		return
	}
	proc.ServeHTTP(w, r)
}
