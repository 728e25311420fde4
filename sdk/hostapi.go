package sdk

import (
	"context"
	"fmt"

	pluginv1 "github.com/tetherhq/tether/sdk/proto/v1"
)

// hostClient is the Host a plugin gets: each method is one call of the
// Host service that the hub serves over the broker.
type hostClient struct {
	rpc pluginv1.HostClient
}

var _ Host = (*hostClient)(nil)

// hostError names the host API call that failed; the cause keeps the
// host's text and unwraps to ErrNotFound, ErrPermission or ErrInvalid.
func hostError(call string, err error) error {
	return fmt.Errorf("host %s: %w", call, fromStatus(err))
}

func (h *hostClient) Session(ctx context.Context, id int64, opts SessionOptions) (Session, error) {
	resp, err := h.rpc.GetSession(ctx, &pluginv1.GetSessionRequest{SessionId: id, MessagesAfter: opts.MessagesAfter})
	if err != nil {
		return Session{}, hostError("Session", err)
	}
	return sessionFromProto(resp.GetSession()), nil
}

func (h *hostClient) CreatePrivateSession(ctx context.Context, req CreateSession) (CreatedSession, error) {
	resp, err := h.rpc.CreatePrivateSession(ctx, &pluginv1.CreatePrivateSessionRequest{
		TechnicianId: req.TechnicianID, Cfields: req.CFields[:], TrackingId: req.TrackingID,
	})
	if err != nil {
		return CreatedSession{}, hostError("CreatePrivateSession", err)
	}
	return CreatedSession{ID: resp.GetSessionId(), PIN: resp.GetPin(), ExpiresAt: timeFromProto(resp.GetExpiresAt())}, nil
}

func (h *hostClient) AddNote(ctx context.Context, sessionID int64, text string) error {
	if _, err := h.rpc.AddNote(ctx, &pluginv1.AddNoteRequest{SessionId: sessionID, Text: text}); err != nil {
		return hostError("AddNote", err)
	}
	return nil
}

func (h *hostClient) SetFields(ctx context.Context, sessionID int64, u FieldUpdate) error {
	req := &pluginv1.SetFieldsRequest{SessionId: sessionID, TrackingId: u.TrackingID}
	if len(u.CFields) > 0 {
		req.Cfields = make(map[int32]string, len(u.CFields))
		for i, v := range u.CFields {
			// Checked here because a wider index would wrap on the wire.
			if i < 0 || i > 5 {
				return fmt.Errorf("host SetFields: cfields index %d out of range 0..5: %w", i, ErrInvalid)
			}
			req.Cfields[int32(i)] = v
		}
	}
	if _, err := h.rpc.SetFields(ctx, req); err != nil {
		return hostError("SetFields", err)
	}
	return nil
}

func (h *hostClient) RecordSurvey(ctx context.Context, sessionID int64, s Survey) error {
	if _, err := h.rpc.RecordSurvey(ctx, &pluginv1.RecordSurveyRequest{SessionId: sessionID, Kind: s.Kind, Answers: s.Answers}); err != nil {
		return hostError("RecordSurvey", err)
	}
	return nil
}

