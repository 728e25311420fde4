package delivery

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// The table keeps exactly one head (a pending or running delivery) per
// plugin and session with unfinished deliveries, and the others blocked
// behind it. Enqueue, record and replay keep it so, each in its own
// transaction; on PostgreSQL (read committed) two of them racing can
// still break it, which SQLite, one writer at a time, cannot:
//
//   - two transactions enqueueing for the same plugin and session at once
//     each see no unfinished delivery and both insert pending ones (the
//     hub's appends lock the session row, so they do not race that way,
//     but a replay racing an enqueue, or two nodes promoting at once, can
//     leave two heads too);
//   - an enqueue that saw the head unfinished commits its blocked
//     delivery after the head's end was recorded, which found nothing to
//     promote: the session is left with blocked deliveries and no head.
//
// Enqueue makes a delivery behind a running one pending on purpose (the
// claim's guard holds it until the running one ends); repair may block it
// meanwhile, which is harmless: by then it is committed, so the end of the
// running one promotes it. When the running one is handed back instead (a
// retry, an expired lease, an interrupted attempt), blockBehind blocks the
// one behind it in the same transaction, on both engines; before it did,
// that left two heads on SQLite too, each refused by the guard because of
// the other, until repair came by.
//
// repair, run beside the claims, undoes both: it blocks
// again every pending delivery of a session that has a running one or a
// pending one with a lower event id, and promotes the first blocked
// delivery of each session without a head. Order does not depend on it:
// the claim's guard takes no delivery while another of its session is
// pending or running, so the first race only delays the session until
// repair, and the second cannot break order at all. Finding the sessions
// costs two index scans, of the heads and of the blocked deliveries; then
// there is a statement per session to fix, normally none.

// repair fixes the sessions left with two heads or none, and returns how
// many deliveries it blocked and promoted.
func (q *Queue) repair(ctx context.Context) (blocked, promoted int, err error) {
	type session struct {
		PluginID  string `bun:"plugin_id"`
		SessionID int64  `bun:"session_id"`
	}
	var twoHeads, noHead []session
	err = q.cfg.DB.NewRaw(`SELECT plugin_id, session_id FROM plugin_deliveries
WHERE state IN ('pending', 'running')
GROUP BY plugin_id, session_id
HAVING count(*) > 1 AND sum(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) > 0`).Scan(ctx, &twoHeads)
	if err != nil {
		return 0, 0, fmt.Errorf("find sessions with two pending or running deliveries: %w", err)
	}
	err = q.cfg.DB.NewRaw(`SELECT g.plugin_id, g.session_id
FROM (SELECT DISTINCT plugin_id, session_id FROM plugin_deliveries WHERE state = 'blocked') g
WHERE NOT EXISTS (SELECT 1 FROM plugin_deliveries h
	WHERE h.plugin_id = g.plugin_id AND h.session_id = g.session_id AND h.state IN ('pending', 'running'))`).Scan(ctx, &noHead)
	if err != nil {
		return 0, 0, fmt.Errorf("find blocked deliveries with nothing before them: %w", err)
	}
	if len(twoHeads) == 0 && len(noHead) == 0 {
		return 0, 0, nil
	}
	now := q.now()
	err = q.cfg.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		blocked, promoted = 0, 0
		for _, s := range twoHeads {
			res, err := tx.NewRaw(`UPDATE plugin_deliveries SET state = 'blocked'
WHERE plugin_id = ? AND session_id = ? AND state = 'pending'
AND EXISTS (SELECT 1 FROM plugin_deliveries o
	WHERE o.plugin_id = plugin_deliveries.plugin_id AND o.session_id = plugin_deliveries.session_id
	AND o.state IN ('pending', 'running') AND (o.state = 'running' OR o.event_id < plugin_deliveries.event_id))`,
				s.PluginID, s.SessionID).Exec(ctx)
			if err != nil {
				return fmt.Errorf("block the later pending deliveries of plugin %s, session %d: %w", s.PluginID, s.SessionID, err)
			}
			n, _ := res.RowsAffected()
			blocked += int(n)
		}
		for _, s := range noHead {
			res, err := tx.NewRaw(`UPDATE plugin_deliveries SET state = 'pending', next_at = ?
WHERE state = 'blocked' AND id = (SELECT b.id FROM plugin_deliveries b
	WHERE b.plugin_id = ? AND b.session_id = ? AND b.state = 'blocked' ORDER BY b.event_id LIMIT 1)
AND NOT EXISTS (SELECT 1 FROM plugin_deliveries h
	WHERE h.plugin_id = ? AND h.session_id = ? AND h.state IN ('pending', 'running'))`,
				now, s.PluginID, s.SessionID, s.PluginID, s.SessionID).Exec(ctx)
			if err != nil {
				return fmt.Errorf("promote the first blocked delivery of plugin %s, session %d: %w", s.PluginID, s.SessionID, err)
			}
			n, _ := res.RowsAffected()
			promoted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("repair the order of deliveries: %w", err)
	}
	if blocked > 0 || promoted > 0 {
		q.log.Debug("repaired the heads of delivery sessions", "blocked", blocked, "promoted", promoted)
	}
	if promoted > 0 {
		q.Wake()
	}
	return blocked, promoted, nil
}
