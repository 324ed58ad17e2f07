// Settings: integrations (kind, label, base URL, API token or OAuth, test connection, logging
// rules), global settings, import/export. The worker validates and applies a whole document or
// refuses it with the first problem; fields the admin policy locks (the `locked` paths of the
// `settings` answer) are shown disabled with their value in force.
import { ask, send, onNotice } from './lib/api.js';
import { h, $, fill, icon, chip, banner, loading, announce, busy, download, today } from './lib/dom.js';
import { KINDS, RULES, plural } from '../lib/format.js';
import { mountHeader } from './lib/nav.js';

const header = mountHeader('settings');
const messages = $('#messages');
const form = $('#settings-form');
fill($('#import'), icon('upload'), 'Import…');
fill($('#export'), icon('download'), 'Export');
fill($('#add-integration'), icon('plus'), 'Add integration');

let server = null; // the `settings` answer: { settings, user, locked, connected }
let doc = null; // the rep's document being edited
let state = null; // the `state` answer: integrations (with their access), pages, checklist
let dirty = false;
const results = new Map(); // integration id -> last test/credential result element

/* ---------------------------------------------------------------- loading */
async function load({ keepMessages = false } = {}) {
  if (!server) fill($('#integrations'), loading('Loading settings…'));
  try {
    const [s, st] = await Promise.all([ask('settings'), ask('state').catch(() => null)]);
    server = s;
    state = st;
  } catch (e) {
    fill(messages, banner('danger', 'Settings could not be loaded', e.message, h('button', { type: 'button', class: 'btn btn-s', onclick: () => load() }, 'Try again')));
    return;
  }
  doc = structuredClone(server.user);
  setDirty(false);
  if (!keepMessages) fill(messages);
  render();
}

const isLocked = (path) => server.locked.some((l) => path === l || path.startsWith(`${l}.`));
const saved = (id) => server.user.integrations.find((i) => i.id === id) || server.settings.integrations.find((i) => i.id === id);
const inForce = (id) => server.settings.integrations.find((i) => i.id === id);
const isChanged = (integ) => JSON.stringify(integ) !== JSON.stringify(saved(integ.id));

function setDirty(on) {
  dirty = on;
  $('#save-bar').hidden = !on;
}
const changed = () => setDirty(true);

/* ---------------------------------------------------------------- field builders */
function lockNote() {
  return h('span', { class: 'lock-note' }, icon('lock', { size: 12 }), 'Set by your administrator');
}

/** A labelled input bound to `get`/`set`. `path` is the policy path that may lock it. */
function input({ path, id, label, help, type = 'text', get, set, attrs = {}, wide = false, locked = isLocked(path) }) {
  const helpId = help ? `${id}-help` : null;
  const el = h(type === 'textarea' ? 'textarea' : 'input', {
    id, type: type === 'textarea' ? null : type, value: get() ?? '', disabled: locked, 'aria-describedby': helpId, ...attrs,
  });
  if (type === 'textarea') el.value = get() ?? '';
  el.addEventListener('input', () => { set(el.value); changed(); el.removeAttribute('aria-invalid'); });
  return h('div', { class: `field${wide ? ' wide' : ''}` },
    h('label', { for: id, text: label }),
    el,
    locked ? lockNote() : null,
    help ? h('div', { class: 'help', id: helpId, text: help }) : null);
}

function select({ path, id, label, help, options, get, set, onchange, locked = isLocked(path) }) {
  const el = h('select', { id, disabled: locked, 'aria-describedby': help ? `${id}-help` : null },
    options.map((o) => h('option', { value: o.value, text: o.label, selected: o.value === get() })));
  el.addEventListener('change', () => { set(el.value); changed(); onchange?.(); });
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), el, locked ? lockNote() : null,
    help ? h('div', { class: 'help', id: `${id}-help`, text: help }) : null);
}

function toggle({ path, id, label, get, set, onchange, locked = isLocked(path) }) {
  const el = h('input', { type: 'checkbox', id, role: 'switch', checked: !!get(), disabled: locked });
  el.addEventListener('change', () => { set(el.checked); changed(); onchange?.(); });
  return h('div', { class: 'field' }, h('label', { class: 'switch', for: id }, el, h('span', { text: label })), locked ? lockNote() : null);
}

const num = (v) => (v === '' || v == null ? null : Number(v));
const input_ = (o) => input(o);

/* ---------------------------------------------------------------- render */
function render() {
  renderChecklist();
  renderPolicyNote();
  renderIntegrations();
  renderPages();
  renderGeneral();
  renderServer();
  renderDigest();
}

/* ---------------------------------------------------------------- the browser's grants */
/**
 * Asks Chrome for `origins` (match patterns Rust named) in the rep's click: Chrome shows its
 * permission prompt; the worker hears of the answer (permissions.onAdded) and resumes what
 * waited for it. Resolves with whether the rep allowed it.
 */
async function requestAccess(origins) {
  if (!origins.length) return true;
  try {
    return await chrome.permissions.request({ origins });
  } catch (e) {
    fill(messages, banner('danger', 'Chrome did not ask for access', String(e.message || e)));
    return false;
  }
}

