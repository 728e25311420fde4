package hub

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestRerunCoalesces: requests while a run is in progress make exactly one
// more run, and a request after it ends starts a new one.
func TestRerunCoalesces(t *testing.T) {
	var r rerun
	var runs atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	job := func() {
		runs.Add(1)
		started <- struct{}{}
		<-release
	}
	r.request(job)
	<-started
	for range 5 {
		r.request(job) // while the first run is blocked
	}
	release <- struct{}{} // the first run ends; one more starts
	<-started
	release <- struct{}{}
	waitIdle(t, &r)
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs for a request and five during it, want 2", n)
	}
	r.request(job)
	<-started
	release <- struct{}{}
	waitIdle(t, &r)
	if n := runs.Load(); n != 3 {
		t.Fatalf("%d runs after a request once idle, want 3", n)
	}
}

func waitIdle(t *testing.T, r *rerun) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		idle := !r.running
		r.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the job is still running")
		}
	}
}
