// The real extension in Debian's Chromium: the wasm core answers from the service worker, and a
// new worker instance, after the old one was stopped through CDP, finds the state the first
// one kept in IndexedDB.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWithExtension, stopServiceWorker, ping, EXTENSION_ID } from '../../www/world/browser.mjs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DIST } from '../../www/world/browser.mjs';

let browser;
before(async () => { browser = await launchWithExtension(); });
after(async () => { await browser?.close(); });

test('the wasm core answers ping inside the service worker', async () => {
  const ready = await browser.worker.evaluate(async () => {
    await self.__calltrail.ready;
    return { timing: self.__calltrail.timing, pong: self.__calltrail.core.ping() };
  });
  const manifest = JSON.parse(await readFile(path.join(DIST, 'manifest.json'), 'utf8'));
  assert.equal(ready.pong.name, 'calltrail');
  assert.equal(ready.pong.version, manifest.version, 'Cargo.toml and manifest.json versions must agree');
  assert.match(ready.pong.build_time, /^\d{4}-\d\d-\d\dT/);
  assert.ok(ready.timing.wasmReadyMs > 0);
});

test('a restarted worker is a new instance that keeps state in IndexedDB', async () => {
  const first = await ping(browser.context);
  assert.equal(first.pong.name, 'calltrail');
  await stopServiceWorker(browser.context);
  const second = await ping(browser.context);
  assert.notEqual(second.instance, first.instance, 'the worker was not restarted');
  // Exactly +1 is not promised: an event that lands while the worker stops (an alarm, a page's
  // message) boots an instance that stopServiceWorker stops again, and that instance may or may
  // not have counted itself. A lost store would start again at 1 with a new first boot.
  assert.ok(second.boot.boots > first.boot.boots, `the boot count kept in IndexedDB was lost: ${first.boot.boots} -> ${second.boot.boots}`);
  assert.equal(second.boot.first_boot_at, first.boot.first_boot_at);
  await stopServiceWorker(browser.context);
  const third = await ping(browser.context);
  assert.ok(third.boot.boots > second.boot.boots, `${second.boot.boots} -> ${third.boot.boots}`);
  assert.equal(third.boot.first_boot_at, first.boot.first_boot_at);
});

test('the digest alarm exists after every worker start', async () => {
  await stopServiceWorker(browser.context);
  await ping(browser.context);
  const alarms = await browser.worker.evaluate(() => chrome.alarms.getAll());
  assert.ok(alarms.some((a) => a.name === 'calltrail-digest' && a.periodInMinutes === 60), JSON.stringify(alarms));
});

test('a message from a web page cannot use page-only types, and garbage is refused', async () => {
  const page = await browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/manifest.json`);
  const reply = await page.evaluate(() => chrome.runtime.sendMessage({ nope: true }));
  assert.equal(reply.ok, false);
  assert.match(reply.error, /malformed message/);
  await page.close();
});
