//! Salesforce golden pairs: the exact request of every op, replies in the shapes Salesforce
//! documents (SOSL `searchRecords`, SOQL `{totalSize, done, records}`, sObject create
//! `{id, success, errors}`, error arrays `[{message, errorCode, fields}]`), every error class,
//! SOSL/SOQL escaping, and the token never leaking.

use calltrail_core::crm::salesforce::{soql_quote, sosl_escape, API_VERSION};
use calltrail_core::crm::*;
use calltrail_core::model::*;
use serde_json::{json, Value};

use super::hubspot::kit::*;

const BASE: &str = "https://acme.my.salesforce.com";
const AUTH: &str = "Bearer pat-na1-SECRET-5f4e3d2c1b0a";

fn sf() -> Connection {
    conn(CrmKind::Salesforce, BASE)
}

fn api(rest: &str) -> String {
    format!("{BASE}/services/data/{API_VERSION}{rest}")
}

/// The URL-encoded form of `q` as our connector writes it (RFC 3986 unreserved kept).
fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn created_reply(id: &str) -> Reply {
    json_reply(201, json!({"id": id, "success": true, "errors": []}))
}

/// The reply to a guarded create's Composite call: each subrequest's status and body, named as
/// the connector names them (the create, then the marker check), in the documented shape.
fn composite(parts: &[(u16, Value)]) -> Reply {
    let results: Vec<Value> = parts
        .iter()
        .zip(["NewTask", "MarkerCheck"])
        .map(|((status, body), name)| json!({"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": name}))
        .collect();
    json_reply(200, json!({"compositeResponse": results}))
}

fn created_body(id: &str) -> Value {
    json!({"id": id, "success": true, "errors": []})
}

/// The body of a SOQL reply listing the Tasks `ids` (with their creator).
fn task_list(ids: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = ids.iter().map(|(id, by)| json!({"attributes": {"type": "Task"}, "Id": id, "CreatedById": by})).collect();
    json!({"totalSize": records.len(), "done": true, "records": records})
}

/// A call log's create: only ours carries the marker after it.
fn alone(id: &str) -> Vec<Reply> {
    vec![composite(&[(201, created_body(id)), (200, task_list(&[(id, "005A")]))])]
}

/// The Task a guarded create's Composite call creates.
fn task_body(req: &HttpRequest) -> Value {
    let v: Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
    v["compositeRequest"][0]["body"].clone()
}

#[test]
fn api_version_is_a_recent_constant() {
    let v: f64 = API_VERSION.trim_start_matches('v').parse().unwrap();
    assert!(v >= 60.0, "{API_VERSION}");
}

