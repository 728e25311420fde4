package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// hookReceiver is a real HTTP endpoint for post-to-URL that refuses posts
// with 400 (a permanent failure for the plugin) until it is told to accept.
type hookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	accept   bool
	refused  int
	accepted [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.accept {
			r.refused++
			http.Error(w, "not today", http.StatusBadRequest)
			return
		}
		r.accepted = append(r.accepted, body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) setAccept(ok bool) { r.mu.Lock(); r.accept = ok; r.mu.Unlock() }

// awaitBody waits for an accepted post containing want.
func (r *hookReceiver) awaitBody(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r.mu.Lock()
		for _, b := range r.accepted {
			if bytes.Contains(b, []byte(want)) {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
	}
	t.Fatalf("the receiver accepted no post containing %q", want)
}

// signInWeb signs a member in through the sign-in form and waits for the admin centre.
func signInWeb(w *window, email, password string) {
	w.t.Helper()
	w.open("/admin")
	w.until("the sign-in form", `location.pathname === '/signin' && document.getElementById('email')`)
	w.fill("#email", email)
	w.fill("#password", password)
	w.click("#signin-submit")
	w.until("the organisation tree", `location.pathname === '/admin' && document.querySelector('#tree .node')`)
}

// openPluginsTab selects a unit in the tree and opens its Plugins tab.
func openPluginsTab(w *window, unit, name string) {
	w.t.Helper()
	w.click(`#tree .node[data-unit="` + unit + `"]`)
	w.until(name+" selected", `document.getElementById('unit-title').textContent === `+jsString(name))
	w.click("#tab-plugins")
	w.until("the plugin list", `document.querySelector('#plugin-list tr[data-plugin=posturl]')`)
	w.until("the settings form", `document.getElementById('plugin-settings')`)
}

// fullShot writes a PNG of the whole page, beyond the viewport, to
// docs/screenshots/<name>.png: the Plugins tab is taller than a screen.
func fullShot(w *window, name string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Sleep(150*time.Millisecond))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		w.fail("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

const pluginSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestBrowserPlugins drives the Plugins tab in real Chromium against the
// real binary: a master administrator enables post-to-URL for a technician
// group, sees a schema error and then the plugin's own refusal beside the
// offending inputs, saves (the signing secret shows as set and never
// reaches the page), a session through the API fails to post, and the
// delivery log shows it and replays it once the receiver is back. An
// administrator who is not a master sees the state read-only, in French.
func TestBrowserPlugins(t *testing.T) {
	browser := newBrowser(t)
	h := StartHub(t, Options{LogLevel: "info", Args: []string{"--plugin-retry-base", "200ms"}})
	rcv := newHookReceiver(t)
	master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
	group, _, tech := staff(t, h, master, "ivy@example.test")
	gid, gname := id(group), group["name"].(string)
	settingsPath := "/api/v1/units/" + gid + "/plugins/posturl/settings"

	w := openWindow(t, browser, h.BaseURL, "admin", staffW, staffH)
	signInWeb(w, DefaultAdminEmail, DefaultAdminPassword)
	openPluginsTab(w, gid, gname)
	w.until("posturl off", `document.querySelector('#plugin-list tr[data-plugin=posturl] .plugin-on[data-enabled=false]') &&
		document.querySelector('#plugin-list tr[data-plugin=posturl] .plugin-enable') && !document.getElementById('plugin-off-note').hidden`)

	// The form is drawn from the manifest: one input per setting, by type, labelled.
	form := evalIn[map[string]string](w, `(() => {
		const out = {};
		for (const row of document.querySelectorAll('#plugin-settings .plugin-setting')) {
			const input = row.querySelector('[data-type]');
			const label = document.querySelector('label[for="' + input.id + '"]');
			out[row.dataset.key] = input.tagName.toLowerCase() + ':' + (input.type || '') + ':' + (label ? label.textContent : 'NO LABEL');
		}
		out.format_options = [...document.querySelectorAll('#ps-format option')].map(o => o.value).join(',');
		out.modes = [...document.querySelectorAll('#plugin-mode option')].map(o => o.value).join(',');
		out.secret_state = document.getElementById('ps-signing_secrets-state').textContent;
		return out;
	})()`)
	for k, want := range map[string]string{
		"start_url": "input:url:Post at session start", "end_url": "input:url:Post at session end",
		"format": "select:select-one:Format", "no_chat_text": "input:checkbox:Do not keep chat text in posts",
		"timeout_seconds": "input:number:Timeout (seconds)", "signing_secrets": "input:password:Signing secrets",
		"allow_private_targets": "input:checkbox:Allow private targets",
		"format_options":        "xml,form,json", "modes": "unit,subtree,all", "secret_state": "not set",
	} {
		if form[k] != want {
			t.Errorf("settings form %s = %q, want %q", k, form[k], want)
		}
	}

	// Enable the plugin for the hub and wait for its process.
	w.click(`#plugin-list tr[data-plugin=posturl] .plugin-enable`)
	w.until("posturl running", `document.querySelector('#plugin-list tr[data-plugin=posturl] .badge[data-state=running]') &&
		document.querySelector('#plugin-list tr[data-plugin=posturl] .plugin-disable') && document.getElementById('plugin-off-note').hidden`)

	// A schema error: ftp:// is a URL to the browser but not an http(s) one to the hub.
	host := strings.TrimPrefix(rcv.srv.URL, "http://")
	w.click("#plugin-unit-enabled")
	w.fill("#ps-end_url", "ftp://"+host+"/end")
	w.fill("#ps-signing_secrets", pluginSecret)
	w.click("#ps-allow_private_targets")
	w.click("#plugin-save")
	w.until("the error beside the end URL", `(() => {
		const e = document.getElementById('ps-end_url-error');
		return !e.hidden && e.textContent.includes('http or https') && e.closest('.plugin-setting').dataset.key === 'end_url' &&
			document.getElementById('ps-end_url').getAttribute('aria-invalid') === 'true' &&
			document.getElementById('ps-end_url').getAttribute('aria-describedby').includes('ps-end_url-error')
	})()`)
	if got := w.text("#plugin-settings-error"); got != "Some fields are not valid." {
		t.Errorf("form error = %q", got)
	}
	w.shot("admin-plugins-error")
	if v := master.must(200, "GET", settingsPath, nil); v["enabled"] != false || v["values"].(map[string]any)["end_url"] != nil {
		t.Fatalf("a refused save stored something: %v", v)
	}

	// The plugin's own check: the schema takes any whole number, posturl 1 to 60.
	w.fill("#ps-end_url", rcv.srv.URL+"/end")
	w.fill("#ps-timeout_seconds", "120")
	w.click("#plugin-save")
	w.until("the plugin's refusal beside the timeout", `(() => {
		const e = document.getElementById('ps-timeout_seconds-error');
		return !e.hidden && e.textContent !== '' && document.getElementById('ps-end_url-error').hidden &&
			document.getElementById('plugin-settings-error').textContent.startsWith('The plugin refused these settings.')
	})()`)

	// Fixed: saved, the secret shows as set and is nowhere in the page.
	w.fill("#ps-timeout_seconds", "5")
	w.click("#plugin-save")
	w.until("saved", `document.getElementById('plugin-settings-status').textContent === 'Saved for 1 unit(s).'`)
	saved := evalIn[map[string]any](w, `({
		state: document.getElementById('ps-signing_secrets-state').textContent,
		typed: document.getElementById('ps-signing_secrets').value,
		enabled: document.getElementById('plugin-unit-enabled').checked,
		private: document.getElementById('ps-allow_private_targets').checked,
		end: document.getElementById('ps-end_url').value,
		timeout: document.getElementById('ps-timeout_seconds').value,
		source: document.getElementById('plugin-source').textContent,
		leak: document.documentElement.outerHTML.includes(`+jsString(pluginSecret)+`) ||
			[...document.querySelectorAll('input, textarea')].some(i => i.value.includes('whsec_')),
	})`)
	want := map[string]any{"state": "set", "typed": "", "enabled": true, "private": true, "end": rcv.srv.URL + "/end",
		"timeout": "5", "source": "Set on this unit.", "leak": false}
	for k, v := range want {
		if saved[k] != v {
			t.Errorf("after saving, %s = %v, want %v", k, saved[k], v)
		}
	}
	v := master.must(200, "GET", settingsPath, nil)
	if v["enabled"] != true || toJSON(v["values"].(map[string]any)["signing_secrets"]) != `{"set":true}` {
		t.Fatalf("stored settings: %v", v)
	}

	// A private session that closes: its end post is refused (400), a
	// permanent failure the log shows with its attempt.
	sid := p2uSession(t, h, tech, "Zoe", "hello plugins")
	row := `#delivery-log tr[data-state=failed]`
	w.until("the failed delivery in the log", `[...document.querySelectorAll('`+row+` td.session')].some(td => td.textContent === `+jsString(sid)+`)`)
	w.choose("#delivery-state", "failed")
	w.until("only failed deliveries", `document.querySelectorAll('#delivery-log tbody tr').length === 1 && document.querySelector('`+row+`')`)
	did := evalIn[string](w, `document.querySelector('`+row+`').dataset.delivery`)
	dsel := `#delivery-log tr[data-delivery="` + did + `"]`
	if got := w.text(dsel + " .event-type"); got != "session.closed" {
		t.Errorf("failed delivery event = %q, want session.closed", got)
	}
	w.click(dsel + " details.attempts summary")
	w.until("the attempt with its error", `(() => {
		const li = document.querySelector('`+dsel+` .history li');
		return li && li.dataset.outcome === 'permanent' && li.textContent.includes('400')
	})()`)

	// The receiver is back: replay sends it again and the log shows it delivered.
	rcv.setAccept(true)
	w.choose("#delivery-state", "")
	w.until("every delivery listed", `document.querySelectorAll('#delivery-log tbody tr').length === 2`)
	w.click(dsel + " .replay-one")
	w.until("the replayed delivery delivered", `document.querySelector('`+dsel+`[data-state=delivered]')`)
	rcv.awaitBody(t, "<sessionid>"+sid+"</sessionid>")
	w.until("both attempts, still expanded", `document.querySelector('`+dsel+` details.attempts').open &&
		[...document.querySelectorAll('`+dsel+` .history li')].map(li => li.dataset.outcome).join() === 'permanent,ack'`)
	fullShot(w, "admin-plugins")
	if strings.Contains(h.Log(), pluginSecret) {
		t.Error("the signing secret reached the hub's log")
	}

	// On a channel every posturl setting is group-scoped: shown locked, taken
	// from the organisation, and left out of a save.
	w.click(`#tree .node[data-unit="2"]`)
	w.click("#tab-plugins")
	w.until("the channel's locked settings", `document.querySelector('#plugin-settings') &&
		document.getElementById('unit-title').textContent === 'Channel 1' &&
		[...document.querySelectorAll('#plugin-settings .plugin-setting [data-type]')].every(i => i.disabled) &&
		document.querySelector('.plugin-setting[data-key=end_url] .locked').textContent.startsWith('Set on My organisation')`)
	if got := evalIn[string](w, `[...document.querySelectorAll('#plugin-mode option')].map(o => o.value).join()`); got != "unit,all" {
		t.Errorf("save modes on a channel = %q, want unit,all", got)
	}
	w.click("#plugin-unit-enabled")
	w.click("#plugin-save")
	w.until("the channel saved", `document.getElementById('plugin-settings-status').textContent === 'Saved for 1 unit(s).'`)
	if v := master.must(200, "GET", "/api/v1/units/2/plugins/posturl/settings", nil); v["enabled"] != true || v["own"] != true {
		t.Errorf("channel settings after saving: %v", v)
	}

	// An administrator of the group who is not a master: the state
	// read-only, no delivery log, the form with the secret as "set"; in French.
	master.must(201, "POST", "/api/v1/members", map[string]any{"role": "admin", "name": "Ada", "email": "ada@example.test",
		"password": "Ada-First-Pw-42", "assigned_groups": []any{group["id"]}})
	signInAPI(t, h, "ada@example.test", "Ada-First-Pw-42", "Ada-Second-Pw-43")
	ada := openWindow(t, browser, h.BaseURL, "ada", staffW, staffH)
	signInWeb(ada, "ada@example.test", "Ada-Second-Pw-43")
	ada.choose("#lang-select", "fr")
	ada.click("header form.inline button[type=submit]")
	ada.until("French", `document.documentElement.lang === 'fr' && document.querySelector('#tree .node')`)
	openPluginsTab(ada, gid, gname)
	ada.until("read-only state", `document.querySelector('#plugin-list tr[data-plugin=posturl] .badge[data-state=running]') &&
		document.getElementById('plugins-read-only') && document.getElementById('deliveries-master-only')`)
	if n := evalIn[int](ada, `document.querySelectorAll('.plugin-enable, .plugin-disable, #plugin-deliveries').length`); n != 0 {
		t.Errorf("a non-master administrator sees %d enable/disable buttons or the delivery log", n)
	}
	for css, want := range map[string]string{
		"#ps-signing_secrets-state": "défini",
		"#deliveries-master-only":   "Seuls les administrateurs principaux voient le journal des envois.",
		"#plugin-settings h3":       "Paramètres de " + gname,
	} {
		if got := ada.text(css); got != want {
			t.Errorf("French %s = %q, want %q", css, got, want)
		}
	}
}
