package relay

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
)

// SessionInfo is what the relay needs to know about a session.
type SessionInfo struct {
	ID           int64
	State        string // the session's state name, passed through to clients
	Live         bool   // false once the session has ended: every right ends with it (SEC)
	CustomerName string
	TechnicianID int64 // the owner; 0 while nobody has picked the session up
}

// Role is how a technician takes part in a session.
type Role string

const (
	RoleOwner        Role = "owner"
	RoleCollaborator Role = "collaborator"
)

// Sessions is the part of core/sessions the relay uses; the relay never
// changes a session's state itself. Every method returns fault errors for
// refusals (Unauthorized, Forbidden, NotFound) and plain errors for failures.
type Sessions interface {
	// Customer finds the session of a customer's session secret; an unknown
	// secret is a fault Unauthorized.
	Customer(ctx context.Context, secret string) (SessionInfo, error)
	// Technician answers RoleOwner for the session's technician and
	// RoleCollaborator for one invited into it (Collaboration.Invited reads
	// that from session_collaborators); anyone else gets a fault Forbidden.
	Technician(ctx context.Context, sessionID, technicianID int64) (SessionInfo, Role, error)
	// Permissions are the technician's group permissions (ORG-7).
	Permissions(ctx context.Context, technicianID int64) (org.Permissions, error)
	// CustomerConnected is called when the customer's socket opens.
	CustomerConnected(ctx context.Context, sessionID int64) error
	// CustomerDisconnected is called when the customer's socket drops (not when
	// a newer socket replaced it, nor when the session ended): Active -> Reconnecting.
	CustomerDisconnected(ctx context.Context, sessionID int64) error
	// Activity records an action in the session by who: the session's last
	// action (the idle timeout of SESS-8, RPT-3) and, for a technician, their
	// own (the idle time of SESS-16: the console is where a technician acts).
	// A frame of any kind is an action, screen and file data included.
	// Called at most once per Limits.ActivityInterval per connection.
	Activity(ctx context.Context, sessionID int64, who Viewer) error
	// AddTransmitted adds relayed binary bytes to the session's total; called
	// in batches (Limits.TransmittedFlush) and when a socket closes.
	AddTransmitted(ctx context.Context, sessionID int64, bytes int64) error
	// ToolUsed records a console tool used in the session (SESS-14).
	ToolUsed(ctx context.Context, sessionID int64, tool string) error
}

// Outbox writes one event row for a message, inside the transaction that
// appends the message (db is that transaction). The relay uses the event type
// "message.<kind>" (message.chat, message.note, message.system, message.url,
// message.file_offer, message.file_accept, message.file_done,
// message.chat_toggle, message.collab), the sender as actor (0 for the
// system) and the Message as payload.
type Outbox func(ctx context.Context, db bun.IDB, sessionID int64, eventType string, actorID int64, payload any) error