function renderChecklist() {
  const items = state?.checklist || [];
  const card = $('#get-started');
  const allDone = items.length && items.every((i) => i.done);
  card.hidden = !items.length || (allDone && location.hash !== '#get-started');
  fill($('#checklist'), items.map((i, n) => h('li', { class: i.done ? 'done' : '', dataset: { item: i.item, done: String(i.done) } },
    h('span', { class: 'mark', 'aria-hidden': 'true' }, i.done ? icon('check', { size: 14 }) : String(n + 1)),
    h('div', {},
      h('strong', { text: i.title }),
      h('span', { class: 'visually-hidden', text: i.done ? ' (done)' : ' (to do)' }),
      h('div', { class: 'muted small', text: i.detail })))));
}

function renderPages() {
  const pages = state?.pages || [];
  const list = h('ul', { class: 'page-list', 'aria-label': 'Softphone pages' }, pages.map((p) => h('li', { class: 'page-row', dataset: { page: p.page } },
    h('span', { class: 'url', text: p.page }),
    p.granted ? chip('Calltrail runs here', 'success', 'check') : chip('Not allowed yet', 'warning', 'alert'),
    p.granted ? null : grantButton([p.pattern], `Allow ${p.page}`),
    isLocked('softphone_pages') ? null : h('button', { type: 'button', class: 'btn btn-ghost btn-danger btn-s', onclick: () => removePage(p.page) }, 'Remove', h('span', { class: 'visually-hidden', text: ` ${p.page}` })))));
  const input = h('input', { type: 'url', id: 'f-softphone_pages', placeholder: 'https://crm.example.com', autocomplete: 'off', spellcheck: 'false' });
  const add = h('button', { type: 'button', class: 'btn' }, icon('plus'), 'Add page');
  add.addEventListener('click', () => busy(add, () => addPage(input.value.trim()), 'Adding…'));
  const sideUrl = () => (isLocked('side_panel_softphone') ? server.settings : doc).side_panel_softphone || '';
  const open = h('button', { type: 'button', class: 'btn', disabled: !server.settings.side_panel_softphone }, 'Open the side panel');
  open.addEventListener('click', async () => {
    const win = await chrome.windows.getCurrent();
    await chrome.sidePanel.open({ windowId: win.id });
  });
  fill($('#pages'),
    pages.length ? list : h('p', { class: 'muted small', text: 'No page yet.' }),
    isLocked('softphone_pages') ? lockNote() : h('div', { class: 'access-row' },
      h('label', { for: 'f-softphone_pages', class: 'visually-hidden', text: 'Page address' }), input, add),
    input_({ path: 'side_panel_softphone', id: 'f-side_panel_softphone', label: 'Softphone in the side panel (optional)', type: 'url', wide: true,
      help: 'The address of your softphone (for RingCentral, its Embeddable app with your company’s client id). Its origin must be trusted below.',
      get: sideUrl, set: (v) => { doc.side_panel_softphone = v.trim() || null; }, attrs: { placeholder: 'https://', spellcheck: 'false', autocomplete: 'off' } }),
    h('div', { class: 'access-row' }, open, h('span', { class: 'muted small', text: 'Chrome opens it beside any tab.' })));
}

/** A page added: saved at once, then allowed in the same click. */
async function addPage(page) {
  if (!page) return;
  const next = { ...doc, softphone_pages: [...new Set([...(doc.softphone_pages || []), page])] };
  const r = await send('save-settings', { settings: next });
  if (!r.ok) { showRefusal('Page not added', r); return; }
  doc.softphone_pages = next.softphone_pages;
  const pattern = (r.data?.wanted?.pages || []).find((p) => !(state?.pages || []).some((x) => x.pattern === p));
  const allowed = await requestAccess(pattern ? [pattern] : []);
  await load({ keepMessages: true });
  fill(messages, allowed
    ? banner('success', `Calltrail runs on ${page}`, 'Reload the page if it is open: calls from its softphone are logged from now on.')
    : banner('warning', `${page} is added but not allowed`, 'Calltrail cannot run there until you allow it.'));
  announce(allowed ? `Calltrail runs on ${page}.` : `${page} is not allowed yet.`);
}

async function removePage(page) {
  const next = { ...doc, softphone_pages: (doc.softphone_pages || []).filter((p) => p !== page) };
  const r = await send('save-settings', { settings: next });
  if (!r.ok) { showRefusal('Page not removed', r); return; }
  doc.softphone_pages = next.softphone_pages;
  await load({ keepMessages: true });
  fill(messages, banner('success', `Calltrail no longer runs on ${page}`));
}

/** A button that asks Chrome for `origins` in the click. */
function grantButton(origins, label) {
  const b = h('button', { type: 'button', class: 'btn btn-primary btn-s' }, icon('check'), label);
  b.addEventListener('click', () => busy(b, async () => {
    if (await requestAccess(origins)) {
      await load({ keepMessages: true });
      announce('Access granted.');
    }
  }, 'Asking Chrome…'));
  return b;
}

function renderPolicyNote() {
  const locked = server.locked;
  fill($('#policy-note'), locked.length
    ? h('div', { class: 'messages' }, banner('info', 'Some settings are managed by your administrator',
      `${plural(locked.length, 'setting')} ${locked.length === 1 ? 'is' : 'are'} locked by policy: ${locked.join(', ')}. They are shown with the value in force and cannot be changed here.`))
    : null);
}

