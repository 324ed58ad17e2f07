//! Per-rep tokens and the OAuth token broker.
//!
//! **Rep tokens.** The admin API issues a bearer token for one rep of one account
//! (`POST /admin/accounts/{account}/reps/{rep}/tokens`), lists them and revokes them. A token is
//! `ctr_<id>_<secret>`: `id` (8 random bytes, hex) is its public name, `secret` 32 random bytes;
//! it is shown once, and only the SHA-256 of the whole token is stored, so a copy of the
//! database gives no usable token. A lookup is by that hash (an index), so a guess costs a hash
//! and a miss, and nothing compares secrets byte by byte.
//!
//! **Rep endpoints** live under `/rep/{account}/{rep}/...` and take only that rep's token:
//! - no token, an unknown one or a revoked one: 401 `unauthorized`;
//! - the admin's credential: 403 `admin_token_refused` (an admin acts through `/admin`, and a
//!   rep's browser never holds the admin token);
//! - another rep's token, or a token of another account: 403 `wrong_rep`.
//!
//! And the other way: a rep token opens nothing under `/admin` (it is not the admin token).
//!
//! **Token broker.** The company registers its OAuth client for an integration id once
//! (`PUT /admin/accounts/{account}/oauth/{integration}`); its secret is sealed at rest like the
//! other credentials, bound to `<account>/oauth/<integration>`. A rep's extension then sends
//! the authorization code it got (with its PKCE verifier), or its refresh token, to
//! `POST /rep/{account}/{rep}/oauth/{integration}/token` (the body is the core's
//! [`oauth::BrokerGrant`], which the extension writes); the server adds the client secret,
//! calls the vendor's token endpoint (the request and the reading of its reply are the core's,
//! [`calltrail_core::crm::oauth`]) and answers with the tokens, never the secret: the core's
//! [`oauth::TokenSet`], which the extension reads back ([`oauth::parse_broker_reply`]). A Zoho
//! grant may name the data centre's accounts server (the redirect's `accounts-server`); it is
//! believed only as [`oauth::accounts_token_url`] believes it (Zoho's own, or the registered
//! token URL's origin), since the secret goes there. The extension keeps its tokens as it does
//! today; the secret never leaves the server. A revoke on disconnect that wants the client's
//! authentication (Pipedrive's, [`oauth::revoke_needs_secret`]) goes the same way:
//! `POST /rep/{account}/{rep}/oauth/{integration}/revoke` with the core's [`oauth::BrokerRevoke`].

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::Router;
use calltrail_core::crm::oauth::{self, BrokerGrant, Endpoints, Grant, OAuthClient};
use calltrail_core::crm::{CrmError, Secret};
use calltrail_core::model::{CrmKind, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

use crate::auth::{is_admin, rep_only, token_hash};
use crate::reply::{internal, now_ms, ok, refuse};
use crate::app::App;
use crate::seal::random_hex;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/accounts/{account}/reps/{rep}/tokens", post(issue).get(list))
        .route("/admin/accounts/{account}/reps/{rep}/tokens/{id}", delete(revoke))
        .route("/admin/accounts/{account}/oauth/{integration}", put(put_oauth_client))
        .route("/rep/{account}/{rep}/whoami", get(whoami))
        .route("/rep/{account}/{rep}/oauth/{integration}/token", post(broker))
        .route("/rep/{account}/{rep}/oauth/{integration}/revoke", post(revoke_grant))
}


/// A fresh token and its public id.
fn new_token() -> (String, String) {
    let id = random_hex(8);
    (format!("ctr_{id}_{}", random_hex(32)), id)
}

fn admin_only(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    if is_admin(app, headers) {
        Ok(())
    } else {
        Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "a valid admin bearer token is required"))
    }
}


#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    #[serde(default)]
    label: String,
}

