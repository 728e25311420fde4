package queue

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (go-smtp) on a loopback port that
// records what it receives.
type smtpServer struct {
	Addr string
	Port string
	Pool *x509.CertPool // trusts the server's certificate

	mu       sync.Mutex
	messages []received
	reject   map[string]bool   // recipients answered 550
	users    map[string]string // when set, AUTH PLAIN is required
}

type received struct {
	From string
	To   []string
	Data []byte
	User string
}

type serverMode int

const (
	plainServer    serverMode = iota // no TLS at all
	startTLSServer                   // offers STARTTLS
	implicitTLS                      // TLS from the first byte
)

func startSMTP(t *testing.T, mode serverMode, users map[string]string, reject ...string) *smtpServer {
	t.Helper()
	s := &smtpServer{users: users, reject: map[string]bool{}}
	for _, r := range reject {
		s.reject[r] = true
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = mode == plainServer // AUTH over plain text to localhost
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode != plainServer {
		cert, pool := selfSigned(t)
		s.Pool = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.TLSConfig = cfg
		if mode == implicitTLS {
			ln = tls.NewListener(ln, cfg)
		}
	}
	s.Addr = ln.Addr().String()
	_, s.Port, _ = net.SplitHostPort(s.Addr)
	go srv.Serve(ln) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

type smtpSession struct {
	srv  *smtpServer
	user string
	from string
	to   []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if want, ok := ss.srv.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if len(ss.srv.users) > 0 && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.srv.reject[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.srv.mu.Lock()
	defer ss.srv.mu.Unlock()
	ss.srv.messages = append(ss.srv.messages, received{From: ss.from, To: slices.Clone(ss.to), Data: b, User: ss.user})
	return nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

var mailDate = time.Date(2026, 11, 25, 9, 30, 0, 0, time.FixedZone("CET", 3600))

// mailerFor parses url for the test server and fixes the clock and trust.
func mailerFor(t *testing.T, s *smtpServer, rawURL string) *Mailer {
	t.Helper()
	m, err := ParseMailerURL(strings.ReplaceAll(rawURL, "PORT", s.Port))
	if err != nil {
		t.Fatal(err)
	}
	m.Now = func() time.Time { return mailDate }
	if s.Pool != nil {
		m.TLSConfig = &tls.Config{RootCAs: s.Pool}
	}
	return m
}

func parseMessage(t *testing.T, raw []byte) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, raw)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("body is not quoted-printable: %v", err)
	}
	return msg, string(body)
}

func TestMailerDelivers(t *testing.T) {
	s := startSMTP(t, plainServer, nil)
	m := mailerFor(t, s, "smtp://127.0.0.1:PORT?from=Tether%20Hub%20%3Ctether@example.com%3E&tls=none")
	body := "A session is waiting on channel Support.\n.hidden line starting with a dot\n.\nCafé crème, " +
		strings.Repeat("long line ", 20) + "\nend"
	if err := m.Send(context.Background(), []string{"tina@example.com"}, "Session waiting", body); err != nil {
		t.Fatal(err)
	}
	got := s.received()
	if len(got) != 1 || got[0].From != "tether@example.com" || !slices.Equal(got[0].To, []string{"tina@example.com"}) {
		t.Fatalf("received %+v", got)
	}
	raw := got[0].Data
	if bytes.Count(raw, []byte("\n")) != bytes.Count(raw, []byte("\r\n")) {
		t.Errorf("bare LF in message:\n%q", raw)
	}
	for _, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 78 {
			t.Errorf("line of %d bytes: %q", len(line), line)
		}
	}
	msg, text := parseMessage(t, raw)
	h := msg.Header
	for k, want := range map[string]string{
		"From":                      `"Tether Hub" <tether@example.com>`,
		"To":                        "<tina@example.com>",
		"Subject":                   "Session waiting",
		"Date":                      "Wed, 25 Nov 2026 09:30:00 +0100",
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if h.Get(k) != want {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), want)
		}
	}
	if !regexp.MustCompile(`^<[0-9a-f]{32}@example\.com>$`).MatchString(h.Get("Message-Id")) {
		t.Errorf("Message-ID = %q", h.Get("Message-Id"))
	}
	if want := strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"; text != want {
		t.Errorf("body\n got %q\nwant %q", text, want)
	}

	// Each message gets its own Message-ID.
	if err := m.Send(context.Background(), []string{"tina@example.com"}, "Again", "x"); err != nil {
		t.Fatal(err)
	}
	got = s.received()
	m1, _ := parseMessage(t, got[0].Data)
	m2, _ := parseMessage(t, got[1].Data)
	if m1.Header.Get("Message-Id") == m2.Header.Get("Message-Id") {
		t.Error("two messages share a Message-ID")
	}
}

