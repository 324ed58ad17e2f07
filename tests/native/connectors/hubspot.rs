//! HubSpot golden pairs: the exact request of every op, replies in the shapes HubSpot
//! documents (CRM v3 objects, search and error bodies), every error class, HTML escaping, and
//! the token never leaking. Also holds the OAuth golden tests and the small kit the Salesforce
//! golden tests share.

use calltrail_core::crm::common::Access;
use calltrail_core::crm::*;
use calltrail_core::model::*;
use serde_json::{json, Value};

use kit::*;

/// Helpers shared by the HubSpot and Salesforce golden tests.
pub(super) mod kit {
    use calltrail_core::crm::*;
    use calltrail_core::model::*;
    use calltrail_core::phone::{Country, E164};
    use serde_json::Value;

    pub const TOKEN: &str = "pat-na1-SECRET-5f4e3d2c1b0a";

    pub fn conn(kind: CrmKind, base: &str) -> Connection {
        Connection { kind, base_url: base.into(), token: Secret::new(TOKEN), oauth: false, default_country: Country::US, marker_field: None, owner: None }
    }

    pub fn e164(s: &str) -> E164 {
        E164::parse(s, Country::US).unwrap()
    }

    /// 2024-05-01T10:00:00.000Z plus `secs`.
    pub fn at(secs: i64) -> Timestamp {
        Timestamp(1_714_557_600_000).plus_secs(secs)
    }

    pub fn contact(id: &str, record_type: &str) -> Contact {
        Contact {
            id: RecordId::new(id),
            name: "Ada Lovelace".into(),
            record_type: RecordType::new(record_type),
            phones: vec!["(212) 555-0100".into()].into(),
            created_at: None,
            modified_at: None,
            url: None,
        }
    }

    pub fn call(notes: &str) -> Call {
        Call {
            answered_at: Some(at(5)),
            ended_at: Some(at(130)),
            result: CallResult::Answered,
            recording_url: Some("https://rec.example.com/r/1.mp3".into()),
            notes: notes.into(),
            ..Call::new(CallId::new("call-1"), Direction::Inbound, e164("+12125550100"), Some(e164("+16465550111")), at(0))
        }
    }

    pub fn call_log(contact_id: &str, record_type: &str, notes: &str) -> CallLog {
        CallLog { marker: Marker("calltrail:call-1:main".into()), contact: contact(contact_id, record_type), call: call(notes), timing: Default::default() }
    }

    pub fn message(id: &str, direction: Direction, secs: i64, text: &str) -> Message {
        Message {
            id: id.into(),
            conversation: ConversationId::new("conv-1"),
            kind: MessageKind::Sms,
            direction,
            our_number: Some(e164("+16465550111")),
            their_number: e164("+12125550100"),
            at: at(secs),
            text: text.into(),
        }
    }

    pub fn message_log(kind: MessageKind, contact_id: &str, record_type: &str) -> MessageLog {
        MessageLog {
            marker: Marker("calltrail:conv-1:2024-05-01:main".into()),
            contact: contact(contact_id, record_type),
            kind,
            day: "2024-05-01".into(),
            their_number: e164("+12125550100"),
            our_number: Some(e164("+16465550111")),
            messages: vec![
                message("m1", Direction::Inbound, 300, "Hi <b>there</b> & \"you\""),
                message("m2", Direction::Outbound, 360, "Sure, call me"),
            ],
        }
    }

    pub fn hint(what: LogWhat, contact: Option<&str>, phone: Option<&str>) -> LogHint {
        LogHint {
            what,
            contact: contact.map(RecordId::new),
            contact_type: None,
            phone: phone.map(e164),
            at: at(0),
        }
    }

    pub fn resp(status: u16, body: &str) -> Reply {
        resp_h(status, &[], body)
    }

    pub fn resp_h(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
        Reply::Response(HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.into(),
        })
    }

    pub fn json_reply(status: u16, v: Value) -> Reply {
        resp(status, &v.to_string())
    }

    /// Runs `op` against scripted replies: every request the connector sends gets the next
    /// reply. Panics when it asks for more requests than replies or finishes with replies left.
    pub fn run(conn: &Connection, op: &CrmOp, replies: Vec<Reply>) -> (Vec<HttpRequest>, Result<CrmOutput, CrmError>) {
        let mut history: Vec<Exchange> = Vec::new();
        let mut replies = replies.into_iter();
        loop {
            match step(conn, op, &history) {
                Step::Send(request) => {
                    let reply = replies.next().unwrap_or_else(|| panic!("unscripted request #{}: {request:?}", history.len() + 1));
                    history.push(Exchange { request, reply });
                }
                Step::Done(out) => {
                    assert!(replies.next().is_none(), "finished with replies left over");
                    return (history.into_iter().map(|e| e.request).collect(), out);
                }
            }
        }
    }

    /// Asserts method, URL, auth and JSON headers, and the body as JSON.
    pub fn assert_request(req: &HttpRequest, method: Method, url: &str, auth: &str, body: Option<Value>) {
        assert_eq!(req.method, method, "method of {url}");
        assert_eq!(req.url, url);
        let header = |n: &str| req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
        assert_eq!(header("authorization"), Some(auth));
        assert_eq!(header("accept"), Some("application/json"));
        match body {
            Some(want) => {
                assert_eq!(header("content-type"), Some("application/json"));
                let got: Value = serde_json::from_str(req.body.as_deref().expect("a body")).expect("a JSON body");
                assert_eq!(got, want, "body of {url}");
            }
            None => assert_eq!(req.body, None, "no body for {url}"),
        }
    }

    /// One row of an error table: name, op, reply, class, `retry_after_ms`, text in the message.
    pub type ErrorCase<'a> = (&'a str, &'a CrmOp, Reply, &'a str, Option<i64>, &'a str);

    /// The error's class name as it serialises.
    pub fn class(e: &CrmError) -> String {
        serde_json::to_value(e).unwrap()["class"].as_str().unwrap().to_owned()
    }

    /// The error's message, and that neither it, its Display, nor its Debug shows the token.
    pub fn assert_no_token(e: &CrmError) {
        for shown in [e.to_string(), format!("{e:?}"), serde_json::to_string(e).unwrap()] {
            assert!(!shown.contains(TOKEN) && !shown.contains("SECRET"), "token leaked: {shown}");
        }
    }
}