async fn issue(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return r;
    }
    let b: IssueBody = if body.is_empty() {
        IssueBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
        }
    };
    if b.label.len() > 200 {
        return refuse(StatusCode::BAD_REQUEST, "bad_label", "a label is at most 200 characters");
    }
    let (token, id) = new_token();
    let r = sqlx::query("INSERT INTO rep_tokens (id, account_id, rep_id, hash, label) SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM reps WHERE account_id = $2 AND rep_id = $3)")
        .bind(&id)
        .bind(&account)
        .bind(&rep)
        .bind(token_hash(&token))
        .bind(&b.label)
        .execute(&app.pool)
        .await;
    match r {
        Ok(done) if done.rows_affected() == 1 => ok(json!({ "id": id, "token": token, "account": account, "rep": rep, "label": b.label })),
        Ok(_) => refuse(StatusCode::NOT_FOUND, "unknown_rep", "no such rep"),
        Err(e) => internal(e),
    }
}

async fn list(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return r;
    }
    let rows = sqlx::query(
        "SELECT id, label, (extract(epoch from created_at) * 1000)::bigint, (extract(epoch from last_used_at) * 1000)::bigint, (extract(epoch from revoked_at) * 1000)::bigint
         FROM rep_tokens WHERE account_id = $1 AND rep_id = $2 ORDER BY created_at, id",
    )
    .bind(&account)
    .bind(&rep)
    .fetch_all(&app.pool)
    .await;
    match rows {
        Ok(rows) => ok(Value::Array(
            rows.iter()
                .map(|r| {
                    json!({
                        "id": r.try_get::<String, _>(0).unwrap_or_default(),
                        "label": r.try_get::<String, _>(1).unwrap_or_default(),
                        "created_at": r.try_get::<Option<i64>, _>(2).ok().flatten(),
                        "last_used_at": r.try_get::<Option<i64>, _>(3).ok().flatten(),
                        "revoked_at": r.try_get::<Option<i64>, _>(4).ok().flatten(),
                    })
                })
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

async fn revoke(State(app): State<App>, Path((account, rep, id)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return r;
    }
    let r = sqlx::query("UPDATE rep_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND account_id = $2 AND rep_id = $3")
        .bind(&id)
        .bind(&account)
        .bind(&rep)
        .execute(&app.pool)
        .await;
    match r {
        Ok(done) if done.rows_affected() == 1 => ok(json!({ "id": id, "revoked": true })),
        Ok(_) => refuse(StatusCode::NOT_FOUND, "unknown_token", "no such token for this rep"),
        Err(e) => internal(e),
    }
}

async fn whoami(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Response {
    match rep_only(&app, &headers, &account, &rep).await {
        Ok(id) => ok(json!({ "account": account, "rep": rep, "token": id })),
        Err(r) => r,
    }
}

// ---------- the token broker

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthClientBody {
    kind: CrmKind,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    /// Default: the vendor's documented endpoints ([`oauth::endpoints`]).
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    authorize_url: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// `https://`, or `http://` to this machine only (the emulators in tests).
fn is_http_url(s: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(s) else { return false };
    s.len() <= 2048
        && u.username().is_empty()
        && u.password().is_none()
        && match u.scheme() {
            "https" => u.host_str().is_some(),
            "http" => matches!(u.host_str(), Some("127.0.0.1" | "localhost")),
            _ => false,
        }
}

async fn put_oauth_client(State(app): State<App>, Path((account, integration)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return r;
    }
    let b: OAuthClientBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
    };
    // The regions the extension's options page offers (`oauth::regions`), or a Salesforce My
    // Domain name.
    let region = b.region.as_deref().unwrap_or("").trim();
    if !oauth::is_region(b.kind, region) {
        return refuse(StatusCode::BAD_REQUEST, "bad_region", format!("{region:?} is not a region of this CRM"));
    }
    let defaults = oauth::endpoints(b.kind, region);
    let token_url = b.token_url.unwrap_or(defaults.token_url);
    let authorize_url = b.authorize_url.unwrap_or(defaults.authorize_url);
    if b.client_id.trim().is_empty() || b.client_secret.trim().is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "bad_client", "client_id and client_secret are required");
    }
    if !is_http_url(&token_url) || !is_http_url(&authorize_url) || !is_http_url(&b.redirect_uri) {
        return refuse(StatusCode::BAD_REQUEST, "bad_url", "token_url, authorize_url and redirect_uri must be https:// (http:// only for this machine)");
    }
    let sealed = match app.sealer.seal(&format!("{account}/oauth/{integration}"), b.client_secret.as_bytes()) {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let r = sqlx::query(
        "INSERT INTO oauth_clients (account_id, integration, kind, client_id, token_url, authorize_url, redirect_uri, scopes, secret_sealed)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $1)
         ON CONFLICT (account_id, integration) DO UPDATE SET kind = EXCLUDED.kind, client_id = EXCLUDED.client_id, token_url = EXCLUDED.token_url,
           authorize_url = EXCLUDED.authorize_url, redirect_uri = EXCLUDED.redirect_uri, scopes = EXCLUDED.scopes, secret_sealed = EXCLUDED.secret_sealed",
    )
    .bind(&account)
    .bind(&integration)
    // The settings' name of the CRM (`zoho`), which the broker reads back as a `CrmKind`.
    .bind(oauth::key(b.kind))
    .bind(&b.client_id)
    .bind(&token_url)
    .bind(&authorize_url)
    .bind(&b.redirect_uri)
    .bind(b.scopes.join(" "))
    .bind(sealed)
    .execute(&app.pool)
    .await;
    match r {
        // The answer names the client but never its secret.
        Ok(done) if done.rows_affected() == 1 => ok(json!({ "integration": integration, "client_id": b.client_id, "token_url": token_url, "authorize_url": authorize_url, "redirect_uri": b.redirect_uri })),
        Ok(_) => refuse(StatusCode::NOT_FOUND, "unknown_account", "create the account first"),
        Err(e) => internal(e),
    }
}

fn http_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap_or_default())
}

/// The OAuth client the admin registered for `integration`, with its secret unsealed.
async fn registered_client(app: &App, account: &str, integration: &str) -> Result<(OAuthClient, Secret), Response> {
    let row = sqlx::query("SELECT kind, client_id, token_url, authorize_url, redirect_uri, scopes, secret_sealed FROM oauth_clients WHERE account_id = $1 AND integration = $2")
        .bind(account)
        .bind(integration)
        .fetch_optional(&app.pool)
        .await
        .map_err(internal)?
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "no_oauth_client", "the admin has registered no OAuth client for this integration"))?;
    let text = |i: usize| row.try_get::<String, _>(i).unwrap_or_default();
    let kind = serde_json::from_value::<CrmKind>(Value::String(text(0))).map_err(|_| internal("an oauth client of an unknown kind"))?;
    let secret = Secret::new(app.sealer.open_text(&format!("{account}/oauth/{integration}"), &text(6)).map_err(internal)?);
    let client = OAuthClient {
        kind,
        client_id: text(1),
        client_secret: Some(secret.clone()),
        redirect_uri: text(4),
        scopes: text(5).split_whitespace().map(str::to_owned).collect(),
        endpoints: Endpoints { token_url: text(2), authorize_url: text(3) },
    };
    Ok((client, secret))
}

