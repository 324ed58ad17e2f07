// Chaos run (reliability.md F19, I1/I2): 100 calls through the demo softphone into two CRMs
// while the service worker is stopped through CDP at 30 random points and the CRM emulator
// drops replies after committing (socket destroyed, or a 502) and answers 429 with a one-second
// Retry-After. Afterwards (faults cleared, "sync now" until every slot is terminal) every call is
// logged exactly once in every CRM where its caller is a contact, nothing is logged for unknown
// numbers (placeholders off), and no contact was created. Checked in the emulator, by marker.
//
//   CHAOS_SEED=1234 node --test tests/e2e/chaos.test.mjs     # replay one run's choices
//
// Salesforce and Clio are the CRMs here because their marker lookups are exact: after an
// unknown outcome the engine may look at once. With HubSpot, Pipedrive or Zoho it must wait out
// their search lag (30-60 s, a product constant) before believing "not found", which would make
// the quiesce phase minutes long without testing anything more in the browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld } from '../../www/world/world.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';
import { answerCall, hangUp, NO_QUIET_HOURS, sleep, stopWorkerInstance } from '../../www/world/calls.mjs';

const CALLS = Number(process.env.CHAOS_CALLS) || 100;
const STOPS = Number(process.env.CHAOS_STOPS) || 30;
const SEED = Number(process.env.CHAOS_SEED) || (Date.now() % 1_000_000);
const QUIESCE_MS = 90_000;
const RESET_AFTER_COMMIT = process.env.CHAOS_RESET_AFTER_COMMIT === '1';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with CHAOS_SEED. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

// 30 known numbers: in both CRMs, Salesforce only, Clio only; 8 numbers nobody has.
const people = Array.from({ length: 30 }, (_, i) => {
  const n = String(1000 + i);
  return { number: `+1415555${n}`, sf: i % 3 !== 2, cl: i % 3 !== 1, name: `Person ${i}`, sfPhone: `(415) 555-${n}`, clPhone: `+1 415-555-${n}` };
});
const strangers = Array.from({ length: 8 }, (_, i) => ({ number: `+1628555${2000 + i}`, sf: false, cl: false }));

