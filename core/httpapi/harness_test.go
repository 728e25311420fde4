package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/hub"
)

const (
	masterEmail = "root@example.com"
	masterPW    = "Sample1%xyz"
)

type env struct {
	t   *testing.T
	db  *bun.DB
	hub *hub.Hub
	srv *httptest.Server
}

func newEnv(t *testing.T, db *bun.DB) *env { return newEnvClock(t, db, nil) }

// smtpURL, when set before newEnvClock, is handed to the hub as TETHER_SMTP_URL.
var smtpURL = map[*testing.T]string{}

func newEnvClock(t *testing.T, db *bun.DB, now func() time.Time) *env {
	t.Helper()
	return newEnvWith(t, db, func(c *hub.Config) { c.Now = now })
}

// newEnvWith is a hub on db whose configuration opt may change.
func newEnvWith(t *testing.T, db *bun.DB, opt func(*hub.Config)) *env {
	t.Helper()
	fast := auth.Hasher{Params: auth.FastParams()}
	cfg := hub.Config{DB: db, Log: hclog.NewNullLogger(), SMTPURL: smtpURL[t],
		Registry: prometheus.NewRegistry(), AdminEmail: masterEmail, AdminPassword: masterPW, Hasher: &fast}
	if opt != nil {
		opt(&cfg)
	}
	h, err := hub.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Shutdown(context.Background()) })
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, hub: h, srv: srv}
}

type reply struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errorShape checks the API's one error shape and returns it.
func (r reply) errorShape(t *testing.T) (code, message string, fields map[string]string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("error body %s is not the API error shape: %v", r.Body, err)
	}
	if body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("error body %s lacks code or message", r.Body)
	}
	return body.Error.Code, body.Error.Message, body.Error.Fields
}

// do sends a request; body may be a string (sent raw) or a value (sent as JSON).
func (e *env) do(method, path, token string, body any) reply {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

func (e *env) signIn(email, pw string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/token", "", map[string]string{"email": email, "password": pw})
	if r.Status != http.StatusCreated {
		e.t.Fatalf("sign in %s: %d %s", email, r.Status, r.Body)
	}
	var ans struct {
		Token string `json:"token"`
	}
	r.json(e.t, &ans)
	return ans.Token
}

func (e *env) master() string { return e.signIn(masterEmail, masterPW) }

// id posts and returns the created object's id.
func (e *env) create(token, path string, body any) int64 {
	e.t.Helper()
	r := e.do("POST", path, token, body)
	if r.Status != http.StatusCreated {
		e.t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
	}
	var obj struct {
		ID int64 `json:"id"`
	}
	r.json(e.t, &obj)
	return obj.ID
}

// state is everything stored that the API can change, for "nothing changed" checks.
func (e *env) state() string {
	e.t.Helper()
	var out strings.Builder
	for _, q := range []string{
		"SELECT id, parent_id, kind, name, description, enabled, updated_at FROM nodes ORDER BY id",
		"SELECT node_id, email, nickname, sso_id, password_hash, must_change_password FROM members ORDER BY node_id",
		"SELECT admin_id, tech_group_id FROM admin_tech_groups ORDER BY admin_id, tech_group_id",
		"SELECT channel_id, tech_group_id FROM channel_groups ORDER BY channel_id, tech_group_id",
		"SELECT channel_id, technician_id FROM channel_exclusions ORDER BY channel_id, technician_id",
		"SELECT unit_id, section, value FROM settings ORDER BY unit_id, section",
	} {
		rows, err := e.db.QueryContext(context.Background(), q)
		if err != nil {
			e.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			b, _ := json.Marshal(vals)
			out.Write(b)
			out.WriteByte('\n')
		}
		rows.Close()
	}
	return out.String()
}
