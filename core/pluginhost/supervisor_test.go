package pluginhost

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherhq/tether/sdk"
)

// fakeProcess stands in for a plugin process in supervision tests; real
// processes are exercised in host_test.go and e2e.
type fakeProcess struct {
	id      string
	exited  atomic.Bool
	killed  atomic.Bool
	healthy atomic.Bool
}

func (f *fakeProcess) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{ID: f.id, Version: "1.0.0"}, nil
}
func (f *fakeProcess) Configure(context.Context, sdk.ConfigureRequest) error { return nil }
func (f *fakeProcess) Health(context.Context) error {
	if !f.healthy.Load() {
		return errors.New("database unreachable")
	}
	return nil
}
func (f *fakeProcess) Ping(context.Context) error {
	if f.exited.Load() {
		return errors.New("connection refused")
	}
	return nil
}
func (f *fakeProcess) HandleEvent(context.Context, sdk.Event) (sdk.Result, error) {
	return sdk.Acked(), nil
}
func (f *fakeProcess) ServeHTTP(http.ResponseWriter, *http.Request) {}
func (f *fakeProcess) Exited() bool                                 { return f.exited.Load() }
func (f *fakeProcess) Kill()                                        { f.killed.Store(true); f.exited.Store(true) }

type launches struct {
	mu    sync.Mutex
	procs []*fakeProcess
	err   error
	id    string // what Describe answers; "" = the spec's ID
}

func (l *launches) launch(_ context.Context, spec Spec, _ sdk.Host) (Process, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	id := spec.ID
	if l.id != "" {
		id = l.id
	}
	p := &fakeProcess{id: id}
	p.healthy.Store(true)
	l.procs = append(l.procs, p)
	return p, nil
}

func (l *launches) last() *fakeProcess {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.procs) == 0 {
		return nil
	}
	return l.procs[len(l.procs)-1]
}

func (l *launches) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.procs)
}

type states struct {
	mu  sync.Mutex
	log []string
}

func (s *states) on(_, state, lastErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, state+":"+lastErr)
}

func (s *states) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) == 0 {
		return ""
	}
	return s.log[len(s.log)-1]
}

func newSupervisor(l *launches, st *states) *Supervisor {
	return &Supervisor{Launch: l.launch, OnState: st.on, HealthEvery: 5 * time.Millisecond,
		ExitPoll: time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond }}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSupervisorRestartsACrashedPluginThenGivesUp(t *testing.T) {
	l, st := &launches{}, &states{}
	s := newSupervisor(l, st)
	s.Start(Spec{ID: "posturl"})
	defer s.StopAll()
	waitFor(t, "running", func() bool { return s.Ready("posturl") })

	// Crash 1 and 2: restarted.
	for i := 1; i <= 2; i++ {
		l.last().exited.Store(true)
		waitFor(t, "restart", func() bool { return l.count() == i+1 && s.Ready("posturl") })
	}
	// Crash 3 within the hour: failed, not restarted.
	l.last().exited.Store(true)
	waitFor(t, "failed", func() bool { st, _ := s.Status("posturl"); return st.State == StateFailed })
	time.Sleep(20 * time.Millisecond)
	if l.count() != 3 {
		t.Errorf("launches = %d after 3 failures, want 3 (no restart once failed)", l.count())
	}
	if got := st.last(); !strings.HasPrefix(got, "failed:failed 3 times within an hour") {
		t.Errorf("last state = %q", got)
	}
	if s.Ready("posturl") {
		t.Error("a failed plugin is ready")
	}
	// An admin re-enabling it starts it again with a fresh budget.
	s.Start(Spec{ID: "posturl"})
	waitFor(t, "running again", func() bool { return s.Ready("posturl") })
}

func TestSupervisorHealthFailureRestarts(t *testing.T) {
	l, st := &launches{}, &states{}
	s := newSupervisor(l, st)
	s.Start(Spec{ID: "crm"})
	defer s.StopAll()
	waitFor(t, "running", func() bool { return s.Ready("crm") })
	first := l.last()
	first.healthy.Store(false)
	waitFor(t, "restart after failed health", func() bool { return l.count() == 2 && s.Ready("crm") })
	if !first.killed.Load() {
		t.Error("the unhealthy process was not killed")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	found := false
	for _, e := range st.log {
		if strings.Contains(e, "health check: database unreachable") {
			found = true
		}
	}
	if !found {
		t.Errorf("states %q do not say why it restarted", st.log)
	}
}

func TestSupervisorPermanentStartFailure(t *testing.T) {
	tests := []struct {
		name    string
		l       *launches
		wantErr string
	}{
		{"tampered binary", &launches{err: &Permanent{Err: errors.New("checksum of /p/posturl does not match the catalogue")}}, "checksum"},
		{"wrong plugin id", &launches{id: "other"}, `says it is plugin "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &states{}
			s := newSupervisor(tt.l, st)
			s.Start(Spec{ID: "posturl"})
			defer s.StopAll()
			waitFor(t, "failed", func() bool { x, _ := s.Status("posturl"); return x.State == StateFailed })
			x, _ := s.Status("posturl")
			if !strings.Contains(x.LastError, tt.wantErr) || x.Failures != 1 {
				t.Errorf("status = %+v, want one failure mentioning %q", x, tt.wantErr)
			}
		})
	}
}

func TestSupervisorStopKillsAndDoesNotRestart(t *testing.T) {
	l, st := &launches{}, &states{}
	s := newSupervisor(l, st)
	s.Start(Spec{ID: "posturl"})
	waitFor(t, "running", func() bool { return s.Ready("posturl") })
	p := l.last()
	s.Stop("posturl")
	if !p.killed.Load() {
		t.Error("stop left the process running")
	}
	if got := st.last(); got != "stopped:" {
		t.Errorf("last state = %q, want stopped", got)
	}
	time.Sleep(20 * time.Millisecond)
	if l.count() != 1 {
		t.Errorf("launches = %d after stop, want 1", l.count())
	}
	if _, err := s.Process("posturl"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Process after stop: %v", err)
	}
}
