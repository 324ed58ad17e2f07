//! Helpers every connector shares: output encoding, JSON reading, URL encoding, phone variants,
//! rate-limit headers, error classification, the one-request step, duration formatting and the
//! plain-text pieces of call and conversation-day logs.
//!
//! Everything here is pure and vendor-neutral. A connector keeps its vendor's quirks (which
//! status means "rate limited", which body shape carries the message) in its own file and uses
//! these functions for the rest, so every CRM classifies failures the same way.
//!
//! Invariants:
//! - Text that came from a person or a page is escaped by [`escape_html`] before it reaches an
//!   HTML field; [`notes_html`] builds the only markup we send.
//! - Every error message built here goes through [`scrub`]: a token never reaches a
//!   [`CrmError`], whatever the CRM echoes back.
//! - A write whose outcome is not known is [`CrmError::Unknown`], never `Transient`.

use serde_json::Value;

use super::{
    CallLog, Connection, CrmError, CrmOp, CrmOutput, CrmUser, Exchange, HttpRequest, HttpResponse, MessageLog, Method, Reply, Secret,
    Step,
};
use crate::civil;
use crate::model::{Call, Direction, Message, MessageKind, RecordId, Timestamp};
use crate::phone::E164;

/// Longest CRM-supplied text kept in an error message, in characters.
pub const MAX_ERROR_DETAIL: usize = 300;

// ---------------------------------------------------------------------------------------------
// Output encoding

/// `s` with `& < > " '` replaced by entities: safe as HTML text and inside quoted attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text (notes, SMS) as HTML we control: blank-line-separated paragraphs become `<p>`,
/// single line breaks `<br>`, and every character of the text is escaped. Control characters
/// other than line breaks and tabs are dropped. Empty or blank text gives an empty string.
pub fn notes_html(text: &str) -> String {
    let text = strip_controls(text).replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::new();
    for para in text.split("\n\n") {
        let lines: Vec<&str> = para.split('\n').map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            continue;
        }
        out.push_str("<p>");
        let escaped: Vec<String> = lines.iter().map(|l| escape_html(l)).collect();
        out.push_str(&escaped.join("<br>"));
        out.push_str("</p>");
    }
    out
}

/// `text` without control characters other than `\n`, `\r` and `\t`.
pub fn strip_controls(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).collect()
}

/// At most `max_chars` characters of `s`; when cut, the last kept character is `…`.
pub fn truncate_chars(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

/// An `https:` or `http:` URL, else `None`: a recording link from the page must not become a
/// `javascript:` link in a CRM.
pub fn safe_link(url: &str) -> Option<&str> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(u)
}

// ---------------------------------------------------------------------------------------------
// URL encoding

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`), so the
/// result is safe in a path segment, a query value and a form body.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k1=v1&k2=v2` with both sides encoded by [`encode_component`]: a query string or an
/// `application/x-www-form-urlencoded` body.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------------------------------------
// Requests and steps

/// A GET of `base_url` + `path` with `query` form-encoded, and the given headers.
pub fn get_request(base_url: &str, path: &str, query: &[(&str, String)], headers: Vec<(String, String)>) -> HttpRequest {
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    HttpRequest { method: Method::Get, url: format!("{base_url}{path}?{}", form_encode(&pairs)), headers, body: None }
}

/// A request to `url` with [`json_headers`] and, when there is one, `body` as JSON text.
pub fn json_request(method: Method, url: String, authorization: &str, body: Option<&Value>) -> HttpRequest {
    HttpRequest { method, url, headers: json_headers(authorization, body.is_some()), body: body.map(Value::to_string) }
}

/// The end of a marker lookup: the id of the record found, if one was.
pub fn found(id: Option<String>) -> Step {
    Step::Done(Ok(CrmOutput::Found { record: id.map(RecordId::new) }))
}

/// The steps of an operation that is one request and one reply: send `build()` first, then
/// finish with what `finish` makes of the reply (classification and parsing).
pub fn one_shot(
    history: &[Exchange],
    build: impl FnOnce() -> HttpRequest,
    finish: impl FnOnce(&Reply) -> Result<CrmOutput, CrmError>,
) -> Step {
    match history.last() {
        None => Step::Send(build()),
        Some(ex) => Step::Done(finish(&ex.reply)),
    }
}

/// A step, or an error that ends the op: what a connector's multi-request flow returns, so
/// that it can use `?` on every reply it reads.
pub type Flow = Result<Step, CrmError>;

/// The step `flow` stands for: an error ends the op with that error.
pub fn settle(flow: Flow) -> Step {
    flow.unwrap_or_else(|e| Step::Done(Err(e)))
}

