//! The admin's view: the server's web page and the read-only API behind it.
//!
//! The page (`GET /admin/`, files in `crates/server/admin/`, compiled into the binary) holds no
//! data and no rule: it asks for the admin bearer token, keeps it in the tab's
//! `sessionStorage`, and renders what these endpoints computed with the core's own views
//! ([`calltrail_core::view::call_view`], the same status words as the extension's pages):
//!
//! - `GET /admin/accounts`: accounts and their reps.
//! - `GET /admin/accounts/{account}/calls?from=&to=`: every rep's calls in `[from, to)` (epoch
//!   ms), each with its status per CRM, a category (`logged`, `unlogged`, `unresolved`,
//!   `skipped`) and why, and the refusal kept for the rep's last request about it
//!   ([`crate::refusals::Shown`]: the page shows its `admin_words` and when).
//! - `GET /admin/accounts/{account}/health`: per rep and CRM: credentials present (never their
//!   value), paused or backing off, open work; the account's RingCentral subscription and sync.
//! - `GET /admin/accounts/{account}/audit.csv?from=&to=`: the audit trail of every rep, as CSV
//!   whose cells cannot start a spreadsheet formula ([`csv_cell`]).
//!
//! The unresolved queue and its resolutions use the per-rep endpoints of [`crate::http`].
//! Every endpoint here needs the admin token; the static files need none (they hold nothing).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use calltrail_core::driver::{Driver, SETTINGS_KEY};
use calltrail_core::engine::{AuditEntry, CallEntry, Health, Slot, SlotState};
use calltrail_core::model::Timestamp;
use calltrail_core::store::Record;
use calltrail_core::view::{call_view, Status};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;


use crate::app::App;
use crate::auth::is_admin;
use crate::reply::{internal, now_ms, ok, refuse};



fn authorized(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    if is_admin(app, headers) {
        Ok(())
    } else {
        Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "a valid admin bearer token is required"))
    }
}

/// The widest range one request may ask for (calls or audit): 92 days.
pub const MAX_RANGE_MS: i64 = 92 * 86_400_000;
/// The most calls one request returns (newest first); `truncated` says when there were more.
pub const MAX_CALLS: i64 = 20_000;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin", get(|| async { axum::response::Redirect::permanent("/admin/") }))
        .route("/admin/", get(|| async { page("text/html; charset=utf-8", include_str!("../admin/index.html")) }))
        .route("/admin/ui/admin.js", get(|| async { page("text/javascript; charset=utf-8", include_str!("../admin/admin.js")) }))
        .route("/admin/ui/admin.css", get(|| async { page("text/css; charset=utf-8", include_str!("../admin/admin.css")) }))
        // The extension's own design tokens and components: one look for both.
        .route("/admin/ui/tokens.css", get(|| async { page("text/css; charset=utf-8", include_str!("../../../extension/lib/tokens.css")) }))
        .route("/admin/ui/base.css", get(|| async { page("text/css; charset=utf-8", include_str!("../../../extension/pages/lib/base.css")) }))
        .route("/admin/accounts", get(accounts))
        .route("/admin/accounts/{account}/calls", get(calls))
        .route("/admin/accounts/{account}/health", get(health))
        .route("/admin/accounts/{account}/audit.csv", get(audit_csv))
}

/// A static file with a strict policy: no inline script, nothing from elsewhere, no framing.
fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[derive(Deserialize)]
pub struct Range {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Range {
    /// `[from, to)`, at most [`MAX_RANGE_MS`] wide; default the last 24 hours.
    fn bounds(&self) -> Result<(i64, i64), Response> {
        let to = self.to.unwrap_or_else(now_ms);
        let from = self.from.unwrap_or(to - 86_400_000);
        if from >= to || to - from > MAX_RANGE_MS {
            return Err(refuse(StatusCode::BAD_REQUEST, "bad_range", format!("from must be before to, at most {} days apart", MAX_RANGE_MS / 86_400_000)));
        }
        Ok((from, to))
    }
}

/// Which of the four groups the admin's view puts a status in (the core decides the status).
pub fn category(s: Status) -> &'static str {
    if s == Status::Logged {
        "logged"
    } else if s.needs_attention() {
        "unresolved"
    } else if s.is_unlogged() {
        "unlogged"
    } else {
        "skipped"
    }
}

