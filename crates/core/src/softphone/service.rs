//! Calltrail as RingCentral Embeddable's third-party service: the widget's call logger and
//! contact source, for origins tagged `ringcentral` in the settings.
//!
//! The protocol (`ringcentral/ringcentral-embeddable:src/modules/ThirdPartyService/index.ts`,
//! `src/lib/requestWithPostMessage.js`, `docs/integration/*.md`; `docs/softphones.md` §8):
//! - When the widget says it is logged in (`rc-login-status-notify`), Calltrail answers with
//!   `rc-adapter-register-third-party-service`: its name, the paths below, and automatic call
//!   logging switched on and locked, so the widget hands over every call's final record.
//! - The widget then asks with `{type: 'rc-post-message-request', requestId, path, body}` and
//!   takes the first `{type: 'rc-post-message-response', responseId, response: {data}}`:
//!   - [`MATCH_PATH`] `{phoneNumbers}`: the contacts matching each number, per CRM;
//!   - [`SEARCH_PATH`] `{searchString}`: contacts matching what the rep types (a number, or
//!     part of a name Calltrail has seen);
//!   - [`LOGGER_PATH`] `{call, triggerType, aiNote?, transcript?}`: a call to log. The
//!     automatic triggers (`presenceUpdate`, `callLogSync`) come as the call goes on and once
//!     RingCentral's call log has it (duration, result, recording); the others are the rep's
//!     "log" button, which is Calltrail's manual log.
//!
//! What wins when the broadcast events and the logger describe the same call (both name it
//! `rc:<telephonySessionId>`): the broadcast events start, answer and end the call and make its
//! automatic log, with the webphone's own times; the logger's record fills what they lack (a call
//! seen only there is logged from it), and its result (RingCentral's call log is the final
//! word: "Voicemail" where presence said nothing), recording link, voicemail, AI note and
//! transcript win. When they arrive after the log was written, each CRM's log is rewritten once.
//!
//! Paths are Calltrail's own (`/calltrail/…`), so a request for another service's path (the
//! page's own integration registered before Calltrail) is never answered here.

use serde_json::{json, Value};

use super::json::{clip, Obj, MAX_STRING, MAX_TEXT, MAX_TRANSCRIPT};
use super::ringcentral;
use super::vendors::{build, ignored, Fact, Step};
use super::{DecodeContext, DecodeError, Decoded, IgnoreReason, Reply, SoftphoneEvent};
use crate::model::{CallResult, Contact, IntegrationId};
use crate::phone::E164;

/// The service's name: the widget shows it, and contacts carry it as their `type`.
pub const SERVICE_NAME: &str = "Calltrail";
pub const MATCH_PATH: &str = "/calltrail/contacts/match";
pub const SEARCH_PATH: &str = "/calltrail/contacts/search";
pub const LOGGER_PATH: &str = "/calltrail/call-logger";
/// At most this many numbers are matched per request (the widget asks in batches).
const MAX_NUMBERS: usize = 30;

/// Decodes an `rc-*` message from an origin tagged `ringcentral`.
pub(super) fn decode(ty: &str, data: &Value, ctx: &DecodeContext<'_>) -> Result<Decoded, DecodeError> {
    let top = Obj::new(data, "")?;
    match ty {
        "rc-login-status-notify" => {
            let reply = (top.bool("loggedIn")? == Some(true)).then(|| Reply::Message(registration()));
            Ok(Decoded { event: ignored(ty, IgnoreReason::NothingToLog), reply })
        }
        "rc-post-message-request" => request(top, ctx),
        _ => ringcentral::decode(ty, data, ctx).map(|event| Decoded { event, reply: None }),
    }
}

/// What Calltrail registers (as text: a constant costs the module less than code building it).
const REGISTRATION: &str = r#"{"type":"rc-adapter-register-third-party-service","service":{
"name":"Calltrail","displayName":"Calltrail",
"contactMatchPath":"/calltrail/contacts/match","contactSearchPath":"/calltrail/contacts/search",
"callLoggerPath":"/calltrail/call-logger","callLoggerTitle":"Log with Calltrail",
"callLoggerAutoSettingReadOnly":true,"callLoggerAutoSettingReadOnlyValue":true,
"callLoggerAutoSettingReadOnlyReason":"Calltrail logs every call","callLoggerAutoLogOnCallSync":true}}"#;