const BASE: &str = "https://api.hubapi.com";
const AUTH: &str = "Bearer pat-na1-SECRET-5f4e3d2c1b0a";

fn hs() -> Connection {
    conn(CrmKind::HubSpot, BASE)
}

fn search_op() -> CrmOp {
    CrmOp::SearchContacts { phone: e164("+12125550100") }
}

fn variants() -> Value {
    json!([
        "+12125550100", "2125550100", "12125550100", "(212) 555-0100", "212-555-0100", "212.555.0100",
        "212 555 0100", "+1 212-555-0100", "+1 (212) 555-0100", "+1 212 555 0100", "1-212-555-0100", "1 (212) 555-0100"
    ])
}

fn search_body(after: Option<&str>) -> Value {
    let mut b = json!({
        "filterGroups": [
            {"filters": [{"propertyName": "hs_searchable_calculated_phone_number", "operator": "EQ", "value": "2125550100"}]},
            {"filters": [{"propertyName": "hs_searchable_calculated_mobile_number", "operator": "EQ", "value": "2125550100"}]},
            {"filters": [{"propertyName": "phone", "operator": "IN", "values": variants()}]},
            {"filters": [{"propertyName": "mobilephone", "operator": "IN", "values": variants()}]},
        ],
        "properties": ["firstname", "lastname", "phone", "mobilephone", "createdate", "lastmodifieddate"],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        "limit": 100,
    });
    if let Some(a) = after {
        b["after"] = json!(a);
    }
    b
}

/// A contact as the search endpoint returns it.
fn hs_contact(id: &str, first: Option<&str>, last: Option<&str>, phone: Option<&str>, mobile: Option<&str>) -> Value {
    json!({
        "id": id,
        "properties": {
            "createdate": "2024-01-10T10:00:00.000Z",
            "firstname": first,
            "lastname": last,
            "phone": phone,
            "mobilephone": mobile,
            "lastmodifieddate": "2024-04-01T09:30:00.000Z",
            "hs_object_id": id,
        },
        "createdAt": "2024-01-10T10:00:00.000Z",
        "updatedAt": "2024-04-01T09:30:00.000Z",
        "archived": false,
    })
}

fn expected_contact(id: &str, name: &str, phones: &[&str]) -> Contact {
    Contact {
        id: RecordId::new(id),
        name: name.into(),
        record_type: RecordType::new("Contact"),
        phones: phones.iter().map(|p| p.to_string()).collect(),
        created_at: Some(Timestamp::parse("2024-01-10T10:00:00Z").unwrap()),
        modified_at: Some(Timestamp::parse("2024-04-01T09:30:00Z").unwrap()),
        url: None,
    }
}

#[test]
fn search_pages_with_after_and_drops_numbers_that_do_not_match() {
    let page1 = json!({
        "total": 4,
        "results": [
            hs_contact("101", Some("Ada"), Some("Lovelace"), Some("(212) 555-0100"), None),
            hs_contact("102", Some("Grace"), Some("Hopper"), Some("+1 646 555 0123"), Some("212.555.0100")),
            // Matched HubSpot's token search but is another number: dropped.
            hs_contact("103", Some("Alan"), Some("Turing"), Some("(212) 555-0199"), None),
        ],
        "paging": {"next": {"after": "3", "link": "?after=3"}},
    });
    let page2 = json!({
        "total": 4,
        "results": [hs_contact("104", None, None, Some("1-212-555-0100"), None), hs_contact("101", Some("Ada"), Some("Lovelace"), Some("(212) 555-0100"), None)],
    });
    let (reqs, out) = run(&hs(), &search_op(), vec![json_reply(200, page1), json_reply(200, page2)]);
    assert_eq!(reqs.len(), 2);
    assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/contacts/search", AUTH, Some(search_body(None)));
    assert_request(&reqs[1], Method::Post, "https://api.hubapi.com/crm/v3/objects/contacts/search", AUTH, Some(search_body(Some("3"))));
    let want = vec![
        expected_contact("101", "Ada Lovelace", &["(212) 555-0100"]),
        expected_contact("102", "Grace Hopper", &["+1 646 555 0123", "212.555.0100"]),
        expected_contact("104", "1-212-555-0100", &["1-212-555-0100"]),
    ];
    assert_eq!(out, Ok(CrmOutput::Contacts { contacts: want }));
}

#[test]
fn search_with_no_results_is_empty_and_stops_after_the_page_cap() {
    let (reqs, out) = run(&hs(), &search_op(), vec![json_reply(200, json!({"total": 0, "results": []}))]);
    assert_eq!(reqs.len(), 1);
    assert_eq!(out, Ok(CrmOutput::Contacts { contacts: vec![] }));

    let endless = |n: usize| json!({"total": 999, "results": [], "paging": {"next": {"after": (n * 100).to_string()}}});
    let replies = (1..=calltrail_core::crm::hubspot::MAX_SEARCH_PAGES).map(|n| json_reply(200, endless(n))).collect();
    let (reqs, out) = run(&hs(), &search_op(), replies);
    assert_eq!(reqs.len(), calltrail_core::crm::hubspot::MAX_SEARCH_PAGES);
    assert_eq!(out, Ok(CrmOutput::Contacts { contacts: vec![] }));
}

