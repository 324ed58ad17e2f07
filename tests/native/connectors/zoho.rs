//! Zoho CRM golden pairs: exact requests, response shapes from `shared/specs/zoho/v8.0`
//! (`Response_Wrapper`, `Success_Response`, `API_Exception`), every error class including
//! errors inside 2xx bodies, criteria escaping, and spec conformance of paths, query
//! parameters and body wrappers.

use calltrail_core::crm::*;
use calltrail_core::model::{CrmKind, RecordId};
use serde_json::{json, Value};

use super::pipedrive::kit::*;

const BASE: &str = "https://www.zohoapis.eu";

fn zoho() -> Connection {
    conn(CrmKind::Zoho, BASE)
}

fn assert_auth(r: &HttpRequest) {
    assert_eq!(header(r, "authorization"), Some(format!("Zoho-oauthtoken {TOKEN}").as_str()));
}

fn created(id: &str) -> String {
    json!({"data": [{"code": "SUCCESS", "details": {"Modified_Time": "2026-03-08T06:53:00+00:00", "Created_Time": "2026-03-08T06:53:00+00:00", "id": id,
        "Modified_By": {"name": "Rep", "id": "1"}, "Created_By": {"name": "Rep", "id": "1"}}, "message": "record added", "status": "success"}]})
    .to_string()
}

#[test]
fn search_contacts_then_leads_with_paging_and_204() {
    let op = CrmOp::SearchContacts { phone: e164("+12125550100") };
    let c1 = json!({"data": [
        {"id": "3001", "Full_Name": "Jane Doe", "Phone": "+1 (212) 555-0100", "Mobile": null, "Created_Time": "2024-01-02T03:04:05+05:30", "Modified_Time": "2025-06-07T08:09:10+00:00"},
        {"id": "3002", "Full_Name": "Not Her", "Phone": "(212) 555-0199", "Created_Time": "2024-01-02T03:04:05+00:00", "Modified_Time": "2024-01-02T03:04:05+00:00"}
    ], "info": {"per_page": 200, "count": 2, "page": 1, "more_records": true}});
    // The same contact listed again on the next page is kept once.
    let c2 = json!({"data": [c1["data"][0].clone(), {"id": "3003", "Full_Name": "Work Line", "Phone": null, "Mobile": "212.555.0100", "Created_Time": "2023-01-01T00:00:00+00:00", "Modified_Time": "2023-01-01T00:00:00+00:00"}],
        "info": {"per_page": 200, "count": 1, "page": 2, "more_records": false}});
    let (reqs, out) = run(&zoho(), &op, vec![ok(200, &c1.to_string()), ok(200, &c2.to_string()), ok(204, "")]);
    let fields_c = "Full_Name%2CPhone%2CMobile%2CHome_Phone%2COther_Phone%2CAsst_Phone%2CCreated_Time%2CModified_Time";
    let fields_l = "Full_Name%2CPhone%2CMobile%2CCreated_Time%2CModified_Time";
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].url, format!("{BASE}/crm/v8/Contacts/search?phone=2125550100&fields={fields_c}&per_page=200&page=1"));
    assert_eq!(reqs[1].url, format!("{BASE}/crm/v8/Contacts/search?phone=2125550100&fields={fields_c}&per_page=200&page=2"));
    assert_eq!(reqs[2].url, format!("{BASE}/crm/v8/Leads/search?phone=2125550100&fields={fields_l}&per_page=200&page=1"));
    for r in &reqs {
        assert_eq!(r.method, Method::Get);
        assert_auth(r);
    }
    let Ok(CrmOutput::Contacts { contacts }) = out else { panic!("{out:?}") };
    let ids: Vec<(&str, &str)> = contacts.iter().map(|c| (c.id.as_str(), c.record_type.as_str())).collect();
    assert_eq!(ids, vec![("3001", "Contact"), ("3003", "Contact")]);
    assert_eq!(contacts[0].created_at, Some(ts("2024-01-01T21:34:05Z")));
    assert_eq!(contacts[0].modified_at, Some(ts("2025-06-07T08:09:10Z")));
    assert_eq!(contacts[1].phones.to_vec(), vec!["212.555.0100"]);
}

