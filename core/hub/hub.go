// Package hub is the composition root of the core: it wires organisation,
// auth, settings and the HTTP API together over one database and performs the
// first-start bootstrap. It holds no domain rules of its own.
package hub

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/cluster"
	"github.com/tetherhq/tether/core/httpapi"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/pluginhost"
	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/rules"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/web"
)

// Config is what the binary hands the hub.
type Config struct {
	DB       *bun.DB
	Log      hclog.Logger
	Registry prometheus.Registerer // register tether_* metrics here
	// AdminEmail and AdminPassword seed the master administrator on first
	// start (TETHER_ADMIN_EMAIL / TETHER_ADMIN_PASSWORD). Empty email means
	// admin@localhost; empty password means a generated one, logged once and
	// to be changed at first sign-in.
	AdminEmail    string
	AdminPassword string
	// TokenTTL is how long API bearer tokens live; 0 means auth's default
	// (30 days). The binary's --token-ttl defaults to 24h.
	TokenTTL time.Duration
	Now      func() time.Time
	// SMTPURL is TETHER_SMTP_URL: where e-mail goes (smtp://user:pass@host:port?from=...).
	SMTPURL string
	// Hasher overrides the password hasher (tests use cheap parameters).
	Hasher *auth.Hasher
	// DataDir holds installed plugins (<DataDir>/plugins) and the key that
	// seals plugin secrets (<DataDir>/secret.key, unless TETHER_SECRET_KEY
	// is set). Empty: a temporary directory, for tests.
	DataDir string
	// Self is the hub's own executable, which runs the Bundled plugins.
	Self    string
	Bundled []pluginhost.Bundled
	// Version is the hub's version, checked against plugins' min_hub_version.
	Version string
	// Plugins tunes the plugin host (tests shorten its intervals).
	Plugins PluginTuning
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto the hub believes (--trusted-proxies); none by default.
	TrustedProxies auth.Proxies
	// Cluster joins the other hub nodes on the same database over NATS
	// (--nats-url); nil or an empty URL runs this node alone.
	Cluster *cluster.Config
}

// PluginTuning shortens the plugin host's intervals; zero values keep the
// production defaults (health every 30 s, deliveries polled every 250 ms,
// retries from 1 s).
type PluginTuning struct {
	HealthEvery  time.Duration
	PollInterval time.Duration
	BackoffBase  time.Duration
}

// Hub is the running core.
type Hub struct {
	Org      *org.Service
	Auth     *auth.Service
	Settings *settings.Service
	Sessions *sessions.Service
	Rules    *rules.Service
	Timers   *queue.Timers
	Presence *queue.Presence
	Relay    *relay.Server
	Plugins  *pluginhost.Host
	API      *httpapi.API
	handler  http.Handler
	routing  routingRules
	cluster  *cluster.Node // nil when this node runs alone
	log      hclog.Logger
	ctx      context.Context

	dispatchAll, rerouteAll rerun
}

// ActivityEvery is how often, at most, a technician's actions are written
// as their last activity (idle time is counted in minutes).
const ActivityEvery = time.Second

// SettingsCacheTTL is how long the hub trusts a settings value it resolved
// (core/settings cache.go): changes made through this hub apply at once,
// changes made through another hub node within this time.
const SettingsCacheTTL = 2 * time.Second

// RulesCacheTTL is how long the hub trusts the routing rules it compiled:
// changes made through this hub apply at once, through another node within
// this time (each list is then read and compiled again).
const RulesCacheTTL = 10 * time.Second

