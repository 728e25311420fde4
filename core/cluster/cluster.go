// Package cluster joins hub nodes that share one database, over NATS: what
// one node's relay stores or its sessions report wakes the relay sockets
// and live queues connected to the other nodes. It carries wake-ups only;
// the database stays the truth, so a wake-up lost on the way delays a
// socket until the next one, and after any gap (a reconnect, or messages
// NATS dropped for a slow node) the node wakes everything it holds.
//
// Subjects, under a prefix shared by the nodes of one installation
// (Config.Subject, "tether" by default):
//
//	<prefix>.relay.<session id>          a relay.Wake, JSON
//	<prefix>.queue                       a technician's queue may have changed (empty)
//	<prefix>.bin.<session id>.<side>     a binary frame for the side's sockets
//	                                     ("customer" or "technician"), as the relay
//	                                     carries it; a file chunk is a request that
//	                                     a node answers once one of its sockets took it
//
// A node subscribes to a session's binary subject only while it holds a
// socket of that side, so screens cross only to the nodes that show them.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/core/relay"
)

// DefaultSubject is the subject prefix when Config.Subject is empty.
const DefaultSubject = "tether"

// Config says where the NATS server is and which subjects the nodes share.
type Config struct {
	// URL is the NATS server (nats://user:password@host:4222); several
	// servers of one NATS cluster may be listed, separated by commas.
	URL string
	// Subject prefixes every subject; installations sharing one NATS
	// server need different ones.
	Subject string
	// Name is this connection's name, as NATS monitoring shows it.
	Name string
	Log  hclog.Logger
	// ConnectTimeout bounds the first connection; 0 means 5 seconds.
	ConnectTimeout time.Duration
	// BinaryWait is how long a file chunk waits for another node's socket
	// to take it; 0 means 5 seconds, the relay's slow-consumer wait.
	BinaryWait time.Duration
	// BinaryPendingFrames and BinaryPendingBytes bound the binary frames
	// that may wait on this node for one session side's sockets (0: 256
	// frames, 16 MiB). Past either, NATS drops frames for that side, and
	// the node drops that side's sockets (Handlers.BinaryLost) rather than
	// let a screen stream go on with a gap: they resume, as a local
	// receiver too slow for the relay's own queue does.
	BinaryPendingFrames int
	BinaryPendingBytes  int
}

// The defaults of Config.BinaryPendingFrames and BinaryPendingBytes.
const (
	DefaultBinaryPendingFrames = 256
	DefaultBinaryPendingBytes  = 16 << 20
)

// Handlers is what a node does with what the others send.
type Handlers struct {
	// Wake applies another node's relay wake-up to this node's sockets.
	Wake func(relay.Wake)
	// QueueChanged pushes the live queues of this node's technicians.
	QueueChanged func()
	// Resync wakes every socket and live queue of this node after a gap
	// in what the others sent.
	Resync func()
	// Binary hands another node's binary frame to this node's sockets of
	// the session's side to, and reports whether one took it.
	Binary func(sessionID int64, to relay.SenderKind, frame []byte) bool
	// BinaryLost drops this node's sockets of the session's side, for
	// which NATS dropped binary frames (see Config.BinaryPendingFrames).
	BinaryLost func(sessionID int64, side relay.SenderKind)
}

// Node is this hub node's connection to the others.
type Node struct {
	nc      *nats.Conn
	subject string
	log     hclog.Logger
	h       Handlers

	sent, received, dropped, binaryLost atomic.Int64
	wait                                time.Duration // how long a file chunk waits for a node to take it
	pendingFrames, pendingBytes         int           // bound each binary subscription

	mu      sync.Mutex
	watched map[string]*nats.Subscription // binary subjects subscribed, by subject
	// watches counts subscriptions made, synced how many the server is
	// known to have: Sync asks the server only when they differ.
	watches, synced atomic.Int64
}

var subjectPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// CheckSubject refuses a subject prefix NATS could not use, saying why.
func CheckSubject(subject string) error {
	if !subjectPattern.MatchString(subject) {
		return fmt.Errorf("NATS subject %q: must be dot-separated tokens of letters, digits, '-' and '_'", subject)
	}
	return nil
}

