package hub_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

// TestPluginPagesAndHostScope serves a plugin's page under /plugins/<id>/
// through the hub's handler, and checks through it that the host API lets a
// plugin read a session only once it was sent one of its events.
func TestPluginPagesAndHostScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h, ids := ackHub(t, db, 2)
		ctx := context.Background()
		get := func(path string) (int, string) {
			rec := httptest.NewRecorder()
			h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			b, _ := io.ReadAll(rec.Body)
			return rec.Code, string(b)
		}
		sid := strconv.FormatInt(ids[0], 10)
		if code, body := get("/plugins/ack/session?id=" + sid); code != http.StatusForbidden || !strings.Contains(body, "never sent session "+sid) {
			t.Fatalf("before any event: %d %q, want 403 saying the plugin was never sent it", code, body)
		}
		if err := h.Sessions.AppendEvent(ctx, db, ids[0], "bench.tick", 0, map[string]int{}); err != nil {
			t.Fatal(err)
		}
		h.Plugins.Wake()
		for deadline := time.Now().Add(10 * time.Second); delivered(t, db) < 1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the event was not delivered")
			}
		}
		if code, body := get("/plugins/ack/session?id=" + sid); code != http.StatusOK || !strings.Contains(body, `"id":`+sid) {
			t.Fatalf("after the event: %d %q, want the session", code, body)
		}
		if code, body := get("/plugins/ack/session?id=" + strconv.FormatInt(ids[1], 10)); code != http.StatusForbidden {
			t.Fatalf("another session: %d %q, want 403", code, body)
		}
		if code, _ := get("/plugins/nosuch/x"); code != http.StatusNotFound {
			t.Fatalf("unknown plugin: %d, want 404", code)
		}
	})
}
