//! Decoding untrusted softphone messages into validated, softphone-neutral events.
//!
//! A softphone iframe posts messages into the page that hosts it; the extension's content script
//! relays `(event.origin, event.data)` and the service worker hands both to [`read`]. This
//! module owns the rules that turn those bytes into a [`SoftphoneEvent`] built from the domain
//! types ([`Call`], [`Message`]), and what Calltrail answers the frame ([`Reply`]), or into a
//! [`DecodeError`] that says what was wrong. The trusted origin's tag in the settings
//! (`softphone_protocols`) picks the decoder:
//!
//! - untagged: RingCentral Embeddable's broadcast events ([`ringcentral`]) or Calltrail's own
//!   protocol ([`generic`]), told apart by shape as they always were;
//! - `ringcentral`: Embeddable's broadcast events, and Calltrail registered as the widget's
//!   call logger and contact source (`service`: registration, contact match and search, the
//!   logger's requests);
//! - `generic`: only Calltrail's own protocol;
//! - `justcall`, `ringover`, `ringcx`, `aircall`, `zoom`, `hubspot`: each vendor's SDK protocol
//!   (`vendors`; `docs/softphones.md` says where each shape comes from).
//!
//! Invariants:
//! - **Origin first.** Nothing in a message is read unless `origin` is byte-for-byte one of the
//!   trusted origins (no case folding, suffix, prefix or `contains` match): any page can post a
//!   look-alike message to itself, so the origin check is the first gate and exact. The decoder
//!   is the one the origin's tag names; a message in another vendor's shape is refused.
//! - **Every input decodes to a value or an error; nothing panics.** Every string is bounded,
//!   every number checked, every time checked against `now` (after 2000, at most 10 minutes
//!   ahead, a call at most 24 hours long, end not before answer, answer not before start).
//! - **One call, one id.** Every event about the same call, from any event stream, any tab, or
//!   repeated, yields the same [`CallId`] (see [`ringcentral`] for the choice of field), and ids
//!   of different vendors never collide (`rc:`, `gen:`, `justcall:`, `ringover:`, `ringcx:`,
//!   `aircall:`, `zoom:`, `hubspot-ext:`).
//! - **What a message does not say comes from the call as the engine knows it.** Several
//!   vendors name only the call's id once it rings (JustCall's and Aircall's end, Aircall's
//!   answer); their decoders read the rest through [`KnownCalls`], and an event about a call
//!   never seen to begin is ignored with [`IgnoreReason::UnknownCall`]. Otherwise each event is
//!   decoded alone; the engine merges events of one call by id. [`SoftphoneEvent::dedupe_key`]
//!   names repeats.
//!
//! No I/O: `now` comes in through [`DecodeContext`], as everywhere in the core.

pub mod generic;
mod json;
pub mod ringcentral;
pub mod service;
mod vendors;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Call, CallId, Message, Timestamp};
use crate::phone::{Country, E164};
use crate::settings::{Protocol, ProtocolTags, Settings};

/// The calls the engine knows, by id: what an event that names only a call's id is read against.
pub trait KnownCalls {
    fn known_call(&self, id: &CallId) -> Option<&Call>;
}

/// No calls known (tests, and callers that decode one message alone).
impl KnownCalls for () {
    fn known_call(&self, _: &CallId) -> Option<&Call> {
        None
    }
}


/// What decoding needs besides the message: whom to trust and in which protocol, how to read
/// national numbers, the time the shell received the message (for sanity checks and receive-time
/// stamps), and the calls already known.
#[derive(Clone, Copy)]
pub struct DecodeContext<'a> {
    /// Exact origins (`https://host[:port]`) whose messages are accepted.
    pub trusted_origins: &'a [String],
    /// The protocol each tagged origin speaks.
    pub protocols: &'a ProtocolTags,
    pub default_country: Country,
    /// When the shell received the message.
    pub now: Timestamp,
    pub known: &'a dyn KnownCalls,
}