pub fn registration() -> Value {
    serde_json::from_str(REGISTRATION).unwrap_or_default()
}

/// The answer to request `id`.
fn response(id: &str, data: Value) -> Value {
    json!({"type": "rc-post-message-response", "responseId": id, "response": {"data": data}})
}

fn request(top: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<Decoded, DecodeError> {
    let id = top.req_id("requestId")?;
    let path = top.req_str("path", MAX_STRING)?;
    let body = top.req_obj("body", "body")?;
    let ask = |numbers: Vec<E164>, text: Option<String>| {
        Ok(Decoded { event: ignored("rc-post-message-request", IgnoreReason::NothingToLog), reply: Some(Reply::Contacts { id: id.clone(), numbers, text }) })
    };
    match path {
        MATCH_PATH => {
            let Some(list) = body.get("phoneNumbers") else { return Err(body.missing("phoneNumbers")) };
            let Value::Array(list) = list else {
                return Err(DecodeError::WrongType { field: body.path_of("phoneNumbers"), expected: "an array" });
            };
            if list.len() > MAX_NUMBERS {
                return Err(DecodeError::Oversized { field: body.path_of("phoneNumbers"), max: MAX_NUMBERS });
            }
            let mut numbers = Vec::new();
            for n in list {
                let Value::String(raw) = n else {
                    return Err(DecodeError::WrongType { field: body.path_of("phoneNumbers"), expected: "phone numbers as strings" });
                };
                // Extensions and short codes match no CRM contact: they are answered empty.
                if let Ok(e) = E164::parse(raw, ctx.default_country) {
                    numbers.push(e);
                }
            }
            ask(numbers, None)
        }
        SEARCH_PATH => {
            let text = body.req_str("searchString", MAX_STRING)?.trim();
            let numbers = E164::parse(text, ctx.default_country).into_iter().collect();
            ask(numbers, Some(text.to_owned()))
        }
        LOGGER_PATH => {
            let event = logger(body, ctx)?;
            Ok(Decoded { event, reply: Some(Reply::Message(response(&id, json!("ok")))) })
        }
        // Another service's request: not Calltrail's to answer.
        _ => Ok(Decoded { event: ignored("rc-post-message-request", IgnoreReason::NothingToLog), reply: None }),
    }
}

/// A `/callLogger` request: the call as RingCentral's call log or presence has it.
fn logger(body: Obj<'_>, ctx: &DecodeContext<'_>) -> Result<SoftphoneEvent, DecodeError> {
    let c = body.req_obj("call", "body.call")?;
    let manual = matches!(body.str("triggerType", MAX_STRING)?, Some("createLog" | "editLog" | "manual" | "logForm"));
    let direction = ringcentral::direction(c)?;
    let (their, our) = super::json::parties(c, direction, c.number_text("from")?, c.number_text("to")?, ctx)?;
    let started = c.time("startTime", ctx)?.ok_or_else(|| c.missing("startTime"))?;
    let session = c.id("sessionId")?.map(|s| ("rc-session:", s));
    let id = ringcentral::call_id(c.id("telephonySessionId")?, session, direction, &their, started);
    let mut f = Fact::new("rc-post-message-request", id, Step::Details);
    f.who = Some((direction, their, our));
    f.started = Some(started);
    // Presence's "Disconnected" and RingCentral's rarer results say nothing of an answer.
    f.result = c.str("result", MAX_STRING)?.and_then(super::vendors::result_word);
    // A call-log record (it has a duration) is final: the call is over.
    if let Some(secs) = c.secs("duration")? {
        let ended = started.plus_secs(secs);
        f.ended = Some(ended);
        f.answered = (f.result == Some(CallResult::Answered)).then_some(started);
    }
    if let Some(r) = c.obj("recording", "body.call.recording")? {
        // `link` plays it after a RingCentral login; `contentUri` needs a token.
        f.recording = match r.link("link", true)? {
            Some(l) => Some(l),
            None => r.link("contentUri", false)?,
        };
    }
    if let Some(m) = c.obj("message", "body.call.message")? {
        if m.str("type", MAX_STRING)? == Some("VoiceMail") {
            f.voicemail = m.link("uri", false)?;
        }
    }
    let text = |key: &str, max: usize| -> Result<Option<String>, DecodeError> {
        Ok(body.str(key, max)?.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned))
    };
    let (ai_note, transcript) = (text("aiNote", MAX_TEXT)?, text("transcript", MAX_TRANSCRIPT)?);
    let mut event = build(f, ctx)?;
    if let SoftphoneEvent::CallDetails { call, manual: m } = &mut event {
        call.ai_note = ai_note.or(call.ai_note.take());
        call.transcript = transcript.or(call.transcript.take());
        *m = manual;
    }
    Ok(event)
}

