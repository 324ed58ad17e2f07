// The one place that says which messages the service worker accepts, and from whom.
//
// Content scripts run in web pages, so anything they send is untrusted: they may only send
// content-script types. Extension pages (options, history) may send every type. Payloads are
// decoded and validated again in Rust; this check only routes and refuses early.

// The in-page panel runs in the content script's isolated world: page scripts cannot reach
// it, so it may read a call's state and send the rep's notes and picks for that call.
const CONTENT_SCRIPT_TYPES = new Set(['ping', 'softphone-event', 'state', 'call', 'server-call', 'engine']);
const PAGE_ONLY_TYPES = new Set([
  'diagnostics',
  'history',
  'unresolved',
  'audit',
  'audit-csv',
  'sync-now',
  'server-history',
  'server-unresolved',
  'settings',
  'import-settings',
  'save-settings',
  'export-settings',
  'set-credentials',
  'clear-credentials',
  'test-connection',
  'oauth-start',
  'oauth-finish',
]);
// Of the engine inputs, a content script may send only those about the call on screen.
const CONTENT_SCRIPT_INPUTS = new Set(['notes_opened', 'notes_saved', 'notes_cancelled', 'contacts_picked', 'log_now_requested']);
const ALL_TYPES = new Set([...CONTENT_SCRIPT_TYPES, ...PAGE_ONLY_TYPES]);

/**
 * @param {unknown} message
 * @param {chrome.runtime.MessageSender} sender
 * @param {string} extensionId
 * @returns {{ok: true, type: string, sender: {kind: string, tab?: number}} | {ok: false, error: string}}
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
  if (fromContentScript && message.type === 'engine' && !CONTENT_SCRIPT_INPUTS.has(message.input?.input)) {
    return { ok: false, error: 'that engine input is not allowed from a web page' };
  }
  // Who sent it, for Rust's own check of the same rule (crates/core/src/intents.rs `Intent::allowed_from`).
  const from = fromContentScript ? { kind: 'content_script', tab: sender.tab?.id } : { kind: 'extension_page' };
  return { ok: true, type: message.type, sender: from };
}
