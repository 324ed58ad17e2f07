//! CRM connectors: pure functions from a logical operation to HTTP requests and back.
//!
//! The engine speaks in [`CrmOp`]s ("search contacts by this number", "create this call log")
//! and hears back `Result<CrmOutput, CrmError>`. A connector turns one op into a short
//! conversation of HTTP requests: [`step`] looks at the op and the exchanges so far and returns
//! either the next request to send or the final result. Being a pure function of its history,
//! a connector holds no state, cannot leak between calls, and is tested with golden
//! request/response pairs. The shell only moves bytes: it sends [`HttpRequest`]s and reports
//! [`Reply`]s.
//!
//! Invariants:
//! - Every record a connector creates carries the op's [`Marker`], and [`CrmOp::FindLog`] finds
//!   a record by that marker, so a retry after an unknown outcome never creates a second record.
//! - A create whose outcome is not known (timeout, network error after send, 5xx) is
//!   [`CrmError::Unknown`], never `Transient`: only the engine may decide to try again, after
//!   looking for the marker.
//! - No token appears in an error message, a `Debug` output or anything the engine sees.

pub mod clio;
pub mod common;
pub mod guard;
pub mod hubspot;
pub mod oauth;
pub mod pipedrive;
pub mod salesforce;
pub mod zoho;

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::model::{Call, Contact, CrmKind, MessageKind, RecordId, RecordType, Timestamp};
use crate::model::Message;
use crate::phone::{Country, E164};

/// The text Calltrail writes into every record it creates, derived from the call (or
/// conversation-day) and the integration, never from the attempt, so every attempt writes the
/// same marker. Shape: `calltrail:<slot key>`; connectors embed it where the CRM can find it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Marker(pub String);

impl Marker {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One logical CRM operation, independent of vendor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CrmOp {
    /// Contacts (and Leads where the CRM has them) whose phone numbers match `phone`, in
    /// whatever format the CRM stores them. Output: [`CrmOutput::Contacts`].
    SearchContacts { phone: E164 },
    /// Log a call against one contact. Output: [`CrmOutput::Created`].
    CreateCallLog { log: CallLog },
    /// Rewrite a call log made earlier (notes added after it was made). Output: [`CrmOutput::Updated`].
    UpdateCallLog { record: RecordId, log: CallLog },
    /// Find the record carrying `marker`. Output: [`CrmOutput::Found`].
    FindLog { marker: Marker, hint: LogHint },
    /// Create a placeholder contact ("New Lead - +15551234567"). Output: [`CrmOutput::Contact`].
    CreateContact { name: String, phone: E164, marker: Marker },
    /// Log one conversation-day of SMS or fax. Output: [`CrmOutput::Created`].
    CreateMessageLog { log: MessageLog },
    /// Rewrite a conversation-day log as messages arrive. Output: [`CrmOutput::Updated`].
    UpdateMessageLog { record: RecordId, log: MessageLog },
}

impl CrmOp {
    /// Whether the op changes the CRM. A write whose reply is lost has an unknown outcome.
    pub fn is_write(&self) -> bool {
        !matches!(self, CrmOp::SearchContacts { .. } | CrmOp::FindLog { .. })
    }
}

/// Where a marked record should be looked for, so a lookup can be narrow (one contact's
/// activities around a time) instead of a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogHint {
    pub what: LogWhat,
    pub contact: Option<RecordId>,
    pub contact_type: Option<RecordType>,
    pub phone: Option<E164>,
    /// The call's start or the conversation day's first message.
    pub at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogWhat {
    Call,
    Messages,
    Contact,
}

/// A call log as the engine wants it written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallLog {
    pub marker: Marker,
    pub contact: Contact,
    pub call: Call,
    /// When the log goes out, as far as another place of the rep logging the same leg goes.
    #[serde(default, skip_serializing_if = "Timing::is_at_hang_up")]
    pub timing: Timing,
}

/// When a call log goes out, relative to the other places of the rep (a second browser, the
/// server) that may log the same leg: what a CRM's guard against a second record can skip
/// (`docs/shared-calls.md`, "One record per leg and CRM").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Near the hang-up, when another place may be creating the same record at this moment.
    #[default]
    AtHangUp,
    /// One search lag or more after the call ended (a browser that slept or was offline, a
    /// delayed pick, a manual log): a record another place made at the hang-up is visible to a
    /// lagging search by now, so a CRM without an exact marker lookup looks for it before
    /// creating ([`guard::searched`]). A log sent sooner skips a search that could not see
    /// such a record yet.
    Late,
    /// The device that carried the leg logs it within its head start
    /// ([`crate::engine::shared::CARRIER_HEAD_START_MS`]), while every other place waits longer than
    /// that ([`crate::engine::shared::OTHERS_WAIT_MS`]): no other record of the leg can exist yet, so a
    /// CRM whose check for one costs a request of its own ([`Capabilities::carrier_first`])
    /// skips it.
    Carrier,
}

impl Timing {
    pub fn is_at_hang_up(&self) -> bool {
        *self == Timing::AtHangUp
    }
}

