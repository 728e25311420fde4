package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies the hub trusts to say who their client
// is. A request whose TCP peer is one of them is taken to come from the
// address its X-Forwarded-For names, and to have arrived over HTTPS when
// X-Forwarded-Proto says so; from anyone else both headers are ignored, since
// anyone can write them. Without trusted proxies every customer behind one
// shares its address: the PIN and sign-in throttles would count them all as
// one client, and IP rules (AUTH-2) would see only the proxy.
type Proxies struct{ nets []netip.Prefix }

// ParseProxies reads addresses and networks ("127.0.0.1", "10.0.0.0/8",
// "::1"); an entry that is neither is refused, naming it.
func ParseProxies(entries []string) (Proxies, error) {
	var p Proxies
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if pre, err := netip.ParsePrefix(e); err == nil {
			p.nets = append(p.nets, netip.PrefixFrom(pre.Addr().Unmap(), unmappedBits(pre)).Masked())
			continue
		}
		ip, err := netip.ParseAddr(e)
		if err != nil {
			return Proxies{}, fmt.Errorf("trusted proxy %q: must be an IP address or a network in CIDR form (10.0.0.0/8)", e)
		}
		ip = ip.Unmap().WithZone("")
		p.nets = append(p.nets, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return p, nil
}

// unmappedBits is pre's length once an IPv4-mapped IPv6 network is written
// as IPv4.
func unmappedBits(pre netip.Prefix) int {
	if pre.Addr().Is4In6() {
		return max(pre.Bits()-96, 0)
	}
	return pre.Bits()
}

// Empty reports whether no proxy is trusted.
func (p Proxies) Empty() bool { return len(p.nets) == 0 }

// String lists the trusted networks, for the start-up log.
func (p Proxies) String() string {
	s := make([]string, len(p.nets))
	for i, n := range p.nets {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

func (p Proxies) trusts(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, n := range p.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

type secureKey struct{}

// Middleware rewrites a request that came through a trusted proxy: its
// RemoteAddr becomes the client's address, found by reading X-Forwarded-For
// from the right and skipping the trusted proxies in the chain (the entries
// to their left were written by the client and prove nothing); and
// X-Forwarded-Proto "https" (its first value) marks it secure (Secure). A
// client that writes that header itself only makes its own cookies Secure. A request from anyone
// else is left as it is.
func (p Proxies) Middleware(next http.Handler) http.Handler {
	if p.Empty() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := ClientIP(r)
		if !peer.IsValid() || !p.trusts(peer) {
			next.ServeHTTP(w, r)
			return
		}
		if client, ok := p.forwardedFor(r.Header.Values("X-Forwarded-For")); ok {
			r2 := *r
			r2.RemoteAddr = netip.AddrPortFrom(client, 0).String()
			r = &r2
		}
		if strings.EqualFold(firstValue(r.Header.Values("X-Forwarded-Proto")), "https") {
			r = r.WithContext(context.WithValue(r.Context(), secureKey{}, true))
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedFor is the client in X-Forwarded-For: the right-most address
// that is not a trusted proxy, or the left-most when all are. An entry that
// is not an address ("unknown", say) ends the search with no client: the
// request keeps the proxy's address.
func (p Proxies) forwardedFor(values []string) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	var last netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := parseHop(hops[i])
		if err != nil {
			return netip.Addr{}, false
		}
		last = ip
		if !p.trusts(ip) {
			return ip, true
		}
	}
	return last, last.IsValid()
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port, an IPv6 one possibly in brackets.
func parseHop(h string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	if err != nil {
		return netip.Addr{}, err
	}
	return ip.Unmap().WithZone(""), nil
}

// firstValue is the first entry of a header that may be a list: the one the
// proxy nearest the client wrote.
func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v, _, _ := strings.Cut(values[0], ",")
	return strings.TrimSpace(v)
}

// Secure reports whether the request reached the hub over HTTPS: directly,
// or through a trusted proxy that says so. Cookies are marked Secure then.
func Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	s, _ := r.Context().Value(secureKey{}).(bool)
	return s
}
