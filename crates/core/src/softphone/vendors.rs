//! Vendors' own softphone SDK protocols: JustCall, Ringover, RingCentral RingCX, Aircall
//! Everywhere, Zoom Phone Smart Embed and HubSpot's calling extensions, each decoded into the
//! same [`SoftphoneEvent`]s as RingCentral Embeddable.
//!
//! Where each shape comes from, and what is assumed, is in `docs/softphones.md`; replay fixtures
//! with the expected results are in `tests/fixtures/softphones/`. The vendors differ in names
//! more than in meaning, so every decoder here reads its envelope and fields into a [`Fact`]
//! (what this one message says about a call) and [`build`] turns it into a call event the same
//! way for all of them:
//!
//! - A vendor that names only the call's id after it rings (JustCall's answer and end,
//!   Aircall's) is completed from the call as the engine knows it ([`super::KnownCalls`]); an
//!   event about a call never seen to begin is ignored ([`IgnoreReason::UnknownCall`]).
//! - Times are the receive time (`ctx.now`) unless the vendor sends one: only RingCX
//!   (`startTime`) and HubSpot (`callStartTime`) do. A call known already keeps its times.
//! - A call that ends without an answer is missed, unless the vendor says more (HubSpot's
//!   `callEndStatus`, Aircall's refused ring) or says nothing usable (RingCX outbound: its
//!   `newCall` is the agent's leg, so whether the far end answered is unknown).
//!
//! Every field is read with the bounded reader ([`super::json`]); every event name a vendor
//! sends that Calltrail does not log is listed and ignored with a reason, and anything else,
//! including the host → widget commands of each protocol, is [`DecodeError::UnknownType`].

use serde_json::{json, Value};

use super::json::{check_id, clip, parties, Obj, MAX_ID, MAX_NUMBER, MAX_STRING, MAX_TEXT, MAX_TYPE};
use super::{check_call_times, fnv1a, DecodeContext, DecodeError, Decoded, IgnoreReason, Reply, SoftphoneEvent};
use crate::model::{Call, CallId, CallResult, ConversationId, CrmKind, Direction, LoggedBy, Message, MessageKind, RecordId, Timestamp};
use crate::phone::E164;
use crate::settings::Protocol;

/// The extension's own origin, fixed by the manifest's `key`: the page that hosts a frame when
/// Calltrail hosts it (a handshake names its host).
const EXTENSION_ORIGIN: &str = "chrome-extension://bicpcknbbpfahcmagcjbcgmfjdgbeppn";

/// Decodes one message of the vendor protocol `p` (never RingCentral Embeddable or generic,
/// which [`super::read`] decodes itself).
pub(super) fn decode(p: Protocol, origin: &str, data: &Value, ctx: &DecodeContext<'_>) -> Result<Decoded, DecodeError> {
    let top = Obj::new(data, "")?;
    let (event, reply) = match p {
        Protocol::JustCall => (justcall(top, ctx)?, None),
        Protocol::Ringover => ringover(top, ctx)?,
        Protocol::RingCx => (ringcx(top, ctx)?, None),
        Protocol::Aircall => aircall(top, ctx)?,
        Protocol::Zoom => (zoom(top, ctx)?, None),
        Protocol::HubSpot => (hubspot(origin, top, ctx)?, None),
        Protocol::RingCentral | Protocol::Generic => return Err(DecodeError::UnknownType(clip(origin))),
    };
    Ok(Decoded { event, reply })
}

// ---------------------------------------------------------------------------------------------
// The shared call builder

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Ringing,
    Answered,
    Ended,
    /// Content for a call (notes, recording, result, logger data), merged by the engine.
    Details,
}

/// What one message says about a call.
pub(super) struct Fact<'a> {
    pub event: &'a str,
    pub id: CallId,
    pub step: Step,
    /// Direction, their number and ours, when the message names them.
    pub who: Option<(Direction, E164, Option<E164>)>,
    pub started: Option<Timestamp>,
    /// Details only: an answer and an end the message states.
    pub answered: Option<Timestamp>,
    pub ended: Option<Timestamp>,
    /// At the end: seconds of talk, and of ringing before it.
    pub talk: Option<i64>,
    pub ring: Option<i64>,
    pub result: Option<CallResult>,
    pub recording: Option<String>,
    pub voicemail: Option<String>,
    pub notes: Option<String>,
    pub logged_by: Option<LoggedBy>,
}

