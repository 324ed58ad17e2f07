// Diagnostics: the softphone bridge's counts (accepted, ignored, repeats, refused by reason),
// the last refused messages and the problems the worker recorded. Everything is counted in
// Rust (`diagnostics` intent); this page only shows it.
import { ask, onNotice } from './lib/api.js';
import { h, $, fill, icon, banner, emptyState, skeleton } from './lib/dom.js';
import { fullTime } from '../lib/format.js';
import { mountHeader } from './lib/nav.js';

mountHeader('diagnostics');
fill($('#refresh'), icon('sync'), 'Refresh');

// Words for the reasons the worker counts refusals under.
const REASONS = {
  not_from_softphone_frame: 'Posted by the page itself, not by the softphone’s frame',
  untrusted_origin: 'From an origin that is not a trusted softphone',
  not_an_object: 'Not an object',
  unknown_type: 'Unknown message type',
  unsupported_version: 'Unsupported protocol version',
  missing_field: 'A required field is missing',
  wrong_type: 'A field has the wrong type',
  oversized: 'A field is too long',
  invalid_value: 'A field has an impossible value',
  invalid_id: 'The call id is not usable',
  invalid_number: 'The phone number is not valid',
  absurd_time: 'The times are impossible',
};

const stat = (label, value) => h('div', { class: 'stat' }, h('dt', { text: label }), h('dd', { text: String(value) }));

function table(caption, head, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden', text: caption }),
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows)));
}

async function load() {
  let d;
  try {
    d = await ask('diagnostics');
  } catch (e) {
    fill($('#messages'), banner('danger', 'Diagnostics are not available', e.message));
    return;
  }
  fill($('#messages'));
  const sp = d.softphone;
  const refused = Object.values(sp.rejected).reduce((a, b) => a + b, 0);
  fill($('#softphone'), h('dl', { class: 'stats' },
    stat('Accepted', sp.accepted), stat('Ignored (nothing to log)', sp.ignored),
    stat('Repeats dropped', sp.repeated), stat('Refused', refused), stat('Worker restores', d.restores),
    stat('Module failures', d.traps ?? 0)));

  const parked = [...(d.parked || [])].reverse();
  fill($('#traps'), parked.length === 0
    ? emptyState({ iconName: 'check', title: 'Nothing set aside', text: 'Calltrail has not failed on any message.' })
    : table('Set-aside messages', ['When', 'Message', 'Why'], parked.map((p) => h('tr', { 'data-kind': p.kind },
      h('td', { text: fullTime(p.at) }), h('td', { text: p.kind }), h('td', { class: 'detail', text: p.reason })))));

  const reasons = Object.entries(sp.rejected).sort((a, b) => b[1] - a[1]);
  fill($('#rejected'), reasons.length === 0
    ? emptyState({ iconName: 'check', title: 'Nothing refused', text: 'Every softphone message so far came from a trusted softphone frame.' })
    : [
      table('Refused messages by reason', ['Reason', 'Count'],
        reasons.map(([k, n]) => h('tr', { 'data-reason': k }, h('td', { text: REASONS[k] || k }), h('td', { text: String(n) })))),
      h('h3', { class: 'small muted', text: 'Most recent' }),
      table('Most recent refused messages', ['When', 'Reason', 'Detail'],
        [...sp.last_rejections].reverse().map((r) => h('tr', {},
          h('td', { text: fullTime(r.at) }), h('td', { text: REASONS[r.kind] || r.kind }), h('td', { class: 'detail', text: r.detail })))),
    ]);

  const problems = [...d.problems].reverse();
  fill($('#problems'), problems.length === 0
    ? emptyState({ iconName: 'check', title: 'No problems', text: 'Calltrail has not noticed anything wrong since the worker last started.' })
    : table('Problems', ['When', 'Kind', 'Detail'], problems.map((p) => h('tr', {},
      h('td', { text: fullTime(p.at) }), h('td', { text: p.kind }), h('td', { class: 'detail', text: p.detail })))));
}

fill($('#softphone'), skeleton(2));
$('#refresh').addEventListener('click', load);
load();
onNotice(load, { debounceMs: 500 });
