// The admin page of Calltrail's server. It holds no rule: statuses, categories and reasons
// come from the server (the core's views); this file asks, renders and sends resolutions.
// The admin token lives in this tab's sessionStorage only and goes in an Authorization
// header, never in a URL.
const TOKEN_KEY = 'calltrail-admin-token';
const $ = (sel) => document.querySelector(sel);

/** A DOM element: `h('td', { class: 'x', text: 'y' }, child, [children])`. No innerHTML anywhere. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}
function fill(el, ...children) { el.replaceChildren(); append(el, children); }
const chip = (tone, text) => h('span', { class: `chip chip-${tone}`, text });
const banner = (tone, title, text) => h('div', { class: `banner banner-${tone}`, role: tone === 'danger' ? 'alert' : null },
  h('div', { class: 'banner-body' }, h('strong', { class: 'banner-title', text: title }), text ? h('div', { class: 'banner-text', text }) : null));
/** A table in a region that scrolls sideways when narrow, reachable from the keyboard. */
const wrap = (label, table) => h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' }, table);
const emptyState = (title, text) => h('div', { class: 'empty' }, h('strong', { class: 'empty-title', text: title }), h('p', { class: 'empty-text', text }));

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const when = (ms) => (ms ? timeFmt.format(new Date(ms)) : '');
const full = (ms) => (ms ? fullFmt.format(new Date(ms)) : '');
const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;
/** The rep's last request about a slot that the rep's engine refused: the server's words, and when. */
const refusedLine = (r, tag = 'span') => (r ? h(tag, { class: 'slot-why slot-refused', 'data-refused': r.what }, r.admin_words, ' · ',
  h('time', { datetime: new Date(r.at).toISOString(), title: full(r.at), text: when(r.at) })) : null);
/** Local midnight of a `yyyy-mm-dd` value, in epoch ms. */
const midnight = (ymd) => { const [y, m, d] = ymd.split('-').map(Number); return new Date(y, m - 1, d).getTime(); };
const ymd = (date) => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;

class Unauthorized extends Error {}

async function api(path, { method = 'GET', body, text = false } = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new Unauthorized('sign in first');
  const r = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    cache: 'no-store',
  });
  if (r.status === 401) throw new Unauthorized('the admin token was refused');
  if (text && r.ok) return r.text();
  const v = await r.json().catch(() => ({ ok: false, message: `HTTP ${r.status}` }));
  if (!r.ok || v.ok === false) throw new Error(v.message || `HTTP ${r.status}`);
  return v.data;
}

// ---------- sign-in

function showSignIn(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('#app').hidden = true;
  $('#nav').hidden = true;
  $('#sign-out').hidden = true;
  $('#signin').hidden = false;
  fill($('#signin-error'), message ? banner('danger', 'Not signed in', message) : null);
  $('#token').focus();
}

$('#signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  $('#token').value = '';
  await start();
});
$('#sign-out').addEventListener('click', () => showSignIn(null));

// ---------- state

let accounts = [];
let data = null; // the calls answer
let healthData = null;
const account = () => $('#account').value;
const category = () => document.querySelector('input[name="show"]:checked')?.value || '';

function failed(e) {
  if (e instanceof Unauthorized) { showSignIn(e.message); return; }
  fill($('#messages'), banner('danger', 'The server could not answer', e.message));
}

async function start() {
  document.documentElement.dataset.startedAt = performance.now().toFixed(1);
  try {
    accounts = await api('/admin/accounts');
  } catch (e) {
    if (e instanceof Unauthorized) showSignIn(sessionStorage.getItem(TOKEN_KEY) ? e.message : null);
    else failed(e);
    return;
  }
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#nav').hidden = false;
  $('#sign-out').hidden = false;
  const current = account() || new URLSearchParams(location.search).get('account');
  fill($('#account'), accounts.length ? accounts.map((a) => h('option', { value: a.id, text: a.name ? `${a.name} (${a.id})` : a.id, selected: a.id === current }))
    : h('option', { value: '', text: 'No accounts yet' }));
  if (!$('#day').value) $('#day').value = new URLSearchParams(location.search).get('day') || ymd(new Date());
  if (!$('#audit-from').value) { $('#audit-from').value = $('#day').value; $('#audit-to').value = $('#day').value; }
  fillTokenReps();
  loadTokens();
  await load();
}

