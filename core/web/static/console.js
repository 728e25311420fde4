'use strict';
// The technician console: status, live queue, private sessions, and one
// pane per session with chat, notes, collaboration, transfer, hold, close.
(() => {
  const { t, el, clear, api, describe, wsURL, duration, Relay, config } = Tether;
  const $ = (id) => document.getElementById(id);
  const me = config.me;
  const names = new Map((config.targets || []).filter((x) => x.kind === 'technician').map((x) => [x.id, x.name]));
  const panes = new Map();
  let queue = new Map(), queueAt = Date.now(), firstFrame = true;

  // Status (SESS-16).
  // The selector starts at the status the hub has for us, not at Online.
  api('GET', '/web/api/v1/me/status').then((r) => {
    if (r && r.status) { $('status-select').value = r.status; }
  }).catch(() => {});
  $('status-select').addEventListener('change', async (ev) => {
    try {
      await api('PUT', '/web/api/v1/me/status', { status: ev.target.value });
      $('status-result').textContent = t('status_saved', { status: t('status_' + ev.target.value) });
    } catch (e) { $('status-result').textContent = describe(e); }
  });

  // The live queue.
  function event(text, cls) {
    const list = $('queue-events');
    list.prepend(el('li', { class: cls || '', text: new Date().toLocaleTimeString() + ' ' + text }));
    while (list.children.length > 6) list.lastChild.remove();
  }

  function elapsed(s) {
    const base = s.state === 'waiting' ? s.waiting_seconds : (Date.now() - Date.parse(s.created_at)) / 1000 - (Date.now() - queueAt) / 1000;
    return base + (Date.now() - queueAt) / 1000;
  }

  function alarmOf(s) {
    const secs = elapsed(s);
    if (s.state === 'connecting' && config.alarm_connecting_seconds > 0 && secs >= config.alarm_connecting_seconds) return 'alarm';
    if (s.state === 'waiting' && config.alarm_waiting_seconds > 0) {
      if (secs >= config.alarm_waiting_seconds) return 'alarm';
      if (secs >= config.alarm_waiting_seconds / 2) return 'warn';
    }
    return '';
  }

  // A waiting entry's session priority (routing rules, docs/routing.md):
  // a short badge, read out in full by screen readers.
  function priorityBadge(s) {
    if (!s.priority) return null;
    const label = t('queue_priority', { n: s.priority });
    return el('span', { class: 'badge priority', 'data-priority': s.priority, title: label },
      el('span', { 'aria-hidden': 'true', text: t('queue_priority_short', { n: s.priority }) }),
      el('span', { class: 'sr-only', text: label }));
  }

  // The hub sends the queue in pick-up order (the sessions to pick up
  // first, highest priority, then longest waiting); the console keeps it.
  function renderQueue() {
    const body = $('queue-body');
    clear(body);
    const list = [...queue.values()];
    $('queue-empty').hidden = list.length > 0;
    for (const s of list) {
      const mine = s.technician_id === me;
      let action = null;
      if (s.direction === 'outgoing') action = null;
      else if (mine && !['waiting', 'pending', 'connecting'].includes(s.state)) action = el('button', { type: 'button', class: 'open', text: t('open'), onclick: () => openPane(s.id) });
      else if (s.state === 'waiting') action = el('button', { type: 'button', class: 'pickup primary', text: t('pick_up'), 'data-session': s.id, onclick: () => pickUp(s.id) });
      const state = el('td', {}, el('span', { text: s.state_label }), ' ', priorityBadge(s));
      if (s.direction) {
        state.append(el('span', { class: 'badge ' + s.direction, text: ' ' + t('direction_' + s.direction) }));
        const by = s.transferred_by === 0 ? t('system') : (names.get(s.transferred_by) || (s.transferred_by ? '#' + s.transferred_by : ''));
        if (by || s.transfer_comment) state.append(el('div', { class: 'small', text: t('transferred_by', { who: by || '?' }) + (s.transfer_comment ? ' — ' + s.transfer_comment : '') }));
      }
      body.append(el('tr', { class: 'q-' + s.state + ' ' + alarmOf(s), 'data-session': s.id },
        el('td', { text: s.id }),
        el('td', { class: 'customer-name', text: s.customer_name || t('unnamed') }),
        state,
        el('td', { class: 'waited', text: ['waiting', 'connecting'].includes(s.state) ? duration(elapsed(s)) : '' }),
        el('td', {}, action)));
    }
  }

  async function explainGone(s) {
    if (panes.has(s.id)) return;
    try {
      const now = await api('GET', '/web/api/v1/sessions/' + s.id);
      if (now.state === 'timed_out') event(t('queue_timed_out', { id: s.id }), 'gone');
      else if (now.state === 'closed') event(t('queue_closed', { id: s.id }), 'gone');
      else if (now.technician_id && now.technician_id !== me) event(t('queue_taken', { id: s.id }), 'gone');
      else event(t('queue_left', { id: s.id }), 'gone');
    } catch (e) {
      event(t('queue_taken', { id: s.id }), 'gone');
    }
  }

  function onQueue(sessions) {
    const next = new Map(sessions.map((s) => [s.id, s]));
    if (!firstFrame) {
      for (const s of next.values()) {
        const before = queue.get(s.id);
        if (!before) event(s.direction === 'incoming' ? t('queue_transferred_in', { id: s.id }) : t('queue_new', { id: s.id }), 'new');
        else if (s.direction === 'outgoing' && before.direction !== 'outgoing') event(t('queue_transferred_out', { id: s.id }), 'gone');
      }
      for (const s of queue.values()) if (!next.has(s.id)) explainGone(s);
    }
    queue = next; queueAt = Date.now();
    if (firstFrame) {
      firstFrame = false;
      for (const s of next.values()) if (s.technician_id === me && ['active', 'on_hold', 'reconnecting', 'rebooting'].includes(s.state)) openPane(s.id);
    }
    renderQueue();
  }

  let queueBackoff = 500;
  function connectQueue() {
    const ws = new WebSocket(wsURL('/web/api/v1/queue/live'));
    ws.onopen = () => { $('queue-live').textContent = t('live'); queueBackoff = 500; };
    ws.onmessage = (ev) => {
      let f; try { f = JSON.parse(ev.data); } catch (_) { return; }
      if (f.type === 'queue') onQueue(f.sessions || []);
    };
    ws.onclose = () => {
      $('queue-live').textContent = t('offline');
      setTimeout(connectQueue, queueBackoff);
      queueBackoff = Math.min(queueBackoff * 2, 8000);
    };
  }
  // The clock updates waiting times and alarm colours in place, so rows
  // (and the keyboard focus on their buttons) survive between pushes.
  function tick() {
    for (const tr of document.querySelectorAll('#queue-body tr[data-session]')) {
      const s = queue.get(Number(tr.dataset.session));
      if (!s) continue;
      tr.className = 'q-' + s.state + ' ' + alarmOf(s);
      const cell = tr.querySelector('.waited');
      if (cell && ['waiting', 'connecting'].includes(s.state)) cell.textContent = duration(elapsed(s));
    }
  }
  setInterval(tick, 1000);

  async function pickUp(id) {
    try {
      await api('POST', '/web/api/v1/sessions/' + id + '/pickup');
      openPane(id);
    } catch (e) { event(describe(e), 'gone'); }
  }

  // Private sessions (SESS-2, SESS-3, SESS-7).
  const fieldsBox = $('private-fields');
  (config.field_names || []).forEach((label, i) => {
    fieldsBox.append(el('div', { class: 'field' },
      el('label', { for: 'private-cfield' + i, text: label }),
      el('input', { id: 'private-cfield' + i, maxlength: 64, autocomplete: 'off' })));
  });
  $('private-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const cfields = (config.field_names || []).map((_, i) => $('private-cfield' + i).value);
    $('private-error').hidden = true;
    try {
      const res = await api('POST', '/web/api/v1/sessions', { fields: { cfields, tracking_id: $('private-tracking').value } });
      $('private-pin').textContent = res.pin;
      const inv = res.invitation || {};
      $('private-invitation').value = (inv.subject ? inv.subject + '\n\n' : '') + (inv.body || '');
      $('private-result').hidden = false;
      event(t('private_created', { id: res.session.id }), 'new');
    } catch (e) {
      $('private-error').textContent = describe(e);
      $('private-error').hidden = false;
    }
  });

  // Session panes.
  function senderName(m, pane) {
    if (m.sender_kind === 'customer') return pane.customer || t('sender_customer');
    if (m.sender_kind === 'system') return t('sender_system');
    if (m.sender_id === me) return t('you');
    return names.get(m.sender_id) || t('sender_technician') + ' #' + m.sender_id;
  }

  function renderMessage(pane, m) {
    if (pane.seen.has(m.seq)) return;
    pane.seen.add(m.seq);
    const local = m.client_msg_id && pane.node.querySelector('li[data-local="' + CSS.escape(m.client_msg_id) + '"]');
    if (local) local.remove();
    let text = m.body;
    if (m.kind === 'chat_toggle') text = m.payload && m.payload.enabled ? t('chat_on') : t('chat_off');
    if (m.kind === 'collab') text = t('collab_' + ((m.payload && m.payload.action) || 'joined')) + ' (' + (names.get(m.payload && m.payload.technician_id) || '#' + (m.payload && m.payload.technician_id)) + ')';
    let tag = '';
    if (m.kind === 'note') tag = t('tag_note');
    else if (m.audience === 'technicians') tag = t('tag_technicians');
    const li = el('li', { class: 'msg ' + m.kind + ' from-' + m.sender_kind + (m.audience === 'technicians' ? ' internal' : ''), 'data-seq': m.seq },
      tag ? el('span', { class: 'tag', text: '[' + tag + '] ' }) : null,
      m.kind === 'system' ? null : el('span', { class: 'who', text: senderName(m, pane) + ': ' }),
      el('span', { class: 'body', text }));
    const log = pane.node.querySelector('.chat-log');
    log.insertBefore(li, log.querySelector('li[data-local]'));
    li.scrollIntoView({ block: 'nearest' });
  }

  function paneError(pane, text) {
    const p = pane.node.querySelector('.pane-error');
    p.textContent = text || '';
    p.hidden = !text;
  }

  function fillTargets(select, kinds) {
    clear(select);
    for (const x of config.targets || []) {
      if (!kinds.includes(x.kind)) continue;
      select.append(el('option', { value: x.kind + ':' + x.id, text: t('target_' + x.kind) + ': ' + x.name }));
    }
  }

  async function refreshPane(pane) {
    try {
      const s = await api('GET', '/web/api/v1/sessions/' + pane.id);
      pane.customer = s.customer_name;
      pane.node.querySelector('.pane-title').textContent = t('session_n', { id: s.id }) + ' — ' + (s.customer_name || t('unnamed'));
      pane.node.querySelector('.pane-state').textContent = s.state_label;
      const f = s.fields || {};
      const info = (f.cfields || []).slice(1).map((v, i) => v ? (config.field_names[i + 1] + ': ' + v) : '').filter(Boolean);
      if (f.tracking_id) info.push(t('tracking_id') + ': ' + f.tracking_id);
      pane.node.querySelector('.pane-info').textContent = info.join(' · ');
      pane.node.querySelector('.hold').hidden = s.state !== 'active';
      pane.node.querySelector('.resume').hidden = s.state !== 'on_hold';
      if (['closed', 'timed_out'].includes(s.state)) ended(pane, s);
    } catch (e) { paneError(pane, describe(e)); }
  }

  function ended(pane, s) {
    if (pane.ended) return;
    pane.ended = true;
    if (pane.relay) pane.relay.stop();
    pane.node.classList.add('ended');
    for (const b of pane.node.querySelectorAll('form button, .hold, .resume, .close')) b.disabled = true;
    if (config.survey_hook && s && s.technician_id === me) {
      // The technician survey (a later issue) opens from here.
      const box = pane.node.querySelector('.pane-survey');
      clear(box);
      box.append(el('a', { href: '/console/survey?session=' + pane.id, target: '_blank', rel: 'noopener', text: t('survey_open') }));
      box.hidden = false;
    }
  }

  function openPane(id) {
    if (panes.has(id)) { panes.get(id).node.querySelector('.msg-input').focus(); return; }
    $('workspace-empty').hidden = true;
    const node = $('pane-template').content.firstElementChild.cloneNode(true);
    node.dataset.session = id;
    const pane = { id, node, seen: new Set(), customer: '', ended: false, relay: null };
    panes.set(id, pane);
    $('workspace').append(node);
    node.querySelector('.pane-title').textContent = t('session_n', { id });
    fillTargets(node.querySelector('.invite-target'), ['technician']);
    fillTargets(node.querySelector('.transfer-target'), ['technician', 'group', 'channel']);

    node.querySelector('.pane-chat').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = node.querySelector('.msg-input');
      const text = input.value.trim();
      if (!text) return;
      const aud = node.querySelector('.audience').value;
      const frame = aud === 'note' ? { type: 'note', text } : aud === 'technicians' ? { type: 'chat', text, audience: 'technicians' } : { type: 'chat', text };
      pane.relay.send(frame, 't');
      const log = node.querySelector('.chat-log');
      log.append(el('li', { class: 'msg pending from-technician', 'data-local': frame.client_msg_id }, el('span', { class: 'who', text: t('you') + ': ' }), el('span', { class: 'body', text })));
      input.value = '';
    });
    node.querySelector('.invite-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = node.querySelector('.invite-target').value;
      if (!v) return;
      pane.relay.send({ type: 'invite', technician_id: Number(v.split(':')[1]) }, 't');
    });
    node.querySelector('.transfer-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const [kind, tid] = node.querySelector('.transfer-target').value.split(':');
      try {
        await api('POST', '/web/api/v1/sessions/' + id + '/transfer', { target_kind: kind, target_id: Number(tid), comment: node.querySelector('.transfer-comment').value });
        paneError(pane, '');
        node.querySelector('.pane-state').textContent = t('transferred');
        ended(pane, null);
      } catch (e) { paneError(pane, describe(e)); }
    });
    const act = (name) => async () => {
      try { await api('POST', '/web/api/v1/sessions/' + id + '/' + name); paneError(pane, ''); refreshPane(pane); } catch (e) { paneError(pane, describe(e)); }
    };
    node.querySelector('.hold').addEventListener('click', act('hold'));
    node.querySelector('.resume').addEventListener('click', act('resume'));
    node.querySelector('.close').addEventListener('click', act('close'));
    node.querySelector('.dismiss').addEventListener('click', () => {
      if (pane.relay) pane.relay.stop();
      panes.delete(id); node.remove();
      $('workspace-empty').hidden = panes.size > 0;
    });

    pane.relay = new Relay('/web/api/v1/relay/sessions/' + id, {
      hello() { paneError(pane, ''); },
      message(m) { renderMessage(pane, m); },
      state() { refreshPane(pane); },
      error(f) { paneError(pane, f.message); },
      closed(code, final) {
        if (code === 4002 || code === 4004) refreshPane(pane);
        else if (!final) paneError(pane, t('connection_lost'));
      },
    });
    pane.relay.connect();
    refreshPane(pane);
    node.querySelector('.msg-input').focus();
  }

  $('join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = Number($('join-session').value);
    if (id > 0) openPane(id);
  });

  connectQueue();
})();
