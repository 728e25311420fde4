package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/fault"
)

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 25, 9, 30, 0, 123456789, time.UTC))
}

// insertMember adds a technician node and member row so that foreign keys
// to nodes are satisfied; the password columns are not used by auth.
func insertMember(t testing.TB, db *bun.DB, id int64, email string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := db.ExecContext(ctx,
		"INSERT INTO nodes (id, kind, name, created_at, updated_at) VALUES (?, 'technician', ?, ?, ?)",
		id, email, now, now); err != nil {
		t.Fatalf("insert node %d: %v", id, err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO members (node_id, email) VALUES (?, ?)", id, email); err != nil {
		t.Fatalf("insert member %d: %v", id, err)
	}
}

// fakeDirectory is an in-memory Directory.
type fakeDirectory struct {
	mu       sync.Mutex
	members  map[int64]*Credentials
	policy   Policy
	rules    map[int64]IPRules // members without an entry are unrestricted
	setCalls int
}

func newDirectory() *fakeDirectory {
	return &fakeDirectory{members: map[int64]*Credentials{}, policy: DefaultPolicy(), rules: map[int64]IPRules{}}
}

func (d *fakeDirectory) add(c Credentials) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.members[c.MemberID] = &c
}

func (d *fakeDirectory) get(id int64) Credentials {
	d.mu.Lock()
	defer d.mu.Unlock()
	return *d.members[id]
}

func (d *fakeDirectory) MemberByEmail(_ context.Context, email string) (Credentials, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.members {
		if c.Email == email {
			return *c, nil
		}
	}
	return Credentials{}, fault.NotFoundf("member", "no member with that email")
}

func (d *fakeDirectory) MemberByID(_ context.Context, id int64) (Credentials, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.members[id]; ok {
		return *c, nil
	}
	return Credentials{}, fault.NotFoundf("member", "no member %d", id)
}

func (d *fakeDirectory) PasswordPolicy(context.Context) (Policy, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.policy, nil
}

func (d *fakeDirectory) IPRulesFor(_ context.Context, id int64) (IPRules, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.rules[id]
	return r, ok, nil
}

func (d *fakeDirectory) SetPassword(_ context.Context, id int64, hash string, changedAt time.Time, mustChange bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.members[id]
	if !ok {
		return fault.NotFoundf("member", "no member %d", id)
	}
	c.PasswordHash, c.MustChangePassword = hash, mustChange
	c.PasswordChangedAt = &changedAt
	d.setCalls++
	return nil
}

var _ Directory = (*fakeDirectory)(nil)
