package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNoMailer is what a nil *Mailer answers to Send.
var ErrNoMailer = errors.New("no SMTP server configured (TETHER_SMTP_URL)")

// MailTLS is how a Mailer protects its connection.
type MailTLS string

const (
	MailTLSNone     MailTLS = "none"     // plain text; a password is only sent to localhost
	MailTLSStartTLS MailTLS = "starttls" // plain connection upgraded with STARTTLS, required (default)
	MailTLSImplicit MailTLS = "tls"      // TLS from the first byte ("SMTPS", port 465)
)

// DefaultMailTimeout bounds one Send when its context has no deadline.
const DefaultMailTimeout = 30 * time.Second

// maxSubjectRunes keeps the Subject header well under SMTP's line limit.
const maxSubjectRunes = 200

// Mailer sends plain-text e-mail through one SMTP server, e.g. to tell the
// technicians of a channel that a session arrived while none was available
// . Build it with ParseMailerURL; a nil *Mailer means none is configured.
type Mailer struct {
	Host     string
	Port     string
	Username string // empty: no authentication
	password string // never printed: String and GoString redact it
	From     mail.Address
	TLS      MailTLS
	// TLSConfig verifies the server; nil means the system roots and Host as
	// the server name.
	TLSConfig *tls.Config
	// Helo is the name given in EHLO; empty means "localhost".
	Helo    string
	Timeout time.Duration    // zero means DefaultMailTimeout
	Now     func() time.Time // nil means time.Now; for the Date header
	Rand    io.Reader        // nil means crypto/rand; for the Message-ID
}

// ParseMailerURL reads a TETHER_SMTP_URL:
//
//	smtp://user:password@host:port?from=tether@example.com&tls=starttls
//
// Parameters: from (required, the sender, may carry a display name), tls
// (none | starttls | tls; default starttls, or tls for an smtps:// URL) and
// helo (the EHLO name). The port defaults to 25 with tls=none, 587 with
// starttls and 465 with tls. A password is refused with tls=none unless the
// host is the local machine. Errors never repeat the password.
func ParseMailerURL(raw string) (*Mailer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return nil, fmt.Errorf("SMTP URL is not a valid URL: %v", err)
	}
	where := u.Redacted()
	fail := func(format string, args ...any) (*Mailer, error) {
		return nil, fmt.Errorf("SMTP URL %s: %s", where, fmt.Sprintf(format, args...))
	}
	m := &Mailer{Host: u.Hostname(), Port: u.Port()}
	switch u.Scheme {
	case "smtp":
		m.TLS = MailTLSStartTLS
	case "smtps":
		m.TLS = MailTLSImplicit
	default:
		return fail("scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if m.Host == "" {
		return fail("no host")
	}
	if u.Path != "" && u.Path != "/" {
		return fail("unexpected path %q (put parameters after ?)", u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("bad parameters: %v", err)
	}
	for k := range q {
		if k != "from" && k != "tls" && k != "helo" {
			return fail("unknown parameter %q (known: from, tls, helo)", k)
		}
	}
	if v := q.Get("tls"); v != "" {
		mode := MailTLS(v)
		if mode != MailTLSNone && mode != MailTLSStartTLS && mode != MailTLSImplicit {
			return fail("tls must be none, starttls or tls, not %q", v)
		}
		if u.Scheme == "smtps" && mode != MailTLSImplicit {
			return fail("an smtps:// URL always uses tls=tls, not %q", v)
		}
		m.TLS = mode
	}
	if m.Port == "" {
		m.Port = map[MailTLS]string{MailTLSNone: "25", MailTLSStartTLS: "587", MailTLSImplicit: "465"}[m.TLS]
	} else if p, err := strconv.Atoi(m.Port); err != nil || p < 1 || p > 65535 {
		return fail("port must be 1 to 65535, not %q", m.Port)
	}
	from := q.Get("from")
	if from == "" {
		return fail("missing from= parameter (the sender address, e.g. from=tether@example.com)")
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return fail("from=%q is not an e-mail address", from)
	}
	m.From = *addr
	m.Helo = q.Get("helo")
	if u.User != nil {
		m.Username = u.User.Username()
		m.password, _ = u.User.Password()
		if m.Username == "" {
			return fail("a password is given without a user name")
		}
		if m.TLS == MailTLSNone && !isLocalhost(m.Host) {
			return fail("refusing to send the SMTP password unencrypted to %s: use tls=starttls or tls=tls", m.Host)
		}
	}
	return m, nil
}

func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// String describes the server without the password, for logs. Value
// receivers, so that printing a Mailer value, not only a pointer, is safe too.
func (m Mailer) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(m.Host, m.Port)}
	if m.Username != "" {
		u.User = url.User(m.Username)
	}
	u.RawQuery = url.Values{"from": {m.From.Address}, "tls": {string(m.TLS)}}.Encode()
	return u.String()
}

// GoString keeps %#v from printing the password.
func (m Mailer) GoString() string { return "queue.Mailer(" + m.String() + ")" }

