//! The HTTP side: webhooks in, the admin API, health and metrics.
//!
//! Webhooks store before they answer: an event is in the inbox (committed, with its delivery
//! id so a repeat is dropped by a unique index) before the 200 goes out, and a `NOTIFY` in the
//! same transaction wakes the instance that runs the rep's engine. Nothing is decided here
//! beyond authenticity and routing: what an event means is the core's business, later.
//!
//! - `POST /webhooks/ringcentral/{account}`: the `Validation-Token` handshake (echoed when well
//!   formed), then notifications carrying the `Verification-Token` the subscription was made
//!   with (compared in constant time; anything else is refused and nothing stored).
//! - `POST /webhooks/generic/{account}`: the generic protocol with its `user`, signed:
//!   `X-Calltrail-Timestamp: <unix seconds>` and `X-Calltrail-Signature: sha256=<hex>`, the
//!   HMAC-SHA256 of `<timestamp>.<body>` under the account's webhook secret; a timestamp more
//!   than [`REPLAY_WINDOW_SECS`] away from ours is a replay.
//! - `/admin/...`: bearer token from the environment, compared in constant time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use calltrail_core::driver::{StoredSecret, SETTINGS_KEY};
use calltrail_core::engine::{CallEntry, Resolution, Slot, SlotKey};
use calltrail_core::model::Timestamp;
use calltrail_core::phone::Country;
use calltrail_core::settings::Settings;
use calltrail_core::store::{Batch, Durability, Record, StoreName, Write};
use calltrail_core::telephony::{generic, ringcentral};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use subtle::ConstantTimeEq;

use crate::metrics::Metrics;
use crate::seal::{random_hex, Sealer};
use crate::store::{PgStore, RepRef};
use crate::worker::INBOX_CHANNEL;

/// Largest webhook or admin body accepted.
pub const MAX_BODY: usize = 256 * 1024;
/// How far a signed event's timestamp may be from our clock.
pub const REPLAY_WINDOW_SECS: i64 = 300;

#[derive(Clone)]
pub struct App {
    pub pool: PgPool,
    pub store: PgStore,
    pub sealer: Sealer,
    pub admin_token: Arc<String>,
    pub metrics: Arc<Metrics>,
    /// Per-account secrets in clear, read from their sealed columns (a few seconds old at most).
    pub secrets: Arc<Mutex<HashMap<String, (Instant, AccountSecrets)>>>,
}

#[derive(Clone, Debug, Default)]
pub struct AccountSecrets {
    pub verification_token: Option<String>,
    pub webhook_secret: Option<String>,
    pub country: String,
}

/// The sealed part of an account's RingCentral settings.
#[derive(serde::Serialize, Deserialize, Default, Clone)]
pub struct RcSealed {
    pub client_secret: String,
    pub jwt: String,
    pub verification_token: String,
}

pub fn router(app: App) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({ "ok": true })) }))
        .route("/webhooks/ringcentral/{account}", post(ringcentral_webhook))
        .route("/webhooks/generic/{account}", post(generic_webhook))
        .route("/admin/metrics", get(metrics))
        .route("/admin/accounts/{account}", put(put_account))
        .route("/admin/accounts/{account}/reps/{rep}", put(put_rep))
        .route("/admin/accounts/{account}/reps/{rep}/credentials/{integration}", put(put_credentials))
        .route("/admin/accounts/{account}/reps/{rep}/slots", get(rep_slots))
        .route("/admin/accounts/{account}/reps/{rep}/unresolved", get(rep_unresolved))
        .route("/admin/accounts/{account}/reps/{rep}/resolutions", post(post_resolutions))
        .route("/admin/accounts/{account}/reps/{rep}/sync", post(post_sync))
        .merge(crate::admin::routes())
        .merge(crate::tokens::routes())
        .merge(crate::rep::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// A refusal with a reason, as JSON.
fn refuse(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "ok": false, "error": kind, "message": message.into() }))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::warn!("internal error: {e}");
    refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the event could not be stored; send it again")
}

