//! Pipedrive golden pairs: exact requests, documented response shapes
//! (`shared/specs/pipedrive/openapi-v2.yaml` and `openapi.yaml` examples), every error class,
//! escaping and the token never leaking. Also holds the small kit the Zoho and Clio golden
//! tests share.

use calltrail_core::crm::*;
use calltrail_core::model::CrmKind;
use serde_json::{json, Value};

use kit::*;

/// Test helpers shared by the Pipedrive, Zoho and Clio golden tests.
pub(super) mod kit {
    use calltrail_core::crm::*;
    use calltrail_core::model::*;
    use calltrail_core::phone::{Country, E164};
    use serde_json::Value;

    pub const TOKEN: &str = "SECRET-tok-9f8e7d6c5b4a";

    pub fn conn(kind: CrmKind, base: &str) -> Connection {
        Connection { kind, base_url: base.into(), token: Secret::new(TOKEN), oauth: false, default_country: Country::US, marker_field: None, owner: None }
    }

    pub fn e164(s: &str) -> E164 {
        E164::parse(s, Country::US).unwrap()
    }

    pub fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    pub fn ok(status: u16, body: &str) -> Reply {
        with_headers(status, &[], body)
    }

    pub fn with_headers(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
        Reply::Response(HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.into(),
        })
    }

    /// Drives `op` to completion, answering request n with `replies[n]`. Panics when the
    /// connector asks for more requests than scripted, so a test pins the request count.
    pub fn run(conn: &Connection, op: &CrmOp, replies: Vec<Reply>) -> (Vec<HttpRequest>, Result<CrmOutput, CrmError>) {
        let mut history: Vec<Exchange> = Vec::new();
        let mut replies = replies.into_iter();
        loop {
            match step(conn, op, &history) {
                Step::Done(r) => {
                    assert!(replies.next().is_none(), "connector finished with replies left over");
                    return (history.into_iter().map(|e| e.request).collect(), r);
                }
                Step::Send(request) => {
                    let reply = replies.next().unwrap_or_else(|| panic!("unscripted request #{}: {request:?}", history.len() + 1));
                    history.push(Exchange { request, reply });
                }
            }
        }
    }

    /// The first request of `op`.
    pub fn first(conn: &Connection, op: &CrmOp) -> HttpRequest {
        match step(conn, op, &[]) {
            Step::Send(r) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    pub fn body(r: &HttpRequest) -> Value {
        serde_json::from_str(r.body.as_deref().expect("request has a body")).expect("body is JSON")
    }

    pub fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn class(e: &CrmError) -> &'static str {
        match e {
            CrmError::RateLimited { .. } => "rate_limited",
            CrmError::Unauthorized { .. } => "unauthorized",
            CrmError::Transient { .. } => "transient",
            CrmError::Permanent { .. } => "permanent",
            CrmError::Unknown { .. } => "unknown",
        }
    }

    /// The token appears in no error text, `Debug` output or URL.
    pub fn assert_no_leak(e: &CrmError, requests: &[HttpRequest]) {
        let text = format!("{e} {e:?} {}", serde_json::to_string(e).unwrap());
        assert!(!text.contains(TOKEN) && !text.contains("9f8e7d6c"), "token leaked: {text}");
        for r in requests {
            assert!(!r.url.contains(TOKEN), "token in URL {}", r.url);
            assert!(!format!("{r:?}").contains(TOKEN), "token in request Debug");
        }
    }

    pub fn contact(id: &str, name: &str, record_type: &str) -> Contact {
        Contact {
            id: RecordId::new(id),
            name: name.into(),
            record_type: RecordType::new(record_type),
            phones: vec!["+1 (212) 555-0100".into()].into(),
            created_at: None,
            modified_at: None,
            url: None,
        }
    }

    /// An answered inbound call of 2 min 5 s on 2026-03-08 from +1 212 555 0100.
    pub fn call(notes: &str) -> Call {
        Call {
            answered_at: Some(ts("2026-03-08T06:50:10Z")),
            ended_at: Some(ts("2026-03-08T06:52:15Z")),
            result: CallResult::Answered,
            notes: notes.into(),
            ..Call::new(CallId::new("call-1"), Direction::Inbound, e164("+12125550100"), Some(e164("+16465550111")), ts("2026-03-08T06:50:00Z"))
        }
    }

    pub fn call_log(contact_id: &str, record_type: &str, notes: &str) -> CallLog {
        CallLog { marker: Marker("calltrail:call-1@int-1".into()), contact: contact(contact_id, "Jane Doe", record_type), call: call(notes), timing: Default::default() }
    }

    pub fn message_log(contact_id: &str, record_type: &str, texts: &[(&str, Direction, &str)]) -> MessageLog {
        MessageLog {
            marker: Marker("calltrail:sms-conv-1:2026-03-08@int-1".into()),
            contact: contact(contact_id, "Jane Doe", record_type),
            kind: MessageKind::Sms,
            day: "2026-03-08".into(),
            their_number: e164("+12125550100"),
            our_number: Some(e164("+16465550111")),
            messages: texts
                .iter()
                .enumerate()
                .map(|(i, (at, dir, text))| Message {
                    id: format!("m{i}"),
                    conversation: ConversationId::new("conv-1"),
                    kind: MessageKind::Sms,
                    direction: *dir,
                    our_number: Some(e164("+16465550111")),
                    their_number: e164("+12125550100"),
                    at: ts(at),
                    text: (*text).into(),
                })
                .collect(),
        }
    }

    pub fn hint(what: LogWhat, contact: Option<&str>, contact_type: Option<&str>) -> LogHint {
        LogHint {
            what,
            contact: contact.map(RecordId::new),
            contact_type: contact_type.map(RecordType::new),
            phone: Some(e164("+12125550100")),
            at: ts("2026-03-08T06:50:00Z"),
        }
    }

    pub use crate::support::shared_dir;

    pub fn spec_json(rel: &str) -> Value {
        let path = shared_dir().join("specs").join(rel);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    }
}

