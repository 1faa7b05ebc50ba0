// molt admin page: the browser side of the page molt serves at `/_admin/`.
// Owns: same-origin JSON calls to /api/admin/* (cookie auth: `molt_token` locally, Cloudflare
// Access's `CF_Authorization` when deployed), the live feed (EventSource on /api/admin/events
// plus a 30 s refetch), and the sections: pending devices, pairing codes, paired devices
// (rotate / two-click revoke), DM policies, tools, skills (on / off), status and the audit log. No build step, no
// dependencies, no inline code, and server text only ever lands in text nodes.
'use strict';

(() => {
  const POLL_MS = 30000, TICK_MS = 15000, ARM_MS = 4000, FLASH_MS = 5000, LIVE_RETRY_MS = 5000;
  const CHANNELS = ['telegram', 'discord', 'slack'];
  const POLICIES = {
    pairing: ['Pairing', 'Unknown senders get a code to approve here.'],
    allowlist: ['Allowlist only', 'Only the sender IDs listed below may message the bot.'],
    open: ['Open', 'Anyone who finds the bot can message it.'],
    disabled: ['Disabled', 'Direct messages are ignored.'],
  };

  const $ = (sel) => document.querySelector(sel);
  const el = {
    live: $('#live'), liveText: $('#live .text'), error: $('#admin-error'), insecure: $('#insecure'),
    flash: $('#flash'), pending: $('#pending'), codes: $('#codes'), paired: $('#paired'),
    policies: $('#policies'), tools: $('#tools'), skills: $('#skills'), status: $('#status'), audit: $('#audit tbody'),
    token: $('#token-panel'), tokenInput: $('#token-panel .token'), tokenMeta: $('#token-panel .token-meta'),
    tokenCopy: $('#token-panel .copy'), tokenDismiss: $('#token-panel .dismiss'),
  };

  const data = { pending: null, paired: null, codes: null, policies: null, tools: null, skills: null, status: null, audit: null };
  const ui = {
    busy: new Map(), // item key -> label of the running action
    errors: new Map(), // item key -> error of its last failed action
    listErrors: new Map(), // list name -> error of its last failed load
    armed: new Map(), // deviceId -> timer: Revoke was clicked once
    gen: {}, timers: {}, pageError: null, flashTimer: 0, liveWaiting: false,
  };

  // ---------- small helpers ----------
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) node.setAttribute(k, v === true ? '' : v);
    node.append(...children.flat(Infinity).filter((c) => c != null && c !== false).map((c) => (c instanceof Node ? c : String(c))));
    return node;
  }

  // `code` spans as <code>, the rest as text.
  const inline = (text) => String(text).split(/`([^`]+)`/).map((part, i) => (i % 2 ? h('code', {}, part) : part));

  const str = (v) => (v == null || v === '' ? '' : String(v));
  const join = (...parts) => parts.map(str).filter(Boolean).join(' · ');
  const shortId = (id) => (str(id).length > 16 ? `${str(id).slice(0, 12)}…` : str(id));
  const cap = (c) => { const s = str(c); return s.charAt(0).toUpperCase() + s.slice(1); };
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

  function span(ms) { // a duration in words, rounded to its largest unit
    const s = Math.round(Math.abs(ms) / 1000);
    return s < 60 ? plural(s, 'second') : s < 3600 ? `${Math.round(s / 60)} min`
      : s < 172800 ? plural(Math.round(s / 3600), 'hour') : plural(Math.round(s / 86400), 'day');
  }
  const validTime = (ms) => typeof ms === 'number' && Number.isFinite(ms) && ms > 0;
  const absolute = (ms) => (validTime(ms) ? new Date(ms).toLocaleString() : '');
  // A clock slightly ahead of the server's reads as "just now".
  const ago = (ms) => (!validTime(ms) ? 'never' : Date.now() - ms < 45000 ? 'just now' : `${span(Date.now() - ms)} ago`);
  const until = (ms) => (!validTime(ms) ? '' : ms <= Date.now() ? 'expired' : `expires in ${span(ms - Date.now())}`);
  const time = (ms, text) => h('time', { datetime: validTime(ms) ? new Date(ms).toISOString() : null, title: absolute(ms) || null }, text);

  // ---------- API ----------
  const ApiError = (status, code, message, hint) => Object.assign(new Error(message), { status, code, hint: hint || '' });
  const isAuth = (err) => err.status === 401 || err.status === 403;
  const isPageLevel = (err) => isAuth(err) || err.status === 429 || err.status === 503 || err.status === 0;

  async function api(method, path, body) {
    // `redirect: manual`: an expired Access session answers with a redirect to another origin,
    // which must become a clear message rather than a CORS failure.
    const init = { method, credentials: 'same-origin', redirect: 'manual', cache: 'no-store', headers: { accept: 'application/json' } };
    if (method !== 'GET') Object.assign(init, { body: JSON.stringify(body ?? {}), headers: { ...init.headers, 'content-type': 'application/json' } });
    let res;
    try { res = await fetch(path, init); } catch {
      throw ApiError(0, 'NETWORK', 'Cannot reach the gateway. Is `molt gateway` running? This page keeps retrying.');
    }
    if (res.type === 'opaqueredirect') throw ApiError(401, 'REDIRECTED', 'The request was sent to a sign-in page.');
    let json = null;
    try { json = await res.json(); } catch { /* not JSON */ }
    if (!res.ok) {
      const e = (json && json.error) || {};
      throw ApiError(res.status, e.code || `HTTP_${res.status}`, e.message || `${res.status} ${res.statusText}`.trim(), e.hint);
    }
    if (json == null) throw ApiError(res.status, 'BAD_RESPONSE', 'The gateway answered with something that is not JSON.');
    return json;
  }

  const enc = encodeURIComponent;

  // ---------- page-level messages ----------
  // What to do about a 401/403, or null when the refusal is not about signing in (e.g. the
  // API refusing a remote caller without Access): then the server's own words lead.
  function authAdvice(err) {
    if (err.code === 'REDIRECTED' || /access token|sign in through cloudflare access/i.test(`${err.message} ${err.hint}`)) {
      return 'Not signed in: sign in through Cloudflare Access, then reload this page.';
    }
    if (err.status === 401) return 'Not authorized: open the URL `molt gateway` printed (it carries the token), then reload this page.';
    return null;
  }

  function setPageError(err) {
    const same = ui.pageError && err && ui.pageError.status === err.status && ui.pageError.message === err.message;
    ui.pageError = err;
    if (same) return;
    if (!err) { el.error.hidden = true; el.error.replaceChildren(); return; }
    const lines = [];
    const advice = isAuth(err) ? authAdvice(err) : null;
    lines.push(h('p', { class: 'lead' }, inline(advice || cap(err.message))));
    if (advice && err.code !== 'REDIRECTED') lines.push(h('p', { class: 'detail' }, inline(`The gateway said: ${err.message}`)));
    if (err.hint) lines.push(h('p', { class: 'detail' }, inline(err.hint)));
    if (advice) lines.push(h('button', { type: 'button', class: 'reload' }, 'Reload'));
    el.error.replaceChildren(...lines);
    el.error.hidden = false;
  }

  function flash(text) {
    clearTimeout(ui.flashTimer);
    el.flash.replaceChildren(...inline(text));
    el.flash.hidden = false;
    ui.flashTimer = setTimeout(() => { el.flash.hidden = true; }, FLASH_MS);
  }

  const errorBox = (err) => (err ? h('div', { class: 'error-inline', role: 'alert' },
    h('span', {}, inline(cap(err.message))), err.hint ? h('span', { class: 'hint' }, inline(err.hint)) : null) : null);

  // ---------- loading ----------
  const LOADS = {
    devices: ['/api/admin/devices', (r) => {
      data.pending = Array.isArray(r.pending) ? r.pending : [];
      data.paired = Array.isArray(r.paired) ? r.paired : [];
    }, ['pending', 'paired']],
    codes: ['/api/admin/codes', (r) => { data.codes = Array.isArray(r.codes) ? r.codes : []; }, ['codes']],
    policies: ['/api/admin/policies', (r) => { data.policies = (r && r.channels) || {}; }, ['policies']],
    tools: ['/api/admin/tools', (r) => { data.tools = r || {}; }, ['tools']],
    skills: ['/api/admin/skills', (r) => { data.skills = r || {}; }, ['skills']],
    status: ['/api/admin/status', (r) => { data.status = r || {}; }, ['status']],
    audit: ['/api/admin/audit?limit=100', (r) => { data.audit = Array.isArray(r.entries) ? r.entries : []; }, ['audit']],
  };

  async function load(name) {
    const [path, apply, views] = LOADS[name];
    const gen = (ui.gen[name] = (ui.gen[name] || 0) + 1);
    try {
      const res = await api('GET', path);
      if (gen !== ui.gen[name]) return;
      apply(res);
      ui.listErrors.delete(name);
      if (ui.pageError) setPageError(null);
      if (ui.liveWaiting) { ui.liveWaiting = false; startLive(); }
    } catch (err) {
      if (gen !== ui.gen[name]) return;
      ui.listErrors.set(name, err);
      if (isPageLevel(err)) setPageError(err);
    }
    views.forEach(render);
  }

  function schedule(name, delay = 120) { // collapse bursts of events into one fetch
    clearTimeout(ui.timers[name]);
    ui.timers[name] = setTimeout(() => load(name), delay);
  }

  const refreshAll = () => Object.keys(LOADS).forEach((name) => schedule(name, 0));

  // ---------- rendering ----------
  const RENDER = { pending: renderPending, codes: renderCodes, paired: renderPaired, policies: renderPolicies, tools: renderTools, skills: renderSkills, status: renderStatus, audit: renderAudit };
  function render(view) { RENDER[view](); }
  const renderAll = () => Object.keys(RENDER).forEach(render);

  // What a section shows before its first successful load (page-level errors show at the top).
  function notLoaded(name) {
    const err = ui.listErrors.get(name);
    return err && !isPageLevel(err) ? errorBox(err) : err ? 'Not loaded.' : 'Loading…';
  }

  function listState(view, name) {
    const items = data[view];
    document.querySelectorAll(`.count[data-for="${view}"]`).forEach((c) => { c.textContent = items && items.length ? String(items.length) : ''; });
    return items === null ? h('li', { class: 'empty' }, notLoaded(name)) : null;
  }

  // Replaces a list's children while keeping keyboard focus on the same button of the same item.
  function replaceKeepingFocus(list, attr, children) {
    const active = document.activeElement;
    const item = active && list.contains(active) ? active.closest(`[${attr}]`) : null;
    const refocus = item ? [item.getAttribute(attr), active.className.split(' ')[0]] : null;
    list.replaceChildren(...children);
    list.setAttribute('aria-busy', 'false');
    if (!refocus) return;
    const again = [...list.querySelectorAll(`[${attr}]`)].find((n) => n.getAttribute(attr) === refocus[0]);
    const target = again && again.querySelector(`button.${refocus[1]}`);
    if (target && !target.disabled) target.focus();
  }

  function button(cls, label, key, busyLabel, extra = '') {
    const busy = ui.busy.get(key);
    return h('button', { type: 'button', class: `${cls}${extra ? ` ${extra}` : ''}`, disabled: Boolean(busy) }, busy === cls ? busyLabel : label);
  }

  const decide = (key) => [button('approve', 'Approve', key, 'Approving…', 'primary'), button('reject', 'Reject', key, 'Rejecting…')];

  function itemShell(cls, attrs, key, main, actions) {
    return h('li', { class: `item ${cls}`, ...attrs, 'aria-busy': ui.busy.has(key) ? 'true' : null },
      h('div', { class: 'main' }, main), h('div', { class: 'actions' }, actions), errorBox(ui.errors.get(key)));
  }

  function renderPending() {
    const placeholder = listState('pending', 'devices');
    const rows = placeholder ? [placeholder] : data.pending.map((d) => {
      const key = `pending:${d.requestId}`;
      const name = str(d.displayName) || str(d.clientId) || 'Unnamed device';
      const expiry = until(d.expiresAtMs);
      return itemShell(expiry === 'expired' ? 'pending expired' : 'pending', { 'data-request-id': d.requestId }, key, [
        h('div', { class: 'title' }, h('span', { class: 'name' }, name), d.role ? h('span', { class: 'badge' }, d.role) : null),
        h('div', { class: 'meta' }, join(d.displayName ? d.clientId : '', d.platform, d.deviceFamily, d.clientMode)),
        h('div', { class: 'meta' }, 'From ', h('span', { class: 'mono' }, str(d.address) || 'unknown address'), ' · requested ',
          time(d.createdAtMs, ago(d.createdAtMs)), expiry ? ' · ' : '', expiry ? time(d.expiresAtMs, expiry) : null),
        h('div', { class: 'meta' }, 'Device ', h('span', { class: 'mono', title: str(d.deviceId) }, shortId(d.deviceId)),
          Array.isArray(d.scopes) && d.scopes.length ? ` · ${d.scopes.join(', ')}` : ''),
      ], decide(key));
    });
    replaceKeepingFocus(el.pending, 'data-request-id', rows.length ? rows : [h('li', { class: 'empty' }, 'No devices waiting.')]);
  }

  function renderCodes() {
    const placeholder = listState('codes', 'codes');
    const rows = placeholder ? [placeholder] : data.codes.map((c) => {
      const key = `code:${c.channel}:${c.code}`;
      const expiry = until(c.expiresAtMs);
      return itemShell(expiry === 'expired' ? 'code expired' : 'code', { 'data-channel': c.channel, 'data-code': c.code }, key, [
        h('div', { class: 'title' }, h('span', { class: `badge channel ${str(c.channel)}` }, cap(c.channel)),
          h('span', { class: 'pair-code' }, str(c.code))),
        h('div', { class: 'meta' }, str(c.senderName) || 'Unknown sender', ' · ID ', h('span', { class: 'mono' }, str(c.senderId))),
        h('div', { class: 'meta' }, 'Requested ', time(c.createdAtMs, ago(c.createdAtMs)), expiry ? ' · ' : '',
          expiry ? time(c.expiresAtMs, expiry) : null),
      ], decide(key));
    });
    replaceKeepingFocus(el.codes, 'data-code', rows.length ? rows : [h('li', { class: 'empty' }, 'No pairing codes waiting.')]);
  }

  function renderPaired() {
    const placeholder = listState('paired', 'devices');
    const rows = placeholder ? [placeholder] : data.paired.map((d) => {
      const key = `device:${d.deviceId}`;
      const armed = ui.armed.has(d.deviceId);
      const expires = validTime(d.tokenExpiresAtMs) ? until(d.tokenExpiresAtMs) : '';
      return itemShell(d.connected ? 'device online' : 'device', { 'data-device-id': d.deviceId }, key, [
        h('div', { class: 'title' },
          h('span', { class: 'conn', title: d.connected ? 'Connected' : 'Not connected', role: 'img', 'aria-label': d.connected ? 'Connected' : 'Not connected' }),
          h('span', { class: 'name' }, str(d.displayName) || str(d.clientId) || 'Unnamed device'),
          d.approvedVia ? h('span', { class: `badge via-${str(d.approvedVia)}` }, `via ${d.approvedVia}`) : null),
        h('div', { class: 'meta' }, join(d.displayName ? d.clientId : '', d.platform, d.deviceFamily, d.role)),
        h('div', { class: 'meta' }, d.connected ? 'Connected now' : validTime(d.lastSeenAtMs) ? ['Last seen ', time(d.lastSeenAtMs, ago(d.lastSeenAtMs))] : 'Not connected yet',
          d.lastAddress && (d.connected || validTime(d.lastSeenAtMs)) ? [' from ', h('span', { class: 'mono' }, str(d.lastAddress))] : null,
          ' · approved ', time(d.approvedAtMs, ago(d.approvedAtMs))),
        h('div', { class: 'meta' }, 'Device ', h('span', { class: 'mono', title: str(d.deviceId) }, shortId(d.deviceId)),
          expires ? [' · token ', time(d.tokenExpiresAtMs, expires)] : null),
      ], [
        button('rotate', 'Rotate token', key, 'Rotating…'),
        button('revoke', armed ? 'Really revoke?' : 'Revoke', key, 'Revoking…', armed ? 'danger armed' : 'danger'),
      ]);
    });
    replaceKeepingFocus(el.paired, 'data-device-id', rows.length ? rows : [h('li', { class: 'empty' }, 'No paired devices yet.')]);
  }

  // Policies are edited in place: a refetch only replaces fields the operator has not touched.
  function renderPolicies() {
    const channels = data.policies;
    if (!channels) { el.policies.replaceChildren(h('p', { class: 'empty' }, notLoaded('policies'))); return; }
    const names = [...CHANNELS.filter((c) => c in channels), ...Object.keys(channels).filter((c) => !CHANNELS.includes(c))];
    if (!names.length) { el.policies.replaceChildren(h('p', { class: 'empty' }, 'No chat channels configured.')); return; }
    el.policies.querySelector(':scope > .empty')?.remove();
    for (const name of names) {
      let card = [...el.policies.children].find((n) => n.dataset.channel === name);
      if (!card) { card = policyCard(name); el.policies.append(card); }
      fillPolicy(card, channels[name] || {}, false);
      const key = `policy:${name}`;
      card.querySelector('button.save').disabled = ui.busy.has(key);
      card.querySelector('button.save').textContent = ui.busy.has(key) ? 'Saving…' : 'Save';
      card.querySelector('.slot').replaceChildren(...[errorBox(ui.errors.get(key))].filter(Boolean));
    }
    for (const card of [...el.policies.children]) if (card.dataset.channel && !names.includes(card.dataset.channel)) card.remove();
    el.policies.setAttribute('aria-busy', 'false');
  }

  function policyCard(name) {
    const id = `policy-${name}`;
    return h('div', { class: 'policy', 'data-channel': name },
      h('h3', {}, cap(name)),
      h('label', { for: `${id}-mode` }, 'Direct messages'),
      h('select', { id: `${id}-mode`, class: 'dm-policy' }, Object.entries(POLICIES).map(([v, [label]]) => h('option', { value: v }, label))),
      h('p', { class: 'muted policy-help' }),
      h('label', { for: `${id}-allow` }, 'Allowed sender IDs'),
      h('textarea', { id: `${id}-allow`, class: 'allow-from', rows: '4', spellcheck: 'false', placeholder: 'One sender ID per line' }),
      h('div', { class: 'slot' }),
      h('div', { class: 'policy-foot' }, h('button', { type: 'button', class: 'save primary' }, 'Save'), h('span', { class: 'saved muted', role: 'status' })));
  }

  function fillPolicy(card, p, force) {
    const select = card.querySelector('select.dm-policy'), area = card.querySelector('textarea.allow-from');
    const mode = str(p.dmPolicy), allow = (Array.isArray(p.allowFrom) ? p.allowFrom : []).map(String).join('\n');
    if (mode && !select.querySelector(`option[value="${CSS.escape(mode)}"]`)) select.append(h('option', { value: mode }, mode));
    if (force || !('server' in select.dataset) || select.value === select.dataset.server) select.value = mode;
    if (force || !('server' in area.dataset) || area.value === area.dataset.server) area.value = allow;
    select.dataset.server = mode;
    area.dataset.server = allow;
    policyHelp(card);
  }

  function policyHelp(card) {
    const mode = card.querySelector('select.dm-policy').value;
    card.querySelector('.policy-help').textContent = (POLICIES[mode] || ['', ''])[1];
    card.classList.toggle('is-open', mode === 'open');
  }

  function renderStatus() {
    const s = data.status;
    el.insecure.hidden = !(s && s.devModeInsecure === true);
    if (!el.insecure.hidden) el.insecure.replaceChildren(...inline('Insecure dev mode is on (`devModeInsecure`): do not expose this gateway to a network.'));
    if (!s) { el.status.replaceChildren(h('p', { class: 'empty' }, notLoaded('status'))); return; }
    const general = [], groups = [];
    for (const [k, v] of Object.entries(s)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) groups.push([k, flatten(v)]);
      else general.push([k, v]);
    }
    if (general.length) groups.push(['general', general]);
    const rank = (k) => { const i = ['gateway', 'provider', 'access', 'store', 'channels'].indexOf(k); return i < 0 ? 99 : i; };
    groups.sort((a, b) => rank(a[0]) - rank(b[0])); // a stable order for the usual groups, the rest after
    el.status.replaceChildren(...groups.map(([k, rows]) => h('div', { class: 'status-group', 'data-key': k },
      h('h3', {}, humanize(k)),
      h('dl', {}, rows.length ? rows.map(([rk, rv]) => [h('dt', {}, humanize(rk)),
        h('dd', { class: typeof rv === 'string' && rv.length > 32 ? 'long' : null }, value(rk, rv))]) : h('dt', {}, 'none')))));
    el.status.setAttribute('aria-busy', 'false');
  }

  function flatten(obj, prefix = '') {
    return Object.entries(obj).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v)
      ? flatten(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v]]));
  }

  function humanize(key) {
    const words = str(key).split('.').map((part) => part.replace(/(Ms|Bytes)$/, '').replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase());
    const text = words.join(' › ');
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function value(key, v) {
    const last = key.split('.').pop();
    if (typeof v === 'boolean') return h('span', { class: `flag ${v ? 'yes' : 'no'}` }, v ? 'yes' : 'no');
    if (v == null || v === '') return h('span', { class: 'muted' }, '—');
    if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : h('span', { class: 'muted' }, 'none');
    if (typeof v === 'number' && /AtMs$/.test(last)) return time(v, `${absolute(v)} (${ago(v)})`);
    if (typeof v === 'number' && /Ms$/.test(last)) return span(v);
    if (typeof v === 'number' && /bytes$/i.test(last)) return v >= 1048576 ? `${(v / 1048576).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${v} B`;
    return h('span', {}, inline(String(v)));
  }

  function renderAudit() {
    const entries = data.audit;
    const note = (text) => [h('tr', { class: 'empty' }, h('td', { colspan: '6' }, text))];
    const rows = !entries ? note(notLoaded('audit'))
      : !entries.length ? note('No audit entries yet.')
        : entries.map((e) => h('tr', { class: 'entry', 'data-id': str(e.id) },
          h('td', { class: 'c-time' }, time(e.atMs, ago(e.atMs))),
          h('td', { class: 'c-actor' }, str(e.actor)),
          h('td', { class: 'c-action' }, h('span', { class: 'action' }, str(e.action))),
          h('td', { class: 'c-target mono', title: str(e.target) || null }, str(e.target)),
          h('td', { class: 'c-addr mono' }, str(e.address)),
          h('td', { class: 'c-detail' }, e.detail && typeof e.detail === 'object' ? JSON.stringify(e.detail) : str(e.detail))));
    el.audit.replaceChildren(...rows);
  }

  // ---------- actions ----------
  async function act(key, label, views, fn) {
    if (ui.busy.has(key)) return;
    ui.busy.set(key, label);
    ui.errors.delete(key);
    views.forEach(render);
    try { await fn(); } catch (err) {
      ui.errors.set(key, err);
      if (isPageLevel(err)) setPageError(err);
    }
    ui.busy.delete(key);
    views.forEach(render);
  }

  function onPendingClick(e) {
    const btn = e.target.closest('button'), item = e.target.closest('.pending[data-request-id]');
    if (!btn || !item || btn.disabled) return;
    const id = item.dataset.requestId, key = `pending:${id}`, approve = btn.classList.contains('approve');
    if (!approve && !btn.classList.contains('reject')) return;
    const row = (data.pending || []).find((d) => d.requestId === id) || {};
    act(key, approve ? 'approve' : 'reject', ['pending', 'paired'], async () => {
      const res = await api('POST', `/api/admin/devices/${enc(id)}/${approve ? 'approve' : 'reject'}`);
      data.pending = (data.pending || []).filter((d) => d.requestId !== id);
      if (approve && res.device && data.paired) {
        data.paired = [res.device, ...data.paired.filter((d) => d.deviceId !== res.device.deviceId)];
      }
      const name = str(row.displayName) || str(row.clientId) || 'the device';
      flash(approve ? `Approved ${name}.` : `Rejected ${name}.`);
      schedule('devices'); schedule('audit'); schedule('status');
    });
  }

  function onCodeClick(e) {
    const btn = e.target.closest('button'), item = e.target.closest('.code[data-code]');
    if (!btn || !item || btn.disabled) return;
    const { channel, code } = item.dataset, key = `code:${channel}:${code}`, approve = btn.classList.contains('approve');
    if (!approve && !btn.classList.contains('reject')) return;
    act(key, approve ? 'approve' : 'reject', ['codes'], async () => {
      const res = await api('POST', `/api/admin/codes/${enc(channel)}/${enc(code)}/${approve ? 'approve' : 'reject'}`);
      data.codes = (data.codes || []).filter((c) => !(c.channel === channel && c.code === code));
      flash(approve ? `Approved ${cap(channel)} sender \`${str(res.senderId) || code}\`` : `Rejected code \`${code}\``);
      schedule('codes'); schedule('policies'); schedule('audit');
    });
  }

  function onPairedClick(e) {
    const btn = e.target.closest('button'), item = e.target.closest('.device[data-device-id]');
    if (!btn || !item || btn.disabled) return;
    const id = item.dataset.deviceId, key = `device:${id}`;
    const row = (data.paired || []).find((d) => d.deviceId === id) || {};
    const name = str(row.displayName) || str(row.clientId) || shortId(id);
    if (btn.classList.contains('revoke')) {
      if (!ui.armed.has(id)) { // first click arms; a second within ARM_MS revokes (no confirm(): tests run headless)
        ui.armed.set(id, setTimeout(() => { ui.armed.delete(id); renderPaired(); }, ARM_MS));
        renderPaired();
        return;
      }
      clearTimeout(ui.armed.get(id));
      ui.armed.delete(id);
      act(key, 'revoke', ['paired'], async () => {
        const res = await api('DELETE', `/api/admin/devices/${enc(id)}`);
        data.paired = (data.paired || []).filter((d) => d.deviceId !== id);
        const n = Number(res.closedConnections) || 0;
        flash(`Revoked ${name}${n ? `; closed ${plural(n, 'connection')}` : ''}.`);
        schedule('devices'); schedule('audit'); schedule('status');
      });
    } else if (btn.classList.contains('rotate')) {
      act(key, 'rotate', ['paired'], async () => {
        const res = await api('POST', `/api/admin/devices/${enc(id)}/rotate`);
        showToken(name, res.deviceToken, res.expiresAtMs);
        schedule('devices'); schedule('audit');
      });
    }
  }

  function showToken(name, token, expiresAtMs) {
    el.tokenInput.value = str(token);
    el.tokenMeta.textContent = join(`For ${name}`, validTime(expiresAtMs) ? `valid until ${absolute(expiresAtMs)}` : '');
    el.tokenCopy.textContent = 'Copy';
    el.token.hidden = false;
    el.token.scrollIntoView({ block: 'nearest' });
    el.tokenCopy.focus();
  }

  async function copyToken() {
    let ok = false;
    try { await navigator.clipboard.writeText(el.tokenInput.value); ok = true; } catch { /* no clipboard permission */ }
    el.tokenInput.select(); // also the fallback, and leaves the text ready for Ctrl+C
    if (!ok) try { ok = document.execCommand('copy'); } catch { ok = false; }
    el.tokenCopy.textContent = ok ? 'Copied' : 'Press Ctrl+C';
  }

  const hideToken = () => { el.tokenInput.value = ''; el.tokenMeta.textContent = ''; el.token.hidden = true; };

  // One row per tool; only tools that act have a box to tick.
  function renderTools() {
    const view = data.tools;
    if (!view) { el.tools.replaceChildren(h('p', { class: 'empty' }, notLoaded('tools'))); return; }
    const tools = Array.isArray(view.tools) ? view.tools : [];
    if (!view.enabled || !tools.length) {
      el.tools.replaceChildren(h('p', { class: 'empty' }, 'Tools are off (`MOLT_TOOLS`).'));
      el.tools.setAttribute('aria-busy', 'false');
      return;
    }
    const busy = ui.busy.has('tools');
    const rows = tools.map((tool) => {
      const acts = tool.access === 'act';
      const box = h('input', { type: 'checkbox', class: 'guest-tool', 'data-tool': str(tool.name), 'aria-label': `Guests may use ${str(tool.name)}` });
      box.checked = Boolean(tool.guests);
      box.disabled = !acts || busy || Boolean(tool.operatorOnly);
      return h('label', { class: `tool-row ${acts ? 'acts' : 'reads'}` }, box,
        h('code', {}, str(tool.name)), h('span', { class: 'muted' }, tool.operatorOnly ? 'yours only' : acts ? 'acts' : 'reads only'));
    });
    el.tools.replaceChildren(...rows, h('div', { class: 'tool-actions' },
      h('button', { type: 'button', class: 'save-tools', disabled: busy ? '' : null }, busy ? 'Saving…' : 'Save'),
      h('span', { class: 'saved', role: 'status' }), errorBox(ui.errors.get('tools'))));
    el.tools.setAttribute('aria-busy', 'false');
  }

  function onToolsClick(e) {
    const btn = e.target.closest('button.save-tools');
    if (!btn || btn.disabled) return;
    const guestTools = [...el.tools.querySelectorAll('input.guest-tool:checked:not(:disabled)')].map((box) => box.dataset.tool);
    act('tools', 'save', ['tools'], async () => {
      data.tools = await api('PUT', '/api/admin/tools', { guestTools });
      schedule('audit');
    });
  }

  // One row per skill: its switch, and what it does or why the model is not offered it.
  function renderSkills() {
    const view = data.skills;
    if (!view) { el.skills.replaceChildren(h('p', { class: 'empty' }, notLoaded('skills'))); return; }
    const skills = Array.isArray(view.skills) ? view.skills : [];
    if (!skills.length) {
      el.skills.replaceChildren(h('p', { class: 'empty' }, inline('No skills installed. Add one with `molt skills add <folder or .zip>`.')));
      el.skills.setAttribute('aria-busy', 'false');
      return;
    }
    const rows = skills.map((skill) => {
      const key = `skill:${str(skill.name)}`, busy = ui.busy.has(key);
      const state = !skill.enabled ? 'off' : !skill.usable ? 'unusable' : skill.listed ? 'listed' : 'unlisted';
      const about = skill.reason ? (skill.usable ? skill.reason : `Not usable: ${skill.reason}`) : str(skill.description);
      return h('div', { class: `skill-row ${state}`, 'data-skill': str(skill.name) },
        h('code', {}, str(skill.name)),
        h('span', { class: `badge ${skill.enabled ? 'on' : 'off'}` }, skill.enabled ? 'on' : 'off'),
        h('span', { class: 'about' }, inline(about)),
        h('button', { type: 'button', class: 'switch-skill', disabled: busy ? '' : null },
          busy ? 'Saving…' : skill.enabled ? 'Turn off' : 'Turn on'),
        errorBox(ui.errors.get(key)));
    });
    const tokens = Number(view.promptTokens) || 0;
    el.skills.replaceChildren(...rows, h('p', { class: 'muted skill-foot' },
      `${plural(skills.filter((s) => s.listed).length, 'skill')} in the prompt, about ${plural(tokens, 'token')}.`));
    el.skills.setAttribute('aria-busy', 'false');
  }

  function onSkillsClick(e) {
    const btn = e.target.closest('button.switch-skill'), row = e.target.closest('.skill-row[data-skill]');
    if (!btn || !row || btn.disabled) return;
    const name = row.dataset.skill, skill = ((data.skills && data.skills.skills) || []).find((s) => s.name === name);
    if (!skill) return;
    act(`skill:${name}`, 'switch', ['skills'], async () => {
      await api('PUT', `/api/admin/skills/${enc(name)}`, { enabled: !skill.enabled });
      data.skills = await api('GET', '/api/admin/skills');
      schedule('audit');
    });
  }

  function onPolicyClick(e) {
    const btn = e.target.closest('button.save'), card = e.target.closest('.policy[data-channel]');
    if (!btn || !card || btn.disabled) return;
    const channel = card.dataset.channel, key = `policy:${channel}`;
    const dmPolicy = card.querySelector('select.dm-policy').value;
    const allowFrom = [...new Set(card.querySelector('textarea.allow-from').value.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean))];
    card.querySelector('.saved').textContent = '';
    act(key, 'save', ['policies'], async () => {
      const res = await api('PUT', `/api/admin/policies/${enc(channel)}`, { dmPolicy, allowFrom });
      const next = { dmPolicy: res.dmPolicy ?? dmPolicy, allowFrom: Array.isArray(res.allowFrom) ? res.allowFrom : allowFrom };
      data.policies = { ...(data.policies || {}), [channel]: next };
      fillPolicy(card, next, true);
      card.querySelector('.saved').textContent = 'Saved.';
      setTimeout(() => { card.querySelector('.saved').textContent = ''; }, FLASH_MS);
      schedule('audit');
    });
  }

  // ---------- live updates ----------
  const setLive = (state, text) => { el.live.dataset.state = state; el.liveText.textContent = text; el.live.title = text; };

  function startLive() {
    if (!('EventSource' in window)) { setLive('reconnecting', 'No live updates · refreshing every 30 s'); return; }
    const es = new EventSource('/api/admin/events');
    let wasOpen = false;
    es.addEventListener('open', () => {
      setLive('connected', 'Live');
      if (wasOpen) refreshAll(); // events may have been missed while away
      wasOpen = true;
    });
    for (const name of ['devices', 'codes', 'policies', 'audit']) es.addEventListener(name, () => schedule(name));
    es.addEventListener('error', () => {
      setLive('reconnecting', 'Reconnecting…');
      // EventSource retries by itself, except after an HTTP error answer: then start a new one,
      // or, while signed out, once a fetch succeeds again (no stream of doomed sign-in redirects).
      if (es.readyState !== EventSource.CLOSED) return;
      es.close();
      setTimeout(() => { if (ui.pageError && isAuth(ui.pageError)) ui.liveWaiting = true; else startLive(); }, LIVE_RETRY_MS);
    });
  }

  // ---------- wiring ----------
  el.pending.addEventListener('click', onPendingClick);
  el.codes.addEventListener('click', onCodeClick);
  el.paired.addEventListener('click', onPairedClick);
  el.policies.addEventListener('click', onPolicyClick);
  el.tools.addEventListener('click', onToolsClick);
  el.skills.addEventListener('click', onSkillsClick);
  el.policies.addEventListener('change', (e) => { const card = e.target.closest('.policy'); if (card) policyHelp(card); });
  el.tokenCopy.addEventListener('click', copyToken);
  el.tokenDismiss.addEventListener('click', hideToken);
  el.error.addEventListener('click', (e) => { if (e.target.closest('button.reload')) location.reload(); });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refreshAll(); });

  window.moltAdmin = {
    state: () => ({ live: el.live.dataset.state, loaded: Object.fromEntries(Object.keys(data).map((k) => [k, data[k] !== null])),
      busy: ui.busy.size, error: ui.pageError ? ui.pageError.message : null }),
    refresh: refreshAll,
  };

  renderAll();
  refreshAll();
  startLive();
  setInterval(refreshAll, POLL_MS);
  setInterval(() => ['pending', 'codes', 'paired', 'audit'].forEach(render), TICK_MS); // relative times
})();
