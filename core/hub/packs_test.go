package hub_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/hub"
	"github.com/tetherhq/tether/core/store/storetest"
)

const goodPack = `{"rules": [
  {"name": "Printers first", "enabled": true, "priority": 5, "when": "session.fields[\"Product\"] == \"Printer\"",
   "then": {"target": {"kind": "channel", "ids": [1]},
            "steps": [{"filter": "\"printers\" in technician.skills", "wait": "30s"}, {}]}}
]}`

// badPack has two invalid rules: an unknown technician field and a range.
const badPack = `{"rules": [
  {"name": "Fine", "enabled": true, "when": "true", "then": {"target": {"kind": "channel", "ids": [1]}}},
  {"name": "Typo", "enabled": true, "when": "true",
   "then": {"target": {"kind": "channel", "ids": [1]}, "steps": [{"filter": "\"printers\" in technician.skils"}]}},
  {"name": "Costly", "enabled": true, "when": "all(1..1000, {true})", "then": {"target": {"kind": "channel", "ids": [1]}}}
]}`

// routingPlugin is a plugin directory shipping rules/printers.json (the
// executable is never run: the plugin stays disabled).
func routingPlugin(t *testing.T, id, version, rules string) map[string]string {
	t.Helper()
	return map[string]string{
		"plugin.json": fmt.Sprintf(`{"id":%q,"name":"Printer routing","version":%q,"executable":"run",`+
			`"capabilities":["routing"],"routing":["rules/printers.json"]}`, id, version),
		"run":                 "#!/bin/sh\nexit 1\n",
		"rules/printers.json": rules,
	}
}

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// apiCall sends one request through the hub's handler.
func apiCall(t *testing.T, h *hub.Hub, token, method, path, contentType string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, req)
	out := map[string]any{}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	return rec.Code, out
}

// TestPluginRulePacks: a plugin's routing files become its rule pack when
// it is installed; a pack with an invalid rule refuses the install (422
// with every error) and leaves the previous version and its pack in place;
// upgrades keep the channels the pack is enabled on; removal removes it.
func TestPluginRulePacks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		h := newHub(t, db)
		_, login := apiCall(t, h, "", "POST", "/api/v1/auth/token", "application/json",
			strings.NewReader(`{"email":"root@example.com","password":"Bench-Admin-Pw-1!"}`))
		token, _ := login["token"].(string)
		if token == "" {
			t.Fatalf("sign-in: %v", login)
		}
		packs := func() []any {
			t.Helper()
			code, out := apiCall(t, h, token, "GET", "/api/v1/routing/packs", "", nil)
			if code != http.StatusOK {
				t.Fatalf("GET packs: %d %v", code, out)
			}
			return out["packs"].([]any)
		}
		version := func(id string) string {
			t.Helper()
			code, out := apiCall(t, h, token, "GET", "/api/v1/plugins/"+id, "", nil)
			if code != http.StatusOK {
				return fmt.Sprint(code)
			}
			return out["version"].(string)
		}

		// A directory plugin with a good pack.
		p, err := h.Plugins.InstallDir(ctx, writeDir(t, routingPlugin(t, "printer-routing", "1.0.0", goodPack)))
		if err != nil {
			t.Fatal(err)
		}
		ps := packs()
		if len(ps) != 1 {
			t.Fatalf("packs after install: %v", ps)
		}
		pack := ps[0].(map[string]any)
		if pack["plugin_id"] != "printer-routing" || pack["version"] != "1.0.0" || len(pack["rules"].([]any)) != 1 ||
			pack["rules"].([]any)[0].(map[string]any)["name"] != "Printers first" {
			t.Fatalf("pack: %v", pack)
		}
		_, chans := apiCall(t, h, token, "GET", "/api/v1/channels", "", nil)
		ch := int64(chans["channels"].([]any)[0].(map[string]any)["id"].(float64))
		packID := int64(pack["id"].(float64))
		if code, out := apiCall(t, h, token, "PUT", fmt.Sprintf("/api/v1/routing/packs/%d/channels/%d", packID, ch), "", nil); code != http.StatusOK {
			t.Fatalf("enable pack: %d %v", code, out)
		}

		// An upgrade whose pack is refused: 422 with every error, nothing changes.
		code, out := apiCall(t, h, token, "POST", "/api/v1/plugins", "application/gzip",
			bytes.NewReader(tarGz(t, routingPlugin(t, "printer-routing", "2.0.0", badPack))))
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad pack upgrade: %d %v, want 422", code, out)
		}
		e := out["error"].(map[string]any)
		fields, _ := e["fields"].(map[string]any)
		if e["code"] != "invalid_rule_pack" || len(fields) != 2 ||
			!strings.Contains(fmt.Sprint(fields["rules/printers.json: rules[1].then.steps[0].filter"]), "skils") ||
			fields["rules/printers.json: rules[2].when"] == nil {
			t.Fatalf("refusal: %v", e)
		}
		if v := version("printer-routing"); v != "1.0.0" {
			t.Fatalf("after a refused upgrade the plugin is %s, want 1.0.0", v)
		}
		if _, err := os.Stat(filepath.Join(p.Dir, "rules", "printers.json")); err != nil {
			t.Fatalf("the installed version's files: %v", err)
		}
		if ps := packs(); len(ps) != 1 || ps[0].(map[string]any)["version"] != "1.0.0" {
			t.Fatalf("packs after a refused upgrade: %v", ps)
		}

		// A good upgrade replaces the pack and keeps its channels.
		if _, err := h.Plugins.InstallDir(ctx, writeDir(t, routingPlugin(t, "printer-routing", "2.1.0", goodPack))); err != nil {
			t.Fatal(err)
		}
		if ps := packs(); len(ps) != 1 || ps[0].(map[string]any)["version"] != "2.1.0" ||
			fmt.Sprint(ps[0].(map[string]any)["channels"]) != fmt.Sprintf("[%d]", ch) {
			t.Fatalf("packs after the upgrade: %v", ps)
		}

		// A new plugin with a bad pack is not installed at all.
		_, err = h.Plugins.InstallDir(ctx, writeDir(t, routingPlugin(t, "bad-routing", "1.0.0", badPack)))
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || len(fe.Fields) != 2 {
			t.Fatalf("bad pack: %v", err)
		}
		if v := version("bad-routing"); v != "404" {
			t.Fatalf("a plugin with a refused pack was installed: %s", v)
		}
		if ps := packs(); len(ps) != 1 {
			t.Fatalf("packs after a refused install: %v", ps)
		}

		// Removing the plugin removes its pack.
		if code, out := apiCall(t, h, token, "DELETE", "/api/v1/plugins/printer-routing", "", nil); code != http.StatusNoContent {
			t.Fatalf("remove: %d %v", code, out)
		}
		if ps := packs(); len(ps) != 0 {
			t.Fatalf("packs after removal: %v", ps)
		}
	})
}
