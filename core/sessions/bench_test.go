package sessions_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// lifecycle is one whole private session: created with a PIN, joined,
// picked up and closed by tech, each step its own transaction with its
// outbox event.
func lifecycle(ctx context.Context, w *world, tech org.Actor) error {
	c, err := w.svc.CreatePrivate(ctx, tech, sessions.PrivateInput{})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{}); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	if _, err := w.svc.PickUp(ctx, tech, c.Session.ID); err != nil {
		return fmt.Errorf("pick up: %w", err)
	}
	if _, err := w.svc.Close(ctx, tech, c.Session.ID); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// BenchmarkLifecycle runs whole private-session lifecycles one after the
// other (one client), on SQLite and PostgreSQL. Reported as lifecycles/s,
// and the SQL statements (round trips) each lifecycle takes.
func BenchmarkLifecycle(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(b, db)
		w.svc.PINLimit = sessions.PINLimit{Window: 1, Failures: 1 << 30}
		tech := w.actor(w.techA1)
		b.ResetTimer()
		statements := storetest.CountStatements(db)
		for b.Loop() {
			if err := lifecycle(ctx, w, tech); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lifecycles/s")
		b.ReportMetric(float64(statements())/float64(b.N), "statements/lifecycle")
	})
}

// BenchmarkLifecycleConcurrent runs lifecycles from many clients at once,
// as on a busy hub: each client is a technician of its own (so the
// per-technician capacity never refuses a pick-up) running lifecycles one
// after the other until b.N are done between them. On PostgreSQL the
// commits of concurrent transactions share their WAL flushes; SQLite
// serialises its writers. With more clients than the pool has connections
// (core/store: 20 on PostgreSQL), transitions that read through the pool
// while holding their transaction's connection can wait on each other for
// ever; the benchmark then fails, naming the pool's state, instead of
// hanging.
func BenchmarkLifecycleConcurrent(b *testing.B) {
	for _, clients := range []int{16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			storetest.EachB(b, func(b *testing.B, db *bun.DB) { concurrentLifecycles(b, db, clients) })
		})
	}
}

func concurrentLifecycles(b *testing.B, db *bun.DB, clients int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(b, db)
	w.svc.PINLimit = sessions.PINLimit{Window: 1, Failures: 1 << 30}
	techs := make([]org.Actor, clients)
	for i := range techs {
		m, err := w.org.CreateMember(ctx, orgMaster(), org.MemberInput{Role: org.KindTechnician, GroupID: &w.groupA,
			Name: fmt.Sprintf("Load %d", i), Email: fmt.Sprintf("load%d@example.com", i)}, "", false)
		if err != nil {
			b.Fatal(err)
		}
		techs[i] = w.actor(m.ID)
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	// A hub whose connection pool runs dry must fail here, not hang: when no
	// lifecycle ends for stallAfter, the pool is recorded and all stop.
	stalled := make(chan sql.DBStats, 1)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last, since := int64(-1), time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if n := done.Load(); n != last {
				last, since = n, time.Now()
			} else if time.Since(since) >= stallAfter {
				stalled <- db.Stats()
				cancel()
				return
			}
		}
	}()
	b.ResetTimer()
	for _, tech := range techs {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := lifecycle(ctx, w, tech); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	select {
	case st := <-stalled:
		b.Fatalf("%d clients stalled: no lifecycle ended for %v, with %d of at most %d pool connections in use (%d waits for a connection so far)",
			clients, stallAfter, st.InUse, st.MaxOpenConnections, st.WaitCount)
	default:
	}
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lifecycles/s")
}

// stallAfter is how long concurrentLifecycles waits for any progress.
const stallAfter = 15 * time.Second
