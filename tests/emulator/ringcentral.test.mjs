// Behaviour tests of the RingCentral platform emulator (www/ringcentral-emulator): OAuth and 401
// bodies, the Validation-Token handshake, renewal, deliveries with retries, blacklisting and
// recovery, delivery and REST faults, call-log paging, call-log-sync FSync/ISync, rate limits and
// the scripted call shapes. Run: node --test tests/emulator/ringcentral.test.mjs

import test, { before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { startEmulator } from '../../www/ringcentral-emulator/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(HERE, '..', '..', 'www', 'ringcentral-emulator', 'server.mjs');
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ALICE = '62000000101'; // admin
const BOB = '62000000102';
const CAROL = '62000000103';
const QUEUE = '62000000200';
const CALLER = { phoneNumber: '+14155550123', name: 'WIRELESS CALLER' };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(fn, { timeout = 3000, every = 10, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

// ---------------------------------------------------------------- a programmable webhook receiver
// Each path has a behaviour: (req) => ({status, headers, delayMs, body}). The default echoes the
// Validation-Token and answers 200 to notifications.
const hook = {
  server: null,
  port: 0,
  received: [],
  modes: {},
  url(p = '/hook') { return `http://127.0.0.1:${this.port}${p}`; },
  notes(p = '/hook') { return this.received.filter((r) => r.path === p && !r.headers['validation-token']).map((r) => r.json); },
};
function defaultMode(req) {
  const vt = req.headers['validation-token'];
  return vt ? { status: 200, headers: { 'Validation-Token': vt, 'Content-Type': 'application/json' } } : { status: 200 };
}

let emu;
let base;
let defaults;

before(async () => {
  emu = await startEmulator({ port: 0 });
  base = emu.baseUrl;
  hook.server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', async () => {
      let json = null;
      try { json = raw ? JSON.parse(raw) : null; } catch { json = null; }
      const entry = { path: req.url, headers: req.headers, json, at: Date.now() };
      hook.received.push(entry);
      const mode = hook.modes[req.url] || defaultMode;
      const out = mode(req, entry);
      if (out.delayMs) await sleep(out.delayMs);
      if (out.destroy) { req.socket.destroy(); return; }
      res.writeHead(out.status, out.headers || {});
      res.end(out.body || '');
    });
  });
  hook.server.keepAliveTimeout = 100;
  await new Promise((r) => hook.server.listen(0, '127.0.0.1', r));
  hook.port = hook.server.address().port;
});

after(async () => {
  await emu.close();
  hook.server.closeAllConnections?.();
  await new Promise((r) => hook.server.close(r));
});

beforeEach(async () => {
  const r = await admin('POST', '/reset');
  defaults = r.body.defaults;
  // Fast settings for tests; each test tightens what it needs.
  await admin('POST', '/config', {
    paceMs: 1, callLogLagMs: 0, recordingLagMs: 0,
    validationTimeoutMs: 400, deliveryTimeoutMs: 300, retryDelaysMs: [30, 60],
    rateLimits: { light: { limit: 1000 }, medium: { limit: 1000 }, heavy: { limit: 1000 }, auth: { limit: 1000 } },
  });
  hook.received = [];
  hook.modes = {};
});

// ---------------------------------------------------------------- helpers
async function admin(method, p, body) {
  const res = await fetch(`${base}/_admin${p}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: await res.json() };
}

async function rc(method, p, { token, body, headers = {}, form, basic } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (basic) h.authorization = 'Basic ' + Buffer.from(basic).toString('base64');
  let payload;
  if (form) { payload = new URLSearchParams(form).toString(); h['content-type'] = 'application/x-www-form-urlencoded'; }
  else if (body !== undefined) { payload = JSON.stringify(body); h['content-type'] = 'application/json'; }
  const res = await fetch(`${base}${p}`, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, headers: res.headers, body: json, text };
}

async function login(ext = ALICE) {
  const r = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: JWT_GRANT, assertion: defaults.jwts[ext] } });
  assert.equal(r.status, 200, r.text);
  return r.body.access_token;
}

async function subscribe(token, { filters = ['/restapi/v1.0/account/~/telephony/sessions'], address = hook.url(), verificationToken = 'calltrail-vt', expiresIn } = {}) {
  return rc('POST', '/restapi/v1.0/subscription', { token, body: { eventFilters: filters, deliveryMode: { transportType: 'WebHook', address, verificationToken }, ...(expiresIn !== undefined ? { expiresIn } : {}) } });
}

const play = async (spec) => {
  const r = await admin('POST', '/calls', { external: CALLER, ...spec });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};
const deliveries = async (q = '') => (await admin('GET', `/deliveries${q}`)).body.deliveries;

// ---------------------------------------------------------------- CLI
test('CLI: --port 0 prints one ready JSON line, serves, and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [SERVER, '--port', '0', '--seed', '7'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => { buf += d; if (buf.includes('\n')) resolve(buf.split('\n')[0]); });
    child.on('error', reject);
    setTimeout(() => reject(new Error('no ready line')), 5000).unref();
  });
  const ready = JSON.parse(line);
  assert.equal(ready.ready, true);
  assert.ok(ready.port > 0);
  const health = await (await fetch(`http://127.0.0.1:${ready.port}/_admin/health`)).json();
  assert.equal(health.ok, true);
  assert.equal((await (await fetch(`http://127.0.0.1:${ready.port}/_admin/config`)).json()).seed, 7);
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

// ---------------------------------------------------------------- auth
test('auth: JWT grant answers a TokenInfo; client and assertion errors use the OAuth envelope', async () => {
  const ok = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: JWT_GRANT, assertion: defaults.jwts[BOB] } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.token_type, 'bearer');
  assert.equal(ok.body.expires_in, 3600);
  assert.equal(ok.body.refresh_token_expires_in, 604800);
  assert.equal(ok.body.owner_id, BOB);
  assert.ok(ok.body.access_token && ok.body.refresh_token && ok.body.scope.includes('CallControl'));
  assert.equal(ok.headers.get('x-rate-limit-group'), 'auth');

  const badSecret = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:nope', form: { grant_type: JWT_GRANT, assertion: defaults.jwts[BOB] } });
  assert.equal(badSecret.status, 401);
  assert.equal(badSecret.body.error, 'invalid_client');
  assert.equal(badSecret.body.errors[0].errorCode, 'OAU-146');
  const noClient = await rc('POST', '/restapi/oauth/token', { form: { grant_type: JWT_GRANT, assertion: defaults.jwts[BOB] } });
  assert.equal(noClient.status, 401);
  assert.equal(noClient.body.errors[0].errorCode, 'OAU-123');
  const badJwt = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: JWT_GRANT, assertion: 'not-a-credential' } });
  assert.equal(badJwt.status, 400);
  assert.deepEqual([badJwt.body.error, badJwt.body.errors[0].errorCode], ['invalid_grant', 'OAU-140']);
  assert.equal(typeof badJwt.body.error_description, 'string');
  const pwd = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: 'password', username: 'alice@example.com', password: 'x' } });
  assert.deepEqual([pwd.status, pwd.body.error, pwd.body.errors[0].errorCode], [400, 'unauthorized_client', 'OAU-251']);
});

