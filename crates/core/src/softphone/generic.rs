//! Calltrail's generic softphone protocol, version 1: what any softphone other than RingCentral
//! Embeddable posts so Calltrail can log its calls, SMS and faxes.
//!
//! The same text is in `docs/softphone-protocol.md`, for softphone developers.
//!
//! # Transport
//!
//! The softphone runs in an iframe (or is the page itself) and posts each event to the top
//! window: `window.top.postMessage(event, '*')` (or `window.postMessage` if it is the page).
//! Calltrail accepts an event only when the `MessageEvent.origin` is exactly one of the
//! softphone origins the rep or their admin trusted in Calltrail's settings.
//!
//! # Envelope
//!
//! ```json
//! {"calltrail": 1, "event": "call.ringing", "call": { … }}
//! {"calltrail": 1, "event": "message", "message": { … }}
//! ```
//!
//! - `calltrail`: the protocol version, the integer `1`. Any other version is refused, so a
//!   softphone speaking a future version is never half-understood.
//! - `event`: one of `call.ringing`, `call.answered`, `call.held`, `call.resumed`, `call.ended`,
//!   `call.notes`, `message`.
//! - Unknown keys are ignored, at every level, so version 1 can grow optional fields.
//!
//! # `call`
//!
//! | field | type | required | meaning |
//! |---|---|---|---|
//! | `id` | string, 1–128 printable ASCII, no spaces | always | the softphone's id for the call, the same in every event of the call and unique for at least 30 days |
//! | `direction` | `"inbound"` \| `"outbound"` | except `call.notes` | |
//! | `from`, `to` | string | the other party's (`from` inbound, `to` outbound) | phone numbers, E.164 preferred (`+14155550123`); national numbers are read in the rep's default country |
//! | `started_at` | integer, epoch ms | except `call.notes` | when the call began ringing or was placed |
//! | `answered_at` | integer, epoch ms | no | when it was answered; `call.answered` without it means "now" |
//! | `ended_at` | integer, epoch ms | `call.ended` | when it ended |
//! | `result` | `answered` \| `missed` \| `voicemail` \| `busy` \| `rejected` \| `failed` \| `unknown` | no | on `call.ended`; default `answered` if `answered_at` is set, else `missed` |
//! | `recording_url` | `https://` URL, at most 2048 bytes | no | a link to the recording |
//! | `notes` | string, at most 16 KiB | `call.notes` | the rep's notes, the whole text so far |
//!
//! Times must be after 2000, at most 10 minutes ahead of the rep's clock; a call lasts at most
//! 24 hours; `answered_at` ≥ `started_at` and `ended_at` ≥ both. Strings other than `notes` and `text`
//! are at most 256 bytes, numbers at most 64.
//!
//! `call.notes` needs only `id` and `notes`: `{"calltrail":1,"event":"call.notes","call":{"id":"c-1","notes":"Wants a quote"}}`.
//!
//! # `message`
//!
//! | field | type | required | meaning |
//! |---|---|---|---|
//! | `id` | string, as a call id | yes | the softphone's id for the message; an update reuses it |
//! | `kind` | `"sms"` \| `"fax"` | yes | |
//! | `direction` | `"inbound"` \| `"outbound"` | yes | |
//! | `from`, `to` | string | the other party's | as for calls |
//! | `at` | integer, epoch ms | yes | when it was sent or received |
//! | `conversation` | string, as an id | no | the thread; default: one thread per other party |
//! | `text` | string, at most 16 KiB | no | SMS text, or a fax's description |
//!
//! # Ids
//!
//! Calltrail stores call ids as `gen:<id>` and message ids as `gen:<id>`, so they cannot collide
//! with RingCentral's. Two *different* generic softphones reusing each other's ids would
//! collide; a softphone should use ids that are unique on their own (a UUID or its server's
//! call id). Repeating an event is harmless: Calltrail recognises repeats.

use serde_json::Value;

