// Package e2e runs the real tether binary, built once per test run, against
// real databases and checks it from the outside: over HTTP, through its
// command line and exit codes, and by reading its JSON log.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/core/store/storetest"
)

// Version is what the binary under test is stamped with (-ldflags -X).
const Version = "e2e-test"

// Timeouts for a process under test; generous, since CI machines are small.
const (
	startTimeout = 60 * time.Second
	readyTimeout = 20 * time.Second
	stopTimeout  = 30 * time.Second
)

// binary is the path of the tether binary built by Build.
var binary string

// Build compiles cmd/tether into dir and makes it the binary that StartHub
// and Tether run. Call it once, from TestMain.
func Build(dir string) error {
	out := filepath.Join(dir, "tether")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+Version, "-o", out, "github.com/tetherhq/tether/cmd/tether")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/tether: %w\n%s", err, b)
	}
	binary = out
	return nil
}

func requireBinary(t testing.TB) {
	t.Helper()
	if binary == "" {
		t.Skip("the tether binary is not built in -short mode")
	}
}

// Options says how StartHub starts the hub.
type Options struct {
	// Postgres runs the hub on a fresh PostgreSQL schema of its own
	// (skipped, or failed under TETHER_TEST_REQUIRE_POSTGRES=1, without a
	// server) instead of SQLite in the data directory.
	Postgres bool
	// AdminEmail and AdminPassword become TETHER_ADMIN_EMAIL and
	// TETHER_ADMIN_PASSWORD; empty means DefaultAdminEmail and
	// DefaultAdminPassword.
	AdminEmail    string
	AdminPassword string
	// NoAdminEnv sets neither variable: the zero-configuration first start,
	// with admin@localhost and a generated password.
	NoAdminEnv bool
	// LogLevel defaults to debug, so that secret checks see the most output.
	LogLevel string
	// Env and Args are added to the environment and the serve command line.
	Env  []string
	Args []string
}

// The master administrator StartHub seeds unless told otherwise.
const (
	DefaultAdminEmail    = "admin@example.test"
	DefaultAdminPassword = "E2e-Admin-Pw-7rQ!x9Lm"
)

// DBPassword is put into every PostgreSQL URL handed to the hub (the test
// server trusts local connections, so it is ignored there): the log must never show it.
const DBPassword = "e2e-db-secret-9f3a"

// Hub is one tether serve process, restartable on the same data.
type Hub struct {
	// BaseURL is http://host:port of the running process; it changes on Restart.
	BaseURL string
	// DataDir and DatabaseURL are kept across restarts; DatabaseURL is
	// empty for SQLite.
	DataDir     string
	DatabaseURL string

	t    testing.TB
	opts Options
	log  *logSink
	cmd  *exec.Cmd
	mark int           // index of the current process's first log line
	done chan struct{} // closed when the current process has exited
	code int           // its exit code, valid once done is closed
}

// StartHub starts tether serve on a free loopback port with a temporary data
// directory and JSON logs, waits until /readyz answers 200, and stops it
// (asserting exit code 0) when the test ends.
func StartHub(t testing.TB, opts Options) *Hub {
	t.Helper()
	requireBinary(t)
	if opts.LogLevel == "" {
		opts.LogLevel = "debug"
	}
	if opts.AdminEmail == "" {
		opts.AdminEmail = DefaultAdminEmail
	}
	if opts.AdminPassword == "" {
		opts.AdminPassword = DefaultAdminPassword
	}
	h := &Hub{t: t, opts: opts, DataDir: t.TempDir(), log: newLogSink()}
	if opts.Postgres {
		u, err := url.Parse(storetest.NewPostgresSchema(t))
		if err != nil {
			t.Fatalf("postgres URL: %v", err)
		}
		u.User = url.UserPassword(u.User.Username(), DBPassword)
		h.DatabaseURL = u.String()
	}
	t.Cleanup(func() {
		if h.running() {
			h.Stop()
		}
		if t.Failed() {
			t.Logf("tether log:\n%s", h.Log())
		}
	})
	h.start()
	return h
}

func (h *Hub) start() {
	h.t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", h.DataDir,
		"--log-format", "json", "--log-level", h.opts.LogLevel}, h.opts.Args...)
	env := cleanEnv()
	if h.DatabaseURL != "" {
		// Through the environment, as production would, and out of argv.
		env = append(env, "TETHER_DATABASE_URL="+h.DatabaseURL)
	}
	if !h.opts.NoAdminEnv {
		env = append(env, "TETHER_ADMIN_EMAIL="+h.opts.AdminEmail, "TETHER_ADMIN_PASSWORD="+h.opts.AdminPassword)
	}
	env = append(env, h.opts.Env...)

	h.mark = h.log.count()
	h.cmd = exec.Command(binary, args...)
	h.cmd.Env = env
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	if err := h.cmd.Start(); err != nil {
		h.t.Fatalf("start tether: %v", err)
	}
	h.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		err := cmd.Wait()
		h.code = exitCode(err)
		close(done)
	}(h.cmd, h.done)

	line, err := h.log.await(h.mark, "listening", startTimeout, h.done)
	if err != nil {
		h.kill()
		h.t.Fatalf("tether did not start: %v\nlog:\n%s", err, h.Log())
	}
	addr, _ := line["addr"].(string)
	if addr == "" {
		h.kill()
		h.t.Fatalf("the listening line has no addr field: %v", line)
	}
	h.BaseURL = "http://" + addr
	h.waitReady()
}