/// The steps of a write that is one request, for connectors that may refuse an op before
/// sending anything (a record id that is not a number): send `build()` first, then finish with
/// what `finish` makes of the exchange (its reply, and the request's method where that decides).
pub fn one_write(
    history: &[Exchange],
    build: impl FnOnce() -> Result<HttpRequest, CrmError>,
    finish: impl FnOnce(&Exchange) -> Result<CrmOutput, CrmError>,
) -> Step {
    match history.first() {
        None => build().map_or_else(|e| Step::Done(Err(e)), Step::Send),
        Some(ex) => Step::Done(finish(ex)),
    }
}

/// Request headers for a JSON API: the authorization header value as given, `Accept`, and
/// `Content-Type` when the request has a JSON body.
pub fn json_headers(authorization: &str, has_body: bool) -> Vec<(String, String)> {
    let mut h = vec![
        ("Authorization".to_owned(), authorization.to_owned()),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    if has_body {
        h.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    h
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The body as JSON, or a short reason it is not.
pub fn parse_json(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("response is not valid JSON ({e})"))
}

/// The string at a JSON pointer (`/results/0/id`).
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The value at a JSON pointer as a string when it is a string or a number (ids are strings in
/// some CRMs and integers in others). Empty strings and nulls are `None`.
pub fn string_at(v: &Value, pointer: &str) -> Option<String> {
    value_string(v.pointer(pointer)?)
}

/// A string or number value as a string; `None` for anything else or an empty string.
pub fn value_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The integer at a JSON pointer, when it is a number or a string of digits.
pub fn i64_at(v: &Value, pointer: &str) -> Option<i64> {
    match v.pointer(pointer)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The timestamp at a JSON pointer, in any format [`parse_timestamp`] reads.
pub fn timestamp_at(v: &Value, pointer: &str) -> Option<Timestamp> {
    match v.pointer(pointer)? {
        Value::String(s) => parse_timestamp(s),
        Value::Number(n) => n.as_i64().map(Timestamp),
        _ => None,
    }
}

/// Reads the timestamp formats the CRMs use: RFC 3339 (`2024-05-01T10:00:00.000Z`, with any
/// offset), Salesforce's `2024-05-01T10:00:00.000+0000`, Pipedrive v1's UTC
/// `2024-05-01 10:00:00`, and epoch milliseconds.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(Timestamp(ms));
    }
    civil::parse(s, civil::Offset::Optional).map(Timestamp)
}

/// RFC 3339 to the second in UTC (`2026-03-08T06:50:00Z`): Clio's "ISO-8601 date-time",
/// Pipedrive's `updated_since`, a SOQL datetime literal.
pub fn rfc3339_secs(t: Timestamp) -> String {
    civil::rfc3339_secs(t.0).unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// The UTC calendar date of `t`, `YYYY-MM-DD`.
pub fn utc_date(t: Timestamp) -> String {
    civil::date(t.0).unwrap_or_else(|| "1970-01-01".to_owned())
}

/// The UTC time of day of `t`, `HH:MM`.
pub fn utc_time(t: Timestamp) -> String {
    civil::hour_minute(t.0).unwrap_or_else(|| "00:00".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

/// Splits an E.164 number into its country calling code and national significant number, by
/// the ITU's prefix-free assignment of 1-, 2- and 3-digit codes. Only string slicing of
/// [`E164::as_str`], so it does not depend on the phone module's richer API.
pub fn split_country_code(number: &E164) -> (&str, &str) {
    let digits = number.as_str().trim_start_matches('+');
    let len = calling_code_len(digits).min(digits.len());
    digits.split_at(len)
}

/// The national significant number (`+12125550100` → `2125550100`).
pub fn national_digits(number: &E164) -> &str {
    split_country_code(number).1
}

fn calling_code_len(digits: &str) -> usize {
    let b = digits.as_bytes();
    if b.is_empty() {
        return 0;
    }
    if matches!(b[0], b'1' | b'7') {
        return 1;
    }
    if b.len() < 2 {
        return b.len();
    }
    let two = &digits[..2];
    const TWO_DIGIT: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if TWO_DIGIT.contains(&two) {
        2
    } else {
        3
    }
}

/// The ways people commonly type `number` into a CRM, E.164 first, without duplicates: for
/// NANP numbers `+1 (212) 555-0100`, `212-555-0100`, `212.555.0100` and the like; elsewhere the
/// `00` international form and the national form with a trunk `0`. Used where a CRM only
/// matches the stored string exactly; results are always re-verified with `phone::matches`.
pub fn phone_variants(number: &E164) -> Vec<String> {
    let (cc, nat) = split_country_code(number);
    let mut v: Vec<String> = vec![number.as_str().to_owned()];
    if cc == "1" && nat.len() == 10 {
        let (a, b, c) = (&nat[..3], &nat[3..6], &nat[6..]);
        v.extend([
            nat.to_owned(),
            format!("1{nat}"),
            format!("({a}) {b}-{c}"),
            format!("{a}-{b}-{c}"),
            format!("{a}.{b}.{c}"),
            format!("{a} {b} {c}"),
            format!("+1 {a}-{b}-{c}"),
            format!("+1 ({a}) {b}-{c}"),
            format!("+1 {a} {b} {c}"),
            format!("1-{a}-{b}-{c}"),
            format!("1 ({a}) {b}-{c}"),
        ]);
    } else {
        v.extend([format!("00{cc}{nat}"), format!("+{cc} {nat}"), format!("0{nat}"), nat.to_owned()]);
    }
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v
}

// ---------------------------------------------------------------------------------------------
// Rate limits

/// `Retry-After` in milliseconds when it is a number of seconds: RFC 9110's delta-seconds, or
/// with a fraction (`0.5`) as some gateways send, rounded up to the next millisecond. The
/// HTTP-date form needs a clock, which connectors do not have, so it gives `None`, as does
/// anything else (a sign, an exponent, a number of seconds past a million years). Read by hand:
/// `f64`'s parser was 2 KB of the wasm for this one header.
pub fn retry_after_ms(resp: &HttpResponse) -> Option<i64> {
    let v = resp.header("retry-after")?.trim();
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 13 || !digits(whole) || !digits(frac) || (v.contains('.') && frac.is_empty()) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    // The fraction's first three digits (padded with zeros) are the milliseconds; any other
    // digit but zero rounds up.
    let ms = frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0, |ms, d| ms * 10 + i64::from(d - b'0'));
    let round_up = i64::from(frac.bytes().skip(3).any(|d| d != b'0'));
    Some(secs * 1000 + ms + round_up)
}

/// A header's value as an integer.
pub fn header_i64(resp: &HttpResponse, name: &str) -> Option<i64> {
    resp.header(name)?.trim().parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Error classification

/// Whether a request is a read (safe to repeat: its failure is `Transient`) or a write (a lost
/// reply leaves the outcome `Unknown`). A search sent with POST is still a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    /// The access of an op's writing request; reads inside a write op (a lookup before the
    /// create) should pass [`Access::Read`] explicitly.
    pub fn of(op: &CrmOp) -> Access {
        if op.is_write() {
            Access::Write
        } else {
            Access::Read
        }
    }
}

/// `text` with the secret, and anything following `Bearer `/`Zoho-oauthtoken `/`token=`,
/// replaced by `<redacted>`.
pub fn scrub(text: &str, secret: &Secret) -> String {
    let s = secret.expose();
    let text = if s.len() >= 4 { text.replace(s, "<redacted>") } else { text.to_owned() };
    redact_after(&text, &["Bearer ", "bearer ", "Zoho-oauthtoken ", "token=", "access_token\":\"", "refresh_token\":\""], &[])
}

/// `text` with whatever follows each of `prefixes`, up to white space, a quote or one of
/// `"&,}'` (and `stops`), replaced by `<redacted>`. Every index it slices at is a char boundary
/// (the end of a prefix, or a delimiter `find` stopped at), whatever the text: a CRM's error in
/// any script cannot make it panic.
pub fn redact_after(text: &str, prefixes: &[&str], stops: &[char]) -> String {
    const R: &str = "<redacted>";
    let mut out = text.to_owned();
    for prefix in prefixes {
        let mut from = 0;
        while let Some(i) = out.get(from..).and_then(|rest| rest.find(prefix)) {
            let start = from + i + prefix.len();
            let end = out[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '&' | ',' | '}' | '\'') || stops.contains(&c))
                .map_or(out.len(), |j| start + j);
            from = if end > start && &out[start..end] != R {
                out.replace_range(start..end, R);
                start + R.len()
            } else {
                end
            };
        }
    }
    out
}

/// The CRM's own words from an error body, whatever its shape: HubSpot `{message, category}`,
/// Salesforce `[{message, errorCode}]`, Zoho `{code, message}` or `{data:[{code, message}]}`,
/// Clio `{error:{type, message}}`, Pipedrive `{error, error_info}`, OAuth
/// `{error, error_description}`, or a short non-JSON body. Truncated; not yet scrubbed.
pub fn vendor_message(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(v) => message_of(&v).unwrap_or_default(),
        Err(_) => {
            let t = body.trim();
            if t.starts_with('<') {
                String::new() // an HTML error page says nothing a rep can act on
            } else {
                t.to_owned()
            }
        }
    };
    truncate_chars(text.split_whitespace().collect::<Vec<_>>().join(" ").as_str(), MAX_ERROR_DETAIL)
}

fn message_of(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) => items.first().and_then(message_of),
        Value::Object(o) => {
            if let Some(d) = o.get("data").filter(|d| d.is_array()) {
                if let Some(m) = message_of(d) {
                    return Some(m);
                }
            }
            if let Some(e) = o.get("error").filter(|e| e.is_object()) {
                return message_of(e);
            }
            let code = ["errorCode", "code", "category", "type"]
                .iter()
                .find_map(|k| o.get(*k).and_then(value_string));
            let msg = ["message", "error_description", "error_info", "error", "errorMessage"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                .map(str::to_owned);
            match (code, msg) {
                (Some(c), Some(m)) if !m.contains(&c) => Some(format!("{c}: {m}")),
                (_, Some(m)) => Some(m),
                (Some(c), None) => Some(c),
                (None, None) => None,
            }
        }
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The error for a transport failure (no HTTP response), or `None` for a response.
/// A timeout or a failure after sending is `Unknown` for a write and `Transient` for a read;
/// a failure provably before sending is `Transient` either way.
pub fn transport_error(reply: &Reply, access: Access, crm: &str) -> Option<CrmError> {
    match reply {
        Reply::Response(_) => None,
        Reply::TimedOut => Some(match access {
            Access::Write => CrmError::Unknown { message: format!("{crm} did not answer in time; the record may have been written") },
            Access::Read => CrmError::Transient { message: format!("{crm} did not answer in time") },
        }),
        Reply::NetworkError { sent: false, .. } => {
            Some(CrmError::Transient { message: format!("could not reach {crm} (offline?); nothing was sent") })
        }
        Reply::NetworkError { sent: true, .. } => Some(match access {
            Access::Write => CrmError::Unknown { message: format!("the connection to {crm} failed after sending; the record may have been written") },
            Access::Read => CrmError::Transient { message: format!("the connection to {crm} failed") },
        }),
    }
}

/// The error class of an HTTP status that is not a success, by the shared policy:
/// 429 → `RateLimited`; 401 → `Unauthorized`; 408 and 5xx → `Transient` for reads, `Unknown`
/// for writes; any other status (3xx, 400, 403, 404, 409, 422 ...) → `Permanent`.
/// `message` should already be scrubbed.
pub fn classify_status(status: u16, access: Access, retry_after_ms: Option<i64>, message: String) -> CrmError {
    match status {
        429 => CrmError::RateLimited { retry_after_ms, message },
        401 => CrmError::Unauthorized { message },
        408 | 500..=599 => match access {
            Access::Read => CrmError::Transient { message },
            Access::Write => CrmError::Unknown { message },
        },
        _ => CrmError::Permanent { message },
    }
}

/// `"<crm> <status>: <vendor message>"` (or a generic phrase for the status when the CRM said
/// nothing useful), scrubbed of the secret.
pub fn status_message(crm: &str, resp: &HttpResponse, secret: &Secret) -> String {
    let detail = vendor_message(&resp.body);
    let detail = if detail.is_empty() { status_phrase(resp.status).to_owned() } else { detail };
    scrub(&format!("{crm} {}: {detail}", resp.status), secret)
}

fn status_phrase(status: u16) -> &'static str {
    match status {
        300 => "several records match",
        400 => "the request was rejected",
        401 => "the credentials were rejected; reconnect the integration",
        403 => "permission denied; check the integration user's access",
        404 => "not found",
        409 => "conflict",
        429 => "too many requests",
        500..=599 => "server error",
        _ => "unexpected response",
    }
}

/// The generic error for a non-2xx response: [`classify_status`] with `Retry-After` and
/// [`status_message`]. Connectors check their vendor's special cases first.
pub fn http_error(resp: &HttpResponse, access: Access, crm: &str, secret: &Secret) -> CrmError {
    classify_status(resp.status, access, retry_after_ms(resp), status_message(crm, resp, secret))
}

/// The response when the reply is a 2xx, else its classified error by the shared rules
/// ([`http_error`]).
pub fn success<'a>(reply: &'a Reply, access: Access, crm: &str, secret: &Secret) -> Result<&'a HttpResponse, CrmError> {
    success_by(reply, access, crm, |r| http_error(r, access, crm, secret))
}

