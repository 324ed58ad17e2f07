//! HubSpot (CRM v3): contacts found by phone, calls logged as call engagements, SMS as
//! communications, faxes as notes, placeholders as contacts.
//!
//! Requests, per op (base `https://api.hubapi.com`, `Authorization: Bearer <private app token
//! or OAuth access token>`):
//! - SearchContacts: `POST /crm/v3/objects/contacts/search`, four OR'd filter groups (national
//!   digits on `hs_searchable_calculated_phone_number` and `_mobile_number`, common written
//!   forms on raw `phone` and `mobilephone` with `IN`), paged with `after` up to
//!   [`MAX_SEARCH_PAGES`]; every returned number is re-verified with `phone::matches`.
//! - CreateCallLog: `POST /crm/v3/objects/calls` with the `hs_call_*` properties and an inline
//!   association to the contact (type 194, call → contact), after a calls search for the marker
//!   when the log is late ([`Timing::Late`]); with the admin's unique property (`marker_field`)
//!   no search: the create carries
//!   the marker there too, and a 409 is followed by `GET …/calls/{marker}?idProperty=…`
//!   ([`super::guard`]).
//! - UpdateCallLog: `PATCH /crm/v3/objects/calls/{id}`.
//! - CreateMessageLog: SMS → `POST /crm/v3/objects/communications` (`hs_communication_channel_type`
//!   `SMS`, association type 81, communication → contact); fax → `POST /crm/v3/objects/notes`
//!   (HubSpot has no fax channel; association type 202, note → contact).
//! - UpdateMessageLog: `PATCH` of the same object.
//! - CreateContact: `POST /crm/v3/objects/contacts` with `firstname`, `lastname`, `phone`.
//! - FindLog: the search API of the object (see "Markers").
//!
//! Markers. A call's marker goes in `hs_call_external_id`, a default call property (the
//! "unique ID of the call" HubSpot's calling-extension docs define), so no schema change is
//! needed. HubSpot can read a record by a property with `GET /crm/v3/objects/calls/{value}
//! ?idProperty=…`, but only for properties created with `hasUniqueValue`, which needs a
//! custom property per portal: when the admin made one and named it in `marker_field`, calls
//! carry the marker there too and are read by it exactly. Otherwise the documented,
//! schema-free option is the calls search API, filtering
//! `hs_call_external_id EQ marker`. Search is eventually consistent: a record created seconds
//! ago may be missing, so [`super::capabilities`] says `exact_marker_lookup: false` and the
//! engine waits out `search_lag_ms` before believing "not found". Messages carry the marker
//! as a last line of their HTML body (communications and notes have no external-id property);
//! they are found by searching the contact's communications, then notes, around the day and
//! checking the body. A placeholder contact has no property we can rely on to hold a marker,
//! so FindLog for a contact looks for a contact with exactly the placeholder's E.164 `phone`
//! created since the call began: any such contact is one a second create would duplicate.
//!
//! Errors: 429 → `RateLimited` (`Retry-After`, else `X-HubSpot-RateLimit-Interval-Milliseconds`
//! when the window is spent); 401 → `Unauthorized` (HubSpot says a 401 is not a reliable
//! refresh signal: the shell refreshes OAuth tokens from `expires_in`); the rest by
//! [`common::classify_status`].

use serde_json::{json, Value};

use super::common::{self, Access};
use super::guard;
use super::*;
use crate::model::{CallResult, Direction, MessageKind, RecordType};
use crate::phone;

/// The vendor's name in error messages.
pub const CRM: &str = "HubSpot";
/// Search pages read at most (100 contacts each) before giving the matches found so far.
pub const MAX_SEARCH_PAGES: usize = 5;
/// Call → contact, HUBSPOT_DEFINED.
pub const CALL_TO_CONTACT: u32 = 194;
/// Communication → contact, HUBSPOT_DEFINED.
pub const COMMUNICATION_TO_CONTACT: u32 = 81;
/// Note → contact, HUBSPOT_DEFINED.
pub const NOTE_TO_CONTACT: u32 = 202;
/// The default call property holding our marker.
pub const MARKER_PROPERTY: &str = "hs_call_external_id";

const CONTACT_PROPERTIES: [&str; 6] = ["firstname", "lastname", "phone", "mobilephone", "createdate", "lastmodifieddate"];