use super::json::{check_id, parties, Obj, MAX_STRING, MAX_TEXT, MAX_TYPE, MAX_URL};
use super::{check_call_times, DecodeContext, DecodeError, SoftphoneEvent};
use crate::model::{Call, CallId, CallResult, ConversationId, Direction, Message, MessageKind};

/// The key that marks a generic-protocol message, and holds its version.
pub const VERSION_KEY: &str = "calltrail";
/// The one version this build speaks.
pub const VERSION: i64 = 1;
/// The prefix of call, message and conversation ids from this protocol.
pub const ID_PREFIX: &str = "gen:";

pub(super) fn decode(data: &Value, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let top = Obj::new(data, "")?;
    match top.int(VERSION_KEY) {
        Ok(Some(VERSION)) => {}
        Ok(Some(v)) => return Err(DecodeError::UnsupportedVersion(v.to_string())),
        Ok(None) => return Err(top.missing(VERSION_KEY)),
        Err(_) => {
            let shown = top
                .get(VERSION_KEY)
                .map(|v| super::json::clip(&v.to_string()))
                .unwrap_or_default();
            return Err(DecodeError::UnsupportedVersion(shown));
        }
    }
    let event = top.req_str("event", MAX_TYPE)?;
    match event {
        "call.ringing" | "call.answered" | "call.held" | "call.resumed" | "call.ended" => {
            call(event, top, ctx)
        }
        "call.notes" => notes(top),
        "message" => message(top, ctx),
        other => Err(DecodeError::UnknownType(super::json::clip(other))),
    }
}

fn direction(o: Obj<'_>) -> Result<Direction, DecodeError> {
    match o.req_str("direction", MAX_STRING)? {
        "inbound" => Ok(Direction::Inbound),
        "outbound" => Ok(Direction::Outbound),
        other => Err(o.invalid("direction", other)),
    }
}

fn id(o: Obj<'_>) -> Result<String, DecodeError> {
    let raw = o.req_str("id", MAX_STRING)?;
    check_id(raw, o.path_of("id"))?;
    Ok(format!("{ID_PREFIX}{raw}"))
}

fn call(event: &str, top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let c = top.req_obj("call", "call")?;
    let id = CallId::new(id(c)?);
    let direction = direction(c)?;
    let (their, our) = parties(c, direction, c.number_text("from")?, c.number_text("to")?, ctx)?;
    let started = c
        .millis("started_at", ctx)?
        .ok_or_else(|| c.missing("started_at"))?;
    let mut answered = c.millis("answered_at", ctx)?;
    let mut ended = c.millis("ended_at", ctx)?;
    let given_result = match c.str("result", MAX_STRING)? {
        None => None,
        Some("answered") => Some(CallResult::Answered),
        Some("missed") => Some(CallResult::Missed),
        Some("voicemail") => Some(CallResult::Voicemail),
        Some("busy") => Some(CallResult::Busy),
        Some("rejected") => Some(CallResult::Rejected),
        Some("failed") => Some(CallResult::Failed),
        Some("unknown") => Some(CallResult::Unknown),
        Some(other) => return Err(c.invalid("result", other)),
    };
    let result = match event {
        "call.ringing" => {
            // A ringing call has not been answered or ended, whatever else the event says.
            answered = None;
            ended = None;
            CallResult::Unknown
        }
        "call.ended" => {
            if ended.is_none() {
                return Err(c.missing("ended_at"));
            }
            given_result.unwrap_or(if answered.is_some() {
                CallResult::Answered
            } else {
                CallResult::Missed
            })
        }
        _ => {
            ended = None;
            answered = Some(answered.unwrap_or(ctx.now.max(started)));
            CallResult::Answered
        }
    };
    let recording_url = match c.str("recording_url", MAX_URL)? {
        // Only https links: the pages show this link, and a `javascript:` one would run there.
        Some(u) if u.starts_with("https://") && !u.chars().any(char::is_whitespace) => {
            Some(u.to_owned())
        }
        Some(u) => return Err(c.invalid("recording_url", u)),
        None => None,
    };
    let notes = c.str("notes", MAX_TEXT)?.unwrap_or_default().to_owned();
    let call = Call {
        id,
        direction,
        our_number: our,
        their_number: their,
        started_at: started,
        answered_at: answered,
        ended_at: ended,
        result,
        recording_url,
        notes,
        leg: Default::default(),
    };
    check_call_times(&call, ctx)?;
    Ok(match event {
        "call.ringing" => SoftphoneEvent::CallRinging(call),
        "call.answered" => SoftphoneEvent::CallAnswered(call),
        "call.held" => SoftphoneEvent::CallHeld(call),
        "call.resumed" => SoftphoneEvent::CallResumed(call),
        _ => SoftphoneEvent::CallEnded(call),
    })
}