fn record_of(row: &sqlx::postgres::PgRow) -> Result<Record, sqlx::Error> {
    let open: i16 = row.try_get("open")?;
    Ok(Record { key: row.try_get("key")?, open: u8::from(open != 0), at: row.try_get("at")?, value: row.try_get("value")? })
}

async fn reps_of(app: &App, account: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT rep_id, telephony_user FROM reps WHERE account_id = $1 ORDER BY rep_id").bind(account).fetch_all(&app.pool).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

async fn settings_of(app: &App, account: &str) -> Result<HashMap<String, Record>, sqlx::Error> {
    let rows = sqlx::query("SELECT rep_id, key, open, at, value FROM records WHERE account_id = $1 AND store = 'settings' AND key = $2")
        .bind(account)
        .bind(SETTINGS_KEY)
        .fetch_all(&app.pool)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("rep_id")?, record_of(r)?))).collect()
}

async fn accounts(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let rows = match sqlx::query(
        "SELECT a.id, a.name, coalesce(json_agg(json_build_object('rep', r.rep_id, 'telephony_user', r.telephony_user) ORDER BY r.rep_id)
           FILTER (WHERE r.rep_id IS NOT NULL), '[]') AS reps
         FROM accounts a LEFT JOIN reps r ON r.account_id = a.id GROUP BY a.id, a.name ORDER BY a.id",
    )
    .fetch_all(&app.pool)
    .await
    {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let list: Result<Vec<Value>, sqlx::Error> = rows
        .iter()
        .map(|r| {
            let reps: sqlx::types::Json<Value> = r.try_get("reps")?;
            Ok(json!({ "id": r.try_get::<String, _>("id")?, "name": r.try_get::<String, _>("name")?, "reps": reps.0 }))
        })
        .collect();
    match list {
        Ok(l) => ok(Value::Array(l)),
        Err(e) => internal(e),
    }
}

async fn calls(State(app): State<App>, Path(account): Path<String>, Query(range): Query<Range>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let (from, to) = match range.bounds() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let reps = match reps_of(&app, &account).await {
        Ok(r) => r.into_iter().map(|(rep, _)| rep).collect(),
        Err(e) => return internal(e),
    };
    calls_view(&app, &account, reps, from, to).await
}

/// `GET /rep/{account}/{rep}/history?from=&to=`: the same rows for one rep, with the rep's own
/// token ([`crate::auth::rep_only`]): what the extension shows in server mode.
pub async fn rep_history(State(app): State<App>, Path((account, rep)): Path<(String, String)>, Query(range): Query<Range>, headers: HeaderMap) -> Response {
    if let Err(r) = crate::auth::rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    let (from, to) = match range.bounds() {
        Ok(b) => b,
        Err(r) => return r,
    };
    calls_view(&app, &account, vec![rep], from, to).await
}