test('auth: refresh rotates the pair, kills the old access token, and allows a short re-use grace', async () => {
  const first = (await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: JWT_GRANT, assertion: defaults.jwts[ALICE] } })).body;
  const r1 = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: 'refresh_token', refresh_token: first.refresh_token } });
  assert.equal(r1.status, 200);
  assert.notEqual(r1.body.access_token, first.access_token);
  const old = await rc('GET', '/restapi/v1.0/account/~/extension/~', { token: first.access_token });
  assert.equal(old.status, 401);
  assert.equal(old.body.errors[0].errorCode, 'OAU-213');
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/extension/~', { token: r1.body.access_token })).status, 200);
  const again = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: 'refresh_token', refresh_token: first.refresh_token } });
  assert.equal(again.body.access_token, r1.body.access_token, 'within the grace the same pair comes back');
  await admin('POST', '/config', { refreshReuseGraceMs: 0 });
  await sleep(5);
  const late = await rc('POST', '/restapi/oauth/token', { basic: 'rcemu-client:rcemu-secret', form: { grant_type: 'refresh_token', refresh_token: first.refresh_token } });
  assert.deepEqual([late.status, late.body.error, late.body.errors[0].errorCode], [400, 'invalid_grant', 'OAU-211']);
});

test('auth: 401 bodies for a missing, unknown and expired access token', async () => {
  const missing = await rc('GET', '/restapi/v1.0/account/~/call-log');
  assert.equal(missing.status, 401);
  assert.deepEqual([missing.body.errorCode, missing.body.message], ['OAU-123', 'Authorization header is not specified']);
  assert.equal(missing.body.errors[0].errorCode, 'OAU-123');
  const unknown = await rc('GET', '/restapi/v1.0/account/~/call-log', { token: 'nope' });
  assert.deepEqual([unknown.status, unknown.body.errorCode, unknown.body.errors[0].errorCode, unknown.body.errors[0].message], [401, 'TokenInvalid', 'OAU-213', 'Token not found']);
  const t = (await admin('POST', '/tokens', { extensionId: ALICE })).body.access_token;
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t })).status, 200);
  await admin('POST', '/tokens/expire', { accessToken: t });
  const expired = await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t });
  assert.deepEqual([expired.status, expired.body.errors[0].errorCode, expired.body.errors[0].message], [401, 'OAU-128', 'Access token expired']);
  // The clock offset expires tokens too.
  const t2 = await login();
  await admin('POST', '/config', { clockOffsetMs: 3601 * 1000 });
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/extension/~', { token: t2 })).status, 401);
});

// ---------------------------------------------------------------- the Validation-Token handshake
test('subscription: creation runs the Validation-Token handshake and answers a SubscriptionInfo', async () => {
  const t = await login();
  const r = await subscribe(t);
  assert.equal(r.status, 200, r.text);
  const hs = hook.received.filter((x) => x.headers['validation-token']);
  assert.equal(hs.length, 1);
  assert.equal(hs[0].headers['user-agent'], 'RingCentral-Webhook/8.3');
  const s = r.body;
  assert.equal(s.status, 'Active');
  assert.deepEqual(s.eventFilters, ['/restapi/v1.0/account/37000000008/telephony/sessions']);
  assert.equal(s.expiresIn, 604800);
  assert.equal(Date.parse(s.expirationTime) - Date.parse(s.creationTime), 604800 * 1000);
  assert.deepEqual(s.deliveryMode, { transportType: 'WebHook', encryption: false, address: hook.url() });
  assert.ok(s.uri.endsWith(`/restapi/v1.0/subscription/${s.id}`));
  assert.equal(r.headers.get('x-rate-limit-group'), 'medium');
  const log = await deliveries('?kind=validation');
  assert.equal(log[0].outcome, 'ok');
});

test('subscription: a wrong echo, no echo, a non-200, a slow answer or an oversized answer fail with SUB-525', async () => {
  const t = await login();
  hook.modes['/wrong'] = () => ({ status: 200, headers: { 'Validation-Token': 'something-else' } });
  hook.modes['/none'] = () => ({ status: 200 });
  hook.modes['/404'] = (req) => ({ status: 404, headers: { 'Validation-Token': req.headers['validation-token'] } });
  hook.modes['/slow'] = (req) => ({ status: 200, headers: { 'Validation-Token': req.headers['validation-token'] }, delayMs: 700 });
  hook.modes['/big'] = (req) => ({ status: 200, headers: { 'Validation-Token': req.headers['validation-token'] }, body: 'x'.repeat(1100) });
  for (const p of ['/wrong', '/none', '/404', '/slow', '/big']) {
    const r = await subscribe(t, { address: hook.url(p) });
    assert.equal(r.status, 400, `${p}: ${r.text}`);
    assert.equal(r.body.errorCode, 'SUB-525');
    assert.equal(r.body.message, 'WebHook server response is invalid');
  }
  const unreachable = await subscribe(t, { address: 'http://127.0.0.1:1/hook' });
  assert.equal(unreachable.body.errorCode, 'SUB-525');
  assert.deepEqual((await rc('GET', '/restapi/v1.0/subscription', { token: t })).body.records, []);
  const outcomes = (await deliveries('?kind=validation')).map((d) => d.problem);
  assert.match(outcomes[0], /different value/);
  assert.match(outcomes[1], /not echoed/);
  assert.match(outcomes[2], /HTTP 404/);
  assert.match(outcomes[3], /no answer within 400 ms/);
  assert.match(outcomes[4], /exceeds 1024/);
});