/// `POST /rep/{account}/{rep}/oauth/{integration}/revoke`: the rep disconnected an integration
/// whose vendor wants the client's authentication to revoke (`oauth::revoke_needs_secret`):
/// the server sends the core's revoke request with the secret. Answered `{"revoked": true}`, or
/// the vendor's status as `revoke_failed` (a courtesy: the extension has forgotten the tokens).
async fn revoke_grant(State(app): State<App>, Path((account, rep, integration)): Path<(String, String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    let asked: oauth::BrokerRevoke = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
    };
    let (client, _) = match registered_client(&app, &account, &integration).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(request) = oauth::revoke_request(&client, &asked.access_token, asked.refresh_token.as_ref()) else {
        return refuse(StatusCode::BAD_REQUEST, "nothing_to_revoke", "this vendor's revoke needs a refresh token");
    };
    match crate::worker::fetch(http_client(), &request).await {
        calltrail_core::crm::Reply::Response(r) if (200..300).contains(&r.status) => ok(json!({ "revoked": true })),
        calltrail_core::crm::Reply::Response(r) => refuse(StatusCode::BAD_GATEWAY, "revoke_failed", format!("the vendor answered {}", r.status)),
        _ => refuse(StatusCode::BAD_GATEWAY, "vendor_unavailable", "the vendor did not answer"),
    }
}

