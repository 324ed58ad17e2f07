// The demo softphone speaks RingCentral Embeddable's protocol: loaded in the demo host page
// from another origin, WITHOUT the extension, it is driven through a call each way, SMS both
// ways and a fax, and every message the host window receives is compared key by key and type by
// type with the shared fixtures (shared/reference/softphone-fixtures/), then checked for the
// joins the decoder relies on (one telephony session id per call).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { ROOT, SHARED } from '../../www/world/browser.mjs';

const FIXTURES = path.join(SHARED, 'reference', 'softphone-fixtures');
// The flags lib/browser.mjs launches Chromium with (it does not export them).
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];
const OUR_NUMBER = '+16505550100';
const PAT = '+14155550123';

/** Keys a fixture has that our payload may lack, and why. */
const OPTIONAL = new Map([
  ['extensionId', 'only the rep\'s own party has an extension; the fixtures have inbound calls only'],
  ['location', 'only inbound message senders carry a location'],
  ['name', 'present only when RingCentral knows the party\'s name'],
]);

let server;
let browser;
let page;
let urls;
let fixtures;

async function json(name) {
  return JSON.parse(await readFile(path.join(FIXTURES, name), 'utf8'));
}

async function startServer() {
  const child = spawn(process.execPath, [path.join(ROOT, 'www', 'serve.mjs'), '--softphone-port', '0', '--host-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
    lines.once('line', (line) => resolve(JSON.parse(line)));
  });
  return { child, ready };
}

before(async () => {
  const [calls, messages, thirdParty] = await Promise.all([
    json('rc-embeddable-call-events.json'),
    json('rc-embeddable-message-events.json'),
    json('rc-embeddable-third-party-service.json'),
  ]);
  fixtures = { calls: calls.events.map((e) => e.data), messages: messages.events.map((e) => e.data), thirdParty: thirdParty.exchange.map((x) => x.data) };
  server = await startServer();
  urls = server.ready;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  // bypassCSP only so the accessibility check can inject axe-core into the softphone frame.
  const context = await browser.newContext({ bypassCSP: true });
  page = await context.newPage();
  await page.goto(urls.host);
  await waitForMessages(1);
});

after(async () => {
  await browser?.close();
  server?.child.kill('SIGTERM');
});

async function captured() {
  return page.evaluate(() => window.calltrailHost.messages);
}

async function waitForMessages(n) {
  await page.waitForFunction((count) => window.calltrailHost.messages.length >= count, n, { timeout: 5000 });
}

/** Runs `act`, then waits for exactly the message types `types` after what was captured before. */
async function expectTypes(act, types) {
  const before = (await captured()).length;
  await act();
  await waitForMessages(before + types.length);
  const got = (await captured()).slice(before);
  assert.deepEqual(got.map((m) => m.data.type), types);
  return got.map((m) => m.data);
}

function send(command) {
  return page.evaluate((c) => window.calltrailHost.send(c), command);
}

function softphone() {
  return page.frameLocator('#rc-widget-adapter-frame');
}

test('the host embeds the softphone as #rc-widget-adapter-frame from another origin', async () => {
  assert.notEqual(urls.softphoneOrigin, urls.hostOrigin);
  const src = await page.getAttribute('#rc-widget-adapter-frame', 'src');
  assert.equal(new URL(src).origin, urls.softphoneOrigin);
  const [first] = await captured();
  assert.equal(first.data.type, 'rc-login-status-notify');
  assert.equal(first.data.loginNumber, `${OUR_NUMBER}*101`);
});

