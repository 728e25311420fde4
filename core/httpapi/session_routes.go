package httpapi

import (
	"net/http"
	"strings"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
)

// StatusSetter changes a technician's chosen status (core/queue's presence).
type StatusSetter interface {
	SetChosenStatus(r *http.Request, technicianID int64, status string) error
	// Status is a technician's effective status: online, busy, away or offline.
	Status(ctx contextT, technicianID int64) (string, error)
}

func (a *API) sessionRoutes() {
	if a.Sessions == nil {
		return
	}
	a.signedIn("POST /api/v1/sessions", a.createPrivate)
	a.signedIn("GET /api/v1/sessions/{id}", a.getSession)
	a.signedIn("GET /api/v1/sessions/{id}/events", a.sessionEvents)
	a.signedIn("POST /api/v1/sessions/{id}/pickup", a.sessionAction(a.Sessions.PickUp))
	a.signedIn("POST /api/v1/sessions/{id}/hold", a.sessionAction(a.Sessions.Hold))
	a.signedIn("POST /api/v1/sessions/{id}/resume", a.sessionAction(a.Sessions.Resume))
	a.signedIn("POST /api/v1/sessions/{id}/close", a.sessionAction(a.Sessions.Close))
	a.signedIn("POST /api/v1/sessions/{id}/reboot", a.sessionAction(a.Sessions.Reboot))
	a.signedIn("POST /api/v1/sessions/{id}/transfer", a.transferSession)
	a.signedIn("GET /api/v1/queue", a.queue)
	a.public("GET /api/v1/queue/live", a.liveQueue)
	a.signedIn("GET /api/v1/me/status", a.getStatus)
	a.signedIn("PUT /api/v1/me/status", a.setStatus)
	a.signedIn("POST /api/v1/channels/{id}/test", a.testChannel)
	a.public("POST /api/v1/customer/join", a.customerJoin)
	a.public("POST /api/v1/customer/channels/{id}/sessions", a.customerOpenChannel)
	a.public("GET /api/v1/customer/session", a.customerStatus)
	a.public("POST /api/v1/customer/session/terms", a.customerTerms)
	a.public("POST /api/v1/customer/session/close", a.customerClose)
}

func (a *API) createPrivate(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in sessions.PrivateInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return reply(w, http.StatusCreated)(a.Sessions.CreatePrivate(r.Context(), p.Actor, in))
}

// canSee lets technicians read sessions they created, own or could pick up,
// and administrators sessions of units in their scope.
func (a *API) canSee(r *http.Request, p *principal, s sessions.Session) error {
	if p.Actor.Role == org.KindMaster {
		return nil
	}
	if s.TechnicianID != nil && *s.TechnicianID == p.Actor.ID || s.CreatorID != nil && *s.CreatorID == p.Actor.ID {
		return nil
	}
	if p.Actor.Role == org.KindTechnician {
		q, err := a.Sessions.Queue(r.Context(), p.Actor)
		if err != nil {
			return err
		}
		for _, e := range q {
			if e.ID == s.ID {
				return nil
			}
		}
		return fault.Forbiddenf("not_your_session", "Session %d is not in your queue.", s.ID)
	}
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	for _, u := range []*int64{s.ChannelID, s.TechGroupID, s.TechnicianID} {
		if u != nil && sc.Manages(*u) {
			return nil
		}
	}
	return fault.OutOfScope("Session %d is outside your scope.", s.ID)
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	s, err := a.Sessions.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if err := a.canSee(r, p, s); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

func (a *API) sessionEvents(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	s, err := a.Sessions.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if err := a.canSee(r, p, s); err != nil {
		return err
	}
	evs, err := a.Sessions.Events(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	return nil
}

func (a *API) sessionAction(act func(ctx contextT, actor org.Actor, id int64) (sessions.Session, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		s, err := act(r.Context(), p.Actor, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s)
		return nil
	}
}

func (a *API) transferSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req sessions.TransferRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Sessions.Transfer(r.Context(), p.Actor, id, req))
}

func (a *API) queue(w http.ResponseWriter, r *http.Request, p *principal) error {
	q, err := a.Sessions.Queue(r.Context(), p.Actor)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": q})
	return nil
}

