// Package queue owns queue policy (Q-*, SESS-8, SESS-11, SESS-16): its settings sections, technician presence (technician_presence),
// durable session timers (session_timers), auto-start picking, waiting-time estimates and SMTP mail for Q-3.
// It never reads or changes sessions or the organisation tree itself: callers pass the facts in and act on the answers.
package queue