func TestMailerEncodesSubject(t *testing.T) {
	s := startSMTP(t, plainServer, nil)
	m := mailerFor(t, s, "smtp://localhost:PORT?from=tether@example.com&tls=none")
	subject := "Séance en attente — Café ☕ sur le canal Support"
	if err := m.Send(context.Background(), []string{"tina@example.com"}, subject, "corps"); err != nil {
		t.Fatal(err)
	}
	raw := s.received()[0].Data
	rawSubject := regexp.MustCompile(`(?m)^Subject: (.*)\r$`).FindSubmatch(raw)
	if rawSubject == nil || !bytes.HasPrefix(rawSubject[1], []byte("=?utf-8?q?")) || !isASCII(rawSubject[1]) {
		t.Fatalf("raw Subject not RFC 2047 encoded: %q", raw)
	}
	decoded, err := new(mime.WordDecoder).DecodeHeader(string(rawSubject[1]))
	if err != nil || decoded != subject {
		t.Errorf("decoded subject %q, %v; want %q", decoded, err, subject)
	}

	// A line break in a subject cannot smuggle in a header.
	if err := m.Send(context.Background(), []string{"tina@example.com"}, "Name: Bob\r\nBcc: evil@example.com", "x"); err != nil {
		t.Fatal(err)
	}
	msg, _ := parseMessage(t, s.received()[1].Data)
	if msg.Header.Get("Bcc") != "" || msg.Header.Get("Subject") != "Name: Bob Bcc: evil@example.com" {
		t.Errorf("header injection: %v", msg.Header)
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func TestMailerMultipleRecipients(t *testing.T) {
	s := startSMTP(t, plainServer, nil)
	m := mailerFor(t, s, "smtp://127.0.0.1:PORT?from=tether@example.com&tls=none")
	to := []string{"tina@example.com", "Tom <tom@example.org>", "ops@example.net"}
	if err := m.Send(context.Background(), to, "Waiting", "body"); err != nil {
		t.Fatal(err)
	}
	got := s.received()
	want := []string{"tina@example.com", "tom@example.org", "ops@example.net"}
	if len(got) != 1 || !slices.Equal(got[0].To, want) {
		t.Fatalf("one message to all three expected, got %+v", got)
	}
	msg, _ := parseMessage(t, got[0].Data)
	list, err := msg.Header.AddressList("To")
	if err != nil || len(list) != 3 {
		t.Fatalf("To header %q: %v", msg.Header.Get("To"), err)
	}
	for i, a := range list {
		if a.Address != want[i] {
			t.Errorf("To[%d] = %s, want %s", i, a.Address, want[i])
		}
	}
}

func TestMailerRefusedRecipient(t *testing.T) {
	s := startSMTP(t, plainServer, nil, "gone@example.com")
	m := mailerFor(t, s, "smtp://127.0.0.1:PORT?from=tether@example.com&tls=none")

	err := m.Send(context.Background(), []string{"tina@example.com", "gone@example.com"}, "Waiting", "body")
	var refused *RecipientsRefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("err = %v, want RecipientsRefusedError", err)
	}
	if len(refused.Refused) != 1 || refused.Refused["gone@example.com"] == nil || !slices.Equal(refused.Delivered, []string{"tina@example.com"}) {
		t.Errorf("refused = %+v", refused)
	}
	for _, want := range []string{"gone@example.com", "550", "no such user here", "1 of 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := s.received(); len(got) != 1 || !slices.Equal(got[0].To, []string{"tina@example.com"}) {
		t.Errorf("the others must still get it: %+v", got)
	}

	err = m.Send(context.Background(), []string{"gone@example.com"}, "Waiting", "body")
	if !errors.As(err, &refused) || len(refused.Delivered) != 0 {
		t.Fatalf("all refused: %v", err)
	}
	if got := s.received(); len(got) != 1 {
		t.Errorf("nothing must be delivered when every recipient is refused: %d messages", len(got))
	}
}

func TestMailerTLSAndAuth(t *testing.T) {
	users := map[string]string{"tether": "s3cret!pw"}
	t.Run("starttls", func(t *testing.T) {
		s := startSMTP(t, startTLSServer, users)
		m := mailerFor(t, s, "smtp://tether:s3cret%21pw@127.0.0.1:PORT?from=tether@example.com&tls=starttls")
		if err := m.Send(context.Background(), []string{"tina@example.com"}, "Waiting", "body"); err != nil {
			t.Fatal(err)
		}
		if got := s.received(); len(got) != 1 || got[0].User != "tether" {
			t.Fatalf("received %+v", got)
		}
	})
	t.Run("implicit tls", func(t *testing.T) {
		s := startSMTP(t, implicitTLS, users)
		m := mailerFor(t, s, "smtps://tether:s3cret%21pw@127.0.0.1:PORT?from=tether@example.com")
		if err := m.Send(context.Background(), []string{"tina@example.com"}, "Waiting", "body"); err != nil {
			t.Fatal(err)
		}
		if got := s.received(); len(got) != 1 || got[0].User != "tether" {
			t.Fatalf("received %+v", got)
		}
	})
	t.Run("plain auth to localhost without tls", func(t *testing.T) {
		s := startSMTP(t, plainServer, users)
		m := mailerFor(t, s, "smtp://tether:s3cret%21pw@localhost:PORT?from=tether@example.com&tls=none")
		if err := m.Send(context.Background(), []string{"tina@example.com"}, "Waiting", "body"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		s := startSMTP(t, startTLSServer, users)
		m := mailerFor(t, s, "smtp://tether:hunter2@127.0.0.1:PORT?from=tether@example.com")
		err := m.Send(context.Background(), []string{"tina@example.com"}, "Waiting", "body")
		if err == nil || !strings.Contains(err.Error(), "authenticate as tether") || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("err = %v", err)
		}
		if len(s.received()) != 0 {
			t.Error("delivered without authentication")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		s := startSMTP(t, startTLSServer, users)
		m := mailerFor(t, s, "smtp://tether:s3cret%21pw@127.0.0.1:PORT?from=tether@example.com")
		m.TLSConfig = nil // system roots do not know the test CA
		if err := m.Send(context.Background(), []string{"tina@example.com"}, "Waiting", "body"); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("starttls required but not offered", func(t *testing.T) {
		s := startSMTP(t, plainServer, nil)
		m := mailerFor(t, s, "smtp://127.0.0.1:PORT?from=tether@example.com")
		err := m.Send(context.Background(), []string{"tina@example.com"}, "Waiting", "body")
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
			t.Fatalf("err = %v", err)
		}
		if len(s.received()) != 0 {
			t.Error("delivered in clear text")
		}
	})
}

func TestMailerErrors(t *testing.T) {
	var none *Mailer
	err := none.Send(context.Background(), []string{"tina@example.com"}, "s", "b")
	if !errors.Is(err, ErrNoMailer) || err.Error() != "no SMTP server configured (TETHER_SMTP_URL)" {
		t.Errorf("nil mailer: %v", err)
	}

	s := startSMTP(t, plainServer, nil)
	m := mailerFor(t, s, "smtp://127.0.0.1:PORT?from=tether@example.com&tls=none")
	if err := m.Send(context.Background(), nil, "s", "b"); err == nil || !strings.Contains(err.Error(), "no recipients") {
		t.Errorf("no recipients: %v", err)
	}
	if err := m.Send(context.Background(), []string{"not an address"}, "s", "b"); err == nil || !strings.Contains(err.Error(), `"not an address"`) {
		t.Errorf("bad recipient: %v", err)
	}

	// A server that accepts and never greets: the context bounds the wait.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	silent, err := ParseMailerURL("smtp://127.0.0.1:" + port + "?from=tether@example.com&tls=none")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = silent.Send(ctx, []string{"tina@example.com"}, "s", "b")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("silent server: %v after %v", err, time.Since(start))
	}
	// Without a deadline of its own, Timeout applies.
	silent.Timeout = 100 * time.Millisecond
	if err := silent.Send(context.Background(), []string{"tina@example.com"}, "s", "b"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent server with Timeout: %v", err)
	}
}

func TestParseMailerURL(t *testing.T) {
	good := []struct {
		raw                   string
		host, port, user, hlo string
		tls                   MailTLS
		from                  mail.Address
	}{
		{"smtp://mail.example.com?from=tether@example.com", "mail.example.com", "587", "", "", MailTLSStartTLS, mail.Address{Address: "tether@example.com"}},
		{"smtp://u:p@mail.example.com:2525?from=Tether%20%3Ctether@example.com%3E&tls=tls&helo=hub.example.com",
			"mail.example.com", "2525", "u", "hub.example.com", MailTLSImplicit, mail.Address{Name: "Tether", Address: "tether@example.com"}},
		{"smtps://mail.example.com?from=a@example.com", "mail.example.com", "465", "", "", MailTLSImplicit, mail.Address{Address: "a@example.com"}},
		{"smtp://localhost?from=a@example.com&tls=none", "localhost", "25", "", "", MailTLSNone, mail.Address{Address: "a@example.com"}},
		{"smtp://u:p@127.0.0.1:25?from=a@example.com&tls=none", "127.0.0.1", "25", "u", "", MailTLSNone, mail.Address{Address: "a@example.com"}},
		{"smtp://u:p@[::1]:25?from=a@example.com&tls=none", "::1", "25", "u", "", MailTLSNone, mail.Address{Address: "a@example.com"}},
	}
	for _, g := range good {
		m, err := ParseMailerURL(g.raw)
		if err != nil {
			t.Errorf("%s: %v", g.raw, err)
			continue
		}
		if m.Host != g.host || m.Port != g.port || m.Username != g.user || m.Helo != g.hlo || m.TLS != g.tls || m.From != g.from {
			t.Errorf("%s: got %+v", g.raw, *m)
		}
	}
	m, _ := ParseMailerURL("smtp://tether:hunter2@mail.example.com?from=a@example.com")
	if m.password != "hunter2" {
		t.Errorf("password not kept")
	}
	for _, printed := range []string{fmt.Sprint(m), fmt.Sprintf("%+v", m), fmt.Sprintf("%#v", m), fmt.Sprintf("%v", *m), fmt.Sprintf("%+v", *m)} {
		if strings.Contains(printed, "hunter2") {
			t.Errorf("password printed: %s", printed)
		}
	}

	bad := map[string]string{
		"http://mail.example.com?from=a@example.com":                    `scheme must be smtp or smtps, not "http"`,
		"smtp://?from=a@example.com":                                    "no host",
		"smtp://mail.example.com":                                       "missing from= parameter",
		"smtp://mail.example.com?from=nope":                             `from="nope" is not an e-mail address`,
		"smtp://mail.example.com?from=a@example.com&tls=ssl":            `tls must be none, starttls or tls, not "ssl"`,
		"smtps://mail.example.com?from=a@example.com&tls=none":          "an smtps:// URL always uses tls=tls",
		"smtp://u:hunter2@mail.example.com?from=a@example.com&tls=none": "refusing to send the SMTP password unencrypted to mail.example.com",
		"smtp://u:hunter2@mail.example.com:99999?from=a@example.com":    `port must be 1 to 65535, not "99999"`,
		"smtp://u:hunter2@mail.example.com:abc?from=a@example.com":      "not a valid URL",
		"smtp://u:hunter2@[bad?from=a@example.com":                      "not a valid URL",
		"smtp://u:hunter2@mail.example.com?from=a@example.com&tsl=none": `unknown parameter "tsl"`,
		"smtp://:hunter2@mail.example.com?from=a@example.com":           "password is given without a user name",
		"smtp://u:hunter2@mail.example.com/relay?from=a@example.com":    `unexpected path "/relay"`,
		"smtp://u:hunter2@mail.example.com?from=a@example.com&from=%zz": "bad parameters",
	}
	for raw, want := range bad {
		_, err := ParseMailerURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to say %q", raw, err, want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error repeats the password: %v", raw, err)
		}
	}
}
