package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/cluster"
	"github.com/tetherhq/tether/core/hub"
	"github.com/tetherhq/tether/core/ops"
	"github.com/tetherhq/tether/core/store"
)

// The master administrator's credentials are read from the environment only:
// a secret given as a flag shows in the process list and in shell history.
const (
	envAdminEmail    = "TETHER_ADMIN_EMAIL"
	envAdminPassword = "TETHER_ADMIN_PASSWORD"
	envSMTPURL       = "TETHER_SMTP_URL"
)

// serveOptions is everything tether serve is told.
type serveOptions struct {
	Addr            string
	DB              store.Config
	ShutdownTimeout time.Duration
	TokenTTL        time.Duration
	AdminEmail      string
	AdminPassword   string
	SMTPURL         string
	// PluginRetryBase is the first wait before a failed plugin delivery is
	// retried; later waits double up to an hour.
	PluginRetryBase time.Duration
	// TrustedProxies are the reverse proxies whose forwarding headers count,
	// as given and as parsed.
	TrustedProxies []string
	proxies        auth.Proxies
	// NATSURL and NATSSubject join the other hub nodes on the same database.
	NATSURL     string
	NATSSubject string
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub",
		Long: `Run the hub: open the database (an SQLite file in --data-dir unless --database-url
names a PostgreSQL server), apply pending migrations, create the organisation, the
channels and the master administrator on first start, and serve HTTP until SIGTERM or
SIGINT. On either signal the hub stops accepting connections, lets in-flight requests
finish within --shutdown-timeout, and exits 0; a second signal stops it at once.

Every flag can also be set through the environment variable shown beside it; a flag
given on the command line wins over the environment.

The master administrator is seeded on first start from the environment only, never
from flags (a secret in the command line leaks through the process list and history):
  TETHER_ADMIN_EMAIL      the master administrator's email (default admin@localhost)
  TETHER_ADMIN_PASSWORD   its initial password; when unset, a password is generated
                          and printed once to the log, to be changed at first sign-in

E-mail (technicians told of waiting customers, Q-3) goes through the SMTP server in
  TETHER_SMTP_URL         smtp://user:password@host:port?from=tether@example.com&tls=starttls
                          (tls: none, starttls or tls); environment only, it holds a password

Behind a reverse proxy (which terminates TLS: the hub serves plain HTTP), name it in
--trusted-proxies: the hub then takes each client's address from X-Forwarded-For, for
the PIN and sign-in throttles and the technicians' IP rules, and marks cookies Secure
when X-Forwarded-Proto is https. Without it every client looks like the proxy.

Several hub nodes may serve one PostgreSQL database behind a load balancer: give each
the same --nats-url (TETHER_NATS_URL; it may hold a password, so prefer the environment)
and they carry each other's relay messages, screen and file frames, and live queue
changes.

Operations endpoints: GET /healthz (process alive), GET /readyz (database reachable and
migrated), GET /metrics (Prometheus, tether_* metrics).`,
		Example: `  tether serve
  TETHER_DATABASE_URL=postgres://tether@db.example:5432/tether tether serve --addr :8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.AdminEmail, _ = a.lookupEnv(envAdminEmail)
			o.AdminPassword, _ = a.lookupEnv(envAdminPassword)
			o.SMTPURL, _ = a.lookupEnv(envSMTPURL)
			if o.ShutdownTimeout <= 0 {
				return fmt.Errorf("--shutdown-timeout must be positive, got %s", o.ShutdownTimeout)
			}
			if o.TokenTTL <= 0 {
				return fmt.Errorf("--token-ttl must be positive, got %s", o.TokenTTL)
			}
			if o.PluginRetryBase <= 0 {
				return fmt.Errorf("--plugin-retry-base must be positive, got %s", o.PluginRetryBase)
			}
			var err error
			if o.proxies, err = auth.ParseProxies(o.TrustedProxies); err != nil {
				return fmt.Errorf("--trusted-proxies: %w", err)
			}
			if o.NATSURL != "" {
				if err := cluster.CheckSubject(o.NATSSubject); err != nil {
					return fmt.Errorf("--nats-subject: %w", err)
				}
			}
			ctx, stop := a.stopOnSignal(cmd.Context())
			defer stop()
			return a.serve(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	addDatabaseFlags(cmd, &o.DB)
	f.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may run after SIGTERM/SIGINT")
	f.DurationVar(&o.TokenTTL, "token-ttl", 24*time.Hour, "lifetime of API bearer tokens")
	f.DurationVar(&o.PluginRetryBase, "plugin-retry-base", time.Second, "first wait before retrying a failed plugin delivery (doubles up to 1h, for up to 3 days)")
	f.StringVar(&o.NATSURL, "nats-url", "", "NATS server joining several hub nodes on one PostgreSQL database (nats://host:4222); empty runs this node alone")
	f.StringVar(&o.NATSSubject, "nats-subject", cluster.DefaultSubject, "prefix of the NATS subjects the hub nodes share; installations sharing a NATS server need different ones")
	f.StringSliceVar(&o.TrustedProxies, "trusted-proxies", nil, "reverse proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto the hub believes")
	bindEnv(f)
	return cmd
}

// clusterConfig is how this node joins the others, or nil to run alone.
func clusterConfig(o serveOptions) *cluster.Config {
	if o.NATSURL == "" {
		return nil
	}
	host, _ := os.Hostname()
	return &cluster.Config{URL: o.NATSURL, Subject: o.NATSSubject, Name: fmt.Sprintf("tether hub %s/%d", host, os.Getpid())}
}

// addDatabaseFlags defines --data-dir and --database-url on cmd's own flags.
func addDatabaseFlags(cmd *cobra.Command, c *store.Config) {
	f := cmd.Flags()
	f.StringVar(&c.DataDir, "data-dir", "./tether-data", "directory for the hub's files, including the embedded SQLite database")
	f.StringVar(&c.URL, "database-url", "", "PostgreSQL URL (postgres://user:password@host:port/db); empty means SQLite in the data directory")
}

// stopOnSignal returns a context cancelled by the first SIGTERM or SIGINT.
// A second one ends the process without waiting for in-flight requests.
func (a *app) stopOnSignal(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			a.log.Info("signal received, shutting down", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			a.log.Error("second signal received, exiting without waiting for in-flight requests", "signal", s.String())
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// runServe runs the hub until ctx is cancelled, then shuts it down gracefully.
func (a *app) runServe(ctx context.Context, o serveOptions) error {
	log := a.log
	log.Info("starting tether", "version", buildVersion(), "database", o.DB.Describe())

	db, err := store.Open(ctx, o.DB, log.Named("store"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := a.migrateUp(ctx, db); err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the hub's own executable (it runs the bundled plugins): %w", err)
	}
	if !o.proxies.Empty() {
		log.Info("client addresses come from X-Forwarded-For behind trusted proxies", "trusted_proxies", o.proxies.String())
	}
	metrics := ops.NewMetrics(buildVersion())
	metrics.Prefixed().MustRegister(collectors.NewDBStatsCollector(db.DB, string(store.DialectOf(db))))
	h, err := hub.New(ctx, hub.Config{
		DB:             db,
		Log:            log.Named("hub"),
		Registry:       metrics.Registry,
		AdminEmail:     o.AdminEmail,
		AdminPassword:  o.AdminPassword,
		TokenTTL:       o.TokenTTL,
		SMTPURL:        o.SMTPURL,
		Now:            time.Now,
		DataDir:        o.DB.DataDir,
		Self:           self,
		Bundled:        bundledManifests(),
		Version:        buildVersion(),
		Plugins:        hub.PluginTuning{BackoffBase: o.PluginRetryBase},
		TrustedProxies: o.proxies,
		Cluster:        clusterConfig(o),
	})
	if err != nil {
		return fmt.Errorf("start hub: %w", err)
	}

	// Background work (durable session timers) stops with the server.
	go h.Run(ctx)

	mux := http.NewServeMux()
	ops.Mount(mux, db, metrics)
	mux.Handle("/", h.Handler()) // /api/, /API/ and, later, the web UI

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	srv := &http.Server{
		Handler:           metrics.Middleware(mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// The addr field is the address actually bound, so that --addr :0 can be used.
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	return a.shutdown(srv, h, db, o.ShutdownTimeout)
}

func (a *app) shutdown(srv *http.Server, h *hub.Hub, db *bun.DB, timeout time.Duration) error {
	a.log.Info("shutting down: no new connections, waiting for in-flight requests", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close() //nolint:errcheck // closing is all that is left to do
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: in-flight requests did not finish within %s and were cut off", timeout)
		}
		return fmt.Errorf("shutdown: %w", err)
	}
	// Websockets are not in-flight requests: close them and let each record
	// its disconnect before the database goes.
	if err := h.Shutdown(ctx); h != nil && err != nil {
		a.log.Warn("closing relay connections", "error", err)
	}
	if err := db.Close(); err != nil {
		a.log.Warn("closing the database", "error", err)
	}
	a.log.Info("shutdown complete")
	return nil
}
