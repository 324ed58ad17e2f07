//! Salesforce (REST API): Contacts and Leads found by SOSL, calls logged as Tasks of subtype
//! Call, SMS and faxes as Tasks, placeholders as Leads.
//!
//! Requests, per op (base: the org's `instance_url`, e.g. `https://acme.my.salesforce.com`;
//! paths under `/services/data/`[`API_VERSION`]; `Authorization: Bearer <access token>`):
//! - SearchContacts: `GET /search/?q=FIND {<national> OR <cc+national>} IN PHONE FIELDS
//!   RETURNING Contact(…), Lead(… WHERE IsConverted = false)`. SOSL tokenises phone fields, so
//!   `(212) 555-0100` is found by `2125550100`; every returned number is re-verified with
//!   `phone::matches`.
//! - CreateCallLog: `POST /sobjects/Task` with `TaskSubtype: Call`, `CallType`,
//!   `CallDurationInSeconds`, `CallDisposition` (≤ 255), `ActivityDate`, `Status: Completed`,
//!   plain-text `Description`, `WhoId` and the marker in `CallObject`, followed by
//!   `SELECT Id, CreatedById FROM Task WHERE CallObject = …` (see "Markers"), both in one
//!   `POST /composite` (one API call).
//! - UpdateCallLog / UpdateMessageLog: `PATCH /sobjects/Task/{id}` (204, no body).
//! - CreateMessageLog: `POST /sobjects/Task` with `TaskSubtype: Task`, `Subject` "SMS with …" or
//!   "Fax with …", the day's messages in `Description`, the marker in `CallObject`.
//! - CreateContact: `POST /sobjects/Lead` (`LastName` = the placeholder name, `Company`
//!   "Unknown", `Phone`, the marker in `Description`). A Lead, not a Contact: a Contact with no
//!   Account is private to its owner, while a Lead is Salesforce's intake record for someone
//!   not yet qualified, which an unknown caller is.
//! - FindLog: SOQL through `GET /query/?q=` (see "Markers").
//!
//! Markers. `CallObject` is a standard, filterable Task text field (255) meant for the
//! telephony system's identifier of the call, so writing our marker there needs no schema
//! change and `SELECT Id FROM Task WHERE CallObject = '…'` finds it exactly: SOQL reads the
//! database, not a search index, so "not found" is true at once and
//! [`super::capabilities`] says `exact_marker_lookup: true`. A call log's create is guarded
//! against another browser of the rep logging the same leg ([`super::guard`]): the lookup runs
//! after the create, in the same Composite call (a twin made later by the same user is deleted by
//! the browser that made it), or, when the admin made an External ID + Unique Task field and
//! named it in `marker_field`, the marker goes there too and Salesforce refuses the twin
//! (`DUPLICATE_VALUE`), which is then read by that field. (Upsert by that field is not used: it
//! would overwrite the other browser's notes.) SMS and fax Tasks use
//! `CallObject` too: the messages come from the same telephony system, and the field is the
//! only standard filterable one that holds an opaque id without showing it to reps; their
//! `TaskSubtype` stays `Task`, so they never count as calls. A placeholder Lead carries the
//! marker in `Description`, which SOQL cannot filter (long text), so it is found by its exact
//! E.164 `Phone` and creation time, then checked for the marker in `Description`: exact too.
//!
//! Composite. `POST /composite` with `{"allOrNone": false, "compositeRequest": [{method, url,
//! referenceId, body}]}` runs up to 25 subrequests (at most 5 queries) in order, as one call
//! toward the org's API limits, and answers 200 with `{"compositeResponse": [{body,
//! httpHeaders, httpStatusCode, referenceId}]}`: each subrequest's own reply, an error one
//! (`[{errorCode, message}]`) included. `allOrNone: false` keeps a create whose check failed,
//! and the check still runs after a failed create. A reply that is not a 200 (a 400 for a
//! malformed body, before any subrequest ran; 401; 403 `REQUEST_LIMIT_EXCEEDED`; a 5xx) or is
//! lost is the whole call's, read as the create's.
//!
//! Errors: 401 / `INVALID_SESSION_ID` → `Unauthorized`; 403 `REQUEST_LIMIT_EXCEEDED` →
//! `RateLimited` (the org's rolling 24 h allocation is spent: retry in an hour; the message
//! carries `Sforce-Limit-Info`); 300 → `Permanent` ("several records match"); the rest by
//! [`common::classify_status`].

