// Calltrail's service worker: the shell around the Rust core.
//
// Rules this file keeps (see ARCHITECTURE.md):
// - Every listener is registered synchronously at top level, before any await: the event that
//   woke a stopped worker must not be missed. Handlers await the wasm init promise inside.
// - No top-level await: it kills a module service worker.
// - No business rule lives here: every decision about calls, contacts and CRMs is made in Rust.
//   What this file does on its own is the browser's plumbing Rust cannot reach: it asks the
//   browser whether the rep granted what Rust says is needed (`host.wanted()`), registers the
//   softphone bridge and panel on the granted pages, and reports back.

import init, * as core from './pkg/calltrail.js';
import { checkMessage } from './lib/messages.js';

const instance = crypto.randomUUID();
const timing = { scriptStartMs: performance.now(), wasmReadyMs: null, engineReadyMs: null };

// A periodic backstop for the hourly digest, and one alarm at the engine's next deadline.
const DIGEST_ALARM = 'calltrail-digest';
const WAKE_ALARM = 'calltrail-wake';

// The content scripts for the rep's softphone pages, registered under one id.
const BRIDGE_ID = 'calltrail-softphone';
const BRIDGE_FILES = ['extension/content/softphone-bridge.js', 'extension/content/panel.js'];

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

/** The worker could not start Calltrail: the rep sees why on the toolbar. */
function notLogging(reason) {
  chrome.action.setBadgeText({ text: '!' });
  chrome.action.setBadgeBackgroundColor({ color: '#b3261e' });
  chrome.action.setTitle({ title: `Calltrail is not logging: ${reason}` });
}

// Started at once, awaited by every handler. The policy is read while the wasm compiles.
const startupPolicy = readPolicy();
const ready = init({ module_or_path: new URL('./pkg/calltrail_bg.wasm', import.meta.url) })
  .then(async () => {
    timing.wasmReadyMs = performance.now();
    const host = await core.Host.start('calltrail', callbacks, await startupPolicy, instance);
    timing.engineReadyMs = performance.now();
    chrome.action.setTitle({ title: 'Calltrail: call history' });
    return { boot: host.boot(), host };
  })
  .catch((err) => {
    const reason = String(err && err.message ? err.message : err);
    notLogging(reason);
    throw new Error(reason);
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

/**
 * Brings what the browser allows in step with what Rust wants: reports, per integration,
 * whether its API hosts are granted (an integration without them holds its work), and registers
 * the bridge and panel on the softphone pages the rep granted (none: unregistered).
 */
async function syncWithBrowser() {
  const { host } = await ready;
  const wanted = host.wanted();
  const has = (origins) => (origins.length ? chrome.permissions.contains({ origins }).catch(() => false) : Promise.resolve(false));
  for (const w of wanted.integrations) host.setAccess(w.integration, await has(w.patterns));
  const pages = [];
  for (const p of wanted.pages) if (await has([p])) pages.push(p);
  host.setPagesGranted(pages);
  const [registered] = await chrome.scripting.getRegisteredContentScripts({ ids: [BRIDGE_ID] });
  if (!pages.length) {
    if (registered) await chrome.scripting.unregisterContentScripts({ ids: [BRIDGE_ID] });
    return pages;
  }
  const script = { id: BRIDGE_ID, js: BRIDGE_FILES, matches: pages, runAt: 'document_start', allFrames: false, persistAcrossSessions: true };
  if (!registered) await chrome.scripting.registerContentScripts([script]);
  else if (JSON.stringify(registered.matches) !== JSON.stringify(pages)) await chrome.scripting.updateContentScripts([script]);
  return pages;
}

/**
 * After an install or update, tabs already open on the rep's pages still run the bridge of the
 * extension that was replaced, which can no longer reach this worker: inject the new one there.
 * It picks up what the old one had not delivered (see softphone-bridge.js).
 */
async function injectIntoOpenTabs(pages) {
  if (!pages.length) return;
  const tabs = await chrome.tabs.query({ url: pages }).catch(() => []);
  for (const tab of tabs) {
    await chrome.scripting.executeScript({ target: { tabId: tab.id }, files: BRIDGE_FILES }).catch(() => {});
  }
}

// Intents after which what Rust wants from the browser may have changed.
const CHANGES_WANTED = new Set(['import-settings', 'save-settings', 'oauth-finish', 'set-credentials']);

async function handle(message, sender) {
  const checked = checkMessage(message, sender, chrome.runtime.id);
  if (!checked.ok) return { ...checked, rejected: true };
  let started;
  try {
    started = await ready;
  } catch (err) {
    return { ok: false, error: `Calltrail is not logging: ${err.message}` };
  }
  const { boot, host } = started;
  switch (checked.type) {
    case 'ping':
      return { ok: true, pong: core.ping(), boot, instance, timing };
    case 'diagnostics':
      return { ok: true, data: host.diagnostics() };
    default: {
      // Every other intent is decided in Rust, which checks the sender again.
      const answer = await host.intent(message, checked.sender);
      if (answer && answer.ok && CHANGES_WANTED.has(checked.type)) await syncWithBrowser().catch(() => {});
      return answer;
    }
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
  await syncWithBrowser().catch(() => {});
});

// The rep granted or took back a site (on the options page, or in Chrome's own settings).
chrome.permissions.onAdded.addListener(() => { syncWithBrowser().catch(() => {}); });
chrome.permissions.onRemoved.addListener(() => { syncWithBrowser().catch(() => {}); });

// The toolbar icon opens the call history (the badge on it counts work that needs a person).
chrome.action.onClicked.addListener(() => {
  chrome.tabs.create({ url: chrome.runtime.getURL('extension/pages/history.html') });
});

chrome.runtime.onInstalled.addListener(async ({ reason }) => {
  ensureAlarms();
  const pages = await syncWithBrowser().catch(() => []);
  await injectIntoOpenTabs(pages);
  // A first run starts on the settings page's checklist.
  if (reason === 'install') chrome.tabs.create({ url: chrome.runtime.getURL('extension/pages/options.html#get-started') });
});
chrome.runtime.onStartup.addListener(() => { ensureAlarms(); });
chrome.alarms.onAlarm.addListener(async (alarm) => {
  if (alarm.name !== DIGEST_ALARM && alarm.name !== WAKE_ALARM) return;
  const { host } = await ready;
  host.alarm();
});

ensureAlarms();
// Every worker start: the rep may have changed a grant in Chrome's settings while it slept.
ready.then(syncWithBrowser).catch(() => {});
// Old bridges' undelivered events older than a day are of no further use.
chrome.storage.local.get(null).then((all) => {
  const stale = Object.entries(all).filter(([k, v]) => k.startsWith('bridge:') && !(v && v.at > Date.now() - 86_400_000)).map(([k]) => k);
  if (stale.length) chrome.storage.local.remove(stale);
}, () => {});