/** Loads the day's calls and the account's health, then the unresolved queue. */
async function load() {
  if (!account()) { fill($('#list'), emptyState('No account', 'Create an account with the admin API first.')); return; }
  const t0 = performance.now();
  fill($('#messages'));
  $('#list').setAttribute('aria-busy', 'true');
  const from = midnight($('#day').value);
  const to = from + 86_400_000;
  try {
    const a = encodeURIComponent(account());
    [data, healthData] = await Promise.all([api(`/admin/accounts/${a}/calls?from=${from}&to=${to}`), api(`/admin/accounts/${a}/health`)]);
  } catch (e) {
    $('#list').removeAttribute('aria-busy');
    failed(e);
    return;
  }
  const t1 = performance.now();
  fillFilters();
  renderSummary();
  renderCalls();
  renderHealth();
  $('#list').removeAttribute('aria-busy');
  // Measured by scripts/bench-admin.mjs: fetch, render, total, and the rows on screen.
  const t2 = performance.now();
  document.documentElement.dataset.fetchMs = (t1 - t0).toFixed(1);
  document.documentElement.dataset.renderMs = (t2 - t1).toFixed(1);
  document.documentElement.dataset.totalMs = (t2 - t0).toFixed(1);
  document.documentElement.dataset.rows = String(data.calls.length);
  document.documentElement.dataset.renderedAt = t2.toFixed(1);
  // The frame after: style, layout and paint of the tables included.
  requestAnimationFrame(() => setTimeout(() => { document.documentElement.dataset.paintedAt = performance.now().toFixed(1); }));
  await loadQueue();
}

/** The CRMs in the answer, by integration id, in order of first appearance. */
function crms() {
  const seen = new Map();
  for (const c of data.calls) for (const s of c.slots) if (!seen.has(s.integration)) seen.set(s.integration, s.label);
  for (const r of healthData?.reps || []) for (const i of r.integrations) if (!seen.has(i.integration)) seen.set(i.integration, i.label);
  return [...seen].map(([id, label]) => ({ id, label }));
}

function fillFilters() {
  const rep = $('#f-rep').value;
  const crm = $('#f-crm').value;
  fill($('#f-rep'), h('option', { value: '', text: 'All reps' }), data.reps.map((r) => h('option', { value: r, text: r, selected: r === rep })));
  fill($('#f-crm'), h('option', { value: '', text: 'All CRMs' }), crms().map((c) => h('option', { value: c.id, text: c.label, selected: c.id === crm })));
}

// ---------- summary per rep and CRM

function renderSummary() {
  const counts = new Map(); // rep|crm -> {calls, logged, unlogged, unresolved, skipped}
  for (const c of data.calls) {
    for (const s of c.slots) {
      const k = `${c.rep}\u0000${s.integration}`;
      const e = counts.get(k) || { rep: c.rep, label: s.label, calls: 0, logged: 0, unlogged: 0, unresolved: 0, skipped: 0 };
      e.calls += 1;
      e[s.category] += 1;
      counts.set(k, e);
    }
  }
  const rows = [...counts.values()].sort((a, b) => a.rep.localeCompare(b.rep) || a.label.localeCompare(b.label));
  if (!rows.length) { fill($('#summary'), emptyState('No calls this day', 'Calls appear here once the server has received them.')); return; }
  const num = (n, tone) => h('td', { class: 'num' }, n ? (tone ? chip(tone, String(n)) : String(n)) : '0');
  fill($('#summary'), wrap('Per rep and CRM', h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden', text: 'Calls per rep and CRM, by outcome' }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Rep' }), h('th', { scope: 'col', text: 'CRM' }),
      ['Calls', 'Logged', 'Unlogged', 'Unresolved', 'Skipped'].map((t) => h('th', { scope: 'col', class: 'num', text: t })))),
    h('tbody', {}, rows.map((e) => h('tr', {}, h('th', { scope: 'row', text: e.rep }), h('td', { text: e.label }),
      num(e.calls), num(e.logged, 'success'), num(e.unlogged, 'warning'), num(e.unresolved, 'danger'), num(e.skipped, 'neutral')))))));
}

// ---------- calls

