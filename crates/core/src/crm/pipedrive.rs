//! Pipedrive connector: persons, call activities and notes over the v2 API (v1 for notes).
//!
//! Choices, each checked against `shared/specs/pipedrive/openapi-v2.yaml` (v2) and
//! `shared/specs/pipedrive/openapi.yaml` (v1):
//! - **Search**: `GET /api/v2/persons/search?term=<last 4 digits>&fields=phone` (partial
//!   match, `exact_match=false`: Pipedrive stores phones as free text and does not document any
//!   normalisation, and the last four digits are the only part every common format keeps
//!   contiguous), every returned number re-verified with `phone::matches`, then **one** `GET /api/v2/persons?ids=…` (up to 100 ids) for
//!   `add_time`/`update_time`, which search results lack. N matched people cost 2 requests
//!   (1 when nothing matches), against App Connect's 1 + 2N.
//! - **Calls** are v2 activities of type `call`, not `/v1/callLogs`: call logs have no update
//!   endpoint (only GET and DELETE on `/v1/callLogs/{id}`), while notes written after the log
//!   was made must reach the CRM; activities are updatable with `PATCH /api/v2/activities/{id}`
//!   and need only `activities:full`, not the `phone-integration` scope.
//! - **SMS and fax** conversation-days are v1 notes (`POST /v1/notes`, `PUT /v1/notes/{id}`):
//!   Pipedrive has no message object, a custom activity type would need an admin to create it,
//!   and notes are HTML attached to the person, updatable and listable by person and date.
//! - **Markers** sit in the activity or note HTML. There is no server-side filter on them, so
//!   `FindLog` lists the person's activities updated since shortly before the call (or notes
//!   from the day before) and scans for the marker: not an exact key, and it relies on the
//!   person hint. Persons cannot carry a marker (their `notes` field exists only with contact
//!   sync), so a lost placeholder create is found as a person with the number added since the
//!   call.
//! - **Auth**: an API token in the `x-api-token` header (the spec's `api_key` scheme), never the
//!   `api_token` query parameter, which would land in logs; an OAuth access token as
//!   `Authorization: Bearer` (the spec's `oauth2` scheme).
//! - **Owner**: `owner_id` on v2 persons and activities, `user_id` on v1 notes: the user of
//!   `GET /v1/users/me` (an API token is personal, so that is the rep either way).
//!
//! Invariant: user and page text reaches Pipedrive only through `common::escape_html` /
//! `common::notes_html`, and no error message carries the token.

use serde_json::{json, Value};

use super::common::{self, Access, Flow};
use super::*;
use crate::model::CallResult;
use crate::phone;

const CRM: &str = "Pipedrive";
/// Search pages read before giving up on more (500 results each).
const MAX_SEARCH_PAGES: usize = 4;
/// List pages scanned by a marker lookup.
const MAX_SCAN_PAGES: usize = 10;
/// `ids` takes at most 100 ids (openapi-v2.yaml, `GET /persons`).
const IDS_PER_REQUEST: usize = 100;
/// How far before the hint's time a lookup starts, for clock differences between the
/// softphone and Pipedrive.
const LOOKUP_SLACK_MS: i64 = 15 * 60_000;

pub fn step(conn: &Connection, op: &CrmOp, history: &[Exchange]) -> Step {
    common::settle(match op {
        CrmOp::SearchContacts { phone } => search(conn, phone, history),
        CrmOp::CreateCallLog { log } => create_call(conn, log, history),
        CrmOp::UpdateCallLog { record, log } => update_call(conn, record, log, history),
        CrmOp::FindLog { marker, hint } => find_log(conn, marker, hint, history),
        CrmOp::CreateContact { name, phone, marker } => create_contact(conn, name, phone, marker, history),
        CrmOp::CreateMessageLog { log } => create_messages(conn, log, history),
        CrmOp::UpdateMessageLog { record, log } => update_messages(conn, record, log, history),
    })
}

// ---------------------------------------------------------------------------------------------
// Search