impl<'a> DecodeContext<'a> {
    /// Untagged origins and no known calls.
    pub fn new(trusted_origins: &'a [String], default_country: Country, now: Timestamp) -> DecodeContext<'a> {
        static UNTAGGED: std::sync::OnceLock<ProtocolTags> = std::sync::OnceLock::new();
        DecodeContext { trusted_origins, protocols: UNTAGGED.get_or_init(ProtocolTags::default), default_country, now, known: &() }
    }

    pub fn from_settings(settings: &'a Settings, now: Timestamp, known: &'a dyn KnownCalls) -> DecodeContext<'a> {
        DecodeContext {
            trusted_origins: &settings.softphone_origins,
            protocols: &settings.softphone_protocols,
            default_country: settings.default_country,
            now,
            known,
        }
    }
}

/// A decoded message: the fact, and what to answer the frame, if anything.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub event: SoftphoneEvent,
    pub reply: Option<Reply>,
}

/// What Calltrail answers a softphone frame. The shell posts it back to the frame the message
/// came from, with that frame's origin as the target.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Post this message as it is: the registration as RingCentral's logger, "ok" to a logger
    /// request.
    Message(Value),
    /// A vendor SDK's handshake answer, posted only when Calltrail itself hosts the frame (the
    /// side panel); in a web page the vendor's SDK on the page answers it.
    Handshake(Value),
    /// RingCentral asks (request `id`) for the contacts matching `numbers`, or, with `text`,
    /// searches: the driver answers from what the CRMs say ([`service::contacts_reply`]).
    Contacts { id: String, numbers: Vec<E164>, text: Option<String> },
}

/// A validated softphone fact, whichever softphone it came from.
///
/// Call events carry the whole [`Call`] as far as that one message tells it: a ringing call has
/// no `answered_at`, an ended call has `ended_at`, and `result` is [`CallResult::Unknown`] until
/// the call has ended (or [`CallResult::Answered`] once it is answered).
///
/// [`CallResult::Unknown`]: crate::model::CallResult::Unknown
/// [`CallResult::Answered`]: crate::model::CallResult::Answered
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum SoftphoneEvent {
    /// Inbound ringing, or an outbound call placed and not yet answered.
    CallRinging(Call),
    /// The call was answered (inbound) or connected (outbound).
    CallAnswered(Call),
    CallHeld(Call),
    CallResumed(Call),
    /// The call is over; `ended_at` is set, `result` says how it went.
    CallEnded(Call),
    /// The softphone saved the rep's notes for a call (generic protocol only).
    CallNotes {
        call: CallId,
        notes: String,
    },
    /// What a softphone's own logger or call log says of a call, merged into what is known (the
    /// engine's `CallDetails`): it fills what is missing, and its result, recording, voicemail,
    /// AI note, transcript and notes win. A call it names with an end is over. `manual`: the
    /// rep pressed the softphone's own "log" button (Calltrail's manual log).
    CallDetails {
        call: Call,
        manual: bool,
    },
    /// An SMS or a fax, inbound or outbound, new or updated.
    Message(Message),
    /// A well-formed message from a trusted softphone that Calltrail deliberately does not log.
    Ignored {
        event: String,
        reason: IgnoreReason,
    },
}

/// Why a trusted, well-formed message produced nothing to log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoreReason {
    /// A known event that carries no call or message: login, settings, routes, UI state.
    NothingToLog,
    /// A call-state change that does not change the log: mute, park, an intermediate
    /// presence update.
    CallState,
    /// Another stream reports the same facts and is the one decoded (RingOut and Call Control
    /// events repeat presence).
    Redundant,
    /// A message kind Calltrail does not log: voicemail, pager, text.
    MessageKind,
    /// A message that has been deleted or purged.
    Deleted,
    /// An event about a call Calltrail never saw begin, that does not say who called.
    UnknownCall,
}

