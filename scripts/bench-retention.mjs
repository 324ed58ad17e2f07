// Retention benchmark (issue 12): a year of a busy rep in IndexedDB, before and after pruning.
//   node scripts/bench-retention.mjs [--per-day 100] [--days 250] [--runs 10]
// Measures dist/ (after scripts/build.sh). Prints a Markdown table; never a timed test.
//
// One real call is logged in two CRMs (HubSpot, Salesforce, the emulator); its call, slot and
// audit records are cloned `per-day` times a working day over the last 365 days (`days` working
// days, weekends skipped), closed, in the documented record shape. Then:
//   - size: `navigator.storage.estimate()` in the worker (usageDetails.indexedDB, Chrome's count
//     of the files on disk) and the records per store;
//   - restart: worker stopped through CDP, woken, the engine's own timing.engineReadyMs (median
//     of `runs`);
//   - pruning: the engine's own retention (default 180 days), run by the scheduled digest: the
//     `meta/digest` record is removed so a restarted worker finds its digest due, the wake alarm
//     is fired, and this repeats until the calls store stops shrinking (500 calls and 2,000 audit
//     entries a run, see crates/core/src/engine/run.rs);
//   - then size and restart again.
import { ping, stopServiceWorker, median } from '../www/world/browser.mjs';
import { startWorld, eventually } from '../www/world/world.mjs';
import { call, NO_QUIET_HOURS, waitStatuses, setWakeAlarm } from '../www/world/calls.mjs';

const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const PER_DAY = arg('--per-day', 100);
const DAYS = arg('--days', 250);
const RUNS = arg('--runs', 10);
const ADA = '+12125550142';