fn search(conn: &Connection, phone: &E164, history: &[Exchange]) -> Flow {
    // Phase 1: search pages. `term` is the last four digits, which "+1 (212) 555-0100",
    // "212.555.0100" and "0044 20 7946 0958" all keep contiguous; Pipedrive matches partially
    // with `exact_match` off, and every hit is re-verified below, so the wider net costs
    // pages, not accuracy.
    let mut hits: Vec<String> = Vec::new();
    let mut found: Vec<Contact> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    for ex in history.iter().take_while(|e| e.request.url.contains("/api/v2/persons/search")) {
        let v = reply_json(conn, &ex.reply, Access::Read)?;
        for it in common::list_at(&v, "/data/items", CRM)? {
            let Some(id) = common::string_at(it, "/item/id") else { continue };
            let phones = it.pointer("/item/phones").and_then(Value::as_array).cloned().unwrap_or_default();
            let matched = phones
                .iter()
                .filter_map(Value::as_str)
                .any(|p| phone::matches(p, phone, conn.default_country));
            if matched && !hits.contains(&id) {
                found.push(Contact {
                    id: RecordId::new(id.clone()),
                    name: common::string_at(it, "/item/name").unwrap_or_default().into(),
                    record_type: RecordType::new("Person"),
                    phones: phones.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                    created_at: None,
                    modified_at: None,
                    url: None,
                });
                hits.push(id);
            }
        }
        cursor = common::string_at(&v, "/additional_data/next_cursor");
        pages += 1;
    }
    if pages == 0 || (cursor.is_some() && pages < MAX_SEARCH_PAGES) {
        let mut q = vec![
            ("term", last_digits(phone, 4)),
            ("fields", "phone".to_owned()),
            ("exact_match", "false".to_owned()),
            ("limit", "500".to_owned()),
        ];
        if let Some(c) = cursor {
            q.push(("cursor", c));
        }
        return Ok(Step::Send(get(conn, "/api/v2/persons/search", &q)));
    }
    // One match needs nothing more: creation and modification times only matter to the
    // conflict rules, which only run when several people match. That keeps a logged call from a
    // known number at two requests (search, create) instead of three.
    if hits.len() <= 1 {
        return Ok(Step::Done(Ok(CrmOutput::Contacts { contacts: found })));
    }

    // Phase 2: details (add_time, update_time, all phones) for the matched ids, 100 at a time.
    let details = &history[pages..];
    let mut contacts = Vec::new();
    for (n, chunk) in hits.chunks(IDS_PER_REQUEST).enumerate() {
        let Some(ex) = details.get(n) else {
            let q = [("ids", chunk.join(",")), ("limit", IDS_PER_REQUEST.to_string())];
            return Ok(Step::Send(get(conn, "/api/v2/persons", &q)));
        };
        let v = reply_json(conn, &ex.reply, Access::Read)?;
        for p in common::list_at(&v, "/data", CRM)? {
            if let Some(c) = person(p) {
                // Details are the truth: a number edited since the search index was built
                // must still match.
                if chunk.iter().any(|id| id == c.id.as_str()) && c.phones.iter().any(|s| phone::matches(s, phone, conn.default_country)) {
                    contacts.push(c);
                }
            }
        }
    }
    Ok(Step::Done(Ok(CrmOutput::Contacts { contacts })))
}

