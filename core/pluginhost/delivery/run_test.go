package delivery

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk"
)

// orderChecker is a DeliverFunc that fails the test when a delivery comes
// before an earlier one of its plugin and session was acknowledged, or
// while another of them is under way.
type orderChecker struct {
	t        testing.TB
	expected map[string][]int64 // per "plugin/session": event ids in order
	retry    float64            // share of attempts answered with Retry
	maxSleep time.Duration

	mu          sync.Mutex
	acked       map[string]int // per "plugin/session": how many acked
	busy        map[string]bool
	busyIDs     map[int64]bool // per delivery id
	calls       map[int64]int  // per delivery id
	ackedTotal  int
	inflight    int
	maxInflight int
}

func newOrderChecker(t testing.TB, retry float64, maxSleep time.Duration) *orderChecker {
	return &orderChecker{t: t, expected: map[string][]int64{}, retry: retry, maxSleep: maxSleep,
		acked: map[string]int{}, busy: map[string]bool{}, busyIDs: map[int64]bool{}, calls: map[int64]int{}}
}

func (o *orderChecker) expect(plugin string, session, eventID int64) {
	k := fmt.Sprintf("%s/%d", plugin, session)
	o.expected[k] = append(o.expected[k], eventID)
}

func (o *orderChecker) deliver(_ context.Context, d Delivery) (sdk.Result, error) {
	k := fmt.Sprintf("%s/%d", d.Plugin, d.SessionID)
	o.mu.Lock()
	if o.busy[k] {
		o.t.Errorf("%s: event %d delivered while another of the session is under way", k, d.EventID)
	}
	if o.busyIDs[d.ID] {
		o.t.Errorf("delivery %d run twice at once", d.ID)
	}
	if want := o.expected[k][o.acked[k]]; d.EventID != want {
		o.t.Errorf("%s: event %d delivered before event %d was acknowledged", k, d.EventID, want)
	}
	o.busy[k], o.busyIDs[d.ID] = true, true
	o.calls[d.ID]++
	o.inflight++
	o.maxInflight = max(o.maxInflight, o.inflight)
	o.mu.Unlock()

	if o.maxSleep > 0 {
		time.Sleep(rand.N(o.maxSleep))
	}
	res := sdk.Acked()
	if rand.Float64() < o.retry {
		res = sdk.RetryLater(time.Millisecond, "try again")
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	o.busy[k], o.busyIDs[d.ID] = false, false
	o.inflight--
	if res.Outcome == sdk.Ack {
		o.acked[k]++
		o.ackedTotal++
	}
	return res, nil
}

func (o *orderChecker) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ackedTotal
}

// enqueueSessions enqueues perSession events for each of sessions sessions
// to plugins from several goroutines at once, each session's events in
// order, as core/sessions does. Event ids interleave across sessions.
func enqueueSessions(t testing.TB, db *bun.DB, wake func(), sessions, perSession int, plugins ...string) {
	var wg sync.WaitGroup
	const writers = 4
	for w := range writers {
		wg.Go(func() {
			for i := range perSession {
				for s := w; s < sessions; s += writers {
					id := int64(i*sessions + s + 1)
					mustEnqueue(t, db, event(id, int64(1000+s), time.Now()), plugins...)
					wake()
				}
			}
		})
	}
	wg.Wait()
}

func expectSessions(o *orderChecker, sessions, perSession int, plugins ...string) {
	for _, p := range plugins {
		for i := range perSession {
			for s := range sessions {
				o.expect(p, int64(1000+s), int64(i*sessions+s+1))
			}
		}
	}
}

func TestOrderUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		const sessions, perSession = 40, 15
		plugins := []string{"crm", "survey"}
		o := newOrderChecker(t, 0.2, 2*time.Millisecond)
		expectSessions(o, sessions, perSession, plugins...)
		q := newQueue(t, db, nil, o.deliver, func(c *Config) {
			c.Concurrency, c.PollInterval = 8, 20*time.Millisecond
			c.BackoffBase, c.BackoffCap, c.Rand = time.Millisecond, 5*time.Millisecond, nil
		})
		runQueue(t, q)
		enqueueSessions(t, db, q.Wake, sessions, perSession, plugins...)
		want := sessions * perSession * len(plugins)
		waitFor(t, "every event acknowledged", func() bool { return o.total() == want })
		waitFor(t, "every delivery recorded", func() bool { return count(t, db, "state = 'delivered'") == want })
		if o.maxInflight < 2 {
			t.Errorf("at most %d deliveries ran at once; sessions should proceed concurrently", o.maxInflight)
		}
		t.Logf("%d deliveries, up to %d at once", want, o.maxInflight)
	})
}

// TestTwoWorkers: two queues (two hub nodes) on one database never run the
// same delivery twice, at once or one after the other.
func TestTwoWorkers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		const sessions, perSession = 50, 10
		o := newOrderChecker(t, 0, time.Millisecond)
		expectSessions(o, sessions, perSession, "crm")
		for _, node := range []string{"hub-1", "hub-2"} {
			q := newQueue(t, db, nil, o.deliver, func(c *Config) {
				c.Concurrency, c.PollInterval, c.Node = 8, 10*time.Millisecond, node
			})
			runQueue(t, q)
		}
		enqueueSessions(t, db, func() {}, sessions, perSession, "crm")
		want := sessions * perSession
		waitFor(t, "every event acknowledged", func() bool { return o.total() == want })
		waitFor(t, "every delivery recorded", func() bool { return count(t, db, "state = 'delivered'") == want })
		o.mu.Lock()
		defer o.mu.Unlock()
		if len(o.calls) != want {
			t.Fatalf("%d deliveries called, want %d", len(o.calls), want)
		}
		for id, n := range o.calls {
			if n != 1 {
				t.Errorf("delivery %d called %d times", id, n)
			}
		}
	})
}

