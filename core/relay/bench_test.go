package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

// benchHarness is a relay on SQLite with production limits, except the rate
// limit, which a benchmark exceeds by design.
func benchHarness(b *testing.B, db *bun.DB) *harness {
	return newHarness(b, db, func(c *Config) {
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
// Both run on core/store's SQLite (WAL with a background checkpointer).
func BenchmarkChatRoundTrip(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { chatRoundTrip(b, storetest.SQLite(b)) })
}

func chatRoundTrip(b *testing.B, db *bun.DB) {
	h := benchHarness(b, db)
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
	oneWay := make([]time.Duration, 0, b.N)
	direct1 := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprint(i)
		t0 := time.Now()
		cust.send(b, ClientFrame{Type: TypeChat, ClientMsgID: "c" + id, Text: "Is it plugged in?"})
		until(b, tech, "c"+id)
		oneWay = append(oneWay, time.Since(t0))
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
	op50, op99 := percentiles(oneWay)
	b.ReportMetric(op50, "relay-oneway-p50-µs")
	b.ReportMetric(op99, "relay-oneway-p99-µs")
}

// sink reads frames from ws, discarding them, and reports each binary one.
func sink(ws *websocket.Conn, got chan<- struct{}) {
	ctx := context.Background()
	for {
		typ, r, err := ws.Reader(ctx)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			got <- struct{}{}
		}
	}
}

// BenchmarkBinaryThroughput: 64 KiB screen frames from the customer to the
// technician through the relay, and from a client to a server over a direct
// websocket pair; both senders are websocket clients writing the same frames,
// both receivers discard alike. The two alternate in rounds of equal frame
// counts (and alternate which goes first) so that both see the same machine,
// after an unmeasured warm-up of each; ratio is relayed over direct
// throughput. ns/op covers both runs, hence no SetBytes: read relay-MB/s
// and direct-MB/s. The CPU time the process spends per frame on each path
// (both ends and the hub are in this process) is reported too: it shows
// what the extra hop costs, and moves less with the neighbours' load than
// the throughputs do (an idle machine spends more of it on wake-ups, the
// direct pair most). When the cores are busy elsewhere the ratio tends
// towards direct-cpu over relay-cpu.
func BenchmarkBinaryThroughput(b *testing.B) {
	const size = 64 << 10
	frame := append([]byte{BinaryScreen}, make([]byte, size-1)...)
	h := benchHarness(b, storetest.SQLite(b))
	cust := h.customer(0)
	tech, _, err := websocket.Dial(context.Background(), h.wsURL(fmt.Sprintf("/api/v1/relay/sessions/%d?resume_after=0", h.session)),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", h.owner)}}})
	if err != nil {
		b.Fatal(err)
	}
	defer tech.CloseNow()
	tech.SetReadLimit(4 << 20)
	waitFor(b, func() bool { _, techs := h.srv.Hub().Presence(h.session); return len(techs) == 1 })
	relayGot := make(chan struct{}, 1024)
	go sink(tech, relayGot)
	directGot := make(chan struct{}, 1024)
	direct := directPair(b, func(ws *websocket.Conn) { sink(ws, directGot) })

	// The process's CPU time per path.
	var relayCPU, directCPU time.Duration
	cpuOK := true
	run := func(w *websocket.Conn, got <-chan struct{}, frames int) time.Duration {
		c0, ok := processCPU()
		defer func() {
			c1, ok1 := processCPU()
			cpuOK = cpuOK && ok && ok1
			if w == cust.ws {
				relayCPU += c1 - c0
			} else {
				directCPU += c1 - c0
			}
		}()
		t0 := time.Now()
		go func() {
			for range frames {
				if w.Write(context.Background(), websocket.MessageBinary, frame) != nil {
					return
				}
			}
		}()
		stall := time.NewTimer(wait)
		defer stall.Stop()
		for i := range frames {
			select {
			case <-got:
			case <-stall.C:
				b.Fatalf("stalled after %d of %d frames", i, frames)
			}
		}
		return time.Since(t0)
	}
	// Warm both paths up (buffers, TCP windows) before measuring.
	run(cust.ws, relayGot, 64)
	run(direct.ws, directGot, 64)
	relayCPU, directCPU = 0, 0
	b.ResetTimer()
	var relayed, directly time.Duration
	const rounds = 20
	for r := range rounds {
		frames := b.N / rounds
		if r < b.N%rounds {
			frames++
		}
		if r%2 == 0 {
			relayed += run(cust.ws, relayGot, frames)
			directly += run(direct.ws, directGot, frames)
		} else {
			directly += run(direct.ws, directGot, frames)
			relayed += run(cust.ws, relayGot, frames)
		}
	}
	b.StopTimer()
	mb := float64(b.N) * size / 1e6
	b.ReportMetric(mb/relayed.Seconds(), "relay-MB/s")
	b.ReportMetric(mb/directly.Seconds(), "direct-MB/s")
	b.ReportMetric(directly.Seconds()/relayed.Seconds(), "ratio")
	if cpuOK {
		b.ReportMetric(float64(relayCPU.Nanoseconds())/1e3/float64(b.N), "relay-cpu-µs/frame")
		b.ReportMetric(float64(directCPU.Nanoseconds())/1e3/float64(b.N), "direct-cpu-µs/frame")
	}
}
