package posturl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tetherhq/tether/sdk"
)

// target is a post URL with its credentials taken out.
type target struct {
	url      string // without user:pass; what is requested
	display  string // what logs and messages show (same as url)
	user     string
	pass     string
	hasAuth  bool
	stateKey string // hash of the full setting, credentials included
}

func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return target{}, errors.New("the URL setting is not an http(s) URL")
	}
	t := target{}
	if u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
		t.hasAuth = true
		u.User = nil
	}
	t.url = u.String()
	t.display = t.url
	sum := sha256.Sum256([]byte(raw))
	t.stateKey = hex.EncodeToString(sum[:12])
	return t, nil
}

// KV keys of the plugin's own store.
func startKey(session int64) string { return fmt.Sprintf("start/%d", session) }
func goneKey(t target) string       { return "gone/" + t.stateKey }
func seqKey(t target, session int64) string {
	return fmt.Sprintf("seq/%s/%d", t.stateKey, session)
}

// post builds and sends one post; on Ack it also returns the highest message
// seq it included (0 when unchanged).
func (p *Plugin) post(ctx context.Context, e sdk.Event, cfg Config, t target) (sdk.Result, int64) {
	var after int64
	if v, ok, err := p.host.KVGet(ctx, seqKey(t, e.SessionID)); err != nil {
		return sdk.RetryLater(0, "posturl: reading state: "+err.Error()), 0
	} else if ok {
		after, _ = strconv.ParseInt(string(v), 10, 64)
	}
	s, err := p.host.Session(ctx, e.SessionID, sdk.SessionOptions{})
	if err != nil {
		return sdk.RetryLater(0, "posturl: reading session: "+err.Error()), 0
	}
	rec, lastSeq := buildRecord(s, after, cfg.NoChatText)
	body, ctype := encode(cfg.Format, rec, e)

	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.TimeoutSeconds)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return sdk.Failed("posturl: " + t.display + ": bad request URL"), 0
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "Tether-PostToURL/1.0")
	if t.hasAuth {
		req.SetBasicAuth(t.user, t.pass)
	}
	secrets, _ := parseSecrets(cfg.SigningSecrets) // validated by ParseConfig
	for k, v := range webhookHeaders(e.ID, p.now(), body, secrets) {
		req.Header.Set(k, v)
	}

	resp, err := p.client(cfg.AllowPrivateTargets).Do(req)
	if err != nil {
		var pe *privateTargetError
		if errors.As(err, &pe) {
			return sdk.Failed(fmt.Sprintf("posturl: %s resolves to %s, a %s address: refused (turn on allow_private_targets to post to internal hosts)", t.display, pe.addr, pe.kind)), 0
		}
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return sdk.RetryLater(0, fmt.Sprintf("posturl: %s: no answer within %d s", t.display, cfg.TimeoutSeconds)), 0
		}
		return sdk.RetryLater(0, fmt.Sprintf("posturl: %s: %s", t.display, netErrorText(err))), 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return sdk.Result{Outcome: sdk.Ack, Message: fmt.Sprintf("posturl: posted to %s: %d", t.display, code)}, lastSeq
	case code == http.StatusGone:
		if err := p.host.KVSet(ctx, goneKey(t), []byte("1")); err != nil {
			return sdk.RetryLater(0, "posturl: saving state: "+err.Error()), 0
		}
		msg := fmt.Sprintf("posturl: %s answered 410 Gone: no more posts to it until the URL setting changes", t.display)
		p.log.Warn(msg, "session", e.SessionID)
		return sdk.Result{Outcome: sdk.Ack, Message: msg}, 0
	case code == http.StatusTooManyRequests || code >= 500:
		after := retryAfter(resp.Header.Get("Retry-After"), p.now())
		return sdk.RetryLater(after, fmt.Sprintf("posturl: %s answered %s", t.display, resp.Status)), 0
	case code >= 300 && code < 400:
		loc := redact(resp.Header.Get("Location"))
		return sdk.Failed(fmt.Sprintf("posturl: %s answered %s redirecting to %q; redirects are not followed: set the final URL in the settings", t.display, resp.Status, loc)), 0
	default:
		return sdk.Failed(fmt.Sprintf("posturl: %s answered %s", t.display, resp.Status)), 0
	}
}

// netErrorText is a transport error without the URL (which the caller
// prints redacted).
func netErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// redact drops user:pass from a URL for display.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// client returns the shared HTTP client for one private-target policy.
func (p *Plugin) client(allowPrivate bool) *http.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[allowPrivate]; ok {
		return c
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = refusePrivate
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would hide the real target from the dial-time check
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	c := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	p.clients[allowPrivate] = c
	return c
}

type privateTargetError struct{ addr, kind string }

func (e *privateTargetError) Error() string {
	return fmt.Sprintf("%s is a %s address", e.addr, e.kind)
}

// refusePrivate is the dialer's Control function: it sees the address
// actually dialled, after DNS resolution, so rebinding cannot bypass it.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if kind := privateKind(a); kind != "" {
		return &privateTargetError{addr: a.String(), kind: kind}
	}
	return nil
}

// privateKind says why an address is not a public target ("" when it is).
func privateKind(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.Is4() && a.As4()[0] == 0:
		return "unspecified" // 0.0.0.0/8
	}
	return ""
}

// parseSecrets reads one or two Standard Webhooks secrets separated by
// spaces and returns their keys.
func parseSecrets(v string) ([][]byte, error) {
	parts := strings.Fields(v)
	if len(parts) > 2 {
		return nil, errors.New("give one or two secrets separated by a space")
	}
	keys := make([][]byte, 0, len(parts))
	for _, s := range parts {
		b64, ok := strings.CutPrefix(s, "whsec_")
		if !ok {
			return nil, errors.New(`each secret must start with "whsec_"`)
		}
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(k) == 0 {
			return nil, errors.New(`each secret must be "whsec_" followed by base64 data`)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// webhookHeaders returns the Standard Webhooks headers: webhook-id is always
// sent (receivers de-duplicate on it), the signature only with secrets.
func webhookHeaders(id string, now time.Time, body []byte, keys [][]byte) map[string]string {
	h := map[string]string{"webhook-id": id, "X-Tether-Event-Id": id}
	if len(keys) == 0 {
		return h
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h["webhook-timestamp"] = ts
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	h["webhook-signature"] = strings.Join(sigs, " ")
	return h
}
