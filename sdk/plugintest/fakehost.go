package plugintest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tetherhq/tether/sdk"
)

// FakeHost is an in-memory sdk.Host. Tests seed Sessions and read back what
// the plugin did (Notes, Fields, Surveys, KV, Metrics). It is safe for
// concurrent use. A plugin in another process calls it from gRPC
// goroutines the race detector cannot link to the test's, so tests read
// it through the locked accessors (NotesFor, MetricsEmitted, ...) rather
// than the fields.
type FakeHost struct {
	mu       sync.Mutex
	sessions map[int64]sdk.Session
	kv       map[string][]byte
	nextID   int64
	failures map[string]error

	Notes   map[int64][]string
	Surveys map[int64][]sdk.Survey
	Metrics []sdk.Metric
	Created []sdk.CreateSession
}

var _ sdk.Host = (*FakeHost)(nil)

// NewFakeHost returns an empty fake host.
func NewFakeHost() *FakeHost {
	return &FakeHost{sessions: map[int64]sdk.Session{}, kv: map[string][]byte{}, nextID: 1000,
		failures: map[string]error{}, Notes: map[int64][]string{}, Surveys: map[int64][]sdk.Survey{}}
}

// Fail makes every later call of the sdk.Host method named method
// ("AddNote", "KVGet", ...) return err, until Fail(method, nil). Wrap
// sdk.ErrNotFound, sdk.ErrPermission or sdk.ErrInvalid to see how the
// plugin takes the hub's refusals.
func (h *FakeHost) Fail(method string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.failures, method)
		return
	}
	if h.failures == nil {
		h.failures = map[string]error{}
	}
	h.failures[method] = err
}

// failure is the injected error of method; the caller holds h.mu.
func (h *FakeHost) failure(method string) error { return h.failures[method] }

// NotesFor returns the notes added to a session, in order.
func (h *FakeHost) NotesFor(sessionID int64) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.Notes[sessionID]...)
}

// SurveysFor returns the surveys recorded for a session, in order.
func (h *FakeHost) SurveysFor(sessionID int64) []sdk.Survey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Survey(nil), h.Surveys[sessionID]...)
}

// MetricsEmitted returns the metrics recorded so far, in order.
func (h *FakeHost) MetricsEmitted() []sdk.Metric {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Metric(nil), h.Metrics...)
}

// SessionsCreated returns the private-session requests, in order.
func (h *FakeHost) SessionsCreated() []sdk.CreateSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.CreateSession(nil), h.Created...)
}

// StoredSession returns a session as stored, all messages included.
func (h *FakeHost) StoredSession(id int64) (sdk.Session, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sessions[id]
	return s, ok
}

// PutSession stores or replaces a session.
func (h *FakeHost) PutSession(s sdk.Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[s.ID] = s
}

// Session returns a stored session with the messages after opts.MessagesAfter.
func (h *FakeHost) Session(_ context.Context, id int64, opts sdk.SessionOptions) (sdk.Session, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("Session"); err != nil {
		return sdk.Session{}, err
	}
	s, ok := h.sessions[id]
	if !ok {
		return sdk.Session{}, fmt.Errorf("session %d: %w", id, sdk.ErrNotFound)
	}
	var msgs []sdk.Message
	for _, m := range s.Messages {
		if m.Seq > opts.MessagesAfter {
			msgs = append(msgs, m)
		}
	}
	s.Messages = msgs
	return s, nil
}

// CreatePrivateSession records the request and returns a made-up PIN.
func (h *FakeHost) CreatePrivateSession(_ context.Context, req sdk.CreateSession) (sdk.CreatedSession, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("CreatePrivateSession"); err != nil {
		return sdk.CreatedSession{}, err
	}
	h.nextID++
	h.Created = append(h.Created, req)
	h.sessions[h.nextID] = sdk.Session{ID: h.nextID, Kind: "private", State: "pending", CFields: req.CFields, TrackingID: req.TrackingID}
	return sdk.CreatedSession{ID: h.nextID, PIN: fmt.Sprintf("%06d", h.nextID%1000000), ExpiresAt: time.Now().Add(20 * time.Minute)}, nil
}

// AddNote records a note.
func (h *FakeHost) AddNote(_ context.Context, sessionID int64, text string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("AddNote"); err != nil {
		return err
	}
	h.Notes[sessionID] = append(h.Notes[sessionID], text)
	return nil
}

// SetFields applies the update to the stored session.
func (h *FakeHost) SetFields(_ context.Context, sessionID int64, u sdk.FieldUpdate) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("SetFields"); err != nil {
		return err
	}
	s, ok := h.sessions[sessionID]
	if !ok {
		return fmt.Errorf("session %d: %w", sessionID, sdk.ErrNotFound)
	}
	if u.TrackingID != nil {
		s.TrackingID = *u.TrackingID
	}
	for i, v := range u.CFields {
		if i < 0 || i >= len(s.CFields) {
			return fmt.Errorf("cfields[%d]: index out of range 0..5: %w", i, sdk.ErrInvalid)
		}
		s.CFields[i] = v
	}
	h.sessions[sessionID] = s
	return nil
}

// RecordSurvey records survey answers.
func (h *FakeHost) RecordSurvey(_ context.Context, sessionID int64, sv sdk.Survey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("RecordSurvey"); err != nil {
		return err
	}
	h.Surveys[sessionID] = append(h.Surveys[sessionID], sv)
	return nil
}

// KVGet reads a key.
func (h *FakeHost) KVGet(_ context.Context, key string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("KVGet"); err != nil {
		return nil, false, err
	}
	v, ok := h.kv[key]
	return append([]byte(nil), v...), ok, nil
}

// KVSet writes a key.
func (h *FakeHost) KVSet(_ context.Context, key string, value []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("KVSet"); err != nil {
		return err
	}
	h.kv[key] = append([]byte(nil), value...)
	return nil
}

// KVDelete removes a key.
func (h *FakeHost) KVDelete(_ context.Context, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("KVDelete"); err != nil {
		return err
	}
	delete(h.kv, key)
	return nil
}

// Metric records a metric.
func (h *FakeHost) Metric(_ context.Context, m sdk.Metric) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.failure("Metric"); err != nil {
		return err
	}
	h.Metrics = append(h.Metrics, m)
	return nil
}
