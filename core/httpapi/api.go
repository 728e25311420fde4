package httpapi

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/pluginhost"
	"github.com/tetherhq/tether/core/rules"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
)

// SessionCookie carries a web sign-in token.
const SessionCookie = "tether_session"

// API is the REST and compatibility API over the core services.
type API struct {
	Org      *org.Service
	Auth     *auth.Service
	Settings *settings.Service
	Sessions *sessions.Service
	// Estimate turns response times into a waiting estimate (SESS-11).
	Estimate sessions.Estimator
	// Status sets technicians' chosen status; nil when presence is off.
	Status StatusSetter
	// Notes returns a session's technician notes, oldest first (getNote).
	Notes func(ctx context.Context, sessionID int64) ([]string, error)
	// Feed pushes live queues to technicians; the hub tells it of changes.
	Feed QueueFeed
	// RelayCustomer and RelayTechnician are the relay's websocket endpoints.
	RelayCustomer, RelayTechnician http.Handler
	Log                            hclog.Logger
	Now                            func() time.Time
	// Plugins is the plugin platform; nil leaves its endpoints out.
	Plugins *pluginhost.Host
	// Rules stores routing rules and DryRun evaluates them for the dry
	// run; nil leaves their endpoints out.
	Rules  *rules.Service
	DryRun RoutingDryRun
	// TokenTTL is the lifetime of API bearer tokens; 0 means auth's default.
	TokenTTL time.Duration

	mux     *http.ServeMux
	routes  []Route
	signIns *prometheus.CounterVec
}

type contextT = context.Context

// Route is one registered method and path pattern, for the OpenAPI check.
type Route struct {
	Method string
	Path   string
}

// Handler builds the router. reg may be nil.
func (a *API) Handler(reg prometheus.Registerer) http.Handler {
	a.mux = http.NewServeMux()
	a.signIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tether_sign_ins_total", Help: "Sign-in attempts by channel (api, web, compat) and result.",
	}, []string{"via", "result"})
	if reg != nil {
		reg.MustRegister(a.signIns)
	}
	a.authRoutes()
	a.orgRoutes()
	a.settingsRoutes()
	a.sessionRoutes()
	a.pluginRoutes()
	a.routingRoutes()
	if a.RelayCustomer != nil {
		a.public("GET /api/v1/relay/customer", a.RelayCustomer.ServeHTTP)
		a.public("GET /api/v1/relay/sessions/{id}", a.RelayTechnician.ServeHTTP)
	}
	a.compatRoutes()
	a.public("GET /api/v1/openapi.json", a.openAPI)
	a.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.Log, fault.NotFoundf("route", "No API endpoint %s %s.", r.Method, r.URL.Path))
	})
	return a.mux
}

// Routes lists the /api/v1 routes registered by Handler.
func (a *API) Routes() []Route {
	out := append([]Route(nil), a.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

func (a *API) record(pattern string) {
	method, path, _ := strings.Cut(pattern, " ")
	if strings.HasPrefix(path, "/api/v1/") {
		a.routes = append(a.routes, Route{Method: method, Path: path})
	}
}

// public registers a handler that needs no sign-in.
func (a *API) public(pattern string, h http.HandlerFunc) {
	a.record(pattern)
	a.mux.HandleFunc(pattern, h)
}

// handler is a signed-in endpoint: it returns an error to render, or nil
// after writing its own answer.
type handler func(w http.ResponseWriter, r *http.Request, p *principal) error

// signedIn registers a handler for members whose password is in order.
func (a *API) signedIn(pattern string, h handler) {
	a.record(pattern)
	a.mux.HandleFunc(pattern, a.authenticate(h, false))
}

// restrictedOK registers a handler that members who must change their
// password may still call (change it, read themselves, sign out).
func (a *API) restrictedOK(pattern string, h handler) {
	a.record(pattern)
	a.mux.HandleFunc(pattern, a.authenticate(h, true))
}

// principal is the signed-in member behind a request.
type principal struct {
	Token auth.Token
	Actor org.Actor
	api   *API
	scope *org.Scope
}

// Scope computes (once per request) what the member may manage.
func (p *principal) Scope(ctx context.Context) (*org.Scope, error) {
	if p.scope == nil {
		sc, err := p.api.Org.ScopeOf(ctx, p.Actor)
		if err != nil {
			return nil, err
		}
		p.scope = sc
	}
	return p.scope, nil
}

func (a *API) authenticate(h handler, allowRestricted bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.principalOf(r)
		if err == nil && p.Token.Restricted && !allowRestricted {
			err = fault.Forbiddenf("password_change_required",
				"Your password must be changed before you can continue: POST /api/v1/auth/password.")
		}
		if err == nil {
			err = h(w, r, p)
		}
		if fault.IsKind(err, fault.Forbidden) && p != nil {
			// Refusals of signed-in members are worth an audit line (ORG-7).
			fe, _ := fault.As(err)
			a.Log.Info("request refused", "member", p.Actor.ID, "role", p.Actor.Role, "route", r.Pattern, "code", fe.Code)
		}
		if err != nil {
			writeError(w, r, a.Log, err)
		}
	}
}

func (a *API) principalOf(r *http.Request) (*principal, error) {
	secret := bearer(r)
	if secret == "" {
		if c, err := r.Cookie(SessionCookie); err == nil {
			secret = c.Value
		}
	}
	if secret == "" {
		return nil, fault.New(fault.Unauthorized, "not_signed_in", "Sign in first: send Authorization: Bearer <token>.")
	}
	tok, err := a.Auth.Tokens.Authenticate(r.Context(), secret)
	if err != nil {
		return nil, err
	}
	creds, err := a.Org.CredentialsByID(r.Context(), tok.MemberID)
	if err != nil || !creds.Enabled {
		return nil, fault.New(fault.Unauthorized, "invalid_token", "The token is no longer valid; sign in again.")
	}
	return &principal{Token: tok, Actor: org.Actor{ID: creds.MemberID, Role: creds.Role}, api: a}, nil
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// TechnicianOf authenticates a relay request like any API request and
// returns the member behind it (the relay checks their role in the session).
func (a *API) TechnicianOf(r *http.Request) (int64, error) {
	p, err := a.principalOf(r)
	if err != nil {
		return 0, err
	}
	if p.Token.Restricted {
		return 0, fault.Forbiddenf("password_change_required", "Your password must be changed before you can continue.")
	}
	return p.Actor.ID, nil
}
