// molt admin page, `exec` section: the commands waiting for the operator (Allow once, Allow
// always — the command itself, or a prefix ending in `*` typed in its field — and Deny) and
// the allowlist (Remove, with a second click to confirm). Owns /api/admin/exec*; refetches on
// the live feed's `exec` and `audit` events and every 30 s. No dependencies, no inline code,
// and server text only ever lands in text nodes.
'use strict';

(() => {
  const section = document.querySelector('#exec');
  if (!section) return;
  const el = {
    mode: section.querySelector('#exec-mode'), pending: section.querySelector('#exec-pending'),
    allowlist: section.querySelector('#exec-allowlist'), count: section.querySelector('.count[data-for="exec"]'),
  };
  const POLL_MS = 30000, TICK_MS = 5000, ARM_MS = 4000;
  const MODES = {
    off: 'Off (`MOLT_EXEC=off`): the assistant cannot run commands.',
    approve: 'Each command not on the allowlist waits here for you; unanswered, it is denied after {t}.',
    allowlist: 'Only allowlisted commands run (`MOLT_EXEC=allowlist`); any other is refused without asking.',
  };
  let data = null, loadError = null, timer = 0;
  const busy = new Map(), errors = new Map(), patterns = new Map(), armed = new Map();

  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) node.setAttribute(k, v === true ? '' : v);
    node.append(...children.flat(Infinity).filter((c) => c != null && c !== false).map((c) => (c instanceof Node ? c : String(c))));
    return node;
  }
  const inline = (text) => String(text).split(/`([^`]+)`/).map((part, i) => (i % 2 ? h('code', {}, part) : part));
  const str = (v) => (v == null ? '' : String(v));
  const span = (ms) => { const s = Math.max(0, Math.round(ms / 1000)); return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`; };
  const left = (ms) => (typeof ms !== 'number' ? '' : ms <= Date.now() ? 'expiring' : `denied in ${span(ms - Date.now())} unless answered`);

  async function api(method, path, body) {
    const init = { method, credentials: 'same-origin', redirect: 'manual', cache: 'no-store', headers: { accept: 'application/json' } };
    if (method !== 'GET') Object.assign(init, { body: JSON.stringify(body ?? {}), headers: { ...init.headers, 'content-type': 'application/json' } });
    let res;
    try { res = await fetch(path, init); } catch { throw Object.assign(new Error('Cannot reach the gateway.'), { hint: '' }); }
    let json = null;
    try { json = await res.json(); } catch { /* not JSON */ }
    if (!res.ok) {
      const e = (json && json.error) || {};
      throw Object.assign(new Error(e.message || `${res.status} ${res.statusText}`), { hint: e.hint || '' });
    }
    return json || {};
  }

  async function load() {
    try { data = await api('GET', '/api/admin/exec'); loadError = null; } catch (err) { loadError = err; }
    render();
  }
  const schedule = () => { clearTimeout(timer); timer = setTimeout(load, 100); };

  const errorBox = (err) => (err ? h('div', { class: 'error-inline', role: 'alert' },
    h('span', {}, inline(err.message)), err.hint ? h('span', { class: 'hint' }, inline(err.hint)) : null) : null);

  function button(cls, label, key, extra = '') {
    const running = busy.get(key);
    return h('button', { type: 'button', class: `${cls}${extra ? ` ${extra}` : ''}`, disabled: Boolean(running) }, running === cls ? `${label}…` : label);
  }

  function renderPending() {
    // Typing in a pattern field survives the refetches and the countdown's redraws.
    const active = document.activeElement;
    const focused = active && active.classList && active.classList.contains('pattern') ? active.closest('[data-id]') : null;
    const caret = focused ? [focused.dataset.id, active.selectionStart] : null;
    const rows = (data.pending || []).map((p) => {
      const r = p.request || {}, key = `exec:${p.id}`;
      const field = h('input', { type: 'text', class: 'pattern', spellcheck: 'false', 'aria-label': `Allowlist entry for ${str(r.command)}`,
        placeholder: 'Allow always: this command, or a prefix ending in *' });
      field.value = patterns.get(p.id) || '';
      return h('li', { class: 'item exec', 'data-id': p.id, 'aria-busy': busy.has(key) ? 'true' : null },
        h('div', { class: 'main' },
          h('div', { class: 'title' }, h('code', { class: 'command' }, str(r.command))),
          h('div', { class: 'meta' }, `in ${r.cwd ? str(r.cwd) : 'the workspace'}`, r.askedBy ? ` · asked by ${str(r.askedBy)}` : '',
            r.sessionKey ? ` · session ${str(r.sessionKey)}` : '', ` · ${left(p.expiresAtMs)}`),
          field),
        h('div', { class: 'actions' }, button('allow-once', 'Allow once', key, 'primary'),
          button('allow-always', 'Allow always', key), button('deny', 'Deny', key, 'danger')),
        errorBox(errors.get(key)));
    });
    el.pending.replaceChildren(...(rows.length ? rows : [h('li', { class: 'empty' }, 'No commands waiting.')]));
    el.count.textContent = rows.length ? String(rows.length) : '';
    const again = caret && [...el.pending.querySelectorAll('[data-id]')].find((n) => n.dataset.id === caret[0]);
    const field = again && again.querySelector('input.pattern');
    if (field) { field.focus(); field.setSelectionRange(caret[1], caret[1]); }
  }

  function renderAllowlist() {
    const rows = (data.allowlist || []).map((entry) => {
      const key = `allow:${entry.pattern}`, isArmed = armed.has(entry.pattern);
      return h('li', { class: 'item allowed', 'data-pattern': entry.pattern },
        h('div', { class: 'main' }, h('div', { class: 'title' }, h('code', {}, str(entry.pattern))),
          h('div', { class: 'meta' }, `added by ${str(entry.addedBy)}`, entry.addedAtMs ? ` · ${new Date(entry.addedAtMs).toLocaleString()}` : '')),
        h('div', { class: 'actions' }, button('remove', isArmed ? 'Really remove?' : 'Remove', key, isArmed ? 'danger armed' : 'danger')),
        errorBox(errors.get(key)));
    });
    el.allowlist.replaceChildren(...(rows.length ? rows : [h('li', { class: 'empty' }, 'Nothing runs without asking.')]));
  }

  function render() {
    if (!data) {
      el.mode.replaceChildren(...(loadError ? [errorBox(loadError)] : ['Loading…']));
      return;
    }
    const minutes = span((Number(data.timeoutSecs) || 0) * 1000);
    el.mode.replaceChildren(...inline((MODES[data.mode] || str(data.mode)).replace('{t}', minutes)));
    renderPending();
    renderAllowlist();
    section.setAttribute('aria-busy', 'false');
  }

  async function act(key, label, fn) {
    if (busy.has(key)) return;
    busy.set(key, label);
    errors.delete(key);
    render();
    try { await fn(); } catch (err) { errors.set(key, err); }
    busy.delete(key);
    await load();
  }

  el.pending.addEventListener('input', (e) => {
    const item = e.target.closest('.exec[data-id]');
    if (item && e.target.classList.contains('pattern')) patterns.set(item.dataset.id, e.target.value);
  });

  el.pending.addEventListener('click', (e) => {
    const btn = e.target.closest('button'), item = e.target.closest('.exec[data-id]');
    if (!btn || !item || btn.disabled) return;
    const decision = ['allow-once', 'allow-always', 'deny'].find((d) => btn.classList.contains(d));
    if (!decision) return;
    const id = item.dataset.id, body = { decision };
    const pattern = (patterns.get(id) || '').trim();
    if (decision === 'allow-always' && pattern) body.pattern = pattern;
    act(`exec:${id}`, decision, async () => {
      await api('POST', `/api/admin/exec/${encodeURIComponent(id)}/resolve`, body);
      patterns.delete(id);
    });
  });

  el.allowlist.addEventListener('click', (e) => {
    const btn = e.target.closest('button.remove'), item = e.target.closest('.allowed[data-pattern]');
    if (!btn || !item || btn.disabled) return;
    const pattern = item.dataset.pattern;
    if (!armed.has(pattern)) { // first click arms; a second within ARM_MS removes
      armed.set(pattern, setTimeout(() => { armed.delete(pattern); render(); }, ARM_MS));
      render();
      return;
    }
    clearTimeout(armed.get(pattern));
    armed.delete(pattern);
    act(`allow:${pattern}`, 'remove', () => api('DELETE', '/api/admin/exec/allowlist', { pattern }));
  });

  if ('EventSource' in window) {
    const live = new EventSource('/api/admin/events');
    for (const name of ['exec', 'audit']) live.addEventListener(name, schedule);
    live.addEventListener('open', schedule);
  }
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') schedule(); });
  setInterval(load, POLL_MS);
  setInterval(() => { if (data) renderPending(); }, TICK_MS);
  load();
})();
