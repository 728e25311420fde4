package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

// DefaultPollInterval is how often Run looks for due timers unless woken.
const DefaultPollInterval = 500 * time.Millisecond

// maxBackoff caps the delay before a failed firing is retried.
const maxBackoff = time.Minute

// sweepBatch bounds how many due timers one query lists; the sweep repeats
// until none is left.
const sweepBatch = 100

// Timer is a row of session_timers.
type Timer struct {
	bun.BaseModel `bun:"table:session_timers"`

	ID        int64      `bun:"id,pk,autoincrement"`
	SessionID int64      `bun:"session_id,notnull"`
	Kind      string     `bun:"kind,notnull"` // the caller's: the sessions service names its own
	DueAt     time.Time  `bun:"due_at,notnull"`
	FiredAt   *time.Time `bun:"fired_at"`
	Attempts  int        `bun:"attempts,notnull"`
	LastError string     `bun:"last_error,notnull"`
}

// FireFunc acts on a due timer. An error makes the sweeper retry it later
// with backoff; to give up, return nil.
type FireFunc func(ctx context.Context, sessionID int64, kind string) error

// Timers are durable per-session timers kept in session_timers and fired by
// a sweeper, so that a restarted hub still fires them (SESS-8, Q-1).
//
// A timer is claimed with a conditional update before it is fired, so two
// sweepers (two hub nodes, or an old and a restarted process) never fire it
// twice; the price is at-most-once: a process that dies between the claim
// and the end of fire loses that firing. Fire functions should therefore be
// quick and check the session's state, and callers that need certainty
// re-check on start-up.
//
// A Timers must not be copied after first use.
type Timers struct {
	DB           *bun.DB
	Now          func() time.Time // nil means time.Now
	Log          hclog.Logger     // nil means no logging
	PollInterval time.Duration    // zero means DefaultPollInterval

	wakeOnce sync.Once
	wake     chan struct{}
	// soon says a timer was scheduled to fall due before the next poll
	// (WakeIfSoon).
	soon atomic.Bool
}

func (t *Timers) now() time.Time {
	if t.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return t.Now().UTC().Truncate(time.Microsecond)
}

func (t *Timers) log() hclog.Logger {
	if t.Log == nil {
		return hclog.NewNullLogger()
	}
	return t.Log
}

func (t *Timers) wakeCh() chan struct{} {
	t.wakeOnce.Do(func() { t.wake = make(chan struct{}, 1) })
	return t.wake
}

func (t *Timers) idb(db bun.IDB) bun.IDB {
	if db == nil {
		return t.DB
	}
	return db
}

// Schedule arms the session's timer of this kind to fire at due, replacing
// any earlier one of the same kind, fired or not: the due time moves and
// attempts and the last error are cleared. db may be the caller's
// transaction (nil means t.DB), so a timer exists exactly when the state
// change that needs it is committed. Call Wake after the commit for a timer
// due sooner than the poll interval.
func (t *Timers) Schedule(ctx context.Context, db bun.IDB, sessionID int64, kind string, due time.Time) error {
	if kind == "" {
		return fmt.Errorf("schedule timer for session %d: empty kind", sessionID)
	}
	due = due.UTC().Truncate(time.Microsecond)
	if due.Sub(t.now()) < t.interval() {
		t.soon.Store(true)
	}
	_, err := scheduleTimer.Exec(ctx, t.idb(db), sessionID, kind, due)
	if err != nil {
		if store.IsForeignKeyViolation(err) {
			return fmt.Errorf("schedule %s timer: no session %d: %w", kind, sessionID, err)
		}
		return fmt.Errorf("schedule %s timer for session %d: %w", kind, sessionID, err)
	}
	return nil
}

