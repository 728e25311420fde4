'use strict';
// The admin centre's Plugins tab: the installed plugins with their state
// and last error, enable / disable (master administrators), the selected
// unit's settings form drawn from the plugin's manifest schema (secrets
// write-only, field errors beside their input, the ORG-8 save modes), and
// the plugin's delivery log with replay. admin.js calls render and stop;
// everything is built with textContent through Tether.el.
const TetherPlugins = (() => {
  const { t, el, clear, api, describe, config } = Tether;
  const A = '/web/api/v1';
  const DELIVERY_STATES = ['pending', 'blocked', 'running', 'delivered', 'failed', 'skipped'];
  const TRANSITIONAL = ['installed', 'starting'];
  const LOG_PAGE = 50;
  // Units that hold plugin settings (pluginsettings.Kinds).
  const SETTINGS_KINDS = ['org', 'tech_group', 'channel'];

  let gen = 0;          // bumped by every render and stop: late answers of an old render are dropped
  let timer = null;
  let chosen = null;    // the plugin whose settings and log are shown, kept across units

  function stop() {
    gen += 1;
    clearTimeout(timer);
    timer = null;
  }

  const isSecret = (s) => s.type === 'secret' || !!s.secret;
  const when = (ts) => (ts ? new Date(ts).toLocaleString() : '');
  const badge = (prefix, state) => el('span', { class: 'badge state-' + state, 'data-state': state, text: t(prefix + state) });

  // render fills the panel for unit; ctx carries admin.js's error and notice.
  async function render(panel, unit, ctx) {
    stop();
    const my = gen;
    const live = () => my === gen;
    const root = el('div', { id: 'plugins-tab', class: 'plugins' });
    panel.append(root);
    let list;
    try { list = (await api('GET', A + '/plugins')).plugins || []; } catch (e) { if (live()) ctx.error(e); return; }
    if (!live()) return;
    if (!list.length) { root.append(el('p', { class: 'small', text: t('plugins_none') })); return; }
    if (!chosen || !list.some((p) => p.id === chosen)) chosen = list[0].id;

    const tbody = el('tbody');
    root.append(el('table', { class: 'list', id: 'plugin-list' }, el('caption', { text: t('plugins_installed') }),
      el('thead', {}, el('tr', {}, [t('name'), t('plugin_version'), t('enabled'), t('state'), t('plugin_last_error'), t('actions')].map((h) => el('th', { scope: 'col', text: h })))),
      tbody));
    if (!config.is_master) root.append(el('p', { class: 'small', id: 'plugins-read-only', text: t('plugins_read_only') }));
    const detail = el('div', { id: 'plugin-detail' });
    root.append(detail);

    const offNote = el('p', { class: 'small', id: 'plugin-off-note', text: t('plugin_off_note') });
    const rows = (plugins) => {
      list = plugins;
      const cur = plugins.find((p) => p.id === chosen);
      offNote.hidden = !cur || cur.enabled;
      clear(tbody);
      for (const p of plugins) {
        const actions = el('td', { class: 'cell-actions' });
        if (p.id !== chosen) {
          actions.append(el('button', { type: 'button', class: 'plugin-open', text: t('plugin_configure'), 'aria-label': t('plugin_configure') + ' ' + p.name,
            onclick: () => { chosen = p.id; render(clearPanel(panel), unit, ctx); } }));
        }
        if (config.is_master) {
          const on = !p.enabled;
          actions.append(el('button', { type: 'button', class: on ? 'plugin-enable primary' : 'plugin-disable danger',
            text: on ? t('plugin_enable') : t('plugin_disable'), 'aria-label': (on ? t('plugin_enable') : t('plugin_disable')) + ' ' + p.name,
            onclick: async (ev) => {
              ev.target.disabled = true;
              ctx.error(''); ctx.notice('');
              try {
                await api('POST', A + '/plugins/' + encodeURIComponent(p.id) + (on ? '/enable' : '/disable'));
                ctx.notice(t(on ? 'plugin_enabled' : 'plugin_disabled', { name: p.name }));
                await refreshList();
              } catch (e) { ctx.error(e); ev.target.disabled = false; }
            } }));
        }
        const state = el('td', {}, badge('pstate_', p.state));
        if (p.failures) state.append(' ', el('span', { class: 'small', text: t('plugin_failures', { n: p.failures }) }));
        tbody.append(el('tr', { 'data-plugin': p.id, class: p.id === chosen ? 'chosen' : undefined },
          el('td', {}, el('span', { class: 'plugin-name', text: p.name }), p.bundled ? el('span', { class: 'badge', text: t('plugin_bundled') }) : null,
            el('div', { class: 'small', text: p.id })),
          el('td', { text: p.version }), el('td', { class: 'plugin-on', 'data-enabled': String(!!p.enabled), text: p.enabled ? t('yes') : t('no') }), state,
          el('td', { class: 'last-error', text: p.last_error || '' }), actions));
      }
    };
    const refreshList = async () => {
      try {
        const fresh = (await api('GET', A + '/plugins')).plugins || [];
        // Unchanged: nothing is redrawn, so a button about to be clicked stays.
        if (live() && JSON.stringify(fresh) !== JSON.stringify(list)) rows(fresh);
      } catch (e) { if (live()) ctx.error(e); }
    };
    rows(list);

    const plugin = list.find((p) => p.id === chosen);
    const m = plugin.manifest || {};
    detail.append(el('h2', { id: 'plugin-title', text: plugin.name + ' ' + plugin.version }));
    if (m.description) detail.append(el('p', { class: 'small', text: m.description }));
    detail.append(offNote);

    if (SETTINGS_KINDS.includes(unit.kind)) {
      const box = el('div', { id: 'plugin-settings-box' });
      detail.append(box);
      try {
        const view = await api('GET', A + '/units/' + unit.id + '/plugins/' + encodeURIComponent(plugin.id) + '/settings');
        if (!live()) return;
        box.append(settingsForm(unit, plugin, view, ctx, (next) => { clear(box); box.append(next); }));
      } catch (e) { if (live()) ctx.error(e); }
    } else {
      detail.append(el('p', { class: 'small', id: 'plugin-settings-kinds', text: t('plugin_settings_kinds') }));
    }

    let log = null;
    if (config.is_master) {
      log = deliveryLog(plugin, ctx, live);
      detail.append(log.node);
      await log.load();
    } else {
      detail.append(el('p', { class: 'small', id: 'deliveries-master-only', text: t('deliveries_master_only') }));
    }

    if (!live()) return;
    // Refresh the state while a plugin starts, and the log every 5 s unless
    // someone is working in it.
    let ticks = 0;
    const tick = async () => {
      if (!live()) return;
      ticks += 1;
      if (list.some((p) => p.enabled && TRANSITIONAL.includes(p.state)) || ticks % 5 === 0) await refreshList();
      if (log && (ticks % 5 === 0 || log.settling()) && !log.busy()) await log.load();
      if (live()) timer = setTimeout(tick, 1000);
    };
    timer = setTimeout(tick, 1000);
  }

  function clearPanel(panel) { stop(); clear(panel); return panel; }

  // settingsForm draws one input per manifest setting, by type.
  function settingsForm(unit, plugin, view, ctx, replace) {
    const m = plugin.manifest || {};
    const schema = m.settings || [];
    const values = view.values || {};
    const locked = view.locked || {};
    const f = el('form', { class: 'card sub plugin-settings', id: 'plugin-settings', 'data-plugin': plugin.id });
    f.append(el('h3', { text: t('plugin_settings_for', { name: view.unit ? view.unit.name : unit.name }) }));
    const source = view.own ? t('source_own') : view.inherited_from ? t('source_inherited', { name: view.inherited_from.name }) : t('source_default');
    f.append(el('p', { class: 'small source', id: 'plugin-source', text: source }));

    const enabled = el('input', { type: 'checkbox', id: 'plugin-unit-enabled', name: '_enabled' });
    enabled.checked = !!view.enabled;
    f.append(el('div', { class: 'field check' }, enabled, el('label', { for: enabled.id, text: t('plugin_unit_enabled') })));

    const inputs = [];
    const grid = el('div', { class: 'settings-grid' });
    f.append(grid);
    for (const s of schema) {
      const id = 'ps-' + s.key;
      const help = s.help ? el('p', { class: 'small help', id: id + '-help', text: s.help }) : null;
      const err = el('p', { class: 'field-error', id: id + '-error', hidden: true });
      const describedBy = [help ? id + '-help' : null, id + '-error'].filter(Boolean).join(' ');
      const holder = locked[s.key];
      const v = values[s.key];
      let input, clr = null;
      const extra = [];
      if (isSecret(s)) {
        const set = !!(v && v.set);
        input = el('input', { type: 'password', id, name: s.key, autocomplete: 'new-password', spellcheck: 'false',
          placeholder: set ? t('secret_keep') : '', 'aria-describedby': describedBy + ' ' + id + '-state' });
        extra.push(el('span', { class: 'badge secret-state ' + (set ? 'set' : 'unset'), id: id + '-state', 'data-set': String(set),
          text: set ? t('secret_set') : t('secret_not_set') }));
        if (set && !holder) {
          clr = el('input', { type: 'checkbox', id: id + '-clear', class: 'secret-clear' });
          extra.push(el('span', { class: 'check' }, clr, el('label', { for: clr.id, text: t('secret_clear') })));
        }
      } else if (s.type === 'bool') {
        input = el('input', { type: 'checkbox', id, name: s.key, 'aria-describedby': describedBy });
        input.checked = v === true;
      } else if (s.type === 'int') {
        input = el('input', { type: 'number', id, name: s.key, step: 1, inputmode: 'numeric', min: s.min, max: s.max,
          value: v === null || v === undefined ? '' : v, 'aria-describedby': describedBy });
      } else if (s.type === 'enum') {
        const opts = (s.enum || []).map((o) => el('option', { value: o, text: o, selected: v === o }));
        // An empty choice only where "none" means something: no default to fall back on.
        if ((!s.required && (s.default === undefined || s.default === null)) || v === null || v === undefined) opts.unshift(el('option', { value: '', text: t('plugin_none'), selected: v === null || v === undefined }));
        input = el('select', { id, name: s.key, 'aria-describedby': describedBy }, opts);
      } else if (s.type === 'text') {
        input = el('textarea', { id, name: s.key, rows: 4, 'aria-describedby': describedBy }, v || '');
      } else {
        input = el('input', { type: s.type === 'url' ? 'url' : 'text', id, name: s.key, value: v || '', spellcheck: 'false',
          inputmode: s.type === 'url' ? 'url' : undefined, placeholder: s.type === 'url' ? 'https://' : undefined, 'aria-describedby': describedBy });
      }
      input.dataset.type = s.type;
      if (isSecret(s)) input.dataset.secret = 'true';
      if (s.required && !isSecret(s) && s.type !== 'bool') input.required = true;
      if (holder) {
        input.disabled = true;
        input.dataset.locked = 'true';
      }
      const label = el('label', { for: id, text: s.label || s.key });
      if (s.required) label.append(el('span', { class: 'small', text: ' ' + t('plugin_required') }));
      const lockedNote = holder ? el('p', { class: 'small locked', text: t('plugin_locked', { name: holder.name }) }) : null;
      const row = s.type === 'bool'
        ? el('div', { class: 'field check plugin-setting', 'data-key': s.key }, input, label, help, lockedNote, err)
        : el('div', { class: 'field plugin-setting', 'data-key': s.key }, label, input, ...extra, help, lockedNote, err);
      inputs.push({ s, input, err, holder, clr });
      grid.append(row);
    }

    const modes = ['unit'];
    if (unit.kind === 'tech_group') modes.push('subtree');
    if (unit.kind === 'tech_group' || unit.kind === 'channel') modes.push('all');
    const mode = el('select', { id: 'plugin-mode', name: '_mode' }, modes.map((x) => el('option', { value: x, text: t('mode_' + x) })));
    f.append(el('div', { class: 'field' }, el('label', { for: mode.id, text: t('save_for') }), mode));
    const formError = el('p', { class: 'error', id: 'plugin-settings-error', role: 'alert', hidden: true });
    const status = el('p', { class: 'notice', id: 'plugin-settings-status', role: 'status', hidden: true });
    f.append(formError, status, el('div', { class: 'actions' },
      el('button', { type: 'submit', class: 'primary', id: 'plugin-save', text: t('save') }),
      el('button', { type: 'button', class: 'reset', id: 'plugin-reset', text: t('reset'), onclick: async () => {
        ctx.error(''); ctx.notice('');
        try {
          const next = await api('DELETE', A + '/units/' + unit.id + '/plugins/' + encodeURIComponent(plugin.id) + '/settings');
          replace(settingsForm(unit, plugin, next, ctx, replace));
          ctx.notice(t('reset_done'));
        } catch (e) { ctx.error(e); }
      } })));

    const clearErrors = () => {
      formError.hidden = true; formError.textContent = '';
      status.hidden = true;
      for (const x of inputs) { x.err.hidden = true; x.err.textContent = ''; x.input.removeAttribute('aria-invalid'); }
    };

    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      ctx.error(''); ctx.notice('');
      clearErrors();
      const out = {};
      for (const { s, input, holder, clr } of inputs) {
        if (holder) continue; // set above this unit; sending it back would be refused if it differs
        if (isSecret(s)) {
          if (clr && clr.checked) out[s.key] = { set: false };
          else if (input.value !== '') out[s.key] = input.value;
          continue; // left out: the stored secret is kept
        }
        if (s.type === 'bool') out[s.key] = input.checked;
        else if (s.type === 'int') out[s.key] = input.value === '' ? null : Number(input.value);
        else if (s.type === 'enum') out[s.key] = input.value === '' ? null : input.value;
        else out[s.key] = input.value;
      }
      const save = f.querySelector('#plugin-save');
      save.disabled = true;
      try {
        const res = await api('PUT', A + '/units/' + unit.id + '/plugins/' + encodeURIComponent(plugin.id) + '/settings',
          { mode: mode.value, enabled: enabled.checked, values: out });
        const next = settingsForm(unit, plugin, res.settings, ctx, replace);
        replace(next);
        const st = next.querySelector('#plugin-settings-status');
        st.textContent = t('saved_for_n', { n: (res.saved_for || []).length });
        st.hidden = false;
      } catch (e) {
        save.disabled = false;
        const rest = [];
        let first = null;
        for (const [k, why] of Object.entries(e.fields || {})) {
          const x = inputs.find((i) => i.s.key === k);
          if (!x) { rest.push(k + ': ' + why); continue; }
          x.err.textContent = why;
          x.err.hidden = false;
          x.input.setAttribute('aria-invalid', 'true');
          first = first || x.input;
        }
        formError.textContent = e.message + (rest.length ? ' (' + rest.join('; ') + ')' : '');
        if (!e.fields) formError.textContent = describe(e);
        formError.hidden = false;
        if (first) first.focus();
      }
    });
    return f;
  }

  // deliveryLog is the plugin's log, newest first, with a state filter,
  // every attempt behind a disclosure, replay of failed deliveries one by
  // one or by time range, and older pages.
  function deliveryLog(plugin, ctx, live) {
    const base = A + '/plugins/' + encodeURIComponent(plugin.id) + '/deliveries';
    const filter = el('select', { id: 'delivery-state' }, el('option', { value: '', text: t('dstate_all') }),
      DELIVERY_STATES.map((s) => el('option', { value: s, text: t('dstate_' + s) })));
    const refresh = el('button', { type: 'button', id: 'delivery-refresh', text: t('refresh') });
    const tbody = el('tbody');
    const more = el('button', { type: 'button', id: 'delivery-older', text: t('deliveries_older'), hidden: true });
    const empty = el('p', { class: 'small', id: 'deliveries-empty', text: t('deliveries_none'), hidden: true });
    const table = el('table', { class: 'list deliveries', id: 'delivery-log' },
      el('caption', { class: 'sr-only', text: t('deliveries_title') }),
      el('thead', {}, el('tr', {}, ['#', t('delivery_event'), t('delivery_session'), t('state'), t('delivery_attempts'), t('plugin_last_error'), t('actions')]
        .map((h) => el('th', { scope: 'col', text: h })))), tbody);
    const from = el('input', { type: 'datetime-local', id: 'replay-from', required: true, step: 1 });
    const to = el('input', { type: 'datetime-local', id: 'replay-to', required: true, step: 1 });
    const range = el('form', { class: 'replay-range', id: 'replay-range-form' },
      el('div', { class: 'field' }, el('label', { for: from.id, text: t('replay_from') }), from),
      el('div', { class: 'field' }, el('label', { for: to.id, text: t('replay_to') }), to),
      el('button', { type: 'submit', text: t('replay_range') }));
    const node = el('section', { class: 'card sub', id: 'plugin-deliveries', 'aria-labelledby': 'deliveries-title' },
      el('h3', { id: 'deliveries-title', text: t('deliveries_title') }),
      el('p', { class: 'small', text: t('deliveries_hint') }),
      el('div', { class: 'toolbar' }, el('label', { for: filter.id, text: t('delivery_filter') }), filter, refresh),
      table, empty, more,
      el('details', { class: 'replay' }, el('summary', { text: t('replay_range_title') }), range));

    const open = new Set();  // deliveries whose attempts are shown, kept across reloads
    let shown = [];
    const replay = async (d) => {
      ctx.error(''); ctx.notice('');
      try {
        const r = await api('POST', base + '/' + d.id + '/replay');
        ctx.notice(t('replayed_n', { n: r.replayed }));
        await load();
      } catch (e) { ctx.error(e); }
    };

    const row = (d) => {
      const attempts = el('details', { class: 'attempts', 'data-delivery': d.id });
      attempts.open = open.has(d.id);
      attempts.addEventListener('toggle', () => { if (attempts.open) open.add(d.id); else open.delete(d.id); });
      attempts.append(el('summary', { text: t('attempts_n', { n: d.attempts }) }),
        el('ol', { class: 'history' }, (d.history || []).map((a) => el('li', { 'data-outcome': a.outcome },
          el('span', { text: when(a.at) }), ' · ', el('span', { class: 'badge outcome-' + a.outcome, text: t('outcome_' + a.outcome) }),
          ' · ', el('span', { text: t('duration_ms', { n: a.duration_ms }) }),
          a.error ? el('div', { class: 'small attempt-error', text: a.error }) : null))));
      return el('tr', { 'data-delivery': d.id, 'data-state': d.state },
        el('td', { text: d.id }),
        el('td', {}, el('span', { class: 'event-type', text: d.event_type }), el('div', { class: 'small', text: d.event_id + ' · ' + when(d.event_at) })),
        el('td', { class: 'session', text: d.session_id }),
        el('td', {}, badge('dstate_', d.state)),
        el('td', {}, attempts),
        el('td', { class: 'last-error', text: d.last_error || '' }),
        el('td', { class: 'cell-actions' }, d.state === 'failed'
          ? el('button', { type: 'button', class: 'replay-one', text: t('replay'), 'aria-label': t('replay') + ' #' + d.id, onclick: () => replay(d) })
          : null));
    };

    const fetchPage = async (before) => {
      let q = '?limit=' + LOG_PAGE;
      if (filter.value) q += '&state=' + encodeURIComponent(filter.value);
      if (before) q += '&before=' + before;
      return (await api('GET', base + q)).deliveries || [];
    };
    // load shows the newest page again, as long as what was shown.
    async function load() {
      let page;
      try { page = await fetchPage(0); } catch (e) { if (live()) ctx.error(e); return; }
      if (!live()) return;
      // Unchanged: nothing is redrawn, so a button about to be clicked stays.
      if (drawn && JSON.stringify(page) === JSON.stringify(shown)) return;
      shown = page;
      draw(page.length === LOG_PAGE);
    }
    let drawn = false;
    function draw(hasMore) {
      drawn = true;
      clear(tbody);
      for (const d of shown) tbody.append(row(d));
      table.hidden = !shown.length;
      empty.hidden = !!shown.length;
      more.hidden = !hasMore;
    }
    more.addEventListener('click', async () => {
      try {
        const page = await fetchPage(shown.length ? shown[shown.length - 1].id : 0);
        shown = shown.concat(page);
        draw(page.length === LOG_PAGE);
      } catch (e) { ctx.error(e); }
    });
    filter.addEventListener('change', () => { drawn = false; load(); });
    refresh.addEventListener('click', load);
    range.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      ctx.error(''); ctx.notice('');
      try {
        const r = await api('POST', base + '/replay', { from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString() });
        ctx.notice(t('replayed_n', { n: r.replayed }));
        await load();
      } catch (e) { ctx.error(e); }
    });
    // busy: someone is using the log (focus inside, older pages open), so it is not redrawn under them.
    const busy = () => (node.contains(document.activeElement) && document.activeElement !== refresh) || shown.length > LOG_PAGE;
    // settling: a delivery shown is still on its way, so the log is read every second.
    const settling = () => shown.some((d) => d.state === 'running' || d.state === 'blocked' || (d.state === 'pending' && new Date(d.next_at) - Date.now() < 10000));
    return { node, load, busy, settling };
  }

  return { render, stop };
})();