/// One conversation-day of messages with one contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageLog {
    pub marker: Marker,
    pub contact: Contact,
    pub kind: MessageKind,
    /// The conversation day, `YYYY-MM-DD`, in the rep's settings' day boundary.
    pub day: String,
    pub their_number: E164,
    pub our_number: Option<E164>,
    /// Every message of the day so far, oldest first.
    pub messages: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CrmOutput {
    Contacts { contacts: Vec<Contact> },
    Created { record: RecordId, url: Option<String> },
    Updated,
    Found { record: Option<RecordId> },
    Contact { contact: Contact },
}

/// A CRM failure, classified so the engine can decide what happens next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum CrmError {
    /// Too many requests: wait `retry_after_ms` when the CRM said, else back off.
    #[error("rate limited: {message}")]
    RateLimited { retry_after_ms: Option<i64>, message: String },
    /// Credentials missing, expired or revoked: park the integration until they change.
    #[error("not authorised: {message}")]
    Unauthorized { message: String },
    /// Known not to have taken effect, and worth trying again later (5xx on a read, offline).
    #[error("temporary failure: {message}")]
    Transient { message: String },
    /// The CRM refused the request for a reason retrying will not fix (400, 403, 404).
    #[error("refused: {message}")]
    Permanent { message: String },
    /// A write may or may not have taken effect (timeout, reply lost, 5xx on a create).
    #[error("outcome unknown: {message}")]
    Unknown { message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Debug leaves authorisation headers out, so a request can be logged without leaking a token.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = is_secret_header(k);
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &headers)
            .field("body", &self.body.as_deref().map(redact_form_body))
            .finish()
    }
}

fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization" || n.contains("token") || n.contains("api-key") || n == "cookie"
}

/// A form-encoded body with the values of secret fields replaced: OAuth token requests carry
/// the refresh token, the client secret, the code and the PKCE verifier in the body. JSON
/// bodies (CRM records) are shown as they are.
fn redact_form_body(body: &str) -> String {
    let t = body.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return body.to_owned();
    }
    let secret = |k: &str| {
        let k = k.to_ascii_lowercase();
        k.contains("token") || k.contains("secret") || k.contains("password") || k == "code" || k == "code_verifier"
    };
    body.split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if secret(k) => format!("{k}=<redacted>"),
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The URL with the values of token-like query parameters replaced, and a token in a path
/// (HubSpot's token metadata and refresh-token revoke) too.
pub fn redact_url(url: &str) -> String {
    // HubSpot puts tokens in the path: token metadata (`/access-tokens/{token}`) and the
    // refresh-token revoke (`/refresh-tokens/{token}`).
    for seg in ["/access-tokens/", "/refresh-tokens/"] {
        if let Some((head, _)) = url.split_once(seg) {
            return format!("{head}{seg}<redacted>");
        }
    }
    let Some((base, query)) = url.split_once('?') else { return url.to_owned() };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().contains("token") || k == "key" => format!("{k}=<redacted>"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the shell reports for one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    Response(HttpResponse),
    /// No response within the shell's timeout: the request may have reached the CRM.
    TimedOut,
    /// The request failed; `sent` is false only when it provably never left (offline).
    NetworkError { sent: bool, message: String },
}

/// One request and its reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: HttpRequest,
    pub reply: Reply,
}

/// What a connector decides next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Send(HttpRequest),
    Done(Result<CrmOutput, CrmError>),
}

/// A secret (API token or OAuth access token). Its Debug and Display never show it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for building a request header. Never format it anywhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything a connector needs to build requests for one integration.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub kind: CrmKind,
    /// The API base URL without a trailing slash: `https://api.hubapi.com`,
    /// `https://acme.my.salesforce.com`, `https://www.zohoapis.eu`, or the emulator's.
    pub base_url: String,
    /// API token or OAuth access token, as the CRM expects it in its auth header.
    pub token: Secret,
    /// Whether `token` is an OAuth access token (Pipedrive sends those as `Bearer`, its API
    /// tokens as `x-api-token`).
    pub oauth: bool,
    pub default_country: Country,
    /// A field the CRM's admin made unique on its call object, which call logs carry the marker
    /// in so the CRM refuses a second record with it (`IntegrationSettings::marker_field`).
    pub marker_field: Option<String>,
    /// The CRM user id every record is created with as its owner (`hubspot_owner_id`,
    /// Pipedrive `owner_id`/`user_id`, Salesforce `OwnerId`, Zoho `Owner`, a Clio `User`
    /// party); `None` leaves the owner to the CRM.
    pub owner: Option<String>,
}

impl Connection {
    /// A connection with an API token and no owner.
    pub fn new(kind: CrmKind, base_url: impl Into<String>, token: Secret, default_country: Country) -> Connection {
        Connection { kind, base_url: base_url.into(), token, oauth: false, default_country, marker_field: None, owner: None }
    }
}

/// A CRM user: who a connection acts as, and whose id goes in owner fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmUser {
    /// The id owner fields take (HubSpot's owner id, not its user id).
    pub id: String,
    pub name: String,
    pub email: String,
}

