package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
)

// QueueFeed pushes technicians' queues over a websocket whenever a session
// changes (new, picked up by someone else, timed out, transferred in or
// out), so a console never polls. Each push is the technician's whole
// queue, as GET /api/v1/queue answers it.
type QueueFeed struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// Changed wakes every subscriber; bursts of changes coalesce into one push.
func (f *QueueFeed) Changed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.subs {
		select {
		case c <- struct{}{}:
		default: // a push is already due
		}
	}
}

func (f *QueueFeed) subscribe() chan struct{} {
	c := make(chan struct{}, 1)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan struct{}]struct{}{}
	}
	f.subs[c] = struct{}{}
	f.mu.Unlock()
	return c
}

func (f *QueueFeed) unsubscribe(c chan struct{}) {
	f.mu.Lock()
	delete(f.subs, c)
	f.mu.Unlock()
}

// queueFrame is one push of the live queue.
type queueFrame struct {
	Type     string `json:"type"` // "queue"
	Sessions any    `json:"sessions"`
	At       string `json:"at"`
}

// liveQueue serves GET /api/v1/queue/live for technicians.
func (a *API) liveQueue(w http.ResponseWriter, r *http.Request) {
	p, err := a.principalOf(r)
	if err == nil && p.Token.Restricted {
		err = fault.Forbiddenf("password_change_required", "Your password must be changed before you can continue.")
	}
	if err == nil && p.Actor.Role != org.KindTechnician {
		err = fault.Forbiddenf("technicians_only", "Only technicians have a queue.")
	}
	if err != nil {
		writeError(w, r, a.Log, err)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(r.Context())
	wake := a.Feed.subscribe()
	defer a.Feed.unsubscribe(wake)
	for {
		if err := a.pushQueue(ctx, conn, p.Actor); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
			// Let a burst of changes settle into one push.
			time.Sleep(50 * time.Millisecond)
		case <-time.After(30 * time.Second):
			// A periodic push keeps waiting times current and the link alive.
		}
	}
}

func (a *API) pushQueue(ctx context.Context, conn *websocket.Conn, actor org.Actor) error {
	q, err := a.Sessions.Queue(ctx, actor)
	if err != nil {
		a.Log.Warn("live queue", "technician", actor.ID, "error", err)
		conn.Close(websocket.StatusInternalError, "queue unavailable")
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return wsjson.Write(wctx, conn, queueFrame{Type: "queue", Sessions: q, At: a.now().UTC().Format(time.RFC3339Nano)})
}
