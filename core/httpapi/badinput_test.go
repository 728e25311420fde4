package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

// TestBadInputOnEveryWriteEndpoint sends missing, too long, wrongly typed
// and dangling values to each write endpoint. Each must answer the error
// shape with the right status and field, and store nothing.
func TestBadInputOnEveryWriteEndpoint(t *testing.T) {
	long := strings.Repeat("x", 129)
	cases := []struct {
		name   string
		method string
		path   func(f fx) string
		body   func(f fx) any
		status int
		field  string // "" when the error is not about one field
	}{
		{"group: missing name", "POST", p("/api/v1/tech-groups"), b(`{"parent_id": null}`), 422, "name"},
		{"group: name too long", "POST", p("/api/v1/tech-groups"), b(`{"name": "` + long + `"}`), 422, "name"},
		{"group: name wrong type", "POST", p("/api/v1/tech-groups"), b(`{"name": 12}`), 400, "name"},
		{"group: unknown parent", "POST", p("/api/v1/tech-groups"), b(`{"name": "x", "parent_id": 999999}`), 422, "parent_id"},
		{"group: parent is a channel", "POST", p("/api/v1/tech-groups"), func(f fx) any { return `{"name": "x", "parent_id": ` + f.channel + `}` }, 422, "parent_id"},
		{"group: unknown field", "POST", p("/api/v1/tech-groups"), b(`{"name": "x", "colour": "red"}`), 400, "colour"},
		{"group: not JSON", "POST", p("/api/v1/tech-groups"), b(`{"name": `), 400, ""},
		{"admin group: missing name", "POST", p("/api/v1/admin-groups"), b(`{}`), 422, "name"},
		{"patch group: empty name", "PATCH", func(f fx) string { return "/api/v1/groups/" + f.group }, b(`{"name": ""}`), 422, "name"},
		{"patch group: enabled wrong type", "PATCH", func(f fx) string { return "/api/v1/groups/" + f.group }, b(`{"enabled": "yes"}`), 400, "enabled"},
		{"patch group: move under itself", "PATCH", func(f fx) string { return "/api/v1/groups/" + f.group }, func(f fx) any { return `{"parent_id": ` + f.group + `}` }, 422, "parent_id"},
		{"patch group: unknown id", "PATCH", p("/api/v1/groups/999999"), b(`{"name": "x"}`), 404, ""},
		{"delete group: not empty", "DELETE", func(f fx) string { return "/api/v1/groups/" + f.group }, nil, 409, ""},
		{"delete group: unknown id", "DELETE", p("/api/v1/groups/999999"), nil, 404, ""},
		{"member: missing email", "POST", p("/api/v1/members"), func(f fx) any { return `{"role": "technician", "name": "n", "group_id": ` + f.group + `}` }, 422, "email"},
		{"member: bad email", "POST", p("/api/v1/members"), func(f fx) any {
			return `{"role": "technician", "name": "n", "email": "nope", "group_id": ` + f.group + `}`
		}, 422, "email"},
		{"member: bad role", "POST", p("/api/v1/members"), b(`{"role": "king", "name": "n", "email": "k@example.com"}`), 422, "role"},
		{"member: technician without group", "POST", p("/api/v1/members"), b(`{"role": "technician", "name": "n", "email": "k@example.com"}`), 422, "group_id"},
		{"member: unknown group", "POST", p("/api/v1/members"), b(`{"role": "technician", "name": "n", "email": "k@example.com", "group_id": 999999}`), 422, "group_id"},
		{"member: duplicate email", "POST", p("/api/v1/members"), func(f fx) any {
			return `{"role": "technician", "name": "n", "email": "TECH@example.com", "group_id": ` + f.group + `}`
		}, 409, "email"},
		{"member: nickname too long", "POST", p("/api/v1/members"), func(f fx) any {
			return `{"role": "technician", "name": "n", "email": "k@example.com", "nickname": "` + strings.Repeat("n", 65) + `", "group_id": ` + f.group + `}`
		}, 422, "nickname"},
		{"member: weak password", "POST", p("/api/v1/members"), func(f fx) any {
			return `{"role": "technician", "name": "n", "email": "k@example.com", "password": "abc", "group_id": ` + f.group + `}`
		}, 422, "password"},
		{"member: unknown assigned group", "POST", p("/api/v1/members"), b(`{"role": "admin", "name": "n", "email": "k@example.com", "assigned_groups": [999999]}`), 422, "assigned_groups[0]"},
		{"patch member: bad email", "PATCH", func(f fx) string { return "/api/v1/members/" + f.tech }, b(`{"email": "x"}`), 422, "email"},
		{"patch member: move to admin group", "PATCH", func(f fx) string { return "/api/v1/members/" + f.tech }, func(f fx) any { return `{"group_id": ` + f.adminGroup + `}` }, 422, "group_id"},
		{"patch member: unknown id", "PATCH", p("/api/v1/members/999999"), b(`{"name": "x"}`), 404, ""},
		{"member password: missing", "PUT", func(f fx) string { return "/api/v1/members/" + f.tech + "/password" }, b(`{}`), 422, "password"},
		{"member password: too weak", "PUT", func(f fx) string { return "/api/v1/members/" + f.tech + "/password" }, b(`{"password": "aaaaaaaa"}`), 422, "password"},
		{"assigned groups: not an admin", "PUT", func(f fx) string { return "/api/v1/members/" + f.tech + "/assigned-groups" }, b(`{"groups": []}`), 404, ""},
		{"assigned groups: missing list", "PUT", func(f fx) string { return "/api/v1/members/" + f.tech + "/assigned-groups" }, b(`{}`), 422, "groups"},
		{"channel: name too long", "PATCH", func(f fx) string { return "/api/v1/channels/" + f.channel }, b(`{"name": "` + long + `"}`), 422, "name"},
		{"channel: unknown id", "PATCH", p("/api/v1/channels/999999"), b(`{"name": "x"}`), 404, ""},
		{"channel: a group is not a channel", "PATCH", func(f fx) string { return "/api/v1/channels/" + f.group }, b(`{"name": "x"}`), 404, ""},
		{"channel assign: unknown group", "PUT", func(f fx) string { return "/api/v1/channels/" + f.channel + "/groups/999999" }, nil, 422, "group_id"},
		{"channel exclude: not a technician", "PUT", func(f fx) string { return "/api/v1/channels/" + f.channel + "/exclusions/" + f.group }, nil, 404, ""},
		{"settings: unknown section", "PUT", func(f fx) string { return "/api/v1/units/" + f.group + "/settings/nope" }, b(`{"value": {}}`), 404, ""},
		{"settings: missing value", "PUT", func(f fx) string { return "/api/v1/units/" + f.group + "/settings/permissions" }, b(`{"mode": "unit"}`), 422, "value"},
		{"settings: bad mode", "PUT", func(f fx) string { return "/api/v1/units/" + f.group + "/settings/permissions" }, b(`{"mode": "everywhere", "value": {}}`), 422, "mode"},
		{"settings: wrong type", "PUT", func(f fx) string { return "/api/v1/units/" + f.group + "/settings/permissions" }, b(`{"value": {"chat": "yes"}}`), 400, "chat"},
		{"settings: unknown field", "PUT", func(f fx) string { return "/api/v1/units/" + f.group + "/settings/permissions" }, b(`{"value": {"teleport": true}}`), 400, "teleport"},
		{"settings: bad mask", "PUT", func(f fx) string { return "/api/v1/units/" + f.group + "/settings/console_access" }, b(`{"value": {"default": "deny", "exceptions": [{"network": "10.0.0.0", "mask": "255.0.255.0"}]}}`), 422, "exceptions[0].mask"},
		{"settings: bad default", "PUT", func(f fx) string { return "/api/v1/units/" + f.group + "/settings/console_access" }, b(`{"value": {"default": "maybe"}}`), 422, "default"},
		{"settings: section not for channels", "PUT", func(f fx) string { return "/api/v1/units/" + f.channel + "/settings/permissions" }, b(`{"value": {}}`), 422, "section"},
		{"settings: policy wrong strength", "PUT", func(f fx) string { return "/api/v1/units/" + f.root + "/settings/password_policy" }, b(`{"value": {"min_strength": "ok"}}`), 422, "min_strength"},
		{"settings: policy negative age", "PUT", func(f fx) string { return "/api/v1/units/" + f.root + "/settings/password_policy" }, b(`{"value": {"max_age_days": -1}}`), 422, "max_age_days"},
		{"sign in: missing password", "POST", p("/api/v1/auth/token"), b(`{"email": "x@example.com"}`), 422, "password"},
		{"sign in: wrong content type", "POST", p("/api/v1/auth/token"), func(fx) any { return textBody(`email=x`) }, 400, ""},
		{"change password: missing current", "POST", p("/api/v1/auth/password"), b(`{"new_password": "Sample1%"}`), 422, "current_password"},
		{"change password: wrong current", "POST", p("/api/v1/auth/password"), b(`{"current_password": "nope", "new_password": "Sample1%"}`), 422, "current_password"},
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := e.master()
		g := e.create(m, "/api/v1/tech-groups", map[string]any{"name": "G"})
		tech := e.create(m, "/api/v1/members", map[string]any{"role": "technician", "group_id": g, "name": "T", "email": "tech@example.com"})
		ag := e.create(m, "/api/v1/admin-groups", map[string]any{"name": "AG"})
		var chans struct {
			Channels []struct {
				ID int64 `json:"id"`
			} `json:"channels"`
		}
		e.do("GET", "/api/v1/channels", m, nil).json(t, &chans)
		f := fx{group: itoa(g), tech: itoa(tech), channel: itoa(chans.Channels[0].ID), adminGroup: itoa(ag), root: itoa(rootID(t, e, m))}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state()
				var body any
				if tc.body != nil {
					body = tc.body(f)
				}
				var r reply
				if tb, ok := body.(textBody); ok {
					r = e.raw(tc.method, tc.path(f), m, "text/plain", string(tb))
				} else {
					r = e.do(tc.method, tc.path(f), m, body)
				}
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				_, _, fields := r.errorShape(t)
				if tc.field != "" && fields[tc.field] == "" {
					t.Fatalf("no error for field %q in %s", tc.field, r.Body)
				}
				if after := e.state(); after != before {
					t.Fatalf("refused request changed stored state:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	})
}

type textBody string

// fx holds the ids of the fixture's units as path strings.
type fx struct{ group, tech, channel, adminGroup, root string }

func p(path string) func(fx) string {
	return func(fx) string { return path }
}

func b(body string) func(fx) any {
	return func(fx) any { return body }
}

func (e *env) raw(method, path, token, contentType, body string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = io.Copy(buf, resp.Body)
	return reply{Status: resp.StatusCode, Body: []byte(buf.String()), Header: resp.Header}
}