function renderCalls() {
  const rep = $('#f-rep').value;
  const crm = $('#f-crm').value;
  const cat = category();
  const columns = crms().filter((c) => !crm || c.id === crm);
  const rows = data.calls.filter((c) => (!rep || c.rep === rep)
    && (!cat || c.slots.some((s) => (!crm || s.integration === crm) && s.category === cat)));
  $('#count').textContent = `${plural(rows.length, 'call')}${data.truncated ? ' (the newest only)' : ''}`;
  if (!rows.length) {
    fill($('#list'), emptyState(data.calls.length ? 'No calls match' : 'No calls this day', data.calls.length ? 'Try another rep, CRM or outcome.' : 'Pick another day, or check the integration health below.'));
    return;
  }
  // One table per rep, reps in name order, each rep's calls newest first. Off-screen reps are
  // neither laid out nor painted until scrolled to (`content-visibility: auto` in admin.css).
  const byRep = new Map();
  for (const c of rows) {
    if (!byRep.has(c.rep)) byRep.set(c.rep, []);
    byRep.get(c.rep).push(c);
  }
  const head = () => h('thead', {}, h('tr', {}, ['When', 'Number', 'Direction', 'Result'].map((t) => h('th', { scope: 'col', text: t })),
    columns.map((col) => h('th', { scope: 'col', text: col.label }))));
  const frag = document.createDocumentFragment();
  [...byRep.keys()].sort().forEach((rep, n) => {
    const calls = byRep.get(rep);
    const body = document.createElement('tbody');
    for (const c of calls) {
      const by = new Map(c.slots.map((s) => [s.integration, s]));
      body.append(h('tr', {},
        h('td', { class: 'when' }, h('time', { datetime: new Date(c.started_at).toISOString(), title: full(c.started_at), text: when(c.started_at) })),
        h('td', { class: 'mono', text: c.number }),
        h('td', { text: c.direction === 'inbound' ? 'In' : 'Out' }),
        h('td', { text: c.result }),
        columns.map((col) => {
          const s = by.get(col.id);
          if (!s) return h('td', { class: 'muted', text: '—' });
          return h('td', {}, h('div', { class: 'slot-cell' }, chip(s.tone, s.word),
            s.category === 'logged' ? (s.contacts.length ? h('span', { class: 'slot-why', text: s.contacts.join(', ') }) : null) : h('span', { class: 'slot-why', text: s.detail }),
            refusedLine(s.refused)));
        })));
    }
    frag.append(h('section', { class: 'rep-calls', 'aria-labelledby': `rep-calls-${n}` },
      h('h3', { id: `rep-calls-${n}`, class: 'rep-title' }, rep, h('span', { class: 'muted small', text: ` · ${plural(calls.length, 'call')}` })),
      wrap(`Calls of ${rep}`, h('table', { class: 'data calls' },
        h('caption', { class: 'visually-hidden', text: `Calls of ${rep}, newest first, with their status in each CRM and why` }),
        head(), body))));
  });
  fill($('#list'), frag);
}

for (const el of [$('#f-rep'), $('#f-crm')]) el.addEventListener('change', () => data && renderCalls());
for (const el of document.querySelectorAll('input[name="show"]')) el.addEventListener('change', () => data && renderCalls());
$('#refresh').addEventListener('click', load);
$('#account').addEventListener('change', () => { fillTokenReps(); fill($('#token-new')); loadTokens(); load(); });
$('#day').addEventListener('change', () => { if ($('#day').value) load(); });

// ---------- unresolved queue

async function loadQueue() {
  const reps = (healthData?.reps || []).filter((r) => r.integrations.some((i) => i.attention > 0)).map((r) => r.rep);
  const a = encodeURIComponent(account());
  let queues;
  try {
    queues = await Promise.all(reps.map(async (rep) => ({ rep, items: await api(`/admin/accounts/${a}/reps/${encodeURIComponent(rep)}/unresolved`) })));
  } catch (e) {
    failed(e);
    return;
  }
  queues = queues.filter((q) => q.items.length);
  const total = queues.reduce((n, q) => n + q.items.length, 0);
  const badge = $('#nav-unresolved');
  badge.hidden = total === 0;
  badge.textContent = String(total);
  badge.setAttribute('aria-label', `${total} unresolved`);
  if (!queues.length) { fill($('#queue'), emptyState('Nothing waits for a person', 'Every call of every rep is logged, waiting for its turn, or skipped by design.')); return; }
  fill($('#queue'), queues.map((q) => h('div', { class: 'queue-rep' }, h('h3', { text: `${q.rep}: ${plural(q.items.length, 'call')}` }),
    q.items.map((item, i) => queueItem(q.rep, item, `${q.rep}-${i}`)))));
}

