//! Strict reading of CRM replies (issue 12), golden per CRM: a `200` whose body lacks the list
//! the op reads (`results`, `data`, `data.items`, `searchRecords`, `records`) is the connector's
//! error, never "no match" and never "marker not found" (that would lead to a second create),
//! while the same reply with the list present and empty is an honest "nothing".

use calltrail_core::crm::*;
use calltrail_core::model::*;
use calltrail_core::phone::{Country, E164};

fn e164(s: &str) -> E164 {
    E164::parse(s, Country::US).unwrap()
}

fn conn(kind: CrmKind) -> Connection {
    Connection { kind, base_url: "https://crm.example".into(), token: Secret::new("tok-STRICT-1234"), default_country: Country::US, oauth: false, marker_field: None, owner: None }
}

fn ok(body: &str) -> Reply {
    let status = if body.is_empty() { 204 } else { 200 };
    Reply::Response(HttpResponse { status, headers: vec![], body: body.into() })
}

/// Every request of `op` answered with `reply`.
fn run(kind: CrmKind, op: &CrmOp, reply: &Reply) -> Result<CrmOutput, CrmError> {
    let mut history = Vec::new();
    loop {
        match step(&conn(kind), op, &history) {
            Step::Send(request) => {
                assert!(history.len() < 20, "{kind:?} {op:?} keeps asking");
                history.push(Exchange { request, reply: reply.clone() });
            }
            Step::Done(out) => return out,
        }
    }
}

fn ops(kind: CrmKind) -> [(&'static str, CrmOp); 4] {
    let contact = if kind == CrmKind::Salesforce { "003000000000001AAA" } else { "101" };
    let hint = |what| LogHint { what, contact: Some(RecordId::new(contact)), contact_type: Some(RecordType::new("Contact")), phone: Some(e164("+12125550100")), at: Timestamp(1_714_557_600_000) };
    [
        ("search", CrmOp::SearchContacts { phone: e164("+12125550100") }),
        ("find call", CrmOp::FindLog { marker: Marker("calltrail:call|c1|x".into()), hint: hint(LogWhat::Call) }),
        ("find messages", CrmOp::FindLog { marker: Marker("calltrail:msg|x|cv|2024-05-01".into()), hint: hint(LogWhat::Messages) }),
        ("find placeholder", CrmOp::FindLog { marker: Marker("calltrail:ph|x|+12125550100".into()), hint: hint(LogWhat::Contact) }),
    ]
}

/// Per CRM and op: an empty answer in the shape the CRM documents.
fn empty(kind: CrmKind, op: &str) -> &'static str {
    match (kind, op) {
        (CrmKind::HubSpot, _) => r#"{"total":0,"results":[]}"#,
        (CrmKind::Pipedrive, "search") => r#"{"success":true,"data":{"items":[]},"additional_data":{"next_cursor":null}}"#,
        (CrmKind::Pipedrive, "find messages") => r#"{"success":true,"data":null,"additional_data":{"pagination":{"start":0,"limit":500,"more_items_in_collection":false}}}"#,
        (CrmKind::Pipedrive, _) => r#"{"success":true,"data":[],"additional_data":{"next_cursor":null}}"#,
        (CrmKind::Salesforce, "search") => r#"{"searchRecords":[]}"#,
        (CrmKind::Salesforce, _) => r#"{"totalSize":0,"done":true,"records":[]}"#,
        (CrmKind::Zoho, _) => "",
        (CrmKind::Clio, _) => r#"{"data":[],"meta":{"paging":{},"records":0}}"#,
    }
}

/// 200 bodies that are JSON but not the answer: a proxy's, a maintenance page's, another API's.
const NOT_AN_ANSWER: [&str; 4] = [r#"{}"#, r#"{"success":true}"#, r#"{"status":"ok","message":"maintenance"}"#, r#"{"data":{"id":1}}"#];

fn strict(kind: CrmKind) {
    for (name, op) in ops(kind) {
        match run(kind, &op, &ok(empty(kind, name))) {
            Ok(CrmOutput::Contacts { contacts }) => assert!(contacts.is_empty(), "{kind:?} {name}"),
            Ok(CrmOutput::Found { record: None }) => {}
            other => panic!("{kind:?} {name}: an empty answer is nothing found, got {other:?}"),
        }
        for body in NOT_AN_ANSWER {
            // Pipedrive's placeholder lookup reads v2 persons, whose `data` may hold one person.
            match run(kind, &op, &ok(body)) {
                Err(CrmError::Transient { message }) => assert!(message.contains("cannot read"), "{kind:?} {name} {body}: {message}"),
                other => panic!("{kind:?} {name} {body}: a 200 without its list must be an error, got {other:?}"),
            }
        }
    }
}

#[test]
fn hubspot_refuses_a_200_without_results() {
    strict(CrmKind::HubSpot);
}

#[test]
fn pipedrive_refuses_a_200_without_data() {
    strict(CrmKind::Pipedrive);
}

#[test]
fn salesforce_refuses_a_200_without_records() {
    strict(CrmKind::Salesforce);
}

#[test]
fn zoho_refuses_a_200_without_data() {
    strict(CrmKind::Zoho);
}

#[test]
fn clio_refuses_a_200_without_data() {
    strict(CrmKind::Clio);
}