/// A v2 person (`GET /persons`, `POST /persons` response `data`).
fn person(p: &Value) -> Option<Contact> {
    let id = common::string_at(p, "/id")?;
    let phones = p
        .get("phones")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ph| ph.get("value").and_then(Value::as_str).or_else(|| ph.as_str()))
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .collect();
    Some(Contact {
        id: RecordId::new(id),
        name: common::str_at(p, "/name").unwrap_or_default().to_owned().into(),
        record_type: RecordType::new("Person"),
        phones,
        created_at: common::timestamp_at(p, "/add_time"),
        modified_at: common::timestamp_at(p, "/update_time"),
        url: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Calls: v2 activities of type "call"

fn create_call(conn: &Connection, log: &CallLog, history: &[Exchange]) -> Flow {
    let build = || {
        let person_id = person_id(&log.contact.id)?;
        let mut body = call_fields(log);
        body["type"] = json!("call");
        body["person_id"] = json!(person_id);
        owned(conn, &mut body, "owner_id");
        Ok(send(conn, Method::Post, "/api/v2/activities", &body))
    };
    Ok(common::one_write(history, build, |ex| created(conn, &ex.reply)))
}

fn update_call(conn: &Connection, record: &RecordId, log: &CallLog, history: &[Exchange]) -> Flow {
    let build = || {
        let path = format!("/api/v2/activities/{}", common::encode_component(record.as_str()));
        Ok(send(conn, Method::Patch, &path, &call_fields(log)))
    };
    Ok(common::one_write(history, build, |ex| updated(conn, &ex.reply)))
}

/// The activity fields a create and an update share (openapi-v2.yaml `POST /activities` and
/// `PATCH /activities/{id}` request bodies): due date and time in UTC, duration `HH:MM`
/// (openapi.yaml documents the format on v1 activities; v2 keeps the field), `done`, and the
/// HTML note. The exact talk time is in the note too, since `duration` has minute precision.
fn call_fields(log: &CallLog) -> Value {
    let call = &log.call;
    json!({
        "subject": call_subject(log),
        "due_date": common::utc_date(call.started_at),
        "due_time": common::utc_time(call.started_at),
        "duration": common::duration_hh_mm(call.duration_secs()),
        "done": true,
        "note": call_note(log),
    })
}

fn call_subject(log: &CallLog) -> String {
    let call = &log.call;
    let what = match call.result {
        CallResult::Missed => "Missed call".to_owned(),
        _ => format!("{} call", common::direction_label(call.direction)),
    };
    let name = common::strip_controls(&log.contact.name).replace(['\n', '\r', '\t'], " ");
    let s = if name.trim().is_empty() {
        format!("{what} {}", call.their_number)
    } else {
        format!("{what} with {}", name.trim())
    };
    common::truncate_chars(&s, 255)
}

/// The note HTML: summary, numbers, the rep's notes, what the softphone handed over (recording,
/// voicemail, AI note, transcript), marker. Everything that
/// came from a person or a page is escaped.
fn call_note(log: &CallLog) -> String {
    let call = &log.call;
    let (from, to) = common::from_to(call);
    let mut html = format!("<p><b>{} call</b> · {}</p>", common::direction_label(call.direction), common::outcome_words(call));
    let num = |n: Option<&E164>| n.map_or_else(|| "unknown".to_owned(), |n| common::escape_html(n.as_str()));
    html.push_str(&format!("<p>From {} to {}</p>", num(from), num(to)));
    html.push_str(&common::notes_html(&call.notes));
    html.push_str(&common::call_extras_html(call));
    html.push_str(&marker_html(&log.marker));
    html
}

fn marker_html(marker: &Marker) -> String {
    format!("<p>Logged by Calltrail · {}</p>", common::escape_html(marker.as_str()))
}

// ---------------------------------------------------------------------------------------------
// Placeholder persons

fn create_contact(conn: &Connection, name: &str, phone: &E164, _marker: &Marker, history: &[Exchange]) -> Flow {
    let build = || {
        // openapi-v2.yaml `POST /persons`: name, phones[{value, primary, label}]. A person has
        // no field for the marker (its `notes` exist only with contact sync), see FindLog.
        let mut body = json!({
            "name": common::truncate_chars(&common::strip_controls(name), 255),
            "phones": [{"value": phone.as_str(), "primary": true, "label": "work"}],
        });
        owned(conn, &mut body, "owner_id");
        Ok(send(conn, Method::Post, "/api/v2/persons", &body))
    };
    Ok(common::one_write(history, build, |ex| {
        let v = reply_json(conn, &ex.reply, Access::Write)?;
        let c = v.get("data").and_then(person).ok_or_else(|| common::malformed(Access::Write, CRM, "no person id"))?;
        Ok(CrmOutput::Contact { contact: c })
    }))
}

// ---------------------------------------------------------------------------------------------
// SMS and fax: v1 notes

fn create_messages(conn: &Connection, log: &MessageLog, history: &[Exchange]) -> Flow {
    let build = || {
        // openapi.yaml `POST /notes`: content (HTML, required) and one parent id.
        let mut body = json!({ "content": messages_html(log), "person_id": person_id(&log.contact.id)? });
        owned(conn, &mut body, "user_id");
        Ok(send(conn, Method::Post, "/v1/notes", &body))
    };
    Ok(common::one_write(history, build, |ex| created(conn, &ex.reply)))
}

fn update_messages(conn: &Connection, record: &RecordId, log: &MessageLog, history: &[Exchange]) -> Flow {
    let build = || {
        // openapi.yaml `PUT /notes/{id}`: content.
        let path = format!("/v1/notes/{}", common::encode_component(record.as_str()));
        Ok(send(conn, Method::Put, &path, &json!({ "content": messages_html(log) })))
    };
    Ok(common::one_write(history, build, |ex| updated(conn, &ex.reply)))
}

fn messages_html(log: &MessageLog) -> String {
    let kind = common::kind_label(log.kind);
    let mut html = format!(
        "<p><b>{kind} conversation</b> · {} · with {}</p>",
        common::escape_html(&log.day),
        common::escape_html(log.their_number.as_str())
    );
    let lines: Vec<String> = log.messages.iter().map(|m| common::escape_html(&common::message_line(m))).collect();
    if !lines.is_empty() {
        html.push_str(&format!("<p>{}</p>", lines.join("<br>").replace('\n', "<br>").replace('\r', "")));
    }
    html.push_str(&marker_html(&log.marker));
    html
}

// ---------------------------------------------------------------------------------------------
// Marker lookup

fn find_log(conn: &Connection, marker: &Marker, hint: &LogHint, history: &[Exchange]) -> Flow {
    match hint.what {
        LogWhat::Call => scan_activities(conn, marker, hint, history),
        LogWhat::Messages => scan_notes(conn, marker, hint, history),
        LogWhat::Contact => scan_persons(conn, hint, history),
    }
}

fn since(hint: &LogHint) -> String {
    common::rfc3339_secs(hint.at.plus_ms(-LOOKUP_SLACK_MS))
}

/// The person's activities updated since shortly before the call (a log is written after the
/// call starts, and an update only moves `update_time` later), scanned for the marker.
fn scan_activities(conn: &Connection, marker: &Marker, hint: &LogHint, history: &[Exchange]) -> Flow {
    let mut cursor = None;
    for ex in history {
        let v = reply_json(conn, &ex.reply, Access::Read)?;
        for a in common::list_at(&v, "/data", CRM)? {
            let note = common::str_at(a, "/note").unwrap_or_default();
            if carries(note, marker) {
                return Ok(common::found(common::string_at(a, "/id")));
            }
        }
        cursor = common::string_at(&v, "/additional_data/next_cursor");
        if cursor.is_none() {
            return Ok(common::found(None));
        }
    }
    if history.len() >= MAX_SCAN_PAGES {
        return Err(too_many(history.len()));
    }
    let mut q = Vec::new();
    if let Some(c) = &hint.contact {
        q.push(("person_id", person_id(c)?.to_string()));
    }
    q.push(("updated_since", since(hint)));
    q.push(("limit", "500".to_owned()));
    if let Some(c) = cursor {
        q.push(("cursor", c));
    }
    Ok(Step::Send(get(conn, "/api/v2/activities", &q)))
}

/// The person's notes from the day before the first message on (openapi.yaml `GET /notes`:
/// `person_id`, `start_date`, offset paging), scanned for the marker.
fn scan_notes(conn: &Connection, marker: &Marker, hint: &LogHint, history: &[Exchange]) -> Flow {
    let mut start: Option<i64> = None;
    for ex in history {
        let v = reply_json(conn, &ex.reply, Access::Read)?;
        // v1 lists answer `"data": null` when there is nothing; a body without `data` at all is
        // not an answer.
        let notes = if v.get("data").is_some_and(Value::is_null) { &[][..] } else { common::list_at(&v, "/data", CRM)? };
        for n in notes {
            if carries(common::str_at(n, "/content").unwrap_or_default(), marker) {
                return Ok(common::found(common::string_at(n, "/id")));
            }
        }
        let more = v.pointer("/additional_data/pagination/more_items_in_collection").and_then(Value::as_bool) == Some(true);
        match common::i64_at(&v, "/additional_data/pagination/next_start") {
            Some(n) if more => start = Some(n),
            _ => return Ok(common::found(None)),
        }
    }
    if history.len() >= MAX_SCAN_PAGES {
        return Err(too_many(history.len()));
    }
    let mut q = Vec::new();
    if let Some(c) = &hint.contact {
        q.push(("person_id", person_id(c)?.to_string()));
    }
    q.push(("start_date", common::utc_date(hint.at.plus_hours(-24))));
    q.push(("start", start.unwrap_or(0).to_string()));
    q.push(("limit", "500".to_owned()));
    Ok(Step::Send(get(conn, "/v1/notes", &q)))
}

/// A placeholder whose create reply was lost: a person added since shortly before the op with
/// the hint's number (persons cannot carry the marker).
fn scan_persons(conn: &Connection, hint: &LogHint, history: &[Exchange]) -> Flow {
    let Some(number) = &hint.phone else {
        return Err(CrmError::Permanent { message: "Pipedrive: a placeholder lookup needs the phone number".into() });
    };
    let from = hint.at.plus_ms(-LOOKUP_SLACK_MS);
    let mut cursor = None;
    for ex in history {
        let v = reply_json(conn, &ex.reply, Access::Read)?;
        for p in common::list_at(&v, "/data", CRM)? {
            let Some(c) = person(p) else { continue };
            let new = c.created_at.is_some_and(|t| t >= from);
            if new && c.phones.iter().any(|s| phone::matches(s, number, conn.default_country)) {
                return Ok(common::found(Some(c.id.to_string())));
            }
        }
        cursor = common::string_at(&v, "/additional_data/next_cursor");
        if cursor.is_none() {
            return Ok(common::found(None));
        }
    }
    if history.len() >= MAX_SCAN_PAGES {
        return Err(too_many(history.len()));
    }
    let mut q = vec![("updated_since", since(hint)), ("limit", "500".to_owned())];
    if let Some(c) = cursor {
        q.push(("cursor", c));
    }
    Ok(Step::Send(get(conn, "/api/v2/persons", &q)))
}

/// Whether Pipedrive's copy of our HTML carries the marker (raw or as we escaped it; Pipedrive
/// sanitises notes but keeps their text).
fn carries(html: &str, marker: &Marker) -> bool {
    html.contains(marker.as_str()) || html.contains(&common::escape_html(marker.as_str()))
}

fn too_many(pages: usize) -> CrmError {
    CrmError::Transient { message: format!("Pipedrive: marker not found in the first {pages} pages; will look again") }
}

// ---------------------------------------------------------------------------------------------
// Requests and replies

fn headers(conn: &Connection, has_body: bool) -> Vec<(String, String)> {
    // openapi-v2.yaml components.securitySchemes.api_key: header `x-api-token`.
    let auth = match conn.oauth {
        true => ("Authorization".to_owned(), format!("Bearer {}", conn.token.expose())),
        false => ("x-api-token".to_owned(), conn.token.expose().to_owned()),
    };
    let mut h = vec![auth, ("Accept".to_owned(), "application/json".to_owned())];
    if has_body {
        h.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    h
}

fn get(conn: &Connection, path: &str, query: &[(&str, String)]) -> HttpRequest {
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let q = common::form_encode(&pairs).replace("%2C", ",");
    HttpRequest {
        method: Method::Get,
        url: format!("{}{path}?{q}", conn.base_url),
        headers: headers(conn, false),
        body: None,
    }
}

fn send(conn: &Connection, method: Method, path: &str, body: &Value) -> HttpRequest {
    HttpRequest {
        method,
        url: format!("{}{path}", conn.base_url),
        headers: headers(conn, true),
        body: Some(body.to_string()),
    }
}

/// Puts the connection's owner in `field` (a user id, an integer).
fn owned(conn: &Connection, body: &mut Value, field: &str) {
    if let Some(id) = conn.owner.as_deref().and_then(|o| o.parse::<i64>().ok()) {
        body[field] = json!(id);
    }
}

/// Who the connection acts as: `GET /v1/users/me` (v1 only; the v2 spec has no users).
pub fn identify(conn: &Connection, history: &[Exchange]) -> Who {
    match history.first() {
        None => Who::Send(get(conn, "/v1/users/me", &[])),
        Some(ex) => Who::Done(reply_json(conn, &ex.reply, Access::Read).map(|v| common::user_at(&v, "/data/id", "/data/name", "/data/email"))),
    }
}

/// Pipedrive ids are integers; an id that is not is a bug upstream, not a retryable fault.
fn person_id(id: &RecordId) -> Result<i64, CrmError> {
    id.as_str().trim().parse().map_err(|_| CrmError::Permanent {
        message: format!("Pipedrive: person id {:?} is not a number", common::truncate_chars(id.as_str(), 40)),
    })
}

/// The JSON of a 2xx reply, or its classified error. Pipedrive's 429 may carry `Retry-After`
/// or only the burst window's `x-ratelimit-reset` (seconds); a 2xx with `success: false` did
/// not take effect.
fn reply_json(conn: &Connection, reply: &Reply, access: Access) -> Result<Value, CrmError> {
    let r = common::success_by(reply, access, CRM, |r| {
        let wait = common::retry_after_ms(r).or_else(|| common::header_i64(r, "x-ratelimit-reset").map(|s| s.max(0) * 1000));
        common::classify_status(r.status, access, wait, message(conn, r))
    })?;
    let v = common::json_body(r, access, CRM)?;
    if v.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(CrmError::Permanent { message: message(conn, r) });
    }
    Ok(v)
}

/// "Pipedrive <status>: <error>" from the documented error body
/// `{success: false, error, error_info}` (openapi.yaml, e.g. `CallLogBadRequestResponse`):
/// `error` says what went wrong, `error_info` is mostly a pointer to the docs, so it is used
/// only when `error` is missing. Truncated and scrubbed of the token.
fn message(conn: &Connection, r: &HttpResponse) -> String {
    let own = common::parse_json(&r.body).ok().and_then(|v| {
        ["/error", "/error_info", "/message"].iter().find_map(|p| common::str_at(&v, p).filter(|s| !s.trim().is_empty()).map(str::to_owned))
    });
    match own {
        Some(m) => {
            let m = common::truncate_chars(&m.split_whitespace().collect::<Vec<_>>().join(" "), common::MAX_ERROR_DETAIL);
            common::scrub(&format!("{CRM} {}: {m}", r.status), &conn.token)
        }
        None => common::status_message(CRM, r, &conn.token),
    }
}

fn created(conn: &Connection, reply: &Reply) -> Result<CrmOutput, CrmError> {
    let v = reply_json(conn, reply, Access::Write)?;
    let id = common::string_at(&v, "/data/id").ok_or_else(|| common::malformed(Access::Write, CRM, "no record id"))?;
    Ok(CrmOutput::Created { record: RecordId::new(id), url: None })
}

fn updated(conn: &Connection, reply: &Reply) -> Result<CrmOutput, CrmError> {
    reply_json(conn, reply, Access::Write)?;
    Ok(CrmOutput::Updated)
}

fn last_digits(phone: &E164, n: usize) -> String {
    let d = phone.as_str().trim_start_matches('+');
    d[d.len().saturating_sub(n)..].to_owned()
}