#[test]
fn leads_are_found_too() {
    let op = CrmOp::SearchContacts { phone: e164("+12125550100") };
    let leads = json!({"data": [{"id": "9", "Full_Name": "New Lead - +12125550100", "Phone": "+12125550100", "Created_Time": "2026-03-08T06:53:00+00:00", "Modified_Time": "2026-03-08T06:53:00+00:00"}],
        "info": {"more_records": false}});
    let (reqs, out) = run(&zoho(), &op, vec![ok(204, ""), ok(200, &leads.to_string())]);
    assert_eq!(reqs.len(), 2);
    let Ok(CrmOutput::Contacts { contacts }) = out else { panic!("{out:?}") };
    assert_eq!((contacts[0].id.as_str(), contacts[0].record_type.as_str()), ("9", "Lead"));
}

#[test]
fn create_call_for_a_contact_and_for_a_lead() {
    let op = CrmOp::CreateCallLog { log: call_log("3001", "Contact", "Wants a quote.\n<b>bold</b>") };
    let (reqs, out) = run(&zoho(), &op, vec![ok(201, &created("5001"))]);
    assert_eq!((reqs[0].method, reqs[0].url.as_str()), (Method::Post, "https://www.zohoapis.eu/crm/v8/Calls"));
    assert_auth(&reqs[0]);
    assert_eq!(
        body(&reqs[0]),
        json!({"data": [{
            "Subject": "Inbound call with Jane Doe",
            "Call_Type": "Inbound",
            "Call_Start_Time": "2026-03-08T06:50:00+00:00",
            "Call_Duration": "02:05",
            "Description": "Inbound call · Answered · 2m 05s\nFrom +12125550100 to +16465550111\n\nWants a quote.\n<b>bold</b>\n\nLogged by Calltrail · calltrail:call-1@int-1",
            "Who_Id": {"id": "3001"}
        }]})
    );
    assert_eq!(out, Ok(CrmOutput::Created { record: RecordId::new("5001"), url: None }));

    let mut log = call_log("9", "Lead", "");
    log.call.result = calltrail_core::model::CallResult::Missed;
    log.call.answered_at = None;
    let b = body(&first(&zoho(), &CrmOp::CreateCallLog { log }));
    let rec = &b["data"][0];
    assert_eq!(rec["Call_Type"], json!("Missed"));
    assert_eq!(rec["Call_Duration"], json!("00:00"));
    assert_eq!(rec["Call_Result"], json!("No response/Busy"));
    assert_eq!(rec["What_Id"], json!({"id": "9"}));
    assert_eq!(rec["$se_module"], json!("Leads"));
    assert!(rec.get("Who_Id").is_none());
}

#[test]
fn update_call_puts_without_call_type() {
    let op = CrmOp::UpdateCallLog { record: RecordId::new("5001"), log: call_log("3001", "Contact", "later") };
    let reply = json!({"data": [{"code": "SUCCESS", "details": {"id": "5001"}, "message": "record updated", "status": "success"}]});
    let (reqs, out) = run(&zoho(), &op, vec![ok(200, &reply.to_string())]);
    assert_eq!((reqs[0].method, reqs[0].url.as_str()), (Method::Put, "https://www.zohoapis.eu/crm/v8/Calls/5001"));
    let rec = &body(&reqs[0])["data"][0];
    assert!(rec.get("Call_Type").is_none() && rec.get("Who_Id").is_none(), "{rec}");
    assert_eq!(rec["Call_Duration"], json!("02:05"));
    assert_eq!(out, Ok(CrmOutput::Updated));
}

#[test]
fn placeholder_is_a_lead_with_the_marker() {
    let op = CrmOp::CreateContact { name: "New Lead - +12125550100".into(), phone: e164("+12125550100"), marker: Marker("calltrail:c1".into()) };
    let (reqs, out) = run(&zoho(), &op, vec![ok(201, &created("9"))]);
    assert_eq!(reqs[0].url, "https://www.zohoapis.eu/crm/v8/Leads");
    assert_eq!(
        body(&reqs[0]),
        json!({"data": [{"Last_Name": "New Lead - +12125550100", "Phone": "+12125550100",
            "Description": "Created by Calltrail for calls from +12125550100\n\nLogged by Calltrail · calltrail:c1"}]})
    );
    let Ok(CrmOutput::Contact { contact }) = out else { panic!("{out:?}") };
    assert_eq!((contact.id.as_str(), contact.record_type.as_str()), ("9", "Lead"));
    assert_eq!(contact.created_at, Some(ts("2026-03-08T06:53:00Z")));
}

