// The audit trail: every decision and attempt, newest first, filtered by call, integration and
// outcome (the worker filters), exported as CSV with the same filters (`audit-csv`).
import { ask, onNotice } from './lib/api.js';
import { h, $, fill, icon, chip, banner, emptyState, skeleton, announce, busy, download, today, rerender } from './lib/dom.js';
import { when, fullTime, plural } from '../lib/format.js';
import { mountHeader } from './lib/nav.js';

mountHeader('audit');
const list = $('#list');
const messages = $('#messages');
const fCall = $('#f-call');
const fIntegration = $('#f-integration');
const fOutcome = $('#f-outcome');
const fLimit = $('#f-limit');
fill($('#export'), icon('download'), 'Export CSV');

let labels = {};
let entries = [];
let loadedOnce = false;
let seq = 0;

// Words the outcomes use, offered as suggestions (the worker matches any part of the outcome).
fill($('#outcomes'), ['logged', 'no match', 'failed', 'rate limited', 'unresolved', 'manual', 'placeholder', 'dismissed', 'digest', 'retry'].map((w) => h('option', { value: w })));

// Deep links: audit.html?call=rc:s-123
const params = new URLSearchParams(location.search);
if (params.get('call')) fCall.value = params.get('call');

function filters() {
  const f = { limit: Number(fLimit.value) };
  if (fCall.value.trim()) f.call = fCall.value.trim();
  if (fIntegration.value) f.integration = fIntegration.value;
  if (fOutcome.value.trim()) f.outcome = fOutcome.value.trim();
  return f;
}

async function loadIntegrations() {
  try {
    const st = await ask('state');
    labels = Object.fromEntries(st.integrations.map((i) => [i.id, i.label]));
    const current = fIntegration.value;
    fill(fIntegration, h('option', { value: '', text: 'All CRMs' }), st.integrations.map((i) => h('option', { value: i.id, text: i.label, selected: i.id === current })));
  } catch { /* the list below reports the worker's problem */ }
}

async function load() {
  const mine = ++seq;
  if (!loadedOnce) fill(list, skeleton(8));
  try {
    const data = await ask('audit', filters());
    if (mine !== seq) return;
    entries = data;
    loadedOnce = true;
    rerender(list, render);
  } catch (e) {
    if (mine !== seq) return;
    fill(list, h('div', { class: 'card-pad' }, banner('danger', 'The audit trail could not be loaded', e.message,
      h('button', { type: 'button', class: 'btn btn-s', onclick: load }, 'Try again'))));
  }
}

function tone(outcome) {
  const o = (outcome || '').toLowerCase();
  if (/fail|refus|error|unauthori|permanent/.test(o)) return ['danger', 'x'];
  if (/rate limit|retry|unknown|review|unresolved|waiting/.test(o)) return ['warning', 'alert'];
  if (/^logged|created|updated|found/.test(o)) return ['success', 'check'];
  return ['neutral', null];
}

function render() {
  const filtered = fCall.value.trim() || fIntegration.value || fOutcome.value.trim();
  $('#count').textContent = entries.length ? plural(entries.length, 'entry', 'entries') : '';
  if (!entries.length) {
    fill(list, filtered
      ? emptyState({ iconName: 'filter', title: 'No entries match these filters', text: 'Clear a filter to see more.' })
      : emptyState({ iconName: 'list', title: 'Nothing audited yet', text: 'Every decision Calltrail makes about a call (who matched, what was logged where, every retry) is recorded here.' }));
    return;
  }
  const table = h('table', { class: 'data audit' },
    h('caption', { class: 'visually-hidden', text: 'Audit entries, newest first' }),
    h('thead', {}, h('tr', {}, ['Time', 'Trigger', 'CRM', 'Call', 'Contact', 'Outcome', 'Record'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, entries.map((e, i) => {
      const [t, ic] = tone(e.outcome);
      return h('tr', {},
        h('td', { class: 'time', title: fullTime(e.at), text: when(e.at) }),
        h('td', { class: 'trigger', text: e.trigger || '' }),
        h('td', { text: e.integration ? labels[e.integration] || e.integration : '—' }),
        h('td', { class: 'mono' }, e.call
          ? h('button', { type: 'button', class: 'link-btn mono', 'data-key': `call-${i}`, title: `Show only call ${e.call}`, onclick: () => { fCall.value = e.call; load(); announce(`Showing entries for call ${e.call}`); } }, h('span', { class: 'call-id', text: e.call }))
          : '—'),
        h('td', { class: 'mono', text: e.contact || '—' }),
        h('td', { class: 'outcome' }, chip(e.outcome, t, ic)),
        h('td', { class: 'mono', text: e.record || '—' }));
    })));
  fill(list, h('div', { class: 'table-wrap' }, table));
}

let timer = 0;
const soon = () => { clearTimeout(timer); timer = setTimeout(load, 200); };
fCall.addEventListener('input', soon);
fOutcome.addEventListener('input', soon);
fIntegration.addEventListener('change', load);
fLimit.addEventListener('change', load);
$('#filters').addEventListener('submit', (e) => { e.preventDefault(); load(); });
$('#filters').addEventListener('reset', () => setTimeout(load, 0));

$('#export').addEventListener('click', (e) => busy(e.currentTarget, async () => {
  try {
    const csv = await ask('audit-csv', filters());
    download(`calltrail-audit-${today()}.csv`, csv, 'text/csv');
    const rows = entries.length;
    fill(messages, banner('success', 'Audit exported', `${plural(rows, 'entry', 'entries')} with the filters shown.`));
    announce('Audit exported.');
  } catch (err) {
    fill(messages, banner('danger', 'Export failed', err.message));
  }
}, 'Exporting…'));

onNotice(load, { debounceMs: 800 });
loadIntegrations().then(load);
