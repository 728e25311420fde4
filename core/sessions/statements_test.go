package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestRowColumnsAreTheTable keeps the hand-written column list of saves and
// inserts in step with the row: every column but those the statements or
// the relay write themselves, and as many values as columns.
func TestRowColumnsAreTheTable(t *testing.T) {
	table := bun.NewDB(nil, sqlitedialect.New()).Table(reflect.TypeFor[row]())
	var want []string
	for _, f := range table.Fields {
		switch f.Name {
		case "id", "version", "created_at", "transmitted", "tools_used":
			continue
		}
		want = append(want, f.Name)
	}
	got := slices.Clone(rowColumns)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rowColumns = %v\nthe row's columns = %v", got, want)
	}
	if n := len((&row{}).values()); n != len(rowColumns) {
		t.Errorf("row.values has %d values for %d columns", n, len(rowColumns))
	}
}

// TestRowRoundTrip writes a row whose every column holds a value of its
// own through insertSession and saveSession, and reads it back through bun:
// a value in the wrong place is found.
func TestRowRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 26, 6, 0, 0, 654321000, time.UTC)
		var nodes [4]int64
		for i := range nodes {
			nodes[i] = insertNode(t, db, "channel", fmt.Sprint("node ", i), now)
		}
		pin := "123456"
		expires, ended := now.Add(time.Minute), now.Add(time.Hour)
		want := row{Kind: "channel", State: "waiting", ChannelID: &nodes[0], TechGroupID: &nodes[1], TechnicianID: &nodes[2],
			CreatorID: &nodes[3], QueueKind: "channel", QueueID: 11, PrevQueueKind: "group", PrevQueueID: 12, PIN: &pin,
			PINExpiresAt: &expires, CustomerName: "name", CField0: "c0", CField1: "c1", CField2: "c2", CField3: "c3",
			CField4: "c4", CField5: "c5", TrackingID: "track", ClientKind: "applet", Platform: "linux", Language: "fr",
			Test: true, CustomerSecretHash: "hash", Aggregate: `{"state":"waiting"}`, Version: 1,
			CreatedAt: now, UpdatedAt: now.Add(time.Second), EndedAt: &ended}
		got := want
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return insertSession.Scan(ctx, tx, &got.ID, append(got.values(), got.Version, got.CreatedAt)...)
		})
		if err != nil {
			t.Fatal(err)
		}
		want.ID = got.ID
		want.ToolsUsed = "[]" // the column's default: the relay writes it
		check := func(when string) {
			t.Helper()
			var back row
			if err := db.NewSelect().Model(&back).Where("id = ?", want.ID).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(back), normal(want)) {
				t.Errorf("%s: read back\n%+v\nwant\n%+v", when, normal(back), normal(want))
			}
		}
		check("after insert")

		// Every column changes, pointers included.
		ch := []int64{nodes[3], nodes[2], nodes[1], nodes[0]}
		pin2, expires2 := "654321", now.Add(2*time.Minute)
		next := row{ID: want.ID, Kind: "private", State: "active", ChannelID: &ch[0], TechGroupID: &ch[1], TechnicianID: &ch[2],
			CreatorID: &ch[3], QueueKind: "technician", QueueID: 21, PrevQueueKind: "channel", PrevQueueID: 22, PIN: &pin2,
			PINExpiresAt: &expires2, CustomerName: "n2", CField0: "d0", CField1: "d1", CField2: "d2", CField3: "d3",
			CField4: "d4", CField5: "d5", TrackingID: "t2", ClientKind: "web", Platform: "mac", Language: "en",
			Test: false, CustomerSecretHash: "h2", Aggregate: `{"state":"active"}`, Version: 2,
			CreatedAt: now, UpdatedAt: now.Add(2 * time.Second), EndedAt: nil}
		res, err := saveSession.Exec(ctx, db, append(next.values(), next.ID, int64(1))...)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("save: %d rows affected, want 1", n)
		}
		want = next
		want.ToolsUsed = "[]"
		check("after save")
		if res, err := saveSession.Exec(ctx, db, append(next.values(), next.ID, int64(1))...); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n != 0 {
			t.Errorf("a save at a stale version changed %d rows, want 0", n)
		}
	})
}