const BASE: &str = "https://api.pipedrive.com";

fn pd() -> Connection {
    conn(CrmKind::Pipedrive, BASE)
}

fn assert_auth(r: &calltrail_core::crm::HttpRequest) {
    assert_eq!(header(r, "x-api-token"), Some(TOKEN));
    assert_eq!(header(r, "authorization"), None, "Pipedrive API tokens go in x-api-token");
    assert!(!r.url.contains("api_token"), "never the api_token query parameter");
}

fn search_item(id: i64, name: &str, phones: &[&str]) -> Value {
    json!({"result_score": 0.5, "item": {"id": id, "type": "person", "name": name, "phones": phones,
        "emails": [], "visible_to": 3, "owner": {"id": 1}, "organization": null, "custom_fields": [], "notes": []}})
}

fn person_json(id: i64, name: &str, phones: &[&str], add: &str, update: &str) -> Value {
    let phones: Vec<Value> = phones.iter().enumerate().map(|(i, p)| json!({"value": p, "primary": i == 0, "label": "work"})).collect();
    json!({"id": id, "name": name, "owner_id": 1, "org_id": null, "add_time": add, "update_time": update,
        "phones": phones, "emails": [], "is_deleted": false, "visible_to": 3})
}

#[test]
fn search_pages_reverifies_and_fetches_details_once() {
    let op = CrmOp::SearchContacts { phone: e164("+12125550100") };
    let page1 = json!({"success": true, "data": {"items": [
        search_item(1, "Jane Doe", &["+1 (212) 555-0100"]),
        search_item(2, "Other Person", &["+44 20 7946 0100"]),
        search_item(3, "John Roe", &["212.555.0100 x12"]),
    ]}, "additional_data": {"next_cursor": "eyJpZCI6M30"}});
    let page2 = json!({"success": true, "data": {"items": [search_item(1, "Jane Doe", &["+1 (212) 555-0100"])]},
        "additional_data": {"next_cursor": null}});
    let details = json!({"success": true, "data": [
        person_json(1, "Jane Doe", &["+1 (212) 555-0100"], "2021-01-01T00:00:00Z", "2025-02-03T04:05:06Z"),
        person_json(3, "John Roe", &["212.555.0100 x12", "555-9999"], "2020-05-01T10:00:00Z", "2020-06-01T10:00:00Z"),
    ], "additional_data": {"next_cursor": null}});
    let (reqs, out) = run(&pd(), &op, vec![ok(200, &page1.to_string()), ok(200, &page2.to_string()), ok(200, &details.to_string())]);
    assert_eq!(reqs.len(), 3, "two search pages, one detail fetch for all matches");
    assert_eq!(reqs[0].method, Method::Get);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/api/v2/persons/search?term=0100&fields=phone&exact_match=false&limit=500");
    assert_eq!(reqs[1].url, "https://api.pipedrive.com/api/v2/persons/search?term=0100&fields=phone&exact_match=false&limit=500&cursor=eyJpZCI6M30");
    assert_eq!(reqs[2].url, "https://api.pipedrive.com/api/v2/persons?ids=1,3&limit=100");
    for r in &reqs {
        assert_auth(r);
        assert_eq!(r.body, None);
    }
    let Ok(CrmOutput::Contacts { contacts }) = out else { panic!("{out:?}") };
    let got: Vec<(&str, &str, Option<i64>, Option<i64>)> = contacts
        .iter()
        .map(|c| (c.id.as_str(), &*c.name, c.created_at.map(|t| t.0), c.modified_at.map(|t| t.0)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("1", "Jane Doe", Some(ts("2021-01-01T00:00:00Z").0), Some(ts("2025-02-03T04:05:06Z").0)),
            ("3", "John Roe", Some(ts("2020-05-01T10:00:00Z").0), Some(ts("2020-06-01T10:00:00Z").0)),
        ]
    );
    assert_eq!(contacts[1].phones.to_vec(), vec!["212.555.0100 x12", "555-9999"]);
    assert_eq!(contacts[0].record_type.as_str(), "Person");
}

