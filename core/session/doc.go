// Package session owns the session aggregate (SESS-4, SESS-5, SESS-8, RPT-3): its states, the legal
// transitions between them, the time buckets, and when the current state would time out.
// It is pure: no database, no I/O, no goroutines and no clock; every method is given the time.
package session
