package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
)

// Cookie names. The staff and customer cookies hold bearer credentials that
// scripts never see; the bridge under /web/api/ turns them into an
// Authorization header for the REST API.
const (
	StaffCookie    = "tether_web"
	CustomerCookie = "tether_customer"
	CSRFCookie     = "tether_csrf"
	LangCookie     = "tether_lang"
	csrfField      = "csrf"
	csrfHeader     = "X-CSRF-Token"
)

// ContentSecurityPolicy is sent with every page: no inline script or style,
// nothing from elsewhere, no framing of the console or admin centre.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the hub hands the web layer.
type Config struct {
	// API is the REST and compatibility API; requests the web does not serve
	// go to it unchanged, and the bridge forwards to it with a bearer header.
	API      http.Handler
	Auth     *auth.Service
	Org      *org.Service
	Settings *settings.Service
	Sessions *sessions.Service
	Log      hclog.Logger
	// CustomerSurveyURL, when set, names where a customer goes after the
	// session ends (the survey issue fills it); "" shows the end page.
	CustomerSurveyURL func(ctx context.Context, sessionID int64) string
	// TechnicianSurveyURL, when set, is opened in the console after a
	// technician closes a session.
	TechnicianSurveyURL func(ctx context.Context, sessionID, technicianID int64) string
}

// Web is the browser-facing handler.
type Web struct {
	cfg   Config
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the handler: the web pages, the embedded assets and the bridge,
// with everything else passed on to cfg.API.
func New(cfg Config) *Web {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	w := &Web{cfg: cfg, pages: parsePages(), mux: http.NewServeMux()}
	if cfg.API != nil {
		w.mux.Handle("/", cfg.API)
	} else {
		w.mux.Handle("/", http.NotFoundHandler())
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	w.mux.Handle("GET /static/", secure(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(rw, r)
	}))
	w.page("GET /{$}", func(rw http.ResponseWriter, r *http.Request) { http.Redirect(rw, r, "/console", http.StatusSeeOther) })
	w.customerRoutes()
	w.staffRoutes()
	w.mux.Handle("/web/api/", secure(w.bridge))
	return w
}

// ServeHTTP serves the web and passes the rest to the API.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// page registers a browser page or form endpoint with the security headers.
func (w *Web) page(pattern string, h http.HandlerFunc) { w.mux.Handle(pattern, secure(h)) }

// secure adds the headers every web response carries. It never wraps the
// ResponseWriter, so websocket upgrades through the bridge keep Hijack.
func secure(h http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		hd := rw.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h(rw, r)
	}
}

func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New("layout.html").ParseFS(templateFS, "templates/layout.html", n))
	}
	return pages
}

// scriptsOf names the scripts each page loads; pages without an entry work
// without JavaScript.
var scriptsOf = map[string][]string{
	"session": {"common.js", "customer.js"},
	"console": {"common.js", "console.js"},
	"admin":   {"common.js", "plugins.js", "routing.js", "admin.js"},
}

// view is what every template receives.
type view struct {
	Title  string
	Page   string // body data-page: which script part runs
	Lang   string
	T      map[string]string
	CSRF   string
	Path   string // for the language selector's return
	Staff  *staff
	Error  string
	Fields map[string]string
	Config string // JSON for the page's script, in a data attribute
	Data   any
	// LangSelector shows the staff language selector (admin and console).
	LangSelector bool
	Scripts      []string
}

func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if v.T == nil {
		v.T = messages(v.Lang)
	}
	if v.CSRF == "" {
		v.CSRF = csrfToken(rw, r)
	}
	if v.Path == "" {
		v.Path = r.URL.RequestURI()
	}
	if v.Page == "" {
		v.Page = name
	}
	if v.Scripts == nil {
		v.Scripts = scriptsOf[name]
	}
	if v.Config == "" {
		v.Config = "{}"
	}
	t, ok := w.pages[name]
	if !ok {
		http.Error(rw, "no page "+name, http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	if err := t.Execute(rw, v); err != nil {
		w.cfg.Log.Error("render page", "page", name, "error", err)
	}
}

// i18nJSON is the page's translations for its script.
func (v view) I18NJSON() string {
	b, _ := json.Marshal(v.T)
	return string(b)
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// csrfToken returns the browser's CSRF token, creating the cookie when it
// has none (double-submit: the form or header must repeat the cookie).
func csrfToken(rw http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(rw, &http.Cookie{Name: CSRFCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure: auth.Secure(r), SameSite: http.SameSiteStrictMode})
	// Later reads in this request see it too.
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tok})
	return tok
}

// checkCSRF accepts a state-changing request only when its form field or
// header repeats the CSRF cookie.
func checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(CSRFCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1
}

func setCookie(rw http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: auth.Secure(r),
		SameSite: http.SameSiteLaxMode, Expires: expires}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(rw, c)
}

// localPath keeps redirects on this site.
func localPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return fallback
	}
	return p
}

// bridge forwards /web/api/v1/... to the REST API as /api/v1/..., turning
// the HttpOnly cookie into a bearer header: customer paths use the customer
// secret, everything else the staff token. State-changing requests need the
// CSRF header; websocket upgrades are GETs whose origin the relay checks.
func (w *Web) bridge(rw http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/web")
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !checkCSRF(r) {
		writeJSONError(rw, http.StatusForbidden, "csrf_failed", "The form expired; reload the page and try again.")
		return
	}
	cookie := StaffCookie
	if strings.HasPrefix(path, "/api/v1/customer/") || path == "/api/v1/relay/customer" {
		cookie = CustomerCookie
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Cookie")
	r2.Header.Del("Authorization")
	if c, err := r.Cookie(cookie); err == nil && c.Value != "" {
		r2.Header.Set("Authorization", "Bearer "+c.Value)
	}
	if w.cfg.API == nil {
		http.NotFound(rw, r)
		return
	}
	w.cfg.API.ServeHTTP(rw, r2)
}

func writeJSONError(rw http.ResponseWriter, status int, code, msg string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

var statusOf = map[fault.Kind]int{
	fault.Invalid: http.StatusUnprocessableEntity, fault.BadRequest: http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized, fault.Forbidden: http.StatusForbidden,
	fault.NotFound: http.StatusNotFound, fault.Conflict: http.StatusConflict, fault.TooMany: http.StatusTooManyRequests,
}

// problem turns an error into a status, a translated sentence and field errors.
func (w *Web) problem(lang string, err error) (int, string, map[string]string) {
	fe, ok := fault.As(err)
	if !ok {
		w.cfg.Log.Error("web request failed", "error", err)
		return http.StatusInternalServerError, messages(lang)["err_internal"], nil
	}
	status := statusOf[fe.Kind]
	if status == 0 {
		status = http.StatusBadRequest
	}
	msg := fe.Message
	if m, ok := messages(lang)["err_"+fe.Code]; ok {
		msg = m
	}
	return status, msg, fe.Fields
}

func (w *Web) writeProblem(rw http.ResponseWriter, lang string, err error) {
	status, msg, fields := w.problem(lang, err)
	code := "internal"
	if fe, ok := fault.As(err); ok {
		code = fe.Code
	}
	writeJSON(rw, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "fields": fields}})
}
