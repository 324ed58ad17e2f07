// Calls from the demo softphone land in the CRM emulator, through the real extension: the
// content script relays RingCentral's events, Rust decodes them, the engine logs the call in
// every CRM where the caller is a contact, exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';
import { axe, assertKeyboardReachable, shot } from './lib/a11y.mjs';

let world;
before(async () => {
  world = await startWorld({
    integrations: [
      { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
      { id: 'pd', kind: 'pipedrive', label: 'Pipedrive' },
    ],
  });
  await world.configure();
  await world.emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await world.emulator.seed('pipedrive', [{ name: 'Ada Lovelace', phone: '+1 212-555-0142' }]);
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

async function callFrom(number) {
  await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: number });
  await world.softphone({ type: 'calltrail-demo-answer' });
  await new Promise((r) => setTimeout(r, 300));
  await world.softphone({ type: 'calltrail-demo-hangup' });
}

test('automatic: a known caller is logged once in each CRM where they are a contact', async () => {
  await callFrom('+12125550142');
  const calls = await eventually(async () => {
    const c = await world.emulator.calls('calltrail:');
    return c.byVendor.hubspot === 1 && c.byVendor.pipedrive === 1 ? c : null;
  }, { what: 'one call log in HubSpot and one in Pipedrive' });
  assert.equal(calls.count, 2);
  // Nothing more arrives later (no duplicate from the second event stream or a retry).
  await new Promise((r) => setTimeout(r, 1500));
  const again = await world.emulator.calls('calltrail:');
  assert.deepEqual(again.byVendor, calls.byVendor);
  const history = await world.send({ type: 'history', limit: 5 });
  assert.equal(history.ok, true);
  const states = history.data[0].slots.map((s) => `${s.integration}:${s.status}`).sort();
  assert.deepEqual(states, ['hs:logged', 'pd:logged']);
});

test('a page that posts rc-* messages to itself is rejected and nothing is logged', async () => {
  const before = (await world.send({ type: 'diagnostics' })).data.softphone;
  const calls = await world.emulator.calls('calltrail:');
  await world.hostPage.evaluate(() => {
    const call = { id: 'x', direction: 'Inbound', from: '+12125550142', to: '+16505550100', startTime: Date.now() - 5000,
      creationTime: Date.now() - 9000, endTime: Date.now(), callStatus: 'webphone-session-finished',
      partyData: { partyId: 'p-1', sessionId: 's-forged' } };
    window.postMessage({ type: 'rc-call-end-notify', call }, '*');
  });
  const after = await eventually(async () => {
    const d = (await world.send({ type: 'diagnostics' })).data.softphone;
    return (d.rejected.not_from_softphone_frame || 0) > (before.rejected.not_from_softphone_frame || 0) ? d : null;
  }, { what: 'the forged message to be counted as rejected' });
  assert.ok(after.last_rejections.at(-1).detail.includes('child frame'));
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual((await world.emulator.calls('calltrail:')).byVendor, calls.byVendor);
});

test('a softphone on an origin that is not configured is refused and nothing is logged', async () => {
  const settings = (await world.send({ type: 'export-settings' })).data;
  const untrusted = { ...settings, softphone_origins: ['https://apps.ringcentral.com'] };
  assert.equal((await world.send({ type: 'import-settings', json: JSON.stringify(untrusted) })).ok, true);
  try {
    const before = (await world.send({ type: 'diagnostics' })).data.softphone.rejected.untrusted_origin || 0;
    const calls = await world.emulator.calls('calltrail:');
    await callFrom('+12125550142');
    await eventually(async () => ((await world.send({ type: 'diagnostics' })).data.softphone.rejected.untrusted_origin || 0) > before,
      { what: 'messages from the unconfigured origin to be counted as refused' });
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual((await world.emulator.calls('calltrail:')).byVendor, calls.byVendor, 'nothing logged');
  } finally {
    assert.equal((await world.send({ type: 'import-settings', json: JSON.stringify(settings) })).ok, true);
  }
});

test('the diagnostics page shows refused messages by reason', async () => {
  const page = await world.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/diagnostics.html`);
  const row = page.locator('tr[data-reason="not_from_softphone_frame"]');
  await row.waitFor();
  assert.match(await row.innerText(), /not by the softphone.s frame\s+[1-9]/);
  assert.match(await page.locator('#rejected').innerText(), /did not come from a child frame/);
  await shot(page, 'diagnostics');
  assert.deepEqual(await axe(page), [], 'diagnostics: no serious or critical axe violation');
  await assertKeyboardReachable(page);
  await page.close();
});