#[test]
fn search_without_match_costs_one_request() {
    let op = CrmOp::SearchContacts { phone: e164("+12125550100") };
    let page = json!({"success": true, "data": {"items": [search_item(2, "Other", &["+44 20 7946 0100"])]}, "additional_data": {"next_cursor": null}});
    let (reqs, out) = run(&pd(), &op, vec![ok(200, &page.to_string())]);
    assert_eq!(reqs.len(), 1);
    assert_eq!(out, Ok(CrmOutput::Contacts { contacts: vec![] }));
}

#[test]
fn create_call_is_a_done_call_activity() {
    let op = CrmOp::CreateCallLog { log: call_log("6", "Person", "Wants a quote.\nCall back Tuesday.") };
    let reply = r#"{"success":true,"data":{"id":41,"subject":"Inbound call with Jane Doe","type":"call","owner_id":1,"person_id":6,"done":true,"add_time":"2026-03-08T06:53:00Z","update_time":"2026-03-08T06:53:00Z"}}"#;
    let (reqs, out) = run(&pd(), &op, vec![ok(200, reply)]);
    assert_eq!(reqs[0].method, Method::Post);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/api/v2/activities");
    assert_auth(&reqs[0]);
    assert_eq!(header(&reqs[0], "content-type"), Some("application/json"));
    assert_eq!(
        body(&reqs[0]),
        json!({
            "subject": "Inbound call with Jane Doe",
            "type": "call",
            "person_id": 6,
            "due_date": "2026-03-08",
            "due_time": "06:50",
            "duration": "00:03",
            "done": true,
            "note": "<p><b>Inbound call</b> · Answered · 2m 05s</p><p>From +12125550100 to +16465550111</p><p>Wants a quote.<br>Call back Tuesday.</p><p>Logged by Calltrail · calltrail:call-1@int-1</p>"
        })
    );
    assert_eq!(out, Ok(CrmOutput::Created { record: calltrail_core::model::RecordId::new("41"), url: None }));
}

