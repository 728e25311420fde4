// Package clustertest gives tests a NATS server: the shared one the
// machine runs (TETHER_TEST_NATS_URL, nats://127.0.0.1:4222 by default),
// or a private nats-server process a test may stop and start again.
package clustertest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// DefaultURL is used when TETHER_TEST_NATS_URL is not set.
const DefaultURL = "nats://127.0.0.1:4222"

// Require reports whether a missing NATS server must fail the tests
// instead of skipping them (CI sets TETHER_TEST_REQUIRE_NATS=1).
func Require() bool { return os.Getenv("TETHER_TEST_REQUIRE_NATS") == "1" }

func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if Require() {
		tb.Fatalf(format+" (TETHER_TEST_REQUIRE_NATS=1)", args...)
	}
	tb.Skipf(format, args...)
}

// URL is the shared NATS server; the test is skipped (or failed, under
// TETHER_TEST_REQUIRE_NATS=1) when nothing listens there.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("TETHER_TEST_NATS_URL")
	if u == "" {
		u = DefaultURL
	}
	host := u
	if len(host) > len("nats://") && host[:len("nats://")] == "nats://" {
		host = host[len("nats://"):]
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		missing(tb, "no NATS server at %s: %v", u, err)
	}
	c.Close()
	return u
}

// Subject is a subject prefix no other test uses, so that tests sharing
// one NATS server do not wake each other's nodes.
func Subject(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

// Server is a nats-server process of the test's own.
type Server struct {
	tb   testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
	URL  string
}

// Start runs a private nats-server on a free port until the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nats-server"); serr == nil {
			bin = "/usr/sbin/nats-server"
		} else {
			missing(tb, "nats-server is not installed: %v", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{tb: tb, bin: bin, port: port, dir: tb.TempDir(), URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	s.Restart()
	tb.Cleanup(s.Stop)
	return s
}

// Restart starts the server again on the same port (after Stop).
func (s *Server) Restart() {
	s.tb.Helper()
	s.cmd = exec.Command(s.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-l", filepath.Join(s.dir, "nats.log"))
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("nats-server did not listen on %d: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
