package delivery

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
	"github.com/tetherhq/tether/core/store/storetest"
)

// blockedMigration is the migration that adds the blocked state.
const blockedMigration = "20261125000012"

// TestMigrationBlocksQueuedDeliveries runs the blocked migration over rows
// queued under the old rule (every unfinished delivery pending): the later
// ones of a session become blocked, nothing else changes, the attempts and
// the id counters survive (SQLite rebuilds both tables), and down makes them
// pending again.
func TestMigrationBlocksQueuedDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		storetest.MigrateBefore(t, db, blockedMigration)

		insertRow(t, db, "survey", 4, 10, Pending, t0)
		for _, r := range []struct {
			event, session int64
			state          State
		}{{1, 10, Delivered}, {2, 10, Running}, {3, 10, Pending}, {4, 10, Pending}, {5, 11, Pending}, {6, 11, Pending},
			{7, 12, Pending}, {8, 12, Failed}, {9, 13, Failed}} {
			insertRow(t, db, "crm", r.event, r.session, r.state, t0)
		}
		if _, err := db.NewRaw(`INSERT INTO plugin_delivery_attempts (delivery_id, at, outcome)
SELECT id, ?, 'error' FROM plugin_deliveries`, t0).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// A removed delivery (the last one) leaves the id counters above the
		// highest id.
		if _, err := db.NewRaw(`DELETE FROM plugin_deliveries WHERE event_id = 9`).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		if _, err := store.MigrateUp(ctx, db); err != nil {
			t.Fatal(err)
		}
		q := newQueue(t, db, nil, (&recorder{}).deliver)
		wantStates(t, q, "crm", "1:delivered", "2:running", "3:blocked", "4:blocked", "5:pending", "6:blocked", "7:pending", "8:failed")
		wantStates(t, q, "survey", "4:pending")
		checkHeads(t, db)
		if n := count(t, db, "1 = 1"); n != 9 {
			t.Fatalf("%d deliveries after the migration, want 9", n)
		}
		var attempts int
		if err := db.NewRaw(`SELECT count(*) FROM plugin_delivery_attempts`).Scan(ctx, &attempts); err != nil || attempts != 9 {
			t.Fatalf("%d attempts after the migration, want 9 (%v)", attempts, err)
		}
		// The counters go on from where they were, and the attempts still
		// belong to their deliveries.
		mustEnqueue(t, db, event(20, 20, t0), "crm")
		if v := view(t, q, "crm", 20); v.ID != 11 {
			t.Fatalf("new delivery id %d, want 11", v.ID)
		}
		if err := q.record(ctx, []result{{c: claimed{Delivery: Delivery{ID: 11}}, outcome: OutcomeRetry, at: t0}}); err != nil {
			t.Fatal(err)
		}
		var attemptID int64
		if err := db.NewRaw(`SELECT max(id) FROM plugin_delivery_attempts`).Scan(ctx, &attemptID); err != nil || attemptID != 11 {
			t.Fatalf("new attempt id %d, want 11 (%v)", attemptID, err)
		}
		if _, err := db.NewRaw(`DELETE FROM plugin_deliveries WHERE event_id = 20`).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.NewRaw(`SELECT count(*) FROM plugin_delivery_attempts`).Scan(ctx, &attempts); err != nil || attempts != 9 {
			t.Fatalf("%d attempts after deleting a delivery, want 9: the foreign key no longer cascades (%v)", attempts, err)
		}

		if _, err := store.MigrateDown(ctx, db); err != nil {
			t.Fatal(err)
		}
		var blocked int
		if err := db.NewRaw(`SELECT count(*) FROM plugin_deliveries WHERE state = 'pending'`).Scan(ctx, &blocked); err != nil || blocked != 6 {
			t.Fatalf("%d pending after down, want 6 (%v)", blocked, err)
		}
		if _, err := db.NewRaw(`UPDATE plugin_deliveries SET state = 'blocked' WHERE event_id = 3`).Exec(ctx); err == nil {
			t.Fatal("down left the blocked state allowed")
		}
		if _, err := store.MigrateUp(ctx, db); err != nil {
			t.Fatal(err)
		}
		wantStates(t, q, "crm", "1:delivered", "2:running", "3:blocked", "4:blocked", "5:pending", "6:blocked", "7:pending", "8:failed")
	})
}
