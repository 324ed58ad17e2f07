// Demo softphone that speaks RingCentral Embeddable's widget -> host postMessage protocol.
//
// It is not shipped; it exists so the extension, the demo and the browser tests have a softphone
// to watch that behaves like the real widget on the wire:
// - every event goes to `window.parent` with targetOrigin '*', as the widget does;
// - the payloads have the real shapes: the normalized webphone session in `rc-call-*-notify`,
//   the presence active call in `rc-active-call-notify`, the Call Control session in
//   `rc-telephony-session-notify`, message-store records in `rc-inbound-message-notify` and
//   `rc-message-updated-notify`, and `rc-login-status-notify` once loaded (shapes from
//   shared/reference/softphone-fixtures/ and softphones.md §1.2);
// - one call's ids are joined like RingCentral's: `call.partyData.sessionId` of the webphone
//   session equals `telephonySessionId` of presence and `id` of the telephony session.
//
// The parent page can script it (the tests and the demo do), with RingCentral's own commands
//   {type:'rc-adapter-new-call', phoneNumber, toCall}        toCall true dials, false fills the pad
//   {type:'rc-adapter-new-sms', phoneNumber, text}           fills the composer
//   {type:'rc-adapter-control-call', callAction, callId}     answer|reject|hangup|hold|unhold|toVoicemail;
//                                                            callId is the webphone session `id`
// and the demo's own, which play the other party or the rep:
//   {type:'calltrail-demo-incoming-call', phoneNumber, name?} the other party calls us
//   {type:'calltrail-demo-answer'}                            answer (inbound) / the callee answers (outbound)
//   {type:'calltrail-demo-hold'} / {type:'calltrail-demo-resume'}
//   {type:'calltrail-demo-hangup'}                            either side hangs up (also rejects a ringing call)
//   {type:'calltrail-demo-send-sms', phoneNumber, text}       the rep sends a text
//   {type:'calltrail-demo-incoming-sms', phoneNumber, text}   the other party texts us
//   {type:'calltrail-demo-send-fax', phoneNumber, pages}      the rep sends a fax (Queued, then Sent)
//   {type:'calltrail-demo-post', data}                       posts `data` as it is (tests: malformed messages)
// Like the widget, it accepts commands only from its parent window and does not check their
// origin; each command's fields are validated and a bad command is ignored with a console note.

import { protocols, callIds } from './protocols.js';

const params = new URLSearchParams(location.search);
// `?protocol=justcall|ringover|ringcx|aircall|zoom|hubspot` speaks that vendor's protocol
// (protocols.js); anything else is RingCentral Embeddable's.
const PROTOCOL = Object.hasOwn(protocols, params.get('protocol') || '') ? params.get('protocol') : 'ringcentral';
const vendor = PROTOCOL === 'ringcentral' ? null : protocols[PROTOCOL];
const ME = {
  number: normalize(params.get('me') || '') || '+16505550100',
  name: 'Jane Agent',
  accountId: '37000000008',
  extensionId: '62000000008',
  extensionNumber: '101',
};
const MAX_TEXT = 1000;

/** The one call the demo handles at a time (a real widget can hold several). */
let current = null;
let sessionCounter = 0;
let messageCounter = 0;

// ---------------------------------------------------------------- wire

function post(data) {
  window.parent.postMessage(data, '*');
}

/** The call as a vendor protocol sees it (protocols.js); null in RingCentral's mode. */
function vendorCall(c) {
  if (!vendor) return null;
  c.vendorId ||= callIds[PROTOCOL]();
  c.engagementId ||= Number(randomDigits(11));
  return {
    id: c.vendorId,
    engagementId: c.engagementId,
    inbound: c.session.direction === 'Inbound',
    their: c.their,
    me: ME.number,
    startedAt: c.session.creationTime,
    answeredAt: c.session.startTime,
    endedAt: c.endedAt || null,
  };
}

/** Posts what the vendor protocol says of this moment (`ring`, `answer`, `end`...). */
function postVendor(moment, ...args) {
  const say = vendor && vendor[moment];
  if (!say) return false;
  for (const m of say(...args)) post(m);
  return true;
}

