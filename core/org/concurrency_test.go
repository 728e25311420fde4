package org_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestConcurrentWrites: parallel creations all land, and a race for one
// e-mail address has exactly one winner and clean 409s for the rest.
func TestConcurrentWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		ms := org.MasterScope(f.master)
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = f.s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &f.A,
					Name: fmt.Sprintf("p%d", i), Email: fmt.Sprintf("p%d@example.com", i)}, "", false)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("parallel create %d: %v", i, err)
			}
		}
		members, err := f.s.ListMembers(ctx, ms, org.MemberFilter{GroupID: f.A})
		if err != nil || len(members) != n+1 { // + ta
			t.Fatalf("group A has %d members, want %d (%v)", len(members), n+1, err)
		}

		won, conflicts := 0, 0
		for i := range n {
			wg.Go(func() {
				_, errs[i] = f.s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &f.B,
					Name: fmt.Sprintf("same%d", i), Email: "same@example.com"}, "", false)
			})
		}
		wg.Wait()
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case fault.IsKind(err, fault.Conflict):
				conflicts++
			default:
				t.Fatalf("racing create: %v", err)
			}
		}
		if won != 1 || conflicts != n-1 {
			t.Fatalf("%d winners and %d conflicts, want 1 and %d", won, conflicts, n-1)
		}
		// Losers left no half-created node behind.
		members, err = f.s.ListMembers(ctx, ms, org.MemberFilter{GroupID: f.B})
		if err != nil || len(members) != 2 { // tb + the winner
			t.Fatalf("group B has %d members after the race, want 2 (%v)", len(members), err)
		}
	})
}