function renderGeneral() {
  const view = (path) => (isLocked(path) ? server.settings : doc)[path];
  fill($('#general'),
    input({ path: 'softphone_origins', id: 'f-softphone_origins', label: 'Trusted softphone origins', type: 'textarea', wide: false,
      help: 'One origin per line, exactly as the browser shows it (https://app.example.com). Calltrail only listens to softphones on these origins.',
      get: () => view('softphone_origins').join('\n'), set: (v) => { doc.softphone_origins = v.split('\n').map((s) => s.trim()).filter(Boolean); },
      attrs: { rows: 3, spellcheck: 'false' } }),
    h('div', { class: 'stack' },
      input({ path: 'rep_email', id: 'f-rep_email', label: 'Your email in the CRMs', type: 'email',
        help: 'With a token your team shares (a HubSpot private app), the CRM user with this email owns what Calltrail logs.',
        get: () => view('rep_email') || '', set: (v) => { doc.rep_email = v.trim(); }, attrs: { autocomplete: 'email', spellcheck: 'false' } }),
      input({ path: 'default_country', id: 'f-default_country', label: 'Default country',
        help: 'Two-letter code (US, GB, DE…) used to read numbers stored without a country code.',
        get: () => view('default_country'), set: (v) => { doc.default_country = v.trim().toUpperCase(); },
        attrs: { maxlength: 2, autocomplete: 'off', spellcheck: 'false', style: 'max-width: 120px; text-transform: uppercase' } }),
      input({ path: 'active_call_delay_mins', id: 'f-active_call_delay_mins', label: 'Active-call logging delay (minutes)', type: 'number',
        help: 'When you pick contacts during a call, it is logged this long after hang-up (“Log now” skips the wait).',
        get: () => view('active_call_delay_mins'), set: (v) => { doc.active_call_delay_mins = num(v); }, attrs: { min: 0, max: 1440, style: 'max-width: 160px' } }),
      input({ path: 'repeat_caller_window_mins', id: 'f-repeat_caller_window_mins', label: 'Repeat-caller window (minutes)', type: 'number',
        help: 'A number that calls or texts again within this time reuses the contact it matched instead of searching each CRM again (0: always search).',
        get: () => view('repeat_caller_window_mins'), set: (v) => { doc.repeat_caller_window_mins = num(v); }, attrs: { min: 0, max: 1440, style: 'max-width: 160px' } }),
      select({ path: 'conversation_time_zone', id: 'f-conversation_time_zone', label: 'Day of SMS and fax conversations',
        help: 'Texts and faxes are logged as one record per conversation per day, in this time zone.',
        options: [{ value: '', label: `Your browser's time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone})` }, ...zoneOptions(view('conversation_time_zone'))],
        get: () => view('conversation_time_zone') ?? '', set: (v) => { doc.conversation_time_zone = v || null; } })));
}

/**
 * Server mode: the Calltrail server that logs the rep's calls for the integrations it owns (the
 * same `server` field an import sets). An empty address turns server mode off; the token is the
 * rep's own from the admin API: the worker keeps it in its credential store and never shows it
 * (an empty field keeps the saved one).
 */
function renderServer() {
  const view = () => (isLocked('server') ? server.settings : doc).server || null;
  const field = (f, v) => {
    const cur = doc.server || { url: '', account: '', rep: '', token: '' };
    const next = { ...cur, [f]: v };
    doc.server = next.url || next.account || next.rep || next.token || next.integrations?.length ? next : null;
  };
  fill($('#server'),
    input({ path: 'server', id: 'f-server-url', label: 'Server address', type: 'url', wide: true,
      help: 'Your company’s Calltrail server (https://calltrail.example.com). Leave empty when Calltrail logs from this browser alone.',
      get: () => view()?.url || '', set: (v) => field('url', v.trim()), attrs: { spellcheck: 'false', autocomplete: 'off', placeholder: 'https://calltrail.example.com' } }),
    input({ path: 'server', id: 'f-server-account', label: 'Account',
      get: () => view()?.account || '', set: (v) => field('account', v.trim()), attrs: { spellcheck: 'false', autocomplete: 'off' } }),
    input({ path: 'server', id: 'f-server-rep', label: 'Your rep id',
      get: () => view()?.rep || '', set: (v) => field('rep', v.trim()), attrs: { spellcheck: 'false', autocomplete: 'off' } }),
    input({ path: 'server', id: 'f-server-token', label: 'Your token', type: 'password',
      help: 'The token your administrator issued for you (ctr_…), never the admin’s. Kept with this browser’s credentials, never shown again or exported.',
      get: () => doc.server?.token || '', set: (v) => field('token', v.trim()),
      attrs: { spellcheck: 'false', autocomplete: 'off', placeholder: server.user.server?.url ? '•••••••• (kept; type to replace)' : 'ctr_…' } }),
    input({ path: 'server', id: 'f-server-integrations', label: 'Integrations the server logs',
      help: 'Integration ids, separated by commas. Empty: all of them (this browser then logs nothing itself).',
      get: () => (view()?.integrations || []).join(', '),
      set: (v) => field('integrations', v.split(',').map((x) => x.trim()).filter(Boolean)), attrs: { spellcheck: 'false', autocomplete: 'off' } }));
}

/** Every time zone this browser knows (all of them work: the core takes their offsets from the
 * browser), with `current` kept even if the browser does not list it. */
function zoneOptions(current) {
  let zones = [];
  try { zones = Intl.supportedValuesOf('timeZone'); } catch { /* older browsers: the current one only */ }
  const all = [...new Set([...(current ? [current] : []), ...zones, 'UTC'])].sort();
  return all.map((z) => ({ value: z, label: z.replaceAll('_', ' ') }));
}

