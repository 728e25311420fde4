package auth

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tetherhq/tether/core/fault"
)

// IP rule defaults.
const (
	IPAllow = "allow"
	IPDeny  = "deny"
)

// IPRules restrict console sign-in for a technician group (AUTH-2): every
// address gets Default, except those inside an exception, which get the
// opposite.
type IPRules struct {
	Default    string        `json:"default" validate:"oneof=allow deny"`
	Exceptions []IPException `json:"exceptions" validate:"max=100,dive"`
}

// IPException is a network ID and subnet mask, as the original product takes
// them ("5.5.5.5" / "255.255.255.255"). Mask may also be a prefix length
// ("24"), which is the only form IPv6 networks accept.
type IPException struct {
	Network string `json:"network"`
	Mask    string `json:"mask"`
}

const badMask = "must be a subnet mask such as 255.255.255.0"

// Validate returns an Invalid fault naming every bad field, e.g.
// "exceptions[0].mask".
func (r IPRules) Validate() error {
	fields := map[string]string{}
	if err := fault.Validate(r); err != nil {
		fe, ok := fault.As(err)
		if !ok {
			return err
		}
		maps.Copy(fields, fe.Fields)
	}
	if len(r.Exceptions) <= 100 {
		for i, e := range r.Exceptions {
			if _, field, why := e.prefix(); field != "" {
				fields[fmt.Sprintf("exceptions[%d].%s", i, field)] = why
			}
		}
	}
	if len(fields) > 0 {
		return fault.Fields(fields)
	}
	return nil
}

// Prefix returns the exception as a network prefix (host bits cleared), or
// an Invalid fault about field "network" or "mask".
func (e IPException) Prefix() (netip.Prefix, error) {
	p, field, why := e.prefix()
	if field != "" {
		return netip.Prefix{}, fault.Field(field, why)
	}
	return p, nil
}

func (e IPException) prefix() (p netip.Prefix, field, why string) {
	addr, err := netip.ParseAddr(strings.TrimSpace(e.Network))
	if err != nil || addr.Zone() != "" {
		return p, "network", "must be an IP address such as 192.168.1.0"
	}
	mask := strings.TrimSpace(e.Mask)
	bits := -1
	switch {
	case strings.Contains(mask, "."):
		if m, err := netip.ParseAddr(mask); err == nil && m.Is4() && addr.Unmap().Is4() {
			addr, bits = addr.Unmap(), maskBits(m)
		}
	case addr.Is4In6():
		// ::ffff:10.0.0.0/104 is the IPv4 network 10.0.0.0/8.
		if n, ok := prefixLen(mask, 128); ok && n >= 96 {
			addr, bits = addr.Unmap(), n-96
		}
	default:
		if n, ok := prefixLen(mask, addr.BitLen()); ok {
			bits = n
		}
	}
	if bits < 0 {
		return p, "mask", badMask
	}
	return netip.PrefixFrom(addr, bits).Masked(), "", ""
}

// prefixLen parses a decimal prefix length in [0, max], digits only.
func prefixLen(s string, max int) (int, bool) {
	if s == "" || len(s) > 3 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n <= max
}

// maskBits returns the prefix length of a contiguous IPv4 mask, or -1.
func maskBits(m netip.Addr) int {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&(1<<31) != 0 {
		ones++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return ones
}

// Allows reports whether ip may sign in. IPv4-mapped IPv6 addresses are
// matched as IPv4. Rules are expected to have passed Validate; an exception
// that does not parse matches nothing, and an unset Default allows.
func (r IPRules) Allows(ip netip.Addr) bool {
	allow := r.Default != IPDeny
	ip = ip.Unmap().WithZone("")
	for _, e := range r.Exceptions {
		p, field, _ := e.prefix()
		if field == "" && p.Contains(ip) {
			return !allow
		}
	}
	return allow
}

// ThrottleKey is what guess throttles count attempts by: an IPv4 address
// itself, and for IPv6 the /64 network it is in, since one subscriber
// usually gets a whole /64 and could otherwise move to a fresh address for
// every guess. "" for no address.
func ThrottleKey(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// ClientIP is the peer address of a request, the address IP rules and
// throttles are checked against. Tether does not trust forwarding headers:
// put the hub behind a proxy only with one that terminates on the same host.
func ClientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}