function queueItem(rep, item, id) {
  const msg = h('div', { class: 'messages', 'aria-live': 'polite' });
  const callWords = item.call ? `${item.call.their_number} at ${when(item.call.started_at)}` : item.slot;
  const choices = item.candidates.map((c, n) => h('label', {},
    h('input', { type: 'radio', name: `pick-${id}`, value: c.id, checked: n === 0 }), h('span', { text: `${c.name} (${c.record_type || 'contact'})` })));
  const send = async (resolution, words) => {
    try {
      await api(`/admin/accounts/${encodeURIComponent(account())}/reps/${encodeURIComponent(rep)}/resolutions`, { method: 'POST', body: { resolutions: [[item.slot, resolution]] } });
      fill(msg, banner('success', words, 'The rep\'s engine will log it shortly; refresh to see the result.'));
      for (const b of form.querySelectorAll('button, input')) b.disabled = true;
    } catch (e) {
      if (e instanceof Unauthorized) { showSignIn(e.message); return; }
      fill(msg, banner('danger', 'Not sent', e.message));
    }
  };
  const form = h('form', { class: 'queue-item-form' },
    h('fieldset', { class: 'queue-item' },
      h('legend', { text: `${item.label}: ${callWords}` }),
      h('p', { class: 'muted small', text: item.detail }),
      refusedLine(item.refused, 'p'),
      choices.length ? h('div', { class: 'queue-choices' }, choices) : null,
      h('div', { class: 'row' },
        choices.length ? h('button', { type: 'submit', class: 'btn btn-primary btn-s', text: 'Log to this contact' }) : null,
        h('button', { type: 'button', class: 'btn btn-s', text: 'Dismiss', onclick: () => send({ choice: 'dismiss' }, 'Dismissed') })),
      msg));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const picked = form.querySelector(`input[name="pick-${id}"]:checked`);
    if (picked) send({ choice: 'contacts', ids: [picked.value] }, 'Sent');
  });
  return form;
}

// ---------- health

function renderHealth() {
  const acct = healthData.account;
  const head = h('div', { class: 'health-account' },
    acct.ringcentral ? chip(acct.subscribed ? 'success' : 'warning', acct.subscribed ? 'RingCentral: subscribed' : 'RingCentral: not subscribed yet') : chip('neutral', 'RingCentral: not configured'),
    acct.ringcentral ? chip('neutral', acct.synced_at ? `Call log synced ${when(acct.synced_at)}` : 'Call log never synced') : null,
    chip(acct.signed_events ? 'success' : 'neutral', acct.signed_events ? 'Signed events: on' : 'Signed events: off'));
  const rows = [];
  for (const r of healthData.reps) {
    const integ = r.integrations.length ? r.integrations : [null];
    integ.forEach((i, n) => rows.push(h('tr', {},
      n === 0 ? h('th', { scope: 'row', rowspan: String(integ.length), text: r.rep }) : null,
      n === 0 ? h('td', { rowspan: String(integ.length) }, r.running_on ? chip('success', `running on ${r.running_on}`) : chip('warning', 'not running'),
        r.backlog ? h('div', { class: 'slot-why', text: `${plural(r.backlog, 'event')} waiting` }) : null) : null,
      i ? [
        h('td', { text: i.label }),
        h('td', {}, chip(i.tone, i.word)),
        h('td', { text: i.credentials ? 'set' : 'missing' }),
        h('td', { class: 'num', text: String(i.open) }),
        h('td', { class: 'num', text: String(i.attention) }),
        h('td', { class: 'num', text: String(i.failures) }),
        h('td', {}, i.blocked_until ? h('time', { datetime: new Date(i.blocked_until).toISOString(), text: when(i.blocked_until) }) : '—'),
      ] : h('td', { colspan: '7', class: 'muted', text: 'No CRM in this rep\'s settings' }))));
  }
  fill($('#health-body'), head, rows.length ? wrap('Integration health', h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden', text: 'Each rep\'s engine and CRMs' }),
    h('thead', {}, h('tr', {}, ['Rep', 'Engine', 'CRM', 'Status', 'Credentials'].map((t) => h('th', { scope: 'col', text: t })),
      ['Open work', 'Needs a person', 'Failures in a row'].map((t) => h('th', { scope: 'col', class: 'num', text: t })), h('th', { scope: 'col', text: 'Paused until' }))),
    h('tbody', {}, rows))) : h('p', { class: 'pad muted', text: 'No reps yet.' }));
}

