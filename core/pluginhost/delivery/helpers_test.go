package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/sdk"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// maxRand makes every backoff its ceiling, so delays are exact.
func maxRand(n int64) int64 { return n - 1 }

// recorder is a DeliverFunc that logs its calls and answers with answer.
type recorder struct {
	mu     sync.Mutex
	calls  []Delivery
	answer func(d Delivery) (sdk.Result, error) // nil: ack
}

func (r *recorder) deliver(_ context.Context, d Delivery) (sdk.Result, error) {
	r.mu.Lock()
	r.calls = append(r.calls, d)
	answer := r.answer
	r.mu.Unlock()
	if answer == nil {
		return sdk.Acked(), nil
	}
	return answer(d)
}

func (r *recorder) all() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.calls...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

func (r *recorder) setAnswer(f func(d Delivery) (sdk.Result, error)) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

// events returns "<plugin>/<event id>#<attempt>" for each call, in order.
func (r *recorder) events() []string {
	var out []string
	for _, d := range r.all() {
		out = append(out, fmt.Sprintf("%s/%d#%d", d.Plugin, d.EventID, d.Attempt))
	}
	return out
}

func newQueue(t testing.TB, db *bun.DB, clk *clocktest.Clock, deliver DeliverFunc, tweak ...func(*Config)) *Queue {
	t.Helper()
	cfg := Config{DB: db, Deliver: deliver, Rand: maxRand}
	if clk != nil {
		cfg.Now = clk.Now
	}
	for _, f := range tweak {
		f(&cfg)
	}
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func event(id, session int64, at time.Time) Event {
	return Event{ID: id, SessionID: session, Type: "session.test", ActorID: 7,
		Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, id)), At: at}
}

// mustEnqueue enqueues ev for plugins in a transaction of its own.
func mustEnqueue(t testing.TB, db *bun.DB, ev Event, plugins ...string) {
	t.Helper()
	err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		return Enqueue(ctx, tx, ev, plugins)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// step claims every delivery due now for each ready plugin, delivers them
// one by one and records the results in one batch, as Run does but
// synchronously. It returns how many it delivered.
func step(t testing.TB, q *Queue) int {
	t.Helper()
	ctx := context.Background()
	plugins, err := q.pendingPlugins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var results []result
	for _, p := range plugins {
		if q.cfg.Ready != nil && !q.cfg.Ready(p) {
			continue
		}
		cs, err := q.claim(ctx, p, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			results = append(results, q.attempt(ctx, c))
		}
	}
	if len(results) > 0 {
		if err := q.record(ctx, results); err != nil {
			t.Fatal(err)
		}
	}
	return len(results)
}

// drain steps until nothing is due now.
func drain(t testing.TB, q *Queue) int {
	t.Helper()
	total := 0
	for i := 0; ; i++ {
		n := step(t, q)
		if n == 0 {
			return total
		}
		total += n
		if i > 10000 {
			t.Fatal("drain does not end")
		}
	}
}

// view returns plugin's delivery of the event.
func view(t testing.TB, q *Queue, plugin string, eventID int64) DeliveryView {
	t.Helper()
	vs, err := q.Deliveries(context.Background(), plugin, Filter{Limit: MaxLogLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.EventID == eventID {
			return v
		}
	}
	t.Fatalf("no delivery of event %d to %s", eventID, plugin)
	return DeliveryView{}
}

func count(t testing.TB, db *bun.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.NewRaw("SELECT count(*) FROM plugin_deliveries WHERE "+where, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds, for tests that run the real loop.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runQueue runs q until the test ends.
func runQueue(t testing.TB, q *Queue) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}
