//! The HTTP side: webhooks in, the admin API, health and metrics.
//!
//! Webhooks store before they answer: an event is in the inbox ([`crate::inbox`]: committed,
//! with its delivery id so a repeat is dropped, and a `NOTIFY` that wakes the instance running
//! the rep's engine) before the 200 goes out. Nothing is decided here beyond authenticity and
//! whose event it is: what an event means is the core's business, later. Every webhook answer
//! carries `Server-Timing: store;dur=<ms>`, the time it took us.
//!
//! - `POST /webhooks/ringcentral/{account}`: the `Validation-Token` handshake (echoed when well
//!   formed), then notifications carrying the `Verification-Token` the subscription was made
//!   with (compared in constant time; anything else is refused and nothing stored).
//! - `POST /webhooks/generic/{account}`: the generic protocol with its `user`, signed:
//!   `X-Calltrail-Timestamp: <unix seconds>` and `X-Calltrail-Signature: sha256=<hex>`, the
//!   HMAC-SHA256 of `<timestamp>.<body>` under the account's webhook secret; a timestamp more
//!   than [`REPLAY_WINDOW_SECS`] away from ours is a replay.
//! - `/admin/...`: bearer token from the environment, compared in constant time.

use std::sync::atomic::Ordering;
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
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::app::{AccountSecrets, App};
use crate::inbox::{self, Event, InboxError, To};
use crate::reply::{now_ms, ok};
use crate::seal::random_hex;
use crate::store::{RepRef, StoreError};

/// Largest webhook or admin body accepted.
pub const MAX_BODY: usize = 256 * 1024;
/// How far a signed event's timestamp may be from our clock.
pub const REPLAY_WINDOW_SECS: i64 = 300;



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
        // The rep's own history and queue: the admin's views, behind the rep's token.
        .route("/rep/{account}/{rep}/history", get(crate::admin::rep_history))
        .route("/rep/{account}/{rep}/unresolved", get(own_unresolved))
        .merge(crate::admin::routes())
        .merge(crate::tokens::routes())
        .merge(crate::rep::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// A refusal with a reason, answered as JSON: `{"ok": false, "error": kind, "message": ...}`
/// (plus `field` when a settings document names the field it refuses).
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    kind: &'static str,
    message: String,
    field: Option<Value>,
}

