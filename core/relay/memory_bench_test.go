package relay

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/core/store/storetest"
)

// BenchmarkIdleCustomerMemory connects 10,000 customers, one per session,
// and leaves them idle; it reports the hub-side memory (heap and goroutine
// stacks) per connection. The clients are bare TCP connections that only
// perform the websocket handshake, so they add next to nothing to the
// measurement. Run with -benchtime 1x.
func BenchmarkIdleCustomerMemory(b *testing.B) {
	const n = 10000
	db := storetest.SQLite(b)
	h := newHarness(b, db)
	for i := range n {
		id := insertSession(b, db, h.owner)
		h.sessions.add(id, h.owner, fmt.Sprintf("idle-%d", i))
	}
	addr := strings.TrimPrefix(h.http.URL, "http://")
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	for b.Loop() {
		before := measure()
		conns := make([]net.Conn, 0, n)
		for i := range n {
			c, err := handshake(addr, fmt.Sprintf("idle-%d", i))
			if err != nil {
				b.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
		}
		time.Sleep(500 * time.Millisecond) // let every hello be written
		after := measure()
		b.ReportMetric(float64(after-before)/n/1024, "KiB/conn")
		b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/conn")
		for _, c := range conns {
			c.Close()
		}
	}
}

// handshake opens a customer websocket with nothing but the upgrade request.
func handshake(addr, secret string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /api/v1/relay/customer?resume_after=0 HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n", addr, base64.StdEncoding.EncodeToString(key), secret)
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("upgrade answered %s", resp.Status)
	}
	return c, nil
}
