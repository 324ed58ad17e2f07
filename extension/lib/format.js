// Formatting for people: times, durations, phone numbers, labels. Presentation only: the words
// for statuses and call results come with the worker's views (crates/core/src/view.rs). Shared by the pages
// (an ES module import) and the in-page panel (a dynamic import of this web-accessible file).

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

const startOfDay = (ms) => { const d = new Date(ms); d.setHours(0, 0, 0, 0); return d.getTime(); };

/** "2:41 PM", "Yesterday, 2:41 PM", "Mar 3, 2:41 PM". */
export function when(ms, now = Date.now()) {
  if (ms == null) return '—';
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000);
  if (days === 0) return timeFmt.format(ms);
  if (days === 1) return `Yesterday, ${timeFmt.format(ms)}`;
  return `${dayFmt.format(ms)}, ${timeFmt.format(ms)}`;
}

/** The full date and time, for titles and tooltips. */
export function fullTime(ms) {
  return ms == null ? '' : fullFmt.format(ms);
}

/** "just now", "5 minutes ago", "in 3 minutes". */
export function relative(ms, now = Date.now()) {
  if (ms == null) return '';
  const s = Math.round((ms - now) / 1000);
  if (Math.abs(s) < 45) return 'just now';
  const m = Math.round(s / 60);
  if (Math.abs(m) < 60) return relFmt.format(m, 'minute');
  const h = Math.round(m / 60);
  if (Math.abs(h) < 24) return relFmt.format(h, 'hour');
  return relFmt.format(Math.round(h / 24), 'day');
}

/** Seconds as "0:42", "12:05", "1:02:05". */
export function duration(secs) {
  if (secs == null || Number.isNaN(secs)) return '—';
  const s = Math.max(0, Math.round(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A call's talk time in seconds, from the times the worker gave (answer to end). */
export function callSeconds(call) {
  if (!call || call.ended_at == null || call.answered_at == null) return 0;
  return Math.max(0, (call.ended_at - call.answered_at) / 1000);
}

/** E.164 for reading: "+1 (212) 555-0142" for NANP, "+44 20 7946 0958"-ish grouping otherwise. */
export function phone(e164) {
  if (!e164) return 'Unknown number';
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
  if (nanp) return `+1 (${nanp[1]}) ${nanp[2]}-${nanp[3]}`;
  const m = /^\+(\d{1,3})(\d+)$/.exec(e164);
  if (!m) return e164;
  return `+${m[1]} ${m[2].replace(/(\d{3,4})(?=\d{3,4}$)/, '$1 ')}`;
}

/** The icon for a status tone (`tone` of a SlotView, from crates/core/src/view.rs). */
export const TONE_ICON = { success: 'check', info: 'clock', warning: 'alert', danger: 'x', neutral: 'minus' };

export const RULES = [
  { rule: 'last_modified', label: 'Last modified' },
  { rule: 'earliest_created', label: 'Earliest created' },
  { rule: 'alphabetical', label: 'Alphabetical' },
  { rule: 'priority', label: 'Priority (record types in order)' },
];

export const KINDS = [
  { kind: 'hubspot', label: 'HubSpot' },
  { kind: 'pipedrive', label: 'Pipedrive' },
  { kind: 'salesforce', label: 'Salesforce' },
  { kind: 'zoho', label: 'Zoho CRM' },
  { kind: 'clio', label: 'Clio' },
];

export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
