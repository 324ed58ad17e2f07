// Scripted calls: POST /_admin/calls plays one call. It emits the telephony-session events a real
// account-level subscription sees (one party per notification, `sequence` rising across the
// session) and stages the call-log record that appears after the configured lag.
//
// Event shapes follow guide/notifications/event-filters/account-telephony-sessions and the real
// account-level streams RingCentral's docs link (github.com/dibyenduroy/csn-data: PSTN→RingCentral,
// RingCentral→RingCentral, RingCentral→PSTN): the outside party has no extensionId and is notified
// on the account-level path, RingCentral parties on their extension path; the caller's party goes
// Setup → Answered (when answered) → Disconnected, the callee's Setup → Proceeding → Answered →
// (Hold → Answered) → Disconnected. Queue member parties carry `queueCall: true`, `to` = the
// queue and `uiCallInfo` QueueName/CallerIdName as in RingCentral's "call queue or direct?" note.
// README "Assumptions" lists what the docs leave open (reasons on non-answering members, legs).

import { digits, hex, iso, token } from './util.mjs';

const OUTCOMES = { Inbound: ['answered', 'missed', 'voicemail'], Outbound: ['answered', 'noanswer', 'busy'] };

function httpError(message) { return Object.assign(new Error(message), { status: 400 }); }

export class CallPlayer {
  constructor(emu) { this.emu = emu; this.calls = []; }
  reset() { this.calls = []; }

  normalise(spec) {
    const dir = this.emu.dir;
    const direction = spec.direction ?? 'Inbound';
    if (!OUTCOMES[direction]) throw httpError('direction is Inbound or Outbound');
    const outcome = spec.outcome ?? 'answered';
    if (!OUTCOMES[direction].includes(outcome)) throw httpError(`outcome for ${direction} is one of ${OUTCOMES[direction].join(', ')}`);
    const account = spec.accountId ? dir.account(spec.accountId) : dir.firstAccount();
    if (!account) throw httpError('no account: seed one first');
    const ext = (id, what) => {
      const e = dir.extension(id);
      if (!e || e.accountId !== account.id) throw httpError(`${what}: no extension ${id} in account ${account.id}`);
      return e;
    };
    const external = typeof spec.external === 'string' ? { phoneNumber: spec.external } : { ...(spec.external || {}) };
    if (!external.phoneNumber) throw httpError('external.phoneNumber (the outside party) is required');
    let user = null;
    let queue = null;
    let members = [];
    let answeredBy = null;
    if (spec.queueId) {
      if (direction !== 'Inbound') throw httpError('queue calls are Inbound');
      queue = ext(spec.queueId, 'queueId');
      if (queue.type !== 'Department') throw httpError('queueId must name a call queue (type Department)');
      members = (spec.members ?? queue.members ?? []).map((m) => ext(m, 'members'));
      if (!members.length) throw httpError('the queue has no members');
      if (outcome === 'answered') {
        answeredBy = spec.answeredBy ? ext(spec.answeredBy, 'answeredBy') : members[0];
        if (!members.includes(answeredBy)) throw httpError('answeredBy must be a queue member');
      }
    } else {
      if (!spec.extensionId) throw httpError('extensionId (the RingCentral user) or queueId is required');
      user = ext(spec.extensionId, 'extensionId');
      answeredBy = outcome === 'answered' ? user : null;
    }
    let transfer = null;
    if (spec.transfer) {
      if (outcome !== 'answered') throw httpError('transfer needs an answered call');
      const to = ext(spec.transfer.toExtensionId, 'transfer.toExtensionId');
      const type = spec.transfer.type ?? 'blind';
      if (!['blind', 'attended'].includes(type)) throw httpError('transfer.type is blind or attended');
      transfer = { to, type, afterSeconds: spec.transfer.afterSeconds ?? 20, ringSeconds: spec.transfer.ringSeconds ?? 4 };
    }
    let conference = null;
    if (spec.conference) {
      // guide/voice/conference: a conference is a session of its own (`origin.type`
      // "Conference"); the host joins it and brings the parties of other sessions in.
      if (outcome !== 'answered' || direction !== 'Inbound') throw httpError('conference needs an answered inbound call');
      if (transfer) throw httpError('conference and transfer cannot be combined');
      const withExt = ext(spec.conference.withExtensionId, 'conference.withExtensionId');
      conference = {
        with: withExt,
        afterSeconds: spec.conference.afterSeconds ?? 20,
        ringSeconds: spec.conference.ringSeconds ?? 4,
        consultSeconds: spec.conference.consultSeconds ?? 5,
        talkMs: (spec.conference.talkSeconds ?? 60) * 1000,
      };
    }
    let recording = null;
    if (spec.recording) {
      const type = spec.recording === true ? 'Automatic' : spec.recording;
      if (!['Automatic', 'OnDemand'].includes(type)) throw httpError('recording is true, "Automatic" or "OnDemand"');
      if (outcome !== 'answered') throw httpError('recording needs an answered call');
      recording = { type, id: digits(13) };
    }
    const num = (v, d) => (v === undefined ? d : Number(v));
    const ringSeconds = num(spec.ringSeconds, 8);
    const talkSeconds = num(spec.talkSeconds, outcome === 'voicemail' ? 25 : 60);
    const holdSeconds = num(spec.holdSeconds, 0);
    for (const [k, v] of Object.entries({ ringSeconds, talkSeconds, holdSeconds })) if (!(v >= 0)) throw httpError(`${k} must be ≥ 0`);
    if (spec.startTime !== undefined && Number.isNaN(Date.parse(spec.startTime))) throw httpError('startTime must be an ISO 8601 date-time');
    const dialed = spec.dialedNumber ?? (queue ? queue.phoneNumber : user?.phoneNumber) ?? account.mainNumber;
    if (spec.telephonySessionId !== undefined && !/^s-[0-9A-Za-z]{1,64}$/.test(String(spec.telephonySessionId))) throw httpError('telephonySessionId is s- and 1-64 letters or digits');
    return {
      tsid: spec.telephonySessionId,
      account, direction, outcome, external, user, queue, members, answeredBy, transfer, conference, recording,
      ringMs: ringSeconds * 1000, talkMs: talkSeconds * 1000, holdMs: holdSeconds * 1000, dialed,
      paceMs: num(spec.paceMs, this.emu.config.paceMs),
      callLogLagMs: num(spec.callLogLagMs, this.emu.config.callLogLagMs),
      recordingLagMs: num(spec.recordingLagMs, this.emu.config.recordingLagMs),
      writeCallLog: spec.callLog !== false,
      startMs: spec.startTime ? Date.parse(spec.startTime) : null,
    };
  }