#[test]
fn search_golden_with_format_variants_and_a_dropped_non_match() {
    let sosl = "FIND {2125550100 OR 12125550100} IN PHONE FIELDS RETURNING \
                Contact(Id, Name, Phone, MobilePhone, HomePhone, OtherPhone, AssistantPhone, CreatedDate, LastModifiedDate LIMIT 50), \
                Lead(Id, Name, Phone, MobilePhone, CreatedDate, LastModifiedDate WHERE IsConverted = false LIMIT 50)";
    let reply = json!({"searchRecords": [
        {"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003A000001"}, "Id": "003A000001", "Name": "Ada Lovelace",
         "Phone": "(212) 555-0100", "MobilePhone": null, "HomePhone": null, "OtherPhone": null, "AssistantPhone": null,
         "CreatedDate": "2024-01-10T10:00:00.000+0000", "LastModifiedDate": "2024-04-01T09:30:00.000+0000"},
        {"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003A000002"}, "Id": "003A000002", "Name": "Grace Hopper",
         "Phone": "+1 646 555 0123", "MobilePhone": "212.555.0100", "HomePhone": null, "OtherPhone": null, "AssistantPhone": null,
         "CreatedDate": "2024-01-10T10:00:00.000+0000", "LastModifiedDate": "2024-04-01T09:30:00.000+0000"},
        // Tokenised SOSL found "0100" in another number: dropped by the re-check.
        {"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003A000003"}, "Id": "003A000003", "Name": "Alan Turing",
         "Phone": "(212) 555-0199", "MobilePhone": "0100", "HomePhone": null, "OtherPhone": null, "AssistantPhone": null,
         "CreatedDate": "2024-01-10T10:00:00.000+0000", "LastModifiedDate": "2024-04-01T09:30:00.000+0000"},
        {"attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00QA000004"}, "Id": "00QA000004", "Name": "New Lead - +12125550100",
         "Phone": "+12125550100", "MobilePhone": null,
         "CreatedDate": "2024-01-10T10:00:00.000+0000", "LastModifiedDate": "2024-04-01T09:30:00.000+0000"},
    ]});
    let (reqs, out) = run(&sf(), &CrmOp::SearchContacts { phone: e164("+12125550100") }, vec![json_reply(200, reply)]);
    assert_request(&reqs[0], Method::Get, &api(&format!("/search/?q={}", enc(sosl))), AUTH, None);
    let c = |id: &str, name: &str, ty: &str, phones: &[&str]| Contact {
        id: RecordId::new(id),
        name: name.into(),
        record_type: RecordType::new(ty),
        phones: phones.iter().map(|p| p.to_string()).collect(),
        created_at: Timestamp::parse("2024-01-10T10:00:00Z"),
        modified_at: Timestamp::parse("2024-04-01T09:30:00Z"),
        url: Some(format!("{BASE}/lightning/r/{ty}/{id}/view").into()),
    };
    let want = vec![
        c("003A000001", "Ada Lovelace", "Contact", &["(212) 555-0100"]),
        c("003A000002", "Grace Hopper", "Contact", &["+1 646 555 0123", "212.555.0100"]),
        c("00QA000004", "New Lead - +12125550100", "Lead", &["+12125550100"]),
    ];
    assert_eq!(out, Ok(CrmOutput::Contacts { contacts: want }));

    let (_, out) = run(&sf(), &CrmOp::SearchContacts { phone: e164("+12125550100") }, vec![json_reply(200, json!({"searchRecords": []}))]);
    assert_eq!(out, Ok(CrmOutput::Contacts { contacts: vec![] }));
}

#[test]
fn search_for_an_international_number_adds_the_trunk_form() {
    let number = calltrail_core::phone::E164::try_from("+442079460958".to_owned()).unwrap();
    let (reqs, _) = run(&sf(), &CrmOp::SearchContacts { phone: number }, vec![json_reply(200, json!({"searchRecords": []}))]);
    assert!(reqs[0].url.contains(&enc("FIND {2079460958 OR 442079460958 OR 02079460958} IN PHONE FIELDS")), "{}", reqs[0].url);
}

fn task_fields(description: &str) -> Value {
    json!({
        "Subject": "Inbound call from +12125550100",
        "CallType": "Inbound",
        "CallDurationInSeconds": 125,
        "CallDisposition": "Answered (2m 05s)",
        "ActivityDate": "2024-05-01",
        "Status": "Completed",
        "Description": description,
    })
}

const DESCRIPTION: &str = "Wants a quote.\nCall back Monday.\n\nRecording: https://rec.example.com/r/1.mp3";

#[test]
fn create_call_task_golden() {
    let op = CrmOp::CreateCallLog { log: call_log("003A000001", "Contact", "Wants a quote.\nCall back Monday.") };
    let (reqs, out) = run(&sf(), &op, alone("00TA000010"));
    let mut body = task_fields(DESCRIPTION);
    body["TaskSubtype"] = json!("Call");
    body["WhoId"] = json!("003A000001");
    body["CallObject"] = json!("calltrail:call-1:main");
    // The create and the exact CallObject lookup after it (another browser of the rep), as
    // one Composite call.
    let soql = "SELECT Id, CreatedById FROM Task WHERE CallObject = 'calltrail:call-1:main' ORDER BY CreatedDate ASC, Id ASC LIMIT 10";
    let query = format!("/services/data/{API_VERSION}/query/?q={}", calltrail_core::crm::common::encode_component(soql));
    let want = json!({"allOrNone": false, "compositeRequest": [
        {"method": "POST", "url": format!("/services/data/{API_VERSION}/sobjects/Task"), "referenceId": "NewTask", "body": body},
        {"method": "GET", "url": query, "referenceId": "MarkerCheck"},
    ]});
    assert_eq!(reqs.len(), 1);
    assert_request(&reqs[0], Method::Post, &api("/composite"), AUTH, Some(want));
    assert_eq!(
        out,
        Ok(CrmOutput::Created { record: RecordId::new("00TA000010"), url: Some(format!("{BASE}/lightning/r/Task/00TA000010/view")) })
    );
}