pub fn step(conn: &Connection, op: &CrmOp, history: &[Exchange]) -> Step {
    match op {
        CrmOp::SearchContacts { phone } => search_contacts(conn, phone, history),
        CrmOp::CreateCallLog { log } => create_call_guarded(conn, log, history),
        CrmOp::UpdateCallLog { record, log } => {
            RULES.one_shot(conn, history, Access::Write, || update_call(conn, record, log), |_| Ok(CrmOutput::Updated))
        }
        CrmOp::FindLog { marker, hint } => find_log(conn, marker, hint, history),
        CrmOp::CreateContact { name, phone, marker: _ } => {
            RULES.one_shot(conn, history, Access::Write, || create_contact(conn, name, phone), created_contact)
        }
        CrmOp::CreateMessageLog { log } => {
            RULES.one_shot(conn, history, Access::Write, || create_messages(conn, log), |r| created(r, Access::Write))
        }
        CrmOp::UpdateMessageLog { record, log } => {
            RULES.one_shot(conn, history, Access::Write, || update_messages(conn, record, log), |_| Ok(CrmOutput::Updated))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

fn request(conn: &Connection, method: Method, path: &str, body: Option<Value>) -> HttpRequest {
    let auth = format!("Bearer {}", conn.token.expose());
    common::json_request(method, format!("{}{path}", conn.base_url), &auth, body.as_ref())
}

/// The contacts search body for `number`, optionally from page `after`.
pub fn search_body(number: &E164, after: Option<&str>) -> Value {
    let national = common::national_digits(number);
    let variants = common::phone_variants(number);
    let mut body = json!({
        "filterGroups": [
            {"filters": [{"propertyName": "hs_searchable_calculated_phone_number", "operator": "EQ", "value": national}]},
            {"filters": [{"propertyName": "hs_searchable_calculated_mobile_number", "operator": "EQ", "value": national}]},
            {"filters": [{"propertyName": "phone", "operator": "IN", "values": variants}]},
            {"filters": [{"propertyName": "mobilephone", "operator": "IN", "values": variants}]},
        ],
        "properties": CONTACT_PROPERTIES,
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        "limit": 100,
    });
    if let Some(a) = after {
        body["after"] = json!(a);
    }
    body
}

fn call_properties(log: &CallLog) -> Value {
    let call = &log.call;
    let (from, to) = common::from_to(call);
    let title = match call.direction {
        Direction::Inbound => format!("Inbound call from {}", call.their_number),
        Direction::Outbound => format!("Outbound call to {}", call.their_number),
    };
    let mut p = json!({
        "hs_timestamp": call.started_at.to_rfc3339(),
        "hs_call_title": title,
        "hs_call_body": call_body_html(call),
        "hs_call_direction": match call.direction { Direction::Inbound => "INBOUND", Direction::Outbound => "OUTBOUND" },
        "hs_call_duration": (call.duration_secs() * 1000).to_string(),
        "hs_call_status": call_status(call.result),
        MARKER_PROPERTY: log.marker.as_str(),
    });
    if let Some(d) = disposition(call.result) {
        p["hs_call_disposition"] = json!(d);
    }
    if let Some(f) = from {
        p["hs_call_from_number"] = json!(f.as_str());
    }
    if let Some(t) = to {
        p["hs_call_to_number"] = json!(t.as_str());
    }
    // HubSpot plays a recording from this property (in the body it is only a link); it takes
    // https URLs only.
    if let Some(url) = call.recording_url.as_deref().and_then(common::safe_link).filter(|u| u.starts_with("https://")) {
        p["hs_call_recording_url"] = json!(url);
    }
    p
}

/// The call's notes as our own HTML, then the recording and voicemail links (http(s) URLs
/// only), the AI note and the transcript.
/// Every piece of text from the page or the rep is escaped.
pub fn call_body_html(call: &Call) -> String {
    let mut html = common::notes_html(&call.notes);
    html.push_str(&common::call_extras_html(call));
    html
}

fn call_status(r: CallResult) -> &'static str {
    match r {
        CallResult::Answered | CallResult::Voicemail | CallResult::Unknown => "COMPLETED",
        CallResult::Missed => "NO_ANSWER",
        CallResult::Busy => "BUSY",
        CallResult::Rejected => "CANCELED",
        CallResult::Failed => "FAILED",
    }
}

/// HubSpot's default call outcome GUIDs (Connected, Left voicemail, No answer, Busy).
fn disposition(r: CallResult) -> Option<&'static str> {
    match r {
        CallResult::Answered => Some("f240bbac-87c9-4f6e-bf70-924b57d47db7"),
        CallResult::Voicemail => Some("b2cf5968-551e-4856-9783-52b3da59a7d0"),
        CallResult::Missed | CallResult::Rejected => Some("73a0d17f-1163-4015-bdd5-ec830791da20"),
        CallResult::Busy => Some("9d9162e7-6cf3-4944-bf63-4dff82258764"),
        CallResult::Failed | CallResult::Unknown => None,
    }
}

fn association(contact: &RecordId, type_id: u32) -> Value {
    json!([{"to": {"id": contact.as_str()}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}])
}

/// `properties` with the connection's owner, for a create.
fn owned(conn: &Connection, mut properties: Value) -> Value {
    if let Some(o) = &conn.owner {
        properties["hubspot_owner_id"] = json!(o);
    }
    properties
}

/// The create of a call log; `unique_field`: the admin's unique property, which holds the
/// marker too.
fn create_call(conn: &Connection, log: &CallLog, unique_field: Option<&str>) -> HttpRequest {
    let mut properties = owned(conn, call_properties(log));
    if let Some(field) = unique_field {
        properties[field] = json!(log.marker.as_str());
    }
    let body = json!({"properties": properties, "associations": association(&log.contact.id, CALL_TO_CONTACT)});
    request(conn, Method::Post, "/crm/v3/objects/calls", Some(body))
}

/// A call log, made safe against another place logging the same leg (`crm::guard`): with the
/// admin's unique call property (`marker_field`) the marker goes there too, HubSpot refuses a
/// second call with it (409) and the first is read back exactly (`idProperty`). Without it, the
/// calls search for the marker runs before the create only when the log is late
/// ([`Timing::Late`]): a call another place made at the hang-up is in the search index by then.
/// A log sent sooner could not see that call through the lagging index, so it creates at once
/// and spares HubSpot's search quota (about 5 requests a second for the whole account).
fn create_call_guarded(conn: &Connection, log: &CallLog, history: &[Exchange]) -> Step {
    let created_reply = |r: &Reply| RULES.ok_response(conn, r, Access::Write).and_then(|r| created(r, Access::Write));
    match conn.marker_field.as_deref() {
        Some(field) => guard::unique(
            &guard::Unique {
                create: &|| Ok(create_call(conn, log, Some(field))),
                created: &created_reply,
                conflict: &|r| matches!(r, Reply::Response(x) if x.status == 409),
                get: &|| get_by_marker(conn, field, &log.marker),
                read: &|r| read_by_marker(conn, r),
            },
            history,
        ),
        None if log.timing != Timing::Late => match history {
            [] => Step::Send(create_call(conn, log, None)),
            [create, ..] => Step::Done(created_reply(&create.reply)),
        },
        None => guard::searched(
            &guard::Searched {
                lookup: &|| request(conn, Method::Post, "/crm/v3/objects/calls/search", Some(find_call_body(&log.marker))),
                read: &|r| {
                    let resp = RULES.ok_response(conn, r, Access::Read)?;
                    let v = common::json_body(resp, Access::Read, CRM)?;
                    let found = results(&v)?
                        .iter()
                        .find(|c| common::str_at(c, &format!("/properties/{MARKER_PROPERTY}")).is_some_and(|m| m == log.marker.as_str()));
                    Ok(found.and_then(|c| common::string_at(c, "/id")))
                },
                create: &|| Ok(create_call(conn, log, None)),
                created: &created_reply,
            },
            history,
        ),
    }
}

/// The exact read of a call by the unique property `field` holding `marker`.
fn get_by_marker(conn: &Connection, field: &str, marker: &Marker) -> HttpRequest {
    let path = format!(
        "/crm/v3/objects/calls/{}?idProperty={}&properties={}",
        common::encode_component(marker.as_str()),
        common::encode_component(field),
        common::encode_component(MARKER_PROPERTY)
    );
    request(conn, Method::Get, &path, None)
}

/// The call an exact read names: `None` on 404.
fn read_by_marker(conn: &Connection, r: &Reply) -> Result<Option<String>, CrmError> {
    if matches!(r, Reply::Response(x) if x.status == 404) {
        return Ok(None);
    }
    let resp = RULES.ok_response(conn, r, Access::Read)?;
    let v = common::json_body(resp, Access::Read, CRM)?;
    Ok(common::string_at(&v, "/id"))
}

fn update_call(conn: &Connection, record: &RecordId, log: &CallLog) -> HttpRequest {
    let path = format!("/crm/v3/objects/calls/{}", common::encode_component(record.as_str()));
    request(conn, Method::Patch, &path, Some(json!({"properties": call_properties(log)})))
}

/// Splits a placeholder name into HubSpot's first and last name: around the first " - "
/// ("New Lead - +15551234567" → "New Lead", "+15551234567"), else before the last word.
pub fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    if let Some((first, last)) = name.split_once(" - ") {
        return (first.trim().to_owned(), last.trim().to_owned());
    }
    match name.rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_owned(), last.trim().to_owned()),
        None => (String::new(), name.to_owned()),
    }
}

