package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"
)

// metrics are the queue's Prometheus series. They are kept even when no
// registerer is given, so the code that updates them has no conditions.
type metrics struct {
	attempts *prometheus.CounterVec   // by plugin and outcome
	finished *prometheus.CounterVec   // by plugin and final state
	latency  *prometheus.HistogramVec // event to acknowledgement, by plugin
	depth    *depthCollector
}

func newMetrics(db *bun.DB) *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tether_plugin_delivery_attempts_total",
			Help: "Attempts to deliver an event to a plugin, by plugin and outcome (ack, retry, permanent, error, skipped).",
		}, []string{"plugin", "outcome"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tether_plugin_deliveries_finished_total",
			Help: "Deliveries that reached a final state, by plugin and state (delivered, failed, skipped).",
		}, []string{"plugin", "state"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tether_plugin_delivery_latency_seconds",
			Help: "Time from an event's commit to the plugin's acknowledgement, retries included, by plugin.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60,
				300, 900, 3600, 4 * 3600, 24 * 3600, 72 * 3600},
		}, []string{"plugin"}),
		depth: &depthCollector{db: db, desc: prometheus.NewDesc("tether_plugin_delivery_queue_depth",
			"Unfinished deliveries, by plugin and state (pending, blocked, running), counted when scraped.",
			[]string{"plugin", "state"}, nil)},
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.attempts, m.finished, m.latency, m.depth} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observe counts and logs one recorded result. Payloads are never logged.
func (q *Queue) observe(r result, v verdict, now time.Time) {
	c := r.c
	q.metrics.attempts.WithLabelValues(c.Plugin, string(r.outcome)).Inc()
	if v.state.Final() {
		q.metrics.finished.WithLabelValues(c.Plugin, string(v.state)).Inc()
	}
	fields := []any{"plugin", c.Plugin, "delivery_id", c.ID, "event_id", c.EventID,
		"session_id", c.SessionID, "event_type", c.Type, "attempt", c.Attempt}
	switch v.state {
	case Delivered:
		q.metrics.latency.WithLabelValues(c.Plugin).Observe(now.Sub(c.At).Seconds())
		q.log.Trace("event delivered", fields...)
	case Skipped:
		q.log.Debug("event skipped", append(fields, "reason", r.errText)...)
	case Failed:
		q.log.Warn("event delivery failed", append(fields, "outcome", r.outcome, "error", v.lastError)...)
	case Pending:
		q.log.Debug("event delivery will be retried", append(fields, "outcome", r.outcome,
			"retry_at", v.nextAt, "error", r.errText)...)
	}
}

// depthCollector counts unfinished deliveries at scrape time, so that an
// idle hub does not count them at all.
type depthCollector struct {
	db   *bun.DB
	desc *prometheus.Desc
}

func (d *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rows []struct {
		PluginID string `bun:"plugin_id"`
		State    string `bun:"state"`
		N        int64  `bun:"n"`
	}
	// Two halves, each matching a partial index's predicate.
	err := d.db.NewRaw(`SELECT plugin_id, state, count(*) AS n FROM plugin_deliveries
WHERE state IN ('pending', 'running') GROUP BY plugin_id, state
UNION ALL
SELECT plugin_id, state, count(*) AS n FROM plugin_deliveries
WHERE state = 'blocked' GROUP BY plugin_id, state`).Scan(ctx, &rows)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.desc, errors.Join(errors.New("count unfinished plugin deliveries"), err))
		return
	}
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(r.N), r.PluginID, r.State)
	}
}
