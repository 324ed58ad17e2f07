// The unresolved queue: every slot that needs a person, with its candidate contacts. Resolve
// many at once: pick a contact per row and "Log picked", or select rows and apply a rule,
// create placeholders or dismiss. Long batches go in chunks with "n of m" progress; the
// worker decides what each resolution does.
import { ask, engine, onNotice } from './lib/api.js';
import { h, $, fill, icon, chip, banner, emptyState, skeleton, announce, rerender } from './lib/dom.js';
import { when, fullTime, phone, RULES, plural } from '../lib/format.js';
import { mountHeader } from './lib/nav.js';

/** Resolutions per message: small enough that progress moves, large enough to be quick. */
const CHUNK = 4;

const header = mountHeader('unresolved');
const list = $('#list');
const messages = $('#messages');
const selectAll = $('#select-all');
const ruleSelect = $('#rule');
const priority = $('#priority');

let items = [];
const selected = new Set();
const picks = new Map(); // slot -> contact id
let running = false;
let loadedOnce = false;
/** Server mode: the server's slots resolved from this page, until the server's queue drops them. */
const sent = new Set();
let followTimer = 0;

fill(ruleSelect, RULES.map((r) => h('option', { value: r.rule, text: r.label })));
ruleSelect.addEventListener('change', () => { priority.hidden = ruleSelect.value !== 'priority'; });

async function load() {
  if (!loadedOnce) fill(list, skeleton(5));
  try {
    items = [...await ask('unresolved'), ...await fromServer()];
    loadedOnce = true;
  } catch (e) {
    fill(list, h('div', { class: 'card-pad' }, banner('danger', 'The queue could not be loaded', e.message,
      h('button', { type: 'button', class: 'btn btn-s', onclick: load }, 'Try again'))));
    return;
  }
  // Forget selections and picks of rows that left the queue.
  const present = new Set(items.map((i) => i.slot));
  for (const s of [...selected]) if (!present.has(s)) selected.delete(s);
  for (const s of [...picks.keys()]) if (!present.has(s)) picks.delete(s);
  rerender(list, render);
}

/**
 * Server mode: the server's unresolved queue for the integrations it owns, beside the local
 * one. Resolving a row goes the same way (the worker forwards the server's slots through its
 * outbox); until the server has applied it the row says so.
 */
async function fromServer() {
  const st = header.state() || await ask('state').catch(() => null);
  if (!st?.server) return [];
  let rows;
  try {
    rows = await ask('server-unresolved');
  } catch (e) {
    fill(messages, banner('warning', 'The Calltrail server’s queue could not be loaded', e.message));
    return [];
  }
  const present = new Set(rows.map((r) => r.slot));
  for (const s of [...sent]) if (!present.has(s)) sent.delete(s);
  // The server's engine refused a choice sent from here: the row says why, and can be chosen again.
  for (const r of rows) if (r.refused && sent.has(r.slot)) sent.delete(r.slot);
  // Until the server has answered what was sent, look again now and then.
  clearTimeout(followTimer);
  if (sent.size) followTimer = setTimeout(() => { if (!running) load(); }, 3000);
  return rows.map((r) => ({
    ...r,
    label: `${r.label} (server)`,
    server: true,
    ...(r.refused ? { detail: r.refused.words } : {}),
    ...(sent.has(r.slot) ? { status: 'sent', hint: 'Sent to the Calltrail server, which logs it.' } : {}),
  }));
}

function render() {
  $('#subtitle').textContent = items.length
    ? `${plural(items.length, 'call')} ${items.length === 1 ? 'needs' : 'need'} a person: several contacts share the number, or Calltrail cannot tell what happened.`
    : 'Calls where several contacts share the number wait here for you to choose.';
  $('#bulk').hidden = items.length === 0;
  updateCounts();
  if (!items.length) {
    fill(list, emptyState({ iconName: 'check', title: 'Nothing to resolve', text: 'When several contacts share a caller’s number in a CRM set to “ask”, the call waits here for you to choose.' }));
    return;
  }
  const table = h('table', { class: 'data queue' },
    h('caption', { class: 'visually-hidden', text: 'Unresolved calls, oldest first' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Selected' })),
      h('th', { scope: 'col', text: 'Call' }),
      h('th', { scope: 'col', text: 'CRM' }),
      h('th', { scope: 'col', text: 'Choose a contact' }))),
    h('tbody', {}, items.map(row)));
  fill(list, h('div', { class: 'table-wrap' }, table));
}

function describe(item) {
  return `${phone(item.their_number)} in ${item.label}`;
}

function row(item) {
  const c = item.call;
  const key = item.slot;
  const safe = key.replace(/[^\w-]/g, '_');
  const tr = h('tr', { class: selected.has(key) ? 'selected' : '', dataset: { slot: key } },
    h('td', { class: 'check' }, h('input', { type: 'checkbox', 'data-key': `sel-${safe}`, checked: selected.has(key), 'aria-label': `Select call from ${describe(item)}`,
      onchange: (e) => { if (e.target.checked) selected.add(key); else selected.delete(key); tr.classList.toggle('selected', e.target.checked); updateCounts(); } })),
    h('td', { class: 'call' },
      h('div', { class: 'q-number', text: phone(item.their_number) }),
      c ? h('div', { class: 'q-meta', title: fullTime(c.started_at), text: `${c.direction === 'outbound' ? 'Outbound' : 'Inbound'} · ${when(c.started_at)}` }) : null),
    h('td', { class: 'crm' }, chip(item.label, 'accent'), h('div', { class: 'q-meta', text: item.detail })),
    h('td', {}, item.status === 'unresolved' ? candidates(item, safe) : h('span', { class: 'muted small', text: item.hint })));
  return tr;
}

