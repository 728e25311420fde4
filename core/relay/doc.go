// Package relay owns the live channel of a session: the websocket endpoints of customers and technicians, the message log
// (session_messages, with per-session sequence numbers) and collaboration (session_collaborators); every message is stored before it is acknowledged.
// It must not change session state itself (it asks core/sessions through the Sessions interface) and never stores binary frames.
package relay
