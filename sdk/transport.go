package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	pluginv1 "github.com/tetherhq/tether/sdk/proto/v1"
	"google.golang.org/grpc"
)

// Handshake is what host and plugin check before they talk. The cookie is
// not a secret, it only keeps a plugin binary run by hand from waiting for
// a host that will never come (go-plugin prints a friendly message then).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "TETHER_PLUGIN",
	MagicCookieValue: "7c1e94b0d35f4a2b8e6d09f3a1c7b5e2f48d6a90c3b1e7f5",
}

// pluginKey is the name under which the one plugin of a process is
// dispensed; go-plugin allows several per process, Tether uses one.
const pluginKey = "tether"

// pluginSets is the VersionedPlugins map of both sides. Protocol 2 will be
// served beside 1 here, so old hosts keep working with new plugins.
func pluginSets(impl Plugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {pluginKey: &grpcPlugin{impl: impl}},
	}
}

// grpcPlugin binds the v1 services to go-plugin. impl is set in the plugin
// process and nil in the host.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Plugin
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (g *grpcPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServer(s, newPluginServer(g.impl, broker))
	return nil
}

func (g *grpcPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &pluginClient{done: ctx, broker: broker, rpc: pluginv1.NewPluginClient(cc)}, nil
}

// pluginClient is the host's handle on the Plugin service. done is
// cancelled by go-plugin once the plugin process has exited.
type pluginClient struct {
	done   context.Context
	broker *plugin.GRPCBroker
	rpc    pluginv1.PluginClient
}
