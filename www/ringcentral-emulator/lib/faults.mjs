// Fault injection, in the CRM emulator's style (tests/emulator/lib/faults.mjs): a fault fires for
// the next `count` matching events, or with `probability` per event (each roll uses the seeded
// PRNG), or both (each matching event rolls, and firing uses up one of `count`).
//
// Two scopes:
//   REST      (path/method regex on /restapi/...): rate_limit, server_error, latency, unauthorized, reset
//   delivery  (per webhook notification; optional subscriptionId, telephonySessionId, statusCode):
//             drop, duplicate, reorder, delay, fail_target

import { prng } from './util.mjs';

export const REST_FAULTS = new Set(['rate_limit', 'server_error', 'latency', 'unauthorized', 'reset']);
export const DELIVERY_FAULTS = new Set(['drop', 'duplicate', 'reorder', 'delay', 'fail_target']);

let nextId = 1;

export class FaultEngine {
  constructor(seed = 42) { this.reset(seed); }

  reset(seed = 42) {
    this.faults = [];
    this.rand = prng(seed);
  }

  seed(seed) { this.rand = prng(seed); }

  add(spec) {
    const type = spec.type;
    if (!REST_FAULTS.has(type) && !DELIVERY_FAULTS.has(type)) {
      throw Object.assign(new Error(`unknown fault type "${type}"; REST: ${[...REST_FAULTS].join(', ')}; delivery: ${[...DELIVERY_FAULTS].join(', ')}`), { status: 400 });
    }
    if (spec.probability != null && !(spec.probability >= 0 && spec.probability <= 1)) throw Object.assign(new Error('probability is 0..1'), { status: 400 });
    const f = {
      id: String(nextId++),
      scope: REST_FAULTS.has(type) ? 'rest' : 'delivery',
      type,
      path: spec.path ?? null,
      method: spec.method ? String(spec.method).toUpperCase() : null,
      subscriptionId: spec.subscriptionId ?? null,
      telephonySessionId: spec.telephonySessionId ?? null,
      statusCode: spec.statusCode ?? null,
      count: spec.count !== undefined ? spec.count : (spec.probability != null ? null : 1),
      probability: spec.probability ?? null,
      retryAfter: spec.retryAfter === undefined ? 1 : spec.retryAfter,
      status: spec.status ?? (type === 'server_error' ? 503 : null),
      latencyMs: spec.latencyMs ?? 0,
      delayMs: spec.delayMs ?? 0,
      holdMs: spec.holdMs ?? 250,
      gapMs: spec.gapMs ?? 20,
      copies: spec.copies ?? 2,
      fired: 0,
      _re: spec.path ? new RegExp(spec.path) : null,
    };
    if (type === 'server_error' && !(f.status >= 500 && f.status <= 599)) throw Object.assign(new Error('server_error status must be 5xx'), { status: 400 });
    this.faults.push(f);
    return f;
  }

  remove(id) { this.faults = this.faults.filter((f) => f.id !== id); }
  list() { return this.faults.map(({ _re, ...f }) => f); }

  #fires(f) {
    if (f.count !== null && f.count <= 0) return false;
    if (f.probability !== null && !(this.rand() < f.probability)) return false;
    if (f.count !== null) f.count -= 1;
    f.fired += 1;
    return true;
  }

  /**
   * REST faults that fire for this request, in registration order: any number of `latency`
   * faults, then at most one answering fault. Faults after the one that answers are not rolled
   * and keep their count for later requests.
   */
  takeRest(method, pathWithQuery) {
    const out = [];
    for (const f of this.faults) {
      if (f.scope !== 'rest') continue;
      if (f.method && f.method !== method) continue;
      if (f._re && !f._re.test(pathWithQuery)) continue;
      if (!this.#fires(f)) continue;
      out.push(f);
      if (f.type !== 'latency') break;
    }
    return out;
  }

  /** Delivery faults that fire for one notification to one subscription. */
  takeDelivery(subscriptionId, notification) {
    const out = [];
    const party = notification.body?.parties?.[0];
    for (const f of this.faults) {
      if (f.scope !== 'delivery' || f.type === 'fail_target') continue;
      if (f.subscriptionId && f.subscriptionId !== subscriptionId) continue;
      if (f.telephonySessionId && f.telephonySessionId !== notification.body?.telephonySessionId) continue;
      if (f.statusCode && f.statusCode !== party?.status?.code) continue;
      if (this.#fires(f)) out.push(f);
    }
    return out;
  }

  /** fail_target is rolled per attempt (so retries can fail too). */
  failTarget(subscriptionId) {
    for (const f of this.faults) {
      if (f.type !== 'fail_target') continue;
      if (f.subscriptionId && f.subscriptionId !== subscriptionId) continue;
      if (this.#fires(f)) return f;
    }
    return null;
  }
}