// Cancel removes the session's timers of these kinds, if any, in one
// statement; a timer being fired at that moment may still complete.
func (t *Timers) Cancel(ctx context.Context, db bun.IDB, sessionID int64, kinds ...string) error {
	if len(kinds) == 0 {
		return nil
	}
	args := make([]any, 0, 1+len(kinds))
	args = append(args, sessionID)
	for _, k := range kinds {
		args = append(args, k)
	}
	if _, err := cancelTimers.For(len(kinds)).Exec(ctx, t.idb(db), args...); err != nil {
		return fmt.Errorf("cancel %s timer of session %d: %w", strings.Join(kinds, ", "), sessionID, err)
	}
	return nil
}

var scheduleTimer = store.NewStatement(`INSERT INTO session_timers (session_id, kind, due_at, fired_at, attempts, last_error)
VALUES (?, ?, ?, NULL, 0, '')
ON CONFLICT (session_id, kind) DO UPDATE SET
	due_at = excluded.due_at, fired_at = NULL, attempts = 0, last_error = ''`)

// cancelTimers deletes a session's timers of n kinds.
var cancelTimers = store.NewByCount(func(n int) string {
	return `DELETE FROM session_timers WHERE session_id = ? AND kind IN (` + store.Placeholders(n) + `)`
})

// SchedulePart is Schedule as a data-modifying WITH member of a caller's
// single statement, for the session whose id the member from holds.
func (t *Timers) SchedulePart(from, kind string, due time.Time) (string, []any) {
	due = due.UTC().Truncate(time.Microsecond)
	if due.Sub(t.now()) < t.interval() {
		t.soon.Store(true)
	}
	return `INSERT INTO session_timers (session_id, kind, due_at, fired_at, attempts, last_error)
	SELECT ` + from + `.id, ?::text, ?::timestamptz, NULL, 0, '' FROM ` + from + `
	ON CONFLICT (session_id, kind) DO UPDATE SET
		due_at = excluded.due_at, fired_at = NULL, attempts = 0, last_error = ''`, []any{kind, due}
}

// CancelPart is Cancel as a data-modifying WITH member of a caller's single
// statement, for the session whose id the member from holds.
func (t *Timers) CancelPart(from string, kinds ...string) (string, []any) {
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = k
	}
	return `DELETE FROM session_timers WHERE session_id IN (SELECT id FROM ` + from + `) AND kind IN (` +
		store.Placeholders(len(kinds)) + `)`, args
}

// CancelAll removes every timer of the session, e.g. when it ends.
func (t *Timers) CancelAll(ctx context.Context, db bun.IDB, sessionID int64) error {
	_, err := t.idb(db).NewDelete().Model((*Timer)(nil)).Where("session_id = ?", sessionID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("cancel timers of session %d: %w", sessionID, err)
	}
	return nil
}

// Due lists the timers not yet fired (including those waiting for a retry),
// soonest first.
func (t *Timers) Due(ctx context.Context) ([]Timer, error) {
	var rows []Timer
	err := t.DB.NewSelect().Model(&rows).Where("fired_at IS NULL").OrderExpr("due_at, id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pending timers: %w", err)
	}
	for i := range rows {
		rows[i].DueAt = rows[i].DueAt.UTC()
	}
	return rows, nil
}

// Wake makes Run look for due timers now instead of at its next poll.
func (t *Timers) Wake() {
	select {
	case t.wakeCh() <- struct{}{}:
	default:
	}
}

// WakeIfSoon is Wake when a timer scheduled since the last sweep falls due
// before the next poll; otherwise the poll finds it in time and no sweep is
// spent on a state change that scheduled nothing urgent.
func (t *Timers) WakeIfSoon() {
	if t.soon.Swap(false) {
		t.Wake()
	}
}

func (t *Timers) interval() time.Duration {
	if t.PollInterval <= 0 {
		return DefaultPollInterval
	}
	return t.PollInterval
}