test('subscription: request validation (filters, transport, address, lifetime, limits, permission)', async () => {
  const t = await login();
  const badFilter = await subscribe(t, { filters: ['/restapi/v1.0/account/~/extension/~/presence'] });
  assert.deepEqual([badFilter.status, badFilter.body.errorCode], [400, 'SUB-508']);
  const otherAcc = await subscribe(t, { filters: ['/restapi/v1.0/account/999/telephony/sessions'] });
  assert.deepEqual([otherAcc.status, otherAcc.body.errorCode], [403, 'SUB-406']);
  const ws = await rc('POST', '/restapi/v1.0/subscription', { token: t, body: { eventFilters: ['/restapi/v1.0/account/~/telephony/sessions'], deliveryMode: { transportType: 'WebSocket' } } });
  assert.deepEqual([ws.status, ws.body.errors[0].parameterName], [400, 'deliveryMode.transportType']);
  const remote = await subscribe(t, { address: 'https://example.com/hook' });
  assert.deepEqual([remote.status, remote.body.errors[0].parameterName], [400, 'deliveryMode.address']);
  const long = await subscribe(t, { expiresIn: 999999999 });
  assert.equal(long.body.expiresIn, 315360000, 'WebHook lifetime is capped at 10 years');
  const withParams = await subscribe(t, { filters: ['/restapi/v1.0/account/~/extension/~/telephony/sessions?statusCode=Disconnected&direction=Inbound'] });
  assert.deepEqual(withParams.body.eventFilters, [`/restapi/v1.0/account/37000000008/extension/${ALICE}/telephony/sessions?statusCode=Disconnected&direction=Inbound`]);
  await admin('POST', '/config', { maxSubscriptionsPerUser: 2 });
  const third = await subscribe(t);
  assert.deepEqual([third.status, third.body.errorCode], [403, 'SUB-505']);
  await admin('POST', '/apps', { clientId: 'no-cc', clientSecret: 's', scopes: ['ReadCallLog', 'SubscriptionWebhook'] });
  const tok = (await rc('POST', '/restapi/oauth/token', { basic: 'no-cc:s', form: { grant_type: JWT_GRANT, assertion: defaults.jwts[BOB] } })).body.access_token;
  const denied = await subscribe(tok);
  assert.deepEqual([denied.status, denied.body.errors[0].errorCode, denied.body.permissionName], [403, 'CMN-401', 'CallControl']);
});

// ---------------------------------------------------------------- renewal, update, expiry, delete
test('subscription: renew and PUT extend the expiry; PUT replaces filters; expired and deleted ones are gone', async () => {
  const t = await login();
  const s = (await subscribe(t, { expiresIn: 3600 })).body;
  await admin('POST', '/config', { clockOffsetMs: 1800 * 1000 });
  const renewed = await rc('POST', `/restapi/v1.0/subscription/${s.id}/renew`, { token: t });
  assert.equal(renewed.status, 200);
  assert.equal(renewed.body.expiresIn, 3600);
  const moved = Date.parse(renewed.body.expirationTime) - Date.parse(s.expirationTime);
  assert.ok(moved >= 1800 * 1000 && moved < 1800 * 1000 + 2000, `expiry moved by ${moved} ms`);
  assert.equal(renewed.headers.get('x-rate-limit-group'), 'light');
  const put = await rc('PUT', `/restapi/v1.0/subscription/${s.id}`, { token: t, body: { eventFilters: [`/restapi/v1.0/account/~/extension/${BOB}/telephony/sessions`], expiresIn: 7200 } });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body.eventFilters, [`/restapi/v1.0/account/37000000008/extension/${BOB}/telephony/sessions`]);
  assert.equal(put.body.expiresIn, 7200);
  const empty = await rc('PUT', `/restapi/v1.0/subscription/${s.id}`, { token: t, body: {} });
  assert.equal(empty.body.expiresIn, 604800, 'an empty PUT renews with the default lifetime');
  assert.equal((await rc('GET', `/restapi/v1.0/subscription/${s.id}`, { token: t })).body.id, s.id);
  assert.equal((await rc('GET', `/restapi/v1.0/subscription/${s.id}`, { token: await login(BOB) })).status, 404, "another user's subscription is not visible");

  const s2 = (await subscribe(t, { expiresIn: 60 })).body;
  await admin('POST', '/config', { clockOffsetMs: 1800 * 1000 + 61 * 1000 });
  const gone = await rc('GET', `/restapi/v1.0/subscription/${s2.id}`, { token: t });
  assert.deepEqual([gone.status, gone.body.errorCode], [404, 'CMN-102']);
  const del = await rc('DELETE', `/restapi/v1.0/subscription/${s.id}`, { token: t });
  assert.equal(del.status, 204);
  assert.equal((await rc('GET', `/restapi/v1.0/subscription/${s.id}`, { token: t })).status, 404);
  await play({ extensionId: BOB });
  await sleep(50);
  assert.equal(hook.notes().length, 0, 'nothing is delivered to deleted or expired subscriptions');
});

// ---------------------------------------------------------------- deliveries
test('delivery: an answered direct call arrives as per-party notifications with the Verification-Token', async () => {
  const t = await login();
  const s = (await subscribe(t)).body;
  const call = await play({ extensionId: BOB, ringSeconds: 6, talkSeconds: 42, recording: true });
  const notes = await waitFor(() => (hook.notes().length === call.events.length ? hook.notes() : null), { what: 'all notifications' });
  const got = hook.received.filter((r) => !r.headers['validation-token']);
  assert.ok(got.every((r) => r.headers['verification-token'] === 'calltrail-vt'));
  assert.ok(got.every((r) => r.headers['content-type'] === 'application/json; charset=UTF-8'));
  const seq = notes.map((n) => n.body.sequence).sort((a, b) => a - b);
  assert.deepEqual(seq, call.events.map((e) => e.sequence));
  const n0 = notes.find((n) => n.body.sequence === 1);
  assert.match(n0.uuid, /^\d{19}$/);
  assert.equal(n0.subscriptionId, s.id);
  assert.equal(n0.ownerId, ALICE);
  assert.equal(n0.event, '/restapi/v1.0/account/37000000008/telephony/sessions', 'the outside party is on the account path');
  assert.equal(n0.body.telephonySessionId, call.telephonySessionId);
  assert.deepEqual(n0.body.origin, { type: 'Call' });
  const bob = notes.filter((n) => n.body.parties[0].extensionId === BOB).sort((a, b) => a.body.sequence - b.body.sequence);
  assert.deepEqual(bob.map((n) => n.body.parties[0].status.code), ['Setup', 'Proceeding', 'Answered', 'Disconnected']);
  assert.equal(bob[0].event, `/restapi/v1.0/account/37000000008/extension/${BOB}/telephony/sessions`);
  const p = bob[2].body.parties[0];
  assert.equal(p.direction, 'Inbound');
  assert.deepEqual(p.to, { phoneNumber: '+16505550102', name: 'Bob Agent', extensionId: BOB });
  assert.deepEqual(p.from, CALLER);
  assert.equal(p.recordings[0].active, true);
  for (const k of ['accountId', 'id', 'missedCall', 'standAlone', 'muted']) assert.ok(k in p, k);
  const caller = notes.filter((n) => !n.body.parties[0].extensionId).map((n) => n.body.parties[0].status.code);
  assert.deepEqual(caller, ['Setup', 'Answered', 'Disconnected']);
  const times = notes.sort((a, b) => a.body.sequence - b.body.sequence).map((n) => Date.parse(n.body.eventTime));
  assert.ok(times.every((x, i) => !i || x >= times[i - 1]), 'eventTime follows sequence');
  assert.equal(times.at(-1) - times[0], call.durationMs);
});