fn create_contact(conn: &Connection, name: &str, phone: &E164) -> HttpRequest {
    let (first, last) = split_name(name);
    let body = json!({"properties": owned(conn, json!({"firstname": first, "lastname": last, "phone": phone.as_str()}))});
    request(conn, Method::Post, "/crm/v3/objects/contacts", Some(body))
}

/// Which object a message log lives in.
struct MessageObject {
    path: &'static str,
    body_property: &'static str,
    association: u32,
}

const SMS_OBJECT: MessageObject =
    MessageObject { path: "communications", body_property: "hs_communication_body", association: COMMUNICATION_TO_CONTACT };
const FAX_OBJECT: MessageObject = MessageObject { path: "notes", body_property: "hs_note_body", association: NOTE_TO_CONTACT };

fn message_object(kind: MessageKind) -> &'static MessageObject {
    match kind {
        MessageKind::Sms => &SMS_OBJECT,
        MessageKind::Fax => &FAX_OBJECT,
    }
}

/// A conversation-day as HTML: a heading, one escaped line per message, the marker last.
pub fn messages_html(log: &MessageLog) -> String {
    let what = common::kind_label(log.kind);
    let heading = common::escape_html(&format!("{what} with {} on {}", log.their_number, log.day));
    let lines: Vec<String> = log.messages.iter().map(|m| common::escape_html(&common::message_line(m))).collect();
    let mut html = format!("<p><strong>{heading}</strong></p>");
    if !lines.is_empty() {
        html.push_str(&format!("<p>{}</p>", lines.join("<br>")));
    }
    html.push_str(&format!("<p>Calltrail ref: {}</p>", common::escape_html(log.marker.as_str())));
    html
}

