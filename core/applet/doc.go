// Package applet is the customer side of Tether as a Go library: join a session by PIN or channel, answer the terms, follow the queue, and chat over the relay.
// It keeps a relay connection alive across network drops (resume by seq, re-send by client_msg_id) and hands each message to the caller exactly once.
// It speaks only the public REST and websocket protocol (docs/api.md, docs/relay-protocol.md) and must not import the hub's packages.
package applet
