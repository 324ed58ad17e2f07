//! Clio Manage connector (API v4): contacts, phone communications, and exact marker lookups.
//!
//! Every path, parameter and body field is in `shared/specs/clio/openapi.json`:
//! - **Search**: `GET /api/v4/contacts.json?query=<last 4 digits>&fields=…`. `query` is a
//!   wildcard search over the stored text of many fields, phone numbers among them, and Clio
//!   keeps numbers as typed; the last four digits are the only part of a number that every
//!   common format ("212.555.0100", "(212) 555-0100", "+1 212 555 0100") keeps contiguous.
//!   Hits are re-verified with `phone::matches`, so the wider net costs pages, not accuracy.
//!   Nested fields use Clio's `phone_numbers{number}` syntax; paging follows
//!   `meta.paging.next`'s `page_token` (rebuilt on our base URL, so the token never follows a
//!   link to another host).
//! - **Calls, SMS and fax** are `PhoneCommunication`s (`POST /api/v4/communications.json`,
//!   `PATCH /api/v4/communications/{id}.json`). The type enum has only Phone and Email, and a
//!   communication, unlike a note, carries `external_properties`; SMS and fax are told apart
//!   by their subject. Clio has no duration field: it is in the body.
//! - **Markers**: `external_properties: [{name: "calltrail_marker", value: <marker>}]`, found
//!   with `GET /api/v4/communications.json?external_property_name=…&external_property_value=…`,
//!   an exact filter, not a search index. A call log's create runs it after the create
//!   ([`super::guard::exact`]: another browser of the rep logging the same leg; Clio has no
//!   batch API, so the look is a request of its own), except the log of the device that
//!   carried the leg, sent first ([`super::Timing::Carrier`]): no other record can exist yet,
//!   and every other place waits for it, then looks and finds it. Contacts have no external properties: a lost
//!   placeholder create is found by listing Person contacts `created_since` shortly before the
//!   op with the same number, also a plain filter.
//! - **Auth**: `Authorization: Bearer <token>`.
//!
//! Invariant: no error message carries the token (`common::scrub` via `common::success`).

use serde_json::{json, Value};

use super::common::{self, Access, Flow};
use super::guard;
use super::*;
use crate::model::Direction;
use crate::phone;

const CRM: &str = "Clio";
const MARKER_PROPERTY: &str = "calltrail_marker";
const CONTACT_FIELDS: &str = "id,name,type,phone_numbers{number},created_at,updated_at";
const MAX_PAGES: usize = 5;
const LOOKUP_SLACK_MS: i64 = 15 * 60_000;

pub fn step(conn: &Connection, op: &CrmOp, history: &[Exchange]) -> Step {
    common::settle(match op {
        CrmOp::SearchContacts { phone } => search(conn, phone, history),
        CrmOp::CreateCallLog { log } => Ok(create_call(conn, history, log)),
        CrmOp::UpdateCallLog { record, log } => write(conn, history, || {
            Ok(send(conn, Method::Patch, &communication_path(record)?, &call_fields(log)))
        }),
        CrmOp::FindLog { marker, hint } => find_log(conn, marker, hint, history),
        CrmOp::CreateContact { name, phone, marker } => create_contact(conn, name, phone, marker, history),
        CrmOp::CreateMessageLog { log } => write(conn, history, || {
            let mut data = message_fields(log);
            data["type"] = json!("PhoneCommunication");
            let first = log.messages.first().map_or(Direction::Inbound, |m| m.direction);
            parties(conn, &mut data, first, contact_id(&log.contact.id)?);
            data["external_properties"] = json!([{ "name": MARKER_PROPERTY, "value": log.marker.as_str() }]);
            Ok(send(conn, Method::Post, "/api/v4/communications.json", &data))
        }),
        CrmOp::UpdateMessageLog { record, log } => write(conn, history, || {
            Ok(send(conn, Method::Patch, &communication_path(record)?, &message_fields(log)))
        }),
    })
}

// ---------------------------------------------------------------------------------------------
// Search

