//! Vendors' own softphone SDK protocols: JustCall, Ringover, RingCentral RingCX, Aircall
//! Everywhere, Zoom Phone Smart Embed and HubSpot's calling extensions, each decoded into the
//! same [`SoftphoneEvent`]s as RingCentral Embeddable.
//!
//! Where each shape comes from, and what is assumed, is in `docs/softphones.md`; replay fixtures
//! with the expected results are in `tests/fixtures/softphones/`. The vendors differ in names
//! more than in meaning, so each is a table, a [`Spelling`]: the envelope's keys, what each event
//! name means ([`Act`]), and the keys of the call's fields. One reader ([`spelled`]) reads any of
//! them into a [`Fact`] (what this one message says about a call), and [`build`] turns that into
//! a call event the same way for all of them (RingCX's envelope and its logger request are
//! unwrapped first, by hand):
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

use serde_json::Value;

use super::json::{clip, parties, Obj, MAX_STRING, MAX_TEXT, MAX_TYPE};
use super::{check_call_times, fnv1a, DecodeContext, DecodeError, Decoded, IgnoreReason, Reply, SoftphoneEvent};
use crate::model::{Call, CallId, CallResult, ConversationId, CrmKind, Direction, Message, MessageKind, Timestamp};
use crate::phone::E164;
use crate::settings::Protocol;

