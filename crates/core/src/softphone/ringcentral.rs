//! RingCentral Embeddable's widget → host `rc-*` events, decoded into [`SoftphoneEvent`]s.
//!
//! Three payload shapes carry what we log (field names from
//! `ringcentral/ringcentral-embeddable:src/modules/Adapter/index.js`, see
//! `reference/softphones.md` §1.2):
//!
//! - `rc-call-{ring,init,start,hold,resume,end}-notify`: `call` is the normalized **webphone
//!   session** (Browser calling mode only). `creationTime` is when the call was created,
//!   `startTime` when it was answered (`null` before), and the end event adds `endTime`.
//!   There is no duration: it is `endTime - startTime`, computed by [`Call::duration_secs`].
//! - `rc-active-call-notify`: `call` is a **presence** active call, for every calling mode and
//!   for the rep's other devices. It has `telephonyStatus` and `terminationType` but no answer
//!   or end time: a `CallConnected` update is stamped answered at `now` (the receive time), and
//!   the call has ended when `telephonyStatus == "NoCall"` and `terminationType == "final"`,
//!   stamped ended at `now` with result [`CallResult::Unknown`] (presence does not say whether
//!   it was answered). Where RingCentral's clock is ahead of ours, the stamp is the start time.
//! - `rc-inbound-message-notify` / `rc-message-updated-notify`: `message` is a **message-store
//!   record**. SMS and Fax are decoded; VoiceMail, Pager and Text are ignored with a reason, as
//!   are deleted messages.
//!
//! Both call streams name the rep's leg ([`Leg`]): its party id (`partyData.partyId`,
//! `partyId`) and whether the call came through a call queue or ring group (`callQueueName`,
//! `queueCall`), which decides whether an unanswered call is the rep's to log
//! (`docs/shared-calls.md`). Only the webphone stream can say that this browser's phone carried
//! the leg ([`Device::Here`]: it placed or answered it); presence, which every device of the
//! rep hears, says [`Device::Elsewhere`] until the webphone says otherwise.
//!
//! Every other `rc-*` type is known to be RingCentral's and is [`SoftphoneEvent::Ignored`]:
//! `rc-call-mute-notify` and parked or intermediate presence as call-state noise,
//! `rc-ringout-call-notify` and `rc-telephony-session-notify` as redundant with presence, the
//! rest (login, settings, routes, `rc-post-message-request`, …) as nothing to log.
//!
//! # The call id
//!
//! The one field common to every call event kind is the **telephony session id** (`s-…`): it is
//! `call.partyData.sessionId` in the webphone events (parsed from the SIP `P-Rc-Api-Ids` header)
//! and `call.telephonySessionId` in presence, in `rc-telephony-session-notify` (as `id`), in the
//! third-party `/callLogger` record and in the REST call log. So the same call seen through the
//! webphone stream, the presence stream, two tabs or twice gets the one id `rc:<telephony
//! session id>`, and the digest can find the call-log record with
//! `GET …/call-log?telephonySessionId=…` ([`telephony_session_id`] gives it back). The webphone's
//! `id` (a SIP session id) and presence's `sessionId` (a different, numeric RingCentral id) are
//! not shared between the streams, so they are not used while the telephony session id exists.
//!
//! Fallbacks, only when the telephony session id is absent:
//! 1. `rc-sip:<callId>` from a webphone session's SIP Call-ID, or `rc-session:<sessionId>` from
//!    presence. Both are unique per call, so they never merge two calls; the risk is the other
//!    way: the same call seen through both streams gets two ids and may be logged twice.
//! 2. `rc-derived:<in|out>:<their number>:<creation or start ms>`. Two different calls collide
//!    only if they share direction, party and the millisecond they began (in practice never); but
//!    the two streams stamp different start times (webphone `creationTime` vs presence
//!    `startTime`, ~100 ms apart), so derived ids never join the streams either.

use serde_json::Value;

use super::json::{
    self, our_number, parties, sides, their_number, Obj, MAX_STRING, MAX_TEXT, MAX_TYPE,
};
use super::{check_call_times, DecodeContext, DecodeError, IgnoreReason, SoftphoneEvent};
use crate::model::{
    Call, CallId, CallResult, ConversationId, Device, Direction, Leg, Message, MessageKind, Timestamp,
};
use crate::phone::E164;

/// The prefix of call ids built from a telephony session id.
pub const CALL_ID_PREFIX: &str = "rc:";

/// The telephony session id inside a call id this module built from one (for call-log lookups).
pub fn telephony_session_id(id: &CallId) -> Option<&str> {
    id.as_str().strip_prefix(CALL_ID_PREFIX)
}

