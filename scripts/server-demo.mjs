// The server demo (scripts/server.sh --demo): the RingCentral emulator plays a day of calls
// for three reps; the server (a fresh database) gets them by webhook and call-log sync and logs
// them into HubSpot and Pipedrive in the CRM emulator; then a table of what got logged where.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const bin = process.argv[2];
const children = [];
const stopAll = () => children.forEach((c) => c.kill('SIGKILL'));
process.on('exit', stopAll);

function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', process.env.DEMO_LOGS ? 'inherit' : 'ignore'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (l) => { try { const v = JSON.parse(l); if (v.ready) resolve(v); } catch {} });
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}`)));
  });
}
async function call(method, url, body, token) {
  const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let v; try { v = JSON.parse(text); } catch { v = text; }
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return v;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A fresh database for each demo run.
const base = process.env.DATABASE_URL.replace(/\/[^/]*$/, '');
const db = `demo_${Date.now()}`;
await new Promise((res, rej) => {
  const p = spawn('psql', [`${base}/postgres`, '-qc', `CREATE DATABASE ${db}`], { stdio: 'inherit' });
  p.on('exit', (c) => (c === 0 ? res() : rej(new Error('createdb failed'))));
});

const crm = await start('node', ['www/crm-emulator/server.mjs', '--port', '0']);
const rc = await start('node', ['www/ringcentral-emulator/server.mjs', '--port', '0']);
const crmUrl = `http://127.0.0.1:${crm.port}`;
const rcUrl = rc.baseUrl;
const srv = await start(bin, [], { DATABASE_URL: `${base}/${db}`, CALLTRAIL_LISTEN: '127.0.0.1:0', CALLTRAIL_SYNC_INTERVAL_MS: '3000', CALLTRAIL_SUBSCRIPTION_CHECK_MS: '2000' });
const server = `http://127.0.0.1:${srv.port}`;
const admin = process.env.CALLTRAIL_ADMIN_TOKEN;
console.log(`server ${server} (instance ${srv.instance}), RingCentral emulator ${rcUrl}, CRM emulator ${crmUrl}`);

await call('POST', `${crmUrl}/_admin/faults`, { vendor: '*', type: 'latency', latencyMs: 100, count: null });
const people = [
  ['Ada', 'Lovelace', '+12125550101'], ['Grace', 'Hopper', '+12125550102'], ['Alan', 'Turing', '+12125550103'],
];
for (const vendor of ['hubspot', 'pipedrive']) {
  await call('POST', `${crmUrl}/_admin/seed`, { vendor, contacts: people.map(([f, l, phone]) => ({ firstName: f, lastName: l, phone })) });
}
// Alan is only in Pipedrive: HubSpot again with the first two, and two 429s on its creates.
await call('POST', `${crmUrl}/_admin/reset`, { vendor: 'hubspot' });
await call('POST', `${crmUrl}/_admin/seed`, { vendor: 'hubspot', contacts: people.slice(0, 2).map(([f, l, phone]) => ({ firstName: f, lastName: l, phone })) });
await call('POST', `${crmUrl}/_admin/faults`, { vendor: 'hubspot', type: 'latency', latencyMs: 100, count: null });
await call('POST', `${crmUrl}/_admin/faults`, { vendor: 'hubspot', type: 'rate_limit', count: 2, retryAfter: 1, method: 'POST' });

const health = await call('GET', `${rcUrl}/_admin/health`);
const acct = `${server}/admin/accounts/acme`;
await call('PUT', acct, { name: 'Acme', ringcentral: { server_url: rcUrl, client_id: 'rcemu-client', client_secret: 'rcemu-secret', jwt: health.defaults.jwts['62000000101'] } }, admin);
const reps = { bob: '62000000102', carol: '62000000103', alice: '62000000101' };
const settings = {
  default_country: 'US',
  integrations: [
    { id: 'hs', kind: 'hubspot', label: 'HubSpot', base_url: `${crmUrl}/hubspot`, auth: { type: 'api_token' }, conflict_rule: { rule: 'last_modified' } },
    { id: 'pd', kind: 'pipedrive', label: 'Pipedrive', base_url: `${crmUrl}/pipedrive`, auth: { type: 'api_token' }, conflict_rule: { rule: 'last_modified' } },
  ],
};
for (const [rep, ext] of Object.entries(reps)) {
  await call('PUT', `${acct}/reps/${rep}`, { telephony_user: ext, settings }, admin);
  await call('PUT', `${acct}/reps/${rep}/credentials/hs`, { token: 'hubspot-token' }, admin);
  await call('PUT', `${acct}/reps/${rep}/credentials/pd`, { token: 'pipedrive-token' }, admin);
}
for (let i = 0; ; i++) {
  const subs = await call('GET', `${rcUrl}/_admin/subscriptions`);
  if (subs.records.some((s) => s.status === 'Active')) break;
  if (i > 100) throw new Error('no subscription');
  await sleep(200);
}
console.log('subscription active; playing the day');

