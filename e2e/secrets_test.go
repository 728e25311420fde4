package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// adminPassword is distinctive enough that finding it anywhere in the log
// can only mean it was logged.
const adminPassword = "Tr0ub4dor&3-e2e-Zq7Kx"

func TestLogNeverShowsSecretsFromTheEnvironment(t *testing.T) {
	engines(t, func(t *testing.T, postgres bool) {
		h := StartHub(t, Options{Postgres: postgres, AdminEmail: "boss@example.test", AdminPassword: adminPassword, LogLevel: "trace"})
		// Sign in, once the API exists: a handled or refused sign-in must not log the password either.
		h.Do(http.MethodPost, "/api/v1/auth/token", "application/json",
			`{"email":"boss@example.test","password":"`+adminPassword+`"}`)
		h.Do(http.MethodPost, "/API/requestAuthCode.aspx", "application/x-www-form-urlencoded",
			"email=boss%40example.test&pwd="+adminPassword)
		h.Restart()
		h.Stop()
		log := h.Log()
		if strings.Contains(log, adminPassword) {
			t.Error("the log contains TETHER_ADMIN_PASSWORD")
		}
		if strings.Contains(log, DBPassword) {
			t.Error("the log contains the database password")
		}
		if len(h.Messages("generated master administrator password")) != 0 {
			t.Error("a password was generated although TETHER_ADMIN_PASSWORD was set")
		}
	})
}

// WAITS ON THE LEAD: this test fails until core/hub's New bootstraps the master
// administrator (admin@localhost when TETHER_ADMIN_EMAIL is unset) and logs a
// generated password once with the message below. It is deliberately not
// skipped, so that the gap stays visible.
func TestGeneratedAdminPasswordLoggedOnceOnFirstStart(t *testing.T) {
	t.Parallel()
	h := StartHub(t, Options{NoAdminEnv: true})
	const msg = "generated master administrator password"
	got := h.Messages(msg)
	if len(got) != 1 {
		t.Fatalf("first start without TETHER_ADMIN_PASSWORD: %d %q lines, want 1", len(got), msg)
	}
	if got[0]["email"] != "admin@localhost" {
		t.Errorf("generated-password line names %v, want admin@localhost", got[0]["email"])
	}
	h.Restart()
	if got := h.Messages(msg); len(got) != 1 {
		t.Errorf("after a restart: %d %q lines, want still 1 (printed once)", len(got), msg)
	}
}
