// Call history: the newest calls with their status in each integration, search, the
// "Unlogged" filter, manual logging (the worker refuses a second log to the same CRM and says
// why), and "Sync now". Every status, detail and permission comes from the worker's views.
import { ask, send, engine, onNotice } from './lib/api.js';
import { h, $, fill, icon, statusChip, banner, emptyState, skeleton, announce, busy, rerender } from './lib/dom.js';
import { when, fullTime, relative, duration, callSeconds, phone, plural } from '../lib/format.js';
import { mountHeader } from './lib/nav.js';

const PAGE = 50;
const header = mountHeader('history');
const list = $('#list');
const messages = $('#messages');
const query = $('#query');
const syncButton = $('#sync');
fill(syncButton, icon('sync'), 'Sync now');
query.before(icon('search'));

let limit = PAGE;
let rows = [];
let loadedOnce = false;
let loadSeq = 0;

const unloggedOnly = () => document.querySelector('input[name="show"]:checked')?.value === 'unlogged';

async function load() {
  const seq = ++loadSeq;
  if (!loadedOnce) fill(list, skeleton(6));
  try {
    const data = await ask('history', { limit, unlogged_only: unloggedOnly(), query: query.value.trim() });
    if (seq !== loadSeq) return; // a newer search is on its way
    rows = await withServer(data);
    if (seq !== loadSeq) return;
    loadedOnce = true;
    rerender(list, render);
  } catch (e) {
    if (seq !== loadSeq) return;
    fill(list, h('div', { class: 'card-pad' }, banner('danger', 'The call history could not be loaded', e.message,
      h('button', { type: 'button', class: 'btn btn-s', onclick: load }, 'Try again'))));
  }
  showDigest();
  showStorage();
}

/**
 * Server mode: the server's status of each call in each CRM it logs to, beside the
 * extension's own (the server owns those integrations; this browser logs nothing for them),
 * and what still waits to be sent to it.
 */
async function withServer(data) {
  const st = header.state() || await ask('state').catch(() => null);
  const box = st?.server;
  const el = $('#server-state');
  if (!box) { fill(el, null); return data; }
  const queued = box.queued
    ? banner('warning', `Queued for the Calltrail server (${box.queued})`, box.error ? `${box.error}. Sent again automatically.` : 'Being sent.')
    : null;
  fill(el, queued);
  let server;
  try {
    server = await ask('server-history');
  } catch (e) {
    fill(el, queued, banner('warning', 'The Calltrail server’s statuses could not be loaded', e.message));
    return data;
  }
  const byCall = new Map((server?.calls || []).map((c) => [c.call, c]));
  return data.map((r) => {
    const s = byCall.get(r.call.id);
    if (!s) return r;
    const slots = s.slots.map((x) => ({
      integration: `server:${x.integration}`, label: `${x.label} (server)`, word: x.word, tone: x.tone, status: x.category,
      // Whether a manual log may go to the server is the core's rule, computed by the server.
      detail: x.detail, contacts: x.contacts.map((name) => ({ name })), can_log_manually: x.can_log_manually === true,
      refused: x.refused || null, records: x.records || [],
    }));
    return { ...r, slots: [...r.slots, ...slots] };
  });
}

/** The worker's own state that stops logging: the browser refusing writes for lack of space. */
async function showStorage() {
  const st = await ask('state').catch(() => null);
  const since = st?.storage_full;
  fill($('#storage-state'), since
    ? banner('danger', 'Calltrail cannot save: this browser is out of storage space',
      `Since ${fullTime(since)} nothing new is saved. Your softphone's events stay in its tab and are sent again until they are saved: free disk space, or clear data other sites keep in this browser.`)
    : null);
}

function showDigest() {
  const st = header.state();
  const last = st?.digest?.last_completed ?? st?.digest?.last_started;
  const el = $('#digest-info');
  el.textContent = last ? `Last digest ${relative(last)}` : '';
  el.title = last ? fullTime(last) : '';
}

