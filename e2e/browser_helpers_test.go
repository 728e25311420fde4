package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotDir is where the browser tests write the pictures docs/web.md shows.
const screenshotDir = "../docs/screenshots"

// chromiumPath finds Chromium, or skips the test when there is none and
// TETHER_TEST_REQUIRE_BROWSER is not 1 (CI sets it and installs Chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	requireBinary(t)
	for _, p := range []string{os.Getenv("TETHER_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("TETHER_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal("Chromium is required (TETHER_TEST_REQUIRE_BROWSER=1) but /usr/bin/chromium is missing: apt-get install -y chromium")
	}
	t.Skip("SKIP browser tests: no Chromium at /usr/bin/chromium (apt-get install -y chromium; TETHER_TEST_REQUIRE_BROWSER=1 makes this a failure)")
	return ""
}

// newBrowser starts one headless Chromium with a fresh profile for the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	// The first context starts the browser; every window is a new
	// browser context of it (own cookies and storage).
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// window is one browser context (a person): its own cookies and storage.
type window struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string
}

func openWindow(t *testing.T, browser context.Context, base, name string, width, height int64) *window {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first action runs on the context itself: it creates the tab,
	// which lives as long as this context, not a per-step timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("open a browser window for %s: %v", name, err)
	}
	w := &window{t: t, ctx: ctx, base: base, name: name}
	return w
}

// with is the same window reporting to another (sub)test.
func (w *window) with(t *testing.T) *window { c := *w; c.t = t; return &c }

func (w *window) do(steps ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		w.fail("%v", err)
	}
}

func (w *window) fail(format string, args ...any) {
	w.t.Helper()
	url, _ := chromedp.Run(w.ctx, chromedp.Location())
	body, _ := chromedp.Run(w.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	w.t.Fatalf("%s at %s: %s\npage text:\n%s", w.name, url, fmt.Sprintf(format, args...), body)
}

func (w *window) open(path string) { w.t.Helper(); w.do(chromedp.Navigate(w.base + path)) }

// eval runs a JavaScript expression and returns its value as T.
func evalIn[T any](w *window, expr string) T {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		w.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// until waits for a JavaScript expression to become truthy; a navigation
// in between (a form post, a redirect) only restarts the wait.
func (w *window) until(what, expr string) {
	w.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			w.fail("waiting for %s (%s): timed out", what, expr)
		}
		ctx, cancel := context.WithTimeout(w.ctx, left+time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool]("(() => { try { return !!("+expr+") } catch (e) { return false } })()", chromedp.WithPollingTimeout(left), chromedp.WithPollingInterval(50*time.Millisecond)))
		cancel()
		if err == nil {
			return
		}
		msg := err.Error()
		if !strings.Contains(msg, "navigated") && !strings.Contains(msg, "context was destroyed") && !strings.Contains(msg, "Cannot find context") {
			w.fail("waiting for %s (%s): %v", what, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *window) text(css string) string {
	w.t.Helper()
	return evalIn[string](w, `(document.querySelector(`+jsString(css)+`)||{}).textContent||''`)
}

func (w *window) fill(css, value string) {
	w.t.Helper()
	w.until(css+" present", `document.querySelector(`+jsString(css)+`)`)
	evalIn[bool](w, `(() => { const e = document.querySelector(`+jsString(css)+`); e.focus(); e.value = `+jsString(value)+`; e.dispatchEvent(new Event('input', {bubbles: true})); return true })()`)
}

func (w *window) click(css string) {
	w.t.Helper()
	w.until(css+" present", `document.querySelector(`+jsString(css)+`)`)
	w.do(chromedp.Click(chromedp.CSS(css)))
}

// choose sets a select's value and tells the page it changed.
func (w *window) choose(css, value string) {
	w.t.Helper()
	w.until(css+" has option "+value, `document.querySelector(`+jsString(css+` option[value=`+jsString(value)+`]`)+`)`)
	evalIn[bool](w, `(() => { const s = document.querySelector(`+jsString(css)+`); s.value = `+jsString(value)+`; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
}

// shot writes a PNG of the window to docs/screenshots/<name>.png.
func (w *window) shot(name string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	// Let fonts and the last frame settle.
	_, _ = chromedp.Run(ctx, chromedp.Sleep(150*time.Millisecond))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		w.fail("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// apiClient calls the REST API with a bearer token, for the set-up steps a
// test is not about.
type apiClient struct {
	t     *testing.T
	hub   *Hub
	token string
}

func (c apiClient) call(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var payload string
	if body != nil {
		b, _ := json.Marshal(body)
		payload = string(b)
	}
	req, err := http.NewRequest(method, c.hub.BaseURL+path, strings.NewReader(payload))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	code, text, err := do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	out := map[string]any{}
	_ = json.Unmarshal([]byte(text), &out)
	return code, out
}

func (c apiClient) with(t *testing.T) apiClient { c.t = t; return c }

func (c apiClient) must(method, path string, body any) map[string]any {
	c.t.Helper()
	code, out := c.call(method, path, body)
	if code >= 300 {
		c.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// signIn returns a client for the member, changing an admin-set password
// first when the hub asks for it.
func signInAPI(t *testing.T, h *Hub, email, password, newPassword string) apiClient {
	t.Helper()
	c := apiClient{t: t, hub: h}
	out := c.must("POST", "/api/v1/auth/token", map[string]string{"email": email, "password": password})
	c.token, _ = out["token"].(string)
	if must, _ := out["must_change_password"].(bool); must {
		c.must("POST", "/api/v1/auth/password", map[string]string{"current_password": password, "new_password": newPassword})
	}
	return c
}

func idOf(m map[string]any) int64 {
	f, _ := m["id"].(float64)
	return int64(f)
}
