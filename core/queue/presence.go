package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/expiring"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store"
)

// Status is a technician's presence (SESS-16).
type Status string

const (
	StatusOnline  Status = "online"
	StatusBusy    Status = "busy"
	StatusAway    Status = "away"
	StatusOffline Status = "offline"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusOnline, StatusBusy, StatusAway, StatusOffline:
		return true
	}
	return false
}

// PresenceRow is a technician's stored presence: the status they chose and
// the moments Effective derives the shown status from.
type PresenceRow struct {
	bun.BaseModel `bun:"table:technician_presence"`

	MemberID         int64      `bun:"member_id,pk"`
	ChosenStatus     Status     `bun:"chosen_status,notnull"`
	SignedInAt       *time.Time `bun:"signed_in_at"`
	LastActivityAt   *time.Time `bun:"last_activity_at"`
	LastSessionEndAt *time.Time `bun:"last_session_end_at"`
	UpdatedAt        time.Time  `bun:"updated_at,notnull"`
}

// IdleSince is the latest of signing in, the last action and the last
// session end: the start of the idle time that Away and sign-out count
// (SESS-16), and the "idle longest" of auto-start. Zero when the
// technician never did any of these.
func (r PresenceRow) IdleSince() time.Time {
	var t time.Time
	for _, p := range []*time.Time{r.SignedInAt, r.LastActivityAt, r.LastSessionEndAt} {
		if p != nil && p.After(t) {
			t = *p
		}
	}
	return t
}

// Presence keeps technician_presence. Effective, CanPickUp and
// AcceptsTransfers interpret it without I/O.
type Presence struct {
	DB  bun.IDB
	Now func() time.Time // nil means time.Now
	// ActivityEvery, when positive, writes a technician's activity at most
	// that often from this Presence: idle time is counted in minutes and
	// "longest idle" needs no finer grain, while a busy technician acts
	// several times a second.
	ActivityEvery time.Duration

	written expiring.Map[int64, struct{}] // when each technician's activity was last written
}

func (p *Presence) now() time.Time {
	if p.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return p.Now().UTC().Truncate(time.Microsecond)
}

// SetStatus records the status a technician chose. Leaving offline (to any
// other status) signs them in: signed_in_at becomes now. Choosing a status is
// an action, so it also resets the idle time.
func (p *Presence) SetStatus(ctx context.Context, memberID int64, status Status) error {
	if !status.Valid() {
		return fault.Field("status", "must be one of: online, busy, away, offline")
	}
	now := p.now()
	var signedIn *time.Time
	if status != StatusOffline {
		signedIn = &now
	}
	_, err := p.DB.NewRaw(`INSERT INTO technician_presence (member_id, chosen_status, signed_in_at, last_activity_at, updated_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (member_id) DO UPDATE SET
	signed_in_at = CASE WHEN technician_presence.chosen_status = 'offline' AND excluded.chosen_status <> 'offline'
		THEN excluded.updated_at ELSE technician_presence.signed_in_at END,
	chosen_status = excluded.chosen_status,
	last_activity_at = excluded.last_activity_at,
	updated_at = excluded.updated_at`,
		memberID, string(status), signedIn, now, now).Exec(ctx)
	return p.wrap(err, "set status of", memberID)
}

// SignIn marks a technician as just signed in: online, signed_in_at and the
// last action now, whatever the stored status (a technician signed out for
// idleness still has the status they chose).
func (p *Presence) SignIn(ctx context.Context, memberID int64) error {
	now := p.now()
	_, err := p.DB.NewRaw(`INSERT INTO technician_presence (member_id, chosen_status, signed_in_at, last_activity_at, updated_at)
VALUES (?, 'online', ?, ?, ?)
ON CONFLICT (member_id) DO UPDATE SET
	chosen_status = 'online',
	signed_in_at = excluded.signed_in_at,
	last_activity_at = excluded.last_activity_at,
	updated_at = excluded.updated_at`,
		memberID, now, now, now).Exec(ctx)
	return p.wrap(err, "sign in", memberID)
}