// ---------------------------------------------------------------- RingCentral's third-party service
// Once a host registers a service (rc-adapter-register-third-party-service), the widget asks it
// for contacts and hands it calls to log, with rc-post-message-request / -response, as
// ringcentral/ringcentral-embeddable's ThirdPartyService does.

let service = null;
const waiting = new Map();

function request(path, body, timeoutMs = 30_000) {
  const requestId = crypto.randomUUID();
  post({ type: 'rc-post-message-request', requestId, path, body });
  return new Promise((resolve) => {
    const timer = setTimeout(() => { waiting.delete(requestId); resolve(null); }, timeoutMs);
    waiting.set(requestId, (response) => { clearTimeout(timer); resolve(response); });
  });
}

function showContacts(listId, contacts) {
  const list = $(listId);
  list.replaceChildren();
  for (const c of contacts) {
    const li = document.createElement('li');
    li.textContent = `${c.name} · ${c.company || c.type}`;
    list.append(li);
  }
}

async function matchContacts(their) {
  if (!service || !service.contactMatchPath) return;
  const response = await request(service.contactMatchPath, { phoneNumbers: [their] });
  const found = response && response.data && Array.isArray(response.data[their]) ? response.data[their] : [];
  showContacts('matches', found);
}

async function searchContacts(text) {
  if (!service || !service.contactSearchPath) return;
  const response = await request(service.contactSearchPath, { searchString: text });
  showContacts('search-results', response && Array.isArray(response.data) ? response.data : []);
}

/** What the widget hands a logger at hang-up, then once the call log has the call. */
async function logCall(c) {
  if (!service || !service.callLoggerPath) return;
  const s = c.session;
  const inbound = s.direction === 'Inbound';
  const parties = {
    from: { phoneNumber: inbound ? c.their : ME.number },
    to: { phoneNumber: inbound ? ME.number : c.their },
  };
  const ids = { sessionId: c.presenceSessionId, telephonySessionId: s.partyData.sessionId, partyId: s.partyData.partyId };
  await request(service.callLoggerPath, { triggerType: 'presenceUpdate', call: { ...ids, direction: s.direction, ...parties,
    startTime: c.presenceStart, telephonyStatus: 'NoCall', terminationType: 'final', result: 'Disconnected', fromMatches: [], toMatches: [], activityMatches: [] } }, 15_000);
  const answered = s.startTime !== null;
  const record = { id: `log-${randomHex(8)}`, ...ids, type: 'Voice', direction: s.direction, action: inbound ? 'Phone Call' : 'VoIP Call',
    result: answered ? 'Accepted' : inbound ? 'Missed' : 'No Answer', startTime: c.presenceStart,
    duration: Math.round((c.endedAt - c.presenceStart) / 1000), ...parties, fromMatches: [], toMatches: [], activityMatches: [] };
  const body = { triggerType: 'callLogSync', call: record };
  if (answered) {
    const rec = `${randomDigits(13)}`;
    const contentUri = `https://media.ringcentral.com/restapi/v1.0/account/${ME.accountId}/recording/${rec}/content`;
    record.recording = { id: rec, uri: `https://platform.ringcentral.com/restapi/v1.0/account/${ME.accountId}/recording/${rec}`, type: 'Automatic',
      contentUri, link: `https://ringcentral.github.io/ringcentral-media-reader/?media=${encodeURIComponent(contentUri)}` };
    body.aiNote = `Call with ${c.theirName || c.their}: they asked for a quote for 20 seats; follow up on Monday.`;
    body.transcript = `${c.theirName || c.their}: Hello, I would like a quote.\n${ME.name}: Of course, for how many seats?`;
  }
  await request(service.callLoggerPath, body, 15_000);
}

function randomHex(n) {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').slice(0, n);
}

function randomDigits(n) {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b, i) => (i === 0 ? 1 + (b % 9) : b % 10)).join('');
}

/** E.164 for what a person types, as the widget normalises before dialling (NANP default). */
function normalize(raw) {
  if (typeof raw !== 'string' || raw.length > 32) return null;
  const plus = raw.trim().startsWith('+');
  const digits = raw.replace(/\D/g, '');
  if (plus) return digits.length >= 8 && digits.length <= 15 ? `+${digits}` : null;
  if (digits.length === 10) return `+1${digits}`;
  if (digits.length === 11 && digits.startsWith('1')) return `+${digits}`;
  return null;
}

