// The engine benchmark's wasm build timed in Debian's Chromium, the browser the extension runs in
// (Node's V8 is 11.3; Chromium 156's is several years newer and optimises wasm further).
//   node scripts/bench-engine-chromium.mjs [iterations]   (run by scripts/bench-engine.sh)
// Reads target/bench-wasm/web (wasm-bindgen --target web of the `bench` build) and
// target/bench-wasm/native.json; prints native vs Chromium medians and their ratio.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, CHROMIUM_ARGS } from '../www/world/browser.mjs';

const out = path.join(ROOT, 'target/bench-wasm');
const iterations = Number(process.argv[2]) || 15;
const native = JSON.parse(await readFile(path.join(out, 'native.json'), 'utf8'));

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  // localhost (a secure context) answered from disk by Playwright: no server, nothing leaves the machine. Cross-origin isolated, so
  // performance.now() has 5 µs resolution rather than 100 µs.
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
  await page.route('http://localhost:1/**', async (route) => {
    const name = new URL(route.request().url()).pathname.slice(1) || 'index.html';
    if (name === 'index.html') return route.fulfill({ contentType: 'text/html', headers, body: '<!doctype html><title>bench</title>' });
    const body = await readFile(path.join(out, 'web', path.basename(name)));
    return route.fulfill({ contentType: types[path.extname(name)] || 'application/octet-stream', headers, body });
  });
  await page.goto('http://localhost:1/');
  if (!(await page.evaluate(() => self.crossOriginIsolated))) throw new Error('the bench page is not cross-origin isolated: timers would be coarse');
  const text = await page.evaluate(async (n) => {
    const m = await import('/calltrail.js');
    await m.default('/calltrail_bg.wasm');
    return m.bench_engine(n, () => performance.now());
  }, iterations);
  const figures = JSON.parse(text);
  const human = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
  console.log(`Engine, native vs wasm in Chromium (${browser.version()}; ${iterations} iterations)\n`);
  console.log('| figure | unit | native median | Chromium wasm median | wasm / native | within 3x |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const w of figures) {
    const n = native.find((f) => f.name === w.name);
    const r = n ? w.median_ns / n.median_ns : NaN;
    console.log(`| ${w.name} | ${w.unit} | ${n ? human(n.median_ns) : 'n/a'} | ${human(w.median_ns)} | ${n ? r.toFixed(2) + 'x' : 'n/a'} | ${n ? (r <= 3 ? 'yes' : 'NO') : 'n/a'} |`);
  }
} finally {
  await browser.close();
}