function candidates(item, safe) {
  return h('fieldset', { class: 'candidates' },
    h('legend', { class: 'visually-hidden', text: `Contact for the call from ${describe(item)}` }),
    item.candidates.map((ct) => {
      const id = `c-${safe}-${String(ct.id).replace(/[^\w-]/g, '_')}`;
      const meta = [ct.record_type, ct.modified_at ? `updated ${when(ct.modified_at)}` : ct.created_at ? `created ${when(ct.created_at)}` : null].filter(Boolean).join(' · ');
      return h('div', { class: 'candidate' },
        h('input', { type: 'radio', name: `pick-${safe}`, id, 'data-key': id, value: ct.id, checked: picks.get(item.slot) === ct.id,
          onchange: () => { picks.set(item.slot, ct.id); updateCounts(); } }),
        h('label', { for: id }, h('span', { class: 'cand-name', text: ct.name || ct.id }), h('span', { class: 'cand-meta', text: meta })),
        ct.url ? h('a', { class: 'cand-link', href: ct.url, target: '_blank', rel: 'noopener noreferrer' }, 'Open', icon('external', { size: 12 }), h('span', { class: 'visually-hidden', text: ` ${ct.name} in ${item.label} (new tab)` })) : h('span'));
    }));
}

function updateCounts() {
  const n = selected.size;
  $('#selected-count').textContent = n ? `${plural(n, 'row')} selected` : 'None selected';
  selectAll.checked = n > 0 && n === items.length;
  selectAll.indeterminate = n > 0 && n < items.length;
  for (const b of ['#apply-rule', '#placeholders', '#dismiss']) $(b).disabled = n === 0 || running;
  const p = picks.size;
  $('#picked-count').textContent = p ? `${plural(p, 'contact')} picked` : 'Pick a contact in a row, then log your picks.';
  $('#log-picked').disabled = p === 0 || running;
  $('#log-picked').textContent = p ? `Log picked (${p})` : 'Log picked';
}

selectAll.addEventListener('change', () => {
  if (selectAll.checked) for (const i of items) selected.add(i.slot);
  else selected.clear();
  rerender(list, render);
});

/* ---------------------------------------------------------------- batches */
async function runBatch(title, resolutions) {
  if (!resolutions.length || running) return;
  running = true;
  updateCounts();
  const box = $('#progress');
  const total = resolutions.length;
  box.hidden = false;
  $('#progress-title').textContent = title;
  const failures = [];
  let done = 0;
  const show = () => {
    $('#progress-count').textContent = `${done} of ${total}`;
    $('#progress-bar').style.width = `${Math.round((done / total) * 100)}%`;
  };
  show();
  for (let i = 0; i < resolutions.length; i += CHUNK) {
    const chunk = resolutions.slice(i, i + CHUNK);
    try {
      const answer = await engine({ input: 'unresolved_resolved', resolutions: chunk });
      if (!answer.ok) failures.push(answer.error);
    } catch (e) {
      failures.push(e.message);
    }
    done += chunk.length;
    show();
  }
  running = false;
  selected.clear();
  const server = new Set(items.filter((i) => i.server).map((i) => i.slot));
  for (const [slot] of resolutions) {
    picks.delete(slot);
    if (server.has(slot)) sent.add(slot);
  }
  await load();
  setTimeout(() => { box.hidden = true; }, 800);
  fill(messages, failures.length
    ? banner('danger', `${title}: ${total - failures.length} of ${total} done`, h('ul', {}, failures.map((f) => h('li', { text: f }))))
    : banner('success', `${title}: ${done} of ${total} done`, remainingText()));
  announce(`${title}: ${done} of ${total} done.`);
  header.refresh();
}

function remainingText() {
  return items.length ? `${plural(items.length, 'call')} still ${items.length === 1 ? 'needs' : 'need'} a person.` : 'The queue is empty.';
}

$('#log-picked').addEventListener('click', () =>
  runBatch('Logging picked contacts', [...picks].map(([slot, id]) => [slot, { choice: 'contacts', ids: [id] }])));

$('#apply-rule').addEventListener('click', () => {
  const rule = { rule: ruleSelect.value };
  if (rule.rule === 'priority') {
    rule.order = priority.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (!rule.order.length) {
      fill(messages, banner('warning', 'Name the record types in order', 'For example “Contact, Lead”: the first type wins, then alphabetical.'));
      priority.focus();
      return;
    }
  }
  const label = RULES.find((r) => r.rule === rule.rule)?.label || rule.rule;
  runBatch(`Applying “${label}”`, [...selected].map((slot) => [slot, { choice: 'apply_rule', rule }]));
});

$('#placeholders').addEventListener('click', () =>
  runBatch('Creating placeholders', [...selected].map((slot) => [slot, { choice: 'create_placeholder' }])));

$('#dismiss').addEventListener('click', () => {
  const n = selected.size;
  if (!window.confirm(`Dismiss ${plural(n, 'call')}? ${n === 1 ? 'It' : 'They'} will not be logged in ${n === 1 ? 'that CRM' : 'those CRMs'}.`)) return;
  runBatch('Dismissing', [...selected].map((slot) => [slot, { choice: 'dismiss' }]));
});

onNotice(() => { if (!running) load(); });
load();
