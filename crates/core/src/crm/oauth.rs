//! OAuth 2 for the CRMs: the authorization-code flow with PKCE, token refresh, and reading
//! token replies. Pure functions: the shell runs `chrome.identity.launchWebAuthFlow` and
//! `fetch`, generates the PKCE verifier and the `state` with WebCrypto, and keeps
//! refreshes single-flight per integration; this module only builds and reads.
//!
//! Invariants:
//! - No token or client secret appears in a URL, an error message or a `Debug` output
//!   ([`TokenSet`] holds them as [`Secret`]s; errors go through [`common::scrub`]).
//! - [`needs_refresh`] is decided from the expiry we computed from `expires_in`, not from
//!   a 401 (HubSpot documents that a 401 is not a reliable refresh signal). Salesforce sends no
//!   `expires_in`: its tokens have no known expiry and are refreshed on `INVALID_SESSION_ID`.
//! - PKCE's S256 challenge is RFC 7636's (`sha2` and `base64`, checked against its Appendix B).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common;
use super::{CrmError, HttpRequest, HttpResponse, Method, Reply, Secret};
use crate::model::{CrmKind, Timestamp};

/// Refresh this long before the access token expires, so a request never leaves with a token
/// that dies in flight and clocks a little apart do not matter.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60_000;

/// Where a CRM's OAuth server lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    pub authorize_url: String,
    pub token_url: String,
}

/// The OAuth server of `kind`. `region` picks a data centre where the CRM has several: Zoho's
/// top-level domain (`com`, `eu`, `in`, `com.au`, `jp`, `ca`, `sa`; default `com`), Clio's
/// host prefix (`eu`, `ca`, `au`; default US), Salesforce's login host (`test` for
/// sandboxes; default `login`). HubSpot and Pipedrive have one server.
pub fn endpoints(kind: CrmKind, region: Option<&str>) -> Endpoints {
    let region = region.map(str::trim).filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
    let (authorize_url, token_url) = match kind {
        CrmKind::HubSpot => {
            ("https://app.hubspot.com/oauth/authorize".to_owned(), "https://api.hubapi.com/oauth/v1/token".to_owned())
        }
        CrmKind::Salesforce => {
            let host = match region {
                Some("test") => "test.salesforce.com",
                _ => "login.salesforce.com",
            };
            (format!("https://{host}/services/oauth2/authorize"), format!("https://{host}/services/oauth2/token"))
        }
        CrmKind::Zoho => {
            let tld = region.unwrap_or("com");
            (format!("https://accounts.zoho.{tld}/oauth/v2/auth"), format!("https://accounts.zoho.{tld}/oauth/v2/token"))
        }
        CrmKind::Clio => {
            let host = match region {
                Some(r @ ("eu" | "ca" | "au")) => format!("{r}.app.clio.com"),
                _ => "app.clio.com".to_owned(),
            };
            (format!("https://{host}/oauth/authorize"), format!("https://{host}/oauth/token"))
        }
        CrmKind::Pipedrive => (
            "https://oauth.pipedrive.com/oauth/authorize".to_owned(),
            "https://oauth.pipedrive.com/oauth/token".to_owned(),
        ),
    };
    Endpoints { authorize_url, token_url }
}

/// The redirect URI `chrome.identity.launchWebAuthFlow` watches for this extension.
pub fn redirect_uri(extension_id: &str) -> String {
    format!("https://{}.chromiumapp.org/", extension_id.trim().to_ascii_lowercase())
}

/// One registered OAuth client (app) for one CRM.
#[derive(Clone, Debug, PartialEq)]
pub struct OAuthClient {
    pub kind: CrmKind,
    pub client_id: String,
    /// Sent only when the CRM requires it at the token endpoint; `None` for a PKCE public client.
    pub client_secret: Option<Secret>,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub endpoints: Endpoints,
}