/// The response when the reply is a 2xx, else its classified error: a transport failure by
/// [`transport_error`], the same for every CRM, and a non-2xx response by `refused`, the
/// connector's own rules.
pub fn success_by<'a>(
    reply: &'a Reply,
    access: Access,
    crm: &str,
    refused: impl FnOnce(&HttpResponse) -> CrmError,
) -> Result<&'a HttpResponse, CrmError> {
    if let Some(e) = transport_error(reply, access, crm) {
        return Err(e);
    }
    match reply {
        Reply::Response(r) if (200..300).contains(&r.status) => Ok(r),
        Reply::Response(r) => Err(refused(r)),
        _ => Err(CrmError::Transient { message: format!("no response from {crm}") }),
    }
}

/// How a connector whose ops are mostly one request and one reply reads those replies: its
/// name in messages, and what a non-2xx response means to it (which status or vendor code is
/// a spent rate limit, an expired session...). One set of rules per connector, so every op of
/// the connector classifies failures the same way.
#[derive(Clone, Copy)]
pub struct ReplyRules {
    pub crm: &'static str,
    pub refused: fn(&Connection, &HttpResponse, Access) -> CrmError,
}

impl ReplyRules {
    /// The 2xx response, or the reply classified by these rules.
    pub fn ok_response<'a>(&self, conn: &Connection, reply: &'a Reply, access: Access) -> Result<&'a HttpResponse, CrmError> {
        success_by(reply, access, self.crm, |r| (self.refused)(conn, r, access))
    }

    /// The steps of a one-request op: sends `build()` first; then classifies the one reply by
    /// these rules and parses a success with `parse`.
    pub fn one_shot(
        &self,
        conn: &Connection,
        history: &[Exchange],
        access: Access,
        build: impl FnOnce() -> HttpRequest,
        parse: impl FnOnce(&HttpResponse) -> Result<CrmOutput, CrmError>,
    ) -> Step {
        one_shot(history, build, |reply| self.ok_response(conn, reply, access).and_then(parse))
    }
}