test('delivery: extension-level and statusCode filters narrow what is sent', async () => {
  const t = await login();
  await subscribe(t, { filters: [`/restapi/v1.0/account/~/extension/${CAROL}/telephony/sessions`], address: hook.url('/carol') });
  await subscribe(t, { filters: ['/restapi/v1.0/account/~/telephony/sessions?statusCode=Disconnected'], address: hook.url('/ends') });
  await play({ extensionId: BOB });
  const call = await play({ extensionId: CAROL, outcome: 'missed' });
  await waitFor(() => hook.notes('/ends').length === 4, { what: 'Disconnected notes' });
  await sleep(20);
  assert.ok(hook.notes('/ends').every((n) => n.body.parties[0].status.code === 'Disconnected'));
  const carol = hook.notes('/carol');
  assert.ok(carol.every((n) => n.body.parties[0].extensionId === CAROL && n.body.telephonySessionId === call.telephonySessionId));
  assert.deepEqual(carol.map((n) => n.body.parties[0].status.code).sort(), ['Disconnected', 'Proceeding', 'Setup']);
  assert.equal(carol.find((n) => n.body.parties[0].status.code === 'Disconnected').body.parties[0].missedCall, true);
});

test('delivery: a non-200 or slow answer is retried on the configured schedule until one succeeds', async () => {
  const t = await login();
  const tries = new Map(); // per notification uuid
  hook.modes['/flaky'] = (req, entry) => {
    if (req.headers['validation-token']) return defaultMode(req);
    const n = (tries.get(entry.json.uuid) ?? 0) + 1;
    tries.set(entry.json.uuid, n);
    if (n === 1) return { status: 500, body: 'db down' };
    if (n === 2) return { status: 200, delayMs: 500 }; // beyond deliveryTimeoutMs (300): a failure
    return { status: 200 };
  };
  const s = (await subscribe(t, { filters: ['/restapi/v1.0/account/~/telephony/sessions?statusCode=Setup'], address: hook.url('/flaky') })).body;
  await play({ extensionId: BOB, outcome: 'missed' });
  await waitFor(async () => (await deliveries(`?subscriptionId=${s.id}&outcome=delivered`)).length === 2, { what: 'both Setup notifications delivered' });
  const log = (await deliveries(`?subscriptionId=${s.id}&kind=notification`));
  const first = log.filter((d) => d.uuid === log[0].uuid);
  assert.deepEqual(first.map((d) => [d.attempt, d.outcome]), [[1, 'failed-will-retry'], [2, 'failed-will-retry'], [3, 'delivered']]);
  assert.deepEqual([first[0].status, first[0].answer], [500, 'db down']);
  assert.equal(first[1].error, 'timeout');
  assert.equal(first[0].reason, 'Webhook responses with code: [500], reason: [Internal Server Error]');
  const notes = (await admin('GET', `/notifications?subscriptionId=${s.id}`)).body.notifications;
  assert.ok(notes.every((x) => x.state === 'delivered'));
  assert.equal((await rc('GET', `/restapi/v1.0/subscription/${s.id}`, { token: t })).body.status, 'Active', 'a success resets the failure streak');
});

// ---------------------------------------------------------------- blacklisting and recovery
test('blacklist: consecutive failures blacklist the subscription; renew recovers once the webhook answers', async () => {
  await admin('POST', '/config', { blacklist: { afterFailures: 3 }, retryDelaysMs: [20, 20, 20, 20] });
  const t = await login();
  let healthy = true;
  hook.modes['/b'] = (req) => (req.headers['validation-token'] ? (healthy ? defaultMode(req) : { status: 503 }) : (healthy ? { status: 200 } : { status: 503 }));
  const s = (await subscribe(t, { address: hook.url('/b') })).body;
  healthy = false;
  await play({ extensionId: BOB });
  const bl = await waitFor(async () => {
    const g = await rc('GET', `/restapi/v1.0/subscription/${s.id}`, { token: t });
    return g.body.status === 'Blacklisted' ? g.body : null;
  }, { what: 'Blacklisted' });
  assert.equal(bl.blacklistedData.reason, 'Webhook responses with code: [503], reason: [Service Unavailable]');
  assert.ok(Date.parse(bl.blacklistedData.blacklistedAt) > 0);
  const before = hook.received.length;
  await play({ extensionId: CAROL });
  await sleep(60);
  assert.equal(hook.received.length, before, 'a blacklisted subscription receives nothing');
  assert.ok((await deliveries(`?subscriptionId=${s.id}&outcome=skipped`)).length > 0);

  const stillDown = await rc('POST', `/restapi/v1.0/subscription/${s.id}/renew`, { token: t });
  assert.deepEqual([stillDown.status, stillDown.body.errorCode], [400, 'SUB-525']);
  assert.equal((await rc('GET', `/restapi/v1.0/subscription/${s.id}`, { token: t })).body.status, 'Blacklisted');
  healthy = true;
  const renewed = await rc('POST', `/restapi/v1.0/subscription/${s.id}/renew`, { token: t });
  assert.equal(renewed.body.status, 'Active');
  assert.equal(renewed.body.blacklistedData, undefined);
  const call = await play({ extensionId: BOB });
  await waitFor(() => hook.notes('/b').some((x) => x.body.telephonySessionId === call.telephonySessionId && x.body.sequence === call.events.length), { what: 'delivery after renew' });
});

test('blacklist: the time rule, recreation, reconciliation and the forced variants', async () => {
  // afterMs: failing continuously for that long (no success since the first failure).
  await admin('POST', '/config', { blacklist: { afterFailures: null, afterMs: 40 }, retryDelaysMs: [60] });
  const t = await login();
  let healthy = true;
  hook.modes['/c'] = (req) => (healthy ? defaultMode(req) : { status: 200, delayMs: 400 });
  const s = (await subscribe(t, { filters: ['/restapi/v1.0/account/~/telephony/sessions?statusCode=Setup'], address: hook.url('/c') })).body;
  healthy = false;
  await play({ extensionId: BOB, outcome: 'missed' });
  const bl = await waitFor(async () => {
    const g = (await admin('GET', '/subscriptions')).body.records.find((x) => x.id === s.id);
    return g.status === 'Blacklisted' ? g : null;
  }, { what: 'time-based blacklist' });
  assert.equal(bl.blacklistedData.reason, 'I/O operation is failed. Details: [Read timed out]');
  // Recreate (the documented fix): delete, then create again on the same URL.
  healthy = true;
  assert.equal((await rc('DELETE', `/restapi/v1.0/subscription/${s.id}`, { token: t })).status, 204);
  const again = await subscribe(t, { address: hook.url('/c') });
  assert.equal(again.body.status, 'Active');
  // Forced blacklisting through the admin API, then recovery by reconciliation.
  await admin('POST', `/subscriptions/${again.body.id}/blacklist`, { reason: 'test says so' });
  assert.equal((await rc('GET', `/restapi/v1.0/subscription/${again.body.id}`, { token: t })).body.blacklistedData.reason, 'test says so');
  const rec = await admin('POST', '/reconcile');
  assert.deepEqual(rec.body.results, [{ id: again.body.id, status: 'Active' }]);
  // fail_target: the webhook counts as failing without being called.
  await admin('POST', '/config', { blacklist: { afterFailures: 2, afterMs: null }, retryDelaysMs: [10, 10] });
  await admin('POST', '/faults', { type: 'fail_target', subscriptionId: again.body.id, count: null });
  const before = hook.received.length;
  await play({ extensionId: BOB, outcome: 'missed' });
  await waitFor(async () => (await rc('GET', `/restapi/v1.0/subscription/${again.body.id}`, { token: t })).body.status === 'Blacklisted', { what: 'fail_target blacklist' });
  assert.equal(hook.received.length, before);
  const forced = await deliveries(`?subscriptionId=${again.body.id}&kind=notification`);
  assert.ok(forced.some((d) => d.faults?.includes('fail_target')));
  // With renewReactivates off, renew keeps it blacklisted (the guide's "delete and recreate").
  await admin('DELETE', '/faults');
  await admin('POST', '/config', { renewReactivates: false });
  assert.equal((await rc('POST', `/restapi/v1.0/subscription/${again.body.id}/renew`, { token: t })).body.status, 'Blacklisted');
});