function renderDigest() {
  const d = (f) => (isLocked(`digest.${f}`) ? server.settings.digest : doc.digest)[f];
  const numField = (f, label, help, attrs) => input({ path: `digest.${f}`, id: `f-digest-${f}`, label, help, type: 'number', get: () => d(f), set: (v) => { doc.digest[f] = num(v); }, attrs });
  fill($('#digest'),
    numField('period_mins', 'Runs every (minutes)', 'How often the digest runs.', { min: 1, max: 1440 }),
    numField('lookback_mins', 'Looks back (minutes)', 'Calls that ended this long ago or less are considered.', { min: 1, max: 10080 }),
    numField('catch_up_max_hours', 'Catch-up limit (hours)', 'After quiet hours or an outage, the first run reaches back at most this far.', { min: 1, max: 168 }),
    numField('quiet_start_hour', 'Quiet hours start (hour)', 'No scheduled run from this hour…', { min: 0, max: 23 }),
    numField('quiet_end_hour', 'Quiet hours end (hour)', '…until this hour (exclusive).', { min: 0, max: 24 }),
    select({ path: 'digest.quiet_time_zone', id: 'f-digest-quiet_time_zone', label: 'Quiet hours time zone', help: 'Quiet hours follow this zone’s clock, daylight saving included.',
      options: zoneOptions(d('quiet_time_zone')), get: () => d('quiet_time_zone'), set: (v) => { doc.digest.quiet_time_zone = v; } }));
}

function renderIntegrations() {
  const box = $('#integrations');
  // What shows: every integration in force (policy ones included) and the rep's unsaved new ones.
  const ids = [...new Set([...server.settings.integrations.map((i) => i.id), ...doc.integrations.map((i) => i.id)])]
    .filter((id) => doc.integrations.some((i) => i.id === id) || isLocked(`integrations.${id}`));
  if (!ids.length) {
    fill(box, h('div', { class: 'empty' },
      h('div', { class: 'empty-icon' }, icon('plug', { size: 28 })),
      h('h3', { class: 'empty-title', text: 'No CRM connected yet' }),
      h('p', { class: 'empty-text', text: 'Add HubSpot, Pipedrive, Salesforce, Zoho CRM or Clio. Calls are logged in each one where the caller is a contact.' }),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: addIntegration }, icon('plus'), 'Add your first CRM')));
    return;
  }
  fill(box, ids.map((id) => integrationCard(id)));
}