/// One integration's contacts for one number, for [`contacts_reply`].
pub struct Found<'a> {
    pub number: &'a E164,
    pub integration: &'a IntegrationId,
    /// The integration as the rep named it: the widget shows it as the contact's company.
    pub label: &'a str,
    pub contact: &'a Contact,
}

/// The answer to a contact request: for a match (`search` false), the contacts of each asked
/// number by number (every asked number present, possibly with none); for a search, one list.
/// A contact's id is `<integration>:<record id>`, so the same person in two CRMs is two entries.
pub fn contacts_reply(id: &str, numbers: &[E164], search: bool, found: &[Found<'_>]) -> Value {
    let entry = |f: &Found<'_>| {
        json!({
            "id": format!("{}:{}", f.integration, f.contact.id),
            "type": SERVICE_NAME,
            "name": clip(&f.contact.name),
            "company": f.label,
            "phoneNumbers": [{"phoneNumber": f.number.as_str(), "phoneType": "direct"}],
        })
    };
    let data = if search {
        Value::Array(found.iter().map(entry).collect())
    } else {
        let mut map = serde_json::Map::new();
        for n in numbers {
            let list = found.iter().filter(|f| f.number == n).map(entry).collect();
            map.insert(n.as_str().to_owned(), Value::Array(list));
        }
        Value::Object(map)
    };
    response(id, data)
}

