//! The rep as owner, per CRM: every create carries the connection's user in the CRM's own
//! owner field, the current-user request each vendor documents, and Pipedrive OAuth tokens sent
//! as `Authorization: Bearer`.

use calltrail_core::crm::*;
use calltrail_core::model::{CrmKind, Direction, MessageKind};
use serde_json::{json, Value};

use super::pipedrive::kit::*;

fn owned(kind: CrmKind, owner: &str) -> Connection {
    Connection { owner: Some(owner.into()), oauth: true, ..conn(kind, "https://crm.example") }
}

/// The create request of `op`: a guarded call-log create (`crm::guard`) first looks for the
/// marker, answered here with an empty list in every vendor's shape.
fn create(conn: &Connection, op: &CrmOp) -> HttpRequest {
    let none = r#"{"results":[],"records":[],"totalSize":0,"done":true,"data":[]}"#;
    let mut history: Vec<Exchange> = Vec::new();
    loop {
        match step(conn, op, &history) {
            Step::Send(r) if r.method == Method::Post && !r.url.contains("/search") => return r,
            Step::Send(r) => {
                assert!(history.len() < 3, "no create after {history:?}");
                history.push(Exchange { request: r, reply: ok(200, none) });
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }
}

/// The creates Calltrail makes: a call, a message day, a placeholder.
fn creates(record_type: &str) -> Vec<CrmOp> {
    let mut msg = message_log("6", record_type, &[("2026-03-08T06:50:00Z", Direction::Inbound, "hi")]);
    msg.kind = MessageKind::Sms;
    vec![
        CrmOp::CreateCallLog { log: call_log("6", record_type, "") },
        CrmOp::CreateMessageLog { log: msg },
        CrmOp::CreateContact { name: "New Lead - +12125550100".into(), phone: e164("+12125550100"), marker: Marker("calltrail:p".into()) },
    ]
}

#[test]
fn every_create_carries_the_rep_in_the_crms_own_owner_field() {
    let cases: [(CrmKind, &str, &str, fn(&Value) -> Option<Value>); 5] = [
        (CrmKind::HubSpot, "61000001", "Contact", |b| b.pointer("/properties/hubspot_owner_id").cloned()),
        (CrmKind::Pipedrive, "17", "Person", |b| b.get("owner_id").or(b.get("user_id")).cloned()),
        // A call's Task goes in a Composite call (with its marker check): its first subrequest.
        (CrmKind::Salesforce, "005000000000001AAA", "Contact", |b| b.pointer("/compositeRequest/0/body/OwnerId").or(b.get("OwnerId")).cloned()),
        (CrmKind::Zoho, "4150868000000225013", "Contact", |b| b.pointer("/data/0/Owner/id").cloned()),
        (CrmKind::Clio, "345", "Person", |b| {
            let party = |k: &str| b.pointer(&format!("/data/{k}")).and_then(Value::as_array).and_then(|a| a.iter().find(|p| p["type"] == "User")).map(|p| p["id"].clone());
            party("senders").or(party("receivers"))
        }),
    ];
    for (kind, owner, record_type, field) in cases {
        for op in creates(record_type) {
            // Clio contacts have no owner field: only its communications name the rep.
            if kind == CrmKind::Clio && matches!(op, CrmOp::CreateContact { .. }) {
                continue;
            }
            let with = body(&create(&owned(kind, owner), &op));
            let want = if matches!(kind, CrmKind::Pipedrive | CrmKind::Clio) { json!(owner.parse::<i64>().unwrap()) } else { json!(owner) };
            assert_eq!(field(&with), Some(want), "{kind:?} {op:?}: {with}");
            let without = body(&create(&Connection { owner: None, ..owned(kind, owner) }, &op));
            assert_eq!(field(&without), None, "{kind:?}: no owner known, none sent: {without}");
        }
    }
}

#[test]
fn clio_puts_the_rep_on_the_other_side_of_the_call() {
    let mut out = call_log("6", "Person", "");
    out.call.direction = Direction::Outbound;
    let b = body(&create(&owned(CrmKind::Clio, "345"), &CrmOp::CreateCallLog { log: out }));
    assert_eq!(b["data"]["senders"], json!([{ "id": 345, "type": "User" }]));
    assert_eq!(b["data"]["receivers"], json!([{ "id": 6, "type": "Contact" }]));
}

#[test]
fn pipedrive_oauth_tokens_go_as_bearer_and_api_tokens_as_x_api_token() {
    let op = CrmOp::CreateCallLog { log: call_log("6", "Person", "") };
    let oauth = first(&owned(CrmKind::Pipedrive, "17"), &op);
    assert_eq!(header(&oauth, "authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(header(&oauth, "x-api-token"), None);
    let api = first(&conn(CrmKind::Pipedrive, "https://crm.example"), &op);
    assert_eq!((header(&api, "x-api-token"), header(&api, "authorization")), (Some(TOKEN), None));
}

/// Steps `identify` over canned replies; returns the requests and the user.
fn who(conn: &Connection, email: &str, replies: Vec<Reply>) -> (Vec<HttpRequest>, Result<Option<CrmUser>, CrmError>) {
    let mut history: Vec<Exchange> = Vec::new();
    let mut replies = replies.into_iter();
    loop {
        match identify(conn, email, &history) {
            Who::Done(r) => return (history.into_iter().map(|e| e.request).collect(), r),
            Who::Send(request) => history.push(Exchange { request, reply: replies.next().expect("a reply for every request") }),
        }
    }
}

#[test]
fn the_current_user_each_vendor_documents() {
    let user = |id: &str, name: &str| Some(CrmUser { id: id.into(), name: name.into(), email: "rep@example.com".into() });
    let base = "https://crm.example";
    // HubSpot OAuth: the token's user, then the owner with that email (owner id, not user id).
    let (reqs, u) = who(&owned(CrmKind::HubSpot, ""), "", vec![
        ok(200, r#"{"token":"t","user":"rep@example.com","hub_id":1,"user_id":9000001,"token_type":"access"}"#),
        ok(200, r#"{"results":[{"id":"61000001","email":"rep@example.com","firstName":"Emu","lastName":"Rep","userId":9000001}]}"#),
    ]);
    assert_eq!(reqs[0].url, format!("{base}/oauth/v1/access-tokens/{TOKEN}"));
    assert!(!format!("{:?}", reqs[0]).contains(TOKEN), "the token in the path is redacted");
    assert_eq!(reqs[1].url, format!("{base}/crm/v3/owners?email=rep%40example.com&limit=1"));
    assert_eq!(u, Ok(user("61000001", "Emu")));
    // HubSpot private app (shared): the rep's email; none set, no owner and no request.
    let shared = Connection { oauth: false, ..owned(CrmKind::HubSpot, "") };
    assert_eq!(who(&shared, "", vec![]), (vec![], Ok(None)));
    let (reqs, u) = who(&shared, "rep@example.com", vec![ok(200, r#"{"results":[]}"#)]);
    assert_eq!((reqs.len(), u), (1, Ok(None)));

    let (reqs, u) = who(&owned(CrmKind::Pipedrive, ""), "", vec![ok(200, r#"{"success":true,"data":{"id":17,"name":"Emu Rep","email":"rep@example.com","is_you":true}}"#)]);
    assert!(reqs[0].url.starts_with(&format!("{base}/v1/users/me")));
    assert_eq!(u, Ok(user("17", "Emu Rep")));
    let (reqs, u) = who(&owned(CrmKind::Salesforce, ""), "", vec![ok(200, r#"{"sub":"https://login.salesforce.com/id/00D/005x","user_id":"005000000000001AAA","name":"Emu Rep","email":"rep@example.com"}"#)]);
    assert_eq!(reqs[0].url, format!("{base}/services/oauth2/userinfo"));
    assert_eq!(u, Ok(user("005000000000001AAA", "Emu Rep")));
    let (reqs, u) = who(&owned(CrmKind::Zoho, ""), "", vec![ok(200, r#"{"users":[{"id":"4150868000000225013","full_name":"Emu Rep","email":"rep@example.com","status":"active"}]}"#)]);
    assert_eq!(reqs[0].url, format!("{base}/crm/v8/users?type=CurrentUser"));
    assert_eq!(header(&reqs[0], "authorization"), Some(format!("Zoho-oauthtoken {TOKEN}").as_str()));
    assert_eq!(u, Ok(user("4150868000000225013", "Emu Rep")));
    let (reqs, u) = who(&owned(CrmKind::Clio, ""), "", vec![ok(200, r#"{"data":{"id":345,"name":"Emu Rep","email":"rep@example.com"}}"#)]);
    assert_eq!(reqs[0].url, format!("{base}/api/v4/users/who_am_i.json?fields=id%2Cname%2Cemail"));
    assert_eq!(u, Ok(user("345", "Emu Rep")));
    // Errors are classified as for any read: a 401 is Unauthorized (the driver refreshes once).
    let (_, u) = who(&owned(CrmKind::Clio, ""), "", vec![ok(401, r#"{"error":{"type":"Unauthorized","message":"bad token"}}"#)]);
    assert!(matches!(u, Err(CrmError::Unauthorized { .. })), "{u:?}");
}
