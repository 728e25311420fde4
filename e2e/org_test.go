package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// api is a small JSON client for one signed-in member.
type api struct {
	t     testing.TB
	h     *Hub
	token string
}

func (a *api) call(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.h.BaseURL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: bad JSON %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// must calls and fails the test unless the status is want.
func (a *api) must(want int, method, path string, body any) map[string]any {
	a.t.Helper()
	got, out := a.call(method, path, body)
	if got != want {
		a.t.Fatalf("%s %s = %d %v, want %d", method, path, got, out, want)
	}
	return out
}

func signIn(t testing.TB, h *Hub, email, pw string) (*api, map[string]any) {
	t.Helper()
	anon := &api{t: t, h: h}
	out := anon.must(201, "POST", "/api/v1/auth/token", map[string]string{"email": email, "password": pw})
	return &api{t: t, h: h, token: out["token"].(string)}, out
}

func id(v map[string]any) string { return strconv.FormatInt(int64(v["id"].(float64)), 10) }

// TestOrganisationSurvivesRestart shapes an organisation through the real
// binary, checks an administrator's scope, restarts the hub and finds
// everything (and every token) as it was, on SQLite and on PostgreSQL.
func TestOrganisationSurvivesRestart(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)

			emea := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "EMEA", "description": "Europe"})
			paris := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Paris", "parent_id": emea["id"]})
			apac := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "APAC"})
			tina := master.must(201, "POST", "/api/v1/members", map[string]any{"role": "technician", "group_id": paris["id"],
				"name": "Tina Martin", "nickname": "Tina", "email": "tina@example.com", "password": "Sampla12"})
			master.must(201, "POST", "/api/v1/members", map[string]any{"role": "admin", "name": "Ada",
				"email": "ada@example.com", "password": "Sampla12", "assigned_groups": []any{emea["id"]}})
			chans := master.must(200, "GET", "/api/v1/channels", nil)["channels"].([]any)
			if len(chans) != 10 {
				t.Fatalf("%d channels, want 10", len(chans))
			}
			ch1 := chans[0].(map[string]any)
			master.must(200, "PATCH", "/api/v1/channels/"+id(ch1), map[string]any{"name": "Billing", "description": "Invoices"})
			master.must(200, "PUT", "/api/v1/channels/"+id(ch1)+"/groups/"+id(emea), nil)
			master.must(200, "PUT", "/api/v1/units/"+id(emea)+"/settings/permissions", map[string]any{
				"mode": "subtree", "value": map[string]any{"chat": true, "chat_toggle": false, "reboot": false}})

			// Ada must change her admin-set password, then manages EMEA only.
			adaTmp, ans := signIn(t, h, "ada@example.com", "Sampla12")
			if ans["must_change_password"] != true {
				t.Fatalf("admin-set password not flagged for change: %v", ans)
			}
			adaTmp.must(403, "GET", "/api/v1/org/tree", nil)
			adaTmp.must(204, "POST", "/api/v1/auth/password", map[string]string{"current_password": "Sampla12", "new_password": "Ada-2026x!"})
			ada, _ := signIn(t, h, "ada@example.com", "Ada-2026x!")
			ada.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Lyon", "parent_id": emea["id"]})
			ada.must(200, "PUT", "/api/v1/channels/"+id(ch1)+"/exclusions/"+id(tina), nil)
			ada.must(403, "PATCH", "/api/v1/groups/"+id(apac), map[string]any{"name": "mine now"})
			ada.must(403, "POST", "/api/v1/tech-groups", map[string]any{"name": "x", "parent_id": apac["id"]})
			ada.must(403, "GET", "/api/v1/members/"+id(master.must(200, "GET", "/api/v1/me", nil)["member"].(map[string]any)), nil)

			perms := master.must(200, "GET", "/api/v1/units/"+id(tina)+"/permissions", nil)
			if perms["chat_mode"] != "on" || perms["permissions"].(map[string]any)["reboot"] != false {
				t.Fatalf("Tina's permissions do not come from the subtree save: %v", perms)
			}

			treeBefore := master.must(200, "GET", "/api/v1/org/tree", nil)
			channelsBefore := master.must(200, "GET", "/api/v1/channels", nil)
			adaTreeBefore := ada.must(200, "GET", "/api/v1/org/tree", nil)

			h.Restart()

			if got := master.must(200, "GET", "/api/v1/org/tree", nil); !equalJSON(got, treeBefore) {
				t.Fatalf("tree changed across restart:\nbefore %v\nafter  %v", treeBefore, got)
			}
			if got := master.must(200, "GET", "/api/v1/channels", nil); !equalJSON(got, channelsBefore) {
				t.Fatalf("channels changed across restart")
			}
			if got := ada.must(200, "GET", "/api/v1/org/tree", nil); !equalJSON(got, adaTreeBefore) {
				t.Fatalf("Ada's view changed across restart")
			}
			tinaTmp, _ := signIn(t, h, "tina@example.com", "Sampla12")
			tinaTmp.must(403, "POST", "/api/v1/tech-groups", map[string]any{"name": "x", "parent_id": paris["id"]})
			// Restarting did not bootstrap a second organisation.
			if got := h.Messages("created the organisation, its ten channels and the master administrator"); len(got) != 1 {
				t.Fatalf("bootstrap ran %d times", len(got))
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestGeneratedPasswordSignsInOnceAndMustBeChanged is the zero-configuration
// first start: admin@localhost with the password from the log.
func TestGeneratedPasswordSignsInOnceAndMustBeChanged(t *testing.T) {
	t.Parallel()
	h := StartHub(t, Options{NoAdminEnv: true})
	lines := h.Messages("generated master administrator password")
	if len(lines) != 1 {
		t.Fatalf("%d generated-password lines", len(lines))
	}
	pw, _ := lines[0]["password"].(string)
	if len(pw) < 16 {
		t.Fatalf("generated password %q is too short", pw)
	}
	tmp, ans := signIn(t, h, "admin@localhost", pw)
	if ans["must_change_password"] != true {
		t.Fatalf("generated password need not be changed: %v", ans)
	}
	tmp.must(403, "GET", "/api/v1/channels", nil)
	tmp.must(204, "POST", "/api/v1/auth/password", map[string]string{"current_password": pw, "new_password": "Fresh-Start-9"})
	admin, ans := signIn(t, h, "admin@localhost", "Fresh-Start-9")
	if ans["must_change_password"] != false {
		t.Fatalf("still must change: %v", ans)
	}
	admin.must(200, "GET", "/api/v1/channels", nil)
	// The old password no longer works.
	anon := &api{t: t, h: h}
	anon.must(401, "POST", "/api/v1/auth/token", map[string]string{"email": "admin@localhost", "password": pw})
}

// TestCompatibilityAPIThroughTheBinary checks the plain-text compatibility API end to end.
func TestCompatibilityAPIThroughTheBinary(t *testing.T) {
	t.Parallel()
	h := StartHub(t, Options{})
	code, body := h.Do("POST", "/API/requestAuthCode.aspx", "application/x-www-form-urlencoded",
		"email="+DefaultAdminEmail+"&pwd="+DefaultAdminPassword)
	authcode, ok := strings.CutPrefix(body, "OK AUTHCODE:")
	if code != 200 || !ok {
		t.Fatalf("requestAuthCode: %d %q", code, body)
	}
	code, body = h.Get("/API/getHierarchy_v2.aspx?authcode=" + authcode)
	if code != 200 || !strings.HasPrefix(body, "OK\r\n") || strings.Count(body, "Type:Channel") != 10 || !strings.Contains(body, "Type:Root") {
		t.Fatalf("getHierarchy_v2: %d %q", code, body)
	}
	if _, body := h.Get("/API/getHierarchy_v2.aspx"); body != "NOTLOGGEDIN" {
		t.Fatalf("without credentials: %q", body)
	}
}
