package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/core/applet"
)

// appletOptions is everything tether applet is told.
type appletOptions struct {
	Server     string
	PIN        string
	Channel    int64
	Name       string
	Fields     []string // N=value, N from 1 to 5
	TrackingID string
	Language   string
	Yes        bool
}

// A waiting customer asks the hub for its position this often (SESS-11);
// any other customer checks that the session still runs this much less often,
// in case the relay's word of its end was lost.
const (
	appletPollInterval = 2 * time.Second
	appletCheckEvery   = 15 // polls
	appletEndGrace     = 2 * time.Second
)

func (a *app) appletCmd() *cobra.Command {
	var o appletOptions
	cmd := &cobra.Command{
		Use:   "applet",
		Short: "Ask for help as a customer: join a session and chat",
		Long: `Ask for help as a customer, from a terminal: join a private session with the 6-digit
code a technician gave you (--pin), or open a session on a channel (--channel); accept
the terms, wait in the queue, then chat line by line: each line you type is sent, each
message of the session is printed as one line:

  [system] Connected to Tina.
  [Tina] Hello, how can I help?
  [you] My printer is on fire

The applet survives network drops: it reconnects by itself and nothing is lost or
repeated. Type /quit (or press Ctrl-C) to end the session; the end of input alone does
not end it. The exit code is 0 when the session ended, 1 on an error, such as an
expired code; the error's message is printed on stderr.`,
		Example: `  tether applet --server https://help.example.com --pin 123456
  tether applet --server https://help.example.com --channel 2 --name Alice --field 1=ACME --yes`,
		Args: cobra.NoArgs,
		// The applet is a customer's tool, not a service: it does not set up
		// the hub's logger, so an error reaches stderr as one "Error: ..." line.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags(), a.lookupEnv)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if o.Language == "" {
				o.Language = localeLanguage(a.lookupEnv)
			}
			ctx, stop := appletSignals(cmd.Context())
			defer stop()
			return runApplet(ctx, o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Server, "server", "", "the hub's URL, e.g. https://help.example.com")
	f.StringVar(&o.PIN, "pin", "", "the 6-digit code your technician gave you")
	f.Int64Var(&o.Channel, "channel", 0, "the channel to ask for help on (its ID, from the channel link)")
	f.StringVar(&o.Name, "name", "", "your name, for --channel")
	f.StringArrayVar(&o.Fields, "field", nil, "a custom field of the channel form, for --channel: N=value with N from 1 to 5 (repeatable)")
	f.StringVar(&o.TrackingID, "tracking-id", "", "a tracking ID for the session, for --channel")
	f.StringVar(&o.Language, "language", "", "your language, e.g. fr-CA (default: from LANG)")
	f.BoolVar(&o.Yes, "yes", false, "accept the terms without asking (for scripts)")
	bindEnv(f)
	return cmd
}

func (o appletOptions) check() error {
	if o.Server == "" {
		return errors.New("--server is required: the hub's URL, e.g. https://help.example.com")
	}
	if _, err := serverURL(o.Server); err != nil {
		return err
	}
	switch {
	case o.PIN == "" && o.Channel == 0:
		return errors.New("give --pin (the code your technician gave you) or --channel")
	case o.PIN != "" && o.Channel != 0:
		return errors.New("give --pin or --channel, not both")
	case o.Channel < 0:
		return fmt.Errorf("--channel must be a channel ID, got %d", o.Channel)
	case o.PIN != "" && (o.Name != "" || len(o.Fields) > 0 || o.TrackingID != ""):
		return errors.New("--name, --field and --tracking-id go with --channel; with --pin your technician fills them in")
	}
	_, err := o.formFields()
	return err
}

// formFields is the channel form: --name is field 0, --field N=value field N.
func (o appletOptions) formFields() (applet.Fields, error) {
	f := applet.Fields{TrackingID: o.TrackingID}
	f.CFields[0] = o.Name
	for _, kv := range o.Fields {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(k)
		if !ok || err != nil || n < 1 || n >= applet.FieldCount {
			return applet.Fields{}, fmt.Errorf("--field %q: want N=value with N from 1 to %d", kv, applet.FieldCount-1)
		}
		f.CFields[n] = v
	}
	return f, nil
}

func serverURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want the hub's http:// or https:// URL", s)
	}
	return u, nil
}

// localeLanguage turns the POSIX locale (fr_CA.UTF-8) into a language tag
// (fr-CA); "C" and "POSIX" say nothing.
func localeLanguage(lookupEnv func(string) (string, bool)) string {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v, _ := lookupEnv(k)
		v, _, _ = strings.Cut(v, ".")
		v, _, _ = strings.Cut(v, "@")
		if v == "" || v == "C" || v == "POSIX" {
			continue
		}
		v = strings.ReplaceAll(v, "_", "-")
		if len(v) > 16 {
			v = v[:16]
		}
		return v
	}
	return ""
}

// appletSignals turns the first SIGINT or SIGTERM into "leave the session"
// (the returned context's cancellation); a second one exits at once.
func appletSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
			return
		}
		select {
		case <-ch:
			os.Exit(1)
		case <-parent.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// appletRun is one customer session on the terminal.
type appletRun struct {
	o      appletOptions
	client *applet.Client
	out    *lineWriter
	lines  <-chan string // stdin, closed at end of input
}

// runApplet joins, answers the terms, waits, and chats until the session
// ends. ctx ending means "the customer wants to leave".
func runApplet(ctx context.Context, o appletOptions, in io.Reader, out io.Writer) error {
	u, err := serverURL(o.Server)
	if err != nil {
		return err
	}
	r := &appletRun{o: o, client: &applet.Client{Server: u}, out: &lineWriter{w: out}, lines: readLines(in)}
	// REST calls made to leave must outlive the signal that asked to leave.
	calls := context.WithoutCancel(ctx)
	s, err := r.join(ctx)
	if err != nil {
		return hubError(err)
	}
	r.out.printf("joined session %d", s.ID)
	if s.Terms != nil && s.Terms.Enabled {
		accept := r.askTerms(ctx, s.Terms)
		if s, err = r.client.AnswerTerms(calls, accept); err != nil {
			return hubError(err)
		}
		if !accept {
			r.out.printf("terms declined")
			r.printEnd(s)
			return nil
		}
		r.out.printf("terms accepted")
	}
	conn, err := r.client.Connect(calls)
	if errors.Is(err, applet.ErrEnded) {
		r.printEnd(r.finalStatus(calls, s))
		return nil
	}
	if err != nil {
		return hubError(err)
	}
	defer conn.Close()
	return r.chat(ctx, calls, conn, s)
}

func (r *appletRun) join(ctx context.Context) (applet.Session, error) {
	info := applet.ClientInfo{Kind: "applet", Platform: runtime.GOOS + "/" + runtime.GOARCH, Language: r.o.Language}
	if r.o.PIN != "" {
		return r.client.JoinPIN(ctx, strings.TrimSpace(r.o.PIN), info)
	}
	fields, err := r.o.formFields()
	if err != nil {
		return applet.Session{}, err
	}
	return r.client.OpenChannel(ctx, r.o.Channel, fields, info)
}

// askTerms shows the terms and reads the answer from the first input line;
// anything but y or yes, or the end of input, declines.
func (r *appletRun) askTerms(ctx context.Context, t *applet.Terms) bool {
	r.out.printf("terms:")
	for _, l := range strings.Split(strings.TrimRight(t.Text, "\n"), "\n") {
		r.out.printf("  %s", clean(l))
	}
	if r.o.Yes {
		r.out.printf("accept? [y/N] y (--yes)")
		return true
	}
	r.out.printf("accept? [y/N]")
	select {
	case l, ok := <-r.lines:
		answer := strings.ToLower(strings.TrimSpace(l))
		return ok && (answer == "y" || answer == "yes")
	case <-ctx.Done():
		return false
	}
}

// chatLoop is the session once joined: everything it prints goes through
// its one goroutine, in run.
type chatLoop struct {
	*appletRun
	calls    context.Context // for REST calls, even after the customer asked to leave
	conn     *applet.Conn
	joined   applet.Session
	speakers applet.Speakers
	state    string
	waiting  atomic.Bool
	shown    string // the last waiting line printed
	pollNow  func()
	sent     chan<- string
	ended    <-chan time.Time // set once the hub's status says the session ended
	final    applet.Session
}

// chat runs the session from the relay connection until it ends.
func (r *appletRun) chat(ctx, calls context.Context, conn *applet.Conn, s applet.Session) error {
	l := &chatLoop{appletRun: r, calls: calls, conn: conn, joined: s, state: s.State}
	l.waiting.Store(s.Waiting())
	bg, stop := context.WithCancel(calls)
	defer stop()
	statuses, pollNow := r.poll(bg, &l.waiting)
	sent, refused := r.sender(bg, conn)
	defer close(sent)
	l.pollNow, l.sent = pollNow, sent
	return l.run(ctx.Done(), statuses, refused)
}

func (l *chatLoop) run(quit <-chan struct{}, statuses <-chan applet.Session, refused <-chan error) error {
	msgs, states, links, lines := l.conn.Messages(), l.conn.States(), l.conn.Links(), l.lines
	leave := func() error {
		lines, quit = nil, nil
		return l.leave()
	}
	for {
		select {
		case m, ok := <-msgs:
			if ok {
				l.printMessage(&l.speakers, m)
			} else {
				msgs = nil
			}
		case _, ok := <-states:
			if !ok {
				states = nil
				continue
			}
			// Pushed states may arrive out of order; the status read after
			// the push is the truth.
			l.pollNow()
		case st := <-statuses:
			l.status(st)
		case lk, ok := <-links:
			switch {
			case !ok:
				links = nil
			case lk.Up:
				l.out.printf("reconnected")
			default:
				l.out.printf("connection lost; reconnecting")
			}
		case text, ok := <-lines:
			switch {
			case !ok:
				lines = nil // the session goes on without input
			case strings.TrimSpace(text) == "/quit":
				if err := leave(); err != nil {
					return err
				}
			default:
				l.send(text)
			}
		case err := <-refused:
			l.out.printf("[error] %s", err)
		case <-quit:
			if err := leave(); err != nil {
				return err
			}
		case <-l.ended:
			l.printEnd(l.final)
			return nil
		case <-l.conn.Done():
			return l.end()
		}
	}
}

func (l *chatLoop) status(st applet.Session) {
	if st.Ended() && l.ended == nil {
		// The relay normally says so first, with the last messages; give it
		// a moment.
		l.final, l.ended = st, time.After(appletEndGrace)
	}
	if st.State != l.state && !st.Ended() {
		l.state = st.State
		l.out.printf("state: %s", st.State)
	}
	l.waiting.Store(st.Waiting())
	if line := waitingLine(st); st.Waiting() && line != l.shown {
		l.shown = line
		l.out.printf("%s", line)
	}
}

func (l *chatLoop) send(text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	select {
	case l.sent <- text:
	default:
		l.out.printf("[error] too many lines wait to be sent; this one was dropped")
	}
}

// leave ends the session from the customer's side; the relay then reports
// the end like any other.
func (l *chatLoop) leave() error {
	if _, err := l.client.Close(l.calls); err != nil && !applet.IsCode(err, "session_ended") {
		return hubError(err)
	}
	return nil
}

// end prints what the relay still had and the end of the session.
func (l *chatLoop) end() error {
	for m := range l.conn.Messages() {
		l.printMessage(&l.speakers, m)
	}
	if err := l.conn.Err(); !errors.Is(err, applet.ErrEnded) {
		return hubError(err)
	}
	l.printEnd(l.finalStatus(l.calls, l.joined))
	return nil
}

// sender sends typed lines one after the other, in order, each waiting for
// the relay to store it (across reconnections); refusals come back on the
// second channel.
func (r *appletRun) sender(ctx context.Context, conn *applet.Conn) (chan<- string, <-chan error) {
	q := make(chan string, 256)
	errs := make(chan error, 16)
	go func() {
		for text := range q {
			_, err := conn.Send(ctx, text)
			if err == nil {
				continue
			}
			var re *applet.RelayError
			if errors.As(err, &re) {
				err = re
			}
			select {
			case errs <- err:
			case <-ctx.Done():
				return
			case <-conn.Done():
				return
			}
		}
	}()
	return q, errs
}

// poll reads the session's status every appletPollInterval while waiting
// is true, every appletCheckEvery intervals otherwise, and at once after
// pollNow. Answers come in the order asked;
// only the latest one waits to be read.
func (r *appletRun) poll(ctx context.Context, waiting *atomic.Bool) (<-chan applet.Session, func()) {
	out := make(chan applet.Session, 1)
	kick := make(chan struct{}, 1)
	pollNow := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	go func() {
		t := time.NewTicker(appletPollInterval)
		defer t.Stop()
		idle := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if idle++; !waiting.Load() && idle < appletCheckEvery {
					continue
				}
			case <-kick:
			}
			idle = 0
			st, err := r.client.Status(ctx)
			if err != nil {
				continue // the relay reports a lost connection; the next tick tries again
			}
			select {
			case <-out:
			default:
			}
			out <- st
		}
	}()
	pollNow()
	return out, pollNow
}