fn ok(data: Value) -> Response {
    (StatusCode::OK, Json(json!({ "ok": true, "data": data }))).into_response()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl App {
    async fn account_secrets(&self, account: &str) -> Result<Option<AccountSecrets>, sqlx::Error> {
        if let Ok(cache) = self.secrets.lock() {
            if let Some((at, s)) = cache.get(account) {
                if at.elapsed() < Duration::from_secs(5) {
                    return Ok(Some(s.clone()));
                }
            }
        }
        let row = sqlx::query("SELECT rc_sealed, webhook_sealed, default_country FROM accounts WHERE id = $1").bind(account).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let rc: Option<String> = row.try_get(0)?;
        let hook: Option<String> = row.try_get(1)?;
        let s = AccountSecrets {
            verification_token: rc
                .and_then(|r| self.sealer.open_text(&format!("{account}/rc"), &r).ok())
                .and_then(|t| serde_json::from_str::<RcSealed>(&t).ok())
                .map(|r| r.verification_token),
            webhook_secret: hook.and_then(|h| self.sealer.open_text(&format!("{account}/webhook"), &h).ok()),
            country: row.try_get(2)?,
        };
        if let Ok(mut cache) = self.secrets.lock() {
            cache.insert(account.to_owned(), (Instant::now(), s.clone()));
        }
        Ok(Some(s))
    }

    fn forget_secrets(&self, account: &str) {
        if let Ok(mut cache) = self.secrets.lock() {
            cache.remove(account);
        }
    }

    /// Which reps the telephony `users` are (unmapped users are absent).
    async fn reps_of(&self, account: &str, users: &[String]) -> Result<HashMap<String, String>, sqlx::Error> {
        let rows = sqlx::query("SELECT telephony_user, rep_id FROM reps WHERE account_id = $1 AND telephony_user = ANY($2)")
            .bind(account)
            .bind(users)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    fn authorized(&self, headers: &HeaderMap) -> Result<(), Response> {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        // Constant time over the token's bytes; lengths differ only for a wrong token anyway.
        if given.is_empty() || !bool::from(given.as_bytes().ct_eq(self.admin_token.as_bytes())) {
            return Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "a valid admin bearer token is required"));
        }
        Ok(())
    }
}

/// One inbox row to store.
pub struct Inbound {
    pub rep: Option<String>,
    pub source: &'static str,
    pub delivery: String,
    pub session: Option<String>,
    pub done: bool,
}

