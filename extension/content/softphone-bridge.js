// Softphone bridge: a content script in the top frame of the page that hosts the softphone.
//
// RingCentral Embeddable (and softphones speaking Calltrail's generic protocol) post their
// events to the hosting page with window.parent.postMessage. This script sees them, notes what
// only it can know (whether the message came from a child frame of this page) and relays them
// to the service worker, where Rust checks the origin, decodes and validates everything. A
// rejected message is counted in the extension's diagnostics and never acted on.
(() => {

  const isSoftphoneMessage = (d) =>
    d !== null && typeof d === 'object' && !Array.isArray(d) &&
    ((typeof d.type === 'string' && d.type.startsWith('rc-') && !d.type.startsWith('rc-adapter-')) ||
      Object.prototype.hasOwnProperty.call(d, 'calltrail'));

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
        if (reply && !reply.retry) break;
        if (attempt >= RETRY_DELAYS_MS.length) break;
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
      }
      pending.shift();
    }
    sending = false;
  };

  window.addEventListener('message', (event) => {
    const data = event.data;
    if (isSoftphoneMessage(data)) {
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