#[test]
fn what_the_softphone_handed_over_is_in_the_description() {
    let mut log = call_log("003A000001", "Contact", "");
    log.call.ai_note = Some("Pat wants 20 seats.".into());
    log.call.transcript = Some("Pat: Hello\r\nJane: Hi".into());
    let (reqs, _) = run(&sf(), &CrmOp::CreateCallLog { log }, alone("00T1"));
    let body = task_body(&reqs[0]);
    assert_eq!(
        body["Description"],
        json!("Recording: https://rec.example.com/r/1.mp3\n\nAI note:\nPat wants 20 seats.\n\nTranscript:\nPat: Hello\nJane: Hi")
    );
}

#[test]
fn two_browsers_of_one_rep_leave_one_task() {
    let op = CrmOp::CreateCallLog { log: call_log("003A000001", "Contact", "") };
    let both = task_list(&[("00T0", "005A"), ("00T9", "005A")]);
    // The other browser logged the leg before, or at the same moment and first: ours is the
    // later record, deleted; theirs adopted.
    let (reqs, out) = run(&sf(), &op, vec![composite(&[(201, created_body("00T9")), (200, both.clone())]), resp(204, "")]);
    assert_eq!(reqs.len(), 2);
    assert_request(&reqs[1], Method::Delete, &api("/sobjects/Task/00T9"), AUTH, None);
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("00T0")) }));
    // Ours is the earlier: kept (the other deletes its own).
    let (reqs, out) = run(&sf(), &op, vec![composite(&[(201, created_body("00T0")), (200, both.clone())])]);
    assert_eq!(reqs.len(), 1);
    assert!(matches!(out, Ok(CrmOutput::Created { record, .. }) if record.as_str() == "00T0"));
    // An earlier Task with the marker made by another Salesforce user is not ours to judge.
    let theirs = task_list(&[("00T0", "005B"), ("00T9", "005A")]);
    let (reqs, out) = run(&sf(), &op, vec![composite(&[(201, created_body("00T9")), (200, theirs)])]);
    assert_eq!(reqs.len(), 1);
    assert!(matches!(out, Ok(CrmOutput::Created { record, .. }) if record.as_str() == "00T9"));
    // The create succeeded but its check failed inside the Composite call (a subrequest error
    // in a 200): the create is known; the check runs again alone, then judges.
    let failed = json!([{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}]);
    let (reqs, out) = run(&sf(), &op, vec![composite(&[(201, created_body("00T9")), (500, failed.clone())]), json_reply(200, both.clone()), resp(204, "")]);
    let soql = "SELECT Id, CreatedById FROM Task WHERE CallObject = 'calltrail:call-1:main' ORDER BY CreatedDate ASC, Id ASC LIMIT 10";
    assert_request(&reqs[1], Method::Get, &api(&format!("/query/?q={}", calltrail_core::crm::common::encode_component(soql))), AUTH, None);
    assert_request(&reqs[2], Method::Delete, &api("/sobjects/Task/00T9"), AUTH, None);
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("00T0")) }));
    // ... and when the second check fails too, the Task made stands.
    let (reqs, out) = run(&sf(), &op, vec![composite(&[(201, created_body("00T9")), (500, failed.clone())]), Reply::TimedOut]);
    assert_eq!(reqs.len(), 2);
    assert!(matches!(out, Ok(CrmOutput::Created { record, .. }) if record.as_str() == "00T9"));
    // A 200 whose check is missing (it stops after the create): the check runs alone.
    let (reqs, out) = run(&sf(), &op, vec![composite(&[(201, created_body("00T9"))]), json_reply(200, task_list(&[("00T9", "005A")]))]);
    assert_eq!(reqs.len(), 2);
    assert!(matches!(out, Ok(CrmOutput::Created { record, .. }) if record.as_str() == "00T9"));
    // The create failed inside the 200 (the check ran anyway): the create's error, nothing more.
    let refused = json!([{"errorCode": "INVALID_FIELD", "message": "No such column 'CallObject' on sobject of type Task", "fields": []}]);
    let (reqs, out) = run(&sf(), &op, vec![composite(&[(400, refused), (200, task_list(&[]))])]);
    assert_eq!(reqs.len(), 1);
    assert!(matches!(&out, Err(CrmError::Permanent { message }) if message.contains("INVALID_FIELD")), "{out:?}");
    let (_, out) = run(&sf(), &op, vec![composite(&[(500, failed.clone()), (200, task_list(&[]))])]);
    assert!(matches!(out, Err(CrmError::Unknown { .. })), "{out:?}");
    // The whole call failed (a 5xx, a lost reply) or is malformed: the create's outcome is unknown.
    for whole in [resp(500, &failed.to_string()), Reply::TimedOut, json_reply(200, json!({"compositeResponse": "?"})), resp(200, "[oops")] {
        let (reqs, out) = run(&sf(), &op, vec![whole.clone()]);
        assert_eq!(reqs.len(), 1);
        assert!(matches!(out, Err(CrmError::Unknown { .. })), "{whole:?}: {out:?}");
    }
    // Refused as a whole (a malformed body is refused before any subrequest runs): known not made.
    let (_, out) = run(&sf(), &op, vec![json_reply(400, json!([{"errorCode": "JSON_PARSER_ERROR", "message": "bad"}]))]);
    assert!(matches!(out, Err(CrmError::Permanent { .. })), "{out:?}");
    // With the admin's External ID + Unique field: the marker goes there too, a duplicate is
    // refused and read back by that field.
    let conn = Connection { marker_field: Some("Calltrail_Marker__c".into()), ..sf() };
    let (reqs, out) = run(&conn, &op, vec![created_reply("00T1")]);
    let body: Value = serde_json::from_str(reqs[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body["Calltrail_Marker__c"], json!("calltrail:call-1:main"));
    assert!(matches!(out, Ok(CrmOutput::Created { .. })));
    let dup = json_reply(400, json!([{"message": "duplicate value found: Calltrail_Marker__c duplicates value on record with id: 00T0", "errorCode": "DUPLICATE_VALUE", "fields": []}]));
    let (reqs, out) = run(&conn, &op, vec![dup, json_reply(200, json!({"attributes": {"type": "Task"}, "Id": "00T0"}))]);
    assert_request(&reqs[1], Method::Get, &api("/sobjects/Task/Calltrail_Marker__c/calltrail%3Acall-1%3Amain"), AUTH, None);
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("00T0")) }));
}

