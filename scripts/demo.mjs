// The demo: a rep's short day, played through the demo softphone with the real extension
// logging into a local CRM emulator (HubSpot and Salesforce). It prints what happens as it goes,
// then a table of every call and what got logged where (from the extension's history, checked
// against the records the emulator holds), and exports the audit trail as CSV.
//   node scripts/demo.mjs [--headless]       (scripts/demo.sh builds first)
// Headless unless there is a DISPLAY and no --headless.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, EXTENSION_ID } from '../www/world/browser.mjs';
import { startWorld, eventually } from '../www/world/world.mjs';
import {
  answerCall, call, callMarker, callView, engineInput, hangUp, NO_QUIET_HOURS, waitStatuses,
} from '../www/world/calls.mjs';

const headless = !process.env.DISPLAY || process.argv.includes('--headless');
const t0 = Date.now();
const say = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}`);

const PEOPLE = {
  ada: { number: '+12125550142', name: 'Ada Lovelace' },
  grace: { number: '+12125550143', name: 'Grace Hopper' },
  stranger: { number: '+16465550199', name: '(unknown at call time)' },
  alan: { number: '+12125550144', name: 'Alan Turing' },
};

say(`starting the CRM emulator, the softphone servers and Chromium (${headless ? 'headless' : 'on the display'}) with the extension`);
const world = await startWorld({
  headless,
  integrations: [
    { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
    { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
  ],
  settings: { digest: NO_QUIET_HOURS, active_call_delay_mins: 3 },
});
let failed = false;
try {
  // As a rep sets it up: the softphone's page added in Settings and allowed in Chrome, each CRM's
  // API allowed, and the same softphone in Calltrail's side panel for calls away from that page.
  await world.configure({ side_panel_softphone: `${world.softphoneOrigin}/` });
  const state = (await world.send({ type: 'state' })).data;
  say(`settings: bridge and panel registered on ${state.pages.filter((p) => p.granted).map((p) => p.page).join(', ')}; `
    + `access allowed for ${state.integrations.map((i) => `${i.label} (${i.access.hosts})`).join(', ')}`);
  const e = world.emulator;
  await e.seed('hubspot', [
    { firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' },
    { firstName: 'Grace', lastName: 'Hopper', phone: '212.555.0143' },
  ]);
  await e.seed('salesforce', [
    { firstName: 'Ada', lastName: 'Lovelace', phone: '+1 212 555 0142' },
    { firstName: 'Grace', lastName: 'Hopper', phone: '2125550143' },
    { firstName: 'Alan', lastName: 'Turing', phone: '(212) 555-0144' },
  ]);
  const hsAlan = (await e.seed('hubspot', [{ firstName: 'Alan', lastName: 'Turing', phone: '212-555-0144' }])).created[0];
  say('CRMs seeded: Ada and Grace in both; Alan in both; the stranger in neither');
  await world.openSoftphone();
  say(`softphone open at ${world.hostOrigin} (softphone frame from ${world.softphoneOrigin})`);

  const calls = [];
  // 1. A known caller in both CRMs: logged automatically at hang-up.
  const c1 = await call(world, PEOPLE.ada.number, { talkMs: 1200 });
  calls.push({ id: c1, who: PEOPLE.ada, what: 'known caller' });
  await waitStatuses(world, c1, { hs: 'logged', sf: 'logged' });
  say('call 1, Ada: logged at hang-up in HubSpot and Salesforce');

  // 2. Salesforce answers 429 (Retry-After 1 s) to everything for a while: HubSpot logs at
  //    hang-up, Salesforce's log is left for the digest.
  await e.fault({ vendor: 'salesforce', type: 'rate_limit', retryAfter: 1, probability: 1, count: null });
  const c2 = await call(world, PEOPLE.grace.number, { talkMs: 800 });
  calls.push({ id: c2, who: PEOPLE.grace, what: 'Salesforce failing (429s)' });
  const s2 = await waitStatuses(world, c2, { hs: 'logged', sf: 'waiting_for_digest' });
  await e.clearFaults();
  say(`call 2, Grace: HubSpot ${s2.hs}; Salesforce answered 429 meanwhile, so it is ${s2.sf.replaceAll('_', ' ')}; Salesforce recovers`);

  // 3. A stranger: no contact anywhere. The rep adds them to HubSpot afterwards.
  const c3 = await call(world, PEOPLE.stranger.number, { talkMs: 600 });
  calls.push({ id: c3, who: PEOPLE.stranger, what: 'contact created after the call' });
  await waitStatuses(world, c3, { hs: 'no_match', sf: 'no_match' });
  await e.seed('hubspot', [{ firstName: 'Mae', lastName: 'Jemison', phone: '646-555-0199' }]);
  say('call 3, a stranger: no match in either CRM; the rep then creates "Mae Jemison" in HubSpot');

  // 4. Notes opened during the call: left for the digest, which logs them with the notes.
  const notes = 'Asked for the Q3 pricing sheet; call back Tuesday';
  const c4 = await call(world, PEOPLE.grace.number, {
    talkMs: 500,
    during: async (id) => {
      await engineInput(world, { input: 'notes_opened', call: id });
      await engineInput(world, { input: 'notes_saved', call: id, notes });
    },
  });
  calls.push({ id: c4, who: PEOPLE.grace, what: 'notes written during the call' });
  await waitStatuses(world, c4, { hs: 'waiting_for_digest', sf: 'waiting_for_digest' });
  say(`call 4, Grace again: notes written ("${notes}"), so it waits for the digest`);

  // 5. Active-call logging: the rep picks the HubSpot contact the call pop found during the
  //    call, then "log now". Picks must be among the call pop's matches, so wait for them.
  const c5 = await answerCall(world, PEOPLE.alan.number);
  const hsMatches = await eventually(async () => (await callView(world, c5)).slots.find((s) => s.integration === 'hs')?.matches?.length
    && (await callView(world, c5)).slots.find((s) => s.integration === 'hs').matches, { what: 'the call pop to find Alan in HubSpot' });
  const alan = hsMatches.find((m) => m.id === String(hsAlan.id));
  const picked = await engineInput(world, { input: 'contacts_picked', call: c5, integration: 'hs', contacts: [alan] });
  if (!picked.ok) throw new Error(`the pick was refused: ${picked.error}`);
  await hangUp(world);
  calls.push({ id: c5, who: PEOPLE.alan, what: 'active-call pick in HubSpot' });
  const s5 = await waitStatuses(world, c5, { hs: 'scheduled', sf: 'logged' });
  say(`call 5, Alan: picked in HubSpot during the call (${s5.hs}, 3 min after hang-up); Salesforce logged automatically`);
  await engineInput(world, { input: 'log_now_requested', call: c5 });
  await waitStatuses(world, c5, { hs: 'logged' });
  say('call 5: "log now" pressed: logged in HubSpot');

  // 6. Away from that page: Ada calls again, taken on the softphone in Calltrail's side panel.
  const side = await world.browser.context.newPage();
  await side.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/softphone.html`);
  const sideFrame = await eventually(async () => side.frames().find((f) => f.url().startsWith(world.softphoneOrigin)), { what: 'the side panel\'s softphone' });
  await sideFrame.waitForFunction(() => document.readyState === 'complete');
  const tell = (cmd) => side.evaluate((c) => document.querySelector('iframe').contentWindow.postMessage(c, '*'), cmd);
  const seen = new Set((await world.send({ type: 'history', limit: 50 })).data.map((r) => r.call.id));
  await tell({ type: 'calltrail-demo-incoming-call', phoneNumber: PEOPLE.ada.number });
  await tell({ type: 'calltrail-demo-answer' });
  const c6 = await eventually(async () => (await world.send({ type: 'history', limit: 50 })).data.map((r) => r.call.id).find((id) => !seen.has(id)), { what: 'the side-panel call in the history' });
  await tell({ type: 'calltrail-demo-hangup' });
  calls.push({ id: c6, who: PEOPLE.ada, what: 'taken in the side panel' });
  await waitStatuses(world, c6, { hs: 'logged', sf: 'logged' });
  await side.close();
  say('call 6, Ada again, on the softphone in Calltrail\'s side panel: logged at hang-up in both CRMs');

  // 7. An SMS conversation with Ada: one record per CRM for the day, updated as texts arrive.
  await world.softphone({ type: 'calltrail-demo-incoming-sms', phoneNumber: PEOPLE.ada.number, text: 'Can we move our call to 3pm?' });
  await eventually(async () => (await e.messages('calltrail:msg|')).count === 2, { what: 'the SMS logged' });
  await world.softphone({ type: 'calltrail-demo-send-sms', phoneNumber: PEOPLE.ada.number, text: '3pm works, talk then' });
  await eventually(async () => {
    const m = await e.messages('calltrail:msg|');
    return Object.values(m.records).flat().every((r) => JSON.stringify(r.record).includes('talk then'));
  }, { what: 'the SMS records updated' });
  say('SMS with Ada: one conversation record per CRM, updated with the reply');

  // The digest ("sync now"; the hourly alarm does the same), once Salesforce's Retry-After passed.
  await eventually(async () => {
    const sf = (await world.send({ type: 'state' })).data.integrations.find((i) => i.id === 'sf');
    return !sf.health?.blocked_until || sf.health.blocked_until <= Date.now();
  }, { what: "Salesforce's Retry-After to pass" });
  const sync = await world.send({ type: 'sync-now' });
  say(`digest run: ${sync.data.logged.length} slot(s) logged (${sync.data.logged.map(([k]) => k.split('|').pop()).join(', ')})`);

  // What the extension says, checked against what the CRMs hold.
  const history = (await world.send({ type: 'history', limit: 50 })).data;
  const vendorOf = { hs: 'hubspot', sf: 'salesforce' };
  const rows = [];
  for (const [i, c] of calls.entries()) {
    const h = history.find((r) => r.call.id === c.id);
    const inCrm = (await e.calls(callMarker(c.id))).byVendor;
    // How each log was made: the trigger of its audit entry (auto, digest, sync, active, ...).
    const audit = (await world.send({ type: 'audit', call: c.id, limit: 200 })).data;
    const how = (integ) => audit.find((a) => a.integration === integ && a.record && /logged/.test(a.outcome))?.trigger;
    const cells = ['hs', 'sf'].map((integ) => {
      const s = h.slots.find((x) => x.integration === integ);
      const n = inCrm[vendorOf[integ]] || 0;
      const ok = s.status === 'logged' ? n === s.records.length && n >= 1 : n === 0;
      if (!ok) failed = true;
      const text = s.status === 'logged' ? `${s.records.join('+')} by ${how(integ) || s.mode}` : s.status.replaceAll('_', ' ');
      return `${text} ${ok ? '✓' : `✗ emulator has ${n}`}`;
    });
    const at = new Date(h.call.started_at).toISOString().slice(11, 19);
    const who = h.slots.flatMap((s) => s.contacts.map((x) => x.name))[0] || c.who.name;
    rows.push([String(i + 1), at, h.call.their_number, who, c.what, ...cells]);
  }
  const msgs = await e.messages('calltrail:msg|');
  rows.push(['SMS', '', PEOPLE.ada.number, 'Ada Lovelace', '2 texts, one record per day',
    ...['hubspot', 'salesforce'].map((v) => (msgs.byVendor[v] === 1 ? `conversation logged ${msgs.records[v][0].id} ✓` : `✗ ${msgs.byVendor[v] || 0} records`))]);
  const notesOk = Object.values((await e.calls(callMarker(c4))).records).flat().every((r) => JSON.stringify(r.record).includes('Q3 pricing sheet'));
  if (!notesOk) failed = true;
  const head = ['#', 'start UTC', 'number', 'contact', 'what happened', 'HubSpot', 'Salesforce'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
  const line = (r) => `| ${r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(' | ')} |`;
  console.log('');
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`record id by trigger (auto = at hang-up, sync = the digest run, active = active-call pick); ✓ = the CRM emulator holds exactly the records the extension reports (by marker); call 4's logs carry its notes: ${notesOk ? 'yes' : 'NO'}`);

  const csv = (await world.send({ type: 'audit-csv', limit: 5000 })).data;
  const out = path.join(ROOT, 'out', 'demo-audit.csv');
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, csv);
  console.log(`audit trail: ${csv.trim().split('\n').length - 2} entries exported to ${out}`);
  say(failed ? 'done, with MISMATCHES (see ✗ above)' : 'done');
} catch (err) {
  failed = true;
  console.error(`demo failed: ${err && err.stack ? err.stack : err}`);
} finally {
  await world.close();
}
process.exit(failed ? 1 : 0);
