//! No input from outside panics the core (issue 12): CRM replies of any status, headers and body
//! reach every connector's parser; CRM error text in any script reaches both scrubbers; stored
//! records, intents, settings documents, policies and webhook bodies of any shape reach their
//! readers. Each property runs `CALLTRAIL_FUZZ_CASES` cases (100,000 by default).
//!
//! In the release build a panic aborts the wasm module while the engine is borrowed, so one bad
//! reply would stop logging in every CRM until the browser restarts. These properties only
//! check that the readers return, and what they promise whatever the input (a scrubbed text
//! keeps no token); the shapes they accept are the golden tests' business.

use calltrail_core::crm::common;
use calltrail_core::crm::oauth;
use calltrail_core::crm::*;
use calltrail_core::engine::{hygiene, CallEntry, Engine, EngineOptions, Input, Slot};
use calltrail_core::intents::{Intent, Sender};
use calltrail_core::model::*;
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::Settings;
use calltrail_core::store::{Record, Snapshot, StoreName};
use calltrail_core::{policy, telephony};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Cases per property: `CALLTRAIL_FUZZ_CASES`, or 100,000.
pub fn cases() -> u32 {
    std::env::var("CALLTRAIL_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000)
}

fn config() -> ProptestConfig {
    // No regression files: a failing case prints its input, which is what a regression test
    // below is then written from.
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

/// Text the way CRMs and pages send it: arbitrary Unicode, the prefixes the scrubbers look
/// for, localized words (Cyrillic, CJK, Arabic, emoji: multi-byte characters right after a
/// prefix are what broke the scrubbers) and phone numbers, in any order.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<String>(),
        3 => prop::sample::select(vec![
            "Bearer ", "bearer ", "Zoho-oauthtoken ", "token=", "token:", "access_token\":\"",
            "refresh_token\":\"", "api_token=", "Authorization: ", "Invalid token: ",
            "недействителен токен доступа", "無効なトークン", "رمز غير صالح", "😀🔥", "é", "\u{0301}",
            "+1 (212) 555-0100", "12125550100", "…", " ", "\"", ";", "\u{0}", "\u{feff}", "<redacted>",
        ])
        .prop_map(str::to_owned),
        1 => "[0-9 +().-]{0,20}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

/// JSON with arbitrary Unicode strings, keys that CRMs use, and odd numbers.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => prop::sample::select(vec![
            "id", "Id", "results", "data", "records", "items", "total", "message", "error", "errors",
            "error_description", "code", "category", "status", "success", "properties", "attributes",
            "url", "phone", "phone_numbers", "name", "firstname", "lastname", "createdate",
            "lastmodifieddate", "hs_lastmodifieddate", "searchRecords", "additional_data",
            "pagination", "more_items_in_collection", "next_start", "next_cursor", "info",
            "more_records", "meta", "paging", "next", "after", "access_token", "refresh_token",
            "expires_in", "instance_url", "api_domain", "token_type", "value", "details",
            "Phone", "MobilePhone", "LastModifiedDate", "CreatedDate", "Name", "Full_Name",
            "Mobile", "Created_Time", "Modified_Time", "external_properties", "created_at",
            "updated_at", "primary_phone_number", "item", "person", "phones", "add_time",
            "update_time", "count", "totalSize", "done",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
        prop::sample::select(vec!["1", "", "2024-05-01T10:00:00Z", "+12125550100", "Contact", "Lead", "ok"]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => json().prop_map(|v| v.to_string()),
        2 => text(),
        1 => any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let status = prop_oneof![
        3 => prop::sample::select(vec![200u16, 201, 202, 204, 207, 300, 301, 400, 401, 403, 404, 409, 412, 422, 429, 500, 502, 503]),
        1 => any::<u16>(),
    ];
    let header = (prop::sample::select(vec!["retry-after", "content-type", "location", "x-ratelimit-remaining", "x-hubspot-ratelimit-remaining"]), text());
    prop_oneof![
        8 => (status, prop::collection::vec(header, 0..3), body()).prop_map(|(status, headers, body)| {
            Reply::Response(HttpResponse { status, headers: headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), body })
        }),
        1 => Just(Reply::TimedOut),
        1 => (any::<bool>(), text()).prop_map(|(sent, message)| Reply::NetworkError { sent, message }),
    ]
}

fn e164(s: &str) -> E164 {
    E164::parse(s, Country::US).expect("test number")
}

fn contact(id: &str, ty: &str) -> Contact {
    Contact {
        id: RecordId::new(id),
        name: "Ада Лавлейс".into(),
        record_type: RecordType::new(ty),
        phones: vec!["(212) 555-0100".into()].into(),
        created_at: None,
        modified_at: None,
        url: None,
    }
}

fn call() -> Call {
    Call {
        our_number: Some(e164("+16465550111")),
        answered_at: Some(Timestamp(1_714_557_605_000)),
        ended_at: Some(Timestamp(1_714_557_730_000)),
        result: CallResult::Answered,
        notes: "заметки".into(),
        ..Call::new(CallId::new("call-1"), Direction::Inbound, e164("+12125550100"), None, Timestamp(1_714_557_600_000))
    }
}

/// One op of every kind, with the contact ids each CRM's ids look like.
fn ops(kind: CrmKind) -> Vec<CrmOp> {
    let (id, ty) = match kind {
        CrmKind::Salesforce => ("003000000000001AAA", "Contact"),
        _ => ("101", "Contact"),
    };
    let phone = e164("+12125550100");
    let log = CallLog { marker: Marker("calltrail:call|call-1|x".into()), contact: contact(id, ty), call: call(), timing: Default::default() };
    let message = Message {
        id: "m1".into(),
        conversation: ConversationId::new("conv"),
        kind: MessageKind::Sms,
        direction: Direction::Inbound,
        our_number: None,
        their_number: phone,
        at: Timestamp(1_714_557_600_000),
        text: "привет".into(),
    };
    let mlog = MessageLog {
        marker: Marker("calltrail:msg|x|conv|2024-05-01".into()),
        contact: contact(id, ty),
        kind: MessageKind::Sms,
        day: "2024-05-01".into(),
        their_number: phone,
        our_number: None,
        messages: vec![message],
    };
    let hint = |what| LogHint { what, contact: Some(RecordId::new(id)), contact_type: Some(RecordType::new(ty)), phone: Some(phone), at: Timestamp(1_714_557_600_000) };
    vec![
        CrmOp::SearchContacts { phone },
        CrmOp::CreateCallLog { log: log.clone() },
        CrmOp::UpdateCallLog { record: RecordId::new("7"), log },
        CrmOp::FindLog { marker: Marker("calltrail:call|call-1|x".into()), hint: hint(LogWhat::Call) },
        CrmOp::FindLog { marker: Marker("calltrail:msg|x|conv|2024-05-01".into()), hint: hint(LogWhat::Messages) },
        CrmOp::FindLog { marker: Marker("calltrail:ph|x|+12125550100".into()), hint: hint(LogWhat::Contact) },
        CrmOp::CreateContact { name: "New Lead - +12125550100".into(), phone, marker: Marker("calltrail:ph|x|+12125550100".into()) },
        CrmOp::CreateMessageLog { log: mlog.clone() },
        CrmOp::UpdateMessageLog { record: RecordId::new("8"), log: mlog },
    ]
}

const TOKEN: &str = "tok-SECRET-5f4e3d2c1b0a";

/// Runs `op` to its end, every request answered by the next of `replies` (round robin): the
/// conversation must end within the driver's exchange cap, and an error never carries the token.
fn converse(kind: CrmKind, op: &CrmOp, replies: &[Reply]) -> Result<(), TestCaseError> {
    let conn = Connection { kind, base_url: "https://crm.example".into(), token: Secret::new(TOKEN), default_country: Country::US, oauth: false, marker_field: None, owner: None };
    let mut history: Vec<Exchange> = Vec::new();
    for i in 0..=calltrail_core::driver::MAX_EXCHANGES * 2 {
        match step(&conn, op, &history) {
            Step::Send(request) => history.push(Exchange { request, reply: replies[i % replies.len()].clone() }),
            Step::Done(result) => {
                if let Err(e) = result {
                    prop_assert!(!e.to_string().contains(TOKEN), "token in {e}");
                }
                return Ok(());
            }
        }
    }
    // Longer conversations are cut by the driver; what matters here is that none panicked.
    Ok(())
}

fn parser(kind: CrmKind) -> impl Strategy<Value = (usize, Vec<Reply>)> {
    (0..ops(kind).len(), prop::collection::vec(reply(), 1..4))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_engine_scrubber_survives_any_text(t in text()) {
        let out = hygiene::scrub(&t);
        // Whatever followed a credential prefix is gone, and digits never grow in number.
        prop_assert!(out.chars().filter(char::is_ascii_digit).count() <= t.chars().filter(char::is_ascii_digit).count());
    }

    #[test]
    fn the_connector_scrubber_survives_any_text(t in text(), secret in text()) {
        let out = common::scrub(&format!("{t}{TOKEN}{t}"), &Secret::new(secret));
        let again = common::scrub(&out, &Secret::new(TOKEN));
        prop_assert!(!again.contains(TOKEN));
    }

    #[test]
    fn the_vendor_message_reader_survives_any_body(b in body()) {
        let m = common::vendor_message(&b);
        prop_assert!(m.chars().count() <= common::MAX_ERROR_DETAIL);
    }

    #[test]
    fn hubspot_survives_any_reply((op, replies) in parser(CrmKind::HubSpot)) {
        converse(CrmKind::HubSpot, &ops(CrmKind::HubSpot)[op], &replies)?;
    }

    #[test]
    fn pipedrive_survives_any_reply((op, replies) in parser(CrmKind::Pipedrive)) {
        converse(CrmKind::Pipedrive, &ops(CrmKind::Pipedrive)[op], &replies)?;
    }

    #[test]
    fn salesforce_survives_any_reply((op, replies) in parser(CrmKind::Salesforce)) {
        converse(CrmKind::Salesforce, &ops(CrmKind::Salesforce)[op], &replies)?;
    }

    #[test]
    fn zoho_survives_any_reply((op, replies) in parser(CrmKind::Zoho)) {
        converse(CrmKind::Zoho, &ops(CrmKind::Zoho)[op], &replies)?;
    }

    #[test]
    fn clio_survives_any_reply((op, replies) in parser(CrmKind::Clio)) {
        converse(CrmKind::Clio, &ops(CrmKind::Clio)[op], &replies)?;
    }

    #[test]
    fn token_replies_and_redirects_survive_anything(k in 0usize..5, r in reply(), url in text(), state in text()) {
        let kind = [CrmKind::HubSpot, CrmKind::Pipedrive, CrmKind::Salesforce, CrmKind::Zoho, CrmKind::Clio][k];
        let known = Secret::new(TOKEN);
        if let Err(e) = oauth::parse_token_reply(kind, &r, Timestamp(1_714_557_600_000), &[&known]) {
            prop_assert!(!e.to_string().contains(TOKEN));
        }
        let _ = oauth::parse_redirect(&url, &state);
        let _ = oauth::parse_redirect(&format!("https://x.chromiumapp.org/cb?code={url}&state={state}"), &state);
    }

    #[test]
    fn intents_of_any_shape_are_read_or_refused(v in json(), t in prop::sample::select(vec![
        "softphone-event", "state", "call", "history", "unresolved", "audit", "audit-csv", "sync-now", "settings",
        "import-settings", "save-settings", "export-settings", "set-credentials", "clear-credentials",
        "test-connection", "oauth-start", "oauth-finish", "engine", "poisoned",
    ]), input in prop::sample::select(vec![
        "notes_opened", "notes_saved", "notes_cancelled", "contacts_picked", "log_now_requested",
        "manual_log_requested", "unresolved_resolved",
    ])) {
        let _ = Intent::from_json(&v.to_string());
        let mut shaped = match v { Value::Object(o) => o, other => [("call".to_owned(), other)].into_iter().collect() };
        shaped.insert("type".into(), json!(t));
        shaped.insert("input".into(), json!({ "input": input, "call": shaped.get("call").cloned().unwrap_or(Value::Null) }));
        if let Ok(intent) = Intent::from_json(&Value::Object(shaped.clone()).to_string()) {
            let _ = intent.allowed_from(Sender::ContentScript { tab: Some(1) });
        }
        let _ = serde_json::from_value::<Sender>(Value::Object(shaped));
    }

    #[test]
    fn settings_documents_of_any_shape_are_read_or_refused(doc in body(), v in json()) {
        let _ = Settings::from_json(&doc);
        let _ = Settings::from_json(&v.to_string());
        let mut shaped = json!({ "integrations": [v.clone()], "digest": v.clone() });
        if let Value::Object(o) = &v {
            for (k, x) in o {
                shaped[k] = x.clone();
            }
        }
        let _ = Settings::from_json(&shaped.to_string());
        let _ = policy::apply(&Settings::default(), &v);
        let _ = policy::apply(&Settings::default(), &shaped);
    }

    #[test]
    fn webhook_bodies_of_any_bytes_are_read_or_refused(bytes in any::<Vec<u8>>(), v in json()) {
        let now = Timestamp(1_714_557_600_000);
        for body in [serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null), v.clone(), json!({ "body": v.clone(), "uuid": "1" })] {
            let _ = telephony::generic::user(&body);
            let _ = telephony::generic::decode(&body, Country::US, now);
            let _ = telephony::ringcentral::notification(&body);
            let _ = telephony::ringcentral::log_record(&body);
        }
    }

    #[test]
    fn stored_records_of_any_text_are_read_or_reported(value in body(), v in json(), key in text()) {
        let recs = [Record { key: key.clone(), open: 1, at: 0, value: value.clone() }, Record { key, open: 1, at: 0, value: v.to_string() }];
        for r in &recs {
            let _ = Slot::from_record(r);
            let _ = CallEntry::from_record(r);
        }
        let stores = StoreName::ALL.iter().filter(|s| **s != StoreName::Secrets).map(|s| (*s, recs.to_vec())).collect();
        let mut engine = Engine::new(EngineOptions::default());
        let zones = calltrail_core::zone::Zones::for_settings(&calltrail_core::zone::FixedZones::standard(), &Settings::default(), Timestamp(1_714_557_600_000)).expect("known zones");
        engine.handle(Input::Restored { snapshot: Snapshot { stores }, settings: Settings::default(), zones, boot_id: 1 }, Timestamp(1_714_557_600_000));
        while engine.poll_effect().is_some() {}
        engine.handle(Input::AlarmFired, Timestamp(1_714_557_660_000));
        while engine.poll_effect().is_some() {}
    }
}

/// The reply that stopped logging in every CRM (issue 12): HubSpot's 400 in Russian. The
/// multi-byte text right after `token:` made both scrubbers slice inside a character.
#[test]
fn a_localized_crm_error_does_not_panic_the_scrubbers() {
    let body = r#"{"status":"error","message":"Invalid token: недействителен токен доступа","category":"VALIDATION_ERROR"}"#;
    let message = common::vendor_message(body);
    assert_eq!(message, "VALIDATION_ERROR: Invalid token: недействителен токен доступа");
    assert_eq!(hygiene::scrub(&message), message, "nothing after `token:` but a space");
    assert_eq!(common::scrub(&format!("token=ключ {message}"), &Secret::new("x")), format!("token=<redacted> {message}"));
    assert_eq!(hygiene::scrub("token:ключ, Bearer 秘密"), "token:<redacted>, Bearer <redacted>");
    let reply = Reply::Response(HttpResponse { status: 400, headers: vec![], body: body.into() });
    for kind in [CrmKind::HubSpot, CrmKind::Pipedrive, CrmKind::Salesforce, CrmKind::Zoho, CrmKind::Clio] {
        for op in ops(kind) {
            converse(kind, &op, std::slice::from_ref(&reply)).expect("no token");
        }
    }
}
