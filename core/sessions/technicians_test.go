package sessions_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestCredentialsTTL: kept credentials serve technician actions until an
// organisation change through this node (ForgetCredentials) or the TTL; a
// change behind the node's back waits for the TTL.
func TestCredentialsTTL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.CredentialsTTL = time.Hour
		w.org.Changed = w.svc.ForgetCredentials
		create := func() error {
			_, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{})
			return err
		}
		if err := create(); err != nil {
			t.Fatal(err)
		}
		// Disabled behind the node's back: the kept credentials still act.
		if _, err := db.NewRaw("UPDATE nodes SET enabled = ? WHERE id = ?", false, w.techA1).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := create(); err != nil {
			t.Fatalf("create with kept credentials: %v", err)
		}
		// Any change through the organisation service forgets them.
		name := "renamed"
		if _, err := w.org.UpdateMember(ctx, org.MasterScope(0), w.techA2, org.MemberPatch{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if err := create(); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("create by a disabled technician after an organisation change: %v, want forbidden", err)
		}
		// Enabled again behind its back: kept as disabled until the TTL.
		if _, err := db.NewRaw("UPDATE nodes SET enabled = ? WHERE id = ?", true, w.techA1).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := create(); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("create within the TTL of a change behind the node's back: %v, want still forbidden", err)
		}
		w.svc.CredentialsTTL = time.Millisecond
		time.Sleep(5 * time.Millisecond)
		if err := create(); err != nil {
			t.Fatalf("create past the TTL, enabled again: %v", err)
		}
	})
}