function integrationCard(id) {
  const lockedWhole = isLocked(`integrations.${id}`);
  const integ = lockedWhole ? inForce(id) : doc.integrations.find((i) => i.id === id);
  const isNew = !saved(id);
  const p = (f) => `integrations.${id}.${f}`;
  const fid = (f) => `f-integrations-${id}-${f}`.replace(/[^\w-]/g, '_');
  const kindLabel = KINDS.find((k) => k.kind === integ.kind)?.label || integ.kind;
  const connected = server.connected.includes(id);
  const live = state?.integrations.find((i) => i.id === id);
  const rerenderCard = () => card.replaceWith(integrationCard(id));

  const TONE_ICON = { success: 'check', warning: 'alert', danger: 'alert' };
  const statusChip = live ? chip(live.word, live.tone, TONE_ICON[live.tone]) : chip('Not saved yet', 'neutral');
  const needsAccess = live && live.access.granted === false
    ? h('div', { class: 'access-row', role: 'status' },
      h('span', { class: 'small', text: `${live.word}: Calltrail holds this CRM’s calls until you allow it.` }),
      grantButton(live.access.patterns, `Allow ${live.access.hosts}`))
    : null;
  const head = h('div', { class: 'integ-head' },
    h('span', { class: `kind-badge kind-${integ.kind}`, 'aria-hidden': 'true', text: kindLabel.slice(0, 2) }),
    h('div', {}, h('h3', { text: integ.label || kindLabel }), h('div', { class: 'muted small', text: `${kindLabel} · ${id}${isNew ? ' · not saved yet' : ''}` })),
    h('span', { class: 'grow' }),
    lockedWhole ? h('span', { class: 'chip chip-warning locked-chip' }, icon('lock', { size: 12 }), 'Set by your administrator') : null,
    statusChip);

  const general = h('div', { class: 'integ-group' }, h('h4', { text: 'Account' }), h('div', { class: 'fields' },
    select({ path: p('kind'), id: fid('kind'), label: 'CRM', locked: lockedWhole, options: KINDS.map((k) => ({ value: k.kind, label: k.label })),
      get: () => integ.kind, set: (v) => { integ.kind = v; }, onchange: rerenderCard }),
    input({ path: p('label'), id: fid('label'), label: 'Name', locked: lockedWhole, help: 'What you call this account, e.g. “HubSpot – EMEA”.',
      get: () => integ.label, set: (v) => { integ.label = v; } }),
    isNew ? input({ path: p('id'), id: fid('id'), label: 'ID', help: 'A short unique name used in exports, the audit and policies.',
      get: () => integ.id, set: (v) => { integ.id = v.trim(); }, attrs: { spellcheck: 'false', autocomplete: 'off' } }) : null,
    regionField(integ, { p, fid, lockedWhole, rerenderCard })),
    h('details', { class: 'advanced', open: (!!integ.base_url && !connected) || !!integ.marker_field },
      h('summary', { text: live?.unique_marker ? 'Advanced: API address, duplicate check' : 'Advanced: custom API address' }),
      h('div', { class: 'fields' },
        input({ path: p('base_url'), id: fid('base_url'), label: 'Custom API base URL (optional)', type: 'url', locked: lockedWhole, wide: true,
          help: 'Leave empty: the address comes from the CRM and region, and signing in fills in your account’s own.',
          get: () => integ.base_url, set: (v) => { integ.base_url = v.trim(); },
          attrs: { placeholder: live?.api_base || 'From the CRM', spellcheck: 'false', autocomplete: 'off' } }),
        // Offered where the worker's state says the CRM has such a field (HubSpot, Salesforce).
        live?.unique_marker ? input({ path: p('marker_field'), id: fid('marker_field'), label: 'Unique marker field (optional)', locked: lockedWhole, wide: true,
          help: live.unique_marker,
          get: () => integ.marker_field || '', set: (v) => { integ.marker_field = v.trim() || null; },
          attrs: { spellcheck: 'false', autocomplete: 'off' } }) : null)));

  const auth = authGroup(integ, { id, fid, lockedWhole, isNew, connected, rerenderCard });

  const rule = integ.conflict_rule || { rule: 'ask' };
  const rules = h('div', { class: 'integ-group' }, h('h4', { text: 'Logging rules' }),
    h('div', { class: 'switches' },
      toggle({ path: p('auto_log'), id: fid('auto_log'), label: 'Log calls automatically', locked: lockedWhole, get: () => integ.auto_log, set: (v) => { integ.auto_log = v; } }),
      toggle({ path: p('log_messages'), id: fid('log_messages'), label: 'Log SMS and fax', locked: lockedWhole, get: () => integ.log_messages, set: (v) => { integ.log_messages = v; } })),
    h('div', { class: 'fields' },
      select({ path: p('conflict_rule'), id: fid('conflict_rule'), label: 'When several contacts match', locked: lockedWhole,
        help: rule.rule === 'ask' ? 'The call waits in the Unresolved queue for you to choose.' : 'Calltrail picks one contact by this rule.',
        options: [{ value: 'ask', label: 'Ask me (Unresolved queue)' }, ...RULES.map((r) => ({ value: r.rule, label: r.label }))],
        get: () => rule.rule, set: (v) => { integ.conflict_rule = v === 'priority' ? { rule: v, order: rule.order?.length ? rule.order : ['Contact', 'Lead'] } : { rule: v }; }, onchange: rerenderCard }),
      rule.rule === 'priority' ? input({ path: p('conflict_rule'), id: fid('priority_order'), label: 'Record types, first wins', locked: lockedWhole,
        help: 'Comma-separated, e.g. “Contact, Lead”. Ties go alphabetical.',
        get: () => (rule.order || []).join(', '), set: (v) => { integ.conflict_rule = { rule: 'priority', order: v.split(',').map((s) => s.trim()).filter(Boolean) }; } }) : null),
    h('div', { class: 'fields' },
      toggle({ path: p('placeholder'), id: fid('placeholder_enabled'), label: 'Create a placeholder contact when nobody matches', locked: lockedWhole,
        get: () => integ.placeholder?.enabled, set: (v) => { integ.placeholder = { ...(integ.placeholder || { template: 'New Lead - {phone}' }), enabled: v }; } }),
      input({ path: p('placeholder'), id: fid('placeholder_template'), label: 'Placeholder name', locked: lockedWhole,
        help: '{phone} becomes the caller’s number. A second call from the same number reuses it.',
        get: () => integ.placeholder?.template ?? 'New Lead - {phone}', set: (v) => { integ.placeholder = { ...(integ.placeholder || { enabled: false }), template: v }; } })));

  const foot = h('div', { class: 'integ-foot' },
    testConnection(id, isNew || isChanged(integ)),
    lockedWhole ? h('span') : h('button', { type: 'button', class: 'btn btn-danger btn-s', onclick: () => removeIntegration(id) }, icon('trash'), 'Remove', h('span', { class: 'visually-hidden', text: ` ${integ.label || kindLabel}` })));

  const card = h('article', { class: 'integ', id: `integration-${id}`, 'aria-labelledby': `${fid('title')}`, dataset: { integration: id } },
    head, h('div', { class: 'integ-body' }, needsAccess, general, auth, rules), foot);
  head.querySelector('h3').id = fid('title');
  return card;
}

/** The CRM's regions (Rust's list); Salesforce also takes a My Domain name. */
const myDomainOpen = new Set();
function regionField(integ, { p, fid, lockedWhole, rerenderCard }) {
  const regions = server.regions?.[integ.kind] || [];
  const region = integ.region || '';
  const mine = integ.kind === 'salesforce' && (myDomainOpen.has(integ.id) || !regions.some(([v]) => v === region));
  const pick = regions.length > 1 ? select({ path: p('region'), id: fid('region'), label: 'Region', locked: lockedWhole,
    help: 'Where your account lives. The API address and sign-in page follow from it.',
    options: [...regions.map(([value, label]) => ({ value, label })), ...(integ.kind === 'salesforce' ? [{ value: '~', label: 'My Domain' }] : [])],
    get: () => (mine ? '~' : region),
    set: (v) => { if (v === '~') myDomainOpen.add(integ.id); else { myDomainOpen.delete(integ.id); integ.region = v; } },
    onchange: rerenderCard }) : null;
  const myDomain = mine ? input({ path: p('region'), id: fid('my_domain'), label: 'My Domain name', locked: lockedWhole,
    help: 'The part before .my.salesforce.com (a sandbox: name--sandbox).', get: () => region, set: (v) => { integ.region = v.trim().toLowerCase(); },
    attrs: { spellcheck: 'false', autocomplete: 'off' } }) : null;
  return h('div', { class: 'stack' }, pick, myDomain);
}

