//! Zoho CRM connector: Contacts and Leads, the Calls module, Tasks for SMS and fax (API v8).
//!
//! Paths come from `shared/specs/zoho/v8.0/record.json` (generic `/crm/v8/{module_api_name}`
//! CRUD and `/{module_api_name}/search`); the Calls, Tasks and Leads field names are not in the
//! spec (its `Record` schema is open) and follow Zoho's module docs as summarised in
//! `reference/crm-apis.md` §4.
//! - **Search**: `GET /crm/v8/Contacts/search?phone=<national number>` then the same on Leads
//!   (`phone` searches every phone-type field; 204 means no match), paged by `page` while
//!   `info.more_records`; every number re-verified with `phone::matches`. The search answer
//!   already carries `Created_Time`/`Modified_Time`, so no detail requests: a cold logged call
//!   costs two searches and one create. Zoho documents which fields `phone=` searches, not how
//!   it compares numbers (crm-apis.md §4). Assumed, and modelled so by the emulator: digits
//!   only, a stored number matching when its digits end with the query's, which is what lets
//!   integrations that search Zoho by the 10-digit number find "+1 (212) 555-0100" too. So the
//!   query is the national significant number ([`search_form`]), the shortest form every stored
//!   form of the number ends with. (Searching every digit form instead cost 4 to 6 requests per
//!   match; if Zoho proves to compare whole numbers, `search_form` is the one place to change.)
//! - **Calls**: `POST /crm/v8/Calls` with `Call_Type`, `Call_Start_Time` (offset form),
//!   `Call_Duration` `mm:ss`, `Subject`, `Description` (plain text), `Call_Result`, and
//!   `Who_Id` for a Contact or `What_Id` + `$se_module: "Leads"` for a Lead; updated with
//!   `PUT /crm/v8/Calls/{id}` (never `Call_Type`, which Zoho refuses to change).
//! - **SMS and fax**: one completed Task per conversation-day (`/crm/v8/Tasks`), not a Note:
//!   Tasks are records, so they can be searched by criteria for the marker lookup, while the
//!   Notes API in notes.json offers no filter by parent or text.
//! - **Placeholders** are Leads (`Last_Name` is the only required field): an unknown caller
//!   is a lead until someone qualifies them, and Leads are searched after Contacts anyway.
//! - **Markers** are the last line of `Description`. Calls has no standard field a criteria
//!   search can match by marker (Zoho criteria cannot search text areas, `X-EXTERNAL` needs an
//!   admin-made external field), so `FindLog` narrows by criteria to the contact and the
//!   exact start second (`Call_Start_Time`) or the day (`Due_Date`), and scans the few results.
//!   Search is index-backed: "not found" is not authoritative at once.
//! - **Errors**: Zoho answers 2xx with per-record `"status": "error"` entries; those are read.
//!   `INVALID_TOKEN`, `AUTHENTICATION_FAILURE` and `OAUTH_SCOPE_MISMATCH` are `Unauthorized`
//!   whatever the status.
//!
//! Invariant: criteria values go through `criteria_value`, and no error message carries the
//! token (`common::scrub`).

use serde_json::{json, Value};

use super::common::{self, Access, Flow};
use super::*;
use crate::model::{CallResult, Direction};
use crate::phone;

const CRM: &str = "Zoho CRM";
const PER_PAGE: usize = 200;
/// Pages read per module in a search, and in a marker lookup.
const MAX_PAGES: usize = 5;

pub fn step(conn: &Connection, op: &CrmOp, history: &[Exchange]) -> Step {
    common::settle(match op {
        CrmOp::SearchContacts { phone } => search(conn, phone, history),
        CrmOp::CreateCallLog { log } => write_one(conn, history, || {
            let mut rec = call_fields(log);
            rec["Call_Type"] = json!(call_type(&log.call));
            link(&mut rec, &log.contact.id, Some(&log.contact.record_type));
            owned(conn, &mut rec);
            Ok(send(conn, Method::Post, "/crm/v8/Calls", &rec))
        }),
        CrmOp::UpdateCallLog { record, log } => write_one(conn, history, || {
            Ok(send(conn, Method::Put, &format!("/crm/v8/Calls/{}", common::encode_component(record.as_str())), &call_fields(log)))
        }),
        CrmOp::FindLog { marker, hint } => find_log(conn, marker, hint, history),
        CrmOp::CreateContact { name, phone, marker } => create_lead(conn, name, phone, marker, history),
        CrmOp::CreateMessageLog { log } => write_one(conn, history, || {
            let mut rec = message_fields(log);
            rec["Status"] = json!("Completed");
            link(&mut rec, &log.contact.id, Some(&log.contact.record_type));
            owned(conn, &mut rec);
            Ok(send(conn, Method::Post, "/crm/v8/Tasks", &rec))
        }),
        CrmOp::UpdateMessageLog { record, log } => write_one(conn, history, || {
            Ok(send(conn, Method::Put, &format!("/crm/v8/Tasks/{}", common::encode_component(record.as_str())), &message_fields(log)))
        }),
    })
}

