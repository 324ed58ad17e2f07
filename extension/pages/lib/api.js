// The pages' one door to the service worker (docs/intents.md): every question is a
// chrome.runtime.sendMessage with one answer `{ok, data?, notices?}` or `{ok: false, error}`.
// Pages decide nothing; they show what the worker answers.

export class ApiError extends Error {
  constructor(message, answer = null) {
    super(message);
    this.name = 'ApiError';
    this.answer = answer;
  }
}

/** Sends one intent and returns the whole answer (ok or not). Throws only when nobody answers. */
export async function send(type, fields = {}) {
  let answer;
  try {
    answer = await chrome.runtime.sendMessage({ type, ...fields });
  } catch (e) {
    throw new ApiError(`Calltrail's background service did not answer (${e.message || e}). Reload the page to try again.`);
  }
  if (!answer || typeof answer !== 'object') throw new ApiError('Calltrail\'s background service gave no answer. Reload the page to try again.');
  return answer;
}

/** Sends one intent and returns its `data`, or throws an ApiError with the worker's sentence. */
export async function ask(type, fields = {}) {
  const answer = await send(type, fields);
  if (!answer.ok) throw new ApiError(answer.error || 'The request was refused.', answer);
  return answer.data;
}

/** An engine input (`engine` intent); answers the whole reply, notices included. */
export function engine(input) {
  return send('engine', { input });
}

/**
 * Calls `fn(notices)` when the worker broadcasts `{type: 'notice'}`, at most once per
 * `debounceMs` with every notice since the last call. Returns an unsubscribe function.
 * The listener never answers (returns undefined): extension pages also see each other's
 * requests on this channel, and only the worker may answer them.
 */
export function onNotice(fn, { debounceMs = 250 } = {}) {
  let pending = [];
  let timer = 0;
  const listener = (message) => {
    if (!message || message.type !== 'notice') return undefined;
    pending.push(message.notice);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const batch = pending;
      pending = [];
      fn(batch);
    }, debounceMs);
    return undefined;
  };
  chrome.runtime.onMessage.addListener(listener);
  return () => chrome.runtime.onMessage.removeListener(listener);
}
