//! The softphone decoder against the shared fixtures: every payload of every fixture file is
//! replayed as a `MessageEvent` `{origin, data}` would deliver it, then again from spoofed
//! origins, twice (two tabs), and mutated; finally arbitrary JSON must never make it panic.

use calltrail_core::model::{CallResult, Direction, MessageKind, Timestamp};
use calltrail_core::phone::Country;
use calltrail_core::softphone::{
    decode, ringcentral, DecodeContext, DecodeError, IgnoreReason, SoftphoneEvent,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const RC: &str = "https://apps.ringcentral.com";
/// Where the fixtures' calls begin (`creationTime` of the ring event).
const T0: i64 = 1_717_430_400_000;
const TSID: &str = "s-a0d7a2b5c1e3fz18f3e7b8a2";

fn fixture(name: &str) -> Value {
    let path = crate::support::shared_dir().join("reference/softphone-fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn trusted() -> Vec<String> {
    vec![
        RC.to_owned(),
        "https://phone.aircall.io".to_owned(),
        "https://dialpad.com".to_owned(),
        "https://applications.zoom.us".to_owned(),
    ]
}

fn at(
    origins: &[String],
    now: i64,
    origin: &str,
    data: &Value,
) -> Result<SoftphoneEvent, DecodeError> {
    let ctx = DecodeContext::new(origins, Country::US, Timestamp(now));
    decode(origin, data, &ctx)
}

fn kind(e: &SoftphoneEvent) -> &'static str {
    match e {
        SoftphoneEvent::CallRinging(_) => "ringing",
        SoftphoneEvent::CallAnswered(_) => "answered",
        SoftphoneEvent::CallHeld(_) => "held",
        SoftphoneEvent::CallResumed(_) => "resumed",
        SoftphoneEvent::CallEnded(_) => "ended",
        SoftphoneEvent::CallNotes { .. } => "notes",
        SoftphoneEvent::CallDetails { .. } => "details",
        SoftphoneEvent::Message(_) => "message",
        SoftphoneEvent::Ignored { .. } => "ignored",
    }
}

fn call_events() -> Vec<(i64, Value)> {
    let f = fixture("rc-embeddable-call-events.json");
    assert_eq!(f["origin"], RC);
    f["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| (T0 + e["t_ms"].as_i64().expect("t_ms"), e["data"].clone()))
        .collect()
}

/// Every call event of the fixture, in order, with what it must decode to.
#[test]
fn rc_call_fixture_replays() {
    let origins = trusted();
    let events = call_events();
    // (kind, started_at, answered_at, ended_at, result) per event; `None` for ignored ones.
    type Want = Option<(&'static str, i64, Option<i64>, Option<i64>, CallResult)>;
    let want: [Want; 7] = [
        Some(("ringing", T0, None, None, CallResult::Unknown)),
        Some(("ringing", T0 + 120, None, None, CallResult::Unknown)),
        Some(("answered", T0, Some(T0 + 4200), None, CallResult::Answered)),
        None,
        Some((
            "ended",
            T0,
            Some(T0 + 4200),
            Some(T0 + 99_200),
            CallResult::Answered,
        )),
        None,
        // Presence has no end time: it is stamped with the time it was received.
        Some((
            "ended",
            T0 + 120,
            None,
            Some(T0 + 100_100),
            CallResult::Unknown,
        )),
    ];
    assert_eq!(
        events.len(),
        want.len(),
        "the fixture changed: update this table"
    );
    let mut ids = BTreeSet::new();
    for (i, ((now, data), want)) in events.iter().zip(want).enumerate() {
        let got = at(&origins, *now, RC, data)
            .unwrap_or_else(|e| panic!("event {i} ({}): {e}", data["type"]));
        match want {
            None => assert_eq!(
                got,
                SoftphoneEvent::Ignored {
                    event: "rc-telephony-session-notify".into(),
                    reason: IgnoreReason::Redundant
                },
                "event {i}"
            ),
            Some((k, started, answered, ended, result)) => {
                assert_eq!(kind(&got), k, "event {i}");
                let (SoftphoneEvent::CallRinging(c)
                | SoftphoneEvent::CallAnswered(c)
                | SoftphoneEvent::CallEnded(c)) = &got
                else {
                    panic!("event {i}: {got:?}")
                };
                assert_eq!(c.direction, Direction::Inbound, "event {i}");
                assert_eq!(c.their_number.as_str(), "+14155550123", "event {i}");
                assert_eq!(
                    c.our_number.map(|n| n.as_str().to_owned()).as_deref(),
                    Some("+16505550100"),
                    "event {i}"
                );
                assert_eq!(c.started_at, Timestamp(started), "event {i}");
                assert_eq!(c.answered_at, answered.map(Timestamp), "event {i}");
                assert_eq!(c.ended_at, ended.map(Timestamp), "event {i}");
                assert_eq!(c.result, result, "event {i}");
                ids.insert(c.id.clone());
            }
        }
    }
    // One call, one id, across the webphone and presence streams; and it is the telephony
    // session id the REST call log and the /callLogger requests carry.
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().expect("one id");
    assert_eq!(ringcentral::telephony_session_id(&id), Some(TSID));
    let tps = fixture("rc-embeddable-third-party-service.json");
    let logged: BTreeSet<&str> = tps["exchange"]
        .as_array()
        .expect("exchange")
        .iter()
        .filter_map(|x| x["data"]["body"]["call"]["telephonySessionId"].as_str())
        .collect();
    assert_eq!(logged, BTreeSet::from([TSID]));
    let log = fixture("rc-call-log-api-response.json");
    assert_eq!(log["response"]["records"][0]["telephonySessionId"], TSID);
}

#[test]
fn rc_end_event_duration_is_computed() {
    let origins = trusted();
    let (now, end) = call_events()
        .into_iter()
        .find(|(_, d)| d["type"] == "rc-call-end-notify")
        .expect("end event");
    let SoftphoneEvent::CallEnded(c) = at(&origins, now, RC, &end).expect("decodes") else {
        panic!("not ended")
    };
    assert_eq!(c.duration_secs(), 95);
}

#[test]
fn rc_message_fixture_replays() {
    let origins = trusted();
    let now = Timestamp::parse("2024-06-03T18:00:00Z")
        .expect("time")
        .millis();
    let f = fixture("rc-embeddable-message-events.json");
    let events = f["events"].as_array().expect("events");
    assert_eq!(events.len(), 3, "the fixture changed: update this test");
    let got: Vec<_> = events
        .iter()
        .map(|e| at(&origins, now, RC, &e["data"]).expect("decodes"))
        .collect();

    let SoftphoneEvent::Message(sms) = &got[0] else {
        panic!("{:?}", got[0])
    };
    assert_eq!(
        (sms.kind, sms.direction),
        (MessageKind::Sms, Direction::Inbound)
    );
    assert_eq!(sms.id, "rc:1724099032020");
    assert_eq!(sms.conversation.as_str(), "rc:674035477569017905");
    assert_eq!(sms.their_number.as_str(), "+14155550123");
    assert_eq!(
        sms.our_number.map(|n| n.as_str().to_owned()).as_deref(),
        Some("+16505550100")
    );
    assert_eq!(
        sms.at,
        Timestamp::parse("2024-06-03T16:05:12Z").expect("time")
    );
    assert_eq!(sms.text, "Running 10 minutes late");

    let SoftphoneEvent::Message(fax) = &got[1] else {
        panic!("{:?}", got[1])
    };
    assert_eq!(
        (fax.kind, fax.direction),
        (MessageKind::Fax, Direction::Outbound)
    );
    assert_eq!(fax.their_number.as_str(), "+12125550199");
    assert_eq!(fax.text, "Fax, 3 pages, Sent");
    assert_eq!(fax.conversation.as_str(), "rc-peer:+12125550199");

    assert_eq!(
        got[2],
        SoftphoneEvent::Ignored {
            event: "rc-inbound-message-notify".into(),
            reason: IgnoreReason::MessageKind
        }
    );
}

/// The third-party-service exchange carries no call events of its own: everything in it is a
/// known `rc-*` type with nothing to log (Calltrail does not register as the service).
#[test]
fn rc_third_party_service_fixture_is_ignored() {
    let origins = trusted();
    let f = fixture("rc-embeddable-third-party-service.json");
    for x in f["exchange"].as_array().expect("exchange") {
        let data = &x["data"];
        let got = at(&origins, T0 + 200_000, RC, data)
            .unwrap_or_else(|e| panic!("{}: {e}", data["type"]));
        assert!(
            matches!(
                got,
                SoftphoneEvent::Ignored {
                    reason: IgnoreReason::NothingToLog,
                    ..
                }
            ),
            "{}: {got:?}",
            data["type"]
        );
    }
}

/// Other vendors' wire events, even from an origin the rep trusted, are not ours to decode.
#[test]
fn other_softphones_are_refused_not_misread() {
    let origins = trusted();
    let f = fixture("other-softphones-wire-events.json");
    let mut seen = 0;
    for (vendor, v) in f.as_object().expect("object") {
        let origin = v["origin"].as_str().unwrap_or(RC);
        let events = v
            .get("events")
            .or_else(|| v.get("events_partially_verified"));
        for e in events.and_then(Value::as_array).into_iter().flatten() {
            let err = at(&origins, T0, origin, &e["data"]).expect_err(vendor);
            assert!(
                matches!(err.kind(), "unknown_type" | "missing_field"),
                "{vendor}: {err}"
            );
            seen += 1;
        }
        // The in-page SDK snapshots are not messages either.
        for key in [
            "call_snapshot_at_disconnect",
            "session_props_at_end",
            "contact_snapshot_at_end",
        ] {
            if let Some(snap) = v.get(key) {
                assert!(at(&origins, T0, RC, snap).is_err(), "{vendor}.{key}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 18, "only {seen} payloads replayed");
    for record in fixture("rc-call-log-api-response.json")["response"]["records"]
        .as_array()
        .expect("records")
    {
        assert_eq!(
            at(&origins, T0, RC, record)
                .expect_err("a REST record")
                .kind(),
            "unknown_type"
        );
    }
}

fn every_rc_payload() -> Vec<(i64, Value)> {
    let mut all = call_events();
    let now = Timestamp::parse("2024-06-03T18:00:00Z")
        .expect("time")
        .millis();
    for e in fixture("rc-embeddable-message-events.json")["events"]
        .as_array()
        .expect("events")
    {
        all.push((now, e["data"].clone()));
    }
    all
}

/// What a page can do to itself: post the same payloads with its own origin, or with origins
/// that merely look like RingCentral's.
#[test]
fn spoofed_origins_are_refused() {
    let origins = trusted();
    let spoofs = [
        "https://crm.example.com",
        "https://apps.ringcentral.com.evil.example",
        "https://evilapps.ringcentral.com",
        "https://apps.ringcentral.co",
        "http://apps.ringcentral.com",
        "https://apps.ringcentral.com:8443",
        "https://APPS.ringcentral.com",
        " https://apps.ringcentral.com",
        "https://apps.ringcentral.com/",
        "null",
        "",
    ];
    for (now, data) in every_rc_payload() {
        for spoof in spoofs {
            let err = at(&origins, now, spoof, &data).expect_err(spoof);
            assert_eq!(err.kind(), "untrusted_origin", "{spoof}: {err}");
        }
    }
}

/// Two tabs, or one tab twice: the same event decodes to the same value and the same key, and
/// the two end events of the one call (webphone and presence) share their key.
#[test]
fn duplicates_share_keys() {
    let origins = trusted();
    let mut keys = Vec::new();
    for (now, data) in every_rc_payload() {
        let tab1 = at(&origins, now, RC, &data).expect("decodes");
        let tab2 = at(&origins, now, RC, &data.clone()).expect("decodes");
        assert_eq!(tab1, tab2);
        assert_eq!(tab1.dedupe_key(), tab2.dedupe_key());
        if let Some(k) = tab1.dedupe_key() {
            keys.push(k);
        }
    }
    let ended: Vec<_> = keys.iter().filter(|k| k.ends_with("|ended")).collect();
    assert_eq!(
        ended,
        [
            &format!("call|rc:{TSID}|ended"),
            &format!("call|rc:{TSID}|ended")
        ]
    );
    let unique: BTreeSet<_> = keys.iter().collect();
    // ringing ×2 (webphone, presence) and ended ×2 collapse; answered, the SMS and the fax stay.
    assert_eq!(unique.len(), 5, "{unique:?}");
}

#[test]
fn fixture_payloads_with_a_field_removed_never_panic() {
    let origins = trusted();
    for (now, data) in every_rc_payload() {
        let inner = if data.get("call").is_some() {
            "call"
        } else {
            "message"
        };
        let Some(fields) = data.get(inner).and_then(Value::as_object) else {
            continue;
        };
        for key in fields.keys() {
            let mut d = data.clone();
            d[inner].as_object_mut().expect("object").remove(key);
            let _ = at(&origins, now, RC, &d);
        }
    }
}

/// Values shaped like softphone messages: known keys and enum spellings, numbers near the
/// fixtures' times, nested objects and arrays, plus anything else.
pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (T0 - 100_000_000..T0 + 100_000_000).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "Inbound",
            "Outbound",
            "inbound",
            "outbound",
            "SMS",
            "Fax",
            "VoiceMail",
            "NoCall",
            "final",
            "intermediate",
            "Ringing",
            "CallConnected",
            "OnHold",
            "+14155550123",
            "+16505550100",
            "415-555-0199",
            "101",
            "Alive",
            "2024-06-03T16:05:12.000Z",
            "call.ended",
            "message",
            "sms",
            "https://rec.example.com/1",
        ])
        .prop_map(|s| json!(s)),
        ".{0,80}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "type",
                    "call",
                    "message",
                    "direction",
                    "from",
                    "to",
                    "phoneNumber",
                    "startTime",
                    "creationTime",
                    "endTime",
                    "partyData",
                    "sessionId",
                    "telephonySessionId",
                    "callId",
                    "telephonyStatus",
                    "terminationType",
                    "id",
                    "subject",
                    "conversationId",
                    "conversation",
                    "faxPageCount",
                    "messageStatus",
                    "availability",
                    "calltrail",
                    "event",
                    "started_at",
                    "answered_at",
                    "ended_at",
                    "result",
                    "kind",
                    "at",
                    "notes",
                    "text",
                    "recording_url",
                    "isToVoicemail",
                ])
                .prop_map(str::to_owned),
                inner,
                0..8,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_message() -> impl Strategy<Value = Value> {
    let types = prop::sample::select(vec![
        "rc-call-ring-notify",
        "rc-call-init-notify",
        "rc-call-start-notify",
        "rc-call-hold-notify",
        "rc-call-resume-notify",
        "rc-call-end-notify",
        "rc-active-call-notify",
        "rc-inbound-message-notify",
        "rc-message-updated-notify",
        "rc-login-status-notify",
    ]);
    prop_oneof![
        arb_json(),
        (types, arb_json(), arb_json()).prop_map(|(t, call, message)| json!({"type": t, "call": call, "message": message})),
        (prop::sample::select(vec!["call.ringing", "call.answered", "call.ended", "call.notes", "message"]), arb_json(), arb_json())
            .prop_map(|(e, call, message)| json!({"calltrail": 1, "event": e, "call": call, "message": message})),
    ]
}

/// What every accepted event promises, whatever the input.
pub(crate) fn check_accepted(event: &SoftphoneEvent, now: i64) {
    let now = Timestamp(now);
    let sane = |t: Timestamp| t.millis() >= 946_684_800_000 && t.since(now) <= 600_000;
    match event {
        SoftphoneEvent::CallRinging(c)
        | SoftphoneEvent::CallAnswered(c)
        | SoftphoneEvent::CallHeld(c)
        | SoftphoneEvent::CallResumed(c)
        | SoftphoneEvent::CallEnded(c)
        | SoftphoneEvent::CallDetails { call: c, .. } => {
            assert!(
                !c.id.as_str().is_empty() && c.id.as_str().len() <= 200,
                "{c:?}"
            );
            assert!(c.id.as_str().bytes().all(|b| b.is_ascii_graphic()), "{c:?}");
            assert!(sane(c.started_at), "{c:?}");
            if let Some(a) = c.answered_at {
                assert!(a >= c.started_at, "{c:?}");
            }
            if let Some(e) = c.ended_at {
                assert!(
                    e >= c.started_at && e.since(c.started_at) <= 86_400_000,
                    "{c:?}"
                );
            }
            assert!(c.their_number.as_str().starts_with('+'));
            assert!(c.notes.len() <= 16 * 1024);
            assert!(c.duration_secs() >= 0 && c.duration_secs() <= 86_400);
            for link in [&c.recording_url, &c.voicemail_url].into_iter().flatten() {
                assert!(link.starts_with("https://") || link.starts_with("http://"), "{c:?}");
                assert!(link.len() <= 2048 && !link.contains(char::is_whitespace), "{c:?}");
            }
            assert!(c.ai_note.as_ref().is_none_or(|t| t.len() <= 16 * 1024));
            assert!(c.transcript.as_ref().is_none_or(|t| t.len() <= 128 * 1024));
        }
        SoftphoneEvent::Message(m) => {
            assert!(sane(m.at), "{m:?}");
            assert!(m.text.len() <= 16 * 1024);
            assert!(m.id.len() <= 200 && m.conversation.as_str().len() <= 200);
        }
        SoftphoneEvent::CallNotes { call, notes } => {
            assert!(!call.as_str().is_empty() && notes.len() <= 16 * 1024)
        }
        SoftphoneEvent::Ignored { event, .. } => assert!(event.len() <= 64),
    }
    if !matches!(event, SoftphoneEvent::Ignored { .. }) {
        assert!(event.dedupe_key().is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::robust::cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(data in arb_message(), dt in -200_000_000_i64..200_000_000) {
        let origins = trusted();
        let now = T0 + dt;
        if let Ok(event) = at(&origins, now, RC, &data) {
            check_accepted(&event, now);
        }
        // From an untrusted origin nothing is even looked at.
        let err = at(&origins, now, "https://crm.example.com", &data).expect_err("untrusted");
        prop_assert_eq!(err.kind(), "untrusted_origin");
    }

    /// A fixture payload with one field replaced by arbitrary JSON: refused or still sane.
    #[test]
    fn mutated_fixture_payloads_stay_sane(index in 0usize..10, field in 0usize..32, value in arb_json()) {
        let origins = trusted();
        let payloads = every_rc_payload();
        let (now, mut data) = payloads[index % payloads.len()].clone();
        let inner = if data.get("call").is_some() { "call" } else { "message" };
        if let Some(obj) = data.get_mut(inner).and_then(Value::as_object_mut) {
            let keys: Vec<String> = obj.keys().cloned().collect();
            let key = keys[field % keys.len()].clone();
            obj.insert(key, value);
        }
        if let Ok(event) = at(&origins, now, RC, &data) {
            check_accepted(&event, now);
        }
    }
}
