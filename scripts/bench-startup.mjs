// Startup and size benchmark for the built extension (dist/). Prints a Markdown table.
//   node scripts/bench-startup.mjs [--restarts 20]
// Cold start: the worker is stopped through CDP, a message wakes it, and the worker reports
// (performance.now(), ms since the worker's time origin) when its script started and when the
// wasm module was instantiated. Medians over the restarts, all in one browser run.
import { launchWithExtension, stopServiceWorker, ping, median, DIST } from '../www/world/browser.mjs';
import { readdir, stat, readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

const restarts = Number(process.argv[process.argv.indexOf('--restarts') + 1]) || 20;

async function dirSize(dir) {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (p !== path.join(DIST, 'calltrail.zip')) total += (await stat(p)).size;
  }
  return total;
}

const wasmPath = path.join(DIST, 'extension', 'pkg', 'calltrail_bg.wasm');
const wasm = await readFile(wasmPath);
const unpacked = await dirSize(DIST);
const zip = (await stat(path.join(DIST, 'calltrail.zip'))).size;

const browser = await launchWithExtension();
const scriptStart = [], wasmReady = [], roundTrip = [];
try {
  await ping(browser.context); // first install start is not a restart
  for (let i = 0; i < restarts; i++) {
    await stopServiceWorker(browser.context);
    const t0 = performance.now();
    const r = await ping(browser.context);
    roundTrip.push(performance.now() - t0);
    scriptStart.push(r.timing.scriptStartMs);
    wasmReady.push(r.timing.wasmReadyMs);
  }
} finally {
  await browser.close();
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const ms = (n) => `${n.toFixed(1)} ms`;
console.log(`| measure | value |`);
console.log(`| --- | --- |`);
console.log(`| .wasm after wasm-opt -Oz (raw) | ${wasm.length} B (${kb(wasm.length)}) |`);
console.log(`| .wasm gzip -9 | ${gzipSync(wasm, { level: 9 }).length} B (${kb(gzipSync(wasm, { level: 9 }).length)}) |`);
console.log(`| unpacked dist/ (without the zip) | ${unpacked} B (${kb(unpacked)}) |`);
console.log(`| dist/calltrail.zip | ${zip} B (${kb(zip)}) |`);
console.log(`| worker restart: script start, median of ${restarts} | ${ms(median(scriptStart))} |`);
console.log(`| worker restart: wasm ready, median of ${restarts} (min ${ms(Math.min(...wasmReady))}, max ${ms(Math.max(...wasmReady))}) | ${ms(median(wasmReady))} |`);
console.log(`| stop, then message from an extension page to answer (cold round trip), median | ${ms(median(roundTrip))} |`);
