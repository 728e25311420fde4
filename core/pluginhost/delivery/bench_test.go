package delivery

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk"
)

// BenchmarkDeliveryThroughput enqueues b.N events over 1,000 sessions, then
// times a running queue delivering them to a no-op plugin until every
// result is recorded. Run it with a fixed count, e.g. -benchtime=20000x.
func BenchmarkDeliveryThroughput(b *testing.B) {
	for _, conc := range []int{DefaultConcurrency, 64} {
		b.Run("concurrency="+itoa(conc), func(b *testing.B) {
			storetest.EachB(b, func(b *testing.B, db *bun.DB) {
				const sessions = 1000
				ctx := context.Background()
				enqueueBulk(b, db, b.N, sessions)
				var delivered atomic.Int64
				q := newQueue(b, db, nil, func(context.Context, Delivery) (sdk.Result, error) {
					delivered.Add(1)
					return sdk.Acked(), nil
				}, func(c *Config) { c.Concurrency = conc })

				b.ResetTimer()
				start := time.Now()
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { defer close(done); q.Run(runCtx) }()
				for delivered.Load() < int64(b.N) {
					time.Sleep(time.Millisecond)
				}
				for count(b, db, "state = 'delivered'") < b.N {
					time.Sleep(time.Millisecond)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				cancel()
				<-done
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
			})
		})
	}
}

// BenchmarkDeliveryLatency measures the time from an enqueueing
// transaction's commit (followed by Wake, as the hub does) to Deliver being
// called, one event at a time, each in a session of its own. "idle" sends
// each event once the previous result is recorded; "back-to-back" sends it
// as soon as the previous Deliver is called, so it races the recording of
// the previous result and the claim pass that follows it.
func BenchmarkDeliveryLatency(b *testing.B) {
	for _, idle := range []bool{true, false} {
		name := "back-to-back"
		if idle {
			name = "idle"
		}
		b.Run(name, func(b *testing.B) {
			storetest.EachB(b, func(b *testing.B, db *bun.DB) { benchLatency(b, db, idle) })
		})
	}
}

func benchLatency(b *testing.B, db *bun.DB, idle bool) {
	called := make(chan time.Time, 1)
	q := newQueue(b, db, nil, func(context.Context, Delivery) (sdk.Result, error) {
		called <- time.Now()
		return sdk.Acked(), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(20 * time.Millisecond) // let Run make its first, empty pass

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		mustEnqueue(b, db, event(int64(i+1), int64(i+1), time.Now()), "bench")
		committed := time.Now()
		q.Wake()
		lat = append(lat, (<-called).Sub(committed))
		for idle && q.busy() {
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// busy reports whether results are waiting to be recorded.
func (q *Queue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.unrecorded > 0
}

// enqueueBulk enqueues n events for plugin "bench", spread round-robin over
// sessions, in transactions of 500.
func enqueueBulk(b *testing.B, db *bun.DB, n, sessions int) {
	b.Helper()
	at := time.Now().Add(-time.Second)
	for lo := 0; lo < n; lo += 500 {
		err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
			for i := lo; i < min(lo+500, n); i++ {
				if err := Enqueue(ctx, tx, event(int64(i+1), int64(i%sessions+1), at), []string{"bench"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
