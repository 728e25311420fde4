package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// ThrottleLimits bound failed sign-ins within a sliding window.
type ThrottleLimits struct {
	Window   time.Duration
	PerEmail int // failures for one email address; 0 means no limit
	PerIP    int // failures from one client address, whatever the email; 0 means no limit
}

// DefaultThrottleLimits: 5 failures per account or 30 per address in 15 minutes.
func DefaultThrottleLimits() ThrottleLimits {
	return ThrottleLimits{Window: 15 * time.Minute, PerEmail: 5, PerIP: 30}
}

// Attempt reasons recorded in sign_in_attempts.
const (
	ReasonPending      = "pending" // in progress; counts as a failure until finished
	ReasonSignedIn     = "signed_in"
	ReasonThrottled    = "throttled"
	ReasonUnknownEmail = "unknown_email"
	ReasonNoPassword   = "no_password"
	ReasonWrongPass    = "wrong_password"
	ReasonDisabled     = "member_disabled"
	ReasonIPNotAllowed = "ip_not_allowed"
	ReasonError        = "error"
	// ReasonVerified: a signed-in member gave their right current password
	// to change it. Neither a sign-in nor a failure.
	ReasonVerified = "password_verified"
)

// uncounted are failures that say nothing about guessing: counting refused
// attempts would let an attacker keep an account locked for ever, and
// counting our own errors would lock everyone out during an outage.
var uncounted = []string{ReasonThrottled, ReasonError, ReasonVerified}

type attemptRow struct {
	bun.BaseModel `bun:"table:sign_in_attempts"`

	ID       int64     `bun:"id,pk,autoincrement"`
	Email    string    `bun:"email,notnull"`
	MemberID int64     `bun:"member_id,nullzero"`
	IP       string    `bun:"ip,notnull"`
	Success  bool      `bun:"success,notnull"`
	Reason   string    `bun:"reason,notnull"`
	At       time.Time `bun:"at,notnull"`
}

// Attempt is a sign-in attempt that Begin let through; finish it with
// Succeed or Fail.
type Attempt struct {
	ID    int64
	Email string
	IP    netip.Addr
	At    time.Time
}

// Throttle records sign-in attempts in sign_in_attempts and refuses new ones
// once too many have failed.
//
// A success clears the per-email count (only failures after the account's
// last success count): whoever succeeds knows the password, so there is
// nothing left to protect, and the owner is not locked out by their own
// earlier typos. A success never clears the per-IP count: otherwise an
// attacker could alternate guesses on victims with sign-ins to an account of
// their own and never reach the limit.
type Throttle struct {
	DB     bun.IDB
	Limits ThrottleLimits   // the zero value means DefaultThrottleLimits
	Now    func() time.Time // nil means time.Now
}

// NewThrottle returns a throttle on db with the default limits.
func NewThrottle(db bun.IDB) *Throttle {
	return &Throttle{DB: db, Limits: DefaultThrottleLimits()}
}

func (t *Throttle) limits() ThrottleLimits {
	if t.Limits == (ThrottleLimits{}) {
		return DefaultThrottleLimits()
	}
	lim := t.Limits
	if lim.Window <= 0 {
		lim.Window = DefaultThrottleLimits().Window
	}
	return lim
}

// Begin records an attempt for email from ip and then counts the failures
// before it, in-progress attempts included, so that parallel guesses cannot
// all slip past the check while the password hashes are computed. Over a
// limit, the attempt is recorded as throttled and a TooMany fault
// "too_many_attempts" says when to retry.
func (t *Throttle) Begin(ctx context.Context, email string, ip netip.Addr) (Attempt, error) {
	email = normalizeEmail(email)
	now := clockNow(t.Now)
	row := attemptRow{Email: email, IP: ThrottleKey(ip), Reason: ReasonPending, At: now}
	if _, err := t.DB.NewInsert().Model(&row).Returning("id").Exec(ctx); err != nil {
		return Attempt{}, fmt.Errorf("record sign-in attempt: %w", err)
	}
	a := Attempt{ID: row.ID, Email: email, IP: ip, At: now}

	lim := t.limits()
	since := now.Add(-lim.Window)
	lastSuccess, err := t.lastSuccess(ctx, email, since)
	if err != nil {
		return Attempt{}, err
	}
	emailSince := since
	if lastSuccess.After(since) {
		emailSince = lastSuccess
	}
	retry, err := t.retryAfter(ctx, row.ID, "email", email, emailSince, lim.PerEmail, lim.Window, now)
	if err != nil {
		return Attempt{}, err
	}
	if row.IP != "" {
		ipRetry, err := t.retryAfter(ctx, row.ID, "ip", row.IP, since, lim.PerIP, lim.Window, now)
		if err != nil {
			return Attempt{}, err
		}
		retry = max(retry, ipRetry)
	}
	if retry > 0 {
		if err := t.finish(ctx, a, 0, false, ReasonThrottled); err != nil {
			return Attempt{}, err
		}
		return Attempt{}, &fault.Error{Kind: fault.TooMany, Code: "too_many_attempts",
			Message:           "Too many failed sign-in attempts. Try again later.",
			RetryAfterSeconds: int(math.Ceil(retry.Seconds()))}
	}
	return a, nil
}

