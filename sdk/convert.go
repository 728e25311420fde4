package sdk

import (
	"fmt"
	"net/http"
	"time"

	pluginv1 "github.com/tetherhq/tether/sdk/proto/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Conversions between the sdk types and the v1 wire messages. Each pair is
// exact: a value that goes out comes back equal (times in UTC).

func eventToProto(e Event) *pluginv1.HandleEventRequest {
	return &pluginv1.HandleEventRequest{
		Id:        e.ID,
		Seq:       e.Seq,
		Type:      e.Type,
		SessionId: e.SessionID,
		ActorId:   e.ActorID,
		At:        timeToProto(e.At),
		Payload:   e.Payload,
		UnitId:    e.UnitID,
		Config:    e.Config,
		Attempt:   int32(e.Attempt),
	}
}

func eventFromProto(m *pluginv1.HandleEventRequest) Event {
	return Event{
		ID:        m.GetId(),
		Seq:       m.GetSeq(),
		Type:      m.GetType(),
		SessionID: m.GetSessionId(),
		ActorID:   m.GetActorId(),
		At:        timeFromProto(m.GetAt()),
		Payload:   m.GetPayload(),
		UnitID:    m.GetUnitId(),
		Config:    m.GetConfig(),
		Attempt:   int(m.GetAttempt()),
	}
}

func resultToProto(r Result) *pluginv1.HandleEventResponse {
	out := &pluginv1.HandleEventResponse{RetryAfterMs: r.RetryAfter.Milliseconds(), Message: r.Message}
	switch r.Outcome {
	case Ack:
		out.Outcome = pluginv1.Outcome_OUTCOME_ACK
	case Retry:
		out.Outcome = pluginv1.Outcome_OUTCOME_RETRY
	case Permanent:
		out.Outcome = pluginv1.Outcome_OUTCOME_PERMANENT
	}
	return out
}

func resultFromProto(m *pluginv1.HandleEventResponse) (Result, error) {
	r := Result{RetryAfter: time.Duration(m.GetRetryAfterMs()) * time.Millisecond, Message: m.GetMessage()}
	switch m.GetOutcome() {
	case pluginv1.Outcome_OUTCOME_ACK:
		r.Outcome = Ack
	case pluginv1.Outcome_OUTCOME_RETRY:
		r.Outcome = Retry
	case pluginv1.Outcome_OUTCOME_PERMANENT:
		r.Outcome = Permanent
	default:
		return Result{}, fmt.Errorf("plugin answered the event with outcome %v (message %q)", m.GetOutcome(), m.GetMessage())
	}
	return r, nil
}

// timeToProto keeps the zero time distinct from an absent one: zero goes
// out as year 1 and comes back as the zero time.
func timeToProto(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func optTimeToProto(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func optTimeFromProto(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime()
	return &t
}

func sessionToProto(s Session) *pluginv1.Session {
	out := &pluginv1.Session{
		Id:           s.ID,
		Kind:         s.Kind,
		State:        s.State,
		StateLabel:   s.StateLabel,
		ChannelId:    s.ChannelID,
		TechGroupId:  s.TechGroupID,
		Cfields:      s.CFields[:],
		TrackingId:   s.TrackingID,
		Platform:     s.Platform,
		Language:     s.Language,
		CreatedAt:    timeToProto(s.CreatedAt),
		PickedUpAt:   optTimeToProto(s.PickedUpAt),
		ClosedAt:     optTimeToProto(s.ClosedAt),
		LastActionAt: optTimeToProto(s.LastActionAt),
		WaitingSecs:  s.WaitingSecs,
		WorkSecs:     s.WorkSecs,
		Transmitted:  s.Transmitted,
		TechSurvey:   s.TechSurvey[:],
	}
	if t := s.Technician; t != nil {
		out.Technician = &pluginv1.Technician{Id: t.ID, SsoId: t.SSOID, Name: t.Name, Email: t.Email, Description: t.Description}
	}
	for _, m := range s.Messages {
		out.Messages = append(out.Messages, &pluginv1.SessionMessage{
			Seq: m.Seq, Kind: m.Kind, SenderKind: m.SenderKind, SenderId: m.SenderID,
			SenderName: m.SenderName, Audience: m.Audience, Text: m.Text, At: timeToProto(m.At),
		})
	}
	return out
}

func sessionFromProto(m *pluginv1.Session) Session {
	s := Session{
		ID:           m.GetId(),
		Kind:         m.GetKind(),
		State:        m.GetState(),
		StateLabel:   m.GetStateLabel(),
		ChannelID:    m.GetChannelId(),
		TechGroupID:  m.GetTechGroupId(),
		TrackingID:   m.GetTrackingId(),
		Platform:     m.GetPlatform(),
		Language:     m.GetLanguage(),
		CreatedAt:    timeFromProto(m.GetCreatedAt()),
		PickedUpAt:   optTimeFromProto(m.GetPickedUpAt()),
		ClosedAt:     optTimeFromProto(m.GetClosedAt()),
		LastActionAt: optTimeFromProto(m.GetLastActionAt()),
		WaitingSecs:  m.GetWaitingSecs(),
		WorkSecs:     m.GetWorkSecs(),
		Transmitted:  m.GetTransmitted(),
	}
	copy(s.CFields[:], m.GetCfields())
	copy(s.TechSurvey[:], m.GetTechSurvey())
	if t := m.GetTechnician(); t != nil {
		s.Technician = &Technician{ID: t.GetId(), SSOID: t.GetSsoId(), Name: t.GetName(), Email: t.GetEmail(), Description: t.GetDescription()}
	}
	for _, msg := range m.GetMessages() {
		s.Messages = append(s.Messages, Message{
			Seq: msg.GetSeq(), Kind: msg.GetKind(), SenderKind: msg.GetSenderKind(), SenderID: msg.GetSenderId(),
			SenderName: msg.GetSenderName(), Audience: msg.GetAudience(), Text: msg.GetText(), At: timeFromProto(msg.GetAt()),
		})
	}
	return s
}

func headersToProto(h http.Header) []*pluginv1.HTTPHeader {
	out := make([]*pluginv1.HTTPHeader, 0, len(h))
	for name, values := range h {
		out = append(out, &pluginv1.HTTPHeader{Name: name, Values: values})
	}
	return out
}

// headersFromProto adds the headers to h as they are: names were already
// canonical (or deliberately not) on the sending side.
func headersFromProto(h http.Header, hs []*pluginv1.HTTPHeader) {
	for _, hd := range hs {
		h[hd.GetName()] = append(h[hd.GetName()], hd.GetValues()...)
	}
}
