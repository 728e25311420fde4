package hub

import (
	"github.com/tetherhq/tether/core/cluster"
)

// joinCluster connects this node to the other hub nodes on the same
// database, when cfg names a NATS server: the relay's wake-ups (messages
// stored, states pushed, sessions ended), its binary frames (screens,
// file chunks) and queue changes go to the others, and theirs come here.
func (h *Hub) joinCluster(cfg Config) error {
	if cfg.Cluster == nil || cfg.Cluster.URL == "" {
		return nil
	}
	c := *cfg.Cluster
	if c.Log == nil {
		c.Log = cfg.Log.Named("cluster")
	}
	node, err := cluster.Join(c, cluster.Handlers{
		Wake:         h.Relay.Apply,
		QueueChanged: h.API.Feed.Changed,
		Resync: func() {
			h.Relay.Hub().WakeAll()
			h.API.Feed.Changed()
		},
		Binary:     h.Relay.DeliverRemote,
		BinaryLost: h.Relay.DropRemoteSide,
	})
	if err != nil {
		return err
	}
	if cfg.Registry != nil {
		for _, col := range node.Collectors() {
			if err := cfg.Registry.Register(col); err != nil {
				node.Close()
				return err
			}
		}
	}
	h.cluster = node
	h.Relay.Hub().Forward(node.Wake)
	h.Relay.ShareBinaries(node)
	return nil
}

// queueChanged pushes the live queues of this node's technicians and tells
// the other nodes to push theirs.
func (h *Hub) queueChanged() {
	if h.API != nil {
		h.API.Feed.Changed()
	}
	if h.cluster != nil {
		h.cluster.QueueChanged()
	}
}
