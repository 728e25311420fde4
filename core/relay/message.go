package relay

import (
	"encoding/json"
	"time"
)

// Kind is what a logged message is.
type Kind string

const (
	KindChat       Kind = "chat"        // chat text, to everyone or to technicians only
	KindNote       Kind = "note"        // technician note, never shown to the customer
	KindSystem     Kind = "system"      // SESS-13: connecting, connected, transferred, ended ...
	KindURL        Kind = "url"         // a URL pushed by a technician
	KindFileOffer  Kind = "file_offer"  // a file offered, with its SHA-256 (SEC)
	KindFileAccept Kind = "file_accept" // the other side accepted an offer
	KindFileDone   Kind = "file_done"   // the relay saw all bytes of an offer and hashed them
	KindChatToggle Kind = "chat_toggle" // a technician turned chat on or off
	KindCollab     Kind = "collab"      // SESS-12: invited, joined, left
)

var kinds = map[Kind]bool{
	KindChat: true, KindNote: true, KindSystem: true, KindURL: true, KindFileOffer: true,
	KindFileAccept: true, KindFileDone: true, KindChatToggle: true, KindCollab: true,
}

// SenderKind says who wrote a message.
type SenderKind string

const (
	SenderCustomer   SenderKind = "customer"
	SenderTechnician SenderKind = "technician"
	SenderSystem     SenderKind = "system"
)

// Audience says who may read a message. There are only two: a
// collaborator's own log is not an audience but a window of the session log
// (see Collaboration.LogFor), so nothing is written twice.
type Audience string

const (
	AudienceAll         Audience = "all"         // customer and technicians
	AudienceTechnicians Audience = "technicians" // owner and collaborators only
)

// Message is one entry of a session's log. Seq numbers a session's messages
// 1, 2, 3 ... without gaps; a viewer may see gaps where messages are hidden
// from it.
type Message struct {
	Seq        int64           `json:"seq"`
	SessionID  int64           `json:"session_id"`
	Kind       Kind            `json:"kind"`
	SenderKind SenderKind      `json:"sender_kind"`
	SenderID   int64           `json:"sender_id"`
	Audience   Audience        `json:"audience"`
	Body       string          `json:"body"`
	Payload    json.RawMessage `json:"payload"`
	CreatedAt  time.Time       `json:"created_at"`
	// ClientMsgID is the sender's idempotency key. It is stored inside the
	// payload, so a re-sent message is found again after a restart.
	ClientMsgID string `json:"client_msg_id,omitempty"`
}

// Viewer is who reads the log.
type Viewer struct {
	Kind SenderKind // SenderCustomer or SenderTechnician
	ID   int64      // the technician's member ID; 0 for the customer
}

// CustomerViewer is the session's customer.
func CustomerViewer() Viewer { return Viewer{Kind: SenderCustomer} }

// TechnicianViewer is a technician who owns or collaborates on the session;
// whether they may open the session at all is decided before reading.
func TechnicianViewer(id int64) Viewer { return Viewer{Kind: SenderTechnician, ID: id} }

// CanSee reports whether v may read m: customers see only what is addressed
// to everyone (never notes, never technician-only chat); technicians see all.
func (v Viewer) CanSee(m Message) bool {
	if v.Kind == SenderTechnician {
		return true
	}
	return m.Audience == AudienceAll && m.Kind != KindNote
}

// FileOffer is the payload of a file_offer message.
type FileOffer struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// FileAccept is the payload of a file_accept message.
type FileAccept struct {
	OfferSeq int64  `json:"offer_seq"`
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// FileDone is the payload of a file_done message: the hash the relay
// computed over the bytes it carried, and whether it matched the offer.
type FileDone struct {
	OfferSeq int64  `json:"offer_seq"`
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Verified bool   `json:"verified"`
}

// ChatToggle is the payload of a chat_toggle message.
type ChatToggle struct {
	Enabled bool `json:"enabled"`
}

// Collab actions.
const (
	CollabInvited = "invited"
	CollabJoined  = "joined"
	CollabLeft    = "left"
)

// CollabEvent is the payload of a collab message.
type CollabEvent struct {
	Action       string `json:"action"`
	TechnicianID int64  `json:"technician_id"`
	By           int64  `json:"by,omitempty"`
}