  /** Build the timeline: [{t (ms from start), party, status, flags}] and the call's end offset. */
  timeline(c) {
    // A script may name the session (a softphone in the browser saw the same call).
    const tsid = c.tsid ?? `s-${hex(16)}`;
    let partyNo = 0;
    const acc = c.account.id;
    const party = (fields) => ({ accountId: acc, id: `p-${tsid.slice(2)}-${++partyNo}`, ...fields });
    const steps = [];
    const at = (t, p, code, extra = {}) => steps.push({ t, p, code, ...extra });
    const who = (e) => ({ phoneNumber: e.phoneNumber ?? c.dialed, name: e.name, extensionId: e.id });
    const ext = c.external;
    let end;

    if (c.direction === 'Outbound') {
      const u = c.user;
      const from = { phoneNumber: u.phoneNumber ?? c.account.mainNumber, extensionId: u.id, deviceId: u.deviceId };
      const caller = party({ extensionId: u.id, direction: 'Outbound', from, to: { phoneNumber: ext.phoneNumber } });
      const callee = party({ direction: 'Inbound', from: { phoneNumber: from.phoneNumber, name: u.name, extensionId: u.id }, to: { phoneNumber: ext.phoneNumber, ...(ext.name ? { name: ext.name } : {}) } });
      at(0, caller, 'Setup');
      at(40, callee, 'Proceeding');
      at(80, caller, 'Proceeding');
      const R = Math.max(120, c.ringMs);
      if (c.outcome === 'answered') {
        at(R, callee, 'Answered');
        at(R + 30, caller, 'Answered', { rec: true });
        end = this.talk(c, at, caller, R + 30);
        at(end, caller, 'Disconnected', { rec: true });
        at(end + 15, callee, 'Disconnected');
      } else {
        at(R, callee, 'Disconnected', { reason: c.outcome === 'busy' ? 'TargetBusy' : 'NoAnswer' });
        at(R + 15, caller, 'Disconnected');
        end = R + 15;
      }
      return { tsid, steps, end, ownerParty: caller };
    }

    // Inbound: the outside caller's party first, on the account-level path.
    const caller = party({ direction: 'Outbound', from: { phoneNumber: ext.phoneNumber, ...(ext.name ? { name: ext.name } : {}) }, to: { phoneNumber: c.dialed } });
    at(0, caller, 'Setup');
    const R = Math.max(200, c.ringMs);
    let owner;
    let answerAt = null;
    let target;

    if (c.queue) {
      const q = c.queue;
      const qp = party({ extensionId: q.id, direction: 'Inbound', from: { phoneNumber: ext.phoneNumber }, to: who(q) });
      at(40, qp, 'Setup');
      at(70, caller, 'Answered'); // the queue answers with its greeting
      const label = ext.name ?? ext.phoneNumber;
      const mparties = c.members.map((m) => party({
        extensionId: m.id, direction: 'Inbound',
        from: { phoneNumber: ext.phoneNumber, name: `${q.name} - ${label}` },
        to: { phoneNumber: q.phoneNumber ?? c.dialed, name: q.name, extensionId: q.id },
        queueCall: true,
        uiCallInfo: { primary: { type: 'QueueName', value: q.name }, additional: { type: 'CallerIdName', value: label } },
      }));
      mparties.forEach((mp, i) => { at(100 + i * 10, mp, 'Setup'); at(130 + i * 10, mp, 'Proceeding'); });
      if (c.outcome === 'answered') {
        const ai = c.members.indexOf(c.answeredBy);
        const ap = mparties[ai];
        at(R, ap, 'Answered', { rec: true });
        mparties.forEach((mp, i) => { if (i !== ai) at(R + 10, mp, 'Disconnected'); });
        // guide/voice/telephony-session-notifications: the queue's party is Disconnected once an
        // agent accepts the call; "AgentAnswered" is the CallStatusInfo reason used for it here.
        at(R + 20, qp, 'Disconnected', { reason: 'AgentAnswered' });
        owner = ap; answerAt = R; target = c.answeredBy;
      } else {
        mparties.forEach((mp) => at(R, mp, 'Disconnected', { missed: true }));
        owner = qp; target = q;
        if (c.outcome === 'voicemail') {
          at(R + 20, qp, 'VoiceMail', { missed: true });
          at(R + 20 + c.talkMs, qp, 'Disconnected', { missed: true });
          end = R + 20 + c.talkMs;
        } else {
          at(R + 20, qp, 'Disconnected', { missed: true });
          end = R + 20;
        }
      }
    } else {
      const u = c.user;
      const up = party({ extensionId: u.id, direction: 'Inbound', from: { phoneNumber: ext.phoneNumber, ...(ext.name ? { name: ext.name } : {}) }, to: who(u) });
      at(40, up, 'Setup');
      at(80, up, 'Proceeding');
      owner = up; target = u;
      if (c.outcome === 'answered') {
        at(R, up, 'Answered', { rec: true });
        at(R + 20, caller, 'Answered');
        answerAt = R;
      } else if (c.outcome === 'voicemail') {
        at(R, up, 'VoiceMail', { missed: true });
        at(R + 20, caller, 'Answered'); // the voicemail system picks up
        at(R + 20 + c.talkMs, up, 'Disconnected', { missed: true });
        end = R + 20 + c.talkMs;
      } else {
        at(R, up, 'Disconnected', { missed: true });
        end = R;
      }
    }

    let transferInfo = null;
    let conferenceInfo = null;
    if (answerAt !== null && c.conference) {
      conferenceInfo = this.conferenceSteps(c, { at, caller, owner, target, answerAt });
      end = conferenceInfo.mergedAt;
      return { tsid, steps, end: conferenceInfo.end, recordEnd: end, ownerParty: owner, target, transferInfo, answerAt, sessions: conferenceInfo.sessions };
    }
    if (answerAt !== null) {
      if (c.transfer) {
        const T = answerAt + 30 + c.transfer.afterSeconds * 1000;
        const tr = c.transfer;
        at(T, owner, 'Disconnected', { rec: true, reason: tr.type === 'blind' ? 'BlindTransfer' : 'AttendedTransfer' });
        const bp = party({
          extensionId: tr.to.id, direction: 'Inbound',
          from: { phoneNumber: ext.phoneNumber, ...(ext.name ? { name: ext.name } : {}) },
          to: { phoneNumber: tr.to.phoneNumber ?? c.dialed, name: tr.to.name, extensionId: tr.to.id },
        });
        at(T + 20, bp, 'Setup');
        at(T + 40, bp, 'Proceeding');
        const B = T + 40 + tr.ringSeconds * 1000;
        at(B, bp, 'Answered', { rec: true });
        transferInfo = { from: owner, fromExt: target, at: T, answeredAt: B };
        end = this.talk(c, at, bp, B);
        at(end, bp, 'Disconnected', { rec: true });
        owner = bp; target = tr.to;
      } else {
        end = this.talk(c, at, owner, answerAt);
        at(end, owner, 'Disconnected', { rec: true });
      }
    }
    at(end + 15, caller, 'Disconnected');
    return { tsid, steps, end: end + 15, ownerParty: owner, target, transferInfo, answerAt };
  }