/// Whether `v` is a valid PKCE code verifier (RFC 7636 §4.1: 43 to 128 unreserved characters).
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 code challenge: `BASE64URL(SHA256(ASCII(verifier)))` without padding.
pub fn code_challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The URL to open in `launchWebAuthFlow`. `state` must be unguessable and checked on return
/// with [`parse_redirect`]; `verifier` is the PKCE code verifier the shell generated.
pub fn authorize_url(client: &OAuthClient, state: &str, verifier: &str) -> String {
    let challenge = code_challenge_s256(verifier);
    let scope = client.scopes.join(" ");
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &client.client_id),
        ("redirect_uri", &client.redirect_uri),
        ("state", state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    if !scope.is_empty() {
        pairs.push(("scope", &scope));
    }
    // Zoho issues a refresh token only for offline access, and again only with consent.
    if client.kind == CrmKind::Zoho {
        pairs.push(("access_type", "offline"));
        pairs.push(("prompt", "consent"));
    }
    let sep = if client.endpoints.authorize_url.contains('?') { '&' } else { '?' };
    format!("{}{sep}{}", client.endpoints.authorize_url, common::form_encode(&pairs))
}

/// What came back on the redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub code: String,
    /// Zoho's `accounts-server`: the data centre whose token endpoint must redeem the code.
    pub accounts_server: Option<String>,
}

/// Reads the redirect URL: the `code` when `state` matches, else why not. A mismatched state
/// is refused before anything else is read (CSRF).
pub fn parse_redirect(url: &str, expected_state: &str) -> Result<Redirect, CrmError> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    let params: std::collections::HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if params.get("state").map(String::as_str) != Some(expected_state) {
        return Err(CrmError::Unauthorized { message: "the sign-in reply did not match this request (state); try connecting again".into() });
    }
    if let Some(err) = params.get("error") {
        let why = params.get("error_description").cloned().unwrap_or_else(|| err.clone());
        return Err(CrmError::Unauthorized { message: format!("sign-in refused: {}", common::truncate_chars(&why, 200)) });
    }
    match params.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Redirect { code: code.clone(), accounts_server: params.get("accounts-server").cloned() }),
        None => Err(CrmError::Unauthorized { message: "the sign-in reply carried no authorization code".into() }),
    }
}

/// A grant to redeem at the token endpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum Grant<'a> {
    AuthorizationCode { code: &'a str, verifier: &'a str },
    RefreshToken { refresh_token: &'a Secret },
}

/// The token request (`application/x-www-form-urlencoded` POST). The client secret goes in
/// the body, except for Pipedrive, whose docs ask for HTTP Basic client authentication.
pub fn token_request(client: &OAuthClient, grant: &Grant<'_>) -> HttpRequest {
    let mut pairs: Vec<(&str, &str)> = match grant {
        Grant::AuthorizationCode { code, verifier } => vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", verifier),
        ],
        Grant::RefreshToken { refresh_token } => {
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())]
        }
    };
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    let basic = client.kind == CrmKind::Pipedrive;
    if basic {
        let secret = client.client_secret.as_ref().map(Secret::expose).unwrap_or("");
        let creds = STANDARD.encode(format!("{}:{secret}", client.client_id));
        headers.push(("Authorization".to_owned(), format!("Basic {creds}")));
    } else {
        pairs.push(("client_id", &client.client_id));
        if let Some(s) = &client.client_secret {
            pairs.push(("client_secret", s.expose()));
        }
    }
    HttpRequest { method: Method::Post, url: client.endpoints.token_url.clone(), headers, body: Some(common::form_encode(&pairs)) }
}