func (h *Hub) waitReady() {
	h.t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		code, body, err := h.get("/readyz")
		if err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			h.kill()
			h.t.Fatalf("/readyz not 200 within %s: %d %s %v\nlog:\n%s", readyTimeout, code, body, err, h.Log())
		}
		select {
		case <-h.done:
			h.t.Fatalf("tether exited (code %d) before it was ready\nlog:\n%s", h.code, h.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM, waits for the process to exit and asserts exit code 0.
func (h *Hub) Stop() {
	h.t.Helper()
	h.Signal(syscall.SIGTERM)
	if code := h.Wait(); code != 0 {
		h.t.Fatalf("tether exited with code %d after SIGTERM, want 0\nlog:\n%s", code, h.Log())
	}
}

// Restart stops the hub and starts it again on the same data directory and
// database; BaseURL changes.
func (h *Hub) Restart() {
	h.t.Helper()
	h.Stop()
	h.start()
}

// Signal sends sig to the process.
func (h *Hub) Signal(sig os.Signal) {
	h.t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		h.t.Fatalf("signal %s: %v", sig, err)
	}
}

// Wait waits for the process to exit and returns its exit code; it kills the
// process and fails the test if that takes longer than 30 s.
func (h *Hub) Wait() int {
	h.t.Helper()
	select {
	case <-h.done:
		return h.code
	case <-time.After(stopTimeout):
		h.kill()
		h.t.Fatalf("tether still running %s after being told to stop\nlog:\n%s", stopTimeout, h.Log())
		return -1
	}
}

func (h *Hub) running() bool {
	select {
	case <-h.done:
		return false
	default:
		return h.cmd != nil
	}
}

func (h *Hub) kill() {
	if h.running() {
		h.cmd.Process.Kill() //nolint:errcheck // already on the way out
		<-h.done
	}
}

// Log is everything the process wrote, across restarts.
func (h *Hub) Log() string { return h.log.String() }

// Lines is every JSON log line, decoded, across restarts.
func (h *Hub) Lines() []map[string]any { return h.log.lines() }

// NonJSON is every output line that is not a JSON object.
func (h *Hub) NonJSON() []string { return h.log.nonJSONLines() }

// Messages returns the log lines whose @message is msg.
func (h *Hub) Messages(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range h.log.lines() {
		if l["@message"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// AwaitLog waits up to timeout for a log line with @message msg written by
// the current process, and returns it.
func (h *Hub) AwaitLog(msg string, timeout time.Duration) map[string]any {
	h.t.Helper()
	line, err := h.log.await(h.mark, msg, timeout, h.done)
	if err != nil {
		h.t.Fatalf("log line %q: %v\nlog:\n%s", msg, err, h.Log())
	}
	return line
}

// Get requests path from the hub and returns the status and body.
func (h *Hub) Get(path string) (int, string) {
	h.t.Helper()
	code, body, err := h.get(path)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	return code, body
}

// Do sends a request with a body to the hub and returns the status and body.
func (h *Hub) Do(method, path, contentType, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.BaseURL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	code, b, err := do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, b
}

func (h *Hub) get(path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, h.BaseURL+path, nil)
	if err != nil {
		return 0, "", err
	}
	return do(req)
}

var client = &http.Client{Timeout: 10 * time.Second}

func do(req *http.Request) (int, string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Result is the outcome of one tether command that runs to completion.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Tether runs the binary with args and extra environment entries
// (KEY=value), and returns its exit code and output.
func Tether(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	requireBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("tether %s did not finish within %s", strings.Join(args, " "), stopTimeout)
	}
	return Result{Code: exitCode(err), Stdout: stdout.String(), Stderr: stderr.String()}
}

// cleanEnv is the test's environment without TETHER_* variables, so that a
// developer's own settings never reach the process under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TETHER_") {
			env = append(env, kv)
		}
	}
	return env
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		return -1
	}
}

// logSink collects a process's output, splits it into lines and decodes
// the JSON ones, waking anyone waiting for a particular message.
type logSink struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	decoded []map[string]any
	nonJSON []string
	changed chan struct{} // closed and replaced whenever a line arrives
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all.Write(p)
	s.partial = append(s.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimSpace(s.partial[:i])
		s.partial = s.partial[i+1:]
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			s.decoded = append(s.decoded, m)
		} else {
			s.nonJSON = append(s.nonJSON, string(line))
		}
		added = true
	}
	if added {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all.String()
}

func (s *logSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.decoded)
}

func (s *logSink) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.decoded...)
}

func (s *logSink) nonJSONLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.nonJSON...)
}

// await returns the first decoded line from index from on whose @message is
// msg, waiting up to timeout; exited cuts the wait short.
func (s *logSink) await(from int, msg string, timeout time.Duration, exited <-chan struct{}) (map[string]any, error) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for _, l := range s.decoded[min(from, len(s.decoded)):] {
			if l["@message"] == msg {
				s.mu.Unlock()
				return l, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-exited:
			// The process may have written the line just before exiting.
			if l, err := s.await(from, msg, 0, nil); err == nil {
				return l, nil
			}
			return nil, fmt.Errorf("process exited before logging %q", msg)
		case <-deadline:
			return nil, fmt.Errorf("no %q line within %s", msg, timeout)
		}
	}
}

// Crash kills the hub with SIGKILL (no shutdown at all) and starts it again
// on the same data directory and database.
func (h *Hub) Crash() {
	h.t.Helper()
	h.Signal(syscall.SIGKILL)
	<-h.done
	h.start()
}