  /**
   * A conference made from an answered call (the RingCentral app's "Add" then "Merge"): the
   * user puts the caller on hold and calls a colleague (a consult session); then a conference
   * session (`origin.type` "Conference") starts with the user as `Host`, and the caller's and the
   * colleague's parties are brought in from their sessions, which leave those sessions `Gone`
   * with a `peerId` naming the party they became (guide/voice/telephony-session-notifications:
   * Gone = "cross call is established", peerId "should be set for the both ends"). Brought-in
   * parties keep their `from`/`to`. The conference ends when the caller hangs up. Steps carry
   * the session they belong to (`s`: 0 the call, 1 the consult, 2 the conference).
   */
  conferenceSteps(c, { at, caller, owner, target, answerAt }) {
    const cf = c.conference;
    const acc = c.account.id;
    const u = target;
    const b = cf.with;
    const sessions = [null, { tsid: `s-${hex(16)}`, origin: 'Call' }, { tsid: `s-${hex(16)}`, origin: 'Conference' }];
    const partyIn = (s, fields) => ({ accountId: acc, id: `p-${sessions[s].tsid.slice(2)}-${fields.n}`, ...fields, n: undefined });
    const uEnd = { phoneNumber: u.phoneNumber ?? c.dialed, name: u.name, extensionId: u.id };
    const bEnd = { phoneNumber: b.phoneNumber ?? c.account.mainNumber, name: b.name, extensionId: b.id };
    const T = answerAt + 30 + cf.afterSeconds * 1000;
    // The caller waits on hold while the user consults the colleague.
    at(T, owner, 'Hold', { rec: true });
    const cu = partyIn(1, { n: 1, extensionId: u.id, direction: 'Outbound', from: uEnd, to: bEnd });
    const cb = partyIn(1, { n: 2, extensionId: b.id, direction: 'Inbound', from: uEnd, to: bEnd });
    at(T + 20, cu, 'Setup', { s: 1 });
    at(T + 40, cb, 'Setup', { s: 1 });
    at(T + 60, cb, 'Proceeding', { s: 1 });
    at(T + 80, cu, 'Proceeding', { s: 1 });
    const B = T + 80 + cf.ringSeconds * 1000;
    at(B, cb, 'Answered', { s: 1 });
    at(B + 30, cu, 'Answered', { s: 1 });
    // Merge: the conference session and its host.
    const M = B + 30 + cf.consultSeconds * 1000;
    const host = partyIn(2, { n: 1, extensionId: u.id, direction: 'Outbound', from: uEnd, to: { phoneNumber: 'conference', name: 'Conference' }, conferenceRole: 'Host' });
    at(M, host, 'Setup', { s: 2 });
    at(M + 20, host, 'Answered', { s: 2, rec: true });
    // The caller brought in: it leaves the call's session for the conference, and so does the user.
    const xc = partyIn(2, { n: 2, direction: caller.direction, from: caller.from, to: caller.to, conferenceRole: 'Participant' });
    at(M + 40, caller, 'Gone', { peer: { s: 2, p: xc } });
    at(M + 40, xc, 'Answered', { s: 2 });
    at(M + 45, owner, 'Gone', { peer: { s: 2, p: host }, rec: true });
    // The colleague brought in from the consult session; the consult ends.
    const xb = partyIn(2, { n: 3, extensionId: b.id, direction: 'Inbound', from: uEnd, to: bEnd, conferenceRole: 'Participant' });
    at(M + 60, cb, 'Gone', { s: 1, peer: { s: 2, p: xb } });
    at(M + 60, xb, 'Answered', { s: 2 });
    at(M + 65, cu, 'Gone', { s: 1, peer: { s: 2, p: host } });
    const E = M + 65 + cf.talkMs;
    at(E, xc, 'Disconnected', { s: 2 });
    at(E + 10, xb, 'Disconnected', { s: 2 });
    at(E + 20, host, 'Disconnected', { s: 2, rec: true });
    return { mergedAt: M + 45, end: E + 20, sessions, consult: { at: T + 20, answeredAt: B, end: M + 65 } };
  }

