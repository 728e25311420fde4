package hub

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/settings"
)

// settingsTree shows the organisation tree to settings.
type settingsTree struct{ org *org.Service }

func toSettingsUnit(u org.Unit) settings.Unit {
	return settings.Unit{ID: u.ID, Kind: settings.UnitKind(u.Kind), Name: u.Name}
}

func toSettingsUnits(us []org.Unit) []settings.Unit {
	out := make([]settings.Unit, len(us))
	for i, u := range us {
		out[i] = toSettingsUnit(u)
	}
	return out
}

func (t settingsTree) Unit(ctx context.Context, id int64) (settings.Unit, error) {
	u, err := t.org.UnitByID(ctx, id)
	return toSettingsUnit(u), err
}

func (t settingsTree) Ancestors(ctx context.Context, id int64) ([]settings.Unit, error) {
	us, err := t.org.Ancestors(ctx, id)
	return toSettingsUnits(us), err
}

func (t settingsTree) Descendants(ctx context.Context, id int64) ([]settings.Unit, error) {
	us, err := t.org.Descendants(ctx, id)
	return toSettingsUnits(us), err
}

func (t settingsTree) All(ctx context.Context, kind settings.UnitKind) ([]settings.Unit, error) {
	us, err := t.org.UnitsOfKind(ctx, org.Kind(kind))
	return toSettingsUnits(us), err
}

// directory shows members and their sign-in rules to auth.
type directory struct {
	org      *org.Service
	settings *settings.Service
}

func toCredentials(c org.Credentials) auth.Credentials {
	return auth.Credentials{MemberID: c.MemberID, Email: c.Email, Role: string(c.Role), Enabled: c.Enabled,
		PasswordHash: c.PasswordHash, PasswordChangedAt: c.PasswordChangedAt, MustChangePassword: c.MustChangePassword}
}

func (d directory) MemberByEmail(ctx context.Context, email string) (auth.Credentials, error) {
	c, err := d.org.CredentialsByEmail(ctx, email)
	return toCredentials(c), err
}

func (d directory) MemberByID(ctx context.Context, id int64) (auth.Credentials, error) {
	c, err := d.org.CredentialsByID(ctx, id)
	return toCredentials(c), err
}

func (d directory) PasswordPolicy(ctx context.Context) (auth.Policy, error) {
	root, err := d.org.Root(ctx)
	if err != nil {
		return auth.Policy{}, err
	}
	p, err := settings.Get[auth.Policy](ctx, d.settings, root.ID, PasswordPolicySection)
	if err != nil {
		return auth.Policy{}, err
	}
	return p, nil
}

// IPRulesFor applies AUTH-2 to technicians: the rules of their group.
func (d directory) IPRulesFor(ctx context.Context, memberID int64) (auth.IPRules, bool, error) {
	c, err := d.org.CredentialsByID(ctx, memberID)
	if err != nil || c.TechGroupID == 0 {
		return auth.IPRules{}, false, err
	}
	r, err := settings.Get[auth.IPRules](ctx, d.settings, c.TechGroupID, ConsoleAccessSection)
	if err != nil {
		return auth.IPRules{}, false, err
	}
	return r, true, nil
}

func (d directory) SetPassword(ctx context.Context, memberID int64, hash string, changedAt time.Time, mustChange bool) error {
	return d.org.SetPassword(ctx, memberID, hash, changedAt, mustChange)
}

// GeneratePassword returns a 20-character password of four classes without
// repeated characters, i.e. "Excellent" under AUTH-1.
func GeneratePassword() (string, error) {
	classes := []string{"abcdefghijkmnopqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "!#%+-=?@^_~"}
	for range 100 {
		used := map[byte]bool{}
		var out []byte
		for len(out) < 20 {
			cls := classes[len(out)%len(classes)]
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(cls))))
			if err != nil {
				return "", fmt.Errorf("generate password: %w", err)
			}
			c := cls[n.Int64()]
			if !used[c] {
				used[c] = true
				out = append(out, c)
			}
		}
		// Shuffle so the classes do not repeat in a fixed pattern.
		for i := len(out) - 1; i > 0; i-- {
			j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
			if err != nil {
				return "", fmt.Errorf("generate password: %w", err)
			}
			out[i], out[j.Int64()] = out[j.Int64()], out[i]
		}
		if auth.Classify(string(out)) == auth.Excellent {
			return string(out), nil
		}
	}
	return "", fmt.Errorf("generate password: no excellent password after 100 tries")
}