test('an inbound call: ring, answer, hold, resume, hang up', async () => {
  const ring = await expectTypes(() => send({ type: 'calltrail-demo-incoming-call', phoneNumber: PAT, name: 'WIRELESS CALLER' }), [
    'rc-call-ring-notify',
    'rc-active-call-notify',
  ]);
  await softphone().getByRole('status').filter({ hasText: 'Incoming call' }).waitFor();
  const answer = await expectTypes(() => softphone().getByRole('button', { name: 'Answer' }).click(), [
    'rc-call-start-notify',
    'rc-telephony-session-notify',
    'rc-active-call-notify',
  ]);
  const held = await expectTypes(() => send({ type: 'calltrail-demo-hold' }), ['rc-call-hold-notify', 'rc-active-call-notify']);
  // Resume from the keyboard: the button is reachable and works with Enter.
  const resumed = await expectTypes(() => softphone().getByRole('button', { name: 'Resume' }).press('Enter'), [
    'rc-call-resume-notify',
    'rc-active-call-notify',
  ]);
  const end = await expectTypes(() => softphone().getByRole('button', { name: 'Hang up' }).click(), [
    'rc-call-end-notify',
    'rc-telephony-session-notify',
    'rc-active-call-notify',
  ]);

  const sessions = [ring[0], answer[0], held[0], resumed[0], end[0]].map((d) => d.call);
  const tsid = sessions[0].partyData.sessionId;
  assert.match(tsid, /^s-[0-9a-f]{24}$/);
  for (const s of sessions) {
    assert.equal(s.id, sessions[0].id, 'one webphone session id');
    assert.equal(s.partyData.sessionId, tsid, 'one telephony session id');
    assert.deepEqual([s.direction, s.from, s.to], ['Inbound', PAT, OUR_NUMBER]);
  }
  const presences = [ring[1], answer[2], held[1], resumed[1], end[2]].map((d) => d.call);
  assert.deepEqual(presences.map((p) => p.telephonySessionId), Array(5).fill(tsid));
  assert.deepEqual(presences.map((p) => p.telephonyStatus), ['Ringing', 'CallConnected', 'OnHold', 'CallConnected', 'NoCall']);
  assert.deepEqual(presences.map((p) => p.terminationType), ['intermediate', 'intermediate', 'intermediate', 'intermediate', 'final']);
  assert.equal(answer[1].telephonySession.id, tsid);
  assert.deepEqual(
    [answer[1], end[1]].map((d) => d.telephonySession.parties[0].status.code),
    ['Answered', 'Disconnected'],
  );
  assert.deepEqual(sessions.map((s) => s.callStatus), [
    'webphone-session-connecting',
    'webphone-session-connected',
    'webphone-session-onHold',
    'webphone-session-connected',
    'webphone-session-finished',
  ]);
  assert.equal(sessions[0].startTime, null, 'not answered while ringing');
  assert.ok(sessions[1].startTime >= sessions[0].creationTime);
  assert.equal(sessions[2].isOnHold, true);
  assert.ok(sessions[4].endTime >= sessions[4].startTime, 'end carries endTime after the answer');
});

test('an outbound call from click-to-dial, hung up with rc-adapter-control-call', async () => {
  const init = await expectTypes(() => page.click('#click-to-dial'), ['rc-call-init-notify', 'rc-active-call-notify']);
  const call = init[0].call;
  assert.deepEqual([call.direction, call.from, call.to, call.startTime], ['Outbound', OUR_NUMBER, PAT, null]);
  assert.equal(init[1].call.to.phoneNumber, PAT);
  await expectTypes(() => send({ type: 'calltrail-demo-answer' }), [
    'rc-call-start-notify',
    'rc-telephony-session-notify',
    'rc-active-call-notify',
  ]);
  const end = await expectTypes(() => send({ type: 'rc-adapter-control-call', callAction: 'hangup', callId: call.id }), [
    'rc-call-end-notify',
    'rc-telephony-session-notify',
    'rc-active-call-notify',
  ]);
  assert.equal(end[0].call.partyData.sessionId, call.partyData.sessionId);
  assert.equal(end[2].call.telephonySessionId, call.partyData.sessionId);
  // A different call: a different telephony session.
  const first = (await captured()).find((m) => m.data.type === 'rc-call-ring-notify').data.call;
  assert.notEqual(first.partyData.sessionId, call.partyData.sessionId);
});

test('SMS both ways and a fax', async () => {
  const inbound = await expectTypes(() => send({ type: 'calltrail-demo-incoming-sms', phoneNumber: PAT, text: 'Running 10 minutes late' }), [
    'rc-inbound-message-notify',
    'rc-message-updated-notify',
  ]);
  assert.equal(inbound[0].message.id, inbound[1].message.id);
  assert.deepEqual([inbound[0].message.type, inbound[0].message.direction, inbound[0].message.from.phoneNumber, inbound[0].message.subject], [
    'SMS',
    'Inbound',
    PAT,
    'Running 10 minutes late',
  ]);

  const out = await expectTypes(async () => {
    const sp = softphone();
    await sp.getByLabel('To', { exact: true }).fill('(415) 555-0123');
    await sp.getByLabel('Message', { exact: true }).fill('See you at 3');
    await sp.getByRole('button', { name: 'Send text' }).click();
  }, ['rc-message-updated-notify']);
  const sms = out[0].message;
  assert.deepEqual([sms.type, sms.direction, sms.to[0].phoneNumber, sms.subject, sms.messageStatus], ['SMS', 'Outbound', PAT, 'See you at 3', 'Sent']);
  assert.equal(sms.conversationId, inbound[0].message.conversationId, 'one conversation per party');

  const fax = await expectTypes(() => send({ type: 'calltrail-demo-send-fax', phoneNumber: '+12125550199', pages: 3 }), [
    'rc-message-updated-notify',
    'rc-message-updated-notify',
  ]);
  assert.deepEqual(fax.map((d) => d.message.messageStatus), ['Queued', 'Sent']);
  assert.equal(fax[0].message.id, fax[1].message.id);
  assert.equal(fax[1].message.faxPageCount, 3);
});

test('the host records only messages from the softphone frame', async () => {
  const before = (await captured()).length;
  await page.evaluate(() => window.postMessage({ type: 'rc-call-end-notify', call: { spoofed: true } }, '*'));
  await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
  assert.equal((await captured()).length, before);
});

// ------------------------------------------------------------------ shapes against the fixtures