#[test]
fn task_text_is_plain_and_bounded() {
    let mut log = call_log("00QA000004", "Lead", "<script>alert('x')</script>\r\nsecond\u{7} line");
    log.call.recording_url = Some("javascript:alert(1)".into());
    log.call.result = CallResult::Missed;
    log.call.answered_at = None;
    log.call.direction = Direction::Outbound;
    let (reqs, _) = run(&sf(), &CrmOp::CreateCallLog { log }, alone("00T1"));
    let body = task_body(&reqs[0]);
    // Plain text field: no HTML escaping, no javascript link, control characters gone.
    assert_eq!(body["Description"], json!("<script>alert('x')</script>\nsecond line"));
    assert_eq!(body["CallType"], json!("Outbound"));
    assert_eq!(body["CallDurationInSeconds"], json!(0));
    assert_eq!(body["CallDisposition"], json!("Missed"));
    assert_eq!(body["Subject"], json!("Outbound call to +12125550100"));
    assert_eq!(body["WhoId"], json!("00QA000004"));

    let long = "x".repeat(40_000);
    let (reqs, _) = run(&sf(), &CrmOp::CreateCallLog { log: call_log("003A1", "Contact", &long) }, alone("00T1"));
    let body = task_body(&reqs[0]);
    assert_eq!(body["Description"].as_str().unwrap().chars().count(), 32_000);

    let mut log = call_log("003A1", "Contact", "");
    log.marker = Marker("m".repeat(256));
    let (reqs, out) = run(&sf(), &CrmOp::CreateCallLog { log }, vec![]);
    assert!(reqs.is_empty(), "a marker CallObject cannot hold exactly is refused before sending");
    assert!(matches!(out, Err(CrmError::Permanent { .. })));
}

