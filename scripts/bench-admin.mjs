// Admin page benchmark (prints a table; figures in BENCHMARKS.md).
//   node scripts/bench-admin.mjs [--reps 50] [--calls-per-rep 40] [--runs 5]
// Starts PostgreSQL (target/pg-bench, scripts/postgres.sh), the CRM emulator and the server
// (CALLTRAIL_SERVER_BIN, default: a release build made now), plays a day of calls through the
// real path (signed generic `call.ended` events, logged into the HubSpot emulator: most
// callers known, some unknown, some matching two contacts under the "ask" rule), waits until
// every call has settled, then opens the admin page in Chromium for that day, --runs times.
// Measured by the page itself (performance.now, from navigation start): when its script
// started, the server's answers (calls and health, in parallel), building the tables, and the
// frame after them painted (style and layout of the tables included).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, CHROMIUM_ARGS } from '../www/world/browser.mjs';
import { serverWorld, hubspotSettings, call, eventually, ADMIN, SECRET } from '../tests/e2e/lib/server.mjs';

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const nreps = Number(arg('reps', 50));
const perRep = Number(arg('calls-per-rep', 40));
const runs = Number(arg('runs', 5));
if (!process.env.CALLTRAIL_SERVER_BIN) {
  execFileSync('cargo', ['build', '-q', '--release', '-p', 'calltrail-server'], { cwd: ROOT, stdio: 'inherit' });
  process.env.CALLTRAIL_SERVER_BIN = path.join(ROOT, 'target', 'release', 'calltrail-server');
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const world = await serverWorld({ dir: 'pg-bench', name: 'bench_admin' });
await world.admin('PUT', '/admin/accounts/acme', { name: 'Acme', webhook_secret: SECRET });
const contacts = [];
for (let k = 0; k < 200; k++) contacts.push({ firstName: 'C', lastName: `${k}`, phone: `+1212555${String(k).padStart(4, '0')}` });
// Numbers 0-9 have a second contact: an "ask" rep must choose.
for (let k = 0; k < 10; k++) contacts.push({ firstName: 'Twin', lastName: `${k}`, phone: `+1212555${String(k).padStart(4, '0')}` });
await call('POST', `${world.crmUrl}/_admin/seed`, { vendor: 'hubspot', contacts });
for (let r = 0; r < nreps; r++) {
  await world.admin('PUT', `/admin/accounts/acme/reps/rep${String(r).padStart(2, '0')}`, { telephony_user: `u${r}`, settings: hubspotSettings(world.crmUrl, r % 5 === 0 ? 'ask' : 'last_modified') });
  await world.admin('PUT', `/admin/accounts/acme/reps/rep${String(r).padStart(2, '0')}/credentials/hs`, { token: 'hubspot-token' });
}

// Yesterday, 08:00 to 18:00 local time: one working day, whole.
const y = new Date();
y.setDate(y.getDate() - 1);
const day = `${y.getFullYear()}-${String(y.getMonth() + 1).padStart(2, '0')}-${String(y.getDate()).padStart(2, '0')}`;
const start = new Date(y.getFullYear(), y.getMonth(), y.getDate(), 8).getTime();
const total = nreps * perRep;
const t0 = Date.now();
const pending = [];
for (let i = 0; i < total; i++) {
  const r = i % nreps;
  const at = start + Math.floor((i / total) * 10 * 3600_000);
  // Every 13th caller is unknown (no match); the rest are contacts 0-199.
  const from = i % 13 === 0 ? `+1310555${String(i % 10000).padStart(4, '0')}` : `+1212555${String((i * 7) % 200).padStart(4, '0')}`;
  pending.push(world.event('acme', `u${r}`, { id: `d-${i}`, direction: i % 3 ? 'inbound' : 'outbound', from: i % 3 ? from : '+16505550100', to: i % 3 ? '+16505550100' : from, started_at: at, answered_at: at + 4000, ended_at: at + 4000 + 30_000 + (i % 17) * 11_000 }));
  if (pending.length >= 50) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
const posted = Date.now() - t0;
const from = new Date(y.getFullYear(), y.getMonth(), y.getDate()).getTime();
await eventually('every call settled', async () => {
  const v = await world.admin('GET', `/admin/accounts/acme/calls?from=${from}&to=${from + 86_400_000}`);
  const calls = v.data.calls;
  // Settled: every call is there and none is being logged (some wait for the digest after a
  // connection failure, some for a person, some matched nobody: all are rows to show).
  return calls.length === total && calls.every((c) => c.slots.every((s) => s.word !== 'Logging…' && s.word !== 'Scheduled'));
}, 600_000);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
await page.addInitScript((t) => sessionStorage.setItem('calltrail-admin-token', t), ADMIN);
const rows = [];
for (let i = 0; i < runs + 1; i++) {
  await page.goto(`${world.url}/admin/?account=acme&day=${day}`);
  await page.waitForSelector('html[data-painted-at]', { timeout: 60_000 });
  const m = await page.evaluate(() => ({ ...document.documentElement.dataset }));
  if (i > 0) rows.push(m); // the first run warms the browser's cache of the page's files
}
await browser.close();
world.close();
const f = (k) => median(rows.map((r) => Number(r[k]))).toFixed(0);
console.log(`\n${nreps} reps, ${total} calls (${rows[0].rows} listed), posted in ${(posted / 1000).toFixed(1)} s; median of ${runs} loads\n`);
console.log('| calls listed | script started (ms) | server answers (ms) | tables built (ms) | refresh → painted (ms) | navigation → painted (ms) |\n| --- | --- | --- | --- | --- | --- |');
console.log(`| ${rows[0].rows} | ${f('startedAt')} | ${f('fetchMs')} | ${f('renderMs')} | ${median(rows.map((r) => r.paintedAt - r.renderedAt + Number(r.totalMs))).toFixed(0)} | ${f('paintedAt')} |`);
process.exit(0);
