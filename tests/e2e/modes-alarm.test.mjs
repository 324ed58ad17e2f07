// The digest fired by a real chrome.alarms alarm, and SMS conversations, end to end with
// Pipedrive and Zoho connected at once. Its own world: the digest period is one minute here
// (the shortest the settings allow), which modes.test.mjs must not have. The alarm test waits
// about a minute: the digest is due one period after the previous run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { stopServiceWorker } from '../../www/world/browser.mjs';
import { call, callMarker, NO_QUIET_HOURS, recordText, setWakeAlarm, sleep, waitStatuses } from '../../www/world/calls.mjs';

const LATE = '+13125550150'; // becomes a contact only after the call
const TEXTER = '+13125550151'; // a contact in both CRMs who texts

let world;
before(async () => {
  world = await startWorld({
    integrations: [
      { id: 'pd', kind: 'pipedrive', label: 'Pipedrive' },
      { id: 'zo', kind: 'zoho', label: 'Zoho' },
    ],
    settings: { digest: { ...NO_QUIET_HOURS, period_mins: 1 } },
  });
  await world.configure();
  await world.emulator.seed('pipedrive', [{ name: 'Mary Jackson', phone: '(312) 555-0151' }]);
  await world.emulator.seed('zoho', [{ firstName: 'Mary', lastName: 'Jackson', phone: '+1 312 555 0151' }]);
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

test('SMS: one record per conversation per day in each CRM, updated as messages arrive', async () => {
  const marker = 'calltrail:msg|';
  await world.softphone({ type: 'calltrail-demo-incoming-sms', phoneNumber: TEXTER, text: 'Is the quote ready?' });
  const first = await eventually(async () => {
    const m = await world.emulator.messages(marker);
    return m.byVendor.pipedrive === 1 && m.byVendor.zoho === 1 ? m : null;
  }, { what: 'the conversation logged in Pipedrive and Zoho' });
  assert.equal(first.count, 2);
  await world.softphone({ type: 'calltrail-demo-send-sms', phoneNumber: TEXTER, text: 'Yes: sending it now' });
  await world.softphone({ type: 'calltrail-demo-incoming-sms', phoneNumber: TEXTER, text: 'Thanks & talk soon' });
  const updated = await eventually(async () => {
    const m = await world.emulator.messages(marker);
    const texts = Object.values(m.records).flat().map(recordText);
    const all = texts.length === 2 && texts.every((t) => t.includes('quote ready') && t.includes('sending it now') && /Thanks (&|&amp;|\\u0026) talk soon/.test(t));
    return all ? m : null;
  }, { what: 'both records updated with all three messages' });
  assert.deepEqual(updated.byVendor, { pipedrive: 1, zoho: 1 }, 'updated in place, never a second record');
  await sleep(1000);
  assert.deepEqual((await world.emulator.messages(marker)).byVendor, { pipedrive: 1, zoho: 1 });
});

test('a real chrome alarm wakes the stopped worker and its digest logs a call whose contact was created after the call', async (t) => {
  // A digest run now: the next one is due one period (a minute) from here, so nothing that
  // wakes the worker earlier can run it; only an alarm at or after that time can.
  const sync = await world.send({ type: 'sync-now' });
  assert.equal(sync.ok, true, sync.error);
  const due = sync.data.started_at + 60_000;
  const id = await call(world, LATE);
  await waitStatuses(world, id, { pd: 'no_match', zo: 'no_match' });
  await world.emulator.seed('pipedrive', [{ name: 'Dorothy Vaughan', phone: '312-555-0150' }]);
  await world.emulator.seed('zoho', [{ firstName: 'Dorothy', lastName: 'Vaughan', phone: '(312) 555-0150' }]);
  assert.equal((await world.emulator.calls(callMarker(id))).count, 0);

  // Fire the alarm just after the digest is due. Nothing but an alarm may wake the worker from
  // here on, so until the log appears only the emulator is asked.
  const before = (await world.send({ type: 'ping' })).instance;
  const when = Math.max(Date.now() + 2000, due + 300);
  t.diagnostic(`alarm in ${((when - Date.now()) / 1000).toFixed(1)} s`);
  await setWakeAlarm(world.browser.worker, when);
  await stopServiceWorker(world.browser.context);
  const logged = await eventually(async () => {
    const c = await world.emulator.calls(callMarker(id));
    return c.byVendor.pipedrive === 1 && c.byVendor.zoho === 1 ? c : null;
  }, { ms: when - Date.now() + 20_000, every: 500, what: 'the digest to log the call in Pipedrive and Zoho' });
  assert.ok(Date.now() >= due, 'logged only once the digest was due');
  assert.equal(logged.count, 2);

  const after = (await world.send({ type: 'ping' })).instance;
  assert.notEqual(after, before, 'a new worker instance: the alarm woke it');
  await waitStatuses(world, id, { pd: 'logged', zo: 'logged' });
  const audit = (await world.send({ type: 'audit', call: id, limit: 50 })).data;
  assert.ok(audit.some((e) => e.trigger === 'digest' && e.outcome === 'logged'), 'logged by the scheduled digest, not sync-now');
  assert.ok(!audit.some((e) => e.trigger === 'sync' && e.outcome === 'logged'));
  await sleep(1000);
  assert.equal((await world.emulator.calls(callMarker(id))).count, 2, 'once each');
});