// RecipientsRefusedError reports the recipients the server refused. The
// message went to every other recipient; Delivered lists them (none if all
// were refused).
type RecipientsRefusedError struct {
	Refused   map[string]error // address -> the server's answer
	Delivered []string
}

func (e *RecipientsRefusedError) Error() string {
	addrs := make([]string, 0, len(e.Refused))
	for a := range e.Refused {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = a + ": " + e.Refused[a].Error()
	}
	return fmt.Sprintf("SMTP server refused %d of %d recipients (%s)",
		len(e.Refused), len(e.Refused)+len(e.Delivered), strings.Join(parts, "; "))
}

// Send mails a plain-text message to every address in to. A recipient the
// server refuses does not stop delivery to the others; Send then returns a
// *RecipientsRefusedError.
func (m *Mailer) Send(ctx context.Context, to []string, subject, body string) error {
	if m == nil {
		return ErrNoMailer
	}
	if len(to) == 0 {
		return errors.New("send mail: no recipients")
	}
	rcpts := make([]string, len(to))
	for i, a := range to {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return fmt.Errorf("send mail: recipient %q is not an e-mail address", a)
		}
		rcpts[i] = addr.Address
	}
	msg, err := m.compose(rcpts, subject, body)
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := m.Timeout
		if timeout <= 0 {
			timeout = DefaultMailTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := m.deliver(ctx, rcpts, msg); err != nil {
		switch {
		case errors.As(err, new(*RecipientsRefusedError)):
		case ctx.Err() != nil:
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The connection's deadline is the context's; it can expire a
			// moment before the context reports it.
			err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return fmt.Errorf("send mail via %s: %w", net.JoinHostPort(m.Host, m.Port), err)
	}
	return nil
}

func (m *Mailer) deliver(ctx context.Context, rcpts []string, msg []byte) error {
	conn, err := m.dial(ctx)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline) //nolint:errcheck // an error here surfaces on the next read
	// net/smtp has no context: cancelling expires the connection's deadline,
	// which fails whatever read or write is under way.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) }) //nolint:errcheck
	defer stop()

	c, err := smtp.NewClient(conn, m.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	helo := m.Helo
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if m.TLS == MailTLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS (set tls=none to send unencrypted)")
		}
		if err := c.StartTLS(m.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if m.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer authentication (AUTH), but a user name is configured")
		}
		// PlainAuth itself refuses to send the password without TLS unless
		// the server is the local machine.
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.password, m.Host)); err != nil {
			return fmt.Errorf("authenticate as %s: %w", m.Username, err)
		}
	}
	if err := c.Mail(m.From.Address); err != nil {
		return fmt.Errorf("MAIL FROM %s: %w", m.From.Address, err)
	}
	refused := map[string]error{}
	var accepted []string
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			refused[r] = err
			continue
		}
		accepted = append(accepted, r)
	}
	if len(accepted) > 0 {
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("DATA: %w", err)
		}
		if _, err := w.Write(msg); err != nil {
			return fmt.Errorf("write message: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("message not accepted: %w", err)
		}
	}
	// The message was accepted when DATA ended; a failing goodbye loses nothing.
	_ = c.Quit()
	if len(refused) > 0 {
		return &RecipientsRefusedError{Refused: refused, Delivered: accepted}
	}
	return nil
}

func (m *Mailer) dial(ctx context.Context) (net.Conn, error) {
	addr := net.JoinHostPort(m.Host, m.Port)
	var conn net.Conn
	var err error
	if m.TLS == MailTLSImplicit {
		conn, err = (&tls.Dialer{Config: m.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

func (m *Mailer) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.TLSConfig != nil {
		cfg = m.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = m.Host
	}
	return cfg
}

// compose renders the message with CRLF line endings: RFC 5322 headers
// (the subject RFC 2047-encoded when it is not ASCII) and a UTF-8 body in
// quoted-printable, which any server accepts (no 8BITMIME needed) and which
// keeps lines under SMTP's 998-byte limit.
func (m *Mailer) compose(rcpts []string, subject, body string) ([]byte, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	id, err := m.messageID()
	if err != nil {
		return nil, err
	}
	to := make([]string, len(rcpts))
	for i, r := range rcpts {
		to[i] = (&mail.Address{Address: r}).String()
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", m.From.String())
	header("To", strings.Join(to, ",\r\n ")) // folded: long lists stay under the line limit
	header("Subject", mime.QEncoding.Encode("utf-8", cleanSubject(subject)))
	header("Date", now().Format(time.RFC1123Z))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// cleanSubject folds line breaks into spaces (no header injection through a
// customer's name) and shortens very long subjects.
func cleanSubject(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
	if r := []rune(s); len(r) > maxSubjectRunes {
		s = string(r[:maxSubjectRunes-1]) + "…"
	}
	return s
}

func (m *Mailer) messageID() (string, error) {
	rnd := m.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var buf [16]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	domain := "tether.invalid"
	if at := strings.LastIndexByte(m.From.Address, '@'); at >= 0 {
		domain = m.From.Address[at+1:]
	}
	return "<" + hex.EncodeToString(buf[:]) + "@" + domain + ">", nil
}
