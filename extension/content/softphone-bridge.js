// Softphone bridge: a content script in the top frame of a page where the rep's softphone runs.
// The service worker registers it on the pages the rep added and granted (Settings), and injects
// it into tabs already open when the extension is installed or updated.
//
// Web softphones post their events to the hosting page with window.parent.postMessage. This
// script relays every message that is a plain object, with what only it can know (whether it
// came from a child frame of this page), to the service worker, where Rust checks the origin,
// decides whether it is a softphone message at all, decodes and validates it. A rejected message
// is counted in the extension's diagnostics and never acted on. What the worker decoded from an
// accepted message (the call id and what happened) goes to the in-page panel on the content
// scripts' own bus, so the panel knows no softphone's protocol either; when the worker answers
// with a message for the softphone (a handshake, a logger's reply), it is posted back to the
// frame the event came from.
//
// Nothing is lost on the way:
// - Events are relayed one at a time, in order, each until the worker answers it positively
//   (`ok`, or `rejected` for a message it refuses for good). No answer (a stopped worker), or a
//   worker that cannot take events yet, means try again, with a growing pause, for as long as it
//   takes; meanwhile the panel says that Calltrail is not logging, and why.
// - Events not yet acknowledged are kept in chrome.storage.local under this tab's key (a random
//   name in the page's sessionStorage), so a page reload, or the bridge an extension update or
//   reload injects in place of this one, finds them and relays them first. The engine merges
//   repeats, so relaying one twice is harmless.
(() => {
  if (globalThis.__calltrailBridge) return; // injected twice into the same world
  globalThis.__calltrailBridge = true;

  const isPlainObject = (d) => d !== null && typeof d === 'object' && !Array.isArray(d);
  const bus = (globalThis.__calltrailBus ||= new EventTarget());
  const say = (type, detail) => bus.dispatchEvent(new CustomEvent(type, { detail }));

  // True when the message came from one of this page's iframes, not from the page itself (a
  // page script can post anything to its own window, with its own origin).
  const fromChildFrame = (source) => {
    if (!source || source === window) return false;
    for (const frame of document.querySelectorAll('iframe')) {
      if (frame.contentWindow === source) return true;
    }
    return false;
  };

  // At most this many events wait; beyond it new ones are refused (and counted), never the
  // oldest dropped: an old call's end matters as much as a new call's start.
  const MAX_PENDING = 500;
  const RETRY_DELAYS_MS = [50, 100, 200, 400, 800, 1600, 3200, 5000];
  // An answer slower than this counts as none (the worker is stuck starting).
  const ANSWER_TIMEOUT_MS = 10_000;

  const tabKey = (() => {
    try {
      let k = sessionStorage.getItem('calltrail-tab');
      if (!k) sessionStorage.setItem('calltrail-tab', (k = crypto.randomUUID()));
      return `bridge:${k}`;
    } catch {
      return `bridge:${crypto.randomUUID()}`;
    }
  })();

  const pending = []; // { id, message }
  const sources = new Map(); // event id -> the window that posted it, while it is pending
  let sending = false;
  let refused = 0;
  let orphaned = false;

  const save = () => {
    if (orphaned) return Promise.resolve();
    const value = pending.map(({ id, message }) => ({ id, message }));
    return (value.length ? chrome.storage.local.set({ [tabKey]: { at: Date.now(), pending: value } }) : chrome.storage.local.remove(tabKey))
      .catch(() => {});
  };

  const answerOf = (message) => new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ timeout: true }), ANSWER_TIMEOUT_MS);
    chrome.runtime.sendMessage(message).then(
      (reply) => { clearTimeout(timer); resolve({ reply }); },
      (err) => { clearTimeout(timer); resolve({ error: String(err && err.message ? err.message : err) }); },
    );
  });

  const relay = async () => {
    if (sending || orphaned) return;
    sending = true;
    await loaded;
    for (let attempt = 0; pending.length && !orphaned; ) {
      const { id, message } = pending[0];
      const { reply, error, timeout } = await answerOf(message);
      if (error && /context invalidated/i.test(error)) {
        // This extension was updated or reloaded: its successor takes over from storage.
        orphaned = true;
        say('status', { logging: false, reason: 'Calltrail was updated; its new version takes over on this page.' });
        break;
      }
      const delivered = reply && (reply.ok || reply.rejected);
      if (delivered) {
        attempt = 0;
        pending.shift();
        const source = sources.get(id);
        sources.delete(id);
        await save();
        say('status', { logging: true });
        const data = reply.ok ? reply.data : null;
        if (data && data.event && !data.repeat) say('decoded', data.event);
        if (data && data.reply && source && message.origin) {
          try { source.postMessage(data.reply, message.origin); } catch { /* the frame went away */ }
        }
        continue;
      }
      const reason = timeout ? 'the extension is not answering' : (reply && reply.error) || error || 'no answer from the extension';
      say('status', { logging: false, reason: `Calltrail is not logging: ${reason}`, waiting: pending.length });
      await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]));
      attempt += 1;
    }
    sending = false;
  };

  // What a page reload or the bridge this one replaces left unacknowledged goes first; nothing
  // is saved or sent before it is read, so it cannot be overwritten or overtaken.
  const loaded = chrome.storage.local.get(tabKey).then((stored) => {
    const left = stored && stored[tabKey] && Array.isArray(stored[tabKey].pending) ? stored[tabKey].pending : [];
    pending.unshift(...left.filter((e) => e && typeof e.id === 'string' && isPlainObject(e.message)));
  }, () => {});
  loaded.then(relay);

  const enqueue = (message, source) => {
    if (pending.length >= MAX_PENDING) {
      refused += 1;
      say('status', { logging: false, reason: `Calltrail is not logging: ${refused} softphone event(s) could not wait (too many waiting)` });
      return;
    }
    const id = crypto.randomUUID();
    pending.push({ id, message });
    if (source) sources.set(id, source);
    loaded.then(save).then(relay);
  };

  window.addEventListener('message', (event) => {
    if (orphaned) return;
    const data = event.data;
    // The demo page may ask whether the extension is alive; only the page itself may ask.
    if (event.source === window && event.origin === location.origin && data && data.type === 'calltrail-ping') {
      chrome.runtime.sendMessage({ type: 'ping' }).then(
        (reply) => window.postMessage({ type: 'calltrail-pong', reply: { ok: reply.ok, pong: reply.pong } }, location.origin),
        (err) => window.postMessage({ type: 'calltrail-pong', reply: { ok: false, error: String(err) } }, location.origin),
      );
      return;
    }
    if (!isPlainObject(data) || data.type === 'calltrail-pong') return;
    const fromFrame = fromChildFrame(event.source);
    enqueue({ type: 'softphone-event', origin: event.origin, from_frame: fromFrame, data }, fromFrame ? event.source : null);
  });
})();
