// Server benchmark: prints the tables BENCHMARKS.md's server section holds.
//   node scripts/bench-server.mjs [--rate 250] [--seconds 8] [--instances 1,2,3] [--reps 50]
//                                 [--pg-set commit_delay=200,commit_siblings=2] [--bin PATH]
// Needs DATABASE_URL of a cluster (scripts/postgres.sh start prints it; its user a superuser,
// as that script makes it) and the built binary (cargo build --release -p calltrail-server).
//
// For each instance count: a fresh database (with --pg-set's settings), the CRM emulator with
// 100 ms latency (HubSpot, one contact per caller), N server instances, --reps reps; signed
// generic `call.ended` events posted at --rate per second for --seconds, spread round-robin
// over the instances. Measured:
// - webhook answer time, as the sender sees it (client side) and as the server took it (its
//   `Server-Timing: store;dur=` header: from the handler's start to the answer);
// - event-to-create latency: the time the CRM emulator received each call's create (its
//   request log) minus the time the event was sent;
// - logged calls per second: calls / time from the first event to the last create;
// - CPU time per logged call by process, from /proc over the same window: each server instance
//   (its engine thread apart), PostgreSQL (the postmaster, its live children and those it
//   reaped), the CRM emulator, this load generator, and the machine as a whole (/proc/stat), so
//   what other work on a shared machine took is visible too.
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHmac } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const rate = Number(arg('rate', 250));
const seconds = Number(arg('seconds', 8));
const counts = arg('instances', '1,2,3').split(',').map(Number);
const nreps = Number(arg('reps', 50));
const bin = arg('bin', 'target/release/calltrail-server');
const pgSet = (arg('pg-set', '') || '').split(',').filter(Boolean).map((kv) => kv.split('='));
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
  return { body: (() => { try { return JSON.parse(t); } catch { return t; } })(), headers: r.headers };
}
const json = async (...a) => (await call(...a)).body;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] : NaN; };
const base = process.env.DATABASE_URL.replace(/\/[^/]*$/, '');
const psql = (db, sql) => execFileSync('psql', [`${base}/${db}`, '-qtAc', sql], { encoding: 'utf8' }).trim();

// ---- CPU accounting from /proc (clock ticks; 100 per second on Linux) ----
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
function stat(path) {
  try {
    const s = readFileSync(path, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
  } catch { return null; }
}
const procTicks = (pid) => stat(`/proc/${pid}/stat`)?.own ?? 0;
function threadTicks(pid, name) {
  let t = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === name) t += stat(`/proc/${pid}/task/${tid}/stat`)?.own ?? 0; } catch {}
  }
  return t;
}
function postgresTicks(postmaster) {
  const pm = stat(`/proc/${postmaster}/stat`);
  let t = pm ? pm.own + pm.reaped : 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const s = stat(`/proc/${p}/stat`);
    if (s && s.ppid === postmaster) t += s.own;
  }
  return t;
}
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total, steal: f[7] };
}
function cpuSample(servers, crm, postmaster) {
  const me = process.cpuUsage();
  return {
    servers: servers.map((s) => procTicks(s.child.pid)),
    engines: servers.map((s) => threadTicks(s.child.pid, 'engine')),
    postgres: postgresTicks(postmaster),
    crm: procTicks(crm.child.pid),
    load: ((me.user + me.system) / 1e6) * TICK,
    machine: machineTicks(),
  };
}