// ---------------------------------------------------------------------------------------------
// Search

const MODULES: [(&str, &str, &[&str]); 2] = [
    ("Contacts", "Contact", &["Phone", "Mobile", "Home_Phone", "Other_Phone", "Asst_Phone"]),
    ("Leads", "Lead", &["Phone", "Mobile"]),
];

fn search(conn: &Connection, phone: &E164, history: &[Exchange]) -> Flow {
    let mut contacts: Vec<Contact> = Vec::new();
    let mut rest = history;
    let form = search_form(phone);
    for (module, record_type, phone_fields) in MODULES {
        // The exchanges of this module's search are the next ones whose URL says so.
        let prefix = format!("{}/crm/v8/{module}/search?phone={}&", conn.base_url, common::encode_component(&form));
        let mut page = 0;
        let mut more = true;
        while more {
            let Some((ex, tail)) = rest.split_first().filter(|(e, _)| e.request.url.starts_with(&prefix)) else { break };
            rest = tail;
            page += 1;
            let Some(v) = reply_json(conn, &ex.reply, Access::Read)? else {
                more = false; // 204: nothing (more) matches
                break;
            };
            for r in common::list_at(&v, "/data", CRM)? {
                if let Some(c) = record_contact(r, record_type, phone_fields) {
                    if c.phones.iter().any(|s| phone::matches(s, phone, conn.default_country)) && !contacts.iter().any(|k| k.id == c.id) {
                        contacts.push(c);
                    }
                }
            }
            more = v.pointer("/info/more_records").and_then(Value::as_bool) == Some(true);
        }
        if page == 0 || (more && page < MAX_PAGES) {
            let mut fields = vec!["Full_Name"];
            fields.extend_from_slice(phone_fields);
            fields.extend(["Created_Time", "Modified_Time"]);
            let q = [
                ("phone", form.clone()),
                ("fields", fields.join(",")),
                ("per_page", PER_PAGE.to_string()),
                ("page", (page + 1).to_string()),
            ];
            return Ok(Step::Send(get(conn, &format!("/crm/v8/{module}/search"), &q)));
        }
    }
    Ok(Step::Done(Ok(CrmOutput::Contacts { contacts })))
}

/// The digits a `phone=` search asks for: the national significant number (`2125550100` for
/// +1 212 555 0100, `2079460958` for +44 20 7946 0958), which every way of writing the number
/// ends with: with the country code, with a trunk 0, with the international prefix `00`.
pub fn search_form(number: &E164) -> String {
    common::national_digits(number).to_owned()
}