fn search(conn: &Connection, phone: &E164, history: &[Exchange]) -> Flow {
    let mut contacts: Vec<Contact> = Vec::new();
    let mut next = None;
    for ex in history {
        let v = reply_json(conn, &ex.reply, Access::Read)?;
        for c in common::list_at(&v, "/data", CRM)?.iter().filter_map(|c| contact(conn, c)) {
            if c.phones.iter().any(|s| phone::matches(s, phone, conn.default_country)) && !contacts.iter().any(|k| k.id == c.id) {
                contacts.push(c);
            }
        }
        next = next_page_token(&v);
        if next.is_none() {
            break;
        }
    }
    if history.is_empty() || (next.is_some() && history.len() < MAX_PAGES) {
        let mut q = vec![("query", last_digits(phone, 4)), ("fields", CONTACT_FIELDS.to_owned()), ("limit", "200".to_owned())];
        if let Some(t) = next {
            q.push(("page_token", t));
        }
        return Ok(Step::Send(get(conn, "/api/v4/contacts.json", &q)));
    }
    Ok(Step::Done(Ok(CrmOutput::Contacts { contacts })))
}

fn contact(conn: &Connection, c: &Value) -> Option<Contact> {
    let id = common::string_at(c, "/id")?;
    Some(Contact {
        url: Some(format!("{}/nc/#/contacts/{id}", conn.base_url).into()),
        id: RecordId::new(id),
        name: common::str_at(c, "/name").unwrap_or_default().to_owned().into(),
        record_type: RecordType::new(common::str_at(c, "/type").unwrap_or("Person")),
        phones: c
            .get("phone_numbers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| common::str_at(p, "/number"))
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: common::timestamp_at(c, "/created_at"),
        modified_at: common::timestamp_at(c, "/updated_at"),
    })
}

/// The `page_token` of `meta.paging.next`, when there is a next page.
fn next_page_token(v: &Value) -> Option<String> {
    let next = common::str_at(v, "/meta/paging/next")?;
    let query = next.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k == "page_token" && !v.is_empty()).map(|(_, v)| v.into_owned())
}

fn last_digits(phone: &E164, n: usize) -> String {
    let d = phone.as_str().trim_start_matches('+');
    d[d.len().saturating_sub(n)..].to_owned()
}

// ---------------------------------------------------------------------------------------------
// Writes

/// One write request built by `build`, then its result: `Created` for a POST, `Updated` for a
/// PATCH.
fn write(conn: &Connection, history: &[Exchange], build: impl FnOnce() -> Result<HttpRequest, CrmError>) -> Flow {
    Ok(common::one_write(history, build, |ex| {
        let v = reply_json(conn, &ex.reply, Access::Write)?;
        Ok(match ex.request.method {
            Method::Post => {
                let id = common::string_at(&v, "/data/id").ok_or_else(|| common::malformed(Access::Write, CRM, "no record id"))?;
                CrmOutput::Created { record: RecordId::new(id), url: None }
            }
            _ => CrmOutput::Updated,
        })
    }))
}

/// A call log's communication, made safe against another place logging the same leg
/// (`crm::guard::exact`): the exact external-property lookup runs after the create, ordered by
/// id (Clio's ids grow with creation), with each record's `user`. The carrier's log, sent
/// before any other place may log the leg ([`Timing::Carrier`]), is the create alone.
fn create_call(conn: &Connection, history: &[Exchange], log: &CallLog) -> Step {
    let lookup = || {
        let q = [
            ("external_property_name", MARKER_PROPERTY.to_owned()),
            ("external_property_value", log.marker.as_str().to_owned()),
            ("fields", "id,user{id},external_properties{name,value}".to_owned()),
            ("order", "id(asc)".to_owned()),
        ];
        get(conn, "/api/v4/communications.json", &q)
    };
    let read = |r: &Reply| {
        let v = reply_json(conn, r, Access::Read)?;
        let data = v.get("data").and_then(Value::as_array).ok_or_else(|| common::malformed(Access::Read, CRM, "no data in the list"))?;
        Ok(data
            .iter()
            .filter(|c| carries(c, &log.marker))
            .filter_map(|c| Some(guard::Existing { id: common::string_at(c, "/id")?, creator: common::string_at(c, "/user/id") }))
            .collect())
    };
    let create = || {
        let mut data = call_fields(log);
        data["type"] = json!("PhoneCommunication");
        let contact = contact_id(&log.contact.id)?;
        parties(conn, &mut data, log.call.direction, contact);
        data["external_properties"] = json!([{ "name": MARKER_PROPERTY, "value": log.marker.as_str() }]);
        Ok(send(conn, Method::Post, "/api/v4/communications.json", &data))
    };
    let created = |r: &Reply| {
        let v = reply_json(conn, r, Access::Write)?;
        let id = common::string_at(&v, "/data/id").ok_or_else(|| common::malformed(Access::Write, CRM, "no record id"))?;
        Ok(CrmOutput::Created { record: RecordId::new(id), url: None })
    };
    let delete = |id: &RecordId| {
        let url = format!("{}/api/v4/communications/{}.json", conn.base_url, common::encode_component(id.as_str()));
        common::json_request(Method::Delete, url, &auth(conn), None)
    };
    if log.timing == Timing::Carrier {
        return match history {
            [] => match create() {
                Ok(request) => Step::Send(request),
                Err(e) => Step::Done(Err(e)),
            },
            [made, ..] => Step::Done(created(&made.reply)),
        };
    }
    guard::exact(&guard::Exact { lookup: &lookup, read: &read, create: &create, created: &created, delete: &delete, batch: None }, history)
}

