// User-level rate limits (guide/basics/rate-limits): requests are counted per (user, app, usage
// plan group) over a sliding window; once the limit is reached every request in the group is
// refused for the penalty interval, and each refused request restarts the penalty. Every counted
// response carries X-Rate-Limit-Group/-Limit/-Remaining/-Window; a refusal is 429 CMN-301 with
// Retry-After (the penalty, in seconds).

import { rcError } from './util.mjs';

// Defaults from the guide's table (Light 50, Medium 40, Heavy 10, Auth 5 per minute, 60 s penalty).
export const DEFAULT_LIMITS = {
  light: { limit: 50, windowSec: 60, penaltySec: 60 },
  medium: { limit: 40, windowSec: 60, penaltySec: 60 },
  heavy: { limit: 10, windowSec: 60, penaltySec: 60 },
  auth: { limit: 5, windowSec: 60, penaltySec: 60 },
};

export class RateLimiter {
  constructor() { this.reset(); }
  reset() { this.buckets = new Map(); }

  /**
   * Count one request. Returns {headers, refused: response|null}. `key` identifies the user and
   * app (Auth group: the client id, since no user is known yet).
   */
  take(emu, group, key) {
    const conf = emu.config.rateLimits;
    if (!conf || conf.enabled === false) return { headers: {}, refused: null };
    const g = { ...DEFAULT_LIMITS[group], ...(conf[group] || {}) };
    const now = emu.now();
    const id = `${group}|${key}`;
    const b = this.buckets.get(id) || { hits: [], penaltyUntil: 0 };
    this.buckets.set(id, b);
    const headers = (remaining) => ({
      // The guide's example answers "light"; its table names the groups Light/Medium/Heavy/Auth.
      'X-Rate-Limit-Group': group,
      'X-Rate-Limit-Limit': String(g.limit),
      'X-Rate-Limit-Remaining': String(Math.max(0, remaining)),
      'X-Rate-Limit-Window': String(g.windowSec),
    });
    const refuse = () => {
      b.penaltyUntil = now + g.penaltySec * 1000;
      const out = rcError(429, 'CMN-301', 'Request rate exceeded');
      out.headers = { ...headers(0), 'Retry-After': String(g.penaltySec) };
      return { headers: out.headers, refused: out };
    };
    if (b.penaltyUntil > now) return refuse();
    b.hits = b.hits.filter((t) => t > now - g.windowSec * 1000);
    if (b.hits.length >= g.limit) return refuse();
    b.hits.push(now);
    return { headers: headers(g.limit - b.hits.length), refused: null };
  }
}
