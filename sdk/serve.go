package sdk

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// LogLevelEnv names the environment variable through which the host tells a
// plugin the level of the log it forwards to; lines below it would only be
// encoded, sent and dropped.
const LogLevelEnv = "TETHER_PLUGIN_LOG_LEVEL"

// stderr is the process's standard error as it was at start: go-plugin
// replaces os.Stderr while serving, and only the original pipe is read by
// the host as the plugin's log.
var stderr = os.Stderr

var logger = sync.OnceValue(func() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Level: level, Output: stderr, JSONFormat: true})
})

// Logger is the plugin's log. The host parses its lines and writes them to
// the hub's log under the plugin's name, with their level and key-value
// pairs. Never log secrets: settings arrive in clear.
func Logger() hclog.Logger { return logger() }

// ServeOption changes how Serve runs the plugin.
type ServeOption func(*serveConfig)

type serveConfig struct {
	logger hclog.Logger
}

// WithLogger replaces Logger() as the log of the SDK's own messages. Its
// output must still reach the process's standard error as JSON lines for
// the host to forward it.
func WithLogger(l hclog.Logger) ServeOption {
	return func(c *serveConfig) { c.logger = l }
}

// Serve runs p as a plugin until the host stops it, then returns. It is the
// last call of a plugin's main. Run by hand (without the host's handshake),
// it prints that it is a plugin and exits with status 1.
func Serve(p Plugin, opts ...ServeOption) {
	cfg := serveConfig{logger: Logger()}
	for _, o := range opts {
		o(&cfg)
	}
	go exitWithParent(cfg.logger, os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(p),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           cfg.logger,
	})
}

// exitWithParent ends the plugin when the host that started it is gone:
// a hub killed with SIGKILL cannot stop its plugins, and orphans would keep
// running with nobody to talk to. When the parent dies the process is
// re-parented, so its parent PID changes.
func exitWithParent(log hclog.Logger, parent int, every time.Duration) {
	if parent <= 1 {
		return // started by init or a container runtime: nothing to watch
	}
	for range time.Tick(every) {
		if os.Getppid() != parent {
			log.Warn("the hub that started this plugin is gone; exiting", "parent", parent)
			os.Exit(3)
		}
	}
}

type hostKey struct{}

// HostFromContext returns the host API from the context of any call the
// host makes to the plugin, for plugins that do not keep the Host they got
// in Provision. ok is false before the host has provisioned the plugin.
func HostFromContext(ctx context.Context) (h Host, ok bool) {
	h, ok = ctx.Value(hostKey{}).(Host)
	return h, ok
}

func contextWithHost(ctx context.Context, h Host) context.Context {
	if h == nil {
		return ctx
	}
	return context.WithValue(ctx, hostKey{}, h)
}
