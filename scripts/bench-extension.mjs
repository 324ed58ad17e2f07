// Extension end-to-end benchmark: what a rep feels. Prints a Markdown table; never a timed test.
//   node scripts/bench-extension.mjs [--runs 20] [--history 50000] [--dist DIR ...]
// Measures dist/ (after scripts/build.sh), or several --dist folders side by side, one column
// each (scripts/bench-before-after.sh REV builds an older commit beside this one for that).
// With several, every browser is started first and each measurement is taken in turn in every
// one of them, so a slow spell of this shared machine weighs on all columns alike.
//
// (a) worker cold start to ENGINE ready (self.__calltrail.timing.engineReadyMs, ms after the
//     worker's time origin), before and after 50,000 calls of history are put in IndexedDB,
//     over CDP restarts;
// (b) hang-up to the first CRM request: from the softphone's rc-call-end-notify (the time the
//     host page received it) to the emulator's request-log time of the first request for that
//     call after it, emulator at zero latency; warm worker, and cold (stopped just before the
//     hang-up);
// (c) sizes: unpacked dist/ and the .wasm gzipped, against App Connect's ~28 MB.
// Medians (and min/max) over the runs; the history is seeded by cloning a real call's records
// in the worker, in the documented record shape with open = 0 and dates days in the past.
import { readdir, stat, readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { DIST, median, ping, stopServiceWorker } from '../www/world/browser.mjs';
import { startWorld, eventually } from '../www/world/world.mjs';
import { answerCall, call, callView, hangUp, NO_QUIET_HOURS, waitStatuses } from '../www/world/calls.mjs';

const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const RUNS = Math.max(20, arg('--runs', 20));
const HISTORY = arg('--history', 50_000);
const DISTS = process.argv.flatMap((a, i) => (a === '--dist' ? [path.resolve(process.argv[i + 1])] : []));
if (!DISTS.length) DISTS.push(DIST);

async function dirSize(dir, root = dir) {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p, root);
    else if (p !== path.join(root, 'calltrail.zip')) total += (await stat(p)).size;
  }
  return total;
}