const world = await startWorld({
  integrations: [
    { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
    { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
  ],
  settings: { digest: NO_QUIET_HOURS },
});

/**
 * Runs `fn(db, arg)` in the worker with the `calltrail` database open. `fn` must open nothing
 * itself: the worker's CSP forbids building functions from text, so `fn` is handed to
 * Playwright as it is and gets the database from `self.__benchDb`.
 */
async function inDb(fn, a) {
  await world.browser.worker.evaluate(async () => {
    if (self.__benchDb) return;
    self.__benchDb = await new Promise((res, rej) => { const r = indexedDB.open('calltrail'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    // Let the extension upgrade or delete it if it ever asks.
    self.__benchDb.onversionchange = () => { self.__benchDb.close(); self.__benchDb = null; };
  });
  return world.browser.worker.evaluate(fn, a);
}

const counts = () => inDb(async () => {
  const db = self.__benchDb;
  const out = {};
  for (const s of ['calls', 'slots', 'audit']) {
    out[s] = await new Promise((res) => { const r = db.transaction(s).objectStore(s).count(); r.onsuccess = () => res(r.result); });
  }
  return out;
});

async function size() {
  await ping(world.browser.context);
  const est = await world.browser.worker.evaluate(async () => {
    const e = await navigator.storage.estimate();
    return { usage: e.usage, quota: e.quota, idb: e.usageDetails?.indexedDB ?? null };
  });
  return { ...est, ...(await counts()) };
}

/** Closes this script's own connection, so nothing of it keeps the worker alive. */
const closeDb = () => world.browser.worker.evaluate(() => { self.__benchDb?.close(); self.__benchDb = null; });

async function restarts() {
  await closeDb();
  const ready = [];
  for (let i = 0; i < RUNS; i++) {
    await stopServiceWorker(world.browser.context);
    ready.push((await ping(world.browser.context)).timing.engineReadyMs);
  }
  return { med: median(ready), min: Math.min(...ready), max: Math.max(...ready), n: ready.length };
}

/** Clones the real call `perDay` times on each of `days` working days of the last year. */
function seedYear(perDay, days) {
  return inDb(async ([perDay, days]) => {
    const db = self.__benchDb;
    const all = (store) => new Promise((res, rej) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const calls = await all('calls');
    const call = calls.find((c) => c.value && JSON.parse(c.value).call);
    const slots = (await all('slots')).filter((s) => s.key.startsWith(`call|${call.key}|`));
    const audit = (await all('audit')).filter((a) => a.value.includes(call.key));
    const day = 86_400_000;
    const now = Date.now();
    // Working days, newest first, skipping weekends, from yesterday back.
    const dates = [];
    for (let d = 1; dates.length < days; d++) {
      const t = now - d * day;
      const wd = new Date(t).getUTCDay();
      if (wd !== 0 && wd !== 6) dates.push(t - (t % day) + 14 * 3_600_000);
    }
    let n = 0;
    for (const date of dates) {
      const tx = db.transaction(['calls', 'slots', 'audit'], 'readwrite', { durability: 'relaxed' });
      const cs = tx.objectStore('calls');
      const ss = tx.objectStore('slots');
      const as = tx.objectStore('audit');
      for (let i = 0; i < perDay; i++) {
        const id = `year:${n++}`;
        const at = date + i * 300_000;
        const cv = JSON.parse(call.value);
        cv.call.id = id;
        cv.call.started_at = at - 60_000; cv.call.answered_at = at - 55_000; cv.call.ended_at = at;
        cs.put({ key: id, open: 0, at, value: JSON.stringify(cv) });
        for (const s of slots) {
          const key = `call|${id}|${s.key.split('|').pop()}`;
          const sv = JSON.parse(s.value);
          sv.key = key;
          if (sv.subject && sv.subject.call) sv.subject.call = id;
          sv.at = at;
          ss.put({ key, open: 0, at, value: JSON.stringify(sv) });
        }
        audit.forEach((a, j) => {
          const v = JSON.parse(a.value.split(call.key).join(id));
          v.at = at + j;
          const key = `${String(at + j).padStart(13, '0')}|${'0'.repeat(15)}1|${String(n * 10 + j).padStart(10, '0')}`;
          as.put({ key, open: 0, at: at + j, value: JSON.stringify(v) });
        });
      }
      await new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
    }
    return { calls: n, slotsPerCall: slots.length, auditPerCall: audit.length };
  }, [perDay, days]);
}

/** One scheduled digest run (with its prune batch): due at restart, woken by the alarm. */
async function pruneRun() {
  const before = await counts();
  await inDb(() => new Promise((res, rej) => {
    const db = self.__benchDb;
    const tx = db.transaction('meta', 'readwrite');
    tx.objectStore('meta').delete('digest');
    tx.oncomplete = res; tx.onerror = () => rej(tx.error);
  }));
  await closeDb();
  await stopServiceWorker(world.browser.context);
  await ping(world.browser.context);
  await setWakeAlarm(world.browser.worker, Date.now());
  return eventually(async () => {
    const c = await counts();
    return c.calls < before.calls || c.audit < before.audit ? c : null;
  }, { ms: 20_000, what: 'a prune batch' }).catch(() => null);
}

const kb = (n) => (n == null ? 'n/a' : `${(n / 1024 / 1024).toFixed(1)} MB`);
try {
  await world.configure();
  await world.emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await world.emulator.seed('salesforce', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '212.555.0142' }]);
  await world.openSoftphone();
  const id = await call(world, ADA);
  await waitStatuses(world, id, { hs: 'logged', sf: 'logged' }, { ms: 30_000 });
  // Nothing may wake the worker while it is restarted: the softphone's page goes.
  await world.hostPage.close();
  await ping(world.browser.context);
  const empty = await size();
  const t0 = Date.now();
  const seeded = await seedYear(PER_DAY, DAYS);
  const seedSecs = (Date.now() - t0) / 1000;
  const full = await size();
  const fullRestart = await restarts();
  const t1 = Date.now();
  let runs = 0;
  for (;;) {
    const c = await pruneRun();
    if (!c) break;
    runs += 1;
  }
  const pruneSecs = (Date.now() - t1) / 1000;
  const pruned = await size();
  const prunedRestart = await restarts();
  const history = await world.send({ type: 'history', limit: 5 });
  const fmt = (s) => `${s.med.toFixed(1)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, n=${s.n})`;
  const row = (label, a, b) => console.log(`| ${label} | ${a} | ${b} |`);
  console.log(`Seeded ${seeded.calls} calls (${seeded.slotsPerCall} slots, ${seeded.auditPerCall} audit entries each) in ${seedSecs.toFixed(1)} s; pruned in ${runs} digest runs, ${pruneSecs.toFixed(1)} s; quota ${kb(full.quota)}.`);
  console.log(`Empty profile (one call): IndexedDB ${kb(empty.idb)}, usage ${kb(empty.usage)}.`);
  console.log('');
  console.log('| measure | a year (before pruning) | after pruning (180 days kept) |');
  console.log('| --- | --- | --- |');
  row('records: calls / slots / audit', `${full.calls} / ${full.slots} / ${full.audit}`, `${pruned.calls} / ${pruned.slots} / ${pruned.audit}`);
  row('IndexedDB on disk (storage.estimate usageDetails.indexedDB)', kb(full.idb), kb(pruned.idb));
  row('origin usage (storage.estimate usage)', kb(full.usage), kb(pruned.usage));
  row(`worker restart → engine ready (median of ${RUNS} CDP restarts)`, fmt(fullRestart), fmt(prunedRestart));
  if (!(history.ok && history.data.length === 5)) console.log('warning: the history intent did not return 5 rows');
} finally {
  await world.close().catch(() => {});
}