// ---------------------------------------------------------------- delivery faults
test('faults: drop, duplicate, reorder and delay act on deliveries', async () => {
  const t = await login();
  const s = (await subscribe(t)).body;
  await admin('POST', '/faults', [
    { type: 'drop', statusCode: 'Proceeding', count: 1 },
    { type: 'duplicate', statusCode: 'Answered', count: 1 },
    { type: 'reorder', statusCode: 'Setup', count: 1, holdMs: 120 },
  ]);
  const call = await play({ extensionId: BOB });
  await waitFor(() => hook.notes().length === call.events.length, { what: 'notifications (one dropped, one doubled)' });
  await sleep(30);
  const notes = hook.notes();
  assert.equal(notes.length, call.events.length, 'one dropped and one duplicated');
  assert.ok(!notes.some((n) => n.body.parties[0].status.code === 'Proceeding'));
  const answered = notes.filter((n) => n.body.parties[0].status.code === 'Answered' && n.body.parties[0].extensionId === BOB);
  assert.equal(answered.length, 2);
  assert.equal(answered[0].uuid, answered[1].uuid, 'a duplicate carries the same uuid');
  assert.notEqual(notes[0].body.sequence, 1, 'the held-back first Setup is overtaken');
  const dropped = (await admin('GET', `/notifications?subscriptionId=${s.id}&state=dropped`)).body.notifications;
  assert.equal(dropped.length, 1);
  assert.equal(dropped[0].statusCode, 'Proceeding');

  hook.received = [];
  await admin('POST', '/faults', { type: 'delay', delayMs: 150, count: null });
  const t0 = Date.now();
  await play({ extensionId: BOB, outcome: 'missed' });
  await waitFor(() => hook.notes().length === 5, { what: 'delayed notes' });
  assert.ok(hook.received[0].at - t0 >= 140);
});

test('faults: probabilistic delivery drops reproduce under the same seed', async () => {
  const run = async () => {
    await admin('POST', '/reset');
    await admin('POST', '/config', { paceMs: 1, seed: 1234 });
    hook.received = [];
    const t = await login();
    const s = (await subscribe(t)).body;
    await admin('POST', '/faults', { type: 'drop', probability: 0.5 });
    for (let i = 0; i < 3; i++) await play({ extensionId: BOB });
    const states = (await admin('GET', `/notifications?subscriptionId=${s.id}`)).body.notifications.map((n) => n.state === 'dropped');
    return states;
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  assert.ok(a.includes(true) && a.includes(false));
});

test('faults: REST 429 with Retry-After and 5xx bodies', async () => {
  const t = await login();
  await admin('POST', '/faults', [
    { type: 'rate_limit', path: 'call-log', retryAfter: 7, count: 1 },
    { type: 'server_error', status: 503, path: 'call-log', count: 1 },
    { type: 'server_error', status: 500, path: 'subscription', count: 1 },
  ]);
  const r429 = await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t });
  assert.deepEqual([r429.status, r429.headers.get('retry-after'), r429.body.errorCode, r429.body.errors[0].message], [429, '7', 'CMN-301', 'Request rate exceeded']);
  assert.equal(r429.headers.get('x-rate-limit-remaining'), '0');
  const r503 = await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t });
  assert.deepEqual([r503.status, r503.body.errorCode], [503, 'CMN-201']);
  const r500 = await rc('GET', '/restapi/v1.0/subscription', { token: t });
  assert.deepEqual([r500.status, r500.body.errorCode], [500, 'CMN-203']);
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t })).status, 200);
  const log = (await admin('GET', '/requests?path=call-log')).body.requests;
  assert.deepEqual(log.map((e) => e.faults), [['rate_limit'], ['server_error'], []]);
  await admin('POST', '/faults', [
    { type: 'latency', latencyMs: 120, path: 'extension', count: 1 },
    { type: 'unauthorized', path: 'extension', count: 1 },
    { type: 'reset', path: 'subscription', count: 1 },
  ]);
  const t0 = Date.now();
  const slow401 = await rc('GET', '/restapi/v1.0/account/~/extension/~', { token: t });
  assert.ok(Date.now() - t0 >= 110);
  assert.deepEqual([slow401.status, slow401.body.errors[0].errorCode], [401, 'OAU-213']);
  await assert.rejects(rc('GET', '/restapi/v1.0/subscription', { token: t }), 'the connection is reset');
  assert.equal((await rc('GET', '/restapi/v1.0/subscription', { token: t })).status, 200);
});

// ---------------------------------------------------------------- rate limits
test('rate limits: X-Rate-Limit headers count down; past the limit 429 CMN-301 until the penalty ends', async () => {
  await admin('POST', '/config', { rateLimits: { heavy: { limit: 3, windowSec: 60, penaltySec: 1 } } });
  const t = await login();
  const rem = [];
  for (let i = 0; i < 3; i++) {
    const r = await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-rate-limit-group'), 'heavy');
    assert.equal(r.headers.get('x-rate-limit-limit'), '3');
    assert.equal(r.headers.get('x-rate-limit-window'), '60');
    rem.push(r.headers.get('x-rate-limit-remaining'));
  }
  assert.deepEqual(rem, ['2', '1', '0']);
  const refused = await rc('GET', '/restapi/v1.0/account/~/call-log-sync?syncType=FSync&recordCount=5', { token: t });
  assert.deepEqual([refused.status, refused.headers.get('retry-after'), refused.body.errorCode, refused.body.message], [429, '1', 'CMN-301', 'Request rate exceeded']);
  assert.equal((await rc('GET', '/restapi/v1.0/subscription', { token: t })).status, 200, 'other groups are counted apart');
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log', { token: await login(BOB) })).status, 403, "another user's bucket is separate (403: not admin)");
  // Within the window the limit still holds after the penalty; move the clock past both.
  await admin('POST', '/config', { clockOffsetMs: 61 * 1000 });
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t })).status, 200);
});