// Run fires due timers until ctx is cancelled, looking every PollInterval
// and whenever woken. Database errors are logged and retried at the next poll.
func (t *Timers) Run(ctx context.Context, fire FireFunc) {
	ticker := time.NewTicker(t.interval())
	defer ticker.Stop()
	wake := t.wakeCh()
	for {
		if _, err := t.sweep(ctx, fire); err != nil && ctx.Err() == nil {
			t.log().Error("timer sweep failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-wake:
		}
	}
}

// sweep fires every timer due now and returns how many it claimed.
func (t *Timers) sweep(ctx context.Context, fire FireFunc) (int, error) {
	claimed := 0
	for ctx.Err() == nil {
		now := t.now()
		var due []Timer
		err := t.DB.NewSelect().Model(&due).Column("id", "session_id", "kind", "attempts").
			Where("fired_at IS NULL").Where("due_at <= ?", now).
			OrderExpr("due_at, id").Limit(sweepBatch).Scan(ctx)
		if err != nil {
			return claimed, fmt.Errorf("list due timers: %w", err)
		}
		if len(due) == 0 {
			return claimed, nil
		}
		progress := false
		for _, tm := range due {
			ok, err := t.claim(ctx, tm.ID, now)
			if err != nil {
				return claimed, err
			}
			if !ok {
				continue // another sweeper took it, or it was re-armed or cancelled
			}
			claimed++
			progress = true
			t.fireOne(ctx, fire, tm, now)
		}
		if !progress {
			// Everything listed was taken by others; their rows are no
			// longer due, but avoid spinning if the listing lags behind.
			return claimed, nil
		}
	}
	return claimed, ctx.Err()
}

// claim marks a due timer fired; only one claimant can see a row affected.
func (t *Timers) claim(ctx context.Context, id int64, now time.Time) (bool, error) {
	res, err := t.DB.NewUpdate().Model((*Timer)(nil)).Set("fired_at = ?", now).
		Where("id = ?", id).Where("fired_at IS NULL").Where("due_at <= ?", now).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("claim timer %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim timer %d: %w", id, err)
	}
	return n == 1, nil
}

func (t *Timers) fireOne(ctx context.Context, fire FireFunc, tm Timer, claimedAt time.Time) {
	err := callFire(ctx, fire, tm)
	if err == nil {
		return
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Shutting down: hand the timer back untouched for the next process.
		t.release(tm, claimedAt, tm.Attempts, "", claimedAt)
		return
	}
	attempts := tm.Attempts + 1
	retryAt := t.now().Add(Backoff(attempts))
	t.log().Warn("timer firing failed; will retry", "session_id", tm.SessionID, "kind", tm.Kind,
		"attempt", attempts, "retry_at", retryAt, "error", err)
	t.release(tm, claimedAt, attempts, truncate(err.Error(), maxErrorLen), retryAt)
}

// callFire turns a panic in fire into an error so one bad handler cannot
// stop the sweeper.
func callFire(ctx context.Context, fire FireFunc, tm Timer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fire(ctx, tm.SessionID, tm.Kind)
}

// release un-claims a timer, unless it was re-armed or cancelled while it
// was being fired (then fired_at is no longer our claim and nothing changes).
func (t *Timers) release(tm Timer, claimedAt time.Time, attempts int, lastError string, due time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := t.DB.NewUpdate().Model((*Timer)(nil)).
		Set("fired_at = NULL").Set("attempts = ?", attempts).Set("last_error = ?", lastError).
		Set("due_at = ?", due.UTC().Truncate(time.Microsecond)).
		Where("id = ?", tm.ID).Where("fired_at = ?", claimedAt).Exec(ctx)
	if err != nil {
		t.log().Error("could not hand back a failed timer; it will not fire again",
			"session_id", tm.SessionID, "kind", tm.Kind, "error", err)
	}
}

// Backoff is the delay before retry number attempts (1, 2, ...) of a failed
// firing: 1s, 2s, 4s ... capped at one minute.
func Backoff(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	if attempts > 7 {
		return maxBackoff
	}
	return min(time.Second<<(attempts-1), maxBackoff)
}

// maxErrorLen bounds last_error so a verbose failure cannot bloat the table.
const maxErrorLen = 1000

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