#[test]
fn update_call_task_golden() {
    let op = CrmOp::UpdateCallLog { record: RecordId::new("00TA000010"), log: call_log("003A000001", "Contact", "Wants a quote.\nCall back Monday.") };
    let (reqs, out) = run(&sf(), &op, vec![resp(204, "")]);
    assert_request(&reqs[0], Method::Patch, &api("/sobjects/Task/00TA000010"), AUTH, Some(task_fields(DESCRIPTION)));
    assert_eq!(out, Ok(CrmOutput::Updated));
}

#[test]
fn placeholder_lead_golden() {
    let op = CrmOp::CreateContact { name: "New Lead - +12125550100".into(), phone: e164("+12125550100"), marker: Marker("calltrail:call-1:main".into()) };
    let (reqs, out) = run(&sf(), &op, vec![created_reply("00QA000009")]);
    let body = json!({
        "LastName": "New Lead - +12125550100",
        "Company": "Unknown",
        "Phone": "+12125550100",
        "Description": "Created by Calltrail for a caller who matched no contact.\nCalltrail ref: calltrail:call-1:main",
    });
    assert_request(&reqs[0], Method::Post, &api("/sobjects/Lead"), AUTH, Some(body));
    let want = Contact {
        id: RecordId::new("00QA000009"),
        name: "New Lead - +12125550100".into(),
        record_type: RecordType::new("Lead"),
        phones: vec!["+12125550100".into()].into(),
        created_at: None,
        modified_at: None,
        url: Some(format!("{BASE}/lightning/r/Lead/00QA000009/view").into()),
    };
    assert_eq!(out, Ok(CrmOutput::Contact { contact: want }));
}

#[test]
fn sms_and_fax_tasks_golden() {
    let description = "10:05 UTC in: Hi <b>there</b> & \"you\"\n10:06 UTC out: Sure, call me";
    for (kind, subject) in [(MessageKind::Sms, "SMS with +12125550100 on 2024-05-01"), (MessageKind::Fax, "Fax with +12125550100 on 2024-05-01")] {
        let log = message_log(kind, "003A000001", "Contact");
        let (reqs, out) = run(&sf(), &CrmOp::CreateMessageLog { log: log.clone() }, vec![created_reply("00TA000020")]);
        let update = json!({"Subject": subject, "ActivityDate": "2024-05-01", "Status": "Completed", "Description": description});
        let mut create = update.clone();
        create["TaskSubtype"] = json!("Task");
        create["WhoId"] = json!("003A000001");
        create["CallObject"] = json!("calltrail:conv-1:2024-05-01:main");
        assert_request(&reqs[0], Method::Post, &api("/sobjects/Task"), AUTH, Some(create));
        assert_eq!(
            out,
            Ok(CrmOutput::Created { record: RecordId::new("00TA000020"), url: Some(format!("{BASE}/lightning/r/Task/00TA000020/view")) })
        );

        let (reqs, out) = run(&sf(), &CrmOp::UpdateMessageLog { record: RecordId::new("00TA000020"), log }, vec![resp(204, "")]);
        assert_request(&reqs[0], Method::Patch, &api("/sobjects/Task/00TA000020"), AUTH, Some(update));
        assert_eq!(out, Ok(CrmOutput::Updated));
    }
}

#[test]
fn find_task_by_call_object_found_and_not_found() {
    for what in [LogWhat::Call, LogWhat::Messages] {
        let op = CrmOp::FindLog { marker: Marker("calltrail:call-1:main".into()), hint: hint(what, Some("003A000001"), None) };
        let soql = "SELECT Id FROM Task WHERE CallObject = 'calltrail:call-1:main' ORDER BY CreatedDate ASC LIMIT 10";
        let found = json!({"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Task", "url": "/services/data/v62.0/sobjects/Task/00TA000010"}, "Id": "00TA000010"}]});
        let (reqs, out) = run(&sf(), &op, vec![json_reply(200, found)]);
        assert_request(&reqs[0], Method::Get, &api(&format!("/query/?q={}", enc(soql))), AUTH, None);
        assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("00TA000010")) }));

        let (_, out) = run(&sf(), &op, vec![json_reply(200, json!({"totalSize": 0, "done": true, "records": []}))]);
        assert_eq!(out, Ok(CrmOutput::Found { record: None }));
    }
}

