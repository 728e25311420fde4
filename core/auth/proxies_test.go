package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseProxies(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  string
	}{
		{in: nil, want: ""},
		{in: []string{"127.0.0.1"}, want: "127.0.0.1/32"},
		{in: []string{" 10.1.2.3/8 ", "", "::1"}, want: "10.0.0.0/8,::1/128"},
		{in: []string{"::ffff:192.0.2.0/120"}, want: "192.0.2.0/24"},
		{in: []string{"fe80::1%eth0"}, want: "fe80::1/128"},
		{in: []string{"127.0.0.1", "proxy.example"}, err: `trusted proxy "proxy.example": must be an IP address or a network in CIDR form`},
		{in: []string{"10.0.0.0/33"}, err: `trusted proxy "10.0.0.0/33"`},
	} {
		p, err := ParseProxies(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseProxies(%q) = %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("ParseProxies(%q) = %q, %v; want %q", tc.in, p.String(), err, tc.want)
		}
	}
}

func TestProxiesMiddleware(t *testing.T) {
	trusted, err := ParseProxies([]string{"127.0.0.1", "10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		proxies Proxies
		peer    string
		xff     []string
		proto   []string
		client  string // ClientIP after the middleware
		secure  bool
	}{
		{name: "no proxies: headers ignored", peer: "127.0.0.1:5000", xff: []string{"203.0.113.9"}, proto: []string{"https"}, client: "127.0.0.1"},
		{name: "untrusted peer: headers ignored", proxies: trusted, peer: "198.51.100.7:5000", xff: []string{"203.0.113.9"}, proto: []string{"https"}, client: "198.51.100.7"},
		{name: "trusted peer names the client", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"203.0.113.9"}, client: "203.0.113.9"},
		{name: "a forged entry left of the client proves nothing", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"192.0.2.1, 203.0.113.9"}, client: "203.0.113.9"},
		{name: "a chain of trusted proxies is skipped", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"192.0.2.1, 203.0.113.9, 10.0.0.5"}, client: "203.0.113.9"},
		{name: "several header lines are one list", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"192.0.2.1", "203.0.113.9", "10.0.0.5"}, client: "203.0.113.9"},
		{name: "all trusted: the left-most", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"10.0.0.9, 10.0.0.5"}, client: "10.0.0.9"},
		{name: "entries with ports and brackets", proxies: trusted, peer: "[::1]:5000", xff: []string{"[2001:db8::7]:4711, 203.0.113.9:80"}, client: "203.0.113.9"},
		{name: "IPv6 client", proxies: trusted, peer: "[::1]:5000", xff: []string{"2001:db8::7"}, client: "2001:db8::7"},
		{name: "IPv4-mapped client", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"::ffff:203.0.113.9"}, client: "203.0.113.9"},
		{name: "garbage keeps the proxy's address", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"203.0.113.9, unknown"}, client: "127.0.0.1"},
		{name: "no header keeps the proxy's address", proxies: trusted, peer: "127.0.0.1:5000", client: "127.0.0.1"},
		{name: "https through a trusted proxy", proxies: trusted, peer: "127.0.0.1:5000", xff: []string{"203.0.113.9"}, proto: []string{"HTTPS"}, client: "203.0.113.9", secure: true},
		{name: "the first proto is the edge's", proxies: trusted, peer: "127.0.0.1:5000", proto: []string{"https, http"}, client: "127.0.0.1", secure: true},
		{name: "http through a trusted proxy", proxies: trusted, peer: "127.0.0.1:5000", proto: []string{"http"}, client: "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			var client string
			var secure bool
			tc.proxies.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				client, secure = ClientIP(r).String(), Secure(r)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if client != tc.client || secure != tc.secure {
				t.Fatalf("client %s, secure %v; want %s, %v", client, secure, tc.client, tc.secure)
			}
			if r.RemoteAddr != tc.peer {
				t.Fatalf("the caller's request was changed: %s", r.RemoteAddr)
			}
		})
	}
}