#[test]
fn update_call_patches_the_activity() {
    let mut log = call_log("6", "Person", "Added later");
    log.call.recording_url = Some("https://rec.example/r/1.mp3".into());
    let op = CrmOp::UpdateCallLog { record: calltrail_core::model::RecordId::new("41"), log };
    let (reqs, out) = run(&pd(), &op, vec![ok(200, r#"{"success":true,"data":{"id":41}}"#)]);
    assert_eq!(reqs[0].method, Method::Patch);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/api/v2/activities/41");
    let b = body(&reqs[0]);
    assert_eq!(b["note"], json!("<p><b>Inbound call</b> · Answered · 2m 05s</p><p>From +12125550100 to +16465550111</p><p>Added later</p><p>Recording: <a href=\"https://rec.example/r/1.mp3\">https://rec.example/r/1.mp3</a></p><p>Logged by Calltrail · calltrail:call-1@int-1</p>"));
    assert!(b.get("type").is_none() && b.get("person_id").is_none(), "an update leaves type and person alone: {b}");
    assert_eq!(out, Ok(CrmOutput::Updated));
}

#[test]
fn notes_and_names_are_escaped() {
    let notes = "<script>alert(1)</script>\n<img src=x onerror=\"steal('t')\">\nback\\slash (a, b)\n\nsecond";
    let mut log = call_log("6", "Person", notes);
    log.contact.name = "Bob <b>\"Boss\"</b>".into();
    log.call.recording_url = Some("javascript:alert(1)".into());
    let b = body(&first(&pd(), &CrmOp::CreateCallLog { log }));
    let note = b["note"].as_str().unwrap();
    assert!(note.contains("&lt;script&gt;alert(1)&lt;/script&gt;<br>&lt;img src=x onerror=&quot;steal(&#39;t&#39;)&quot;&gt;<br>back\\slash (a, b)</p><p>second</p>"), "{note}");
    assert!(!note.contains("<script") && !note.contains("<img") && !note.contains("javascript:"), "{note}");
    // The subject is plain text in Pipedrive: kept as typed, on one line.
    assert_eq!(b["subject"], json!("Inbound call with Bob <b>\"Boss\"</b>"));
}

#[test]
fn placeholder_person_has_the_number() {
    let op = CrmOp::CreateContact { name: "New Lead - +12125550100".into(), phone: e164("+12125550100"), marker: Marker("calltrail:c1".into()) };
    let reply = json!({"success": true, "data": person_json(77, "New Lead - +12125550100", &["+12125550100"], "2026-03-08T06:53:00Z", "2026-03-08T06:53:00Z")});
    let (reqs, out) = run(&pd(), &op, vec![ok(200, &reply.to_string())]);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/api/v2/persons");
    assert_eq!(reqs[0].method, Method::Post);
    assert_eq!(body(&reqs[0]), json!({"name": "New Lead - +12125550100", "phones": [{"value": "+12125550100", "primary": true, "label": "work"}]}));
    let Ok(CrmOutput::Contact { contact }) = out else { panic!("{out:?}") };
    assert_eq!((contact.id.as_str(), &*contact.name, contact.phones.to_vec()), ("77", "New Lead - +12125550100", vec!["+12125550100".to_owned()]));
    assert_eq!(contact.created_at, Some(ts("2026-03-08T06:53:00Z")));
}

#[test]
fn sms_day_is_a_note_updated_in_place() {
    use calltrail_core::model::Direction::*;
    let log = message_log("6", "Person", &[("2026-03-08T14:05:00Z", Inbound, "Hi <there>"), ("2026-03-08T14:06:00Z", Outbound, "Hello & welcome\nline 2")]);
    let (reqs, out) = run(&pd(), &CrmOp::CreateMessageLog { log: log.clone() }, vec![ok(200, r#"{"success":true,"data":{"id":900,"content":"x","person_id":6}}"#)]);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/v1/notes");
    assert_eq!(reqs[0].method, Method::Post);
    let want_content = "<p><b>SMS conversation</b> · 2026-03-08 · with +12125550100</p><p>14:05 UTC in: Hi &lt;there&gt;<br>14:06 UTC out: Hello &amp; welcome<br>line 2</p><p>Logged by Calltrail · calltrail:sms-conv-1:2026-03-08@int-1</p>";
    assert_eq!(body(&reqs[0]), json!({"content": want_content, "person_id": 6}));
    assert_eq!(out, Ok(CrmOutput::Created { record: calltrail_core::model::RecordId::new("900"), url: None }));

    let op = CrmOp::UpdateMessageLog { record: calltrail_core::model::RecordId::new("900"), log };
    let (reqs, out) = run(&pd(), &op, vec![ok(200, r#"{"success":true,"data":{"id":900}}"#)]);
    assert_eq!((reqs[0].method, reqs[0].url.as_str()), (Method::Put, "https://api.pipedrive.com/v1/notes/900"));
    assert_eq!(body(&reqs[0]), json!({"content": want_content}));
    assert_eq!(out, Ok(CrmOutput::Updated));
}

#[test]
fn find_call_scans_the_persons_recent_activities() {
    let marker = Marker("calltrail:call-1@int-1".into());
    let op = CrmOp::FindLog { marker: marker.clone(), hint: hint(LogWhat::Call, Some("6"), Some("Person")) };
    let page1 = json!({"success": true, "data": [{"id": 40, "type": "call", "note": "<p>another call</p>"}], "additional_data": {"next_cursor": "c2"}});
    let page2 = json!({"success": true, "data": [{"id": 41, "type": "call", "note": "<p>Logged by Calltrail · calltrail:call-1@int-1</p>"}], "additional_data": {"next_cursor": null}});
    let (reqs, out) = run(&pd(), &op, vec![ok(200, &page1.to_string()), ok(200, &page2.to_string())]);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/api/v2/activities?person_id=6&updated_since=2026-03-08T06%3A35%3A00Z&limit=500");
    assert_eq!(reqs[1].url, "https://api.pipedrive.com/api/v2/activities?person_id=6&updated_since=2026-03-08T06%3A35%3A00Z&limit=500&cursor=c2");
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(calltrail_core::model::RecordId::new("41")) }));

    let empty = json!({"success": true, "data": [], "additional_data": {"next_cursor": null}});
    let (_, out) = run(&pd(), &op, vec![ok(200, &empty.to_string())]);
    assert_eq!(out, Ok(CrmOutput::Found { record: None }));
}

#[test]
fn find_messages_and_placeholder() {
    let op = CrmOp::FindLog { marker: Marker("calltrail:sms-1".into()), hint: hint(LogWhat::Messages, Some("6"), None) };
    let notes = json!({"success": true, "data": [{"id": 900, "content": "<p>Logged by Calltrail · calltrail:sms-1</p>"}],
        "additional_data": {"pagination": {"start": 0, "limit": 500, "more_items_in_collection": false}}});
    let (reqs, out) = run(&pd(), &op, vec![ok(200, &notes.to_string())]);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/v1/notes?person_id=6&start_date=2026-03-07&start=0&limit=500");
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(calltrail_core::model::RecordId::new("900")) }));

    let op = CrmOp::FindLog { marker: Marker("calltrail:c1".into()), hint: hint(LogWhat::Contact, None, None) };
    let persons = json!({"success": true, "data": [
        person_json(5, "Old Jane", &["(212) 555-0100"], "2019-01-01T00:00:00Z", "2026-03-08T07:00:00Z"),
        person_json(77, "New Lead - +12125550100", &["+12125550100"], "2026-03-08T06:53:00Z", "2026-03-08T06:53:00Z"),
    ], "additional_data": {"next_cursor": null}});
    let (reqs, out) = run(&pd(), &op, vec![ok(200, &persons.to_string())]);
    assert_eq!(reqs[0].url, "https://api.pipedrive.com/api/v2/persons?updated_since=2026-03-08T06%3A35%3A00Z&limit=500");
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(calltrail_core::model::RecordId::new("77")) }), "only a person added since the op counts");
}

