package httpapi_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

func (e *env) compat(client *http.Client, method, name string, form url.Values) string {
	e.t.Helper()
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = client.Get(e.srv.URL + "/API/" + name + ".aspx?" + form.Encode())
	} else {
		resp, err = client.PostForm(e.srv.URL+"/API/"+name+".aspx", form)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		e.t.Fatalf("%s %s: %d %s", method, name, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

func TestCompatibilityAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := e.master()
		g := e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Helpdesk", "description": "first line"})
		tech := e.create(m, "/api/v1/members", map[string]any{"role": "technician", "group_id": g, "name": "Tom", "email": "tom@example.com"})
		plain := &http.Client{}

		for _, method := range []string{"GET", "POST"} {
			if got := e.compat(plain, method, "requestAuthCode", url.Values{"email": {masterEmail}, "pwd": {"bad"}}); got != "INVALID" {
				t.Fatalf("%s bad password: %q", method, got)
			}
			if got := e.compat(plain, method, "requestAuthCode", url.Values{"email": {masterEmail}}); got != "INVALIDPARAMETERS" {
				t.Fatalf("%s missing pwd: %q", method, got)
			}
			got := e.compat(plain, method, "requestAuthCode", url.Values{"Email": {masterEmail}, "PWD": {masterPW}})
			code, ok := strings.CutPrefix(got, "OK AUTHCODE:")
			if !ok || len(code) < 20 {
				t.Fatalf("%s requestAuthCode: %q", method, got)
			}
			h := e.compat(plain, method, "getHierarchy_v2", url.Values{"authcode": {code}})
			lines := strings.Split(strings.TrimSpace(h), "\r\n")
			if lines[0] != "OK" {
				t.Fatalf("%s getHierarchy_v2: %q", method, h)
			}
			wantGroup := "NodeID:" + itoa(g) + " ParentID:" + itoa(rootID(t, e, m)) + " Name:Helpdesk Email: Description:first line Status:Offline Type:TechnicianGroup"
			wantTech := "NodeID:" + itoa(tech) + " ParentID:" + itoa(g) + " Name:Tom Email:tom@example.com Description: Status:Offline Type:Technician"
			if !contains(lines, wantGroup) || !contains(lines, wantTech) {
				t.Fatalf("%s hierarchy lacks rows:\n%s", method, h)
			}
			// 1 root + 10 channels + master + group + technician.
			if len(lines)-1 != 14 {
				t.Fatalf("%s hierarchy has %d nodes, want 14:\n%s", method, len(lines)-1, h)
			}
			one := e.compat(plain, method, "getHierarchy_v2", url.Values{"authcode": {code}, "isnode": {"true"}, "node": {itoa(tech)}})
			if one != "OK\r\n"+wantTech+"\r\n" {
				t.Fatalf("%s single node: %q", method, one)
			}
		}
		if got := e.compat(plain, "GET", "getHierarchy_v2", url.Values{"authcode": {"forged"}}); got != "INVALID_SECRETAUTHCODE" {
			t.Fatalf("forged authcode: %q", got)
		}
		if got := e.compat(plain, "GET", "getHierarchy_v2", nil); got != "NOTLOGGEDIN" {
			t.Fatalf("no credentials: %q", got)
		}

		jar, _ := cookiejar.New(nil)
		session := &http.Client{Jar: jar}
		if got := e.compat(session, "POST", "login", url.Values{"email": {masterEmail}, "pwd": {masterPW}}); got != "OK" {
			t.Fatalf("login: %q", got)
		}
		if got := e.compat(session, "GET", "getHierarchy_v2", nil); !strings.HasPrefix(got, "OK\r\nNodeID:") {
			t.Fatalf("hierarchy after login: %q", got)
		}
		if got := e.compat(session, "GET", "logout", nil); got != "OK" {
			t.Fatalf("logout: %q", got)
		}
		if got := e.compat(session, "GET", "getHierarchy_v2", nil); got != "NOTLOGGEDIN" {
			t.Fatalf("hierarchy after logout: %q", got)
		}
	})
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}
