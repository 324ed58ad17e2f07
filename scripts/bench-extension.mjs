// Extension end-to-end benchmark: what a rep feels. Prints a Markdown table; never a timed test.
//   node scripts/bench-extension.mjs [--runs 20] [--history 50000] [--dist DIR ...]
// Measures dist/ (after scripts/build.sh), or each --dist in turn in one run, one column each
// (scripts/bench-before-after.sh REV builds an older commit beside this one for that).
// (a) worker cold start to ENGINE ready (self.__calltrail.timing.engineReadyMs, ms after the
//     worker's time origin) with 50,000 calls of history in IndexedDB, over CDP restarts;
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
import { startWorld } from '../www/world/world.mjs';
import { answerCall, call, hangUp, NO_QUIET_HOURS, sleep, waitStatuses } from '../www/world/calls.mjs';

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

/** Every figure for the extension in `dist`. */
async function measure(dist) {
const world = await startWorld({
  extensionDir: dist,
  integrations: [
    { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
    { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
  ],
  settings: { digest: NO_QUIET_HOURS },
});
const out = {};
try {
  await world.configure();
  await world.emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await world.emulator.seed('salesforce', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '212.555.0142' }]);
  await world.openSoftphone();
  const { context, worker } = world.browser;

  // (b) hang-up to the first CRM request.
  const hangupToRequest = async (cold) => {
    const id = await answerCall(world, '+12125550142');
    await sleep(150);
    // The call pop searched at ring: let it finish so only hang-up work is measured.
    await sleep(300);
    if (cold) await stopServiceWorker(context);
    const { lastSeq } = await world.emulator.admin('GET', 'requests?limit=1');
    await hangUp(world);
    await waitStatuses(world, id, { hs: 'logged', sf: 'logged' }, { every: 20 });
    const ended = await world.hostPage.evaluate(() => window.calltrailHost.messages.filter((m) => m.data.type === 'rc-call-end-notify').at(-1).at);
    const reqs = (await world.emulator.admin('GET', `requests?since=${lastSeq}`)).requests;
    const first = Math.min(...reqs.map((r) => r.t));
    return first - ended;
  };
  await call(world, '+12125550142'); // warm-up, and a real call to clone for (a)
  const warm = [], cold = [];
  for (let i = 0; i < RUNS; i++) {
    warm.push(await hangupToRequest(false));
    cold.push(await hangupToRequest(true));
  }
  out.warm = stats(warm);
  out.cold = stats(cold);

  // (a) first without history (only the calls above), to tell the history's cost from the rest.
  const base = [];
  for (let i = 0; i < RUNS; i++) {
    await stopServiceWorker(context);
    base.push((await ping(context)).timing.engineReadyMs);
  }
  out.base = stats(base);

  // (a) seed the history: clone the real records (calls/<id>, slots/call|<id>|<integ>) HISTORY
  // times, closed (open = 0) and 2 to 60 days old, so a restore must not read them.
  await ping(context);
  const seeded = await worker.evaluate(async (n) => {
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
  }, HISTORY);
  out.seeded = seeded;
  const ready = [], wasm = [];
  for (let i = 0; i < RUNS; i++) {
    await stopServiceWorker(context);
    const r = await ping(context);
    ready.push(r.timing.engineReadyMs);
    wasm.push(r.timing.wasmReadyMs);
  }
  out.ready = stats(ready);
  out.wasm = stats(wasm);
  // The history really is there and readable (the history page reads the newest rows).
  const h = await world.send({ type: 'history', limit: 5 });
  out.historyOk = h.ok && h.data.length === 5;
} finally {
  await world.close();
}

out.wasmBytes = (await readFile(path.join(dist, 'extension', 'pkg', 'calltrail_bg.wasm'))).length;
out.gz = gzipSync(await readFile(path.join(dist, 'extension', 'pkg', 'calltrail_bg.wasm')), { level: 9 }).length;
out.unpacked = await dirSize(dist);
out.zip = (await stat(path.join(dist, 'calltrail.zip'))).size;
return out;
}

const results = [];
for (const dist of DISTS) {
  console.error(`measuring ${dist}`);
  results.push(await measure(dist));
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const APP_CONNECT = 28 * 1024 * 1024;
const row = (label, f) => console.log(`| ${label} | ${results.map(f).join(' | ')} |`);
console.log(`| measure | ${DISTS.map((d) => path.relative(process.cwd(), d) || d).join(' | ')} |`);
console.log(`| --- | ${DISTS.map(() => '---').join(' | ')} |`);
row(`(a) worker restart → engine ready, ${results[0].seeded.calls} calls / ${results[0].seeded.slots} slots in IndexedDB (median of ${RUNS} CDP restarts)`, (o) => fmt(o.ready));
row('(a) same restarts: wasm instantiated', (o) => fmt(o.wasm));
row(`(a) worker restart → engine ready, same profile before the history was seeded (${2 * RUNS + 1} calls)`, (o) => fmt(o.base));
row(`(b) hang-up → first CRM request, warm worker (median of ${RUNS})`, (o) => fmt(o.warm));
row(`(b) hang-up → first CRM request, cold worker stopped just before (median of ${RUNS})`, (o) => fmt(o.cold));
row('(c) unpacked dist/ (without the zip)', (o) => `${kb(o.unpacked)} (1/${Math.round(APP_CONNECT / o.unpacked)} of App Connect's ~28 MB)`);
row('(c) .wasm raw / gzip -9 (Node zlib)', (o) => `${kb(o.wasmBytes)} / ${o.gz.toLocaleString('en')} B`);
row('(c) dist/calltrail.zip', (o) => kb(o.zip));
for (const [i, o] of results.entries()) if (!o.historyOk) console.log(`warning: ${DISTS[i]}: the history intent did not return 5 rows after seeding`);
