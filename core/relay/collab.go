package relay

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store"
)

// Collaboration keeps who was invited into a session and when they were
// present (SESS-12, table session_collaborators). Invites, joins and leaves
// are also collab messages in the session log: the seqs of a collaborator's
// "joined" and "left" messages bound what they saw, which is their
// collaboration log (LogFor). Permission checks (only the owner invites, with
// invite_collaborators) belong to the caller.
type Collaboration struct {
	log *Log
	now func() time.Time
}

// NewCollaboration works on log's database and appends to log.
func NewCollaboration(log *Log) *Collaboration { return &Collaboration{log: log, now: log.now} }

// Collaborator is one row of session_collaborators.
type Collaborator struct {
	bun.BaseModel `bun:"table:session_collaborators"`

	SessionID    int64      `bun:"session_id,pk" json:"session_id"`
	TechnicianID int64      `bun:"technician_id,pk" json:"technician_id"`
	InvitedBy    int64      `bun:"invited_by,notnull" json:"invited_by"`
	InvitedAt    time.Time  `bun:"invited_at,notnull" json:"invited_at"`
	JoinedAt     *time.Time `bun:"joined_at" json:"joined_at,omitempty"`
	LeftAt       *time.Time `bun:"left_at" json:"left_at,omitempty"`
}

// Present reports whether the collaborator has joined and not left.
func (c Collaborator) Present() bool { return c.JoinedAt != nil && c.LeftAt == nil }

// Invite records that by (the owner) invited technicianID and appends a
// collab "invited" message for technicians. Inviting the owner or a
// technician already invited and not gone is a fault Conflict; inviting again
// one who left renews the invitation.
func (c *Collaboration) Invite(ctx context.Context, sessionID, by, technicianID int64) (Message, error) {
	if technicianID <= 0 {
		return Message{}, fault.Field("technician_id", "must be a technician ID")
	}
	if technicianID == by {
		return Message{}, fault.New(fault.Conflict, "already_in_session", "You are already in this session.")
	}
	now := c.now().UTC().Truncate(time.Microsecond)
	var out Message
	err := c.log.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		row := Collaborator{SessionID: sessionID, TechnicianID: technicianID, InvitedBy: by, InvitedAt: now}
		res, err := tx.NewInsert().Model(&row).
			On("CONFLICT (session_id, technician_id) DO UPDATE").
			Set("invited_by = EXCLUDED.invited_by, invited_at = EXCLUDED.invited_at, joined_at = NULL, left_at = NULL").
			Where("?TableAlias.left_at IS NOT NULL").
			Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.New(fault.Conflict, "already_invited", "Technician %d is already invited into this session.", technicianID)
		}
		out, err = c.log.Append(ctx, tx, collabMessage(sessionID, by, AudienceTechnicians,
			fmt.Sprintf("Technician %d invited technician %d.", by, technicianID),
			CollabEvent{Action: CollabInvited, TechnicianID: technicianID, By: by}))
		return err
	})
	if err != nil {
		if store.IsForeignKeyViolation(err) {
			return Message{}, fault.NotFoundf("technician", "no technician %d or no session %d", technicianID, sessionID)
		}
		return Message{}, fmt.Errorf("invite %d into session %d: %w", technicianID, sessionID, err)
	}
	return out, nil
}

// Invited reports whether technicianID holds an invitation into the session
// and has not left it; Sessions.Technician implementations use it for
// RoleCollaborator.
func (c *Collaboration) Invited(ctx context.Context, db bun.IDB, sessionID, technicianID int64) (bool, error) {
	n, err := db.NewSelect().Model((*Collaborator)(nil)).
		Where("session_id = ?", sessionID).Where("technician_id = ?", technicianID).Where("left_at IS NULL").Count(ctx)
	if err != nil {
		return false, fmt.Errorf("invitation of %d into session %d: %w", technicianID, sessionID, err)
	}
	return n > 0, nil
}