impl Refusal {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { status, kind, message: message.into(), field: None }
    }

    /// Our own failure (the database, most likely): the sender should send again.
    fn internal(e: impl std::fmt::Display) -> Refusal {
        tracing::warn!("internal error: {e}");
        Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the event could not be stored; send it again")
    }

    fn is_internal(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({ "ok": false, "error": self.kind, "message": self.message });
        if let Some(f) = self.field {
            body["field"] = f;
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Refusal {
        Refusal::internal(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::internal(e)
    }
}

impl From<InboxError> for Refusal {
    fn from(e: InboxError) -> Refusal {
        Refusal::internal(e)
    }
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

    /// The account's secrets, or a refusal when there is no such account.
    async fn known_account(&self, account: &str) -> Result<AccountSecrets, Refusal> {
        self.account_secrets(account).await?.ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "unknown_account", "no such account"))
    }

    fn forget_secrets(&self, account: &str) {
        if let Ok(mut cache) = self.secrets.lock() {
            cache.remove(account);
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        // Constant time over the token's bytes; lengths differ only for a wrong token anyway.
        if given.is_empty() || !bool::from(given.as_bytes().ct_eq(self.admin_token.as_bytes())) {
            return Err(Refusal::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid admin bearer token is required"));
        }
        Ok(())
    }

    /// A webhook's answer: counted, and timed for the sender (`Server-Timing: store;dur=<ms>`,
    /// from the handler's start to the answer: the authentication, decoding and the commit).
    fn answered(&self, answer: Result<Response, Refusal>, started: Instant) -> Response {
        let mut resp = match answer {
            Ok(r) => {
                self.metrics.webhooks_stored.fetch_add(1, Ordering::Relaxed);
                r
            }
            Err(refusal) => {
                if !refusal.is_internal() {
                    self.metrics.webhooks_refused.fetch_add(1, Ordering::Relaxed);
                }
                refusal.into_response()
            }
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Ok(v) = HeaderValue::from_str(&format!("store;dur={ms:.3}")) {
            resp.headers_mut().insert("server-timing", v);
        }
        resp
    }
}

/// A handshake token we echo: RingCentral sends a UUID; anything else is not echoed.
fn well_formed_token(t: &str) -> bool {
    (8..=64).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

async fn ringcentral_webhook(State(app): State<App>, Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    if let Some(token) = headers.get("validation-token") {
        let Some(t) = token.to_str().ok().filter(|t| well_formed_token(t)) else {
            app.metrics.webhooks_refused.fetch_add(1, Ordering::Relaxed);
            return Refusal::new(StatusCode::BAD_REQUEST, "bad_validation_token", "the Validation-Token header is not a well-formed token").into_response();
        };
        let mut resp = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(t) {
            resp.headers_mut().insert("validation-token", v);
        }
        return resp;
    }
    let answer = ringcentral_event(&app, account, &headers, &body).await;
    app.answered(answer, started)
}

async fn ringcentral_event(app: &App, account: String, headers: &HeaderMap, body: &Bytes) -> Result<Response, Refusal> {
    let secrets = app.known_account(&account).await?;
    let given = headers.get("verification-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = secrets.verification_token.unwrap_or_default();
    if expected.is_empty() || given.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(Refusal::new(StatusCode::UNAUTHORIZED, "bad_verification_token", "the Verification-Token header is missing or wrong"));
    }
    let value = serde_json::from_slice::<Value>(body).map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "malformed", "the body is not JSON"))?;
    let note = ringcentral::notification(&value).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.kind(), e.to_string()))?;
    // Filed under the rep of every party that is one of the account's users (routed when
    // committed); an event with none is nobody's, kept once.
    let session = note.parties.first().map(|p| p.session.clone());
    let mut users: Vec<&str> = note.parties.iter().filter_map(|p| p.extension.as_deref()).collect();
    users.sort_unstable();
    users.dedup();
    let row = |to| inbox::Row { to, source: "rc", delivery: note.delivery.clone(), session: session.clone() };
    let mut rows: Vec<inbox::Row> = users.into_iter().map(|u| row(To::User(u.to_owned()))).collect();
    if rows.is_empty() {
        rows.push(row(To::Nobody));
    }
    app.inbox.store(Event { account, body: String::from_utf8_lossy(body).into_owned(), rows }).await?;
    Ok(StatusCode::OK.into_response())
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
    let started = Instant::now();
    let answer = generic_event(&app, account, &headers, &body).await;
    app.answered(answer, started)
}

async fn generic_event(app: &App, account: String, headers: &HeaderMap, body: &Bytes) -> Result<Response, Refusal> {
    let secrets = app.known_account(&account).await?;
    let Some(secret) = secrets.webhook_secret.filter(|s| !s.is_empty()) else {
        return Err(Refusal::new(StatusCode::FORBIDDEN, "no_webhook_secret", "this account accepts no signed events: set its webhook secret"));
    };
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let (Some(ts), Some(sig)) = (header("x-calltrail-timestamp"), header("x-calltrail-signature")) else {
        return Err(Refusal::new(StatusCode::UNAUTHORIZED, "unsigned", "X-Calltrail-Timestamp and X-Calltrail-Signature are required"));
    };
    let ts = ts.trim().parse::<i64>().map_err(|_| Refusal::new(StatusCode::UNAUTHORIZED, "bad_timestamp", "X-Calltrail-Timestamp must be unix seconds"))?;
    let expected = signature(&secret, ts, body);
    if !bool::from(sig.trim().as_bytes().ct_eq(expected.as_bytes())) {
        return Err(Refusal::new(StatusCode::UNAUTHORIZED, "bad_signature", "the signature does not match the body"));
    }
    if (now_ms() / 1000 - ts).abs() > REPLAY_WINDOW_SECS {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
            format!("the timestamp is more than {REPLAY_WINDOW_SECS} s from ours: a replay or a wrong clock"),
        ));
    }
    let value = serde_json::from_slice::<Value>(body).map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "malformed", "the body is not JSON"))?;
    let country = Country::parse(&secrets.country).unwrap_or(Country::US);
    // Core values are single-threaded (`Rc`): keep only text across the await below.
    let (user, session) = match generic::decode(&value, country, Timestamp(now_ms())) {
        Ok(p) => (p.user, p.event.call_id().map(|c| c.to_string())),
        Err(e) => return Err(Refusal::new(StatusCode::BAD_REQUEST, e.kind(), e.to_string())),
    };
    let row = inbox::Row { to: To::User(user), source: "generic", delivery: hex::encode(Sha256::digest(body)), session };
    app.inbox.store(Event { account, body: String::from_utf8_lossy(body).into_owned(), rows: vec![row] }).await?;
    Ok(ok(json!({ "stored": true })))
}