// Join connects to NATS and subscribes to the other nodes' wake-ups. The
// first connection must succeed within cfg.ConnectTimeout; after that the
// node reconnects by itself for as long as it runs.
func Join(cfg Config, h Handlers) (*Node, error) {
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if err := CheckSubject(cfg.Subject); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	n := &Node{subject: cfg.Subject, log: cfg.Log, h: h, watched: map[string]*nats.Subscription{}, wait: cfg.BinaryWait,
		pendingFrames: cfg.BinaryPendingFrames, pendingBytes: cfg.BinaryPendingBytes}
	if n.wait <= 0 {
		n.wait = 5 * time.Second
	}
	if n.pendingFrames <= 0 {
		n.pendingFrames = DefaultBinaryPendingFrames
	}
	if n.pendingBytes <= 0 {
		n.pendingBytes = DefaultBinaryPendingBytes
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.Name),
		nats.NoEcho(), // a node applies its own wake-ups itself
		nats.Timeout(cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.PingInterval(10*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn("disconnected from NATS; other hub nodes' wake-ups wait for the reconnect", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			// The server must have this node's subscriptions again before it
			// catches up: a wake-up sent between the catch-up and the
			// subscription would be lost.
			if err := nc.FlushTimeout(cfg.ConnectTimeout); err != nil {
				n.log.Warn("NATS flush after reconnect", "error", err)
			}
			n.log.Info("reconnected to NATS; waking every socket to catch up", "server", nc.ConnectedUrlRedacted())
			n.resync()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
				if sessionID, side, ok := n.binaryOf(sub.Subject); ok {
					n.binaryLost.Add(1)
					n.log.Warn("NATS dropped binary frames for this node; dropping the receiving sockets so they resume",
						"session", sessionID, "side", side)
					if n.h.BinaryLost != nil {
						n.h.BinaryLost(sessionID, side)
					}
					return
				}
			}
			if errors.Is(err, nats.ErrSlowConsumer) {
				n.dropped.Add(1)
				n.log.Warn("NATS dropped wake-ups for this node; waking every socket to catch up")
				n.resync()
				return
			}
			n.log.Warn("NATS", "error", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", Redact(cfg.URL), err)
	}
	n.nc = nc
	if _, err := nc.Subscribe(n.subject+".relay.*", n.onWake); err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribe to %s.relay.*: %w", n.subject, err)
	}
	if _, err := nc.Subscribe(n.subject+".queue", func(*nats.Msg) { n.received.Add(1); n.call(n.h.QueueChanged) }); err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribe to %s.queue: %w", n.subject, err)
	}
	// The subscriptions are in place on the server before any wake-up of
	// this node can matter to the others.
	if err := nc.FlushTimeout(cfg.ConnectTimeout); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to NATS at %s: %w", Redact(cfg.URL), err)
	}
	n.log.Info("joined the other hub nodes over NATS", "server", nc.ConnectedUrlRedacted(), "subject", n.subject)
	return n, nil
}

func (n *Node) onWake(m *nats.Msg) {
	n.received.Add(1)
	var w relay.Wake
	if err := json.Unmarshal(m.Data, &w); err != nil || w.SessionID <= 0 {
		n.log.Warn("ignored a malformed wake-up", "subject", m.Subject)
		return
	}
	if n.h.Wake != nil {
		n.h.Wake(w)
	}
}

func (n *Node) call(f func()) {
	if f != nil {
		f()
	}
}

func (n *Node) resync() { n.call(n.h.Resync) }

// Wake sends one of this node's relay wake-ups to the others. It never
// blocks: while NATS is unreachable the client buffers, and what does not
// fit is lost (the others catch up when they reconnect).
func (n *Node) Wake(w relay.Wake) {
	data, err := json.Marshal(w)
	if err != nil {
		return
	}
	n.publish(n.subject+".relay."+strconv.FormatInt(w.SessionID, 10), data)
}

// QueueChanged tells the others that technicians' queues may have changed.
func (n *Node) QueueChanged() { n.publish(n.subject+".queue", nil) }

func (n *Node) publish(subject string, data []byte) {
	if err := n.nc.Publish(subject, data); err != nil {
		n.log.Debug("NATS publish", "subject", subject, "error", err)
		return
	}
	n.sent.Add(1)
}

func (n *Node) binarySubject(sessionID int64, side relay.SenderKind) string {
	return n.subject + ".bin." + strconv.FormatInt(sessionID, 10) + "." + string(side)
}

// binaryOf is the session and side of a binary subject; ok is false for
// any other subject.
func (n *Node) binaryOf(subject string) (sessionID int64, side relay.SenderKind, ok bool) {
	rest, ok := strings.CutPrefix(subject, n.subject+".bin.")
	if !ok {
		return 0, "", false
	}
	id, kind, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	sessionID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return sessionID, relay.SenderKind(kind), true
}

