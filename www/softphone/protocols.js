// The demo softphone's other protocols: what JustCall, Ringover, RingCX, Aircall, Zoom Phone and a
// HubSpot calling extension post to the page that hosts them, in the shapes of their public SDKs
// (docs/softphones.md says where each comes from; tests/fixtures/softphones/*.json are the same
// shapes with fixed values). softphone.js keeps the call; each protocol here only says how a
// moment of it looks on the wire. Selected with `?protocol=<name>`; RingCentral Embeddable's own
// protocol stays in softphone.js.
//
// Each protocol is { start(me), ring(c), answer(c), end(c), smsIn(me, their, text), smsOut(me, their, text) };
// a function a protocol lacks (JustCall reports no sent SMS) posts nothing. `c` is the demo's call:
// { id, inbound, their, me, startedAt, answeredAt, endedAt }.

const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
const digits = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b, i) => (i === 0 ? 1 + (b % 9) : b % 10)).join('');
const secs = (from, to) => (from && to ? Math.max(0, Math.round((to - from) / 1000)) : 0);
const sides = (c) => (c.inbound ? { from: c.their, to: c.me } : { from: c.me, to: c.their });

/** A new call id in the protocol's own format. */
export const callIds = {
  justcall: () => `CA${hex(16)}`,
  ringover: () => digits(18),
  ringcx: () => digits(30),
  aircall: () => Number(digits(10)),
  zoom: () => digits(19),
  hubspot: () => crypto.randomUUID(),
};

let messageId = 0;
const hubspotMessage = (type, data) => ({ type, ...(data ? { data } : {}), messageId: `1767625199950_${Date.now()}${++messageId}` });

