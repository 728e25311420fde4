package hub_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/hub"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// BenchmarkHubLifecycle is whole private-session lifecycles (create with a
// PIN, join, pick up, close) through the sessions service as the hub wires
// it: durable timers, system messages in the chat log, presence and
// settings, the outbox. Clients run lifecycles side by side, each as a
// technician of their own; each customer joins from an address of their own.
// Reported as lifecycles/s and SQL statements per lifecycle.
//
//	go test ./core/hub -run '^$' -bench HubLifecycle -benchtime 2000x
func BenchmarkHubLifecycle(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			storetest.EachB(b, func(b *testing.B, db *bun.DB) { hubLifecycles(b, db, clients) })
		})
	}
}

func hubLifecycles(b *testing.B, db *bun.DB, clients int) {
	ctx := context.Background()
	// The plugin host polls as in production (every 250 ms), not at the
	// tests' quick pace, which would add 50 polls a second to the load.
	h := newHubTuned(b, db, hub.PluginTuning{})
	techs := make([]org.Actor, clients)
	for i := range techs {
		_, id := groupWithTechnician(b, h)
		techs[i] = org.Actor{ID: id, Role: org.KindTechnician}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	statements := storetest.CountStatements(db)
	for i, tech := range techs {
		ip := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := hubLifecycle(ctx, h.Sessions, tech, ip); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lifecycles/s")
	b.ReportMetric(float64(statements())/float64(b.N), "statements/lifecycle")
}

func hubLifecycle(ctx context.Context, svc *sessions.Service, tech org.Actor, ip netip.Addr) error {
	c, err := svc.CreatePrivate(ctx, tech, sessions.PrivateInput{})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := svc.JoinByPIN(ctx, c.PIN, ip, sessions.Client{}); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	if _, err := svc.PickUp(ctx, tech, c.Session.ID); err != nil {
		return fmt.Errorf("pick up: %w", err)
	}
	if _, err := svc.Close(ctx, tech, c.Session.ID); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
