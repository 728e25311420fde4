package sessions

import (
	"fmt"
	"strings"

	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/store"
)

// The statements of a session's lifecycle, run prepared on PostgreSQL
// (store.Statement). Everything else goes through bun's query builder.

// rowColumns are the sessions columns a save or an insert writes, in the
// order of row.values. id, version, created_at, transmitted and tools_used
// are written by the statements themselves or by the relay.
var rowColumns = store.ColumnNames((*row)(nil), "id", "version", "created_at", "transmitted", "tools_used")

// values are r's values for rowColumns, in the row's field order.
func (r *row) values() []any {
	return []any{r.Kind, r.State, r.ChannelID, r.TechGroupID, r.TechnicianID, r.CreatorID,
		r.QueueKind, r.QueueID, r.PrevQueueKind, r.PrevQueueID, r.PIN, r.PINExpiresAt, r.CustomerName,
		r.CField0, r.CField1, r.CField2, r.CField3, r.CField4, r.CField5, r.TrackingID, r.ClientKind,
		r.Platform, r.Language, r.Test, r.CustomerSecretHash, r.Aggregate, r.UpdatedAt, r.EndedAt}
}

var (
	pending        = quotedStates(session.Pending)
	sessionColumns = store.Columns((*row)(nil), "")
)

var (
	// sessionByID and sessionByPIN load the session a change applies to.
	// They lock nothing: SQLite's transactions take the write lock when
	// they begin, and PostgreSQL's one-statement change (onestep.go)
	// writes only if the version it read is still the stored one.
	sessionByID  = store.NewStatement(`SELECT ` + sessionColumns + ` FROM sessions WHERE id = ?`)
	sessionByPIN = store.NewStatement(`SELECT ` + sessionColumns + ` FROM sessions WHERE pin = ? AND state = ` + pending + ` LIMIT 1`)
	// lockSessionBy* are the same in a PostgreSQL transaction that locks
	// the session: a change made again after it lost a race to another.
	// NO KEY UPDATE, not UPDATE: the row's key never changes, and a plain
	// FOR UPDATE would block the foreign-key checks of concurrent inserts
	// that reference the session (the relay's message and outbox rows),
	// which deadlocked with a transition appending its system message.
	lockSessionByID  = store.NewStatement(`SELECT ` + sessionColumns + ` FROM sessions WHERE id = ? FOR NO KEY UPDATE`)
	lockSessionByPIN = store.NewStatement(`SELECT ` + sessionColumns + ` FROM sessions WHERE pin = ? AND state = ` + pending + ` LIMIT 1 FOR NO KEY UPDATE`)

	// saveSession writes a changed session if nobody saved it meanwhile.
	saveSession = store.NewStatement(`UPDATE sessions SET ` + strings.Join(rowColumns, " = ?, ") +
		` = ?, version = version + 1 WHERE id = ? AND version = ?`)
	insertSession = store.NewStatement(`INSERT INTO sessions (` + strings.Join(rowColumns, ", ") +
		`, version, created_at) VALUES (` + store.Placeholders(len(rowColumns)+2) + `) RETURNING id`)

	// countActive counts the sessions a technician works on now
	// (activeStates). On PostgreSQL it counts each state apart: an
	// equality on both columns of the (technician_id, state) index is
	// always a condition of the index scan, where the generic plan of a
	// prepared `state IN (...)` may read every session the technician ever
	// had and filter the states afterwards (migration 15). SQLite's plan
	// for the list probes the index once per state.
	countActive = store.NewStatementPG(
		`SELECT count(*) FROM sessions WHERE technician_id = ? AND state IN (`+quotedStates(activeStates...)+`)`,
		`SELECT sum(c.n)::bigint FROM unnest(ARRAY[`+quotedStates(activeStates...)+`]::text[]) AS a(state), `+
			`LATERAL (SELECT count(*) AS n FROM sessions WHERE technician_id = ? AND state = a.state) c`)

	// lockActive is countActive in a transaction that, on PostgreSQL, then
	// holds the technician's capacity lock until it ends (claim.check).
	// tether_active_sessions (migration 15) names activeStates itself.
	lockActive = store.NewStatementPG(countActive.String(), `SELECT tether_active_sessions(?)`)

	// sessionWithRoute is sessionByID with the route rules gave the
	// session, for dispatching; the route's columns are NULL when it has
	// none.
	sessionWithRoute = store.NewStatement(`SELECT ` + store.Columns((*row)(nil), "s") + `, ` + routeColumns +
		` FROM sessions s LEFT JOIN session_routing r ON r.session_id = s.id WHERE s.id = ?`)

	routeOfSession = store.NewStatement(`SELECT ` + store.Columns((*routeRow)(nil), "") + ` FROM session_routing WHERE session_id = ?`)

	recentPINFailures = store.NewStatement(`SELECT at FROM pin_attempts WHERE ip = ? AND success = ? AND at > ? ORDER BY at LIMIT ?`)

	// waitingInChannels names its state and queue kind in the text: the
	// partial indexes on both (migration 13) serve only conditions the
	// planner sees, not parameters of a generic plan.
	waitingInChannels = store.NewStatement(`SELECT id, state, queue_kind, queue_id, aggregate FROM sessions WHERE state = ` +
		quotedStates(session.Waiting) + ` AND queue_kind = '` + QueueChannel + `'`)
)

// routeColumns select a route's columns as routedRow's embedded Route.
var routeColumns = func() string {
	names := store.ColumnNames((*routeRow)(nil))
	for i, n := range names {
		names[i] = "r." + n + " AS route_" + n
	}
	return strings.Join(names, ", ")
}()

// insertEvents inserts n outbox rows in one statement, returning their IDs
// in order.
var insertEvents = store.NewByCount(func(n int) string {
	return `INSERT INTO session_events (session_id, type, actor_id, payload, at) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ") + ` RETURNING id`
})

func quotedStates[S ~string](states ...S) string {
	q := make([]string, len(states))
	for i, s := range states {
		if strings.ContainsAny(string(s), `'\`) {
			panic(fmt.Sprintf("sessions: state %q cannot be quoted", s))
		}
		q[i] = "'" + string(s) + "'"
	}
	return strings.Join(q, ", ")
}
