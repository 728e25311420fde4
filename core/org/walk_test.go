package org_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store/storetest"
)

func TestAncestorsAndDescendants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		anc, err := f.s.Ancestors(ctx, f.tA1)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, u := range anc {
			got = append(got, u.ID)
		}
		root, _ := f.s.Root(ctx)
		want := []int64{f.A1, f.A, root.ID}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("ancestors of tA1 = %v, want %v", got, want)
		}
		if anc, err := f.s.Ancestors(ctx, root.ID); err != nil || len(anc) != 0 {
			t.Fatalf("ancestors of the root = %v, %v", anc, err)
		}
		if _, err := f.s.Ancestors(ctx, 999999); !fault.IsKind(err, fault.NotFound) {
			t.Fatalf("ancestors of nothing: %v", err)
		}
		desc, err := f.s.Descendants(ctx, f.A)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, u := range desc {
			seen[u.ID] = true
		}
		for _, id := range []int64{f.A1, f.AE, f.tA, f.tA1} {
			if !seen[id] {
				t.Errorf("descendants of A lack %d", id)
			}
		}
		if seen[f.A] || seen[f.B] || len(desc) != 4 {
			t.Errorf("descendants of A = %v", desc)
		}
	})
}
