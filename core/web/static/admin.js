'use strict';
// The admin centre: the organisation tree with search (ORG-6) and the
// selected unit's tabs. Everything it shows comes from the REST API through
// the cookie bridge, and every string is set with textContent.
(() => {
  const { t, el, clear, api, describe, config } = Tether;
  const $ = (id) => document.getElementById(id);
  const A = '/web/api/v1';
  let tree = null, byID = new Map(), unit = null, tab = 'org', sections = null, sessionsTimer = null;

  function notice(text) { $('admin-notice').textContent = text || ''; $('admin-notice').hidden = !text; }
  function error(e) { $('admin-error').textContent = e ? (typeof e === 'string' ? e : describe(e)) : ''; $('admin-error').hidden = !e; }
  function kindLabel(k) { return t('kind_' + k); }

  // Tree.
  function indexTree(n, parent) {
    n.parent = parent || null;
    byID.set(n.id, n);
    for (const c of n.children || []) indexTree(c, n);
  }

  function treeItem(n) {
    const li = el('li', { role: 'treeitem', 'aria-expanded': (n.children || []).length ? 'true' : undefined, 'aria-selected': unit && unit.id === n.id ? 'true' : 'false' });
    li.append(el('button', { type: 'button', class: 'node kind-' + n.kind + (unit && unit.id === n.id ? ' selected' : ''), 'data-unit': n.id,
      onclick: () => select(n.id) }, el('span', { class: 'kind', text: kindLabel(n.kind) }), ' ', el('span', { class: 'name', text: n.name })));
    if ((n.children || []).length) {
      const ul = el('ul', { role: 'group' });
      for (const c of n.children) ul.append(treeItem(c));
      li.append(ul);
    }
    return li;
  }

  function renderTree() {
    const root = $('tree');
    clear(root);
    if (tree) root.append(treeItem(tree));
  }

  async function loadTree() {
    try {
      tree = (await api('GET', A + '/org/tree')).root;
      byID = new Map();
      indexTree(tree, null);
      renderTree();
    } catch (e) { error(e); }
  }

  let searchTimer = null;
  $('tree-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  });
  $('tree-search-form').addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
  async function search() {
    const q = $('tree-search').value.trim();
    const out = $('search-results');
    clear(out);
    if (!q) return;
    try {
      const res = await api('GET', A + '/org/search?q=' + encodeURIComponent(q));
      const hits = res.hits || res.results || [];
      if (!hits.length) out.append(el('li', { class: 'small', text: t('no_results') }));
      for (const h of hits) {
        out.append(el('li', {}, el('button', { type: 'button', class: 'hit', 'data-unit': h.id, onclick: () => select(h.id) },
          el('span', { class: 'kind', text: kindLabel(h.kind) }), ' ', el('span', { text: h.name }),
          el('span', { class: 'small', text: ' ' + (h.path || []).join(' › ') }))));
      }
    } catch (e) { error(e); }
  }

  // Tabs.
  const tabs = [...document.querySelectorAll('#tabs [role=tab]')];
  for (const b of tabs) {
    b.addEventListener('click', () => { tab = b.dataset.tab; renderTab(); });
    b.addEventListener('keydown', (ev) => {
      const i = tabs.indexOf(b);
      let j = -1;
      if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
      if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
      if (j >= 0) { ev.preventDefault(); tabs[j].focus(); tabs[j].click(); }
    });
  }

  function select(id) {
    const n = byID.get(id);
    if (!n) return;
    unit = n;
    error(''); notice('');
    $('unit-title').textContent = n.name;
    $('unit-kind').textContent = kindLabel(n.kind) + ' · #' + n.id;
    renderTree();
    renderTab();
  }

  function renderTab() {
    for (const b of tabs) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    clearInterval(sessionsTimer);
    TetherPlugins.stop();
    TetherRouting.stop();
    const panel = $('tab-panel');
    clear(panel);
    panel.setAttribute('aria-labelledby', 'tab-' + tab);
    if (!unit) { panel.append(el('p', { class: 'small', text: t('select_unit') })); return; }
    ({ org: orgTab, settings: settingsTab, channels: channelsTab, sessions: sessionsTab, plugins: pluginsTab, routing: routingTab })[tab](panel);
  }

  // Small form helpers: every input gets a label.
  let fieldSeq = 0;
  function field(label, input) {
    fieldSeq += 1;
    input.id = input.id || 'f' + fieldSeq;
    return el('div', { class: 'field' }, el('label', { for: input.id, text: label }), input);
  }
  function form(title, fields, submitText, onsubmit, id) {
    const f = el('form', { class: 'card sub', id }, title ? el('h3', { text: title }) : null, ...fields, el('button', { type: 'submit', class: 'primary', text: submitText }));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error(''); notice('');
      try { await onsubmit(f); } catch (e) { error(e); }
    });
    return f;
  }
  function val(f, name) { return f.querySelector('[name="' + name + '"]').value; }

  // Organisation tab.
  async function orgTab(panel) {
    const n = unit;
    if (['tech_group', 'admin_group'].includes(n.kind)) {
      panel.append(form(t('group_fields'), [
        field(t('name'), el('input', { name: 'name', value: n.name, required: true, maxlength: 128 })),
        field(t('description'), el('input', { name: 'description', value: n.description || '', maxlength: 1024 })),
      ], t('save'), async (f) => {
        await api('PATCH', A + '/groups/' + n.id, { name: val(f, 'name'), description: val(f, 'description') });
        notice(t('saved')); await loadTree(); select(n.id);
      }, 'group-form'));
    }
    if (['org', 'tech_group'].includes(n.kind)) {
      panel.append(form(t('new_tech_group'), [
        field(t('name'), el('input', { name: 'name', required: true, maxlength: 128 })),
      ], t('create'), async (f) => {
        const body = { name: val(f, 'name') };
        if (n.kind === 'tech_group') body.parent_id = n.id;
        const g = await api('POST', A + '/tech-groups', body);
        await loadTree(); select(g.id);
      }, 'new-group-form'));
    }
    if (n.kind === 'tech_group' || (config.is_master && ['org', 'admin_group'].includes(n.kind))) {
      const roles = n.kind === 'tech_group' ? ['technician'] : ['admin', 'master'];
      panel.append(form(t('new_member'), [
        field(t('role'), el('select', { name: 'role' }, roles.map((r) => el('option', { value: r, text: kindLabel(r) })))),
        field(t('name'), el('input', { name: 'name', required: true, maxlength: 128 })),
        field(t('nickname'), el('input', { name: 'nickname', maxlength: 64 })),
        field(t('email'), el('input', { name: 'email', type: 'email', required: true })),
        field(t('password'), el('input', { name: 'password', type: 'password', autocomplete: 'new-password' })),
      ], t('create'), async (f) => {
        const body = { role: val(f, 'role'), name: val(f, 'name'), nickname: val(f, 'nickname'), email: val(f, 'email'), password: val(f, 'password') };
        if (n.kind !== 'org') body.group_id = n.id;
        const m = await api('POST', A + '/members', body);
        await loadTree(); select(n.id); notice(t('member_created', { name: m.name }));
      }, 'new-member-form'));
    }
    if (['technician', 'admin', 'master'].includes(n.kind)) {
      const m = await api('GET', A + '/members/' + n.id);
      const enabled = el('input', { name: 'enabled', type: 'checkbox' });
      enabled.checked = m.enabled;
      panel.append(form(t('member_fields'), [
        field(t('name'), el('input', { name: 'name', value: m.name, required: true })),
        field(t('nickname'), el('input', { name: 'nickname', value: m.nickname || '' })),
        field(t('email'), el('input', { name: 'email', type: 'email', value: m.email })),
        field(t('description'), el('input', { name: 'description', value: m.description || '' })),
        field(t('enabled'), enabled),
      ], t('save'), async (f) => {
        await api('PATCH', A + '/members/' + n.id, { name: val(f, 'name'), nickname: val(f, 'nickname'), email: val(f, 'email'),
          description: val(f, 'description'), enabled: f.querySelector('[name=enabled]').checked });
        notice(t('saved')); await loadTree(); select(n.id);
      }, 'member-form'));
      panel.append(form(t('set_password'), [
        field(t('password'), el('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true })),
      ], t('save'), async (f) => {
        await api('PUT', A + '/members/' + n.id + '/password', { password: val(f, 'password') });
        notice(t('password_set'));
      }, 'password-form'));
      if (n.kind === 'technician') {
        const groups = [...byID.values()].filter((g) => g.kind === 'tech_group');
        panel.append(form(t('move_to_group'), [
          field(t('tech_group'), el('select', { name: 'group' }, groups.map((g) => el('option', { value: g.id, selected: n.parent && n.parent.id === g.id, text: g.name })))),
        ], t('move'), async (f) => {
          await api('PATCH', A + '/members/' + n.id, { group_id: Number(val(f, 'group')) });
          await loadTree(); select(n.id); notice(t('saved'));
        }, 'move-form'));
      }
    }
    if (['tech_group', 'admin_group', 'org'].includes(n.kind)) {
      const res = await api('GET', A + '/members?group_id=' + n.id);
      const members = res.members || [];
      const table = el('table', { class: 'list', id: 'members' }, el('caption', { text: t('members') }),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t('name') }), el('th', { scope: 'col', text: t('email') }), el('th', { scope: 'col', text: t('role') }), el('th', { scope: 'col', text: t('enabled') }))),
        el('tbody', {}, members.map((m) => el('tr', {}, el('td', {}, el('button', { type: 'button', class: 'link', text: m.name, onclick: () => select(m.id) })),
          el('td', { text: m.email }), el('td', { text: kindLabel(m.role || m.kind) }), el('td', { text: m.enabled ? t('yes') : t('no') })))));
      panel.append(table);
    }
    if (['tech_group', 'technician'].includes(n.kind)) {
      try {
        const p = await api('GET', A + '/units/' + n.id + '/permissions');
        const perms = p.permissions || p.value || p;
        const list = el('dl', { class: 'perms', id: 'permissions' });
        for (const [k, v] of Object.entries(perms)) {
          if (typeof v !== 'boolean') continue;
          list.append(el('dt', { text: k }), el('dd', { class: v ? 'on' : 'off', text: v ? t('yes') : t('no') }));
        }
        panel.append(el('section', { class: 'card sub' }, el('h3', { text: t('permissions') }), el('p', { class: 'small', text: t('permissions_hint') }), list));
      } catch (e) { error(e); }
    }
    if (n.kind === 'channel') panel.append(el('p', { class: 'small', text: t('channel_see_tab') }));
  }

  // Settings tab (ORG-8): one form per section, flat fields as inputs,
  // nested values as JSON, and the three save modes.
  async function settingsTab(panel) {
    if (!sections) sections = (await api('GET', A + '/settings/sections')).sections || [];
    const byName = new Map(sections.map((s) => [s.name, s]));
    let all;
    try { all = (await api('GET', A + '/units/' + unit.id + '/settings')).settings || []; } catch (e) { error(e); return; }
    if (!all.length) panel.append(el('p', { class: 'small', text: t('no_settings') }));
    for (const eff of all) {
      const sec = byName.get(eff.section) || { title: eff.section };
      if (sec.master_only && !config.is_master) continue;
      panel.append(settingsForm(eff, sec));
    }
  }

  function settingsForm(eff, sec) {
    const value = eff.value || {};
    const inputs = [];
    for (const [k, v] of Object.entries(value)) {
      let input;
      if (typeof v === 'boolean') { input = el('input', { type: 'checkbox', name: k, 'data-type': 'bool' }); input.checked = v; }
      else if (typeof v === 'number') input = el('input', { type: 'number', name: k, value: v, 'data-type': 'number', step: 'any' });
      else if (typeof v === 'string') input = v.length > 80 || k === 'text' || k === 'body' ? el('textarea', { name: k, 'data-type': 'string', rows: 4 }, v) : el('input', { name: k, value: v, 'data-type': 'string' });
      else input = el('textarea', { name: k, 'data-type': 'json', rows: 3, class: 'json' }, JSON.stringify(v, null, 1));
      inputs.push(field(k, input));
    }
    const source = eff.own ? t('source_own') : eff.inherited_from ? t('source_inherited', { name: eff.inherited_from.name }) : t('source_default');
    const modes = ['unit'];
    if (unit.kind === 'tech_group') modes.push('subtree');
    if (!(sec.no_all_channels && unit.kind === 'channel')) modes.push('all');
    const mode = el('select', { name: '_mode' }, modes.map((m) => el('option', { value: m, text: t('mode_' + m) })));
    const errors = el('p', { class: 'error field-errors', role: 'alert', hidden: true });
    const f = el('form', { class: 'card sub settings', 'data-section': eff.section },
      el('h3', { text: sec.title || eff.section }), el('p', { class: 'small source', text: source }),
      ...inputs, field(t('save_for'), mode), errors,
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary', text: t('save') }),
        el('button', { type: 'button', class: 'reset', text: t('reset'), onclick: async () => {
          try { await api('DELETE', A + '/units/' + unit.id + '/settings/' + eff.section); notice(t('reset_done')); renderTab(); } catch (e) { error(e); }
        } })));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error(''); notice(''); errors.hidden = true;
      const out = {};
      try {
        for (const input of f.querySelectorAll('[data-type]')) {
          const ty = input.dataset.type;
          out[input.name] = ty === 'bool' ? input.checked : ty === 'number' ? Number(input.value) : ty === 'json' ? JSON.parse(input.value) : input.value;
        }
      } catch (e) { errors.textContent = t('bad_json'); errors.hidden = false; return; }
      try {
        const res = await api('PUT', A + '/units/' + unit.id + '/settings/' + eff.section, { mode: mode.value, value: out });
        notice(t('saved_for_n', { n: (res.saved_for || []).length }));
      } catch (e) {
        errors.textContent = describe(e); errors.hidden = false;
      }
    });
    return f;
  }

  // Channels tab (CH-1..5).
  async function channelsTab(panel) {
    let channels;
    try { channels = (await api('GET', A + '/channels')).channels || []; } catch (e) { error(e); return; }
    if (unit.kind === 'channel') channels = channels.filter((c) => c.id === unit.id);
    else if (unit.kind === 'tech_group') {
      panel.append(el('p', { class: 'small', text: t('channels_of_group') }));
    }
    for (const c of channels) panel.append(channelCard(c));
  }

  function snippet(c) {
    const names = config.field_names || ['Name'];
    const lines = ['<form action="' + config.origin + '/c/' + c.id + '" method="get" target="_blank">'];
    names.forEach((n, i) => {
      const name = i === 0 ? 'name' : 'cfield' + i;
      lines.push('  <label>' + n.replace(/[<>&"]/g, '') + ' <input name="' + name + '"' + (i === 0 ? ' required' : '') + '></label>');
    });
    lines.push('  <label>Tracking ID <input name="tracking"></label>', '  <button type="submit">Get help</button>', '</form>');
    return lines.join('\n');
  }

  function channelCard(c) {
    const groups = [...byID.values()].filter((g) => g.kind === 'tech_group');
    const techs = [...byID.values()].filter((m) => m.kind === 'technician');
    const name = (id) => (byID.get(id) || { name: '#' + id }).name;
    const link = config.origin + '/c/' + c.id;
    const card = el('section', { class: 'card sub channel', 'data-channel': c.id }, el('h3', { text: c.name }));
    card.append(form('', [
      field(t('name'), el('input', { name: 'name', value: c.name, required: true, maxlength: 128 })),
      field(t('description'), el('input', { name: 'description', value: c.description || '', maxlength: 1024 })),
    ], t('rename'), async (f) => {
      await api('PATCH', A + '/channels/' + c.id, { name: val(f, 'name'), description: val(f, 'description') });
      notice(t('saved')); await loadTree(); renderTab();
    }));
    const assigned = el('ul', { class: 'chips' }, (c.groups || []).map((g) => el('li', {}, name(g), ' ',
      el('button', { type: 'button', class: 'unassign', text: t('unassign'), 'aria-label': t('unassign') + ' ' + name(g),
        onclick: async () => { try { await api('DELETE', A + '/channels/' + c.id + '/groups/' + g); renderTab(); } catch (e) { error(e); } } }))));
    card.append(el('h4', { text: t('assigned_groups') }), assigned);
    card.append(form('', [field(t('tech_group'), el('select', { name: 'group', class: 'assign-group' }, groups.map((g) => el('option', { value: g.id, text: g.name, selected: unit && unit.id === g.id }))))],
      t('assign'), async (f) => { await api('PUT', A + '/channels/' + c.id + '/groups/' + val(f, 'group')); notice(t('saved')); renderTab(); }));
    const excluded = el('ul', { class: 'chips' }, (c.excluded_technicians || []).map((id) => el('li', {}, name(id), ' ',
      el('button', { type: 'button', text: t('include'), onclick: async () => { try { await api('DELETE', A + '/channels/' + c.id + '/exclusions/' + id); renderTab(); } catch (e) { error(e); } } }))));
    card.append(el('h4', { text: t('exclusions') }), excluded);
    card.append(form('', [field(t('technician'), el('select', { name: 'tech' }, techs.map((m) => el('option', { value: m.id, text: m.name }))))],
      t('exclude'), async (f) => { await api('PUT', A + '/channels/' + c.id + '/exclusions/' + val(f, 'tech')); notice(t('saved')); renderTab(); }));
    const linkInput = el('input', { readonly: true, value: link, class: 'channel-link' });
    const snip = el('textarea', { readonly: true, rows: 8, class: 'snippet' }, snippet(c));
    const copy = (input) => el('button', { type: 'button', text: t('copy'), onclick: () => { input.select(); navigator.clipboard && navigator.clipboard.writeText(input.value); notice(t('copied')); } });
    card.append(field(t('channel_link'), linkInput), copy(linkInput), field(t('form_snippet'), snip), copy(snip));
    card.append(el('div', { class: 'actions' }, el('button', { type: 'button', class: 'test-channel', text: t('test_channel'), onclick: async () => {
      try { const r = await api('POST', A + '/channels/' + c.id + '/test'); notice(t('test_started', { id: r.session.id })); } catch (e) { error(e); }
    } })));
    return card;
  }

  // Sessions tab (SESS-9).
  async function sessionsTab(panel) {
    const box = el('div', { id: 'unit-sessions' });
    panel.append(box);
    const load = async () => {
      let list;
      try { list = (await api('GET', '/web/admin/units/' + unit.id + '/sessions')).sessions || []; } catch (e) { error(e); return; }
      clear(box);
      if (!list.length) { box.append(el('p', { class: 'small', text: t('no_sessions') })); return; }
      const techs = [...byID.values()].filter((m) => m.kind === 'technician');
      const targets = [...byID.values()].filter((x) => ['technician', 'tech_group', 'channel'].includes(x.kind));
      const table = el('table', { class: 'list' }, el('thead', {}, el('tr', {}, ['#', t('customer'), t('kind'), t('state'), t('technician'), t('started'), t('actions')].map((h) => el('th', { scope: 'col', text: h })))));
      const tb = el('tbody');
      for (const s of list) {
        const act = (name, body) => async () => {
          try { await api('POST', '/web/admin/sessions/' + s.id + '/' + name, body ? body() : undefined); notice(t('done')); load(); } catch (e) { error(e); }
        };
        const startSel = el('select', { 'aria-label': t('technician') }, techs.map((m) => el('option', { value: m.id, text: m.name })));
        const trSel = el('select', { 'aria-label': t('transfer_to') }, targets.map((x) => el('option', { value: (x.kind === 'tech_group' ? 'group' : x.kind) + ':' + x.id, text: kindLabel(x.kind) + ': ' + x.name })));
        const comment = el('input', { 'aria-label': t('comment'), placeholder: t('comment') });
        tb.append(el('tr', { 'data-session': s.id },
          el('td', { text: s.id }), el('td', { text: s.customer_name }), el('td', { text: t('kind_' + s.kind) }), el('td', { text: s.state_label }),
          el('td', { text: s.technician_id ? (byID.get(s.technician_id) || { name: '#' + s.technician_id }).name : '' }),
          el('td', { text: new Date(s.created_at).toLocaleString() }),
          el('td', { class: 'actions' },
            startSel, el('button', { type: 'button', text: t('start'), onclick: act('start', () => ({ technician_id: Number(startSel.value) })) }),
            trSel, comment, el('button', { type: 'button', text: t('transfer'), onclick: act('transfer', () => { const [k, id] = trSel.value.split(':'); return { target_kind: k, target_id: Number(id), comment: comment.value }; }) }),
            el('button', { type: 'button', text: t('hold'), onclick: act('hold') }),
            el('button', { type: 'button', class: 'danger', text: t('close_session'), onclick: act('close') }))));
      }
      table.append(tb);
      box.append(table);
    };
    await load();
    sessionsTimer = setInterval(() => { if (!document.activeElement || !box.contains(document.activeElement)) load(); }, 5000);
  }

  // Plugins tab: static/plugins.js.
  function pluginsTab(panel) { return TetherPlugins.render(panel, unit, { error, notice }); }

  // Routing tab: static/routing.js.
  function routingTab(panel) { return TetherRouting.render(panel, unit, { error, notice, units: () => byID, select }); }

  loadTree().then(() => { if (tree) select(tree.id); });
})();