use serde_json::{json, Value};

use super::common::{self, Access};
use super::guard;
use super::*;
use crate::model::{CallResult, Direction, RecordType};
use crate::phone;

/// The vendor's name in error messages.
pub const CRM: &str = "Salesforce";
/// The REST API version every path uses (Winter '25).
pub const API_VERSION: &str = "v62.0";
/// How long to wait after `REQUEST_LIMIT_EXCEEDED`: the allocation is a rolling 24 h window,
/// so capacity comes back gradually; an hour keeps the digest from hammering a spent org.
pub const REQUEST_LIMIT_WAIT_MS: i64 = 3_600_000;
/// Most records SOSL returns per object.
pub const SEARCH_LIMIT: usize = 50;

/// Field lengths the Task and Lead objects enforce.
const SUBJECT_MAX: usize = 255;
const CALL_DISPOSITION_MAX: usize = 255;
const CALL_OBJECT_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 32_000;
const LAST_NAME_MAX: usize = 80;

pub fn step(conn: &Connection, op: &CrmOp, history: &[Exchange]) -> Step {
    match op {
        CrmOp::SearchContacts { phone } => {
            RULES.one_shot(conn, history, Access::Read, || search_request(conn, phone), |r| parse_search(conn, phone, r))
        }
        CrmOp::CreateCallLog { log } => create_call_task(conn, history, log),
        CrmOp::UpdateCallLog { record, log } => update_task(conn, history, record, || call_fields(log)),
        CrmOp::FindLog { marker, hint } => find_log(conn, marker, hint, history),
        CrmOp::CreateContact { name, phone, marker } => RULES.one_shot(
            conn,
            history,
            Access::Write,
            || create_lead(conn, name, phone, marker),
            |r| created_lead(conn, name, phone, r),
        ),
        CrmOp::CreateMessageLog { log } => create_task(conn, history, "Task", &log.contact.id, &log.marker, || message_fields(log)),
        CrmOp::UpdateMessageLog { record, log } => update_task(conn, history, record, || message_fields(log)),
    }
}

// ---------------------------------------------------------------------------------------------
// Escaping