  /** Talk (with an optional hold in the middle); returns the hang-up offset. */
  talk(c, at, p, from) {
    if (!c.holdMs) return from + c.talkMs;
    const h = from + Math.floor(c.talkMs / 2);
    at(h, p, 'Hold', { rec: true });
    at(h + c.holdMs, p, 'Answered', { rec: true });
    return from + c.talkMs + c.holdMs;
  }

  async play(spec) {
    const c = this.normalise(spec);
    const tl = this.timeline(c);
    const total = tl.end;
    const startMs = c.startMs ?? this.emu.now() - total; // the call has just ended
    const sessionId = digits(12);
    // Sessions: the call's own, and for a conference the consult and conference sessions, each
    // with its own ids and `sequence`.
    const sessions = (tl.sessions ?? [null]).map((x, i) => (i === 0 || !x ? { tsid: tl.tsid, origin: 'Call', sessionId } : { ...x, sessionId: digits(12) }));
    const seq = sessions.map(() => 0);
    tl.steps.sort((a, b) => a.t - b.t);
    const events = tl.steps.map((s) => {
      const p = s.p;
      const si = s.s ?? 0;
      const status = { code: s.code, ...(s.reason ? { reason: s.reason } : {}), rcc: false };
      if (s.peer) status.peerId = { sessionId: sessions[s.peer.s].sessionId, telephonySessionId: sessions[s.peer.s].tsid, partyId: s.peer.p.id };
      const party = { ...structuredClone(p), status };
      // Key order as in the documented payloads.
      const ordered = {
        accountId: party.accountId, ...(party.extensionId ? { extensionId: party.extensionId } : {}), id: party.id,
        direction: party.direction, to: party.to, from: party.from,
        ...(c.recording && s.rec && p.extensionId ? { recordings: [{ id: c.recording.id, active: !['Disconnected', 'Gone'].includes(s.code) }] } : {}),
        status: party.status, ...(party.queueCall ? { queueCall: true } : {}), park: {},
        missedCall: Boolean(s.missed), standAlone: false, muted: false,
        ...(party.conferenceRole ? { conferenceRole: party.conferenceRole } : {}),
        ...(party.uiCallInfo ? { uiCallInfo: party.uiCallInfo } : {}),
      };
      seq[si] += 1;
      return {
        sequence: seq[si],
        sessionId: sessions[si].sessionId,
        telephonySessionId: sessions[si].tsid,
        serverId: '10.13.22.27.TAM',
        eventTime: iso(startMs + s.t),
        parties: [ordered],
        origin: { type: sessions[si].origin },
      };
    });

    const record = c.writeCallLog ? this.record(c, tl, { startMs, sessionId }) : null;
    const played = {
      telephonySessionId: tl.tsid, sessionId, startTime: iso(startMs), durationMs: total,
      callLogRecordId: record?.id ?? null,
      events: events.map((e) => ({ sequence: e.sequence, telephonySessionId: e.telephonySessionId, eventTime: e.eventTime, partyId: e.parties[0].id, extensionId: e.parties[0].extensionId ?? null, direction: e.parties[0].direction, code: e.parties[0].status.code, reason: e.parties[0].status.reason ?? null, missedCall: e.parties[0].missedCall })),
      ...(sessions.length > 1 ? { sessions: sessions.map((x) => ({ telephonySessionId: x.tsid, sessionId: x.sessionId, origin: x.origin })) } : {}),
    };
    this.calls.push(played);
    for (let i = 0; i < events.length; i++) {
      if (i && c.paceMs > 0) await new Promise((r) => setTimeout(r, c.paceMs));
      this.emu.subscriptions.publish(c.account.id, events[i]);
    }
    if (record) {
      const now = this.emu.now();
      const first = { ...record.data };
      const owners = record.owners;
      const meta = { accountId: c.account.id, owners, startMs };
      if (c.recording && c.recordingLagMs > 0) {
        // The record first appears without its recording, which is attached later (softphones.md:
        // "recording appears seconds to minutes after the hang-up").
        const bare = { ...first };
        delete bare.recording;
        bare.legs = bare.legs?.map((l) => { const x = { ...l }; delete x.recording; return x; });
        this.emu.callLog.stage(record.id, bare, now + c.callLogLagMs, meta);
        this.emu.callLog.stage(record.id, first, now + c.callLogLagMs + c.recordingLagMs, meta);
      } else {
        this.emu.callLog.stage(record.id, first, now + c.callLogLagMs, meta);
      }
    }
    return played;
  }

