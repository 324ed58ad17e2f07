//! RingCentral, as the server talks to it: one instance at a time per account (the keeper
//! lease) signs in with the account's JWT credential, keeps the account-level
//! telephony-session webhook subscription alive (created, renewed before it expires, deleted
//! and created again when RingCentral blacklists it or forgets it), and reconciles with the
//! call log: a full sync first, then incremental syncs with the `syncToken`, on a schedule.
//! Every call-log record goes into the inbox of the rep whose record it is, like a webhook;
//! a call whose webhook never came is then logged from its record.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use calltrail_core::telephony::ringcentral;
use serde_json::{json, Value};
use sqlx::{PgPool, Row};

use crate::http::RcSealed;
use crate::inbox::{self, Event, InboxError, To};
use crate::lease;
use crate::seal::Sealer;

/// The account-level event filter.
pub const EVENT_FILTER: &str = "/restapi/v1.0/account/~/telephony/sessions";
/// Subscriptions are asked for this long, and renewed when less than a third is left.
pub const SUBSCRIPTION_SECS: i64 = 7 * 24 * 3600;

#[derive(Clone)]
pub struct KeeperConfig {
    pub instance: String,
    pub public_url: String,
    pub tick: Duration,
    pub sync_interval: Duration,
    pub check_interval: Duration,
    pub lease_ttl: Duration,
}

#[derive(Default)]
struct AccountState {
    token: Option<(String, Instant)>,
    last_sync: Option<Instant>,
    last_check: Option<Instant>,
    /// No RingCentral request before this (a 429's Retry-After).
    backoff_until: Option<Instant>,
}

struct Rc<'a> {
    http: &'a reqwest::Client,
    base: String,
    token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("RingCentral answered {status}: {body}")]
    Status { status: u16, body: String, retry_after: Option<u64> },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("inbox: {0}")]
    Inbox(#[from] InboxError),
    #[error("{0}")]
    Config(String),
}

impl Rc<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<(u16, Value), RcError> {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path)).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let text = resp.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status >= 400 && status != 404 {
            return Err(RcError::Status { status, body: text.chars().take(300).collect(), retry_after });
        }
        Ok((status, value))
    }
}

/// Runs the keeper for ever.
pub async fn keeper(pool: PgPool, sealer: Sealer, http: reqwest::Client, cfg: KeeperConfig) {
    let mut states: HashMap<String, AccountState> = HashMap::new();
    loop {
        let accounts: Vec<String> = match sqlx::query_scalar("SELECT id FROM accounts WHERE rc IS NOT NULL ORDER BY id").fetch_all(&pool).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("keeper: {e}");
                tokio::time::sleep(cfg.tick).await;
                continue;
            }
        };
        for account in accounts {
            match lease::keep_account(&pool, &cfg.instance, &account, cfg.lease_ttl).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    states.remove(&account);
                    continue;
                }
                Err(e) => {
                    tracing::warn!("keeper lease: {e}");
                    continue;
                }
            }
            let state = states.entry(account.clone()).or_default();
            if state.backoff_until.is_some_and(|b| Instant::now() < b) {
                continue;
            }
            if let Err(e) = keep(&pool, &sealer, &http, &cfg, &account, state).await {
                if let RcError::Status { status: 429, retry_after, .. } | RcError::Status { status: 503, retry_after, .. } = &e {
                    state.backoff_until = Some(Instant::now() + Duration::from_secs(retry_after.unwrap_or(5)));
                }
                if let RcError::Status { status: 401, .. } = &e {
                    state.token = None;
                }
                tracing::warn!(account = %account, "ringcentral: {e}");
            }
        }
        tokio::time::sleep(cfg.tick).await;
    }
}

async fn keep(pool: &PgPool, sealer: &Sealer, http: &reqwest::Client, cfg: &KeeperConfig, account: &str, state: &mut AccountState) -> Result<(), RcError> {
    let row = sqlx::query("SELECT rc, rc_sealed, subscription_id, sync_token, extract(epoch from created_at)::bigint FROM accounts WHERE id = $1")
        .bind(account)
        .fetch_one(pool)
        .await?;
    let rc: sqlx::types::Json<Value> = row.try_get(0)?;
    let sealed: String = row.try_get(1)?;
    let subscription: Option<String> = row.try_get(2)?;
    let sync_token: Option<String> = row.try_get(3)?;
    let created: i64 = row.try_get(4)?;
    let secret: RcSealed = sealer
        .open_text(&format!("{account}/rc"), &sealed)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| RcError::Config("the RingCentral credentials do not open with this key".into()))?;
    let base = rc.0.get("server_url").and_then(Value::as_str).unwrap_or("").to_owned();
    let client_id = rc.0.get("client_id").and_then(Value::as_str).unwrap_or("").to_owned();

    let token = match &state.token {
        Some((t, until)) if Instant::now() < *until => t.clone(),
        _ => {
            let basic = B64.encode(format!("{client_id}:{}", secret.client_secret));
            let resp = http
                .post(format!("{base}/restapi/oauth/token"))
                .header("authorization", format!("Basic {basic}"))
                .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", secret.jwt.as_str())])
                .send()
                .await?;
            let status = resp.status().as_u16();
            let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let Some(t) = body.get("access_token").and_then(Value::as_str) else {
                return Err(RcError::Status { status, body: body.to_string(), retry_after });
            };
            let ttl = body.get("expires_in").and_then(Value::as_u64).unwrap_or(3600);
            state.token = Some((t.to_owned(), Instant::now() + Duration::from_secs(ttl.saturating_sub(120).max(30))));
            t.to_owned()
        }
    };
    let api = Rc { http, base, token };

    let check_due = state.last_check.is_none_or(|c| c.elapsed() >= cfg.check_interval) || subscription.is_none();
    if check_due {
        ensure_subscription(pool, &api, cfg, account, subscription.as_deref(), &secret.verification_token).await?;
        state.last_check = Some(Instant::now());
    }
    if state.last_sync.is_none_or(|s| s.elapsed() >= cfg.sync_interval) {
        sync(pool, &api, account, sync_token, created).await?;
        state.last_sync = Some(Instant::now());
    }
    Ok(())
}