/// `term` with every SOSL reserved character (`? & | ! { } [ ] ( ) ^ ~ * : \ " ' + -`)
/// backslash-escaped and line breaks turned into spaces, safe inside `FIND {…}`.
pub fn sosl_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 8);
    for c in term.chars() {
        match c {
            '?' | '&' | '|' | '!' | '{' | '}' | '[' | ']' | '(' | ')' | '^' | '~' | '*' | ':' | '\\' | '"' | '\''
            | '+' | '-' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `s` as a quoted SOQL string literal, with SOQL's escape sequences (`\' \" \\ \n \r \t \b
/// \f`); other control characters are dropped, since any other backslash is a syntax error.
pub fn soql_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

// ---------------------------------------------------------------------------------------------
// Requests

fn api(conn: &Connection, rest: &str) -> String {
    format!("{}/services/data/{API_VERSION}{rest}", conn.base_url)
}

/// `OwnerId`: the connection's user (Tasks and Leads take a User id).
fn owned(conn: &Connection, record: &mut Value) {
    if let Some(o) = &conn.owner {
        record["OwnerId"] = json!(o);
    }
}

/// Who the connection acts as: `GET /services/oauth2/userinfo` on the instance (OpenID
/// Connect's userinfo; `user_id` is the 18-character User id `OwnerId` takes).
pub fn identify(conn: &Connection, history: &[Exchange]) -> Who {
    match history.first() {
        None => Who::Send(request(conn, Method::Get, format!("{}/services/oauth2/userinfo", conn.base_url), None)),
        Some(ex) => Who::Done(
            RULES
                .ok_response(conn, &ex.reply, Access::Read)
                .and_then(|r| common::json_body(r, Access::Read, CRM))
                .map(|v| common::user_at(&v, "/user_id", "/name", "/email")),
        ),
    }
}

fn request(conn: &Connection, method: Method, url: String, body: Option<Value>) -> HttpRequest {
    let auth = format!("Bearer {}", conn.token.expose());
    common::json_request(method, url, &auth, body.as_ref())
}

/// The SOSL statement that finds Contacts and open Leads with `number` in any phone field.
pub fn search_sosl(number: &E164) -> String {
    let (cc, national) = common::split_country_code(number);
    let mut terms = vec![national.to_owned(), format!("{cc}{national}")];
    if cc != "1" {
        terms.push(format!("0{national}"));
    }
    let find = terms.iter().map(|t| sosl_escape(t)).collect::<Vec<_>>().join(" OR ");
    format!(
        "FIND {{{find}}} IN PHONE FIELDS RETURNING \
         Contact(Id, Name, Phone, MobilePhone, HomePhone, OtherPhone, AssistantPhone, CreatedDate, LastModifiedDate LIMIT {SEARCH_LIMIT}), \
         Lead(Id, Name, Phone, MobilePhone, CreatedDate, LastModifiedDate WHERE IsConverted = false LIMIT {SEARCH_LIMIT})"
    )
}

fn search_request(conn: &Connection, number: &E164) -> HttpRequest {
    let url = api(conn, &format!("/search/?q={}", common::encode_component(&search_sosl(number))));
    request(conn, Method::Get, url, None)
}

fn query_request(conn: &Connection, soql: &str) -> HttpRequest {
    request(conn, Method::Get, api(conn, &format!("/query/?q={}", common::encode_component(soql))), None)
}

fn marker_ok(marker: &Marker) -> Result<(), CrmError> {
    if marker.as_str().chars().count() > CALL_OBJECT_MAX {
        return Err(CrmError::Permanent {
            message: format!("Salesforce: the Calltrail marker is longer than CallObject's {CALL_OBJECT_MAX} characters"),
        });
    }
    Ok(())
}

/// Plain text for Task.Description: the notes, then what the softphone handed over (recording and
/// voicemail links, AI note, transcript), cut to the field's length.
pub fn call_description(call: &Call) -> String {
    let notes = common::strip_controls(call.notes.trim()).replace("\r\n", "\n");
    let mut lines = common::call_extra_lines(call);
    if notes.is_empty() {
        // The extras begin with a blank line that separates them from the notes.
        if lines.first().is_some_and(String::is_empty) {
            lines.remove(0);
        }
    } else {
        lines.insert(0, notes);
    }
    let text = lines.join("\n");
    common::truncate_chars(&text, DESCRIPTION_MAX)
}

fn call_subject(call: &Call) -> String {
    let s = match call.direction {
        Direction::Inbound => format!("Inbound call from {}", call.their_number),
        Direction::Outbound => format!("Outbound call to {}", call.their_number),
    };
    common::truncate_chars(&s, SUBJECT_MAX)
}

fn disposition(call: &Call) -> String {
    let mut d = call.result.word().to_owned();
    if call.result == CallResult::Answered || call.duration_secs() > 0 {
        d.push_str(&format!(" ({})", common::duration_words(call.duration_secs())));
    }
    common::truncate_chars(&d, CALL_DISPOSITION_MAX)
}

/// The Task fields of a call log that a create and an update share.
fn call_fields(log: &CallLog) -> Value {
    let call = &log.call;
    json!({
        "Subject": call_subject(call),
        "CallType": common::direction_label(call.direction),
        "CallDurationInSeconds": call.duration_secs(),
        "CallDisposition": disposition(call),
        "ActivityDate": common::utc_date(call.started_at),
        "Status": "Completed",
        "Description": call_description(call),
    })
}

/// Creates a Task: the `fields()` a create and an update share, then the create-only ones.
/// `TaskSubtype` (`subtype`) cannot change after a create, and `WhoId` and `CallObject` (the
/// marker) do not, so an update sends only the rest. A marker too long for `CallObject` is
/// refused before anything is sent.
fn create_task(
    conn: &Connection,
    history: &[Exchange],
    subtype: &str,
    who: &RecordId,
    marker: &Marker,
    fields: impl FnOnce() -> Value,
) -> Step {
    if let Err(e) = marker_ok(marker) {
        return Step::Done(Err(e));
    }
    let build = || {
        let mut f = fields();
        f["TaskSubtype"] = json!(subtype);
        f["WhoId"] = json!(who.as_str());
        f["CallObject"] = json!(marker.as_str());
        owned(conn, &mut f);
        request(conn, Method::Post, api(conn, "/sobjects/Task"), Some(f))
    };
    RULES.one_shot(conn, history, Access::Write, build, |r| created(conn, "Task", r))
}

/// A call log's Task, made safe against another place logging the same leg (`crm::guard`):
/// with the admin's unique External ID field (`marker_field`) the marker goes there too and a
/// duplicate is refused (`DUPLICATE_VALUE`), then read back by that field; without it, the
/// exact `CallObject` lookup runs after the create, both in one Composite call.
fn create_call_task(conn: &Connection, history: &[Exchange], log: &CallLog) -> Step {
    if let Err(e) = marker_ok(&log.marker) {
        return Step::Done(Err(e));
    }
    let build = |field: Option<&str>| {
        let mut f = call_fields(log);
        f["TaskSubtype"] = json!("Call");
        f["WhoId"] = json!(log.contact.id.as_str());
        f["CallObject"] = json!(log.marker.as_str());
        if let Some(field) = field {
            f[field] = json!(log.marker.as_str());
        }
        owned(conn, &mut f);
        Ok(request(conn, Method::Post, api(conn, "/sobjects/Task"), Some(f)))
    };
    let created_reply = |r: &Reply| RULES.ok_response(conn, r, Access::Write).and_then(|r| created(conn, "Task", r));
    match conn.marker_field.as_deref() {
        Some(field) => guard::unique(
            &guard::Unique {
                create: &|| build(Some(field)),
                created: &created_reply,
                conflict: &|r| matches!(r, Reply::Response(x) if x.status == 400 && error_code(&x.body).as_deref() == Some("DUPLICATE_VALUE")),
                get: &|| {
                    // The resource takes no parameters: the whole record comes back, `Id` first.
                    let path = format!("/sobjects/Task/{}/{}", common::encode_component(field), common::encode_component(log.marker.as_str()));
                    request(conn, Method::Get, api(conn, &path), None)
                },
                read: &|r| match r {
                    Reply::Response(x) if x.status == 404 => Ok(None),
                    _ => {
                        let resp = RULES.ok_response(conn, r, Access::Read)?;
                        let v = common::json_body(resp, Access::Read, CRM)?;
                        Ok(common::string_at(&v, "/Id"))
                    }
                },
            },
            history,
        ),
        None => guard::exact(
            &guard::Exact {
                batch: Some(guard::Batch {
                    join: &|parts| composite(conn, &CHECKED_CREATE, parts),
                    split: &|r| composite_replies(r, &CHECKED_CREATE),
                }),
                lookup: &|| query_request(conn, &marker_soql(&log.marker)),
                read: &|r| {
                    let resp = RULES.ok_response(conn, r, Access::Read)?;
                    let v = common::json_body(resp, Access::Read, CRM)?;
                    let records = v.get("records").and_then(Value::as_array).ok_or_else(|| common::malformed(Access::Read, CRM, "no records in the query reply"))?;
                    Ok(records
                        .iter()
                        .filter_map(|t| Some(guard::Existing { id: common::string_at(t, "/Id")?, creator: common::string_at(t, "/CreatedById") }))
                        .collect())
                },
                create: &|| build(None),
                created: &created_reply,
                delete: &|id| request(conn, Method::Delete, api(conn, &format!("/sobjects/Task/{}", common::encode_component(id.as_str()))), None),
            },
            history,
        ),
    }
}

/// The `referenceId`s of a guarded create's Composite call: the create, then the check.
const CHECKED_CREATE: [&str; 2] = ["NewTask", "MarkerCheck"];

/// One Composite call that runs `parts` in order, named by `refs`; `allOrNone: false`, so each
/// part stands or fails on its own (see the module doc's "Composite").
fn composite(conn: &Connection, refs: &[&str], parts: &[HttpRequest]) -> HttpRequest {
    // Written as text: each part's body is JSON already, and the wasm module is smaller for it.
    let subrequests: Vec<String> = parts
        .iter()
        .zip(refs)
        .map(|(p, name)| {
            // Subrequest URLs are the resource's path on the instance (`/services/data/…`).
            let url = Value::from(p.url.strip_prefix(conn.base_url.as_str()).unwrap_or(&p.url));
            let body = p.body.as_deref().map(|b| format!(",\"body\":{b}")).unwrap_or_default();
            format!("{{\"method\":\"{}\",\"url\":{url},\"referenceId\":\"{name}\"{body}}}", p.method.as_str())
        })
        .collect();
    let body = format!("{{\"allOrNone\":false,\"compositeRequest\":[{}]}}", subrequests.join(","));
    let auth = format!("Bearer {}", conn.token.expose());
    HttpRequest { method: Method::Post, url: api(conn, "/composite"), headers: common::json_headers(&auth, true), body: Some(body) }
}

/// The replies of a Composite call's subrequests named `refs`, in that order, each as the
/// subrequest's own HTTP reply; they stop at the first one missing. `None` when the reply is not
/// a Composite answer (an error or a lost reply of the whole call).
fn composite_replies(reply: &Reply, refs: &[&str]) -> Option<Vec<Reply>> {
    let Reply::Response(r) = reply else { return None };
    if r.status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&r.body).ok()?;
    let items = v.get("compositeResponse")?.as_array()?;
    let mut out = Vec::new();
    for name in refs {
        let Some(item) = items.iter().find(|i| common::str_at(i, "/referenceId") == Some(*name)) else { break };
        let Some(status) = item.get("httpStatusCode").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()) else { break };
        let headers = item
            .get("httpHeaders")
            .and_then(Value::as_object)
            .map(|h| h.iter().filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default();
        let body = match item.get("body") {
            None | Some(Value::Null) => String::new(),
            Some(b) => b.to_string(),
        };
        out.push(Reply::Response(HttpResponse { status, headers, body }));
    }
    (!out.is_empty()).then_some(out)
}

/// The SOQL that lists the Tasks carrying `marker`, earliest first, with their creator.
pub fn marker_soql(marker: &Marker) -> String {
    format!("SELECT Id, CreatedById FROM Task WHERE CallObject = {} ORDER BY CreatedDate ASC, Id ASC LIMIT 10", soql_quote(marker.as_str()))
}

/// Rewrites Task `record` with `fields()` (`PATCH`, 204 and no body).
fn update_task(conn: &Connection, history: &[Exchange], record: &RecordId, fields: impl FnOnce() -> Value) -> Step {
    let build = || {
        let url = api(conn, &format!("/sobjects/Task/{}", common::encode_component(record.as_str())));
        request(conn, Method::Patch, url, Some(fields()))
    };
    RULES.one_shot(conn, history, Access::Write, build, |_| Ok(CrmOutput::Updated))
}

/// Plain text for a conversation-day's Task.Description: one line per message.
pub fn messages_description(log: &MessageLog) -> String {
    let lines: Vec<String> = log.messages.iter().map(common::message_line).collect();
    common::truncate_chars(&lines.join("\n"), DESCRIPTION_MAX)
}

/// The Task fields of a conversation-day that a create and an update share.
fn message_fields(log: &MessageLog) -> Value {
    let what = common::kind_label(log.kind);
    json!({
        "Subject": common::truncate_chars(&format!("{what} with {} on {}", log.their_number, log.day), SUBJECT_MAX),
        "ActivityDate": log.day,
        "Status": "Completed",
        "Description": messages_description(log),
    })
}

/// The line of a placeholder Lead's Description that carries the marker.
pub fn lead_marker_line(marker: &Marker) -> String {
    format!("Calltrail ref: {}", marker.as_str())
}

fn create_lead(conn: &Connection, name: &str, phone: &E164, marker: &Marker) -> HttpRequest {
    let mut body = json!({
        "LastName": common::truncate_chars(name.trim(), LAST_NAME_MAX),
        "Company": "Unknown",
        "Phone": phone.as_str(),
        "Description": format!("Created by Calltrail for a caller who matched no contact.\n{}", lead_marker_line(marker)),
    });
    owned(conn, &mut body);
    request(conn, Method::Post, api(conn, "/sobjects/Lead"), Some(body))
}

// ---------------------------------------------------------------------------------------------
// Replies

/// How every Salesforce op reads its replies.
const RULES: common::ReplyRules = common::ReplyRules { crm: CRM, refused };

/// A non-2xx response by Salesforce's rules (see the module doc's "Errors").
fn refused(conn: &Connection, resp: &HttpResponse, access: Access) -> CrmError {
    let code = error_code(&resp.body);
    let message = common::status_message(CRM, resp, &conn.token);
    match (resp.status, code.as_deref()) {
        (_, Some("REQUEST_LIMIT_EXCEEDED")) => {
            let usage = resp.header("sforce-limit-info").map(|u| format!(" ({})", u.trim())).unwrap_or_default();
            CrmError::RateLimited {
                retry_after_ms: common::retry_after_ms(resp).or(Some(REQUEST_LIMIT_WAIT_MS)),
                message: common::scrub(&format!("{message}{usage}"), &conn.token),
            }
        }
        (_, Some("INVALID_SESSION_ID")) | (401, _) => CrmError::Unauthorized { message },
        (300, _) => CrmError::Permanent {
            message: format!("{message}: several Salesforce records have this external id; someone needs to pick one"),
        },
        (status, _) => common::classify_status(status, access, common::retry_after_ms(resp), message),
    }
}

/// The first `errorCode` of a Salesforce error body (`[{message, errorCode, fields}]`).
fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let first = if v.is_array() { v.get(0)? } else { &v };
    common::str_at(first, "/errorCode").map(str::to_owned)
}

