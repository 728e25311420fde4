'use strict';
// The customer's session page: terms, waiting, chat over the relay, end.
(() => {
  const { t, el, api, describe, Relay } = Tether;
  const $ = (id) => document.getElementById(id);
  const panels = { connecting: $('panel-connecting'), terms: $('panel-terms'), waiting: $('panel-waiting'), chat: $('panel-chat') };
  const endedStates = ['closed', 'timed_out'];
  let relay = null, finished = false, sessionID = 0, termsShown = false;
  let estimate = null; // {seconds, at}
  const seen = new Set();

  function show(name) {
    for (const [k, p] of Object.entries(panels)) p.hidden = k !== name;
  }

  function connection(text) {
    const c = $('connection');
    c.textContent = text || '';
    c.hidden = !text;
  }

  function finish(s) {
    if (finished) return;
    finished = true;
    if (relay) relay.stop();
    sessionStorage.removeItem('pending');
    const url = s && s.redirect_url;
    if (url && /^https?:\/\//i.test(url)) { location.assign(url); return; }
    const q = new URLSearchParams({ reason: (s && s.end_reason) || '', session: String((s && s.id) || sessionID) });
    location.assign('/s/end?' + q.toString());
  }

  function showTerms(terms) {
    show('terms');
    if (termsShown) return;
    termsShown = true;
    const box = $('terms-text'), accept = $('terms-accept');
    box.textContent = terms.text || '';
    if (terms.force_scroll) {
      const check = () => {
        const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
        accept.disabled = !atEnd;
        $('terms-scroll-hint').hidden = atEnd;
      };
      box.addEventListener('scroll', check);
      requestAnimationFrame(check);
    }
  }

  function renderEstimate() {
    if (!estimate) { $('waiting-estimate').textContent = ''; return; }
    const left = Math.max(0, estimate.seconds - (Date.now() - estimate.at) / 1000);
    const minutes = Math.ceil(left / 60);
    $('waiting-estimate').textContent = left < 60 ? t('waiting_estimate_soon') : t('waiting_estimate', { n: minutes });
  }

  function apply(s) {
    sessionID = s.id;
    if (endedStates.includes(s.state)) { finish(s); return; }
    if (s.state === 'pending' || s.state === 'connecting') {
      if (s.terms && s.terms.enabled) showTerms(s.terms); else show('connecting');
      return;
    }
    startRelay();
    if (s.state === 'waiting') {
      show('waiting');
      $('waiting-position').textContent = s.position ? t('waiting_position', { n: s.position }) : t('waiting_text');
      estimate = s.estimated_wait_seconds ? { seconds: s.estimated_wait_seconds, at: Date.now() } : null;
      renderEstimate();
      return;
    }
    show('chat');
    $('chat-state').textContent = t('state_' + s.state);
  }

  async function refresh() {
    if (finished) return;
    try {
      apply(await api('GET', '/web/api/v1/customer/session'));
      connection('');
    } catch (e) {
      if (e.code === 'session_ended' || e.status === 401 || e.status === 404) finish({ end_reason: e.code === 'session_ended' ? '' : 'unknown' });
      else connection(t('connection_lost'));
    }
  }

  function render(m) {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    if (m.client_msg_id) {
      const local = document.querySelector('#chat-log li[data-local="' + CSS.escape(m.client_msg_id) + '"]');
      if (local) local.remove();
    }
    if (!['chat', 'system', 'url', 'file_offer', 'chat_toggle', 'collab'].includes(m.kind)) return;
    let who = t('sender_' + m.sender_kind);
    if (m.sender_kind === 'customer') who = t('you');
    let text = m.body;
    if (m.kind === 'chat_toggle') text = m.payload && m.payload.enabled ? t('chat_on') : t('chat_off');
    if (m.kind === 'collab') text = t('collab_' + ((m.payload && m.payload.action) || 'joined'));
    const li = el('li', { class: 'msg ' + m.kind + ' from-' + m.sender_kind, 'data-seq': m.seq },
      m.kind === 'system' ? null : el('span', { class: 'who', text: who + ': ' }),
      m.kind === 'url' ? el('a', { href: /^https?:\/\//i.test(text) ? text : '#', rel: 'noopener noreferrer', target: '_blank', text }) : el('span', { class: 'body', text }));
    insertOrdered(li, m.seq);
  }

  function insertOrdered(li, seq) {
    const log = $('chat-log');
    for (const other of log.querySelectorAll('li[data-seq]')) {
      if (Number(other.dataset.seq) > seq) { log.insertBefore(li, other); li.scrollIntoView({ block: 'nearest' }); return; }
    }
    const firstLocal = log.querySelector('li[data-local]');
    log.insertBefore(li, firstLocal);
    li.scrollIntoView({ block: 'nearest' });
  }

  function localEcho(frame) {
    $('chat-log').append(el('li', { class: 'msg chat from-customer pending', 'data-local': frame.client_msg_id },
      el('span', { class: 'who', text: t('you') + ': ' }), el('span', { class: 'body', text: frame.text }),
      el('span', { class: 'small', text: ' ' + t('sending') })));
  }

  function startRelay() {
    if (relay) return;
    relay = new Relay('/web/api/v1/relay/customer', {
      hello(f) {
        connection('');
        $('chat-input').disabled = !f.chat_enabled && f.chat_mode !== '';
      },
      message(m) {
        render(m);
        if (m.kind === 'chat_toggle') $('chat-input').disabled = !(m.payload && m.payload.enabled);
      },
      state() { refresh(); },
      error(f) { connection(f.code === 'chat_unavailable' ? t('err_chat_unavailable') : f.message); },
      closed(code, final) {
        if (code === 4002) { refresh(); return; }
        if (!final) connection(t('connection_lost'));
      },
    }, sessionStorage);
    for (const f of relay.pending.values()) localEcho(f);
    relay.connect();
  }

  $('chat-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text || !relay) return;
    const frame = { type: 'chat', text };
    relay.send(frame, 'c');
    localEcho(frame);
    input.value = '';
  });

  $('terms-accept').addEventListener('click', async () => {
    try { apply(await api('POST', '/web/api/v1/customer/session/terms', { accept: true })); refresh(); } catch (e) { connection(describe(e)); }
  });
  $('terms-decline').addEventListener('click', async () => {
    try { finish(await api('POST', '/web/api/v1/customer/session/terms', { accept: false })); } catch (e) { connection(describe(e)); }
  });
  $('leave').addEventListener('click', async () => {
    if (!confirm(t('leave_confirm'))) return;
    try { finish(await api('POST', '/web/api/v1/customer/session/close')); } catch (e) { finish({}); }
  });

  refresh();
  setInterval(refresh, 4000);
  setInterval(renderEstimate, 1000);
  window.addEventListener('online', refresh);
})();
