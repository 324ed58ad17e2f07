// In-page side panel: a content script in the top frame of the page hosting the softphone.
//
// During a ringing or active call it shows the caller's matched contacts per integration and
// lets the rep pick whom to log the call to ("Log this call"); after hang-up it shows when the
// picks will be logged with a "Log now" button; it holds the call's notes editor. Between calls
// it collapses to a small tab.
//
// What it keeps to (see docs/intents.md):
// - It decides nothing. It learns which call is on screen from the softphone bridge, which hands
//   it what the worker decoded from each softphone message it accepted (the call id and what
//   happened, never the softphone's own message), then asks the worker for that call's view
//   (`call`) and shows it. Statuses and their words, details, what can be picked: all come from
//   the worker's answers.
// - It lives in a closed shadow root under a host element whose position is set with
//   !important inline styles: the page's scripts cannot read the rep's contacts and notes in it,
//   the page's CSS cannot restyle or hide it by accident, and its own CSS cannot leak out. The
//   root is kept only in this content script's isolated world (`__calltrailPanel.root`, where
//   DevTools and the tests' panel driver find it), which no page script can reach. Every handler
//   still ignores synthetic events (`event.isTrusted`): only the rep's real clicks and keys act.
//   The worker checks every message again anyway (content scripts may act only on calls their
//   tab reported).
// - Server mode (the settings name a Calltrail server): the server logs its CRMs, so it also
//   asks the worker for the server's view of the call (`server-call`, every few seconds while
//   the call is on screen and the server still works on it) and shows one slot per CRM the
//   server logs to, labelled "(server)", with the server's status words and the contacts the
//   server's call pop matched, pickable like the local ones (the worker forwards those picks).
//   A server that cannot be reached shows a line saying so.
// - Its design tokens and formatting are the pages' own files (extension/lib/tokens.css and
//   format.js, web-accessible for this), adopted into the shadow root and imported.
(() => {
  if (window.top !== window) return;
  if (globalThis.__calltrailPanel) return; // injected twice into the same world
  const self = (globalThis.__calltrailPanel = { root: null });
  // A panel of the extension this one replaces (an update or reload) can no longer reach the
  // worker: this one takes its place.
  for (const old of document.querySelectorAll('[data-calltrail="panel"]')) old.remove();

  /* ------------------------------------------------------------------ styles */
  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.root { font: var(--ct-text-m)/1.45 var(--ct-font); color: var(--ct-text); -webkit-font-smoothing: antialiased; }
button, textarea, input { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid var(--ct-focus); outline-offset: 2px; }
.tab { display: inline-flex; align-items: center; gap: var(--ct-space-2); padding: 8px 14px 8px 8px;
  border: 1px solid var(--ct-border); border-radius: 999px; background: var(--ct-surface); color: var(--ct-text);
  box-shadow: var(--ct-shadow-l); cursor: pointer; font-weight: 600; }
.tab:hover { border-color: var(--ct-border-strong); }
.tab .sub { font-weight: 400; color: var(--ct-text-2); font-size: var(--ct-text-s); }
.dot { width: 8px; height: 8px; border-radius: 50%; background: var(--ct-border-strong); flex: none; }
.dot.live { background: var(--ct-success); box-shadow: 0 0 0 3px var(--ct-success-soft); }
.dot.ring { background: var(--ct-warning); box-shadow: 0 0 0 3px var(--ct-warning-soft); animation: pulse 1.2s ease-in-out infinite; }
.dot.wait { background: var(--ct-info); }
@keyframes pulse { 50% { box-shadow: 0 0 0 6px var(--ct-warning-soft); } }
@media (prefers-reduced-motion: reduce) { .dot.ring, .spin { animation: none !important; } }
.logo { width: 24px; height: 24px; flex: none; display: block; }
.panel { width: 344px; max-height: min(640px, calc(100vh - 32px)); display: flex; flex-direction: column;
  background: var(--ct-surface); border: 1px solid var(--ct-border); border-radius: var(--ct-radius-l);
  box-shadow: var(--ct-shadow-l); overflow: hidden; }
.head { display: flex; align-items: center; gap: var(--ct-space-2); padding: 10px 10px 10px 14px;
  border-bottom: 1px solid var(--ct-border); background: var(--ct-surface-2); }
.brand { font-weight: 700; letter-spacing: -0.01em; }
.head .spacer { flex: 1; }
.icon-btn { width: 32px; height: 32px; display: inline-grid; place-items: center; border: 0; border-radius: var(--ct-radius-s);
  background: transparent; cursor: pointer; color: var(--ct-text-2); }
.icon-btn:hover { background: var(--ct-muted-soft); color: var(--ct-text); }
.body { overflow: auto; padding: var(--ct-space-4); display: grid; gap: var(--ct-space-4); }
.caller { display: grid; gap: 2px; }
.caller .number { font-size: var(--ct-text-xl); font-weight: 650; letter-spacing: -0.01em; font-variant-numeric: tabular-nums; }
.caller .meta { color: var(--ct-text-2); font-size: var(--ct-text-s); display: flex; gap: var(--ct-space-2); align-items: center; flex-wrap: wrap; }
.chip { display: inline-flex; align-items: center; gap: 4px; padding: 1px 8px; border-radius: 999px; font-size: var(--ct-text-xs);
  font-weight: 600; background: var(--ct-muted-soft); color: var(--ct-text-2); white-space: nowrap; }
.chip.success { background: var(--ct-success-soft); color: var(--ct-success); }
.chip.warning { background: var(--ct-warning-soft); color: var(--ct-warning); }
.chip.danger { background: var(--ct-danger-soft); color: var(--ct-danger); }
.chip.info { background: var(--ct-info-soft); color: var(--ct-info); }
.chip.accent { background: var(--ct-accent-soft); color: var(--ct-accent); }
.section-title { font-size: var(--ct-text-xs); font-weight: 700; text-transform: uppercase; letter-spacing: 0.06em; color: var(--ct-text-2); margin: 0; }
.integ { border: 1px solid var(--ct-border); border-radius: var(--ct-radius); padding: 10px 12px; margin: 0; min-width: 0; }
.integ + .integ { margin-top: var(--ct-space-2); }
.integ legend { padding: 0; float: left; width: 100%; display: flex; align-items: center; justify-content: space-between; gap: var(--ct-space-2); font-weight: 600; }
.integ legend + * { clear: both; }
.integ .detail { color: var(--ct-text-2); font-size: var(--ct-text-s); margin: 6px 0 0; clear: both; }
.contacts { list-style: none; margin: 8px 0 0; padding: 0; display: grid; gap: 4px; clear: both; }
.contact { display: flex; align-items: center; gap: var(--ct-space-2); padding: 6px 8px; border-radius: var(--ct-radius-s); }
.contact:hover { background: var(--ct-surface-2); }
.contact input { width: 16px; height: 16px; accent-color: var(--ct-accent); margin: 0; flex: none; }
.contact label { flex: 1; min-width: 0; cursor: pointer; display: grid; }
.contact .name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.contact .type { color: var(--ct-text-2); font-size: var(--ct-text-xs); }
.contact a, .link { color: var(--ct-accent); font-size: var(--ct-text-s); text-decoration: none; font-weight: 600; white-space: nowrap; }
.contact a:hover, .link:hover { text-decoration: underline; }
.searching { display: flex; align-items: center; gap: 8px; color: var(--ct-text-2); font-size: var(--ct-text-s); margin-top: 6px; clear: both; }
.spin { width: 14px; height: 14px; border-radius: 50%; border: 2px solid var(--ct-border); border-top-color: var(--ct-accent); animation: spin 0.8s linear infinite; flex: none; }
@keyframes spin { to { transform: rotate(360deg); } }
.actions { display: flex; gap: var(--ct-space-2); flex-wrap: wrap; align-items: center; }
.btn { display: inline-flex; align-items: center; justify-content: center; gap: 6px; min-height: 36px; padding: 0 14px;
  border-radius: var(--ct-radius-s); border: 1px solid var(--ct-border-strong); background: var(--ct-surface); color: var(--ct-text);
  font-weight: 600; cursor: pointer; }
.btn:hover { background: var(--ct-surface-2); }
.btn.primary { background: var(--ct-accent); border-color: var(--ct-accent); color: var(--ct-on-accent); }
.btn.primary:hover { background: var(--ct-accent-hover); border-color: var(--ct-accent-hover); }
.btn[disabled] { opacity: 0.55; cursor: not-allowed; }
.hint { color: var(--ct-text-2); font-size: var(--ct-text-s); margin: 0; }
.banner { border-radius: var(--ct-radius); padding: 10px 12px; font-size: var(--ct-text-s); background: var(--ct-info-soft); color: var(--ct-text); border-left: 3px solid var(--ct-info); }
.banner.success { background: var(--ct-success-soft); border-left-color: var(--ct-success); }
.banner.danger { background: var(--ct-danger-soft); border-left-color: var(--ct-danger); }
.banner strong { display: block; margin-bottom: 2px; }
.countdown { font-variant-numeric: tabular-nums; font-weight: 700; }
.notes textarea { width: 100%; min-height: 96px; resize: vertical; padding: 8px 10px; border-radius: var(--ct-radius-s);
  border: 1px solid var(--ct-border-strong); background: var(--ct-surface); color: var(--ct-text); }
.notes label { font-weight: 600; display: block; margin-bottom: 6px; }
.notes .saved { white-space: pre-wrap; background: var(--ct-surface-2); border-radius: var(--ct-radius-s); padding: 8px 10px; margin: 0 0 8px; font-size: var(--ct-text-s); }
.empty { text-align: center; color: var(--ct-text-2); padding: var(--ct-space-4) 0; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

  // The mark, built with DOM calls (no HTML parsing in a page that may enforce Trusted Types).
  function logo() {
    const ns = 'http://www.w3.org/2000/svg';
    const el = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); return e; };
    const svg = el('svg', { class: 'logo', viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' });
    svg.append(
      el('rect', { width: '24', height: '24', rx: '6', fill: 'var(--ct-accent)' }),
      el('path', { d: 'M6.5 8h11', stroke: 'var(--ct-on-accent)', 'stroke-width': '2.4', 'stroke-linecap': 'round' }),
      el('circle', { cx: '7.5', cy: '15.5', r: '1.7', fill: 'var(--ct-on-accent)' }),
      el('circle', { cx: '12', cy: '15.5', r: '1.45', fill: 'var(--ct-on-accent)', opacity: '0.8' }),
      el('circle', { cx: '16.2', cy: '15.5', r: '1.15', fill: 'var(--ct-on-accent)', opacity: '0.6' }));
    return svg;
  }

  /* ------------------------------------------------------------------ state */
  const POLL_MS = 1000;
  const SERVER_POLL_MS = 3000;
  const SERVER_FOLLOW_MS = 10 * 60_000; // after the call ended, the server's view is followed this long at most
  const AUTO_COLLAPSE_MS = 30_000; // after a settled call, unless the rep is in the panel

  const st = {
    callId: null,
    seenAt: 0,
    view: null,
    viewError: null,
    expanded: false,
    picks: new Map(), // integration id -> Set of contact ids
    pickedSent: new Set(), // integrations whose picks the worker has
    notesEditing: false,
    message: null, // {tone, title, text}
    busy: false,
    settledAt: 0,
    contextGone: false,
    // What the bridge says of the worker: whether events reach it, and why not.
    logging: true,
    notLoggingReason: null,
    // Server mode: whether the worker forwards to a server, and the server's view of the call.
    serverMode: false,
    server: null, // { view (null: not heard of yet), error }
    lastServer: null,
  };
  let pollTimer = 0;
  let serverTimer = 0;
  let tickTimer = 0;

  /* ------------------------------------------------------------------ worker */
  async function ask(message) {
    try {
      const answer = await chrome.runtime.sendMessage(message);
      return answer || { ok: false, error: 'no answer from Calltrail' };
    } catch (e) {
      // The extension was reloaded or updated: this script is orphaned until the page reloads.
      st.contextGone = true;
      return { ok: false, error: 'Calltrail was updated: reload this page to use the panel.' };
    }
  }

  const engine = (input) => ask({ type: 'engine', input });

  async function refresh() {
    if (!st.callId) return;
    const id = st.callId;
    const answer = await ask({ type: 'call', call: id });
    if (id !== st.callId) return; // another call started meanwhile
    // Re-render only when the worker's answer changed: a poll must not disturb the rep's typing.
    const text = JSON.stringify(answer);
    if (text !== st.lastAnswer) {
      st.lastAnswer = text;
      if (answer.ok) {
        st.view = answer.data;
        st.viewError = null;
      } else {
        st.viewError = answer.error;
      }
      render();
    }
    schedulePoll();
  }

  function isSettled(view) {
    if (!view || !view.call || view.call.ended_at == null) return false;
    return ![...view.slots, ...serverSlots()].some((s) => s.status === 'scheduled' || s.status === 'in_progress');
  }

  /** The server's slots for the call on screen, keyed apart from local ones (`server:<id>`). */
  function serverSlots() {
    const slots = st.server?.view?.slots || [];
    return slots.map((s) => ({ ...s, key: `server:${s.integration}`, label: `${s.label} (server)` }));
  }

  /** Server mode: the server's view of the call, while it is on screen and the server works on it. */
  async function refreshServer() {
    clearTimeout(serverTimer);
    if (!st.callId || !st.serverMode || st.contextGone) return;
    const id = st.callId;
    const answer = await ask({ type: 'server-call', call: id });
    if (id !== st.callId) return;
    const text = JSON.stringify(answer);
    if (text !== st.lastServer) {
      st.lastServer = text;
      // Unreachable: the last view stays, with a line saying the server cannot be reached.
      st.server = answer.ok ? { view: answer.data, error: null } : { view: st.server?.view ?? null, error: answer.error };
      render();
    }
    const ended = st.view?.call?.ended_at;
    const sv = st.server?.view;
    // The server says whether anything is still to happen to the call (`in_motion`, the core's).
    const done = ended != null && sv && !sv.in_motion;
    if (!done && !(ended != null && Date.now() - ended > SERVER_FOLLOW_MS)) serverTimer = setTimeout(refreshServer, SERVER_POLL_MS);
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (!st.callId || st.contextGone) return;
    const settled = isSettled(st.view);
    if (settled && !st.settledAt) st.settledAt = Date.now();
    if (!settled) st.settledAt = 0;
    // Keep polling while the call is on, while something is scheduled, and a little after.
    if (!settled || Date.now() - st.settledAt < 5000) pollTimer = setTimeout(refresh, POLL_MS);
    else maybeAutoCollapse();
  }

  function maybeAutoCollapse() {
    setTimeout(() => {
      if (!st.expanded || st.notesEditing || !isSettled(st.view)) return;
      if (Date.now() - st.settledAt < AUTO_COLLAPSE_MS) return maybeAutoCollapse();
      if (shadow.activeElement) return; // the rep is working in the panel
      setExpanded(false);
    }, AUTO_COLLAPSE_MS);
  }

  /* ------------------------------------------------------------------ softphone events */
  // What the worker decoded from an accepted softphone message, handed over by the bridge on the
  // content scripts' own bus (a global of this isolated world: page scripts cannot reach it).
  const bus = (globalThis.__calltrailBus ||= new EventTarget());
  bus.addEventListener('status', (event) => {
    const { logging, reason } = event.detail || {};
    if (logging === st.logging && (reason || null) === st.notLoggingReason) return;
    st.logging = logging !== false;
    st.notLoggingReason = st.logging ? null : reason || 'Calltrail is not logging';
    if (!st.logging && !st.expanded) setExpanded(true, { focus: false });
    else render();
  });
  bus.addEventListener('decoded', (event) => {
    const { kind, call } = event.detail || {};
    if (typeof call !== 'string' || !kind.startsWith('call_')) return;
    if (call !== st.callId) {
      // Only a call that starts takes the panel from one still under way.
      const starts = kind === 'call_ringing' || kind === 'call_answered';
      if (st.callId && st.view && !isSettled(st.view) && !starts) return;
      newCall(call);
    }
    // The worker answered the bridge once the event was saved: the view is up to date.
    clearTimeout(pollTimer);
    refresh();
  });

  function newCall(id) {
    clearTimeout(serverTimer);
    st.server = null;
    st.lastServer = null;
    st.callId = id;
    st.seenAt = Date.now();
    st.view = null;
    st.viewError = null;
    st.picks = new Map();
    st.pickedSent = new Set();
    st.notesEditing = false;
    st.message = null;
    st.settledAt = 0;
    st.lastAnswer = null;
    setExpanded(true, { focus: false });
    // Whether a server logs for this rep is the worker's to say (its header state).
    ask({ type: 'state' }).then((answer) => {
      if (id !== st.callId) return;
      st.serverMode = Boolean(answer.ok && answer.data && answer.data.server);
      if (st.serverMode) refreshServer();
    });
  }

  /* ------------------------------------------------------------------ DOM */
  const host = document.createElement('div');
  host.setAttribute('data-calltrail', 'panel');
  // In Calltrail's side panel the panel sits in the place the page keeps for it; on a web page
  // it floats above the page, where the page's CSS cannot move or hide it.
  const dock = document.querySelector('[data-calltrail-dock]');
  const hostStyle = dock
    ? { all: 'initial', display: 'block', position: 'relative', width: '100%' }
    : {
      all: 'initial', position: 'fixed', left: '16px', bottom: '16px', 'z-index': '2147483646',
      display: 'block', width: 'auto', height: 'auto', margin: '0', padding: '0', border: '0',
      transform: 'none', opacity: '1', visibility: 'visible', contain: 'layout style',
    };
  for (const [k, v] of Object.entries(hostStyle)) host.style.setProperty(k, v, 'important');
  const shadow = host.attachShadow({ mode: 'closed' });
  self.root = shadow;
  // The pages' tokens (a web-accessible file), then the panel's own rules.
  const tokens = document.createElement('link');
  tokens.rel = 'stylesheet';
  tokens.href = chrome.runtime.getURL('extension/lib/tokens.css');
  const style = document.createElement('style');
  style.textContent = CSS;
  shadow.append(tokens, style);
  // The pages' formatting: loaded once, used by every render after it arrived.
  let fmt = null;
  import(chrome.runtime.getURL('extension/lib/format.js')).then((m) => { fmt = m; render(); }, () => {});

  const h = (tag, attrs = {}, ...children) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), trusted(v));
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c != null && c !== false) el.append(c);
    return el;
  };
  // Only the rep's own input acts: a page script cannot see into the closed root, but it can
  // still dispatch events at the host and focus it.
  const trusted = (fn) => (e) => { if (e.isTrusted) fn(e); };

  const root = h('div', { class: 'root' });
  const tab = h('button', { type: 'button', class: 'tab', 'aria-expanded': 'false', 'aria-controls': 'ct-panel', onclick: () => setExpanded(true) });
  const panel = h('section', { id: 'ct-panel', class: 'panel', role: 'region', 'aria-label': 'Calltrail call panel', hidden: true });
  const live = h('div', { class: 'sr', 'aria-live': 'polite' });
  root.append(tab, panel, live);
  shadow.append(root);
  panel.addEventListener('keydown', trusted((e) => { if (e.key === 'Escape') setExpanded(false); }));

  function setExpanded(on, { focus = true } = {}) {
    st.expanded = on;
    render();
    if (focus) (on ? panel.querySelector('.head button, button, [href], input, textarea') : tab)?.focus();
    clearInterval(tickTimer);
    if (on) tickTimer = setInterval(tick, 1000);
  }

  function mount() {
    if (!host.isConnected) (document.querySelector('[data-calltrail-dock]') || document.body || document.documentElement).append(host);
    render();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mount, { once: true });
  else mount();

  /* ------------------------------------------------------------------ render */
  // The dot beside the call's phase (crates/core/src/view.rs `Phase`).
  const PHASE_DOT = { ringing: 'ring', on_call: 'live', ended: '' };

  function phaseOf(view) {
    if (!view) return { label: 'Looking up caller', dot: 'wait' };
    return { label: view.phase_word, dot: PHASE_DOT[view.phase] ?? '' };
  }

  function elapsedText(view) {
    const c = view?.call;
    if (!c || !fmt) return '';
    const from = c.answered_at ?? c.started_at;
    const to = c.ended_at ?? Date.now();
    return fmt.duration((to - from) / 1000);
  }

  const formatNumber = (e164) => (fmt ? fmt.phone(e164) : e164 || 'Unknown number');

  /** "in 2:41" until a scheduled log's due time (the worker says when). */
  function countdown(due) {
    const secs = Math.max(0, Math.round((due - Date.now()) / 1000));
    return `in ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
  }

  function tick() {
    const meta = shadow.querySelector('[data-elapsed]');
    if (meta && st.view) meta.textContent = elapsedText(st.view);
    const sub = tab.querySelector('.sub');
    if (sub && st.view && st.view.call.ended_at == null) sub.textContent = `${phaseOf(st.view).label} · ${elapsedText(st.view)}`;
    const cd = shadow.querySelector('[data-due]');
    if (cd) cd.textContent = countdown(Number(cd.getAttribute('data-due')));
  }

  function render() {
    const active = shadow.activeElement;
    const focusKey = active?.getAttribute('data-key');
    const caret = active && active.tagName === 'TEXTAREA' ? [active.selectionStart, active.selectionEnd] : null;
    const phase = phaseOf(st.view);
    // The tab.
    tab.hidden = st.expanded;
    tab.setAttribute('aria-expanded', String(st.expanded));
    tab.replaceChildren(
      logo(),
      h('span', { class: `dot ${st.callId ? phase.dot : ''}` }),
      h('span', { text: 'Calltrail' }),
      h('span', { class: 'sub', text: !st.logging ? 'Not logging' : !st.callId ? 'No call' : st.view && st.view.call.ended_at == null ? `${phase.label} · ${elapsedText(st.view)}` : phase.label }),
    );
    tab.setAttribute('aria-label', `Open Calltrail panel${st.callId ? ` (${phase.label})` : ''}`);
    panel.hidden = !st.expanded;
    if (!st.expanded) return;

    const head = h('div', { class: 'head' },
      logo(),
      h('span', { class: 'brand', text: 'Calltrail' }),
      st.callId ? h('span', { class: `chip ${phase.dot === 'live' ? 'success' : phase.dot === 'ring' ? 'warning' : ''}` }, h('span', { class: `dot ${phase.dot}` }), phase.label) : null,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'icon-btn', 'data-key': 'collapse', 'aria-label': 'Minimise Calltrail panel', title: 'Minimise (Esc)', onclick: () => setExpanded(false) },
        svgIcon('M5 12h14')),
    );
    const body = h('div', { class: 'body' });
    panel.replaceChildren(head, body);
    if (!st.logging) body.append(banner('danger', 'Calltrail is not logging', `${st.notLoggingReason}. Calls are kept here and logged once it is back.`));

    if (!st.callId) {
      body.append(h('div', { class: 'empty' },
        h('p', { text: 'No call right now.' }),
        h('p', { class: 'hint', text: 'When a call rings, the caller’s contacts in each CRM show here, so you can choose where it is logged.' })));
      return restoreFocus(focusKey, caret);
    }
    if (st.contextGone) {
      body.append(banner('danger', 'Calltrail was updated', 'Reload this page to use the panel again.'));
      return restoreFocus(focusKey, caret);
    }
    const v = st.view;
    if (!v) {
      body.append(h('div', { class: 'searching' }, h('span', { class: 'spin', 'aria-hidden': 'true' }), 'Looking up the call…'));
      if (st.viewError && Date.now() - st.seenAt > 5000) body.append(banner('danger', 'Calltrail has no record of this call', st.viewError));
      return restoreFocus(focusKey, caret);
    }
    const c = v.call;
    const ended = c.ended_at != null;
    body.append(h('div', { class: 'caller' },
      h('div', { class: 'number', text: formatNumber(c.their_number) }),
      h('div', { class: 'meta' },
        h('span', { text: c.direction === 'outbound' ? 'Outbound' : 'Inbound' }), h('span', { 'aria-hidden': 'true', text: '·' }),
        h('span', { 'data-elapsed': '', 'aria-label': 'Duration', text: elapsedText(v) }))));

    if (st.message) body.append(banner(st.message.tone, st.message.title, st.message.text));

    const section = h('div', {}, h('h2', { class: 'section-title', text: ended ? 'Where this call goes' : 'Matched contacts' }));
    for (const slot of v.slots) section.append(integrationBlock(v, slot, ended));
    const fromServer = serverSlots();
    for (const slot of fromServer) section.append(integrationBlock(v, slot, ended));
    if (st.serverMode) section.append(serverLine());
    else if (!v.slots.length) section.append(h('p', { class: 'hint', text: 'No CRM is set up yet. Add one in Calltrail’s settings.' }));
    body.append(section);

    const actions = h('div', { class: 'actions' });
    const pickable = [...v.slots, ...fromServer].some((s) => s.can_pick);
    if (!ended && pickable) {
      const count = [...st.picks.values()].reduce((n, set) => n + set.size, 0);
      actions.append(h('button', { type: 'button', class: 'btn primary', 'data-key': 'log-this', disabled: st.busy || (count === 0 && st.pickedSent.size === 0), onclick: logThisCall },
        st.pickedSent.size ? 'Update picks' : 'Log this call'));
    }
    // "Log now" where a pick is waiting for the active-call delay.
    const waiting = [...v.slots, ...fromServer].filter((s) => s.can_log_now);
    if (ended && waiting.length) {
      actions.append(h('button', { type: 'button', class: 'btn primary', 'data-key': 'log-now', disabled: st.busy, onclick: logNow }, 'Log now'));
    }
    if (actions.childElementCount) body.append(actions);
    if (!ended && pickable) body.append(h('p', { class: 'hint', text: st.pickedSent.size
      ? 'Your picks are saved. The call is logged to them a few minutes after hang-up, with your notes.'
      : 'Pick the contacts to log this call to. It is logged to them a few minutes after hang-up, with your notes.' }));
    if (ended && waiting.length) {
      body.append(h('p', { class: 'hint' }, 'Logging to your picks ', h('span', { class: 'countdown', 'data-due': String(waiting[0].due), text: countdown(waiting[0].due) }), ' — or now, if you are done.'));
    }
    body.append(notesBlock(v));
    restoreFocus(focusKey, caret);
  }

  /** What the panel says of the server when it has no slots to show, or cannot reach it. */
  function serverLine() {
    if (st.server?.error) return banner('danger', 'The Calltrail server cannot be reached', `${st.server.error}. Its CRMs log this call once it answers; your picks and notes wait for it.`);
    if (!st.server) return h('div', { class: 'searching' }, h('span', { class: 'spin', 'aria-hidden': 'true' }), 'Asking the Calltrail server…');
    if (!st.server.view) return h('div', { class: 'searching' }, h('span', { class: 'spin', 'aria-hidden': 'true' }), 'Waiting for the Calltrail server to hear of this call…');
    return st.server.view.slots.length ? null : h('p', { class: 'hint', text: 'The Calltrail server logs to no CRM for you.' });
  }

  function restoreFocus(key, caret) {
    if (!key) return;
    const el = shadow.querySelector(`[data-key="${CSS_escape(key)}"]`);
    if (el && !el.disabled) {
      el.focus();
      if (caret && el.setSelectionRange) el.setSelectionRange(caret[0], caret[1]);
    }
    else if (st.expanded) panel.querySelector('[data-key="collapse"]')?.focus();
  }
  const CSS_escape = (s) => (window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&'));

  function integrationBlock(v, slot, ended) {
    const key = slot.key || slot.integration;
    const fs = h('fieldset', { class: 'integ', 'data-integration': key });
    fs.append(h('legend', {}, h('span', { text: slot.label }), h('span', { class: `chip ${slot.tone}`, text: slot.word })));
    // The server's engine refused the rep's last request here: say why.
    if (slot.refused) fs.append(h('p', { class: 'detail', 'data-refused': slot.refused.what, text: slot.refused.words }));
    const picking = !ended && slot.status === 'not_logged';
    if (!picking || !slot.matches || !slot.matches.length) {
      fs.append(slot.searching
        ? h('div', { class: 'searching' }, h('span', { class: 'spin', 'aria-hidden': 'true' }), slot.detail)
        : h('p', { class: 'detail', text: slot.detail }));
      if (!picking && slot.contacts.length) {
        fs.append(h('ul', { class: 'contacts' }, slot.contacts.map((ct) => h('li', { class: 'contact' },
          h('span', { class: 'name', text: ct.name }),
          ct.url ? h('a', { href: ct.url, target: '_blank', rel: 'noopener noreferrer', 'data-key': `open-${key}-${ct.id}` }, `Open in ${slot.label}`, h('span', { class: 'sr', text: ` (${ct.name})` })) : null))));
      }
      return fs;
    }
    const set = st.picks.get(key) || new Set();
    fs.append(h('ul', { class: 'contacts' }, slot.matches.map((ct) => {
      const id = `pick-${key}-${ct.id}`.replace(/[^\w-]/g, '_');
      return h('li', { class: 'contact' },
        h('input', { type: 'checkbox', id, 'data-key': id, checked: set.has(ct.id), disabled: st.busy,
          onchange: (e) => togglePick(key, ct.id, e.currentTarget.checked) }),
        h('label', { for: id }, h('span', { class: 'name', text: ct.name }), h('span', { class: 'type', text: contactMeta(ct) })),
        ct.url ? h('a', { href: ct.url, target: '_blank', rel: 'noopener noreferrer', 'data-key': `open-${id}` }, 'Open', h('span', { class: 'sr', text: ` ${ct.name} in ${slot.label}` })) : null);
    })));
    return fs;
  }

  function contactMeta(ct) {
    const parts = [ct.record_type || 'Contact'];
    if (ct.modified_at) parts.push(`updated ${new Date(ct.modified_at).toLocaleDateString()}`);
    return parts.join(' · ');
  }

  function notesBlock(v) {
    const wrap = h('div', { class: 'notes' }, h('h2', { class: 'section-title', text: 'Notes' }));
    if (st.notesEditing) {
      const ta = h('textarea', { id: 'ct-notes', 'data-key': 'notes-text', 'aria-describedby': 'ct-notes-hint' });
      ta.value = st.draft ?? v.call.notes ?? '';
      ta.addEventListener('input', () => { st.draft = ta.value; });
      wrap.append(
        h('label', { for: 'ct-notes', class: 'sr', text: 'Call notes' }),
        ta,
        h('p', { id: 'ct-notes-hint', class: 'hint', text: 'With notes, this call is logged by the next digest run (within the hour), including what you write here.' }),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn primary', 'data-key': 'notes-save', disabled: st.busy, onclick: saveNotes }, 'Save notes'),
          h('button', { type: 'button', class: 'btn', 'data-key': 'notes-cancel', disabled: st.busy, onclick: cancelNotes }, 'Cancel')));
      return wrap;
    }
    if (v.call.notes) wrap.append(h('p', { class: 'saved', text: v.call.notes }));
    if (v.notes_opened) wrap.append(h('p', { class: 'hint', text: 'This call is logged by the next digest run, with these notes.' }));
    wrap.append(h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn', 'data-key': 'notes-open', disabled: st.busy, onclick: openNotes }, v.call.notes ? 'Edit notes' : 'Add notes')));
    return wrap;
  }

  function banner(tone, title, text) {
    return h('div', { class: `banner ${tone}`, role: tone === 'danger' ? 'alert' : 'status' }, h('strong', { text: title }), text);
  }

  function svgIcon(d) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24'); svg.setAttribute('width', '18'); svg.setAttribute('height', '18');
    svg.setAttribute('aria-hidden', 'true'); svg.setAttribute('focusable', 'false');
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', d); p.setAttribute('stroke', 'currentColor'); p.setAttribute('stroke-width', '2'); p.setAttribute('stroke-linecap', 'round'); p.setAttribute('fill', 'none');
    svg.append(p);
    return svg;
  }

  function say(text) { live.textContent = ''; setTimeout(() => { live.textContent = text; }, 50); }

  /* ------------------------------------------------------------------ actions */
  function togglePick(integration, contactId, on) {
    const set = st.picks.get(integration) || new Set();
    if (on) set.add(contactId); else set.delete(contactId);
    st.picks.set(integration, set);
    render();
  }

  async function run(fn) {
    if (st.busy) return;
    st.busy = true;
    render();
    try { await fn(); } finally { st.busy = false; st.lastAnswer = null; await refresh(); if (st.serverMode) refreshServer(); }
  }

  function logThisCall() {
    return run(async () => {
      const v = st.view;
      const failures = [];
      let sent = 0;
      // The server's slots by their own integration ids: the worker forwards those picks.
      for (const slot of [...v.slots, ...serverSlots()]) {
        if (!slot.matches || !slot.matches.length) continue;
        const key = slot.key || slot.integration;
        const ids = st.picks.get(key) || new Set();
        if (!ids.size && !st.pickedSent.has(key)) continue;
        const contacts = slot.matches.filter((ct) => ids.has(ct.id));
        const r = await engine({ input: 'contacts_picked', call: v.call.id, integration: slot.integration, contacts });
        const refused = (r.notices || []).find((n) => n && n.notice === 'picks_refused');
        if (!r.ok || refused) failures.push(`${slot.label}: ${r.ok ? refused.reason : r.error}`);
        else { sent += contacts.length; if (contacts.length) st.pickedSent.add(key); else st.pickedSent.delete(key); }
      }
      st.message = failures.length
        ? { tone: 'danger', title: 'Some picks were not saved', text: failures.join(' ') }
        : { tone: 'success', title: sent ? 'Picks saved' : 'Picks cleared', text: sent ? 'This call is logged to the contacts you picked a few minutes after hang-up.' : 'This call is logged automatically where the caller matches.' };
      say(st.message.title);
    });
  }

  function logNow() {
    return run(async () => {
      const r = await engine({ input: 'log_now_requested', call: st.view.call.id });
      st.message = r.ok ? { tone: 'success', title: 'Logging now', text: 'Your picks are being logged.' } : { tone: 'danger', title: 'Could not log now', text: r.error };
      say(st.message.title);
    });
  }

  function openNotes() {
    return run(async () => {
      const r = await engine({ input: 'notes_opened', call: st.view.call.id });
      if (r.ok) { st.notesEditing = true; st.draft = null; st.message = null; }
      else st.message = { tone: 'danger', title: 'Notes could not be opened', text: r.error };
    }).then(() => shadow.querySelector('textarea')?.focus());
  }

  function saveNotes() {
    const notes = st.draft ?? st.view.call.notes ?? '';
    return run(async () => {
      const r = await engine({ input: 'notes_saved', call: st.view.call.id, notes });
      if (r.ok) { st.notesEditing = false; st.draft = null; st.message = { tone: 'success', title: 'Notes saved', text: 'The next digest run logs this call with them.' }; }
      else st.message = { tone: 'danger', title: 'Notes not saved', text: r.error };
      say(st.message.title);
    }).then(() => shadow.querySelector('[data-key="notes-open"]')?.focus());
  }

  function cancelNotes() {
    return run(async () => {
      const r = await engine({ input: 'notes_cancelled', call: st.view.call.id });
      st.notesEditing = false;
      st.draft = null;
      st.message = r.ok ? { tone: 'info', title: 'Notes closed', text: 'This call is still logged by the next digest run.' } : { tone: 'danger', title: 'Could not close notes', text: r.error };
      say(st.message.title);
    }).then(() => shadow.querySelector('[data-key="notes-open"]')?.focus());
  }
})();