async fn ensure_subscription(pool: &PgPool, api: &Rc<'_>, cfg: &KeeperConfig, account: &str, current: Option<&str>, verification: &str) -> Result<(), RcError> {
    if let Some(id) = current {
        let (status, sub) = api.call(reqwest::Method::GET, &format!("/restapi/v1.0/subscription/{id}"), None).await?;
        let state = sub.get("status").and_then(Value::as_str).unwrap_or("");
        if status == 200 && state == "Active" {
            let left = sub.get("expiresIn").and_then(Value::as_i64).unwrap_or(0);
            if left < SUBSCRIPTION_SECS / 3 {
                api.call(reqwest::Method::POST, &format!("/restapi/v1.0/subscription/{id}/renew"), None).await?;
                tracing::info!(account, subscription = id, "subscription renewed");
            }
            return Ok(());
        }
        if status == 200 {
            // Blacklisted (or anything but active): the documented fix is delete and recreate.
            tracing::warn!(account, subscription = id, state, "subscription not active; recreating");
            let _ = api.call(reqwest::Method::DELETE, &format!("/restapi/v1.0/subscription/{id}"), None).await;
        } else {
            tracing::warn!(account, subscription = id, "subscription gone; recreating");
        }
    }
    let address = format!("{}/webhooks/ringcentral/{account}", cfg.public_url.trim_end_matches('/'));
    let body = json!({
        "eventFilters": [EVENT_FILTER],
        "deliveryMode": { "transportType": "WebHook", "address": address, "verificationToken": verification },
        "expiresIn": SUBSCRIPTION_SECS,
    });
    let (_, sub) = api.call(reqwest::Method::POST, "/restapi/v1.0/subscription", Some(body)).await?;
    let id = sub.get("id").and_then(Value::as_str).ok_or_else(|| RcError::Config(format!("subscription answer without id: {sub}")))?;
    sqlx::query("UPDATE accounts SET subscription_id = $2 WHERE id = $1").bind(account).bind(id).execute(pool).await?;
    tracing::info!(account, subscription = id, "subscription created");
    Ok(())
}

/// One call-log sync: full when there is no token (or it was refused), else incremental.
async fn sync(pool: &PgPool, api: &Rc<'_>, account: &str, token: Option<String>, created_epoch: i64) -> Result<(), RcError> {
    let path = match &token {
        Some(t) => format!("/restapi/v1.0/account/~/call-log-sync?syncType=ISync&syncToken={}&view=Detailed", urlencode(t)),
        None => {
            // A day before the account was connected: a call that began before and ended after
            // is still in the frame (a frame's lower edge filters on the start time).
            let from = (created_epoch - 24 * 3600).max(now_secs() - 7 * 24 * 3600);
            let from = calltrail_core::model::Timestamp(from * 1000).to_rfc3339();
            format!("/restapi/v1.0/account/~/call-log-sync?syncType=FSync&recordCount=250&view=Detailed&dateFrom={}", urlencode(&from))
        }
    };
    let answer = api.call(reqwest::Method::GET, &path, None).await;
    let body = match answer {
        Ok((_, b)) => b,
        Err(RcError::Status { status: 400, body, .. }) if token.is_some() => {
            // CLG-101 (token from before a reset) or CMN-101 (too many changes): sync in full.
            tracing::warn!(account, "incremental sync refused ({body}); full sync next");
            sqlx::query("UPDATE accounts SET sync_token = NULL WHERE id = $1").bind(account).execute(pool).await?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let records = body.get("records").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut by_user: HashMap<String, Vec<(ringcentral::LogRecord, String)>> = HashMap::new();
    for r in &records {
        match ringcentral::log_record(r) {
            Ok(rec) => {
                if let Some(ext) = rec.extension.clone() {
                    by_user.entry(ext).or_default().push((rec, r.to_string()));
                }
            }
            Err(e) => tracing::debug!(account, "call-log record skipped: {e}"),
        }
    }
    // One commit for the whole page; each record goes to the rep of its user (routed when
    // committed), or is kept as nobody's.
    let events: Vec<Event> = by_user
        .into_iter()
        .flat_map(|(user, recs)| {
            let account = account.to_owned();
            recs.into_iter().map(move |(rec, text)| Event {
                account: account.clone(),
                body: text,
                rows: vec![inbox::Row { to: To::User(user.clone()), source: "rc-log", delivery: ringcentral::log_delivery(&rec), session: Some(rec.session.clone()) }],
            })
        })
        .collect();
    let stored = events.len();
    if !events.is_empty() {
        inbox::commit(pool, &events.iter().collect::<Vec<_>>()).await?;
    }
    let next = body.get("syncInfo").and_then(|s| s.get("syncToken")).and_then(Value::as_str);
    if let Some(t) = next {
        sqlx::query("UPDATE accounts SET sync_token = $2, synced_at = now() WHERE id = $1").bind(account).bind(t).execute(pool).await?;
    }
    tracing::debug!(account, records = records.len(), stored, full = token.is_none(), "call-log sync");
    Ok(())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