impl IgnoreReason {
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::NothingToLog => "nothing_to_log",
            IgnoreReason::CallState => "call_state",
            IgnoreReason::Redundant => "redundant",
            IgnoreReason::MessageKind => "message_kind",
            IgnoreReason::Deleted => "deleted",
            IgnoreReason::UnknownCall => "unknown_call",
        }
    }
}

/// Why a message was refused. Messages quote at most 64 characters of untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message from untrusted origin {0:?}")]
    UntrustedOrigin(String),
    #[error("message data is not an object")]
    NotAnObject,
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("unsupported generic protocol version {0}")]
    UnsupportedVersion(String),
    #[error("missing field {0}")]
    MissingField(String),
    #[error("field {field} should be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("field {field} is longer than {max} bytes")]
    Oversized { field: String, max: usize },
    #[error("field {field} has an unknown value {value:?}")]
    InvalidValue { field: String, value: String },
    #[error("field {0} is not a usable id")]
    InvalidId(String),
    #[error("field {field} is not a phone number: {reason}")]
    InvalidNumber { field: String, reason: String },
    #[error("absurd time in {field}: {reason}")]
    AbsurdTime { field: String, reason: &'static str },
}

impl DecodeError {
    /// A stable snake_case name for the kind of error, for the audit trail, counters and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::UntrustedOrigin(_) => "untrusted_origin",
            DecodeError::NotAnObject => "not_an_object",
            DecodeError::UnknownType(_) => "unknown_type",
            DecodeError::UnsupportedVersion(_) => "unsupported_version",
            DecodeError::MissingField(_) => "missing_field",
            DecodeError::WrongType { .. } => "wrong_type",
            DecodeError::Oversized { .. } => "oversized",
            DecodeError::InvalidValue { .. } => "invalid_value",
            DecodeError::InvalidId(_) => "invalid_id",
            DecodeError::InvalidNumber { .. } => "invalid_number",
            DecodeError::AbsurdTime { .. } => "absurd_time",
        }
    }
}

/// Decodes one message `data` that arrived with `origin` (the `MessageEvent.origin`): the event
/// only (see [`read`]).
pub fn decode(origin: &str, data: &Value, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    read(origin, data, ctx).map(|d| d.event)
}

/// Decodes one message and what to answer the frame.
///
/// Order: the origin is checked first and exactly; then the message must be an object; then
/// the origin's tag picks the decoder. Untagged, a `calltrail` key selects the generic protocol
/// and a `type` starting with `rc-` RingCentral Embeddable; anything else is
/// [`DecodeError::UnknownType`].
pub fn read(origin: &str, data: &Value, ctx: &DecodeContext<'_>) -> Result<Decoded, DecodeError> {
    if !ctx.trusted_origins.iter().any(|o| o == origin) {
        return Err(DecodeError::UntrustedOrigin(json::clip(origin)));
    }
    let Value::Object(map) = data else {
        return Err(DecodeError::NotAnObject);
    };
    let event = |e: Result<SoftphoneEvent, DecodeError>| e.map(|event| Decoded { event, reply: None });
    let protocol = ctx.protocols.get(origin);
    match protocol {
        Some(Protocol::Generic) => return event(generic::decode(data, ctx)),
        Some(Protocol::RingCentral) | None => {}
        Some(p) => return vendors::decode(p, origin, data, ctx),
    }
    if protocol.is_none() && map.contains_key(generic::VERSION_KEY) {
        return event(generic::decode(data, ctx));
    }
    match map.get("type") {
        Some(Value::String(t)) if t.len() <= json::MAX_TYPE && t.starts_with("rc-") => match protocol {
            Some(_) => service::decode(t, data, ctx),
            None => event(ringcentral::decode(t, data, ctx)),
        },
        Some(Value::String(t)) => Err(DecodeError::UnknownType(json::clip(t))),
        Some(_) => Err(DecodeError::WrongType {
            field: "type".into(),
            expected: "a string",
        }),
        None => Err(DecodeError::MissingField("type".into())),
    }
}

