package sessions

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/store"
)

// PINLimit bounds PIN guessing per client IP (SESS-2).
type PINLimit struct {
	Window   time.Duration
	Failures int
}

// DefaultPINLimit allows 20 wrong codes per IP per hour: with 100 live codes
// among the 1,000,000 possible, one IP finds a live code by chance about
// once in 500 hours.
func DefaultPINLimit() PINLimit { return PINLimit{Window: time.Hour, Failures: 20} }

// Client describes the customer's side of a session.
type Client struct {
	Kind     string `json:"client_kind" validate:"omitempty,oneof=applet web calling_card mobile"`
	Platform string `json:"platform" validate:"max=64"`
	Language string `json:"language" validate:"max=16"`
}

// PrivateInput is what a technician types when creating a private session.
type PrivateInput struct {
	Fields Fields `json:"fields"`
}

// Created is a new private session with its code.
type Created struct {
	Session Session `json:"session"`
	PIN     string  `json:"pin"`
	// Invitation is the group's connection e-mail filled in (SESS-3).
	Invitation RenderedInvitation `json:"invitation"`
}

// CreatePrivate creates a private session for a technician and issues a
// 6-digit PIN, unique among live codes and valid for the group's code
// validity (SESS-1, SESS-2, SESS-7).
func (s *Service) CreatePrivate(ctx context.Context, actor org.Actor, in PrivateInput) (Created, error) {
	tech, err := s.technician(ctx, actor)
	if err != nil {
		return Created{}, err
	}
	group := tech.Group
	if !tech.Perms.PrivateSessions {
		return Created{}, fault.Forbiddenf("permission_denied", "Your group may not start private sessions (permission private_sessions).")
	}
	rules, err := s.Policy.PrivateFields(ctx, group)
	if err != nil {
		return Created{}, err
	}
	in.Fields = trimFields(in.Fields)
	if err := checkPrivate(in.Fields, rules); err != nil {
		return Created{}, err
	}
	t, err := s.Policy.Timeouts(ctx, group)
	if err != nil {
		return Created{}, err
	}
	now := s.now()
	expires := now.Add(t.CodeValidity)
	for attempt := 0; ; attempt++ {
		pin, err := s.newPIN()
		if err != nil {
			return Created{}, err
		}
		agg := session.New(session.Private, now)
		r := row{Kind: string(session.Private), TechGroupID: &group, CreatorID: &actor.ID,
			QueueKind: QueueTechnician, QueueID: actor.ID, PIN: &pin, PINExpiresAt: &expires, ToolsUsed: "[]"}
		r.setFields(in.Fields)
		err = s.create(ctx, &r, agg, now, change{event: "session.created", actorID: actor.ID,
			payload: map[string]any{"kind": "private", "technician_id": actor.ID}, system: "Private session created."})
		if store.IsUniqueViolation(err) && attempt < 20 {
			continue // PIN collision with a live code: draw another
		}
		if err != nil {
			return Created{}, fmt.Errorf("create private session: %w", err)
		}
		r.PIN = &pin
		v, err := r.view(now)
		if err != nil {
			return Created{}, err
		}
		inv, err := s.Policy.Invitation(ctx, group)
		if err != nil {
			return Created{}, err
		}
		s.notify(r.ID, v.State)
		return Created{Session: v, PIN: pin, Invitation: inv.Render(pin, in.Fields.CField[0], tech.Name, expires)}, nil
	}
}

func (s *Service) newPIN() (string, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(s.rand(), b[:]); err != nil {
			return "", fmt.Errorf("draw PIN: %w", err)
		}
		n := binary.BigEndian.Uint32(b[:])
		if n < 4_294_000_000 { // reject the tail so every code is equally likely
			return fmt.Sprintf("%06d", n%1_000_000), nil
		}
	}
}

var pinPattern = regexp.MustCompile(`^[0-9]{6}$`)

// Joined is what a customer gets on joining: the session, the secret that
// authenticates them from now on, and the terms to accept, if any.
type Joined struct {
	Session Session `json:"session"`
	Secret  string  `json:"secret"`
	Terms   *Terms  `json:"terms,omitempty"`
}

// JoinByPIN lets a customer in with a PIN (SESS-2); throttled per client IP:
// wrong and expired codes count against the address, a join does not (the
// session's joined event records it).
func (s *Service) JoinByPIN(ctx context.Context, pin string, ip netip.Addr, client Client) (Joined, error) {
	if !pinPattern.MatchString(pin) {
		return Joined{}, fault.Field("pin", "must be 6 digits")
	}
	if err := fault.Validate(client); err != nil {
		return Joined{}, err
	}
	if err := s.checkPINThrottle(ctx, ip); err != nil {
		return Joined{}, err
	}
	// The code is looked up by the join itself; an expired one is ended
	// there instead.
	expired := false
	unknown := fault.NotFoundf("code", "This code is unknown or has expired. Ask your technician for a new code.")
	byPIN := finder{stmt: sessionByPIN, lock: lockSessionByPIN, args: []any{pin}, notFound: unknown}
	j, err := s.admit(ctx, byPIN, client, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (*change, error) {
		if r.PINExpiresAt != nil && !now.Before(*r.PINExpiresAt) {
			expired = true
			if err := agg.Expire(now, session.CodeExpired); err != nil {
				return nil, err
			}
			return &change{event: "session.timed_out", payload: map[string]any{"reason": session.CodeExpired}, system: "The code expired."}, nil
		}
		return nil, agg.Join(now)
	}, "session.joined", "Customer joined with the code.")
	if fault.IsKind(err, fault.NotFound) || expired {
		s.recordPIN(ctx, ip, false)
	}
	if err == nil && expired {
		return Joined{}, &fault.Error{Kind: fault.NotFound, Code: "code_expired", Message: "This code has expired. Ask your technician for a new code."}
	}
	return j, err
}

