package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/session"
)

// FireTimer is called by the durable timer sweeper when a session's timer
// is due. It re-checks the deadline against the current settings and
// state, so a stale timer changes nothing.
func (s *Service) FireTimer(ctx context.Context, id int64, kind string) error {
	switch kind {
	case TimerTimeout:
		_, err := s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
			t, err := s.Policy.Timeouts(ctx, unitOf(r))
			if err != nil {
				return change{}, err
			}
			at, reason, ok := agg.Deadline(t)
			if !ok || now.Before(at) {
				return change{}, nil // save re-arms the timer for the right time
			}
			if err := agg.Expire(now, reason); err != nil {
				return change{}, transitionFault(err)
			}
			return change{event: "session.timed_out", payload: map[string]any{"reason": reason}, system: timeoutText(reason)}, nil
		})
		return ignoreGone(err)
	case TimerAutoTransfer:
		_, err := s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
			if agg.State != session.Waiting || r.QueueKind != QueueChannel {
				return change{}, nil
			}
			if holds, err := s.routingHolds(ctx, db, r); err != nil || holds {
				return change{}, err // the rule's chain re-arms it when it is over
			}
			after, target, ok, err := s.Policy.AutoTransfer(ctx, r.QueueID)
			if err != nil || !ok || now.Before(agg.StateSince.Add(after)) || target == r.QueueID {
				return change{}, err
			}
			from := r.QueueID
			if err := agg.Transfer(now, session.TransferInfo{From: 0, To: session.Target{Kind: session.ToChannel, ID: target}, Auto: true, At: now}); err != nil {
				return change{}, transitionFault(err)
			}
			r.requeue(QueueChannel, target, 0)
			return change{event: "session.transferred", payload: map[string]any{"from": 0, "from_channel_id": from,
				"to_kind": "channel", "to_id": target, "auto": true}, system: "Transferred automatically by System."}, nil
		})
		return ignoreGone(err)
	case TimerRouting:
		return ignoreGone(s.Dispatch(ctx, id))
	default:
		return fmt.Errorf("unknown session timer %q", kind)
	}
}

func ignoreGone(err error) error {
	if err != nil && isNotFound(err) {
		return nil // the session was deleted; its timers went with it
	}
	return err
}

func timeoutText(r session.EndReason) string {
	switch r {
	case session.CodeExpired:
		return "The code expired before it was used."
	case session.ConnectingTimeout:
		return "Timed out while connecting."
	case session.WaitingTimeout:
		return "Timed out while waiting for a technician."
	case session.IdleTimeout:
		return "Timed out: no action from either side."
	}
	return "Timed out."
}