// ---------- rep tokens

const tokenPath = (rep) => `/admin/accounts/${encodeURIComponent(account())}/reps/${encodeURIComponent(rep)}/tokens`;

function fillTokenReps() {
  const reps = accounts.find((a) => a.id === account())?.reps || [];
  const current = $('#token-rep').value;
  fill($('#token-rep'), reps.map((r) => h('option', { value: r.rep, text: r.rep, selected: r.rep === current })));
}

async function loadTokens() {
  const rep = $('#token-rep').value;
  if (!rep) { fill($('#token-list'), h('p', { class: 'pad muted', text: 'No reps yet.' })); return; }
  let list;
  try {
    list = await api(tokenPath(rep));
  } catch (e) {
    failed(e);
    return;
  }
  if (!list.length) { fill($('#token-list'), h('p', { class: 'pad muted', text: `${rep} has no token.` })); return; }
  fill($('#token-list'), wrap(`Tokens of ${rep}`, h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden', text: `Tokens of ${rep}` }),
    h('thead', {}, h('tr', {}, ['Token', 'Label', 'Issued', 'Last used', 'State'].map((t) => h('th', { scope: 'col', text: t })),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' })))),
    h('tbody', {}, list.map((t) => h('tr', {},
      h('td', { class: 'mono', text: `ctr_${t.id}_…` }),
      h('td', { text: t.label || '—' }),
      h('td', { text: full(t.created_at) }),
      h('td', { text: t.last_used_at ? full(t.last_used_at) : 'never' }),
      h('td', {}, t.revoked_at ? chip('neutral', 'revoked') : chip('success', 'active')),
      h('td', {}, t.revoked_at ? null : h('button', { type: 'button', class: 'btn btn-s btn-danger', 'aria-label': `Revoke token ${t.id} of ${rep}`, text: 'Revoke',
        onclick: async () => {
          try { await api(`${tokenPath(rep)}/${encodeURIComponent(t.id)}`, { method: 'DELETE' }); } catch (e) { failed(e); return; }
          fill($('#token-new'), banner('success', 'Revoked', `Token ctr_${t.id}_… no longer opens anything.`));
          loadTokens();
        } }))))))));
}

$('#token-rep').addEventListener('change', () => { fill($('#token-new')); loadTokens(); });
$('#token-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const rep = $('#token-rep').value;
  if (!rep) return;
  let t;
  try {
    t = await api(tokenPath(rep), { method: 'POST', body: { label: $('#token-label').value.trim() } });
  } catch (e) {
    failed(e);
    return;
  }
  $('#token-label').value = '';
  const id = 'token-value';
  fill($('#token-new'), h('div', { class: 'banner banner-success' }, h('div', { class: 'banner-body' },
    h('label', { class: 'banner-title', for: id, text: `New token for ${rep}: copy it now, it is not shown again` }),
    h('input', { id, class: 'token-value', type: 'text', readonly: true, value: t.token }))));
  $(`#${id}`).select();
  loadTokens();
});

// ---------- audit export

$('#audit-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const status = $('#audit-status');
  const from = midnight($('#audit-from').value);
  const to = midnight($('#audit-to').value) + 86_400_000;
  if (!(to > from)) { status.textContent = 'The end must not be before the start.'; return; }
  status.textContent = 'Preparing…';
  try {
    const csv = await api(`/admin/accounts/${encodeURIComponent(account())}/audit.csv?from=${from}&to=${to}`, { text: true });
    const lines = csv.split('\r\n').filter(Boolean).length - 1;
    const a = h('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), download: `calltrail-audit-${account()}-${$('#audit-from').value}-${$('#audit-to').value}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    status.textContent = `Downloaded ${plural(lines, 'line')}.`;
  } catch (e) {
    if (e instanceof Unauthorized) { showSignIn(e.message); return; }
    status.textContent = `Not exported: ${e.message}`;
  }
});

if (sessionStorage.getItem(TOKEN_KEY)) start(); else showSignIn(null);