fn call_properties(body_html: &str) -> Value {
    json!({
        "hs_timestamp": "2024-05-01T10:00:00.000Z",
        "hs_call_title": "Inbound call from +12125550100",
        "hs_call_body": body_html,
        "hs_call_direction": "INBOUND",
        "hs_call_duration": "125000",
        "hs_call_status": "COMPLETED",
        "hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
        "hs_call_from_number": "+12125550100",
        "hs_call_to_number": "+16465550111",
        "hs_call_recording_url": "https://rec.example.com/r/1.mp3",
        "hs_call_external_id": "calltrail:call-1:main",
    })
}

const NOTES_HTML: &str = "<p>Wants a quote.<br>Call back Monday.</p><p>Recording: <a href=\"https://rec.example.com/r/1.mp3\">https://rec.example.com/r/1.mp3</a></p>";

#[test]
fn create_call_log_golden() {
    let op = CrmOp::CreateCallLog { log: call_log("101", "Contact", "Wants a quote.\nCall back Monday.") };
    let reply = json!({
        "id": "512",
        "properties": {"hs_createdate": "2024-05-01T10:02:11.000Z", "hs_timestamp": "2024-05-01T10:00:00Z", "hs_object_id": "512"},
        "createdAt": "2024-05-01T10:02:11.000Z",
        "updatedAt": "2024-05-01T10:02:11.000Z",
        "archived": false,
    });
    // Sent at the hang-up: the create alone. A call another browser of the rep made at the same
    // moment is not in the search index yet, so a search first could not find it.
    let (reqs, out) = run(&hs(), &op, vec![json_reply(201, reply.clone())]);
    let body = json!({
        "properties": call_properties(NOTES_HTML),
        "associations": [{"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}],
    });
    assert_eq!(reqs.len(), 1);
    assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/calls", AUTH, Some(body.clone()));
    assert_eq!(out, Ok(CrmOutput::Created { record: RecordId::new("512"), url: None }));

    // Sent late (a browser that slept, a delayed pick): first the marker, through the calls
    // search, since another browser of the rep may have logged this leg meanwhile.
    let mut late = call_log("101", "Contact", "Wants a quote.\nCall back Monday.");
    late.timing = calltrail_core::crm::Timing::Late;
    let op = CrmOp::CreateCallLog { log: late };
    let (reqs, out) = run(&hs(), &op, vec![none_found(), json_reply(201, reply)]);
    assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/calls/search", AUTH, Some(calltrail_core::crm::hubspot::find_call_body(&Marker("calltrail:call-1:main".into()))));
    assert_request(&reqs[1], Method::Post, "https://api.hubapi.com/crm/v3/objects/calls", AUTH, Some(body));
    assert_eq!(out, Ok(CrmOutput::Created { record: RecordId::new("512"), url: None }));

    // Logged already (and visible to the search): adopted, nothing created.
    let hit = json!({"total": 1, "results": [{"id": "77", "properties": {"hs_call_external_id": "calltrail:call-1:main"}}]});
    let (reqs, out) = run(&hs(), &op, vec![json_reply(200, hit)]);
    assert_eq!(reqs.len(), 1);
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("77")) }));
}

#[test]
fn with_a_unique_marker_property_hubspot_refuses_the_duplicate_and_it_is_adopted() {
    let conn = Connection { marker_field: Some("calltrail_marker".into()), ..hs() };
    let op = CrmOp::CreateCallLog { log: call_log("101", "Contact", "") };
    // No search first: the create carries the marker in the unique property too.
    let (reqs, out) = run(&conn, &op, vec![json_reply(201, json!({"id": "512"}))]);
    let body: Value = serde_json::from_str(reqs[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(reqs[0].url, "https://api.hubapi.com/crm/v3/objects/calls");
    assert_eq!(body["properties"]["calltrail_marker"], json!("calltrail:call-1:main"));
    assert_eq!(body["properties"]["hs_call_external_id"], json!("calltrail:call-1:main"));
    assert_eq!(out, Ok(CrmOutput::Created { record: RecordId::new("512"), url: None }));
    // Another browser made it first: 409, then the exact read by the property.
    let conflict = json!({"status": "error", "message": "A call with the value calltrail:call-1:main for the unique property calltrail_marker already exists. Existing ID: 77", "category": "CONFLICT"});
    let (reqs, out) = run(&conn, &op, vec![json_reply(409, conflict), json_reply(200, json!({"id": "77", "properties": {}}))]);
    assert_request(&reqs[1], Method::Get, "https://api.hubapi.com/crm/v3/objects/calls/calltrail%3Acall-1%3Amain?idProperty=calltrail_marker&properties=hs_call_external_id", AUTH, None);
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("77")) }));
    // And the marker lookup after an unknown outcome is that exact read too.
    let find = CrmOp::FindLog { marker: Marker("calltrail:call-1:main".into()), hint: hint(LogWhat::Call, Some("101"), Some("+12125550100")) };
    let (reqs, out) = run(&conn, &find, vec![resp(404, "")]);
    assert_eq!(reqs[0].method, Method::Get);
    assert_eq!(out, Ok(CrmOutput::Found { record: None }));
    assert!(calltrail_core::crm::capabilities_with(CrmKind::HubSpot, true).exact_marker_lookup);
}

fn none_found() -> Reply {
    json_reply(200, json!({"total": 0, "results": []}))
}