#[test]
fn marker_with_quotes_cannot_break_out_of_soql() {
    let op = CrmOp::FindLog { marker: Marker("x' OR Subject != '\\".into()), hint: hint(LogWhat::Call, None, None) };
    let (reqs, _) = run(&sf(), &op, vec![json_reply(200, json!({"totalSize": 0, "done": true, "records": []}))]);
    let soql = "SELECT Id FROM Task WHERE CallObject = 'x\\' OR Subject != \\'\\\\' ORDER BY CreatedDate ASC LIMIT 10";
    assert_eq!(reqs[0].url, api(&format!("/query/?q={}", enc(soql))));
}

#[test]
fn find_placeholder_lead_checks_the_marker_in_description() {
    let op = CrmOp::FindLog { marker: Marker("calltrail:call-1:main".into()), hint: hint(LogWhat::Contact, None, Some("+12125550100")) };
    let soql = "SELECT Id, Description FROM Lead WHERE Phone = '+12125550100' AND CreatedDate >= 2024-05-01T09:50:00Z ORDER BY CreatedDate ASC LIMIT 50";
    let records = json!({"totalSize": 2, "done": true, "records": [
        {"attributes": {"type": "Lead"}, "Id": "00QA000001", "Description": "Met at the fair"},
        {"attributes": {"type": "Lead"}, "Id": "00QA000009", "Description": "Created by Calltrail for a caller who matched no contact.\nCalltrail ref: calltrail:call-1:main"},
    ]});
    let (reqs, out) = run(&sf(), &op, vec![json_reply(200, records)]);
    assert_request(&reqs[0], Method::Get, &api(&format!("/query/?q={}", enc(soql))), AUTH, None);
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("00QA000009")) }));

    let other = json!({"totalSize": 1, "done": true, "records": [{"Id": "00QA000008", "Description": "Calltrail ref: calltrail:call-1:main-2"}]});
    let (_, out) = run(&sf(), &op, vec![json_reply(200, other)]);
    assert_eq!(out, Ok(CrmOutput::Found { record: None }));
}

#[test]
fn sosl_and_soql_escaping_table() {
    let sosl = [
        ("<script>", "<script>"),
        ("{braces}", "\\{braces\\}"),
        ("quote\"s and 'apostrophes'", "quote\\\"s and \\'apostrophes\\'"),
        ("back\\slash", "back\\\\slash"),
        ("new\nline", "new line"),
        ("+1 (212) 555-0100", "\\+1 \\(212\\) 555\\-0100"),
    ];
    for (input, want) in sosl {
        assert_eq!(sosl_escape(input), want, "{input}");
    }
    let soql = [
        ("<img onerror=x>", "'<img onerror=x>'"),
        ("O'Brien", "'O\\'Brien'"),
        ("back\\slash", "'back\\\\slash'"),
        ("{braces}", "'{braces}'"),
        ("new\nline", "'new\\nline'"),
        ("\"dq\"", "'\\\"dq\\\"'"),
    ];
    for (input, want) in soql {
        assert_eq!(soql_quote(input), want, "{input}");
    }
}

