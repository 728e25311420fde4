package plugintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetherhq/tether/sdk"
)

// HelperEnv is set to "1" in the environment of a test binary that Self
// starts as a plugin; ServeIfHelper looks for it.
const HelperEnv = "TETHER_PLUGINTEST_SERVE"

// LogLevelEnv sets the level of the log Run shows through t.Log ("debug",
// "trace"; default "info").
const LogLevelEnv = "TETHER_PLUGINTEST_LOG"

// Run starts the plugin executable cmd against host, as the hub would (the
// real handshake, mTLS, broker and checksum check), and kills it when the
// test ends. The checksum is the file's own: Run tests the plugin, not the
// catalogue. Its log and the plugin's go to t.Log.
func Run(t testing.TB, cmd *exec.Cmd, host sdk.Host) *sdk.Conn {
	t.Helper()
	sum, err := FileSHA256(cmd.Path)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sdk.DefaultStartTimeout)
	defer cancel()
	conn, err := sdk.Launch(ctx, sdk.LaunchConfig{Cmd: cmd, Checksum: sum, Host: host, Logger: TestLogger(t)})
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	t.Cleanup(conn.Kill)
	return conn
}

// FileSHA256 returns the SHA-256 of a file, as `tether plugin install`
// pins it.
func FileSHA256(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("checksum %s: %w", name, err)
	}
	return h.Sum(nil), nil
}

// TestLogger returns an hclog logger that writes to t.Log until the test
// ends (later lines, from goroutines that outlive it, are dropped instead
// of failing the test run).
func TestLogger(t testing.TB) hclog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(w.stop)
	level := hclog.LevelFromString(os.Getenv(LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Name: "host", Level: level, Output: w})
}

type tbWriter struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}

// ServeIfHelper serves p and exits when this process was started by Self;
// otherwise it returns at once. Call it first thing in TestMain, so that a
// test binary can be its own plugin:
//
//	func TestMain(m *testing.M) {
//		plugintest.ServeIfHelper(&Plugin{})
//		os.Exit(m.Run())
//	}
//
// The helper process sees Self's args as os.Args[1:], which lets one test
// binary serve several plugins.
func ServeIfHelper(p sdk.Plugin) {
	if os.Getenv(HelperEnv) != "1" {
		return
	}
	sdk.Serve(p)
	os.Exit(0)
}

// Self returns a command that runs the current test binary as a plugin
// (see ServeIfHelper), with args, for Run.
func Self(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("plugintest: find the test binary: %v", err)
	}
	cmd := exec.Command(exe, args...)
	// The test's environment is kept (GOCOVERDIR, GORACE ...): the helper
	// is this test binary, not a stranger.
	cmd.Env = append(os.Environ(), HelperEnv+"=1")
	return cmd
}

type build struct {
	once sync.Once
	path string
	err  error
}

var builds sync.Map // import path -> *build

// Build compiles a main package (an import path, e.g.
// "github.com/tetherhq/tether/sdk/example/notes") once per test process
// and returns the executable's path. Binaries live in a shared temporary
// directory under a name derived from the package and the working
// directory, replaced atomically, so parallel test processes neither
// collide nor pile up copies.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	if b.err != nil {
		t.Fatalf("plugintest: %v", b.err)
	}
	return b.path
}

func goBuild(pkg string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	dir := filepath.Join(os.TempDir(), "tether-plugintest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	key := sha256.Sum256([]byte(wd + "\x00" + pkg))
	final := filepath.Join(dir, fmt.Sprintf("%s-%x", path.Base(pkg), key[:8]))
	tmp, err := os.CreateTemp(dir, filepath.Base(final)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	_ = tmp.Close()
	defer os.Remove(tmp.Name())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp.Name(), pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return final, nil
}