// admit performs the customer's entry: the entry transition, a new secret,
// and either the terms to accept or the queue. enter may end the session
// instead, returning the change that says so; then nobody is admitted.
func (s *Service) admit(ctx context.Context, find finder, client Client,
	enter func(context.Context, bun.IDB, *row, *session.Session, time.Time) (*change, error), event, system string) (Joined, error) {
	secret, hash, err := s.newSecret()
	if err != nil {
		return Joined{}, err
	}
	var terms *Terms
	v, err := s.mutateRow(ctx, find, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		ended, err := enter(ctx, db, r, agg, now)
		if err != nil {
			return change{}, transitionFault(err)
		}
		if ended != nil {
			return *ended, nil
		}
		r.CustomerSecretHash = hash
		r.PIN = nil
		r.ClientKind, r.Platform, r.Language = client.Kind, client.Platform, client.Language
		t, err := s.Policy.Terms(ctx, unitOf(r))
		if err != nil {
			return change{}, err
		}
		if t.Enabled {
			terms = t
		} else if err := agg.AcceptTerms(now); err != nil {
			return change{}, transitionFault(err)
		}
		return change{event: event, payload: map[string]any{"client_kind": client.Kind, "platform": client.Platform}, system: system}, nil
	})
	if err != nil {
		return Joined{}, err
	}
	return Joined{Session: v, Secret: secret, Terms: terms}, nil
}

func (s *Service) limit() PINLimit {
	if s.PINLimit.Failures == 0 {
		return DefaultPINLimit()
	}
	return s.PINLimit
}

func (s *Service) checkPINThrottle(ctx context.Context, ip netip.Addr) error {
	l := s.limit()
	since := s.now().Add(-l.Window)
	var oldest []time.Time
	err := recentPINFailures.Scan(ctx, s.DB, &oldest, auth.ThrottleKey(ip), false, since, l.Failures)
	if err != nil {
		return fmt.Errorf("count PIN attempts: %w", err)
	}
	if len(oldest) < l.Failures {
		return nil
	}
	wait := int(oldest[0].Add(l.Window).Sub(s.now()).Seconds()) + 1
	return &fault.Error{Kind: fault.TooMany, Code: "too_many_attempts", RetryAfterSeconds: wait,
		Message: "Too many wrong codes from this address; wait and try again."}
}

func (s *Service) recordPIN(ctx context.Context, ip netip.Addr, ok bool) {
	a := attemptRow{IP: auth.ThrottleKey(ip), Success: ok, At: s.now()}
	if _, err := s.DB.NewInsert().Model(&a).Exec(ctx); err != nil {
		s.logger().Error("record PIN attempt", "error", err)
	}
}

// PrunePINAttempts deletes the PIN attempts too old to count against any
// address (older than the throttle's window) and returns how many went.
func (s *Service) PrunePINAttempts(ctx context.Context) (int64, error) {
	res, err := s.DB.NewDelete().Model((*attemptRow)(nil)).Where("at <= ?", s.now().Add(-s.limit().Window)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune PIN attempts: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ChannelForm is what a customer posts on a channel's form (CH-4, SESS-7).
type ChannelForm struct {
	Fields Fields `json:"fields"`
	Client
}

// OpenChannel starts a channel session from the channel link or form;
// test sessions come from an administrator's "test channel" (CH-5).
func (s *Service) OpenChannel(ctx context.Context, channelID int64, form ChannelForm, test bool) (Joined, error) {
	u, err := s.Org.UnitByID(ctx, channelID)
	if err != nil || u.Kind != org.KindChannel {
		return Joined{}, fault.NotFoundf("channel", "No channel %d.", channelID)
	}
	if !u.Enabled {
		return Joined{}, fault.New(fault.Conflict, "channel_disabled", "This channel does not take sessions right now.")
	}
	form.Fields = trimFields(form.Fields)
	if err := checkCustomer(form.Fields); err != nil {
		return Joined{}, err
	}
	if err := fault.Validate(form.Client); err != nil {
		return Joined{}, err
	}
	now := s.now()
	agg := session.New(session.Channel, now)
	r := row{Kind: string(session.Channel), ChannelID: &channelID, QueueKind: QueueChannel, QueueID: channelID,
		Test: test, ToolsUsed: "[]"}
	r.setFields(form.Fields)
	err = s.create(ctx, &r, agg, now, change{event: "session.created",
		payload: map[string]any{"kind": "channel", "channel_id": channelID, "test": test}, system: "Connecting to " + u.Name + "."})
	if err != nil {
		return Joined{}, fmt.Errorf("create channel session: %w", err)
	}
	return s.admit(ctx, byID(r.ID), form.Client, func(context.Context, bun.IDB, *row, *session.Session, time.Time) (*change, error) { return nil, nil },
		"session.connecting", "")
}

// AnswerTerms records the customer's answer to the terms (SESS-6): accept
// queues the session, decline ends it as failed.
func (s *Service) AnswerTerms(ctx context.Context, secret string, accept bool) (Session, error) {
	cur, err := s.ByCustomerSecret(ctx, secret)
	if err != nil {
		return Session{}, err
	}
	return s.mutate(ctx, cur.ID, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if accept {
			if err := agg.AcceptTerms(now); err != nil {
				return change{}, transitionFault(err)
			}
			return change{event: "session.waiting", system: "Terms accepted; waiting for a technician."}, nil
		}
		if err := agg.DeclineTerms(now); err != nil {
			return change{}, transitionFault(err)
		}
		return change{event: "session.closed", payload: map[string]any{"reason": session.DeclinedTerms}, system: "The customer declined the terms."}, nil
	})
}
