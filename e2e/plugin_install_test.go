package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestThirdPartyPluginInstallAndTamper installs the SDK's example plugin
// with `tether plugin install`, sees it add its note to a closed session
// through the host API, then changes its binary on disk: the next start is
// refused because the checksum no longer matches the catalogue, and the
// admin sees why.
func TestThirdPartyPluginInstallAndTamper(t *testing.T) {
	requireBinary(t)
	src := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(src, "notes"), "github.com/tetherhq/tether/sdk/example/notes")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the example plugin: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile("../sdk/example/notes/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "plugin.json"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			group, _, tech := staff(t, h, master, "noa@example.com")
			cli := func(args ...string) string {
				t.Helper()
				r := Tether(t, nil, append([]string{"plugin", "--server", h.BaseURL, "--token", master.token}, args...)...)
				if r.Code != 0 {
					t.Fatalf("tether plugin %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
				}
				return r.Stdout
			}
			if out := cli("install", src); !strings.Contains(out, "installed notes 1.0.0") {
				t.Fatalf("install said %q", out)
			}
			cli("enable", "notes")
			master.must(200, "PUT", "/api/v1/units/"+id(group)+"/plugins/notes/settings",
				map[string]any{"enabled": true, "values": map[string]any{"prefix": "Team Blue"}})
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				out := cli("list")
				if strings.Contains(out, "running") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the plugin is not running; list said:\n%s", out)
				}
			}

			// The plugin adds its closing note through the host API.
			sid := p2uSession(t, h, tech, "Ivy", "thanks")
			var note string
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				_, note = h.Get("/API/getNote.aspx?authcode=" + tech.token + "&session=" + sid)
				if strings.HasPrefix(note, "OK NOTE:Team Blue: ") {
					break
				}
			}
			if !strings.HasPrefix(note, "OK NOTE:Team Blue: Closed (noa@example.com)") {
				t.Fatalf("getNote = %q, want the plugin's closing note", note)
			}
			if out := cli("deliveries", "notes"); !strings.Contains(out, "session.closed") || !strings.Contains(out, "delivered") {
				t.Errorf("deliveries said:\n%s", out)
			}

			// Disabling stops the process; enabling starts a new one.
			installed := filepath.Join(h.DataDir, "plugins", "notes", "1.0.0", "notes")
			before := childPID(t, h, installed)
			cli("disable", "notes")
			for deadline := time.Now().Add(10 * time.Second); !processGone(before); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("plugin process %d still runs after disable", before)
				}
			}
			cli("enable", "notes")
			if after := childPID(t, h, installed); after == before {
				t.Fatalf("enable did not start a new process")
			}

			// Someone replaces the installed binary: it must not run again.
			// (A running executable cannot be written to: the attacker replaces it.)
			orig, err := os.ReadFile(installed)
			if err != nil {
				t.Fatalf("read the installed binary: %v", err)
			}
			if err := os.WriteFile(installed+".new", append(orig, "tampered"...), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(installed+".new", installed); err != nil {
				t.Fatal(err)
			}
			pid := childPID(t, h, installed)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			var p map[string]any
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				p = master.must(200, "GET", "/api/v1/plugins/notes", nil)
				if p["state"] == "failed" {
					break
				}
			}
			if p["state"] != "failed" || !strings.Contains(p["last_error"].(string), "checksum") {
				t.Fatalf("after tampering: state %v, last error %q; want failed naming the checksum", p["state"], p["last_error"])
			}
			if out := cli("list"); !strings.Contains(out, "failed") {
				t.Errorf("list does not show the failure:\n%s", out)
			}
		})
	}
}