fn notes(top: Obj<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let c = top.req_obj("call", "call")?;
    let call = CallId::new(id(c)?);
    let notes = c.req_str("notes", MAX_TEXT)?.to_owned();
    Ok(SoftphoneEvent::CallNotes { call, notes })
}

fn message(top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let m = top.req_obj("message", "message")?;
    let id = id(m)?;
    let kind = match m.req_str("kind", MAX_STRING)? {
        "sms" => MessageKind::Sms,
        "fax" => MessageKind::Fax,
        other => return Err(m.invalid("kind", other)),
    };
    let direction = direction(m)?;
    let (their, our) = parties(m, direction, m.number_text("from")?, m.number_text("to")?, ctx)?;
    let at = m.millis("at", ctx)?.ok_or_else(|| m.missing("at"))?;
    let conversation = match m.str("conversation", MAX_STRING)? {
        Some(c) => {
            check_id(c, m.path_of("conversation"))?;
            ConversationId::new(format!("{ID_PREFIX}{c}"))
        }
        None => ConversationId::new(format!("{ID_PREFIX}peer:{}", their.as_str())),
    };
    let text = m.str("text", MAX_TEXT)?.unwrap_or_default().to_owned();
    Ok(SoftphoneEvent::Message(Message {
        id,
        conversation,
        kind,
        direction,
        our_number: our,
        their_number: their,
        at,
        text,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;
    use crate::phone::Country;
    use serde_json::json;

    const T0: i64 = 1_717_430_400_000;
    const NOW: Timestamp = Timestamp(T0 + 600_000);
    const ORIGIN: &str = "https://phone.example.com";

    fn run(data: Value) -> Result<SoftphoneEvent, DecodeError> {
        let o = vec![ORIGIN.to_owned()];
        let ctx = DecodeContext {
            trusted_origins: &o,
            default_country: Country::US,
            now: NOW,
        };
        super::super::decode(ORIGIN, &data, &ctx)
    }

    fn call_event(event: &str, extra: Value) -> Value {
        let mut c = json!({"id": "c-1", "direction": "inbound", "from": "+14155550123", "to": "+16505550100", "started_at": T0});
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        json!({"calltrail": 1, "event": event, "call": c})
    }

    fn call_of(e: SoftphoneEvent) -> Call {
        e.call().cloned().unwrap_or_else(|| panic!("not a call event: {e:?}"))
    }

    #[test]
    fn call_events() {
        // (event, extra, kind, answered, ended, result)
        type Row = (
            &'static str,
            Value,
            &'static str,
            Option<i64>,
            Option<i64>,
            CallResult,
        );
        let table: Vec<Row> = vec![
            (
                "call.ringing",
                json!({}),
                "call_ringing",
                None,
                None,
                CallResult::Unknown,
            ),
            (
                "call.ringing",
                json!({"answered_at": T0 + 1}),
                "call_ringing",
                None,
                None,
                CallResult::Unknown,
            ),
            (
                "call.answered",
                json!({"answered_at": T0 + 3000}),
                "call_answered",
                Some(T0 + 3000),
                None,
                CallResult::Answered,
            ),
            (
                "call.answered",
                json!({}),
                "call_answered",
                Some(NOW.0),
                None,
                CallResult::Answered,
            ),
            (
                "call.held",
                json!({"answered_at": T0 + 3000}),
                "call_held",
                Some(T0 + 3000),
                None,
                CallResult::Answered,
            ),
            (
                "call.resumed",
                json!({"answered_at": T0 + 3000}),
                "call_resumed",
                Some(T0 + 3000),
                None,
                CallResult::Answered,
            ),
            (
                "call.ended",
                json!({"answered_at": T0 + 3000, "ended_at": T0 + 63_000}),
                "call_ended",
                Some(T0 + 3000),
                Some(T0 + 63_000),
                CallResult::Answered,
            ),
            (
                "call.ended",
                json!({"ended_at": T0 + 20_000}),
                "call_ended",
                None,
                Some(T0 + 20_000),
                CallResult::Missed,
            ),
            (
                "call.ended",
                json!({"ended_at": T0 + 20_000, "result": "busy"}),
                "call_ended",
                None,
                Some(T0 + 20_000),
                CallResult::Busy,
            ),
            (
                "call.ended",
                json!({"ended_at": T0 + 20_000, "result": "voicemail"}),
                "call_ended",
                None,
                Some(T0 + 20_000),
                CallResult::Voicemail,
            ),
        ];
        for (event, extra, kind, answered, ended, result) in table {
            let e = run(call_event(event, extra)).unwrap_or_else(|e| panic!("{event}: {e}"));
            assert_eq!(serde_json::to_value(&e).unwrap()["kind"], kind, "{event}");
            let c = call_of(e);
            assert_eq!(c.id.as_str(), "gen:c-1");
            assert_eq!(c.answered_at.map(|t| t.0), answered, "{event}");
            assert_eq!(c.ended_at.map(|t| t.0), ended, "{event}");
            assert_eq!(c.result, result, "{event}");
        }
    }

    #[test]
    fn outbound_national_numbers_and_extras() {
        let e = run(call_event(
            "call.ended",
            json!({"direction": "outbound", "from": "650-555-0100", "to": "(212) 555-0199", "answered_at": T0 + 1000,
                "ended_at": T0 + 91_000, "recording_url": "https://rec.example.com/1", "notes": "Wants a quote", "future_field": [1]}),
        ))
        .unwrap();
        let c = call_of(e);
        assert_eq!(c.their_number.as_str(), "+12125550199");
        assert_eq!(
            c.our_number.map(|n| n.as_str().to_owned()).as_deref(),
            Some("+16505550100")
        );
        assert_eq!(c.duration_secs(), 90);
        assert_eq!(
            c.recording_url.as_deref(),
            Some("https://rec.example.com/1")
        );
        assert_eq!(c.notes, "Wants a quote");
    }

    #[test]
    fn notes_and_messages() {
        let e = run(json!({"calltrail": 1, "event": "call.notes", "call": {"id": "c-1", "notes": "Call back Tuesday"}})).unwrap();
        assert_eq!(
            e,
            SoftphoneEvent::CallNotes {
                call: CallId::new("gen:c-1"),
                notes: "Call back Tuesday".into()
            }
        );

        let e = run(json!({"calltrail": 1, "event": "message", "message": {"id": "m-1", "kind": "sms", "direction": "outbound",
            "from": "+16505550100", "to": "+14155550123", "at": T0, "text": "On my way"}}))
        .unwrap();
        let SoftphoneEvent::Message(m) = e else {
            panic!("not a message")
        };
        assert_eq!(
            (m.id.as_str(), m.conversation.as_str(), m.text.as_str()),
            ("gen:m-1", "gen:peer:+14155550123", "On my way")
        );
        assert_eq!(
            (m.kind, m.direction),
            (MessageKind::Sms, Direction::Outbound)
        );
    }

    #[test]
    fn malformed() {
        let table: Vec<(Value, &str)> = vec![
            (json!({"calltrail": 1}), "missing_field"),
            (
                json!({"calltrail": "1", "event": "call.ringing"}),
                "unsupported_version",
            ),
            (
                json!({"calltrail": 1.5, "event": "call.ringing"}),
                "unsupported_version",
            ),
            (
                json!({"calltrail": 0, "event": "call.ringing"}),
                "unsupported_version",
            ),
            (
                json!({"calltrail": null, "event": "call.ringing"}),
                "missing_field",
            ),
            (
                json!({"calltrail": 1, "event": "call.exploded"}),
                "unknown_type",
            ),
            (json!({"calltrail": 1, "event": 3}), "wrong_type"),
            (
                json!({"calltrail": 1, "event": "call.ringing"}),
                "missing_field",
            ),
            (
                call_event("call.ringing", json!({"id": "has space"})),
                "invalid_id",
            ),
            (call_event("call.ringing", json!({"id": ""})), "invalid_id"),
            (call_event("call.ringing", json!({"id": "é"})), "invalid_id"),
            (
                call_event("call.ringing", json!({"id": "x".repeat(200)})),
                "invalid_id",
            ),
            (call_event("call.ringing", json!({"id": 5})), "wrong_type"),
            (
                call_event("call.ringing", json!({"direction": "Inbound"})),
                "invalid_value",
            ),
            (
                call_event("call.ringing", json!({"from": "anonymous"})),
                "invalid_number",
            ),
            (
                call_event("call.ringing", json!({"from": null})),
                "missing_field",
            ),
            (
                call_event("call.ringing", json!({"started_at": null})),
                "missing_field",
            ),
            (
                call_event(
                    "call.ringing",
                    json!({"started_at": "2024-06-03T16:00:00Z"}),
                ),
                "wrong_type",
            ),
            (
                call_event("call.ringing", json!({"started_at": NOW.0 + 3_600_000})),
                "absurd_time",
            ),
            (
                call_event("call.ringing", json!({"started_at": 0})),
                "absurd_time",
            ),
            (call_event("call.ended", json!({})), "missing_field"),
            (
                call_event("call.ended", json!({"ended_at": T0 - 1})),
                "absurd_time",
            ),
            (
                call_event(
                    "call.ended",
                    json!({"answered_at": T0 - 1, "ended_at": T0 + 1}),
                ),
                "absurd_time",
            ),
            (
                call_event("call.ended", json!({"ended_at": T0 + 1, "result": "great"})),
                "invalid_value",
            ),
            (
                call_event(
                    "call.ended",
                    json!({"ended_at": T0 + 1, "recording_url": "javascript:alert(1)"}),
                ),
                "invalid_value",
            ),
            (
                call_event(
                    "call.ended",
                    json!({"ended_at": T0 + 1, "recording_url": "http://rec.example.com"}),
                ),
                "invalid_value",
            ),
            (
                call_event(
                    "call.ended",
                    json!({"ended_at": T0 + 1, "recording_url": format!("https://{}", "a".repeat(2048))}),
                ),
                "oversized",
            ),
            (
                call_event(
                    "call.ended",
                    json!({"ended_at": T0 + 1, "notes": "n".repeat(MAX_TEXT + 1)}),
                ),
                "oversized",
            ),
            (
                json!({"calltrail": 1, "event": "call.notes", "call": {"id": "c-1"}}),
                "missing_field",
            ),
            (
                json!({"calltrail": 1, "event": "message", "message": {"id": "m", "kind": "mms"}}),
                "invalid_value",
            ),
            (
                json!({"calltrail": 1, "event": "message", "message": {"id": "m", "kind": "sms", "direction": "inbound", "from": "+14155550123"}}),
                "missing_field",
            ),
            (
                json!({"calltrail": 1, "event": "message", "message": {"id": "m", "kind": "sms", "direction": "inbound", "from": "+14155550123", "at": T0, "conversation": "a b"}}),
                "invalid_id",
            ),
        ];
        for (data, kind) in table {
            let err = run(data.clone())
                .err()
                .unwrap_or_else(|| panic!("accepted {data}"));
            assert_eq!(err.kind(), kind, "{data}: {err}");
        }
    }
}