/// Decodes one `rc-*` event whose `type` is `ty` (the caller checked the prefix and length).
pub(super) fn decode(
    ty: &str,
    data: &Value,
    ctx: &DecodeContext<'_>,
) -> Result<SoftphoneEvent, DecodeError> {
    let top = Obj::new(data, "")?;
    let ignored = |reason| {
        Ok(SoftphoneEvent::Ignored {
            event: ty.to_owned(),
            reason,
        })
    };
    match ty {
        "rc-call-ring-notify" | "rc-call-init-notify" => webphone(top, Phase::Ringing, ctx),
        "rc-call-start-notify" => webphone(top, Phase::Answered, ctx),
        "rc-call-hold-notify" => webphone(top, Phase::Held, ctx),
        "rc-call-resume-notify" => webphone(top, Phase::Resumed, ctx),
        "rc-call-end-notify" => webphone(top, Phase::Ended, ctx),
        "rc-active-call-notify" => presence(ty, top, ctx),
        "rc-inbound-message-notify" | "rc-message-updated-notify" => message(ty, top, ctx),
        "rc-call-mute-notify" => ignored(IgnoreReason::CallState),
        "rc-ringout-call-notify" | "rc-telephony-session-notify" => {
            ignored(IgnoreReason::Redundant)
        }
        _ => {
            debug_assert!(ty.len() <= MAX_TYPE);
            ignored(IgnoreReason::NothingToLog)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered,
    Held,
    Resumed,
    Ended,
}

pub(super) fn direction(o: Obj<'_>) -> Result<Direction, DecodeError> {
    match o.req_str("direction", MAX_STRING)? {
        "Inbound" => Ok(Direction::Inbound),
        "Outbound" => Ok(Direction::Outbound),
        other => Err(o.invalid("direction", other)),
    }
}

/// `rc:<telephony session id>`, else `<fallback_prefix><fallback id>`, else a derived id.
pub(super) fn call_id(
    telephony_session: Option<String>,
    fallback: Option<(&str, String)>,
    direction: Direction,
    their: &E164,
    began: Timestamp,
) -> CallId {
    if let Some(t) = telephony_session {
        return CallId::new(format!("{CALL_ID_PREFIX}{t}"));
    }
    if let Some((prefix, id)) = fallback {
        return CallId::new(format!("{prefix}{id}"));
    }
    let dir = match direction {
        Direction::Inbound => "in",
        Direction::Outbound => "out",
    };
    CallId::new(format!(
        "rc-derived:{dir}:{}:{}",
        their.as_str(),
        began.millis()
    ))
}

/// A webphone session event (`rc-call-*-notify`).
fn webphone(
    top: Obj<'_>,
    phase: Phase,
    ctx: &DecodeContext<'_>,
) -> Result<SoftphoneEvent, DecodeError> {
    let c = top.req_obj("call", "call")?;
    let direction = direction(c)?;
    // `from` is the caller as the SIP request names it; `fromNumber` is the same number in the
    // sessions that carry both. Prefer `from`, as the widget's own call list does.
    let from = match c.number_text("from")? {
        Some(f) => Some(f),
        None => c.number_text("fromNumber")?,
    };
    let (their, our) = parties(c, direction, from, c.number_text("to")?, ctx)?;

    let created = c.time("creationTime", ctx)?;
    let answered = c.time("startTime", ctx)?;
    // The end event's `endTime` sits inside `call` in the widget's payload; older builds put it
    // beside it, so both places are read.
    let ended = match c.time("endTime", ctx)? {
        Some(t) => Some(t),
        None => top.time("endTime", ctx)?,
    };
    let started = created
        .or(answered)
        .or(if phase == Phase::Ended { ended } else { None });
    let started = started.ok_or_else(|| c.missing("creationTime"))?;

    let party = c.obj("partyData", "call.partyData")?;
    let tsid = match party {
        Some(p) => p.id("sessionId")?,
        None => None,
    };
    let sip = c.id("callId")?.map(|id| ("rc-sip:", id));
    let id = call_id(tsid, sip, direction, &their, started);
    // The rep's leg: the party id of the SIP `P-Rc-Api-Ids` header, and the queue the call came
    // through (`callQueueName`, set for queue and ring-group calls). Neither is needed to log
    // the call, so a malformed one is left out rather than refusing the event.
    // This webphone carried the leg when it placed the call or answered it (`startTime` is set
    // once this device answered); a session that ended having only rung here did not, whoever
    // took it; a ringing one cannot say yet.
    let carried = direction == Direction::Outbound
        || matches!(phase, Phase::Answered | Phase::Held | Phase::Resumed)
        || (phase == Phase::Ended && answered.is_some());
    let device = match (carried, phase) {
        (true, _) => Device::Here,
        (false, Phase::Ended) => Device::Elsewhere,
        (false, _) => Device::Unknown,
    };
    let leg = Leg {
        id: party.and_then(|p| p.id("partyId").ok().flatten()),
        queue: c.str("callQueueName", MAX_STRING).ok().flatten().is_some_and(|q| !q.trim().is_empty()),
        device,
    };

    let progress = match phase {
        Phase::Ringing => (None, None, CallResult::Unknown),
        // VoIP-to-VoIP calls report "start" before `startTime` is set: the shell's receive time
        // is then the best answer time there is.
        Phase::Answered | Phase::Held | Phase::Resumed => (
            Some(answered.unwrap_or(ctx.now.max(started))),
            None,
            CallResult::Answered,
        ),
        Phase::Ended => {
            let ended = ended.ok_or_else(|| c.missing("endTime"))?;
            let result = if answered.is_some() {
                CallResult::Answered
            } else if direction == Direction::Inbound && c.bool("isToVoicemail")? == Some(true) {
                CallResult::Voicemail
            } else {
                // Unanswered either way: a missed inbound call, or nobody picked up an outbound
                // one (which the CRMs call "no answer", our `Missed`).
                CallResult::Missed
            };
            (answered, Some(ended), result)
        }
    };
    call_event(phase, id, direction, (their, our), started, progress, ctx).map(|e| with_leg(e, leg))
}

/// A presence active call (`rc-active-call-notify`).
fn presence(
    ty: &str,
    top: Obj<'_>,
    ctx: &DecodeContext<'_>,
) -> Result<SoftphoneEvent, DecodeError> {
    let c = top.req_obj("call", "call")?;
    let status = c.req_str("telephonyStatus", MAX_STRING)?;
    let termination = c.str("terminationType", MAX_STRING)?;
    let phase = match (status, termination) {
        ("NoCall", Some("final")) => Phase::Ended,
        ("NoCall", Some("intermediate") | None) | ("ParkedCall", _) => {
            return Ok(SoftphoneEvent::Ignored {
                event: ty.to_owned(),
                reason: IgnoreReason::CallState,
            });
        }
        ("NoCall", Some(other)) => return Err(c.invalid("terminationType", other)),
        ("Ringing", _) => Phase::Ringing,
        ("CallConnected", _) => Phase::Answered,
        ("OnHold", _) => Phase::Held,
        (other, _) => return Err(c.invalid("telephonyStatus", other)),
    };
    let direction = direction(c)?;
    let (their, our) = parties(c, direction, c.number_text("from")?, c.number_text("to")?, ctx)?;
    // Presence always carries startTime; a record without one is taken as starting now.
    let started = c.time("startTime", ctx)?.unwrap_or(ctx.now);
    let tsid = c.id("telephonySessionId")?;
    let session = c.id("sessionId")?.map(|id| ("rc-session:", id));
    let id = call_id(tsid, session, direction, &their, started);
    // Presence comes from RingCentral's clock and `now` from ours: a receive time earlier than
    // the start is clock skew (bounded by the future check), not a call that ended first.
    let received = ctx.now.max(started);
    let progress = match phase {
        Phase::Answered => (Some(received), None, CallResult::Answered),
        Phase::Ended => (None, Some(received), CallResult::Unknown),
        _ => (None, None, CallResult::Unknown),
    };
    // Presence is the rep's (the extension's), not one device's: `CallConnected` means the rep
    // answered, on whichever device. `partyId` names the rep's leg and `queueCall` a call that
    // came through a queue; as in the webphone stream, malformed ones are left out. Presence
    // reaches every device of the rep, so it cannot say this one carried the call: the
    // webphone's own events do, when it did.
    let leg = Leg {
        id: c.id("partyId").ok().flatten(),
        queue: c.bool("queueCall").ok().flatten().unwrap_or(false),
        device: Device::Elsewhere,
    };
    call_event(phase, id, direction, (their, our), started, progress, ctx).map(|e| with_leg(e, leg))
}

/// `event` with the rep's leg of its call, for the events that carry a call.
fn with_leg(mut event: SoftphoneEvent, leg: Leg) -> SoftphoneEvent {
    match &mut event {
        SoftphoneEvent::CallRinging(c)
        | SoftphoneEvent::CallAnswered(c)
        | SoftphoneEvent::CallHeld(c)
        | SoftphoneEvent::CallResumed(c)
        | SoftphoneEvent::CallEnded(c) => c.leg = leg,
        _ => {}
    }
    event
}

/// A message-store record (`rc-inbound-message-notify`, `rc-message-updated-notify`).
fn message(ty: &str, top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let m = top.req_obj("message", "message")?;
    let ignored = |reason| {
        Ok(SoftphoneEvent::Ignored {
            event: ty.to_owned(),
            reason,
        })
    };
    let kind = match m.req_str("type", MAX_STRING)? {
        "SMS" => MessageKind::Sms,
        "Fax" => MessageKind::Fax,
        "VoiceMail" | "Pager" | "Text" => return ignored(IgnoreReason::MessageKind),
        other => return Err(m.invalid("type", other)),
    };
    match m.str("availability", MAX_STRING)? {
        None | Some("Alive") => {}
        Some("Deleted" | "Purged") => return ignored(IgnoreReason::Deleted),
        Some(other) => return Err(m.invalid("availability", other)),
    }
    let id = m.id("id")?.ok_or_else(|| m.missing("id"))?;
    let direction = direction(m)?;
    let from = m.number_text("from")?;
    // `to` is a list of recipients. A group SMS has several: the first is the one logged.
    let to = match m.get("to") {
        None => None,
        Some(Value::Array(list)) => match list.first() {
            Some(first) => Obj::new(first, "message.to[0]")?.number_text("phoneNumber")?,
            None => None,
        },
        Some(_) => {
            return Err(DecodeError::WrongType {
                field: m.path_of("to"),
                expected: "an array",
            })
        }
    };
    let (their_raw, our_raw) = sides(direction, from, to);
    let their_field = if direction == Direction::Inbound {
        m.path_of("from")
    } else {
        "message.to[0]".to_owned()
    };
    let their = their_number(their_raw, their_field, ctx)?;
    let our = our_number(our_raw, ctx);
    let at = m
        .time("creationTime", ctx)?
        .ok_or_else(|| m.missing("creationTime"))?;

    let conversation = match m.id("conversationId")? {
        Some(c) => Some(c),
        None => match m.obj("conversation", "message.conversation")? {
            Some(c) => c.id("id")?,
            None => None,
        },
    };
    // Faxes have no conversation: one per other party keeps "one record per conversation per
    // day" meaningful for them too.
    let conversation = match conversation {
        Some(c) => ConversationId::new(format!("rc:{c}")),
        None => ConversationId::new(format!("rc-peer:{}", their.as_str())),
    };
    let text = match kind {
        MessageKind::Sms => m.str("subject", MAX_TEXT)?.unwrap_or_default().to_owned(),
        MessageKind::Fax => {
            let pages = match m.int("faxPageCount")? {
                Some(n) if (0..=10_000).contains(&n) => Some(n),
                Some(n) => return Err(m.invalid("faxPageCount", &n.to_string())),
                None => None,
            };
            let status = m.str("messageStatus", MAX_STRING)?;
            fax_text(pages, status)
        }
    };
    Ok(SoftphoneEvent::Message(Message {
        id: format!("rc:{id}"),
        conversation,
        kind,
        direction,
        our_number: our,
        their_number: their,
        at,
        text,
    }))
}

/// "Fax, 3 pages, Sent": what the CRM shows for a fax.
fn fax_text(pages: Option<i64>, status: Option<&str>) -> String {
    let mut s = String::from("Fax");
    match pages {
        Some(1) => s.push_str(", 1 page"),
        Some(n) => s.push_str(&format!(", {n} pages")),
        None => {}
    }
    if let Some(st) = status {
        s.push_str(", ");
        s.push_str(&json::clip(st));
    }
    s
}

/// When a call was answered and ended, and its result, as one event tells them.
type Progress = (Option<Timestamp>, Option<Timestamp>, CallResult);

/// The event for `phase` of a decoded call, once its times pass the sanity checks. Both
/// streams (webphone sessions and presence) end here; presence never reports a resume, and
/// neither carries a recording link or notes.
fn call_event(
    phase: Phase,
    id: CallId,
    direction: Direction,
    (their_number, our_number): (E164, Option<E164>),
    started_at: Timestamp,
    (answered_at, ended_at, result): Progress,
    ctx: &DecodeContext<'_>,
) -> Result<SoftphoneEvent, DecodeError> {
    let call = Call { answered_at, ended_at, result, ..Call::new(id, direction, their_number, our_number, started_at) };
    check_call_times(&call, ctx)?;
    Ok(match phase {
        Phase::Ringing => SoftphoneEvent::CallRinging(call),
        Phase::Answered => SoftphoneEvent::CallAnswered(call),
        Phase::Held => SoftphoneEvent::CallHeld(call),
        Phase::Resumed => SoftphoneEvent::CallResumed(call),
        Phase::Ended => SoftphoneEvent::CallEnded(call),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::Country;
    use serde_json::json;

    const T0: i64 = 1_717_430_400_000;
    const NOW: Timestamp = Timestamp(T0 + 100_100);

    fn origins() -> Vec<String> {
        vec!["https://apps.ringcentral.com".into()]
    }

    fn run(data: Value) -> Result<SoftphoneEvent, DecodeError> {
        let o = origins();
        let ctx = DecodeContext::new(&o, Country::US, NOW);
        super::super::decode("https://apps.ringcentral.com", &data, &ctx)
    }

    fn session(extra: Value) -> Value {
        let mut call = json!({
            "id": "c2lwLXNlc3Npb24tMQ", "callId": "a84b@10.0.0.5", "direction": "Inbound",
            "from": "+14155550123", "to": "+16505550100", "creationTime": T0, "startTime": null,
            "partyData": {"partyId": "p-1", "sessionId": "s-abc"}
        });
        if let (Value::Object(c), Value::Object(e)) = (&mut call, extra) {
            c.extend(e);
        }
        call
    }

    fn ev(ty: &str, call: Value) -> Value {
        json!({"type": ty, "call": call})
    }

    fn call_of(e: SoftphoneEvent) -> Call {
        e.call().cloned().unwrap_or_else(|| panic!("not a call event: {e:?}"))
    }

    #[test]
    fn webphone_phases() {
        // (type, extra fields, expected variant name, answered_at, ended_at, result)
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
                "rc-call-ring-notify",
                json!({}),
                "call_ringing",
                None,
                None,
                CallResult::Unknown,
            ),
            (
                "rc-call-init-notify",
                json!({"direction": "Outbound"}),
                "call_ringing",
                None,
                None,
                CallResult::Unknown,
            ),
            (
                "rc-call-start-notify",
                json!({"startTime": T0 + 4200}),
                "call_answered",
                Some(T0 + 4200),
                None,
                CallResult::Answered,
            ),
            (
                "rc-call-start-notify",
                json!({}),
                "call_answered",
                Some(NOW.0),
                None,
                CallResult::Answered,
            ),
            (
                "rc-call-hold-notify",
                json!({"startTime": T0 + 4200}),
                "call_held",
                Some(T0 + 4200),
                None,
                CallResult::Answered,
            ),
            (
                "rc-call-resume-notify",
                json!({"startTime": T0 + 4200}),
                "call_resumed",
                Some(T0 + 4200),
                None,
                CallResult::Answered,
            ),
            (
                "rc-call-end-notify",
                json!({"startTime": T0 + 4200, "endTime": T0 + 99_200}),
                "call_ended",
                Some(T0 + 4200),
                Some(T0 + 99_200),
                CallResult::Answered,
            ),
            (
                "rc-call-end-notify",
                json!({"endTime": T0 + 30_000}),
                "call_ended",
                None,
                Some(T0 + 30_000),
                CallResult::Missed,
            ),
            (
                "rc-call-end-notify",
                json!({"endTime": T0 + 30_000, "isToVoicemail": true}),
                "call_ended",
                None,
                Some(T0 + 30_000),
                CallResult::Voicemail,
            ),
            (
                "rc-call-end-notify",
                json!({"endTime": T0 + 30_000, "direction": "Outbound"}),
                "call_ended",
                None,
                Some(T0 + 30_000),
                CallResult::Missed,
            ),
        ];
        for (ty, extra, variant, answered, ended, result) in table {
            let e = run(ev(ty, session(extra))).unwrap_or_else(|e| panic!("{ty}: {e}"));
            let name = serde_json::to_value(&e).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(name, variant, "{ty}");
            let c = call_of(e);
            assert_eq!(c.id.as_str(), "rc:s-abc", "{ty}");
            assert_eq!(c.started_at, Timestamp(T0), "{ty}");
            assert_eq!(c.answered_at.map(|t| t.0), answered, "{ty}");
            assert_eq!(c.ended_at.map(|t| t.0), ended, "{ty}");
            assert_eq!(c.result, result, "{ty}");
        }
    }

    #[test]
    fn end_time_beside_call_is_read() {
        let data = json!({"type": "rc-call-end-notify", "call": session(json!({"startTime": T0 + 1000})), "endTime": T0 + 61_000});
        let c = call_of(run(data).unwrap());
        assert_eq!(c.duration_secs(), 60);
    }

    #[test]
    fn directions_pick_their_number() {
        let inbound = call_of(run(ev("rc-call-ring-notify", session(json!({})))).unwrap());
        assert_eq!(inbound.their_number.as_str(), "+14155550123");
        assert_eq!(
            inbound.our_number.map(|n| n.as_str().to_owned()).as_deref(),
            Some("+16505550100")
        );
        let outbound = call_of(
            run(ev("rc-call-init-notify", session(json!({"direction": "Outbound", "from": "+16505550100", "to": "(415) 555-0199"}))))
                .unwrap(),
        );
        assert_eq!(outbound.their_number.as_str(), "+14155550199");
        // An internal extension as our number is dropped, not an error.
        let ext = call_of(run(ev("rc-call-ring-notify", session(json!({"to": "101"})))).unwrap());
        assert_eq!(ext.our_number, None);
    }

    #[test]
    fn id_fallbacks() {
        let no_party = session(json!({"partyData": null}));
        let c = call_of(run(ev("rc-call-ring-notify", no_party)).unwrap());
        assert_eq!(c.id.as_str(), "rc-sip:a84b@10.0.0.5");
        let bare = session(json!({"partyData": null, "callId": null}));
        let c = call_of(run(ev("rc-call-ring-notify", bare)).unwrap());
        assert_eq!(c.id.as_str(), format!("rc-derived:in:+14155550123:{T0}"));
        assert_eq!(
            telephony_session_id(&CallId::new("rc:s-abc")),
            Some("s-abc")
        );
        assert_eq!(telephony_session_id(&CallId::new("rc-sip:x")), None);
    }

    fn presence_call(status: &str, termination: Option<&str>) -> Value {
        let mut c = json!({
            "direction": "Inbound", "from": {"phoneNumber": "+14155550123"}, "to": {"phoneNumber": "+16505550100"},
            "startTime": T0 + 120, "telephonyStatus": status, "sessionId": "1234567890123",
            "telephonySessionId": "s-abc", "partyId": "p-1"
        });
        if let Some(t) = termination {
            c["terminationType"] = json!(t);
        }
        ev("rc-active-call-notify", c)
    }

    #[test]
    fn only_the_webphone_that_placed_or_answered_a_call_carried_it() {
        let answered = json!({"startTime": T0 + 3_000});
        let ended = json!({"startTime": T0 + 3_000, "endTime": T0 + 60_000});
        let rang = json!({"endTime": T0 + 20_000});
        let table = [
            ("rc-call-ring-notify", json!({}), Device::Unknown),
            ("rc-call-start-notify", answered.clone(), Device::Here),
            ("rc-call-hold-notify", answered, Device::Here),
            ("rc-call-end-notify", ended, Device::Here),
            // Rang here and stopped: the rep may have taken it on another device.
            ("rc-call-end-notify", rang, Device::Elsewhere),
            ("rc-call-init-notify", json!({"direction": "Outbound", "from": "+16505550100", "to": "+14155550123"}), Device::Here),
        ];
        for (ty, extra, device) in table {
            assert_eq!(call_of(run(ev(ty, session(extra.clone()))).unwrap()).leg.device, device, "{ty} {extra}");
        }
        for status in ["Ringing", "CallConnected", "OnHold"] {
            assert_eq!(call_of(run(presence_call(status, None)).unwrap()).leg.device, Device::Elsewhere, "{status}");
        }
        // Presence reaches every device: after the webphone said it carried the call, it stays so.
        let mut leg = call_of(run(ev("rc-call-start-notify", session(json!({"startTime": T0 + 3_000})))).unwrap()).leg;
        leg.merge(&call_of(run(presence_call("NoCall", Some("final"))).unwrap()).leg);
        assert_eq!(leg.device, Device::Here);
        let mut heard = call_of(run(presence_call("CallConnected", None)).unwrap()).leg;
        heard.merge(&call_of(run(ev("rc-call-end-notify", session(json!({"startTime": T0 + 3_000, "endTime": T0 + 60_000})))).unwrap()).leg);
        assert_eq!(heard.device, Device::Here);
    }

    #[test]
    fn presence_statuses() {
        let table = [
            ("Ringing", Some("intermediate"), Some("call_ringing")),
            ("CallConnected", Some("intermediate"), Some("call_answered")),
            ("OnHold", Some("intermediate"), Some("call_held")),
            ("NoCall", Some("final"), Some("call_ended")),
            ("NoCall", Some("intermediate"), None),
            ("NoCall", None, None),
            ("ParkedCall", Some("intermediate"), None),
        ];
        for (status, term, variant) in table {
            let e = run(presence_call(status, term)).unwrap();
            let name = serde_json::to_value(&e).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned();
            match variant {
                Some(v) => {
                    assert_eq!(name, v, "{status}");
                    assert_eq!(e.call_id().unwrap().as_str(), "rc:s-abc");
                }
                None => assert_eq!(
                    e,
                    SoftphoneEvent::Ignored {
                        event: "rc-active-call-notify".into(),
                        reason: IgnoreReason::CallState
                    }
                ),
            }
        }
        let ended = call_of(run(presence_call("NoCall", Some("final"))).unwrap());
        assert_eq!(
            (ended.ended_at, ended.result),
            (Some(NOW), CallResult::Unknown)
        );
        let bad = run(presence_call("Dancing", None)).unwrap_err();
        assert_eq!(bad.kind(), "invalid_value");
        let bad = run(presence_call("NoCall", Some("eventually"))).unwrap_err();
        assert_eq!(bad.kind(), "invalid_value");
    }

    #[test]
    fn presence_from_a_clock_ahead_of_ours_is_not_absurd() {
        let mut data = presence_call("NoCall", Some("final"));
        data["call"]["startTime"] = json!(NOW.0 + 5_000);
        let c = call_of(run(data).unwrap());
        assert_eq!(
            (c.started_at, c.ended_at),
            (NOW.plus_ms(5_000), Some(NOW.plus_ms(5_000)))
        );
        let mut data = presence_call("CallConnected", None);
        data["call"]["startTime"] = json!(NOW.0 + 5_000);
        assert_eq!(
            call_of(run(data).unwrap()).answered_at,
            Some(NOW.plus_ms(5_000))
        );
    }

    #[test]
    fn presence_without_telephony_session_uses_session_id() {
        let mut data = presence_call("Ringing", None);
        data["call"]["telephonySessionId"] = Value::Null;
        assert_eq!(
            run(data).unwrap().call_id().unwrap().as_str(),
            "rc-session:1234567890123"
        );
    }

    #[test]
    fn malformed_calls() {
        let table: Vec<(Value, &str)> = vec![
            (json!({"type": "rc-call-ring-notify"}), "missing_field"),
            (
                json!({"type": "rc-call-ring-notify", "call": "x"}),
                "wrong_type",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"direction": "Sideways"})),
                ),
                "invalid_value",
            ),
            (
                ev("rc-call-ring-notify", session(json!({"direction": null}))),
                "missing_field",
            ),
            (
                ev("rc-call-ring-notify", session(json!({"from": null}))),
                "missing_field",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"from": "WIRELESS CALLER"})),
                ),
                "invalid_number",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"from": 4155550123_i64})),
                ),
                "wrong_type",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"from": "1".repeat(65)})),
                ),
                "oversized",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"partyData": {"sessionId": "s x"}})),
                ),
                "invalid_id",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"partyData": {"sessionId": "s".repeat(129)}})),
                ),
                "oversized",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"partyData": {"sessionId": ""}})),
                ),
                "invalid_id",
            ),
            (
                ev("rc-call-ring-notify", session(json!({"partyData": []}))),
                "wrong_type",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"creationTime": "yesterday"})),
                ),
                "invalid_value",
            ),
            (
                ev("rc-call-ring-notify", session(json!({"creationTime": 1.5}))),
                "wrong_type",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"creationTime": 1_717_430_400})),
                ),
                "absurd_time",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"creationTime": NOW.0 + 3_600_000})),
                ),
                "absurd_time",
            ),
            (
                ev(
                    "rc-call-ring-notify",
                    session(json!({"creationTime": null})),
                ),
                "missing_field",
            ),
            (
                ev(
                    "rc-call-end-notify",
                    session(json!({"startTime": T0 + 5000})),
                ),
                "missing_field",
            ),
            (
                ev(
                    "rc-call-end-notify",
                    session(json!({"startTime": T0 + 5000, "endTime": T0 + 1000})),
                ),
                "absurd_time",
            ),
            (
                ev("rc-call-end-notify", session(json!({"endTime": T0 - 1000}))),
                "absurd_time",
            ),
            (
                ev(
                    "rc-call-end-notify",
                    session(json!({"creationTime": T0 - 90_000_000, "endTime": T0})),
                ),
                "absurd_time",
            ),
            (
                ev(
                    "rc-call-end-notify",
                    session(json!({"endTime": T0 + 1000, "isToVoicemail": "yes"})),
                ),
                "wrong_type",
            ),
            (
                ev("rc-active-call-notify", json!({"direction": "Inbound"})),
                "missing_field",
            ),
        ];
        for (data, kind) in table {
            let err = run(data.clone())
                .err()
                .unwrap_or_else(|| panic!("accepted {data}"));
            assert_eq!(err.kind(), kind, "{data}: {err}");
        }
    }

    #[test]
    fn known_but_ignored_types() {
        let table = [
            ("rc-login-status-notify", IgnoreReason::NothingToLog),
            ("rc-post-message-request", IgnoreReason::NothingToLog),
            ("rc-some-future-notify", IgnoreReason::NothingToLog),
            ("rc-call-mute-notify", IgnoreReason::CallState),
            ("rc-ringout-call-notify", IgnoreReason::Redundant),
            ("rc-telephony-session-notify", IgnoreReason::Redundant),
        ];
        for (ty, reason) in table {
            assert_eq!(
                run(json!({"type": ty})).unwrap(),
                SoftphoneEvent::Ignored {
                    event: ty.into(),
                    reason
                }
            );
        }
    }

    fn sms(extra: Value) -> Value {
        let mut m = json!({
            "id": 1_724_099_032_020_i64, "type": "SMS", "direction": "Inbound",
            "from": {"phoneNumber": "+14155550123"}, "to": [{"phoneNumber": "+16505550100"}],
            "subject": "Running late", "creationTime": "2024-06-03T16:05:12.000Z",
            "availability": "Alive", "conversationId": 674_035_477_569_017_905_u64
        });
        if let (Value::Object(c), Value::Object(e)) = (&mut m, extra) {
            c.extend(e);
        }
        json!({"type": "rc-inbound-message-notify", "message": m})
    }

    fn run_msg(data: Value) -> Result<SoftphoneEvent, DecodeError> {
        let o = origins();
        let now = Timestamp::parse("2024-06-03T18:00:00Z").unwrap();
        let ctx = DecodeContext::new(&o, Country::US, now);
        super::super::decode("https://apps.ringcentral.com", &data, &ctx)
    }

    #[test]
    fn messages() {
        let SoftphoneEvent::Message(m) = run_msg(sms(json!({}))).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(m.id, "rc:1724099032020");
        assert_eq!(m.conversation.as_str(), "rc:674035477569017905");
        assert_eq!(
            (m.kind, m.direction),
            (MessageKind::Sms, Direction::Inbound)
        );
        assert_eq!(m.their_number.as_str(), "+14155550123");
        assert_eq!(m.at, Timestamp::parse("2024-06-03T16:05:12Z").unwrap());
        assert_eq!(m.text, "Running late");

        let out = sms(
            json!({"direction": "Outbound", "from": {"phoneNumber": "+16505550100"},
            "to": [{"phoneNumber": "+12125550199"}, {"phoneNumber": "+12125550198"}], "conversationId": null,
            "conversation": {"id": "77"}}),
        );
        let SoftphoneEvent::Message(m) = run_msg(out).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(
            (m.their_number.as_str(), m.conversation.as_str()),
            ("+12125550199", "rc:77")
        );

        let fax = sms(
            json!({"type": "Fax", "faxPageCount": 3, "messageStatus": "Sent", "conversationId": null, "subject": null}),
        );
        let SoftphoneEvent::Message(m) = run_msg(fax).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(
            (m.kind, m.text.as_str()),
            (MessageKind::Fax, "Fax, 3 pages, Sent")
        );
        assert_eq!(m.conversation.as_str(), "rc-peer:+14155550123");
    }

    #[test]
    fn message_ignores_and_errors() {
        let ignored = [
            (json!({"type": "VoiceMail"}), IgnoreReason::MessageKind),
            (json!({"type": "Pager"}), IgnoreReason::MessageKind),
            (json!({"type": "Text"}), IgnoreReason::MessageKind),
            (json!({"availability": "Deleted"}), IgnoreReason::Deleted),
            (json!({"availability": "Purged"}), IgnoreReason::Deleted),
        ];
        for (extra, reason) in ignored {
            let e = run_msg(sms(extra)).unwrap();
            assert_eq!(
                e,
                SoftphoneEvent::Ignored {
                    event: "rc-inbound-message-notify".into(),
                    reason
                }
            );
        }
        let errors: Vec<(Value, &str)> = vec![
            (json!({"type": "Carrier pigeon"}), "invalid_value"),
            (json!({"id": null}), "missing_field"),
            (json!({"id": -4}), "wrong_type"),
            (json!({"id": {"x": 1}}), "wrong_type"),
            (json!({"from": null}), "missing_field"),
            (
                json!({"from": {"phoneNumber": "not a number"}}),
                "invalid_number",
            ),
            (json!({"to": {"phoneNumber": "+16505550100"}}), "wrong_type"),
            (json!({"to": [7], "direction": "Outbound"}), "wrong_type"),
            (json!({"to": [], "direction": "Outbound"}), "missing_field"),
            (json!({"subject": "x".repeat(MAX_TEXT + 1)}), "oversized"),
            (json!({"creationTime": null}), "missing_field"),
            (
                json!({"creationTime": "2030-01-01T00:00:00Z"}),
                "absurd_time",
            ),
            (
                json!({"creationTime": "2024-06-03T16:05:12.000Z".repeat(3)}),
                "oversized",
            ),
            (json!({"availability": "Sideways"}), "invalid_value"),
            (json!({"type": "Fax", "faxPageCount": -1}), "invalid_value"),
        ];
        for (extra, kind) in errors {
            let err = run_msg(sms(extra.clone()))
                .err()
                .unwrap_or_else(|| panic!("accepted {extra}"));
            assert_eq!(err.kind(), kind, "{extra}: {err}");
        }
        assert_eq!(
            run_msg(json!({"type": "rc-message-updated-notify"}))
                .unwrap_err()
                .kind(),
            "missing_field"
        );
    }
}
