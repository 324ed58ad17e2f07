// Server benchmark (prints a table; figures in docs/server-benchmarks.md).
//   node scripts/bench-server.mjs [--rate 250] [--seconds 10] [--instances 1,2,3] [--reps 50]
// Needs DATABASE_URL of a cluster (scripts/postgres.sh start prints it) and the built binary
// (cargo build --release -p calltrail-server). For each instance count: a fresh database, the
// CRM emulator with 100 ms latency (HubSpot, one contact per caller), N server instances, 50 reps;
// signed generic `call.ended` events posted at --rate per second, spread over the instances.
// Measured: webhook answer time (client side), event-to-create latency (the time the CRM
// emulator received each call's create, from its request log, minus the time the event was
// sent), and logged calls per second (calls / time from the first event to the last create).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHmac } from 'node:crypto';

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const rate = Number(arg('rate', 250));
const seconds = Number(arg('seconds', 10));
const counts = arg('instances', '1,2,3').split(',').map(Number);
const nreps = Number(arg('reps', 50));
const bin = arg('bin', 'target/release/calltrail-server');
const ADMIN = 'bench-admin-token-0123456789';
const SECRET = 'bench-webhook-secret-0123456789';
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => { try { const v = JSON.parse(l); if (v.ready) resolve({ ...v, child }); } catch {} });
    child.on('exit', (c) => reject(new Error(`${cmd} exited ${c}`)));
  });
}
async function call(method, url, body, headers = {}) {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  const t = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${t}`);
  try { return JSON.parse(t); } catch { return t; }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] : NaN; };
const base = process.env.DATABASE_URL.replace(/\/[^/]*$/, '');

async function run(n) {
  const db = `bench_${n}_${Date.now()}`;
  await new Promise((res, rej) => spawn('psql', [`${base}/postgres`, '-qc', `CREATE DATABASE ${db}`], { stdio: 'inherit' }).on('exit', (c) => (c ? rej(new Error('createdb')) : res())));
  const crm = await start('node', ['www/crm-emulator/server.mjs', '--port', '0']);
  const crmUrl = `http://127.0.0.1:${crm.port}`;
  await call('POST', `${crmUrl}/_admin/faults`, { vendor: '*', type: 'latency', latencyMs: 100, count: null });
  const env = { DATABASE_URL: `${base}/${db}`, CALLTRAIL_LISTEN: '127.0.0.1:0', CALLTRAIL_SEAL_KEY: '02'.repeat(32), CALLTRAIL_ADMIN_TOKEN: ADMIN, CALLTRAIL_LOG: 'warn' };
  const servers = [];
  for (let i = 0; i < n; i++) servers.push(await start(bin, [], { ...env, CALLTRAIL_INSTANCE_ID: `b${i}` }));
  const urls = servers.map((s) => `http://127.0.0.1:${s.port}`);
  const auth = { authorization: `Bearer ${ADMIN}` };
  await call('PUT', `${urls[0]}/admin/accounts/acme`, { webhook_secret: SECRET }, auth);
  const contacts = [];
  for (let r = 0; r < nreps; r++) {
    const settings = { integrations: [{ id: 'hs', kind: 'hubspot', base_url: `${crmUrl}/hubspot`, conflict_rule: { rule: 'last_modified' } }] };
    await call('PUT', `${urls[0]}/admin/accounts/acme/reps/rep${r}`, { telephony_user: `u${r}`, settings }, auth);
    await call('PUT', `${urls[0]}/admin/accounts/acme/reps/rep${r}/credentials/hs`, { token: 'hubspot-token' }, auth);
  }
  for (let k = 0; k < 200; k++) contacts.push({ firstName: 'C', lastName: `${k}`, phone: `+1212555${String(k).padStart(4, '0')}` });
  await call('POST', `${crmUrl}/_admin/seed`, { vendor: 'hubspot', contacts });
  // Every instance holds its share of reps before the clock starts.
  for (let i = 0; i < 100; i++) {
    const held = await Promise.all(urls.map((u) => call('GET', `${u}/admin/metrics`, undefined, auth).then((m) => m.data.held_reps)));
    if (held.reduce((a, b) => a + b, 0) >= nreps && Math.min(...held) > 0) break;
    await sleep(200);
  }
  await sleep(1500);
  const since = (await call('GET', `${crmUrl}/_admin/requests?limit=1`)).lastSeq;
  const total = rate * seconds;
  const sent = new Map();
  const answers = [];
  const t0 = Date.now();
  const inflight = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const id = `b${n}-${i}`;
    const now = Date.now();
    const body = JSON.stringify({ calltrail: 1, event: 'call.ended', user: `u${i % nreps}`, call: { id, direction: 'inbound', from: `+1212555${String(i % 200).padStart(4, '0')}`, to: '+16505550100', started_at: now - 60000, answered_at: now - 55000, ended_at: now - 1000 } });
    const ts = Math.floor(now / 1000);
    const sig = 'sha256=' + createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
    const url = `${urls[i % urls.length]}/webhooks/generic/acme`;
    sent.set(id, now);
    inflight.push(call('POST', url, body, { 'x-calltrail-timestamp': String(ts), 'x-calltrail-signature': sig }).then(() => answers.push(Date.now() - now)));
  }
  await Promise.all(inflight);
  const created = new Map();
  for (let i = 0; i < 600 && created.size < total; i++) {
    const log = await call('GET', `${crmUrl}/_admin/requests?vendor=hubspot&method=POST&since=${since}&limit=100000`);
    for (const r of log.requests) {
      if (!/objects\/calls$/.test(r.path)) continue;
      const m = /gen:(b\d+-\d+)/.exec(JSON.stringify(r.body));
      if (m && !created.has(m[1])) created.set(m[1], typeof r.t === 'number' ? r.t : Date.parse(r.at));
    }
    if (created.size < total) await sleep(500);
  }
  const lat = [...created].map(([id, t]) => t - sent.get(id));
  const last = Math.max(...created.values());
  const out = { instances: n, calls: total, logged: created.size, rate, perSec: created.size / ((last - t0) / 1000), p50: pct(lat, 50), p99: pct(lat, 99), hookP50: pct(answers, 50), hookP99: pct(answers, 99) };
  servers.forEach((s) => s.child.kill('SIGKILL'));
  crm.child.kill('SIGKILL');
  return out;
}

const rows = [];
for (const n of counts) rows.push(await run(n));
console.log(`\n| instances | offered (calls/s) | logged | logged calls/s | event→create p50 / p99 (ms) | webhook answer p50 / p99 (ms) |\n| --- | --- | --- | --- | --- | --- |`);
for (const r of rows) console.log(`| ${r.instances} | ${r.rate} | ${r.logged}/${r.calls} | ${r.perSec.toFixed(0)} | ${r.p50} / ${r.p99} | ${r.hookP50} / ${r.hookP99} |`);
process.exit(0);
