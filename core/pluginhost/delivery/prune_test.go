package delivery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk"
)

// TestPrune: deliveries that ended well go once past the retention period,
// with their attempts; failed ones stay for a replay, and the unfinished
// ones stay whatever their age.
func TestPrune(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{}
		rec.answer = func(d Delivery) (sdk.Result, error) {
			switch d.SessionID {
			case 11:
				return sdk.Failed("refused"), nil
			case 12:
				return sdk.Result{}, fmt.Errorf("not for this unit: %w", ErrSkip)
			}
			return sdk.Acked(), nil
		}
		q := newQueue(t, db, clk, rec.deliver)
		mustEnqueue(t, db, event(1, 10, t0), "crm") // delivered
		mustEnqueue(t, db, event(2, 11, t0), "crm") // failed
		mustEnqueue(t, db, event(3, 12, t0), "crm") // skipped
		drain(t, q)
		mustEnqueue(t, db, event(4, 13, t0), "crm") // still pending: never tried
		if n := count(t, db, "1=1"); n != 4 {
			t.Fatalf("%d deliveries, want 4", n)
		}

		attempts := func() int {
			var n int
			if err := db.NewRaw("SELECT count(*) FROM plugin_delivery_attempts").Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := attempts(); n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}

		// Within the retention period nothing goes.
		clk.Advance(Retention - time.Minute)
		if n, err := q.Prune(ctx); err != nil || n != 0 {
			t.Fatalf("pruned %d (%v) within the retention period", n, err)
		}
		clk.Advance(2 * time.Minute)
		if n, err := q.Prune(ctx); err != nil || n != 2 {
			t.Fatalf("pruned %d (%v), want the delivered and the skipped one", n, err)
		}
		var left []struct {
			EventID int64  `bun:"event_id"`
			State   string `bun:"state"`
		}
		if err := db.NewRaw("SELECT event_id, state FROM plugin_deliveries ORDER BY event_id").Scan(ctx, &left); err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 || left[0].EventID != 2 || left[0].State != "failed" || left[1].EventID != 4 || left[1].State != "pending" {
			t.Fatalf("left %+v, want the failed event 2 and the pending event 4", left)
		}
		if n := attempts(); n != 1 {
			t.Fatalf("%d attempts left, want the failed delivery's one", n)
		}
		// The failed one can still be replayed.
		if n, err := q.Replay(ctx, "crm", view(t, q, "crm", 2).ID); err != nil || n != 1 {
			t.Fatalf("replay after pruning: %d %v", n, err)
		}
	})
}
