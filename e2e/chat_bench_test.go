package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/core/cluster/clustertest"
)

// BenchmarkChatLatency is the chat round trip through the real binary
// under a steady load: chatSessions sessions chat at once, each customer
// and technician sending chatInterval apart (within the relay's default
// rate limit of 20 frames a second per socket). One round trip is the
// customer's message reaching the technician and the technician's answer
// reaching the customer: two messages stored, each before it is relayed.
// After each one, the same goroutine makes a round trip over a direct
// websocket pair of its own (an echo server in the test process), so the
// baseline is measured in the same run under the same load. Reported:
// p50 and p99 of both in µs, the one-way p50 and p99, the p99 ratio, and
// the hub's own share: the p50 and p99 of its store time for chat
// (tether_relay_message_store_seconds, read from /metrics; each figure is
// the upper bound of the histogram bucket that holds it).
//
//	go test ./e2e -run '^$' -bench ChatLatency -benchtime 2000x
func BenchmarkChatLatency(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres", "postgres-two-nodes"} {
		b.Run(engine, func(b *testing.B) {
			var nats []string
			if engine == "postgres-two-nodes" {
				nats = []string{"TETHER_NATS_URL=" + clustertest.URL(b), "TETHER_NATS_SUBJECT=" + clustertest.Subject(b)}
			}
			h := StartHub(b, Options{Postgres: engine != "sqlite", LogLevel: "info", Env: nats})
			// The technicians' sockets: on the same hub, or, with two
			// nodes, on a second process on the same database, so that
			// every message crosses NATS.
			techHub := h
			if nats != nil {
				techHub = StartHub(b, Options{LogLevel: "info", Env: append([]string{"TETHER_DATABASE_URL=" + h.DatabaseURL}, nats...)})
			}
			master, _ := signIn(b, h, DefaultAdminEmail, DefaultAdminPassword)
			echo := httptest.NewServer(http.HandlerFunc(echoChat))
			b.Cleanup(echo.Close)
			chats := make([]*benchChat, chatSessions)
			for i := range chats {
				chats[i] = openBenchChat(b, h, techHub, master, i, "ws"+strings.TrimPrefix(echo.URL, "http"))
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, len(chats))
			b.ResetTimer()
			for i, c := range chats {
				wg.Go(func() {
					// Staggered, so that the sessions' messages spread over
					// the interval instead of arriving together.
					time.Sleep(time.Duration(i) * chatInterval / chatSessions)
					tick := time.NewTicker(chatInterval)
					defer tick.Stop()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						<-tick.C
						if err := c.roundTrip(n); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			var relayed, oneWay, direct []time.Duration
			for _, c := range chats {
				relayed = append(relayed, c.relayed...)
				oneWay = append(oneWay, c.oneWay...)
				direct = append(direct, c.direct...)
			}
			rp50, rp99 := quantiles(relayed)
			dp50, dp99 := quantiles(direct)
			op50, op99 := quantiles(oneWay)
			b.ReportMetric(rp50, "relay-p50-µs")
			b.ReportMetric(rp99, "relay-p99-µs")
			b.ReportMetric(op50, "relay-oneway-p50-µs")
			b.ReportMetric(op99, "relay-oneway-p99-µs")
			b.ReportMetric(dp50, "direct-p50-µs")
			b.ReportMetric(dp99, "direct-p99-µs")
			b.ReportMetric(rp99/dp99, "p99-ratio")
			b.ReportMetric(float64(len(relayed))/b.Elapsed().Seconds()*2, "messages/s")
			// The hub's own share: its store-time histogram, read back.
			_, metrics := h.Get("/metrics")
			hp50, hp99 := storeQuantiles(b, metrics, "chat")
			b.ReportMetric(hp50, "hub-store-p50-≤µs")
			b.ReportMetric(hp99, "hub-store-p99-≤µs")
		})
	}
}

const (
	chatSessions = 8
	chatInterval = 60 * time.Millisecond
)

// benchChat is one active session's two relay sockets and a direct pair.
type benchChat struct {
	cust, tech, echo        *websocket.Conn
	relayed, oneWay, direct []time.Duration
}

func openBenchChat(b *testing.B, h, techHub *Hub, master *api, i int, echoURL string) *benchChat {
	b.Helper()
	_, _, tech := staff(b, h, master, fmt.Sprintf("bench%d@example.com", i))
	created := tech.must(201, "POST", "/api/v1/sessions", map[string]any{})
	sid := id(created["session"].(map[string]any))
	joined := (&api{t: b, h: h}).must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": created["pin"]})
	tech.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
	base := "ws" + strings.TrimPrefix(h.BaseURL, "http")
	c := &benchChat{
		cust: benchDial(b, base+"/api/v1/relay/customer?resume_after=0", joined["secret"].(string)),
		tech: benchDial(b, "ws"+strings.TrimPrefix(techHub.BaseURL, "http")+"/api/v1/relay/sessions/"+sid+"?resume_after=0", tech.token),
		echo: benchDial(b, echoURL, ""),
	}
	// Both relay sockets are served once each has its hello.
	for _, ws := range []*websocket.Conn{c.cust, c.tech} {
		if err := awaitFrame(ws, "hello", ""); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

func (c *benchChat) roundTrip(n int64) error {
	cid, tid := fmt.Sprintf("c%d", n), fmt.Sprintf("t%d", n)
	t0 := time.Now()
	if err := sendChat(c.cust, cid, "Is it plugged in?"); err != nil {
		return err
	}
	if err := awaitFrame(c.tech, "message", cid); err != nil {
		return err
	}
	c.oneWay = append(c.oneWay, time.Since(t0))
	if err := sendChat(c.tech, tid, "Yes it is."); err != nil {
		return err
	}
	if err := awaitFrame(c.cust, "message", tid); err != nil {
		return err
	}
	c.relayed = append(c.relayed, time.Since(t0))

	t0 = time.Now()
	if err := sendChat(c.echo, cid, "Is it plugged in?"); err != nil {
		return err
	}
	if err := awaitFrame(c.echo, "message", "r"+cid); err != nil {
		return err
	}
	c.direct = append(c.direct, time.Since(t0))
	return nil
}

func benchDial(b *testing.B, url, token string) *websocket.Conn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{}
	if token != "" {
		opts.HTTPHeader = http.Header{"Authorization": {"Bearer " + token}}
	}
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		b.Fatalf("dial %s: %v", url, err)
	}
	b.Cleanup(func() { ws.CloseNow() })
	return ws
}

// chatFrame is what the benchmark reads of a frame.
type chatFrame struct {
	Type        string `json:"type"`
	ClientMsgID string `json:"client_msg_id"`
	Text        string `json:"text"`
	Error       string `json:"error"`
}

func sendChat(ws *websocket.Conn, id, text string) error {
	b, _ := json.Marshal(map[string]string{"type": "chat", "client_msg_id": id, "text": text})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return ws.Write(ctx, websocket.MessageText, b)
}

// awaitFrame reads frames until one of type typ (with client_msg_id id,
// when id is set); an error frame fails.
func awaitFrame(ws *websocket.Conn, typ, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s %s: %w", typ, id, err)
		}
		var f chatFrame
		if err := json.Unmarshal(data, &f); err != nil {
			return err
		}
		if f.Type == "error" {
			return fmt.Errorf("waiting for %s %s: %s", typ, id, data)
		}
		if f.Type == typ && (id == "" || f.ClientMsgID == id) {
			return nil
		}
	}
}