func (h *hostClient) KVGet(ctx context.Context, key string) ([]byte, bool, error) {
	resp, err := h.rpc.KVGet(ctx, &pluginv1.KVGetRequest{Key: key})
	if err != nil {
		return nil, false, hostError("KVGet", err)
	}
	if !resp.GetFound() {
		return nil, false, nil
	}
	// An empty value arrives as nil; a present key still reads as non-nil.
	v := resp.GetValue()
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

func (h *hostClient) KVSet(ctx context.Context, key string, value []byte) error {
	if _, err := h.rpc.KVSet(ctx, &pluginv1.KVSetRequest{Key: key, Value: value}); err != nil {
		return hostError("KVSet", err)
	}
	return nil
}

func (h *hostClient) KVDelete(ctx context.Context, key string) error {
	if _, err := h.rpc.KVDelete(ctx, &pluginv1.KVDeleteRequest{Key: key}); err != nil {
		return hostError("KVDelete", err)
	}
	return nil
}

func (h *hostClient) Metric(ctx context.Context, m Metric) error {
	req := &pluginv1.EmitMetricRequest{Name: m.Name, Kind: m.Kind, Value: m.Value, Labels: m.Labels}
	if _, err := h.rpc.EmitMetric(ctx, req); err != nil {
		return hostError("Metric", err)
	}
	return nil
}

// hostServer runs in the hub, one per plugin, and serves the Host service
// from the sdk.Host the hub scoped to that plugin.
type hostServer struct {
	pluginv1.UnimplementedHostServer
	host Host
}

func (s *hostServer) GetSession(ctx context.Context, req *pluginv1.GetSessionRequest) (*pluginv1.GetSessionResponse, error) {
	sess, err := s.host.Session(ctx, req.GetSessionId(), SessionOptions{MessagesAfter: req.GetMessagesAfter()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.GetSessionResponse{Session: sessionToProto(sess)}, nil
}

func (s *hostServer) CreatePrivateSession(ctx context.Context, req *pluginv1.CreatePrivateSessionRequest) (*pluginv1.CreatePrivateSessionResponse, error) {
	in := CreateSession{TechnicianID: req.GetTechnicianId(), TrackingID: req.GetTrackingId()}
	if n := len(req.GetCfields()); n > len(in.CFields) {
		return nil, toStatus(fmt.Errorf("create private session: %d cfields, at most %d: %w", n, len(in.CFields), ErrInvalid))
	}
	copy(in.CFields[:], req.GetCfields())
	out, err := s.host.CreatePrivateSession(ctx, in)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.CreatePrivateSessionResponse{SessionId: out.ID, Pin: out.PIN, ExpiresAt: timeToProto(out.ExpiresAt)}, nil
}

func (s *hostServer) AddNote(ctx context.Context, req *pluginv1.AddNoteRequest) (*pluginv1.AddNoteResponse, error) {
	if err := s.host.AddNote(ctx, req.GetSessionId(), req.GetText()); err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.AddNoteResponse{}, nil
}

func (s *hostServer) SetFields(ctx context.Context, req *pluginv1.SetFieldsRequest) (*pluginv1.SetFieldsResponse, error) {
	u := FieldUpdate{TrackingID: req.TrackingId}
	if len(req.GetCfields()) > 0 {
		u.CFields = make(map[int]string, len(req.GetCfields()))
		for i, v := range req.GetCfields() {
			u.CFields[int(i)] = v
		}
	}
	if err := s.host.SetFields(ctx, req.GetSessionId(), u); err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.SetFieldsResponse{}, nil
}

func (s *hostServer) RecordSurvey(ctx context.Context, req *pluginv1.RecordSurveyRequest) (*pluginv1.RecordSurveyResponse, error) {
	if err := s.host.RecordSurvey(ctx, req.GetSessionId(), Survey{Kind: req.GetKind(), Answers: req.GetAnswers()}); err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.RecordSurveyResponse{}, nil
}

func (s *hostServer) KVGet(ctx context.Context, req *pluginv1.KVGetRequest) (*pluginv1.KVGetResponse, error) {
	v, ok, err := s.host.KVGet(ctx, req.GetKey())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.KVGetResponse{Found: ok, Value: v}, nil
}

func (s *hostServer) KVSet(ctx context.Context, req *pluginv1.KVSetRequest) (*pluginv1.KVSetResponse, error) {
	if err := s.host.KVSet(ctx, req.GetKey(), req.GetValue()); err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.KVSetResponse{}, nil
}

func (s *hostServer) KVDelete(ctx context.Context, req *pluginv1.KVDeleteRequest) (*pluginv1.KVDeleteResponse, error) {
	if err := s.host.KVDelete(ctx, req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.KVDeleteResponse{}, nil
}

func (s *hostServer) EmitMetric(ctx context.Context, req *pluginv1.EmitMetricRequest) (*pluginv1.EmitMetricResponse, error) {
	m := Metric{Name: req.GetName(), Kind: req.GetKind(), Value: req.GetValue(), Labels: req.GetLabels()}
	if err := s.host.Metric(ctx, m); err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.EmitMetricResponse{}, nil
}