  /** The CallLogRecord for a played call (plus the extensions whose call log shows it). */
  record(c, tl, { startMs, sessionId }) {
    const base = this.emu.baseUrl;
    const acc = c.account.id;
    const id = token(15);
    // A call merged into a conference ends, for its record, at the merge (README "Assumptions").
    const durationMs = tl.recordEnd ?? tl.end;
    const inbound = c.direction === 'Inbound';
    const ext = c.external;
    const target = inbound ? tl.target : c.user;
    const outside = { phoneNumber: ext.phoneNumber, ...(ext.name ? { name: ext.name } : {}), ...(ext.location ? { location: ext.location } : {}) };
    const rc = { phoneNumber: inbound ? c.dialed : (c.user.phoneNumber ?? c.account.mainNumber), name: target.name, extensionId: target.id, ...(inbound ? {} : { device: { id: c.user.deviceId, uri: `${base}/restapi/v1.0/account/${acc}/device/${c.user.deviceId}` } }) };
    let result; let reason; let reasonDescription;
    if (inbound) {
      if (c.outcome === 'answered') { result = 'Accepted'; reason = 'Accepted'; reasonDescription = 'The call was connected to and accepted by this number'; }
      else if (c.outcome === 'voicemail') result = 'Voicemail';
      else { result = 'Missed'; reason = 'No Answer'; reasonDescription = 'You did not answer the call'; }
    } else if (c.outcome === 'answered') result = 'Call connected';
    else if (c.outcome === 'busy') { result = 'Busy'; reason = 'Line Busy'; reasonDescription = 'The phone number you dialed was busy'; }
    else { result = 'No Answer'; reason = 'Not Answered'; reasonDescription = 'The phone number you dialed was not answered'; }
    const extensionRef = (e) => ({ uri: `${base}/restapi/v1.0/account/${acc}/extension/${e.id}`, id: Number(e.id) });
    const recording = c.recording ? {
      uri: `${base}/restapi/v1.0/account/${acc}/recording/${c.recording.id}`,
      id: c.recording.id,
      type: c.recording.type,
      contentUri: `${base}/restapi/v1.0/account/${acc}/recording/${c.recording.id}/content`,
    } : undefined;
    const common = { type: 'Voice', telephonySessionId: tl.tsid };
    const data = {
      sessionId,
      telephonySessionId: tl.tsid,
      partyId: tl.ownerParty.id,
      startTime: iso(startMs),
      duration: Math.round(durationMs / 1000),
      durationMs,
      type: 'Voice',
      internalType: 'LocalNumber',
      direction: c.direction,
      action: inbound ? 'Phone Call' : 'VoIP Call',
      result,
      ...(reason ? { reason, reasonDescription } : {}),
      to: inbound ? rc : outside,
      from: inbound ? outside : rc,
      ...(recording ? { recording } : {}),
      ...(c.outcome === 'voicemail' ? { message: { id: digits(13), type: 'VoiceMail', uri: `${base}/restapi/v1.0/account/${acc}/extension/${target.id}/message-store/MSGID` } } : {}),
      extension: extensionRef(target),
      transport: inbound ? 'PSTN' : 'VoIP',
      lastModifiedTime: iso(this.emu.now()),
    };
    if (data.message) data.message.uri = data.message.uri.replace('MSGID', data.message.id);
    // Detailed view legs (guide/voice/call-log/details): a master leg, then one per extension that
    // handled the call. Which legs RingCentral writes for queues and transfers is not documented;
    // this is a plausible minimum (README "Assumptions").
    const legs = [];
    if (inbound) {
      legs.push({ ...common, startTime: iso(startMs), duration: Math.round(durationMs / 1000), durationMs, direction: 'Inbound', action: 'Phone Call', result, ...(reason ? { reason } : {}), to: { phoneNumber: c.dialed, ...(c.queue ? { name: c.queue.name } : { name: target.name }) }, from: outside, transport: 'PSTN', legType: 'PstnToSip', master: true, partyId: tl.steps[0].p.id });
      if (c.queue && c.outcome !== 'answered') legs[0].extension = extensionRef(c.queue);
      if (tl.answerAt !== null && tl.answerAt !== undefined) {
        const first = tl.transferInfo ? tl.transferInfo.fromExt : tl.target;
        const firstEnd = tl.transferInfo ? tl.transferInfo.at : (tl.recordEnd ?? tl.end);
        legs.push({ ...common, startTime: iso(startMs + tl.answerAt), duration: Math.round((firstEnd - tl.answerAt) / 1000), durationMs: firstEnd - tl.answerAt, direction: 'Inbound', action: 'Phone Call', result: 'Accepted', to: { phoneNumber: c.dialed, name: first.name, extensionId: first.id }, from: outside, transport: 'PSTN', legType: 'Accept', extension: extensionRef(first), ...(recording ? { recording } : {}) });
        if (tl.transferInfo) {
          const ti = tl.transferInfo;
          legs.push({ ...common, startTime: iso(startMs + ti.at), duration: Math.round((tl.end - ti.at) / 1000), durationMs: tl.end - ti.at, direction: 'Inbound', action: 'Transfer', result: 'Accepted', to: { phoneNumber: tl.target.phoneNumber ?? c.dialed, name: tl.target.name, extensionId: tl.target.id }, from: outside, transport: 'PSTN', legType: 'TransferCall', extension: extensionRef(tl.target), ...(recording ? { recording } : {}) });
        }
      } else if (!c.queue) {
        legs.push({ ...common, startTime: iso(startMs), duration: Math.round(durationMs / 1000), durationMs, direction: 'Inbound', action: 'Phone Call', result, to: { phoneNumber: c.dialed, name: target.name, extensionId: target.id }, from: outside, transport: 'PSTN', legType: 'Accept', extension: extensionRef(target) });
      }
    } else {
      legs.push({ ...common, startTime: iso(startMs), duration: Math.round(durationMs / 1000), durationMs, direction: 'Outbound', action: 'VoIP Call', result, ...(reason ? { reason } : {}), to: outside, from: rc, transport: 'VoIP', legType: 'SipToPstnMetered', master: true, extension: extensionRef(c.user), ...(recording ? { recording } : {}) });
    }
    data.legs = legs;
    // Whose extension-level call log shows the record: the user for direct and outbound calls;
    // the answering agent (and the queue) for answered queue calls; the queue for missed ones;
    // both agents for a transfer.
    const owners = new Set([target.id]);
    if (c.queue) owners.add(c.queue.id);
    if (tl.transferInfo) owners.add(tl.transferInfo.fromExt.id);
    return { id, data, owners: [...owners] };
  }
}