// New bootstraps the organisation if the database is empty and returns the hub.
// The database must already be migrated.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{Org: &org.Service{DB: cfg.DB, Now: cfg.Now}}
	reg, err := Sections()
	if err != nil {
		return nil, err
	}
	h.Settings = &settings.Service{DB: cfg.DB, Tree: settingsTree{h.Org}, Registry: reg, Now: cfg.Now, CacheTTL: SettingsCacheTTL}
	h.Org.Changed = func() {
		h.Settings.Invalidate()
		if h.Sessions != nil {
			h.Sessions.ForgetCredentials()
		}
	}
	hasher := auth.Hasher{Params: auth.DefaultParams()}
	if cfg.Hasher != nil {
		hasher = *cfg.Hasher
	}
	tokens := auth.NewTokens(cfg.DB)
	tokens.Now = cfg.Now
	throttle := auth.NewThrottle(cfg.DB)
	throttle.Now = cfg.Now
	h.Auth = &auth.Service{
		Directory: directory{org: h.Org, settings: h.Settings},
		Tokens:    tokens,
		Hasher:    hasher,
		Throttle:  throttle,
		Now:       cfg.Now,
		Log:       cfg.Log.Named("auth"),
	}
	if err := h.bootstrap(ctx, cfg); err != nil {
		return nil, err
	}
	h.log = cfg.Log
	h.Timers = &queue.Timers{DB: cfg.DB, Now: cfg.Now, Log: cfg.Log.Named("timers")}
	h.Presence = &queue.Presence{DB: cfg.DB, Now: cfg.Now, ActivityEvery: ActivityEvery}
	pres := presence{rows: h.Presence, org: h.Org, settings: h.Settings, sessions: func() *sessions.Service { return h.Sessions }, now: cfg.Now,
		available: func() { h.TechnicianAvailable() }, statusChanged: func() { h.technicianStatusChanged() }}
	var mailer *queue.Mailer
	if cfg.SMTPURL != "" {
		if mailer, err = queue.ParseMailerURL(cfg.SMTPURL); err != nil {
			return nil, fmt.Errorf("TETHER_SMTP_URL: %w", err)
		}
	}
	pol := policy{settings: h.Settings}
	h.Sessions = &sessions.Service{DB: cfg.DB, Org: h.Org, Policy: pol, Timers: h.Timers,
		Presence: pres, Dispatcher: dispatcher{presence: pres, policy: pol, mailer: mailer},
		Now: cfg.Now, Logger: cfg.Log.Named("sessions"), Notify: h, CredentialsTTL: SettingsCacheTTL,
		TechnicianActed: func(ctx context.Context, id int64) {
			if err := h.Presence.Activity(ctx, id); err != nil {
				cfg.Log.Warn("record technician activity", "technician", id, "error", err)
			}
		}}
	h.wireRouting(cfg, pres)
	h.ctx = context.WithoutCancel(ctx)
	rlog := relay.NewLog(cfg.DB, h.Sessions.AppendEvent, cfg.Now)
	rlog.SetEventPart(h.Sessions.EventPart)
	h.Sessions.Log = systemLog{log: rlog}
	keep := &chatTextPolicy{sessions: h.Sessions, settings: h.Settings, org: h.Org, log: cfg.Log.Named("relay")}
	rlog.SetKeepTextPolicy(keep.keep)
	h.API = &httpapi.API{Org: h.Org, Auth: h.Auth, Settings: h.Settings, Sessions: h.Sessions,
		Estimate: queue.EstimateWait, Status: pres, Log: cfg.Log.Named("api"), Now: cfg.Now, TokenTTL: cfg.TokenTTL,
		Rules: h.Rules, DryRun: h.routing}
	h.Relay, err = relay.NewServer(relay.Config{DB: cfg.DB, Log: rlog, Now: cfg.Now, Logger: cfg.Log,
		Sessions: relaySessions{sessions: h.Sessions, org: h.Org, settings: h.Settings, db: cfg.DB,
			collab:          func() *relay.Collaboration { return h.Relay.Collaboration() },
			technicianActed: h.Sessions.TechnicianActed},
		AuthenticateTechnician: h.API.TechnicianOf, Registry: cfg.Registry})
	if err != nil {
		return nil, err
	}
	h.API.RelayCustomer, h.API.RelayTechnician = h.Relay.CustomerHandler(), h.Relay.TechnicianHandler()
	h.API.Notes = func(ctx context.Context, id int64) ([]string, error) { return notesOf(ctx, rlog, id) }
	if err := h.joinCluster(cfg); err != nil {
		return nil, err
	}
	if err := h.startPlugins(ctx, cfg, rlog); err != nil {
		if h.cluster != nil {
			h.cluster.Close()
		}
		return nil, err
	}
	apiHandler := h.API.Handler(cfg.Registry)
	h.handler = cfg.TrustedProxies.Middleware(web.New(web.Config{API: h.withPlugins(apiHandler), Auth: h.Auth, Org: h.Org, Settings: h.Settings, Sessions: h.Sessions, Log: cfg.Log.Named("web")}))
	return h, nil
}

