// A browser out of storage space: IndexedDB refuses Calltrail's writes with QuotaExceededError.
// The rep sees it (badge, history banner), the softphone's events are not acknowledged (the
// bridge keeps them), and once there is space again they are saved and the call is logged.
//
// How the disk fills: `put` throws the QuotaExceededError DOMException IndexedDB throws, in the
// worker's global scope only. Lowering the quota for real (DevTools' Storage.
// overrideQuotaForOrigin on the extension's origin) reports the override active in this
// Chromium, but IndexedDB writes of an extension origin still commit, so it cannot stand in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';

const ORIGIN = `chrome-extension://${EXTENSION_ID}`;

let world;
before(async () => {
  world = await startWorld({ integrations: [{ id: 'hs', kind: 'hubspot', label: 'HubSpot' }] });
  await world.configure();
  await world.emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

/** Fills the disk (`full`) or frees it, for the worker's IndexedDB writes. */
const disk = (full) => world.browser.worker.evaluate((on) => {
  const proto = IDBObjectStore.prototype;
  self.__realPut ||= proto.put;
  proto.put = on ? function put() { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); } : self.__realPut;
}, full);

const worker = () => world.browser.worker;
const badge = () => worker().evaluate(() => chrome.action.getBadgeText({}));
/** The softphone events the bridge still holds because the worker did not acknowledge them. */
const unacknowledged = () => worker().evaluate(async () => Object.entries(await chrome.storage.local.get(null))
  .filter(([k]) => k.startsWith('bridge:')).reduce((n, [, v]) => n + (v && v.pending ? v.pending.length : 0), 0));

test('a full disk is shown, the softphone event is not acknowledged, and nothing is lost', async () => {
  await disk(true);
  const history = await world.browser.context.newPage();
  try {
    await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: '+12125550142' });
    await world.softphone({ type: 'calltrail-demo-answer' });
    await world.softphone({ type: 'calltrail-demo-hangup' });

    await eventually(async () => (await badge()) === '!', { what: 'the badge to say the disk is full' });
    const d = (await world.send({ type: 'diagnostics' })).data;
    assert.ok(d.storage_full, 'diagnostics say since when');
    assert.ok(d.problems.some((p) => p.kind === 'persist_failed' && /QuotaExceededError/.test(p.detail)), JSON.stringify(d.problems.slice(-3)));
    // The bridge keeps what it relayed: the worker answered "send it again", never "saved".
    await eventually(async () => (await unacknowledged()) > 0, { what: 'the bridge to hold the unsaved events' });
    assert.equal((await world.emulator.calls('calltrail:')).count, 0, 'nothing sent to a CRM before it is on disk');

    await history.goto(`${ORIGIN}/extension/pages/history.html`);
    const banner = history.locator('#storage-state .banner');
    await banner.waitFor({ timeout: 10_000 });
    assert.match(await banner.innerText(), /out of storage space/);

    // Space again: the bridge's re-sends are saved and the call is logged, once.
    await disk(false);
    await eventually(async () => (await world.emulator.calls('calltrail:')).byVendor.hubspot === 1,
      { ms: 30_000, what: 'the call logged once there is space' });
    await eventually(async () => (await unacknowledged()) === 0 && (await badge()) === '', { what: 'the events acknowledged and the badge cleared' });
    await banner.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal((await world.send({ type: 'diagnostics' })).data.storage_full, null);
  } finally {
    await disk(false).catch(() => {});
    await history.close();
  }
});
