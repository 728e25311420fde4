package ops

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prefix starts the name of every metric the hub exposes.
const Prefix = "tether_"

// Metrics is the hub's Prometheus registry. Everything it exposes is named
// tether_*: the Go and process collectors are registered under that prefix, and
// packages handed Registry register metrics already named tether_*.
type Metrics struct {
	// Registry is what /metrics serves; give it to code that registers its
	// own tether_* metrics.
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	now      func() time.Time
}

// NewMetrics returns a registry holding the Go runtime, process, build and
// HTTP metrics. version is the binary's version, exposed as tether_build_info.
func NewMetrics(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Prefix + "http_requests_total",
			Help: "HTTP requests served, by method, matched route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    Prefix + "http_request_duration_seconds",
			Help:    "Time from receiving an HTTP request to finishing its response, by method and matched route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		now: time.Now,
	}
	reg.MustRegister(m.requests, m.duration, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        Prefix + "build_info",
		Help:        "Always 1; the version label says which tether build is running.",
		ConstLabels: prometheus.Labels{"version": version},
	}, func() float64 { return 1 }))
	m.Prefixed().MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Prefixed returns a registerer that adds the tether_ prefix, for collectors
// from libraries that name their metrics themselves (go_*, process_*, go_sql_*).
func (m *Metrics) Prefixed() prometheus.Registerer {
	return prometheus.WrapRegistererWithPrefix(Prefix, m.Registry)
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Middleware counts and times every request that next serves. next should be
// (or end in) an http.ServeMux: the route label is the pattern the mux matched
// (r.Pattern), never the raw path, so that the number of series stays bounded
// whatever clients send. A request no pattern matched is labelled "unmatched".
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				// Count the failure, then let net/http log and drop the connection as usual.
				if rec.status == 0 {
					rec.status = http.StatusInternalServerError
				}
				m.observe(r, rec.code(), start)
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
		m.observe(r, rec.code(), start)
	})
}

func (m *Metrics) observe(r *http.Request, code int, start time.Time) {
	method, route := methodLabel(r.Method), routeLabel(r.Pattern)
	m.requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(method, route).Observe(m.now().Sub(start).Seconds())
}

// routeLabel drops the method from a pattern ("GET /healthz" -> "/healthz"):
// the method has its own label.
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

// methodLabel keeps the label set bounded against made-up methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// statusRecorder remembers the status code written through it. It keeps
// Flush and Hijack (websockets) working, and Unwrap lets
// http.ResponseController reach the rest of the underlying writer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("ops: the underlying ResponseWriter cannot be hijacked")
	}
	if s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	return s.status
}