function authGroup(integ, { id, fid, lockedWhole, isNew, connected, rerenderCard }) {
  const type = integ.auth?.type || 'api_token';
  const group = h('div', { class: 'integ-group' }, h('h4', { text: 'Sign-in' }));
  const seg = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': 'How Calltrail signs in' },
    [['api_token', 'API token'], ['oauth', 'OAuth 2']].map(([v, label]) => h('label', {},
      h('input', { type: 'radio', name: `auth-${id}`, value: v, checked: type === v, disabled: lockedWhole, onchange: () => {
        integ.auth = v === 'oauth' ? { type: 'oauth', client_id: '', auth_url: '', token_url: '', scopes: [] } : { type: 'api_token' };
        changed();
        rerenderCard();
      } }), label)));
  group.append(seg);
  const out = h('span', { class: 'result', 'aria-live': 'polite' });
  const pending = isNew || isChanged(integ);
  if (type === 'api_token') {
    const tokenInput = h('input', { type: 'password', id: fid('token'), autocomplete: 'off', spellcheck: 'false', placeholder: connected ? '•••••••• (saved)' : 'Paste the API token' });
    const save = h('button', { type: 'button', class: 'btn' }, connected ? 'Replace token' : 'Save token');
    save.addEventListener('click', () => busy(save, async () => {
      const r = await send('set-credentials', { integration: id, token: tokenInput.value });
      if (r.ok) { tokenInput.value = ''; await refreshConnection(id, 'Token saved.'); }
      else { out.className = 'result bad'; fill(out, icon('x'), r.error); }
    }, 'Saving…'));
    group.append(h('div', { class: 'auth-row' },
      h('div', { class: 'field' }, h('label', { for: fid('token'), text: 'API token' }), tokenInput,
        h('div', { class: 'help', text: 'Stored in this browser only; never shown again or exported.' })),
      save,
      connected ? disconnectButton(id) : null));
  } else {
    const a = integ.auth;
    const setAuth = (k, v) => { integ.auth = { ...integ.auth, [k]: v }; };
    const live = state?.integrations.find((i) => i.id === id);
    const fromPolicy = live?.client_secret === 'policy';
    group.append(h('div', { class: 'fields' },
      input({ path: `integrations.${id}.auth`, id: fid('client_id'), label: 'Client ID', locked: lockedWhole,
        help: 'Your company’s app for this CRM. Empty: the one your administrator set.',
        get: () => a.client_id, set: (v) => setAuth('client_id', v.trim()), attrs: { spellcheck: 'false', autocomplete: 'off', placeholder: fromPolicy ? 'Set by your administrator' : '' } }),
      clientSecretField(id, { fid, live, pending })),
    h('details', { class: 'advanced' },
      h('summary', { text: 'Advanced: scopes and OAuth addresses' }),
      h('div', { class: 'fields' },
        input({ path: `integrations.${id}.auth`, id: fid('scopes'), label: 'Scopes', locked: lockedWhole, help: 'Separated by spaces; empty for the CRM’s defaults.',
          get: () => (a.scopes || []).join(' '), set: (v) => setAuth('scopes', v.split(/\s+/).filter(Boolean)), attrs: { spellcheck: 'false' } }),
        input({ path: `integrations.${id}.auth`, id: fid('auth_url'), label: 'Authorize URL (optional)', type: 'url', locked: lockedWhole, get: () => a.auth_url, set: (v) => setAuth('auth_url', v.trim()), attrs: { placeholder: 'The CRM’s, for the region' } }),
        // Server mode: the server's broker exchanges at the token URL registered there.
        live?.asks_token_url === false ? null
          : input({ path: `integrations.${id}.auth`, id: fid('token_url'), label: 'Token URL (optional)', type: 'url', locked: lockedWhole, get: () => a.token_url, set: (v) => setAuth('token_url', v.trim()), attrs: { placeholder: 'The CRM’s, for the region' } }))));
    const kindLabel = KINDS.find((k) => k.kind === integ.kind)?.label || integ.kind;
    const connect = h('button', { type: 'button', class: 'btn btn-primary', disabled: pending, 'aria-describedby': pending ? fid('connect-help') : null },
      icon('plug'), connected ? `Reconnect ${kindLabel}` : `Connect ${kindLabel}`);
    connect.addEventListener('click', () => busy(connect, () => oauthConnect(id, out), 'Waiting for sign-in…'));
    group.append(h('div', { class: 'auth-row' }, connect, connected ? disconnectButton(id) : null,
      pending ? h('span', { class: 'muted small', id: fid('connect-help'), text: 'Save your changes first.' }) : null));
  }
  const who = connected ? state?.integrations.find((i) => i.id === id)?.who : null;
  if (who?.id) group.append(h('p', { class: 'small who', dataset: { owner: who.id } }, icon('check', { size: 14 }), `Connected as ${person(who)}: what Calltrail logs here is owned by this user.`));
  else if (who?.note) group.append(h('p', { class: 'small who warn', role: 'status' }, icon('alert', { size: 14 }), `No owner: ${who.note}.`));
  group.append(out);
  results.set(id, out);
  return group;
}

/** "Name (email)", or whichever of them the CRM gave. */
const person = (w) => (w.name && w.email ? `${w.name} (${w.email})` : w.name || w.email || w.id);