#[test]
fn sms_day_is_a_completed_task() {
    use calltrail_core::model::Direction::*;
    let log = message_log("3001", "Contact", &[("2026-03-08T14:05:00Z", Inbound, "Hi (there), ok?"), ("2026-03-08T14:06:00Z", Outbound, "Yes")]);
    let (reqs, out) = run(&zoho(), &CrmOp::CreateMessageLog { log: log.clone() }, vec![ok(201, &created("7001"))]);
    assert_eq!(reqs[0].url, "https://www.zohoapis.eu/crm/v8/Tasks");
    let desc = "SMS conversation with +12125550100 on 2026-03-08\n\n14:05 UTC in: Hi (there), ok?\n14:06 UTC out: Yes\n\nLogged by Calltrail · calltrail:sms-conv-1:2026-03-08@int-1";
    assert_eq!(
        body(&reqs[0]),
        json!({"data": [{"Subject": "SMS with Jane Doe · 2026-03-08", "Due_Date": "2026-03-08", "Description": desc, "Status": "Completed", "Who_Id": {"id": "3001"}}]})
    );
    assert_eq!(out, Ok(CrmOutput::Created { record: RecordId::new("7001"), url: None }));
    let op = CrmOp::UpdateMessageLog { record: RecordId::new("7001"), log };
    let (reqs, out) = run(&zoho(), &op, vec![ok(200, &created("7001"))]);
    assert_eq!((reqs[0].method, reqs[0].url.as_str()), (Method::Put, "https://www.zohoapis.eu/crm/v8/Tasks/7001"));
    assert_eq!(body(&reqs[0]), json!({"data": [{"Subject": "SMS with Jane Doe · 2026-03-08", "Due_Date": "2026-03-08", "Description": desc}]}));
    assert_eq!(out, Ok(CrmOutput::Updated));
}

#[test]
fn find_call_by_contact_and_start_second() {
    let op = CrmOp::FindLog { marker: Marker("calltrail:call-1@int-1".into()), hint: hint(LogWhat::Call, Some("3001"), Some("Contact")) };
    let hit = json!({"data": [{"id": "5000", "Description": "other"}, {"id": "5001", "Description": "x\n\nLogged by Calltrail · calltrail:call-1@int-1"}], "info": {"more_records": false}});
    let (reqs, out) = run(&zoho(), &op, vec![ok(200, &hit.to_string())]);
    assert_eq!(
        reqs[0].url,
        "https://www.zohoapis.eu/crm/v8/Calls/search?criteria=%28%28Who_Id%3Aequals%3A3001%29and%28Call_Start_Time%3Aequals%3A2026-03-08T06%3A50%3A00%2B00%3A00%29%29&fields=Subject%2CDescription%2CCall_Start_Time&per_page=200&page=1"
    );
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("5001")) }));
    let (_, out) = run(&zoho(), &op, vec![ok(204, "")]);
    assert_eq!(out, Ok(CrmOutput::Found { record: None }));
}

#[test]
fn find_messages_and_placeholder() {
    let op = CrmOp::FindLog { marker: Marker("calltrail:sms-1".into()), hint: hint(LogWhat::Messages, Some("9"), Some("Lead")) };
    let (reqs, out) = run(&zoho(), &op, vec![ok(204, "")]);
    assert_eq!(
        reqs[0].url,
        "https://www.zohoapis.eu/crm/v8/Tasks/search?criteria=%28%28What_Id%3Aequals%3A9%29and%28Due_Date%3Agreater_equal%3A2026-03-07%29and%28Due_Date%3Aless_equal%3A2026-03-09%29%29&fields=Subject%2CDescription%2CDue_Date&per_page=200&page=1"
    );
    assert_eq!(out, Ok(CrmOutput::Found { record: None }));

    let op = CrmOp::FindLog { marker: Marker("calltrail:c1".into()), hint: hint(LogWhat::Contact, None, None) };
    let leads = json!({"data": [{"id": "9", "Full_Name": "New Lead", "Phone": "+12125550100", "Description": "Logged by Calltrail · calltrail:c1"}], "info": {"more_records": false}});
    let (reqs, out) = run(&zoho(), &op, vec![ok(200, &leads.to_string())]);
    // The placeholder was written with its E.164 Phone: search its digits, country code included.
    assert_eq!(reqs[0].url, "https://www.zohoapis.eu/crm/v8/Leads/search?phone=12125550100&fields=Full_Name%2CPhone%2CDescription&per_page=200&page=1");
    assert_eq!(out, Ok(CrmOutput::Found { record: Some(RecordId::new("9")) }));
}

