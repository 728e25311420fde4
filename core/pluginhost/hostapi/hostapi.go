package hostapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/pluginhost/kv"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/sdk"
)

// Live tells connected sides that a session's log grew (the relay hub).
type Live interface {
	Notify(sessionID int64)
}

// Sent reports whether the plugin was ever handed an event of the session.
type Sent func(ctx context.Context, plugin string, sessionID int64) (bool, error)

// API builds per-plugin hosts over the hub's services.
type API struct {
	Sessions *sessions.Service
	Messages *relay.Log
	Live     Live
	Org      *org.Service
	KV       *kv.Store
	Sent     Sent
	Metrics  *Metrics
	Logger   hclog.Logger
}

// reserved is the KV prefix the host keeps for itself: a plugin can neither
// read nor write it, so it cannot grant itself access to sessions.
const reserved = "_tether/"

// For returns the host API as the plugin with this ID sees it.
func (a *API) For(plugin string) sdk.Host { return &host{api: a, plugin: plugin} }

type host struct {
	api    *API
	plugin string
}

var _ sdk.Host = (*host)(nil)

func createdKey(id int64) string { return reserved + "created/" + strconv.FormatInt(id, 10) }

// allowed checks that the plugin may touch the session: it was sent one of
// its events, or created it.
func (h *host) allowed(ctx context.Context, id int64) error {
	if h.api.Sent != nil {
		ok, err := h.api.Sent(ctx, h.plugin, id)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	if _, ok, err := h.api.KV.Space(h.plugin).Get(ctx, createdKey(id)); err != nil || ok {
		return err
	}
	return fault.Forbiddenf("session_not_sent", "Plugin %s was never sent session %d and did not create it.", h.plugin, id)
}

func (h *host) Session(ctx context.Context, id int64, opts sdk.SessionOptions) (sdk.Session, error) {
	if err := h.allowed(ctx, id); err != nil {
		return sdk.Session{}, err
	}
	v, err := h.api.Sessions.Get(ctx, id)
	if err != nil {
		return sdk.Session{}, err
	}
	out := sdk.Session{ID: v.ID, Kind: string(v.Kind), State: string(v.State), StateLabel: v.StateLabel,
		CFields: v.Fields.CField, TrackingID: v.Fields.TrackingID, Platform: v.Platform, Language: v.Language,
		CreatedAt: v.CreatedAt, ClosedAt: v.EndedAt, Transmitted: v.Transmitted,
		WaitingSecs: v.Buckets.Waiting, WorkSecs: v.Buckets.Active}
	if v.ChannelID != nil {
		out.ChannelID = *v.ChannelID
	}
	if v.TechGroupID != nil {
		out.TechGroupID = *v.TechGroupID
	}
	if agg := v.Aggregate; agg != nil {
		out.PickedUpAt = agg.PickedUpAt
		if agg.ReachedActive {
			last := agg.LastActionAt
			out.LastActionAt = &last
		}
	}
	if v.TechnicianID != nil && *v.TechnicianID != 0 {
		m, err := h.api.Org.MemberByID(ctx, *v.TechnicianID)
		if err != nil {
			return sdk.Session{}, fmt.Errorf("technician of session %d: %w", id, err)
		}
		out.Technician = &sdk.Technician{ID: m.ID, SSOID: m.SSOID, Name: m.Name, Email: m.Email, Description: m.Description}
	}
	answers, err := h.api.Sessions.Survey(ctx, id, sessions.SurveyTechnician)
	if err != nil {
		return sdk.Session{}, err
	}
	copy(out.TechSurvey[:], answers)
	msgs, err := h.api.Messages.After(ctx, id, opts.MessagesAfter, relay.Viewer{Kind: relay.SenderTechnician}, 0)
	if err != nil {
		return sdk.Session{}, err
	}
	names := map[int64]string{}
	for _, m := range msgs {
		out.Messages = append(out.Messages, sdk.Message{Seq: m.Seq, Kind: string(m.Kind), SenderKind: string(m.SenderKind),
			SenderID: m.SenderID, SenderName: h.senderName(ctx, v, m, names), Audience: string(m.Audience), Text: m.Body, At: m.CreatedAt})
	}
	return out, nil
}

// senderName is how the original's chat log names a line's author.
func (h *host) senderName(ctx context.Context, v sessions.Session, m relay.Message, cache map[int64]string) string {
	switch m.SenderKind {
	case relay.SenderCustomer:
		if v.CustomerName != "" {
			return v.CustomerName
		}
		return "Customer"
	case relay.SenderSystem:
		return "System"
	}
	if n, ok := cache[m.SenderID]; ok {
		return n
	}
	n := "Technician"
	if mem, err := h.api.Org.MemberByID(ctx, m.SenderID); err == nil {
		n = mem.Name
	}
	cache[m.SenderID] = n
	return n
}

func (h *host) CreatePrivateSession(ctx context.Context, req sdk.CreateSession) (sdk.CreatedSession, error) {
	if req.TechnicianID <= 0 {
		return sdk.CreatedSession{}, fault.Field("technician_id", "is required")
	}
	c, err := h.api.Sessions.CreatePrivate(ctx, org.Actor{ID: req.TechnicianID, Role: org.KindTechnician},
		sessions.PrivateInput{Fields: sessions.Fields{CField: req.CFields, TrackingID: req.TrackingID}})
	if err != nil {
		return sdk.CreatedSession{}, err
	}
	if err := h.api.KV.Space(h.plugin).Set(ctx, createdKey(c.Session.ID), []byte("1")); err != nil {
		return sdk.CreatedSession{}, fmt.Errorf("remember session %d for plugin %s: %w", c.Session.ID, h.plugin, err)
	}
	out := sdk.CreatedSession{ID: c.Session.ID, PIN: c.PIN}
	if c.Session.PINExpiresAt != nil {
		out.ExpiresAt = *c.Session.PINExpiresAt
	}
	return out, nil
}

func (h *host) AddNote(ctx context.Context, sessionID int64, text string) error {
	if err := h.allowed(ctx, sessionID); err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return fault.Field("text", "is required")
	}
	payload := fmt.Appendf(nil, `{"plugin":%q}`, h.plugin)
	if _, err := h.api.Messages.Append(ctx, h.api.Sessions.DB, relay.Message{SessionID: sessionID, Kind: relay.KindNote,
		SenderKind: relay.SenderSystem, Body: text, Payload: payload}); err != nil {
		return err
	}
	if h.api.Live != nil {
		h.api.Live.Notify(sessionID)
	}
	return nil
}