// Run works the hub's background jobs (the durable session timers) until
// ctx ends.
func (h *Hub) Run(ctx context.Context) {
	go h.prune(ctx)
	h.Timers.Run(ctx, h.Sessions.FireTimer)
}

// PruneEvery is how often the hub deletes records no longer needed: PIN
// and sign-in attempts past their throttle's window, and plugin deliveries that ended
// well more than delivery.Retention ago.
const PruneEvery = 10 * time.Minute

func (h *Hub) prune(ctx context.Context) {
	t := time.NewTicker(PruneEvery)
	defer t.Stop()
	type job struct {
		what string
		run  func(context.Context) (int64, error)
	}
	jobs := []job{{"PIN attempts", h.Sessions.PrunePINAttempts}, {"sign-in attempts", h.Auth.Throttle.Prune}}
	if h.Plugins != nil {
		jobs = append(jobs, job{"plugin deliveries", h.Plugins.Queue.Prune})
	}
	for {
		for _, j := range jobs {
			if n, err := j.run(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("prune", "what", j.what, "error", err)
			} else if n > 0 {
				h.log.Debug("pruned", "what", j.what, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shutdown closes the relay's websockets (clients reconnect and resume once
// the hub is back) and waits until their disconnects are recorded.
func (h *Hub) Shutdown(ctx context.Context) error {
	if h == nil || h.Relay == nil {
		return nil
	}
	err := h.Relay.Shutdown(ctx)
	if h.Plugins != nil {
		h.Plugins.Shutdown()
	}
	if h.cluster != nil {
		if cerr := h.cluster.Close(); cerr != nil {
			h.log.Warn("leave the other hub nodes", "error", cerr)
		}
	}
	return err
}

// SessionChanged hears committed session changes and passes them on.
func (h *Hub) SessionChanged(id int64, st session.State) {
	h.Timers.WakeIfSoon()
	if h.Plugins != nil {
		h.Plugins.EventsCommitted()
	}
	h.pushToRelay(id, st)
	h.queueChanged()
	if st == session.Waiting {
		go func() {
			if err := h.Sessions.Dispatch(h.ctx, id); err != nil {
				h.log.Warn("dispatch waiting session", "session", id, "error", err)
			}
		}()
	}
	if st == session.Transferring || !st.Live() {
		// A technician may have room for one more now: auto-start
		// offers them the waiting sessions, highest priority first.
		h.TechnicianAvailable()
	}
}

// TechnicianAvailable re-dispatches waiting sessions when a technician
// becomes available, so auto-start can give them one.
func (h *Hub) TechnicianAvailable() {
	h.dispatchAll.request(func() {
		if err := h.Sessions.DispatchWaiting(h.ctx); err != nil {
			h.log.Warn("dispatch waiting sessions", "error", err)
		}
	})
}

// Handler serves /api/v1/..., /API/... (compatibility) and, later, the web UI.
func (h *Hub) Handler() http.Handler { return h.handler }

func (h *Hub) bootstrap(ctx context.Context, cfg Config) error {
	done, err := h.Org.Bootstrapped(ctx)
	if err != nil || done {
		return err
	}
	email := cfg.AdminEmail
	if email == "" {
		email = "admin@localhost"
	}
	pw, generated := cfg.AdminPassword, false
	if pw == "" {
		if pw, err = GeneratePassword(); err != nil {
			return err
		}
		generated = true
	} else if err := auth.DefaultPolicy().Check(pw); err != nil {
		return fmt.Errorf("TETHER_ADMIN_PASSWORD does not meet the default password policy: %w", err)
	}
	hash, err := h.Auth.Hasher.Hash(pw)
	if err != nil {
		return fmt.Errorf("hash master administrator password: %w", err)
	}
	created, err := h.Org.Bootstrap(ctx, org.BootstrapInput{AdminEmail: email, PasswordHash: hash, MustChange: generated})
	if err != nil {
		return fmt.Errorf("bootstrap organisation: %w", err)
	}
	if !created {
		return nil
	}
	cfg.Log.Info("created the organisation, its ten channels and the master administrator", "email", email)
	if generated {
		// The one deliberate exception to "no secrets in logs": there is no
		// other way to hand a first password to the operator. It is shown
		// once and must be changed at first sign-in.
		cfg.Log.Warn("generated master administrator password", "email", email, "password", pw,
			"note", "shown once; it must be changed at first sign-in")
	}
	return nil
}