async fn broker(State(app): State<App>, Path((account, rep, integration)): Path<(String, String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    // The request's type is the core's, the one the extension writes.
    let grant: BrokerGrant = match serde_json::from_slice(&body) {
        Ok(g) => g,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
    };
    let (mut client, secret) = match registered_client(&app, &account, &integration).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let kind = client.kind;
    // Zoho's data centre the rep's account lives in: one of Zoho's own accounts servers, or one
    // on the registered token URL's origin (where the secret may go); anything else is refused.
    let (BrokerGrant::AuthorizationCode { accounts_server, .. } | BrokerGrant::RefreshToken { accounts_server, .. }) = &grant;
    if let (CrmKind::Zoho, Some(server)) = (kind, accounts_server) {
        match oauth::accounts_token_url(server, &client.endpoints.token_url) {
            Some(url) => client.endpoints.token_url = url,
            None => return refuse(StatusCode::BAD_REQUEST, "bad_accounts_server", "the accounts server is not one of Zoho's nor on the registered token URL's origin"),
        }
    }
    let grant = match &grant {
        BrokerGrant::AuthorizationCode { code, code_verifier, .. } => {
            if code.is_empty() || code.len() > 4096 || !oauth::is_valid_verifier(code_verifier) {
                return refuse(StatusCode::BAD_REQUEST, "bad_grant", "a code and a PKCE code_verifier (43-128 characters) are required");
            }
            Grant::AuthorizationCode { code, verifier: code_verifier }
        }
        BrokerGrant::RefreshToken { refresh_token, .. } => {
            if refresh_token.is_empty() || refresh_token.expose().len() > 4096 {
                return refuse(StatusCode::BAD_REQUEST, "bad_grant", "a refresh_token is required");
            }
            Grant::RefreshToken { refresh_token }
        }
    };
    let request = oauth::token_request(&client, &grant);
    let reply = crate::worker::fetch(http_client(), &request).await;
    // The vendor's words are scrubbed of the secret and the refresh token before they are shown.
    let mut secrets = vec![&secret];
    if let Grant::RefreshToken { refresh_token } = &grant {
        secrets.push(refresh_token);
    }
    match oauth::parse_token_reply(kind, &reply, Timestamp(now_ms()), &secrets) {
        // The core's `TokenSet`, which the extension reads back (`oauth::parse_broker_reply`).
        Ok(t) => match serde_json::to_value(&t) {
            Ok(v) => ok(v),
            Err(e) => internal(e),
        },
        Err(e) => {
            let (status, kind) = match &e {
                CrmError::Unauthorized { .. } | CrmError::Permanent { .. } => (StatusCode::BAD_REQUEST, "grant_refused"),
                CrmError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
                CrmError::Transient { .. } | CrmError::Unknown { .. } => (StatusCode::BAD_GATEWAY, "vendor_unavailable"),
            };
            refuse(status, kind, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, id) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("ctr_{id}_")) && a.len() == 4 + 16 + 1 + 64, "{a}");
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn client_urls_are_https_or_this_machine() {
        for good in ["https://api.hubapi.com/oauth/v1/token", "http://127.0.0.1:8790/hubspot/oauth/v1/token", "http://localhost:9/x"] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in ["http://api.hubapi.com/oauth", "http://127.0.0.1.evil.example/x", "ftp://x", "https://user:pw@host/x", "not a url"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
