//! Who a request is from: the admin (the admin token, compared in constant time) or one rep
//! (a live rep token of exactly that account and rep, [`crate::tokens`] issues them).

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::reply::{internal, refuse};

/// The bearer token of a request, or "".
pub fn bearer(headers: &HeaderMap) -> &str {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("")
}

/// The admin credential, compared in constant time.
pub fn is_admin(app: &App, headers: &HeaderMap) -> bool {
    let given = bearer(headers);
    !given.is_empty() && bool::from(given.as_bytes().ct_eq(app.admin_token.as_bytes()))
}

/// The rep a request is from: its bearer must be a live token of exactly `account`/`rep`.
/// Returns the token's id.
pub async fn rep_only(app: &App, headers: &HeaderMap, account: &str, rep: &str) -> Result<String, Response> {
    let given = bearer(headers);
    if given.is_empty() {
        return Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "a rep's bearer token is required"));
    }
    if is_admin(app, headers) {
        return Err(refuse(StatusCode::FORBIDDEN, "admin_token_refused", "rep endpoints take the rep's own token, never the admin's"));
    }
    let row = sqlx::query("SELECT id, account_id, rep_id, revoked_at IS NOT NULL AS revoked FROM rep_tokens WHERE hash = $1")
        .bind(token_hash(given))
        .fetch_optional(&app.pool)
        .await
        .map_err(internal)?;
    let Some(row) = row else {
        return Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "the token is unknown or revoked"));
    };
    let (id, acct, who, revoked): (String, String, String, bool) = (row.try_get(0).map_err(internal)?, row.try_get(1).map_err(internal)?, row.try_get(2).map_err(internal)?, row.try_get(3).map_err(internal)?);
    if revoked {
        return Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "the token is unknown or revoked"));
    }
    if acct != account || who != rep {
        return Err(refuse(StatusCode::FORBIDDEN, "wrong_rep", "this token belongs to another rep"));
    }
    // When it was last used, at most once a minute per token (a write per request is waste).
    let _ = sqlx::query("UPDATE rep_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')")
        .bind(&id)
        .execute(&app.pool)
        .await;
    Ok(id)
}

/// The SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
