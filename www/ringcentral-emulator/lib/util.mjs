// Small helpers for the RingCentral emulator: ids in RingCentral's visible formats, a seedable
// PRNG, ISO times and RingCentral's error envelope. Nothing here knows about routes.

import { randomBytes, randomInt } from 'node:crypto';

/** Seedable PRNG (mulberry32), the same one the CRM emulator uses, so fault rolls reproduce. */
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

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** n random characters from [A-Za-z0-9_] (call-log record ids look like "IhwJ2_ySaFlBzUA"). */
export function token(n, alphabet = B62 + '_') {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}
/** A string of n decimal digits, no leading zero (uuids of notifications, session ids). */
export function digits(n) {
  let s = String(1 + randomInt(9));
  for (let i = 1; i < n; i++) s += String(randomInt(10));
  return s;
}
export const hex = (bytes) => randomBytes(bytes).toString('hex');
export const uuid4 = () => globalThis.crypto.randomUUID();

export const iso = (ms) => new Date(ms).toISOString();

/** Parse an ISO 8601 date-time query value; null when absent, NaN when malformed. */
export function parseTime(v) {
  if (v === undefined || v === null || v === '') return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? NaN : t;
}

export function clone(o) { return o === undefined ? undefined : JSON.parse(JSON.stringify(o)); }

/**
 * RingCentral's error envelope (developers.ringcentral.com/guide/basics/errors): a top-level
 * errorCode/message (seen in real bodies, e.g. ringcentral-php#28) plus errors[] of
 * {errorCode, message, parameterName?}.
 */
export function rcError(status, errorCode, message, extra = {}, topCode = errorCode) {
  const entry = { errorCode, message, ...extra };
  return { status, body: { errorCode: topCode, message, errors: [entry], ...extra } };
}

/** OAuth token-endpoint error shape: {error, error_description, errors[]} (ringcentral-api-docs#33). */
export function oauthError(status, error, errorCode, message) {
  return { status, body: { error, errors: [{ errorCode, message }], error_description: message } };
}

export const badParam = (name, message = `Parameter [${name}] value is invalid.`) =>
  rcError(400, 'CMN-101', message, { parameterName: name });

/** Base64url JSON, used for sync tokens and the JWT credentials the admin API mints. */
export const b64j = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
export function unb64j(s) {
  try { return JSON.parse(Buffer.from(String(s), 'base64url').toString('utf8')); } catch { return null; }
}

export function isLoopbackHost(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
