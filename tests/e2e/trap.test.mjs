// A wasm trap does not stop logging. Runs against the test-only build (`scripts/build.sh
// --trap-for-tests`, dist-trap/), whose module panics on any intent holding the marker below; a
// panic aborts the release profile, so this is the real trap a bug would cause. The worker must
// notice, start a fresh instance restored from IndexedDB, count the trap (diagnostics, badge),
// park the message that caused it, and log the next call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { ROOT } from '../../www/world/browser.mjs';

const DIST_TRAP = path.join(ROOT, 'dist-trap');
const MARKER = 'calltrail-trap-for-tests';

let world;
before(async () => {
  if (!existsSync(path.join(DIST_TRAP, 'manifest.json'))) throw new Error('run scripts/build.sh --trap-for-tests first');
  world = await startWorld({ integrations: [{ id: 'hs', kind: 'hubspot', label: 'HubSpot' }], extensionDir: DIST_TRAP });
  await world.configure();
  await world.emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

/** `promise`, or a failure after `ms`: a worker that never recovers never answers. */
function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const worker = () => world.browser.worker;
const badge = () => worker().evaluate(() => chrome.action.getBadgeText({}));
const generation = () => worker().evaluate(() => self.__calltrail.generation);

async function callFrom(number) {
  await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: number });
  await world.softphone({ type: 'calltrail-demo-answer' });
  await world.softphone({ type: 'calltrail-demo-hangup' });
}

test('a message the module traps on is parked, counted and shown, and the next call is logged', async () => {
  assert.equal(await generation(), 0);
  assert.equal(await badge(), '');
  // As the bridge relays an event: from the softphone's frame and origin.
  const poison = {
    type: 'softphone-event',
    origin: world.softphoneOrigin,
    from_frame: true,
    data: { type: 'rc-call-ring-notify', call: { id: 'poison', note: MARKER } },
  };
  const first = await within(20_000, world.send(poison), 'the poison message');
  assert.deepEqual(first, { ok: true, data: { parked: true, traps: 1 } }, JSON.stringify(first));
  assert.equal(await generation(), 1, 'one fresh instance');

  const d = (await world.send({ type: 'diagnostics' })).data;
  assert.equal(d.traps, 1);
  assert.equal(d.parked.length, 1);
  assert.equal(d.parked[0].kind, 'softphone-event');
  assert.match(d.parked[0].reason, /RuntimeError: unreachable/, 'a real wasm trap');
  assert.ok(d.restores >= 1, 'the fresh instance restored from IndexedDB');
  assert.ok(d.problems.some((p) => p.kind === 'trap'), JSON.stringify(d.problems));
  assert.equal(await badge(), '1', 'the parked input is on the badge');

  // The fresh instance has the settings and the token from IndexedDB: the next call is logged.
  await callFrom('+12125550142');
  await eventually(async () => (await world.emulator.calls('calltrail:')).byVendor.hubspot === 1,
    { what: 'the next call logged in HubSpot' });

  // The bridge re-sends what it got no answer for: the same message is answered from the
  // parked list without reaching the engine, so it traps no more.
  const again = await within(20_000, world.send(poison), 'the poison message re-sent');
  assert.deepEqual(again, { ok: true, data: { parked: true, traps: 1 } });
  assert.equal(await generation(), 1, 'no second trap');
  assert.equal((await world.send({ type: 'diagnostics' })).data.traps, 1);
});

test('the diagnostics page shows the trap and the parked input', async () => {
  const page = await world.browser.context.newPage();
  try {
    await page.goto(`chrome-extension://${world.browser.worker.url().split('/')[2]}/extension/pages/diagnostics.html`);
    await page.locator('#traps [data-kind="softphone-event"]').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#traps').innerText(), /RuntimeError/);
    assert.match(await page.locator('#softphone').innerText(), /Module failures\s*1/);
  } finally {
    await page.close();
  }
});

// Last: it leaves this worker stopped for good.
test('a module that traps while it restores stops after a bounded number of tries, visibly', async () => {
  const settings = (await world.send({ type: 'export-settings' })).data;
  // The test build traps in every start while the stored settings hold this word.
  const label = 'HubSpot calltrail-trap-on-start';
  const saved = await world.send({ type: 'import-settings', json: JSON.stringify({ ...settings, integrations: [{ ...settings.integrations[0], label }] }) });
  assert.equal(saved.ok, true, JSON.stringify(saved));
  const resets = await worker().evaluate(() => self.__calltrail.resets);
  const answer = await within(30_000, world.send({
    type: 'softphone-event', origin: world.softphoneOrigin, from_frame: true,
    data: { type: 'rc-call-ring-notify', call: { id: 'another', note: MARKER } },
  }), 'the message that trapped');
  assert.equal(answer.ok, false);
  assert.match(answer.error, /not logging/);
  assert.equal(await worker().evaluate(() => self.__calltrail.resets), resets + 3, 'three fresh instances, then it stops');
  assert.equal(await badge(), '!');
  assert.match(await worker().evaluate(() => chrome.action.getTitle({})), /Calltrail is not logging: the module could not be restarted/);
  const later = await within(10_000, world.send({ type: 'state' }), 'a later message');
  assert.equal(later.ok, false);
  assert.match(later.error, /not logging/);
  assert.equal(await worker().evaluate(() => self.__calltrail.resets), resets + 3, 'no further tries');
});