#[test]
fn call_outcomes_map_to_hubspot_status_and_disposition() {
    let cases = [
        (CallResult::Answered, "COMPLETED", Some("f240bbac-87c9-4f6e-bf70-924b57d47db7")),
        (CallResult::Voicemail, "COMPLETED", Some("b2cf5968-551e-4856-9783-52b3da59a7d0")),
        (CallResult::Missed, "NO_ANSWER", Some("73a0d17f-1163-4015-bdd5-ec830791da20")),
        (CallResult::Busy, "BUSY", Some("9d9162e7-6cf3-4944-bf63-4dff82258764")),
        (CallResult::Rejected, "CANCELED", Some("73a0d17f-1163-4015-bdd5-ec830791da20")),
        (CallResult::Failed, "FAILED", None),
    ];
    for (result, status, disposition) in cases {
        let mut log = call_log("101", "Contact", "");
        log.call.result = result;
        log.call.direction = Direction::Outbound;
        let (reqs, _) = run(&hs(), &CrmOp::CreateCallLog { log }, vec![json_reply(201, json!({"id": "1"}))]);
        let body: Value = serde_json::from_str(reqs[0].body.as_deref().unwrap()).unwrap();
        let p = &body["properties"];
        assert_eq!(p["hs_call_status"], json!(status), "{result:?}");
        assert_eq!(p.get("hs_call_disposition").cloned(), disposition.map(|d| json!(d)), "{result:?}");
        assert_eq!(p["hs_call_direction"], json!("OUTBOUND"));
        assert_eq!(p["hs_call_from_number"], json!("+16465550111"));
        assert_eq!(p["hs_call_to_number"], json!("+12125550100"));
        assert_eq!(p["hs_call_title"], json!("Outbound call to +12125550100"));
    }
}