// ---------------------------------------------------------------- call log
async function seedRecords(n, { startMs = Date.now() - 3600 * 1000, stepMs = 60 * 1000, ext = BOB } = {}) {
  const records = [];
  for (let i = 0; i < n; i++) {
    records.push({
      id: `REC${String(i).padStart(4, '0')}`, sessionId: String(1000 + i), telephonySessionId: `s-seed${i}`,
      startTime: new Date(startMs - i * stepMs).toISOString(), duration: 10 + i, durationMs: (10 + i) * 1000,
      direction: i % 2 ? 'Outbound' : 'Inbound', action: i % 2 ? 'VoIP Call' : 'Phone Call', result: i % 3 === 0 ? 'Missed' : 'Accepted',
      to: { phoneNumber: '+16505550102' }, from: { phoneNumber: `+1415555${String(1000 + i)}` },
      extension: { uri: 'x', id: Number(ext) }, extensionIds: [ext],
      legs: [{ legType: 'Accept' }],
    });
  }
  return (await admin('POST', '/call-log', { records })).body.ids;
}

test('call log: paging with navigation, date window, Simple vs Detailed, scope and filters', async () => {
  await seedRecords(25);
  const t = await login();
  const p1 = await rc('GET', '/restapi/v1.0/account/~/call-log?perPage=10', { token: t });
  assert.equal(p1.status, 200);
  assert.equal(p1.body.records.length, 10);
  assert.deepEqual(p1.body.paging, { page: 1, perPage: 10, pageStart: 0, pageEnd: 9 });
  assert.ok(p1.body.navigation.nextPage.uri.includes('page=2'));
  assert.equal(p1.body.navigation.previousPage, undefined);
  assert.equal(p1.body.records[0].id, 'REC0000', 'newest first');
  assert.equal(p1.body.records[0].legs, undefined, 'Simple view has no legs');
  assert.ok(p1.body.records[0].uri.endsWith('/call-log/REC0000?view=Simple'));
  const next = new URL(p1.body.navigation.nextPage.uri);
  const p3 = await rc('GET', `${next.pathname}?${next.searchParams.toString().replace('page=2', 'page=3')}`, { token: t });
  assert.deepEqual(p3.body.paging, { page: 3, perPage: 10, pageStart: 20, pageEnd: 24 });
  assert.equal(p3.body.navigation.nextPage, undefined);
  assert.ok(p3.body.navigation.previousPage.uri.includes('page=2'));
  const ids = new Set();
  for (let page = 1; page <= 3; page++) for (const r of (await rc('GET', `/restapi/v1.0/account/~/call-log?perPage=10&page=${page}`, { token: t })).body.records) ids.add(r.id);
  assert.equal(ids.size, 25);
  const beyond = await rc('GET', '/restapi/v1.0/account/~/call-log?perPage=10&page=4', { token: t });
  assert.deepEqual([beyond.body.records.length, beyond.body.paging], [0, { page: 4, perPage: 10 }]);

  const from = new Date(Date.now() - 3600 * 1000 - 4.5 * 60 * 1000).toISOString();
  const windowed = await rc('GET', `/restapi/v1.0/account/~/call-log?dateFrom=${encodeURIComponent(from)}`, { token: t });
  assert.equal(windowed.body.records.length, 5);
  assert.equal((await rc('GET', `/restapi/v1.0/account/~/call-log?dateTo=${encodeURIComponent(new Date(Date.now() - 30 * 3600 * 1000).toISOString())}`, { token: t })).body.records.length, 0, 'dateFrom defaults to dateTo minus 24 h');
  const detailed = await rc('GET', '/restapi/v1.0/account/~/call-log?view=Detailed&perPage=1', { token: t });
  assert.deepEqual(detailed.body.records[0].legs, [{ legType: 'Accept' }]);
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log?direction=Outbound', { token: t })).body.records.length, 12);
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log?telephonySessionId=s-seed3', { token: t })).body.records[0].id, 'REC0003');
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log/REC0004', { token: t })).body.sessionId, '1004');
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/call-log?view=Bogus', { token: t })).body.errors[0].parameterName, 'view');

  // Extension scope: Bob sees his own log, not the company's nor Carol's.
  const tb = await login(BOB);
  assert.equal((await rc('GET', '/restapi/v1.0/account/~/extension/~/call-log', { token: tb })).body.records.length, 25);
  const company = await rc('GET', '/restapi/v1.0/account/~/call-log', { token: tb });
  assert.deepEqual([company.status, company.body.errors[0].errorCode], [403, 'CMN-408']);
  assert.equal((await rc('GET', `/restapi/v1.0/account/~/extension/${CAROL}/call-log`, { token: tb })).status, 403);
  assert.equal((await rc('GET', `/restapi/v1.0/account/~/extension/${CAROL}/call-log`, { token: t })).body.records.length, 0, 'the admin may read any extension');
});

test('call log: a played call appears after the lag, in the shape of CallLogRecord', async () => {
  await admin('POST', '/config', { callLogLagMs: 150 });
  const t = await login();
  const call = await play({ extensionId: BOB, talkSeconds: 99, recording: 'OnDemand' });
  const now = await rc('GET', `/restapi/v1.0/account/~/call-log?telephonySessionId=${call.telephonySessionId}`, { token: t });
  assert.equal(now.body.records.length, 0, 'not visible before the lag');
  const rec = await waitFor(async () => (await rc('GET', `/restapi/v1.0/account/~/extension/${BOB}/call-log?view=Detailed`, { token: t })).body.records[0], { what: 'record' });
  assert.equal(rec.id, call.callLogRecordId);
  assert.equal(rec.sessionId, call.sessionId);
  assert.equal(rec.telephonySessionId, call.telephonySessionId);
  assert.equal(rec.startTime, call.startTime);
  assert.equal(rec.durationMs, call.durationMs);
  assert.equal(rec.duration, Math.round(call.durationMs / 1000));
  assert.deepEqual([rec.type, rec.direction, rec.action, rec.result, rec.transport], ['Voice', 'Inbound', 'Phone Call', 'Accepted', 'PSTN']);
  assert.deepEqual(rec.from, CALLER);
  assert.deepEqual(rec.to, { phoneNumber: '+16505550102', name: 'Bob Agent', extensionId: BOB });
  assert.equal(rec.recording.type, 'OnDemand');
  assert.ok(rec.recording.contentUri.endsWith(`/recording/${rec.recording.id}/content`));
  assert.deepEqual(rec.extension.id, Number(BOB));
  assert.ok(Date.parse(rec.lastModifiedTime) >= Date.parse(rec.startTime));
  assert.deepEqual(rec.legs.map((l) => l.legType), ['PstnToSip', 'Accept']);
  assert.equal(rec.legs[0].master, true);
});