fn record_url(conn: &Connection, object: &str, id: &str) -> String {
    format!("{}/lightning/r/{object}/{id}/view", conn.base_url)
}

fn created(conn: &Connection, object: &str, resp: &HttpResponse) -> Result<CrmOutput, CrmError> {
    let v = common::json_body(resp, Access::Write, CRM)?;
    let id = common::string_at(&v, "/id").ok_or_else(|| common::malformed(Access::Write, CRM, "no record id in the reply"))?;
    let url = record_url(conn, object, &id);
    Ok(CrmOutput::Created { record: RecordId::new(id), url: Some(url) })
}

fn created_lead(conn: &Connection, name: &str, phone: &E164, resp: &HttpResponse) -> Result<CrmOutput, CrmError> {
    let v = common::json_body(resp, Access::Write, CRM)?;
    let id = common::string_at(&v, "/id").ok_or_else(|| common::malformed(Access::Write, CRM, "no record id in the reply"))?;
    let url = Some(record_url(conn, "Lead", &id));
    Ok(CrmOutput::Contact {
        contact: Contact {
            id: RecordId::new(id),
            name: common::truncate_chars(name.trim(), LAST_NAME_MAX).into(),
            record_type: RecordType::new("Lead"),
            phones: vec![phone.as_str().to_owned()].into(),
            created_at: None,
            modified_at: None,
            url: url.map(Into::into),
        },
    })
}

