package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
	"github.com/tetherhq/tether/sdk"
)

// claimed is a delivery this worker holds, with what recording its result
// needs.
type claimed struct {
	Delivery
	windowStart    time.Time
	windowAttempts int
}

// result is what came of one attempt.
type result struct {
	c        claimed
	outcome  Outcome
	res      sdk.Result // the plugin's answer, when it gave one
	errText  string     // for the attempt log: the plugin's message or the error
	at       time.Time  // when the attempt started
	duration time.Duration
	// interrupted: Run was stopped during the attempt; the delivery is
	// handed back to be sent again at once, without backoff.
	interrupted bool
}

// pendingPluginsStmt is pendingPlugins' query.
var pendingPluginsStmt = store.NewStatement(`WITH RECURSIVE p(plugin_id) AS (
	SELECT (SELECT min(plugin_id) FROM plugin_deliveries WHERE state = 'pending')
	UNION ALL
	SELECT (SELECT min(d.plugin_id) FROM plugin_deliveries d WHERE d.state = 'pending' AND d.plugin_id > p.plugin_id)
	FROM p WHERE p.plugin_id IS NOT NULL
)
SELECT plugin_id FROM p WHERE plugin_id IS NOT NULL`)

// claimStmt is claim's statement; on PostgreSQL rows another worker is
// claiming are skipped.
var claimStmt = store.NewStatementPG(claimText(""), claimText(" FOR UPDATE OF d SKIP LOCKED"))

func claimText(lock string) string {
	return `WITH due AS MATERIALIZED (
	SELECT d.id, d.session_id FROM plugin_deliveries d
	WHERE d.plugin_id = ? AND d.state = 'pending' AND d.next_at <= ?
	ORDER BY d.next_at, d.id LIMIT ?` + lock + `
), picked AS MATERIALIZED (
	SELECT due.id FROM due
	WHERE (SELECT o.id FROM plugin_deliveries o
		WHERE o.plugin_id = ? AND o.session_id = due.session_id AND o.state IN ('pending', 'running')
		AND o.id <> due.id LIMIT 1) IS NULL
)
UPDATE plugin_deliveries SET state = 'running',
	attempts = attempts + 1, window_attempts = window_attempts + 1,
	window_start = COALESCE(window_start, ?), lease_until = ?, claimed_by = ?
WHERE id IN (SELECT id FROM picked) AND state = 'pending'
RETURNING id, event_id, session_id, event_type, actor_id, payload, event_at,
	attempts, window_start, window_attempts`
}

// pendingPlugins lists the plugins with pending deliveries. It skips
// through the due index one plugin at a time, so it costs one probe per
// plugin however long the backlog is.
func (q *Queue) pendingPlugins(ctx context.Context) ([]string, error) {
	rows, err := pendingPluginsStmt.Query(ctx, q.cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("list plugins with pending deliveries: %w", err)
	}
	defer rows.Close()
	var plugins []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("list plugins with pending deliveries: %w", err)
		}
		plugins = append(plugins, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list plugins with pending deliveries: %w", err)
	}
	return plugins, nil
}

// claim takes up to n due deliveries of plugin in one statement: the
// pending ones whose time has come, oldest first, straight off the due
// index. Only a session's head is pending, so there is no order check per
// candidate. On PostgreSQL rows another worker is claiming are skipped,
// not waited for; SQLite has one writer at a time anyway. The pick is a
// CTE so that it runs once: as an IN subquery PostgreSQL may rescan it and
// update more than n rows.
//
// The guard: a picked delivery is taken only if no other delivery of its
// plugin and session is pending or running, one index probe for each of
// the at most n picked rows (after the LIMIT: the second CTE sees only
// them). The table keeps one head per session, but on PostgreSQL two
// transactions racing can briefly leave two pending (see repair); then
// neither is taken until repair has blocked the later one. So two
// deliveries of one session never run at once, whatever the table holds.
// The probe is a scalar subquery so that PostgreSQL cannot turn it into a
// join over every head of the table.
func (q *Queue) claim(ctx context.Context, plugin string, n int) ([]claimed, error) {
	now := q.now()
	rows, err := claimStmt.Query(ctx, q.cfg.DB, plugin, now, n, plugin, now, now.Add(q.cfg.Lease), q.cfg.Node)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of plugin %s: %w", plugin, err)
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		c := claimed{Delivery: Delivery{Plugin: plugin}, windowStart: now}
		var payload string
		var windowStart sql.NullTime
		err := rows.Scan(&c.ID, &c.EventID, &c.SessionID, &c.Type, &c.ActorID, &payload, &c.At,
			&c.Attempt, &windowStart, &c.windowAttempts)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries of plugin %s: %w", plugin, err)
		}
		c.StableID, c.Payload, c.At = StableID(c.EventID), json.RawMessage(payload), c.At.UTC()
		if windowStart.Valid {
			c.windowStart = windowStart.Time.UTC()
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries of plugin %s: %w", plugin, err)
	}
	return out, nil
}