// Activity records a technician's action (a chat message, a pick-up, a
// console command): it resets their idle time.
func (p *Presence) Activity(ctx context.Context, memberID int64) error {
	if p.ActivityEvery <= 0 {
		return p.touch(ctx, memberID, touchActivity, "record activity of")
	}
	now := p.now()
	_, recent, gen := p.written.Get(memberID, now, p.ActivityEvery)
	if recent {
		return nil
	}
	if err := p.touch(ctx, memberID, touchActivity, "record activity of"); err != nil {
		return err
	}
	p.written.Put(gen, memberID, struct{}{}, now)
	return nil
}

// SessionEnded records that one of the technician's sessions ended.
func (p *Presence) SessionEnded(ctx context.Context, memberID int64) error {
	return p.touch(ctx, memberID, touchSessionEnd, "record session end of")
}

// touch sets one timestamp column to now, creating an offline row if the
// technician has none yet.
func (p *Presence) touch(ctx context.Context, memberID int64, stmt *store.Statement, what string) error {
	now := p.now()
	_, err := stmt.Exec(ctx, p.DB, memberID, now, now)
	return p.wrap(err, what, memberID)
}

// touchColumn is touch's statement for one of two constant columns, never input.
func touchColumn(column string) *store.Statement {
	return store.NewStatement(`INSERT INTO technician_presence (member_id, chosen_status, ` + column + `, updated_at)
VALUES (?, 'offline', ?, ?)
ON CONFLICT (member_id) DO UPDATE SET ` + column + ` = excluded.` + column + `, updated_at = excluded.updated_at`)
}

var (
	touchActivity   = touchColumn("last_activity_at")
	touchSessionEnd = touchColumn("last_session_end_at")
)

// Get returns a technician's presence; one who never had any is offline.
func (p *Presence) Get(ctx context.Context, memberID int64) (PresenceRow, error) {
	row := PresenceRow{MemberID: memberID}
	err := p.DB.NewSelect().Model(&row).WherePK().Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return PresenceRow{MemberID: memberID, ChosenStatus: StatusOffline}, nil
	}
	if err != nil {
		return PresenceRow{}, fmt.Errorf("load presence of member %d: %w", memberID, err)
	}
	for _, t := range []*time.Time{row.SignedInAt, row.LastActivityAt, row.LastSessionEndAt, &row.UpdatedAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return row, nil
}

func (p *Presence) wrap(err error, what string, memberID int64) error {
	switch {
	case err == nil:
		return nil
	case store.IsForeignKeyViolation(err):
		return fault.NotFoundf("technician", "No technician with id %d.", memberID)
	default:
		return fmt.Errorf("%s member %d: %w", what, memberID, err)
	}
}

// Effective is the status shown for a technician, in this order: chosen
// Offline; Offline once idle for sign_out_after_idle_minutes; Away once idle
// for away_after_idle_minutes; chosen Away; Busy when chosen, or with more
// than busy_above active sessions; else Online. Idle time counts from
// row.IdleSince(); a technician with no timestamp at all is never idle-timed
// (they are offline anyway unless a status was set, which stamps them).
func Effective(row PresenceRow, activeSessions int, cfg PresenceSettings, now time.Time) Status {
	if row.ChosenStatus == StatusOffline || row.ChosenStatus == "" {
		return StatusOffline
	}
	if since := row.IdleSince(); !since.IsZero() {
		idle := now.Sub(since)
		if cfg.SignOutAfterIdleMinutes > 0 && idle >= time.Duration(cfg.SignOutAfterIdleMinutes)*time.Minute {
			return StatusOffline
		}
		if cfg.AwayAfterIdleMinutes > 0 && idle >= time.Duration(cfg.AwayAfterIdleMinutes)*time.Minute {
			return StatusAway
		}
	}
	switch {
	case row.ChosenStatus == StatusAway:
		return StatusAway
	case row.ChosenStatus == StatusBusy, cfg.BusyAbove > 0 && activeSessions > cfg.BusyAbove:
		return StatusBusy
	}
	return StatusOnline
}

// CanPickUp reports whether a technician with active sessions may take one
// more. Busy and Away technicians still may (SESS-16); offline ones have no
// console to pick up from, which the caller knows.
func CanPickUp(active int, cfg PresenceSettings) bool {
	return active < cfg.MaxActiveSessions
}

// AcceptsTransfers reports whether sessions may be transferred to a
// technician with this effective status: nothing goes to a Busy or Away
// technician (SESS-10), nor to one who is not there.
func AcceptsTransfers(status Status) bool {
	return status == StatusOnline
}