#[test]
fn every_error_class() {
    let read = CrmOp::SearchContacts { phone: e164("+12125550100") };
    let write = CrmOp::CreateCallLog { log: call_log("6", "Person", "n") };
    let echo = format!(r#"{{"success":false,"error":"bad token {TOKEN}","error_info":"Please check developers.pipedrive.com"}}"#);
    let cases: Vec<(&CrmOp, Reply, &str)> = vec![
        (&read, with_headers(429, &[("retry-after", "2")], r#"{"success":false,"error":"Too many requests"}"#), "rate_limited"),
        (&write, with_headers(429, &[("x-ratelimit-reset", "3")], r#"{"success":false,"error":"Too many requests"}"#), "rate_limited"),
        (&read, ok(401, &echo), "unauthorized"),
        (&write, ok(401, &echo), "unauthorized"),
        (&read, ok(500, r#"{"success":false,"error":"An internal server error occurred"}"#), "transient"),
        (&write, ok(500, r#"{"success":false,"error":"An internal server error occurred"}"#), "unknown"),
        (&write, ok(503, "<html>down</html>"), "unknown"),
        (&write, Reply::TimedOut, "unknown"),
        (&read, Reply::TimedOut, "transient"),
        (&write, Reply::NetworkError { sent: true, message: "reset".into() }, "unknown"),
        (&write, Reply::NetworkError { sent: false, message: "offline".into() }, "transient"),
        (&write, ok(400, r#"{"success":false,"error":"\"person_id\" must be a number","error_info":"Please check developers.pipedrive.com for more information about Pipedrive API."}"#), "permanent"),
        (&write, ok(403, r#"{"success":false,"error":"You don't have permission to change this resource."}"#), "permanent"),
        (&write, ok(404, r#"{"success":false,"error":"Person not found"}"#), "permanent"),
        (&write, ok(200, "{not json"), "unknown"),
        (&read, ok(200, "{not json"), "transient"),
        (&write, ok(200, r#"{"success":false,"error":"Validation failed"}"#), "permanent"),
        (&write, ok(200, r#"{"success":true,"data":{}}"#), "unknown"),
    ];
    for (op, reply, want) in cases {
        let (reqs, out) = run(&pd(), op, vec![reply.clone()]);
        let e = out.expect_err("an error");
        assert_eq!(class(&e), want, "{reply:?} → {e:?}");
        assert_no_leak(&e, &reqs);
    }
    let (_, out) = run(&pd(), &read, vec![with_headers(429, &[("x-ratelimit-reset", "3")], "{}")]);
    assert_eq!(out.unwrap_err(), CrmError::RateLimited { retry_after_ms: Some(3000), message: "Pipedrive 429: too many requests".into() });
    let (_, out) = run(&pd(), &write, vec![ok(404, r#"{"success":false,"error":"Person not found","error_info":"Object was not found."}"#)]);
    assert_eq!(out.unwrap_err(), CrmError::Permanent { message: "Pipedrive 404: Person not found".into() });
}

#[test]
fn non_numeric_person_id_is_refused_before_sending() {
    let op = CrmOp::CreateCallLog { log: call_log("abc", "Person", "") };
    assert!(matches!(step(&pd(), &op, &[]), Step::Done(Err(CrmError::Permanent { .. }))));
}

/// Pipedrive's specs are YAML and the crate has no YAML parser: a light check that every
/// property we send is declared under the endpoint's block in the spec text (indentation-based
/// block extraction), alongside the hand check cited in crates/core/src/crm/pipedrive.rs.
#[test]
fn request_bodies_use_declared_properties() {
    let dir = shared_dir().join("specs/pipedrive");
    let v2 = std::fs::read_to_string(dir.join("openapi-v2.yaml")).expect("openapi-v2.yaml");
    let v1 = std::fs::read_to_string(dir.join("openapi.yaml")).expect("openapi.yaml");
    // The lines of `method` under `path`: from `    method:` to the next line indented four
    // spaces or less.
    let block = |text: &str, path: &str, method: &str| -> String {
        let lines: Vec<&str> = text.lines().collect();
        let p = lines.iter().position(|l| *l == format!("  {path}:") || *l == format!("  '{path}':")).unwrap_or_else(|| panic!("{path} not in spec"));
        let m = lines[p + 1..]
            .iter()
            .take_while(|l| l.starts_with("   ") || l.is_empty())
            .position(|l| *l == format!("    {method}:"))
            .unwrap_or_else(|| panic!("{method} {path} not in spec"))
            + p
            + 1;
        let indent = |l: &str| l.len() - l.trim_start().len();
        lines[m + 1..].iter().take_while(|l| l.is_empty() || indent(l) > 4).map(|l| format!("{l}\n")).collect()
    };
    let bodies: Vec<(&str, &str, &str, Value)> = vec![
        (v2.as_str(), "/activities", "post", body(&first(&pd(), &CrmOp::CreateCallLog { log: call_log("6", "Person", "n") }))),
        (v2.as_str(), "/activities/{id}", "patch", body(&first(&pd(), &CrmOp::UpdateCallLog { record: calltrail_core::model::RecordId::new("1"), log: call_log("6", "Person", "n") }))),
        (v2.as_str(), "/persons", "post", body(&first(&pd(), &CrmOp::CreateContact { name: "N".into(), phone: e164("+12125550100"), marker: Marker("m".into()) }))),
        (v1.as_str(), "/notes", "post", body(&first(&pd(), &CrmOp::CreateMessageLog { log: message_log("6", "Person", &[]) }))),
        (v1.as_str(), "/notes/{id}", "put", body(&first(&pd(), &CrmOp::UpdateMessageLog { record: calltrail_core::model::RecordId::new("1"), log: message_log("6", "Person", &[]) }))),
    ];
    for (text, path, method, b) in bodies {
        let spec = block(text, path, method);
        assert!(spec.contains("requestBody:"), "{method} {path}: no request body in spec");
        let mut keys: Vec<String> = b.as_object().unwrap().keys().cloned().collect();
        if let Some(phones) = b.get("phones").and_then(|p| p[0].as_object()) {
            keys.extend(phones.keys().cloned());
        }
        for k in keys {
            assert!(spec.contains(&format!(" {k}:\n")), "{method} {path}: property {k} is not in the spec");
        }
    }
}