fn record_contact(r: &Value, record_type: &str, phone_fields: &[&str]) -> Option<Contact> {
    let id = common::string_at(r, "/id")?;
    let name = common::str_at(r, "/Full_Name")
        .map(str::to_owned)
        .or_else(|| {
            let parts: Vec<&str> = ["/First_Name", "/Last_Name"].iter().filter_map(|p| common::str_at(r, p)).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_default();
    Some(Contact {
        id: RecordId::new(id),
        name: name.into(),
        record_type: RecordType::new(record_type),
        phones: phone_fields
            .iter()
            .filter_map(|f| r.get(*f).and_then(Value::as_str))
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: common::timestamp_at(r, "/Created_Time"),
        modified_at: common::timestamp_at(r, "/Modified_Time"),
        url: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Writes

/// One write request built by `build`, then its per-record result: `Created` for a POST,
/// `Updated` for a PUT.
fn write_one(conn: &Connection, history: &[Exchange], build: impl FnOnce() -> Result<HttpRequest, CrmError>) -> Flow {
    Ok(common::one_write(history, build, |ex| {
        let (id, _) = record_result(conn, &ex.reply)?;
        Ok(match ex.request.method {
            Method::Post => CrmOutput::Created { record: RecordId::new(id), url: None },
            _ => CrmOutput::Updated,
        })
    }))
}

/// The id in the first per-record result of a create/update (`data[0].details.id`) and that
/// result, or the error that entry (or the whole reply) carries.
fn record_result(conn: &Connection, reply: &Reply) -> Result<(String, Value), CrmError> {
    let mut v = reply_json(conn, reply, Access::Write)?.ok_or_else(|| common::malformed(Access::Write, CRM, "empty reply"))?;
    let first = v.pointer_mut("/data/0").map(Value::take).ok_or_else(|| common::malformed(Access::Write, CRM, "no record result"))?;
    if let Some(e) = record_error(conn, &first, Access::Write) {
        return Err(e);
    }
    let id = common::string_at(&first, "/details/id").ok_or_else(|| common::malformed(Access::Write, CRM, "no record id"))?;
    Ok((id, first))
}

fn call_type(call: &Call) -> &'static str {
    match (call.direction, call.result) {
        (Direction::Inbound, CallResult::Missed | CallResult::Voicemail | CallResult::Rejected) => "Missed",
        (Direction::Inbound, _) => "Inbound",
        (Direction::Outbound, _) => "Outbound",
    }
}

/// The fields a call create and update share.
fn call_fields(log: &CallLog) -> Value {
    let call = &log.call;
    let mut rec = json!({
        "Subject": call_subject(log),
        "Call_Start_Time": zoho_datetime(call.started_at),
        "Call_Duration": common::duration_mm_ss(call.duration_secs()),
        "Description": call_description(log),
    });
    // Zoho's default Call_Result picklist; a connected call has no neutral value, so it is
    // left to the rep and the outcome is in the description.
    if !matches!(call.result, CallResult::Answered | CallResult::Unknown) {
        rec["Call_Result"] = json!("No response/Busy");
    }
    rec
}

fn call_subject(log: &CallLog) -> String {
    let call = &log.call;
    let what = match call_type(call) {
        "Missed" => "Missed call".to_owned(),
        _ => format!("{} call", common::direction_label(call.direction)),
    };
    common::call_subject(&what, log)
}

fn call_description(log: &CallLog) -> String {
    let call = &log.call;
    let mut lines = vec![format!("{} call · {}", common::direction_label(call.direction), common::outcome_words(call))];
    lines.extend(common::call_detail_lines(call));
    with_marker(lines, &log.marker)
}

/// Description text ends with the marker line, kept whole by truncating the text before it.
fn with_marker(lines: Vec<String>, marker: &Marker) -> String {
    let tail = marker_line(marker);
    let body = common::truncate_chars(&lines.join("\n"), 30_000 - tail.chars().count() - 2);
    format!("{body}\n\n{tail}")
}

fn marker_line(marker: &Marker) -> String {
    format!("Logged by Calltrail · {}", marker.as_str())
}

fn message_fields(log: &MessageLog) -> Value {
    json!({
        "Subject": common::messages_subject(log),
        "Due_Date": log.day,
        "Description": with_marker(common::messages_lines(log), &log.marker),
    })
}

/// Links a Calls or Tasks record to its contact: `Who_Id` for a Contact, `What_Id` with
/// `$se_module` for a Lead (Who_Id looks up Contacts only).
fn link(rec: &mut Value, id: &RecordId, record_type: Option<&RecordType>) {
    if is_lead(record_type) {
        rec["What_Id"] = json!({ "id": id.as_str() });
        rec["$se_module"] = json!("Leads");
    } else {
        rec["Who_Id"] = json!({ "id": id.as_str() });
    }
}

fn is_lead(record_type: Option<&RecordType>) -> bool {
    record_type.is_some_and(|t| t.as_str().eq_ignore_ascii_case("lead") || t.as_str().eq_ignore_ascii_case("leads"))
}

fn create_lead(conn: &Connection, name: &str, phone: &E164, marker: &Marker, history: &[Exchange]) -> Flow {
    let build = || {
        let mut rec = json!({
            "Last_Name": common::truncate_chars(&common::one_line(name), 80),
            "Phone": phone.as_str(),
            "Description": with_marker(vec![format!("Created by Calltrail for calls from {phone}")], marker),
        });
        owned(conn, &mut rec);
        Ok(send(conn, Method::Post, "/crm/v8/Leads", &rec))
    };
    Ok(common::one_write(history, build, |ex| {
        let (id, first) = record_result(conn, &ex.reply)?;
        Ok(CrmOutput::Contact {
            contact: Contact {
                id: RecordId::new(id),
                name: common::truncate_chars(&common::one_line(name), 80).into(),
                record_type: RecordType::new("Lead"),
                phones: vec![phone.as_str().to_owned()].into(),
                created_at: common::timestamp_at(&first, "/details/Created_Time"),
                modified_at: common::timestamp_at(&first, "/details/Modified_Time"),
                url: None,
            },
        })
    }))
}

// ---------------------------------------------------------------------------------------------
// Marker lookup

fn find_log(conn: &Connection, marker: &Marker, hint: &LogHint, history: &[Exchange]) -> Flow {
    let (path, q): (&str, Vec<(&str, String)>) = match hint.what {
        LogWhat::Call => {
            let mut conds = vec![format!("(Call_Start_Time:equals:{})", criteria_value(&zoho_datetime(hint.at)))];
            if let Some(c) = &hint.contact {
                let field = if is_lead(hint.contact_type.as_ref()) { "What_Id" } else { "Who_Id" };
                conds.insert(0, format!("({field}:equals:{})", criteria_value(c.as_str())));
            }
            ("/crm/v8/Calls/search", vec![("criteria", and(conds)), ("fields", "Subject,Description,Call_Start_Time".into())])
        }
        LogWhat::Messages => {
            // The conversation day is in the rep's day boundary; the UTC date of its first
            // message is within a day of it.
            let mut conds = vec![
                format!("(Due_Date:greater_equal:{})", common::utc_date(hint.at.plus_hours(-24))),
                format!("(Due_Date:less_equal:{})", common::utc_date(hint.at.plus_hours(24))),
            ];
            if let Some(c) = &hint.contact {
                let field = if is_lead(hint.contact_type.as_ref()) { "What_Id" } else { "Who_Id" };
                conds.insert(0, format!("({field}:equals:{})", criteria_value(c.as_str())));
            }
            ("/crm/v8/Tasks/search", vec![("criteria", and(conds)), ("fields", "Subject,Description,Due_Date".into())])
        }
        LogWhat::Contact => {
            let Some(p) = &hint.phone else {
                return Err(CrmError::Permanent { message: "Zoho CRM: a placeholder lookup needs the phone number".into() });
            };
            // A placeholder is written with its E.164 `Phone`, whose digits are the country
            // code and the national number.
            let (cc, national) = common::split_country_code(p);
            ("/crm/v8/Leads/search", vec![("phone", format!("{cc}{national}")), ("fields", "Full_Name,Phone,Description".into())])
        }
    };
    for ex in history {
        let Some(v) = reply_json(conn, &ex.reply, Access::Read)? else { return Ok(common::found(None)) };
        for r in common::list_at(&v, "/data", CRM)? {
            if common::str_at(r, "/Description").is_some_and(|d| d.contains(marker.as_str())) {
                return Ok(common::found(common::string_at(r, "/id")));
            }
        }
        if v.pointer("/info/more_records").and_then(Value::as_bool) != Some(true) {
            return Ok(common::found(None));
        }
    }
    if history.len() >= MAX_PAGES {
        return Err(CrmError::Transient { message: format!("Zoho CRM: marker not found in the first {} pages; will look again", history.len()) });
    }
    let mut q = q;
    q.push(("per_page", PER_PAGE.to_string()));
    q.push(("page", (history.len() + 1).to_string()));
    Ok(Step::Send(get(conn, path, &q)))
}

fn and(conds: Vec<String>) -> String {
    if conds.len() == 1 {
        conds.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", conds.join("and"))
    }
}

/// A value for a Zoho search criterion. Zoho reads `(field:operator:value)` groups, so
/// parentheses and commas inside a value must be backslash-escaped, and so must a backslash.
/// Colons are left alone: Zoho splits at the first two only, and its own datetime examples
/// (`Created_Time:equals:2019-06-28T11:59:32+05:30`) carry colons unescaped. Control characters
/// are dropped. The `+` of an offset is percent-encoded with the rest of the query.
fn criteria_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' | '(' | ')' | ',' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Requests and replies

fn get(conn: &Connection, path: &str, query: &[(&str, String)]) -> HttpRequest {
    common::get_request(&conn.base_url, path, query, common::json_headers(&auth(conn), false))
}

/// A write of one record, wrapped as record.json's `Body_Wrapper` (`{"data": [record]}`).
fn send(conn: &Connection, method: Method, path: &str, record: &Value) -> HttpRequest {
    common::json_request(method, format!("{}{path}", conn.base_url), &auth(conn), Some(&json!({ "data": [record] })))
}

/// Zoho's own scheme name, not `Bearer`.
/// `Owner: {id}`, which every Zoho module has: the connection's user.
fn owned(conn: &Connection, rec: &mut Value) {
    if let Some(o) = &conn.owner {
        rec["Owner"] = json!({ "id": o });
    }
}

/// Who the connection acts as: `GET /crm/v8/users?type=CurrentUser` (crm-oas `users.json`).
pub fn identify(conn: &Connection, history: &[Exchange]) -> Who {
    match history.first() {
        None => Who::Send(get(conn, "/crm/v8/users", &[("type", "CurrentUser".to_owned())])),
        Some(ex) => Who::Done(reply_json(conn, &ex.reply, Access::Read).map(|v| {
            v.and_then(|v| common::user_at(&v, "/users/0/id", "/users/0/full_name", "/users/0/email"))
        })),
    }
}

fn auth(conn: &Connection) -> String {
    format!("Zoho-oauthtoken {}", conn.token.expose())
}

/// The JSON of a 2xx reply (`None` for 204 No Content), or its classified error. Zoho's
/// error body `{code, message, details, status: "error"}` can come with a 2xx or any 4xx; its
/// `code` decides when the status alone would mislead.
fn reply_json(conn: &Connection, reply: &Reply, access: Access) -> Result<Option<Value>, CrmError> {
    let r = common::success_by(reply, access, CRM, |r| refused(conn, r, access))?;
    if r.status == 204 || r.body.trim().is_empty() {
        return Ok(None);
    }
    let v = common::parse_json(&r.body).map_err(|_| common::malformed(access, CRM, "response is not valid JSON"))?;
    if let Some(e) = record_error(conn, &v, access) {
        return Err(e);
    }
    Ok(Some(v))
}

/// A non-2xx response: `Unauthorized` when Zoho's error body (bare or as `data[0]`) says the
/// token is bad, whatever the status; otherwise the shared rules.
fn refused(conn: &Connection, r: &HttpResponse, access: Access) -> CrmError {
    let parsed = common::parse_json(&r.body).ok();
    let e = parsed.as_ref().and_then(|v| v.pointer("/data/0").or(Some(v))).and_then(|v| record_error(conn, v, access));
    match e {
        Some(e @ CrmError::Unauthorized { .. }) => e,
        _ => common::http_error(r, access, CRM, &conn.token),
    }
}

/// The error a Zoho `{status: "error", code, message, details}` object stands for, if it is one.
fn record_error(conn: &Connection, v: &Value, access: Access) -> Option<CrmError> {
    if common::str_at(v, "/status") != Some("error") {
        return None;
    }
    let code = common::str_at(v, "/code").unwrap_or("ERROR");
    let mut message = format!("{CRM}: {code}: {}", common::str_at(v, "/message").unwrap_or("request failed"));
    if let Some(field) = common::str_at(v, "/details/api_name") {
        message.push_str(&format!(" (field {field})"));
    }
    let message = common::scrub(&common::truncate_chars(&message, common::MAX_ERROR_DETAIL + 40), &conn.token);
    Some(match code {
        "INVALID_TOKEN" | "AUTHENTICATION_FAILURE" | "OAUTH_SCOPE_MISMATCH" => CrmError::Unauthorized { message },
        "TOO_MANY_REQUESTS" => CrmError::RateLimited { retry_after_ms: None, message },
        "INTERNAL_ERROR" => match access {
            Access::Read => CrmError::Transient { message },
            Access::Write => CrmError::Unknown { message },
        },
        _ => CrmError::Permanent { message },
    })
}

/// `2026-03-08T06:50:00+00:00`: the `yyyy-MM-ddTHH:mm:ss±HH:mm` form Zoho documents, in UTC.
fn zoho_datetime(t: Timestamp) -> String {
    crate::civil::date_time(t.0).unwrap_or_else(|| "1970-01-01T00:00:00".to_owned()) + "+00:00"
}