// normal makes times comparable with DeepEqual.
func normal(r row) row {
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	for _, p := range []**time.Time{&r.PINExpiresAt, &r.EndedAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	return r
}

// TestActiveStatesCounted puts one session of a technician in each state and
// counts the technician's active sessions the three ways a change does:
// countActive, lockActive in a transaction, and the claim of a pick-up's one
// statement on PostgreSQL. All must find activeStates and only those: the
// PostgreSQL function names the states in its own text (migration 15).
func TestActiveStatesCounted(t *testing.T) {
	all := []session.State{session.Pending, session.Connecting, session.Waiting, session.Active, session.OnHold,
		session.Transferring, session.Rebooting, session.Reconnecting, session.Closed, session.TimedOut}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
		tech := insertNode(t, db, "technician", "Tech", now)
		for _, st := range all {
			r := row{Kind: "private", State: string(st), TechnicianID: &tech, Aggregate: `{}`, Version: 1, CreatedAt: now, UpdatedAt: now}
			var id int64
			if err := insertSession.Scan(ctx, db, &id, append(r.values(), r.Version, r.CreatedAt)...); err != nil {
				t.Fatalf("%s: %v", st, err)
			}
		}
		want := len(activeStates)
		var n int
		if err := countActive.Scan(ctx, db, &n, tech); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("countActive = %d, want %d (%v)", n, want, activeStates)
		}
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return lockActive.Scan(ctx, tx, &n, tech)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("lockActive = %d, want %d (%v)", n, want, activeStates)
		}
		if db.Dialect().Name() != dialect.PG {
			return
		}
		// The claim's condition, as the pick-up statement writes it, holds
		// below the count and fails at it.
		for _, max := range []int{want, want + 1} {
			var ok bool
			if err := db.NewRaw(`SELECT tether_active_sessions(?) < ?`, tech, max).Scan(ctx, &ok); err != nil {
				t.Fatal(err)
			}
			if ok != (max > want) {
				t.Errorf("tether_active_sessions(tech) < %d = %v with %d active", max, ok, want)
			}
		}
	})
}

// TestActiveCountSkipsEndedSessions: a technician with one active session
// goes on to have 3,000 ended ones. Counting their active sessions must
// not read the ended ones, whatever plan PostgreSQL made: generic plans are
// forced, as a connection ends up with after a few runs (PL/pgSQL's too),
// and made while the table was small and had no statistics. Such a plan
// once read every session the technician ever had and filtered the states
// afterwards. Measured in buffers touched (the function's inner query
// counts towards its caller's); the ended sessions fill hundreds of pages.
// SQLite's plan must search the index by both columns.
func TestActiveCountSkipsEndedSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
		tech := insertNode(t, db, "technician", "Tech", now)
		if db.Dialect().Name() != dialect.PG {
			rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+countActive.String(), tech)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if len(plan) != 1 || !strings.Contains(plan[0], "(technician_id=? AND state=?)") {
				t.Fatalf("countActive's plan on SQLite: %q", plan)
			}
			return
		}
		insert := func(states string, n int) {
			t.Helper()
			if _, err := db.NewRaw(`INSERT INTO sessions (kind, state, technician_id, aggregate, created_at, updated_at)
SELECT 'private', ?, ?, repeat('x', 600), ?, ? FROM generate_series(1, ?) AS i`, states, tech, now, now, n).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		insert("active", 1)
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `PREPARE count_active AS `+countActive.PostgresString()); err != nil {
			t.Fatal(err)
		}
		// The plans are made now, while the technician has one session,
		// and kept when the history grows: rows added do not make
		// PostgreSQL plan again.
		for _, q := range []string{fmt.Sprintf(`EXECUTE count_active(%d)`, tech), fmt.Sprintf(`SELECT tether_active_sessions(%d)`, tech)} {
			var n int
			if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%s = %d, %v; want 1", q, n, err)
			}
		}
		insert("closed", 3000)
		for _, q := range []struct{ name, explain string }{
			{"countActive", fmt.Sprintf(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE count_active(%d)`, tech)},
			{"tether_active_sessions", fmt.Sprintf(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT tether_active_sessions(%d)`, tech)},
		} {
			var out string
			if err := conn.QueryRowContext(ctx, q.explain).Scan(&out); err != nil {
				t.Fatalf("%s: %v", q.name, err)
			}
			var plans []struct {
				Plan struct {
					SharedHit  int `json:"Shared Hit Blocks"`
					SharedRead int `json:"Shared Read Blocks"`
				} `json:"Plan"`
			}
			if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) != 1 {
				t.Fatalf("%s: %v in %s", q.name, err, out)
			}
			if n := plans[0].Plan.SharedHit + plans[0].Plan.SharedRead; n > 60 {
				t.Fatalf("%s touched %d buffers: it reads the technician's ended sessions\n%s", q.name, n, out)
			}
		}
		var n int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`EXECUTE count_active(%d)`, tech)).Scan(&n); err != nil || n != 1 {
			t.Fatalf("count = %d, %v; want 1", n, err)
		}
	})
}

// insertNode adds a unit of the organisation tree, as core/org would.
func insertNode(t *testing.T, db *bun.DB, kind, name string, at time.Time) int64 {
	t.Helper()
	var id int64
	if err := db.NewRaw(`INSERT INTO nodes (kind, name, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id`,
		kind, name, at, at).Scan(context.Background(), &id); err != nil {
		t.Fatal(err)
	}
	return id
}
