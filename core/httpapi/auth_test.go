package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

func TestTokenLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		if r := e.do("GET", "/api/v1/me", "", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("no token: %d", r.Status)
		} else if code, _, _ := r.errorShape(t); code != "not_signed_in" {
			t.Fatalf("code %q", code)
		}
		tok := e.master()
		r := e.do("GET", "/api/v1/me", tok, nil)
		var me struct {
			Member struct {
				Email string `json:"email"`
				Kind  string `json:"kind"`
			} `json:"member"`
		}
		r.json(t, &me)
		if r.Status != 200 || me.Member.Email != masterEmail || me.Member.Kind != "master" {
			t.Fatalf("me: %d %s", r.Status, r.Body)
		}
		if r := e.do("DELETE", "/api/v1/auth/token", tok, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if r := e.do("GET", "/api/v1/me", tok, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("revoked token still works: %d", r.Status)
		}
		r = e.do("POST", "/api/v1/auth/token", "", map[string]string{"email": masterEmail, "password": "wrong"})
		if code, _, _ := r.errorShape(t); r.Status != http.StatusUnauthorized || code != "invalid_credentials" {
			t.Fatalf("wrong password: %d %s", r.Status, r.Body)
		}
	})
}

func TestAdminSetPasswordMustBeChanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := e.master()
		g := e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Support"})
		e.create(m, "/api/v1/members", map[string]any{"role": "technician", "group_id": g, "name": "Tina",
			"email": "tina@example.com", "password": "Sampla12"})
		r := e.do("POST", "/api/v1/auth/token", "", map[string]string{"email": "tina@example.com", "password": "Sampla12"})
		var ans struct {
			Token              string `json:"token"`
			MustChangePassword bool   `json:"must_change_password"`
		}
		r.json(t, &ans)
		if r.Status != 201 || !ans.MustChangePassword {
			t.Fatalf("sign in: %d %s", r.Status, r.Body)
		}
		r = e.do("GET", "/api/v1/org/tree", ans.Token, nil)
		if code, _, _ := r.errorShape(t); r.Status != 403 || code != "password_change_required" {
			t.Fatalf("restricted token reached the API: %d %s", r.Status, r.Body)
		}
		r = e.do("POST", "/api/v1/auth/password", ans.Token, map[string]string{"current_password": "Sampla12", "new_password": "short"})
		if _, _, f := r.errorShape(t); r.Status != 422 || f["new_password"] == "" {
			t.Fatalf("weak new password: %d %s", r.Status, r.Body)
		}
		r = e.do("POST", "/api/v1/auth/password", ans.Token, map[string]string{"current_password": "Sampla12", "new_password": "Tina2026!x"})
		if r.Status != 204 {
			t.Fatalf("change password: %d %s", r.Status, r.Body)
		}
		if r := e.do("GET", "/api/v1/me", ans.Token, nil); r.Status != 200 {
			t.Fatalf("after change: %d %s", r.Status, r.Body)
		}
		// A technician manages nothing.
		r = e.do("POST", "/api/v1/tech-groups", ans.Token, map[string]any{"name": "x", "parent_id": g})
		if code, _, _ := r.errorShape(t); r.Status != 403 || code != "admin_only" {
			t.Fatalf("technician created a group: %d %s", r.Status, r.Body)
		}
	})
}

func TestIPRulesAtTechnicianSignIn(t *testing.T) {
	// The test client connects from 127.0.0.1.
	cases := []struct {
		name  string
		rules map[string]any
		want  int
	}{
		{"allow by default", map[string]any{"default": "allow"}, 201},
		{"allow by default, deny exception for the client", map[string]any{"default": "allow",
			"exceptions": []map[string]string{{"network": "127.0.0.1", "mask": "255.255.255.255"}}}, 403},
		{"allow by default, deny exception elsewhere", map[string]any{"default": "allow",
			"exceptions": []map[string]string{{"network": "10.0.0.0", "mask": "255.0.0.0"}}}, 201},
		{"deny by default", map[string]any{"default": "deny"}, 403},
		{"deny by default, allow exception for the client's subnet", map[string]any{"default": "deny",
			"exceptions": []map[string]string{{"network": "127.0.0.0", "mask": "255.0.0.0"}}}, 201},
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := e.master()
		for i, tc := range cases {
			g := e.create(m, "/api/v1/tech-groups", map[string]any{"name": tc.name})
			email := "t" + string(rune('a'+i)) + "@example.com"
			id := e.create(m, "/api/v1/members", map[string]any{"role": "technician", "group_id": g, "name": "T", "email": email})
			if r := e.do("PUT", "/api/v1/members/"+itoa(id)+"/password", m, map[string]string{"password": "Sample12"}); r.Status != 204 {
				t.Fatalf("set password: %d %s", r.Status, r.Body)
			}
			if r := e.do("PUT", "/api/v1/units/"+itoa(g)+"/settings/console_access", m, map[string]any{"mode": "unit", "value": tc.rules}); r.Status != 200 {
				t.Fatalf("%s: save rules: %d %s", tc.name, r.Status, r.Body)
			}
			r := e.do("POST", "/api/v1/auth/token", "", map[string]string{"email": email, "password": "Sample12"})
			if r.Status != tc.want {
				t.Fatalf("%s: sign in = %d %s, want %d", tc.name, r.Status, r.Body, tc.want)
			}
			if tc.want == 403 {
				if code, _, _ := r.errorShape(t); code != "ip_not_allowed" {
					t.Fatalf("%s: code %q", tc.name, code)
				}
			}
		}
		// Admins and master admins are not technicians: group rules do not apply.
		if r := e.do("PUT", "/api/v1/units/"+itoa(rootID(t, e, m))+"/settings/console_access", m,
			map[string]any{"value": map[string]any{"default": "deny"}}); r.Status != 200 {
			t.Fatalf("org-wide deny: %d %s", r.Status, r.Body)
		}
		e.master()
	})
}

func TestPasswordPolicyIsMasterOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := e.master()
		root := rootID(t, e, m)
		g := e.create(m, "/api/v1/tech-groups", map[string]any{"name": "G"})
		adminID := e.create(m, "/api/v1/members", map[string]any{"role": "admin", "name": "A", "email": "a@example.com", "assigned_groups": []int64{g}})
		e.do("PUT", "/api/v1/members/"+itoa(adminID)+"/password", m, map[string]string{"password": "Sample12"})
		tmp := e.signIn("a@example.com", "Sample12")
		e.do("POST", "/api/v1/auth/password", tmp, map[string]string{"current_password": "Sample12", "new_password": "Admin12#x"})
		a := e.signIn("a@example.com", "Admin12#x")
		before := e.state()
		r := e.do("PUT", "/api/v1/units/"+itoa(root)+"/settings/password_policy", a, map[string]any{"value": map[string]any{"min_strength": "good"}})
		if r.Status != 403 || e.state() != before {
			t.Fatalf("admin changed the password policy: %d %s", r.Status, r.Body)
		}
		r = e.do("PUT", "/api/v1/units/"+itoa(root)+"/settings/password_policy", m, map[string]any{"value": map[string]any{"min_strength": "excellent"}})
		if r.Status != 200 {
			t.Fatalf("master: %d %s", r.Status, r.Body)
		}
		// The stricter policy now refuses a Complex password.
		r = e.do("PUT", "/api/v1/members/"+itoa(adminID)+"/password", m, map[string]string{"password": "Sample12"})
		if _, _, f := r.errorShape(t); r.Status != 422 || f["password"] == "" {
			t.Fatalf("complex password under excellent policy: %d %s", r.Status, r.Body)
		}
	})
}
