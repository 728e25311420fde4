package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
)

// staff is the signed-in member behind a console or admin request.
type staff struct {
	Token  auth.Token
	Actor  org.Actor
	Member org.Member
}

// IsMaster, IsAdmin and IsTechnician drive what the pages show.
func (s *staff) IsMaster() bool { return s.Actor.Role == org.KindMaster }
func (s *staff) IsAdmin() bool {
	return s.Actor.Role == org.KindMaster || s.Actor.Role == org.KindAdmin
}
func (s *staff) IsTechnician() bool { return s.Actor.Role == org.KindTechnician }

func (w *Web) staffRoutes() {
	w.page("GET /signin", w.signInPage)
	w.page("POST /signin", w.signIn)
	w.page("GET /password", w.passwordPage)
	w.page("POST /password", w.changePassword)
	w.page("POST /signout", w.signOut)
	w.page("POST /lang", w.setLang)
	w.page("GET /console", w.consolePage)
	w.page("GET /admin", w.adminPage)
	w.page("GET /console/survey", w.technicianSurvey)
	w.page("GET /web/admin/units/{id}/sessions", w.adminSessions)
	w.page("POST /web/admin/sessions/{id}/{action}", w.adminSessionAction)
}

// staffOf reads the staff cookie; restricted tokens (password change due)
// are returned too, and callers decide.
func (w *Web) staffOf(r *http.Request) (*staff, error) {
	c, err := r.Cookie(StaffCookie)
	if err != nil || c.Value == "" {
		return nil, fault.New(fault.Unauthorized, "not_signed_in", "Sign in first.")
	}
	tok, err := w.cfg.Auth.Tokens.Authenticate(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	creds, err := w.cfg.Org.CredentialsByID(r.Context(), tok.MemberID)
	if err != nil || !creds.Enabled {
		return nil, fault.New(fault.Unauthorized, "invalid_token", "Sign in again.")
	}
	m, err := w.cfg.Org.MemberByID(r.Context(), tok.MemberID)
	if err != nil {
		return nil, err
	}
	return &staff{Token: tok, Actor: org.Actor{ID: creds.MemberID, Role: creds.Role}, Member: m}, nil
}

func homeOf(s *staff) string {
	if s.IsTechnician() {
		return "/console"
	}
	return "/admin"
}

func (w *Web) signInPage(rw http.ResponseWriter, r *http.Request) {
	lang := staffLang(r)
	if s, err := w.staffOf(r); err == nil && !s.Token.Restricted {
		http.Redirect(rw, r, homeOf(s), http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "signin", view{Lang: lang, Title: messages(lang)["signin_title"], LangSelector: true,
		Data: map[string]string{"Email": "", "Next": localPath(r.URL.Query().Get("next"), "")}})
}

func (w *Web) signIn(rw http.ResponseWriter, r *http.Request) {
	lang := staffLang(r)
	email, next := r.PostFormValue("email"), localPath(r.PostFormValue("next"), "")
	again := func(status int, msg string) {
		w.render(rw, r, status, "signin", view{Lang: lang, Title: messages(lang)["signin_title"], LangSelector: true,
			Error: msg, Data: map[string]string{"Email": email, "Next": next}})
	}
	if !checkCSRF(r) {
		again(http.StatusForbidden, messages(lang)["err_csrf_failed"])
		return
	}
	res, err := w.cfg.Auth.SignIn(r.Context(), auth.SignInRequest{Email: email, Password: r.PostFormValue("password"),
		IP: auth.ClientIP(r), Kind: auth.KindWeb})
	if err != nil {
		status, msg, _ := w.problem(lang, err)
		if fe, ok := fault.As(err); ok && fe.Kind == fault.TooMany && fe.RetryAfterSeconds > 0 {
			rw.Header().Set("Retry-After", strconv.Itoa(fe.RetryAfterSeconds))
		}
		again(status, msg)
		return
	}
	setCookie(rw, r, StaffCookie, res.Plaintext, res.Token.ExpiresAt)
	if res.MustChangePassword {
		http.Redirect(rw, r, "/password", http.StatusSeeOther)
		return
	}
	creds, err := w.cfg.Org.CredentialsByID(r.Context(), res.Token.MemberID)
	if err != nil {
		again(http.StatusInternalServerError, messages(lang)["err_internal"])
		return
	}
	dest := "/admin"
	if creds.Role == org.KindTechnician {
		dest = "/console"
	}
	if next != "" {
		dest = next
	}
	http.Redirect(rw, r, dest, http.StatusSeeOther)
}

func (w *Web) passwordPage(rw http.ResponseWriter, r *http.Request) {
	lang := staffLang(r)
	s, err := w.staffOf(r)
	if err != nil {
		http.Redirect(rw, r, "/signin", http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "password", view{Lang: lang, Title: messages(lang)["password_title"], Staff: s, LangSelector: true})
}

func (w *Web) changePassword(rw http.ResponseWriter, r *http.Request) {
	lang := staffLang(r)
	s, err := w.staffOf(r)
	if err != nil {
		http.Redirect(rw, r, "/signin", http.StatusSeeOther)
		return
	}
	again := func(status int, msg string, fields map[string]string) {
		w.render(rw, r, status, "password", view{Lang: lang, Title: messages(lang)["password_title"], Staff: s,
			LangSelector: true, Error: msg, Fields: fields})
	}
	if !checkCSRF(r) {
		again(http.StatusForbidden, messages(lang)["err_csrf_failed"], nil)
		return
	}
	next := r.PostFormValue("new_password")
	if next != r.PostFormValue("confirm_password") {
		again(http.StatusUnprocessableEntity, messages(lang)["password_mismatch"], nil)
		return
	}
	if err := w.cfg.Auth.ChangePassword(r.Context(), s.Actor.ID, s.Token.ID, auth.ClientIP(r), r.PostFormValue("current_password"), next); err != nil {
		status, msg, fields := w.problem(lang, err)
		again(status, msg, fields)
		return
	}
	http.Redirect(rw, r, homeOf(s), http.StatusSeeOther)
}

func (w *Web) signOut(rw http.ResponseWriter, r *http.Request) {
	if !checkCSRF(r) {
		http.Error(rw, "CSRF check failed", http.StatusForbidden)
		return
	}
	if s, err := w.staffOf(r); err == nil {
		if err := w.cfg.Auth.Tokens.Revoke(r.Context(), s.Token.ID, s.Actor.ID); err != nil {
			w.cfg.Log.Warn("revoke web token at sign-out", "member", s.Actor.ID, "error", err)
		}
	}
	setCookie(rw, r, StaffCookie, "", time.Time{})
	http.Redirect(rw, r, "/signin", http.StatusSeeOther)
}

func (w *Web) setLang(rw http.ResponseWriter, r *http.Request) {
	next := localPath(r.PostFormValue("next"), "/console")
	if !checkCSRF(r) {
		http.Error(rw, "CSRF check failed", http.StatusForbidden)
		return
	}
	lang := r.PostFormValue("lang")
	if _, ok := catalogue[lang]; ok {
		setCookie(rw, r, LangCookie, lang, time.Now().AddDate(1, 0, 0))
	}
	http.Redirect(rw, r, next, http.StatusSeeOther)
}

// signedInPage returns the member or redirects to sign-in or the password change.
func (w *Web) signedInPage(rw http.ResponseWriter, r *http.Request) (*staff, bool) {
	s, err := w.staffOf(r)
	if err != nil {
		http.Redirect(rw, r, "/signin?next="+r.URL.Path, http.StatusSeeOther)
		return nil, false
	}
	if s.Token.Restricted {
		http.Redirect(rw, r, "/password", http.StatusSeeOther)
		return nil, false
	}
	return s, true
}

// consoleConfig is what console.js starts with.
type consoleConfig struct {
	Me                     int64                       `json:"me"`
	FieldNames             [sessions.FieldCount]string `json:"field_names"`
	AlarmConnectingSeconds int                         `json:"alarm_connecting_seconds"`
	AlarmWaitingSeconds    int                         `json:"alarm_waiting_seconds"`
	Targets                []target                    `json:"targets"`
	SurveyHook             bool                        `json:"survey_hook"`
}

type target struct {
	Kind string `json:"kind"` // technician, group, channel
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (w *Web) consolePage(rw http.ResponseWriter, r *http.Request) {
	s, ok := w.signedInPage(rw, r)
	if !ok {
		return
	}
	if !s.IsTechnician() {
		http.Redirect(rw, r, "/admin", http.StatusSeeOther)
		return
	}
	lang := staffLang(r)
	cfg := consoleConfig{Me: s.Actor.ID, FieldNames: w.fieldNames(r), AlarmConnectingSeconds: 60, AlarmWaitingSeconds: 120,
		SurveyHook: w.cfg.TechnicianSurveyURL != nil}
	if u, err := w.cfg.Org.UnitByID(r.Context(), s.Actor.ID); err == nil && u.ParentID != nil {
		if t, err := settings.Get[queue.Timeouts](r.Context(), w.cfg.Settings, *u.ParentID, queue.TimeoutsSection); err == nil {
			cfg.AlarmConnectingSeconds, cfg.AlarmWaitingSeconds = t.AlarmConnectingSeconds, t.AlarmWaitingSeconds
		}
	}
	cfg.Targets = w.transferTargets(r, s.Actor.ID)
	w.render(rw, r, http.StatusOK, "console", view{Lang: lang, Title: messages(lang)["console_title"], Staff: s,
		LangSelector: true, Config: toJSON(cfg)})
}

// transferTargets lists the technicians, groups and channels a session can
// be transferred to (SESS-10); names only, never e-mail addresses.
func (w *Web) transferTargets(r *http.Request, me int64) []target {
	sc, err := w.cfg.Org.ScopeOf(r.Context(), org.Actor{Role: org.KindMaster})
	if err != nil {
		return nil
	}
	tree, err := w.cfg.Org.Tree(r.Context(), sc)
	if err != nil {
		return nil
	}
	var out []target
	var walk func(n *org.TreeNode)
	walk = func(n *org.TreeNode) {
		switch n.Kind {
		case org.KindTechnician:
			if n.ID != me {
				name := n.Nickname
				if name == "" {
					name = n.Name
				}
				out = append(out, target{Kind: "technician", ID: n.ID, Name: name})
			}
		case org.KindTechGroup:
			out = append(out, target{Kind: "group", ID: n.ID, Name: n.Name})
		case org.KindChannel:
			out = append(out, target{Kind: "channel", ID: n.ID, Name: n.Name})
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(tree)
	return out
}

type adminConfig struct {
	Me       int64  `json:"me"`
	Role     string `json:"role"`
	IsMaster bool   `json:"is_master"`
	Origin   string `json:"origin"`
	// FieldNames label the embeddable form's inputs (CH-4).
	FieldNames [sessions.FieldCount]string `json:"field_names"`
}

func (w *Web) adminPage(rw http.ResponseWriter, r *http.Request) {
	s, ok := w.signedInPage(rw, r)
	if !ok {
		return
	}
	if s.IsTechnician() {
		http.Redirect(rw, r, "/console", http.StatusSeeOther)
		return
	}
	lang := staffLang(r)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.render(rw, r, http.StatusOK, "admin", view{Lang: lang, Title: messages(lang)["admin_title"], Staff: s, LangSelector: true,
		Config: toJSON(adminConfig{Me: s.Actor.ID, Role: string(s.Actor.Role), IsMaster: s.IsMaster(), Origin: scheme + "://" + r.Host,
			FieldNames: w.fieldNames(r)})})
}

// adminStaff authenticates the admin centre's own JSON endpoints.
func (w *Web) adminStaff(rw http.ResponseWriter, r *http.Request) (*staff, *org.Scope, bool) {
	lang := staffLang(r)
	s, err := w.staffOf(r)
	if err == nil && s.Token.Restricted {
		err = fault.Forbiddenf("password_change_required", "Change your password first.")
	}
	if err == nil && !s.IsAdmin() {
		err = fault.Forbiddenf("admin_only", "Only administrators see this.")
	}
	var sc *org.Scope
	if err == nil {
		sc, err = w.cfg.Org.ScopeOf(r.Context(), s.Actor)
	}
	if err != nil {
		w.writeProblem(rw, lang, err)
		return nil, nil, false
	}
	return s, sc, true
}

// adminSessions lists a unit's active and waiting sessions (SESS-9).
func (w *Web) adminSessions(rw http.ResponseWriter, r *http.Request) {
	_, sc, ok := w.adminStaff(rw, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		w.writeProblem(rw, staffLang(r), fault.NotFoundf("unit", "No unit %s.", r.PathValue("id")))
		return
	}
	list, err := w.cfg.Sessions.UnitSessions(r.Context(), sc, id)
	if err != nil {
		w.writeProblem(rw, staffLang(r), err)
		return
	}
	if list == nil {
		list = []sessions.Session{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"sessions": list})
}

// adminSessionAction starts, holds, closes or transfers a session in scope.
func (w *Web) adminSessionAction(rw http.ResponseWriter, r *http.Request) {
	lang := staffLang(r)
	if !checkCSRF(r) {
		writeJSONError(rw, http.StatusForbidden, "csrf_failed", messages(lang)["err_csrf_failed"])
		return
	}
	_, sc, ok := w.adminStaff(rw, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		w.writeProblem(rw, lang, fault.NotFoundf("session", "No session %s.", r.PathValue("id")))
		return
	}
	var body struct {
		TechnicianID int64 `json:"technician_id"`
		sessions.TransferRequest
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<16)).Decode(&body); err != nil {
			w.writeProblem(rw, lang, fault.New(fault.BadRequest, "bad_json", "The body is not JSON."))
			return
		}
	}
	var s sessions.Session
	switch r.PathValue("action") {
	case "start":
		s, err = w.cfg.Sessions.AdminStart(r.Context(), sc, id, body.TechnicianID)
	case "hold":
		s, err = w.cfg.Sessions.AdminHold(r.Context(), sc, id)
	case "close":
		s, err = w.cfg.Sessions.AdminClose(r.Context(), sc, id)
	case "transfer":
		s, err = w.cfg.Sessions.AdminTransfer(r.Context(), sc, id, body.TransferRequest)
	default:
		err = fault.NotFoundf("action", "No action %s.", r.PathValue("action"))
	}
	if err != nil {
		w.writeProblem(rw, lang, err)
		return
	}
	writeJSON(rw, http.StatusOK, s)
}

// technicianSurvey sends the technician to the survey of a session they
// closed, when the survey feature provides one.
func (w *Web) technicianSurvey(rw http.ResponseWriter, r *http.Request) {
	s, ok := w.signedInPage(rw, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("session"), 10, 64)
	if err != nil || w.cfg.TechnicianSurveyURL == nil {
		http.NotFound(rw, r)
		return
	}
	u := w.cfg.TechnicianSurveyURL(r.Context(), id, s.Actor.ID)
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") && localPath(u, "") == "" {
		http.NotFound(rw, r)
		return
	}
	http.Redirect(rw, r, u, http.StatusSeeOther)
}
