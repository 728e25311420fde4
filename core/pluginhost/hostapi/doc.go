// Package hostapi is the hub as a plugin sees it: an sdk.Host scoped to one
// plugin (sessions it was sent or created, its own key-value space, its own
// metrics). It must not decide what a plugin may receive; the host does.
package hostapi