/// Whether a listed communication carries `marker` (the filter is exact; this guards against a
/// server that ignores it; a record listed without its properties is taken as carrying it).
fn carries(c: &Value, marker: &Marker) -> bool {
    match c.get("external_properties").and_then(Value::as_array) {
        Some(props) => props.iter().any(|p| common::str_at(p, "/name") == Some(MARKER_PROPERTY) && common::str_at(p, "/value") == Some(marker.as_str())),
        None => true,
    }
}

/// The parties of a communication: the contact sends what they started and receives the
/// rest; the rep (the connection's user, Clio's owner of a communication) is the other side.
fn parties(conn: &Connection, data: &mut Value, direction: Direction, contact: i64) {
    let (theirs, ours) = match direction {
        Direction::Inbound => ("senders", "receivers"),
        Direction::Outbound => ("receivers", "senders"),
    };
    data[theirs] = json!([{ "id": contact, "type": "Contact" }]);
    if let Some(user) = conn.owner.as_deref().and_then(|o| o.parse::<i64>().ok()) {
        data[ours] = json!([{ "id": user, "type": "User" }]);
    }
}

/// Who the connection acts as: `GET /api/v4/users/who_am_i.json` (openapi.json).
pub fn identify(conn: &Connection, history: &[Exchange]) -> Who {
    match history.first() {
        None => Who::Send(get(conn, "/api/v4/users/who_am_i.json", &[("fields", "id,name,email".to_owned())])),
        Some(ex) => Who::Done(reply_json(conn, &ex.reply, Access::Read).map(|v| common::user_at(&v, "/data/id", "/data/name", "/data/email"))),
    }
}

fn communication_path(record: &RecordId) -> Result<String, CrmError> {
    let id: i64 = record.as_str().trim().parse().map_err(|_| CrmError::Permanent {
        message: format!("Clio: communication id {:?} is not a number", common::truncate_chars(record.as_str(), 40)),
    })?;
    Ok(format!("/api/v4/communications/{id}.json"))
}

fn contact_id(id: &RecordId) -> Result<i64, CrmError> {
    id.as_str().trim().parse().map_err(|_| CrmError::Permanent {
        message: format!("Clio: contact id {:?} is not a number", common::truncate_chars(id.as_str(), 40)),
    })
}

/// Subject, plain-text body and time, shared by a create and an update (openapi.json
/// `POST /communications.json` requires body, received_at, subject and type).
fn call_fields(log: &CallLog) -> Value {
    let call = &log.call;
    let what = format!("{} call", common::direction_label(call.direction));
    let mut lines = vec![common::outcome_words(call)];
    lines.extend(common::call_detail_lines(call));
    lines.push(String::new());
    lines.push(format!("Logged by Calltrail · {}", log.marker.as_str()));
    json!({
        "subject": common::call_subject(&what, log),
        "body": lines.join("\n"),
        "received_at": common::rfc3339_secs(call.started_at),
    })
}

fn message_fields(log: &MessageLog) -> Value {
    let mut lines = common::messages_lines(log);
    lines.push(String::new());
    lines.push(format!("Logged by Calltrail · {}", log.marker.as_str()));
    let at = log.messages.first().map(|m| m.at).unwrap_or_default();
    json!({
        "subject": common::messages_subject(log),
        "body": lines.join("\n"),
        "received_at": common::rfc3339_secs(at),
    })
}

