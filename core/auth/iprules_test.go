package auth

import (
	"net/netip"
	"testing"
)

func TestIPRulesAllows(t *testing.T) {
	allowButOffice := IPRules{Default: IPAllow, Exceptions: []IPException{{Network: "10.1.0.0", Mask: "255.255.0.0"}}}
	onlyHost := IPRules{Default: IPDeny, Exceptions: []IPException{{Network: "5.5.5.5", Mask: "255.255.255.255"}}}
	onlySubnets := IPRules{Default: IPDeny, Exceptions: []IPException{
		{Network: "192.168.7.77", Mask: "24"}, // host bits are ignored
		{Network: "2001:db8:1::", Mask: "48"},
		{Network: "::ffff:172.16.0.0", Mask: "108"}, // IPv4-mapped form of 172.16.0.0/12
	}}
	tests := []struct {
		name  string
		rules IPRules
		ip    string
		want  bool
	}{
		{"allow default, outside deny exception", allowButOffice, "10.2.0.1", true},
		{"allow default, inside deny exception", allowButOffice, "10.1.200.3", false},
		{"allow default, mapped address inside deny exception", allowButOffice, "::ffff:10.1.0.9", false},
		{"deny default, the allowed host", onlyHost, "5.5.5.5", true},
		{"deny default, its neighbour", onlyHost, "5.5.5.6", false},
		{"deny default, mapped allowed host", onlyHost, "::ffff:5.5.5.5", true},
		{"deny default, IPv6", onlyHost, "2001:db8::5", false},
		{"subnet start", onlySubnets, "192.168.7.0", true},
		{"subnet end", onlySubnets, "192.168.7.255", true},
		{"next subnet", onlySubnets, "192.168.8.0", false},
		{"IPv6 subnet", onlySubnets, "2001:db8:1:ffff::1", true},
		{"outside IPv6 subnet", onlySubnets, "2001:db8:2::1", false},
		{"mapped exception matches IPv4", onlySubnets, "172.31.255.255", true},
		{"mapped exception, outside", onlySubnets, "172.32.0.0", false},
		{"zone ignored", onlySubnets, "2001:db8:1::1%eth0", true},
		{"no rules", IPRules{}, "8.8.8.8", true},
		{"deny everything", IPRules{Default: IPDeny}, "127.0.0.1", false},
		{"broken exception matches nothing", IPRules{Default: IPDeny, Exceptions: []IPException{{Network: "5.5.5.5", Mask: "255.0.255.0"}}}, "5.5.5.5", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.Allows(netip.MustParseAddr(tt.ip)); got != tt.want {
				t.Errorf("Allows(%s) = %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
}

func TestIPRulesValidate(t *testing.T) {
	many := make([]IPException, 101)
	for i := range many {
		many[i] = IPException{Network: "10.0.0.1", Mask: "32"}
	}
	tests := []struct {
		name  string
		rules IPRules
		want  map[string]string
	}{
		{"valid", IPRules{Default: IPDeny, Exceptions: []IPException{
			{Network: "5.5.5.5", Mask: "255.255.255.255"},
			{Network: "10.0.0.0", Mask: "8"},
			{Network: "0.0.0.0", Mask: "0.0.0.0"},
			{Network: "2001:db8::", Mask: "32"},
			{Network: "::ffff:10.0.0.0", Mask: "104"},
			{Network: "::ffff:10.0.0.0", Mask: "255.0.0.0"},
		}}, nil},
		{"empty", IPRules{Default: IPAllow}, nil},
		{"bad default", IPRules{Default: "maybe"}, map[string]string{"default": "must be one of: allow, deny"}},
		{"bad entries", IPRules{Default: IPAllow, Exceptions: []IPException{
			{Network: "5.5.5.5", Mask: "255.255.255.255"},
			{Network: "5.5.5.5", Mask: "255.0.255.0"}, // not contiguous
			{Network: "5.5.5", Mask: "24"},
			{Network: "5.5.5.5", Mask: "33"},
			{Network: "2001:db8::", Mask: "255.255.0.0"}, // dotted mask on IPv6
			{Network: "5.5.5.5", Mask: ""},
			{Network: "5.5.5.5", Mask: "-1"},
			{Network: "::ffff:10.0.0.0", Mask: "64"}, // would cover more than the IPv4 space
			{Network: "fe80::1%eth0", Mask: "64"},
			{Network: "2001:db8::", Mask: "129"},
		}}, map[string]string{
			"exceptions[1].mask":    badMask,
			"exceptions[2].network": "must be an IP address such as 192.168.1.0",
			"exceptions[3].mask":    badMask,
			"exceptions[4].mask":    badMask,
			"exceptions[5].mask":    badMask,
			"exceptions[6].mask":    badMask,
			"exceptions[7].mask":    badMask,
			"exceptions[8].network": "must be an IP address such as 192.168.1.0",
			"exceptions[9].mask":    badMask,
		}},
		{"too many", IPRules{Default: IPAllow, Exceptions: many}, map[string]string{"exceptions": "must be at most 100 items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertFields(t, tt.rules.Validate(), tt.want)
		})
	}
	if badMask != "must be a subnet mask such as 255.255.255.0" {
		t.Fatalf("mask message changed: %q", badMask)
	}
}

func TestIPExceptionPrefix(t *testing.T) {
	tests := []struct{ network, mask, want string }{
		{"5.5.5.5", "255.255.255.255", "5.5.5.5/32"},
		{"192.168.7.77", "255.255.255.0", "192.168.7.0/24"},
		{"10.9.8.7", "8", "10.0.0.0/8"},
		{"::ffff:10.9.8.7", "104", "10.0.0.0/8"},
		{"2001:db8:1:2::3", "64", "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		got, err := IPException{Network: tt.network, Mask: tt.mask}.Prefix()
		if err != nil || got.String() != tt.want {
			t.Errorf("Prefix(%s / %s) = %v, %v; want %s", tt.network, tt.mask, got, err, tt.want)
		}
	}
	_, err := IPException{Network: "5.5.5.5", Mask: "255.255.0.255"}.Prefix()
	assertField(t, err, "mask", badMask)
}

func TestThrottleKey(t *testing.T) {
	for _, tt := range []struct{ ip, want string }{
		{"", ""},
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"}, // IPv4-mapped counts as the IPv4 address
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"}, // same /64, same key
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},                  // the next /64 is another
		{"fe80::1%eth0", "fe80::/64"},
	} {
		var ip netip.Addr
		if tt.ip != "" {
			ip = netip.MustParseAddr(tt.ip)
		}
		if got := ThrottleKey(ip); got != tt.want {
			t.Errorf("ThrottleKey(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}
