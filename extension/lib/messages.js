// The one place that says which messages the service worker accepts, and from whom.
//
// Content scripts run in web pages, so anything they send is untrusted: they may only send
// content-script types. Extension pages (options, history) may send every type. Payloads are
// decoded and validated again in Rust; this check only routes and refuses early.

const CONTENT_SCRIPT_TYPES = new Set(['ping', 'softphone-event']);
const PAGE_ONLY_TYPES = new Set([
  'diagnostics',
  'sync-now',
  'import-settings',
  'export-settings',
  'set-credentials',
  'history',
  'audit',
  'engine',
]);
const ALL_TYPES = new Set([...CONTENT_SCRIPT_TYPES, ...PAGE_ONLY_TYPES]);

/**
 * @param {unknown} message
 * @param {chrome.runtime.MessageSender} sender
 * @param {string} extensionId
 * @returns {{ok: true, type: string} | {ok: false, error: string}}
 */
export function checkMessage(message, sender, extensionId) {
  if (!sender || sender.id !== extensionId) {
    return { ok: false, error: 'message from another extension refused' };
  }
  if (!message || typeof message !== 'object' || typeof message.type !== 'string') {
    return { ok: false, error: 'malformed message: an object with a string "type" is required' };
  }
  // Extension pages (even in a tab) have our own origin; content scripts report the web page's
  // URL. sender.tab alone cannot tell them apart.
  const fromContentScript = !String(sender.url || '').startsWith(`chrome-extension://${extensionId}/`);
  const allowed = fromContentScript ? CONTENT_SCRIPT_TYPES : ALL_TYPES;
  if (!allowed.has(message.type)) {
    return { ok: false, error: `message type ${JSON.stringify(message.type).slice(0, 60)} not allowed from ${fromContentScript ? 'a web page' : 'an extension page'}` };
  }
  return { ok: true, type: message.type };
}
