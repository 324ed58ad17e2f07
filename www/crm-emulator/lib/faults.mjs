// Fault injection. A fault applies to one vendor (or "*"), optionally to paths matching a regular
// expression (tested against the path after the vendor prefix, query string included) and a method.
// It fires for the next `count` matching requests, or with `probability` per request (or both:
// each matching request rolls the dice, and firing uses up one of `count`).

import { prng } from './util.mjs';

export const FAULT_TYPES = new Set([
  'latency', // delay latencyMs, then carry on (combines with other faults)
  'rate_limit', // 429 with Retry-After and the vendor's rate-limit headers
  'server_error', // status (default 500; 502/503/504 allowed) with the vendor's error body
  'unauthorized', // 401 with the vendor's body, tokens untouched
  'expire_token', // expire the vendor's access tokens now, then 401 (refresh needed)
  'limit_exceeded', // vendor quota exhaustion (Salesforce 403 REQUEST_LIMIT_EXCEEDED; others 429 daily)
  'reset', // destroy the socket before processing (nothing committed)
  'commit_then_drop', // process (commit) the request, then destroy the socket / answer 502 / hang
  'search_lag', // records created while active are invisible to search/list for lagMs
  'error_body', // status (4xx/5xx, default 400) with `body` verbatim: a reply no vendor module writes
]);

let nextId = 1;

export class FaultEngine {
  constructor() { this.reset(); }

  reset(seed = 42) {
    this.faults = [];
    this.rand = prng(seed);
  }

  seed(seed) { this.rand = prng(seed); }

  add(spec) {
    if (!FAULT_TYPES.has(spec.type)) throw new Error(`unknown fault type "${spec.type}"; one of ${[...FAULT_TYPES].join(', ')}`);
    if (!spec.vendor) throw new Error('fault needs "vendor" (a vendor name or "*")');
    let re = null;
    if (spec.path) re = new RegExp(spec.path);
    const f = {
      id: String(nextId++),
      vendor: spec.vendor,
      path: spec.path || null,
      method: spec.method ? String(spec.method).toUpperCase() : null,
      type: spec.type,
      // An explicit `count: null` means "every matching request" (as in the RingCentral
      // emulator); only an absent count defaults to one.
      count: spec.count !== undefined ? spec.count : (spec.probability != null || spec.type === 'search_lag' ? null : 1),
      probability: spec.probability ?? null,
      latencyMs: spec.latencyMs ?? 0,
      retryAfter: spec.retryAfter === undefined ? 1 : spec.retryAfter,
      status: spec.status ?? (spec.type === 'server_error' ? 500 : null),
      mode: spec.mode || 'destroy', // commit_then_drop: destroy | 502 | hang
      holdMs: spec.holdMs ?? 30000,
      lagMs: spec.lagMs ?? 0,
      applyTo: spec.applyTo || ['search', 'list'],
      body: spec.body ?? null,
      fired: 0,
      _re: re,
    };
    if (f.type === 'server_error' && !(f.status >= 500 && f.status <= 599)) throw new Error('server_error status must be 5xx');
    if (f.type === 'error_body') {
      f.status ??= 400;
      if (!(f.status >= 400 && f.status <= 599)) throw new Error('error_body status must be 4xx or 5xx');
    }
    this.faults.push(f);
    return f;
  }

  remove(id) { this.faults = this.faults.filter((f) => f.id !== id); }

  list() { return this.faults.map(({ _re, ...f }) => f); }

  matches(f, vendor, method, pathWithQuery) {
    if (f.vendor !== '*' && f.vendor !== vendor) return false;
    if (f.method && f.method !== method) return false;
    if (f._re && !f._re.test(pathWithQuery)) return false;
    return true;
  }

  /** Faults that fire for this request, in registration order (search_lag never "fires" here). */
  take(vendor, method, pathWithQuery) {
    const out = [];
    for (const f of this.faults) {
      if (f.type === 'search_lag') continue;
      if (f.count !== null && f.count <= 0) continue;
      if (!this.matches(f, vendor, method, pathWithQuery)) continue;
      if (f.probability !== null && !(this.rand() < f.probability)) continue;
      if (f.count !== null) f.count -= 1;
      f.fired += 1;
      out.push(f);
    }
    return out;
  }

  /** Lag (ms) a record created by this request gets before search/list can see it. */
  lagFor(vendor, method, pathWithQuery) {
    let lag = 0;
    for (const f of this.faults) {
      if (f.type !== 'search_lag') continue;
      if (f.count !== null && f.count <= 0) continue;
      if (!this.matches(f, vendor, method, pathWithQuery)) continue;
      lag = Math.max(lag, f.lagMs);
      f.fired += 1;
    }
    return lag;
  }
}