/** The company's OAuth client secret: written to the worker's credential store, never shown. */
function clientSecretField(id, { fid, live, pending }) {
  const from = live?.client_secret;
  // Server mode: the Calltrail server's token broker holds the company's secret; none is asked.
  if (from === 'server') {
    return h('div', { class: 'field' }, h('strong', { text: 'Client secret' }),
      h('p', { class: 'small', id: fid('client_secret-help'), dataset: { secret: 'server' }, text: 'Held by your company’s Calltrail server, which exchanges and refreshes the sign-in for this browser. This browser keeps none.' }));
  }
  const el = h('input', { type: 'password', id: fid('client_secret'), autocomplete: 'off', spellcheck: 'false',
    placeholder: from === 'policy' ? 'Set by your administrator' : from ? '•••••••• (saved)' : 'Paste the client secret', 'aria-describedby': fid('client_secret-help') });
  const save = h('button', { type: 'button', class: 'btn btn-s', disabled: pending }, from === 'settings' ? 'Replace' : 'Save');
  const out = h('span', { class: 'result', 'aria-live': 'polite' });
  save.addEventListener('click', () => busy(save, async () => {
    const r = await send('set-credentials', { integration: id, client_secret: el.value });
    if (r.ok) { el.value = ''; state = await ask('state'); await refreshConnection(id, 'Client secret saved in this browser.'); }
    else { out.className = 'result bad'; fill(out, icon('x'), r.error); }
  }, 'Saving…'));
  return h('div', { class: 'field' }, h('label', { for: fid('client_secret'), text: 'Client secret' }),
    h('div', { class: 'row' }, el, save), out,
    h('div', { class: 'help', id: fid('client_secret-help'), text: pending ? 'Save your changes first.' : 'Kept in this browser’s credential store only; never shown again or exported.' }));
}

function disconnectButton(id) {
  const b = h('button', { type: 'button', class: 'btn btn-ghost btn-danger' }, 'Disconnect');
  b.addEventListener('click', () => busy(b, async () => {
    const r = await send('clear-credentials', { integration: id });
    if (r.ok) await refreshConnection(id, 'Disconnected.');
    else fill(messages, banner('danger', 'Could not disconnect', r.error));
  }));
  return b;
}

async function refreshConnection(id, text) {
  server = await ask('settings');
  // Keep unsaved edits: only the connection state changes.
  const card = document.getElementById(`integration-${id}`);
  card?.replaceWith(integrationCard(id));
  const out = results.get(id);
  if (out) { out.className = 'result ok'; fill(out, icon('check'), text); }
  announce(text);
  header.refresh();
}

function testConnection(id, pending) {
  const numberId = `f-test-${id}`.replace(/[^\w-]/g, '_');
  const number = h('input', { type: 'text', id: numberId, placeholder: '+1 212 555 0100', autocomplete: 'off', style: 'width: 170px', inputmode: 'tel' });
  const out = h('span', { class: 'result', 'aria-live': 'polite' });
  const btn = h('button', { type: 'button', class: 'btn btn-s', disabled: pending }, 'Test connection');
  btn.addEventListener('click', () => busy(btn, async () => {
    fill(out);
    const r = await send('test-connection', { integration: id, ...(number.value.trim() ? { number: number.value.trim() } : {}) });
    if (r.ok) {
      out.className = 'result ok';
      const m = r.data?.matches;
      const w = r.data?.who;
      const as = w?.id ? ` as ${person(w)}` : (w?.note ? ` · no owner: ${w.note}` : '');
      fill(out, icon('check'), m == null ? `Connected${as}.` : `Connected${as} · ${plural(m, 'contact')} with ${number.value.trim() || 'the test number'}.`);
    } else {
      out.className = 'result bad';
      fill(out, icon('x'), r.error);
    }
    announce(out.textContent);
  }, 'Testing…'));
  return h('div', { class: 'row' },
    h('label', { for: numberId, class: 'small muted', text: 'Search for' }), number, btn,
    pending ? h('span', { class: 'muted small', text: 'Save your changes to test them.' }) : null,
    out);
}

/* ---------------------------------------------------------------- OAuth */
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

async function oauthConnect(id, out) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(48))); // 64 characters, RFC 7636
  // S256 (RFC 7636 §4.2) with WebCrypto: the module carries no SHA-256 of its own.
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const state = b64url(crypto.getRandomValues(new Uint8Array(24)));
  const redirect_uri = chrome.identity.getRedirectURL();
  const fail = (text) => { out.className = 'result bad'; fill(out, icon('x'), text); announce(text); };
  const start = await send('oauth-start', { integration: id, state, challenge, redirect_uri });
  if (!start.ok) return fail(start.error);
  let redirect_url;
  try {
    redirect_url = await chrome.identity.launchWebAuthFlow({ url: start.data.url, interactive: true });
  } catch (e) {
    return fail(`Sign-in did not finish: ${e.message || e}`);
  }
  if (!redirect_url) return fail('Sign-in was cancelled.');
  const finish = await send('oauth-finish', { integration: id, redirect_url, state, verifier, redirect_uri });
  if (!finish.ok) return fail(finish.error);
  // A first test asks the CRM who signed in (the owner of what is logged) and searches once.
  const tested = await send('test-connection', { integration: id });
  await load({ keepMessages: true });
  fill(messages, tested.ok
    ? banner('success', 'Connected', 'Calltrail keeps the tokens in this browser and refreshes them as needed.')
    : banner('warning', 'Connected, but the test search failed', tested.error));
}

