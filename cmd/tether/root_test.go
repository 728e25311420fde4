package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"
)

// invocation runs the command line in-process with a fixed environment and
// captures what serve would have been started with.
type invocation struct {
	code           int
	stdout, stderr string
	served         *serveOptions
	app            *app
}

func invoke(t *testing.T, env map[string]string, args ...string) invocation {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &stdout, &stderr)
	var inv invocation
	a.serve = func(_ context.Context, o serveOptions) error { inv.served = &o; return nil }
	inv.code = a.execute(context.Background(), args)
	inv.stdout, inv.stderr, inv.app = stdout.String(), stderr.String(), a
	t.Cleanup(func() {
		hclog.SetDefault(hclog.NewNullLogger())
		log.SetOutput(os.Stderr)
	})
	return inv
}

func TestServeConfigPrecedence(t *testing.T) {
	fullEnv := map[string]string{
		"TETHER_ADDR":             "0.0.0.0:9000",
		"TETHER_DATA_DIR":         "/var/lib/from-env",
		"TETHER_DATABASE_URL":     "postgres://env@db/tether",
		"TETHER_SHUTDOWN_TIMEOUT": "3s",
		"TETHER_TOKEN_TTL":        "1h",
		"TETHER_LOG_LEVEL":        "debug",
		"TETHER_LOG_FORMAT":       "json",
	}
	type want struct {
		addr, dataDir, dbURL string
		shutdown, ttl        time.Duration
		level, format        string
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want want
	}{
		{
			name: "defaults",
			want: want{"127.0.0.1:8080", "./tether-data", "", 15 * time.Second, 24 * time.Hour, "info", "text"},
		},
		{
			name: "environment over defaults",
			env:  fullEnv,
			want: want{"0.0.0.0:9000", "/var/lib/from-env", "postgres://env@db/tether", 3 * time.Second, time.Hour, "debug", "json"},
		},
		{
			name: "flags over environment",
			env:  fullEnv,
			args: []string{
				"--addr", "127.0.0.1:0", "--data-dir", "/flag", "--database-url", "postgres://flag@db/t",
				"--shutdown-timeout", "1m", "--token-ttl=30m", "--log-level", "warn", "--log-format", "text",
			},
			want: want{"127.0.0.1:0", "/flag", "postgres://flag@db/t", time.Minute, 30 * time.Minute, "warn", "text"},
		},
		{
			name: "flags and environment mixed",
			env:  map[string]string{"TETHER_ADDR": ":1", "TETHER_DATA_DIR": "/env", "TETHER_LOG_LEVEL": "error"},
			args: []string{"--data-dir", "/flag", "--log-format", "json"},
			want: want{":1", "/flag", "", 15 * time.Second, 24 * time.Hour, "error", "json"},
		},
		{
			name: "empty environment values are unset",
			env:  map[string]string{"TETHER_ADDR": "", "TETHER_SHUTDOWN_TIMEOUT": ""},
			want: want{"127.0.0.1:8080", "./tether-data", "", 15 * time.Second, 24 * time.Hour, "info", "text"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := invoke(t, tc.env, append([]string{"serve"}, tc.args...)...)
			if inv.code != 0 || inv.served == nil {
				t.Fatalf("exit %d, served %v; stderr:\n%s", inv.code, inv.served != nil, inv.stderr)
			}
			o := inv.served
			got := want{o.Addr, o.DB.DataDir, o.DB.URL, o.ShutdownTimeout, o.TokenTTL, inv.app.logLevel, inv.app.logFormat}
			if got != tc.want {
				t.Fatalf("resolved\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestGlobalFlagsAfterOrBeforeSubcommand(t *testing.T) {
	for _, args := range [][]string{
		{"--log-level", "trace", "serve"},
		{"serve", "--log-level", "trace"},
	} {
		inv := invoke(t, map[string]string{"TETHER_LOG_LEVEL": "error"}, args...)
		if inv.code != 0 || inv.app.logLevel != "trace" {
			t.Errorf("%v: exit %d, level %q; stderr: %s", args, inv.code, inv.app.logLevel, inv.stderr)
		}
	}
}

func TestAdminCredentialsFromEnvironmentOnly(t *testing.T) {
	inv := invoke(t, map[string]string{"TETHER_ADMIN_EMAIL": "boss@example.com", "TETHER_ADMIN_PASSWORD": "S3cret!pass"}, "serve")
	if inv.code != 0 || inv.served.AdminEmail != "boss@example.com" || inv.served.AdminPassword != "S3cret!pass" {
		t.Fatalf("exit %d, options %+v", inv.code, inv.served)
	}
	for _, flag := range []string{"--admin-password", "--admin-email"} {
		if inv := invoke(t, nil, "serve", flag, "x"); inv.code == 0 {
			t.Errorf("%s accepted as a flag", flag)
		}
	}
}

func TestInvalidValuesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"TETHER_SHUTDOWN_TIMEOUT": "soon"}, nil, "TETHER_SHUTDOWN_TIMEOUT"},
		{map[string]string{"TETHER_LOG_LEVEL": "loud"}, nil, `invalid log level "loud"`},
		{nil, []string{"--log-format", "xml"}, `invalid log format "xml"`},
		{nil, []string{"--shutdown-timeout", "0s"}, "--shutdown-timeout must be positive"},
		{nil, []string{"--token-ttl", "-1h"}, "--token-ttl must be positive"},
		{nil, []string{"--no-such-flag"}, "unknown flag"},
		{map[string]string{"TETHER_TRUSTED_PROXIES": "127.0.0.1,proxy.example"}, nil, `--trusted-proxies: trusted proxy \"proxy.example\": must be an IP address or a network in CIDR form`},
		{nil, []string{"--trusted-proxies", "10.0.0.0/33"}, `trusted proxy \"10.0.0.0/33\"`},
		{map[string]string{"TETHER_NATS_URL": "nats://127.0.0.1:4222"}, []string{"--nats-subject", "two words"}, `--nats-subject: NATS subject \"two words\": must be dot-separated tokens`},
	} {
		inv := invoke(t, tc.env, append([]string{"serve"}, tc.args...)...)
		if inv.code == 0 || inv.served != nil || !strings.Contains(inv.stderr, tc.want) {
			t.Errorf("env %v args %v: exit %d, served %v, stderr %q; want failure mentioning %q",
				tc.env, tc.args, inv.code, inv.served != nil, inv.stderr, tc.want)
		}
	}
}

func TestHelpNamesEveryEnvironmentVariable(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"migrate", "status"}} {
		var stdout bytes.Buffer
		a := newApp(func(string) (string, bool) { return "", false }, &stdout, &stdout)
		root := a.rootCmd()
		sub, _, err := root.Find(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if code := a.execute(context.Background(), append(cmd, "--help")); code != 0 {
			t.Fatalf("%v --help: exit %d", cmd, code)
		}
		help := stdout.String()
		checked := 0
		check := func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			checked++
			if !strings.Contains(help, "--"+f.Name) || !strings.Contains(help, envName(f.Name)) {
				t.Errorf("%v --help lacks --%s or %s", cmd, f.Name, envName(f.Name))
			}
		}
		sub.InheritedFlags().VisitAll(check)
		sub.NonInheritedFlags().VisitAll(check)
		if min := 4; checked < min {
			t.Errorf("%v: only %d flags checked, want at least %d", cmd, checked, min)
		}
		if cmd[0] == "serve" {
			for _, name := range []string{envAdminEmail, envAdminPassword} {
				if !strings.Contains(help, name) {
					t.Errorf("serve --help does not mention %s", name)
				}
			}
		}
	}
}

