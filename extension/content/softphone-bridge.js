// Softphone bridge (content script, top frame of the page hosting the softphone).
//
// For now it answers one page request, `calltrail-ping`, so the demo page can show that the
// extension and its wasm core are alive. Relaying RingCentral Embeddable's rc-* events, with
// origin and frame checks, arrives with the softphone work (issue 5).
(() => {
  const REPLY = 'calltrail-pong';
  window.addEventListener('message', (event) => {
    // Only the page itself may ask, and only this one harmless question.
    if (event.source !== window || event.origin !== location.origin) return;
    const data = event.data;
    if (!data || data.type !== 'calltrail-ping') return;
    chrome.runtime.sendMessage({ type: 'ping' }).then(
      (reply) => window.postMessage({ type: REPLY, reply: { ok: reply.ok, pong: reply.pong } }, location.origin),
      (err) => window.postMessage({ type: REPLY, reply: { ok: false, error: String(err) } }, location.origin),
    );
  });
})();
