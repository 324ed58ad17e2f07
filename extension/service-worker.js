// Calltrail's service worker: the shell around the Rust core.
//
// Rules this file keeps (see ARCHITECTURE.md):
// - Every listener is registered synchronously at top level, before any await: the event that
//   woke a stopped worker must not be missed. Handlers await the wasm init promise inside.
// - No top-level await: it kills a module service worker.
// - No business rule lives here: every decision about calls, contacts and CRMs is made in Rust.

import init, * as core from './pkg/calltrail.js';
import { checkMessage } from './lib/messages.js';

const instance = crypto.randomUUID();
const timing = { scriptStartMs: performance.now(), wasmReadyMs: null, bootRecordedMs: null };

const DIGEST_ALARM = 'calltrail-digest';

// Started at once, awaited by every handler.
const ready = init({ module_or_path: new URL('./pkg/calltrail_bg.wasm', import.meta.url) })
  .then(async () => {
    timing.wasmReadyMs = performance.now();
    const boot = await core.recordBoot(instance, Date.now());
    timing.bootRecordedMs = performance.now();
    return boot;
  });

// Tests evaluate in the worker and read this; nothing in the product depends on it.
self.__calltrail = { instance, timing, ready, core };

async function ensureAlarms() {
  // Alarms may be cleared on update or browser restart: re-create them at every start.
  const existing = await chrome.alarms.get(DIGEST_ALARM);
  if (!existing) {
    await chrome.alarms.create(DIGEST_ALARM, { delayInMinutes: 60, periodInMinutes: 60 });
  }
}

async function handle(message, sender) {
  const checked = checkMessage(message, sender, chrome.runtime.id);
  if (!checked.ok) return checked;
  const boot = await ready;
  switch (checked.type) {
    case 'ping':
      return { ok: true, pong: core.ping(), boot, instance, timing };
    default:
      return { ok: false, error: `message type ${checked.type} is not handled yet` };
  }
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  handle(message, sender).then(sendResponse, (err) =>
    sendResponse({ ok: false, error: String(err && err.message ? err.message : err) }));
  return true; // the answer comes asynchronously
});

chrome.runtime.onInstalled.addListener(() => { ensureAlarms(); });
chrome.runtime.onStartup.addListener(() => { ensureAlarms(); });
chrome.alarms.onAlarm.addListener(async (alarm) => {
  await ready;
  // The digest is driven by the Rust engine (issue 3/5); until then the alarm only proves the
  // worker wakes for it.
  void alarm;
});

ensureAlarms();
