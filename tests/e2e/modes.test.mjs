// The four ways a call gets logged (PRODUCT.md, seed 000), end to end: demo softphone →
// content script → service worker (Rust engine) → CRM emulator, with three CRMs of different
// kinds connected at once (HubSpot, Salesforce, Pipedrive). What got logged is checked in the
// emulator by the marker every Calltrail record carries, so "once" means once in the CRM.
//
// The digest fired by a real chrome alarm and SMS conversations are in modes-alarm.test.mjs
// (their own world: they need a one-minute digest period that would disturb these tests).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import {
  answerCall, call, callView, engineInput, hangUp, logsOf, NO_QUIET_HOURS, recordText, sleep, statuses,
  waitStatuses, callMarker,
} from '../../www/world/calls.mjs';

const ADA = '+12125550142'; // automatic: a contact in all three CRMs
const GRACE = '+12125550143'; // notes: in HubSpot and Salesforce only
const ALAN = '+12125550144'; // active-call picks: two HubSpot contacts, one each elsewhere
const NEW = '+12125550145'; // manual: nobody at call time, a contact afterwards

let world;
const ids = {};

before(async () => {
  world = await startWorld({
    integrations: [
      { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
      { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
      { id: 'pd', kind: 'pipedrive', label: 'Pipedrive' },
    ],
    settings: { digest: NO_QUIET_HOURS, active_call_delay_mins: 3 },
  });
  await world.configure();
  const { emulator } = world;
  await emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await emulator.seed('salesforce', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '212.555.0142' }]);
  await emulator.seed('pipedrive', [{ name: 'Ada Lovelace', phone: '+1 212-555-0142' }]);
  await emulator.seed('hubspot', [{ firstName: 'Grace', lastName: 'Hopper', phone: '+1 212 555 0143' }]);
  await emulator.seed('salesforce', [{ firstName: 'Grace', lastName: 'Hopper', phone: '(212) 555-0143' }]);
  const hsAlan = await emulator.seed('hubspot', [
    { firstName: 'Alan', lastName: 'Turing', phone: '212-555-0144' },
    { firstName: 'Alan', lastName: 'Turing (Bletchley)', phone: '+12125550144' },
  ]);
  const sfAlan = await emulator.seed('salesforce', [{ firstName: 'Alan', lastName: 'Turing', phone: '2125550144' }]);
  await emulator.seed('pipedrive', [{ name: 'Alan Turing', phone: '212 555 0144' }]);
  ids.hsAlan = hsAlan.created.map((c) => c.id);
  ids.sfAlan = sfAlan.created.map((c) => c.Id);
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

test('automatic: logged at hang-up, once in each of the three CRMs', async () => {
  const id = await call(world, ADA);
  await waitStatuses(world, id, { hs: 'logged', sf: 'logged', pd: 'logged' });
  assert.deepEqual(await logsOf(world, id), { hubspot: 1, salesforce: 1, pipedrive: 1 });
  const v = await callView(world, id);
  for (const s of v.slots) {
    assert.equal(s.mode, 'auto', `${s.integration} mode`);
    assert.equal(s.records.length, 1);
    assert.equal(s.can_log_manually, false);
  }
  await sleep(1000);
  assert.deepEqual(await logsOf(world, id), { hubspot: 1, salesforce: 1, pipedrive: 1 }, 'nothing more arrives later');
});

test('notes opened then cancelled: not logged at hang-up, logged by the digest with the notes', async () => {
  const notes = 'Wants the renewal quote by Friday';
  const id = await call(world, GRACE, {
    during: async (callId) => {
      assert.equal((await engineInput(world, { input: 'notes_opened', call: callId })).ok, true);
      assert.equal((await engineInput(world, { input: 'notes_saved', call: callId, notes })).ok, true);
      // Opened again and cancelled: still the digest's.
      assert.equal((await engineInput(world, { input: 'notes_opened', call: callId })).ok, true);
      assert.equal((await engineInput(world, { input: 'notes_cancelled', call: callId })).ok, true);
    },
  });
  await waitStatuses(world, id, { hs: 'waiting_for_digest', sf: 'waiting_for_digest', pd: 'waiting_for_digest' });
  await sleep(1500);
  assert.deepEqual(await logsOf(world, id), {}, 'nothing is logged at hang-up');
  assert.deepEqual(Object.values(await statuses(world, id)), ['waiting_for_digest', 'waiting_for_digest', 'waiting_for_digest']);

  const sync = await world.send({ type: 'sync-now' });
  assert.equal(sync.ok, true, sync.error);
  assert.equal(sync.data.notice, 'digest_done');
  const loggedSlots = sync.data.logged.map(([slot]) => slot).filter((s) => s.includes(id)).sort();
  assert.deepEqual(loggedSlots, [`call|${id}|hs`, `call|${id}|sf`]);
  assert.deepEqual(await statuses(world, id), { hs: 'logged', sf: 'logged', pd: 'no_match' });
  const logs = await world.emulator.calls(callMarker(id));
  assert.deepEqual(logs.byVendor, { hubspot: 1, salesforce: 1 });
  for (const vendor of ['hubspot', 'salesforce']) {
    assert.ok(recordText(logs.records[vendor][0]).includes(notes), `${vendor} log carries the notes`);
  }
  const v = await callView(world, id);
  assert.equal(v.notes_opened, true);
  assert.ok(v.slots.filter((s) => s.status === 'logged').every((s) => s.mode === 'digest'));
});

test('active-call picks: logged after the delay (or at "log now") to the picked contacts; the third CRM logs automatically', async () => {
  const id = await answerCall(world, ALAN);
  // The call pop: the contacts matching the caller, per integration, on the call view while it
  // rings; the panel offers them and the rep picks among them.
  const popped = await eventually(async () => {
    const v = await callView(world, id);
    const m = (k) => v.slots.find((x) => x.integration === k)?.matches;
    return m('hs') && m('sf') ? { hs: m('hs'), sf: m('sf') } : null;
  }, { what: 'the call pop' });
  assert.deepEqual(popped.hs.map((c) => c.id).sort(), [...ids.hsAlan].sort(), 'HubSpot pop: both Alans');
  assert.deepEqual(popped.sf.map((c) => c.id), ids.sfAlan);
  const hsPicks = ids.hsAlan.map((cid) => popped.hs.find((c) => c.id === cid));
  for (const [integration, contacts] of [['hs', hsPicks], ['sf', popped.sf]]) {
    const r = await engineInput(world, { input: 'contacts_picked', call: id, integration, contacts });
    assert.equal(r.ok, true, r.error);
  }
  await sleep(200);
  await hangUp(world);

  // Pipedrive was not picked: automatic, now. HubSpot and Salesforce wait for the delay.
  await waitStatuses(world, id, { pd: 'logged', hs: 'scheduled', sf: 'scheduled' });
  const v = await callView(world, id);
  const hs = v.slots.find((s) => s.integration === 'hs');
  assert.equal(hs.mode, 'active');
  assert.match(hs.detail, /will be logged in (3 min|1\d\d s)/);
  await sleep(1000);
  assert.deepEqual(await logsOf(world, id), { pipedrive: 1 }, 'picked integrations wait for the delay');

  const r = await engineInput(world, { input: 'log_now_requested', call: id });
  assert.equal(r.ok, true, r.error);
  await waitStatuses(world, id, { hs: 'logged', sf: 'logged', pd: 'logged' });
  const logs = await world.emulator.calls(callMarker(id));
  assert.deepEqual(logs.byVendor, { hubspot: 2, salesforce: 1, pipedrive: 1 }, 'one log per picked contact');
  // Each picked contact has its own record: the first carries the slot's marker, further ones
  // the marker plus the contact id.
  const hsMarkers = logs.records.hubspot.map((r) => r.record.properties.hs_call_external_id).sort();
  // The marker names the call and the rep's leg (the softphone's party id), not the integration.
  assert.match(hsMarkers[0], new RegExp(`^calltrail:call\\|${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|[A-Za-z0-9_-]+$`));
  assert.deepEqual(hsMarkers, [hsMarkers[0], `${hsMarkers[0]}#${ids.hsAlan[1]}`]);
  const sfTask = logs.records.salesforce[0].record;
  assert.equal(sfTask.WhoId, ids.sfAlan[0]);
  const after = await callView(world, id);
  const hsSlot = after.slots.find((s) => s.integration === 'hs');
  assert.equal(hsSlot.records.length, 2);
  assert.deepEqual(hsSlot.contacts.map((c) => c.id), ids.hsAlan);
  assert.equal(after.slots.find((s) => s.integration === 'pd').mode, 'auto');
});

test('manual from history: logs a past call once per CRM; a second attempt is refused with a reason', async () => {
  const id = await call(world, NEW);
  await waitStatuses(world, id, { hs: 'no_match', sf: 'no_match', pd: 'no_match' });
  // The rep adds the caller to two CRMs afterwards, then logs the call from the history.
  await world.emulator.seed('hubspot', [{ firstName: 'Katherine', lastName: 'Johnson', phone: '212-555-0145' }]);
  await world.emulator.seed('salesforce', [{ firstName: 'Katherine', lastName: 'Johnson', phone: '(212) 555-0145' }]);
  const row = (await world.send({ type: 'history', limit: 10 })).data.find((c) => c.call.id === id);
  assert.ok(row, 'the call is in the history');
  assert.ok(row.slots.every((s) => s.can_log_manually), 'history offers manual logging');

  const r = await engineInput(world, { input: 'manual_log_requested', call: id, integrations: ['hs', 'sf'] });
  assert.equal(r.ok, true, r.error);
  assert.deepEqual(r.notices.filter((n) => n.notice === 'manual_accepted').map((n) => n.integration).sort(), ['hs', 'sf']);
  await waitStatuses(world, id, { hs: 'logged', sf: 'logged', pd: 'no_match' });
  assert.deepEqual(await logsOf(world, id), { hubspot: 1, salesforce: 1 });
  const v = await callView(world, id);
  assert.ok(v.slots.filter((s) => s.status === 'logged').every((s) => s.mode === 'manual' && !s.can_log_manually));

  const again = await engineInput(world, { input: 'manual_log_requested', call: id, integrations: ['hs'] });
  assert.equal(again.ok, false);
  assert.match(again.error, /^hs: already logged \(record \w+\)/);
  assert.equal(again.notices[0].notice, 'manual_refused');
  await sleep(1000);
  assert.deepEqual(await logsOf(world, id), { hubspot: 1, salesforce: 1 }, 'the refused attempt logged nothing');
  const audit = await world.send({ type: 'audit', call: id, limit: 100 });
  assert.ok(audit.data.some((e) => e.trigger === 'manual' && e.outcome === 'logged'));
});