function typeOf(v) {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Compares `ours` with the fixture values at the same place. `primary` are the fixture values
 * of the same event kind (they decide the required keys and types), `family` every fixture
 * value of the same stream (it decides which keys and types exist at all).
 */
function conform(ours, primary, family, where, errors) {
  const t = typeOf(ours);
  const pool = primary.length ? primary : family;
  const allowed = new Set(pool.map(typeOf));
  if (family.some((f) => f === null)) allowed.add('null');
  if (!allowed.has(t)) {
    errors.push(`${where}: ${t}, fixtures have ${[...allowed].join('|')}`);
    return;
  }
  if (t === 'object') {
    const objs = family.filter((f) => typeOf(f) === 'object');
    const prim = pool.filter((f) => typeOf(f) === 'object');
    const known = new Set(objs.flatMap(Object.keys));
    const required = prim.map((o) => Object.keys(o)).reduce((a, b) => a.filter((k) => b.includes(k)));
    for (const k of required) if (!(k in ours) && !OPTIONAL.has(k)) errors.push(`${where}.${k}: missing`);
    for (const [k, v] of Object.entries(ours)) {
      if (!known.has(k)) {
        errors.push(`${where}.${k}: in no fixture`);
        continue;
      }
      conform(v, prim.filter((o) => k in o).map((o) => o[k]), objs.filter((o) => k in o).map((o) => o[k]), `${where}.${k}`, errors);
    }
  } else if (t === 'array') {
    const elems = family.filter(Array.isArray).flat();
    const pelems = pool.filter(Array.isArray).flat();
    if (ours.length === 0) errors.push(`${where}: empty`);
    ours.forEach((v, i) => conform(v, pelems, elems, `${where}[${i}]`, errors));
  }
}

/** For each captured type: the fixture payloads to compare with (primary, family). */
function specFor(data) {
  const calls = fixtures.calls;
  const byType = (t) => calls.filter((d) => d.type === t);
  const sessionFamily = calls.filter((d) => d.type.startsWith('rc-call-'));
  const records = fixtures.messages;
  switch (data.type) {
    case 'rc-call-ring-notify':
    case 'rc-call-init-notify':
      return { primary: byType('rc-call-ring-notify'), family: sessionFamily };
    case 'rc-call-start-notify':
    case 'rc-call-hold-notify':
    case 'rc-call-resume-notify':
      return { primary: byType('rc-call-start-notify'), family: sessionFamily };
    case 'rc-call-end-notify':
      return { primary: byType('rc-call-end-notify'), family: sessionFamily };
    case 'rc-active-call-notify':
    case 'rc-telephony-session-notify':
      return { primary: byType(data.type), family: byType(data.type) };
    case 'rc-inbound-message-notify':
    case 'rc-message-updated-notify': {
      const sameKind = records.filter((r) => r.message.type === data.message?.type);
      const sameWay = sameKind.filter((r) => r.message.direction === data.message?.direction);
      return { primary: sameWay.length ? sameWay : sameKind, family: records };
    }
    case 'rc-login-status-notify':
      return { primary: fixtures.thirdParty.filter((d) => d.type === data.type), family: fixtures.thirdParty.filter((d) => d.type === data.type) };
    default:
      return null;
  }
}

test('every message the host received has the shape of its fixture', async () => {
  const all = await captured();
  // login 1, inbound call 12, outbound call 8, SMS 3, fax 2.
  assert.equal(all.length, 26);
  const errors = [];
  const types = new Set();
  for (const [i, m] of all.entries()) {
    assert.equal(m.origin, urls.softphoneOrigin);
    const spec = specFor(m.data);
    if (!spec || spec.primary.length === 0) {
      errors.push(`#${i} ${m.data.type}: no fixture to compare with`);
      continue;
    }
    types.add(m.data.type);
    conform(m.data, spec.primary, spec.family, `#${i} ${m.data.type}`, errors);
  }
  assert.deepEqual(errors, []);
  // The checker itself must be able to fail: a payload with a wrong type and an invented key.
  const bad = [];
  const ring = fixtures.calls[0];
  conform({ ...ring, call: { ...ring.call, creationTime: '2024-06-03', invented: 1 } }, [ring], [ring], 'self-test', bad);
  assert.equal(bad.length, 2, bad.join('; '));
  assert.deepEqual([...types].sort(), [
    'rc-active-call-notify',
    'rc-call-end-notify',
    'rc-call-hold-notify',
    'rc-call-init-notify',
    'rc-call-resume-notify',
    'rc-call-ring-notify',
    'rc-call-start-notify',
    'rc-inbound-message-notify',
    'rc-login-status-notify',
    'rc-message-updated-notify',
    'rc-telephony-session-notify',
  ]);
});

test('the softphone passes axe-core WCAG 2 A/AA checks', async () => {
  const frame = await (await page.$('#rc-widget-adapter-frame')).contentFrame();
  await frame.addScriptTag({ path: path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js') });
  const result = await frame.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }));
  const found = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(found, []);
});