#[test]
fn criteria_values_are_escaped() {
    // A contact id from elsewhere could carry criteria syntax; it must stay one value.
    let op = CrmOp::FindLog { marker: Marker("m".into()), hint: hint(LogWhat::Call, Some("1),(Owner:equals:2\\x\ny"), None) };
    let url = first(&zoho(), &op).url;
    let q = url.split_once("criteria=").unwrap().1.split('&').next().unwrap();
    let decoded = percent_decode(q);
    assert_eq!(decoded, "((Who_Id:equals:1\\)\\,\\(Owner:equals:2\\\\xy)and(Call_Start_Time:equals:2026-03-08T06:50:00+00:00))");
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn every_error_class_including_2xx_bodies() {
    let read = CrmOp::SearchContacts { phone: e164("+12125550100") };
    let write = CrmOp::CreateCallLog { log: call_log("3001", "Contact", "n") };
    let invalid_token = format!(r#"{{"code":"INVALID_TOKEN","details":{{}},"message":"invalid oauth token {TOKEN}","status":"error"}}"#);
    let cases: Vec<(&CrmOp, Reply, &str)> = vec![
        (&read, with_headers(429, &[("retry-after", "5")], r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"too many requests","status":"error"}"#), "rate_limited"),
        (&write, ok(429, r#"{"code":"TOO_MANY_REQUESTS","message":"too many requests","status":"error"}"#), "rate_limited"),
        (&read, ok(401, &invalid_token), "unauthorized"),
        (&write, ok(400, r#"{"code":"AUTHENTICATION_FAILURE","details":{},"message":"Authentication failed","status":"error"}"#), "unauthorized"),
        (&write, ok(200, &format!(r#"{{"data":[{}]}}"#, invalid_token)), "unauthorized"),
        (&read, ok(500, r#"{"code":"INTERNAL_ERROR","message":"Internal server error occurred.","status":"error"}"#), "transient"),
        (&write, ok(500, r#"{"code":"INTERNAL_ERROR","message":"Internal server error occurred.","status":"error"}"#), "unknown"),
        (&write, ok(200, r#"{"data":[{"code":"INTERNAL_ERROR","details":{},"message":"Internal server error occurred.","status":"error"}]}"#), "unknown"),
        (&write, Reply::TimedOut, "unknown"),
        (&read, Reply::NetworkError { sent: true, message: "reset".into() }, "transient"),
        (&write, Reply::NetworkError { sent: false, message: "offline".into() }, "transient"),
        (&write, ok(400, r#"{"data":[{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Subject"},"message":"required field not found","status":"error"}]}"#), "permanent"),
        (&write, ok(202, r#"{"data":[{"code":"INVALID_DATA","details":{"api_name":"Call_Start_Time","expected_data_type":"datetime"},"message":"invalid data","status":"error"}]}"#), "permanent"),
        (&write, ok(403, r#"{"code":"NO_PERMISSION","details":{},"message":"permission denied","status":"error"}"#), "permanent"),
        (&write, ok(404, r#"{"code":"INVALID_URL_PATTERN","message":"Please check if the URL trying to access is a correct one","status":"error"}"#), "permanent"),
        (&write, ok(201, "{oops"), "unknown"),
        (&read, ok(200, "{oops"), "transient"),
        (&write, ok(201, r#"{"data":[]}"#), "unknown"),
    ];
    for (op, reply, want) in cases {
        let (reqs, out) = run(&zoho(), op, vec![reply.clone()]);
        let e = out.expect_err("an error");
        assert_eq!(class(&e), want, "{reply:?} → {e:?}");
        assert_no_leak(&e, &reqs);
    }
    let (_, out) = run(&zoho(), &write, vec![ok(202, r#"{"data":[{"code":"INVALID_DATA","details":{"api_name":"Call_Start_Time"},"message":"invalid data","status":"error"}]}"#)]);
    assert_eq!(out.unwrap_err(), CrmError::Permanent { message: "Zoho CRM: INVALID_DATA: invalid data (field Call_Start_Time)".into() });
    let (_, out) = run(&zoho(), &read, vec![with_headers(429, &[("retry-after", "5")], "{}")]);
    assert!(matches!(out, Err(CrmError::RateLimited { retry_after_ms: Some(5000), .. })));
}

/// Paths, query parameters and body wrappers against `specs/zoho/v8.0/record.json`. The
/// spec's `Record` schema is open (`additionalProperties: true`), so module field names are
/// checked by the golden bodies above, not here.
#[test]
fn requests_conform_to_the_spec() {
    let spec = spec_json("zoho/v8.0/record.json");
    let params_of = |path: &str, method: &str| -> Vec<String> {
        let op = &spec["paths"][path][method];
        assert!(op.is_object(), "{method} {path} not in record.json");
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let r = p["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
                spec["components"]["parameters"][r]["name"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    let wrapper: Vec<String> = spec["components"]["schemas"]["Body_Wrapper"]["properties"].as_object().unwrap().keys().cloned().collect();
    let log = call_log("3001", "Contact", "n");
    let msgs = message_log("3001", "Contact", &[]);
    let requests = vec![
        first(&zoho(), &CrmOp::SearchContacts { phone: e164("+12125550100") }),
        first(&zoho(), &CrmOp::CreateCallLog { log: log.clone() }),
        first(&zoho(), &CrmOp::UpdateCallLog { record: RecordId::new("1"), log }),
        first(&zoho(), &CrmOp::CreateContact { name: "N".into(), phone: e164("+12125550100"), marker: Marker("m".into()) }),
        first(&zoho(), &CrmOp::CreateMessageLog { log: msgs.clone() }),
        first(&zoho(), &CrmOp::UpdateMessageLog { record: RecordId::new("1"), log: msgs }),
        first(&zoho(), &CrmOp::FindLog { marker: Marker("m".into()), hint: hint(LogWhat::Call, Some("1"), None) }),
        first(&zoho(), &CrmOp::FindLog { marker: Marker("m".into()), hint: hint(LogWhat::Messages, Some("1"), None) }),
        first(&zoho(), &CrmOp::FindLog { marker: Marker("m".into()), hint: hint(LogWhat::Contact, None, None) }),
    ];
    for r in requests {
        let path = r.url.strip_prefix(BASE).unwrap().split('?').next().unwrap().to_owned();
        let segments: Vec<&str> = path.split('/').collect();
        let (template, method) = match (r.method, segments.len()) {
            (Method::Get, 5) if segments[4] == "search" => ("/crm/v8/{module_api_name}/search", "get"),
            (Method::Post, 4) => ("/crm/v8/{module_api_name}", "post"),
            (Method::Put, 5) => ("/crm/v8/{module_api_name}/{id}", "put"),
            other => panic!("unexpected request shape {other:?} {path}"),
        };
        let allowed = params_of(template, method);
        if let Some((_, q)) = r.url.split_once('?') {
            for kv in q.split('&') {
                let k = kv.split('=').next().unwrap();
                assert!(allowed.iter().any(|a| a == k), "{method} {template}: query parameter {k} is not in the spec");
            }
        }
        if let Some(b) = r.body.as_deref() {
            let v: Value = serde_json::from_str(b).unwrap();
            for k in v.as_object().unwrap().keys() {
                assert!(wrapper.contains(k), "{template}: body key {k} is not in Body_Wrapper");
            }
            let data = v["data"].as_array().expect("data is an array of records");
            assert_eq!(data.len(), 1);
            assert!(data[0].is_object());
            assert!(spec["paths"][template][method]["requestBody"].is_object(), "{method} {template} takes no body");
        }
    }
}

/// One search per module, with the national significant number: the form every way of
/// writing the number ends with (Zoho's `phone=` comparison is assumed to match a stored number
/// whose digits end with the query's; see the module docs). Two searches where searching every
/// digit form took four to six.
#[test]
fn search_asks_each_module_once_with_the_national_number() {
    assert_eq!(calltrail_core::crm::zoho::search_form(&e164("+12125550100")), "2125550100");
    assert_eq!(calltrail_core::crm::zoho::search_form(&e164("+442079460958")), "2079460958");
    assert_eq!(calltrail_core::crm::zoho::search_form(&e164("+390612345678")), "0612345678");
    let op = CrmOp::SearchContacts { phone: e164("+442079460958") };
    let (reqs, out) = run(&zoho(), &op, vec![ok(204, ""); 2]);
    let phones: Vec<(&str, &str)> = reqs
        .iter()
        .map(|r| {
            let module = r.url.split("/crm/v8/").nth(1).unwrap().split('/').next().unwrap();
            let phone = r.url.split("phone=").nth(1).unwrap().split('&').next().unwrap();
            (module, phone)
        })
        .collect();
    assert_eq!(phones, [("Contacts", "2079460958"), ("Leads", "2079460958")]);
    assert_eq!(out, Ok(CrmOutput::Contacts { contacts: vec![] }));
}
