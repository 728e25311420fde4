package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tetherhq/tether/sdk"
)

// Process is one running plugin as the supervisor drives it (sdk.Conn).
type Process interface {
	Describe(ctx context.Context) (sdk.Description, error)
	Configure(ctx context.Context, req sdk.ConfigureRequest) error
	Health(ctx context.Context) error
	Ping(ctx context.Context) error
	HandleEvent(ctx context.Context, e sdk.Event) (sdk.Result, error)
	ServeHTTP(w http.ResponseWriter, r *http.Request)
	Exited() bool
	Kill()
}

// Spec is what it takes to start a plugin: its catalogue entry.
type Spec struct {
	ID         string
	Executable string
	Args       []string
	Checksum   []byte // SHA-256 pinned at install
}

// Launcher starts a plugin process and completes the handshake.
type Launcher func(ctx context.Context, spec Spec, host sdk.Host) (Process, error)

// Plugin states as the catalogue and the admin see them.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateFailed   = "failed"
	StateStopped  = "stopped"
)

// ErrNotRunning is returned for calls to a plugin that has no live process.
var ErrNotRunning = errors.New("plugin is not running")

// Permanent marks a start failure that retrying cannot fix (a binary whose
// checksum differs from the catalogue's): the plugin goes straight to failed.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// Supervisor starts plugins, checks their health, restarts them with
// backoff and gives up after FailureBudget failures within an hour
// (Mattermost's rule), reporting every state change through OnState.
type Supervisor struct {
	Launch Launcher
	// Host returns the host API scoped to a plugin.
	Host func(pluginID string) sdk.Host
	// OnState hears every state change (the catalogue records it, /metrics
	// shows it); lastErr is "" when healthy.
	OnState func(pluginID, state, lastErr string)
	Logger  hclog.Logger
	Now     func() time.Time

	HealthEvery   time.Duration // default 30 s
	ExitPoll      time.Duration // how often a crash is looked for; default 1 s
	CallTimeout   time.Duration // health and describe calls; default 10 s
	FailureBudget int           // default 3 per hour
	// Backoff is the wait before restart n (1-based); default 1 s doubling to 1 min.
	Backoff func(n int) time.Duration

	mu      sync.Mutex
	plugins map[string]*supervised
}

type supervised struct {
	spec   Spec
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.RWMutex
	proc     Process
	state    string
	lastErr  string
	failures []time.Time
}

// Status is a plugin's current state.
type Status struct {
	State     string
	LastError string
	Failures  int // within the last hour
}

func (s *Supervisor) logger() hclog.Logger {
	if s.Logger == nil {
		return hclog.NewNullLogger()
	}
	return s.Logger
}