const PHONE_FIELDS: [&str; 5] = ["Phone", "MobilePhone", "HomePhone", "OtherPhone", "AssistantPhone"];

fn parse_record(conn: &Connection, r: &Value) -> Option<Contact> {
    let id = common::string_at(r, "/Id")?;
    let object = common::str_at(r, "/attributes/type").unwrap_or("Contact").to_owned();
    let phones: Vec<String> = PHONE_FIELDS
        .iter()
        .filter_map(|f| common::str_at(r, &format!("/{f}")))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let name = common::str_at(r, "/Name").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    Some(Contact {
        url: Some(record_url(conn, &object, &id).into()),
        id: RecordId::new(id),
        name: name.or_else(|| phones.first().cloned()).unwrap_or_else(|| "(no name)".to_owned()).into(),
        record_type: RecordType::new(object),
        phones: phones.into(),
        created_at: common::timestamp_at(r, "/CreatedDate"),
        modified_at: common::timestamp_at(r, "/LastModifiedDate"),
    })
}

fn parse_search(conn: &Connection, number: &E164, resp: &HttpResponse) -> Result<CrmOutput, CrmError> {
    let v = common::json_body(resp, Access::Read, CRM)?;
    // `{searchRecords: [...]}` since v37; a bare array before.
    let records = v
        .get("searchRecords")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .ok_or_else(|| common::malformed(Access::Read, CRM, "no searchRecords in the search reply"))?;
    let contacts = records
        .iter()
        .filter_map(|r| parse_record(conn, r))
        .filter(|c| c.phones.iter().any(|p| phone::matches(p, number, conn.default_country)))
        .collect();
    Ok(CrmOutput::Contacts { contacts })
}