/// Stores `rows` (all with the same `body`) in one transaction and notifies their reps.
pub async fn store_inbound(pool: &PgPool, account: &str, body: &str, rows: &[Inbound]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for r in rows {
        let inserted = sqlx::query(
            "INSERT INTO inbox (account_id, rep_id, source, delivery, session, body, done) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (account_id, source, delivery, coalesce(rep_id, '')) DO NOTHING",
        )
        .bind(account)
        .bind(&r.rep)
        .bind(r.source)
        .bind(&r.delivery)
        .bind(&r.session)
        .bind(body)
        .bind(r.done)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if let (1, Some(rep), false) = (inserted, &r.rep, r.done) {
            sqlx::query("SELECT pg_notify($1, $2)").bind(INBOX_CHANNEL).bind(format!("{account}/{rep}")).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A handshake token we echo: RingCentral sends a UUID; anything else is not echoed.
fn well_formed_token(t: &str) -> bool {
    (8..=64).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

async fn ringcentral_webhook(State(app): State<App>, Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let refused = |status, kind, msg: String| {
        app.metrics.webhooks_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        refuse(status, kind, msg)
    };
    if let Some(token) = headers.get("validation-token") {
        let Some(t) = token.to_str().ok().filter(|t| well_formed_token(t)) else {
            return refused(StatusCode::BAD_REQUEST, "bad_validation_token", "the Validation-Token header is not a well-formed token".into());
        };
        let mut resp = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(t) {
            resp.headers_mut().insert("validation-token", v);
        }
        return resp;
    }
    let secrets = match app.account_secrets(&account).await {
        Ok(Some(s)) => s,
        Ok(None) => return refused(StatusCode::NOT_FOUND, "unknown_account", "no such account".into()),
        Err(e) => return internal(e),
    };
    let given = headers.get("verification-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = secrets.verification_token.unwrap_or_default();
    if expected.is_empty() || given.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return refused(StatusCode::UNAUTHORIZED, "bad_verification_token", "the Verification-Token header is missing or wrong".into());
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "malformed", "the body is not JSON".into());
    };
    let note = match ringcentral::notification(&value) {
        Ok(n) => n,
        Err(e) => return refused(StatusCode::BAD_REQUEST, e.kind(), e.to_string()),
    };
    let users: Vec<String> = note.parties.iter().filter_map(|p| p.extension.clone()).collect();
    let reps = match app.reps_of(&account, &users).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let session = note.parties.first().map(|p| p.session.clone());
    let mut rows: Vec<Inbound> = note
        .parties
        .iter()
        .filter_map(|p| p.extension.as_ref().and_then(|e| reps.get(e)))
        .map(|rep| Inbound { rep: Some(rep.clone()), source: "rc", delivery: note.delivery.clone(), session: session.clone(), done: false })
        .collect();
    rows.dedup_by(|a, b| a.rep == b.rep);
    if rows.is_empty() {
        // Nobody's (an outside party's state, an unmapped user): kept, never processed.
        rows.push(Inbound { rep: None, source: "rc", delivery: note.delivery.clone(), session, done: true });
    }
    match store_inbound(&app.pool, &account, &String::from_utf8_lossy(&body), &rows).await {
        Ok(()) => {
            app.metrics.webhooks_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            StatusCode::OK.into_response()
        }
        Err(e) => internal(e),
    }
}

type HmacSha256 = Hmac<Sha256>;

/// `sha256=<hex>` of `<timestamp>.<body>` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn generic_webhook(State(app): State<App>, Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let refused = |status, kind, msg: String| {
        app.metrics.webhooks_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        refuse(status, kind, msg)
    };
    let secrets = match app.account_secrets(&account).await {
        Ok(Some(s)) => s,
        Ok(None) => return refused(StatusCode::NOT_FOUND, "unknown_account", "no such account".into()),
        Err(e) => return internal(e),
    };
    let Some(secret) = secrets.webhook_secret.filter(|s| !s.is_empty()) else {
        return refused(StatusCode::FORBIDDEN, "no_webhook_secret", "this account accepts no signed events: set its webhook secret".into());
    };
    let (Some(ts), Some(sig)) = (headers.get("x-calltrail-timestamp").and_then(|v| v.to_str().ok()), headers.get("x-calltrail-signature").and_then(|v| v.to_str().ok())) else {
        return refused(StatusCode::UNAUTHORIZED, "unsigned", "X-Calltrail-Timestamp and X-Calltrail-Signature are required".into());
    };
    let Ok(ts) = ts.trim().parse::<i64>() else {
        return refused(StatusCode::UNAUTHORIZED, "bad_timestamp", "X-Calltrail-Timestamp must be unix seconds".into());
    };
    let expected = signature(&secret, ts, &body);
    if !bool::from(sig.trim().as_bytes().ct_eq(expected.as_bytes())) {
        return refused(StatusCode::UNAUTHORIZED, "bad_signature", "the signature does not match the body".into());
    }
    if (now_ms() / 1000 - ts).abs() > REPLAY_WINDOW_SECS {
        return refused(StatusCode::UNAUTHORIZED, "stale_timestamp", format!("the timestamp is more than {REPLAY_WINDOW_SECS} s from ours: a replay or a wrong clock"));
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "malformed", "the body is not JSON".into());
    };
    let country = Country::parse(&secrets.country).unwrap_or(Country::US);
    // Core values are single-threaded (`Rc`): keep only text across the awaits below.
    let (user, session) = match generic::decode(&value, country, Timestamp(now_ms())) {
        Ok(p) => (p.user, p.event.call_id().map(|c| c.to_string())),
        Err(e) => return refused(StatusCode::BAD_REQUEST, e.kind(), e.to_string()),
    };
    let reps = match app.reps_of(&account, std::slice::from_ref(&user)).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let rep = reps.get(&user).cloned();
    let delivery = hex::encode(Sha256::digest(&body));
    let row = Inbound { done: rep.is_none(), rep, source: "generic", delivery, session };
    match store_inbound(&app.pool, &account, &String::from_utf8_lossy(&body), &[row]).await {
        Ok(()) => {
            app.metrics.webhooks_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ok(json!({ "stored": true }))
        }
        Err(e) => internal(e),
    }
}

async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    ok(app.metrics.json())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    default_country: Option<String>,
    #[serde(default)]
    ringcentral: Option<RcBody>,
    #[serde(default)]
    webhook_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RcBody {
    server_url: String,
    client_id: String,
    client_secret: String,
    jwt: String,
}

/// A body read as `T`, or a 400 naming what is wrong.
fn body_as<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| refuse(StatusCode::BAD_REQUEST, "malformed", e.to_string()))
}

fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

