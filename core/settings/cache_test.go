package settings_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestCache checks what a Service with a CacheTTL serves: values stay
// cached until a Save, a Reset, Invalidate or the TTL, and every read gets
// its own copy.
func TestCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := newService(t, db, newTree())
		svc.CacheTTL = time.Hour
		priority := func() int {
			t.Helper()
			q, err := settings.Get[queueSettings](ctx, svc, tech1, "queue")
			if err != nil {
				t.Fatal(err)
			}
			return q.Priority
		}
		// behind changes the stored value the way another hub node would:
		// without this Service knowing.
		behind := func(unit int64, value string) {
			t.Helper()
			if _, err := db.NewRaw("UPDATE settings SET value = ? WHERE unit_id = ? AND section = 'queue'", value, unit).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}

		save(t, svc, groupA, "queue", `{"priority":3}`)
		if got := priority(); got != 3 {
			t.Fatalf("priority %d, want 3 from group A", got)
		}
		behind(groupA, `{"priority":7}`)
		if got := priority(); got != 3 {
			t.Fatalf("priority %d after a change behind the cache, want the cached 3", got)
		}

		// A caller changing its copy changes nothing for the next one.
		e, err := svc.Effective(ctx, tech1, "queue")
		if err != nil {
			t.Fatal(err)
		}
		e.Value.(*queueSettings).Priority = 99
		e.Value.(*queueSettings).Exceptions = append(e.Value.(*queueSettings).Exceptions, exception{Network: "10.0.0.0"})
		if q, _ := settings.Get[queueSettings](ctx, svc, tech1, "queue"); q.Priority != 3 || len(q.Exceptions) != 0 {
			t.Fatalf("got %+v after a caller changed its copy, want priority 3 and no exceptions", q)
		}

		// A Save through the Service is seen at once, here and below.
		save(t, svc, groupA1, "queue", `{"priority":4}`)
		if got := priority(); got != 4 {
			t.Fatalf("priority %d after a save on A1, want 4", got)
		}
		behind(groupA1, `{"priority":5}`)
		svc.Invalidate()
		if got := priority(); got != 5 {
			t.Fatalf("priority %d after Invalidate, want the stored 5", got)
		}
		if err := svc.Reset(ctx, groupA1, "queue", nil); err != nil {
			t.Fatal(err)
		}
		if got := priority(); got != 7 {
			t.Fatalf("priority %d after resetting A1, want group A's 7", got)
		}

		// Past the TTL the database is read again.
		svc.CacheTTL = time.Millisecond
		svc.Invalidate()
		if got := priority(); got != 7 {
			t.Fatalf("priority %d, want 7", got)
		}
		behind(groupA, `{"priority":8}`)
		time.Sleep(5 * time.Millisecond)
		if got := priority(); got != 8 {
			t.Fatalf("priority %d once the TTL is over, want the stored 8", got)
		}
	})
}

// TestCacheKeepsDefaults: a section nobody stored resolves to its default,
// from the cache too, and a later save replaces it.
func TestCacheKeepsDefaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := newService(t, db, newTree())
		svc.CacheTTL = time.Hour
		for range 2 {
			e, err := svc.Effective(ctx, chan1, "welcome")
			if err != nil {
				t.Fatal(err)
			}
			if e.Source != nil || e.Value.(*welcomeSettings).Text != "Hello" {
				t.Fatalf("got %+v from %v, want the default", e.Value, e.Source)
			}
		}
		save(t, svc, orgID, "welcome", `{"text":"Hi"}`)
		e, err := svc.Effective(ctx, chan1, "welcome")
		if err != nil {
			t.Fatal(err)
		}
		if e.Source == nil || e.Source.ID != orgID || e.Own || e.Value.(*welcomeSettings).Text != "Hi" {
			t.Fatalf("got %+v from %v (own %v), want Hi inherited from the organisation", e.Value, e.Source, e.Own)
		}
	})
}

// TestCacheMissReadsTheUnit: a miss resolves every section the unit can
// hold, so the unit's next section comes from the cache, even when another
// node changed it meanwhile.
func TestCacheMissReadsTheUnit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := newService(t, db, newTree())
		svc.CacheTTL = time.Hour
		other := &settings.Service{DB: db, Tree: newTree(), Registry: svc.Registry}
		if _, err := svc.Effective(ctx, chan1, "queue"); err != nil {
			t.Fatal(err)
		}
		save(t, other, chan1, "welcome", `{"text":"Changed elsewhere"}`)
		e, err := svc.Effective(ctx, chan1, "welcome")
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Value.(*welcomeSettings).Text; got != "Hello" {
			t.Fatalf("welcome text %q, want the default read with the queue section", got)
		}
		svc.Invalidate()
		if e, err = svc.Effective(ctx, chan1, "welcome"); err != nil || e.Value.(*welcomeSettings).Text != "Changed elsewhere" {
			t.Fatalf("after Invalidate: %+v, %v; want the stored text", e.Value, err)
		}
	})
}