test('call-log-sync: FSync then ISync returns only new or changed records', async () => {
  await seedRecords(8);
  const t = await login();
  const P = `/restapi/v1.0/account/~/extension/${BOB}/call-log-sync`;
  const needCount = await rc('GET', `${P}?syncType=FSync`, { token: t });
  assert.deepEqual([needCount.status, needCount.body.errors[0].parameterName], [400, 'recordCount']);
  const fs = await rc('GET', `${P}?syncType=FSync&recordCount=5`, { token: t });
  assert.equal(fs.status, 200);
  assert.deepEqual(fs.body.records.map((r) => r.id), ['REC0000', 'REC0001', 'REC0002', 'REC0003', 'REC0004']);
  assert.equal(fs.body.syncInfo.syncType, 'FSync');
  assert.equal(fs.body.syncInfo.olderRecordsExist, true);
  assert.ok(Date.parse(fs.body.syncInfo.syncTime) > 0);
  let tok = fs.body.syncInfo.syncToken;
  const isync = async (extra = '') => {
    const r = await rc('GET', `${P}?syncType=ISync&syncToken=${encodeURIComponent(tok)}${extra}`, { token: t });
    assert.equal(r.status, 200, r.text);
    tok = r.body.syncInfo.syncToken;
    return r.body;
  };
  assert.deepEqual((await isync()).records, [], 'nothing new');

  await admin('POST', '/config', { recordingLagMs: 80 });
  const call = await play({ extensionId: BOB, recording: true });
  const first = await isync();
  assert.deepEqual(first.records.map((r) => r.id), [call.callLogRecordId]);
  assert.equal(first.records[0].recording, undefined, 'the recording is not there yet');
  assert.deepEqual((await isync()).records, []);
  await sleep(100);
  const changed = await isync();
  assert.deepEqual(changed.records.map((r) => r.id), [call.callLogRecordId], 'the record comes back once changed');
  assert.ok(changed.records[0].recording.id);

  await admin('PATCH', '/call-log/REC0001', { patch: { result: 'Call connected' } });
  await admin('PATCH', '/call-log/REC0007', { patch: { result: 'Call connected' } }); // outside the synced frame
  assert.deepEqual((await isync()).records.map((r) => [r.id, r.result]), [['REC0001', 'Call connected']]);
  await admin('DELETE', '/call-log/REC0002');
  assert.deepEqual((await isync('&showDeleted=true')).records.map((r) => [r.id, r.deleted]), [['REC0002', true]]);
  const ext = await isync('&recordCount=2');
  assert.deepEqual(ext.records.map((r) => r.id), ['REC0005', 'REC0006'], 'recordCount extends the frame into the past');
  assert.equal(ext.syncInfo.olderRecordsExist, true);
  assert.equal((await isync('&recordCount=5')).syncInfo.olderRecordsExist, false);

  const bad = await rc('GET', `${P}?syncType=ISync&syncToken=garbage`, { token: t });
  assert.deepEqual([bad.status, bad.body.errors[0].parameterName], [400, 'syncToken']);
  await admin('POST', '/call-log/reset');
  const reset = await rc('GET', `${P}?syncType=ISync&syncToken=${encodeURIComponent(tok)}`, { token: t });
  assert.deepEqual([reset.status, reset.body.errorCode], [400, 'CLG-101']);
  const missed = await rc('GET', `/restapi/v1.0/account/~/call-log-sync?syncType=FSync&recordCount=10&statusGroup=Missed`, { token: t });
  assert.equal(missed.status, 200);
});

test('call-log-sync: an ISync over 250 changes asks for a new FSync', async () => {
  const t = await login();
  const fs = await rc('GET', '/restapi/v1.0/account/~/call-log-sync?syncType=FSync&recordCount=1', { token: t });
  await seedRecords(251, { stepMs: 1000 });
  const r = await rc('GET', `/restapi/v1.0/account/~/call-log-sync?syncType=ISync&syncToken=${encodeURIComponent(fs.body.syncInfo.syncToken)}`, { token: t });
  assert.equal(r.status, 400);
  assert.match(r.body.message, /max sync record number limit is exceeded/);
});

// ---------------------------------------------------------------- call scenarios
test('calls: outbound, missed, voicemail results and parties', async () => {
  const t = await login();
  await subscribe(t);
  const out = await play({ direction: 'Outbound', extensionId: CAROL, external: { phoneNumber: '+12125550199' } });
  const busy = await play({ direction: 'Outbound', extensionId: CAROL, external: { phoneNumber: '+12125550199' }, outcome: 'busy' });
  const missed = await play({ extensionId: BOB, outcome: 'missed' });
  const vm = await play({ extensionId: BOB, outcome: 'voicemail' });
  await waitFor(() => hook.notes().length === out.events.length + busy.events.length + missed.events.length + vm.events.length, { what: 'all notes' });
  const codes = (c, ext) => c.events.filter((e) => e.extensionId === ext).map((e) => e.code);
  assert.deepEqual(codes(out, CAROL), ['Setup', 'Proceeding', 'Answered', 'Disconnected']);
  assert.equal(out.events[0].direction, 'Outbound');
  assert.deepEqual(codes(missed, BOB), ['Setup', 'Proceeding', 'Disconnected']);
  assert.equal(missed.events.find((e) => e.extensionId === BOB && e.code === 'Disconnected').missedCall, true);
  assert.deepEqual(codes(vm, BOB), ['Setup', 'Proceeding', 'VoiceMail', 'Disconnected']);
  assert.equal(busy.events.find((e) => !e.extensionId && e.code === 'Disconnected').reason, 'TargetBusy');
  const recs = (await rc('GET', '/restapi/v1.0/account/~/call-log', { token: t })).body.records;
  const by = (c) => recs.find((r) => r.telephonySessionId === c.telephonySessionId);
  assert.deepEqual([by(out).direction, by(out).action, by(out).result, by(out).transport], ['Outbound', 'VoIP Call', 'Call connected', 'VoIP']);
  assert.deepEqual(by(out).from, { phoneNumber: '+16505550103', name: 'Carol Agent', extensionId: CAROL, device: by(out).from.device });
  assert.deepEqual([by(busy).result, by(busy).reason], ['Busy', 'Line Busy']);
  assert.deepEqual([by(missed).result, by(missed).reason], ['Missed', 'No Answer']);
  assert.equal(by(vm).result, 'Voicemail');
  assert.equal(by(vm).message.type, 'VoiceMail');
});