/// The calls of `ids` (reps of `account`) in `[from, to)`, newest first, with their status in
/// every CRM of the rep's settings.
async fn calls_view(app: &App, account: &str, ids: Vec<String>, from: i64, to: i64) -> Response {
    // The calls in range, newest first, and every slot of those calls (a slot's key starts with
    // `call|<call id>|`, so a key range on the primary key finds them).
    let call_rows = sqlx::query(
        "SELECT rep_id, key, open, at, value FROM records WHERE account_id = $1 AND rep_id = ANY($2) AND store = 'calls' AND at >= $3 AND at < $4
         ORDER BY at DESC, rep_id LIMIT $5",
    )
    .bind(account)
    .bind(&ids)
    .bind(from)
    .bind(to)
    .bind(MAX_CALLS + 1)
    .fetch_all(&app.pool);
    let slot_rows = sqlx::query(
        "SELECT s.rep_id, s.key, s.open, s.at, s.value FROM records c JOIN records s
           ON s.account_id = c.account_id AND s.rep_id = c.rep_id AND s.store = 'slots'
          AND s.key >= 'call|' || c.key || '|' AND s.key < 'call|' || c.key || '}'
         WHERE c.account_id = $1 AND c.rep_id = ANY($2) AND c.store = 'calls' AND c.at >= $3 AND c.at < $4",
    )
    .bind(account)
    .bind(&ids)
    .bind(from)
    .bind(to)
    .fetch_all(&app.pool);
    // The rep's refused requests about these calls (made after the calls began, so after `from`).
    let refusal_rows = sqlx::query("SELECT rep_id, key, value FROM records WHERE account_id = $1 AND rep_id = ANY($2) AND store = 'refusals' AND at >= $3")
        .bind(account)
        .bind(&ids)
        .bind(from)
        .fetch_all(&app.pool);
    let (call_rows, slot_rows, settings, refusal_rows) = match tokio::try_join!(call_rows, slot_rows, settings_of(app, account), refusal_rows) {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let truncated = call_rows.len() as i64 > MAX_CALLS;
    // Core values are single-threaded: everything below runs without an await.
    let mut slots: HashMap<(String, String), Vec<Slot>> = HashMap::new();
    for r in &slot_rows {
        let (Ok(rep), Ok(rec)) = (r.try_get::<String, _>("rep_id"), record_of(r)) else { continue };
        if let Some(slot) = Slot::from_record(&rec) {
            if let Some(call) = slot.call_id() {
                slots.entry((rep, call.to_string())).or_default().push(slot);
            }
        }
    }
    let mut refusals: HashMap<String, HashMap<String, crate::refusals::Refused>> = HashMap::new();
    for r in &refusal_rows {
        let (Ok(rep), Ok(key), Ok(value)) = (r.try_get::<String, _>("rep_id"), r.try_get::<String, _>("key"), r.try_get::<String, _>("value")) else { continue };
        if let Ok(v) = serde_json::from_str(&value) {
            refusals.entry(rep).or_default().insert(key, v);
        }
    }
    let no_refusals = HashMap::new();
    let parsed: HashMap<&str, calltrail_core::settings::Settings> = ids.iter().map(|rep| (rep.as_str(), Driver::stored_settings(settings.get(rep)))).collect();
    let now = Timestamp(now_ms());
    let mut out = Vec::with_capacity(call_rows.len());
    for r in call_rows.iter().take(MAX_CALLS as usize) {
        let (Ok(rep), Ok(rec)) = (r.try_get::<String, _>("rep_id"), record_of(r)) else { continue };
        let Some(entry) = CallEntry::from_record(&rec) else { continue };
        let Some(settings) = parsed.get(rep.as_str()) else { continue };
        let empty = Vec::new();
        let these = slots.get(&(rep.clone(), entry.call.id.to_string())).unwrap_or(&empty);
        let v = call_view(&entry, these, settings, now);
        let refused = refusals.get(&rep).unwrap_or(&no_refusals);
        out.push(json!({
            "rep": rep,
            "call": v.call.id,
            "started_at": v.call.started_at,
            "ended_at": v.call.ended_at,
            "direction": v.call.direction,
            "number": v.call.their_number,
            "result": v.result_word,
            "phase": v.phase_word,
            "slots": v.slots.iter().map(|s| json!({
                "integration": s.integration,
                "label": s.label,
                "category": category(s.status),
                "word": s.word,
                "tone": s.tone,
                "detail": s.detail,
                "records": s.records,
                "contacts": s.contacts.iter().map(|c| &c.name).collect::<Vec<_>>(),
                // The core's rule, as the extension's own rows have it.
                "can_log_manually": s.can_log_manually,
                "refused": crate::refusals::refusal_for(refused, v.call.id.as_str(), s.integration.as_str()),
            })).collect::<Vec<_>>(),
        }));
    }
    ok(json!({ "from": from, "to": to, "reps": ids, "calls": out, "truncated": truncated }))
}

async fn health(State(app): State<App>, Path(account): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let acct = sqlx::query("SELECT rc IS NOT NULL AS has_rc, subscription_id, extract(epoch from synced_at)::float8 * 1000 AS synced_ms, webhook_sealed IS NOT NULL AS has_hook FROM accounts WHERE id = $1")
        .bind(&account)
        .fetch_optional(&app.pool);
    let reps = sqlx::query(
        "SELECT r.rep_id, r.telephony_user, r.lease_owner, r.lease_until > now() AS running,
                (SELECT count(*) FROM inbox i WHERE i.account_id = r.account_id AND i.rep_id = r.rep_id AND NOT i.done) AS backlog
         FROM reps r WHERE r.account_id = $1 ORDER BY r.rep_id",
    )
    .bind(&account)
    .fetch_all(&app.pool);
    // Secrets: their keys only, never their values.
    let secrets = sqlx::query("SELECT rep_id, key FROM records WHERE account_id = $1 AND store = 'secrets'").bind(&account).fetch_all(&app.pool);
    let meta = sqlx::query("SELECT rep_id, key, open, at, value FROM records WHERE account_id = $1 AND store = 'meta' AND starts_with(key, 'health|')").bind(&account).fetch_all(&app.pool);
    let open = sqlx::query("SELECT rep_id, key, open, at, value FROM records WHERE account_id = $1 AND store = 'slots' AND open = 1").bind(&account).fetch_all(&app.pool);
    let (acct, reps, secrets, meta, open, settings) = match tokio::try_join!(acct, reps, secrets, meta, open, settings_of(&app, &account)) {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let Some(acct) = acct else {
        return refuse(StatusCode::NOT_FOUND, "unknown_account", "no such account");
    };
    let has = |rep: &str, key: &str| secrets.iter().any(|r| r.try_get::<String, _>("rep_id").is_ok_and(|x| x == rep) && r.try_get::<String, _>("key").is_ok_and(|k| k == key));
    let mut healths: HashMap<(String, String), Health> = HashMap::new();
    for r in &meta {
        let (Ok(rep), Ok(rec)) = (r.try_get::<String, _>("rep_id"), record_of(r)) else { continue };
        if let (Some(id), Some(h)) = (rec.key.strip_prefix("health|"), rec.decode::<Health>()) {
            healths.insert((rep, id.to_owned()), h);
        }
    }
    // Open work per (rep, integration): how many slots, and how many need a person.
    let mut work: HashMap<(String, String), (u32, u32)> = HashMap::new();
    for r in &open {
        let (Ok(rep), Ok(rec)) = (r.try_get::<String, _>("rep_id"), record_of(r)) else { continue };
        if let Some(s) = Slot::from_record(&rec) {
            let e = work.entry((rep, s.integration.to_string())).or_default();
            e.0 += 1;
            if matches!(s.state, SlotState::Unresolved { .. } | SlotState::NeedsReview { .. } | SlotState::Failed { .. }) {
                e.1 += 1;
            }
        }
    }
    let now = Timestamp(now_ms());
    let mut out_reps = Vec::new();
    for r in &reps {
        let Ok(rep) = r.try_get::<String, _>("rep_id") else { continue };
        let settings = Driver::stored_settings(settings.get(&rep));
        let integrations: Vec<Value> = settings
            .integrations
            .iter()
            .map(|i| {
                let key = (rep.clone(), i.id.to_string());
                let h = healths.get(&key).cloned().unwrap_or_default();
                let (open, attention) = work.get(&key).copied().unwrap_or_default();
                let credentials = has(&rep, i.id.as_str());
                let (word, tone) = if !credentials {
                    ("No credentials", "danger")
                } else if h.parked {
                    ("Needs sign-in", "danger")
                } else if h.is_blocked(now) {
                    ("Backing off", "warning")
                } else if attention > 0 {
                    ("Needs a person", "warning")
                } else {
                    ("Healthy", "success")
                };
                json!({
                    "integration": i.id,
                    "label": if i.label.is_empty() { i.id.to_string() } else { i.label.clone() },
                    "kind": i.kind,
                    "credentials": credentials,
                    "parked": h.parked,
                    "blocked_until": h.blocked_until.filter(|t| *t > now),
                    "failures": h.failures,
                    "open": open,
                    "attention": attention,
                    "word": word,
                    "tone": tone,
                })
            })
            .collect();
        out_reps.push(json!({
            "rep": rep,
            "telephony_user": r.try_get::<String, _>("telephony_user").unwrap_or_default(),
            "running_on": if r.try_get::<Option<bool>, _>("running").ok().flatten().unwrap_or(false) { r.try_get::<Option<String>, _>("lease_owner").ok().flatten() } else { None },
            "backlog": r.try_get::<i64, _>("backlog").unwrap_or(0),
            "integrations": integrations,
        }));
    }
    let synced: Option<f64> = acct.try_get("synced_ms").ok().flatten();
    ok(json!({
        "account": {
            "ringcentral": acct.try_get::<bool, _>("has_rc").unwrap_or(false),
            "subscribed": acct.try_get::<Option<String>, _>("subscription_id").ok().flatten().is_some(),
            "synced_at": synced.map(|s| s as i64),
            "signed_events": acct.try_get::<bool, _>("has_hook").unwrap_or(false),
        },
        "metrics": app.metrics.json(),
        "reps": out_reps,
    }))
}

/// One CSV cell, quoted; a text a spreadsheet would read as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading `'` so it stays text (OWASP's advice
/// for CSV injection). Outcomes and contact ids come from CRMs and callers: untrusted.
pub fn csv_cell(s: &str) -> String {
    let risky = matches!(s.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
    format!("\"{}{}\"", if risky { "'" } else { "" }, s.replace('"', "\"\""))
}

pub const AUDIT_CSV_HEADER: &str = "time,rep,trigger,integration,call,contact,outcome,record";

/// One line of the admin's audit export.
pub fn audit_line(rep: &str, e: &AuditEntry) -> String {
    let o = |s: Option<&str>| csv_cell(s.unwrap_or(""));
    [
        csv_cell(&e.at.to_rfc3339()),
        csv_cell(rep),
        csv_cell(e.trigger.as_str()),
        o(e.integration.as_ref().map(|i| i.as_str())),
        o(e.call.as_ref().map(|c| c.as_str())),
        o(e.contact.as_ref().map(|c| c.as_str())),
        csv_cell(&e.outcome),
        o(e.record.as_ref().map(|r| r.as_str())),
    ]
    .join(",")
}

async fn audit_csv(State(app): State<App>, Path(account): Path<String>, Query(range): Query<Range>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let (from, to) = match range.bounds() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let rows = match sqlx::query("SELECT rep_id, key, open, at, value FROM records WHERE account_id = $1 AND store = 'audit' AND at >= $2 AND at < $3 ORDER BY at, rep_id, key")
        .bind(&account)
        .bind(from)
        .bind(to)
        .fetch_all(&app.pool)
        .await
    {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let mut out = String::from(AUDIT_CSV_HEADER);
    out.push_str("\r\n");
    let mut by_rep: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let (Ok(rep), Ok(rec)) = (r.try_get::<String, _>("rep_id"), record_of(r)) else { continue };
        if let Some(e) = rec.decode::<AuditEntry>() {
            out.push_str(&audit_line(&rep, &e));
            out.push_str("\r\n");
            *by_rep.entry(rep).or_default() += 1;
        }
    }
    let name = format!("calltrail-audit-{account}-{}-{}.csv", Timestamp(from).to_rfc3339().get(..10).unwrap_or("from"), Timestamp(to - 1).to_rfc3339().get(..10).unwrap_or("to"));
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.' && c != '_', "_"))) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_never_start_a_formula() {
        for risky in ["=HYPERLINK(\"http://x\")", "+1 212", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            let c = csv_cell(risky);
            assert!(c.starts_with("\"'"), "{risky:?} -> {c}");
        }
        assert_eq!(csv_cell("logged"), "\"logged\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell(""), "\"\"");
    }

    #[test]
    fn categories_cover_every_status() {
        assert_eq!(category(Status::Logged), "logged");
        for s in [Status::Unresolved, Status::NeedsReview, Status::Failed] {
            assert_eq!(category(s), "unresolved");
        }
        for s in [Status::Scheduled, Status::WaitingForDigest, Status::InProgress, Status::NoMatch, Status::NotLogged] {
            assert_eq!(category(s), "unlogged");
        }
        for s in [Status::Skipped, Status::Dismissed] {
            assert_eq!(category(s), "skipped");
        }
    }
}