// attempt runs Deliver once, turning a panic into an error.
func (q *Queue) attempt(ctx context.Context, c claimed) (r result) {
	r = result{c: c, at: q.now()}
	dctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	res, err := func() (res sdk.Result, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return q.cfg.Deliver(dctx, c.Delivery)
	}()
	r.duration = max(q.now().Sub(r.at), 0)
	switch {
	case err != nil && errors.Is(err, ErrSkip):
		r.outcome, r.errText = OutcomeSkipped, err.Error()
	case err != nil:
		r.outcome, r.errText = OutcomeError, err.Error()
		r.interrupted = ctx.Err() != nil
	case res.Outcome == sdk.Ack:
		r.outcome = OutcomeAck
	case res.Outcome == sdk.Retry:
		r.outcome, r.res, r.errText = OutcomeRetry, res, res.Message
	case res.Outcome == sdk.Permanent:
		r.outcome, r.res, r.errText = OutcomePermanent, res, res.Message
	default:
		r.outcome, r.errText = OutcomeError, fmt.Sprintf("plugin answered with unknown outcome %d", res.Outcome)
	}
	if r.interrupted {
		r.errText = "interrupted by hub shutdown: " + r.errText
	}
	r.errText = truncate(r.errText, maxErrorLen)
	return r
}

// verdict is what a result does to its delivery.
type verdict struct {
	state     State
	nextAt    time.Time // with Pending
	lastError string
}

// judge decides the delivery's next state from an attempt's result.
func (q *Queue) judge(r result, now time.Time) verdict {
	switch r.outcome {
	case OutcomeAck:
		return verdict{state: Delivered}
	case OutcomeSkipped:
		return verdict{state: Skipped, lastError: r.errText}
	case OutcomePermanent:
		return verdict{state: Failed, lastError: r.errText}
	}
	if r.interrupted {
		return verdict{state: Pending, nextAt: now, lastError: r.errText}
	}
	deadline := r.c.windowStart.Add(q.cfg.MaxAge)
	if !now.Before(deadline) {
		return verdict{state: Failed, lastError: truncate(fmt.Sprintf("gave up after retrying for %s: %s", q.cfg.MaxAge, r.errText), maxErrorLen)}
	}
	delay := r.res.RetryAfter
	if delay <= 0 {
		delay = q.Backoff(r.c.windowAttempts)
	}
	next := now.Add(delay)
	if next.After(deadline) {
		next = deadline // one last attempt when the window closes
	}
	return verdict{state: Pending, nextAt: next, lastError: r.errText}
}

