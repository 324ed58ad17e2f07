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

/// Where a CRM's OAuth server and API live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    pub authorize_url: String,
    pub token_url: String,
}

/// The CRM's name in settings and policies (`hubspot`, ...).
pub fn key(kind: CrmKind) -> &'static str {
    match kind {
        CrmKind::HubSpot => "hubspot",
        CrmKind::Pipedrive => "pipedrive",
        CrmKind::Salesforce => "salesforce",
        CrmKind::Zoho => "zoho",
        CrmKind::Clio => "clio",
    }
}

/// The regions (data centres, login hosts) a CRM has, as `(value, label)`: what the options
/// page offers. The first is the default (`""`). Salesforce also takes a My Domain name
/// (`acme`, or `acme--uat` for a sandbox).
pub fn regions(kind: CrmKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        CrmKind::Salesforce => &[("", "Production"), ("sandbox", "Sandbox")],
        CrmKind::Zoho => &[
            ("", "United States"),
            ("eu", "Europe"),
            ("in", "India"),
            ("au", "Australia"),
            ("jp", "Japan"),
            ("ca", "Canada"),
            ("cn", "China"),
            ("sa", "Saudi Arabia"),
        ],
        CrmKind::Clio => &[("", "United States"), ("eu", "Europe"), ("ca", "Canada"), ("au", "Australia")],
        CrmKind::HubSpot | CrmKind::Pipedrive => &[("", "")],
    }
}

/// Zoho's data centres: the accounts server and the API domain of each
/// (zoho.com/crm/developer/docs/api/v8/multi-dc.html).
const ZOHO: [(&str, &str, &str); 8] = [
    ("", "accounts.zoho.com", "www.zohoapis.com"),
    ("eu", "accounts.zoho.eu", "www.zohoapis.eu"),
    ("in", "accounts.zoho.in", "www.zohoapis.in"),
    ("au", "accounts.zoho.com.au", "www.zohoapis.com.au"),
    ("jp", "accounts.zoho.jp", "www.zohoapis.jp"),
    ("ca", "accounts.zohocloud.ca", "www.zohoapis.ca"),
    ("cn", "accounts.zoho.com.cn", "www.zohoapis.com.cn"),
    ("sa", "accounts.zoho.sa", "www.zohoapis.sa"),
];