/// A step of finding who a connection acts as ([`identify`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Who {
    Send(HttpRequest),
    /// The user, `Ok(None)` when there is none to own records (a shared token and no email,
    /// or no CRM user with it).
    Done(Result<Option<CrmUser>, CrmError>),
}

impl From<Step> for Who {
    fn from(s: Step) -> Who {
        match s {
            Step::Send(r) => Who::Send(r),
            Step::Done(Err(e)) => Who::Done(Err(e)),
            Step::Done(Ok(_)) => Who::Done(Ok(None)),
        }
    }
}

/// The next step of finding who `conn` acts as, from the vendor's current-user endpoint
/// (HubSpot token info then owners, Pipedrive `users/me`, Salesforce `userinfo`, Zoho
/// `users?type=CurrentUser`, Clio `who_am_i`). `email`: the rep's, for a token shared by
/// several people (a HubSpot private app), mapped to the CRM user with that email.
pub fn identify(conn: &Connection, email: &str, history: &[Exchange]) -> Who {
    match conn.kind {
        CrmKind::HubSpot => hubspot::identify(conn, email, history),
        CrmKind::Pipedrive => pipedrive::identify(conn, history),
        CrmKind::Salesforce => salesforce::identify(conn, history),
        CrmKind::Zoho => zoho::identify(conn, history),
        CrmKind::Clio => clio::identify(conn, history),
    }
}

/// The next step of `op` for the CRM of `conn`, given the exchanges so far (empty at first).
pub fn step(conn: &Connection, op: &CrmOp, history: &[Exchange]) -> Step {
    match conn.kind {
        CrmKind::HubSpot => hubspot::step(conn, op, history),
        CrmKind::Pipedrive => pipedrive::step(conn, op, history),
        CrmKind::Salesforce => salesforce::step(conn, op, history),
        CrmKind::Zoho => zoho::step(conn, op, history),
        CrmKind::Clio => clio::step(conn, op, history),
    }
}

/// What the engine must know about a CRM's abilities to keep its promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `FindLog` reads an exact key (no search index), so "not found" is authoritative at once.
    /// Otherwise the engine waits out `search_lag_ms` after an unknown create before believing it.
    pub exact_marker_lookup: bool,
    pub search_lag_ms: i64,
    /// Whether call notes are rendered as HTML (and so must be escaped).
    pub html_notes: bool,
    /// Whether the CRM can update a call log after it was created.
    pub updatable_call_logs: bool,
    /// The check for another place's record of a call log is a request of its own (no batch
    /// API to ride in): the device that carried the leg logs first and skips it
    /// ([`Timing::Carrier`]), and a place that only heard of the call through presence waits
    /// for it ([`crate::engine::shared::OTHERS_WAIT_MS`]) before logging with the check.
    pub carrier_first: bool,
}

/// [`capabilities`] of an integration whose admin made a unique marker field
/// (`marker_field`): HubSpot then reads a call by it exactly (`idProperty`), without the
/// search index's lag. The others' lookups do not change.
pub fn capabilities_with(kind: CrmKind, marker_field: bool) -> Capabilities {
    let caps = capabilities(kind);
    match kind {
        CrmKind::HubSpot if marker_field => Capabilities { exact_marker_lookup: true, search_lag_ms: 0, ..caps },
        _ => caps,
    }
}

pub fn capabilities(kind: CrmKind) -> Capabilities {
    match kind {
        // Calls carry the marker in `hs_call_external_id`, found through the calls search API,
        // which is eventually consistent; `hs_call_body` is HTML.
        CrmKind::HubSpot => Capabilities { exact_marker_lookup: false, search_lag_ms: 60_000, html_notes: true, updatable_call_logs: true, carrier_first: false },
        // Tasks carry the marker in `CallObject`, found by SOQL (no search index); Description is plain text.
        CrmKind::Salesforce => Capabilities { exact_marker_lookup: true, search_lag_ms: 0, html_notes: false, updatable_call_logs: true, carrier_first: false },
        // Activities and notes carry the marker in their HTML; FindLog scans the person's list
        // (person_id + updated_since, a plain list, not a search index) but it is a scan, not a
        // key. Call logs are updatable because they are activities, not /v1/callLogs.
        CrmKind::Pipedrive => Capabilities { exact_marker_lookup: false, search_lag_ms: 30_000, html_notes: true, updatable_call_logs: true, carrier_first: false },
        // The marker is in Description, found through /search criteria (index-backed, lags);
        // Description is plain text.
        CrmKind::Zoho => Capabilities { exact_marker_lookup: false, search_lag_ms: 60_000, html_notes: false, updatable_call_logs: true, carrier_first: false },
        // Communications carry the marker as an external property, found with the exact
        // external_property_name/value filter; bodies are plain text.
        CrmKind::Clio => Capabilities { exact_marker_lookup: true, search_lag_ms: 0, html_notes: false, updatable_call_logs: true, carrier_first: true },
    }
}
