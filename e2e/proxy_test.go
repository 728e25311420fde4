package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestBehindATrustedProxy runs the hub behind a real reverse proxy
// (net/http/httputil, terminating TLS, appending X-Forwarded-For and setting
// X-Forwarded-Proto) with --trusted-proxies naming it, and customers that
// reach the proxy from different loopback addresses:
//   - one who guesses PINs is throttled, and the others still join: the
//     throttle counts the address the proxy saw, not the proxy;
//   - an X-Forwarded-For the guesser writes himself changes nothing;
//   - the same header sent straight to the hub from an untrusted address is
//     ignored;
//   - the customer's relay websocket works through the proxy;
//   - a web sign-in through the proxy gets a Secure cookie.
func TestBehindATrustedProxy(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres", Env: []string{"TETHER_TRUSTED_PROXIES=127.0.0.1"}})
			target, err := url.Parse(h.BaseURL)
			if err != nil {
				t.Fatal(err)
			}
			proxy := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = r.In.Host                                           // as the nginx example does: the relay checks the page's origin against it
				r.Out.Header["X-Forwarded-For"] = r.In.Header["X-Forwarded-For"] // append to what came in, as nginx does
				r.SetXForwarded()
			}})
			t.Cleanup(proxy.Close)
			// from is a client on the given loopback address; through says
			// whether it goes through the proxy or straight to the hub.
			from := func(ip string, through bool) *http.Client {
				tr := proxy.Client().Transport.(*http.Transport).Clone()
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
				tr.DialContext = d.DialContext
				return &http.Client{Transport: tr, Timeout: 10 * time.Second}
			}
			post := func(c *http.Client, base, path string, body any, header ...string) (*http.Response, map[string]any) {
				t.Helper()
				b, _ := json.Marshal(body)
				req, err := http.NewRequest("POST", base+path, bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("POST %s: %v", path, err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				out := map[string]any{}
				_ = json.Unmarshal(raw, &out)
				return resp, out
			}
			code := func(out map[string]any) string {
				e, _ := out["error"].(map[string]any)
				s, _ := e["code"].(string)
				return s
			}
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			_, _, tech := staff(t, h, master, "pat@example.com")
			pin := func() string { return tech.must(201, "POST", "/api/v1/sessions", map[string]any{})["pin"].(string) }
			live := pin()
			wrong := "000000"
			if wrong == live {
				wrong = "000001"
			}

			mallory := from("127.0.0.2", true)
			guesses := 0
			for ; guesses < 100; guesses++ {
				resp, out := post(mallory, proxy.URL, "/api/v1/customer/join", map[string]any{"pin": wrong})
				if resp.StatusCode == http.StatusTooManyRequests {
					break
				}
				if code(out) == "" || resp.StatusCode < 400 {
					t.Fatalf("wrong PIN %d: %d %v", guesses, resp.StatusCode, out)
				}
			}
			if guesses != 20 {
				t.Fatalf("the guesser was stopped after %d wrong PINs, want 20", guesses)
			}
			// Naming someone else in his own X-Forwarded-For does not help:
			// the proxy appends the address it saw, and that one counts.
			resp, out := post(mallory, proxy.URL, "/api/v1/customer/join", map[string]any{"pin": live}, "X-Forwarded-For", "127.0.0.3")
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("a forged X-Forwarded-For let the guesser in: %d %v", resp.StatusCode, out)
			}

			// A forged header straight to the hub, from an address that is
			// not a trusted proxy, counts against that address only.
			direct := from("127.0.0.4", false)
			for range 20 {
				post(direct, h.BaseURL, "/api/v1/customer/join", map[string]any{"pin": wrong}, "X-Forwarded-For", "127.0.0.3")
			}
			if resp, out := post(direct, h.BaseURL, "/api/v1/customer/join", map[string]any{"pin": wrong}, "X-Forwarded-For", "127.0.0.3"); resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("21st wrong PIN straight to the hub: %d %v", resp.StatusCode, out)
			}

			// Another customer behind the same proxy is not locked out,
			// neither by the guesser nor by the forged header.
			alice := from("127.0.0.3", true)
			if resp, out := post(alice, proxy.URL, "/api/v1/customer/join", map[string]any{"pin": wrong}); resp.StatusCode == http.StatusTooManyRequests || code(out) == "" {
				t.Fatalf("a mistyped PIN from another customer: %d %v", resp.StatusCode, out)
			}
			resp, joined := post(alice, proxy.URL, "/api/v1/customer/join", map[string]any{"pin": live})
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("another customer behind the proxy could not join: %d %v", resp.StatusCode, joined)
			}
			// Her relay websocket goes through the proxy too, from a page of
			// the proxy's origin.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws, wsResp, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(proxy.URL, "https")+"/api/v1/relay/customer?resume_after=0",
				&websocket.DialOptions{HTTPClient: alice, HTTPHeader: http.Header{
					"Authorization": {"Bearer " + joined["secret"].(string)}, "Origin": {proxy.URL}}})
			if err != nil {
				code := 0
				if wsResp != nil {
					code = wsResp.StatusCode
				}
				t.Fatalf("relay websocket through the proxy: %v (HTTP %d)", err, code)
			}
			defer ws.CloseNow()
			(&socket{t: t, conn: ws}).await("the hello frame", func(f map[string]any) bool { return f["type"] == "hello" }, nil)

			// A web sign-in over the proxy's HTTPS gets a Secure cookie;
			// straight over plain HTTP it does not.
			for _, tc := range []struct {
				c      *http.Client
				base   string
				secure bool
			}{{alice, proxy.URL, true}, {from("127.0.0.1", false), h.BaseURL, false}} {
				resp, out := post(tc.c, tc.base, "/api/v1/auth/session", map[string]string{"email": DefaultAdminEmail, "password": DefaultAdminPassword})
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("web sign-in via %s: %d %v", tc.base, resp.StatusCode, out)
				}
				cookies := resp.Cookies()
				if len(cookies) == 0 || cookies[0].Secure != tc.secure {
					t.Fatalf("web sign-in via %s: cookies %v, want Secure %v", tc.base, cookies, tc.secure)
				}
			}
			if m := h.Messages("client addresses come from X-Forwarded-For behind trusted proxies"); len(m) != 1 || m[0]["trusted_proxies"] != "127.0.0.1/32" {
				t.Fatalf("the start-up log does not name the trusted proxies: %v", m)
			}
		})
	}
}