/// Whether `region` is one `kind` has: one of [`regions`], or for Salesforce a My Domain name.
pub fn is_region(kind: CrmKind, region: &str) -> bool {
    regions(kind).iter().any(|(r, _)| *r == region)
        || (kind == CrmKind::Salesforce && region.len() <= 80 && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The hosts of `kind` in `region`: `(OAuth host, API host)`. Salesforce's API host is only
/// known from the token answer (`instance_url`); until then it is the login host.
fn hosts(kind: CrmKind, region: &str) -> (String, String) {
    let two = |h: &str| (h.to_owned(), h.to_owned());
    match kind {
        CrmKind::HubSpot => ("app.hubspot.com".into(), "api.hubapi.com".into()),
        CrmKind::Pipedrive => ("oauth.pipedrive.com".into(), "api.pipedrive.com".into()),
        CrmKind::Salesforce => match region {
            "" | "production" => two("login.salesforce.com"),
            "sandbox" => two("test.salesforce.com"),
            name if name.contains("--") => two(&format!("{}.sandbox.my.salesforce.com", name.to_ascii_lowercase())),
            name => two(&format!("{}.my.salesforce.com", name.to_ascii_lowercase())),
        },
        CrmKind::Zoho => {
            let (_, accounts, api) = ZOHO.iter().find(|(r, _, _)| *r == region).unwrap_or(&ZOHO[0]);
            ((*accounts).into(), (*api).into())
        }
        CrmKind::Clio => match region {
            r @ ("eu" | "ca" | "au") => two(&format!("{r}.app.clio.com")),
            _ => two("app.clio.com"),
        },
    }
}

/// The OAuth server of `kind` in `region` (see [`regions`]).
pub fn endpoints(kind: CrmKind, region: &str) -> Endpoints {
    let (auth, api) = hosts(kind, region);
    let (a, t) = match kind {
        CrmKind::HubSpot => return Endpoints { authorize_url: format!("https://{auth}/oauth/authorize"), token_url: format!("https://{api}/oauth/v1/token") },
        CrmKind::Salesforce => ("/services/oauth2/authorize", "/services/oauth2/token"),
        CrmKind::Zoho => ("/oauth/v2/auth", "/oauth/v2/token"),
        CrmKind::Pipedrive | CrmKind::Clio => ("/oauth/authorize", "/oauth/token"),
    };
    Endpoints { authorize_url: format!("https://{auth}{a}"), token_url: format!("https://{auth}{t}") }
}

/// The API base of `kind` in `region` before any token answer names the account's own.
pub fn api_base(kind: CrmKind, region: &str) -> String {
    format!("https://{}", hosts(kind, region).1)
}

/// Whether `host` is one of `kind`'s documented token hosts: where the company's client
/// secret may go when it was given for the vendor rather than for one URL.
pub fn is_vendor_token_host(kind: CrmKind, host: &str) -> bool {
    match kind {
        CrmKind::Salesforce => matches!(host, "login.salesforce.com" | "test.salesforce.com") || host.ends_with(".my.salesforce.com"),
        CrmKind::Zoho => ZOHO.iter().any(|(_, a, _)| *a == host),
        _ => regions(kind).iter().any(|(r, _)| endpoints(kind, r).token_url.split('/').nth(2) == Some(host)),
    }
}

/// Zoho's `accounts-server` from a redirect, as the token URL to redeem the code at: one of
/// Zoho's documented accounts servers, or one on the configured token URL's origin (a custom
/// or local server); anything else is refused, since the client secret would go there.
pub fn accounts_token_url(accounts_server: &str, configured_token_url: &str) -> Option<String> {
    let base = accounts_server.trim().trim_end_matches('/');
    let origin = crate::web::Origin::of(base)?;
    let same = crate::web::Origin::of(configured_token_url).is_some_and(|o| o == origin);
    let zoho = origin.scheme == crate::web::Scheme::Https && origin.port.is_none() && is_vendor_token_host(CrmKind::Zoho, &origin.host);
    let path_ok = base.split("://").nth(1).is_some_and(|r| !r.contains(['?', '#', '@']));
    ((same || zoho) && path_ok && origin.is_secure()).then(|| format!("{base}/oauth/v2/token"))
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
    /// The company's client secret, sent as the vendor documents; `None` when none is set.
    pub client_secret: Option<Secret>,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub endpoints: Endpoints,
}

/// Whether the vendor documents PKCE for a web server app: HubSpot (`code_verifier` on the token
/// request) and Salesforce. Pipedrive, Zoho's server-based flow and Clio document none.
pub fn has_pkce(kind: CrmKind) -> bool {
    matches!(kind, CrmKind::HubSpot | CrmKind::Salesforce)
}

/// Whether the vendor refuses a token request without the client secret. Salesforce asks for
/// one unless the app turned off "Require Secret for Web Server Flow".
pub fn needs_secret(kind: CrmKind) -> bool {
    kind != CrmKind::Salesforce
}

/// The scopes asked for when the settings name none: enough to search contacts, log calls and
/// messages and read who is connected. Pipedrive and Clio take their scopes from the app.
fn default_scopes(kind: CrmKind) -> &'static str {
    match kind {
        CrmKind::HubSpot => "oauth crm.objects.contacts.read crm.objects.contacts.write crm.objects.owners.read",
        CrmKind::Salesforce => "api refresh_token",
        CrmKind::Zoho => "ZohoCRM.modules.ALL,ZohoCRM.users.READ",
        CrmKind::Pipedrive | CrmKind::Clio => "",
    }
}

/// Whether `v` is a valid PKCE code verifier (RFC 7636 §4.1: 43 to 128 unreserved characters).
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `c` has the shape of an S256 challenge: 43 base64url characters (a SHA-256, unpadded).
pub fn is_valid_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The S256 code challenge: `BASE64URL(SHA256(ASCII(verifier)))` without padding. The server and
/// the tests use it; the extension's options page computes the same with WebCrypto.
pub fn code_challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The URL to open in `launchWebAuthFlow`, with each vendor's documented parameters. `state`
/// must be unguessable and checked on return with [`parse_redirect`]; `challenge` is the S256
/// challenge of the PKCE code verifier the shell generated ([`code_challenge_s256`]; the options
/// page computes it with WebCrypto, so the module carries no SHA-256), sent only where PKCE is
/// documented.
pub fn authorize_url(client: &OAuthClient, state: &str, challenge: &str) -> String {
    let kind = client.kind;
    // Zoho separates scopes with commas, the others with spaces.
    let scope = if client.scopes.is_empty() {
        default_scopes(kind).to_owned()
    } else {
        client.scopes.join(if kind == CrmKind::Zoho { "," } else { " " })
    };
    let mut pairs: Vec<(&str, &str)> =
        vec![("response_type", "code"), ("client_id", &client.client_id), ("redirect_uri", &client.redirect_uri), ("state", state)];
    if !scope.is_empty() {
        pairs.push(("scope", &scope));
    }
    if has_pkce(kind) {
        pairs.push(("code_challenge", challenge));
        pairs.push(("code_challenge_method", "S256"));
    }
    // Zoho issues a refresh token only for offline access, and again only with consent.
    if kind == CrmKind::Zoho {
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
    // A list, not a `HashMap` (whose code is 5 KB of the wasm module); a repeated name means
    // its last value, as it did in the map.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let param = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    if param("state").map(String::as_str) != Some(expected_state) {
        return Err(CrmError::Unauthorized { message: "the sign-in reply did not match this request (state); try connecting again".into() });
    }
    if let Some(err) = param("error") {
        let why = param("error_description").cloned().unwrap_or_else(|| err.clone());
        return Err(CrmError::Unauthorized { message: format!("sign-in refused: {}", common::truncate_chars(&why, 200)) });
    }
    match param("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Redirect { code: code.clone(), accounts_server: param("accounts-server").cloned() }),
        None => Err(CrmError::Unauthorized { message: "the sign-in reply carried no authorization code".into() }),
    }
}

/// A grant to redeem at the token endpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum Grant<'a> {
    AuthorizationCode { code: &'a str, verifier: &'a str },
    RefreshToken { refresh_token: &'a Secret },
}

/// The token request (`application/x-www-form-urlencoded` POST), with each vendor's client
/// authentication: Pipedrive's docs ask for HTTP Basic (`client_id:client_secret`); HubSpot,
/// Salesforce, Zoho and Clio take `client_id` and `client_secret` in the body. The PKCE
/// verifier goes only where the authorize request sent its challenge.
pub fn token_request(client: &OAuthClient, grant: &Grant<'_>) -> HttpRequest {
    let mut pairs: Vec<(&str, &str)> = match grant {
        Grant::AuthorizationCode { code, verifier } => {
            let mut p = vec![("grant_type", "authorization_code"), ("code", *code), ("redirect_uri", client.redirect_uri.as_str())];
            if has_pkce(client.kind) {
                p.push(("code_verifier", verifier));
            }
            p
        }
        Grant::RefreshToken { refresh_token } => {
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())]
        }
    };
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    if client.kind == CrmKind::Pipedrive {
        headers.push(("Authorization".to_owned(), basic_auth(client)));
    } else {
        pairs.push(("client_id", &client.client_id));
        if let Some(s) = &client.client_secret {
            pairs.push(("client_secret", s.expose()));
        }
    }
    HttpRequest { method: Method::Post, url: client.endpoints.token_url.clone(), headers, body: Some(common::form_encode(&pairs)) }
}