fn message_properties(log: &MessageLog) -> Value {
    let at = log.messages.first().map(|m| m.at).unwrap_or_default();
    let obj = message_object(log.kind);
    let mut p = json!({"hs_timestamp": at.to_rfc3339(), obj.body_property: messages_html(log)});
    if log.kind == MessageKind::Sms {
        p["hs_communication_channel_type"] = json!("SMS");
        p["hs_communication_logged_from"] = json!("CRM");
    }
    p
}

fn create_messages(conn: &Connection, log: &MessageLog) -> HttpRequest {
    let obj = message_object(log.kind);
    let body = json!({"properties": owned(conn, message_properties(log)), "associations": association(&log.contact.id, obj.association)});
    request(conn, Method::Post, &format!("/crm/v3/objects/{}", obj.path), Some(body))
}

fn update_messages(conn: &Connection, record: &RecordId, log: &MessageLog) -> HttpRequest {
    let obj = message_object(log.kind);
    let path = format!("/crm/v3/objects/{}/{}", obj.path, common::encode_component(record.as_str()));
    request(conn, Method::Patch, &path, Some(json!({"properties": message_properties(log)})))
}

// ---------------------------------------------------------------------------------------------
// Who is connected

/// The owner records are created with: an OAuth token's user (`GET /oauth/v1/access-tokens/
/// {token}`, its `user` email), or the rep's email for a private app's token shared by the
/// team; then the owner with that email (`GET /crm/v3/owners?email=`), whose `id` is what
/// `hubspot_owner_id` takes (it is not the user id).
pub fn identify(conn: &Connection, email: &str, history: &[Exchange]) -> Who {
    let read = |ex: &Exchange| RULES.ok_response(conn, &ex.reply, Access::Read).and_then(|r| common::json_body(r, Access::Read, CRM));
    let mut rest = history;
    let mut email = email.trim().to_owned();
    if conn.oauth {
        let Some((ex, tail)) = history.split_first() else {
            let path = format!("/oauth/v1/access-tokens/{}", common::encode_component(conn.token.expose()));
            return Who::Send(request(conn, Method::Get, &path, None));
        };
        match read(ex) {
            Ok(v) => email = common::string_at(&v, "/user").unwrap_or_default(),
            Err(e) => return Who::Done(Err(e)),
        }
        rest = tail;
    }
    if email.is_empty() {
        return Who::Done(Ok(None));
    }
    match rest.first() {
        None => Who::Send(request(conn, Method::Get, &format!("/crm/v3/owners?email={}&limit=1", common::encode_component(&email)), None)),
        Some(ex) => Who::Done(read(ex).map(|v| common::user_at(&v, "/results/0/id", "/results/0/firstName", "/results/0/email"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Steps

/// How every HubSpot op reads its replies.
const RULES: common::ReplyRules = common::ReplyRules { crm: CRM, refused };

/// A non-2xx response by HubSpot's rules: a 429 waits as [`rate_limit_wait_ms`] says; the rest
/// as [`common::classify_status`] says.
fn refused(conn: &Connection, resp: &HttpResponse, access: Access) -> CrmError {
    let message = common::status_message(CRM, resp, &conn.token);
    let retry = if resp.status == 429 { rate_limit_wait_ms(resp) } else { None };
    common::classify_status(resp.status, access, retry, message)
}

/// How long a 429 asks us to wait: `Retry-After`, else the rate-limit window length when the
/// `X-HubSpot-RateLimit-Remaining` count is spent.
pub fn rate_limit_wait_ms(resp: &HttpResponse) -> Option<i64> {
    common::retry_after_ms(resp).or_else(|| {
        let remaining = common::header_i64(resp, "x-hubspot-ratelimit-remaining");
        let interval = common::header_i64(resp, "x-hubspot-ratelimit-interval-milliseconds");
        match (remaining, interval) {
            (Some(r), Some(i)) if r <= 0 && i > 0 => Some(i),
            _ => None,
        }
    })
}

fn created(resp: &HttpResponse, access: Access) -> Result<CrmOutput, CrmError> {
    let v = common::json_body(resp, access, CRM)?;
    let id = common::string_at(&v, "/id").ok_or_else(|| common::malformed(access, CRM, "no record id in the reply"))?;
    let url = common::str_at(&v, "/url").map(str::to_owned);
    Ok(CrmOutput::Created { record: RecordId::new(id), url })
}

fn created_contact(resp: &HttpResponse) -> Result<CrmOutput, CrmError> {
    let v = common::json_body(resp, Access::Write, CRM)?;
    let contact = parse_contact(&v)
        .ok_or_else(|| common::malformed(Access::Write, CRM, "no contact id in the reply"))?;
    Ok(CrmOutput::Contact { contact })
}

/// One contact object (`{id, properties{…}, createdAt, updatedAt, url?}`).
fn parse_contact(v: &Value) -> Option<Contact> {
    let id = common::string_at(v, "/id")?;
    let prop = |k: &str| common::str_at(v, &format!("/properties/{k}")).map(str::trim).filter(|s| !s.is_empty());
    let phones: Vec<String> = ["phone", "mobilephone"].iter().filter_map(|k| prop(k)).map(str::to_owned).collect();
    let name = [prop("firstname"), prop("lastname")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let name = if name.is_empty() { phones.first().cloned().unwrap_or_else(|| "(no name)".to_owned()) } else { name };
    let created_at = prop("createdate").and_then(common::parse_timestamp).or_else(|| common::timestamp_at(v, "/createdAt"));
    let modified_at =
        prop("lastmodifieddate").and_then(common::parse_timestamp).or_else(|| common::timestamp_at(v, "/updatedAt"));
    Some(Contact {
        id: RecordId::new(id),
        name: name.into(),
        record_type: RecordType::new("Contact"),
        phones: phones.into(),
        created_at,
        modified_at,
        url: common::str_at(v, "/url").map(str::to_owned).map(Into::into),
    })
}

fn search_contacts(conn: &Connection, number: &E164, history: &[Exchange]) -> Step {
    let path = "/crm/v3/objects/contacts/search";
    if history.is_empty() {
        return Step::Send(request(conn, Method::Post, path, Some(search_body(number, None))));
    }
    let mut contacts: Vec<Contact> = Vec::new();
    let mut next: Option<String> = None;
    for ex in history {
        let resp = match RULES.ok_response(conn, &ex.reply, Access::Read) {
            Ok(r) => r,
            Err(e) => return Step::Done(Err(e)),
        };
        let v = match common::json_body(resp, Access::Read, CRM) {
            Ok(v) => v,
            Err(e) => return Step::Done(Err(e)),
        };
        let Some(results) = v.get("results").and_then(Value::as_array) else {
            return Step::Done(Err(common::malformed(Access::Read, CRM, "no results in the search reply")));
        };
        for c in results.iter().filter_map(parse_contact) {
            let matches = c.phones.iter().any(|p| phone::matches(p, number, conn.default_country));
            if matches && !contacts.iter().any(|k| k.id == c.id) {
                contacts.push(c);
            }
        }
        next = common::string_at(&v, "/paging/next/after");
    }
    match next {
        Some(after) if history.len() < MAX_SEARCH_PAGES => {
            Step::Send(request(conn, Method::Post, path, Some(search_body(number, Some(&after)))))
        }
        _ => Step::Done(Ok(CrmOutput::Contacts { contacts })),
    }
}

// ---------------------------------------------------------------------------------------------
// FindLog

/// The search body that finds a call by its marker.
pub fn find_call_body(marker: &Marker) -> Value {
    json!({
        "filterGroups": [{"filters": [{"propertyName": MARKER_PROPERTY, "operator": "EQ", "value": marker.as_str()}]}],
        "properties": [MARKER_PROPERTY, "hs_timestamp"],
        "sorts": [{"propertyName": "hs_timestamp", "direction": "ASCENDING"}],
        "limit": 10,
    })
}

const DAY_MS: i64 = 86_400_000;

/// The search body for one contact's messages of type `obj` around `hint.at`.
fn find_messages_body(obj: &MessageObject, hint: &LogHint) -> Value {
    let mut filters = vec![
        json!({"propertyName": "hs_timestamp", "operator": "GTE", "value": hint.at.plus_ms(-DAY_MS).millis().to_string()}),
        json!({"propertyName": "hs_timestamp", "operator": "LTE", "value": hint.at.plus_ms(DAY_MS).millis().to_string()}),
    ];
    if let Some(c) = &hint.contact {
        filters.push(json!({"propertyName": "associations.contact", "operator": "EQ", "value": c.as_str()}));
    }
    json!({
        "filterGroups": [{"filters": filters}],
        "properties": [obj.body_property, "hs_timestamp"],
        "sorts": [{"propertyName": "hs_timestamp", "direction": "ASCENDING"}],
        "limit": 100,
    })
}

/// The search body for a placeholder contact: exactly its E.164 `phone`, created since the call.
fn find_contact_body(phone: &E164, hint: &LogHint) -> Value {
    json!({
        "filterGroups": [{"filters": [
            {"propertyName": "phone", "operator": "EQ", "value": phone.as_str()},
            {"propertyName": "createdate", "operator": "GTE", "value": hint.at.plus_mins(-10).millis().to_string()},
        ]}],
        "properties": CONTACT_PROPERTIES,
        "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
        "limit": 10,
    })
}

fn find_log(conn: &Connection, marker: &Marker, hint: &LogHint, history: &[Exchange]) -> Step {
    match hint.what {
        LogWhat::Call if conn.marker_field.is_some() => {
            let field = conn.marker_field.as_deref().unwrap_or(MARKER_PROPERTY);
            common::one_shot(history, || get_by_marker(conn, field, marker), |r| read_by_marker(conn, r).map(|id| CrmOutput::Found { record: id.map(RecordId::new) }))
        }
        LogWhat::Call => {
            let path = "/crm/v3/objects/calls/search";
            RULES.one_shot(conn, history, Access::Read, || request(conn, Method::Post, path, Some(find_call_body(marker))), |r| {
                let v = common::json_body(r, Access::Read, CRM)?;
                let found = results(&v)?.iter().find(|c| {
                    common::str_at(c, &format!("/properties/{MARKER_PROPERTY}")).is_some_and(|m| m == marker.as_str())
                });
                Ok(CrmOutput::Found { record: found.and_then(|c| common::string_at(c, "/id")).map(RecordId::new) })
            })
        }
        LogWhat::Messages => {
            // Communications (SMS) first, then notes (fax): the hint does not say which.
            let objects = [&SMS_OBJECT, &FAX_OBJECT];
            if let Some(last) = history.last() {
                let resp = match RULES.ok_response(conn, &last.reply, Access::Read) {
                    Ok(r) => r,
                    Err(e) => return Step::Done(Err(e)),
                };
                let obj = objects[(history.len() - 1).min(1)];
                let found = common::json_body(resp, Access::Read, CRM).and_then(|v| {
                    Ok(results(&v)?.iter().find(|c| body_has_marker(c, obj, marker)).and_then(|c| common::string_at(c, "/id")))
                });
                match found {
                    Err(e) => return Step::Done(Err(e)),
                    Ok(Some(id)) => return Step::Done(Ok(CrmOutput::Found { record: Some(RecordId::new(id)) })),
                    Ok(None) if history.len() >= objects.len() => return Step::Done(Ok(CrmOutput::Found { record: None })),
                    Ok(None) => {}
                }
            }
            let obj = objects[history.len()];
            let path = format!("/crm/v3/objects/{}/search", obj.path);
            Step::Send(request(conn, Method::Post, &path, Some(find_messages_body(obj, hint))))
        }
        LogWhat::Contact => {
            let Some(phone) = &hint.phone else {
                return Step::Done(Err(CrmError::Permanent {
                    message: "HubSpot: looking for a placeholder contact needs its phone number".into(),
                }));
            };
            let path = "/crm/v3/objects/contacts/search";
            RULES.one_shot(conn, history, Access::Read, || request(conn, Method::Post, path, Some(find_contact_body(phone, hint))), |r| {
                let v = common::json_body(r, Access::Read, CRM)?;
                let found = results(&v)?.iter().filter_map(parse_contact).find(|c| c.phones.iter().any(|p| p == phone.as_str()));
                Ok(CrmOutput::Found { record: found.map(|c| c.id) })
            })
        }
    }
}

fn results(v: &Value) -> Result<&Vec<Value>, CrmError> {
    v.get("results").and_then(Value::as_array).ok_or_else(|| common::malformed(Access::Read, CRM, "no results in the search reply"))
}

fn body_has_marker(record: &Value, obj: &MessageObject, marker: &Marker) -> bool {
    let Some(body) = common::str_at(record, &format!("/properties/{}", obj.body_property)) else { return false };
    let escaped = common::escape_html(marker.as_str());
    body.contains(&format!("Calltrail ref: {escaped}<")) || body.contains(&format!("Calltrail ref: {}<", marker.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_name_table() {
        let cases = [
            ("New Lead - +15551234567", ("New Lead", "+15551234567")),
            ("Ada Lovelace", ("Ada", "Lovelace")),
            ("Mary Ann Evans", ("Mary Ann", "Evans")),
            ("Cher", ("", "Cher")),
            ("  ", ("", "")),
        ];
        for (input, (f, l)) in cases {
            assert_eq!(split_name(input), (f.to_owned(), l.to_owned()), "{input}");
        }
    }

    #[test]
    fn rate_limit_wait_prefers_retry_after_then_spent_window() {
        let r = |h: &[(&str, &str)]| HttpResponse {
            status: 429,
            headers: h.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: String::new(),
        };
        assert_eq!(rate_limit_wait_ms(&r(&[("retry-after", "2")])), Some(2000));
        assert_eq!(
            rate_limit_wait_ms(&r(&[("x-hubspot-ratelimit-remaining", "0"), ("x-hubspot-ratelimit-interval-milliseconds", "10000")])),
            Some(10_000)
        );
        assert_eq!(
            rate_limit_wait_ms(&r(&[("x-hubspot-ratelimit-remaining", "5"), ("x-hubspot-ratelimit-interval-milliseconds", "10000")])),
            None
        );
        assert_eq!(rate_limit_wait_ms(&r(&[])), None);
    }
}