/// Decodes one message of the vendor protocol `p` (never RingCentral Embeddable or generic,
/// which [`super::read`] decodes itself).
pub(super) fn decode(p: Protocol, origin: &str, data: &Value, ctx: &DecodeContext<'_>) -> Result<Decoded, DecodeError> {
    let top = Obj::new(data, "")?;
    let (event, reply) = match p {
        Protocol::JustCall => spelled(&JUSTCALL, origin, top, ctx)?,
        Protocol::Ringover => spelled(&RINGOVER, origin, top, ctx)?,
        Protocol::RingCx => (ringcx(origin, top, ctx)?, None),
        Protocol::Aircall => spelled(&AIRCALL, origin, top, ctx)?,
        Protocol::Zoom => spelled(&ZOOM, origin, top, ctx)?,
        Protocol::HubSpot => spelled(&HUBSPOT, origin, top, ctx)?,
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
    pub logged_by: Option<CrmKind>,
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
    call.logged_by = call.logged_by.or(f.logged_by);
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

// ---------------------------------------------------------------------------------------------
// One reader for every vendor's spelling

/// What an event name means.
#[derive(Clone, Copy)]
enum Act {
    /// Ringing; the direction is in the message.
    Ring,
    /// Ringing, inbound or outbound by the event's name.
    RingIn,
    RingOut,
    Answer,
    /// RingCX's `newCall`: the agent's leg joined, which answers an inbound call but not an
    /// outbound one (the far end may still be ringing).
    AnswerIn,
    End,
    /// RingCX's `endCall`: an outbound call's far end may never have answered, and RingCX does
    /// not say: its result is unknown.
    EndAgent,
    /// Content for the call (a recording, a completed log).
    Details,
    /// The rep's notes, under the spelling's `notes` key.
    Notes,
    /// Aircall's `call_end_ringtone`: answered, or not (`answer_status`).
    Ringtone,
    Ignore(IgnoreReason),
    /// A handshake the vendor's SDK answers with this message (JSON text).
    Hello(&'static str),
    /// An SMS (behind a reference: every entry of a table is as large as the largest act).
    Sms(&'static Sms),
}

/// An SMS: outbound or not, and the keys of their number, ours, the text, the message id and
/// the conversation id ("" where the vendor has none) and its time.
struct Sms {
    out: bool,
    their: &'static str,
    ours: &'static str,
    text: &'static str,
    id: &'static str,
    conv: &'static str,
    at: &'static str,
}

/// How one vendor spells its envelope and its calls; "" for a key the vendor does not have.
pub(super) struct Spelling {
    /// The key of the event name, and of the object holding the fields (with its path for
    /// error messages).
    name: &'static str,
    body: &'static str,
    path: &'static str,
    /// A key every message must carry.
    must: &'static str,
    /// Call ids are `<prefix>:<id>` (`<prefix>:<origin>:<id>` for a CRM-owned call).
    prefix: &'static str,
    id: &'static str,
    direction: &'static str,
    /// The vendor's words for inbound and outbound, any case.
    words: [&'static str; 2],
    from: &'static str,
    to: &'static str,
    started: &'static str,
    /// Seconds of talk, and of ringing before it, at the end.
    talk: &'static str,
    ring: &'static str,
    recording: &'static str,
    notes: &'static str,
    /// An object inside the fields holding `recording` and `notes` (HubSpot's properties).
    props: &'static str,
    /// A boolean that marks a call not to log (Ringover's calls between colleagues).
    skip: &'static str,
    /// How the call ended, in words; `strict`: a word not known is refused.
    result: &'static str,
    strict: bool,
    /// The CRM that logs the vendor's calls itself.
    owner: Option<CrmKind>,
    events: &'static [(&'static str, Act)],
}

const NONE: Spelling = Spelling {
    name: "type",
    body: "data",
    path: "data",
    must: "",
    prefix: "",
    id: "",
    direction: "",
    words: ["inbound", "outbound"],
    from: "from",
    to: "to",
    started: "",
    talk: "",
    ring: "",
    recording: "",
    notes: "",
    props: "",
    skip: "",
    result: "",
    strict: false,
    owner: None,
    events: &[],
};

const NOTHING: Act = Act::Ignore(IgnoreReason::NothingToLog);

/// JustCall Dialer SDK: `{name, data}` (`saaslabsco/justcall-dialer-sdk`).
const JUSTCALL: Spelling = Spelling {
    name: "name",
    prefix: "justcall",
    id: "call_sid",
    direction: "direction",
    talk: "duration",
    events: &[
        ("call-ringing", Act::Ring),
        ("call-answered", Act::Answer),
        ("call-ended", Act::End),
        // `received_at`'s format is not documented (the README's example is empty).
        ("sms-received", Act::Sms(&Sms { out: false, their: "from", ours: "to", text: "body", id: "message_sid", conv: "", at: "received_at" })),
        ("logged-in-status", NOTHING),
        ("is-logged-in", NOTHING),
    ],
    ..NONE
};

/// Ringover SDK: `{action, data}` (`ringover/ringover-sdk`). SMS carry no id and no time: the
/// same text in the same conversation and minute is the same message.
const RINGOVER: Spelling = Spelling {
    name: "action",
    prefix: "ringover",
    id: "call_id",
    direction: "direction",
    words: ["in", "out"],
    from: "from_number",
    to: "to_number",
    talk: "callDuration",
    ring: "ringDuration",
    skip: "internal",
    events: &[
        ("ringingCall", Act::Ring),
        ("answeredCall", Act::Answer),
        ("hangupCall", Act::End),
        ("smsSent", Act::Sms(&Sms { out: true, their: "to_number", ours: "", text: "message", id: "", conv: "conversation_id", at: "" })),
        ("smsReceived", Act::Sms(&Sms { out: false, their: "from_number", ours: "", text: "message", id: "", conv: "conversation_id", at: "" })),
        // The iframe looks for the SDK; the SDK answers with the page's origin, which is the
        // extension's own (fixed by the manifest's key) when Calltrail hosts the frame.
        ("checkSDK", Act::Hello(r#"{"action":"presenceSDK","location":"chrome-extension://bicpcknbbpfahcmagcjbcgmfjdgbeppn"}"#)),
        ("changePage", NOTHING),
        ("dialerReady", NOTHING),
        ("login", NOTHING),
        ("logout", NOTHING),
    ],
    ..NONE
};

/// RingCX (Engage Voice) Embeddable's call object, inside `{type: 'MessageTransport-push',
/// payload}` (`ringcentral/engage-voice-embeddable`, `formatEvCall`).
const RINGCX: Spelling = Spelling {
    body: "call",
    path: "payload.call",
    prefix: "ringcx",
    id: "id",
    direction: "direction",
    words: ["INBOUND", "OUTBOUND"],
    started: "startTime",
    recording: "recordingUrl",
    events: &[
        ("rc-ev-ringCall", Act::Ring),
        ("rc-ev-newCall", Act::AnswerIn),
        ("rc-ev-endCall", Act::EndAgent),
        ("rc-ev-sipRingCall", Act::Ignore(IgnoreReason::CallState)),
        ("rc-ev-sipEndCall", Act::Ignore(IgnoreReason::CallState)),
        ("rc-ev-sipRegistered", NOTHING),
        ("rc-ev-sipUnregistered", NOTHING),
        ("rc-ev-sipUnstable", NOTHING),
        ("rc-ev-sipFailed", NOTHING),
        ("rc-ev-loadLeads", NOTHING),
        ("rc-ev-callLead", NOTHING),
        ("rc-ev-manualPassLead", NOTHING),
        ("rc-ev-pushAdapterState", NOTHING),
    ],
    ..NONE
};

/// Aircall Everywhere v2 (Workspace): `{name: 'apm_phone_<event>', value}`
/// (`aircall/aircall-everywhere`). `call_ended`'s `duration` may or may not count the ringing:
/// the event times are used instead.
const AIRCALL: Spelling = Spelling {
    name: "name",
    body: "value",
    path: "value",
    prefix: "aircall",
    id: "call_id",
    notes: "comment",
    events: &[
        ("apm_phone_incoming_call", Act::RingIn),
        ("apm_phone_outgoing_call", Act::RingOut),
        ("apm_phone_outgoing_answered", Act::Answer),
        ("apm_phone_call_end_ringtone", Act::Ringtone),
        ("apm_phone_call_ended", Act::End),
        ("apm_phone_comment_saved", Act::Notes),
        ("apm_phone_loaded", Act::Hello(r#"{"name":"apm_app_isready"}"#)),
        ("apm_phone_logout", NOTHING),
        ("apm_phone_integration_settings", NOTHING),
        ("apm_phone_external_dial", NOTHING),
        ("apm_phone_powerdialer_updated", NOTHING),
        ("apm_phone_redirect_event", NOTHING),
        ("apm_phone_is_logged_in_response", NOTHING),
        ("apm_phone_dial_number_response", NOTHING),
        ("apm_phone_exit_keyboard_response", NOTHING),
    ],
    ..NONE
};

/// Zoom Phone Smart Embed: `{type: 'zp-…-event', data}`. Only the names are documented; the
/// fields are what public integrations saw (docs/softphones.md): a party's number may be under
/// any of four keys, results are read only where they say more than the events did.
const ZOOM: Spelling = Spelling {
    prefix: "zoom",
    id: "callId",
    direction: "direction",
    from: "caller",
    to: "callee",
    started: "dateTime",
    talk: "duration",
    recording: "recordingUrl",
    result: "result",
    events: &[
        ("zp-call-ringing-event", Act::Ring),
        ("zp-call-connected-event", Act::Answer),
        ("zp-call-ended-event", Act::End),
        ("zp-call-log-completed-event", Act::Details),
        ("zp-call-recording-completed-event", Act::Details),
        // Payloads not public yet: not logged until a live trace shows them.
        ("zp-call-voicemail-received-event", Act::Ignore(IgnoreReason::MessageKind)),
        ("zp-sms-log-event", Act::Ignore(IgnoreReason::MessageKind)),
        ("zp-ai-call-summary-event", NOTHING),
        ("zp-save-log-event", NOTHING),
        ("zp-contact-search-event", NOTHING),
        ("zp-contact-match-event", NOTHING),
        ("zp-notes-save-event", NOTHING),
    ],
    ..NONE
};

/// HubSpot's calling extensions SDK, from a vendor's frame inside HubSpot: `{type, data,
/// messageId}` (`HubSpot/calling-extensions-sdk`). HubSpot creates the call's engagement
/// itself; vendors pick their own ids, so the frame's origin keeps two vendors apart.
const HUBSPOT: Spelling = Spelling {
    must: "messageId",
    prefix: "hubspot-ext",
    id: "externalCallId",
    from: "fromNumber",
    to: "toNumber",
    started: "callStartTime",
    recording: "hs_call_recording_url",
    notes: "hs_call_body",
    props: "engagementProperties",
    result: "callEndStatus",
    strict: true,
    owner: Some(CrmKind::HubSpot),
    events: &[
        ("INCOMING_CALL", Act::RingIn),
        ("OUTGOING_CALL_STARTED", Act::RingOut),
        ("CALL_ANSWERED", Act::Answer),
        ("CALL_ENDED", Act::End),
        ("CALL_COMPLETED", Act::Details),
        ("SYNC_ACK", NOTHING),
        ("INITIALIZED", NOTHING),
        ("LOGGED_IN", NOTHING),
        ("LOGGED_OUT", NOTHING),
        ("USER_AVAILABLE", NOTHING),
        ("USER_UNAVAILABLE", NOTHING),
        ("CALL_TRANSFERRED", NOTHING),
        ("FINALIZE_ENGAGEMENT", NOTHING),
        ("NAVIGATE_TO_RECORD", NOTHING),
        ("RESIZE_WIDGET", NOTHING),
        ("CALL_DATA", NOTHING),
        ("ERROR", NOTHING),
        ("PUBLISH_TO_CHANNEL", NOTHING),
    ],
    ..NONE
};

/// How a call ended, from a vendor's word for it, any case.
/// (RingCentral's call log too: `Accepted`, `Call connected`, `Hang Up`, `Stopped`...)
pub(super) fn result_word(w: &str) -> Option<CallResult> {
    Some(match w.to_ascii_lowercase().as_str() {
        "completed" | "answered" | "accepted" | "call connected" => CallResult::Answered,
        "no_answer" | "no answer" | "missed" | "canceled" | "hang up" | "stopped" | "abandoned" => CallResult::Missed,
        "busy" => CallResult::Busy,
        "rejected" | "declined" => CallResult::Rejected,
        "failed" | "call failed" | "internal error" => CallResult::Failed,
        "voicemail" => CallResult::Voicemail,
        _ => return None,
    })
}

/// Reads one message in `sp`'s spelling.
fn spelled(sp: &Spelling, origin: &str, top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<(SoftphoneEvent, Option<Reply>), DecodeError> {
    if !sp.must.is_empty() {
        // HubSpot's SDK drops messages without one; so does Calltrail.
        top.req_str(sp.must, MAX_STRING)?;
    }
    let name = top.req_str(sp.name, MAX_TYPE)?;
    let Some(act) = sp.events.iter().find(|(n, _)| *n == name).map(|(_, a)| *a) else {
        return Err(DecodeError::UnknownType(clip(name)));
    };
    let step = match act {
        Act::Ignore(reason) => return Ok((ignored(name, reason), None)),
        Act::Hello(text) => return Ok((ignored(name, IgnoreReason::NothingToLog), serde_json::from_str(text).ok().map(Reply::Handshake))),
        Act::Sms(&Sms { out, their, ours, text, id, conv, at }) => {
            let d = top.req_obj(sp.body, sp.path)?;
            let direction = if out { Direction::Outbound } else { Direction::Inbound };
            let their = super::json::their_number(d.number_text(their)?, d.path_of(their), ctx)?;
            let ours = if ours.is_empty() { None } else { super::json::our_number(d.number_text(ours)?, ctx) };
            let text = d.req_str(text, MAX_TEXT)?;
            let at = if at.is_empty() { None } else { d.time(at, ctx).ok().flatten() };
            let conv = if conv.is_empty() { format!("peer:{their}") } else { d.req_id(conv)? };
            let id = if id.is_empty() {
                let minute = ctx.now.millis() / 60_000;
                format!("{conv}:{}:{:016x}:{minute}", if out { "out" } else { "in" }, fnv1a(text))
            } else {
                d.req_id(id)?
            };
            let message = Message {
                id: format!("{}:{id}", sp.prefix),
                conversation: ConversationId::new(format!("{}:{conv}", sp.prefix)),
                kind: MessageKind::Sms,
                direction,
                our_number: ours,
                their_number: their,
                at: at.unwrap_or(ctx.now),
                text: text.to_owned(),
            };
            return Ok((SoftphoneEvent::Message(message), None));
        }
        Act::Ring | Act::RingIn | Act::RingOut => Step::Ringing,
        Act::Answer | Act::AnswerIn => Step::Answered,
        Act::End | Act::EndAgent => Step::Ended,
        Act::Details | Act::Notes | Act::Ringtone => Step::Details,
    };
    let d = top.req_obj(sp.body, sp.path)?;
    let raw = d.req_id(sp.id)?;
    let id = match sp.owner {
        Some(_) => format!("{}:{origin}:{raw}", sp.prefix),
        None => format!("{}:{raw}", sp.prefix),
    };
    let mut f = Fact::new(name, CallId::new(id), step);
    let dir = match act {
        Act::RingIn => Some(Direction::Inbound),
        Act::RingOut => Some(Direction::Outbound),
        _ if sp.direction.is_empty() => None,
        _ => match d.str(sp.direction, MAX_STRING)? {
            None if matches!(act, Act::Ring) => return Err(d.missing(sp.direction)),
            None => None,
            Some(w) if w.eq_ignore_ascii_case(sp.words[0]) => Some(Direction::Inbound),
            Some(w) if w.eq_ignore_ascii_case(sp.words[1]) => Some(Direction::Outbound),
            Some(w) => return Err(d.invalid(sp.direction, w)),
        },
    };
    // Who is on the call: always on a ringing call, and wherever else the message says it.
    if let Some(dir) = dir {
        if step == Step::Ringing || d.get(sp.from).is_some() {
            let (their, our) = parties(d, dir, d.number_text(sp.from)?, d.number_text(sp.to)?, ctx)?;
            f.who = Some((dir, their, our));
        }
    }
    let read_secs = |key: &str| if key.is_empty() { Ok(None) } else { d.secs(key) };
    f.talk = read_secs(sp.talk)?;
    f.ring = read_secs(sp.ring)?;
    if !sp.started.is_empty() {
        f.started = d.time(sp.started, ctx)?;
    }
    let props = if sp.props.is_empty() { Some(d) } else { d.obj(sp.props, "data.engagementProperties")? };
    if let Some(p) = props {
        if !sp.recording.is_empty() {
            f.recording = p.link(sp.recording, false)?;
        }
        if !sp.notes.is_empty() {
            let notes = if matches!(act, Act::Notes) { Some(p.req_str(sp.notes, MAX_TEXT)?) } else { p.str(sp.notes, MAX_TEXT)? };
            f.notes = notes.filter(|n| !n.trim().is_empty()).map(str::to_owned);
        }
    }
    if !sp.skip.is_empty() && d.bool(sp.skip)? == Some(true) {
        return Ok((ignored(name, IgnoreReason::CallState), None));
    }
    match act {
        Act::Ringtone => match d.req_str("answer_status", MAX_STRING)? {
            "answered" => f.step = Step::Answered,
            "disconnected" => f.result = Some(CallResult::Missed),
            "refused" => f.result = Some(CallResult::Rejected),
            other => return Err(d.invalid("answer_status", other)),
        },
        Act::AnswerIn if dir == Some(Direction::Outbound) => f.step = Step::Ringing,
        Act::EndAgent if dir == Some(Direction::Outbound) => f.result = Some(CallResult::Unknown),
        Act::End if !sp.result.is_empty() => {
            if let Some(w) = d.str(sp.result, MAX_STRING)? {
                f.result = result_word(w);
                if f.result.is_none() && sp.strict {
                    return Err(d.invalid(sp.result, w));
                }
            }
        }
        _ => {}
    }
    if let Some(crm) = sp.owner {
        f.logged_by = Some(crm);
    }
    Ok((build(f, ctx)?, None))
}

/// RingCX's envelope: call events pushed as `MessageTransport-push`, the widget's one bare
/// message, and requests for a logger the page registered.
fn ringcx(origin: &str, top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let ty = top.req_str("type", MAX_TYPE)?;
    match ty {
        "rc-ev-init" => Ok(ignored(ty, IgnoreReason::NothingToLog)),
        "MessageTransport-push" => {
            let p = top.req_obj("payload", "payload")?;
            // An ended call without a session comes without `call`: nothing to log.
            if p.str("type", MAX_TYPE)? == Some("rc-ev-endCall") && p.get("call").is_none() {
                return Ok(ignored("rc-ev-endCall", IgnoreReason::CallState));
            }
            spelled(&RINGCX, origin, p, ctx).map(|(e, _)| e)
        }
        // The widget's requests go to a logger the page registered (Calltrail registers none
        // inside another's RingCX: it would replace the page's): theirs to answer and read.
        "MessageTransport-request" => {
            top.req_id("requestId")?;
            top.req_obj("payload", "payload")?;
            Ok(ignored(ty, IgnoreReason::NothingToLog))
        }
        other => Err(DecodeError::UnknownType(clip(other))),
    }
}
