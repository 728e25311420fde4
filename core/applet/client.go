package applet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client talks to one hub for one customer session. Set Server (and
// optionally HTTP); JoinPIN or OpenChannel then fill the session secret that
// every other call uses. A Client is safe for concurrent use once joined.
type Client struct {
	// Server is the hub's base URL, e.g. http://127.0.0.1:8080.
	Server *url.URL
	// HTTP makes the REST calls and the websocket handshakes; nil means a
	// client with a 30-second timeout.
	HTTP *http.Client
	// MinBackoff and MaxBackoff bound the wait between relay reconnection
	// attempts (doubling from the one to the other); zero means 250 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	// Keepalive is how often the relay connection is pinged to notice a
	// dead network; zero means 20 s, negative turns pings off.
	Keepalive time.Duration

	mu     sync.Mutex
	secret string
}

// ClientInfo describes the customer's side of a session.
type ClientInfo struct {
	Kind     string `json:"client_kind"` // applet, web, calling_card or mobile
	Platform string `json:"platform"`    // at most 64 characters, e.g. linux/amd64
	Language string `json:"language"`    // at most 16 characters, e.g. fr-CA
}

// FieldCount is the Name field plus the five custom fields of a channel form.
const FieldCount = 6

// Fields are what a customer types on a channel form: CFields[0] is the
// Name, 1..5 the custom fields (each at most 64 characters).
type Fields struct {
	CFields    [FieldCount]string `json:"cfields"`
	TrackingID string             `json:"tracking_id"`
}

// Terms are the terms and conditions to accept before queueing.
type Terms struct {
	Enabled     bool   `json:"enabled"`
	Text        string `json:"text"`
	ForceScroll bool   `json:"force_scroll"`
}

// Session is what the customer sees of its session.
type Session struct {
	ID                   int64   `json:"id"`
	State                string  `json:"state"` // pending, connecting, waiting, active, on_hold, transferring, rebooting, reconnecting, closed, timed_out
	StateLabel           string  `json:"state_label"`
	Position             int     `json:"position"` // in the queue, from 1, while waiting
	EstimatedWaitSeconds float64 `json:"estimated_wait_seconds"`
	Terms                *Terms  `json:"terms"` // non-nil while terms wait for an answer
	EndReason            string  `json:"end_reason"`
	RedirectURL          string  `json:"redirect_url"` // set when the session ended with end reason no_technician
}

// EstimatedWait is the estimated time until pickup, or 0 when unknown.
func (s Session) EstimatedWait() time.Duration {
	return time.Duration(s.EstimatedWaitSeconds * float64(time.Second))
}

// Ended reports whether the session is over.
func (s Session) Ended() bool { return Ended(s.State) }

// Waiting reports whether the session is in a queue.
func (s Session) Waiting() bool { return s.State == "waiting" || s.State == "transferring" }

// Ended reports whether state is one of the final states.
func Ended(state string) bool { return state == "closed" || state == "timed_out" }

// Error is a refusal by the hub, with the API's stable code, its
// human-readable message and the offending fields, if any.
type Error struct {
	Status  int               // HTTP status
	Code    string            // e.g. code_expired, validation_failed, session_ended
	Message string            // for people, e.g. "This code has expired. Ask your technician for a new code."
	Fields  map[string]string // field name -> what is wrong with it
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + ": " + e.Fields[k]
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// IsCode reports whether err is a hub Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Secret is the session secret, empty before joining.
func (c *Client) Secret() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.secret
}

// SetSecret makes the client act for an existing session.
func (c *Client) SetSecret(secret string) {
	c.mu.Lock()
	c.secret = secret
	c.mu.Unlock()
}

type joined struct {
	Secret  string  `json:"secret"`
	Session Session `json:"session"`
}

// JoinPIN joins the private session whose 6-digit code the technician gave.
func (c *Client) JoinPIN(ctx context.Context, pin string, info ClientInfo) (Session, error) {
	body := struct {
		PIN string `json:"pin"`
		ClientInfo
	}{pin, info}
	var j joined
	if err := c.do(ctx, http.MethodPost, "/api/v1/customer/join", false, body, &j); err != nil {
		return Session{}, fmt.Errorf("join with code: %w", err)
	}
	c.SetSecret(j.Secret)
	return j.Session, nil
}

// OpenChannel opens a session on a channel with the channel form's fields.
func (c *Client) OpenChannel(ctx context.Context, channelID int64, fields Fields, info ClientInfo) (Session, error) {
	body := struct {
		Fields Fields `json:"fields"`
		ClientInfo
	}{fields, info}
	var j joined
	path := "/api/v1/customer/channels/" + strconv.FormatInt(channelID, 10) + "/sessions"
	if err := c.do(ctx, http.MethodPost, path, false, body, &j); err != nil {
		return Session{}, fmt.Errorf("open a session on channel %d: %w", channelID, err)
	}
	c.SetSecret(j.Secret)
	return j.Session, nil
}

// Status reads the session: state, queue position, estimated wait, terms,
// and after the end its reason.
func (c *Client) Status(ctx context.Context) (Session, error) {
	var s Session
	if err := c.do(ctx, http.MethodGet, "/api/v1/customer/session", true, nil, &s); err != nil {
		return Session{}, fmt.Errorf("session status: %w", err)
	}
	return s, nil
}

// AnswerTerms accepts (the session queues) or declines (it ends) the terms.
func (c *Client) AnswerTerms(ctx context.Context, accept bool) (Session, error) {
	var s Session
	if err := c.do(ctx, http.MethodPost, "/api/v1/customer/session/terms", true, map[string]bool{"accept": accept}, &s); err != nil {
		return Session{}, fmt.Errorf("answer the terms: %w", err)
	}
	return s, nil
}

// Close ends the session from the customer's side.
func (c *Client) Close(ctx context.Context) (Session, error) {
	var s Session
	if err := c.do(ctx, http.MethodPost, "/api/v1/customer/session/close", true, nil, &s); err != nil {
		return Session{}, fmt.Errorf("end the session: %w", err)
	}
	return s, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// endpoint resolves an absolute path against Server, keeping any path
// prefix the hub is served under.
func (c *Client) endpoint(path string) (*url.URL, error) {
	if c.Server == nil {
		return nil, errors.New("no hub URL")
	}
	u := *c.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery, u.Fragment = "", ""
	return &u, nil
}

func (c *Client) do(ctx context.Context, method, path string, auth bool, in, out any) error {
	u, err := c.endpoint(path)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		secret := c.Secret()
		if secret == "" {
			return errors.New("not joined to a session")
		}
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the hub's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return decodeError(resp.StatusCode, resp.Status, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("the hub's answer is not the JSON expected: %w", err)
	}
	return nil
}

// decodeError reads the API's error body: {"error": {code, message, fields}}
// from the REST API, {code, message, fields} from a refused relay upgrade.
func decodeError(status int, statusText string, raw []byte) error {
	var nested struct {
		Error *struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	}
	if json.Unmarshal(raw, &nested) == nil {
		if e := nested.Error; e != nil && (e.Code != "" || e.Message != "") {
			return &Error{Status: status, Code: e.Code, Message: e.Message, Fields: e.Fields}
		}
		if nested.Code != "" || nested.Message != "" {
			return &Error{Status: status, Code: nested.Code, Message: nested.Message, Fields: nested.Fields}
		}
	}
	if statusText == "" {
		statusText = strconv.Itoa(status) + " " + http.StatusText(status)
	}
	return &Error{Status: status, Code: "http_" + strconv.Itoa(status), Message: "The hub answered " + statusText + "."}
}
