package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"": "en", "fr-FR,fr;q=0.9,en;q=0.8": "fr", "de-DE,de;q=0.9": "en", "en;q=0.5,fr;q=0.6": "fr", "fr;q=0": "en",
	} {
		if got := acceptLanguage(h); got != want {
			t.Errorf("acceptLanguage(%q) = %q, want %q", h, got, want)
		}
	}
}

// Every key a template or script asks for exists in both languages.
func TestCatalogueComplete(t *testing.T) {
	for k := range en {
		if _, ok := fr[k]; !ok {
			t.Errorf("French lacks %q", k)
		}
	}
	for k := range fr {
		if _, ok := en[k]; !ok {
			t.Errorf("English lacks %q", k)
		}
	}
	uses := regexp.MustCompile(`\.T\.([a-z_]+)|\bt\('([a-z_]+)'`)
	for _, dir := range []string{"templates", "static"} {
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			b, err := os.ReadFile(dir + "/" + f.Name())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
				key := m[1] + m[2]
				if strings.HasSuffix(key, "_") {
					continue // a prefix completed at run time
				}
				if _, ok := en[key]; !ok {
					t.Errorf("%s/%s uses %q, which has no translation", dir, f.Name(), key)
				}
			}
		}
	}
}

// No page or script carries inline script, inline handlers or style attributes.
func TestNoInlineScriptOrStyle(t *testing.T) {
	bad := regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|\son[a-z]+=|\sstyle=|<style|innerHTML|insertAdjacentHTML|document\.write|eval\(`)
	for _, dir := range []string{"templates", "static"} {
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			b, _ := os.ReadFile(dir + "/" + f.Name())
			if m := bad.FindString(string(b)); m != "" {
				t.Errorf("%s/%s contains %q", dir, f.Name(), m)
			}
		}
	}
}

func TestPagesHaveHeadersAndCSRF(t *testing.T) {
	w := New(Config{})
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/pin", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /pin: %d", rec.Code)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	var csrf *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == CSRFCookie {
			csrf = c
		}
	}
	if csrf == nil || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode {
		t.Fatalf("CSRF cookie = %+v", csrf)
	}
	if !strings.Contains(rec.Body.String(), `name="csrf" value="`+csrf.Value+`"`) {
		t.Error("the PIN form does not carry the CSRF token")
	}

	// A POST without the token is refused before anything is called.
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/pin", strings.NewReader(url.Values{"pin": {"123456"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	w.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("POST /pin without token: %d, want 403", rec.Code)
	}
	// So is a bridged API call.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/web/api/v1/sessions/1/close", nil)
	req.AddCookie(csrf)
	w.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "csrf_failed") {
		t.Errorf("bridge without token: %d %s", rec.Code, rec.Body)
	}
}

// The bridge turns the HttpOnly cookie into a bearer header and strips cookies.
func TestBridgeForwardsBearer(t *testing.T) {
	var got *http.Request
	w := New(Config{API: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { got = r })})
	req := httptest.NewRequest("POST", "/web/api/v1/customer/session/terms", nil)
	req.AddCookie(&http.Cookie{Name: CSRFCookie, Value: strings.Repeat("a", 43)})
	req.AddCookie(&http.Cookie{Name: CustomerCookie, Value: "tcs_secret"})
	req.AddCookie(&http.Cookie{Name: StaffCookie, Value: "tth_token"})
	req.Header.Set(csrfHeader, strings.Repeat("a", 43))
	w.ServeHTTP(httptest.NewRecorder(), req)
	if got == nil || got.URL.Path != "/api/v1/customer/session/terms" || got.Header.Get("Authorization") != "Bearer tcs_secret" || got.Header.Get("Cookie") != "" {
		t.Fatalf("forwarded %+v", got)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/admin": "/admin", "//evil.example": "", "https://evil.example": "", "/\\evil": ""} {
		if got := localPath(in, ""); got != want {
			t.Errorf("localPath(%q) = %q", in, got)
		}
	}
}