#[test]
fn notes_are_escaped_into_our_own_html() {
    let cases = [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
        ("He said \"no\" & 'maybe'", "<p>He said &quot;no&quot; &amp; &#39;maybe&#39;</p>"),
        ("line one\nline two\n\nnew para", "<p>line one<br>line two</p><p>new para</p>"),
        ("C:\\temp\\{x}", "<p>C:\\temp\\{x}</p>"),
        ("", ""),
    ];
    for (notes, want) in cases {
        let mut log = call_log("101", "Contact", notes);
        log.call.recording_url = Some("javascript:alert(1)".into()); // never becomes a link
        let (reqs, _) = run(&hs(), &CrmOp::CreateCallLog { log }, vec![json_reply(201, json!({"id": "1"}))]);
        let body: Value = serde_json::from_str(reqs[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(body["properties"]["hs_call_body"], json!(want), "{notes:?}");
    }
    // A recording URL with a quote cannot break out of the attribute.
    let mut log = call_log("101", "Contact", "");
    log.call.recording_url = Some("https://rec.example.com/a\"onmouseover=\"x.mp3".into());
    let (reqs, _) = run(&hs(), &CrmOp::CreateCallLog { log }, vec![json_reply(201, json!({"id": "1"}))]);
    let body: Value = serde_json::from_str(reqs[0].body.as_deref().unwrap()).unwrap();
    let html = body["properties"]["hs_call_body"].as_str().unwrap();
    assert!(!html.contains("a\"onmouseover"), "{html}");
    assert!(html.contains("a&quot;onmouseover=&quot;x.mp3"), "{html}");
}

#[test]
fn what_the_softphone_handed_over_is_in_the_log() {
    let mut log = call_log("101", "Contact", "Wants a quote.");
    log.call.voicemail_url = Some("https://platform.ringcentral.com/m/9".into());
    log.call.ai_note = Some("Pat <wants> 20 seats.".into());
    log.call.transcript = Some("Pat: Hello\nJane: Hi".into());
    let (reqs, _) = run(&hs(), &CrmOp::CreateCallLog { log: log.clone() }, vec![json_reply(201, json!({"id": "1"}))]);
    let body: Value = serde_json::from_str(reqs[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body["properties"]["hs_call_body"],
        json!("<p>Wants a quote.</p><p>Recording: <a href=\"https://rec.example.com/r/1.mp3\">https://rec.example.com/r/1.mp3</a></p>\
<p>Voicemail: <a href=\"https://platform.ringcentral.com/m/9\">https://platform.ringcentral.com/m/9</a></p>\
<p><b>AI note</b></p><p>Pat &lt;wants&gt; 20 seats.</p><p><b>Transcript</b></p><p>Pat: Hello<br>Jane: Hi</p>")
    );
    assert_eq!(body["properties"]["hs_call_recording_url"], json!("https://rec.example.com/r/1.mp3"));
    // An http link stays in the body but is not HubSpot's recording property (https only).
    log.call.recording_url = Some("http://rec.example.com/r/2.mp3".into());
    let (reqs, _) = run(&hs(), &CrmOp::CreateCallLog { log }, vec![json_reply(201, json!({"id": "1"}))]);
    let body: Value = serde_json::from_str(reqs[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body["properties"].get("hs_call_recording_url"), None);
    assert!(body["properties"]["hs_call_body"].as_str().unwrap().contains("http://rec.example.com/r/2.mp3"));
}

#[test]
fn update_call_log_golden() {
    let op = CrmOp::UpdateCallLog { record: RecordId::new("512"), log: call_log("101", "Contact", "Wants a quote.\nCall back Monday.") };
    let reply = json!({"id": "512", "properties": {"hs_lastmodifieddate": "2024-05-01T11:00:00Z"}, "createdAt": "2024-05-01T10:02:11Z", "updatedAt": "2024-05-01T11:00:00Z", "archived": false});
    let (reqs, out) = run(&hs(), &op, vec![json_reply(200, reply)]);
    assert_request(&reqs[0], Method::Patch, "https://api.hubapi.com/crm/v3/objects/calls/512", AUTH, Some(json!({"properties": call_properties(NOTES_HTML)})));
    assert_eq!(out, Ok(CrmOutput::Updated));
}

#[test]
fn placeholder_contact_golden() {
    let op = CrmOp::CreateContact { name: "New Lead - +12125550100".into(), phone: e164("+12125550100"), marker: Marker("calltrail:call-1:main".into()) };
    let reply = json!({
        "id": "901",
        "properties": {"createdate": "2024-05-01T10:03:00.000Z", "firstname": "New Lead", "lastname": "+12125550100", "phone": "+12125550100", "lastmodifieddate": "2024-05-01T10:03:00.000Z", "hs_object_id": "901"},
        "createdAt": "2024-05-01T10:03:00.000Z",
        "updatedAt": "2024-05-01T10:03:00.000Z",
        "archived": false,
    });
    let (reqs, out) = run(&hs(), &op, vec![json_reply(201, reply)]);
    assert_request(
        &reqs[0],
        Method::Post,
        "https://api.hubapi.com/crm/v3/objects/contacts",
        AUTH,
        Some(json!({"properties": {"firstname": "New Lead", "lastname": "+12125550100", "phone": "+12125550100"}})),
    );
    let created = Timestamp::parse("2024-05-01T10:03:00Z");
    let want = Contact {
        id: RecordId::new("901"),
        name: "New Lead +12125550100".into(),
        record_type: RecordType::new("Contact"),
        phones: vec!["+12125550100".into()].into(),
        created_at: created,
        modified_at: created,
        url: None,
    };
    assert_eq!(out, Ok(CrmOutput::Contact { contact: want }));
}

const SMS_HTML: &str = "<p><strong>SMS with +12125550100 on 2024-05-01</strong></p><p>10:05 UTC in: Hi &lt;b&gt;there&lt;/b&gt; &amp; &quot;you&quot;<br>10:06 UTC out: Sure, call me</p><p>Calltrail ref: calltrail:conv-1:2024-05-01:main</p>";

#[test]
fn sms_create_and_update_golden() {
    let log = message_log(MessageKind::Sms, "101", "Contact");
    let props = json!({
        "hs_timestamp": "2024-05-01T10:05:00.000Z",
        "hs_communication_body": SMS_HTML,
        "hs_communication_channel_type": "SMS",
        "hs_communication_logged_from": "CRM",
    });
    let reply = json!({"id": "7001", "properties": {"hs_communication_channel_type": "SMS"}, "createdAt": "2024-05-01T10:06:10Z", "updatedAt": "2024-05-01T10:06:10Z", "archived": false});
    let (reqs, out) = run(&hs(), &CrmOp::CreateMessageLog { log: log.clone() }, vec![json_reply(201, reply)]);
    let body = json!({
        "properties": props,
        "associations": [{"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 81}]}],
    });
    assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/communications", AUTH, Some(body));
    assert_eq!(out, Ok(CrmOutput::Created { record: RecordId::new("7001"), url: None }));

    let (reqs, out) = run(&hs(), &CrmOp::UpdateMessageLog { record: RecordId::new("7001"), log }, vec![json_reply(200, json!({"id": "7001"}))]);
    assert_request(&reqs[0], Method::Patch, "https://api.hubapi.com/crm/v3/objects/communications/7001", AUTH, Some(json!({"properties": props})));
    assert_eq!(out, Ok(CrmOutput::Updated));
}

#[test]
fn fax_is_logged_as_a_note() {
    let log = message_log(MessageKind::Fax, "101", "Contact");
    let (reqs, out) = run(&hs(), &CrmOp::CreateMessageLog { log }, vec![json_reply(201, json!({"id": "8001"}))]);
    let html = SMS_HTML.replace("SMS with", "Fax with");
    let body = json!({
        "properties": {"hs_timestamp": "2024-05-01T10:05:00.000Z", "hs_note_body": html},
        "associations": [{"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}],
    });
    assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/notes", AUTH, Some(body));
    assert_eq!(out, Ok(CrmOutput::Created { record: RecordId::new("8001"), url: None }));
}

#[test]
fn find_call_by_marker_found_and_not_found() {
    let op = CrmOp::FindLog { marker: Marker("calltrail:call-1:main".into()), hint: hint(LogWhat::Call, Some("101"), Some("+12125550100")) };
    let body = json!({
        "filterGroups": [{"filters": [{"propertyName": "hs_call_external_id", "operator": "EQ", "value": "calltrail:call-1:main"}]}],
        "properties": ["hs_call_external_id", "hs_timestamp"],
        "sorts": [{"propertyName": "hs_timestamp", "direction": "ASCENDING"}],
        "limit": 10,
    });
    let found = json!({"total": 1, "results": [{"id": "512", "properties": {"hs_call_external_id": "calltrail:call-1:main", "hs_timestamp": "2024-05-01T10:00:00Z", "hs_object_id": "512"}, "createdAt": "2024-05-01T10:02:11Z", "updatedAt": "2024-05-01T10:02:11Z", "archived": false}]});
    let other = json!({"total": 1, "results": [{"id": "513", "properties": {"hs_call_external_id": "calltrail:call-1:main-2"}}]});
    let cases = [
        (found, Some("512")),
        (json!({"total": 0, "results": []}), None),
        // HubSpot's EQ is case-insensitive and tokenised; only an exact value counts.
        (other, None),
    ];
    for (reply, want) in cases {
        let (reqs, out) = run(&hs(), &op, vec![json_reply(200, reply)]);
        assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/calls/search", AUTH, Some(body.clone()));
        assert_eq!(out, Ok(CrmOutput::Found { record: want.map(RecordId::new) }));
    }
}

#[test]
fn find_messages_looks_in_communications_then_notes() {
    let marker = Marker("calltrail:conv-1:2024-05-01:main".into());
    let op = CrmOp::FindLog { marker, hint: hint(LogWhat::Messages, Some("101"), None) };
    let body = |prop: &str| {
        json!({
            "filterGroups": [{"filters": [
                {"propertyName": "hs_timestamp", "operator": "GTE", "value": "1714471200000"},
                {"propertyName": "hs_timestamp", "operator": "LTE", "value": "1714644000000"},
                {"propertyName": "associations.contact", "operator": "EQ", "value": "101"},
            ]}],
            "properties": [prop, "hs_timestamp"],
            "sorts": [{"propertyName": "hs_timestamp", "direction": "ASCENDING"}],
            "limit": 100,
        })
    };
    let sms = json!({"total": 2, "results": [
        {"id": "6999", "properties": {"hs_communication_body": "<p>Calltrail ref: calltrail:conv-1:2024-04-30:main</p>"}},
        {"id": "7001", "properties": {"hs_communication_body": SMS_HTML}},
    ]});
    let (reqs, out) = run(&hs(), &op, vec![json_reply(200, sms)]);
    assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/communications/search", AUTH, Some(body("hs_communication_body")));
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("7001")) }));

    let empty = json!({"total": 0, "results": []});
    let notes = json!({"total": 1, "results": [{"id": "8001", "properties": {"hs_note_body": SMS_HTML.replace("SMS", "Fax")}}]});
    let (reqs, out) = run(&hs(), &op, vec![json_reply(200, empty.clone()), json_reply(200, notes)]);
    assert_request(&reqs[1], Method::Post, "https://api.hubapi.com/crm/v3/objects/notes/search", AUTH, Some(body("hs_note_body")));
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("8001")) }));

    let (reqs, out) = run(&hs(), &op, vec![json_reply(200, empty.clone()), json_reply(200, empty)]);
    assert_eq!(reqs.len(), 2);
    assert_eq!(out, Ok(CrmOutput::Found { record: None }));
}