// Backoff is the delay after the attempt-th failed attempt of a retry
// window (1, 2, ...): "full jitter", a random duration between zero and
// BackoffBase doubled attempt-1 times, at most BackoffCap.
func (q *Queue) Backoff(attempt int) time.Duration {
	ceiling := q.cfg.BackoffCap
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 62 {
		if d := q.cfg.BackoffBase << (attempt - 1); d > 0 && d>>(attempt-1) == q.cfg.BackoffBase && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(q.cfg.Rand(int64(ceiling) + 1))
}

// record writes a batch of results in one transaction: the attempts, then
// each delivery's new state, but only where the claim still holds (state
// running with the same attempt number), so a result that comes back
// after its lease was taken over changes nothing but the log. Each
// delivery that ends promotes the next one of its plugin and session, in
// the same transaction.
func (q *Queue) record(ctx context.Context, batch []result) error {
	now := q.now()
	attempts := make([]attemptRow, len(batch))
	verdicts := make([]verdict, len(batch))
	var delivered, skipped []result
	for i, r := range batch {
		attempts[i] = attemptRow{DeliveryID: r.c.ID, At: r.at, DurationMS: r.duration.Milliseconds(),
			Outcome: string(r.outcome), Error: r.errText}
		verdicts[i] = q.judge(r, now)
		switch verdicts[i].state {
		case Delivered:
			delivered = append(delivered, r)
		case Skipped:
			skipped = append(skipped, r)
		}
	}
	err := q.cfg.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&attempts).Exec(ctx); err != nil {
			return fmt.Errorf("insert attempts: %w", err)
		}
		ended, err := finishAll(ctx, tx, delivered, "state = 'delivered', delivered_at = ?, last_error = ''", now)
		if err != nil {
			return err
		}
		more, err := finishAll(ctx, tx, skipped, "state = 'skipped', last_error = ''")
		if err != nil {
			return err
		}
		ended = append(ended, more...)
		for i, r := range batch {
			switch v := verdicts[i]; v.state {
			case Failed:
				ok, err := finishOne(ctx, tx, r, "state = 'failed', last_error = ?", v.lastError)
				if err != nil {
					return err
				}
				if ok {
					ended = append(ended, r.c.ID)
				}
			case Pending:
				if err := retryLater(ctx, tx, r, v); err != nil {
					return err
				}
			}
		}
		_, err = promote(ctx, tx, ended, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("record %d delivery results: %w", len(batch), err)
	}
	for i, r := range batch {
		q.observe(r, verdicts[i], now)
	}
	return nil
}

// finishAll moves many claimed deliveries to one final state with one
// statement, and returns the ids of those whose claim still held; set may
// use args.
func finishAll(ctx context.Context, tx bun.Tx, rs []result, set string, args ...any) ([]int64, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	claims := make([]byte, 0, 24*len(rs))
	for i, r := range rs {
		if i > 0 {
			claims = append(claims, ", "...)
		}
		claims = fmt.Appendf(claims, "(%d, %d)", r.c.ID, r.c.Attempt)
	}
	ids := make([]int64, 0, len(rs))
	err := tx.NewRaw(`UPDATE plugin_deliveries SET `+set+`, lease_until = NULL
WHERE state = 'running' AND (id, attempts) IN (VALUES `+string(claims)+`) RETURNING id`, args...).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("finish %d deliveries: %w", len(rs), err)
	}
	return ids, nil
}

// finishOne moves one claimed delivery to a final state, and reports
// whether its claim still held.
func finishOne(ctx context.Context, tx bun.Tx, r result, set string, args ...any) (bool, error) {
	args = append(args, r.c.ID, r.c.Attempt)
	res, err := tx.NewRaw(`UPDATE plugin_deliveries SET `+set+`, lease_until = NULL
WHERE id = ? AND attempts = ? AND state = 'running'`, args...).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("finish delivery %d: %w", r.c.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("finish delivery %d: %w", r.c.ID, err)
	}
	return n > 0, nil
}

