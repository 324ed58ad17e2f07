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
    // Open pages refresh what the badge summarises (a full disk shows a banner there).
    chrome.runtime.sendMessage({ type: 'notice', notice: { notice: 'badge', badge: text } }).catch(() => {});
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

// ---- the module's life ------------------------------------------------------------------------
//
// A Rust panic aborts the release build: the call that hit it throws a WebAssembly.RuntimeError
// (or, inside an async export, the error surfaces on the global scope and the call never
// settles), and the instance is unusable after (a RefCell left borrowed, the stack pointer
// lost). The worker then starts a fresh instance of the same compiled module in place
// (wasm-bindgen's `__wbg_reset_state`; closures of the dead instance refuse to run), restores it
// from IndexedDB (`Host.start`), and tells Rust which input trapped (`host.poisoned`): the trap
// is counted in the diagnostics and on the badge, and that input is parked so its re-sends are
// answered without reaching the engine. No rule about calls is made here: only which message
// was in flight, as a fact.

/** Bounds, so a module that keeps trapping stops in a visible state instead of looping. */
const START_ATTEMPTS = 3; // tries of one start (a trap while restoring counts as a failed try)
const MAX_TRAPS = 5; // traps per TRAP_WINDOW_MS before the worker stops trying
const TRAP_WINDOW_MS = 10 * 60_000;

/** A trap seen by this worker, handed to every call of the dead instance. */
class Trap extends Error {}

const isTrap = (err) => err instanceof WebAssembly.RuntimeError
  || /recursive use of an object|already (mutably )?borrowed/.test(String(err && err.message));
const describe = (err) => String(err && err.message ? `${err.name || 'Error'}: ${err.message}` : err).slice(0, 300);

function deferred() {
  let reject;
  const promise = new Promise((_, r) => { reject = r; });
  promise.catch(() => {});
  return { promise, reject };
}

const life = {
  generation: 0,
  /** Rejected with a Trap when the current instance traps: wakes every call waiting on it. */
  signal: deferred(),
  /** Calls into the current instance that have not returned: { message, key }. */
  inflight: new Set(),
  /** Messages in flight during an earlier trap that could not be pinned on one of them. */
  suspects: new Map(),
  traps: [],
  /** Fresh instances started so far (tests read it). */
  resets: 0,
  recovering: null,
  /** A start is under way: it retries a trap itself. */
  starting: false,
  /** Why the worker gave up, once it did. */
  stopped: null,
};

/** Loads the module (or, after a trap, replaces the instance) and restores the engine. */
async function startModule(policy, fresh) {
  life.starting = true;
  try {
    return await startTries(policy, fresh);
  } finally {
    life.starting = false;
  }
}

async function startTries(policy, fresh) {
  let last;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      if (fresh || attempt > 1) {
        life.resets += 1;
        core.__wbg_reset_state();
      } else {
        await init({ module_or_path: new URL('./pkg/calltrail_bg.wasm', import.meta.url) });
        timing.wasmReadyMs = performance.now();
      }
      const starting = core.Host.start('calltrail', callbacks, await policy, instance);
      const host = await Promise.race([starting, life.signal.promise]);
      timing.engineReadyMs = performance.now();
      return { boot: host.boot(), host };
    } catch (err) {
      last = err instanceof Trap ? err.cause : err;
      // Only a trap is worth another fresh instance; a refused database or a failed download
      // fails the same way again.
      if (!isTrap(last) && !(err instanceof Trap)) break;
      life.signal = deferred();
    }
  }
  throw last;
}

function stop(reason) {
  life.stopped = reason;
  notLogging(reason);
}

// Started at once, awaited by every handler. The policy is read while the wasm compiles.
const startupPolicy = readPolicy();
let ready = startModule(startupPolicy, false)
  .then((started) => {
    chrome.action.setTitle({ title: 'Calltrail: call history' });
    return started;
  })
  .catch((err) => {
    const reason = String(err && err.message ? err.message : err);
    stop(reason);
    throw new Error(reason);
  });

/**
 * The current instance trapped (`culprit`: the call that threw it, when the error came back
 * from a call rather than from the global scope). Starts one recovery per trap: a fresh
 * instance restored from IndexedDB, then the input to blame parked. Resolves to `{ guilty,
 * parked }`; rejects once the worker gave up.
 */