#[test]
fn find_placeholder_contact_by_exact_phone_since_the_call() {
    let op = CrmOp::FindLog { marker: Marker("calltrail:call-1:main".into()), hint: hint(LogWhat::Contact, None, Some("+12125550100")) };
    let body = json!({
        "filterGroups": [{"filters": [
            {"propertyName": "phone", "operator": "EQ", "value": "+12125550100"},
            {"propertyName": "createdate", "operator": "GTE", "value": "1714557000000"},
        ]}],
        "properties": ["firstname", "lastname", "phone", "mobilephone", "createdate", "lastmodifieddate"],
        "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
        "limit": 10,
    });
    let found = json!({"total": 1, "results": [hs_contact("901", Some("New Lead"), Some("+12125550100"), Some("+12125550100"), None)]});
    let (reqs, out) = run(&hs(), &op, vec![json_reply(200, found)]);
    assert_request(&reqs[0], Method::Post, "https://api.hubapi.com/crm/v3/objects/contacts/search", AUTH, Some(body));
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("901")) }));

    let (_, out) = run(&hs(), &op, vec![json_reply(200, json!({"total": 0, "results": []}))]);
    assert_eq!(out, Ok(CrmOutput::Found { record: None }));

    let no_phone = CrmOp::FindLog { marker: Marker("m".into()), hint: hint(LogWhat::Contact, None, None) };
    let (reqs, out) = run(&hs(), &no_phone, vec![]);
    assert!(reqs.is_empty());
    assert!(matches!(out, Err(CrmError::Permanent { .. })));
}

/// Every error class, for a read (search) and a write (create call). Each CRM body echoes the
/// token, to prove it never reaches the engine.
#[test]
fn errors_are_classified_and_never_show_the_token() {
    let echo = format!("token {TOKEN} rejected");
    let err_body = |category: &str, msg: &str| json!({"status": "error", "message": format!("{msg} ({echo})"), "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf", "category": category}).to_string();
    let read = search_op();
    let write = CrmOp::CreateCallLog { log: call_log("101", "Contact", "n") };
    let cases: Vec<ErrorCase> = vec![
        ("429 retry-after", &write, resp_h(429, &[("retry-after", "10")], &err_body("RATE_LIMITS", "You have reached your secondly limit.")), "rate_limited", Some(10_000), "secondly limit"),
        ("429 window spent", &read, resp_h(429, &[("x-hubspot-ratelimit-remaining", "0"), ("x-hubspot-ratelimit-interval-milliseconds", "10000"), ("x-hubspot-ratelimit-max", "100")], &err_body("RATE_LIMITS", "limit")), "rate_limited", Some(10_000), "RATE_LIMITS"),
        ("429 search, no headers", &read, resp(429, &err_body("RATE_LIMITS", "search limit")), "rate_limited", None, "search limit"),
        ("401", &write, resp(401, &err_body("INVALID_AUTHENTICATION", "Authentication credentials not found.")), "unauthorized", None, "Authentication credentials not found"),
        ("403 scopes", &write, resp(403, &err_body("MISSING_SCOPES", "This app hasn't been granted all required scopes.")), "permanent", None, "MISSING_SCOPES"),
        ("404", &write, resp(404, &err_body("OBJECT_NOT_FOUND", "resource not found")), "permanent", None, "HubSpot 404"),
        ("400 validation", &write, resp(400, &err_body("VALIDATION_ERROR", "Property values were not valid")), "permanent", None, "Property values were not valid"),
        ("500 on a read", &read, resp(500, "internal error"), "transient", None, "HubSpot 500"),
        ("502 on a write", &write, resp(502, "<html>Bad Gateway</html>"), "unknown", None, "HubSpot 502: server error"),
        ("timeout on a write", &write, Reply::TimedOut, "unknown", None, "may have been written"),
        ("timeout on a read", &read, Reply::TimedOut, "transient", None, "did not answer"),
        ("offline", &write, Reply::NetworkError { sent: false, message: format!("fetch failed {TOKEN}") }, "transient", None, "nothing was sent"),
        ("reset after send", &write, Reply::NetworkError { sent: true, message: "reset".into() }, "unknown", None, "after sending"),
        ("malformed 201", &write, resp(201, "{\"id\": "), "unknown", None, "cannot read"),
        ("201 without id", &write, resp(201, "{}"), "unknown", None, "no record id"),
        ("malformed 200 search", &read, resp(200, "<html>"), "transient", None, "cannot read"),
    ];
    for (name, op, reply, want_class, want_retry, want_text) in cases {
        let (_, out) = run(&hs(), op, vec![reply]);
        let e = out.expect_err(name);
        assert_eq!(class(&e), want_class, "{name}: {e:?}");
        if let CrmError::RateLimited { retry_after_ms, .. } = &e {
            assert_eq!(*retry_after_ms, want_retry, "{name}");
        }
        assert!(e.to_string().contains(want_text), "{name}: {e}");
        assert_no_token(&e);
    }
}

