package session

// Kind says who started a session (SESS-1).
type Kind string

const (
	Private Kind = "private" // started by a technician: the customer joins with a PIN
	Channel Kind = "channel" // started by the customer from a channel link or form
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool { return k == Private || k == Channel }

// State is where a session is in its life (SESS-4). The stored values are Tether's own
// snake_case words; Label gives the original product's status words for answers.
type State string

const (
	Pending      State = "pending" // private session: PIN issued, customer not yet joined
	Connecting   State = "connecting"
	Waiting      State = "waiting"
	Active       State = "active"
	OnHold       State = "on_hold"
	Transferring State = "transferring"
	Rebooting    State = "rebooting"
	Reconnecting State = "reconnecting"
	Closed       State = "closed"
	TimedOut     State = "timed_out"
)

// Valid reports whether st is one of the known states, e.g. for a value read back from storage.
func (st State) Valid() bool {
	switch st {
	case Pending, Connecting, Waiting, Active, OnHold, Transferring, Rebooting, Reconnecting,
		Closed, TimedOut:
		return true
	}
	return false
}

// Live reports whether a session in st can still change. Unknown states are not live.
func (st State) Live() bool { return st.Valid() && st != Closed && st != TimedOut }

// Label is the original product's status word for st, or "" for an unknown state.
func (st State) Label() string {
	switch st {
	case Pending:
		return "Pending"
	case Connecting:
		return "Connecting"
	case Waiting:
		return "Waiting"
	case Active:
		return "Active"
	case OnHold:
		return "On Hold"
	case Transferring:
		return "Transferring"
	case Rebooting:
		return "Rebooting"
	case Reconnecting:
		return "Reconnecting"
	case Closed:
		return "Closed"
	case TimedOut:
		return "Timed out"
	}
	return ""
}

// EndReason says why a session ended. It is empty while the session is live.
type EndReason string

const (
	ClosedByTechnician EndReason = "closed_by_technician"
	ClosedByCustomer   EndReason = "closed_by_customer"
	ClosedByAdmin      EndReason = "closed_by_admin"
	DeclinedTerms      EndReason = "declined_terms"     // SESS-6: a failed session
	CodeExpired        EndReason = "code_expired"       // SESS-8: the PIN was never used
	ConnectingTimeout  EndReason = "connecting_timeout" // SESS-8
	WaitingTimeout     EndReason = "waiting_timeout"    // SESS-8
	IdleTimeout        EndReason = "idle_timeout"       // SESS-8: no action from either side
	NoTechnician       EndReason = "no_technician"      // ended, customer sent to a URL
	Cancelled          EndReason = "cancelled"          // a private session closed while Pending
)

// Valid reports whether r is one of the known reasons.
func (r EndReason) Valid() bool {
	switch r {
	case ClosedByTechnician, ClosedByCustomer, ClosedByAdmin, DeclinedTerms, CodeExpired,
		ConnectingTimeout, WaitingTimeout, IdleTimeout, NoTechnician, Cancelled:
		return true
	}
	return false
}

// TargetKind is what a session is transferred to (SESS-10).
type TargetKind string

const (
	ToTechnician TargetKind = "technician"
	ToGroup      TargetKind = "group"
	ToChannel    TargetKind = "channel"
)

// Target is the queue a transferred session goes to.
type Target struct {
	Kind TargetKind `json:"kind"`
	ID   int64      `json:"id"`
}

// Valid reports whether t names a known kind of target with a positive ID.
func (t Target) Valid() bool {
	return (t.Kind == ToTechnician || t.Kind == ToGroup || t.Kind == ToChannel) && t.ID > 0
}