/* ---------------------------------------------------------------- add, remove, save */
function addIntegration() {
  const kind = 'hubspot';
  let n = 1;
  while (doc.integrations.some((i) => i.id === `${kind}-${n}`) || server.settings.integrations.some((i) => i.id === `${kind}-${n}`)) n += 1;
  doc.integrations.push({
    id: `${kind}-${n}`, kind, label: '', base_url: '', auth: { type: 'oauth', client_id: '', auth_url: '', token_url: '', scopes: [] }, auto_log: true, log_messages: true,
    conflict_rule: { rule: 'ask' }, placeholder: { enabled: false, template: 'New Lead - {phone}' },
  });
  changed();
  renderIntegrations();
  const card = $('#integrations').lastElementChild;
  card?.querySelector('select, input')?.focus();
}
$('#add-integration').addEventListener('click', addIntegration);

function removeIntegration(id) {
  const integ = doc.integrations.find((i) => i.id === id);
  if (!window.confirm(`Remove ${integ?.label || id}? Calls already logged stay in the CRM; new calls are no longer logged there.`)) return;
  doc.integrations = doc.integrations.filter((i) => i.id !== id);
  changed();
  renderIntegrations();
  $('#add-integration').focus();
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  await busy($('#save'), async () => {
    const removed = server.user.integrations.filter((i) => !doc.integrations.some((d) => d.id === i.id)).map((i) => i.id);
    const r = await send('save-settings', { settings: doc });
    if (!r.ok) {
      showRefusal('Not saved', r);
      return;
    }
    for (const id of removed) await send('clear-credentials', { integration: id });
    // Every CRM the worker cannot reach yet, asked for in this click (Chrome shows one prompt).
    const have = new Set((state?.integrations || []).filter((i) => i.access.granted).flatMap((i) => i.access.patterns));
    // Server mode: the Calltrail server's host too (the outbox's requests go there).
    const serverHost = r.data?.wanted?.server ? [r.data.wanted.server] : [];
    const need = [...new Set([...(r.data?.wanted?.integrations || []).flatMap((w) => w.patterns), ...serverHost])].filter((p) => !have.has(p));
    if (need.length) await requestAccess(need);
    await load({ keepMessages: true });
    const kept = r.data?.kept_by_policy || [];
    fill(messages, banner('success', 'Settings saved', kept.length ? `Your administrator’s policy kept its values for: ${kept.join(', ')}.` : 'They apply from now on.'));
    announce('Settings saved.');
    header.refresh();
  }, 'Saving…');
});

$('#discard').addEventListener('click', () => {
  doc = structuredClone(server.user);
  setDirty(false);
  render();
  fill(messages);
  announce('Changes discarded.');
});

/** Shows a refusal, and marks the field it names when the page has it. */
/** Shows a refusal and points at its field: the worker names it as a path (`r.field`, e.g.
 *  `["integrations", 0, "base_url"]`). */
function showRefusal(title, r) {
  fill(messages, banner('danger', title, `${r.error}. Nothing was changed.`));
  const path = Array.isArray(r.field) ? r.field : [];
  let el = null;
  if (path[0] === 'integrations' && typeof path[1] === 'number') {
    const integ = doc.integrations[path[1]];
    if (integ && typeof path[2] === 'string') el = document.getElementById(`f-integrations-${integ.id}-${path[2]}`.replace(/[^\w-]/g, '_'));
  } else if (path.length) {
    el = document.getElementById(`f-${path.filter((p) => typeof p === 'string').join('-')}`);
  }
  if (el) { el.setAttribute('aria-invalid', 'true'); el.focus(); }
  else messages.querySelector('.banner')?.scrollIntoView({ block: 'center' });
  announce(`${title}: ${r.error}`);
}

/* ---------------------------------------------------------------- import / export */
const fileInput = $('#import-file');
$('#import').addEventListener('click', () => fileInput.click());
fileInput.addEventListener('change', async () => {
  const file = fileInput.files?.[0];
  fileInput.value = '';
  if (!file) return;
  let text;
  try {
    text = await file.text();
  } catch (e) {
    fill(messages, banner('danger', 'The file could not be read', String(e.message || e)));
    return;
  }
  const r = await send('import-settings', { json: text });
  if (!r.ok) {
    fill(messages, banner('danger', `Import refused: ${file.name}`, `${r.error}. Your settings were not changed.`));
    announce(`Import refused: ${r.error}. Your settings were not changed.`);
    messages.querySelector('.banner')?.scrollIntoView({ block: 'center' });
    return;
  }
  await load({ keepMessages: true });
  const kept = r.data?.kept_by_policy || [];
  fill(messages, banner('success', `Imported ${file.name}`, kept.length ? `Your administrator’s policy kept its values for: ${kept.join(', ')}.` : 'The imported settings are now in force.'));
  announce('Settings imported.');
  header.refresh();
});

$('#export').addEventListener('click', async () => {
  try {
    const data = await ask('export-settings');
    download(`calltrail-settings-${today()}.json`, `${JSON.stringify(data, null, 2)}\n`, 'application/json');
    announce('Settings exported.');
  } catch (e) {
    fill(messages, banner('danger', 'Export failed', e.message));
  }
});

window.addEventListener('beforeunload', (e) => { if (dirty) { e.preventDefault(); e.returnValue = ''; } });
// An integration was parked or resumed, or Chrome's grants for the pages changed: what the
// cards and the checklist show changed (unless the rep is editing).
onNotice((notices) => {
  if (!dirty && notices.some((n) => n && (/^integration_/.test(n.notice) || n.notice === 'pages_allowed'))) load({ keepMessages: true });
});
load();