// getStatus answers the caller's effective status (SESS-16): the chosen one,
// or busy and away as the group's thresholds make it.
func (a *API) getStatus(w http.ResponseWriter, r *http.Request, p *principal) error {
	if a.Status == nil {
		return fault.New(fault.Conflict, "presence_unavailable", "Technician presence is not running on this hub.")
	}
	st, err := a.Status.Status(r.Context(), p.Actor.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": st})
	return nil
}

func (a *API) setStatus(w http.ResponseWriter, r *http.Request, p *principal) error {
	var body struct {
		Status string `json:"status" validate:"required,oneof=online busy away offline"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := fault.Validate(body); err != nil {
		return err
	}
	if a.Status == nil {
		return fault.New(fault.Conflict, "presence_unavailable", "Technician presence is not running on this hub.")
	}
	if err := a.Status.SetChosenStatus(r, p.Actor.ID, body.Status); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testChannel starts a test session on a channel (CH-5).
func (a *API) testChannel(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	if _, err := a.Org.Channel(r.Context(), sc, id); err != nil {
		return err
	}
	if !sc.Manages(id) {
		return fault.OutOfScope("Channel %d is outside your scope.", id)
	}
	j, err := a.Sessions.OpenChannel(r.Context(), id, sessions.ChannelForm{Fields: sessions.Fields{CField: [6]string{"Test"}}}, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.customerView(j))
	return nil
}

// CustomerSession is what the customer side sees of its session: never the
// technician's ids, notes or internal fields.
type CustomerSession struct {
	ID            int64           `json:"id"`
	State         session.State   `json:"state"`
	StateLabel    string          `json:"state_label"`
	Position      int             `json:"position,omitempty"`
	EstimatedWait float64         `json:"estimated_wait_seconds,omitempty"`
	Terms         *sessions.Terms `json:"terms,omitempty"`
	EndReason     string          `json:"end_reason,omitempty"`
	RedirectURL   string          `json:"redirect_url,omitempty"`
}

type customerJoined struct {
	Secret  string          `json:"secret"`
	Session CustomerSession `json:"session"`
}

func (a *API) customerView(j sessions.Joined) customerJoined {
	cs := CustomerSession{ID: j.Session.ID, State: j.Session.State, StateLabel: j.Session.StateLabel, Terms: j.Terms}
	return customerJoined{Secret: j.Secret, Session: cs}
}

func (a *API) customerJoin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PIN string `json:"pin"`
		sessions.Client
	}
	err := decodeJSON(r, &body)
	var j sessions.Joined
	if err == nil {
		j, err = a.Sessions.JoinByPIN(r.Context(), strings.TrimSpace(body.PIN), auth.ClientIP(r), body.Client)
	}
	if err != nil {
		writeError(w, r, a.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, a.customerView(j))
}

func (a *API) customerOpenChannel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	var form sessions.ChannelForm
	if err == nil {
		err = decodeJSON(r, &form)
	}
	var j sessions.Joined
	if err == nil {
		j, err = a.Sessions.OpenChannel(r.Context(), id, form, false)
	}
	if err != nil {
		writeError(w, r, a.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, a.customerView(j))
}

func (a *API) customerStatus(w http.ResponseWriter, r *http.Request) {
	st, err := a.Sessions.CustomerStatus(r.Context(), bearer(r), a.Estimate)
	if err != nil {
		writeError(w, r, a.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, CustomerSession{ID: st.Session.ID, State: st.Session.State, StateLabel: st.Session.StateLabel,
		Position: st.Position, EstimatedWait: st.EstimatedWait, Terms: st.Terms, EndReason: string(st.Session.Aggregate.EndReason),
		RedirectURL: st.RedirectURL})
}

func (a *API) customerTerms(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Accept *bool `json:"accept" validate:"required"`
	}
	err := decodeJSON(r, &body)
	if err == nil {
		err = fault.Validate(body)
	}
	var s sessions.Session
	if err == nil {
		s, err = a.Sessions.AnswerTerms(r.Context(), bearer(r), *body.Accept)
	}
	if err != nil {
		writeError(w, r, a.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, CustomerSession{ID: s.ID, State: s.State, StateLabel: s.StateLabel, EndReason: string(s.Aggregate.EndReason)})
}

func (a *API) customerClose(w http.ResponseWriter, r *http.Request) {
	s, err := a.Sessions.CustomerClose(r.Context(), bearer(r))
	if err != nil {
		writeError(w, r, a.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, CustomerSession{ID: s.ID, State: s.State, StateLabel: s.StateLabel, EndReason: string(s.Aggregate.EndReason)})
}
