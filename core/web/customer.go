package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/sessions"
)

func (w *Web) customerRoutes() {
	w.page("GET /c/{id}", w.channelPage)
	w.page("POST /c/{id}", w.channelSubmit)
	w.page("GET /pin", w.pinPage)
	w.page("POST /pin", w.pinSubmit)
	w.page("GET /s", w.sessionPage)
	w.page("GET /s/end", w.endPage)
}

// channelForm is what the channel page shows and re-shows after an error.
type channelForm struct {
	ChannelID   int64
	ChannelName string
	Labels      [sessions.FieldCount]string
	Values      [sessions.FieldCount]string
	TrackingID  string
}

func (w *Web) channel(r *http.Request) (org.Unit, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return org.Unit{}, false
	}
	u, err := w.cfg.Org.UnitByID(r.Context(), id)
	if err != nil || u.Kind != org.KindChannel {
		return org.Unit{}, false
	}
	return u, true
}

// fieldNames are the org-wide labels of the Name and custom fields (SESS-7).
func (w *Web) fieldNames(r *http.Request) [sessions.FieldCount]string {
	names := sessions.DefaultFieldNames()
	if root, err := w.cfg.Org.Root(r.Context()); err == nil {
		if err := w.cfg.Settings.Load(r.Context(), root.ID, "custom_field_names", names); err != nil {
			w.cfg.Log.Warn("load custom field names", "error", err)
		}
	}
	return names.Names
}

func (w *Web) channelPage(rw http.ResponseWriter, r *http.Request) {
	lang := customerLang(r)
	u, ok := w.channel(r)
	if !ok {
		w.render(rw, r, http.StatusNotFound, "notfound", view{Lang: lang, Title: messages(lang)["channel_unknown"]})
		return
	}
	f := channelForm{ChannelID: u.ID, ChannelName: u.Name, Labels: w.fieldNames(r)}
	// The embeddable form (CH-4) sends its values here with GET; the
	// customer confirms them with the CSRF-protected POST.
	q := r.URL.Query()
	f.Values[0] = q.Get("name")
	for i := 1; i < sessions.FieldCount; i++ {
		f.Values[i] = q.Get("cfield" + strconv.Itoa(i))
	}
	f.TrackingID = q.Get("tracking")
	status, errMsg := http.StatusOK, ""
	if !u.Enabled {
		status, errMsg = http.StatusConflict, messages(lang)["err_channel_disabled"]
	}
	w.render(rw, r, status, "channel", view{Lang: lang, Title: u.Name, Data: f, Error: errMsg})
}

func (w *Web) channelSubmit(rw http.ResponseWriter, r *http.Request) {
	lang := customerLang(r)
	u, ok := w.channel(r)
	if !ok {
		w.render(rw, r, http.StatusNotFound, "notfound", view{Lang: lang, Title: messages(lang)["channel_unknown"]})
		return
	}
	f := channelForm{ChannelID: u.ID, ChannelName: u.Name, Labels: w.fieldNames(r)}
	for i := 0; i < sessions.FieldCount; i++ {
		f.Values[i] = r.PostFormValue("cfield" + strconv.Itoa(i))
	}
	f.TrackingID = r.PostFormValue("tracking")
	if !checkCSRF(r) {
		w.render(rw, r, http.StatusForbidden, "channel", view{Lang: lang, Title: u.Name, Data: f, Error: messages(lang)["err_csrf_failed"]})
		return
	}
	j, err := w.cfg.Sessions.OpenChannel(r.Context(), u.ID, sessions.ChannelForm{
		Fields: sessions.Fields{CField: f.Values, TrackingID: f.TrackingID},
		Client: sessions.Client{Kind: "web", Platform: platform(r), Language: lang},
	}, false)
	if err != nil {
		status, msg, fields := w.problem(lang, err)
		w.render(rw, r, status, "channel", view{Lang: lang, Title: u.Name, Data: f, Error: msg, Fields: fields})
		return
	}
	setCookie(rw, r, CustomerCookie, j.Secret, time.Time{})
	http.Redirect(rw, r, "/s", http.StatusSeeOther)
}

func (w *Web) pinPage(rw http.ResponseWriter, r *http.Request) {
	lang := customerLang(r)
	w.render(rw, r, http.StatusOK, "pin", view{Lang: lang, Title: messages(lang)["pin_title"], Data: r.URL.Query().Get("pin")})
}

func (w *Web) pinSubmit(rw http.ResponseWriter, r *http.Request) {
	lang := customerLang(r)
	pin := strings.TrimSpace(r.PostFormValue("pin"))
	if !checkCSRF(r) {
		w.render(rw, r, http.StatusForbidden, "pin", view{Lang: lang, Title: messages(lang)["pin_title"], Data: pin, Error: messages(lang)["err_csrf_failed"]})
		return
	}
	var err error
	var j sessions.Joined
	if pin == "" {
		err = fault.Field("pin", "is required")
	} else {
		j, err = w.cfg.Sessions.JoinByPIN(r.Context(), pin, auth.ClientIP(r), sessions.Client{Kind: "web", Platform: platform(r), Language: lang})
	}
	if err != nil {
		status, msg, fields := w.problem(lang, err)
		if fe, ok := fault.As(err); ok && fe.Kind == fault.TooMany && fe.RetryAfterSeconds > 0 {
			rw.Header().Set("Retry-After", strconv.Itoa(fe.RetryAfterSeconds))
		}
		w.render(rw, r, status, "pin", view{Lang: lang, Title: messages(lang)["pin_title"], Data: pin, Error: msg, Fields: fields})
		return
	}
	setCookie(rw, r, CustomerCookie, j.Secret, time.Time{})
	http.Redirect(rw, r, "/s", http.StatusSeeOther)
}

func (w *Web) sessionPage(rw http.ResponseWriter, r *http.Request) {
	lang := customerLang(r)
	if c, err := r.Cookie(CustomerCookie); err != nil || c.Value == "" {
		http.Redirect(rw, r, "/pin", http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "session", view{Lang: lang, Title: messages(lang)["session_title"]})
}

// endPage thanks the customer and forgets the session's secret; with a
// survey configured it sends the customer there instead.
func (w *Web) endPage(rw http.ResponseWriter, r *http.Request) {
	lang := customerLang(r)
	if w.cfg.CustomerSurveyURL != nil {
		if id, err := strconv.ParseInt(r.URL.Query().Get("session"), 10, 64); err == nil {
			if u := w.cfg.CustomerSurveyURL(r.Context(), id); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "/") {
				setCookie(rw, r, CustomerCookie, "", time.Time{})
				http.Redirect(rw, r, u, http.StatusSeeOther)
				return
			}
		}
	}
	setCookie(rw, r, CustomerCookie, "", time.Time{})
	reason := r.URL.Query().Get("reason")
	msg := messages(lang)["end_"+reason]
	if msg == "" {
		msg = messages(lang)["end_default"]
	}
	w.render(rw, r, http.StatusOK, "end", view{Lang: lang, Title: messages(lang)["end_title"], Data: msg})
}

func platform(r *http.Request) string {
	ua := r.UserAgent()
	switch {
	case strings.Contains(ua, "Android"):
		return "android"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"):
		return "ios"
	case strings.Contains(ua, "Windows"):
		return "windows"
	case strings.Contains(ua, "Mac OS"):
		return "macos"
	case strings.Contains(ua, "Linux"):
		return "linux"
	}
	return "web"
}
