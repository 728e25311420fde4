package relay

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeSeconds is how long a message takes from its frame's arrival to
// being stored and handed to the session's sockets, by kind: the hub's own
// share of a chat message's latency (the network's and the clients' are
// not in it). Kept even when no registerer is given.
func newStoreSeconds() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tether_relay_message_store_seconds",
		Help: "Time from a relay frame's arrival to its message stored and handed to the session's sockets, by message kind.",
		Buckets: []float64{.0001, .00025, .0005, .00075, .001, .0015, .002, .003, .005, .0075, .01, .025, .05, .1, .25,
			.5, 1, 2.5, 10},
	}, []string{"kind"})
}

// observeStored records one message stored for a frame that arrived at.
func (s *Server) observeStored(kind Kind, arrived time.Time) {
	if arrived.IsZero() {
		return
	}
	s.storeSeconds.WithLabelValues(string(kind)).Observe(time.Since(arrived).Seconds())
}
