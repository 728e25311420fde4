package sdk

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// ProtocolVersion is the plugin protocol this SDK speaks. The host refuses a
// plugin whose handshake names another.
const ProtocolVersion = 1

// Capability names as they appear in plugin.json and in Describe.
const (
	CapEvents  = "events"
	CapHTTP    = "http"
	CapCodec   = "codec"
	CapRouting = "routing"
)

// Description is what a running plugin says about itself. The host checks
// it against the manifest it installed.
type Description struct {
	ID           string
	Name         string
	Version      string
	Capabilities []string // filled in by Serve from the interfaces implemented
	Formats      []string // filled in by Serve from Codec.Formats
}

// Plugin is the one interface every plugin implements.
type Plugin interface {
	Describe() Description
}

// Provisioner receives the host API once, after the handshake and before
// any other call. Plugins that never call back into the hub skip it.
type Provisioner interface {
	Provision(ctx context.Context, host Host) error
}

// Configurer validates a unit's settings before the host saves them. The
// host has already checked them against the manifest's schema; Configure
// checks what the schema cannot say and returns a *ConfigError (see
// DecodeConfig) whose field errors the admin centre shows beside the inputs.
type Configurer interface {
	Configure(ctx context.Context, req ConfigureRequest) error
}

// ConfigureRequest carries one unit's settings as a JSON object, secrets
// included in clear.
type ConfigureRequest struct {
	UnitID   int64
	Settings json.RawMessage
}

// HealthChecker reports the plugin's own health; the host calls it every 30
// seconds besides its liveness ping. A non-nil error is shown to the admin.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// EventHandler receives the session events the manifest subscribes to.
type EventHandler interface {
	HandleEvent(ctx context.Context, e Event) Result
}

// HTTPHandler serves requests under /plugins/<id>/ on the hub. Request and
// response bodies are streamed.
type HTTPHandler interface {
	http.Handler
}

// Codec encodes a recording stream into a file format.
type Codec interface {
	Formats() []string
	Encode(ctx context.Context, format string, in io.Reader, out io.Writer) error
}

// RuleProvider ships routing rule files (expr rules, see docs/routing.md).
type RuleProvider interface {
	RuleFiles(ctx context.Context) ([]RuleFile, error)
}

// RuleFile is one versioned file of routing rules.
type RuleFile struct {
	Name    string
	Content []byte
}

// Event is one session event as the hub delivers it. ID is stable across
// redeliveries: receivers de-duplicate on it.
type Event struct {
	ID        string // "evt_<Seq>"
	Seq       int64  // the hub's outbox sequence; increasing per session
	Type      string // e.g. "session.picked_up", "session.closed", "message.chat"
	SessionID int64
	ActorID   int64 // member who caused it; 0 for the customer or the system
	At        time.Time
	Payload   json.RawMessage // event-specific JSON object
	UnitID    int64           // unit whose settings apply (technician group or channel)
	Config    json.RawMessage // the plugin's effective settings for UnitID, secrets in clear
	Attempt   int             // 1 on the first delivery
}

// Outcome is how a plugin answers an event.
type Outcome int

const (
	// Ack: handled; never sent again.
	Ack Outcome = iota
	// Retry: failed for now; the host retries with backoff (or after
	// RetryAfter when set) for up to three days.
	Retry
	// Permanent: failed for good; the delivery is marked failed at once
	// and can be replayed by an admin.
	Permanent
)

