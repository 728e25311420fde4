package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/core/store/storetest"
)

// benchHarness is a relay on SQLite with production limits, except the rate
// limit, which a benchmark exceeds by design.
func benchHarness(b *testing.B) *harness {
	return newHarness(b, storetest.SQLite(b), func(c *Config) {
		c.Limits = Limits{RatePerSecond: 1e9, RateBurst: 1e9}
	})
}

// directPair is the baseline: a websocket client and a server handler with
// nothing in between. serve runs on the server side of each connection.
func directPair(b *testing.B, serve func(ws *websocket.Conn)) *client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ws.SetReadLimit(4 << 20)
		serve(ws)
	}))
	b.Cleanup(srv.Close)
	c, err := dialClient("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.ws.CloseNow() })
	return c
}

// until reads frames until a message with the given client_msg_id.
func until(b *testing.B, c *client, id string) {
	for {
		if f := c.next(b); f.Type == TypeMessage && f.ClientMsgID == id {
			return
		}
	}
}

func percentiles(d []time.Duration) (p50, p99 float64) {
	slices.Sort(d)
	at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Nanoseconds()) / 1e3 }
	return at(0.50), at(0.99)
}

// BenchmarkChatRoundTrip: the customer writes, the technician reads and
// answers, the customer reads the answer; through the relay (two appends to
// SQLite, fan-out through the log) and through a direct websocket pair where
// the server side answers each frame itself.
func BenchmarkChatRoundTrip(b *testing.B) {
	h := benchHarness(b)
	cust := h.customer(0)
	tech := h.technician(h.owner, 0)
	direct := directPair(b, func(ws *websocket.Conn) {
		ctx := context.Background()
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var f ClientFrame
			if json.Unmarshal(data, &f) != nil {
				return
			}
			reply, _ := json.Marshal(messageFrame{Type: TypeMessage, Message: Message{Kind: KindChat, Body: f.Text, ClientMsgID: "r" + f.ClientMsgID}})
			if ws.Write(ctx, websocket.MessageText, reply) != nil {
				return
			}
		}
	})
	relayed := make([]time.Duration, 0, b.N)
	direct1 := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprint(i)
		t0 := time.Now()
		cust.send(b, ClientFrame{Type: TypeChat, ClientMsgID: "c" + id, Text: "Is it plugged in?"})
		until(b, tech, "c"+id)
		tech.send(b, ClientFrame{Type: TypeChat, ClientMsgID: "t" + id, Text: "Yes it is."})
		until(b, cust, "t"+id)
		relayed = append(relayed, time.Since(t0))

		t0 = time.Now()
		direct.send(b, ClientFrame{Type: TypeChat, ClientMsgID: id, Text: "Is it plugged in?"})
		until(b, direct, "r"+id)
		direct1 = append(direct1, time.Since(t0))
	}
	b.StopTimer()
	rp50, rp99 := percentiles(relayed)
	dp50, dp99 := percentiles(direct1)
	b.ReportMetric(rp50, "relay-p50-µs")
	b.ReportMetric(rp99, "relay-p99-µs")
	b.ReportMetric(dp50, "direct-p50-µs")
	b.ReportMetric(dp99, "direct-p99-µs")
	b.ReportMetric(rp99/dp99, "p99-ratio")
}

// BenchmarkBinaryThroughput: 64 KiB screen frames from the customer to the
// technician through the relay, and over a direct websocket pair.
func BenchmarkBinaryThroughput(b *testing.B) {
	const size = 64 << 10
	frame := append([]byte{BinaryScreen}, make([]byte, size-1)...)
	h := benchHarness(b)
	cust := h.customer(0)
	tech := h.technician(h.owner, 0)
	received := make(chan struct{})
	n := b.N
	direct := directPair(b, func(ws *websocket.Conn) {
		ctx := context.Background()
		for i := 0; i < n; i++ {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
		close(received)
		ws.Read(ctx) //nolint:errcheck // until the client goes
	})
	send := func(c *client) {
		go func() {
			for range n {
				if c.ws.Write(context.Background(), websocket.MessageBinary, frame) != nil {
					return
				}
			}
		}()
	}
	b.SetBytes(size)
	b.ResetTimer()
	t0 := time.Now()
	send(cust)
	for range n {
		select {
		case <-tech.binary:
		case <-time.After(wait):
			b.Fatal("relay stalled")
		}
	}
	relayed := time.Since(t0)
	t0 = time.Now()
	send(direct)
	<-received
	directly := time.Since(t0)
	b.StopTimer()
	mb := float64(n) * size / 1e6
	b.ReportMetric(mb/relayed.Seconds(), "relay-MB/s")
	b.ReportMetric(mb/directly.Seconds(), "direct-MB/s")
	b.ReportMetric(directly.Seconds()/relayed.Seconds(), "ratio")
}