const stats = (xs) => ({ med: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
const fmt = (s) => `${s.med.toFixed(1)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, n=${s.n})`;
const ADA = '+12125550142';

/** A world for one extension build: emulator seeded, softphone open, one call made. */
async function prepare(dist) {
  const world = await startWorld({
    extensionDir: dist,
    integrations: [
      { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
      { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
    ],
    settings: { digest: NO_QUIET_HOURS },
  });
  await world.configure();
  await world.emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await world.emulator.seed('salesforce', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '212.555.0142' }]);
  await world.openSoftphone();
  await call(world, ADA); // warm-up, and a real call to clone for (a)
  return { dist, world, out: { warm: [], cold: [], base: [], ready: [], wasm: [] } };
}

/** (b) one hang-up, its first CRM request after the softphone said the call ended. */
async function hangupToRequest(world, cold) {
  const id = await answerCall(world, ADA);
  // The call pop searches at ring: let it answer in both CRMs so only hang-up work is measured.
  await eventually(async () => (await callView(world, id)).slots.every((s) => s.matches != null), { what: 'the call pop', every: 20 });
  if (cold) await stopServiceWorker(world.browser.context);
  const { lastSeq } = await world.emulator.admin('GET', 'requests?limit=1');
  await hangUp(world);
  await waitStatuses(world, id, { hs: 'logged', sf: 'logged' }, { every: 20 });
  const ended = await world.hostPage.evaluate(() => window.calltrailHost.messages.filter((m) => m.data.type === 'rc-call-end-notify').at(-1).at);
  const reqs = (await world.emulator.admin('GET', `requests?since=${lastSeq}`)).requests;
  return Math.min(...reqs.map((r) => r.t)) - ended;
}

/** (a) one worker restart: how long until the engine was ready, and the wasm before it. */
async function restart(world) {
  await stopServiceWorker(world.browser.context);
  return (await ping(world.browser.context)).timing;
}

/** Clones the real call's records `n` times, closed and 2 to 60 days old: a restore must not read them. */
async function seedHistory(world, n) {
  await ping(world.browser.context);
  return world.browser.worker.evaluate(async (n) => {
    const db = await new Promise((res, rej) => { const r = indexedDB.open('calltrail'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const all = (store) => new Promise((res, rej) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const calls = await all('calls');
    const slots = await all('slots');
    // Record values are JSON text (crates/core/src/store/mod.rs).
    const call = calls.find((c) => c.value && JSON.parse(c.value).call);
    const mine = slots.filter((s) => s.key.startsWith(`call|${call.key}|`));
    const day = 86_400_000;
    const now = Date.now();
    const CHUNK = 5000;
    for (let base = 0; base < n; base += CHUNK) {
      const tx = db.transaction(['calls', 'slots'], 'readwrite', { durability: 'relaxed' });
      const cs = tx.objectStore('calls');
      const ss = tx.objectStore('slots');
      for (let i = base; i < Math.min(n, base + CHUNK); i++) {
        const id = `bench:${i}`;
        const at = now - 2 * day - Math.floor((i / n) * 58 * day);
        const cv = JSON.parse(call.value);
        cv.call.id = id;
        cv.call.started_at = at - 60_000; cv.call.answered_at = at - 55_000; cv.call.ended_at = at;
        cs.put({ key: id, open: 0, at, value: JSON.stringify(cv) });
        for (const s of mine) {
          const sv = JSON.parse(s.value);
          const key = `call|${id}|${s.key.split('|').pop()}`;
          sv.key = key;
          if (sv.subject && sv.subject.call) sv.subject.call = id;
          sv.at = at;
          ss.put({ key, open: 0, at, value: JSON.stringify(sv) });
        }
      }
      await new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
    }
    const count = (store) => new Promise((res) => { const r = db.transaction(store).objectStore(store).count(); r.onsuccess = () => res(r.result); });
    const result = { calls: await count('calls'), slots: await count('slots') };
    db.close();
    return result;
  }, n);
}

const runs = [];
try {
  for (const dist of DISTS) runs.push(await prepare(dist));
  for (let i = 0; i < RUNS; i++) {
    for (const r of runs) r.out.warm.push(await hangupToRequest(r.world, false));
    for (const r of runs) r.out.cold.push(await hangupToRequest(r.world, true));
  }
  for (let i = 0; i < RUNS; i++) for (const r of runs) r.out.base.push((await restart(r.world)).engineReadyMs);
  for (const r of runs) r.out.seeded = await seedHistory(r.world, HISTORY);
  for (let i = 0; i < RUNS; i++) {
    for (const r of runs) {
      const t = await restart(r.world);
      r.out.ready.push(t.engineReadyMs);
      r.out.wasm.push(t.wasmReadyMs);
    }
  }
  for (const r of runs) {
    // The history really is there and readable (the history page reads the newest rows).
    const h = await r.world.send({ type: 'history', limit: 5 });
    r.out.historyOk = h.ok && h.data.length === 5;
    const wasm = await readFile(path.join(r.dist, 'extension', 'pkg', 'calltrail_bg.wasm'));
    r.out.wasmBytes = wasm.length;
    r.out.gz = gzipSync(wasm, { level: 9 }).length;
    r.out.unpacked = await dirSize(r.dist);
    r.out.zip = (await stat(path.join(r.dist, 'calltrail.zip'))).size;
  }
} finally {
  for (const r of runs) await r.world.close().catch(() => {});
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const APP_CONNECT = 28 * 1024 * 1024;
const row = (label, f) => console.log(`| ${label} | ${runs.map((r) => f(r.out)).join(' | ')} |`);
console.log(`| measure | ${runs.map((r) => path.relative(process.cwd(), r.dist) || r.dist).join(' | ')} |`);
console.log(`| --- | ${runs.map(() => '---').join(' | ')} |`);
row(`(a) worker restart → engine ready, ${runs[0].out.seeded.calls} calls / ${runs[0].out.seeded.slots} slots in IndexedDB (median of ${RUNS} CDP restarts)`, (o) => fmt(stats(o.ready)));
row('(a) same restarts: wasm instantiated', (o) => fmt(stats(o.wasm)));
row(`(a) worker restart → engine ready, same profile before the history was seeded (${2 * RUNS + 1} calls)`, (o) => fmt(stats(o.base)));
row(`(b) hang-up → first CRM request, warm worker (median of ${RUNS})`, (o) => fmt(stats(o.warm)));
row(`(b) hang-up → first CRM request, cold worker stopped just before (median of ${RUNS})`, (o) => fmt(stats(o.cold)));
row('(c) unpacked dist/ (without the zip)', (o) => `${kb(o.unpacked)} (1/${Math.round(APP_CONNECT / o.unpacked)} of App Connect's ~28 MB)`);
row('(c) .wasm raw / gzip -9 (Node zlib)', (o) => `${kb(o.wasmBytes)} / ${o.gz.toLocaleString('en')} B`);
row('(c) dist/calltrail.zip', (o) => kb(o.zip));
for (const r of runs) if (!r.out.historyOk) console.log(`warning: ${r.dist}: the history intent did not return 5 rows after seeding`);