/// The CRM user at `base` in a current-user answer: its id (string or number), name and email
/// at the pointers under it.
pub fn user_at(v: &Value, id: &str, name: &str, email: &str) -> Option<CrmUser> {
    Some(CrmUser {
        id: string_at(v, id)?,
        name: string_at(v, name).unwrap_or_default(),
        email: string_at(v, email).unwrap_or_default(),
    })
}

/// The error for a 2xx whose body we cannot read: `Unknown` for a write (it probably took
/// effect, but we do not know the record), `Transient` for a read.
pub fn malformed(access: Access, crm: &str, what: &str) -> CrmError {
    let message = format!("{crm} sent a response Calltrail cannot read: {what}");
    match access {
        Access::Read => CrmError::Transient { message },
        Access::Write => CrmError::Unknown { message },
    }
}

/// The list a successful read must carry at `pointer` (`/data`, `/data/items`): a 2xx whose body
/// lacks it is the connector's error (the CRM or a proxy answered something else), never "no
/// match" and never "marker not found", which would lead to a second create.
pub fn list_at<'a>(v: &'a Value, pointer: &str, crm: &str) -> Result<&'a [Value], CrmError> {
    match v.pointer(pointer) {
        Some(Value::Array(a)) => Ok(a),
        _ => Err(malformed(Access::Read, crm, &format!("no {} list in the reply", pointer.trim_start_matches('/')))),
    }
}

