package hub_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// Reported as lifecycles/s, SQL statements per lifecycle, and the CPU time
// the whole machine spent per lifecycle (hub and database server).
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
	busy0, busyOK := machineBusy()
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
	if busy1, ok := machineBusy(); ok && busyOK {
		b.ReportMetric(float64((busy1-busy0).Microseconds())/1e3/float64(b.N), "machine-cpu-ms/lifecycle")
	}
}

// machineBusy is the CPU time all the machine's processes have used since
// boot (user, nice, system, irq, softirq and steal in /proc/stat): the
// hub's and the database server's together. ok is false off Linux. Per
// lifecycle, it is what a lifecycle costs the machine, which changes less
// from run to run than the rate does on a shared machine whose cores run
// at varying speed, and is meaningful only when nothing else runs.
func machineBusy() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100, true // USER_HZ is 100 on Linux
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