async fn put_account(State(app): State<App>, Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    if !valid_id(&account) {
        return refuse(StatusCode::BAD_REQUEST, "bad_id", "account ids are 1-64 letters, digits, '-', '_' or '.'");
    }
    let b: AccountBody = match body_as(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let country = b.default_country.unwrap_or_else(|| "US".into());
    if Country::parse(&country).is_err() {
        return refuse(StatusCode::BAD_REQUEST, "bad_country", "default_country must be an ISO 3166-1 alpha-2 code");
    }
    let (rc, rc_sealed) = match &b.ringcentral {
        None => (None, None),
        Some(rc) => {
            let sealed = RcSealed { client_secret: rc.client_secret.clone(), jwt: rc.jwt.clone(), verification_token: random_hex(16) };
            let Ok(text) = serde_json::to_string(&sealed) else { return internal("serialising") };
            match app.sealer.seal(&format!("{account}/rc"), text.as_bytes()) {
                Ok(s) => (Some(json!({ "server_url": rc.server_url.trim_end_matches('/'), "client_id": rc.client_id })), Some(s)),
                Err(e) => return internal(e),
            }
        }
    };
    let hook = match &b.webhook_secret {
        Some(s) if s.len() < 16 => return refuse(StatusCode::BAD_REQUEST, "weak_secret", "webhook_secret must be at least 16 characters"),
        Some(s) => match app.sealer.seal(&format!("{account}/webhook"), s.as_bytes()) {
            Ok(x) => Some(x),
            Err(e) => return internal(e),
        },
        None => None,
    };
    let r = sqlx::query(
        "INSERT INTO accounts (id, name, default_country, rc, rc_sealed, webhook_sealed) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, default_country = EXCLUDED.default_country,
           rc = coalesce(EXCLUDED.rc, accounts.rc), rc_sealed = coalesce(EXCLUDED.rc_sealed, accounts.rc_sealed),
           webhook_sealed = coalesce(EXCLUDED.webhook_sealed, accounts.webhook_sealed),
           subscription_id = CASE WHEN EXCLUDED.rc IS NULL THEN accounts.subscription_id ELSE NULL END",
    )
    .bind(&account)
    .bind(&b.name)
    .bind(&country)
    .bind(rc.map(sqlx::types::Json))
    .bind(rc_sealed)
    .bind(hook)
    .execute(&app.pool)
    .await;
    app.forget_secrets(&account);
    match r {
        Ok(_) => ok(json!({ "account": account })),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepBody {
    telephony_user: String,
    settings: Value,
}

/// Queues an admin event for a rep's engine.
async fn admin_event(app: &App, account: &str, rep: &str, event: Value) -> Result<(), sqlx::Error> {
    let row = Inbound { rep: Some(rep.to_owned()), source: "admin", delivery: random_hex(12), session: None, done: false };
    store_inbound(&app.pool, account, &event.to_string(), &[row]).await
}

async fn put_rep(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    if !valid_id(&rep) {
        return refuse(StatusCode::BAD_REQUEST, "bad_id", "rep ids are 1-64 letters, digits, '-', '_' or '.'");
    }
    let b: RepBody = match body_as(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.telephony_user.is_empty() || b.telephony_user.len() > 128 {
        return refuse(StatusCode::BAD_REQUEST, "bad_user", "telephony_user must be 1-128 characters");
    }
    // The same settings document the extension uses, validated whole and refused whole.
    let (record, integrations) = match Settings::from_json(&b.settings.to_string()) {
        Ok(s) => (Record::encode(SETTINGS_KEY, false, now_ms(), &s), s.integrations.len()),
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({ "ok": false, "error": "invalid_settings", "message": e.to_string(), "field": e.field() }))).into_response(),
    };
    let exists = sqlx::query("SELECT 1 FROM accounts WHERE id = $1").bind(&account).fetch_optional(&app.pool).await;
    match exists {
        Ok(Some(_)) => {}
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "unknown_account", "create the account first"),
        Err(e) => return internal(e),
    }
    let r = sqlx::query("INSERT INTO reps (account_id, rep_id, telephony_user) VALUES ($1, $2, $3) ON CONFLICT (account_id, rep_id) DO UPDATE SET telephony_user = EXCLUDED.telephony_user")
        .bind(&account)
        .bind(&rep)
        .bind(&b.telephony_user)
        .execute(&app.pool)
        .await;
    if let Err(e) = r {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return refuse(StatusCode::CONFLICT, "user_taken", "another rep of this account has that telephony user");
            }
        }
        return internal(e);
    }
    let who = RepRef { account: account.clone(), rep: rep.clone() };
    let batch = Batch { writes: vec![Write::Put { store: StoreName::Settings, record }], durability: Durability::Strict };
    if let Err(e) = app.store.apply(&who, None, &batch).await {
        return internal(e);
    }
    if let Err(e) = admin_event(&app, &account, &rep, json!({ "kind": "reload" })).await {
        return internal(e);
    }
    ok(json!({ "rep": rep, "integrations": integrations }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsBody {
    token: String,
}

async fn put_credentials(State(app): State<App>, Path((account, rep, integration)): Path<(String, String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    let b: CredentialsBody = match body_as(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.token.trim().is_empty() || !valid_id(&integration) {
        return refuse(StatusCode::BAD_REQUEST, "bad_credentials", "a non-empty token and a valid integration id are required");
    }
    let known = sqlx::query("SELECT 1 FROM reps WHERE account_id = $1 AND rep_id = $2").bind(&account).bind(&rep).fetch_optional(&app.pool).await;
    match known {
        Ok(Some(_)) => {}
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "unknown_rep", "no such rep"),
        Err(e) => return internal(e),
    }
    let who = RepRef { account: account.clone(), rep: rep.clone() };
    let record = Record::encode(integration.clone(), false, now_ms(), &StoredSecret::api_token(&b.token));
    let batch = Batch { writes: vec![Write::Put { store: StoreName::Secrets, record }], durability: Durability::Strict };
    if let Err(e) = app.store.apply(&who, None, &batch).await {
        return internal(e);
    }
    if let Err(e) = admin_event(&app, &account, &rep, json!({ "kind": "reload" })).await {
        return internal(e);
    }
    ok(json!({ "integration": integration }))
}

fn slots_of(records: &[Record]) -> Vec<Slot> {
    records.iter().filter_map(Slot::from_record).collect()
}

async fn rep_slots(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    let who = RepRef { account, rep };
    match app.store.prefix(&who, StoreName::Slots, "").await {
        Ok(records) => ok(Value::Array(
            slots_of(&records)
                .iter()
                .map(|s| json!({ "key": s.key, "call": s.call_id(), "integration": s.integration, "state": s.state.name(), "records": s.records() }))
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

async fn rep_unresolved(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    let who = RepRef { account, rep };
    let records = match app.store.prefix(&who, StoreName::Slots, "").await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let calls_needed: Vec<String> = slots_of(&records)
        .iter()
        .filter(|s| matches!(s.state, calltrail_core::engine::SlotState::Unresolved { .. }))
        .filter_map(|s| s.call_id().map(|c| c.to_string()))
        .collect();
    let mut call_records = Vec::new();
    for id in &calls_needed {
        match app.store.get(&who, StoreName::Calls, id).await {
            Ok(Some(r)) => call_records.push(r),
            Ok(None) => {}
            Err(e) => return internal(e),
        }
    }
    let settings = match app.store.get(&who, StoreName::Settings, SETTINGS_KEY).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    // The view is the core's (the same the extension's unresolved page shows).
    let waiting: Vec<Slot> = slots_of(&records).into_iter().filter(|s| matches!(s.state, calltrail_core::engine::SlotState::Unresolved { .. })).collect();
    let calls: Vec<CallEntry> = call_records.iter().filter_map(CallEntry::from_record).collect();
    let settings = calltrail_core::driver::Driver::stored_settings(settings.as_ref());
    let view = calltrail_core::view::unresolved(&waiting, &calls, &settings);
    ok(serde_json::to_value(view).unwrap_or(Value::Null))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolutionsBody {
    resolutions: Vec<(SlotKey, Resolution)>,
}

async fn post_resolutions(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    // Read as the engine will read it (refused whole when any row is not a resolution), then
    // kept as text: the engine's types do not cross threads.
    let (event, n) = {
        let b: ResolutionsBody = match body_as(&body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        if b.resolutions.is_empty() || b.resolutions.len() > 1000 {
            return refuse(StatusCode::BAD_REQUEST, "bad_resolutions", "between 1 and 1000 resolutions");
        }
        (json!({ "kind": "resolve", "resolutions": b.resolutions }), b.resolutions.len())
    };
    match admin_event(&app, &account, &rep, event).await {
        Ok(()) => ok(json!({ "queued": n })),
        Err(e) => internal(e),
    }
}

async fn post_sync(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = app.authorized(&headers) {
        return r;
    }
    match admin_event(&app, &account, &rep, json!({ "kind": "sync" })).await {
        Ok(()) => ok(json!({ "queued": true })),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let a = signature("s3cret-s3cret-s3cret", 1_700_000_000, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature("s3cret-s3cret-s3cret", 1_700_000_001, b"{}"));
        assert_ne!(a, signature("s3cret-s3cret-s3cret", 1_700_000_000, b"{ }"));
        assert_ne!(a, signature("other-other-other-other", 1_700_000_000, b"{}"));
    }

    #[test]
    fn handshake_tokens() {
        assert!(well_formed_token("0f9a2c1e-0000-4bbb-8ccc-123456789abc"));
        for bad in ["", "short", "has space here", "x\r\nSet-Cookie: a", &"a".repeat(65)] {
            assert!(!well_formed_token(bad), "{bad:?}");
        }
    }
}