function newCall(direction, their, theirName) {
  const now = Date.now();
  const hex = randomHex(24);
  const inbound = direction === 'Inbound';
  sessionCounter += 1;
  const session = {
    id: btoa(`sip-session-${sessionCounter}-${randomHex(6)}`).replace(/=+$/, ''),
    callId: `${randomHex(14)}@127.0.0.1`,
    direction,
    callStatus: 'webphone-session-connecting',
    to: inbound ? ME.number : their,
    toUserName: inbound ? ME.name : theirName,
    from: inbound ? their : ME.number,
    fromNumber: inbound ? their : ME.number,
    fromUserName: inbound ? theirName : ME.name,
    fromTag: randomHex(7),
    toTag: null,
    startTime: null,
    creationTime: now,
    isOnHold: false,
    isOnMute: false,
    isOnFlip: false,
    isOnTransfer: false,
    isToVoicemail: false,
    isForwarded: false,
    isReplied: false,
    recordStatus: 'webphone-record-idle',
    contactMatch: null,
    minimized: false,
    partyData: { partyId: `p-${hex}-2`, sessionId: `s-${hex}` },
    lastActiveTime: now,
    cached: false,
    removed: false,
    callQueueName: null,
    warmTransferSessionId: null,
  };
  return { session, their, theirName, presenceSessionId: randomDigits(13), presenceStart: now, state: 'ringing' };
}

function presence(c, telephonyStatus, terminationType) {
  const s = c.session;
  const inbound = s.direction === 'Inbound';
  return {
    type: 'rc-active-call-notify',
    call: {
      direction: s.direction,
      from: { phoneNumber: inbound ? c.their : ME.number },
      fromName: inbound ? c.theirName : ME.name,
      to: { phoneNumber: inbound ? ME.number : c.their },
      toName: inbound ? ME.name : c.theirName,
      startTime: c.presenceStart,
      offset: 0,
      telephonyStatus,
      sessionId: c.presenceSessionId,
      telephonySessionId: s.partyData.sessionId,
      partyId: s.partyData.partyId,
      terminationType,
    },
  };
}

function telephonySession(c, code, reason) {
  const s = c.session;
  const inbound = s.direction === 'Inbound';
  const us = { phoneNumber: ME.number, name: ME.name };
  const them = { phoneNumber: c.their, name: c.theirName };
  const party = {
    id: s.partyData.partyId,
    direction: s.direction,
    from: inbound ? them : us,
    to: inbound ? { ...us, extensionId: ME.extensionId } : them,
    status: reason ? { code, reason } : { code },
    muted: s.isOnMute,
    standAlone: false,
    owner: { accountId: ME.accountId, extensionId: ME.extensionId },
  };
  return {
    type: 'rc-telephony-session-notify',
    telephonySession: { id: s.partyData.sessionId, sessionId: c.presenceSessionId, origin: { type: 'Call' }, parties: [party] },
  };
}

function sessionEvent(type, c, extra = {}) {
  return { type, call: { ...c.session, ...extra } };
}

// ---------------------------------------------------------------- call actions

function incomingCall(phoneNumber, name) {
  if (current) return note('busy: one call at a time');
  const their = normalize(phoneNumber);
  if (!their) return note(`not a phone number: ${phoneNumber}`);
  current = newCall('Inbound', their, typeof name === 'string' && name ? name.slice(0, 64) : 'WIRELESS CALLER');
  if (!postVendor('ring', vendorCall(current))) {
    post(sessionEvent('rc-call-ring-notify', current));
    post(presence(current, 'Ringing', 'intermediate'));
    matchContacts(their);
  }
  render();
}

function outgoingCall(phoneNumber) {
  if (current) return note('busy: one call at a time');
  const their = normalize(phoneNumber);
  if (!their) return note(`not a phone number: ${phoneNumber}`);
  current = newCall('Outbound', their, their);
  if (!postVendor('ring', vendorCall(current))) {
    post(sessionEvent('rc-call-init-notify', current));
    post(presence(current, 'Ringing', 'intermediate'));
    matchContacts(their);
  }
  render();
}

