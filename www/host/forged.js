// A child frame of the host page on the host's own origin, which posts `?msg=<json>` to its
// parent: a frame the extension must not trust (its origin is not a softphone origin), for the
// tests of forged messages.
'use strict';
try {
  const msg = JSON.parse(new URLSearchParams(location.search).get('msg') || 'null');
  if (msg) window.parent.postMessage(msg, '*');
} catch {
  // Not JSON: nothing to post.
}
