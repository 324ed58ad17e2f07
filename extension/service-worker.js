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
const timing = { scriptStartMs: performance.now(), wasmReadyMs: null, engineReadyMs: null };

// A periodic backstop for the hourly digest, and one alarm at the engine's next deadline.
const DIGEST_ALARM = 'calltrail-digest';
const WAKE_ALARM = 'calltrail-wake';

const callbacks = {
  setAlarm(when) {
    // Past deadlines fire at once; chrome clamps packed extensions to 30 s, which is harmless
    // because the engine computes every window from the ledger and the time it is given.
    chrome.alarms.create(WAKE_ALARM, { when: Math.max(when, Date.now() + 1000) });
  },
  notify(notice) {
    // Open extension pages listen for notices; with none open there is no receiver.
    chrome.runtime.sendMessage({ type: 'notice', notice }).catch(() => {});
  },
  setBadge(text) {
    chrome.action.setBadgeText({ text });
    if (text) chrome.action.setBadgeBackgroundColor({ color: '#b3261e' });
  },
};

// Admin policy (chrome.storage.managed). Reading it can fail where no policy is configured.
const readPolicy = () => chrome.storage.managed.get(null).catch(() => ({}));

// Started at once, awaited by every handler. The policy is read while the wasm compiles.
const startupPolicy = readPolicy();
const ready = init({ module_or_path: new URL('./pkg/calltrail_bg.wasm', import.meta.url) })
  .then(async () => {
    timing.wasmReadyMs = performance.now();
    const host = await core.Host.start('calltrail', callbacks, await startupPolicy, instance);
    timing.engineReadyMs = performance.now();
    return { boot: host.boot(), host };
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
  const { boot, host } = await ready;
  switch (checked.type) {
    case 'ping':
      return { ok: true, pong: core.ping(), boot, instance, timing };
    case 'diagnostics':
      return { ok: true, data: host.diagnostics() };
    default:
      // Every other intent is decided in Rust, which checks the sender again.
      return host.intent(message, checked.sender);
  }
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  handle(message, sender).then(sendResponse, (err) =>
    sendResponse({ ok: false, error: String(err && err.message ? err.message : err) }));
  return true; // the answer comes asynchronously
});

chrome.storage.onChanged.addListener(async (_changes, area) => {
  if (area !== 'managed') return;
  const [{ host }, policy] = await Promise.all([ready, readPolicy()]);
  host.setPolicy(policy);
});

// The toolbar icon opens the call history (the badge on it counts work that needs a person).
chrome.action.onClicked.addListener(() => {
  chrome.tabs.create({ url: chrome.runtime.getURL('extension/pages/history.html') });
});

chrome.runtime.onInstalled.addListener(() => { ensureAlarms(); });
chrome.runtime.onStartup.addListener(() => { ensureAlarms(); });
chrome.alarms.onAlarm.addListener(async (alarm) => {
  if (alarm.name !== DIGEST_ALARM && alarm.name !== WAKE_ALARM) return;
  const { host } = await ready;
  host.alarm();
});

ensureAlarms();