// Watch subscribes to the binary frames for this node's sockets of the
// session's side.
func (n *Node) Watch(sessionID int64, side relay.SenderKind) {
	subject := n.binarySubject(sessionID, side)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.watched[subject] != nil {
		return
	}
	sub, err := n.nc.Subscribe(subject, func(m *nats.Msg) {
		n.received.Add(1)
		if n.h.Binary == nil || !n.h.Binary(sessionID, side, m.Data) || m.Reply == "" {
			return
		}
		if err := m.Respond(nil); err != nil {
			n.log.Debug("answer a file chunk", "subject", m.Subject, "error", err)
		}
	})
	if err != nil {
		n.log.Warn("subscribe to binary frames", "subject", subject, "error", err)
		return
	}
	if err := sub.SetPendingLimits(n.pendingFrames, n.pendingBytes); err != nil {
		n.log.Warn("bound the binary frames waiting", "subject", subject, "error", err)
	}
	n.watched[subject] = sub
	n.watches.Add(1)
}

// Sync returns once the NATS server has this node's subscriptions (or
// after a second, when it cannot be reached). It costs a round trip only
// when Watch subscribed since the last Sync.
func (n *Node) Sync() {
	target := n.watches.Load()
	if n.synced.Load() >= target {
		return
	}
	if err := n.nc.FlushTimeout(time.Second); err != nil {
		n.log.Debug("NATS flush", "error", err)
		return
	}
	for {
		done := n.synced.Load()
		if done >= target || n.synced.CompareAndSwap(done, target) {
			return
		}
	}
}

// Unwatch ends Watch.
func (n *Node) Unwatch(sessionID int64, side relay.SenderKind) {
	subject := n.binarySubject(sessionID, side)
	n.mu.Lock()
	sub := n.watched[subject]
	delete(n.watched, subject)
	n.mu.Unlock()
	if sub != nil {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			n.log.Debug("unsubscribe from binary frames", "subject", subject, "error", err)
		}
	}
}

// Send hands a binary frame to the other nodes' sockets of the session's
// side to. Without wait it reports whether the frame was sent; with wait
// (a file chunk) whether a node's socket took it: no node watching the
// side answers at once that none did.
func (n *Node) Send(ctx context.Context, sessionID int64, to relay.SenderKind, frame []byte, wait bool) bool {
	subject := n.binarySubject(sessionID, to)
	if !wait {
		if err := n.nc.Publish(subject, frame); err != nil {
			n.log.Debug("NATS publish", "subject", subject, "error", err)
			return false
		}
		n.sent.Add(1)
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, n.wait)
	defer cancel()
	n.sent.Add(1)
	if _, err := n.nc.RequestWithContext(ctx, subject, frame); err != nil {
		if !errors.Is(err, nats.ErrNoResponders) {
			n.log.Debug("file chunk to another node", "subject", subject, "error", err)
		}
		return false
	}
	return true
}

// Connected reports whether the node is connected to NATS now.
func (n *Node) Connected() bool { return n.nc.IsConnected() }

// Close sends what is buffered and leaves.
func (n *Node) Close() error {
	if err := n.nc.Drain(); err != nil {
		n.nc.Close()
		return err
	}
	return nil
}

// Collectors are the node's metrics: whether it is connected, and the
// wake-ups sent, received and dropped by NATS.
func (n *Node) Collectors() []prometheus.Collector {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tether_cluster_connected",
			Help: "1 while this hub node is connected to NATS (the other hub nodes), else 0."}, func() float64 {
			if n.Connected() {
				return 1
			}
			return 0
		}),
		counter("tether_cluster_messages_sent_total", "Wake-ups this hub node sent to the others over NATS.", &n.sent),
		counter("tether_cluster_messages_received_total", "Wake-ups this hub node received from the others over NATS.", &n.received),
		counter("tether_cluster_slow_consumer_total", "Times NATS dropped wake-ups for this hub node because it fell behind (each wakes every socket).", &n.dropped),
		counter("tether_cluster_binary_lost_total", "Times NATS dropped binary frames for a session side's sockets on this hub node (each drops those sockets, which resume).", &n.binaryLost),
	}
}

// Redact is raw with any credentials (user and password, or a token in
// the user part) replaced, for logs and errors; each of several
// comma-separated URLs is redacted.
func Redact(raw string) string {
	parts := strings.Split(raw, ",")
	for i, part := range parts {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		if u.User != nil {
			u.User = url.User("xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
