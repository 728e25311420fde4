package hub

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/tetherhq/tether/core/pluginhost"
	"github.com/tetherhq/tether/core/pluginhost/secrets"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/rules"
	"github.com/tetherhq/tether/sdk/manifest"
)

// startPlugins builds the plugin host, makes it the sessions outbox and
// starts the enabled plugins and the delivery queue.
func (h *Hub) startPlugins(ctx context.Context, cfg Config, rlog *relay.Log) error {
	dir := cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tether-hub-")
		if err != nil {
			return fmt.Errorf("plugin directory: %w", err)
		}
		dir = tmp
	}
	keys, err := secrets.Load(os.Getenv, dir)
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("plugin directory: %w", err)
	}
	host, _ := os.Hostname()
	h.Plugins, err = pluginhost.New(pluginhost.Config{DB: cfg.DB, Root: root, Self: cfg.Self, Bundled: cfg.Bundled,
		HubVersion: releaseVersion(cfg.Version), Keyring: keys, Tree: settingsTree{h.Org}, Sessions: h.Sessions, Messages: rlog,
		Live: h.Relay.Hub(), Org: h.Org, Packs: rulePacks{h.Rules}, Registry: cfg.Registry, Logger: cfg.Log.Named("plugins"), Now: cfg.Now,
		Node: host + ":" + filepath.Clean(dir), HealthEvery: cfg.Plugins.HealthEvery,
		PollInterval: cfg.Plugins.PollInterval, BackoffBase: cfg.Plugins.BackoffBase})
	if err != nil {
		return err
	}
	h.Sessions.Outbox = h.Plugins
	h.API.Plugins = h.Plugins
	return h.Plugins.Start(ctx)
}

// rulePacks stores the routing rule packs plugins ship in core/rules.
type rulePacks struct{ rules *rules.Service }

var _ pluginhost.Packs = rulePacks{}

func (p rulePacks) Validate(plugin, _ string, files map[string][]byte) error {
	return rules.ValidatePack(plugin, files)
}

func (p rulePacks) Install(ctx context.Context, plugin, version string, files map[string][]byte) error {
	_, err := p.rules.InstallPack(ctx, plugin, version, files)
	return err
}

func (p rulePacks) Remove(ctx context.Context, plugin string) error {
	return p.rules.RemovePack(ctx, plugin)
}

// releaseVersion is the version plugins' min_hub_version is checked
// against: a build whose version is not a semantic version (a test build
// such as "e2e-test") counts as "dev", which accepts every plugin.
func releaseVersion(v string) string {
	if manifest.IsVersion(v) {
		return v
	}
	return "dev"
}

// withPlugins serves plugins' own pages under /plugins/<id>/ beside the API.
func (h *Hub) withPlugins(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/plugins/") {
			h.Plugins.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