func (h *host) SetFields(ctx context.Context, sessionID int64, u sdk.FieldUpdate) error {
	if err := h.allowed(ctx, sessionID); err != nil {
		return err
	}
	_, err := h.api.Sessions.SetFields(ctx, sessionID, sessions.FieldUpdate{TrackingID: u.TrackingID, CFields: u.CFields})
	return err
}

func (h *host) RecordSurvey(ctx context.Context, sessionID int64, s sdk.Survey) error {
	if err := h.allowed(ctx, sessionID); err != nil {
		return err
	}
	return h.api.Sessions.RecordSurvey(ctx, sessionID, s.Kind, s.Answers)
}

func checkKey(key string) error {
	if strings.HasPrefix(key, reserved) {
		return fault.Field("key", fmt.Sprintf("keys starting with %q are reserved for the hub", reserved))
	}
	return nil
}

func (h *host) KVGet(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	return h.api.KV.Space(h.plugin).Get(ctx, key)
}

func (h *host) KVSet(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return h.api.KV.Space(h.plugin).Set(ctx, key, value)
}

func (h *host) KVDelete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return h.api.KV.Space(h.plugin).Delete(ctx, key)
}

func (h *host) Metric(_ context.Context, m sdk.Metric) error {
	if h.api.Metrics == nil {
		return errors.New("metrics are not collected on this hub")
	}
	return h.api.Metrics.Record(h.plugin, m)
}
