package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
)

func (a *API) compatSessionRoutes() {
	if a.Sessions == nil {
		return
	}
	a.compat("requestPINCode", a.compatRequestPINCode)
	a.compat("getSession_v3", a.compatGetSession)
	a.compat("startSession", a.compatSessionAction(func(r *http.Request, sc *org.Scope, id int64) error {
		node, err := strconv.ParseInt(param(r, "node"), 10, 64)
		if err != nil {
			return fault.Field("node", "INVALIDPARAM_NODE")
		}
		_, err = a.Sessions.AdminStart(r.Context(), sc, id, node)
		return err
	}))
	a.compat("holdSession", a.compatSessionAction(func(r *http.Request, sc *org.Scope, id int64) error {
		_, err := a.Sessions.AdminHold(r.Context(), sc, id)
		return err
	}))
	a.compat("closeSession", a.compatSessionAction(func(r *http.Request, sc *org.Scope, id int64) error {
		_, err := a.Sessions.AdminClose(r.Context(), sc, id)
		return err
	}))
	a.compat("transferSession", a.compatSessionAction(a.compatTransfer))
	a.compat("isAnyTechAvailableOnChannel", a.compatAnyTechAvailable)
	a.compat("getNote", a.compatGetNote)
}

// compatGetNote: session -> "OK NOTE:<the technicians' notes>", for a
// session the caller worked on or, for administrators, one in their scope.
func (a *API) compatGetNote(w http.ResponseWriter, r *http.Request) {
	p, code := a.compatPrincipal(r)
	if p == nil {
		compatText(w, code)
		return
	}
	id, err := strconv.ParseInt(param(r, "session"), 10, 64)
	if err != nil || a.Notes == nil {
		compatText(w, "INVALIDPARAM_SESSION")
		return
	}
	s, err := a.Sessions.Get(r.Context(), id)
	if err == nil {
		err = a.canSee(r, p, s)
	}
	if err != nil {
		compatText(w, "INVALIDPARAM_SESSION")
		return
	}
	notes, err := a.Notes(r.Context(), id)
	if err != nil {
		a.Log.Error("compat getNote", "error", err)
		compatText(w, "ERROR")
		return
	}
	compatText(w, "OK NOTE:"+strings.Join(notes, "\r\n"))
}

// compatFail maps a refusal to the original's return codes.
func compatFail(err error) string {
	fe, ok := fault.As(err)
	if !ok {
		return "ERROR"
	}
	for _, why := range fe.Fields {
		if strings.HasPrefix(why, "INVALIDPARAM_") {
			return why
		}
	}
	switch fe.Kind {
	case fault.NotFound:
		return "INVALIDPARAM_SESSION"
	case fault.Invalid, fault.BadRequest:
		return "INVALIDPARAMETERS"
	case fault.Forbidden:
		return "NOTALLOWED"
	case fault.Conflict:
		return "ACTIONFAILED"
	case fault.TooMany:
		return "POLLRATEEXCEEDED"
	}
	return "ERROR"
}

// compatRequestPINCode: cfield0..cfield5, tracking0 -> "OK PINCODE:012345".
func (a *API) compatRequestPINCode(w http.ResponseWriter, r *http.Request) {
	p, code := a.compatPrincipal(r)
	if p == nil {
		compatText(w, code)
		return
	}
	var in sessions.PrivateInput
	for i := range in.Fields.CField {
		in.Fields.CField[i] = param(r, fmt.Sprintf("cfield%d", i))
	}
	in.Fields.TrackingID = param(r, "tracking0")
	c, err := a.Sessions.CreatePrivate(r.Context(), p.Actor, in)
	if fe, ok := fault.As(err); ok && fe.Code == "technicians_only" {
		compatText(w, "NOTTECHNICIAN")
		return
	}
	if err != nil {
		compatText(w, compatFail(err))
		return
	}
	compatText(w, "OK PINCODE:"+c.PIN)
}

// compatAdmin authenticates an administrator for the session methods.
func (a *API) compatAdmin(r *http.Request) (*org.Scope, string) {
	p, code := a.compatPrincipal(r)
	if p == nil {
		return nil, code
	}
	if p.Actor.Role != org.KindMaster && p.Actor.Role != org.KindAdmin {
		return nil, "NOTLOGGEDINASADMIN"
	}
	sc, err := p.Scope(r.Context())
	if err != nil {
		return nil, "ERROR"
	}
	return sc, ""
}

func (a *API) compatSessionAction(act func(r *http.Request, sc *org.Scope, id int64) error) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		sc, code := a.compatAdmin(r)
		if sc == nil {
			compatText(w, code)
			return
		}
		id, err := strconv.ParseInt(param(r, "session"), 10, 64)
		if err != nil {
			compatText(w, "INVALIDPARAM_SESSION")
			return
		}
		if err := act(r, sc, id); err != nil {
			compatText(w, compatFail(err))
			return
		}
		compatText(w, "OK")
	}
}

