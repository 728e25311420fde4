package manifest

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// semver is a parsed semantic version (semver.org 2.0.0). Build metadata is
// kept out: it never takes part in comparisons.
type semver struct {
	major, minor, patch uint64
	pre                 []string
}

// parseSemver reads MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] without a "v".
func parseSemver(s string) (semver, error) {
	var v semver
	core, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !validIdents(build, false) {
		return v, fmt.Errorf("build metadata %q is not dot-separated [0-9A-Za-z-] identifiers", build)
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre {
		if !validIdents(pre, true) {
			return v, fmt.Errorf("pre-release %q is not dot-separated [0-9A-Za-z-] identifiers without leading zeros", pre)
		}
		v.pre = strings.Split(pre, ".")
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("%q is not MAJOR.MINOR.PATCH", core)
	}
	nums := [3]*uint64{&v.major, &v.minor, &v.patch}
	for i, p := range parts {
		if !numeric(p) || (len(p) > 1 && p[0] == '0') {
			return v, fmt.Errorf("%q is not a number without leading zeros", p)
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, fmt.Errorf("%q is too large", p)
		}
		*nums[i] = n
	}
	return v, nil
}

func validIdents(s string, noLeadingZero bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for _, r := range id {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
				return false
			}
		}
		if noLeadingZero && numeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// compare orders versions by semver precedence: a pre-release comes before
// its release, numeric identifiers compare as numbers and before
// alphanumeric ones, a longer list of equal identifiers wins.
func (a semver) compare(b semver) int {
	if c := cmp.Compare(a.major, b.major); c != 0 {
		return c
	}
	if c := cmp.Compare(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xn, yn := numeric(x), numeric(y)
		switch {
		case xn && yn:
			// Equal-length digit strings without leading zeros order as numbers.
			if c := cmp.Compare(len(x), len(y)); c != 0 {
				return c
			}
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		case xn:
			return -1
		case yn:
			return 1
		default:
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a.pre), len(b.pre))
}