impl<'a> Fact<'a> {
    pub(super) fn new(event: &'a str, id: CallId, step: Step) -> Fact<'a> {
        Fact {
            event,
            id,
            step,
            who: None,
            started: None,
            answered: None,
            ended: None,
            talk: None,
            ring: None,
            result: None,
            recording: None,
            voicemail: None,
            notes: None,
            logged_by: None,
        }
    }
}

pub(super) fn ignored(event: &str, reason: IgnoreReason) -> SoftphoneEvent {
    SoftphoneEvent::Ignored { event: event.to_owned(), reason }
}

/// The call event a fact makes, on top of the call as it is known (see the module docs).
pub(super) fn build(f: Fact<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let now = ctx.now;
    let mut call = match (ctx.known.known_call(&f.id), f.who) {
        (Some(known), _) => known.clone(),
        // Details make a call only when they end it (a logger's final record).
        (None, Some((direction, their, our))) if f.step != Step::Details || f.ended.is_some() => {
            let before = f.talk.unwrap_or(0) + f.ring.unwrap_or(0);
            let guess = if f.step == Step::Ended { now.plus_secs(-before) } else { now };
            Call::new(f.id, direction, their, our, f.started.unwrap_or(guess))
        }
        _ => return Ok(ignored(f.event, IgnoreReason::UnknownCall)),
    };
    let since_start = |t: Timestamp, call: &Call| t.max(call.started_at);
    call.recording_url = f.recording.or(call.recording_url);
    call.voicemail_url = f.voicemail.or(call.voicemail_url);
    if let Some(n) = f.notes {
        call.notes = n;
    }
    if call.logged_by.as_ref().is_none_or(|l| l.record.is_none()) {
        call.logged_by = f.logged_by.or(call.logged_by);
    }
    let event = match f.step {
        Step::Ringing => SoftphoneEvent::CallRinging(call),
        Step::Answered => {
            call.answered_at = Some(call.answered_at.unwrap_or(since_start(now, &call)));
            call.result = CallResult::Answered;
            call.ended_at = None;
            SoftphoneEvent::CallAnswered(call)
        }
        Step::Ended => {
            let ended = call.ended_at.unwrap_or(since_start(now, &call).max(call.answered_at.unwrap_or(call.started_at)));
            if call.answered_at.is_none() {
                call.answered_at = f.talk.filter(|t| *t > 0).map(|t| since_start(ended.plus_secs(-t), &call));
            }
            let known = (call.result != CallResult::Unknown).then_some(call.result);
            let default = if call.answered_at.is_some() { CallResult::Answered } else { CallResult::Missed };
            call.result = f.result.or(known).unwrap_or(default);
            call.ended_at = Some(ended);
            SoftphoneEvent::CallEnded(call)
        }
        Step::Details => {
            call.answered_at = call.answered_at.or(f.answered);
            call.ended_at = call.ended_at.or(f.ended);
            call.result = f.result.unwrap_or(call.result);
            SoftphoneEvent::CallDetails { call, manual: false }
        }
    };
    if let Some(c) = event.call() {
        check_call_times(c, ctx)?;
    }
    Ok(event)
}

/// `inbound` / `outbound` under the vendor's two words for them.
fn direction(o: Obj<'_>, key: &str, words: [&str; 2], required: bool) -> Result<Option<Direction>, DecodeError> {
    match o.str(key, MAX_STRING)? {
        None if required => Err(o.missing(key)),
        None => Ok(None),
        Some(w) if w.eq_ignore_ascii_case(words[0]) => Ok(Some(Direction::Inbound)),
        Some(w) if w.eq_ignore_ascii_case(words[1]) => Ok(Some(Direction::Outbound)),
        Some(w) => Err(o.invalid(key, w)),
    }
}

/// Direction and both parties from the `from` and `to` keys of `o`.
fn who(o: Obj<'_>, direction: Direction, from: &str, to: &str, ctx: &DecodeContext<'_>) -> Result<(Direction, E164, Option<E164>), DecodeError> {
    let (their, our) = parties(o, direction, o.number_text(from)?, o.number_text(to)?, ctx)?;
    Ok((direction, their, our))
}

/// `<prefix>:<id>` for the vendor's call id under `key`.
fn call_id(o: Obj<'_>, key: &str, prefix: &str) -> Result<CallId, DecodeError> {
    Ok(CallId::new(format!("{prefix}:{}", o.req_id(key)?)))
}

/// An SMS from a vendor that does not thread conversations itself: one per other party.
fn sms(id: String, conversation: String, direction: Direction, (their, our): (E164, Option<E164>), at: Timestamp, text: &str) -> SoftphoneEvent {
    SoftphoneEvent::Message(Message {
        id,
        conversation: ConversationId::new(conversation),
        kind: MessageKind::Sms,
        direction,
        our_number: our,
        their_number: their,
        at,
        text: text.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// JustCall Dialer SDK: `{name, data}`

fn justcall(top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let name = top.req_str("name", MAX_TYPE)?;
    let step = match name {
        "logged-in-status" | "is-logged-in" => return Ok(ignored(name, IgnoreReason::NothingToLog)),
        "call-ringing" => Step::Ringing,
        "call-answered" => Step::Answered,
        "call-ended" => Step::Ended,
        "sms-received" => {
            let d = top.req_obj("data", "data")?;
            let id = d.req_id("message_sid")?;
            let (their, our) = parties(d, Direction::Inbound, d.number_text("from")?, d.number_text("to")?, ctx)?;
            let text = d.str("body", MAX_TEXT)?.unwrap_or_default();
            // `received_at`'s format is not documented (the README's example is empty).
            let at = d.time("received_at", ctx).ok().flatten().unwrap_or(ctx.now);
            let conversation = format!("justcall:peer:{their}");
            return Ok(sms(format!("justcall:{id}"), conversation, Direction::Inbound, (their, our), at, text));
        }
        other => return Err(DecodeError::UnknownType(clip(other))),
    };
    let d = top.req_obj("data", "data")?;
    let mut f = Fact::new(name, call_id(d, "call_sid", "justcall")?, step);
    let dir = direction(d, "direction", ["inbound", "outbound"], step == Step::Ringing)?;
    if let (Step::Ringing, Some(dir)) = (step, dir) {
        f.who = Some(who(d, dir, "from", "to", ctx)?);
    }
    if step == Step::Ended {
        f.talk = d.secs("duration")?;
    }
    build(f, ctx)
}

// ---------------------------------------------------------------------------------------------
// Ringover SDK: `{action, data}`

type WithReply = Result<(SoftphoneEvent, Option<Reply>), DecodeError>;

fn ringover(top: Obj<'_>, ctx: &DecodeContext<'_>) -> WithReply {
    let action = top.req_str("action", MAX_TYPE)?;
    let step = match action {
        // The iframe looks for the SDK; the SDK answers with the page's origin.
        "checkSDK" => {
            let hello = json!({"action": "presenceSDK", "location": EXTENSION_ORIGIN});
            return Ok((ignored(action, IgnoreReason::NothingToLog), Some(Reply::Handshake(hello))));
        }
        "changePage" | "dialerReady" | "login" | "logout" => return Ok((ignored(action, IgnoreReason::NothingToLog), None)),
        "ringingCall" => Step::Ringing,
        "answeredCall" => Step::Answered,
        "hangupCall" => Step::Ended,
        "smsSent" | "smsReceived" => {
            let d = top.req_obj("data", "data")?;
            let conversation = d.req_id("conversation_id")?;
            let text = d.req_str("message", MAX_TEXT)?;
            let (dir, word, number) = if action == "smsSent" { (Direction::Outbound, "out", "to_number") } else { (Direction::Inbound, "in", "from_number") };
            let their = super::json::their_number(d.number_text(number)?, d.path_of(number), ctx)?;
            // No id, no time on the wire: the same text in the same minute is the same message.
            let minute = ctx.now.millis() / 60_000;
            let id = format!("ringover:{conversation}:{word}:{:016x}:{minute}", fnv1a(text));
            return Ok((sms(id, format!("ringover:{conversation}"), dir, (their, None), ctx.now, text), None));
        }
        other => return Err(DecodeError::UnknownType(clip(other))),
    };
    let d = top.req_obj("data", "data")?;
    let mut f = Fact::new(action, call_id(d, "call_id", "ringover")?, step);
    let dir = direction(d, "direction", ["in", "out"], true)?.unwrap_or(Direction::Inbound);
    f.who = Some(who(d, dir, "from_number", "to_number", ctx)?);
    f.ring = d.secs("ringDuration")?;
    f.talk = d.secs("callDuration")?;
    // A call between two users of the same Ringover team is not a customer's call.
    if d.bool("internal")? == Some(true) {
        return Ok((ignored(action, IgnoreReason::CallState), None));
    }
    Ok((build(f, ctx)?, None))
}

// ---------------------------------------------------------------------------------------------
// RingCentral RingCX (Engage Voice) Embeddable: `{type: 'MessageTransport-push', payload}`

fn ringcx(top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let ty = top.req_str("type", MAX_TYPE)?;
    match ty {
        // The one bare message: the widget says it started.
        "rc-ev-init" => Ok(ignored(ty, IgnoreReason::NothingToLog)),
        "MessageTransport-push" => {
            let p = top.req_obj("payload", "payload")?;
            let ev = p.req_str("type", MAX_TYPE)?;
            let step = match ev {
                "rc-ev-ringCall" => Step::Ringing,
                "rc-ev-newCall" => Step::Answered,
                "rc-ev-endCall" => Step::Ended,
                "rc-ev-sipRingCall" | "rc-ev-sipEndCall" => return Ok(ignored(ev, IgnoreReason::CallState)),
                "rc-ev-sipRegistered" | "rc-ev-sipUnregistered" | "rc-ev-sipUnstable" | "rc-ev-sipFailed" | "rc-ev-loadLeads"
                | "rc-ev-callLead" | "rc-ev-manualPassLead" | "rc-ev-pushAdapterState" => return Ok(ignored(ev, IgnoreReason::NothingToLog)),
                other => return Err(DecodeError::UnknownType(clip(other))),
            };
            // An ended call without a session comes without `call`: nothing to log.
            let Some(c) = p.obj("call", "payload.call")? else {
                return match step {
                    Step::Ended => Ok(ignored(ev, IgnoreReason::CallState)),
                    _ => Err(p.missing("call")),
                };
            };
            let (mut f, dir) = ringcx_call(ev, c, step, ctx)?;
            if dir == Direction::Outbound {
                match step {
                    // The agent's leg joined: the far end has not answered yet.
                    Step::Answered => f.step = Step::Ringing,
                    Step::Ended => f.result = Some(CallResult::Unknown),
                    _ => {}
                }
            }
            build(f, ctx)
        }
        "MessageTransport-request" => {
            top.req_id("requestId")?;
            let p = top.req_obj("payload", "payload")?;
            match p.req_str("requestType", MAX_TYPE)? {
                // The disposition a logger registered by the page receives: its notes.
                "rc-ev-logCall" => {
                    let d = p.req_obj("data", "payload.data")?;
                    let (mut f, _) = ringcx_call("rc-ev-logCall", d.req_obj("call", "payload.data.call")?, Step::Details, ctx)?;
                    let notes = match d.obj("task", "payload.data.task")? {
                        Some(t) => t.str("notes", MAX_TEXT)?.unwrap_or_default(),
                        None => "",
                    };
                    if notes.trim().is_empty() {
                        return Ok(ignored("rc-ev-logCall", IgnoreReason::NothingToLog));
                    }
                    f.notes = Some(notes.to_owned());
                    build(f, ctx)
                }
                r @ ("rc-ev-matchContacts" | "rc-ev-matchCallLogs" | "rc-ev-viewLead") => Ok(ignored(r, IgnoreReason::NothingToLog)),
                other => Err(DecodeError::UnknownType(clip(other))),
            }
        }
        other => Err(DecodeError::UnknownType(clip(other))),
    }
}

/// RingCX's call object (`formatEvCall`): `ani` is always the customer, so `from`/`to` follow
/// the direction as elsewhere.
fn ringcx_call<'a>(ev: &'a str, c: Obj<'_>, step: Step, ctx: &DecodeContext<'_>) -> Result<(Fact<'a>, Direction), DecodeError> {
    let mut f = Fact::new(ev, call_id(c, "id", "ringcx")?, step);
    let dir = direction(c, "direction", ["INBOUND", "OUTBOUND"], true)?.unwrap_or(Direction::Inbound);
    f.who = Some(who(c, dir, "from", "to", ctx)?);
    f.started = c.time("startTime", ctx)?;
    f.recording = c.link("recordingUrl", false)?;
    Ok((f, dir))
}

// ---------------------------------------------------------------------------------------------
// Aircall Everywhere (Workspace): `{name: 'apm_phone_<event>', value}`

fn aircall(top: Obj<'_>, ctx: &DecodeContext<'_>) -> WithReply {
    let name = top.req_str("name", MAX_TYPE)?;
    let Some(ev) = name.strip_prefix("apm_phone_") else {
        return Err(DecodeError::UnknownType(clip(name)));
    };
    let step = match ev {
        "loaded" => return Ok((ignored(name, IgnoreReason::NothingToLog), Some(Reply::Handshake(json!({"name": "apm_app_isready"}))))),
        "incoming_call" | "outgoing_call" => Step::Ringing,
        "outgoing_answered" => Step::Answered,
        "call_end_ringtone" | "comment_saved" => Step::Details,
        "call_ended" => Step::Ended,
        "logout" | "integration_settings" | "external_dial" | "powerdialer_updated" | "redirect_event" => {
            return Ok((ignored(name, IgnoreReason::NothingToLog), None));
        }
        e if e.ends_with("_response") => return Ok((ignored(name, IgnoreReason::NothingToLog), None)),
        _ => return Err(DecodeError::UnknownType(clip(name))),
    };
    let v = top.req_obj("value", "value")?;
    let mut f = Fact::new(name, call_id(v, "call_id", "aircall")?, step);
    match ev {
        "incoming_call" => f.who = Some(who(v, Direction::Inbound, "from", "to", ctx)?),
        "outgoing_call" => f.who = Some(who(v, Direction::Outbound, "from", "to", ctx)?),
        "call_end_ringtone" => match v.req_str("answer_status", MAX_STRING)? {
            "answered" => f.step = Step::Answered,
            "disconnected" => f.result = Some(CallResult::Missed),
            "refused" => f.result = Some(CallResult::Rejected),
            other => return Err(v.invalid("answer_status", other)),
        },
        // Whether `duration` counts the ringing is not documented: checked, not used.
        "call_ended" => {
            v.secs("duration")?;
        }
        "comment_saved" => f.notes = Some(v.req_str("comment", MAX_TEXT)?.to_owned()),
        _ => {}
    }
    Ok((build(f, ctx)?, None))
}

// ---------------------------------------------------------------------------------------------
// Zoom Phone Smart Embed: `{type: 'zp-…-event', data}`

fn zoom(top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let ty = top.req_str("type", MAX_TYPE)?;
    let step = match ty {
        "zp-call-ringing-event" => Step::Ringing,
        "zp-call-connected-event" => Step::Answered,
        "zp-call-ended-event" => Step::Ended,
        "zp-call-log-completed-event" | "zp-call-recording-completed-event" => Step::Details,
        // Payloads not public yet (docs/softphones.md): not logged until a live trace shows them.
        "zp-call-voicemail-received-event" | "zp-sms-log-event" => return Ok(ignored(ty, IgnoreReason::MessageKind)),
        "zp-ai-call-summary-event" | "zp-save-log-event" | "zp-contact-search-event" | "zp-contact-match-event" | "zp-notes-save-event" => {
            return Ok(ignored(ty, IgnoreReason::NothingToLog));
        }
        other => return Err(DecodeError::UnknownType(clip(other))),
    };
    let d = top.req_obj("data", "data")?;
    let mut f = Fact::new(ty, call_id(d, "callId", "zoom")?, step);
    if let Some(dir) = direction(d, "direction", ["inbound", "outbound"], step == Step::Ringing)? {
        let caller = zoom_number(d, "caller")?;
        let callee = zoom_number(d, "callee")?;
        if step == Step::Ringing || (caller.is_some() && callee.is_some()) {
            let (their, our) = super::json::sides(dir, caller, callee);
            let field = d.path_of(if dir == Direction::Inbound { "caller" } else { "callee" });
            f.who = Some((dir, super::json::their_number(their, field, ctx)?, super::json::our_number(our, ctx)));
        }
    }
    match step {
        Step::Ended => {
            f.result = match d.str("result", MAX_STRING)?.map(str::to_ascii_lowercase).as_deref() {
                Some("voicemail") => Some(CallResult::Voicemail),
                Some("busy") => Some(CallResult::Busy),
                Some("rejected" | "declined") => Some(CallResult::Rejected),
                _ => None,
            };
        }
        Step::Details => {
            d.secs("duration")?;
            d.time("dateTime", ctx)?;
            d.id("callLogId")?;
            f.recording = d.link("recordingUrl", false)?;
        }
        _ => {}
    }
    build(f, ctx)
}

/// A Zoom party's number: `{number | phoneNumber | didNumber | extensionNumber}`, whichever
/// public integrations saw (the payloads are not documented).
fn zoom_number<'a>(d: Obj<'a>, key: &'static str) -> Result<Option<&'a str>, DecodeError> {
    let Some(p) = d.obj(key, if key == "caller" { "data.caller" } else { "data.callee" })? else { return Ok(None) };
    for k in ["number", "phoneNumber", "didNumber", "extensionNumber"] {
        if let Some(n) = p.str(k, MAX_NUMBER)? {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// HubSpot calling extensions SDK: `{type, data, messageId}` from a vendor's frame inside HubSpot

fn hubspot(origin: &str, top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let ty = top.req_str("type", MAX_TYPE)?;
    // The SDK drops messages without one; so does Calltrail.
    top.req_str("messageId", MAX_STRING)?;
    let step = match ty {
        "INCOMING_CALL" | "OUTGOING_CALL_STARTED" => Step::Ringing,
        "CALL_ANSWERED" => Step::Answered,
        "CALL_ENDED" => Step::Ended,
        "CALL_COMPLETED" => Step::Details,
        "SYNC_ACK" | "INITIALIZED" | "LOGGED_IN" | "LOGGED_OUT" | "USER_AVAILABLE" | "USER_UNAVAILABLE" | "CALL_TRANSFERRED"
        | "FINALIZE_ENGAGEMENT" | "NAVIGATE_TO_RECORD" | "RESIZE_WIDGET" | "CALL_DATA" | "ERROR" | "PUBLISH_TO_CHANNEL" => {
            return Ok(ignored(ty, IgnoreReason::NothingToLog));
        }
        other => return Err(DecodeError::UnknownType(clip(other))),
    };
    let d = top.req_obj("data", "data")?;
    let external = d.req_str("externalCallId", MAX_ID)?;
    check_id(external, d.path_of("externalCallId"))?;
    // Vendors pick their own ids: the frame's origin keeps two vendors' ids apart.
    let mut f = Fact::new(ty, CallId::new(format!("hubspot-ext:{origin}:{external}")), step);
    f.logged_by = Some(LoggedBy { crm: CrmKind::HubSpot, record: d.id("engagementId")?.map(RecordId::new) });
    match ty {
        "INCOMING_CALL" => f.who = Some(who(d, Direction::Inbound, "fromNumber", "toNumber", ctx)?),
        "OUTGOING_CALL_STARTED" => f.who = Some(who(d, Direction::Outbound, "fromNumber", "toNumber", ctx)?),
        "CALL_ENDED" => {
            f.result = match d.str("callEndStatus", MAX_STRING)? {
                None => None,
                Some("COMPLETED") => Some(CallResult::Answered),
                Some("NO_ANSWER" | "MISSED" | "CANCELED") => Some(CallResult::Missed),
                Some("BUSY") => Some(CallResult::Busy),
                Some("REJECTED") => Some(CallResult::Rejected),
                Some("FAILED") => Some(CallResult::Failed),
                Some(other) => return Err(d.invalid("callEndStatus", other)),
            }
        }
        "CALL_COMPLETED" => {
            if let Some(p) = d.obj("engagementProperties", "data.engagementProperties")? {
                f.notes = p.str("hs_call_body", MAX_TEXT)?.filter(|n| !n.trim().is_empty()).map(str::to_owned);
                f.recording = p.link("hs_call_recording_url", false)?;
            }
        }
        _ => {}
    }
    f.started = d.time("callStartTime", ctx)?;
    build(f, ctx)
}