function answer() {
  if (!current || current.state !== 'ringing') return note('no ringing call');
  const now = Date.now();
  Object.assign(current.session, { callStatus: 'webphone-session-connected', startTime: now, lastActiveTime: now });
  current.state = 'connected';
  if (!vendor) {
    post(sessionEvent('rc-call-start-notify', current));
    post(telephonySession(current, 'Answered'));
    post(presence(current, 'CallConnected', 'intermediate'));
  } else {
    postVendor('answer', vendorCall(current));
  }
  render();
}

function hold(on) {
  if (!current || current.state !== (on ? 'connected' : 'held')) return note(on ? 'no connected call' : 'no held call');
  const now = Date.now();
  Object.assign(current.session, {
    callStatus: on ? 'webphone-session-onHold' : 'webphone-session-connected',
    isOnHold: on,
    lastActiveTime: now,
  });
  current.state = on ? 'held' : 'connected';
  if (!vendor) {
    post(sessionEvent(on ? 'rc-call-hold-notify' : 'rc-call-resume-notify', current));
    post(presence(current, on ? 'OnHold' : 'CallConnected', 'intermediate'));
  }
  render();
}

function hangup(toVoicemail = false) {
  if (!current) return note('no call');
  const c = current;
  const now = Date.now();
  Object.assign(c.session, {
    callStatus: 'webphone-session-finished',
    isOnHold: false,
    isToVoicemail: toVoicemail && c.state === 'ringing' && c.session.direction === 'Inbound',
    lastActiveTime: now,
  });
  c.endedAt = now;
  if (!postVendor('end', vendorCall(c))) {
    post(sessionEvent('rc-call-end-notify', c, { endTime: now }));
    post(telephonySession(c, 'Disconnected', 'CallFinished'));
    post(presence(c, 'NoCall', 'final'));
    logCall(c);
  }
  const answered = c.session.startTime !== null;
  const secs = answered ? Math.round((now - c.session.startTime) / 1000) : 0;
  const how = answered ? `answered, ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}` : c.session.isToVoicemail ? 'to voicemail' : 'not answered';
  addHistory(`${c.session.direction === 'Inbound' ? 'From' : 'To'} ${c.their} · ${how}`);
  current = null;
  render();
}

// ---------------------------------------------------------------- messages

function messageRecord({ type, direction, their, text, pages, status }) {
  messageCounter += 1;
  const id = Date.now() * 10 + (messageCounter % 10);
  const iso = new Date().toISOString();
  const base = `https://platform.ringcentral.com/restapi/v1.0/account/${ME.accountId}/extension/${ME.extensionId}/message-store/${id}`;
  const inbound = direction === 'Inbound';
  if (type === 'Fax') {
    return {
      id,
      type: 'Fax',
      direction,
      from: { phoneNumber: ME.number, name: ME.name },
      to: [{ phoneNumber: their, name: their }],
      creationTime: iso,
      lastModifiedTime: iso,
      readStatus: 'Read',
      availability: 'Alive',
      messageStatus: status,
      faxPageCount: pages,
      faxResolution: 'High',
      coverIndex: 0,
      attachments: [{ id: id + 1, uri: `${base}/content/${id + 1}`, type: 'RenderedDocument', contentType: 'application/pdf' }],
    };
  }
  // One conversation per other party, as RingCentral threads SMS. A safe integer, unlike the
  // real 18-digit ids, so the number survives JavaScript.
  const conversationId = conversationFor(their);
  return {
    id,
    uri: base,
    extensionId: ME.extensionId,
    type: 'SMS',
    direction,
    from: inbound ? { phoneNumber: their, location: 'Demo City, CA' } : { phoneNumber: ME.number, name: ME.name },
    to: [inbound ? { phoneNumber: ME.number, name: ME.name } : { phoneNumber: their }],
    subject: text,
    creationTime: iso,
    lastModifiedTime: iso,
    readStatus: inbound ? 'Unread' : 'Read',
    priority: 'Normal',
    availability: 'Alive',
    messageStatus: inbound ? 'Received' : 'Sent',
    conversationId,
    conversation: { id: String(conversationId), uri: `https://platform.ringcentral.com/restapi/v1.0/conversation/${conversationId}` },
    attachments: [{ id, uri: `${base}/content/${id}`, type: 'Text', contentType: 'text/plain' }],
  };
}