function trapped(err, culprit) {
  const reason = describe(err);
  const trap = new Trap(reason, { cause: err });
  // Whoever waits on this instance (a call, or a start under way) hears of it.
  life.signal.reject(trap);
  if (life.recovering) return life.recovering;
  if (life.starting) return Promise.reject(trap);
  const victims = [...life.inflight];
  life.recovering = (async () => {
    const now = Date.now();
    life.traps = life.traps.filter((t) => now - t < TRAP_WINDOW_MS);
    life.traps.push(now);
    if (life.traps.length > MAX_TRAPS) {
      stop(`the module failed ${life.traps.length} times in ${TRAP_WINDOW_MS / 60_000} minutes (last: ${reason})`);
      throw new Error(life.stopped);
    }
    // Whom to blame: the call that threw, the only message in flight, or one that was in
    // flight at an earlier trap too. Never a message that may be innocent: a parked softphone
    // event counts as delivered, so blaming the wrong one would lose a call.
    let guilty = culprit && culprit.message ? culprit : null;
    const withMessage = victims.filter((v) => v.message);
    if (!guilty && !culprit && withMessage.length === 1) guilty = withMessage[0];
    for (const v of withMessage) {
      const seen = (life.suspects.get(v.key) || 0) + 1;
      life.suspects.set(v.key, seen);
      if (!guilty && seen >= 2) guilty = v;
    }
    if (guilty) life.suspects.delete(guilty.key);
    life.generation += 1;
    life.signal = deferred();
    ready = startModule(readPolicy(), true);
    let started;
    try {
      started = await ready;
    } catch (e) {
      stop(`the module could not be restarted after a failure: ${describe(e)}`);
      throw new Error(life.stopped);
    }
    // Counted and shown either way; with no input to blame, a placeholder is parked so the
    // diagnostics say what happened.
    const message = guilty ? guilty.message : { type: 'unattributed', in_flight: withMessage.map((v) => v.message.type) };
    let parked;
    try {
      parked = await Promise.race([started.host.poisoned(message, reason), life.signal.promise]);
    } catch (e) {
      if (!(e instanceof Trap)) throw e;
      // The fresh instance failed too: once this recovery is over, another (within the bounds).
      setTimeout(() => { trapped(e.cause, null).catch(() => {}); }, 0);
      throw new Error(`the module failed again while setting the message aside: ${e.message}`);
    }
    syncWithBrowser().catch(() => {});
    return { guilty, parked };
  })();
  life.recovering.catch(() => {}).finally(() => { life.recovering = null; });
  return life.recovering;
}

// A trap inside an async export or a spawned task surfaces here, not in the call that started it.
self.addEventListener('error', (e) => { if (isTrap(e.error)) trapped(e.error, null).catch(() => {}); });
self.addEventListener('unhandledrejection', (e) => { if (isTrap(e.reason)) trapped(e.reason, null).catch(() => {}); });

/**
 * Runs `run({ boot, host })` against the current instance. If the instance traps meanwhile, the
 * answer is the parked answer when `message` is the one to blame, otherwise a request to send
 * again (the bridge does); `message` is null for calls that are no sender's input.
 */
async function withHost(message, run) {
  let started;
  try {
    // A recovery may begin while this call waits: start on the instance that is current.
    do {
      if (life.recovering) await life.recovering.catch(() => {});
      started = await ready;
    } while (life.recovering);
  } catch (err) {
    return { ok: false, error: `Calltrail is not logging: ${life.stopped || err.message}` };
  }
  const entry = { message, key: message ? JSON.stringify(message) : null };
  life.inflight.add(entry);
  const signal = life.signal.promise;
  try {
    return await Promise.race([run(started), signal]);
  } catch (err) {
    if (!(err instanceof Trap) && !isTrap(err)) throw err;
    let recovered;
    try {
      recovered = await trapped(err instanceof Trap ? err.cause : err, err instanceof Trap ? null : entry);
    } catch (e) {
      return { ok: false, error: `Calltrail is not logging: ${e.message}` };
    }
    if (recovered.guilty === entry) return recovered.parked;
    return { ok: false, retry: true, error: 'Calltrail restarted after an internal error; send it again' };
  } finally {
    life.inflight.delete(entry);
  }
}

// Tests evaluate in the worker and read this; nothing in the product depends on it.
self.__calltrail = {
  instance, timing, core,
  get ready() { return ready; },
  get generation() { return life.generation; },
  get resets() { return life.resets; },
};

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
  const wanted = await withHost(null, ({ host }) => host.wanted());
  if (!wanted || wanted.ok === false) return [];
  const has = (origins) => (origins.length ? chrome.permissions.contains({ origins }).catch(() => false) : Promise.resolve(false));
  const access = [];
  for (const w of wanted.integrations) access.push([w.integration, await has(w.patterns)]);
  const pages = [];
  for (const p of wanted.pages) if (await has([p])) pages.push(p);
  await withHost(null, ({ host }) => {
    for (const [integration, granted] of access) host.setAccess(integration, granted);
    host.setPagesGranted(pages);
  });
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
  switch (checked.type) {
    case 'ping':
      return withHost(null, ({ boot }) => ({ ok: true, pong: core.ping(), boot, instance, timing }));
    case 'diagnostics':
      return withHost(null, ({ host }) => ({ ok: true, data: host.diagnostics() }));
    default: {
      // Every other intent is decided in Rust, which checks the sender again.
      const answer = await withHost(message, ({ host }) => host.intent(message, checked.sender));
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
  const policy = await readPolicy();
  await withHost(null, ({ host }) => host.setPolicy(policy));
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
  await withHost(null, ({ host }) => host.alarm());
});

ensureAlarms();
// Every worker start: the rep may have changed a grant in Chrome's settings while it slept.
ready.then(() => syncWithBrowser()).catch(() => {});
// Old bridges' undelivered events older than a day are of no further use.
chrome.storage.local.get(null).then((all) => {
  const stale = Object.entries(all).filter(([k, v]) => k.startsWith('bridge:') && !(v && v.at > Date.now() - 86_400_000)).map(([k]) => k);
  if (stale.length) chrome.storage.local.remove(stale);
}, () => {});