func (o Outcome) String() string {
	switch o {
	case Ack:
		return "ack"
	case Retry:
		return "retry"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// Result is a plugin's answer to one event.
type Result struct {
	Outcome    Outcome
	RetryAfter time.Duration // with Retry: the earliest next attempt; 0 = host's backoff
	Message    string        // shown in the delivery log; no secrets
}

// Acked is the result of a handled event.
func Acked() Result { return Result{Outcome: Ack} }

// RetryLater asks the host to try again, not before after (0 = host's backoff).
func RetryLater(after time.Duration, message string) Result {
	return Result{Outcome: Retry, RetryAfter: after, Message: message}
}

// Failed reports a permanent failure.
func Failed(message string) Result { return Result{Outcome: Permanent, Message: message} }

// Host is the hub as a plugin sees it, scoped to that plugin: it reads only
// sessions it was sent and its own key-value space.
type Host interface {
	// Session reads a session the plugin was sent an event for, with its
	// messages after MessagesAfter (0 = all).
	Session(ctx context.Context, id int64, opts SessionOptions) (Session, error)
	// CreatePrivateSession opens a private session for a technician and
	// returns its PIN (SESS-1).
	CreatePrivateSession(ctx context.Context, req CreateSession) (CreatedSession, error)
	// AddNote adds a technician note to a session.
	AddNote(ctx context.Context, sessionID int64, text string) error
	// SetFields sets a session's tracking ID and/or custom fields.
	SetFields(ctx context.Context, sessionID int64, update FieldUpdate) error
	// RecordSurvey stores survey answers for a session.
	RecordSurvey(ctx context.Context, sessionID int64, survey Survey) error
	// KVGet reads a key of the plugin's own store; ok is false when absent.
	KVGet(ctx context.Context, key string) (value []byte, ok bool, err error)
	// KVSet writes a key of the plugin's own store.
	KVSet(ctx context.Context, key string, value []byte) error
	// KVDelete removes a key; removing an absent key is not an error.
	KVDelete(ctx context.Context, key string) error
	// Metric records a value under tether_plugin_<name> in /metrics.
	Metric(ctx context.Context, m Metric) error
}

// SessionOptions narrows what Host.Session returns.
type SessionOptions struct {
	MessagesAfter int64 // only messages with Seq > MessagesAfter
}

// Session is a session as the host API returns it (the fields of P2U-2).
type Session struct {
	ID          int64
	Kind        string // "private" | "channel"
	State       string
	StateLabel  string // the original's status words: "Waiting", "Closed by technician" ...
	ChannelID   int64
	TechGroupID int64
	Technician  *Technician // nil before pick-up
	// CFields[0] is the Name field; 1..5 the custom fields (org-wide names).
	CFields    [6]string
	TrackingID string
	Platform   string
	Language   string
	CreatedAt  time.Time
	// PickedUpAt is when it first went Active; ClosedAt when it ended.
	PickedUpAt   *time.Time
	ClosedAt     *time.Time
	LastActionAt *time.Time // technician's last action
	WaitingSecs  int64      // from Waiting to Active
	WorkSecs     int64      // technician's active work time so far
	Transmitted  int64      // bytes so far
	// TechSurvey holds the technician survey answers TSurvey0..9.
	TechSurvey [10]string
	Messages   []Message
}

// Technician is who handled a session.
type Technician struct {
	ID          int64
	SSOID       string
	Name        string
	Email       string
	Description string
}

// Message is one line of a session's log.
type Message struct {
	Seq        int64
	Kind       string // "chat" | "note" | "system" | ...
	SenderKind string // "customer" | "technician" | "system"
	SenderID   int64
	SenderName string
	Audience   string // "all" | "technicians"
	Text       string
	At         time.Time
}

// CreateSession asks for a private session.
type CreateSession struct {
	TechnicianID int64 // the technician the PIN belongs to
	CFields      [6]string
	TrackingID   string
}

// CreatedSession is a new private session and its PIN.
type CreatedSession struct {
	ID        int64
	PIN       string
	ExpiresAt time.Time
}

// FieldUpdate changes a session's fields; nil leaves a value as it is.
type FieldUpdate struct {
	TrackingID *string
	CFields    map[int]string // index 0..5
}

// Survey is a set of answers; Kind is "technician" or "customer".
type Survey struct {
	Kind    string
	Answers []string
}

// Metric is one observation. Kind is "counter" (Value is added) or "gauge"
// (Value is set).
type Metric struct {
	Name   string // [a-z_][a-z0-9_]*
	Kind   string
	Value  float64
	Labels map[string]string
}