/// Every error class, for a read (search) and a write (create task). Bodies echo the token.
#[test]
fn errors_are_classified_and_never_show_the_token() {
    let echo = format!("Bearer {TOKEN}");
    let sf_err = |code: &str, msg: &str| json!([{"message": format!("{msg} [{echo}]"), "errorCode": code, "fields": []}]).to_string();
    let read = CrmOp::SearchContacts { phone: e164("+12125550100") };
    let write = CrmOp::CreateCallLog { log: call_log("003A000001", "Contact", "n") };
    let limit_headers = [("sforce-limit-info", "api-usage=15000/15000")];
    let cases: Vec<ErrorCase> = vec![
        ("request limit", &write, resp_h(403, &limit_headers, &sf_err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")), "rate_limited", Some(3_600_000), "api-usage=15000/15000"),
        ("request limit on a read", &read, resp_h(403, &limit_headers, &sf_err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")), "rate_limited", Some(3_600_000), "REQUEST_LIMIT_EXCEEDED"),
        ("invalid session", &write, resp(401, &sf_err("INVALID_SESSION_ID", "Session expired or invalid")), "unauthorized", None, "Session expired or invalid"),
        ("invalid session on a read", &read, resp(401, &sf_err("INVALID_SESSION_ID", "Session expired or invalid")), "unauthorized", None, "INVALID_SESSION_ID"),
        ("403 access", &write, resp(403, &sf_err("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on cross-reference id")), "permanent", None, "insufficient access rights"),
        ("404", &write, resp(404, &sf_err("NOT_FOUND", "The requested resource does not exist")), "permanent", None, "does not exist"),
        ("400 field", &write, resp(400, &sf_err("INVALID_FIELD", "No such column 'CallObject' on sobject of type Task")), "permanent", None, "INVALID_FIELD"),
        ("400 duplicates", &write, resp(400, &sf_err("DUPLICATES_DETECTED", "Use one of these records?")), "permanent", None, "DUPLICATES_DETECTED"),
        ("300 upsert", &write, resp(300, r#"["/services/data/v62.0/sobjects/Task/00T1","/services/data/v62.0/sobjects/Task/00T2"]"#), "permanent", None, "someone needs to pick one"),
        ("500 on a read", &read, resp(500, &sf_err("UNKNOWN_EXCEPTION", "An unexpected error occurred")), "transient", None, "UNKNOWN_EXCEPTION"),
        ("503 on a write", &write, resp(503, &sf_err("SERVER_UNAVAILABLE", "Server unavailable")), "unknown", None, "SERVER_UNAVAILABLE"),
        ("timeout on a write", &write, Reply::TimedOut, "unknown", None, "may have been written"),
        ("timeout on a read", &read, Reply::TimedOut, "transient", None, "did not answer"),
        ("offline", &write, Reply::NetworkError { sent: false, message: echo.clone() }, "transient", None, "nothing was sent"),
        ("reset after send", &write, Reply::NetworkError { sent: true, message: echo.clone() }, "unknown", None, "after sending"),
        ("malformed 201", &write, resp(201, "{\"id\":"), "unknown", None, "cannot read"),
        ("malformed search", &read, resp(200, "[oops"), "transient", None, "cannot read"),
        ("search without records", &read, resp(200, "{}"), "transient", None, "searchRecords"),
    ];
    for (name, op, reply, want_class, want_retry, want_text) in cases {
        // A call log's create is a Composite call: the reply of the whole call, then the same
        // reply as the create subrequest's inside a 200 (its check ran after it).
        let mut runs = vec![(name.to_owned(), vec![reply.clone()])];
        if let (CrmOp::CreateCallLog { .. }, Reply::Response(r)) = (op, &reply) {
            let body = serde_json::from_str::<Value>(&r.body).unwrap_or_else(|_| json!(r.body));
            let headers: serde_json::Map<String, Value> = r.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let sub = json!({"compositeResponse": [
                {"body": body, "httpHeaders": headers, "httpStatusCode": r.status, "referenceId": "NewTask"},
                {"body": task_list(&[]), "httpHeaders": {}, "httpStatusCode": 200, "referenceId": "MarkerCheck"},
            ]});
            runs.push((format!("{name}, inside a 200"), vec![json_reply(200, sub)]));
        }
        for (name, replies) in runs {
            let (_, out) = run(&sf(), op, replies);
            let e = out.expect_err(&name);
            assert_eq!(class(&e), want_class, "{name}: {e:?}");
            if let CrmError::RateLimited { retry_after_ms, .. } = &e {
                assert_eq!(*retry_after_ms, want_retry, "{name}");
            }
            assert!(e.to_string().contains(want_text), "{name}: {e}");
            assert_no_token(&e);
        }
    }
}

#[test]
fn find_and_update_errors_follow_read_and_write_rules() {
    let find = CrmOp::FindLog { marker: Marker("calltrail:call-1:main".into()), hint: hint(LogWhat::Call, None, None) };
    let (_, out) = run(&sf(), &find, vec![resp(503, "")]);
    assert!(matches!(out, Err(CrmError::Transient { .. })), "{out:?}");
    let update = CrmOp::UpdateCallLog { record: RecordId::new("00T1"), log: call_log("003A1", "Contact", "") };
    let (_, out) = run(&sf(), &update, vec![Reply::TimedOut]);
    assert!(matches!(out, Err(CrmError::Unknown { .. })), "{out:?}");
}
