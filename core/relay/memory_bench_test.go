package relay

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/core/store/storetest"
)

// BenchmarkIdleCustomerMemory connects 10,000 customers, one per session,
// and leaves them idle; it reports the hub-side memory (heap and goroutine
// stacks) per connection. The clients are bare TCP connections that only
// perform the websocket handshake, held by a child process (this test
// binary again, TestIdleClientsProcess) so that each process needs only
// one end of every connection in its file-descriptor limit and the clients
// add nothing to the measurement. Run with -benchtime 1x.
func BenchmarkIdleCustomerMemory(b *testing.B) {
	const n = 10000
	if err := raiseOpenFiles(n + 1024); err != nil {
		b.Fatal(err)
	}
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
		clients := exec.Command(os.Args[0], "-test.run=^TestIdleClientsProcess$")
		clients.Env = append(os.Environ(), idleClientsEnv+"="+addr, fmt.Sprintf("%s=%d", idleClientsCountEnv, n))
		clients.Stderr = os.Stderr
		stdin, err := clients.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := clients.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := clients.Start(); err != nil {
			b.Fatal(err)
		}
		ready := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if line := sc.Text(); strings.HasPrefix(line, "ready") || strings.HasPrefix(line, "error") {
					ready <- line
					return
				}
			}
			ready <- "error: the client process ended"
		}()
		select {
		case line := <-ready:
			if line != "ready" {
				clients.Process.Kill()
				b.Fatal(line)
			}
		case <-time.After(2 * time.Minute):
			clients.Process.Kill()
			b.Fatal("the client process did not connect in 2 minutes")
		}
		time.Sleep(500 * time.Millisecond) // let every hello be written
		after := measure()
		b.ReportMetric(float64(after-before)/n/1024, "KiB/conn")
		b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/conn")
		stdin.Close() // the clients hang up and exit
		clients.Wait()
	}
}

const (
	idleClientsEnv      = "TETHER_RELAY_IDLE_CLIENTS_ADDR"
	idleClientsCountEnv = "TETHER_RELAY_IDLE_CLIENTS"
)

// TestIdleClientsProcess is BenchmarkIdleCustomerMemory's client process:
// it opens the customers' websockets, prints "ready", and holds them until
// its standard input closes. It does nothing in a normal test run.
func TestIdleClientsProcess(t *testing.T) {
	addr := os.Getenv(idleClientsEnv)
	if addr == "" {
		return
	}
	n, err := strconv.Atoi(os.Getenv(idleClientsCountEnv))
	if err == nil {
		err = raiseOpenFiles(uint64(n) + 1024)
	}
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := handshake(addr, fmt.Sprintf("idle-%d", i))
		if err != nil {
			fmt.Printf("error: connection %d: %v\n", i, err)
			return
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// handshake opens a customer websocket with nothing but the upgrade request.
func handshake(addr, secret string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	// A server that cannot accept (out of file descriptors) must fail the
	// benchmark, not hang it.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
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
