// Package sessions stores support sessions and moves them through the
// core/session state machine: private sessions by PIN, channel sessions by
// form, terms, pick-up, hold, transfer and close, each change written with its
// outbox event in one transaction. It owns sessions, session_events and pin_attempts.
package sessions
