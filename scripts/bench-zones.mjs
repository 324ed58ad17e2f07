// What building the core's zone tables asks of Intl, timed: a first worker start (or a settings
// change naming a new zone) builds one table per zone through the browser's
// Intl.DateTimeFormat (src/wasm/zones.rs); a restart whose stored tables still serve asks
// Intl for nothing. This mirrors calltrail_core::zone::ZoneTable::build's calls in JS (one
// formatter per zone, a sample a day from 8 days back to 40 ahead, bisection to the second at
// each change), so it times the Intl work, not the wasm around it.
//   node scripts/bench-zones.mjs [--runs 20]
// Each run is a fresh Node process (ICU's zone data loads on the first formatter, as in a
// fresh worker). Prints a Markdown table of medians.
import { execFileSync } from 'node:child_process';

const DAY = 86_400_000;
const ZONES = ['America/New_York', 'Europe/Berlin', 'Australia/Sydney'];

function once() {
  const t0 = performance.now();
  const local = new Intl.DateTimeFormat().resolvedOptions().timeZone;
  const tLocal = performance.now();
  const now = Date.now();
  let calls = 0;
  for (const zone of ZONES) {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    const off = (ms) => {
      calls++;
      return f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName').value;
    };
    const bisect = (a, oa, b, ob) => {
      if (oa === ob || b - a <= 1000) return;
      const mid = a + Math.floor((b - a) / 2000) * 1000;
      const om = off(mid);
      bisect(a, oa, mid, om);
      bisect(mid, om, b, ob);
    };
    let at = now - 8 * DAY - (now % 1000);
    let o = off(at);
    const until = now + 40 * DAY;
    while (at < until) {
      const next = Math.min(at + DAY, until);
      const on = off(next);
      bisect(at, o, next, on);
      at = next;
      o = on;
    }
  }
  const tEnd = performance.now();
  // A restart with stored tables: only the machine's offset, from a Date.
  const tDate0 = performance.now();
  new Date(now).getTimezoneOffset();
  const tDate = performance.now() - tDate0;
  return { local, localMs: tLocal - t0, tablesMs: tEnd - tLocal, calls, dateMs: tDate };
}

if (process.argv.includes('--child')) {
  process.stdout.write(JSON.stringify(once()));
} else {
  const i = process.argv.indexOf('--runs');
  const runs = Math.max(1, i > 0 ? Number(process.argv[i + 1]) : 20);
  const rs = [];
  for (let r = 0; r < runs; r++) rs.push(JSON.parse(execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child'], { encoding: 'utf8' })));
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const row = (name, xs, f = (v) => `${v.toFixed(2)} ms`) => `| ${name} | ${f(med(xs))} (min ${f(Math.min(...xs))}, max ${f(Math.max(...xs))}) |`;
  console.log(`| measure (Node ${process.versions.node}, ICU ${process.versions.icu}, tz ${process.versions.tz}; ${runs} fresh processes) | median |`);
  console.log('| --- | --- |');
  console.log(row("the rep's own zone (first Intl formatter of the process)", rs.map((r) => r.localMs)));
  console.log(row(`tables for ${ZONES.join(', ')} (${rs[0].calls} formatToParts calls)`, rs.map((r) => r.tablesMs)));
  console.log(row('a restart whose stored tables serve: the machine offset from a Date', rs.map((r) => r.dateMs), (v) => `${(v * 1000).toFixed(0)} µs`));
}