async function run(n) {
  const db = `bench_${n}_${Date.now()}`;
  psql('postgres', `CREATE DATABASE ${db}`);
  for (const [k, v] of pgSet) psql('postgres', `ALTER DATABASE ${db} SET ${k} = '${v}'`);
  const postmaster = Number(readFileSync(`${psql(db, 'SHOW data_directory')}/postmaster.pid`, 'utf8').split('\n')[0]);
  const crm = await start('node', ['www/crm-emulator/server.mjs', '--port', '0']);
  const crmUrl = `http://127.0.0.1:${crm.port}`;
  await json('POST', `${crmUrl}/_admin/faults`, { vendor: '*', type: 'latency', latencyMs: 100, count: null });
  const env = { DATABASE_URL: `${base}/${db}`, CALLTRAIL_LISTEN: '127.0.0.1:0', CALLTRAIL_SEAL_KEY: '02'.repeat(32), CALLTRAIL_ADMIN_TOKEN: ADMIN, CALLTRAIL_LOG: 'warn' };
  const servers = [];
  for (let i = 0; i < n; i++) servers.push(await start(bin, [], { ...env, CALLTRAIL_INSTANCE_ID: `b${i}` }));
  const urls = servers.map((s) => `http://127.0.0.1:${s.port}`);
  const auth = { authorization: `Bearer ${ADMIN}` };
  await json('PUT', `${urls[0]}/admin/accounts/acme`, { webhook_secret: SECRET }, auth);
  const contacts = [];
  for (let r = 0; r < nreps; r++) {
    const settings = { integrations: [{ id: 'hs', kind: 'hubspot', base_url: `${crmUrl}/hubspot`, conflict_rule: { rule: 'last_modified' } }] };
    await json('PUT', `${urls[0]}/admin/accounts/acme/reps/rep${r}`, { telephony_user: `u${r}`, settings }, auth);
    await json('PUT', `${urls[0]}/admin/accounts/acme/reps/rep${r}/credentials/hs`, { token: 'hubspot-token' }, auth);
  }
  for (let k = 0; k < 200; k++) contacts.push({ firstName: 'C', lastName: `${k}`, phone: `+1212555${String(k).padStart(4, '0')}` });
  await json('POST', `${crmUrl}/_admin/seed`, { vendor: 'hubspot', contacts });
  // Every instance holds its share of reps before the clock starts.
  for (let i = 0; i < 100; i++) {
    const held = await Promise.all(urls.map((u) => json('GET', `${u}/admin/metrics`, undefined, auth).then((m) => m.data.held_reps)));
    if (held.reduce((a, b) => a + b, 0) >= nreps && Math.min(...held) > 0) break;
    await sleep(200);
  }
  await sleep(1500);
  let since = (await json('GET', `${crmUrl}/_admin/requests?limit=1`)).lastSeq;
  const total = rate * seconds;
  const sent = new Map();
  const answers = [];
  const stored = [];
  const cpu0 = cpuSample(servers, crm, postmaster);
  const load0 = Date.now();
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
    inflight.push(call('POST', url, body, { 'x-calltrail-timestamp': String(ts), 'x-calltrail-signature': sig }).then((r) => {
      answers.push(Date.now() - now);
      const m = /store;dur=([\d.]+)/.exec(r.headers.get('server-timing') || '');
      if (m) stored.push(Number(m[1]));
    }));
  }
  await Promise.all(inflight);
  const created = new Map();
  for (let i = 0; i < 2400 && created.size < total; i++) {
    const log = await json('GET', `${crmUrl}/_admin/requests?vendor=hubspot&method=POST&since=${since}&limit=100000`);
    for (const r of log.requests) {
      since = Math.max(since, r.seq);
      if (!/objects\/calls$/.test(r.path)) continue;
      const m = /gen:(b\d+-\d+)/.exec(JSON.stringify(r.body));
      if (m && !created.has(m[1])) created.set(m[1], typeof r.t === 'number' ? r.t : Date.parse(r.at));
    }
    if (created.size < total) await sleep(250);
  }
  const cpu1 = cpuSample(servers, crm, postmaster);
  const windowS = (Date.now() - load0) / 1000;
  const lat = [...created].map(([id, t]) => t - sent.get(id));
  const last = Math.max(...created.values());
  const logged = created.size;
  const perCall = (ticks) => (ticks / TICK) * 1000 / logged; // CPU ms per logged call
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const serverTicks = sum(cpu1.servers) - sum(cpu0.servers);
  const engineTicks = sum(cpu1.engines) - sum(cpu0.engines);
  const ours = serverTicks + (cpu1.postgres - cpu0.postgres) + (cpu1.crm - cpu0.crm) + (cpu1.load - cpu0.load);
  const machine = cpu1.machine.busy - cpu0.machine.busy;
  const cpu = {
    server: perCall(serverTicks), engine: perCall(engineTicks), postgres: perCall(cpu1.postgres - cpu0.postgres),
    crm: perCall(cpu1.crm - cpu0.crm), load: perCall(cpu1.load - cpu0.load), others: perCall(Math.max(0, machine - ours)),
    machineCores: (machine / TICK) / windowS, steal: ((cpu1.machine.steal - cpu0.machine.steal) / TICK) / windowS, windowS,
  };
  const out = { instances: n, calls: total, logged, rate, perSec: logged / ((last - t0) / 1000), p50: pct(lat, 50), p99: pct(lat, 99), hookP50: pct(answers, 50), hookP99: pct(answers, 99), storeP50: pct(stored, 50), storeP99: pct(stored, 99), cpu, load: readFileSync('/proc/loadavg', 'utf8').split(' ')[0] };
  servers.forEach((s) => s.child.kill('SIGKILL'));
  crm.child.kill('SIGKILL');
  await sleep(500);
  return out;
}

const rows = [];
for (const n of counts) rows.push(await run(n));
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
console.log(`\nPostgreSQL settings: ${pgSet.length ? pgSet.map((kv) => kv.join('=')).join(', ') : 'defaults'}; ${nreps} reps; load average at each row's end in the last column`);
console.log(`\n| instances | offered (calls/s) | logged | logged calls/s | event→create p50 / p99 (ms) | webhook answer p50 / p99 (ms), client | same, server (Server-Timing) | load avg |\n| --- | --- | --- | --- | --- | --- | --- | --- |`);
for (const r of rows) console.log(`| ${r.instances} | ${r.rate} | ${r.logged}/${r.calls} | ${r.perSec.toFixed(0)} | ${r.p50} / ${r.p99} | ${r.hookP50} / ${r.hookP99} | ${f1(r.storeP50)} / ${f1(r.storeP99)} | ${r.load} |`);
console.log(`\nCPU ms per logged call (from /proc, over the run's window):\n\n| instances | server instances (engine threads) | PostgreSQL | CRM emulator | load generator | other work on the machine | machine busy (cores) | steal (cores) |\n| --- | --- | --- | --- | --- | --- | --- | --- |`);
for (const r of rows) {
  const c = r.cpu;
  console.log(`| ${r.instances} | ${f2(c.server)} (${f2(c.engine)}) | ${f2(c.postgres)} | ${f2(c.crm)} | ${f2(c.load)} | ${f2(c.others)} | ${f2(c.machineCores)} of 2 | ${f2(c.steal)} |`);
}
console.log(`\n${JSON.stringify(rows)}`);
process.exit(0);