// compatTransfer: session, node, noderef (NODE or CHANNEL), comment.
func (a *API) compatTransfer(r *http.Request, sc *org.Scope, id int64) error {
	node, err := strconv.ParseInt(param(r, "node"), 10, 64)
	if err != nil {
		return fault.Field("node", "INVALIDPARAM_NODE")
	}
	u, err := a.Org.UnitByID(r.Context(), node)
	if err != nil {
		return fault.Field("node", "INVALIDPARAM_NODE")
	}
	kind := map[org.Kind]session.TargetKind{org.KindTechnician: session.ToTechnician, org.KindTechGroup: session.ToGroup, org.KindChannel: session.ToChannel}[u.Kind]
	if kind == "" {
		return fault.Field("node", "INVALIDPARAM_NODE")
	}
	_, err = a.Sessions.AdminTransfer(r.Context(), sc, id, sessions.TransferRequest{Kind: kind, ID: node, Comment: param(r, "comment")})
	return err
}

// compatGetSession: node, noderef -> "OK" and the sessions table of the
// original: ID|Status|Entry ID|Entry|Technician ID|Technician|Start Time|
// Waiting Time|Custom Field 0..5|Language|Transferred To|Transferred Comment|
// Is Lead Technician|HandingOff|, one line per session.
func (a *API) compatGetSession(w http.ResponseWriter, r *http.Request) {
	sc, code := a.compatAdmin(r)
	if sc == nil {
		compatText(w, code)
		return
	}
	node, err := strconv.ParseInt(param(r, "node"), 10, 64)
	if err != nil {
		compatText(w, "INVALIDPARAM_NODE")
		return
	}
	list, err := a.Sessions.UnitSessions(r.Context(), sc, node)
	if err != nil {
		compatText(w, compatFail(err))
		return
	}
	var b strings.Builder
	b.WriteString("OK ID|Status|Entry ID|Entry|Technician ID|Technician|Start Time|Waiting Time|Custom Field 0|Custom Field 1|Custom Field 2|Custom Field 3|Custom Field 4|Custom Field 5|Language|Transferred To|Transferred Comment|Is Lead Technician|HandingOff|\r\n")
	now := a.now()
	for _, s := range list {
		entryID, entry := int64(0), ""
		if s.ChannelID != nil {
			entryID = *s.ChannelID
			if u, err := a.Org.UnitByID(r.Context(), entryID); err == nil {
				entry = u.Name
			}
		}
		techID, tech := int64(0), ""
		if s.TechnicianID != nil {
			techID = *s.TechnicianID
			if m, err := a.Org.MemberByID(r.Context(), techID); err == nil {
				tech = m.Name
			}
		}
		transferredTo, comment := "", ""
		if t := s.Aggregate.LastTransfer; t != nil {
			transferredTo, comment = strconv.FormatInt(t.To.ID, 10), t.Comment
		}
		fields := []string{
			strconv.FormatInt(s.ID, 10), s.StateLabel, strconv.FormatInt(entryID, 10), entry,
			strconv.FormatInt(techID, 10), tech, s.CreatedAt.UTC().Format("1/2/2006 3:04 PM"),
			strconv.FormatInt(int64(now.Sub(s.Aggregate.StateSince)/time.Second), 10),
		}
		fields = append(fields, s.Fields.CField[:]...)
		fields = append(fields, s.Language, transferredTo, comment, "yes", "")
		for _, f := range fields {
			b.WriteString(strings.NewReplacer("|", "/", "\r", " ", "\n", " ").Replace(f))
			b.WriteByte('|')
		}
		b.WriteString("\r\n")
	}
	compatText(w, b.String())
}

// compatAnyTechAvailable: ChannelID, ExcludingAwayAndBusy -> TRUE or FALSE.
func (a *API) compatAnyTechAvailable(w http.ResponseWriter, r *http.Request) {
	if p, code := a.compatPrincipal(r); p == nil {
		compatText(w, code)
		return
	}
	id, err := strconv.ParseInt(param(r, "ChannelID", "channel"), 10, 64)
	if err != nil {
		compatText(w, "INVALIDPARAM_CHANNELID")
		return
	}
	techs, err := a.Org.ChannelTechnicians(r.Context(), id)
	if err != nil {
		compatText(w, "INVALIDPARAM_CHANNELID")
		return
	}
	strict := strings.EqualFold(param(r, "ExcludingAwayAndBusy"), "true")
	for _, t := range techs {
		st, err := a.Status.Status(r.Context(), t)
		if err != nil {
			compatText(w, "ERROR")
			return
		}
		if st == "online" || (!strict && st != "offline") {
			compatText(w, "TRUE")
			return
		}
	}
	compatText(w, "FALSE")
}
