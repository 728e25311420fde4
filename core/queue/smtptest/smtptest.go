// Package smtptest runs a real SMTP server on loopback for tests of code
// that sends mail through TETHER_SMTP_URL; it records what it receives.
// It is for tests only: no TLS, no authentication.
package smtptest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received e-mail.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a running SMTP listener.
type Server struct {
	// URL is a TETHER_SMTP_URL pointing at the server.
	URL string

	mu   sync.Mutex
	msgs []Message
}

// Start listens on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "smtp://" + ln.Addr().String() + "?from=tether@example.com&tls=none"}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
	t.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns what has been received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error   { ss.to = append(ss.to, to); return nil }
func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, Message{From: ss.from, To: ss.to, Data: b})
	ss.s.mu.Unlock()
	return nil
}
func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }
