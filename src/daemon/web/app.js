// molt web chat: the browser side of the page molt serves at `/`.
// Owns: the device identity (Ed25519 via WebCrypto, kept in localStorage), the gateway
// WebSocket (protocol v4 handshake, req/res/event frames, reconnect with backoff), the
// session sidebar, the transcript (safe text rendering, streaming replies) and the
// composer. No build step, no dependencies, no inline code (the server's CSP forbids it).
'use strict';

(() => {
  const CLIENT = { id: 'molt-web', version: '0.1.0', mode: 'webchat', deviceFamily: 'browser' };
  const ROLE = 'operator';
  const SCOPES = ['operator.read', 'operator.write'];
  const DEFAULT_SESSION = 'agent:main:main';
  const BACKOFF_START_MS = 500, BACKOFF_CAP_MS = 15000, PAIRING_RETRY_MS = 5000; // reconnect delays
  const HANDSHAKE_TIMEOUT_MS = 10000, REQUEST_TIMEOUT_MS = 30000;
  // A held connect lasts as long as a pairing request (5 minutes), plus slack.
  const PAIRING_WAIT_MS = 6 * 60 * 1000;
  const PLATFORM = String(navigator.platform || '').trim().toLowerCase() || 'web';

  const $ = (sel) => document.querySelector(sel);
  const el = {
    status: $('#status'), statusText: $('#status .text'), notice: $('#notice'),
    sessions: $('#sessions'), newSession: $('#new-session'), serverInfo: $('#server-info'),
    title: $('#session-title'), reset: $('#reset'), menu: $('#menu'), backdrop: $('#backdrop'),
    messages: $('#messages'), composer: $('#composer'), input: $('#input'),
    send: $('#send'), abort: $('#abort'),
  };

  const store = {
    get(key) { try { return localStorage.getItem(key); } catch { return null; } },
    set(key, value) { try { localStorage.setItem(key, value); } catch { /* storage disabled */ } },
    remove(key) { try { localStorage.removeItem(key); } catch { /* storage disabled */ } },
  };

  const state = {
    ws: null, connected: false, device: null, historyGen: 0,
    sessionKey: store.get('molt.session') || DEFAULT_SESSION,
    sessions: [], nextId: 1, pending: new Map(),
    runs: new Map(), // runId -> { runId, sessionKey, row, text, seq }, current session only
    doneRuns: new Set(), // finished runIds, so late events do not resurrect a row
    attempt: 0, retryTimer: 0, handshakeTimer: 0, failure: null,
    tickMs: 30000, ticking: false, lastRx: 0, refreshTimer: 0,
  };

  // ---------- small helpers ----------
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) node.setAttribute(k, v);
    node.append(...children.filter((c) => c != null));
    return node;
  }

  function b64url(bytes) {
    let s = '';
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function fromB64url(str) {
    const s = str.replace(/-/g, '+').replace(/_/g, '/');
    return Uint8Array.from(atob(s + '='.repeat((4 - (s.length % 4)) % 4)), (c) => c.charCodeAt(0));
  }

  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

  // An `ok:false` response; `code` prefers the specific `error.details.code`.
  const gatewayError = (e = {}) => Object.assign(new Error(e.message || e.code || 'request failed'),
    { gateway: true, code: (e.details && e.details.code) || e.code || '', retryAfterMs: e.retryAfterMs });

  // ---------- token and device identity ----------
  // A `#token=` URL: the fragment never reaches a server or a log. Clear it from the address bar
  // and the history at once, then trade it for the gateway's HttpOnly cookie, so the token is
  // never kept where scripts can read it. Resolves true when a token was exchanged.
  async function exchangeToken() {
    store.remove('molt.token'); // older pages kept it in localStorage
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const token = params.get('token');
    if (!token) return false;
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
    try {
      const answer = await fetch('/auth/token', {
        method: 'POST', credentials: 'same-origin', cache: 'no-store',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }),
      });
      if (answer.status === 429) showNotice('Too many failed sign-ins from this address; wait a few minutes and open the URL again.');
      else if (!answer.ok) showNotice('That sign-in link carries a wrong gateway token. Open the URL printed by `molt gateway`.');
      return answer.ok;
    } catch (err) {
      showNotice(`Cannot sign in: ${err.message}`);
      return false;
    }
  }

  async function loadDevice() {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      throw new Error('This page is not in a secure context, so the browser hides the WebCrypto API it needs '
        + 'to identify this device. Open it over https, or on `localhost` / `127.0.0.1` (e.g. through an SSH tunnel).');
    }
    const algo = { name: 'Ed25519' };
    let privateKey = null;
    let rawPublic = null;
    try {
      const saved = JSON.parse(store.get('molt.device') || 'null');
      if (saved && saved.privateKey && saved.publicKey) {
        privateKey = await crypto.subtle.importKey('pkcs8', fromB64url(saved.privateKey), algo, false, ['sign']);
        rawPublic = fromB64url(saved.publicKey);
        if (rawPublic.length !== 32) privateKey = null;
      }
    } catch { privateKey = null; }
    if (!privateKey) {
      let pair;
      try {
        pair = await crypto.subtle.generateKey(algo, true, ['sign', 'verify']);
      } catch {
        throw new Error('This browser does not support Ed25519 keys in WebCrypto, which the gateway needs to identify '
          + 'this device. Use a current browser, and open the page over https or on localhost.');
      }
      privateKey = pair.privateKey;
      rawPublic = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      const pkcs8 = await crypto.subtle.exportKey('pkcs8', pair.privateKey);
      store.set('molt.device', JSON.stringify({ version: 1, privateKey: b64url(pkcs8), publicKey: b64url(rawPublic) }));
    }
    const id = hex(await crypto.subtle.digest('SHA-256', rawPublic));
    return { id, publicKey: b64url(rawPublic), privateKey };
  }

  async function signDevice(nonce) {
    const { device } = state;
    const signedAt = Date.now();
    const payload = ['v3', device.id, CLIENT.id, CLIENT.mode, ROLE, SCOPES.join(','), String(signedAt),
      '', nonce, PLATFORM, CLIENT.deviceFamily].join('|');
    const sig = await crypto.subtle.sign({ name: 'Ed25519' }, device.privateKey, new TextEncoder().encode(payload));
    return { id: device.id, publicKey: device.publicKey, signature: b64url(sig), signedAt, nonce };
  }

  // ---------- connection ----------
  function setStatus(kind, text) {
    el.status.dataset.state = kind;
    el.statusText.textContent = text;
    el.status.title = text;
  }

  function showNotice(text, kind = 'error') {
    el.notice.className = kind;
    el.notice.replaceChildren(...inline(text));
    el.notice.hidden = false;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    state.retryTimer = 0;
    if (!state.failure) setStatus(state.attempt ? 'reconnecting' : 'connecting', state.attempt ? 'Reconnecting…' : 'Connecting…');
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/ws');
    state.ws = ws;
    state.handshakeTimer = setTimeout(() => ws.close(), HANDSHAKE_TIMEOUT_MS);
    ws.onmessage = (ev) => { if (ws === state.ws) onFrame(ws, ev.data); };
    ws.onclose = () => { if (ws === state.ws) onClose(); };
  }

  function onFrame(ws, data) {
    state.lastRx = Date.now();
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    if (frame?.type === 'res') {
      const waiter = state.pending.get(frame.id);
      if (!waiter) return;
      state.pending.delete(frame.id);
      clearTimeout(waiter.timer);
      if (frame.ok) waiter.resolve(frame.payload || {});
      else waiter.reject(gatewayError(frame.error || {}));
    } else if (frame?.type === 'event') {
      onEvent(ws, frame.event, frame.payload || {});
    }
  }

  function request(method, params = {}, ws = state.ws, timeoutMs = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) { reject(new Error('not connected to the gateway')); return; }
      const id = String(state.nextId++);
      const timer = setTimeout(() => {
        state.pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      state.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ type: 'req', id, method, params }));
    });
  }

  function call(method, params) {
    if (!state.connected) return Promise.reject(new Error('not connected to the gateway'));
    return request(method, params);
  }

  async function handshake(ws, nonce) {
    if (typeof nonce !== 'string' || !nonce) return;
    try {
      const device = await signDevice(nonce);
      const hello = await request('connect', {
        minProtocol: 3, maxProtocol: 4,
        client: { id: CLIENT.id, version: CLIENT.version, platform: PLATFORM, mode: CLIENT.mode, deviceFamily: CLIENT.deviceFamily },
        // `pairing-wait`: the gateway holds the connect open until an operator answers, so an
        // approval lets this page in at once instead of at its next retry.
        role: ROLE, scopes: SCOPES, caps: ['pairing-wait', 'chat-delta-text', 'tool-events'],
        auth: {}, // the HttpOnly cookie carries the gateway token
        device,
      }, ws, PAIRING_WAIT_MS);
      if (ws === state.ws) onHello(hello);
    } catch (err) {
      if (ws === state.ws && err.gateway) onConnectFailed(err);
    }
  }

  function onHello(hello) {
    clearTimeout(state.handshakeTimer);
    Object.assign(state, { connected: true, attempt: 0, failure: null, ticking: false });
    state.tickMs = (hello.policy && hello.policy.tickIntervalMs) || 30000;
    el.notice.hidden = true;
    setStatus('connected', 'Connected');
    el.serverInfo.textContent = hello.server && hello.server.version ? `molt ${hello.server.version}` : '';
    updateControls();
    // Session list changes reach only clients that ask for them.
    call('sessions.subscribe', {}).catch((err) => console.warn('sessions.subscribe failed:', err.message));
    refreshSessions();
    loadHistory();
  }

  function onConnectFailed(err) {
    const code = err.code;
    if (code === 'AUTH_TOKEN_MISSING' || code === 'AUTH_TOKEN_MISMATCH') {
      state.failure = { status: 'Not authorized', retryMs: BACKOFF_CAP_MS };
      showNotice('Not authorized: this browser has no valid gateway token. Open the URL printed by `molt gateway` '
        + '(it carries the token) in this browser.');
    } else if (code === 'NOT_PAIRED' || code === 'PAIRING_REQUIRED') {
      state.failure = { status: 'Waiting for approval', retryMs: PAIRING_RETRY_MS };
      showNotice(`This browser (device ${state.device.id.slice(0, 12)}…) is waiting for approval. Approve it with `
        + '`molt pair approve` or on the admin page; this page keeps retrying and connects once approved.', 'info');
    } else {
      state.failure = { status: 'Connection refused', retryMs: Number(err.retryAfterMs) || null };
      showNotice(`The gateway refused the connection: ${err.message}`);
    }
    setStatus('error', state.failure.status);
  }

  function onClose() {
    clearTimeout(state.handshakeTimer);
    state.ws = null;
    state.connected = false;
    for (const waiter of state.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('connection closed'));
    }
    state.pending.clear();
    for (const run of [...state.runs.values()]) finishRun(run, 'interrupted: connection lost');
    updateControls();
    const base = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** state.attempt);
    const delay = (state.failure && state.failure.retryMs) || Math.round(base / 2 + Math.random() * base / 2);
    state.attempt += 1;
    const secs = Math.max(1, Math.round(delay / 1000));
    if (state.failure) setStatus('error', `${state.failure.status} · retrying in ${secs}s`);
    else setStatus('reconnecting', `Disconnected · retrying in ${secs}s`);
    state.retryTimer = setTimeout(connect, delay);
  }

  function onEvent(ws, name, payload) {
    switch (name) {
      case 'connect.challenge': handshake(ws, payload.nonce); break;
      case 'device.pair.pending':
        // The gateway holds this connect until an operator answers: no handshake timeout.
        clearTimeout(state.handshakeTimer);
        setStatus('connecting', 'Waiting for approval');
        showNotice(`This browser (device ${state.device.id.slice(0, 12)}…, request ${String(payload.requestId || '').slice(0, 8)}) `
          + 'is waiting for approval. Approve it with `molt pair approve` or on the admin page; this page connects the moment '
          + 'it is approved.', 'info');
        break;
      case 'chat': onChat(payload); break;
      case 'agent': onAgent(payload); break;
      case 'sessions.changed': scheduleRefresh(); break;
      case 'tick': state.ticking = true; break;
      case 'shutdown':
        showNotice(`The gateway is shutting down${payload.reason ? ` (${payload.reason})` : ''}. Reconnecting when it is back…`, 'info');
        break;
      default: break;
    }
  }

  // A half-open socket never closes by itself: once the server has shown it ticks, expect traffic.
  setInterval(() => {
    if (state.connected && state.ticking && Date.now() - state.lastRx > state.tickMs * 2.5) state.ws.close();
  }, 5000);

  // ---------- sessions ----------
  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(refreshSessions, 250);
  }

  async function refreshSessions() {
    try {
      const res = await call('sessions.list', {});
      state.sessions = Array.isArray(res.sessions) ? res.sessions : [];
      renderSessions();
    } catch (err) {
      console.warn('sessions.list failed:', err.message);
    }
  }

  function sessionLabel(s) {
    if (s.displayName) return s.displayName;
    if (s.key === DEFAULT_SESSION) return 'Main';
    if (!s.updatedAt && /:web-[0-9a-f]{8}$/.test(s.key)) return 'New chat';
    return s.key.split(':').pop() || s.key;
  }

  function relTime(ts) {
    const t = typeof ts === 'number' ? ts : Date.parse(ts);
    const mins = Math.round((Date.now() - t) / 60000);
    if (!t) return '';
    return mins < 1 ? 'now' : mins < 60 ? `${mins}m` : mins < 1440 ? `${Math.round(mins / 60)}h` : new Date(t).toLocaleDateString();
  }

  function renderSessions() {
    const list = [...state.sessions];
    if (!list.some((s) => s.key === state.sessionKey)) list.unshift({ key: state.sessionKey });
    el.sessions.replaceChildren(...list.map((s) => {
      const active = s.key === state.sessionKey;
      return h('li', { class: active ? 'session active' : 'session', 'data-key': s.key },
        h('button', { type: 'button', 'aria-current': active ? 'true' : null, title: s.key },
          h('span', { class: 'row' }, h('span', { class: 'label' }, sessionLabel(s)),
            h('span', { class: 'time' }, relTime(s.updatedAt))),
          s.lastMessagePreview ? h('span', { class: 'preview' }, String(s.lastMessagePreview)) : null));
    }));
    const current = list.find((s) => s.key === state.sessionKey);
    el.title.textContent = sessionLabel(current);
    document.title = `${sessionLabel(current)} · molt`;
  }

  function switchSession(key) {
    setSidebar(false);
    if (key === state.sessionKey) return;
    state.sessionKey = key;
    store.set('molt.session', key);
    state.runs.clear();
    el.messages.replaceChildren();
    renderSessions();
    updateControls();
    if (state.connected) loadHistory();
  }

  function newSession() {
    switchSession(`agent:main:web-${hex(crypto.getRandomValues(new Uint8Array(4)))}`);
    el.input.focus();
  }

  let resetArmed = 0; // Reset takes two clicks rather than confirm(): a dialog would block tests
  function armReset(on) {
    clearTimeout(resetArmed);
    resetArmed = on ? setTimeout(armReset, 3000, false) : 0;
    el.reset.textContent = on ? 'Really reset?' : 'Reset';
    el.reset.classList.toggle('armed', on);
  }

  async function resetSession() {
    const armed = Boolean(resetArmed);
    armReset(!armed);
    if (!armed) return;
    const key = state.sessionKey;
    try {
      await call('sessions.reset', { key });
      if (key === state.sessionKey) { state.runs.clear(); el.messages.replaceChildren(); loadHistory(); }
      scheduleRefresh();
    } catch (err) {
      addError(`Could not reset this chat: ${err.message}`);
    }
  }

  // ---------- transcript ----------
  function textOf(message) {
    if (!message) return '';
    const c = message.content;
    if (typeof c === 'string') return c;
    if (Array.isArray(c)) return c.filter((p) => p && p.type === 'text' && typeof p.text === 'string').map((p) => p.text).join('\n\n');
    return typeof message.text === 'string' ? message.text : '';
  }

  // Inline markup: `code`, **bold** and bare http(s) links. Only text nodes, never HTML.
  function inline(text) {
    const out = [];
    const re = /`([^`\n]+)`|\*\*([^*\n]+)\*\*|(https?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]])/g;
    let last = 0;
    for (const m of text.matchAll(re)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[1] != null) out.push(h('code', {}, m[1]));
      else if (m[2] != null) out.push(h('strong', {}, m[2]));
      else out.push(h('a', { href: m[3], target: '_blank', rel: 'noopener noreferrer' }, m[3]));
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  // Block markup: paragraphs (blank-line separated, newlines kept) and fenced code blocks.
  function renderText(text) {
    const out = [];
    const lines = text.replace(/\r\n?/g, '\n').split('\n');
    let para = [];
    const flush = () => {
      if (para.length) out.push(h('p', {}, ...inline(para.join('\n'))));
      para = [];
    };
    for (let i = 0; i < lines.length; i++) {
      const open = /^\s*(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
      if (!open) {
        if (lines[i].trim()) para.push(lines[i]); else flush();
        continue;
      }
      flush();
      const fence = open[1];
      const body = [];
      for (i++; i < lines.length; i++) {
        const t = lines[i].trim();
        if (t.startsWith(fence) && /^(`+|~+)$/.test(t) && t[0] === fence[0]) break;
        body.push(lines[i]);
      }
      const lang = open[2] || '';
      out.push(h('pre', { 'data-lang': lang || null },
        h('code', { class: lang ? `language-${lang}` : null }, body.join('\n'))));
    }
    flush();
    return out;
  }

  const nearBottom = () => el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 120;
  const scrollToBottom = () => { el.messages.scrollTop = el.messages.scrollHeight; };

  function messageRow(role, text, opts = {}) {
    const who = { user: 'You', assistant: 'molt', error: 'Error' }[role];
    const row = h('div', { class: `msg ${role}${opts.streaming ? ' streaming' : ''}` },
      h('div', { class: 'who' }, who), h('div', { class: 'tools' }), h('div', { class: 'body' }));
    if (opts.time) row.title = new Date(opts.time).toLocaleString();
    for (const call of opts.tools || []) toolChip(row, call.toolCallId, call.name, call.args, call.isError ? 'failed' : 'done', call.result);
    setBody(row, text, opts.note);
    return row;
  }

  // ---------- tool chips ----------
  const pretty = (value) => (typeof value === 'string' ? value : JSON.stringify(value ?? {}, null, 2));

  // One chip per tool call: its name and state; its input and result on click.
  function toolChip(row, id, name, args, status, result) {
    const tools = row.querySelector('.tools');
    let chip = [...tools.children].find((c) => c.dataset.callId === String(id));
    if (!chip) {
      chip = h('details', { class: 'tool', 'data-call-id': String(id) },
        h('summary', {}, h('span', { class: 'tool-name' }, String(name || 'tool')), h('span', { class: 'tool-status' })),
        h('div', { class: 'tool-label' }, 'Input'), h('pre', { class: 'tool-args' }, pretty(args)));
      tools.append(chip);
    }
    chip.classList.remove('running', 'done', 'failed');
    chip.classList.add(status);
    chip.querySelector('.tool-status').textContent = status;
    if (result != null && !chip.querySelector('.tool-result')) {
      chip.append(h('div', { class: 'tool-label' }, status === 'failed' ? 'Error' : 'Result'),
        h('pre', { class: 'tool-result' }, String(result)));
    }
  }

  function onAgent(p) {
    if (!p || p.stream !== 'tool' || !p.runId || p.sessionKey !== state.sessionKey || !p.data) return;
    const run = ensureRun(p.runId, p.sessionKey);
    if (!run) return;
    const d = p.data;
    const stick = nearBottom();
    if (d.phase === 'start') toolChip(run.row, d.toolCallId, d.name, d.args, 'running');
    else if (d.phase === 'result') toolChip(run.row, d.toolCallId, d.name, null, d.isError ? 'failed' : 'done', d.result ?? '');
    if (stick) scrollToBottom();
  }

  function setBody(row, text, note) {
    const body = row.querySelector('.body');
    body.replaceChildren(...(row.classList.contains('error') ? [h('p', {}, ...inline(text))] : renderText(text)));
    if (note) body.append(h('div', { class: 'note' }, note));
  }

  function appendRow(row) {
    const stick = nearBottom();
    el.messages.append(row);
    if (stick || row.classList.contains('user')) scrollToBottom();
  }

  function addError(text) { appendRow(messageRow('error', text)); }

  async function loadHistory() {
    const key = state.sessionKey;
    const gen = ++state.historyGen;
    el.messages.replaceChildren(...[...state.runs.values()].map((r) => r.row));
    try {
      const res = await call('chat.history', { sessionKey: key, limit: 200 });
      if (gen !== state.historyGen) return;
      const rows = (Array.isArray(res.messages) ? res.messages : [])
        .filter((m) => m && (m.role === 'user' || m.role === 'assistant'))
        .map((m) => messageRow(m.role, textOf(m), {
          time: m.timestamp, note: m.stopReason === 'aborted' ? 'stopped' : null, tools: Array.isArray(m.tools) ? m.tools : [],
        }));
      el.messages.prepend(...rows); // rows sent while loading stay below the history
      scrollToBottom();
    } catch (err) {
      if (gen === state.historyGen && state.connected) addError(`Could not load this chat's history: ${err.message}`);
    }
  }

  function ensureRun(runId, sessionKey) {
    let run = state.runs.get(runId);
    if (!run && !state.doneRuns.has(runId)) {
      run = { runId, sessionKey, row: messageRow('assistant', '', { streaming: true }), text: '', seq: -1, raf: 0 };
      state.runs.set(runId, run);
      appendRow(run.row);
      updateControls();
    }
    return run;
  }

  function renderRun(run) {
    if (run.raf) return;
    run.raf = requestAnimationFrame(() => {
      run.raf = 0;
      const stick = nearBottom();
      setBody(run.row, run.text);
      if (stick) scrollToBottom();
    });
  }

  function finishRun(run, note) {
    cancelAnimationFrame(run.raf);
    state.runs.delete(run.runId);
    state.doneRuns.add(run.runId);
    if (state.doneRuns.size > 500) state.doneRuns.delete(state.doneRuns.values().next().value);
    run.row.classList.remove('streaming');
    const stick = nearBottom();
    setBody(run.row, run.text, note);
    if (stick) scrollToBottom();
    updateControls();
  }

  function onChat(p) {
    if (!p || !p.runId || p.sessionKey !== state.sessionKey) return;
    const run = ensureRun(p.runId, p.sessionKey);
    if (!run) return;
    const full = p.message ? textOf(p.message) : '';
    switch (p.state) {
      case 'delta': {
        if (typeof p.seq === 'number') {
          if (p.seq <= run.seq) return;
          run.seq = p.seq;
        }
        const piece = p.deltaText ?? p.delta;
        run.text = full || run.text + (typeof piece === 'string' ? piece : '');
        renderRun(run);
        break;
      }
      case 'final':
      case 'aborted':
        if (full) run.text = full;
        finishRun(run, p.state === 'aborted' ? 'stopped' : run.text ? null : 'no text reply');
        scheduleRefresh();
        break;
      case 'error':
        if (full) run.text = full;
        finishRun(run);
        if (!run.text) run.row.remove();
        addError(`${p.errorMessage || 'The assistant could not reply.'}${p.errorKind ? ` (${p.errorKind})` : ''}`);
        break;
      default: break;
    }
  }

  // ---------- composer ----------
  const currentRun = () => [...state.runs.values()].pop() || null;

  function updateControls() {
    el.abort.hidden = !currentRun();
    el.send.disabled = !state.connected || !el.input.value.trim();
    el.reset.disabled = !state.connected;
  }

  function autosize() {
    el.input.style.height = 'auto';
    const border = el.input.offsetHeight - el.input.clientHeight;
    el.input.style.height = `${Math.min(el.input.scrollHeight + border, 240)}px`;
  }

  async function sendMessage() {
    const text = el.input.value.trim();
    if (!text || !state.connected) return;
    const key = state.sessionKey;
    el.input.value = '';
    autosize();
    updateControls();
    appendRow(messageRow('user', text, { time: Date.now() }));
    try {
      const res = await call('chat.send', { sessionKey: key, message: text, idempotencyKey: crypto.randomUUID() });
      if (key === state.sessionKey && res.runId) ensureRun(res.runId, key);
    } catch (err) {
      if (key === state.sessionKey) addError(`Message not sent: ${err.message}`);
      if (!el.input.value) { el.input.value = text; autosize(); updateControls(); }
    }
  }

  async function abortRun() {
    const run = currentRun();
    if (!run) return;
    el.abort.disabled = true;
    try {
      await call('chat.abort', { sessionKey: run.sessionKey, runId: run.runId });
      // The `aborted` event normally ends the row; do not leave it spinning if none comes.
      setTimeout(() => { if (state.runs.get(run.runId) === run) finishRun(run, 'stopped'); }, 5000);
    } catch (err) {
      addError(`Could not stop the reply: ${err.message}`);
    } finally {
      el.abort.disabled = false;
    }
  }

  function setSidebar(open) { // narrow screens only: the sidebar slides over the chat
    document.body.classList.toggle('sidebar-open', open);
    el.backdrop.hidden = !open;
  }

  // ---------- wiring ----------
  el.composer.addEventListener('submit', (e) => { e.preventDefault(); sendMessage(); });
  el.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendMessage();
    }
  });
  el.input.addEventListener('input', () => { autosize(); updateControls(); });
  el.abort.addEventListener('click', abortRun);
  el.newSession.addEventListener('click', newSession);
  el.reset.addEventListener('click', resetSession);
  el.sessions.addEventListener('click', (e) => {
    const item = e.target.closest('.session');
    if (item) switchSession(item.dataset.key);
  });
  el.menu.addEventListener('click', () => setSidebar(true));
  el.backdrop.addEventListener('click', () => setSidebar(false));
  window.addEventListener('hashchange', async () => { // a token URL pasted into an open tab
    if (!(await exchangeToken()) || !state.device) return;
    Object.assign(state, { failure: null, attempt: 0 });
    if (state.ws) state.ws.close(); else connect();
  });
  window.addEventListener('online', () => { if (!state.ws && state.retryTimer) connect(); });

  window.molt = {
    state: () => ({ connected: state.connected, sessionKey: state.sessionKey, streaming: Boolean(currentRun()) }),
  };

  async function boot() {
    await exchangeToken();
    renderSessions();
    updateControls();
    try { state.device = await loadDevice(); } catch (err) {
      setStatus('error', 'Cannot identify this browser');
      showNotice(err.message);
      return;
    }
    connect();
  }

  boot();
})();