const conversations = new Map();
function conversationFor(their) {
  if (!conversations.has(their)) conversations.set(their, Number(`67403547756${randomDigits(5)}`));
  return conversations.get(their);
}

function checkText(text) {
  return typeof text === 'string' && text.trim() !== '' && text.length <= MAX_TEXT;
}

function incomingSms(phoneNumber, text) {
  const their = normalize(phoneNumber);
  if (!their || !checkText(text)) return note('incoming sms needs a phone number and 1-1000 characters of text');
  if (vendor) {
    postVendor('smsIn', ME.number, their, text);
  } else {
    const message = messageRecord({ type: 'SMS', direction: 'Inbound', their, text });
    post({ type: 'rc-inbound-message-notify', message });
    post({ type: 'rc-message-updated-notify', message });
  }
  addHistory(`Text from ${their}: ${text}`);
}

function sendSms(phoneNumber, text) {
  const their = normalize(phoneNumber);
  if (!their || !checkText(text)) return note('sms needs a phone number and 1-1000 characters of text');
  if (vendor) postVendor('smsOut', ME.number, their, text);
  else post({ type: 'rc-message-updated-notify', message: messageRecord({ type: 'SMS', direction: 'Outbound', their, text }) });
  addHistory(`Text to ${their}: ${text}`);
  return true;
}

function sendFax(phoneNumber, pages) {
  const their = normalize(phoneNumber);
  const n = Number(pages);
  if (!their || !Number.isInteger(n) || n < 1 || n > 99) return note('fax needs a phone number and 1-99 pages');
  if (vendor) return note(`no fax in ${PROTOCOL}`);
  const queued = messageRecord({ type: 'Fax', direction: 'Outbound', their, pages: n, status: 'Queued' });
  post({ type: 'rc-message-updated-notify', message: queued });
  // The fax is delivered a moment later: the same record, updated.
  setTimeout(() => {
    const sent = { ...queued, messageStatus: 'Sent', lastModifiedTime: new Date().toISOString() };
    post({ type: 'rc-message-updated-notify', message: sent });
    addHistory(`Fax to ${their}: ${n} page${n === 1 ? '' : 's'}, sent`);
  }, 200);
  return true;
}

// ---------------------------------------------------------------- commands from the parent

function note(msg) {
  console.info(`demo softphone: ${msg}`);
  return false;
}

const COMMANDS = {
  'rc-adapter-new-call': (d) => (d.toCall ? outgoingCall(d.phoneNumber) : fillDialPad(d.phoneNumber)),
  'rc-adapter-new-sms': (d) => fillComposer(d.phoneNumber, d.text),
  'rc-adapter-control-call': (d) => controlCall(d.callAction, d.callId),
  'calltrail-demo-incoming-call': (d) => incomingCall(d.phoneNumber, d.name),
  'calltrail-demo-answer': () => answer(),
  'calltrail-demo-hold': () => hold(true),
  'calltrail-demo-resume': () => hold(false),
  'calltrail-demo-hangup': () => hangup(),
  'calltrail-demo-send-sms': (d) => sendSms(d.phoneNumber, d.text),
  'calltrail-demo-incoming-sms': (d) => incomingSms(d.phoneNumber, d.text),
  'calltrail-demo-send-fax': (d) => sendFax(d.phoneNumber, d.pages),
  // Tests only: the frame posts this message as it is (a malformed one, say).
  'calltrail-demo-post': (d) => post(d.data),
};

function controlCall(action, callId) {
  if (!current || (callId !== undefined && callId !== current.session.id)) return note(`no call ${callId}`);
  switch (action) {
    case 'answer': return answer();
    case 'reject':
    case 'hangup': return hangup();
    case 'toVoicemail': return hangup(true);
    case 'hold': return hold(true);
    case 'unhold': return hold(false);
    default: return note(`unsupported callAction ${action}`);
  }
}

window.addEventListener('message', (event) => {
  if (window.parent === window || event.source !== window.parent) return;
  const d = event.data;
  if (!d || typeof d !== 'object' || typeof d.type !== 'string') return;
  if (!vendor && d.type === 'rc-adapter-register-third-party-service' && d.service && typeof d.service.name === 'string') {
    service = d.service;
    $('service').textContent = `Calls are logged with ${service.displayName || service.name}`;
    $('search-form').hidden = !service.contactSearchPath;
    return;
  }
  if (!vendor && d.type === 'rc-post-message-response' && waiting.has(d.responseId)) {
    const done = waiting.get(d.responseId);
    waiting.delete(d.responseId);
    done(d.response || null);
    return;
  }
  const run = Object.hasOwn(COMMANDS, d.type) ? COMMANDS[d.type] : null;
  if (run) run(d);
});