fn create_contact(conn: &Connection, name: &str, phone: &E164, _marker: &Marker, history: &[Exchange]) -> Flow {
    let build = || {
        // openapi.json `POST /contacts.json`: name and type required; a Person's last_name set
        // too so Clio's name rules for people are met whatever the template.
        let name = common::truncate_chars(&common::one_line(name), 255);
        let data = json!({
            "type": "Person",
            "name": name,
            "last_name": name,
            "phone_numbers": [{ "name": "Work", "number": phone.as_str(), "default_number": true }],
        });
        let mut req = send(conn, Method::Post, "/api/v4/contacts.json", &data);
        req.url.push_str(&format!("?fields={}", common::encode_component(CONTACT_FIELDS)));
        Ok(req)
    };
    Ok(common::one_write(history, build, |ex| {
        let v = reply_json(conn, &ex.reply, Access::Write)?;
        let c = v.get("data").and_then(|d| contact(conn, d)).ok_or_else(|| common::malformed(Access::Write, CRM, "no contact id"))?;
        Ok(CrmOutput::Contact { contact: c })
    }))
}

// ---------------------------------------------------------------------------------------------
// Marker lookup

fn find_log(conn: &Connection, marker: &Marker, hint: &LogHint, history: &[Exchange]) -> Flow {
    if hint.what == LogWhat::Contact {
        return find_placeholder(conn, hint, history);
    }
    let Some(ex) = history.first() else {
        let q = [
            ("external_property_name", MARKER_PROPERTY.to_owned()),
            ("external_property_value", marker.as_str().to_owned()),
            ("fields", "id,external_properties{name,value}".to_owned()),
        ];
        return Ok(Step::Send(get(conn, "/api/v4/communications.json", &q)));
    };
    let v = reply_json(conn, &ex.reply, Access::Read)?;
    let hit = common::list_at(&v, "/data", CRM)?.iter().find(|c| {
        // The filter is exact; the check guards against a server that ignores it.
        match c.get("external_properties").and_then(Value::as_array) {
            Some(props) => props.iter().any(|p| {
                common::str_at(p, "/name") == Some(MARKER_PROPERTY) && common::str_at(p, "/value") == Some(marker.as_str())
            }),
            None => true,
        }
    });
    Ok(common::found(hit.and_then(|c| common::string_at(c, "/id"))))
}

fn find_placeholder(conn: &Connection, hint: &LogHint, history: &[Exchange]) -> Flow {
    let Some(number) = &hint.phone else {
        return Err(CrmError::Permanent { message: "Clio: a placeholder lookup needs the phone number".into() });
    };
    let mut next = None;
    for ex in history {
        let v = reply_json(conn, &ex.reply, Access::Read)?;
        for c in common::list_at(&v, "/data", CRM)?.iter().filter_map(|c| contact(conn, c)) {
            if c.phones.iter().any(|s| phone::matches(s, number, conn.default_country)) {
                return Ok(common::found(Some(c.id.to_string())));
            }
        }
        next = next_page_token(&v);
        if next.is_none() {
            return Ok(common::found(None));
        }
    }
    if history.len() >= MAX_PAGES {
        return Err(CrmError::Transient { message: "Clio: placeholder not found in the first pages; will look again".into() });
    }
    let mut q = vec![
        ("created_since", common::rfc3339_secs(hint.at.plus_ms(-LOOKUP_SLACK_MS))),
        ("type", "Person".to_owned()),
        ("fields", CONTACT_FIELDS.to_owned()),
        ("limit", "200".to_owned()),
    ];
    if let Some(t) = next {
        q.push(("page_token", t));
    }
    Ok(Step::Send(get(conn, "/api/v4/contacts.json", &q)))
}

// ---------------------------------------------------------------------------------------------
// Requests and replies

fn auth(conn: &Connection) -> String {
    format!("Bearer {}", conn.token.expose())
}

fn get(conn: &Connection, path: &str, query: &[(&str, String)]) -> HttpRequest {
    common::get_request(&conn.base_url, path, query, common::json_headers(&auth(conn), false))
}

/// A write with Clio's `{"data": {…}}` wrapper.
fn send(conn: &Connection, method: Method, path: &str, data: &Value) -> HttpRequest {
    common::json_request(method, format!("{}{path}", conn.base_url), &auth(conn), Some(&json!({ "data": data })))
}

fn reply_json(conn: &Connection, reply: &Reply, access: Access) -> Result<Value, CrmError> {
    let r = common::success(reply, access, CRM, &conn.token)?;
    common::json_body(r, access, CRM)
}
