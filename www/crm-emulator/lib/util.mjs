// Shared helpers for the CRM emulator: ids, clocks, phone normalisation, paging, field picking.
// Nothing here knows about a particular vendor beyond the phone-number rules documented in README.md.

import { createHash, randomUUID } from 'node:crypto';

export const uuid = () => randomUUID();

export function sha256b64url(s) {
  return createHash('sha256').update(s).digest('base64url');
}

export function etagOf(obj) {
  return createHash('md5').update(JSON.stringify(obj)).digest('hex');
}

/** Seedable PRNG (mulberry32) so probabilistic faults are reproducible. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------- time formats ----------
const pad = (n, w = 2) => String(n).padStart(w, '0');
export const isoMs = (ms) => new Date(ms).toISOString(); // 2024-01-02T03:04:05.678Z
export const isoSec = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'); // RFC3339, no ms
export function pipedriveV1Time(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
export const sfTime = (ms) => new Date(ms).toISOString().replace('Z', '+0000'); // 2024-01-02T03:04:05.000+0000
export const zohoTime = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00'); // 2024-01-02T03:04:05+00:00
export const dateOnly = (ms) => new Date(ms).toISOString().slice(0, 10);

/** Parse a time given by a seed or an admin call: ms number, ISO string, or undefined (now). */
export function toMs(v, fallback = Date.now()) {
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'number') return v;
  if (/^\d+$/.test(String(v))) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`bad time: ${v}`);
  return t;
}

export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
export const isRfc3339 = (s) => typeof s === 'string' && RFC3339.test(s) && !Number.isNaN(Date.parse(s));
export const isDate = (s) => typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s));

// ---------- phone numbers ----------
// Country calling codes: every 1- and 2-digit code; anything else is taken as 3 digits.
const CC1 = new Set(['1', '7']);
const CC2 = new Set(['20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49', '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84', '86', '90', '91', '92', '93', '94', '95', '98']);
const COUNTRY_CC = { US: '1', CA: '1', GB: '44', UK: '44', FR: '33', DE: '49', AU: '61', IE: '353', NL: '31', ES: '34', IT: '39', IN: '91', NZ: '64', ZA: '27', BE: '32', CH: '41', SE: '46', MX: '52', BR: '55' };
export const countryCode = (country) => COUNTRY_CC[String(country || 'US').toUpperCase()] || '1';

export const digitsOf = (s) => String(s ?? '').replace(/\D/g, '');
/** The number without an extension ("x123", "ext. 123", "#123", ";ext=123"). */
export function stripExtension(s) {
  return String(s ?? '').replace(/\s*(?:;ext=|ext\.?|extension|x|#)\s*\d+\s*$/i, '');
}
function splitCc(d) {
  if (CC1.has(d[0])) return [d.slice(0, 1), d.slice(1)];
  if (CC2.has(d.slice(0, 2))) return [d.slice(0, 2), d.slice(2)];
  return [d.slice(0, 3), d.slice(3)];
}
/** {cc, national} for a stored phone string in any format; national has no trunk 0. */
export function parsePhone(raw, defaultCountry = 'US') {
  const s = stripExtension(raw).trim();
  let d = digitsOf(s);
  if (!d) return null;
  const defCc = countryCode(defaultCountry);
  let cc; let national;
  if (s.startsWith('+')) [cc, national] = splitCc(d);
  else if (d.startsWith('00')) [cc, national] = splitCc(d.slice(2));
  else if (d.startsWith('011') && defCc === '1') [cc, national] = splitCc(d.slice(3));
  else {
    cc = defCc;
    national = d;
    if (defCc === '1' && d.length === 11 && d[0] === '1') national = d.slice(1);
  }
  if (cc !== '1' && national.startsWith('0')) national = national.slice(1);
  return { cc, national, e164: `+${cc}${national}` };
}
export const nationalDigits = (raw, c) => parsePhone(raw, c)?.national ?? '';
export const looksLikePhone = (s) => /^[\s\d+()./\-]+$/.test(String(s)) && digitsOf(s).length >= 3;

// ---------- misc ----------
export function clone(o) { return o === undefined ? undefined : JSON.parse(JSON.stringify(o)); }
export const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const typeName = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Strip our internal bookkeeping (keys starting with "_") for inspection output. */
export function publicView(rec) {
  const out = {};
  for (const [k, v] of Object.entries(rec)) if (!k.startsWith('_')) out[k] = v;
  return out;
}

/** Simple wildcard (*, ?) match, case-insensitive, whole string. */
export function wildcardRe(pattern) {
  const esc = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`, 'i');
}

/** Clio-style `fields` parser: "id,name,phone_numbers{number,primary}" -> {id:true, phone_numbers:{number:true,...}} */
export function parseFieldSpec(spec) {
  let i = 0;
  function parseList() {
    const out = {};
    let name = '';
    while (i < spec.length) {
      const c = spec[i];
      if (c === ',') { if (name.trim()) out[name.trim()] = true; name = ''; i++; }
      else if (c === '{') { i++; out[name.trim()] = parseList(); name = ''; }
      else if (c === '}') { i++; if (name.trim()) out[name.trim()] = true; return out; }
      else { name += c; i++; }
    }
    if (name.trim()) out[name.trim()] = true;
    return out;
  }
  return parseList();
}

/** Requests this vendor received in the last windowMs (for the rate-limit headers). */
export function recentCount(emu, vendor, windowMs) {
  const since = Date.now() - windowMs;
  let n = 0;
  for (let i = emu.log.length - 1; i >= 0; i--) {
    const e = emu.log[i];
    if (e.t < since) break;
    if (e.vendor === vendor && !e.parent) n++;
  }
  return n;
}
export function dailyCount(emu, vendor) {
  let n = 0;
  for (const e of emu.log) if (e.vendor === vendor && !e.parent) n++;
  return n;
}
