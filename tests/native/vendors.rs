//! The vendor decoders against their replay fixtures (`tests/fixtures/softphones/*.json`):
//! every scenario replayed as the top frame receives it, with the calls known so far standing in
//! for the engine, then compared with what the fixture expects; every forged or malformed
//! message refused with the fixture's reason; arbitrary JSON in each vendor's envelope never
//! panics and what is accepted stays sane.

use std::collections::BTreeMap;

use calltrail_core::model::{Call, CallId, CallResult, Timestamp};
use calltrail_core::phone::Country;
use calltrail_core::settings::{Protocol, ProtocolTags};
use calltrail_core::softphone::{read, DecodeContext, Decoded, DecodeError, KnownCalls, Reply, SoftphoneEvent};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::softphone::{arb_json, check_accepted};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/softphones/");

/// Each fixture file, the protocol tag its origin gets, and the origin.
const FILES: [(&str, Protocol); 6] = [
    ("justcall.json", Protocol::JustCall),
    ("ringover.json", Protocol::Ringover),
    ("ringcentral-ringcx.json", Protocol::RingCx),
    ("aircall.json", Protocol::Aircall),
    ("zoom-phone.json", Protocol::Zoom),
    ("hubspot-calling-sdk.json", Protocol::HubSpot),
];

fn fixture(name: &str) -> Value {
    let path = format!("{DIR}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn origin_of(f: &Value) -> String {
    let o = f["widget_origins"][0].as_str().or(f["vendor_origin_example"].as_str());
    o.expect("a widget origin").to_owned()
}

/// The calls decoded so far, merged as the engine merges them: a call event replaces what was
/// known (decoders start from it), details fill gaps and bring content.
#[derive(Default)]
pub struct Known(pub BTreeMap<CallId, Call>);

impl KnownCalls for Known {
    fn known_call(&self, id: &CallId) -> Option<&Call> {
        self.0.get(id)
    }
}

impl Known {
    pub fn take(&mut self, event: &SoftphoneEvent) {
        match event {
            SoftphoneEvent::CallDetails { call, .. } => match self.0.get_mut(&call.id) {
                Some(k) => {
                    k.answered_at = k.answered_at.or(call.answered_at);
                    k.ended_at = k.ended_at.or(call.ended_at);
                    if call.result != CallResult::Unknown {
                        k.result = call.result;
                    }
                    k.recording_url = call.recording_url.clone().or(k.recording_url.take());
                    if !call.notes.is_empty() {
                        k.notes = call.notes.clone();
                    }
                }
                None => {
                    self.0.insert(call.id.clone(), call.clone());
                }
            },
            other => {
                if let Some(c) = other.call() {
                    self.0.insert(c.id.clone(), c.clone());
                }
            }
        }
    }
}

pub fn read_as(protocol: Protocol, trusted: &str, origin: &str, data: &Value, now: i64, known: &Known) -> Result<Decoded, DecodeError> {
    let origins = vec![trusted.to_owned()];
    let mut tags = ProtocolTags::default();
    tags.insert(trusted, protocol);
    let ctx = DecodeContext { protocols: &tags, known, ..DecodeContext::new(&origins, Country::US, Timestamp(now)) };
    read(origin, data, &ctx)
}

fn word(e: &SoftphoneEvent) -> String {
    match e {
        SoftphoneEvent::Ignored { reason, .. } => format!("ignored:{}", reason.as_str()),
        SoftphoneEvent::CallRinging(_) => "ringing".into(),
        SoftphoneEvent::CallAnswered(_) => "answered".into(),
        SoftphoneEvent::CallEnded(_) => "ended".into(),
        SoftphoneEvent::CallDetails { .. } => "details".into(),
        SoftphoneEvent::Message(_) => "message".into(),
        other => format!("{other:?}"),
    }
}

/// What a fixture's `expect` says up to its first " (" or " <": the rest is commentary.
fn bare(v: &Value) -> Option<String> {
    v.as_str().map(|s| s.split(" (").next().unwrap_or(s).to_owned())
}

fn check_call(file: &str, scenario: &str, t0: i64, want: &Value, known: &Known) {
    let at = |key: &str| -> Option<Option<i64>> {
        let v = want.get(key)?;
        Some(v.as_i64().map(|ms| if key.ends_with("_t_ms") { t0 + ms } else { ms }))
    };
    let id = CallId::new(want["call_id"].as_str().expect("call_id"));
    let c = known.0.get(&id).unwrap_or_else(|| panic!("{file} {scenario}: no call {id}"));
    let here = format!("{file} {scenario}");
    assert_eq!(serde_json::to_value(c.direction).unwrap(), want["direction"], "{here}");
    assert_eq!(c.their_number.as_str(), want["their_number"], "{here}");
    assert_eq!(c.our_number.as_ref().map(|n| n.as_str()), want["our_number"].as_str(), "{here}");
    if let Some(s) = at("started_at_t_ms").or(at("started_at")) {
        assert_eq!(Some(c.started_at.millis()), s, "{here}: start");
    }
    if let Some(a) = at("answered_at_t_ms") {
        assert_eq!(c.answered_at.map(Timestamp::millis), a, "{here}: answer");
    }
    if let Some(e) = at("ended_at_t_ms") {
        assert_eq!(c.ended_at.map(Timestamp::millis), e, "{here}: end");
    }
    assert_eq!(serde_json::to_value(c.result).unwrap(), want["result"], "{here}: result");
    if let Some(r) = want.get("recording_url") {
        assert_eq!(c.recording_url.clone(), bare(r), "{here}: recording");
    }
    if let Some(n) = want.get("notes") {
        assert_eq!(Some(c.notes.clone()), bare(n), "{here}: notes");
    }
    if let Some(d) = want["duration_s"].as_i64() {
        assert_eq!(c.duration_secs(), d, "{here}: duration");
    }
    if want.get("hubspot_owned") == Some(&json!(true)) {
        assert_eq!(c.logged_by, Some(calltrail_core::model::CrmKind::HubSpot), "{here}: HubSpot-owned");
    }
}

fn check_message(file: &str, t0: i64, want: &Value, events: &[SoftphoneEvent]) {
    let messages: Vec<_> = events.iter().filter_map(|e| if let SoftphoneEvent::Message(m) = e { Some(m) } else { None }).collect();
    let want: Vec<&Value> = match want {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    assert_eq!(messages.len(), want.len(), "{file}: messages");
    for (m, w) in messages.iter().zip(want) {
        assert_eq!(serde_json::to_value(m.direction).unwrap(), w["direction"], "{file}");
        assert_eq!(m.their_number.as_str(), w["their_number"], "{file}");
        assert_eq!(m.text, w["text"].as_str().unwrap(), "{file}");
        let id = w["message_id"].as_str().unwrap();
        let stem = id.split('<').next().unwrap();
        assert!(m.id.starts_with(stem), "{file}: {} is not {id}", m.id);
        if let Some(conv) = w["conversation"].as_str() {
            assert_eq!(m.conversation.as_str(), conv, "{file}");
        }
        if let Some(at) = w["at_t_ms"].as_i64() {
            assert_eq!(m.at.millis(), t0 + at, "{file}");
        }
    }
}

/// Every scenario of every vendor fixture, replayed.
#[test]
fn vendor_fixtures_replay() {
    for (file, protocol) in FILES {
        let f = fixture(file);
        let origin = origin_of(&f);
        let t0 = f["t0_ms"].as_i64().expect("t0_ms");
        for s in f["scenarios"].as_array().expect("scenarios") {
            let name = s["id"].as_str().unwrap();
            let mut known = Known::default();
            let mut events = Vec::new();
            for m in s["messages"].as_array().unwrap().iter().filter(|m| m["dir"] == "widget->host") {
                let now = t0 + m["t_ms"].as_i64().unwrap();
                let d = read_as(protocol, &origin, m["origin"].as_str().unwrap(), &m["data"], now, &known)
                    .unwrap_or_else(|e| panic!("{file} {name}: {} refused: {e}", m["data"]));
                check_accepted(&d.event, now);
                known.take(&d.event);
                events.push(d.event);
            }
            let want = &s["expect"];
            if let Some(list) = want.get("events") {
                let got: Vec<String> = events.iter().map(word).collect();
                assert_eq!(json!(got), *list, "{file} {name}");
            } else if want.get("call_id").is_some() {
                check_call(file, name, t0, want, &known);
            } else {
                check_message(file, t0, want, &events);
            }
        }
    }
}

/// Every forged or malformed message of every fixture, refused for the fixture's reason.
#[test]
fn vendor_forgeries_are_refused() {
    let mut checked = 0;
    for (file, protocol) in FILES {
        let f = fixture(file);
        let origin = origin_of(&f);
        for forged in f["forged"].as_array().expect("forged") {
            let expect = forged["expect"].as_str().unwrap();
            let data = &forged["data"];
            let from = forged["origin"].as_str().unwrap();
            let got = read_as(protocol, &origin, from, data, f["t0_ms"].as_i64().unwrap() + 1000, &Known::default());
            let id = forged["id"].as_str().unwrap();
            if let Some(reason) = expect.strip_prefix("reject: ") {
                let kind = reason.split([' ', '(']).next().unwrap();
                let err = got.expect_err(&format!("{file} {id} accepted"));
                assert_eq!(err.kind(), kind, "{file} {id}: {err}");
                checked += 1;
            } else {
                // The frame check (the content script) or a non-HubSpot page: never a vendor
                // message from an origin that is not the trusted frame's.
                assert!(from != origin || forged.get("source").is_some(), "{file} {id}");
                if from != origin {
                    assert_eq!(got.expect_err(id).kind(), "untrusted_origin", "{file} {id}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "{checked}");
}

/// A message in one vendor's shape from an origin tagged with another vendor is refused, and the
/// host → widget commands of each protocol never pass as widget events.
#[test]
fn a_message_in_another_protocol_is_refused() {
    let samples: Vec<(Protocol, Value)> = FILES
        .iter()
        .filter_map(|(file, p)| {
            let f = fixture(file);
            let s = f["scenarios"].as_array()?.iter().find(|s| s["id"] == "inbound_answered")?;
            let m = s["messages"].as_array()?.iter().find(|m| m["dir"] == "widget->host")?;
            Some((*p, m["data"].clone()))
        })
        .collect();
    assert_eq!(samples.len(), 6);
    for (p, _) in &samples {
        for (q, data) in &samples {
            if p == q {
                continue;
            }
            let got = read_as(*p, "https://x.example", "https://x.example", data, 1_767_625_260_000, &Known::default());
            assert!(got.is_err(), "{p:?} read {q:?}'s message: {got:?}");
        }
    }
    for (file, protocol) in FILES {
        let f = fixture(file);
        for s in f["scenarios"].as_array().unwrap() {
            for m in s["messages"].as_array().unwrap().iter().filter(|m| m["dir"] == "host->widget") {
                let got = read_as(protocol, "https://x.example", "https://x.example", &m["data"], 1_767_625_260_000, &Known::default());
                assert!(got.is_err(), "{file}: the command {} passed as an event: {got:?}", m["data"]);
            }
        }
    }
}

#[test]
fn handshakes_are_answered_and_a_hubspot_call_is_hubspot_owned() {
    let ringover = read_as(Protocol::Ringover, "https://app.ringover.com", "https://app.ringover.com", &json!({"action": "checkSDK"}), 1_767_625_260_000, &Known::default()).unwrap();
    let Some(Reply::Handshake(h)) = ringover.reply else { panic!("{ringover:?}") };
    assert_eq!(h["action"], "presenceSDK");
    let aircall = read_as(Protocol::Aircall, "https://workspace.aircall.io", "https://workspace.aircall.io", &json!({"name": "apm_phone_loaded", "value": {}}), 1_767_625_260_000, &Known::default()).unwrap();
    assert!(matches!(aircall.reply, Some(Reply::Handshake(ref v)) if v["name"] == "apm_app_isready"));
}

fn envelope(protocol: Protocol) -> BoxedStrategy<Value> {
    let names = |v: &[&'static str]| prop::sample::select(v.to_vec());
    match protocol {
        Protocol::JustCall => (names(&["call-ringing", "call-answered", "call-ended", "sms-received", "logged-in-status"]), arb_json())
            .prop_map(|(n, d)| json!({"name": n, "data": d}))
            .boxed(),
        Protocol::Ringover => (names(&["ringingCall", "answeredCall", "hangupCall", "smsSent", "smsReceived", "checkSDK"]), arb_json())
            .prop_map(|(n, d)| json!({"action": n, "data": d}))
            .boxed(),
        Protocol::RingCx => (names(&["rc-ev-ringCall", "rc-ev-newCall", "rc-ev-endCall", "rc-ev-sipEndCall"]), arb_json(), arb_json())
            .prop_map(|(n, c, x)| json!({"type": "MessageTransport-push", "payload": {"type": n, "call": c, "x": x}}))
            .boxed(),
        Protocol::Aircall => (names(&["apm_phone_incoming_call", "apm_phone_outgoing_call", "apm_phone_call_end_ringtone", "apm_phone_call_ended", "apm_phone_comment_saved"]), arb_json())
            .prop_map(|(n, v)| json!({"name": n, "value": v}))
            .boxed(),
        Protocol::Zoom => (names(&["zp-call-ringing-event", "zp-call-connected-event", "zp-call-ended-event", "zp-call-log-completed-event", "zp-call-recording-completed-event"]), arb_json())
            .prop_map(|(n, d)| json!({"type": n, "data": d}))
            .boxed(),
        _ => (names(&["INCOMING_CALL", "OUTGOING_CALL_STARTED", "CALL_ANSWERED", "CALL_ENDED", "CALL_COMPLETED"]), arb_json())
            .prop_map(|(n, d)| json!({"type": n, "data": d, "messageId": "1_1"}))
            .boxed(),
    }
}

/// One fixture payload of `file`, with one field of its innermost object replaced.
fn mutated(file: &str, pick: usize, field: usize, value: Value) -> (i64, Value) {
    let f = fixture(file);
    let t0 = f["t0_ms"].as_i64().unwrap();
    let msgs: Vec<Value> = f["scenarios"].as_array().unwrap().iter().flat_map(|s| s["messages"].as_array().unwrap().clone()).filter(|m| m["dir"] == "widget->host").collect();
    let m = &msgs[pick % msgs.len()];
    let mut data = m["data"].clone();
    let mut at = &mut data;
    for key in ["payload", "data", "value", "call"] {
        if at.get(key).is_some_and(Value::is_object) {
            at = at.get_mut(key).unwrap();
        }
    }
    if let Some(obj) = at.as_object_mut() {
        let keys: Vec<String> = obj.keys().cloned().collect();
        if !keys.is_empty() {
            obj.insert(keys[field % keys.len()].clone(), value);
        }
    }
    (t0 + m["t_ms"].as_i64().unwrap(), data)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_vendor_messages_never_panic((which, data) in (0usize..6).prop_flat_map(|i| (Just(i), envelope(FILES[i].1))), dt in -100_000_000_i64..100_000_000) {
        let (file, protocol) = FILES[which];
        let origin = origin_of(&fixture(file));
        let now = 1_767_625_260_000 + dt;
        if let Ok(d) = read_as(protocol, &origin, &origin, &data, now, &Known::default()) {
            check_accepted(&d.event, now);
        }
        let err = read_as(protocol, &origin, "https://crm.example.com", &data, now, &Known::default()).expect_err("untrusted");
        prop_assert_eq!(err.kind(), "untrusted_origin");
    }

    /// RingCentral's requests to Calltrail as its registered service, with arbitrary bodies.
    #[test]
    fn arbitrary_service_requests_never_panic(path in prop::sample::select(vec![
        calltrail_core::softphone::service::MATCH_PATH, calltrail_core::softphone::service::SEARCH_PATH,
        calltrail_core::softphone::service::LOGGER_PATH, "/elsewhere"]), body in arb_json(), call in arb_json(), dt in -100_000_000_i64..100_000_000) {
        const RC: &str = "https://apps.ringcentral.com";
        let now = 1_717_430_500_000 + dt;
        let mut data = json!({"type": "rc-post-message-request", "requestId": "r-1", "path": path, "body": body});
        if let Some(b) = data["body"].as_object_mut() {
            b.insert("call".into(), call);
        }
        if let Ok(d) = read_as(Protocol::RingCentral, RC, RC, &data, now, &Known::default()) {
            check_accepted(&d.event, now);
        }
    }

    #[test]
    fn mutated_vendor_payloads_stay_sane(which in 0usize..6, pick in 0usize..20, field in 0usize..16, value in arb_json()) {
        let (file, protocol) = FILES[which];
        let origin = origin_of(&fixture(file));
        let (now, data) = mutated(file, pick, field, value);
        if let Ok(d) = read_as(protocol, &origin, &origin, &data, now, &Known::default()) {
            check_accepted(&d.event, now);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Through the driver and the engine, in the fake world

mod world {
    use calltrail_core::crm::CrmOp;
    use calltrail_core::model::{CrmKind, Timestamp};
    use calltrail_core::settings::Protocol;
    use serde_json::{json, Value};

    use crate::support::world::{integration, ts};
    use crate::support::World;

    const RC: &str = "https://apps.ringcentral.com";
    const PAT: &str = "+14155550123";

    fn data(a: &calltrail_core::driver::Answer) -> Value {
        serde_json::from_str(a.data.as_ref().expect("data").get()).expect("JSON")
    }
    const ME: &str = "+16505550100";

    /// HubSpot and Salesforce, Pat a contact in both, RingCentral Embeddable tagged.
    fn rc_world() -> World {
        let t0 = ts("2026-06-10T14:00:00Z");
        let mut w = World::with(0, t0, Default::default(), |s| {
            s.integrations = vec![integration("hs", CrmKind::HubSpot), integration("sf", CrmKind::Salesforce)];
            s.softphone_protocols.insert(RC, Protocol::RingCentral);
        });
        for id in ["hs", "sf"] {
            w.crm(id).add_contact(&format!("pat-{id}"), "Pat Example", PAT, t0.plus_hours(-24));
        }
        w
    }

    /// A webphone session created at `t0` and answered 4 s later.
    fn session(t0: Timestamp, extra: Value) -> Value {
        let mut c = json!({"id": "c2lw", "callId": "a@1", "direction": "Inbound", "from": PAT, "to": ME,
            "creationTime": t0.0, "startTime": t0.0 + 4_000, "partyData": {"partyId": "p-1", "sessionId": "s-rc1"}});
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    }

    fn logger(now: Timestamp, trigger: &str, extra: Value) -> Value {
        let mut body = json!({"triggerType": trigger, "call": {"sessionId": "123", "telephonySessionId": "s-rc1", "direction": "Inbound",
            "from": {"phoneNumber": PAT}, "to": {"phoneNumber": ME}, "startTime": now.0 - 100_000, "duration": 99, "result": "Accepted",
            "action": "Phone Call", "recording": {"id": "9", "uri": "https://platform.ringcentral.com/r/9",
            "contentUri": "https://media.ringcentral.com/r/9/content", "link": "https://ringcentral.github.io/ringcentral-media-reader/?media=9"}}});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        json!({"type": "rc-post-message-request", "requestId": format!("req-{trigger}"), "path": calltrail_core::softphone::service::LOGGER_PATH, "body": body})
    }

    /// The newest call log Calltrail sent `integ` for the call (a create or an update).
    fn last_log(w: &World, integ: &str) -> calltrail_core::crm::CallLog {
        w.sent
            .iter()
            .rev()
            .find_map(|s| match &s.req.op {
                CrmOp::CreateCallLog { log } | CrmOp::UpdateCallLog { log, .. } if s.req.integration.as_str() == integ => Some(log.clone()),
                _ => None,
            })
            .expect("a call log")
    }

    #[test]
    fn the_widget_is_registered_and_a_logger_record_adds_recording_and_ai_note_to_the_logs() {
        let mut w = rc_world();
        let login = w.softphone(RC, true, &json!({"type": "rc-login-status-notify", "loggedIn": true}));
        assert_eq!(data(&login)["reply"]["type"], "rc-adapter-register-third-party-service");
        // The broadcast events: the call logs at hang-up without anyone pressing anything.
        let t0 = w.now;
        w.softphone(RC, true, &json!({"type": "rc-call-ring-notify", "call": session(t0, json!({"startTime": null}))}));
        w.advance_mins(2);
        w.softphone(RC, true, &json!({"type": "rc-call-end-notify", "call": session(t0, json!({"endTime": w.now.0}))}));
        assert_eq!((w.state("rc:s-rc1", "hs"), w.state("rc:s-rc1", "sf")), ("logged".into(), "logged".into()));
        assert_eq!(last_log(&w, "hs").call.recording_url, None);
        // The call-log record comes later, with the recording and the AI note: both logs are
        // rewritten with them, once.
        w.advance_mins(1);
        let a = w.softphone(RC, true, &logger(w.now, "callLogSync", json!({"aiNote": "Pat wants a quote for 20 seats.", "transcript": "Pat: Hello\nJane: Hi Pat"})));
        assert_eq!(data(&a)["reply"]["response"]["data"], "ok");
        for integ in ["hs", "sf"] {
            let log = last_log(&w, integ);
            assert_eq!(log.call.recording_url.as_deref(), Some("https://ringcentral.github.io/ringcentral-media-reader/?media=9"), "{integ}");
            assert_eq!(log.call.ai_note.as_deref(), Some("Pat wants a quote for 20 seats."), "{integ}");
            assert_eq!(log.call.transcript.as_deref(), Some("Pat: Hello\nJane: Hi Pat"), "{integ}");
            assert_eq!(w.crm(integ).logs_for_call("rc:s-rc1").len(), 1, "{integ}: rewritten, not logged twice");
            assert_eq!(w.crm(integ).logs_for_call("rc:s-rc1")[0].updates, 1, "{integ}");
        }
        // The webphone's times won: answered 96 s before the end, not the call log's start.
        let c = &w.engine().call(&"rc:s-rc1".into()).unwrap().call;
        assert_eq!(c.answered_at, Some(c.started_at.plus_ms(4_000)));
        // The same record again (a re-send, or the widget's next sync) changes nothing.
        let sent = w.sent.len();
        let again = w.softphone(RC, true, &logger(w.now, "callLogSync", json!({"aiNote": "Pat wants a quote for 20 seats.", "transcript": "Pat: Hello\nJane: Hi Pat"})));
        assert_eq!(data(&again)["reply"]["response"]["data"], "ok", "a repeat is answered too");
        assert_eq!(w.sent.len(), sent);
        w.assert_clean();
    }

    #[test]
    fn a_call_only_the_logger_reports_is_logged_and_the_log_button_is_a_manual_log() {
        let mut w = rc_world();
        // No broadcast event at all (the tab opened after the call): the final record logs it.
        w.softphone(RC, true, &logger(w.now, "callLogSync", json!({})));
        assert_eq!(w.state("rc:s-rc1", "hs"), "logged");
        let mut w = World::with(0, ts("2026-06-10T14:00:00Z"), Default::default(), |s| {
            let mut sf = integration("sf", CrmKind::Salesforce);
            sf.auto_log = false;
            s.integrations = vec![integration("hs", CrmKind::HubSpot), sf];
            s.softphone_protocols.insert(RC, Protocol::RingCentral);
        });
        let before = w.now.plus_hours(-24);
        for id in ["hs", "sf"] {
            w.crm(id).add_contact(&format!("pat-{id}"), "Pat Example", PAT, before);
        }
        w.softphone(RC, true, &logger(w.now, "callLogSync", json!({})));
        assert_eq!((w.state("rc:s-rc1", "hs"), w.state("rc:s-rc1", "sf")), ("logged".into(), "skipped".into()));
        // The rep presses the widget's log button: logged where automatic logging is off.
        w.softphone(RC, true, &logger(w.now, "createLog", json!({})));
        assert_eq!(w.state("rc:s-rc1", "sf"), "logged");
        assert_eq!(w.crm("hs").logs_for_call("rc:s-rc1").len(), 1, "not twice where it was logged");
        w.assert_clean();
    }

    #[test]
    fn the_widget_contact_match_and_search_show_matches_from_both_crms() {
        let mut w = rc_world();
        let path = calltrail_core::softphone::service::MATCH_PATH;
        let search = calltrail_core::softphone::service::SEARCH_PATH;
        let ask = |w: &mut World, id: &str, path: &str, body: Value| {
            let a = w.softphone(RC, true, &json!({"type": "rc-post-message-request", "requestId": id, "path": path, "body": body}));
            let reply = data(&a)["reply"].clone();
            assert_eq!(reply["responseId"], id);
            reply["response"]["data"].clone()
        };
        // Before any call with Pat, Calltrail knows nothing of the number: an empty answer.
        assert_eq!(ask(&mut w, "m-0", path, json!({"phoneNumbers": [PAT]}))[PAT], json!([]));
        // Pat calls: the call pop asks both CRMs; the widget's match shows both contacts.
        let t0 = w.now;
        w.softphone(RC, true, &json!({"type": "rc-call-ring-notify", "call": session(t0, json!({"startTime": null}))}));
        let data = ask(&mut w, "m-1", path, json!({"phoneNumbers": [PAT, ME]}));
        let ids: Vec<&str> = data[PAT].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["hs:pat-hs", "sf:pat-sf"]);
        assert_eq!(data[ME], json!([]));
        // The dialer's search box: part of the name, or the number in any format.
        let found = ask(&mut w, "s-1", search, json!({"searchString": "pat ex"}));
        let crms: Vec<&str> = found.as_array().unwrap().iter().map(|c| c["company"].as_str().unwrap()).collect();
        assert_eq!(crms, ["hs", "sf"]);
        assert_eq!(ask(&mut w, "s-2", search, json!({"searchString": "(415) 555-0123"})).as_array().unwrap().len(), 2);
        assert_eq!(ask(&mut w, "s-3", search, json!({"searchString": "nobody"})), json!([]));
        // An hour later the matches are no longer trusted.
        w.advance_mins(61);
        assert_eq!(ask(&mut w, "s-4", search, json!({"searchString": "pat ex"})), json!([]));
        w.assert_clean();
    }

    #[test]
    fn a_ringing_call_is_searched_once_for_the_pop_and_the_widget() {
        let mut w = rc_world();
        w.auto_deliver = false;
        w.softphone(RC, true, &json!({"type": "rc-call-ring-notify", "call": session(w.now, json!({"startTime": null}))}));
        let pops = w.pending.len();
        assert_eq!(pops, 2, "the call pop searches each CRM");
        let path = calltrail_core::softphone::service::MATCH_PATH;
        let m = w.softphone(RC, true, &json!({"type": "rc-post-message-request", "requestId": "m-1", "path": path, "body": {"phoneNumbers": [PAT]}}));
        assert_eq!(w.sent.len(), pops, "the widget's match waits for the call pop instead of searching");
        assert_eq!(data(&m)["reply"]["response"]["data"][PAT].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_call_in_a_hubspot_calling_extension_is_logged_everywhere_but_hubspot() {
        const VENDOR: &str = "https://calling.vendor.example";
        let t0 = ts("2026-06-10T14:00:00Z");
        let mut w = World::with(0, t0, Default::default(), |s| {
            s.integrations = vec![integration("hs", CrmKind::HubSpot), integration("sf", CrmKind::Salesforce)];
            s.softphone_origins.push(VENDOR.into());
            s.softphone_protocols.insert(VENDOR, Protocol::HubSpot);
        });
        for id in ["hs", "sf"] {
            w.crm(id).add_contact(&format!("pat-{id}"), "Pat Example", PAT, t0.plus_hours(-24));
        }
        let msg = |ty: &str, data: Value| json!({"type": ty, "data": data, "messageId": "1_1"});
        w.softphone(VENDOR, true, &msg("INCOMING_CALL", json!({"externalCallId": "x-1", "fromNumber": PAT, "toNumber": ME, "callStartTime": t0.0})));
        w.advance_mins(1);
        w.softphone(VENDOR, true, &msg("CALL_ANSWERED", json!({"externalCallId": "x-1"})));
        w.advance_mins(2);
        w.softphone(VENDOR, true, &msg("CALL_ENDED", json!({"externalCallId": "x-1", "engagementId": 98765, "callEndStatus": "COMPLETED"})));
        let id = format!("hubspot-ext:{VENDOR}:x-1");
        assert_eq!(w.state(&id, "sf"), "logged");
        assert_eq!(w.state(&id, "hs"), "skipped");
        assert!(w.crm("hs").logs_for_call(&id).is_empty(), "HubSpot logged it itself");
        let slot = w.engine().slot(&format!("call|{id}|hs")).unwrap().clone();
        let calltrail_core::engine::SlotState::Skipped { reason } = slot.state else { panic!() };
        assert_eq!(reason, "HubSpot logs this call itself (its calling extension made the call's record)");
        // A manual log cannot add it to HubSpot either.
        let answer = w.page(calltrail_core::intents::PageInput::ManualLogRequested { call: id.as_str().into(), integrations: vec!["hs".into()] });
        assert!(answer.error.unwrap().contains("HubSpot logs this call itself"));
        w.assert_clean();
    }

    #[test]
    fn an_end_for_a_call_never_seen_ringing_is_ignored_and_counted() {
        const JC: &str = "https://app.justcall.io";
        let mut w = World::with(1, ts("2026-06-10T14:00:00Z"), Default::default(), |s| {
            s.softphone_origins.push(JC.into());
            s.softphone_protocols.insert(JC, Protocol::JustCall);
        });
        let a = w.softphone(JC, true, &json!({"name": "call-ended", "data": {"call_sid": "CA1", "direction": "inbound", "duration": 30}}));
        assert_eq!(data(&a)["ignored"], true);
        assert_eq!(w.driver.diagnostics().softphone.ignored_by.get("unknown_call"), Some(&1));
        // From the page itself or a look-alike origin: refused, counted.
        assert!(!w.softphone(JC, false, &json!({"name": "call-ended", "data": {}})).ok);
        assert!(!w.softphone("https://app.justcall.io.evil.example", true, &json!({"name": "call-ended", "data": {}})).ok);
        let stats = &w.driver.diagnostics().softphone;
        assert_eq!((stats.rejected.get("not_from_softphone_frame"), stats.rejected.get("untrusted_origin")), (Some(&1), Some(&1)));
        assert!(w.sent.is_empty());
    }
}