/// The request that revokes a connection's tokens at its vendor, where the vendor documents one:
/// HubSpot `DELETE /oauth/v1/refresh-tokens/{token}`, Salesforce `POST /services/oauth2/revoke`,
/// Zoho `POST /oauth/v2/token/revoke`, Pipedrive `POST /oauth/revoke`, Clio `POST
/// /oauth/deauthorize`, each on the token URL's host. `None` without a token to revoke (an API
/// token is revoked in the CRM, where it was made).
pub fn revoke_request(client: &OAuthClient, access: &Secret, refresh: Option<&Secret>) -> Option<HttpRequest> {
    let token = refresh.unwrap_or(access);
    let base = client.endpoints.token_url.trim_end_matches('/');
    let beside = |to: &str| format!("{}{to}", base.strip_suffix("/token").unwrap_or(base));
    let form = |url: String, pairs: &[(&str, &str)]| HttpRequest {
        method: Method::Post,
        url,
        headers: vec![("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned())],
        body: Some(common::form_encode(pairs)),
    };
    Some(match client.kind {
        CrmKind::HubSpot => {
            let url = format!("{}/refresh-tokens/{}", base.strip_suffix("/token")?, common::encode_component(refresh?.expose()));
            HttpRequest { method: Method::Delete, url, headers: Vec::new(), body: None }
        }
        CrmKind::Salesforce => form(beside("/revoke"), &[("token", token.expose())]),
        CrmKind::Zoho => {
            // Zoho documents the token as a query parameter.
            let url = format!("{base}/revoke?{}", common::form_encode(&[("token", token.expose())]));
            HttpRequest { method: Method::Post, url, headers: Vec::new(), body: None }
        }
        CrmKind::Pipedrive => {
            let mut r = form(beside("/revoke"), &[("token", token.expose()), ("token_type_hint", if refresh.is_some() { "refresh_token" } else { "access_token" })]);
            let secret = client.client_secret.as_ref().map(Secret::expose).unwrap_or("");
            r.headers.push(("Authorization".to_owned(), format!("Basic {}", STANDARD.encode(format!("{}:{secret}", client.client_id)))));
            r
        }
        CrmKind::Clio => form(beside("/deauthorize"), &[("token", access.expose())]),
    })
}

/// A token reply, read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    /// `None` when the reply carried none (Salesforce on refresh): keep the one you have.
    pub refresh_token: Option<Secret>,
    /// `now + expires_in`; `None` when the CRM does not say (Salesforce).
    pub expires_at: Option<Timestamp>,
    /// Salesforce's per-org API host: the integration's new base URL.
    pub instance_url: Option<String>,
    /// Zoho's and Pipedrive's API host for this account.
    pub api_domain: Option<String>,
    pub scope: Option<String>,
}

/// Reads the token endpoint's reply at `now`. Errors: `invalid_grant` (a revoked, expired or
/// already-used refresh token, or a bad code) → `Unauthorized` "reconnect required"; other
/// OAuth errors → `Unauthorized` with the server's words; 429 → `RateLimited`; 5xx, timeouts
/// and network failures → `Transient` (with rotating refresh tokens a lost reply may have
/// spent the old one, in which case the retry gets `invalid_grant` and asks for a reconnect).
pub fn parse_token_reply(kind: CrmKind, reply: &Reply, now: Timestamp, secrets: &[&Secret]) -> Result<TokenSet, CrmError> {
    let crm = kind.name();
    let resp = match reply {
        Reply::Response(r) => r,
        Reply::TimedOut => return Err(CrmError::Transient { message: format!("{crm}'s token server did not answer in time") }),
        Reply::NetworkError { .. } => return Err(CrmError::Transient { message: format!("could not reach {crm}'s token server") }),
    };
    let v: Option<Value> = serde_json::from_str(&resp.body).ok();
    // Zoho reports some errors with a 200 and an `error` field.
    let oauth_error = v.as_ref().and_then(|v| common::str_at(v, "/error")).map(str::to_owned);
    if !(200..300).contains(&resp.status) || oauth_error.is_some() {
        return Err(token_error(crm, resp, oauth_error.as_deref(), secrets));
    }
    let v = v.ok_or_else(|| CrmError::Transient { message: format!("{crm}'s token server sent a reply Calltrail cannot read") })?;
    let access = common::str_at(&v, "/access_token").filter(|s| !s.is_empty()).ok_or_else(|| CrmError::Transient {
        message: format!("{crm}'s token server sent no access token"),
    })?;
    let expires_at = common::i64_at(&v, "/expires_in").filter(|s| *s > 0).map(|s| now.plus_secs(s));
    Ok(TokenSet {
        access_token: Secret::new(access),
        refresh_token: common::str_at(&v, "/refresh_token").filter(|s| !s.is_empty()).map(Secret::new),
        expires_at,
        instance_url: common::str_at(&v, "/instance_url").map(|s| s.trim_end_matches('/').to_owned()),
        api_domain: common::str_at(&v, "/api_domain").map(|s| s.trim_end_matches('/').to_owned()),
        scope: common::str_at(&v, "/scope").map(str::to_owned),
    })
}

fn token_error(crm: &str, resp: &HttpResponse, code: Option<&str>, secrets: &[&Secret]) -> CrmError {
    let scrub = |s: String| secrets.iter().fold(s, |acc, sec| common::scrub(&acc, sec));
    let detail = scrub(common::vendor_message(&resp.body));
    match (resp.status, code) {
        (_, Some("invalid_grant")) => CrmError::Unauthorized {
            message: format!("{crm} no longer accepts Calltrail's sign-in (invalid_grant): reconnect required"),
        },
        (429, _) => CrmError::RateLimited { retry_after_ms: common::retry_after_ms(resp), message: format!("{crm} token server: {detail}") },
        (500..=599, _) => CrmError::Transient { message: format!("{crm} token server {}: {detail}", resp.status) },
        (_, Some(c)) => CrmError::Unauthorized { message: scrub(format!("{crm} refused the token request ({c}): {detail}")) },
        (status, None) => CrmError::Unauthorized { message: format!("{crm} token server {status}: {detail}") },
    }
}

/// Whether an access token expiring at `expires_at` should be refreshed at `now`: within
/// [`REFRESH_MARGIN_MS`] of expiry or past it. `None` (no known expiry) never asks.
pub fn needs_refresh(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|at| now.plus_ms(REFRESH_MARGIN_MS) >= at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_valid_verifier(verifier));
        assert_eq!(code_challenge_s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a/".repeat(30)));
    }

    #[test]
    fn needs_refresh_table() {
        let now = Timestamp(1_000_000_000);
        let cases = [
            (None, false),
            (Some(now.plus_mins(60)), false),
            (Some(now.plus_ms(REFRESH_MARGIN_MS + 1)), false),
            (Some(now.plus_ms(REFRESH_MARGIN_MS)), true),
            (Some(now.plus_mins(1)), true),
            (Some(now.plus_mins(-1)), true),
        ];
        for (at, want) in cases {
            assert_eq!(needs_refresh(at, now), want, "{at:?}");
        }
    }

    #[test]
    fn parse_redirect_checks_state_first() {
        let ok = parse_redirect("https://abc.chromiumapp.org/?code=a%2Fb%2Bc&state=s1", "s1").unwrap();
        assert_eq!(ok.code, "a/b+c");
        let zoho = parse_redirect("https://abc.chromiumapp.org/?state=s1&code=x&location=eu&accounts-server=https%3A%2F%2Faccounts.zoho.eu", "s1").unwrap();
        assert_eq!(zoho.accounts_server.as_deref(), Some("https://accounts.zoho.eu"));
        assert!(matches!(parse_redirect("https://abc.chromiumapp.org/?code=x&state=evil", "s1"), Err(CrmError::Unauthorized { .. })));
        assert!(matches!(parse_redirect("https://abc.chromiumapp.org/?code=x", "s1"), Err(CrmError::Unauthorized { .. })));
        match parse_redirect("https://abc.chromiumapp.org/?error=access_denied&error_description=User+denied&state=s1", "s1") {
            Err(CrmError::Unauthorized { message }) => assert!(message.contains("User denied"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
