package sessions_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// BenchmarkLifecycle runs whole private-session lifecycles (create with a
// PIN, join, pick up, close), each step its own transaction with its outbox
// event, on SQLite and PostgreSQL. Reported as lifecycles/s.
func BenchmarkLifecycle(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(b, db)
		w.svc.PINLimit = sessions.PINLimit{Window: 1, Failures: 1 << 30}
		tech := w.actor(w.techA1)
		b.ResetTimer()
		for b.Loop() {
			c, err := w.svc.CreatePrivate(ctx, tech, sessions.PrivateInput{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{}); err != nil {
				b.Fatal(err)
			}
			if _, err := w.svc.PickUp(ctx, tech, c.Session.ID); err != nil {
				b.Fatal(err)
			}
			if _, err := w.svc.Close(ctx, tech, c.Session.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lifecycles/s")
	})
}

// BenchmarkLifecycleParallel is BenchmarkLifecycle with 16 technicians
// working at once, as on a busy hub: PostgreSQL groups their commits.
func BenchmarkLifecycleParallel(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(b, db)
		w.svc.PINLimit = sessions.PINLimit{Window: 1, Failures: 1 << 30}
		techs := make(chan int64, 64)
		for i := range 16 {
			m, err := w.org.CreateMember(ctx, orgMaster(), orgTechnician(w.groupA, i), "", false)
			if err != nil {
				b.Fatal(err)
			}
			techs <- m.ID
		}
		b.SetParallelism(8) // 16 goroutines on 2 cores
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			tech := w.actor(<-techs)
			for pb.Next() {
				c, err := w.svc.CreatePrivate(ctx, tech, sessions.PrivateInput{})
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{}); err != nil {
					b.Error(err)
					return
				}
				if _, err := w.svc.PickUp(ctx, tech, c.Session.ID); err != nil {
					b.Error(err)
					return
				}
				if _, err := w.svc.Close(ctx, tech, c.Session.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lifecycles/s")
	})
}
