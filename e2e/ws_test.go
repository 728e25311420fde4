package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// socket is a relay websocket held by a test.
type socket struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRelay(t *testing.T, h *Hub, path, token string) *socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.BaseURL, "http")+path,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", path, err, code)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &socket{t: t, conn: c}
}

func (s *socket) send(v map[string]any) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, s.conn, v); err != nil {
		s.t.Fatal(err)
	}
}

// await reads frames until ok accepts one; refuse fails the test on a frame
// that must never arrive.
func (s *socket) await(what string, ok func(map[string]any) bool, refuse func(map[string]any) bool) map[string]any {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		var f map[string]any
		if err := wsjson.Read(ctx, s.conn, &f); err != nil {
			s.t.Fatalf("waiting for %s: %v", what, err)
		}
		if refuse != nil && refuse(f) {
			s.t.Fatalf("received a frame that must not arrive while waiting for %s: %v", what, f)
		}
		if ok(f) {
			return f
		}
	}
}

func msgWith(kind, text string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		b, _ := f["body"].(string)
		return f["type"] == "message" && f["kind"] == kind && strings.Contains(b, text)
	}
}