/// Whether the widget's search text picks a contact: part of its name, any case.
pub fn name_matches(text: &str, contact: &Contact) -> bool {
    let text = crate::model::fold(text.trim());
    text.chars().count() >= 2 && crate::model::fold(&contact.name).contains(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Timestamp};
    use crate::phone::Country;
    use crate::settings::{Protocol, ProtocolTags};

    const RC: &str = "https://apps.ringcentral.com";
    const T0: i64 = 1_717_430_400_120;
    const NOW: Timestamp = Timestamp(T0 + 200_000);

    fn read(data: Value) -> Result<Decoded, DecodeError> {
        let origins = vec![RC.to_owned()];
        let mut tags = ProtocolTags::default();
        tags.insert(RC, Protocol::RingCentral);
        let ctx = DecodeContext { protocols: &tags, ..DecodeContext::new(&origins, Country::US, NOW) };
        super::super::read(RC, &data, &ctx)
    }

    fn logger_request(call: Value, extra: Value) -> Value {
        let mut body = json!({"triggerType": "callLogSync", "call": call});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        json!({"type": "rc-post-message-request", "requestId": "r-1", "path": LOGGER_PATH, "body": body})
    }

    fn record() -> Value {
        json!({"sessionId": "1234567890123", "telephonySessionId": "s-abc", "direction": "Inbound",
            "from": {"phoneNumber": "+14155550123"}, "to": {"phoneNumber": "+16505550100"},
            "startTime": T0, "duration": 99, "result": "Accepted", "action": "Phone Call",
            "recording": {"id": "1", "uri": "https://platform.ringcentral.com/r/1", "contentUri": "https://media.ringcentral.com/r/1/content",
                "link": "https://ringcentral.github.io/ringcentral-media-reader/?media=x"}})
    }

    #[test]
    fn login_registers_calltrail() {
        let d = read(json!({"type": "rc-login-status-notify", "loggedIn": true})).unwrap();
        let Some(Reply::Message(m)) = d.reply else { panic!("{d:?}") };
        assert_eq!(m["type"], "rc-adapter-register-third-party-service");
        assert_eq!(m["service"]["callLoggerPath"], LOGGER_PATH);
        assert_eq!(m["service"]["contactMatchPath"], MATCH_PATH);
        assert_eq!(m["service"]["contactSearchPath"], SEARCH_PATH);
        assert_eq!(m["service"]["name"], SERVICE_NAME);
        assert!(read(json!({"type": "rc-login-status-notify", "loggedIn": false})).unwrap().reply.is_none());
        // An untagged origin hears the broadcast events only: no registration.
        let origins = vec![RC.to_owned()];
        let ctx = DecodeContext::new(&origins, Country::US, NOW);
        let plain = super::super::read(RC, &json!({"type": "rc-login-status-notify", "loggedIn": true}), &ctx).unwrap();
        assert_eq!(plain.reply, None);
    }

    #[test]
    fn a_final_logger_record_carries_recording_ai_note_and_transcript() {
        let d = read(logger_request(record(), json!({"aiNote": "Wants a quote", "transcript": "Pat: hello\nJane: hi"}))).unwrap();
        let Some(Reply::Message(ok)) = &d.reply else { panic!("{d:?}") };
        assert_eq!(ok["responseId"], "r-1");
        assert_eq!(ok["response"]["data"], "ok");
        let SoftphoneEvent::CallDetails { call, manual } = d.event else { panic!("{:?}", d.event) };
        assert!(!manual);
        assert_eq!(call.id, CallId::new("rc:s-abc"));
        assert_eq!(call.result, CallResult::Answered);
        assert_eq!(call.ended_at, Some(Timestamp(T0 + 99_000)));
        assert_eq!(call.recording_url.as_deref(), Some("https://ringcentral.github.io/ringcentral-media-reader/?media=x"));
        assert_eq!(call.ai_note.as_deref(), Some("Wants a quote"));
        assert_eq!(call.transcript.as_deref(), Some("Pat: hello\nJane: hi"));
    }

    #[test]
    fn the_log_button_is_a_manual_log_and_voicemail_is_kept() {
        let mut r = record();
        r["result"] = json!("Voicemail");
        r["message"] = json!({"id": "9", "type": "VoiceMail", "uri": "https://platform.ringcentral.com/m/9"});
        let mut req = logger_request(r, json!({}));
        req["body"]["triggerType"] = json!("createLog");
        let SoftphoneEvent::CallDetails { call, manual } = read(req).unwrap().event else { panic!() };
        assert!(manual);
        assert_eq!((call.result, call.voicemail_url.as_deref()), (CallResult::Voicemail, Some("https://platform.ringcentral.com/m/9")));
    }

    #[test]
    fn a_presence_update_for_an_unknown_call_is_ignored_but_answered() {
        let call = json!({"sessionId": "1", "telephonySessionId": "s-new", "direction": "Inbound", "from": {"phoneNumber": "+14155550123"},
            "to": {"phoneNumber": "+16505550100"}, "startTime": T0, "telephonyStatus": "Ringing"});
        let d = read(logger_request(call, json!({}))).unwrap();
        assert_eq!(d.event, ignored("rc-post-message-request", IgnoreReason::UnknownCall));
        assert!(matches!(d.reply, Some(Reply::Message(_))));
    }

    #[test]
    fn contact_requests_ask_the_driver() {
        let m = json!({"type": "rc-post-message-request", "requestId": "m-1", "path": MATCH_PATH,
            "body": {"phoneNumbers": ["+14155550123", "101", "(212) 555-0142"]}});
        let Some(Reply::Contacts { id, numbers, text }) = read(m).unwrap().reply else { panic!() };
        assert_eq!((id.as_str(), numbers.len(), text), ("m-1", 2, None));
        let s = json!({"type": "rc-post-message-request", "requestId": "s-1", "path": SEARCH_PATH, "body": {"searchString": " Ada "}});
        let Some(Reply::Contacts { numbers, text, .. }) = read(s).unwrap().reply else { panic!() };
        assert_eq!((numbers.len(), text.as_deref()), (0, Some("Ada")));
        // Another service's path is not answered.
        let other = json!({"type": "rc-post-message-request", "requestId": "o-1", "path": "/contacts/match", "body": {}});
        assert_eq!(read(other).unwrap().reply, None);
    }

    #[test]
    fn malformed_requests_are_refused() {
        let table: Vec<(Value, &str)> = vec![
            (json!({"type": "rc-post-message-request", "path": MATCH_PATH, "body": {}}), "missing_field"),
            (json!({"type": "rc-post-message-request", "requestId": "a b", "path": MATCH_PATH, "body": {}}), "invalid_id"),
            (json!({"type": "rc-post-message-request", "requestId": "x", "path": MATCH_PATH, "body": {"phoneNumbers": "+1"}}), "wrong_type"),
            (json!({"type": "rc-post-message-request", "requestId": "x", "path": MATCH_PATH, "body": {"phoneNumbers": vec!["+14155550123"; 31]}}), "oversized"),
            (json!({"type": "rc-post-message-request", "requestId": "x", "path": MATCH_PATH, "body": {"phoneNumbers": [7]}}), "wrong_type"),
            (json!({"type": "rc-post-message-request", "requestId": "x", "path": SEARCH_PATH, "body": {}}), "missing_field"),
            (logger_request(json!({"direction": "Inbound"}), json!({})), "missing_field"),
            (logger_request(json!(null), json!({})), "missing_field"),
            (logger_request(record(), json!({"aiNote": 5})), "wrong_type"),
            (logger_request(record(), json!({"transcript": "x".repeat(MAX_TRANSCRIPT + 1)})), "oversized"),
        ];
        for (data, kind) in table {
            let err = read(data.clone()).err().unwrap_or_else(|| panic!("accepted {data}"));
            assert_eq!(err.kind(), kind, "{data}: {err}");
        }
        let mut r = record();
        r["recording"]["link"] = json!("javascript:alert(1)");
        assert_eq!(read(logger_request(r, json!({}))).unwrap_err().kind(), "invalid_value");
        let mut r = record();
        r["duration"] = json!(-3);
        assert_eq!(read(logger_request(r, json!({}))).unwrap_err().kind(), "absurd_time");
    }

    #[test]
    fn contacts_replies() {
        let n = E164::parse("+14155550123", Country::US).unwrap();
        let other = E164::parse("+12125550142", Country::US).unwrap();
        let c = Contact {
            id: crate::model::RecordId::new("7"),
            name: "Ada Lovelace".into(),
            record_type: crate::model::RecordType::new("Contact"),
            phones: vec!["(415) 555-0123".into()].into(),
            created_at: None,
            modified_at: None,
            url: None,
        };
        let (hs, pd) = (IntegrationId::new("hs"), IntegrationId::new("pd"));
        let found = [Found { number: &n, integration: &hs, label: "HubSpot", contact: &c }, Found { number: &n, integration: &pd, label: "Pipedrive", contact: &c }];
        let m = contacts_reply("m-1", &[n, other], false, &found);
        assert_eq!(m["responseId"], "m-1");
        let data = &m["response"]["data"];
        assert_eq!(data["+14155550123"].as_array().unwrap().len(), 2);
        assert_eq!(data["+14155550123"][1]["id"], "pd:7");
        assert_eq!(data["+14155550123"][1]["company"], "Pipedrive");
        assert_eq!(data["+12125550142"], json!([]));
        let s = contacts_reply("s-1", &[], true, &found);
        assert_eq!(s["response"]["data"][0]["type"], SERVICE_NAME);
        assert!(name_matches("ada", &c) && name_matches("LOVE", &c) && !name_matches("a", &c) && !name_matches("bob", &c));
    }

    #[test]
    fn a_direction_it_does_not_know_is_refused() {
        let mut r = record();
        r["direction"] = json!("Sideways");
        assert_eq!(read(logger_request(r, json!({}))).unwrap_err().kind(), "invalid_value");
    }
}