/// The 2xx body as JSON, or [`malformed`].
pub fn json_body(resp: &HttpResponse, access: Access, crm: &str) -> Result<Value, CrmError> {
    parse_json(&resp.body).map_err(|why| malformed(access, crm, &why))
}

// ---------------------------------------------------------------------------------------------
// Durations and labels

/// A talk time a person reads: `45s`, `2m 05s`, `1h 02m 05s`.
pub fn duration_words(secs: i64) -> String {
    let s = secs.max(0);
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// `MM:SS`, minutes unbounded (`75:05` for 1 h 15 min 5 s): Zoho's `Call_Duration`.
pub fn duration_mm_ss(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// `HH:MM`, rounded up to the next whole minute so a short call never reads `00:00`:
/// Pipedrive's activity `duration`.
pub fn duration_hh_mm(secs: i64) -> String {
    let mins = (secs.max(0) + 59) / 60;
    format!("{:02}:{:02}", mins / 60, mins % 60)
}

/// `HH:MM:SS`.
pub fn duration_hh_mm_ss(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

/// "Inbound" / "Outbound".
pub fn direction_label(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "Inbound",
        Direction::Outbound => "Outbound",
    }
}

/// One message as a plain-text line: `14:05 UTC in: text` (`out:` for outbound). Not escaped.
pub fn message_line(m: &Message) -> String {
    let dir = match m.direction {
        Direction::Inbound => "in",
        Direction::Outbound => "out",
    };
    format!("{} UTC {dir}: {}", utc_time(m.at), strip_controls(&m.text))
}

// ---------------------------------------------------------------------------------------------
// Call log text

/// `s` on one line: control characters dropped, every run of white space one space, trimmed.
pub fn one_line(s: &str) -> String {
    strip_controls(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The call's `(from, to)` numbers: the other party called us on an inbound call, and we called
/// them on an outbound one. Ours is `None` when the softphone did not say.
pub fn from_to(call: &Call) -> (Option<&E164>, Option<&E164>) {
    match call.direction {
        Direction::Inbound => (Some(&call.their_number), call.our_number.as_ref()),
        Direction::Outbound => (call.our_number.as_ref(), Some(&call.their_number)),
    }
}

/// How a call went, as a rep reads it: `Answered · 2m 05s`. Labels and digits only, so it needs
/// no escaping in HTML.
pub fn outcome_words(call: &Call) -> String {
    format!("{} · {}", call.result.word(), duration_words(call.duration_secs()))
}

/// A plain-text call log's subject: `<what> with <contact name>`, or `<what> <their number>` for
/// a contact with no name, at most 255 characters. `what` says the kind: "Inbound call"...
pub fn call_subject(what: &str, log: &CallLog) -> String {
    let name = one_line(&log.contact.name);
    let s = if name.is_empty() { format!("{what} {}", log.call.their_number) } else { format!("{what} with {name}") };
    truncate_chars(&s, 255)
}

/// The lines of a plain-text call log after its summary line: who called whom (`unknown` for a
/// number the softphone did not give), then the rep's notes and the recording link when there
/// are any, each after a blank line.
pub fn call_detail_lines(call: &Call) -> Vec<String> {
    let (from, to) = from_to(call);
    let num = |n: Option<&E164>| n.map_or("unknown", |n| n.as_str()).to_owned();
    let mut lines = vec![format!("From {} to {}", num(from), num(to))];
    let notes = strip_controls(&call.notes);
    if !notes.trim().is_empty() {
        lines.push(String::new());
        lines.push(notes.trim().to_owned());
    }
    lines.extend(call_extra_lines(call));
    lines
}

/// What a softphone handed over beyond the call itself, in the order a log shows it: the
/// recording and voicemail links (`http(s)` only), then the AI note and the transcript. As
/// plain-text lines, each piece after a blank line (`Recording: <url>`, or the label on its own
/// line and the text under it), or with `html` as our own HTML with every text escaped.
fn call_extras(call: &Call, html: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (label, url) in [("Recording", &call.recording_url), ("Voicemail", &call.voicemail_url)] {
        if let Some(u) = url.as_deref().and_then(safe_link) {
            if html {
                let u = escape_html(u);
                out.push(format!("<p>{label}: <a href=\"{u}\">{u}</a></p>"));
            } else {
                out.extend([String::new(), format!("{label}: {u}")]);
            }
        }
    }
    for (label, text) in [("AI note", &call.ai_note), ("Transcript", &call.transcript)] {
        if let Some(t) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            if html {
                out.push(format!("<p><b>{label}</b></p>{}", notes_html(t)));
            } else {
                out.extend([String::new(), format!("{label}:"), strip_controls(t).replace("\r\n", "\n")]);
            }
        }
    }
    out
}

/// [`call_extras`] as plain-text lines.
pub fn call_extra_lines(call: &Call) -> Vec<String> {
    call_extras(call, false)
}

/// [`call_extras`] as our own HTML.
pub fn call_extras_html(call: &Call) -> String {
    call_extras(call, true).concat()
}

// ---------------------------------------------------------------------------------------------
// Conversation-day text

/// "SMS" or "Fax", as a heading or a subject names the kind.
pub fn kind_label(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Sms => "SMS",
        MessageKind::Fax => "Fax",
    }
}

/// A plain-text conversation-day: a heading line (`SMS conversation with <their number> on
/// <day>`), a blank line, then one [`message_line`] per message. Not escaped.
pub fn messages_lines(log: &MessageLog) -> Vec<String> {
    let mut lines = vec![format!("{} conversation with {} on {}", kind_label(log.kind), log.their_number, log.day), String::new()];
    lines.extend(log.messages.iter().map(message_line));
    lines
}

/// A plain-text conversation-day's subject: `SMS with <contact name> · <day>`, or their number
/// for a contact with no name, at most 255 characters.
pub fn messages_subject(log: &MessageLog) -> String {
    let name = one_line(&log.contact.name);
    let who = if name.is_empty() { log.their_number.as_str().to_owned() } else { name };
    truncate_chars(&format!("{} with {who} · {}", kind_label(log.kind), log.day), 255)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::Country;

    fn e164(s: &str) -> E164 {
        E164::parse(s, Country::US).unwrap()
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.into(),
        }
    }

    #[test]
    fn escape_html_table() {
        let cases = [
            ("plain", "plain"),
            ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("<img src=x onerror=\"a('b')\">", "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;"),
            ("Tom & Jerry", "Tom &amp; Jerry"),
            ("&amp;", "&amp;amp;"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(escape_html(input), want, "{input}");
        }
    }

    #[test]
    fn notes_html_table() {
        let cases = [
            ("", ""),
            ("  \n\n ", ""),
            ("one line", "<p>one line</p>"),
            ("a\nb", "<p>a<br>b</p>"),
            ("a\r\nb\n\nc", "<p>a<br>b</p><p>c</p>"),
            ("<b>x</b>\n\n\n\ny", "<p>&lt;b&gt;x&lt;/b&gt;</p><p>y</p>"),
            ("bell\u{7}s", "<p>bells</p>"),
        ];
        for (input, want) in cases {
            assert_eq!(notes_html(input), want, "{input:?}");
        }
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ééééé", 4).chars().count(), 4);
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn safe_link_allows_only_http() {
        assert_eq!(safe_link(" https://x.test/a.mp3 "), Some("https://x.test/a.mp3"));
        assert_eq!(safe_link("javascript:alert(1)"), None);
        assert_eq!(safe_link("https://x.test/a b"), None);
    }

    #[test]
    fn encodes_components_and_forms() {
        assert_eq!(encode_component("a b+c/d?é"), "a%20b%2Bc%2Fd%3F%C3%A9");
        assert_eq!(form_encode(&[("grant_type", "refresh_token"), ("x", "a&b=c")]), "grant_type=refresh_token&x=a%26b%3Dc");
    }

    #[test]
    fn reads_json_values() {
        let v: Value = serde_json::json!({"a": [{"id": 12, "s": "x", "n": "42", "e": ""}]});
        assert_eq!(string_at(&v, "/a/0/id").as_deref(), Some("12"));
        assert_eq!(string_at(&v, "/a/0/s").as_deref(), Some("x"));
        assert_eq!(string_at(&v, "/a/0/e"), None);
        assert_eq!(i64_at(&v, "/a/0/n"), Some(42));
        assert_eq!(str_at(&v, "/a/0/missing"), None);
    }

    #[test]
    fn parses_crm_timestamps() {
        let want = Some(Timestamp(1_714_557_600_000)); // 2024-05-01T10:00:00Z
        for s in ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000Z", "2024-05-01T10:00:00.000+0000", "2024-05-01T12:00:00+02:00", "2024-05-01 10:00:00", "1714557600000"] {
            assert_eq!(parse_timestamp(s), want, "{s}");
        }
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(utc_date(Timestamp(1_714_557_600_000)), "2024-05-01");
        assert_eq!(utc_time(Timestamp(1_714_557_600_000)), "10:00");
    }

    #[test]
    fn splits_calling_codes() {
        let cases = [
            ("+12125550100", "1", "2125550100"),
            ("+442079460958", "44", "2079460958"),
            ("+74951234567", "7", "4951234567"),
            ("+353861234567", "353", "861234567"),
            ("+4915112345678", "49", "15112345678"),
            ("+61212345678", "61", "212345678"),
        ];
        for (n, cc, nat) in cases {
            let e = E164::try_from(n.to_owned()).unwrap();
            assert_eq!(split_country_code(&e), (cc, nat), "{n}");
            assert_eq!(national_digits(&e), nat);
        }
    }

    #[test]
    fn phone_variants_start_with_e164_and_are_unique() {
        for n in ["+12125550100", "+442079460958"] {
            let e = E164::try_from(n.to_owned()).unwrap();
            let v = phone_variants(&e);
            assert_eq!(v[0], n);
            let unique: std::collections::HashSet<_> = v.iter().collect();
            assert_eq!(unique.len(), v.len());
        }
        let v = phone_variants(&e164("+12125550100"));
        assert!(v.contains(&"(212) 555-0100".to_owned()));
        assert!(v.contains(&"212.555.0100".to_owned()));
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(retry_after_ms(&resp(429, &[("retry-after", "10")], "")), Some(10_000));
        assert_eq!(retry_after_ms(&resp(429, &[("Retry-After", "0.5")], "")), Some(500));
        assert_eq!(retry_after_ms(&resp(429, &[("retry-after", " 2.25 ")], "")), Some(2_250));
        assert_eq!(retry_after_ms(&resp(429, &[("retry-after", "1.0001")], "")), Some(1_001), "rounds up");
        assert_eq!(retry_after_ms(&resp(429, &[("retry-after", "1.0000")], "")), Some(1_000));
        assert_eq!(retry_after_ms(&resp(429, &[("retry-after", "0")], "")), Some(0));
        for bad in ["", ".5", "5.", "-1", "+1", "1e3", "inf", "NaN", "1.2.3", "١", "99999999999999"] {
            assert_eq!(retry_after_ms(&resp(429, &[("retry-after", bad)], "")), None, "{bad:?}");
        }
        assert_eq!(retry_after_ms(&resp(429, &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], "")), None);
        assert_eq!(retry_after_ms(&resp(429, &[], "")), None);
    }

    #[test]
    fn vendor_message_reads_every_shape() {
        let cases = [
            (r#"{"status":"error","message":"Property values were not valid","category":"VALIDATION_ERROR"}"#, "VALIDATION_ERROR: Property values were not valid"),
            (r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#, "INVALID_SESSION_ID: Session expired or invalid"),
            (r#"{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}"#, "INVALID_TOKEN: invalid oauth token"),
            (r#"{"data":[{"code":"MANDATORY_NOT_FOUND","message":"required field not found","status":"error"}]}"#, "MANDATORY_NOT_FOUND: required field not found"),
            (r#"{"error":{"type":"ValidationError","message":"Name can't be blank"}}"#, "ValidationError: Name can't be blank"),
            (r#"{"success":false,"error":"Person not found"}"#, "Person not found"),
            (r#"{"error":"invalid_grant","error_description":"token expired"}"#, "token expired"),
            ("Service Unavailable", "Service Unavailable"),
            ("<html><body>502</body></html>", ""),
            ("", ""),
        ];
        for (body, want) in cases {
            assert_eq!(vendor_message(body), want, "{body}");
        }
        assert_eq!(vendor_message(&"x".repeat(1000)).chars().count(), MAX_ERROR_DETAIL);
    }

    #[test]
    fn scrub_removes_secrets() {
        let secret = Secret::new("pat-na1-SECRET123");
        let cases = [
            "token pat-na1-SECRET123 is bad",
            "Authorization: Bearer abc.def.ghi was rejected",
            "{\"access_token\":\"zzz\"}",
            "https://x.test/?token=abc&x=1",
        ];
        for c in cases {
            let s = scrub(c, &secret);
            assert!(!s.contains("SECRET123") && !s.contains("abc.def") && !s.contains("zzz") && !s.contains("=abc"), "{s}");
            assert!(s.contains("<redacted>"), "{s}");
        }
        assert_eq!(scrub("nothing here", &secret), "nothing here");
    }

    #[test]
    fn classification_table() {
        use Access::*;
        let cases: [(u16, Access, &str); 12] = [
            (429, Read, "rate_limited"),
            (429, Write, "rate_limited"),
            (401, Write, "unauthorized"),
            (500, Read, "transient"),
            (503, Write, "unknown"),
            (408, Write, "unknown"),
            (400, Write, "permanent"),
            (403, Read, "permanent"),
            (404, Write, "permanent"),
            (409, Write, "permanent"),
            (300, Write, "permanent"),
            (422, Write, "permanent"),
        ];
        for (status, access, want) in cases {
            let e = classify_status(status, access, None, "m".into());
            let got = serde_json::to_value(&e).unwrap()["class"].as_str().unwrap().to_owned();
            assert_eq!(got, want, "{status} {access:?}");
        }
    }

    #[test]
    fn transport_errors_by_access() {
        let to = Reply::TimedOut;
        let pre = Reply::NetworkError { sent: false, message: "offline".into() };
        let post = Reply::NetworkError { sent: true, message: "reset".into() };
        assert!(matches!(transport_error(&to, Access::Write, "X"), Some(CrmError::Unknown { .. })));
        assert!(matches!(transport_error(&to, Access::Read, "X"), Some(CrmError::Transient { .. })));
        assert!(matches!(transport_error(&pre, Access::Write, "X"), Some(CrmError::Transient { .. })));
        assert!(matches!(transport_error(&post, Access::Write, "X"), Some(CrmError::Unknown { .. })));
        assert!(matches!(transport_error(&post, Access::Read, "X"), Some(CrmError::Transient { .. })));
    }

    #[test]
    fn success_and_http_error() {
        let secret = Secret::new("tok-123456");
        let ok = Reply::Response(resp(201, &[], "{}"));
        assert!(success(&ok, Access::Write, "HubSpot", &secret).is_ok());
        let r = Reply::Response(resp(429, &[("retry-after", "3")], r#"{"message":"slow down tok-123456"}"#));
        match success(&r, Access::Write, "HubSpot", &secret) {
            Err(CrmError::RateLimited { retry_after_ms, message }) => {
                assert_eq!(retry_after_ms, Some(3000));
                assert_eq!(message, "HubSpot 429: slow down <redacted>");
            }
            other => panic!("{other:?}"),
        }
        let r = resp(404, &[], "");
        assert_eq!(http_error(&r, Access::Read, "Clio", &secret), CrmError::Permanent { message: "Clio 404: not found".into() });
        assert!(matches!(json_body(&resp(200, &[], "{oops"), Access::Write, "X"), Err(CrmError::Unknown { .. })));
        assert!(matches!(json_body(&resp(200, &[], "{oops"), Access::Read, "X"), Err(CrmError::Transient { .. })));
    }

    #[test]
    fn durations() {
        let cases = [(0, "0s", "00:00", "00:00", "00:00:00"), (5, "5s", "00:05", "00:01", "00:00:05"), (125, "2m 05s", "02:05", "00:03", "00:02:05"), (3725, "1h 02m 05s", "62:05", "01:03", "01:02:05"), (-3, "0s", "00:00", "00:00", "00:00:00")];
        for (s, words, mmss, hhmm, hms) in cases {
            assert_eq!(duration_words(s), words);
            assert_eq!(duration_mm_ss(s), mmss);
            assert_eq!(duration_hh_mm(s), hhmm);
            assert_eq!(duration_hh_mm_ss(s), hms);
        }
    }
}