test('calls: a queue call rings every member; one answers, the queue party leaves; transfers move the call', async () => {
  const t = await login();
  await subscribe(t);
  const q = await play({ queueId: QUEUE, answeredBy: CAROL, transfer: { toExtensionId: ALICE, afterSeconds: 10 } });
  await waitFor(() => hook.notes().length === q.events.length, { what: 'queue notes' });
  const notes = hook.notes().sort((a, b) => a.body.sequence - b.body.sequence).map((n) => n.body.parties[0]);
  const member = notes.filter((p) => p.queueCall);
  assert.deepEqual([...new Set(member.map((p) => p.extensionId))].sort(), [BOB, CAROL]);
  assert.ok(member.every((p) => p.to.extensionId === QUEUE && p.to.name === 'Support Queue' && p.uiCallInfo.primary.type === 'QueueName'));
  const seq = (ext) => notes.filter((p) => p.extensionId === ext).map((p) => p.status.code + (p.status.reason ? `:${p.status.reason}` : ''));
  assert.deepEqual(seq(BOB), ['Setup', 'Proceeding', 'Disconnected']);
  assert.deepEqual(seq(CAROL), ['Setup', 'Proceeding', 'Answered', 'Disconnected:BlindTransfer']);
  assert.deepEqual(seq(QUEUE), ['Setup', 'Disconnected:AgentAnswered']);
  assert.deepEqual(seq(ALICE), ['Setup', 'Proceeding', 'Answered', 'Disconnected']);
  const rec = await waitFor(async () => (await rc('GET', `/restapi/v1.0/account/~/call-log?view=Detailed&telephonySessionId=${q.telephonySessionId}`, { token: t })).body.records[0], { what: 'queue record' });
  assert.deepEqual(rec.legs.map((l) => l.legType), ['PstnToSip', 'Accept', 'TransferCall']);
  assert.equal(rec.to.extensionId, ALICE);
  for (const ext of [CAROL, ALICE, QUEUE]) {
    assert.equal((await rc('GET', `/restapi/v1.0/account/~/extension/${ext}/call-log`, { token: t })).body.records.length, 1, `in ${ext}'s log`);
  }
  assert.equal((await rc('GET', `/restapi/v1.0/account/~/extension/${BOB}/call-log`, { token: t })).body.records.length, 0, 'not in the log of a member who did not answer');

  const missedQ = await play({ queueId: QUEUE, outcome: 'voicemail' });
  const qCodes = missedQ.events.filter((e) => e.extensionId === QUEUE).map((e) => e.code);
  assert.deepEqual(qCodes, ['Setup', 'VoiceMail', 'Disconnected']);
  assert.ok(missedQ.events.filter((e) => e.extensionId === BOB || e.extensionId === CAROL).filter((e) => e.code === 'Disconnected').every((e) => e.missedCall));
  const qrec = (await rc('GET', `/restapi/v1.0/account/~/extension/${QUEUE}/call-log?telephonySessionId=${missedQ.telephonySessionId}`, { token: t })).body.records[0];
  assert.equal(qrec.result, 'Voicemail');
  const badScript = await admin('POST', '/calls', { queueId: BOB, external: CALLER });
  assert.equal(badScript.status, 400);
});

test('calls: a conference is a session of its own; the merged calls leave theirs Gone with a peerId', async () => {
  const t = await login();
  await subscribe(t);
  const c = await play({ extensionId: BOB, conference: { withExtensionId: CAROL, afterSeconds: 10, talkSeconds: 30 } });
  await waitFor(() => hook.notes().length >= c.events.length, { what: 'conference notes' });
  assert.deepEqual(c.sessions.map((s) => s.origin), ['Call', 'Call', 'Conference']);
  const [call, consult, conf] = c.sessions.map((s) => s.telephonySessionId);
  const bodies = hook.notes().map((n) => n.body).filter((b) => [call, consult, conf].includes(b.telephonySessionId));
  const of = (tsid) => bodies.filter((b) => b.telephonySessionId === tsid).sort((a, b) => a.sequence - b.sequence).map((b) => b.parties[0]);
  // Each session numbers its own notifications.
  for (const tsid of [call, consult, conf]) {
    const seqs = bodies.filter((b) => b.telephonySessionId === tsid).map((b) => b.sequence).sort((a, b) => a - b);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), tsid);
  }
  assert.ok(bodies.filter((b) => b.telephonySessionId === conf).every((b) => b.origin.type === 'Conference'));
  const codes = (ps, ext) => ps.filter((p) => (p.extensionId ?? null) === ext).map((p) => p.status.code);
  assert.deepEqual(codes(of(call), BOB), ['Setup', 'Proceeding', 'Answered', 'Hold', 'Gone']);
  assert.deepEqual(codes(of(call), null), ['Setup', 'Answered', 'Gone']);
  assert.deepEqual(codes(of(consult), CAROL), ['Setup', 'Proceeding', 'Answered', 'Gone']);
  const inConf = of(conf);
  assert.deepEqual(inConf.filter((p) => p.status.code === 'Answered').map((p) => [p.extensionId ?? null, p.conferenceRole]), [[BOB, 'Host'], [null, 'Participant'], [CAROL, 'Participant']]);
  // The caller's party in the call's session names the party it became in the conference.
  const gone = of(call).find((p) => !p.extensionId && p.status.code === 'Gone');
  const outsideInConf = inConf.find((p) => !p.extensionId);
  assert.deepEqual(gone.status.peerId, { sessionId: c.sessions[2].sessionId, telephonySessionId: conf, partyId: outsideInConf.id });
  assert.equal(outsideInConf.from.phoneNumber, CALLER.phoneNumber, 'a brought-in party keeps its from/to');
  assert.deepEqual(codes(inConf, null).at(-1), 'Disconnected');
  // The call's record ends at the merge; the consult and the conference have none.
  const rec = await waitFor(async () => (await rc('GET', `/restapi/v1.0/account/~/call-log?telephonySessionId=${call}`, { token: t })).body.records[0], { what: 'the call record' });
  assert.ok(rec.durationMs < c.durationMs - 30_000, `${rec.durationMs} < ${c.durationMs} - 30 s`);
  assert.equal((await rc('GET', `/restapi/v1.0/account/~/call-log?telephonySessionId=${conf}`, { token: t })).body.records.length, 0);
  assert.equal((await admin('POST', '/calls', { extensionId: BOB, external: CALLER, outcome: 'missed', conference: { withExtensionId: CAROL } })).status, 400);
});

test('account and extension info answer for the token owner', async () => {
  const t = await login(BOB);
  const me = await rc('GET', '/restapi/v1.0/account/~/extension/~', { token: t });
  assert.deepEqual([me.body.id, me.body.extensionNumber, me.body.contact.email, me.body.type], [Number(BOB), '102', 'bob@example.com', 'User']);
  const list = await rc('GET', '/restapi/v1.0/account/~/extension?perPage=2', { token: t });
  assert.equal(list.body.records.length, 2);
  assert.ok(list.body.navigation.nextPage);
  assert.equal((await rc('GET', '/restapi/v1.0/account/~', { token: t })).body.mainNumber, '+16505550100');
  assert.deepEqual((await rc('GET', '/restapi/v1.0/nope', { token: t })).body.errorCode, 'CMN-120');
});
