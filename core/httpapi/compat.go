package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
)

// CompatCookie is the session cookie of the compatibility API's login.aspx.
const CompatCookie = "tether_compat"

// authCodeTTL is how long a requestAuthCode secret lives. The original's
// codes live until replaced; a year bounds the damage of a leaked one.
const authCodeTTL = 365 * 24 * time.Hour

// The compatibility API answers in the original's plain-text style: "OK" with
// data, or a bare upper-case code such as NOTLOGGEDIN. Methods accept GET
// query strings and POSTed forms, with parameter names in any case.
func (a *API) compatRoutes() {
	a.compat("requestAuthCode", a.compatRequestAuthCode)
	a.compat("login", a.compatLogin)
	a.compat("logout", a.compatLogout)
	a.compat("getHierarchy_v2", a.compatGetHierarchy)
	a.compatSessionRoutes()
}

func (a *API) compat(method string, h func(w http.ResponseWriter, r *http.Request)) {
	a.mux.HandleFunc("/API/"+method+".aspx", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "ERROR", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			compatText(w, "ERROR")
			return
		}
		h(w, r)
	})
}

func compatText(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, body)
}

// param reads a form value by name, ignoring case.
func param(r *http.Request, names ...string) string {
	for _, name := range names {
		for k, v := range r.Form {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
	}
	return ""
}

// compatSignInCode maps a sign-in refusal to the original's codes.
func compatSignInCode(err error) string {
	fe, ok := fault.As(err)
	if !ok {
		return "ERROR"
	}
	switch fe.Code {
	case "invalid_credentials":
		return "INVALID"
	case "member_disabled":
		return "USER_DELETED_OR_DISABLED"
	case "ip_not_allowed":
		return "INVALID_IP"
	case "too_many_attempts":
		return "TOO_MANY_ATTEMPTS"
	default:
		return "ERROR"
	}
}

func (a *API) compatSignIn(r *http.Request, ttl time.Duration) (auth.SignInResult, error) {
	email, pwd := param(r, "email", "userName"), param(r, "pwd", "password")
	if email == "" || pwd == "" {
		return auth.SignInResult{}, fault.Field("email", "is required")
	}
	res, err := a.Auth.SignIn(r.Context(), auth.SignInRequest{Email: email, Password: pwd, IP: auth.ClientIP(r), Kind: "compat", TTL: ttl})
	a.signIns.WithLabelValues("compat", signInResult(err)).Inc()
	return res, err
}

// compatRequestAuthCode: email, pwd -> "OK AUTHCODE:<secret>".
func (a *API) compatRequestAuthCode(w http.ResponseWriter, r *http.Request) {
	if res, ok := a.compatSignInOrAnswer(w, r, authCodeTTL); ok {
		compatText(w, "OK AUTHCODE:"+res.Plaintext)
	}
}

// compatLogin: email, pwd -> "OK" and a session cookie for later calls.
func (a *API) compatLogin(w http.ResponseWriter, r *http.Request) {
	res, ok := a.compatSignInOrAnswer(w, r, 0)
	if !ok {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CompatCookie, Value: res.Plaintext, Path: "/API/",
		Expires: res.Token.ExpiresAt, HttpOnly: true, Secure: auth.Secure(r), SameSite: http.SameSiteLaxMode})
	compatText(w, "OK")
}

// compatSignInOrAnswer signs in from the email and pwd parameters, or
// writes the original's refusal code and reports false.
func (a *API) compatSignInOrAnswer(w http.ResponseWriter, r *http.Request, ttl time.Duration) (auth.SignInResult, bool) {
	res, err := a.compatSignIn(r, ttl)
	switch {
	case fault.IsKind(err, fault.Invalid):
		compatText(w, "INVALIDPARAMETERS")
	case err != nil:
		compatText(w, compatSignInCode(err))
	default:
		return res, true
	}
	return res, false
}