// ---------------------------------------------------------------------------------------------
// FindLog

/// The SOQL that finds the Task carrying `marker`.
pub fn find_task_soql(marker: &Marker) -> String {
    format!("SELECT Id FROM Task WHERE CallObject = {} ORDER BY CreatedDate ASC LIMIT 10", soql_quote(marker.as_str()))
}

/// The SOQL that finds placeholder Leads with exactly `phone`, created since shortly before
/// the call (the marker is then checked in their Description).
pub fn find_lead_soql(phone: &E164, since: Timestamp) -> String {
    format!(
        "SELECT Id, Description FROM Lead WHERE Phone = {} AND CreatedDate >= {} ORDER BY CreatedDate ASC LIMIT 50",
        soql_quote(phone.as_str()),
        common::rfc3339_secs(since)
    )
}

fn find_log(conn: &Connection, marker: &Marker, hint: &LogHint, history: &[Exchange]) -> Step {
    match hint.what {
        LogWhat::Call | LogWhat::Messages => {
            RULES.one_shot(conn, history, Access::Read, || query_request(conn, &find_task_soql(marker)), |r| {
                let v = common::json_body(r, Access::Read, CRM)?;
                let found = query_records(&v)?.first().and_then(|t| common::string_at(t, "/Id"));
                Ok(CrmOutput::Found { record: found.map(RecordId::new) })
            })
        }
        LogWhat::Contact => {
            let Some(phone) = &hint.phone else {
                return Step::Done(Err(CrmError::Permanent {
                    message: "Salesforce: looking for a placeholder lead needs its phone number".into(),
                }));
            };
            let soql = find_lead_soql(phone, hint.at.plus_mins(-10));
            RULES.one_shot(conn, history, Access::Read, || query_request(conn, &soql), |r| {
                let v = common::json_body(r, Access::Read, CRM)?;
                let line = lead_marker_line(marker);
                let found = query_records(&v)?
                    .iter()
                    .find(|l| common::str_at(l, "/Description").is_some_and(|d| d.lines().any(|x| x.trim() == line)))
                    .and_then(|l| common::string_at(l, "/Id"));
                Ok(CrmOutput::Found { record: found.map(RecordId::new) })
            })
        }
    }
}