// Succeed records that the attempt signed memberID in.
func (t *Throttle) Succeed(ctx context.Context, a Attempt, memberID int64) error {
	return t.finish(ctx, a, memberID, true, ReasonSignedIn)
}

// Fail records why the attempt failed; memberID is 0 when the email is unknown.
func (t *Throttle) Fail(ctx context.Context, a Attempt, memberID int64, reason string) error {
	return t.finish(ctx, a, memberID, false, reason)
}

func (t *Throttle) finish(ctx context.Context, a Attempt, memberID int64, success bool, reason string) error {
	q := t.DB.NewUpdate().Model((*attemptRow)(nil)).
		Set("success = ?", success).Set("reason = ?", reason).Where("id = ?", a.ID)
	if memberID != 0 {
		q = q.Set("member_id = ?", memberID)
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("record sign-in attempt %d as %s: %w", a.ID, reason, err)
	}
	return nil
}

// Prune deletes the attempts that did not sign in (failed, throttled, or
// never finished) once too old to count against any account or address (at
// or before the start of the window), and returns how many went. Successful
// sign-ins stay: one per real sign-in, they are the login report's record
// (RPT-2), while failures are as many as anyone cares to send. The hub
// prunes every hub.PruneEvery.
func (t *Throttle) Prune(ctx context.Context) (int64, error) {
	res, err := t.DB.NewDelete().Model((*attemptRow)(nil)).Where("success = ?", false).
		Where("at <= ?", clockNow(t.Now).Add(-t.limits().Window)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune sign-in attempts: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func (t *Throttle) lastSuccess(ctx context.Context, email string, since time.Time) (time.Time, error) {
	var row attemptRow
	err := t.DB.NewSelect().Model(&row).Column("at").
		Where("email = ?", email).Where("success = ?", true).Where("at > ?", since).
		OrderExpr("at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last successful sign-in: %w", err)
	}
	return row.At.UTC(), nil
}

// retryAfter counts the failures with column = value after since (other than
// the attempt self) and, at limit or more, returns how long until enough of
// them leave the window to let one attempt through; else 0.
func (t *Throttle) retryAfter(ctx context.Context, self int64, column, value string, since time.Time, limit int, window time.Duration, now time.Time) (time.Duration, error) {
	failures := func() *bun.SelectQuery {
		return t.DB.NewSelect().Model((*attemptRow)(nil)).
			Where("? = ?", bun.Ident(column), value).
			Where("success = ?", false).
			Where("reason NOT IN (?)", bun.In(uncounted)).
			Where("at > ?", since).
			Where("id <> ?", self)
	}
	if limit <= 0 {
		return 0, nil
	}
	// Concurrent attempts change the failures between the count and the
	// look-up of the oldest (a pending one turns out throttled and stops
	// counting), so a look-up that finds nothing counts again.
	var oldest attemptRow
	for try := 0; ; try++ {
		count, err := failures().Count(ctx)
		if err != nil {
			return 0, fmt.Errorf("count failed sign-ins by %s: %w", column, err)
		}
		n := int(count)
		if n < limit {
			return 0, nil
		}
		// Once the n-limit+1 oldest failures have left the window, n-1 < limit remain.
		err = failures().Column("at").OrderExpr("at ASC, id ASC").Offset(int64(n-limit)).Limit(1).Scan(ctx, &oldest)
		if err == nil {
			break
		}
		if !errors.Is(err, sql.ErrNoRows) || try == 4 {
			return 0, fmt.Errorf("oldest failed sign-in by %s: %w", column, err)
		}
	}
	return max(oldest.At.Add(window).Sub(now), time.Second), nil
}