impl SoftphoneEvent {
    /// The call a call event carries (ringing, answered, held, resumed, ended).
    pub fn call(&self) -> Option<&Call> {
        match self {
            SoftphoneEvent::CallRinging(c)
            | SoftphoneEvent::CallAnswered(c)
            | SoftphoneEvent::CallHeld(c)
            | SoftphoneEvent::CallResumed(c)
            | SoftphoneEvent::CallEnded(c) => Some(c),
            SoftphoneEvent::CallDetails { call, .. } => Some(call),
            SoftphoneEvent::CallNotes { .. } | SoftphoneEvent::Message(_) | SoftphoneEvent::Ignored { .. } => None,
        }
    }

    /// The call this event is about, if it is about a call.
    pub fn call_id(&self) -> Option<&CallId> {
        match self {
            SoftphoneEvent::CallNotes { call, .. } => Some(call),
            other => other.call().map(|c| &c.id),
        }
    }

    /// A key that is equal for two events exactly when the second one repeats the first: the
    /// same fact about the same call or message, whether it came twice from one tab, once from
    /// each of two tabs, or once from each of RingCentral's webphone and presence streams (both
    /// end events of a call share `call|<id>|ended`).
    ///
    /// Call phases key on the call id and the phase. Notes and messages also key on a
    /// fingerprint of their text, so a changed note or a fax whose status moved from "Queued"
    /// to "Sent" is not a repeat. `None` for ignored messages.
    ///
    /// Hold and resume can legitimately repeat within one call (hold, resume, hold), so a shell
    /// should drop repeats only within a short window (RingCentral's widget uses 30 seconds),
    /// and the engine must treat every event as idempotent anyway: a dropped repeat is only an
    /// optimisation.
    pub fn dedupe_key(&self) -> Option<String> {
        let call = |c: &Call, phase: &str| format!("call|{}|{phase}", c.id);
        Some(match self {
            SoftphoneEvent::CallRinging(c) => call(c, "ringing"),
            SoftphoneEvent::CallAnswered(c) => call(c, "answered"),
            SoftphoneEvent::CallHeld(c) => call(c, "held"),
            SoftphoneEvent::CallResumed(c) => call(c, "resumed"),
            SoftphoneEvent::CallEnded(c) => call(c, "ended"),
            SoftphoneEvent::CallNotes { call, notes } => {
                format!("call|{call}|notes|{:016x}", fnv1a(notes))
            }
            // Logger requests repeat as the softphone learns more (RingCentral's presence
            // updates, then the call-log record): a repeat is the same content again.
            SoftphoneEvent::CallDetails { call, manual } => {
                let content = [call.recording_url.as_deref(), call.voicemail_url.as_deref(), call.ai_note.as_deref(), call.transcript.as_deref(), Some(&call.notes), Some(call.result.word())];
                let print = content.iter().fold(fnv1a(if *manual { "manual" } else { "auto" }), |h, c| {
                    (h ^ fnv1a(c.unwrap_or("-"))).wrapping_mul(0x0000_0100_0000_01b3)
                });
                format!("call|{}|details|{}|{print:016x}", call.id, call.ended_at.is_some())
            }
            SoftphoneEvent::Message(m) => format!("message|{}|{:016x}", m.id, fnv1a(&m.text)),
            SoftphoneEvent::Ignored { .. } => return None,
        })
    }
}

