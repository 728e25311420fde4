package applet

import (
	"encoding/json"
	"strings"
)

// Speakers names the authors of messages as the customer sees them. The
// relay identifies technicians by member ID only; the name comes from the
// system message of the pickup ("Connected to Tina."), which is bound to
// the first technician other than a known collaborator who writes after it.
// Anyone it cannot name is "technician".
type Speakers struct {
	names         map[int64]string
	collaborators map[int64]bool
	pending       string // name of the technician who picked up, not yet bound to an ID
}

// Name returns the label of m's author: "you", "system", the technician's
// name, or "technician". Pass every message, in order, so that Speakers
// learns the names.
func (s *Speakers) Name(m Message) string {
	if s.names == nil {
		s.names, s.collaborators = map[int64]string{}, map[int64]bool{}
	}
	switch m.SenderKind {
	case "customer":
		return "you"
	case "technician":
	default:
		s.learn(m)
		return "system"
	}
	if m.Kind == "collab" {
		s.learn(m)
	}
	if n, ok := s.names[m.SenderID]; ok {
		return n
	}
	if s.collaborators[m.SenderID] || s.pending == "" {
		return "technician"
	}
	s.names[m.SenderID], s.pending = s.pending, ""
	return s.names[m.SenderID]
}

func (s *Speakers) learn(m Message) {
	var p struct {
		Event        string `json:"event"`
		Action       string `json:"action"`
		TechnicianID int64  `json:"technician_id"`
	}
	_ = json.Unmarshal(m.Payload, &p)
	switch {
	case m.Kind == "collab" && p.Action == "joined" && p.TechnicianID != 0:
		s.collaborators[p.TechnicianID] = true
	case m.Kind == "system" && p.Event == "session.picked_up":
		name, ok := strings.CutPrefix(m.Body, "Connected to ")
		name = strings.TrimSuffix(name, ".")
		if !ok || name == "" {
			return
		}
		for _, known := range s.names {
			if known == name {
				return // a technician we already know came back
			}
		}
		s.pending = name
	}
}