async fn metrics(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    Ok(ok(app.metrics.json()))
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
fn body_as<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "malformed", e.to_string()))
}

fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

async fn put_account(State(app): State<App>, Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    if !valid_id(&account) {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_id", "account ids are 1-64 letters, digits, '-', '_' or '.'"));
    }
    let b: AccountBody = body_as(&body)?;
    let country = b.default_country.unwrap_or_else(|| "US".into());
    if Country::parse(&country).is_err() {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_country", "default_country must be an ISO 3166-1 alpha-2 code"));
    }
    let (rc, rc_sealed) = match &b.ringcentral {
        None => (None, None),
        Some(rc) => {
            let sealed = RcSealed { client_secret: rc.client_secret.clone(), jwt: rc.jwt.clone(), verification_token: random_hex(16) };
            let text = serde_json::to_string(&sealed).map_err(Refusal::internal)?;
            let s = app.sealer.seal(&format!("{account}/rc"), text.as_bytes()).map_err(Refusal::internal)?;
            (Some(json!({ "server_url": rc.server_url.trim_end_matches('/'), "client_id": rc.client_id })), Some(s))
        }
    };
    let hook = match &b.webhook_secret {
        Some(s) if s.len() < 16 => return Err(Refusal::new(StatusCode::BAD_REQUEST, "weak_secret", "webhook_secret must be at least 16 characters")),
        Some(s) => Some(app.sealer.seal(&format!("{account}/webhook"), s.as_bytes()).map_err(Refusal::internal)?),
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
    r?;
    Ok(ok(json!({ "account": account })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepBody {
    telephony_user: String,
    settings: Value,
}

/// Queues an admin event for a rep's engine.
async fn admin_event(app: &App, account: &str, rep: &str, event: Value) -> Result<(), InboxError> {
    let row = inbox::Row { to: To::Rep(rep.to_owned()), source: "admin", delivery: random_hex(12), session: None };
    inbox::commit(&app.pool, &[&Event { account: account.to_owned(), body: event.to_string(), rows: vec![row] }]).await
}

async fn put_rep(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    if !valid_id(&rep) {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_id", "rep ids are 1-64 letters, digits, '-', '_' or '.'"));
    }
    let b: RepBody = body_as(&body)?;
    if b.telephony_user.is_empty() || b.telephony_user.len() > 128 {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_user", "telephony_user must be 1-128 characters"));
    }
    // The same settings document the extension uses, validated whole and refused whole.
    let (record, integrations) = match Settings::from_json(&b.settings.to_string()) {
        Ok(s) => (Record::encode(SETTINGS_KEY, false, now_ms(), &s), s.integrations.len()),
        Err(e) => {
            let mut refusal = Refusal::new(StatusCode::BAD_REQUEST, "invalid_settings", e.to_string());
            refusal.field = e.field().map(|f| json!(f));
            return Err(refusal);
        }
    };
    if sqlx::query("SELECT 1 FROM accounts WHERE id = $1").bind(&account).fetch_optional(&app.pool).await?.is_none() {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "unknown_account", "create the account first"));
    }
    let r = sqlx::query("INSERT INTO reps (account_id, rep_id, telephony_user) VALUES ($1, $2, $3) ON CONFLICT (account_id, rep_id) DO UPDATE SET telephony_user = EXCLUDED.telephony_user")
        .bind(&account)
        .bind(&rep)
        .bind(&b.telephony_user)
        .execute(&app.pool)
        .await;
    if let Err(sqlx::Error::Database(d)) = &r {
        if d.is_unique_violation() {
            return Err(Refusal::new(StatusCode::CONFLICT, "user_taken", "another rep of this account has that telephony user"));
        }
    }
    r?;
    let who = RepRef { account: account.clone(), rep: rep.clone() };
    let batch = Batch { writes: vec![Write::Put { store: StoreName::Settings, record }], durability: Durability::Strict };
    app.store.apply(&who, None, &batch).await?;
    admin_event(&app, &account, &rep, json!({ "kind": "reload" })).await?;
    Ok(ok(json!({ "rep": rep, "integrations": integrations })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsBody {
    token: String,
}

async fn put_credentials(State(app): State<App>, Path((account, rep, integration)): Path<(String, String, String)>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    let b: CredentialsBody = body_as(&body)?;
    if b.token.trim().is_empty() || !valid_id(&integration) {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_credentials", "a non-empty token and a valid integration id are required"));
    }
    if sqlx::query("SELECT 1 FROM reps WHERE account_id = $1 AND rep_id = $2").bind(&account).bind(&rep).fetch_optional(&app.pool).await?.is_none() {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "unknown_rep", "no such rep"));
    }
    let who = RepRef { account: account.clone(), rep: rep.clone() };
    let record = Record::encode(integration.clone(), false, now_ms(), &StoredSecret::api_token(&b.token));
    let batch = Batch { writes: vec![Write::Put { store: StoreName::Secrets, record }], durability: Durability::Strict };
    app.store.apply(&who, None, &batch).await?;
    admin_event(&app, &account, &rep, json!({ "kind": "reload" })).await?;
    Ok(ok(json!({ "integration": integration })))
}

fn slots_of(records: &[Record]) -> Vec<Slot> {
    records.iter().filter_map(Slot::from_record).collect()
}

async fn rep_slots(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    let who = RepRef { account, rep };
    let records = app.store.prefix(&who, StoreName::Slots, "").await?;
    Ok(ok(Value::Array(
        slots_of(&records)
            .iter()
            .map(|s| json!({ "key": s.key, "call": s.call_id(), "integration": s.integration, "state": s.state.name(), "records": s.records() }))
            .collect(),
    )))
}

async fn rep_unresolved(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    unresolved_view(&app, RepRef { account, rep }).await
}

/// `GET /rep/{account}/{rep}/unresolved`: the same queue with the rep's own token
/// ([`crate::auth::rep_only`]): what the extension's unresolved page shows in server mode.
pub async fn own_unresolved(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = crate::auth::rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    unresolved_view(&app, RepRef { account, rep }).await.unwrap_or_else(IntoResponse::into_response)
}

/// The rep's unresolved queue, as the core's view shapes it.
async fn unresolved_view(app: &App, who: RepRef) -> Result<Response, Refusal> {
    let records = app.store.prefix(&who, StoreName::Slots, "").await?;
    let waiting: Vec<Slot> = slots_of(&records).into_iter().filter(|s| matches!(s.state, calltrail_core::engine::SlotState::Unresolved { .. })).collect();
    let calls_needed: Vec<String> = waiting.iter().filter_map(|s| s.call_id().map(|c| c.to_string())).collect();
    let mut call_records = Vec::new();
    for id in &calls_needed {
        if let Some(r) = app.store.get(&who, StoreName::Calls, id).await? {
            call_records.push(r);
        }
    }
    let settings = app.store.get(&who, StoreName::Settings, SETTINGS_KEY).await?;
    // The view is the core's (the same the extension's unresolved page shows).
    let calls: Vec<CallEntry> = call_records.iter().filter_map(CallEntry::from_record).collect();
    let settings = calltrail_core::driver::Driver::stored_settings(settings.as_ref());
    let view = calltrail_core::view::unresolved(&waiting, &calls, &settings);
    let mut rows = serde_json::to_value(&view).unwrap_or(Value::Null);
    // A resolution the engine refused for a slot still waiting says why (`crate::rep`).
    let refusals = crate::refusals::refusals_of(&app.pool, &who, &calls_needed).await.map_err(Refusal::internal)?;
    for (row, u) in rows.as_array_mut().into_iter().flatten().zip(&view) {
        if let Some((call, integration)) = u.slot.strip_prefix("call|").and_then(|k| k.rsplit_once('|')) {
            row["refused"] = json!(crate::refusals::refusal_for(&refusals, call, integration));
        }
    }
    Ok(ok(rows))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolutionsBody {
    resolutions: Vec<(SlotKey, Resolution)>,
}

async fn post_resolutions(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    // Read as the engine will read it (refused whole when any row is not a resolution), then
    // kept as text: the engine's types do not cross threads.
    let (event, n) = {
        let b: ResolutionsBody = body_as(&body)?;
        if b.resolutions.is_empty() || b.resolutions.len() > 1000 {
            return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_resolutions", "between 1 and 1000 resolutions"));
        }
        (json!({ "kind": "resolve", "resolutions": b.resolutions }), b.resolutions.len())
    };
    admin_event(&app, &account, &rep, event).await?;
    Ok(ok(json!({ "queued": n })))
}

async fn post_sync(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, Refusal> {
    app.authorized(&headers)?;
    admin_event(&app, &account, &rep, json!({ "kind": "sync" })).await?;
    Ok(ok(json!({ "queued": true })))
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