/// FNV-1a, 64 bit: a stable fingerprint (not a security boundary; the key also holds the id).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Checks the times of a decoded call against each other and against `now` (each time was
/// already checked alone by the JSON reader): answer not before start, end not before answer or
/// start, at most 24 hours from start to end, and a call still in progress started at most 24
/// hours ago.
fn check_call_times(call: &Call, ctx: &DecodeContext<'_>) -> Result<(), DecodeError> {
    let absurd = |reason| {
        Err(DecodeError::AbsurdTime {
            field: "call".into(),
            reason,
        })
    };
    if let Some(a) = call.answered_at {
        if a < call.started_at {
            return absurd("answered before it started");
        }
    }
    match call.ended_at {
        Some(e) => {
            if e < call.started_at || call.answered_at.is_some_and(|a| e < a) {
                return absurd("ended before it started or was answered");
            }
            if e.since(call.started_at) > json::MAX_CALL_MS {
                return absurd("longer than 24 hours");
            }
        }
        None => {
            if ctx.now.since(call.started_at) > json::MAX_CALL_MS {
                return absurd("in progress for more than 24 hours");
            }
        }
    }
    Ok(())
}

/// What the engine hears of a decoded event: `None` for events that log nothing.
///
/// The softphone's "answered" is the engine's `CallStarted` (the call is under way); hold and
/// resume only update the call; notes saved by the softphone are the rep's notes.
pub fn to_input(event: SoftphoneEvent) -> Option<crate::engine::Input> {
    use crate::engine::Input;
    Some(match event {
        SoftphoneEvent::CallRinging(c) => Input::CallRinging(c),
        SoftphoneEvent::CallAnswered(c) => Input::CallStarted(c),
        SoftphoneEvent::CallHeld(c) | SoftphoneEvent::CallResumed(c) => Input::CallUpdated(c),
        SoftphoneEvent::CallEnded(c) => Input::CallEnded(c),
        SoftphoneEvent::CallNotes { call, notes } => Input::NotesSaved { call, notes },
        SoftphoneEvent::CallDetails { call, manual } => Input::CallDetails { call, manual },
        SoftphoneEvent::Message(m) => Input::MessageReceived(m),
        SoftphoneEvent::Ignored { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Direction;
    use crate::phone::E164;
    use serde_json::json;

    const NOW: Timestamp = Timestamp(1_717_430_500_000);

    fn origins() -> Vec<String> {
        vec![
            "https://apps.ringcentral.com".into(),
            "http://127.0.0.1:8801".into(),
        ]
    }

    fn ctx(origins: &[String]) -> DecodeContext<'_> {
        DecodeContext::new(origins, Country::US, NOW)
    }

    fn ringing() -> Value {
        json!({"type": "rc-call-ring-notify", "call": {
            "direction": "Inbound", "from": "+14155550123", "to": "+16505550100",
            "creationTime": 1_717_430_400_000_i64, "startTime": null,
            "partyData": {"partyId": "p-1", "sessionId": "s-1"}}})
    }

    #[test]
    fn origin_must_match_exactly() {
        let o = origins();
        let table = [
            ("https://apps.ringcentral.com", true),
            ("http://127.0.0.1:8801", true),
            ("https://apps.ringcentral.com.evil.example", false),
            ("https://evil.apps.ringcentral.com", false),
            ("https://apps.ringcentral.com/", false),
            ("HTTPS://APPS.RINGCENTRAL.COM", false),
            ("http://apps.ringcentral.com", false),
            ("https://apps.ringcentral.com:443", false),
            ("http://127.0.0.1:8800", false),
            ("null", false),
            ("", false),
        ];
        for (origin, trusted) in table {
            let got = decode(origin, &ringing(), &ctx(&o));
            assert_eq!(got.is_ok(), trusted, "{origin}: {got:?}");
            if !trusted {
                assert_eq!(got.unwrap_err().kind(), "untrusted_origin", "{origin}");
            }
        }
    }

    #[test]
    fn no_trusted_origins_trusts_nobody() {
        let none: Vec<String> = Vec::new();
        let err = decode("https://apps.ringcentral.com", &ringing(), &ctx(&none)).unwrap_err();
        assert_eq!(err.kind(), "untrusted_origin");
    }

    #[test]
    fn envelope_errors() {
        let o = origins();
        let table: &[(Value, &str)] = &[
            (json!(null), "not_an_object"),
            (json!([1, 2]), "not_an_object"),
            (json!("rc-call-ring-notify"), "not_an_object"),
            (json!({}), "missing_field"),
            (json!({"type": 7}), "wrong_type"),
            (json!({"type": "apm_phone_call_ended"}), "unknown_type"),
            (json!({"type": "zp-call-ended-event"}), "unknown_type"),
            (
                json!({"type": format!("rc-{}", "x".repeat(100))}),
                "unknown_type",
            ),
            (
                json!({"calltrail": 2, "event": "call.ringing"}),
                "unsupported_version",
            ),
        ];
        for (data, kind) in table {
            let err = decode("https://apps.ringcentral.com", data, &ctx(&o)).unwrap_err();
            assert_eq!(err.kind(), *kind, "{data}: {err}");
        }
    }

    #[test]
    fn error_messages_are_lowercase() {
        let errors = [
            DecodeError::UntrustedOrigin("x".into()),
            DecodeError::NotAnObject,
            DecodeError::UnknownType("x".into()),
            DecodeError::MissingField("call.from".into()),
            DecodeError::WrongType {
                field: "call".into(),
                expected: "an object",
            },
            DecodeError::Oversized {
                field: "call.from".into(),
                max: 64,
            },
            DecodeError::AbsurdTime {
                field: "call".into(),
                reason: "in the future",
            },
        ];
        for e in errors {
            let s = e.to_string();
            assert!(s.chars().next().is_some_and(|c| c.is_lowercase()), "{s}");
        }
    }

    #[test]
    fn dedupe_keys() {
        let n = E164::parse("+14155550123", Country::US).unwrap();
        let call = Call::new(CallId::new("rc:s-1"), Direction::Inbound, n, None, NOW);
        let table = [
            (
                SoftphoneEvent::CallRinging(call.clone()),
                Some("call|rc:s-1|ringing".to_owned()),
            ),
            (
                SoftphoneEvent::CallAnswered(call.clone()),
                Some("call|rc:s-1|answered".to_owned()),
            ),
            (
                SoftphoneEvent::CallEnded(call.clone()),
                Some("call|rc:s-1|ended".to_owned()),
            ),
            (
                SoftphoneEvent::Ignored {
                    event: "rc-x".into(),
                    reason: IgnoreReason::NothingToLog,
                },
                None,
            ),
        ];
        for (event, key) in table {
            assert_eq!(event.dedupe_key(), key);
        }
        let a = SoftphoneEvent::CallNotes {
            call: call.id.clone(),
            notes: "a".into(),
        };
        let b = SoftphoneEvent::CallNotes {
            call: call.id.clone(),
            notes: "b".into(),
        };
        assert_ne!(a.dedupe_key(), b.dedupe_key());
        assert_eq!(a.dedupe_key(), a.clone().dedupe_key());
    }

    #[test]
    fn call_time_checks() {
        let o = origins();
        let n = E164::parse("+14155550123", Country::US).unwrap();
        let base = Call::new(CallId::new("x"), Direction::Inbound, n, None, NOW.plus_mins(-10));
        let with = |a: Option<i64>, e: Option<i64>, s: i64| Call {
            started_at: NOW.plus_mins(s),
            answered_at: a.map(|m| NOW.plus_mins(m)),
            ended_at: e.map(|m| NOW.plus_mins(m)),
            ..base.clone()
        };
        let table = [
            (with(None, None, -10), true),
            (with(Some(-9), Some(-1), -10), true),
            (with(Some(-11), None, -10), false),
            (with(Some(-5), Some(-6), -10), false),
            (with(None, Some(-11), -10), false),
            (with(None, Some(0), -25 * 60), false),
            (with(None, None, -25 * 60), false),
            (with(None, Some(-60), -25 * 60), true),
        ];
        for (i, (call, ok)) in table.into_iter().enumerate() {
            assert_eq!(check_call_times(&call, &ctx(&o)).is_ok(), ok, "row {i}");
        }
    }
}