// Join marks an invited technician present and appends a collab "joined"
// message everyone sees. joined is false (and nothing is written) when they
// were already present; an uninvited technician gets a fault Forbidden.
func (c *Collaboration) Join(ctx context.Context, sessionID, technicianID int64) (msg Message, joined bool, err error) {
	now := c.now().UTC().Truncate(time.Microsecond)
	err = c.log.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row Collaborator
		err := tx.NewSelect().Model(&row).Where("session_id = ?", sessionID).Where("technician_id = ?", technicianID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && row.LeftAt != nil) {
			return fault.Forbiddenf("not_invited", "You are not invited into session %d.", sessionID)
		}
		if err != nil {
			return err
		}
		if row.JoinedAt != nil {
			return nil
		}
		if _, err := tx.NewUpdate().Model((*Collaborator)(nil)).Set("joined_at = ?", now).
			Where("session_id = ?", sessionID).Where("technician_id = ?", technicianID).Exec(ctx); err != nil {
			return err
		}
		msg, err = c.log.Append(ctx, tx, collabMessage(sessionID, technicianID, AudienceAll,
			"A collaborating technician joined the session.", CollabEvent{Action: CollabJoined, TechnicianID: technicianID}))
		joined = err == nil
		return err
	})
	if err != nil {
		return Message{}, false, fmt.Errorf("join session %d: %w", sessionID, err)
	}
	return msg, joined, nil
}

// Leave marks a present collaborator gone and appends a collab "left"
// message; one not present gets a fault Conflict. Coming back takes a new
// invitation.
func (c *Collaboration) Leave(ctx context.Context, sessionID, technicianID int64) (Message, error) {
	now := c.now().UTC().Truncate(time.Microsecond)
	var out Message
	err := c.log.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Collaborator)(nil)).Set("left_at = ?", now).
			Where("session_id = ?", sessionID).Where("technician_id = ?", technicianID).
			Where("joined_at IS NOT NULL").Where("left_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.New(fault.Conflict, "not_present", "You are not collaborating on session %d.", sessionID)
		}
		out, err = c.log.Append(ctx, tx, collabMessage(sessionID, technicianID, AudienceAll,
			"A collaborating technician left the session.", CollabEvent{Action: CollabLeft, TechnicianID: technicianID}))
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("leave session %d: %w", sessionID, err)
	}
	return out, nil
}

// List returns the session's collaborators by invitation time.
func (c *Collaboration) List(ctx context.Context, sessionID int64) ([]Collaborator, error) {
	var rows []Collaborator
	if err := c.log.db.NewSelect().Model(&rows).Where("session_id = ?", sessionID).
		OrderExpr("invited_at ASC, technician_id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("collaborators of session %d: %w", sessionID, err)
	}
	for i := range rows {
		rows[i].InvitedAt = rows[i].InvitedAt.UTC()
	}
	return rows, nil
}

// LogFor is technicianID's collaboration log (SESS-12): every message of the
// session from their "joined" message to their "left" message inclusive, for
// each time they were present (up to now while still present). Bounds are
// seqs, not clock times, so it is exact whatever the clocks of the nodes.
func (c *Collaboration) LogFor(ctx context.Context, sessionID, technicianID int64) ([]Message, error) {
	var rows []messageRow
	if err := c.log.db.NewSelect().Model(&rows).Where("session_id = ?", sessionID).
		Where("kind = ?", KindCollab).OrderExpr("seq ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("collaboration log of %d in session %d: %w", technicianID, sessionID, err)
	}
	type span struct{ from, to int64 } // to == 0: still present
	var spans []span
	for _, r := range rows {
		var ev CollabEvent
		if json.Unmarshal([]byte(r.Payload), &ev) != nil || ev.TechnicianID != technicianID {
			continue
		}
		switch {
		case ev.Action == CollabJoined:
			spans = append(spans, span{from: r.Seq})
		case ev.Action == CollabLeft && len(spans) > 0 && spans[len(spans)-1].to == 0:
			spans[len(spans)-1].to = r.Seq
		}
	}
	var out []Message
	viewer := TechnicianViewer(technicianID)
	for _, s := range spans {
		msgs, err := c.log.After(ctx, sessionID, s.from-1, viewer, 0)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if s.to != 0 && m.Seq > s.to {
				break
			}
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

func collabMessage(sessionID, sender int64, audience Audience, body string, ev CollabEvent) Message {
	raw, _ := json.Marshal(ev)
	return Message{
		SessionID: sessionID, Kind: KindCollab, SenderKind: SenderTechnician, SenderID: sender,
		Audience: audience, Body: body, Payload: raw,
	}
}
