package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

// engines runs fn once on SQLite and once on PostgreSQL.
func engines(t *testing.T, fn func(t *testing.T, postgres bool)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, false) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, true) })
}

func TestServeAnswersOperationsEndpoints(t *testing.T) {
	engines(t, func(t *testing.T, postgres bool) {
		h := StartHub(t, Options{Postgres: postgres})

		if code, body := h.Get("/healthz"); code != http.StatusOK || body != "ok" {
			t.Errorf("/healthz = %d %q, want 200 \"ok\"", code, body)
		}
		if code, body := h.Get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready"`) {
			t.Errorf("/readyz = %d %s, want 200 ready", code, body)
		}
		h.Get("/no/such/page")
		code, metrics := h.Get("/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics = %d", code)
		}
		for _, want := range []string{
			`tether_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
			`tether_http_requests_total{code="200",method="GET",route="/readyz"}`,
			`tether_build_info{version="` + Version + `"} 1`,
			`tether_go_goroutines`,
			`tether_process_resident_memory_bytes`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if strings.Contains(metrics, `route="/no/such/page"`) {
			t.Error("/metrics labels a route with a raw path")
		}
		for _, line := range strings.Split(metrics, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "tether_") {
				t.Errorf("metric without the tether_ prefix: %s", line)
				break
			}
		}

		wantDB := "sqlite:" + h.DataDir + "/tether.db"
		if postgres {
			wantDB = "postgres://postgres@127.0.0.1"
		}
		if starts := h.Messages("starting tether"); len(starts) != 1 || !strings.HasPrefix(fmt.Sprint(starts[0]["database"]), wantDB) {
			t.Errorf("start line %v, want database %s...", starts, wantDB)
		}
		if bad := h.NonJSON(); len(bad) > 0 {
			t.Errorf("--log-format json wrote non-JSON lines: %q", bad)
		}
	})
}

func TestSQLiteMigrationsAppliedOnFirstStartOnly(t *testing.T) {
	t.Parallel()
	h := StartHub(t, Options{})
	if applied := h.Messages("applied migration"); len(applied) == 0 {
		t.Fatal("first start logged no applied migration")
	}
	before := len(h.Messages("applied migration"))
	h.Restart()
	if after := len(h.Messages("applied migration")); after != before {
		t.Errorf("restart applied %d more migrations", after-before)
	}
	if len(h.Messages("database schema is up to date")) != 1 {
		t.Error("restart did not log that the schema is up to date")
	}
}

func TestSIGTERMStopsPromptlyWithExitZero(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{})
			h.Get("/healthz")
			start := time.Now()
			h.Signal(sig)
			if code := h.Wait(); code != 0 {
				t.Fatalf("exit code %d after %s, want 0", code, sig)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s to stop with no request in flight", took)
			}
			if got := h.Messages("signal received, shutting down"); len(got) != 1 || got[0]["signal"] != sig.String() {
				t.Errorf("signal lines %v, want one naming %q", got, sig.String())
			}
			if len(h.Messages("shutdown complete")) != 1 {
				t.Error(`log lacks "shutdown complete"`)
			}
		})
	}
}

// That in-flight requests are finished before the process exits is tested in
// cmd/tether (TestShutdownWaitsForInFlightRequests) with a handler that blocks;
// the binary has no slow endpoint to hold a request open with yet. A request
// whose headers are still arriving when SIGTERM comes is not in flight for
// net/http: it is dropped.

func TestMigrateStatusShowsAllApplied(t *testing.T) {
	engines(t, func(t *testing.T, postgres bool) {
		h := StartHub(t, Options{Postgres: postgres})
		h.Stop()
		env := []string{"TETHER_DATA_DIR=" + h.DataDir}
		if postgres {
			env = []string{"TETHER_DATABASE_URL=" + h.DatabaseURL}
		}
		r := Tether(t, env, "migrate", "status")
		if r.Code != 0 {
			t.Fatalf("migrate status: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "MIGRATION") {
			t.Fatalf("migrate status printed %q", r.Stdout)
		}
		for _, l := range lines[1:] {
			if !strings.HasSuffix(l, " applied") {
				t.Errorf("not applied: %s", l)
			}
		}
	})
}

// TestNewerDatabaseIsRefused: a database that a newer version of Tether
// migrated (a node upgraded first, or a downgrade) holds a migration this
// binary does not have. serve and migrate refuse it, naming the migration,
// instead of serving a schema their statements may not fit.
func TestNewerDatabaseIsRefused(t *testing.T) {
	engines(t, func(t *testing.T, postgres bool) {
		h := StartHub(t, Options{Postgres: postgres})
		h.Stop()
		ctx := context.Background()
		env := []string{"TETHER_DATA_DIR=" + h.DataDir, "TETHER_ADDR=127.0.0.1:0"}
		var db *bun.DB
		var err error
		if postgres {
			env = append(env, "TETHER_DATABASE_URL="+h.DatabaseURL)
			db, err = store.OpenPostgres(ctx, h.DatabaseURL)
		} else {
			db, err = store.OpenSQLite(ctx, filepath.Join(h.DataDir, "tether.db"))
		}
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.NewRaw(`INSERT INTO tether_migrations (name, group_id, migrated_at) VALUES ('20991231000000', 99, ?)`,
			time.Now()).Exec(ctx)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"serve"}, {"migrate", "up"}} {
			r := Tether(t, env, args...)
			out := r.Stdout + r.Stderr
			if r.Code == 0 || !strings.Contains(out, "the database was migrated by a newer version of Tether") ||
				!strings.Contains(out, "20991231000000") {
				t.Errorf("tether %s: exit %d\n%s", strings.Join(args, " "), r.Code, out)
			}
		}
	})
}

func TestServeHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	t.Parallel()
	r := Tether(t, nil, "serve", "--help")
	if r.Code != 0 {
		t.Fatalf("serve --help: exit %d\n%s", r.Code, r.Stderr)
	}
	want := map[string]string{
		"addr": "TETHER_ADDR", "data-dir": "TETHER_DATA_DIR", "database-url": "TETHER_DATABASE_URL",
		"log-level": "TETHER_LOG_LEVEL", "log-format": "TETHER_LOG_FORMAT",
		"shutdown-timeout": "TETHER_SHUTDOWN_TIMEOUT", "token-ttl": "TETHER_TOKEN_TTL",
	}
	flagLine := regexp.MustCompile(`^\s+(?:-\w, )?--([a-z-]+)\b(.*)$`)
	seen := map[string]bool{}
	for _, line := range strings.Split(r.Stdout, "\n") {
		m := flagLine.FindStringSubmatch(line)
		if m == nil || m[1] == "help" {
			continue
		}
		seen[m[1]] = true
		env := "TETHER_" + strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))
		if !strings.Contains(m[2], env) {
			t.Errorf("--%s is listed without %s: %s", m[1], env, line)
		}
	}
	for flag := range want {
		if !seen[flag] {
			t.Errorf("serve --help does not list --%s", flag)
		}
	}
	for _, env := range []string{"TETHER_ADMIN_EMAIL", "TETHER_ADMIN_PASSWORD"} {
		if !strings.Contains(r.Stdout, env) {
			t.Errorf("serve --help does not document %s", env)
		}
	}
	if strings.Contains(r.Stdout, "--admin-") {
		t.Error("admin credentials offered as flags")
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	r := Tether(t, nil, "version")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "tether "+Version+"\ngo1.") {
		t.Fatalf("version: exit %d, output %q", r.Code, r.Stdout)
	}
}

func TestEnvironmentConfiguresServe(t *testing.T) {
	t.Parallel()
	// The harness passes --log-format json; TETHER_LOG_FORMAT=text must lose to it.
	h := StartHub(t, Options{Env: []string{"TETHER_LOG_FORMAT=text", "TETHER_SHUTDOWN_TIMEOUT=7s"}})
	h.Stop()
	if got := h.Messages("shutting down: no new connections, waiting for in-flight requests"); len(got) != 1 || got[0]["timeout"] != "7s" {
		t.Errorf("shutdown lines %v, want timeout 7s from TETHER_SHUTDOWN_TIMEOUT", got)
	}
}