export const protocols = {
  // saaslabsco/justcall-dialer-sdk: {name, data}; no timestamps, no sent SMS.
  justcall: {
    start: (me) => [{ name: 'logged-in-status', data: { logged_in: true, login_numbers: [me], user_info: { email: 'jane.agent@example.com', name: 'Jane Agent' } } }],
    ring: (c) => [{ name: 'call-ringing', data: { direction: c.inbound ? 'inbound' : 'outbound', ...sides(c), call_sid: c.id } }],
    answer: (c) => [{ name: 'call-answered', data: { call_sid: c.id, direction: c.inbound ? 'inbound' : 'outbound', answered_status: 'answered' } }],
    end: (c) => [{ name: 'call-ended', data: { call_sid: c.id, direction: c.inbound ? 'inbound' : 'outbound', duration: secs(c.answeredAt, c.endedAt) } }],
    smsIn: (me, their, text) => [{ name: 'sms-received', data: { message_sid: `SM${hex(16)}`, from: their, to: me, body: text, received_at: new Date().toISOString() } }],
  },
  // ringover/ringover-sdk: {action, data}; the iframe looks for the SDK with checkSDK.
  ringover: {
    start: () => [{ action: 'checkSDK' }, { action: 'login', data: { userId: 123456 } }, { action: 'dialerReady', data: { userId: 123456 } }],
    ring: (c) => [{ action: 'ringingCall', data: ringoverCall(c) }],
    answer: (c) => [{ action: 'answeredCall', data: ringoverCall(c) }],
    end: (c) => [{ action: 'hangupCall', data: ringoverCall(c) }],
    smsIn: (me, their, text) => [{ action: 'smsReceived', data: { conversation_id: ringoverConversation(their), from_number: their, message: text } }],
    smsOut: (me, their, text) => [{ action: 'smsSent', data: { conversation_id: ringoverConversation(their), to_number: their, message: text } }],
  },
  // ringcentral/engage-voice-embeddable: call events pushed inside MessageTransport-push.
  ringcx: {
    start: () => [{ type: 'rc-ev-init' }, push({ type: 'rc-ev-sipRegistered' })],
    // Outbound: the agent's leg joins at dial (newCall); inbound rings first (ringCall).
    ring: (c) => (c.inbound
      ? [push({ type: 'rc-ev-sipRingCall', message: { message: 'SIP Ringing' } }), push({ type: 'rc-ev-ringCall', call: ringcxCall(c, false) })]
      : [push({ type: 'rc-ev-newCall', call: ringcxCall(c, true) })]),
    // RingCX says nothing when an outbound call's far end answers.
    answer: (c) => (c.inbound ? [push({ type: 'rc-ev-newCall', call: ringcxCall(c, true) })] : []),
    end: (c) => [...(c.inbound ? [push({ type: 'rc-ev-sipEndCall', message: { message: 'SIP Call Ended' } })] : []), push({ type: 'rc-ev-endCall', call: ringcxCall(c, true) })],
  },
  // aircall/aircall-everywhere (Workspace): {name: 'apm_phone_<event>', value}.
  aircall: {
    start: () => [{ name: 'apm_phone_loaded', value: { email: 'jane.agent@example.com', first_name: 'Jane', last_name: 'Agent', company_name: 'Example Corp' } }],
    ring: (c) => [{ name: c.inbound ? 'apm_phone_incoming_call' : 'apm_phone_outgoing_call', value: { ...sides(c), call_id: c.id } }],
    answer: (c) => [c.inbound
      ? { name: 'apm_phone_call_end_ringtone', value: { answer_status: 'answered', call_id: c.id } }
      : { name: 'apm_phone_outgoing_answered', value: { call_id: c.id } }],
    end: (c) => [
      ...(c.inbound && !c.answeredAt ? [{ name: 'apm_phone_call_end_ringtone', value: { answer_status: 'disconnected', call_id: c.id } }] : []),
      { name: 'apm_phone_call_ended', value: { duration: secs(c.startedAt, c.endedAt), call_id: c.id } },
    ],
  },
  // Zoom Phone Smart Embed: {type: 'zp-…-event', data}; field names as public integrations saw them.
  zoom: {
    start: () => [],
    ring: (c) => [zoomEvent('zp-call-ringing-event', c)],
    answer: (c) => [zoomEvent('zp-call-connected-event', c)],
    end: (c) => [
      zoomEvent('zp-call-ended-event', c, { result: c.answeredAt ? 'answered' : 'no_answer' }),
      zoomEvent('zp-call-log-completed-event', c, { callLogId: crypto.randomUUID(), dateTime: new Date(c.startedAt).toISOString(), duration: secs(c.answeredAt, c.endedAt), result: c.answeredAt ? 'Call Connected' : 'No Answer' }),
    ],
  },
  // HubSpot/calling-extensions-sdk: a vendor's frame inside HubSpot; HubSpot makes the engagement.
  hubspot: {
    start: () => [hubspotMessage('SYNC_ACK'), hubspotMessage('INITIALIZED', { isLoggedIn: true })],
    ring: (c) => [hubspotMessage(c.inbound ? 'INCOMING_CALL' : 'OUTGOING_CALL_STARTED', { externalCallId: c.id, fromNumber: sides(c).from, toNumber: sides(c).to, callStartTime: c.startedAt, createEngagement: true })],
    answer: (c) => [hubspotMessage('CALL_ANSWERED', { externalCallId: c.id })],
    end: (c) => [
      hubspotMessage('CALL_ENDED', { externalCallId: c.id, engagementId: c.engagementId, callEndStatus: c.answeredAt ? 'COMPLETED' : 'NO_ANSWER' }),
      hubspotMessage('CALL_COMPLETED', { externalCallId: c.id, engagementId: c.engagementId, hideWidget: false, engagementProperties: { hs_timestamp: c.startedAt, hs_call_status: c.answeredAt ? 'COMPLETED' : 'NO_ANSWER' } }),
    ],
  },
};

function ringoverCall(c) {
  return {
    direction: c.inbound ? 'in' : 'out',
    from_number: sides(c).from,
    to_number: sides(c).to,
    internal: false,
    call_id: c.id,
    ringDuration: secs(c.startedAt, c.answeredAt || c.endedAt),
    callDuration: secs(c.answeredAt, c.endedAt),
  };
}

const conversations = new Map();
function ringoverConversation(their) {
  if (!conversations.has(their)) conversations.set(their, digits(8));
  return conversations.get(their);
}

function push(payload) {
  return { type: 'MessageTransport-push', payload };
}

function ringcxCall(c, connected) {
  const { from, to } = sides(c);
  const call = {
    id: c.id,
    direction: c.inbound ? 'INBOUND' : 'OUTBOUND',
    from: { phoneNumber: from },
    to: { phoneNumber: to },
    telephonyStatus: connected ? 'CallConnected' : 'CallRing',
    telephonySessionId: c.id,
    partyId: '1234567',
    startTime: c.startedAt,
    offset: 0,
    fromMatches: [],
    toMatches: [],
    activityMatches: [],
  };
  if (connected) Object.assign(call, { sessionId: '2' });
  return call;
}

function zoomEvent(type, c, extra = {}) {
  const { from, to } = sides(c);
  return { type, id: `evt-${hex(4)}`, data: { callId: c.id, direction: c.inbound ? 'inbound' : 'outbound', caller: { phoneNumber: from }, callee: { phoneNumber: to }, ...extra } };
}