// echoChat answers every chat frame with a message frame carrying its text
// and client_msg_id prefixed with "r": the direct pair's other side.
func echoChat(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx := context.Background()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var f chatFrame
		if json.Unmarshal(data, &f) != nil {
			return
		}
		reply, _ := json.Marshal(map[string]string{"type": "message", "kind": "chat", "body": f.Text, "client_msg_id": "r" + f.ClientMsgID})
		if ws.Write(ctx, websocket.MessageText, reply) != nil {
			return
		}
	}
}

// quantiles are the p50 and p99 of d in µs.
func quantiles(d []time.Duration) (p50, p99 float64) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 { return float64(s[int(q*float64(len(s)-1))].Microseconds()) }
	return at(0.5), at(0.99)
}

// storeQuantiles reads the hub's tether_relay_message_store_seconds
// histogram for kind from a /metrics page and returns the upper bounds, in
// µs, of the buckets that hold its p50 and p99.
func storeQuantiles(b *testing.B, metrics, kind string) (p50, p99 float64) {
	b.Helper()
	type bucket struct {
		le    float64
		count float64
	}
	var buckets []bucket
	prefix := `tether_relay_message_store_seconds_bucket{kind="` + kind + `",le="`
	for _, line := range strings.Split(metrics, "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		var bk bucket
		if _, err := fmt.Sscan(le, &bk.le); err != nil && le != "+Inf" {
			b.Fatalf("bucket bound %q: %v", le, err)
		}
		if le == "+Inf" {
			bk.le = math.Inf(1)
		}
		if _, err := fmt.Sscan(count, &bk.count); err != nil {
			b.Fatalf("bucket count %q: %v", count, err)
		}
		buckets = append(buckets, bk)
	}
	if len(buckets) == 0 {
		b.Fatalf("no tether_relay_message_store_seconds for %s in /metrics", kind)
	}
	total := buckets[len(buckets)-1].count
	at := func(q float64) float64 {
		for _, bk := range buckets {
			if bk.count >= q*total {
				return bk.le * 1e6
			}
		}
		return math.Inf(1)
	}
	return at(0.5), at(0.99)
}