// retryLater hands a delivery back for its next attempt. The later
// deliveries of its session stay blocked meanwhile.
func retryLater(ctx context.Context, tx bun.Tx, r result, v verdict) error {
	res, err := tx.NewRaw(`UPDATE plugin_deliveries SET state = 'pending', next_at = ?, last_error = ?, lease_until = NULL
WHERE id = ? AND attempts = ? AND state = 'running'`, v.nextAt, v.lastError, r.c.ID, r.c.Attempt).Exec(ctx)
	if err != nil {
		return fmt.Errorf("reschedule delivery %d: %w", r.c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return blockBehind(ctx, tx, []int64{r.c.ID})
}

// blockBehind blocks again the pending deliveries queued behind the
// deliveries ids, which were running and are pending again. Enqueue makes
// an event that arrives while its session's delivery runs pending (the
// claim's guard holds it); once the running one is handed back, the two
// would be two heads, each refused by the guard because of the other,
// until repair came by. In the handing back's transaction instead.
func blockBehind(ctx context.Context, tx bun.IDB, ids []int64) error {
	return inChunks(ids, func(list string, n int) error {
		if _, err := tx.NewRaw(`UPDATE plugin_deliveries SET state = 'blocked'
WHERE state = 'pending' AND EXISTS (SELECT 1 FROM plugin_deliveries h
	WHERE h.id IN (` + list + `) AND h.plugin_id = plugin_deliveries.plugin_id
	AND h.session_id = plugin_deliveries.session_id AND h.event_id < plugin_deliveries.event_id)`).Exec(ctx); err != nil {
			return fmt.Errorf("block the deliveries behind %d handed back: %w", n, err)
		}
		return nil
	})
}

// inChunks calls fn with ids as SQL lists ("1, 2, 3") of at most
// promoteChunk ids each, and n, how many the list names.
func inChunks(ids []int64, fn func(list string, n int) error) error {
	for lo := 0; lo < len(ids); lo += promoteChunk {
		chunk := ids[lo:min(lo+promoteChunk, len(ids))]
		list := make([]byte, 0, 8*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				list = append(list, ", "...)
			}
			list = strconv.AppendInt(list, id, 10)
		}
		if err := fn(string(list), len(chunk)); err != nil {
			return err
		}
	}
	return nil
}

// promoteChunk bounds the ids one promote or blockBehind statement names.
const promoteChunk = 500

// promote makes the next delivery of each (plugin, session) of the
// deliveries ids pending, due at now: the blocked one with the lowest event
// id, unless the session already has a pending or running one. It returns
// how many it promoted. The ids are those of deliveries that just ended or
// were replayed, in tx.
func promote(ctx context.Context, tx bun.IDB, ids []int64, now time.Time) (int, error) {
	total := 0
	err := inChunks(ids, func(list string, chunk int) error {
		res, err := tx.NewRaw(`UPDATE plugin_deliveries SET state = 'pending', next_at = ?
WHERE state = 'blocked' AND id IN (
	SELECT (SELECT b.id FROM plugin_deliveries b
		WHERE b.plugin_id = f.plugin_id AND b.session_id = f.session_id AND b.state = 'blocked'
		ORDER BY b.event_id LIMIT 1)
	FROM plugin_deliveries f
	WHERE f.id IN (`+list+`)
	AND (SELECT h.id FROM plugin_deliveries h
		WHERE h.plugin_id = f.plugin_id AND h.session_id = f.session_id AND h.state IN ('pending', 'running')
		LIMIT 1) IS NULL)`, now).Exec(ctx)
		if err != nil {
			return fmt.Errorf("promote the next deliveries of %d sessions: %w", chunk, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("promote the next deliveries of %d sessions: %w", chunk, err)
		}
		total += int(n)
		return nil
	})
	return total, err
}

// expireLeases hands back running deliveries whose lease has expired: their
// worker died or lost the database. Each gets an attempt logged as an error.
func (q *Queue) expireLeases(ctx context.Context) (int, error) {
	now := q.now()
	return q.handBack(ctx, "the delivery's lease expired before its result was recorded",
		"state = 'running' AND lease_until <= ?", now)
}

// handBack turns the running deliveries matched by where back to pending,
// due now, logging an error attempt for each.
func (q *Queue) handBack(ctx context.Context, why, where string, args ...any) (int, error) {
	now := q.now()
	var n int
	err := q.cfg.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var ids []int64
		err := tx.NewRaw(`UPDATE plugin_deliveries SET state = 'pending', next_at = ?, lease_until = NULL, last_error = ?
WHERE `+where+` RETURNING id`, append([]any{now, why}, args...)...).Scan(ctx, &ids)
		if err != nil {
			return err
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		if err := blockBehind(ctx, tx, ids); err != nil {
			return err
		}
		attempts := make([]attemptRow, n)
		for i, id := range ids {
			attempts[i] = attemptRow{DeliveryID: id, At: now, Outcome: string(OutcomeError), Error: why}
		}
		_, err = tx.NewInsert().Model(&attempts).Exec(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hand back running deliveries: %w", err)
	}
	if n > 0 {
		q.log.Warn("handed back running deliveries", "deliveries", n, "reason", why)
		q.Wake()
	}
	return n, nil
}

// maxErrorLen bounds the error texts kept, so a verbose failure cannot
// bloat the tables.
const maxErrorLen = 1000

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		n--
	}
	return s[:n] + "..."
}