let world;
before(async () => {
  world = await startWorld({
    integrations: [
      { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
      { id: 'cl', kind: 'clio', label: 'Clio' },
    ],
    settings: { digest: NO_QUIET_HOURS },
  });
  await world.configure();
  const e = world.emulator;
  await e.seed('salesforce', people.filter((p) => p.sf).map((p) => ({ firstName: 'Chaos', lastName: p.name, phone: p.sfPhone })));
  await e.seed('clio', people.filter((p) => p.cl).map((p) => ({ name: `Chaos ${p.name}`, phone: p.clPhone })));
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

// The call each record logs, with the picked contact's suffix: `calltrail:call|<call>|<leg>`
// (the leg id empty when the softphone names none, `docs/shared-calls.md`). The marker names no
// integration; the vendor whose record it is does.
function logKeys(record, integ) {
  // A record names its own marker once or twice (field and body): count the record once.
  return new Set([...JSON.stringify(record).matchAll(/calltrail:call\|(rc:[A-Za-z0-9_-]+)\|[A-Za-z0-9_-]*(#[^"|\\ ]*)?/g)].map((m) => `${m[1]}|${integ}${m[2] || ''}`));
}

test(`chaos: ${CALLS} calls, ${STOPS} worker stops, lost replies and 429s: every call logged exactly once where its caller is a contact`, { timeout: 240_000 }, async (t) => {
  const started = Date.now();
  console.log(`chaos seed ${SEED} (replay with CHAOS_SEED=${SEED})`);
  await world.emulator.admin('POST', 'config', { seed: SEED });
  await world.emulator.fault([
    // The reply is lost after the write committed: a 502 instead of the answer (the worker
    // learns nothing; the engine must look for its marker before trying again).
    { vendor: '*', type: 'commit_then_drop', mode: '502', method: 'POST', probability: 0.12, count: null },
    // Opt-in: the connection reset after the commit. Chromium re-sends a request whose reused
    // keep-alive connection closes before any reply byte, POSTs included, and hands the page
    // the second reply: a duplicate the worker cannot see (see the report of issue 5).
    ...(RESET_AFTER_COMMIT ? [{ vendor: '*', type: 'commit_then_drop', mode: 'destroy', method: 'POST', probability: 0.08, count: null }] : []),
    { vendor: '*', type: 'rate_limit', retryAfter: 1, probability: 0.05, count: null },
  ]);

  // Where the worker is stopped: 30 distinct calls, each at one moment of the call.
  const phases = ['before-ring', 'ringing', 'talking', 'at-hang-up', 'after-hang-up'];
  const stopAt = new Map();
  while (stopAt.size < Math.min(STOPS, CALLS)) stopAt.set(Math.floor(rand() * CALLS), { phase: pick(phases), delay: Math.floor(rand() * 400) });
  const stop = async () => {
    if (await stopWorkerInstance(world.browser.context, world.browser.worker, EXTENSION_ID)) restartedAtOnce++;
    stops++;
  };
  let stops = 0;
  let restartedAtOnce = 0;

  const calls = [];
  for (let i = 0; i < CALLS; i++) {
    const who = rand() < 0.85 ? pick(people) : pick(strangers);
    const s = stopAt.get(i);
    if (s?.phase === 'before-ring') await stop();
    const ringing = answerCall(world, who.number);
    if (s?.phase === 'ringing') await stop();
    const id = await ringing;
    await sleep(30 + Math.floor(rand() * 120));
    if (s?.phase === 'talking') await stop();
    await hangUp(world);
    if (s?.phase === 'at-hang-up') await stop();
    if (s?.phase === 'after-hang-up') {
      await sleep(s.delay);
      await stop();
    }
    calls.push({ id, who });
    await sleep(20 + Math.floor(rand() * 60));
  }
  const playedMs = Date.now() - started;

  // Quiesce: faults off, then "sync now" until every slot of every call is terminal.
  await world.emulator.clearFaults();
  const terminal = new Set(['logged', 'no_match', 'failed', 'needs_review', 'skipped', 'dismissed', 'unresolved']);
  const deadline = Date.now() + QUIESCE_MS;
  let rows;
  let syncs = 0;
  for (;;) {
    const sync = await world.send({ type: 'sync-now' });
    syncs++;
    assert.equal(sync.ok, true, sync.error);
    rows = new Map((await world.send({ type: 'history', limit: 1000 })).data.map((r) => [r.call.id, r]));
    const pending = calls.filter((c) => !rows.has(c.id) || rows.get(c.id).slots.some((s) => !terminal.has(s.status)));
    if (!pending.length) break;
    if (syncs === 1 || syncs % 20 === 0) {
      const tally = {};
      for (const c of pending) for (const sl of rows.get(c.id)?.slots ?? [{ status: 'missing', detail: '' }]) {
        if (!terminal.has(sl.status)) { const k = `${sl.status}: ${sl.detail.replace(/\d+ s$/, 'N s')}`; tally[k] = (tally[k] || 0) + 1; }
      }
      console.log(`after sync-now #${syncs}, not settled: ${JSON.stringify(tally)}`);
    }
    if (Date.now() > deadline) {
      for (const c of pending.filter((c) => !rows.has(c.id)).slice(0, 2)) {
        // Why a call is missing: what the worker has under its id, and what the softphone posted.
        console.log(`missing ${c.id}: call intent ${JSON.stringify(await world.send({ type: 'call', call: c.id })).slice(0, 300)}`);
        const posted = await world.hostPage.evaluate((sid) => window.calltrailHost.messages.filter((m) => JSON.stringify(m.data).includes(sid)).map((m) => `${m.at} ${m.data.type}`), c.id.slice(3));
        console.log(`  softphone posted: ${posted.join(', ')}`);
        console.log(`  diagnostics: ${JSON.stringify((await world.send({ type: 'diagnostics' })).data.softphone)}`);
      }
      const show = pending.slice(0, 5).map((c) => `${c.id}: ${JSON.stringify(rows.get(c.id)?.slots.map((s) => [s.integration, s.status, s.detail]) ?? 'not in the history')}`);
      assert.fail(`${pending.length} calls not settled after ${QUIESCE_MS / 1000} s of quiesce:\n${show.join('\n')}`);
    }
    await sleep(500);
  }
  const quiesceMs = Date.now() - started - playedMs;

  // What the CRMs hold, by marker.
  const all = await world.emulator.calls('calltrail:call|');
  const counts = new Map();
  const integOf = { salesforce: 'sf', clio: 'cl' };
  for (const [vendor, recs] of Object.entries(all.records)) {
    for (const r of recs) for (const k of logKeys(r.record, integOf[vendor] || vendor)) counts.set(k, (counts.get(k) || 0) + 1);
  }
  let expected = 0, lost = 0, duplicated = 0, stray = 0;
  const problems = [];
  for (const { id, who } of calls) {
    for (const integ of ['sf', 'cl']) {
      const n = counts.get(`${id}|${integ}`) || 0;
      counts.delete(`${id}|${integ}`);
      const want = who[integ] ? 1 : 0;
      expected += want;
      if (n < want) { lost++; problems.push(`${id} ${integ}: lost (${who.number}, ${rows.get(id)?.slots.find((s) => s.integration === integ)?.detail})`); }
      if (n > want) {
        if (want) duplicated += n - want; else stray += n;
        problems.push(`${id} ${integ}: ${n} records for ${who.number} (want ${want})`);
      }
      const status = rows.get(id)?.slots.find((s) => s.integration === integ)?.status;
      if (status !== (want ? 'logged' : 'no_match')) problems.push(`${id} ${integ}: ledger says ${status}, want ${want ? 'logged' : 'no_match'}`);
    }
  }
  for (const [k, n] of counts) { stray += n; problems.push(`${k}: ${n} records for no call of this run`); }
  const contacts = (await world.emulator.contacts()).byVendor;
  const seeded = { salesforce: people.filter((p) => p.sf).length, clio: people.filter((p) => p.cl).length };
  const stats = await world.emulator.stats();
  // CHAOS_ROUTES=1 prints the CRM requests by route and status (where the traffic went).
  if (process.env.CHAOS_ROUTES) {
    for (const [v, st] of Object.entries(stats.byVendor)) t.diagnostic(`${v}: ${JSON.stringify(st.byRoute)} ${JSON.stringify(st.byStatus)}`);
  }
  const faults = Object.values(stats.byVendor).reduce((n, v) => n + (v.faults || 0), 0);
  const diag = (await world.send({ type: 'diagnostics' })).data;
  console.log(
    `chaos summary: seed ${SEED}, ${calls.length} calls (${calls.filter((c) => !c.who.sf && !c.who.cl).length} unknown numbers), ` +
      `${stops} worker stops (${restartedAtOnce} woken again at once), ${faults} faults injected of ${stats.total} CRM requests, ` +
      `${expected} logs expected: ${expected - lost} logged, ${lost} lost, ${duplicated} duplicated, ${stray} stray; ` +
      `played ${(playedMs / 1000).toFixed(1)} s, quiesced in ${(quiesceMs / 1000).toFixed(1)} s with ${syncs} sync-now`,
  );
  t.diagnostic(`seed ${SEED}`);
  if (problems.length) {
    // The audit trail of the first calls that went wrong, to find the cause.
    for (const line of problems.slice(0, 2)) {
      const id = line.split(' ')[0];
      const audit = (await world.send({ type: 'audit', call: id, limit: 200 })).data.reverse();
      console.log(`audit of ${id}:\n${audit.map((e) => `  ${e.at} ${e.integration} ${e.trigger} ${e.outcome} ${e.record ?? ''}`).join('\n')}`);
      const recs = Object.values((await world.emulator.calls(`calltrail:call|${id}|`)).records).flat();
      console.log(`records: ${recs.map((r) => `${r.collection}/${r.id} ${r.record.CreatedDate || r.record.created_at}`).join(', ')}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.equal(stops, Math.min(STOPS, CALLS));
  assert.deepEqual(contacts, seeded, 'no contact created (placeholders are off)');
});
