'use strict';
// The admin centre's Routing tab, over the routing REST API (docs/routing.md):
// a channel's or technician group's ordered rule list (create, edit, delete,
// move up / down, run-time failures), the rule editor with the API's compile
// errors shown beside the offending expression, the dry run against a real
// or hand-written session, the installed rule packs with enable / disable
// per channel, and the list's audit log. admin.js calls render and stop;
// everything is built with textContent through Tether.el.
const TetherRouting = (() => {
  const { t, el, clear, api, describe, config } = Tether;
  const A = '/web/api/v1';
  const KINDS = ['group', 'channel', 'technicians'];
  const UNIT_KIND = { group: 'tech_group', channel: 'channel', technicians: 'technician' };
  const MAX_STEPS = 10;
  const FIELDS = 6;
  const PLATFORMS = ['windows', 'macos', 'linux', 'ios', 'android'];
  const CLIENT_KINDS = ['applet', 'web', 'calling_card', 'mobile'];
  const AUDIT_PAGE = 50;
  // A Go duration ("90s", "2m", "1h30m") or a number of seconds; empty is 0.
  const WAIT_RE = /^$|^\d+(\.\d+)?$|^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
  const POS_RE = /\(line (\d+), column (\d+)\)/;
  // What an expression can read (docs/routing.md, "The environment").
  const ENV = [
    ['session', 'kind channel_id channel_name group_id fields["…"] cfield0…cfield5 tracking_id platform language client_kind calling_card waiting_seconds transfer_count'],
    ['clock', 'weekday hour minute minute_of_day date time_zone in_working_hours'],
    ['queue', 'waiting available[group_id] available_total'],
    ['technician', 'id name group_id channel_ids skills languages status active_sessions idle_seconds'],
    ['functions', 'has_any(list, values) has_all(list, values) equal_fold(a, b) hm("HH:MM") any all none one count len lower upper …'],
  ];

  let gen = 0; // bumped by every render and stop: late answers of an old render are dropped

  function stop() { gen += 1; }

  const when = (ts) => (ts ? new Date(ts).toLocaleString() : '');
  // "2m0s" reads "2m", "1h0m0s" reads "1h".
  const dur = (d) => (d && d !== '0s' ? String(d).replace(/(\d)m0s$/, '$1m').replace(/(\d)h0m$/, '$1h') : '0s');

  async function render(panel, unit, ctx) {
    stop();
    const my = gen;
    const live = () => my === gen;
    const units = ctx.units();
    const nameOf = (id) => (units.get(id) || { name: '#' + id }).name;
    const root = el('div', { id: 'routing-tab', class: 'routing', 'data-unit': unit.id });
    panel.append(root);

    if (unit.kind !== 'channel' && unit.kind !== 'tech_group') {
      root.append(el('p', { class: 'small', id: 'rt-pick-unit', text: t('rt_pick_unit') }));
      const pick = [...units.values()].filter((u) => u.kind === 'channel' || u.kind === 'tech_group');
      root.append(el('ul', { class: 'chips', id: 'rt-units' }, pick.map((u) => el('li', {},
        el('button', { type: 'button', class: 'link', 'data-unit': u.id, text: t('kind_' + u.kind) + ': ' + u.name, onclick: () => ctx.select(u.id) })))));
      return;
    }
    const isChannel = unit.kind === 'channel';
    const listBase = A + (isChannel ? '/channels/' : '/groups/') + unit.id + '/routing-rules';
    const listQuery = (isChannel ? 'channel_id=' : 'group_id=') + unit.id;

    root.append(el('h2', { id: 'rt-title', text: t(isChannel ? 'rt_title_channel' : 'rt_title_group', { name: unit.name }) }),
      el('p', { class: 'small', text: t(isChannel ? 'rt_intro_channel' : 'rt_intro_group') }));

    // The rule list.
    let rules = [];
    let editing = null; // the editor: { id (0 for a new rule), body() }
    const tbody = el('tbody');
    const table = el('table', { class: 'list', id: 'rt-list' },
      el('caption', { class: 'sr-only', text: t('rt_rules') }),
      el('thead', {}, el('tr', {}, ['#', t('name'), t('enabled'), t('rt_when'), t('rt_failures_col'), t('actions')].map((h) => el('th', { scope: 'col', text: h })))),
      tbody);
    const empty = el('p', { class: 'small', id: 'rt-empty', text: t('rt_none'), hidden: true });
    const editorBox = el('div', { id: 'rt-editor-box' });
    root.append(el('section', { class: 'card sub', id: 'rt-rules', 'aria-labelledby': 'rt-rules-title' },
      el('h3', { id: 'rt-rules-title', text: t('rt_rules') }),
      el('div', { class: 'toolbar' },
        el('button', { type: 'button', class: 'primary', id: 'rt-new', text: t('rt_new'), onclick: () => openEditor(null) }),
        el('button', { type: 'button', id: 'rt-refresh', text: t('refresh'), onclick: () => loadRules() })),
      table, empty, isChannel ? el('p', { class: 'small', text: t('rt_then_packs') }) : null), editorBox);

    async function loadRules(focus) {
      let rs;
      try { rs = (await api('GET', listBase)).rules || []; } catch (e) { if (live()) ctx.error(e); return; }
      if (!live()) return;
      rules = rs;
      drawRules(focus);
    }

    function drawRules(focus) {
      clear(tbody);
      rules.forEach((r, i) => {
        const label = (k) => t(k) + ': ' + r.name;
        const del = el('button', { type: 'button', class: 'rt-delete danger', text: t('rt_delete'), 'aria-label': label('rt_delete') });
        del.addEventListener('click', () => {
          // A first click asks, a second one deletes.
          if (del.dataset.confirm !== 'true') { del.dataset.confirm = 'true'; del.textContent = t('rt_delete_confirm'); del.setAttribute('aria-label', t('rt_delete_confirm') + ': ' + r.name); return; }
          remove(r);
        });
        const failures = el('td', { class: 'rt-failures', 'data-failures': r.failures || 0, text: r.failures ? t('rt_failures', { n: r.failures }) : '—' });
        if (r.last_error) failures.append(el('div', { class: 'last-error small', text: r.last_error }));
        tbody.append(el('tr', { 'data-rule': r.id, class: editing && editing.id === r.id ? 'chosen' : undefined },
          el('td', { class: 'rt-pos', text: i + 1 }),
          el('td', {}, el('span', { class: 'rt-name', text: r.name }), r.description ? el('div', { class: 'small rt-description', text: r.description }) : null),
          el('td', {}, el('span', { class: 'badge rt-enabled ' + (r.enabled ? 'on' : 'off'), 'data-enabled': String(!!r.enabled), text: r.enabled ? t('yes') : t('no') })),
          el('td', {}, el('code', { class: 'rt-when', text: r.when })),
          failures,
          el('td', { class: 'cell-actions' },
            el('button', { type: 'button', class: 'rt-edit', text: t('rt_edit'), 'aria-label': label('rt_edit'), onclick: () => openEditor(r) }),
            el('button', { type: 'button', class: 'rt-up', text: '↑', title: t('rt_up'), 'aria-label': label('rt_up'), disabled: i === 0, onclick: () => move(i, -1) }),
            el('button', { type: 'button', class: 'rt-down', text: '↓', title: t('rt_down'), 'aria-label': label('rt_down'), disabled: i === rules.length - 1, onclick: () => move(i, 1) }),
            del)));
      });
      table.hidden = !rules.length;
      empty.hidden = !!rules.length;
      if (focus) {
        const b = tbody.querySelector('tr[data-rule="' + focus.id + '"] .' + focus.cls);
        const alt = tbody.querySelector('tr[data-rule="' + focus.id + '"] .rt-edit');
        (b && !b.disabled ? b : alt || document.getElementById('rt-new')).focus();
      }
    }

    async function move(i, d) {
      const ids = rules.map((r) => r.id);
      const j = i + d;
      if (j < 0 || j >= ids.length) return;
      const moved = rules[i];
      [ids[i], ids[j]] = [ids[j], ids[i]];
      ctx.error(''); ctx.notice('');
      try {
        const rs = (await api('PUT', listBase + '/order', { ids })).rules || [];
        if (!live()) return;
        rules = rs;
        drawRules({ id: moved.id, cls: d < 0 ? 'rt-up' : 'rt-down' });
        ctx.notice(t('rt_moved', { name: moved.name, n: j + 1 }));
        loadAudit();
      } catch (e) { ctx.error(e); loadRules(); }
    }

    async function remove(r) {
      ctx.error(''); ctx.notice('');
      try {
        await api('DELETE', A + '/routing/rules/' + r.id);
        if (editing && editing.id === r.id) closeEditor();
        ctx.notice(t('rt_deleted', { name: r.name }));
        await loadRules();
        const first = tbody.querySelector('.rt-edit');
        (first || document.getElementById('rt-new')).focus();
        loadAudit();
      } catch (e) { ctx.error(e); loadRules(); }
    }

    // The editor.
    function openEditor(rule) {
      ctx.error(''); ctx.notice('');
      clear(editorBox);
      const f = editorForm(rule);
      editorBox.append(f);
      for (const tr of tbody.querySelectorAll('tr')) tr.classList.toggle('chosen', !!rule && tr.dataset.rule === String(rule.id));
      f.scrollIntoView({ block: 'start' });
      f.querySelector('#rt-name').focus();
      dry.ruleAvailable(true);
    }

    function closeEditor() {
      editing = null;
      clear(editorBox);
      for (const tr of tbody.querySelectorAll('tr.chosen')) tr.classList.remove('chosen');
      dry.ruleAvailable(false);
    }

    // targetPicker is a target's kind and its IDs, chosen among the units
    // of the tree (IDs outside it are kept, shown by number). With inherit,
    // an empty kind means the rule's target.
    function targetPicker(prefix, target, inherit) {
      const tgt = target || { kind: '', ids: [] };
      const kindErr = el('p', { class: 'field-error', id: prefix + '-kind-error', hidden: true });
      const idsErr = el('p', { class: 'field-error', id: prefix + '-ids-error', hidden: true });
      const kind = el('select', { id: prefix + '-kind', class: 'rt-kind', 'aria-describedby': kindErr.id },
        inherit ? el('option', { value: '', text: t('rt_target_inherit') }) : null,
        KINDS.map((k) => el('option', { value: k, text: t('rt_kind_' + k) })));
      kind.value = tgt.kind || (inherit ? '' : 'group');
      const legend = el('legend', { text: t('rt_ids') });
      const box = el('div', { class: 'rt-ids-list', id: prefix + '-ids' });
      const ids = el('fieldset', { class: 'rt-ids', 'aria-describedby': idsErr.id }, legend, box, idsErr);
      let chosen = new Set(tgt.ids || []);
      const draw = () => {
        const k = kind.value;
        ids.hidden = !k;
        clear(box);
        if (!k) return;
        legend.textContent = t('rt_ids_' + k);
        const opts = [...units.values()].filter((u) => u.kind === UNIT_KIND[k]).map((u) => ({ id: u.id,
          name: u.name + (k === 'technicians' && u.parent ? ' (' + u.parent.name + ')' : '') + (k === 'technicians' && (u.skills || []).length ? ' · ' + u.skills.join(', ') : '') }));
        for (const id of chosen) if (!opts.some((o) => o.id === id)) opts.push({ id, name: '#' + id });
        if (!opts.length) box.append(el('p', { class: 'small', text: t('rt_ids_none') }));
        for (const o of opts) {
          const cb = el('input', { type: 'checkbox', id: prefix + '-id-' + o.id, value: o.id, checked: chosen.has(o.id) });
          cb.addEventListener('change', () => { if (cb.checked) chosen.add(o.id); else chosen.delete(o.id); });
          box.append(el('div', { class: 'check' }, cb, el('label', { for: cb.id, text: o.name })));
        }
      };
      kind.addEventListener('change', () => { chosen = new Set(); draw(); });
      draw();
      const node = el('div', { class: 'rt-target' },
        el('div', { class: 'field' }, el('label', { for: kind.id, text: t('rt_target') }), kind, kindErr), ids);
      return {
        node,
        value: () => (kind.value ? { kind: kind.value, ids: [...chosen] } : { kind: '', ids: [] }),
        errs: { 'target.kind': { err: kindErr, input: kind }, 'target.ids': { err: idsErr, input: ids } },
      };
    }

    function editorForm(rule) {
      const r = rule || { name: '', description: '', enabled: true, when: '', then: { target: { kind: 'group', ids: [] }, session_priority: 0, steps: [] } };
      const then = r.then || {};
      const errs = new Map(); // API path -> { err, input }
      const field = (path, input, label, help) => {
        const err = el('p', { class: 'field-error', id: input.id + '-error', hidden: true });
        const helpNode = help ? el('p', { class: 'small help', id: input.id + '-help', text: help }) : null;
        input.setAttribute('aria-describedby', [helpNode ? helpNode.id : null, err.id].filter(Boolean).join(' '));
        errs.set(path, { err, input });
        return el('div', { class: 'field', 'data-path': path }, el('label', { for: input.id, text: label }), input, helpNode, err);
      };
      const name = el('input', { id: 'rt-name', name: 'name', value: r.name, required: true, maxlength: 100, autocomplete: 'off' });
      const description = el('textarea', { id: 'rt-description', name: 'description', rows: 2, maxlength: 2000 }, r.description || '');
      const enabled = el('input', { type: 'checkbox', id: 'rt-enabled', name: 'enabled', checked: !!r.enabled });
      const whenInput = el('textarea', { id: 'rt-when', name: 'when', rows: 3, class: 'code', spellcheck: 'false', autocapitalize: 'off', required: true,
        placeholder: 'session.fields["Product"] == "Printer"' }, r.when || '');
      const priority = el('input', { type: 'number', id: 'rt-priority', name: 'session_priority', min: 0, max: 100, step: 1, value: then.session_priority || 0 });
      const target = targetPicker('rt-target', then.target, false);
      for (const [k, v] of Object.entries(target.errs)) errs.set('then.' + k, v);

      const stepsList = el('ol', { class: 'rt-steps', id: 'rt-steps' });
      const stepsErr = el('p', { class: 'field-error', id: 'rt-steps-error', hidden: true });
      errs.set('then.steps', { err: stepsErr, input: null });
      const steps = [];
      const addStep = el('button', { type: 'button', id: 'rt-add-step', text: t('rt_add_step') });
      const renumber = () => {
        steps.forEach((s, i) => { s.legend.textContent = t('rt_step_n', { n: i + 1 }); s.node.dataset.step = i; });
        addStep.disabled = steps.length >= MAX_STEPS;
      };
      let stepSeq = 0;
      const stepEditor = (s) => {
        stepSeq += 1;
        const p = 'rt-step' + stepSeq;
        const picker = targetPicker(p + '-target', s && s.target, true);
        const filter = el('textarea', { id: p + '-filter', class: 'code rt-filter', rows: 2, spellcheck: 'false', autocapitalize: 'off',
          placeholder: '"printers" in technician.skills' }, (s && s.filter) || '');
        const wait = el('input', { id: p + '-wait', class: 'rt-wait', value: s && s.wait && s.wait !== '0s' ? dur(s.wait) : '', placeholder: '2m', autocomplete: 'off', spellcheck: 'false' });
        const ferr = el('p', { class: 'field-error', id: filter.id + '-error', hidden: true });
        const werr = el('p', { class: 'field-error', id: wait.id + '-error', hidden: true });
        filter.setAttribute('aria-describedby', 'rt-filter-help ' + ferr.id);
        wait.setAttribute('aria-describedby', 'rt-wait-help ' + werr.id);
        const legend = el('legend');
        const step = { legend, filter, wait, picker, errs: Object.assign({ filter: { err: ferr, input: filter }, wait: { err: werr, input: wait } }, picker.errs) };
        const at = () => steps.indexOf(step);
        const swap = (d) => {
          const i = at(), j = i + d;
          if (j < 0 || j >= steps.length) return;
          [steps[i], steps[j]] = [steps[j], steps[i]];
          if (d < 0) stepsList.insertBefore(step.node, steps[j + 1].node); else stepsList.insertBefore(steps[i].node, step.node);
          renumber();
        };
        step.node = el('li', { class: 'rt-step' }, el('fieldset', {}, legend,
          picker.node,
          el('div', {},
            el('div', { class: 'field' }, el('label', { for: filter.id, text: t('rt_filter') }), filter, ferr),
            el('div', { class: 'field' }, el('label', { for: wait.id, text: t('rt_wait') }), wait, werr)),
          el('div', { class: 'actions' },
            el('button', { type: 'button', class: 'rt-step-up', text: t('rt_step_up'), onclick: () => swap(-1) }),
            el('button', { type: 'button', class: 'rt-step-down', text: t('rt_step_down'), onclick: () => swap(1) }),
            el('button', { type: 'button', class: 'rt-step-remove danger', text: t('rt_step_remove'), onclick: () => {
              steps.splice(at(), 1); step.node.remove(); renumber(); addStep.focus();
            } }))));
        steps.push(step);
        stepsList.append(step.node);
        renumber();
        return step;
      };
      for (const s of then.steps || []) stepEditor(s);
      addStep.addEventListener('click', () => { const s = stepEditor(null); s.picker.node.querySelector('select').focus(); });

      const formError = el('p', { class: 'error', id: 'rt-editor-error', role: 'alert', hidden: true });
      const status = el('p', { class: 'notice', id: 'rt-editor-status', role: 'status', hidden: true });
      const save = el('button', { type: 'submit', class: 'primary', id: 'rt-save', text: t('save') });
      const f = el('form', { class: 'card sub rt-editor', id: 'rt-editor', 'data-rule': rule ? rule.id : 'new', novalidate: true },
        el('h3', { id: 'rt-editor-title', text: rule ? t('rt_edit_title', { name: rule.name }) : t('rt_new_title') }),
        field('name', name, t('name')),
        field('description', description, t('description')),
        el('div', { class: 'field check' }, enabled, el('label', { for: enabled.id, text: t('enabled') })),
        field('when', whenInput, t('rt_when'), t('rt_when_help')),
        el('details', { class: 'rt-env small' }, el('summary', { text: t('rt_env') }),
          el('dl', {}, ENV.map(([k, v]) => [el('dt', {}, el('code', { text: k })), el('dd', {}, el('code', { text: v }))]))),
        el('h4', { text: t('rt_then') }),
        target.node,
        field('then.session_priority', priority, t('rt_session_priority'), t('rt_session_priority_help')),
        el('h4', { text: t('rt_steps') }),
        el('p', { class: 'small', text: t('rt_steps_help') }),
        el('p', { class: 'small help', id: 'rt-filter-help', text: t('rt_filter') + ': ' + t('rt_filter_help') }),
        el('p', { class: 'small help', id: 'rt-wait-help', text: t('rt_wait') + ': ' + t(isChannel ? 'rt_wait_help' : 'rt_wait_help_group') }),
        stepsList, stepsErr, addStep,
        formError, status,
        el('div', { class: 'actions' }, save,
          el('button', { type: 'button', id: 'rt-try', text: t('rt_try'), onclick: () => dry.run('rule') }),
          el('button', { type: 'button', id: 'rt-close', text: t('close'), onclick: () => { const id = rule && rule.id; closeEditor(); if (id) drawRules({ id, cls: 'rt-edit' }); else document.getElementById('rt-new').focus(); } })));

      const waitValue = (v) => { v = v.trim(); return v === '' ? '0s' : /^\d+(\.\d+)?$/.test(v) ? Number(v) : v; };
      const body = () => ({
        name: name.value, description: description.value, enabled: enabled.checked, when: whenInput.value,
        then: { target: target.value(), session_priority: priority.value === '' ? 0 : Number(priority.value),
          steps: steps.map((s) => ({ target: s.picker.value(), filter: s.filter.value, wait: waitValue(s.wait.value) })) },
      });

      const allErrs = () => {
        const out = [...errs.values()];
        for (const s of steps) out.push(...Object.values(s.errs));
        return out;
      };
      const clearErrors = () => {
        formError.hidden = true; formError.textContent = '';
        status.hidden = true;
        for (const x of allErrs()) {
          x.err.hidden = true; clear(x.err);
          if (x.input) x.input.removeAttribute('aria-invalid');
        }
      };
      const slot = (path) => {
        const m = /^then\.steps\[(\d+)\]\.(.+)$/.exec(path);
        if (m) { const s = steps[Number(m[1])]; return s ? s.errs[m[2]] : null; }
        return errs.get(path) || null;
      };
      // showErrors puts each refused field's message beside its input; an
      // expression's position gets the offending line with a caret under it
      // and selects the spot in the textarea.
      const showErrors = (e, prefix) => {
        let first = null;
        const rest = [];
        for (const [k, why] of Object.entries(e.fields || {})) {
          const path = prefix && k.startsWith(prefix) ? k.slice(prefix.length) : k;
          const x = slot(path);
          if (!x) { rest.push(path + ': ' + why); continue; }
          x.err.append(el('span', { class: 'rt-message', text: why }));
          const pos = POS_RE.exec(why);
          if (pos && x.input && x.input.tagName === 'TEXTAREA') {
            const line = Number(pos[1]), col = Number(pos[2]);
            const text = (x.input.value.split('\n')[line - 1] || '');
            x.err.append(el('pre', { class: 'rt-caret', 'aria-hidden': 'true', text: text + '\n' + ' '.repeat(Math.max(0, col - 1)) + '^' }));
            x.input.dataset.errorLine = line;
            x.input.dataset.errorColumn = col;
          }
          x.err.hidden = false;
          if (x.input) x.input.setAttribute('aria-invalid', 'true');
          // The first in the form's order, whatever the order of the answer's keys.
          if (x.input && (!first || !first.input || (first.input.compareDocumentPosition(x.input) & Node.DOCUMENT_POSITION_PRECEDING))) first = x;
        }
        formError.textContent = e.fields ? e.message + (rest.length ? ' (' + rest.join('; ') + ')' : '') : describe(e);
        formError.hidden = false;
        if (first && first.input) {
          const input = first.input.tagName === 'FIELDSET' ? first.input.querySelector('input') || first.input : first.input;
          input.focus();
          if (input.dataset.errorLine) {
            const lines = input.value.split('\n');
            let at = 0;
            for (let i = 0; i < Number(input.dataset.errorLine) - 1 && i < lines.length; i++) at += lines[i].length + 1;
            at += Number(input.dataset.errorColumn) - 1;
            const word = /^[\w.]*/.exec(input.value.slice(at))[0].length || 1;
            input.setSelectionRange(at, at + word);
          }
        }
      };
      // The waits are checked here: a bad one would refuse the whole body.
      const checkWaits = () => {
        let ok = true;
        for (const s of steps) {
          if (WAIT_RE.test(s.wait.value.trim())) continue;
          s.errs.wait.err.append(el('span', { class: 'rt-message', text: t('rt_bad_wait') }));
          s.errs.wait.err.hidden = false;
          s.wait.setAttribute('aria-invalid', 'true');
          if (ok) s.wait.focus();
          ok = false;
        }
        if (!ok) { formError.textContent = t('err_validation_failed'); formError.hidden = false; }
        return ok;
      };

      f.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        ctx.error(''); ctx.notice('');
        clearErrors();
        if (!checkWaits()) return;
        save.disabled = true;
        try {
          const saved = rule ? await api('PUT', A + '/routing/rules/' + rule.id, body()) : await api('POST', listBase, body());
          if (!live()) return;
          await loadRules();
          clear(editorBox);
          const next = editorForm(saved);
          editorBox.append(next);
          for (const tr of tbody.querySelectorAll('tr')) tr.classList.toggle('chosen', tr.dataset.rule === String(saved.id));
          const st = next.querySelector('#rt-editor-status');
          st.textContent = t(rule ? 'rt_saved' : 'rt_created', { name: saved.name });
          st.hidden = false;
          next.querySelector('#rt-save').focus();
          loadAudit();
        } catch (e) {
          save.disabled = false;
          showErrors(e, '');
        }
      });
      editing = { id: rule ? rule.id : 0, body, check: () => { clearErrors(); return checkWaits(); }, showErrors };
      return f;
    }

    // The dry run.
    const dry = dryRun();
    root.append(dry.node);

    function dryRun() {
      const names = config.field_names || [];
      const resultBox = el('div', { id: 'rt-dry-result', 'aria-live': 'polite' });
      const formError = el('p', { class: 'error', id: 'rt-dry-error', role: 'alert', hidden: true });
      const radio = (name, value, id, label, checked) => {
        const r = el('input', { type: 'radio', name, value, id, checked });
        return { input: r, node: el('div', { class: 'check' }, r, el('label', { for: id, text: label })) };
      };
      const hand = radio('rt-dry-source', 'hand', 'rt-dry-hand', t('rt_dry_hand'), true);
      const real = radio('rt-dry-source', 'real', 'rt-dry-real', t('rt_dry_real'), false);
      const scopeList = radio('rt-dry-scope', 'list', 'rt-dry-scope-list', t(isChannel ? 'rt_dry_scope_list' : 'rt_dry_scope_list_group'), true);
      const scopeRule = radio('rt-dry-scope', 'rule', 'rt-dry-scope-rule', t('rt_dry_scope_rule'), false);
      const input = (id, attrs) => el('input', Object.assign({ id, autocomplete: 'off' }, attrs || {}));
      const labelled = (node, label, help) => el('div', { class: 'field' }, el('label', { for: node.id, text: label }), node,
        help ? el('p', { class: 'small help', text: help }) : null);

      const sessionID = input('rt-dry-session', { type: 'number', min: 1, step: 1, list: 'rt-dry-sessions', inputmode: 'numeric' });
      const sessionsList = el('datalist', { id: 'rt-dry-sessions' });
      const realBox = el('div', { class: 'rt-dry-real', hidden: true }, labelled(sessionID, t('rt_dry_session'), t(isChannel ? 'rt_dry_session_help' : 'rt_dry_session_help_group')), sessionsList);

      const cfs = [];
      for (let i = 0; i < FIELDS; i++) {
        const n = names[i] || '';
        const cf = input('rt-dry-cf' + i, { maxlength: 64, 'data-field': n });
        cfs.push(cf);
        cfs[i].hint = n ? 'session.fields["' + n + '"] · session.cfield' + i : 'session.cfield' + i;
      }
      const tracking = input('rt-dry-tracking', { maxlength: 64 });
      const language = input('rt-dry-language', { placeholder: 'fr', maxlength: 35 });
      const platform = el('select', { id: 'rt-dry-platform' }, el('option', { value: '', text: t('rt_unset') }), PLATFORMS.map((p) => el('option', { value: p, text: p })));
      const clientKind = el('select', { id: 'rt-dry-client-kind' }, el('option', { value: '', text: t('rt_unset') }), CLIENT_KINDS.map((p) => el('option', { value: p, text: p })));
      const card = input('rt-dry-calling-card', { maxlength: 64 });
      const waited = input('rt-dry-waiting', { type: 'number', min: 0, step: 1, value: 0, inputmode: 'numeric' });
      const transfers = input('rt-dry-transfers', { type: 'number', min: 0, step: 1, value: 0, inputmode: 'numeric' });
      const handBox = el('div', { class: 'rt-dry-hand rt-grid' },
        cfs.map((cf, i) => labelled(cf, names[i] || t('rt_cfield', { n: i }), cf.hint)),
        labelled(tracking, t('tracking_id'), 'session.tracking_id'),
        labelled(language, t('rt_language'), 'session.language'),
        labelled(platform, t('rt_platform'), 'session.platform'),
        labelled(clientKind, t('rt_client_kind'), 'session.client_kind'),
        labelled(card, t('rt_calling_card'), 'session.calling_card'),
        labelled(waited, t('rt_waiting_seconds'), 'session.waiting_seconds'),
        labelled(transfers, t('rt_transfer_count'), 'session.transfer_count'));

      const run = el('button', { type: 'submit', class: 'primary', id: 'rt-dry-run', text: t('rt_dry_run_button') });
      const noRule = el('p', { class: 'small', id: 'rt-dry-no-rule', text: t('rt_dry_no_rule') });
      const f = el('form', { id: 'rt-dry-form', novalidate: true },
        el('fieldset', { class: 'rt-radios' }, el('legend', { text: t('rt_dry_source') }), hand.node, real.node),
        handBox, realBox,
        el('fieldset', { class: 'rt-radios' }, el('legend', { text: t('rt_dry_scope') }), scopeList.node, scopeRule.node, noRule),
        formError, el('div', { class: 'actions' }, run));
      const node = el('section', { class: 'card sub', id: 'rt-dry', 'aria-labelledby': 'rt-dry-title' },
        el('h3', { id: 'rt-dry-title', text: t('rt_dry_title') }),
        el('p', { class: 'small', text: t('rt_dry_intro') }), f, resultBox);

      const sourceChanged = () => { handBox.hidden = !hand.input.checked; realBox.hidden = !real.input.checked; };
      hand.input.addEventListener('change', sourceChanged);
      real.input.addEventListener('change', sourceChanged);
      let sessionsLoaded = false;
      real.input.addEventListener('change', async () => {
        if (sessionsLoaded) return;
        sessionsLoaded = true;
        try {
          const list = (await api('GET', '/web/admin/units/' + unit.id + '/sessions')).sessions || [];
          for (const s of list) sessionsList.append(el('option', { value: s.id, text: '#' + s.id + ' ' + (s.customer_name || '') + ' · ' + (s.state_label || '') }));
        } catch (_) { /* the number can still be typed */ }
      });
      const ruleAvailable = (on) => {
        scopeRule.input.disabled = !on;
        noRule.hidden = on;
        if (!on) scopeList.input.checked = true;
      };
      ruleAvailable(false);

      const payload = (scope) => {
        // The list decides the session's kind: a channel's routes channel
        // sessions, a technician group's the group's private sessions.
        const p = isChannel ? { channel_id: unit.id } : { group_id: unit.id };
        if (real.input.checked) {
          p.session_id = Number(sessionID.value);
        } else {
          const fields = {};
          cfs.forEach((cf, i) => { if (names[i] && cf.value !== '') fields[names[i]] = cf.value; });
          p.session = { fields, cfields: cfs.map((cf) => cf.value), tracking_id: tracking.value, language: language.value.trim(),
            platform: platform.value, client_kind: clientKind.value, calling_card: card.value,
            waiting_seconds: Number(waited.value || 0), transfer_count: Number(transfers.value || 0) };
        }
        if (scope === 'rule') p.rule = editing.body();
        return p;
      };

      async function go(scope) {
        ctx.error(''); ctx.notice('');
        formError.hidden = true;
        clear(resultBox);
        if (scope === 'rule' && !editing) { formError.textContent = t('rt_dry_no_rule'); formError.hidden = false; return; }
        if (real.input.checked && !(Number(sessionID.value) > 0)) {
          formError.textContent = t('rt_dry_session_required'); formError.hidden = false; sessionID.focus(); return;
        }
        if (scope === 'rule' && !editing.check()) return;
        run.disabled = true;
        try {
          const d = await api('POST', A + '/routing/dry-run', payload(scope));
          if (!live()) return;
          resultBox.append(decision(d, scope));
          resultBox.scrollIntoView({ block: 'nearest' });
        } catch (e) {
          if (!live()) return;
          const ruleFields = e.fields && Object.keys(e.fields).some((k) => k.startsWith('rule.'));
          if (ruleFields && editing) {
            editing.showErrors(e, 'rule.');
            formError.textContent = t('rt_dry_rule_refused');
          } else {
            formError.textContent = describe(e);
          }
          formError.hidden = false;
        } finally { run.disabled = false; }
      }
      f.addEventListener('submit', (ev) => { ev.preventDefault(); go(scopeRule.input.checked ? 'rule' : 'list'); });
      return {
        node, ruleAvailable,
        run: (scope) => { if (scope === 'rule') scopeRule.input.checked = true; node.scrollIntoView({ block: 'start' }); go(scope); },
      };
    }

    function targetText(tg) {
      if (!tg || !tg.kind) return '';
      return t('rt_kind_' + tg.kind) + ': ' + (tg.ids || []).map(nameOf).join(', ');
    }

    function decision(d, scope) {
      const box = el('div', { class: 'rt-decision', 'data-matched': String(!!d.matched), 'data-rule': d.rule_id || '' });
      const ruleName = (id, name) => name || (rules.find((r) => r.id === id) || { name: '#' + id }).name;
      if (d.matched) {
        box.append(el('p', { class: 'rt-verdict' }, t('rt_dry_matched') + ' ', el('strong', { class: 'rt-matched-name', text: ruleName(d.rule_id, d.rule_name) }),
          d.rule_id > 0 ? ' (#' + d.rule_id + ')' : d.rule_id < 0 ? ' (' + t('rt_pack_rule') + ')' : '',
          ' · ' + t('rt_session_priority') + ': ' + (d.session_priority || 0)));
      } else {
        box.append(el('p', { class: 'rt-verdict', text: t('rt_dry_no_match') }));
      }
      box.append(el('p', { class: 'small', text: t(scope === 'rule' ? 'rt_dry_was_rule' : 'rt_dry_was_list') + ' ' + t('rt_dry_signed_in') }));
      if ((d.trace || []).length) {
        box.append(el('h4', { text: t('rt_trace') }), el('ol', { class: 'rt-trace' }, d.trace.map((x) => el('li', { 'data-rule': x.rule_id, 'data-outcome': x.outcome },
          el('span', { class: 'rt-trace-name', text: ruleName(x.rule_id, x.rule_name) }), ' — ',
          el('span', { class: 'badge outcome-' + x.outcome, text: t('rt_outcome_' + x.outcome) })))));
      }
      if ((d.skipped || []).length) {
        box.append(el('h4', { text: t('rt_skipped') }), el('ul', { class: 'rt-skipped' }, d.skipped.map((s) => el('li', { 'data-rule': s.rule_id },
          el('strong', { text: ruleName(s.rule_id, s.rule_name) }), ' · ' + t('rt_step_n', { n: s.step + 1 }),
          s.technician_id ? ' · ' + nameOf(s.technician_id) : '', el('div', { class: 'last-error small', text: s.error })))));
      }
      if (d.matched && (d.steps || []).length) {
        const tb = el('tbody');
        d.steps.forEach((s, i) => {
          const eligible = (s.eligible || []).length
            ? el('ul', { class: 'rt-eligible' }, s.eligible.map((id) => el('li', { 'data-tech': id, text: nameOf(id) })))
            : el('p', { class: 'small rt-nobody', text: t('rt_nobody') });
          const excluded = el('ul', { class: 'rt-excluded' }, (s.excluded || []).map((x) => el('li', { 'data-tech': x.technician_id, 'data-reason': x.reason },
            el('span', { class: 'rt-tech', text: nameOf(x.technician_id) }), ': ', el('span', { class: 'rt-reason', text: t('rt_reason_' + x.reason) }))));
          const last = i === d.steps.length - 1;
          tb.append(el('tr', { 'data-step': i },
            el('td', { text: i + 1 }),
            el('td', { class: 'rt-step-target', text: targetText(s.target) }),
            el('td', {}, s.filter ? el('code', { text: s.filter }) : el('span', { class: 'small', text: t('rt_no_filter') })),
            el('td', { class: 'rt-starts', text: dur(s.starts_after) + ' · ' + (last && dur(s.wait) === '0s' ? t(isChannel ? 'rt_until_channel' : 'rt_until_group') : t('rt_for', { d: dur(s.wait) })) }),
            el('td', {}, eligible),
            el('td', {}, excluded, s.error ? el('p', { class: 'field-error', text: s.error }) : null)));
        });
        box.append(el('table', { class: 'list rt-steps-result', id: 'rt-dry-steps' },
          el('caption', { text: t('rt_steps') }),
          el('thead', {}, el('tr', {}, [t('rt_step'), t('rt_target'), t('rt_filter'), t('rt_starts_after'), t('rt_eligible'), t('rt_excluded')].map((h) => el('th', { scope: 'col', text: h })))),
          tb));
      } else if (!d.matched) {
        box.append(el('p', { class: 'small', text: t(isChannel ? 'rt_dry_plain' : 'rt_dry_plain_group') }));
      }
      return box;
    }

    // Rule packs (read-only rules, enabled per channel).
    const packsBox = el('section', { class: 'card sub', id: 'rt-packs', 'aria-labelledby': 'rt-packs-title' },
      el('h3', { id: 'rt-packs-title', text: t('rt_packs') }));
    root.append(packsBox);
    const packsBody = el('div');
    packsBox.append(el('p', { class: 'small', text: t(isChannel ? 'rt_packs_intro' : 'rt_packs_channels_only') }), packsBody);

    async function loadPacks() {
      if (!isChannel) return;
      let packs;
      try { packs = (await api('GET', A + '/routing/packs')).packs || []; } catch (e) { if (live()) ctx.error(e); return; }
      if (!live()) return;
      clear(packsBody);
      if (!packs.length) { packsBody.append(el('p', { class: 'small', id: 'rt-packs-none', text: t('rt_packs_none') })); return; }
      const tb = el('tbody');
      for (const p of packs) {
        const on = (p.channels || []).includes(unit.id);
        const rulesList = el('details', { class: 'rt-pack-rules' }, el('summary', { text: t('rt_pack_rules_n', { n: (p.rules || []).length }) }),
          el('ol', {}, (p.rules || []).map((r) => el('li', {}, el('strong', { text: r.name }), r.enabled ? '' : ' (' + t('rt_disabled') + ')',
            r.description ? el('div', { class: 'small', text: r.description }) : null,
            el('div', {}, el('code', { text: r.when }), ' → ', el('span', { class: 'rt-pack-target', text: packTarget(r.then && r.then.target) }))))));
        tb.append(el('tr', { 'data-pack': p.id },
          el('td', {}, el('span', { class: 'rt-pack-name', text: p.plugin_id }), el('div', { class: 'small', text: t('plugin_version') + ' ' + p.version + ' · ' + when(p.installed_at) })),
          el('td', {}, rulesList),
          el('td', { class: 'rt-pack-on', 'data-enabled': String(on), text: on ? t('yes') : t('no') }),
          el('td', { class: 'cell-actions' }, el('button', { type: 'button', class: on ? 'rt-pack-disable danger' : 'rt-pack-enable primary',
            text: on ? t('plugin_disable') : t('plugin_enable'), 'aria-label': (on ? t('plugin_disable') : t('plugin_enable')) + ' ' + p.plugin_id,
            onclick: async (ev) => {
              ev.target.disabled = true;
              ctx.error(''); ctx.notice('');
              try {
                await api(on ? 'DELETE' : 'PUT', A + '/routing/packs/' + p.id + '/channels/' + unit.id);
                ctx.notice(t(on ? 'rt_pack_disabled' : 'rt_pack_enabled', { name: p.plugin_id }));
                await loadPacks();
                loadAudit();
              } catch (e) { ctx.error(e); ev.target.disabled = false; }
            } }))));
      }
      packsBody.append(el('table', { class: 'list', id: 'rt-pack-list' }, el('caption', { class: 'sr-only', text: t('rt_packs') }),
        el('thead', {}, el('tr', {}, [t('rt_pack'), t('rt_pack_rules'), t('rt_pack_here'), t('actions')].map((h) => el('th', { scope: 'col', text: h })))), tb));
      packNames = new Map(packs.map((p) => [p.id, p.plugin_id]));
    }
    let packNames = new Map();
    // In a pack, a channel target means the channel the pack is enabled on
    // (its IDs are placeholders); groups and technicians are as written.
    const packTarget = (tg) => (tg && tg.kind === 'channel' ? t('rt_pack_this_channel') : targetText(tg));

    // The audit log of this list.
    const auditBody = el('div');
    root.append(el('section', { class: 'card sub', id: 'rt-audit', 'aria-labelledby': 'rt-audit-title' },
      el('h3', { id: 'rt-audit-title', text: t('rt_audit') }),
      el('div', { class: 'toolbar' }, el('p', { class: 'small', text: t('rt_audit_intro') }),
        el('button', { type: 'button', id: 'rt-audit-refresh', text: t('refresh'), onclick: () => loadAudit() })),
      auditBody));

    const actorName = (id) => (id === 0 ? t('rt_the_hub') : id === config.me ? nameOf(id) + ' (' + t('you') + ')' : nameOf(id));
    const ruleLabel = (e) => {
      if (e.pack_id) return t('rt_pack') + ' ' + (packNames.get(e.pack_id) || '#' + e.pack_id);
      if (e.action === 'reorder') return '';
      const body = e.new || e.old || {};
      return (body.name || '') + ' (#' + e.rule_id + ')';
    };
    const changes = (e) => {
      if (e.action === 'reorder') {
        const names = (ids) => (ids || []).map((id) => (rules.find((r) => r.id === id) || { name: '#' + id }).name).join(' → ');
        return el('dl', { class: 'rt-changes' }, el('dt', { text: t('rt_before') }), el('dd', { text: names(e.old) }), el('dt', { text: t('rt_after') }), el('dd', { text: names(e.new) }));
      }
      if (!e.old && !e.new) return null;
      const dl = el('dl', { class: 'rt-changes' });
      const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 1));
      if (e.old && e.new) {
        for (const k of ['name', 'description', 'enabled', 'when', 'then']) {
          if (JSON.stringify(e.old[k]) === JSON.stringify(e.new[k])) continue;
          dl.append(el('dt', { text: k }), el('dd', {}, el('pre', { class: 'rt-old', text: show(e.old[k]) }), el('pre', { class: 'rt-new', text: show(e.new[k]) })));
        }
        if (!dl.firstChild) dl.append(el('dt', { text: t('rt_no_change') }));
      } else {
        const v = e.new || e.old;
        for (const k of ['name', 'description', 'enabled', 'when', 'then']) {
          if (v[k] === undefined || v[k] === '') continue;
          dl.append(el('dt', { text: k }), el('dd', {}, el('pre', { text: show(v[k]) })));
        }
      }
      return el('details', {}, el('summary', { text: t('rt_details') }), dl);
    };

    async function loadAudit() {
      let entries;
      try { entries = (await api('GET', A + '/routing/audit?' + listQuery + '&limit=' + AUDIT_PAGE)).entries || []; } catch (e) { if (live()) ctx.error(e); return; }
      if (!live()) return;
      clear(auditBody);
      if (!entries.length) { auditBody.append(el('p', { class: 'small', id: 'rt-audit-none', text: t('rt_audit_none') })); return; }
      auditBody.append(el('table', { class: 'list', id: 'rt-audit-list' }, el('caption', { class: 'sr-only', text: t('rt_audit') }),
        el('thead', {}, el('tr', {}, [t('rt_at'), t('rt_who'), t('rt_action'), t('rt_rule'), t('rt_changes')].map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, entries.map((e) => el('tr', { 'data-entry': e.id, 'data-action': e.action, 'data-rule': e.rule_id || '' },
          el('td', { text: when(e.at) }),
          el('td', { class: 'rt-actor', text: actorName(e.actor_id) }),
          el('td', {}, el('span', { class: 'badge rt-action', text: t('rt_action_' + e.action) })),
          el('td', { class: 'rt-audit-rule', text: ruleLabel(e) }),
          el('td', {}, changes(e)))))));
    }

    await loadRules();
    if (!live()) return;
    await loadPacks();
    await loadAudit();
  }

  return { render, stop };
})();