// waitingLine is what a waiting customer is shown.
func waitingLine(s applet.Session) string {
	line := fmt.Sprintf("waiting: position %d", s.Position)
	if d := s.EstimatedWait().Round(time.Second); d > 0 {
		line += ", estimated wait " + d.String()
	}
	return line
}

// finalStatus reads the session after its end; when the hub cannot say, what
// is known already stands.
func (r *appletRun) finalStatus(ctx context.Context, known applet.Session) applet.Session {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s, err := r.client.Status(ctx); err == nil {
		return s
	}
	return known
}

func (r *appletRun) printEnd(s applet.Session) {
	reason := s.EndReason
	if reason == "" {
		reason = s.State
	}
	r.out.printf("session ended: %s", reason)
	if s.RedirectURL != "" {
		r.out.printf("redirect: %s", clean(s.RedirectURL))
	}
}

// printMessage prints one log message as one or more "[who] text" lines.
func (r *appletRun) printMessage(sp *applet.Speakers, m applet.Message) {
	who := sp.Name(m)
	var p struct {
		Enabled  *bool  `json:"enabled"`
		TextKept *bool  `json:"text_kept"`
		Name     string `json:"name"`
		Size     int64  `json:"size"`
	}
	_ = json.Unmarshal(m.Payload, &p)
	text := m.Body
	switch m.Kind {
	case "chat":
		if text == "" && p.TextKept != nil && !*p.TextKept {
			text = "(the hub does not keep chat text; this message is no longer available)"
		}
	case "system", "collab":
		who = "system"
	case "url":
		text = "sent a link: " + m.Body
	case "chat_toggle":
		who, text = "system", "chat turned off"
		if p.Enabled != nil && *p.Enabled {
			text = "chat turned on"
		}
	case "file_offer":
		text = fmt.Sprintf("offers the file %s (%d bytes); this applet cannot receive files yet", p.Name, p.Size)
	default:
		return // file_accept, file_done: transfers this applet does not take part in
	}
	for _, l := range strings.Split(text, "\n") {
		r.out.printf("[%s] %s", clean(who), clean(l))
	}
}

// clean keeps what others wrote from steering the terminal: control
// characters (escape sequences included) are replaced.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, strings.TrimRight(s, "\r"))
}

// hubError keeps the hub's own words for refusals ("This code has
// expired. Ask your technician for a new code.") and says plainly when the
// hub cannot be reached.
func hubError(err error) error {
	var e *applet.Error
	if errors.As(err, &e) {
		return errors.New(e.Error())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		where := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			where = u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("cannot reach the hub at %s: %w", where, ue.Err)
	}
	return err
}

// lineWriter writes whole lines; only the goroutine running the session writes.
type lineWriter struct{ w io.Writer }

func (l *lineWriter) printf(format string, args ...any) {
	fmt.Fprintf(l.w, format+"\n", args...)
}

// readLines reads input lines until the end of input, then closes the channel.
func readLines(in io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 4096), 64<<10)
		for sc.Scan() {
			ch <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return ch
}
