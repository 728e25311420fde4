'use strict';
// Tether's shared browser helpers: translations, DOM building with
// textContent only, the CSRF-carrying fetch, and a resuming relay socket.
const Tether = (() => {
  const body = document.body;
  const csrf = body.dataset.csrf || '';
  const i18n = JSON.parse(body.dataset.i18n || '{}');
  const config = JSON.parse(body.dataset.config || '{}');

  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(i18n, key) ? i18n[key] : key;
    if (vars) for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(String(vars[k]));
    return s;
  }

  // el builds an element; strings become text nodes, never HTML.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'class') e.className = v;
      else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, '');
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  async function api(method, path, payload) {
    const opts = { method, headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json' }, credentials: 'same-origin' };
    if (payload !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(payload);
    }
    const res = await fetch(path, opts);
    const text = await res.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
    if (!res.ok) {
      const err = (data && data.error) || {};
      const e = new Error(err.code && i18n['err_' + err.code] ? i18n['err_' + err.code] : (err.message || res.statusText));
      e.status = res.status; e.code = err.code || ''; e.fields = err.fields || null;
      throw e;
    }
    return data;
  }

  function describe(e) {
    let s = e.message || String(e);
    if (e.fields) s += ' (' + Object.entries(e.fields).map(([k, v]) => k + ': ' + v).join('; ') + ')';
    return s;
  }

  function wsURL(path) { return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path; }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ':' + String(s).padStart(2, '0');
  }

  let counter = 0;
  const connID = Math.random().toString(36).slice(2, 10);
  function msgID(prefix) { counter += 1; return prefix + '-' + connID + '-' + Date.now().toString(36) + '-' + counter; }

  // Relay is one websocket to the relay that resumes after the highest seq
  // it saw and re-sends, with the same client_msg_id, what was not acked.
  // store (optional) keeps the unacknowledged frames across page reloads.
  class Relay {
    constructor(path, handlers, store) {
      this.path = path; this.h = handlers; this.store = store || null;
      this.lastSeq = 0; this.ws = null; this.stopped = false; this.backoff = 500; this.ready = false;
      this.pending = new Map();
      if (this.store) {
        try { for (const f of JSON.parse(this.store.getItem('pending') || '[]')) this.pending.set(f.client_msg_id, f); } catch (_) { /* none */ }
      }
    }
    savePending() { if (this.store) this.store.setItem('pending', JSON.stringify([...this.pending.values()])); }
    connect() {
      if (this.stopped) return;
      const ws = new WebSocket(wsURL(this.path + (this.path.includes('?') ? '&' : '?') + 'resume_after=' + this.lastSeq));
      this.ws = ws; this.ready = false;
      ws.onmessage = (ev) => {
        let f; try { f = JSON.parse(ev.data); } catch (_) { return; }
        if (f.type === 'hello') {
          this.ready = true; this.backoff = 500;
          for (const p of this.pending.values()) ws.send(JSON.stringify(p));
          if (this.h.hello) this.h.hello(f);
        } else if (f.type === 'message') {
          if (f.seq > this.lastSeq) this.lastSeq = f.seq;
          if (f.client_msg_id && this.pending.delete(f.client_msg_id)) this.savePending();
          if (this.h.message) this.h.message(f);
        } else if (f.type === 'ack') {
          if (this.pending.delete(f.client_msg_id)) this.savePending();
        } else if (f.type === 'error') {
          if (this.pending.delete(f.ref)) this.savePending();
          if (this.h.error) this.h.error(f);
        } else if (f.type === 'state') {
          if (this.h.state) this.h.state(f);
        }
      };
      ws.onclose = (ev) => {
        this.ready = false;
        if (this.ws !== ws) return;
        const final = [1000, 4001, 4002, 4004].includes(ev.code);
        if (this.h.closed) this.h.closed(ev.code, final || this.stopped);
        if (final || this.stopped) return;
        setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 8000);
      };
    }
    // send stores the frame until it is acknowledged; returns its id.
    send(frame, prefix) {
      frame.client_msg_id = frame.client_msg_id || msgID(prefix || 'w');
      this.pending.set(frame.client_msg_id, frame);
      this.savePending();
      if (this.ws && this.ready && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
      return frame.client_msg_id;
    }
    stop() { this.stopped = true; if (this.ws) this.ws.close(1000); }
  }

  return { t, el, clear, api, describe, wsURL, duration, msgID, Relay, config, csrf };
})();
