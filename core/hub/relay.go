package hub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
)

// relaySessions shows sessions to the relay.
type relaySessions struct {
	sessions *sessions.Service
	org      *org.Service
	settings *settings.Service
	collab   func() *relay.Collaboration
	db       *bun.DB
	// technicianActed records a technician's activity (the sessions
	// service's TechnicianActed).
	technicianActed func(ctx context.Context, technicianID int64)
}

func info(s sessions.Session) relay.SessionInfo {
	i := relay.SessionInfo{ID: s.ID, State: string(s.State), Live: s.State.Live(), CustomerName: s.CustomerName}
	if s.TechnicianID != nil {
		i.TechnicianID = *s.TechnicianID
	}
	return i
}

func (r relaySessions) Customer(ctx context.Context, secret string) (relay.SessionInfo, error) {
	s, err := r.sessions.ByCustomerSecret(ctx, secret)
	return info(s), err
}

func (r relaySessions) Technician(ctx context.Context, sessionID, technicianID int64) (relay.SessionInfo, relay.Role, error) {
	s, err := r.sessions.Get(ctx, sessionID)
	if err != nil {
		return relay.SessionInfo{}, "", err
	}
	if s.TechnicianID != nil && *s.TechnicianID == technicianID {
		return info(s), relay.RoleOwner, nil
	}
	ok, err := r.collab().Invited(ctx, r.db, sessionID, technicianID)
	if err != nil {
		return relay.SessionInfo{}, "", err
	}
	if ok {
		return info(s), relay.RoleCollaborator, nil
	}
	return relay.SessionInfo{}, "", fault.Forbiddenf("not_your_session", "Session %d is neither yours nor one you were invited into.", sessionID)
}

func (r relaySessions) Permissions(ctx context.Context, technicianID int64) (org.Permissions, error) {
	c, err := r.org.CredentialsByID(ctx, technicianID)
	if err != nil {
		return org.Permissions{}, err
	}
	if c.TechGroupID == 0 {
		return org.Permissions{}, errors.New("not a technician")
	}
	return settings.Get[org.Permissions](ctx, r.settings, c.TechGroupID, org.PermissionsSection)
}

func (r relaySessions) CustomerConnected(ctx context.Context, id int64) error {
	return r.sessions.CustomerConnected(ctx, id)
}

func (r relaySessions) CustomerDisconnected(ctx context.Context, id int64) error {
	return r.sessions.CustomerDisconnected(ctx, id)
}

// Activity records the session's last action and, when a technician acted,
// theirs: a technician chatting or controlling a screen is not idle (SESS-16).
func (r relaySessions) Activity(ctx context.Context, id int64, who relay.Viewer) error {
	if err := r.sessions.Activity(ctx, id); err != nil {
		return err
	}
	if who.Kind == relay.SenderTechnician && r.technicianActed != nil {
		r.technicianActed(ctx, who.ID)
	}
	return nil
}

func (r relaySessions) AddTransmitted(ctx context.Context, id, n int64) error {
	return r.sessions.AddTransmitted(ctx, id, n)
}

func (r relaySessions) ToolUsed(ctx context.Context, id int64, tool string) error {
	return r.sessions.ToolUsed(ctx, id, tool)
}

// systemLog appends the sessions service's system messages to the relay's log.
type systemLog struct{ log *relay.Log }

func (l systemLog) AppendSystem(ctx context.Context, db bun.IDB, sessionID int64, text string, payload any) error {
	_, err := l.log.AppendSystem(ctx, db, sessionID, text, payload)
	return err
}

func (l systemLog) SystemPartsFor(from, as, text string, payload any) (sessions.SystemParts, error) {
	p, err := l.log.SystemPartsFor(from, as, text, payload)
	return sessions.SystemParts(p), err
}

// pushToRelay tells connected sides of a committed change.
func (h *Hub) pushToRelay(id int64, st session.State) {
	if h.Relay == nil {
		return
	}
	rh := h.Relay.Hub()
	rh.Notify(id)
	rh.PushState(id, string(st))
	if !st.Live() {
		rh.End(id)
	}
}

// notesOf collects a session's technician notes from the message log.
func notesOf(ctx context.Context, log *relay.Log, id int64) ([]string, error) {
	msgs, err := log.ChatLog(ctx, id, relay.TechnicianViewer(0))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range msgs {
		if m.Kind == relay.KindNote {
			out = append(out, m.Body)
		}
	}
	return out, nil
}

// chatTextPolicy answers the relay's P2U-3 question from the chat_storage
// setting of the session's group (the organisation's before a technician
// has it). Chat appends ask on every message, so answers are kept for a few
// seconds; a changed setting applies to later messages within that time.
type chatTextPolicy struct {
	sessions *sessions.Service
	settings *settings.Service
	org      *org.Service
	log      hclog.Logger
	cache    sync.Map // session id -> keepEntry
}

type keepEntry struct {
	keep bool
	at   time.Time
}

const keepTTL = 5 * time.Second

func (p *chatTextPolicy) keep(ctx context.Context, sessionID int64) bool {
	if e, ok := p.cache.Load(sessionID); ok && time.Since(e.(keepEntry).at) < keepTTL {
		return e.(keepEntry).keep
	}
	keep, err := p.lookup(ctx, sessionID)
	if err != nil {
		// Keeping is the default; a failed look-up must not lose chat.
		p.log.Warn("chat storage setting unavailable; keeping chat text", "session", sessionID, "error", err)
		return true
	}
	p.cache.Store(sessionID, keepEntry{keep: keep, at: time.Now()})
	return keep
}

func (p *chatTextPolicy) lookup(ctx context.Context, sessionID int64) (bool, error) {
	unit, err := p.sessions.HandlingGroup(ctx, sessionID)
	if err != nil {
		return true, err
	}
	if unit == 0 {
		if unit, err = p.org.RootID(ctx); err != nil {
			return true, err
		}
	}
	cs, err := settings.Get[relay.ChatStorage](ctx, p.settings, unit, relay.ChatStorageSection)
	if err != nil {
		return true, err
	}
	return cs.KeepChatText, nil
}