const day = [
  ['bob', 'Ada calls Bob, answered', { external: '+12125550101', extensionId: reps.bob, outcome: 'answered', talkSeconds: 240 }],
  ['bob', 'Grace calls Bob, missed', { external: '+12125550102', extensionId: reps.bob, outcome: 'missed' }],
  ['carol', 'Alan calls Carol (only in Pipedrive), recorded', { external: '+12125550103', extensionId: reps.carol, outcome: 'answered', recording: true, talkSeconds: 90 }],
  ['carol', 'an unknown number calls Carol, voicemail', { external: '+13125550177', extensionId: reps.carol, outcome: 'voicemail', talkSeconds: 20 }],
  ['alice', 'Alice calls Ada, no answer', { direction: 'Outbound', external: '+12125550101', extensionId: reps.alice, outcome: 'noanswer' }],
  ['alice', 'Alice calls Grace, answered', { direction: 'Outbound', external: '+12125550102', extensionId: reps.alice, outcome: 'answered', talkSeconds: 300 }],
  ['carol', 'Grace calls the support queue, Carol answers', { external: '+12125550102', queueId: '62000000200', answeredBy: reps.carol, outcome: 'answered' }],
];
const played = [];
for (const [rep, what, script] of day) {
  // One call's webhooks never arrive: the call log still brings it.
  const dropped = what.startsWith('Alice calls Grace');
  if (dropped) await call('POST', `${rcUrl}/_admin/faults`, { type: 'drop', count: null });
  const p = await call('POST', `${rcUrl}/_admin/calls`, { ...script, paceMs: 5 });
  if (dropped) await call('DELETE', `${rcUrl}/_admin/faults`);
  played.push({ rep, what: dropped ? `${what} (webhooks lost)` : what, tsid: p.telephonySessionId });
}
console.log('played; waiting for the server (webhooks now, the call log within seconds, recordings when they appear)');

const stateOf = async () => {
  const rows = {};
  for (const rep of Object.keys(reps)) {
    const v = await call('GET', `${acct}/reps/${rep}/slots`, undefined, admin);
    for (const s of v.data) rows[`${rep}|${s.key}`] = s.state;
  }
  return rows;
};
let rows = {};
for (let i = 0; i < 90; i++) {
  rows = await stateOf();
  const open = played.some((p) => ['hs', 'pd'].some((x) => !['logged', 'no_match'].includes(rows[`${p.rep}|call|rc:${p.tsid}|${x}`])));
  if (!open) break;
  if (i % 10 === 9) for (const rep of Object.keys(reps)) await call('POST', `${acct}/reps/${rep}/sync`, undefined, admin);
  await sleep(1000);
}
const inCrm = async (vendor, tsid) => (await call('GET', `${crmUrl}/_admin/calls?vendor=${vendor}&marker=${encodeURIComponent(`rc:${tsid}`)}`)).count;
console.log('\n| call | rep | HubSpot | Pipedrive |\n| --- | --- | --- | --- |');
for (const p of played) {
  const cell = async (vendor, x) => {
    const state = rows[`${p.rep}|call|rc:${p.tsid}|${x}`] ?? '(no slot)';
    const n = await inCrm(vendor, p.tsid);
    return state === 'logged' ? `logged (${n} record${n === 1 ? '' : 's'})` : `${state}${n ? ` (${n} records!)` : ''}`;
  };
  console.log(`| ${p.what} | ${p.rep} | ${await cell('hubspot', 'hs')} | ${await cell('pipedrive', 'pd')} |`);
}
const colleague = played.find((p) => p.what.includes('queue'));
console.log(`\nThe queue call is Carol's (she answered); Bob was rung too and logs nothing for it: ${rows[`bob|call|rc:${colleague.tsid}|hs`] ? 'WRONG' : 'right'}.`);
stopAll();
process.exit(0);
