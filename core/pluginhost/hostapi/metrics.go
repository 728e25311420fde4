package hostapi

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/sdk"
)

// MaxSeriesPerPlugin bounds what one plugin can add to /metrics.
const MaxSeriesPerPlugin = 1000

var metricName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// Metrics is a prometheus.Collector of what plugins emit through the host
// API, exposed as tether_plugin_<name>{plugin="<id>",...}. A metric's kind
// and label names are fixed by its first observation, as Prometheus wants.
type Metrics struct {
	mu       sync.Mutex
	families map[string]*family // by full metric name
	series   map[string]int     // count per plugin
}

type family struct {
	kind   string
	labels []string // sorted, after "plugin"
	desc   *prometheus.Desc
	values map[string]*sample // by joined label values
}

type sample struct {
	labelValues []string
	value       float64
}

// NewMetrics returns an empty collector.
func NewMetrics() *Metrics {
	return &Metrics{families: map[string]*family{}, series: map[string]int{}}
}

// Record adds (counter) or sets (gauge) one observation.
func (m *Metrics) Record(plugin string, obs sdk.Metric) error {
	if !metricName.MatchString(obs.Name) {
		return fault.Field("name", "must match [a-z_][a-z0-9_]* and be at most 64 characters")
	}
	if obs.Kind != "counter" && obs.Kind != "gauge" {
		return fault.Field("kind", `must be "counter" or "gauge"`)
	}
	if obs.Kind == "counter" && obs.Value < 0 {
		return fault.Field("value", "a counter only goes up")
	}
	keys := slices.Sorted(maps.Keys(obs.Labels))
	for _, k := range keys {
		if !metricName.MatchString(k) || k == "plugin" {
			return fault.Field("labels", fmt.Sprintf("label %q: must match [a-z_][a-z0-9_]* and not be \"plugin\"", k))
		}
	}
	full := "tether_plugin_" + obs.Name
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.families[full]
	if !ok {
		f = &family{kind: obs.Kind, labels: keys, values: map[string]*sample{},
			desc: prometheus.NewDesc(full, "Emitted by plugins through the host API.", append([]string{"plugin"}, keys...), nil)}
		m.families[full] = f
	}
	if f.kind != obs.Kind || !slices.Equal(f.labels, keys) {
		return fault.Field("labels", fmt.Sprintf("%s is a %s with labels %v; every observation must use the same kind and labels", full, f.kind, f.labels))
	}
	vals := []string{plugin}
	for _, k := range keys {
		vals = append(vals, obs.Labels[k])
	}
	id := strings.Join(vals, "\xff")
	s, ok := f.values[id]
	if !ok {
		if m.series[plugin] >= MaxSeriesPerPlugin {
			return fault.Field("labels", fmt.Sprintf("plugin %s already has %d series", plugin, MaxSeriesPerPlugin))
		}
		m.series[plugin]++
		s = &sample{labelValues: vals}
		f.values[id] = s
	}
	if f.kind == "counter" {
		s.value += obs.Value
	} else {
		s.value = obs.Value
	}
	return nil
}

// Describe sends nothing: the families are only known as plugins emit them.
func (m *Metrics) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.families {
		vt := prometheus.GaugeValue
		if f.kind == "counter" {
			vt = prometheus.CounterValue
		}
		for _, s := range f.values {
			ch <- prometheus.MustNewConstMetric(f.desc, vt, s.value, s.labelValues...)
		}
	}
}