/// `Basic base64(client_id:client_secret)`.
pub fn basic_auth(client: &OAuthClient) -> String {
    let secret = client.client_secret.as_ref().map(Secret::expose).unwrap_or("");
    format!("Basic {}", STANDARD.encode(format!("{}:{secret}", client.client_id)))
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
            r.headers.push(("Authorization".to_owned(), basic_auth(client)));
            r
        }
        // Clio ends the grant of the access token it is sent as Bearer.
        CrmKind::Clio => {
            let headers = vec![("Authorization".to_owned(), format!("Bearer {}", access.expose()))];
            HttpRequest { method: Method::Post, url: beside("/deauthorize"), headers, body: None }
        }
    })
}

/// Whether the vendor's revoke endpoint wants the client's authentication (Pipedrive's, HTTP
/// Basic with the secret): in server mode such a revoke goes through the server
/// ([`broker_revoke_request`]), which holds the secret; the others need none and go direct.
pub fn revoke_needs_secret(kind: CrmKind) -> bool {
    kind == CrmKind::Pipedrive
}

/// Server mode: the revoke of a connection's tokens through the server at `url`
/// (`/rep/<account>/<rep>/oauth/<integration>/revoke`), which adds the client authentication and
/// sends [`revoke_request`] to the vendor. The body is [`BrokerRevoke`], written by hand like
/// [`BrokerGrant::to_json`].
pub fn broker_revoke_request(url: String, rep_token: &str, access: &Secret, refresh: Option<&Secret>) -> HttpRequest {
    let q = |v: &Secret| Value::from(v.expose()).to_string();
    let body = match refresh {
        Some(r) => format!(r#"{{"access_token":{},"refresh_token":{}}}"#, q(access), q(r)),
        None => format!(r#"{{"access_token":{}}}"#, q(access)),
    };
    let headers = vec![
        ("Authorization".to_owned(), format!("Bearer {rep_token}")),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    HttpRequest { method: Method::Post, url, headers, body: Some(body) }
}

/// What the server's revoke endpoint reads ([`broker_revoke_request`] writes it).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerRevoke {
    pub access_token: Secret,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
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

/// What an extension in server mode sends the server's token broker
/// (`POST /rep/{account}/{rep}/oauth/{integration}/token`), as JSON: the grant without any
/// client authentication, which the server adds. The server reads this very type.
/// `accounts_server`: Zoho's data centre (from the sign-in redirect, or the one the connection
/// was made at, for a refresh); the server believes it only as [`accounts_token_url`] does.
/// The extension writes it with [`BrokerGrant::to_json`] (a derived writer would cost the wasm
/// module more than the few lines that build the same object).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "grant_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BrokerGrant {
    AuthorizationCode {
        code: String,
        code_verifier: String,
        #[serde(default)]
        accounts_server: Option<String>,
    },
    RefreshToken {
        refresh_token: Secret,
        #[serde(default)]
        accounts_server: Option<String>,
    },
}

impl BrokerGrant {
    /// The JSON the broker reads back as this type.
    pub fn to_json(&self) -> String {
        let q = |v: &str| Value::from(v).to_string();
        let (head, server) = match self {
            BrokerGrant::AuthorizationCode { code, code_verifier, accounts_server } => {
                (format!(r#"{{"grant_type":"authorization_code","code":{},"code_verifier":{}"#, q(code), q(code_verifier)), accounts_server)
            }
            BrokerGrant::RefreshToken { refresh_token, accounts_server } => (format!(r#"{{"grant_type":"refresh_token","refresh_token":{}"#, q(refresh_token.expose())), accounts_server),
        };
        match server {
            Some(a) => format!(r#"{head},"accounts_server":{}}}"#, q(a)),
            None => head + "}",
        }
    }
}

/// The request to the broker at `url` with the rep's server token: no client secret, ever.
pub fn broker_request(url: String, rep_token: &str, grant: &BrokerGrant) -> HttpRequest {
    let headers = vec![
        ("Authorization".to_owned(), format!("Bearer {rep_token}")),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    HttpRequest { method: Method::Post, url, headers, body: Some(grant.to_json()) }
}

/// Reads the broker's answer: `{"ok": true, "data": <TokenSet>}` (the server writes a
/// [`TokenSet`]; it is read here with the module's JSON lookups rather than a second serde
/// reader, which would cost the wasm module kilobytes), or `{"ok": false, "error", "message"}`,
/// read as a token endpoint's refusal (the reader is [`parse_token_reply`]'s, for the same
/// reason): a refused grant, a missing client or a refused rep token is `Unauthorized` with the
/// server's words, 429 `RateLimited`, 5xx and no answer `Transient`.
pub fn parse_broker_reply(kind: CrmKind, reply: &Reply, secrets: &[&Secret]) -> Result<TokenSet, CrmError> {
    read_reply(kind, reply, None, secrets)
}

/// The tokens of a reply object.
fn tokens_of(v: &Value, expires_at: Option<Timestamp>) -> Option<TokenSet> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let access = s("access_token").filter(|s| !s.is_empty())?;
    Some(TokenSet {
        access_token: Secret::new(access),
        refresh_token: s("refresh_token").filter(|s| !s.is_empty()).map(Secret::new),
        expires_at,
        instance_url: s("instance_url").map(|s| s.trim_end_matches('/').to_owned()),
        api_domain: s("api_domain").map(|s| s.trim_end_matches('/').to_owned()),
        scope: s("scope").map(str::to_owned),
    })
}

/// Reads the token endpoint's reply at `now`. Errors: `invalid_grant` (a revoked, expired or
/// already-used refresh token, or a bad code) → `Unauthorized` "reconnect required"; other
/// OAuth errors → `Unauthorized` with the server's words; 429 → `RateLimited`; 5xx, timeouts
/// and network failures → `Transient` (with rotating refresh tokens a lost reply may have
/// spent the old one, in which case the retry gets `invalid_grant` and asks for a reconnect).
pub fn parse_token_reply(kind: CrmKind, reply: &Reply, now: Timestamp, secrets: &[&Secret]) -> Result<TokenSet, CrmError> {
    read_reply(kind, reply, Some(now), secrets)
}

/// A vendor's token reply read at `now`, or with `None` the broker's (its `data`, with an
/// absolute `expires_at`).
fn read_reply(kind: CrmKind, reply: &Reply, now: Option<Timestamp>, secrets: &[&Secret]) -> Result<TokenSet, CrmError> {
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
    let (obj, expires_at) = match now {
        Some(now) => (&v, common::i64_at(&v, "/expires_in").filter(|s| *s > 0).map(|s| now.plus_secs(s))),
        None => (&v["data"], common::i64_at(&v, "/data/expires_at").map(Timestamp)),
    };
    tokens_of(obj, expires_at).ok_or_else(|| CrmError::Transient { message: format!("{crm}'s token server sent no access token") })
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
    fn every_region_has_its_vendor_hosts() {
        let cases = [
            (CrmKind::HubSpot, "", "https://app.hubspot.com/oauth/authorize", "https://api.hubapi.com/oauth/v1/token", "https://api.hubapi.com"),
            (CrmKind::Pipedrive, "", "https://oauth.pipedrive.com/oauth/authorize", "https://oauth.pipedrive.com/oauth/token", "https://api.pipedrive.com"),
            (CrmKind::Salesforce, "", "https://login.salesforce.com/services/oauth2/authorize", "https://login.salesforce.com/services/oauth2/token", "https://login.salesforce.com"),
            (CrmKind::Salesforce, "sandbox", "https://test.salesforce.com/services/oauth2/authorize", "https://test.salesforce.com/services/oauth2/token", "https://test.salesforce.com"),
            (CrmKind::Salesforce, "Acme", "https://acme.my.salesforce.com/services/oauth2/authorize", "https://acme.my.salesforce.com/services/oauth2/token", "https://acme.my.salesforce.com"),
            (CrmKind::Salesforce, "acme--uat", "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/authorize", "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/token", "https://acme--uat.sandbox.my.salesforce.com"),
            (CrmKind::Zoho, "", "https://accounts.zoho.com/oauth/v2/auth", "https://accounts.zoho.com/oauth/v2/token", "https://www.zohoapis.com"),
            (CrmKind::Zoho, "eu", "https://accounts.zoho.eu/oauth/v2/auth", "https://accounts.zoho.eu/oauth/v2/token", "https://www.zohoapis.eu"),
            (CrmKind::Zoho, "au", "https://accounts.zoho.com.au/oauth/v2/auth", "https://accounts.zoho.com.au/oauth/v2/token", "https://www.zohoapis.com.au"),
            (CrmKind::Zoho, "ca", "https://accounts.zohocloud.ca/oauth/v2/auth", "https://accounts.zohocloud.ca/oauth/v2/token", "https://www.zohoapis.ca"),
            (CrmKind::Clio, "", "https://app.clio.com/oauth/authorize", "https://app.clio.com/oauth/token", "https://app.clio.com"),
            (CrmKind::Clio, "eu", "https://eu.app.clio.com/oauth/authorize", "https://eu.app.clio.com/oauth/token", "https://eu.app.clio.com"),
        ];
        for (kind, region, auth, token, api) in cases {
            let e = endpoints(kind, region);
            assert_eq!((e.authorize_url.as_str(), e.token_url.as_str(), api_base(kind, region).as_str()), (auth, token, api), "{kind:?} {region}");
            assert!(is_region(kind, region) || region == "Acme", "{kind:?} {region}");
            let host = token.split('/').nth(2).unwrap();
            assert!(is_vendor_token_host(kind, host) || region == "Acme", "{host}");
        }
        for (r, _) in regions(CrmKind::Zoho).iter().chain(regions(CrmKind::Clio)) {
            assert!(endpoints(CrmKind::Zoho, r).token_url.starts_with("https://accounts.zoho"));
        }
        assert!(!is_region(CrmKind::Zoho, "mars") && !is_region(CrmKind::Salesforce, "a.evil.example/x"));
        assert!(!is_vendor_token_host(CrmKind::HubSpot, "api.hubapi.com.evil.example"));
    }

    fn client(kind: CrmKind, secret: Option<&str>) -> OAuthClient {
        OAuthClient {
            kind,
            client_id: "cid".into(),
            client_secret: secret.map(Secret::new),
            redirect_uri: "https://x.chromiumapp.org/".into(),
            scopes: vec![],
            endpoints: endpoints(kind, ""),
        }
    }

    #[test]
    fn authorize_urls_carry_what_each_vendor_documents() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let url = |kind| authorize_url(&client(kind, None), "st", &code_challenge_s256(v));
        let hs = url(CrmKind::HubSpot);
        assert!(hs.contains("code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") && hs.contains("scope=oauth%20crm.objects.contacts.read"), "{hs}");
        assert!(url(CrmKind::Salesforce).contains("code_challenge_method=S256"));
        let zoho = url(CrmKind::Zoho);
        assert!(zoho.contains("scope=ZohoCRM.modules.ALL%2CZohoCRM.users.READ") && zoho.contains("access_type=offline") && zoho.contains("prompt=consent"), "{zoho}");
        for kind in [CrmKind::Pipedrive, CrmKind::Zoho, CrmKind::Clio] {
            assert!(!url(kind).contains("code_challenge"), "no PKCE where none is documented: {kind:?}");
        }
        assert!(!url(CrmKind::Pipedrive).contains("scope="), "Pipedrive's scopes are the app's");
        assert!(!hs.contains(v), "the verifier never leaves in the URL");
    }

    #[test]
    fn token_requests_authenticate_the_client_as_each_vendor_documents() {
        let grant = Grant::AuthorizationCode { code: "c1", verifier: "v1" };
        let pd = token_request(&client(CrmKind::Pipedrive, Some("s3cret")), &grant);
        let basic = pd.headers.iter().find(|(k, _)| k == "Authorization").map(|(_, v)| v.as_str());
        assert_eq!(basic, Some(format!("Basic {}", STANDARD.encode("cid:s3cret")).as_str()));
        assert!(!pd.body.as_deref().unwrap().contains("client_secret") && !pd.body.as_deref().unwrap().contains("code_verifier"));
        for kind in [CrmKind::HubSpot, CrmKind::Salesforce, CrmKind::Zoho, CrmKind::Clio] {
            let r = token_request(&client(kind, Some("s3cret")), &grant);
            let body = r.body.unwrap();
            assert!(body.contains("client_id=cid") && body.contains("client_secret=s3cret") && body.contains("redirect_uri="), "{kind:?}: {body}");
            assert_eq!(body.contains("code_verifier=v1"), has_pkce(kind), "{kind:?}: {body}");
            assert!(!r.headers.iter().any(|(k, _)| k == "Authorization"), "{kind:?}");
        }
        let refresh = token_request(&client(CrmKind::Zoho, Some("s")), &Grant::RefreshToken { refresh_token: &Secret::new("r1") });
        assert!(refresh.body.unwrap().starts_with("grant_type=refresh_token&refresh_token=r1&client_id=cid&client_secret=s"));
        assert!(needs_secret(CrmKind::HubSpot) && !needs_secret(CrmKind::Salesforce));
    }

    #[test]
    fn zoho_accounts_server_is_believed_only_for_zoho_or_the_configured_origin() {
        let cfg = "https://accounts.zoho.com/oauth/v2/token";
        assert_eq!(accounts_token_url("https://accounts.zoho.eu", cfg).as_deref(), Some("https://accounts.zoho.eu/oauth/v2/token"));
        assert_eq!(accounts_token_url("https://accounts.zohocloud.ca/", cfg).as_deref(), Some("https://accounts.zohocloud.ca/oauth/v2/token"));
        let local = "http://127.0.0.1:8790/zoho-accounts/oauth/v2/token";
        assert_eq!(accounts_token_url("http://127.0.0.1:8790/zoho-accounts-eu", local).as_deref(), Some("http://127.0.0.1:8790/zoho-accounts-eu/oauth/v2/token"));
        for bad in ["https://accounts.zoho.evil.example", "http://accounts.zoho.eu", "https://evil.example", "http://127.0.0.1:9999/x", "https://accounts.zoho.eu:8443", "javascript:x", "https://accounts.zoho.eu/?x=1"] {
            assert_eq!(accounts_token_url(bad, cfg), None, "{bad}");
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
        // A repeated name means its last value, as it did when the query was read into a map.
        assert_eq!(parse_redirect("https://a.example/?state=evil&code=x&state=s1&code=y", "s1").unwrap().code, "y");
        assert!(parse_redirect("https://a.example/?state=s1&code=x&state=evil", "s1").is_err());
    }

    /// The server writes a [`TokenSet`] and the extension reads it with pointers: one type.
    #[test]
    fn the_brokers_answer_is_a_token_set_and_its_refusals_are_words() {
        let t = TokenSet {
            access_token: Secret::new("a1"),
            refresh_token: Some(Secret::new("r2")),
            expires_at: Some(Timestamp(1_800_000_000_000)),
            instance_url: Some("https://acme.my.salesforce.com".into()),
            api_domain: None,
            scope: Some("api".into()),
        };
        let reply = |status: u16, body: String| Reply::Response(HttpResponse { status, headers: vec![], body });
        let ok = serde_json::json!({ "ok": true, "data": t }).to_string();
        assert_eq!(parse_broker_reply(CrmKind::Salesforce, &reply(200, ok), &[]), Ok(t));
        let refused = r#"{"ok":false,"error":"grant_refused","message":"HubSpot no longer accepts Calltrail's sign-in (invalid_grant): reconnect required rt-0123456789abcdef"}"#;
        match parse_broker_reply(CrmKind::HubSpot, &reply(400, refused.into()), &[&Secret::new("rt-0123456789abcdef")]) {
            Err(CrmError::Unauthorized { message }) => assert!(message.contains("reconnect required") && !message.contains("rt-0123"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_broker_reply(CrmKind::HubSpot, &reply(502, "{}".into()), &[]), Err(CrmError::Transient { .. })));
        assert!(matches!(parse_broker_reply(CrmKind::HubSpot, &reply(429, "{}".into()), &[]), Err(CrmError::RateLimited { .. })));
        assert!(matches!(parse_broker_reply(CrmKind::HubSpot, &reply(200, r#"{"ok":true,"data":{}}"#.into()), &[]), Err(CrmError::Transient { .. })));
        let grant = BrokerGrant::RefreshToken { refresh_token: Secret::new("r1"), accounts_server: None };
        let r = broker_request("https://ct.example/rep/a/b/oauth/zo/token".into(), "ctr_x", &grant);
        assert_eq!(serde_json::from_str::<Value>(r.body.as_deref().unwrap()).unwrap(), serde_json::json!({ "grant_type": "refresh_token", "refresh_token": "r1" }));
        let code = BrokerGrant::AuthorizationCode { code: "c\"1".into(), code_verifier: "v".repeat(43), accounts_server: Some("https://accounts.zoho.eu".into()) };
        assert_eq!(serde_json::from_str::<BrokerGrant>(&code.to_json()).unwrap(), code);
        assert!(r.headers.iter().any(|(k, v)| k == "Authorization" && v == "Bearer ctr_x"));
        assert_eq!(serde_json::from_str::<BrokerGrant>(r.body.as_deref().unwrap()).unwrap(), grant);
    }
}
