package cluster_test

import (
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/core/cluster"
	"github.com/tetherhq/tether/core/cluster/clustertest"
	"github.com/tetherhq/tether/core/relay"
)

// recorder is one node's handlers, recording what they were given.
type recorder struct {
	mu      sync.Mutex
	wakes   []relay.Wake
	queues  int
	resyncs int
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 100)} }

func (r *recorder) handlers() cluster.Handlers {
	bump := func(f func()) {
		r.mu.Lock()
		f()
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
	return cluster.Handlers{
		Wake:         func(w relay.Wake) { bump(func() { r.wakes = append(r.wakes, w) }) },
		QueueChanged: func() { bump(func() { r.queues++ }) },
		Resync:       func() { bump(func() { r.resyncs++ }) },
	}
}

// await waits until ok holds for what r recorded.
func (r *recorder) await(t *testing.T, what string, ok func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		done := ok(r)
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("waiting for %s: wakes %v, queue changes %d, resyncs %d", what, r.wakes, r.queues, r.resyncs)
		}
	}
}

func join(t *testing.T, url, subject string, r *recorder) *cluster.Node {
	t.Helper()
	n, err := cluster.Join(cluster.Config{URL: url, Subject: subject, Name: t.Name()}, r.handlers())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestWakesReachTheOtherNodes: a node's wake-ups and queue changes reach
// every other node of its subject, exactly as sent, and neither the node
// itself nor a node of another installation.
func TestWakesReachTheOtherNodes(t *testing.T) {
	url, subject := clustertest.URL(t), clustertest.Subject(t)
	ra, rb, rc, rx := newRecorder(), newRecorder(), newRecorder(), newRecorder()
	a := join(t, url, subject, ra)
	join(t, url, subject, rb)
	join(t, url, subject, rc)
	join(t, url, clustertest.Subject(t), rx)

	sent := []relay.Wake{
		{Kind: relay.WakeNotify, SessionID: 7},
		{Kind: relay.WakeState, SessionID: 7, State: "on_hold"},
		{Kind: relay.WakeNotify, SessionID: 8, Message: &relay.Message{SessionID: 8, Seq: 3, Kind: relay.KindChat,
			SenderKind: relay.SenderCustomer, Audience: relay.AudienceAll, Body: "kept in memory only",
			Payload: json.RawMessage(`{"text_kept":false,"text_ref":"r1"}`), CreatedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}},
		{Kind: relay.WakeEnd, SessionID: 7},
	}
	for _, w := range sent {
		a.Wake(w)
	}
	a.QueueChanged()
	for _, r := range []*recorder{rb, rc} {
		r.await(t, "every wake-up and the queue change", func(r *recorder) bool { return len(r.wakes) == len(sent) && r.queues == 1 })
		r.mu.Lock()
		for i, w := range sent {
			if !reflect.DeepEqual(r.wakes[i], w) {
				t.Errorf("wake-up %d: got %+v, want %+v", i, r.wakes[i], w)
			}
		}
		r.mu.Unlock()
	}
	// A marker sent after everything else, so that what a and x would
	// have received has arrived by the time it does.
	join(t, url, subject, newRecorder()).Wake(relay.Wake{Kind: relay.WakeNotify, SessionID: 99})
	ra.await(t, "the marker", func(r *recorder) bool { return len(r.wakes) > 0 })
	ra.mu.Lock()
	if len(ra.wakes) != 1 || ra.wakes[0].SessionID != 99 || ra.queues != 0 {
		t.Errorf("the sender received its own: wakes %v, queue changes %d", ra.wakes, ra.queues)
	}
	ra.mu.Unlock()
	rx.mu.Lock()
	if len(rx.wakes) != 0 || rx.queues != 0 {
		t.Errorf("another installation's node was woken: %v, %d", rx.wakes, rx.queues)
	}
	rx.mu.Unlock()
}

// TestReconnectWakesEverything: when NATS comes back after an outage, a
// node resyncs (it may have missed wake-ups meanwhile) and wake-ups flow
// again.
func TestReconnectWakesEverything(t *testing.T) {
	srv := clustertest.Start(t)
	subject := clustertest.Subject(t)
	ra, rb := newRecorder(), newRecorder()
	a := join(t, srv.URL, subject, ra)
	b := join(t, srv.URL, subject, rb)
	srv.Stop()
	for !(!a.Connected() && !b.Connected()) {
		time.Sleep(10 * time.Millisecond)
	}
	srv.Restart()
	ra.await(t, "a resync after the reconnect", func(r *recorder) bool { return r.resyncs == 1 })
	rb.await(t, "a resync after the reconnect", func(r *recorder) bool { return r.resyncs == 1 })
	a.Wake(relay.Wake{Kind: relay.WakeNotify, SessionID: 3})
	rb.await(t, "a wake-up after the reconnect", func(r *recorder) bool { return len(r.wakes) == 1 })
}

func TestJoinRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		cfg  cluster.Config
		want string
	}{
		{cluster.Config{URL: "nats://127.0.0.1:4222", Subject: "two words"}, `NATS subject "two words": must be dot-separated tokens`},
		{cluster.Config{URL: "nats://127.0.0.1:4222", Subject: "a..b"}, `NATS subject "a..b"`},
		{cluster.Config{URL: "nats://hub:s3cret@127.0.0.1:1", ConnectTimeout: time.Second}, "connect to NATS at nats://xxxxx@127.0.0.1:1"},
	} {
		_, err := cluster.Join(tc.cfg, cluster.Handlers{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Join(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                       "nats://127.0.0.1:4222",
		"nats://hub:s3cret@n1:4222":                   "nats://xxxxx@n1:4222",
		"nats://t0ken@n1:4222":                        "nats://xxxxx@n1:4222",
		"nats://a:b@n1:4222, nats://c:d@n2:4222":      "nats://xxxxx@n1:4222,nats://xxxxx@n2:4222",
		"nats://n1:4222,nats://n2:4222,nats://n3:422": "nats://n1:4222,nats://n2:4222,nats://n3:422",
	} {
		if got := cluster.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkWatchMemory is what a node pays per session side it watches for
// binary frames (one per idle customer on the node): memory (heap and
// stacks) and goroutines per watch, with 10,000 watched.
//
//	go test ./core/cluster -run '^$' -bench WatchMemory -benchtime 1x
func BenchmarkWatchMemory(b *testing.B) {
	url := clustertest.URL(b)
	const watched = 10_000
	for range b.N {
		n, err := cluster.Join(cluster.Config{URL: url, Subject: clustertest.Subject(b), Name: b.Name()}, cluster.Handlers{})
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		for i := range watched {
			n.Watch(int64(i+1), relay.SenderCustomer)
		}
		n.Sync()
		runtime.GC()
		runtime.ReadMemStats(&after)
		g1 := runtime.NumGoroutine()
		b.ReportMetric(float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse))/watched/1024, "KiB/watch")
		b.ReportMetric(float64(g1-g0)/watched, "goroutines/watch")
		for i := range watched {
			n.Unwatch(int64(i+1), relay.SenderCustomer)
		}
		n.Close()
	}
}

// TestLostBinaryFramesDropTheSide: a session side whose sockets on this
// node take no binary frames (a technician's screen viewer stalled) has at
// most the configured frames waiting; past that NATS drops frames for it,
// and the node drops that side's sockets, so that they resume instead of
// showing the stream with a gap. The other nodes' wake-ups are not
// affected: nothing is resynced, and the lost side is counted.
func TestLostBinaryFramesDropTheSide(t *testing.T) {
	url, subject := clustertest.URL(t), clustertest.Subject(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	type side struct {
		session int64
		kind    relay.SenderKind
	}
	lost := make(chan side, 10)
	woke := make(chan struct{}, 1)
	var resyncs, delivered atomic.Int64
	a, err := cluster.Join(cluster.Config{URL: url, Subject: subject, Name: t.Name(), BinaryPendingFrames: 4, BinaryPendingBytes: 1 << 20},
		cluster.Handlers{
			Wake:         func(relay.Wake) { woke <- struct{}{} },
			QueueChanged: func() {},
			Resync:       func() { resyncs.Add(1) },
			Binary: func(int64, relay.SenderKind, []byte) bool {
				<-release // the receiving socket's queue stays full
				delivered.Add(1)
				return true
			},
			BinaryLost: func(session int64, kind relay.SenderKind) { lost <- side{session, kind} },
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	a.Watch(7, relay.SenderTechnician)
	a.Sync()
	b := join(t, url, subject, newRecorder())
	frame := make([]byte, 1000)
	for range 50 {
		if !b.Send(t.Context(), 7, relay.SenderTechnician, frame, false) {
			t.Fatal("send refused")
		}
	}
	// A wake-up sent after the frames reaches a after them: once it is
	// handled, every frame was taken or dropped.
	b.Wake(relay.Wake{Kind: relay.WakeNotify, SessionID: 7})
	select {
	case got := <-lost:
		if got != (side{7, relay.SenderTechnician}) {
			t.Fatalf("BinaryLost(%d, %s), want session 7's technicians", got.session, got.kind)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("50 frames for a stalled side of at most 4 waiting, and no side dropped")
	}
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("the wake-up sent after the frames did not arrive")
	}
	releaseOnce.Do(func() { close(release) })
	if n := resyncs.Load(); n != 0 {
		t.Errorf("lost binary frames resynced everything %d times", n)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collectors()...)
	if got := counterValue(t, reg, "tether_cluster_binary_lost_total"); got != 1 {
		t.Errorf("tether_cluster_binary_lost_total = %v, want 1", got)
	}
	if got := counterValue(t, reg, "tether_cluster_slow_consumer_total"); got != 0 {
		t.Errorf("tether_cluster_slow_consumer_total = %v, want 0", got)
	}
	// What waited is delivered once the side takes frames again: the 4
	// the bound let wait, and the one being handed over if it had left the
	// queue before the others arrived; the rest were lost.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && delivered.Load() < 4 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := delivered.Load(); n < 4 || n > 5 {
		t.Errorf("%d frames were delivered to the stalled side, want 4 or 5", n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
