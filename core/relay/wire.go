package relay

// Frame types, client to server.
const (
	TypeResume     = "resume"
	TypeChat       = "chat"
	TypeNote       = "note"
	TypeURL        = "url"
	TypeFileOffer  = "file_offer"
	TypeFileAccept = "file_accept"
	TypeTool       = "tool"
	TypeChatToggle = "chat_toggle"
	TypeInvite     = "invite"
	TypeLeave      = "leave"
	TypeAck        = "ack"
	TypePing       = "ping"
)

// Frame types, server to client.
const (
	TypeHello   = "hello"
	TypeMessage = "message"
	TypeError   = "error"
	TypeState   = "state"
	TypePong    = "pong"
)

// Binary frame channels: the first byte of every binary frame.
const (
	BinaryScreen byte = 0x01 // screen frame; opaque to the relay
	BinaryFile   byte = 0x02 // file chunk: 8-byte big-endian offer seq, then data
)

// Close codes of the relay (besides the standard ones).
const (
	CloseReplaced    = 4001 // a newer socket of the same side took over; do not reconnect this one
	CloseEnded       = 4002 // the session ended; do not reconnect
	CloseTooSlow     = 4003 // the client did not keep up; reconnect and resume
	CloseNotAllowed  = 4004 // the technician is no longer in the session; do not reconnect
	CloseRateLimited = 4008 // too many refused frames; reconnect later and resume
)

// ClientFrame is any JSON frame a client sends; Type says which fields count.
type ClientFrame struct {
	Type        string `json:"type"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
	// chat, note
	Text     string   `json:"text,omitempty"`
	Audience Audience `json:"audience,omitempty"` // chat of technicians: "all" (default) or "technicians"
	// url
	URL string `json:"url,omitempty"`
	// file_offer (name, size, sha256); tool (name)
	Name   string `json:"name,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// file_accept
	OfferSeq int64 `json:"offer_seq,omitempty"`
	// chat_toggle
	Enabled *bool `json:"enabled,omitempty"`
	// invite
	TechnicianID int64 `json:"technician_id,omitempty"`
	// ack
	Seq int64 `json:"seq,omitempty"`
	// resume
	After *int64 `json:"after,omitempty"`
}

// ServerFrame decodes any JSON frame the server sends (for Go clients such as
// tether applet). A "message" frame carries the Message fields at the top
// level; an "ack" uses ClientMsgID and Seq; a "hello" uses SessionID.
type ServerFrame struct {
	Type string `json:"type"`
	Message
	// error
	Code  string `json:"code,omitempty"`
	Error string `json:"message,omitempty"`
	Ref   string `json:"ref,omitempty"`
	Field string `json:"field,omitempty"`
	// state, hello
	State string `json:"state,omitempty"`
	// hello
	Role        string `json:"role,omitempty"`
	ResumeAfter int64  `json:"resume_after,omitempty"`
	LastSeq     int64  `json:"last_seq,omitempty"`
	ChatEnabled bool   `json:"chat_enabled,omitempty"`
	ChatMode    string `json:"chat_mode,omitempty"`
}

// The frames the server encodes, each with only its own fields.
type (
	messageFrame struct {
		Type string `json:"type"`
		Message
	}
	ackFrame struct {
		Type        string `json:"type"`
		ClientMsgID string `json:"client_msg_id"`
		Seq         int64  `json:"seq"`
	}
	errorFrame struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Ref     string `json:"ref,omitempty"`
		Field   string `json:"field,omitempty"`
	}
	stateFrame struct {
		Type  string `json:"type"`
		State string `json:"state"`
	}
	helloFrame struct {
		Type        string `json:"type"`
		SessionID   int64  `json:"session_id"`
		Role        string `json:"role"`
		State       string `json:"state"`
		ResumeAfter int64  `json:"resume_after"`
		LastSeq     int64  `json:"last_seq"`
		ChatEnabled bool   `json:"chat_enabled"`
		ChatMode    string `json:"chat_mode,omitempty"`
	}
	pongFrame struct {
		Type string `json:"type"`
	}
)
