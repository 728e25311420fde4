package ops_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tetherhq/tether/core/ops"
	"github.com/tetherhq/tether/core/store/storetest"
)

// serve runs requests through the middleware around a mux with ops mounted
// and one parameterised route, the way tether serve wires them.
func newServer(t *testing.T) (*httptest.Server, *ops.Metrics) {
	t.Helper()
	m := ops.NewMetrics("1.2.3-test")
	mux := http.NewServeMux()
	ops.Mount(mux, storetest.SQLite(t), m)
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.Error(w, "no such item", http.StatusNotFound)
			return
		}
		io.WriteString(w, "item "+r.PathValue("id"))
	})
	mux.HandleFunc("POST /boom", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	srv := httptest.NewServer(m.Middleware(mux))
	t.Cleanup(srv.Close)
	return srv, m
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if method == http.MethodPost { // the panicking route drops the connection
			return 0, ""
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMiddlewareCountsByRoutePattern(t *testing.T) {
	srv, _ := newServer(t)
	for _, p := range []string{"/items/1", "/items/2", "/items/3", "/items/missing", "/no/such/path", "/healthz"} {
		get(t, http.MethodGet, srv.URL+p)
	}
	get(t, "BREW", srv.URL+"/items/4")
	get(t, http.MethodPost, srv.URL+"/boom")

	code, body := get(t, http.MethodGet, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`tether_http_requests_total{code="200",method="GET",route="/items/{id}"} 3`,
		`tether_http_requests_total{code="404",method="GET",route="/items/{id}"} 1`,
		`tether_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`tether_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		`tether_http_requests_total{code="500",method="POST",route="/boom"} 1`,
		`tether_http_request_duration_seconds_count{method="GET",route="/items/{id}"} 4`,
		`tether_build_info{version="1.2.3-test"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// An unknown method must not mint a label value of its own; net/http
	// answers it 405 because the route exists for GET only.
	if strings.Contains(body, "BREW") || !strings.Contains(body, `method="OTHER"`) {
		t.Errorf("made-up method not folded into OTHER")
	}
	for _, raw := range []string{"/items/1", "/no/such/path"} {
		if strings.Contains(body, `route="`+raw+`"`) {
			t.Errorf("raw path %s used as route label", raw)
		}
	}
}

func TestOnlyTetherMetrics(t *testing.T) {
	srv, m := newServer(t)
	get(t, http.MethodGet, srv.URL+"/healthz")
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if !strings.HasPrefix(f.GetName(), ops.Prefix) {
			t.Errorf("metric %s lacks the %s prefix", f.GetName(), ops.Prefix)
		}
	}
	for _, want := range []string{"tether_go_goroutines", "tether_build_info", "tether_http_requests_total"} {
		if !names[want] {
			t.Errorf("registry lacks %s", want)
		}
	}
}