#[test]
fn request_debug_never_shows_the_token() {
    let (reqs, _) = run(&hs(), &search_op(), vec![json_reply(200, json!({"results": []}))]);
    let shown = format!("{:?}", reqs[0]);
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(reqs[0].headers.iter().any(|(k, v)| k == "Authorization" && v == AUTH), "the request itself carries the token");
}

#[test]
fn access_of_ops() {
    assert_eq!(Access::of(&search_op()), Access::Read);
    assert_eq!(Access::of(&CrmOp::CreateCallLog { log: call_log("1", "Contact", "") }), Access::Write);
}

/// OAuth 2 golden pairs: authorize URL, code and refresh grants, token replies per CRM.
mod oauth {
    use super::kit::*;
    use calltrail_core::crm::oauth::*;
    use calltrail_core::crm::*;
    use calltrail_core::model::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const CLIENT_SECRET: &str = "SECRET-client-0a1b2c";
    const REFRESH: &str = "SECRET-refresh-9z8y7x";

    fn client(kind: CrmKind, scopes: &[&str], secret: bool) -> OAuthClient {
        OAuthClient {
            kind,
            client_id: "client-123".into(),
            client_secret: secret.then(|| Secret::new(CLIENT_SECRET)),
            redirect_uri: redirect_uri("abcdefghijklmnopabcdefghijklmnop"),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            endpoints: endpoints(kind, ""),
        }
    }

    fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[test]
    fn default_endpoints_per_crm() {
        let cases = [
            (CrmKind::HubSpot, "", "https://app.hubspot.com/oauth/authorize", "https://api.hubapi.com/oauth/v1/token"),
            (CrmKind::Salesforce, "", "https://login.salesforce.com/services/oauth2/authorize", "https://login.salesforce.com/services/oauth2/token"),
            (CrmKind::Salesforce, "sandbox", "https://test.salesforce.com/services/oauth2/authorize", "https://test.salesforce.com/services/oauth2/token"),
            (CrmKind::Zoho, "", "https://accounts.zoho.com/oauth/v2/auth", "https://accounts.zoho.com/oauth/v2/token"),
            (CrmKind::Zoho, "eu", "https://accounts.zoho.eu/oauth/v2/auth", "https://accounts.zoho.eu/oauth/v2/token"),
            (CrmKind::Zoho, "evil.com/x?", "https://accounts.zoho.com/oauth/v2/auth", "https://accounts.zoho.com/oauth/v2/token"),
            (CrmKind::Clio, "", "https://app.clio.com/oauth/authorize", "https://app.clio.com/oauth/token"),
            (CrmKind::Clio, "eu", "https://eu.app.clio.com/oauth/authorize", "https://eu.app.clio.com/oauth/token"),
            (CrmKind::Pipedrive, "", "https://oauth.pipedrive.com/oauth/authorize", "https://oauth.pipedrive.com/oauth/token"),
        ];
        for (kind, region, auth, token) in cases {
            let e = endpoints(kind, region);
            assert_eq!((e.authorize_url.as_str(), e.token_url.as_str()), (auth, token), "{kind:?} {region:?}");
        }
    }

    #[test]
    fn authorize_url_golden() {
        let c = client(CrmKind::HubSpot, &["crm.objects.contacts.read", "crm.objects.contacts.write"], true);
        assert_eq!(
            authorize_url(&c, "st-42", &code_challenge_s256(VERIFIER)),
            format!(
                "https://app.hubspot.com/oauth/authorize?response_type=code&client_id=client-123\
                 &redirect_uri=https%3A%2F%2Fabcdefghijklmnopabcdefghijklmnop.chromiumapp.org%2F&state=st-42\
                 &scope=crm.objects.contacts.read%20crm.objects.contacts.write&code_challenge={CHALLENGE}&code_challenge_method=S256"
            )
        );
        let z = client(CrmKind::Zoho, &["ZohoCRM.modules.ALL"], false);
        let url = authorize_url(&z, "s", &code_challenge_s256(VERIFIER));
        assert!(url.ends_with("&scope=ZohoCRM.modules.ALL&access_type=offline&prompt=consent"), "{url}");
        assert!(!url.contains(CLIENT_SECRET));
    }