func TestVersion(t *testing.T) {
	inv := invoke(t, nil, "version")
	if inv.code != 0 || !strings.HasPrefix(inv.stdout, "tether dev\ngo1.") {
		t.Fatalf("version: exit %d, output %q", inv.code, inv.stdout)
	}
}

func TestMigrateCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if inv := invoke(t, nil, "migrate", "status", "--data-dir", dir); inv.code == 0 || !strings.Contains(inv.stderr, "no database at") {
		t.Fatalf("status on a missing database: exit %d, stderr %q", inv.code, inv.stderr)
	}
	env := map[string]string{"TETHER_DATA_DIR": dir, "TETHER_LOG_FORMAT": "json"}
	steps := []struct {
		args       []string
		wantStdout string // a regular expression
	}{
		{[]string{"migrate", "up"}, `applied 20261125000001_foundation`},
		{[]string{"migrate", "status"}, `20261125000001_foundation +applied`},
		{[]string{"migrate", "down"}, `rolled back 20261125000001_foundation`},
		{[]string{"migrate", "status"}, `20261125000001_foundation +pending`},
		{[]string{"migrate", "up", "--log-format", "text"}, `applied 20261125000001_foundation`},
	}
	for _, s := range steps {
		inv := invoke(t, env, s.args...)
		if inv.code != 0 || !regexp.MustCompile(s.wantStdout).MatchString(inv.stdout) {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want stdout containing %q", s.args, inv.code, inv.stdout, inv.stderr, s.wantStdout)
		}
	}
}