func (s *Supervisor) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Supervisor) backoff(n int) time.Duration {
	if s.Backoff != nil {
		return s.Backoff(n)
	}
	d := time.Second << min(n-1, 6)
	return min(d, time.Minute)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Start runs the plugin under supervision; starting a plugin that is
// already supervised restarts it with a fresh failure budget (an admin
// re-enabling a failed plugin).
func (s *Supervisor) Start(spec Spec) {
	s.Stop(spec.ID)
	ctx, cancel := context.WithCancel(context.Background())
	p := &supervised{spec: spec, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.plugins == nil {
		s.plugins = map[string]*supervised{}
	}
	s.plugins[spec.ID] = p
	s.mu.Unlock()
	go s.run(ctx, p)
}

// Stop kills the plugin's process and waits until it is gone.
func (s *Supervisor) Stop(id string) {
	s.mu.Lock()
	p := s.plugins[id]
	delete(s.plugins, id)
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.cancel()
	<-p.done
}

// StopAll stops every plugin (hub shutdown).
func (s *Supervisor) StopAll() {
	s.mu.Lock()
	ids := make([]string, 0, len(s.plugins))
	for id := range s.plugins {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { s.Stop(id) })
	}
	wg.Wait()
}

// Process returns the plugin's live process.
func (s *Supervisor) Process(id string) (Process, error) {
	s.mu.Lock()
	p := s.plugins[id]
	s.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("plugin %s: %w", id, ErrNotRunning)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.proc == nil || p.state != StateRunning {
		return nil, fmt.Errorf("plugin %s (%s): %w", id, p.state, ErrNotRunning)
	}
	return p.proc, nil
}

// Ready reports whether the plugin has a live, healthy process.
func (s *Supervisor) Ready(id string) bool {
	_, err := s.Process(id)
	return err == nil
}

// Status returns the plugin's state; ok is false when it is not supervised.
func (s *Supervisor) Status(id string) (Status, bool) {
	s.mu.Lock()
	p := s.plugins[id]
	s.mu.Unlock()
	if p == nil {
		return Status{}, false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return Status{State: p.state, LastError: p.lastErr, Failures: len(p.failures)}, true
}

func (s *Supervisor) setState(p *supervised, proc Process, state, lastErr string) {
	p.mu.Lock()
	p.proc, p.state, p.lastErr = proc, state, lastErr
	p.mu.Unlock()
	if s.OnState != nil {
		s.OnState(p.spec.ID, state, lastErr)
	}
}

func (s *Supervisor) run(ctx context.Context, p *supervised) {
	defer close(p.done)
	log := s.logger().With("plugin", p.spec.ID)
	for {
		err := s.once(ctx, p, log)
		if ctx.Err() != nil {
			s.setState(p, nil, StateStopped, "")
			return
		}
		now := s.now()
		p.mu.Lock()
		kept := p.failures[:0]
		for _, t := range p.failures {
			if now.Sub(t) < time.Hour {
				kept = append(kept, t)
			}
		}
		p.failures = append(kept, now)
		n := len(p.failures)
		p.mu.Unlock()
		var perm *Permanent
		budget := s.FailureBudget
		if budget <= 0 {
			budget = 3
		}
		if errors.As(err, &perm) || n >= budget {
			msg := err.Error()
			if !errors.As(err, &perm) {
				msg = fmt.Sprintf("failed %d times within an hour; last: %v", n, err)
			}
			log.Error("plugin failed; not restarting", "failures", n, "error", err)
			s.setState(p, nil, StateFailed, msg)
			return
		}
		wait := s.backoff(n)
		log.Warn("plugin stopped; restarting", "in", wait, "failures", n, "error", err)
		s.setState(p, nil, StateStarting, err.Error())
		select {
		case <-ctx.Done():
			s.setState(p, nil, StateStopped, "")
			return
		case <-time.After(wait):
		}
	}
}

// once starts the plugin and watches it until it fails or ctx ends.
func (s *Supervisor) once(ctx context.Context, p *supervised, log hclog.Logger) error {
	s.setState(p, nil, StateStarting, "")
	var host sdk.Host
	if s.Host != nil {
		host = s.Host(p.spec.ID)
	}
	proc, err := s.Launch(ctx, p.spec, host)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer proc.Kill()
	callTimeout := orDefault(s.CallTimeout, 10*time.Second)
	dctx, cancel := context.WithTimeout(ctx, callTimeout)
	desc, err := proc.Describe(dctx)
	cancel()
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	if desc.ID != p.spec.ID {
		return &Permanent{Err: fmt.Errorf("the executable says it is plugin %q, but the catalogue installed it as %q", desc.ID, p.spec.ID)}
	}
	log.Info("plugin running", "version", desc.Version)
	s.setState(p, proc, StateRunning, "")
	health := time.NewTicker(orDefault(s.HealthEvery, 30*time.Second))
	defer health.Stop()
	exit := time.NewTicker(orDefault(s.ExitPoll, time.Second))
	defer exit.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exit.C:
			if proc.Exited() {
				return errors.New("the plugin process exited")
			}
		case <-health.C:
			if err := s.check(ctx, proc, callTimeout); err != nil {
				return err
			}
		}
	}
}

// check is the 30-second health check: liveness, then the plugin's own view.
func (s *Supervisor) check(ctx context.Context, proc Process, timeout time.Duration) error {
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := proc.Ping(hctx); err != nil {
		return fmt.Errorf("liveness ping: %w", err)
	}
	if err := proc.Health(hctx); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}