// TestWake: with a poll interval of an hour, Wake alone starts a delivery.
func TestWake(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		rec := &recorder{}
		q := newQueue(t, db, nil, rec.deliver, func(c *Config) { c.PollInterval = time.Hour })
		runQueue(t, q)
		time.Sleep(20 * time.Millisecond) // let Run make its first, empty pass
		mustEnqueue(t, db, event(1, 10, time.Now()), "crm")
		q.Wake()
		waitFor(t, "the delivery", func() bool { return len(rec.all()) == 1 })
	})
}

// TestShutdownHandsBack: a delivery cut short by stopping Run is due again
// at once, with the interruption logged.
func TestShutdownHandsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := clocktest.New(t0)
		started := make(chan struct{})
		q := newQueue(t, db, clk, func(ctx context.Context, d Delivery) (sdk.Result, error) {
			close(started)
			<-ctx.Done()
			return sdk.Result{}, ctx.Err()
		})
		mustEnqueue(t, db, event(1, 10, t0), "crm")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); q.Run(ctx) }()
		<-started
		clk.Advance(time.Second)
		cancel()
		<-done
		v := view(t, q, "crm", 1)
		if v.State != Pending || !v.NextAt.Equal(t0.Add(time.Second)) || len(v.History) != 1 ||
			v.History[0].Outcome != OutcomeError || !strings.HasPrefix(v.History[0].Error, "interrupted by hub shutdown") {
			t.Fatalf("after shutdown: %+v", v)
		}
	})
}

func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := clocktest.New(t0)
		reg := prometheus.NewRegistry()
		rec := &recorder{answer: func(d Delivery) (sdk.Result, error) {
			if d.EventID == 2 {
				return sdk.RetryLater(0, "busy"), nil
			}
			return sdk.Acked(), nil
		}}
		q := newQueue(t, db, clk, rec.deliver, func(c *Config) { c.Reg = reg })
		mustEnqueue(t, db, event(1, 10, t0), "crm")
		mustEnqueue(t, db, event(2, 11, t0), "crm")
		mustEnqueue(t, db, event(3, 11, t0), "crm")
		clk.Advance(5 * time.Millisecond)
		drain(t, q)
		got := gather(t, reg)
		for k, want := range map[string]float64{
			`tether_plugin_delivery_attempts_total{outcome="ack",plugin="crm"}`:       1,
			`tether_plugin_delivery_attempts_total{outcome="retry",plugin="crm"}`:     1,
			`tether_plugin_deliveries_finished_total{plugin="crm",state="delivered"}`: 1,
			`tether_plugin_delivery_queue_depth{plugin="crm",state="pending"}`:        1,     // event 2, retrying
			`tether_plugin_delivery_queue_depth{plugin="crm",state="blocked"}`:        1,     // event 3, behind it
			`tether_plugin_delivery_latency_seconds{plugin="crm"}`:                    0.005, // sum of one observation
		} {
			if got[k] != want {
				t.Errorf("%s = %v, want %v", k, got[k], want)
			}
		}
		if len(got) != 6 {
			t.Errorf("series: %v", got)
		}
		if _, err := New(Config{DB: db, Deliver: rec.deliver, Reg: reg}); err == nil {
			t.Fatal("a second queue registered the same metrics")
		}
	})
}

// gather returns every series of reg as "name{labels}" -> value (for a
// histogram, the sum of its observations).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			k := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[k] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[k] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[k] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// TestConcurrencyLimit: at most Concurrency deliveries of one plugin run at
// once, or what ConcurrencyOf says for that plugin.
func TestConcurrencyLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		var mu sync.Mutex
		now, peak := map[string]int{}, map[string]int{}
		done := 0
		deliver := func(_ context.Context, d Delivery) (sdk.Result, error) {
			mu.Lock()
			now[d.Plugin]++
			peak[d.Plugin] = max(peak[d.Plugin], now[d.Plugin])
			mu.Unlock()
			time.Sleep(3 * time.Millisecond)
			mu.Lock()
			now[d.Plugin]--
			done++
			mu.Unlock()
			return sdk.Acked(), nil
		}
		q := newQueue(t, db, nil, deliver, func(c *Config) {
			c.Concurrency, c.PollInterval = 4, 10*time.Millisecond
			c.ConcurrencyOf = func(p string) int {
				if p == "slow" {
					return 1
				}
				return 0
			}
		})
		for i := range int64(40) {
			mustEnqueue(t, db, event(i+1, i+1, time.Now()), "fast", "slow")
		}
		runQueue(t, q)
		waitFor(t, "every delivery", func() bool { mu.Lock(); defer mu.Unlock(); return done == 80 })
		mu.Lock()
		defer mu.Unlock()
		if peak["fast"] != 4 || peak["slow"] != 1 {
			t.Fatalf("peak concurrency %v, want fast 4 and slow 1", peak)
		}
	})
}