// ---------------------------------------------------------------- UI

const $ = (id) => document.getElementById(id);

function fillDialPad(phoneNumber) {
  if (typeof phoneNumber !== 'string' || phoneNumber.length > 32) return note('bad phoneNumber');
  $('dial-number').value = phoneNumber;
  $('dial-number').focus();
  return true;
}

function fillComposer(phoneNumber, text) {
  if (typeof phoneNumber === 'string' && phoneNumber.length <= 32) $('sms-to').value = phoneNumber;
  if (typeof text === 'string' && text.length <= MAX_TEXT) $('sms-text').value = text;
  $('sms-text').focus();
  return true;
}

function addHistory(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('history').prepend(li);
  while ($('history').children.length > 20) $('history').lastElementChild.remove();
}

function render() {
  const status = $('call-status');
  const c = current;
  const state = c ? c.state : 'idle';
  status.dataset.state = state;
  if (!c) {
    status.textContent = 'No call';
  } else {
    const inbound = c.session.direction === 'Inbound';
    const who = c.theirName && c.theirName !== c.their ? `${c.theirName} (${c.their})` : c.their;
    const label = {
      ringing: inbound ? `Incoming call from ${who}` : `Calling ${who}…`,
      connected: `On a call with ${who}`,
      held: `On hold: ${who}`,
    }[state];
    status.textContent = label;
  }
  const inboundRinging = c && c.state === 'ringing' && c.session.direction === 'Inbound';
  $('answer').disabled = !inboundRinging;
  $('hold').disabled = !c || c.state === 'ringing';
  $('hold').textContent = c && c.state === 'held' ? 'Resume' : 'Hold';
  $('hold').setAttribute('aria-pressed', String(!!c && c.state === 'held'));
  $('hangup').disabled = !c;
  $('hangup').textContent = inboundRinging ? 'Decline' : 'Hang up';
  $('dial-call').disabled = !!c;
  $('sim-call').disabled = !!c;
}

function init() {
  $('our-number').textContent = ME.number;
  $('agent-name').textContent = ME.name;
  $('answer').addEventListener('click', () => answer());
  $('hold').addEventListener('click', () => hold(current && current.state === 'connected'));
  $('hangup').addEventListener('click', () => hangup());
  $('dial-clear').addEventListener('click', () => {
    $('dial-number').value = $('dial-number').value.slice(0, -1);
  });
  for (const key of document.querySelectorAll('.keypad button')) {
    key.addEventListener('click', () => {
      $('dial-number').value = ($('dial-number').value + key.dataset.key).slice(0, 32);
    });
  }
  $('dial-form').addEventListener('submit', (e) => {
    e.preventDefault();
    outgoingCall($('dial-number').value);
  });
  $('sms-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (sendSms($('sms-to').value, $('sms-text').value)) $('sms-text').value = '';
  });
  $('fax-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sendFax($('fax-to').value, $('fax-pages').value);
  });
  $('sim-call-form').addEventListener('submit', (e) => {
    e.preventDefault();
    incomingCall($('sim-call-number').value);
  });
  $('sim-sms-form').addEventListener('submit', (e) => {
    e.preventDefault();
    incomingSms($('sim-sms-number').value, $('sim-sms-text').value);
  });
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    searchContacts($('search-text').value.trim());
  });
  $('protocol').textContent = PROTOCOL;
  render();
  if (vendor) {
    for (const m of vendor.start(ME.number)) post(m);
    return;
  }
  // The widget announces its login once it is up; hosts wait for this before registering.
  post({
    type: 'rc-login-status-notify',
    loggedIn: true,
    loginNumber: `${ME.number}*${ME.extensionNumber}`,
    contractedCountryCode: 'US',
    admin: false,
    features: { sms: true, meeting: false, glip: false, smartNote: false, call: true, ringSenseInsights: false },
    isFreshLogin: false,
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
