// Package expiring holds values kept for a while in memory: each is good
// for a TTL the reader gives, and all are forgotten at once when what they
// were read from changes. It does no I/O and knows nothing of what it keeps.
package expiring