fn query_records(v: &Value) -> Result<&Vec<Value>, CrmError> {
    v.get("records").and_then(Value::as_array).ok_or_else(|| common::malformed(Access::Read, CRM, "no records in the query reply"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sosl_escape_table() {
        let cases = [
            ("2125550100", "2125550100"),
            ("+12125550100", "\\+12125550100"),
            ("a{b}c", "a\\{b\\}c"),
            ("O'Brien \"x\"", "O\\'Brien \\\"x\\\""),
            ("back\\slash", "back\\\\slash"),
            ("x AND (y OR z)*", "x AND \\(y OR z\\)\\*"),
            ("line\nbreak", "line break"),
            ("? & | ! [ ] ^ ~ : -", "\\? \\& \\| \\! \\[ \\] \\^ \\~ \\: \\-"),
            ("} RETURNING User(Id)", "\\} RETURNING User\\(Id\\)"),
        ];
        for (input, want) in cases {
            assert_eq!(sosl_escape(input), want, "{input}");
        }
    }

    #[test]
    fn soql_quote_table() {
        let cases = [
            ("calltrail:abc", "'calltrail:abc'"),
            ("Bob's BBQ", "'Bob\\'s BBQ'"),
            ("a\\b", "'a\\\\b'"),
            ("x' OR Id != '", "'x\\' OR Id != \\''"),
            ("two\nlines\t\"q\"", "'two\\nlines\\t\\\"q\\\"'"),
            ("bell\u{7}", "'bell'"),
        ];
        for (input, want) in cases {
            assert_eq!(soql_quote(input), want, "{input}");
        }
    }

    #[test]
    fn soql_datetime_is_utc_seconds() {
        assert_eq!(common::rfc3339_secs(Timestamp(1_714_557_600_123)), "2024-05-01T10:00:00Z");
    }

    #[test]
    fn error_code_reads_array_and_object() {
        assert_eq!(error_code(r#"[{"message":"x","errorCode":"INVALID_SESSION_ID"}]"#).as_deref(), Some("INVALID_SESSION_ID"));
        assert_eq!(error_code(r#"{"message":"x","errorCode":"NOT_FOUND"}"#).as_deref(), Some("NOT_FOUND"));
        assert_eq!(error_code("oops"), None);
    }
}