function render() {
  const filtered = unloggedOnly() || query.value.trim();
  $('#count').textContent = rows.length ? `${plural(rows.length, 'call')}${rows.length >= limit ? '+' : ''}` : '';
  $('#foot').hidden = rows.length < limit;
  $('#foot-text').textContent = `Showing the newest ${rows.length} calls`;
  if (!rows.length) {
    fill(list, filtered
      ? (unloggedOnly() && !query.value.trim()
        ? emptyState({ iconName: 'check', title: 'Everything is logged', text: 'No call is waiting to be logged in any of your CRMs.' })
        : emptyState({ iconName: 'search', title: 'No calls match', text: 'Try another number or name, or show all calls.' }))
      : emptyState({ iconName: 'history', title: 'No calls yet', text: 'Calls from your softphone show up here as they happen, with where each one is logged.' }));
    return;
  }
  // One column per integration, in the worker's order (integrations removed since come last).
  const integrations = [];
  for (const r of rows) for (const s of r.slots) if (!integrations.some((i) => i.id === s.integration)) integrations.push({ id: s.integration, label: s.label });
  const table = h('table', { class: 'data calls' },
    h('caption', { class: 'visually-hidden', text: 'Calls, newest first, with their status in each CRM' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Caller' }),
      h('th', { scope: 'col', text: 'When' }),
      h('th', { scope: 'col', text: 'Duration' }),
      integrations.map((i) => h('th', { scope: 'col', text: i.label })),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' })))),
    h('tbody', {}, rows.map((r) => row(r, integrations))));
  fill(list, h('div', { class: 'table-wrap' }, table));
}

function callerName(r) {
  for (const s of r.slots) for (const c of s.contacts) if (c.name) return c.name;
  return null;
}

function row(r, integrations) {
  const c = r.call;
  const name = callerName(r);
  const missed = c.result === 'missed' || c.result === 'rejected' || c.result === 'busy';
  const secs = callSeconds(c);
  const manualOk = r.slots.some((s) => s.can_log_manually);
  return h('tr', { dataset: { call: c.id } },
    h('td', { class: 'caller' }, h('div', { class: 'caller-line' },
      h('span', { class: `dir${missed ? ' missed' : ''}` }, icon(c.direction === 'outbound' ? 'outbound' : 'inbound', { size: 16, label: c.direction === 'outbound' ? 'Outbound call' : 'Inbound call' })),
      h('div', {},
        h('div', { class: 'caller-name', text: name || phone(c.their_number) }),
        name ? h('div', { class: 'caller-number', text: phone(c.their_number) }) : h('div', { class: 'caller-number', text: 'No contact name' }),
        c.notes ? h('div', { class: 'caller-notes', title: c.notes }, icon('list', { size: 12 }), 'Has notes') : null))),
    h('td', { class: 'when' }, h('div', { title: fullTime(c.started_at), text: when(c.started_at) }), h('div', { class: 'when-rel', text: relative(c.started_at) })),
    h('td', { class: 'len' },
      h('div', { text: c.ended_at == null ? 'In progress' : secs ? duration(secs) : '—' }),
      h('div', { class: `len-result${missed ? ' missed' : ''}`, text: c.ended_at == null ? '' : r.result_word })),
    integrations.map((i) => h('td', {}, slotCell(r.slots.find((s) => s.integration === i.id)))),
    h('td', { class: 'actions' }, manualOk
      ? h('button', { type: 'button', class: 'btn btn-s', 'data-key': `log-${c.id}`, 'aria-label': `Log call from ${name || phone(c.their_number)} manually`, onclick: () => openManual(r) }, 'Log…')
      : null));
}

function slotCell(s) {
  if (!s) return h('span', { class: 'muted', text: '—' });
  const words = s.word.toLowerCase();
  const plain = (t) => t.toLowerCase().replace(/\bthe\b/g, '').replace(/\s+/g, ' ').trim();
  const showDetail = s.detail && plain(s.detail) !== plain(words || '');
  return h('div', { class: 'slot', dataset: { integration: s.integration, status: s.status } },
    statusChip(s),
    showDetail ? h('div', { class: `slot-detail${s.status === 'failed' ? ' danger' : ''}`, text: s.detail }) : null,
    // Server mode: the server's engine refused the rep's last request about this slot.
    s.refused ? h('div', { class: 'slot-detail danger', dataset: { refused: s.refused.what }, title: fullTime(s.refused.at), text: s.refused.words }) : null,
    s.contacts.length ? h('div', { class: 'slot-links' }, s.contacts.map((ct) => ct.url
      ? h('a', { class: 'slot-link', href: ct.url, target: '_blank', rel: 'noopener noreferrer' }, ct.name || 'Open record', icon('external', { size: 12 }), h('span', { class: 'visually-hidden', text: ` in ${s.label} (opens a new tab)` }))
      : h('span', { class: 'slot-detail', text: ct.name }))) : null,
    s.status === 'unresolved' ? h('a', { class: 'slot-link', href: 'unresolved.html' }, 'Choose a contact', icon('chevron', { size: 12 })) : null);
}

/* ---------------------------------------------------------------- manual logging */
const dialog = $('#manual');
let manualCall = null;

function openManual(r) {
  manualCall = r;
  const name = callerName(r);
  $('#manual-sub').textContent = `${name ? `${name}, ` : ''}${phone(r.call.their_number)} · ${when(r.call.started_at)}`;
  fill($('#manual-messages'));
  fill($('#manual-options'), r.slots.map((s) => {
    const id = `m-${s.integration}`;
    return h('div', { class: 'choice' },
      h('input', { type: 'checkbox', id, name: 'integration', value: s.integration, disabled: !s.can_log_manually, checked: s.can_log_manually && r.slots.filter((x) => x.can_log_manually).length === 1 }),
      h('label', { for: id, text: s.label }),
      statusChip(s));
  }));
  $('#manual-submit').disabled = false;
  dialog.showModal();
  (dialog.querySelector('input:not(:disabled)') || $('#manual-cancel')).focus();
}

$('#manual-cancel').addEventListener('click', () => dialog.close());
dialog.addEventListener('close', () => { manualCall = null; load(); });

$('#manual-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!manualCall) return;
  const picked = [...dialog.querySelectorAll('input[name="integration"]:checked')].map((i) => i.value);
  const out = $('#manual-messages');
  if (!picked.length) {
    fill(out, banner('warning', 'Choose at least one CRM to log this call to.'));
    return;
  }
  const labels = Object.fromEntries(manualCall.slots.map((s) => [s.integration, s.label]));
  await busy($('#manual-submit'), async () => {
    let answer;
    try {
      // The server's integrations by their own ids: the worker forwards those to the server.
      answer = await engine({ input: 'manual_log_requested', call: manualCall.call.id, integrations: picked.map((p) => p.replace(/^server:/, '')) });
    } catch (err) {
      fill(out, banner('danger', 'Calltrail did not answer', err.message));
      return;
    }
    const notices = answer.notices || [];
    const accepted = [
      ...notices.filter((n) => n.notice === 'manual_accepted').map((n) => labels[n.integration] || n.integration),
      ...(answer.ok ? picked.filter((p) => p.startsWith('server:')).map((p) => labels[p]) : []),
    ];
    const refused = notices.filter((n) => n.notice === 'manual_refused');
    const parts = [];
    if (accepted.length) parts.push(banner('success', `Logging to ${accepted.join(' and ')}`, 'Calltrail is searching for the caller and logging the call now.'));
    if (refused.length) {
      parts.push(banner('danger', refused.length === 1 ? `Not logged to ${labels[refused[0].integration] || refused[0].integration}` : 'Some CRMs refused',
        refused.length === 1 ? capital(refused[0].reason) : h('ul', {}, refused.map((n) => h('li', {}, h('strong', { text: `${labels[n.integration] || n.integration}: ` }), n.reason)))));
    } else if (!answer.ok) {
      parts.push(banner('danger', 'Not logged', answer.error));
    }
    fill(out, parts);
    announce([accepted.length ? `Logging to ${accepted.join(' and ')}.` : '', refused.map((n) => `${labels[n.integration] || n.integration}: ${n.reason}`).join('. ')].join(' '));
    // Fresh permissions for the choices still open.
    for (const input of dialog.querySelectorAll('input[name="integration"]')) {
      if (accepted.includes(labels[input.value])) { input.checked = false; input.disabled = true; }
    }
    // A manual log forwarded to the server is decided there: look again for its answer.
    if (answer.ok && picked.some((p) => p.startsWith('server:'))) followServer();
    if (accepted.length && !refused.length) {
      setTimeout(() => { if (dialog.open) dialog.close(); }, 1200);
      fill(messages, banner('success', `Logging the call to ${accepted.join(' and ')}`, `${phone(manualCall.call.their_number)} · ${when(manualCall.call.started_at)}`));
    }
  }, 'Logging…');
});

/** Reloads a few times while the server works on what was forwarded (its status or refusal). */
let following = 0;
function followServer() {
  following = 5;
  const again = () => { if (following-- > 0) setTimeout(() => { if (!dialog.open) load(); again(); }, 2000); };
  again();
}

const capital = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/* ---------------------------------------------------------------- sync now */
syncButton.addEventListener('click', () => busy(syncButton, async () => {
  fill(messages, banner('info', 'Syncing…', 'The digest is looking for calls that can be logged now.'));
  let result;
  try {
    result = await ask('sync-now');
  } catch (e) {
    fill(messages, banner('danger', 'Sync failed', e.message));
    return;
  }
  await load();
  const logged = result?.logged || [];
  // What the worker says is not logged yet, and why (its words; the time is formatted here).
  const waiting = (result?.report || []).flatMap((r) => [
    ...(r.held ? [`${r.label}: ${r.held}`] : []),
    ...r.unlogged.map((u) => {
      const row = rows.find((x) => x.call.id === u.call);
      const who = row ? `${callerName(row) || phone(row.call.their_number)} · ` : '';
      return `${r.label}: ${who}${u.reason}${u.retry_at ? `, retrying at ${when(u.retry_at)}` : ''}`;
    }),
  ]);
  const waitList = waiting.length ? h('ul', { class: 'sync-list', 'data-key': 'sync-waiting' }, waiting.map((t) => h('li', { text: t }))) : null;
  if (!logged.length) {
    fill(messages, waiting.length
      ? banner('warning', 'Sync finished: nothing new logged', waitList)
      : banner('success', 'Sync finished: nothing new to log', 'Every call that can be logged already is.'));
    announce(waiting.length ? `Sync finished. ${plural(waiting.length, 'item')} not logged yet.` : 'Sync finished. Nothing new to log.');
    return;
  }
  // Name what was logged by finding the records in the rows the page shows.
  const items = logged.map(([slot, records]) => {
    for (const r of rows) for (const s of r.slots) {
      if (records.some((id) => s.records.includes(id))) return `${callerName(r) || phone(r.call.their_number)} → ${s.label}`;
    }
    return `${slot} → record ${records.join(', ')}`;
  });
  fill(messages, banner(waiting.length ? 'warning' : 'success', `Sync finished: logged ${plural(logged.length, 'item')}`,
    h('div', {}, h('ul', { class: 'sync-list' }, items.map((t) => h('li', { text: t }))), waitList)));
  announce(`Sync finished. Logged ${plural(logged.length, 'item')}.${waiting.length ? ` ${plural(waiting.length, 'item')} not logged yet.` : ''}`);
}, 'Syncing…'));

/* ---------------------------------------------------------------- wiring */
let searchTimer = 0;
query.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { limit = PAGE; load(); }, 200); });
for (const r of document.querySelectorAll('input[name="show"]')) r.addEventListener('change', () => { limit = PAGE; load(); });
$('#more').addEventListener('click', () => { limit += PAGE; load(); });
onNotice(() => { if (!dialog.open) load(); });
load();
