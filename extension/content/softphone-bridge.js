// Softphone bridge: a content script in the top frame of the page that hosts the softphone.
//
// Web softphones post their events to the hosting page with window.parent.postMessage. This
// script relays every message that is a plain object, with what only it can know (whether it
// came from a child frame of this page), to the service worker, where Rust checks the origin,
// decides whether it is a softphone message at all, decodes and validates it. A rejected message
// is counted in the extension's diagnostics and never acted on. What the worker decoded from an
// accepted message (the call id and what happened) goes to the in-page panel on the content
// scripts' own bus, so the panel knows no softphone's protocol either.
(() => {

  const isPlainObject = (d) => d !== null && typeof d === 'object' && !Array.isArray(d);
  const bus = (globalThis.__calltrailBus ||= new EventTarget());

  // True when the message came from one of this page's iframes, not from the page itself (a
  // page script can post anything to its own window, with its own origin).
  const fromChildFrame = (source) => {
    if (!source || source === window) return false;
    for (const frame of document.querySelectorAll('iframe')) {
      if (frame.contentWindow === source) return true;
    }
    return false;
  };

  // Relayed one at a time, in order, each until the worker answers. The worker answers only
  // once what the event changed is on disk; a worker stopped in between never answers (the
  // message channel closes), so the event is sent again and the engine merges the repeat.
  // A page cannot flood the worker: one message is in flight at a time, and at most this many
  // wait. (A per-second cap dropped call events silently when a burst of calls filled it.)
  const MAX_PENDING = 500;
  const RETRY_DELAYS_MS = [50, 100, 200, 400, 800, 1600, 3200, 5000];
  const pending = [];
  let sending = false;

  const relay = async () => {
    if (sending) return;
    sending = true;
    while (pending.length) {
      const message = pending[0];
      for (let attempt = 0; ; attempt++) {
        let reply = null;
        try {
          reply = await chrome.runtime.sendMessage(message);
        } catch {
          // No answer: the worker stopped, or the extension was reloaded (then every try fails
          // and the event is dropped after the last delay).
        }
        if (reply && !reply.retry) {
          const event = reply.ok && reply.data && reply.data.event;
          if (event && !reply.data.repeat) bus.dispatchEvent(new CustomEvent('decoded', { detail: event }));
          break;
        }
        if (attempt >= RETRY_DELAYS_MS.length) break;
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
      }
      pending.shift();
    }
    sending = false;
  };

  window.addEventListener('message', (event) => {
    const data = event.data;
    // The page's own pings to the extension are not softphone messages.
    if (isPlainObject(data) && data.type !== 'calltrail-ping' && data.type !== 'calltrail-pong') {
      if (pending.length >= MAX_PENDING) return;
      pending.push({ type: 'softphone-event', origin: event.origin, from_frame: fromChildFrame(event.source), data });
      relay();
      return;
    }
    // The demo page may ask whether the extension is alive; only the page itself may ask.
    if (event.source === window && event.origin === location.origin && data && data.type === 'calltrail-ping') {
      chrome.runtime.sendMessage({ type: 'ping' }).then(
        (reply) => window.postMessage({ type: 'calltrail-pong', reply: { ok: reply.ok, pong: reply.pong } }, location.origin),
        (err) => window.postMessage({ type: 'calltrail-pong', reply: { ok: false, error: String(err) } }, location.origin),
      );
    }
  });
})();