    #[test]
    fn authorization_code_request_golden() {
        let c = client(CrmKind::HubSpot, &[], true);
        let req = token_request(&c, &Grant::AuthorizationCode { code: "code/xyz", verifier: VERIFIER });
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://api.hubapi.com/oauth/v1/token");
        assert_eq!(header(&req, "content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(header(&req, "authorization"), None);
        assert_eq!(
            req.body.as_deref(),
            Some(
                "grant_type=authorization_code&code=code%2Fxyz\
                 &redirect_uri=https%3A%2F%2Fabcdefghijklmnopabcdefghijklmnop.chromiumapp.org%2F\
                 &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_id=client-123&client_secret=SECRET-client-0a1b2c"
            )
        );
    }

    #[test]
    fn refresh_request_golden() {
        let rt = Secret::new(REFRESH);
        let req = token_request(&client(CrmKind::Salesforce, &[], false), &Grant::RefreshToken { refresh_token: &rt });
        assert_eq!(req.url, "https://login.salesforce.com/services/oauth2/token");
        assert_eq!(req.body.as_deref(), Some("grant_type=refresh_token&refresh_token=SECRET-refresh-9z8y7x&client_id=client-123"));
        // Pipedrive authenticates the client with HTTP Basic.
        let req = token_request(&client(CrmKind::Pipedrive, &[], true), &Grant::RefreshToken { refresh_token: &rt });
        assert_eq!(header(&req, "authorization"), Some("Basic Y2xpZW50LTEyMzpTRUNSRVQtY2xpZW50LTBhMWIyYw=="));
        assert_eq!(req.body.as_deref(), Some("grant_type=refresh_token&refresh_token=SECRET-refresh-9z8y7x"));
        let shown = format!("{req:?}");
        assert!(!shown.contains("Y2xpZW50") && !shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("grant_type=refresh_token&refresh_token=<redacted>"), "{shown}");
        let code = token_request(&client(CrmKind::HubSpot, &[], true), &Grant::AuthorizationCode { code: "SECRET-code", verifier: VERIFIER });
        let shown = format!("{code:?}");
        assert!(!shown.contains("SECRET") && !shown.contains(VERIFIER), "{shown}");
    }

    #[test]
    fn token_replies_per_crm() {
        let now = Timestamp(1_714_557_600_000);
        let hubspot = r#"{"token_type":"bearer","refresh_token":"rt-hs","access_token":"at-hs","expires_in":1800}"#;
        let t = parse_token_reply(CrmKind::HubSpot, &resp(200, hubspot), now, &[]).unwrap();
        assert_eq!(t.access_token, Secret::new("at-hs"));
        assert_eq!(t.refresh_token, Some(Secret::new("rt-hs")));
        assert_eq!(t.expires_at, Some(now.plus_secs(1800)));
        assert!(!needs_refresh(t.expires_at, now.plus_mins(24)));
        assert!(needs_refresh(t.expires_at, now.plus_mins(26)));

        let sf = r#"{"access_token":"00Dxx!AQ","signature":"sig=","scope":"api refresh_token","instance_url":"https://acme.my.salesforce.com","id":"https://login.salesforce.com/id/00Dxx/005xx","token_type":"Bearer","issued_at":"1714557600000"}"#;
        let t = parse_token_reply(CrmKind::Salesforce, &resp(200, sf), now, &[]).unwrap();
        assert_eq!(t.instance_url.as_deref(), Some("https://acme.my.salesforce.com"));
        assert_eq!((t.expires_at, t.refresh_token.clone()), (None, None));
        assert!(!needs_refresh(t.expires_at, now.plus_hours(10)));

        let zoho = r#"{"access_token":"1000.at","refresh_token":"1000.rt","api_domain":"https://www.zohoapis.eu","token_type":"Bearer","expires_in":3600}"#;
        let t = parse_token_reply(CrmKind::Zoho, &resp(200, zoho), now, &[]).unwrap();
        assert_eq!(t.api_domain.as_deref(), Some("https://www.zohoapis.eu"));
        assert_eq!(t.expires_at, Some(now.plus_hours(1)));

        let pipedrive = r#"{"access_token":"at","token_type":"Bearer","refresh_token":"rt","scope":"base,phone-integration","expires_in":3599,"api_domain":"https://acme.pipedrive.com"}"#;
        let t = parse_token_reply(CrmKind::Pipedrive, &resp(200, pipedrive), now, &[]).unwrap();
        assert_eq!(t.api_domain.as_deref(), Some("https://acme.pipedrive.com"));
        assert_eq!(t.scope.as_deref(), Some("base,phone-integration"));
    }

    #[test]
    fn token_errors_are_classified_without_secrets() {
        let now = Timestamp(0);
        let rt = Secret::new(REFRESH);
        let cs = Secret::new(CLIENT_SECRET);
        let cases: Vec<(CrmKind, Reply, &str, &str)> = vec![
            (CrmKind::HubSpot, resp(400, r#"{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token","error":"invalid_grant"}"#), "unauthorized", "reconnect required"),
            (CrmKind::Salesforce, resp(400, r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#), "unauthorized", "reconnect required"),
            // Zoho answers some errors with a 200.
            (CrmKind::Zoho, resp(200, r#"{"error":"invalid_code"}"#), "unauthorized", "invalid_code"),
            (CrmKind::Clio, resp(401, &format!(r#"{{"error":"invalid_client","error_description":"bad secret {CLIENT_SECRET}"}}"#)), "unauthorized", "invalid_client"),
            (CrmKind::HubSpot, resp_h(429, &[("retry-after", "3")], "{}"), "rate_limited", "token server"),
            (CrmKind::HubSpot, resp(503, "unavailable"), "transient", "503"),
            (CrmKind::HubSpot, Reply::TimedOut, "transient", "did not answer"),
            (CrmKind::HubSpot, resp(200, "not json"), "transient", "cannot read"),
            (CrmKind::HubSpot, resp(200, r#"{"token_type":"bearer"}"#), "transient", "no access token"),
        ];
        for (kind, reply, want, text) in cases {
            let e = parse_token_reply(kind, &reply, now, &[&rt, &cs]).expect_err(text);
            assert_eq!(class(&e), want, "{kind:?}: {e:?}");
            assert!(e.to_string().contains(text), "{e}");
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("SECRET"), "{shown}");
            }
        }
    }

    #[test]
    fn token_set_debug_hides_tokens() {
        let t = parse_token_reply(
            CrmKind::HubSpot,
            &resp(200, r#"{"access_token":"SECRET-at","refresh_token":"SECRET-rt","expires_in":1800}"#),
            Timestamp(0),
            &[],
        )
        .unwrap();
        assert!(!format!("{t:?}").contains("SECRET"));
    }
}