func (a *API) compatLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CompatCookie); err == nil {
		if tok, err := a.Auth.Tokens.Authenticate(r.Context(), c.Value); err == nil {
			_ = a.Auth.Tokens.Revoke(r.Context(), tok.ID, tok.MemberID)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CompatCookie, Value: "", Path: "/API/", MaxAge: -1, HttpOnly: true})
	compatText(w, "OK")
}

// compatPrincipal authenticates by authcode parameter or login cookie and
// answers the original's code when it cannot.
func (a *API) compatPrincipal(r *http.Request) (*principal, string) {
	secret, viaCode := param(r, "authcode"), true
	if secret == "" {
		viaCode = false
		if c, err := r.Cookie(CompatCookie); err == nil {
			secret = c.Value
		}
	}
	if secret == "" {
		return nil, "NOTLOGGEDIN"
	}
	tok, err := a.Auth.Tokens.Authenticate(r.Context(), secret)
	if err != nil {
		if viaCode {
			return nil, "INVALID_SECRETAUTHCODE"
		}
		return nil, "NOTLOGGEDIN"
	}
	creds, err := a.Org.CredentialsByID(r.Context(), tok.MemberID)
	if err != nil || !creds.Enabled {
		return nil, "USER_DELETED_OR_DISABLED"
	}
	if tok.Restricted {
		return nil, "PASSWORD_CHANGE_REQUIRED"
	}
	return &principal{Token: tok, Actor: org.Actor{ID: creds.MemberID, Role: creds.Role}, api: a}, ""
}

var compatTypes = map[org.Kind]string{
	org.KindOrg: "Root", org.KindMaster: "Masteradministrator", org.KindAdmin: "Administrator",
	org.KindTechnician: "Technician", org.KindAdminGroup: "AdministratorGroup",
	org.KindTechGroup: "TechnicianGroup", org.KindChannel: "Channel",
}

// compatGetHierarchy: [isnode, node, filteroffline, authcode] -> "OK" and one
// line per node: NodeID, ParentID, Name, Email, Description, Status, Type.
func (a *API) compatGetHierarchy(w http.ResponseWriter, r *http.Request) {
	p, code := a.compatPrincipal(r)
	if p == nil {
		compatText(w, code)
		return
	}
	if p.Actor.Role == org.KindTechnician {
		compatText(w, "NOTALLOWED")
		return
	}
	sc, err := p.Scope(r.Context())
	if err != nil {
		a.Log.Error("compat getHierarchy_v2", "error", err)
		compatText(w, "ERROR")
		return
	}
	units, err := a.Org.Hierarchy(r.Context(), sc)
	if err != nil {
		a.Log.Error("compat getHierarchy_v2", "error", err)
		compatText(w, "ERROR")
		return
	}
	onlyNode := int64(0)
	if strings.EqualFold(param(r, "isnode"), "true") {
		n, err := strconv.ParseInt(param(r, "node"), 10, 64)
		if err != nil || !sc.Sees(n) {
			compatText(w, "INVALIDPARAM_NODE")
			return
		}
		onlyNode = n
	}
	filterOffline := strings.EqualFold(param(r, "filteroffline"), "true")
	var b strings.Builder
	b.WriteString("OK\r\n")
	for _, u := range units {
		if onlyNode != 0 && u.ID != onlyNode {
			continue
		}
		status := "Offline" // presence arrives with the sessions issue
		if !u.Enabled {
			status = "Disabled"
		}
		if filterOffline && u.Kind == org.KindTechnician && status != "Online" {
			continue
		}
		parent := int64(0)
		if u.ParentID != nil {
			parent = *u.ParentID
		}
		fmt.Fprintf(&b, "NodeID:%d ParentID:%d Name:%s Email:%s Description:%s Status:%s Type:%s\r\n",
			u.ID, parent, oneLine(u.Name), oneLine(u.Email), oneLine(u.Description), status, compatTypes[u.Kind])
	}
	compatText(w, b.String())
}

// oneLine keeps a value from breaking the line-per-node format.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
