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
//! - PKCE's S256 challenge uses the SHA-256 below, checked against the FIPS 180-4 examples
//!   and RFC 7636's Appendix B; it exists so the core needs no crypto dependency.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    base64url(&sha256(verifier.as_bytes()))
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
    let mut params = std::collections::HashMap::new();
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        params.insert(percent_decode(k), percent_decode(v));
    }
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
        let creds = base64_std(format!("{}:{secret}", client.client_id).as_bytes());
        headers.push(("Authorization".to_owned(), format!("Basic {creds}")));
    } else {
        pairs.push(("client_id", &client.client_id));
        if let Some(s) = &client.client_secret {
            pairs.push(("client_secret", s.expose()));
        }
    }
    HttpRequest { method: Method::Post, url: client.endpoints.token_url.clone(), headers, body: Some(common::form_encode(&pairs)) }
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

// ---------------------------------------------------------------------------------------------
// Encoding and SHA-256

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(x) => {
                        out.push(x);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64_std(data: &[u8]) -> String {
    base64_with(data, B64_STD, true)
}

/// URL-safe base64 without padding (RFC 4648 §5), as PKCE uses it.
pub fn base64url(data: &[u8]) -> String {
    base64_with(data, B64_URL, false)
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

/// SHA-256 (FIPS 180-4 §6.2) of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    // Padding (§5.1.1): a 1 bit, zeros to 56 mod 64 bytes, the bit length as a big-endian u64.
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for t in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[t]).wrapping_add(w[t]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha256_fips_180_4_vectors() {
        let million_a = vec![b'a'; 1_000_000];
        let cases: [(&[u8], &str); 5] = [
            (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
            (&million_a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&sha256(input)), want, "len {}", input.len());
        }
    }

    #[test]
    fn sha256_padding_boundaries() {
        // 55, 56 and 64 bytes straddle the one-block/two-block padding edge.
        let cases = [
            (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
            (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
            (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        ];
        for (n, want) in cases {
            assert_eq!(hex(&sha256(&vec![b'a'; n])), want, "{n} bytes");
        }
    }

    #[test]
    fn pkce_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_valid_verifier(verifier));
        assert_eq!(code_challenge_s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a/".repeat(30)));
    }

    #[test]
    fn base64_rfc_4648_vectors() {
        let cases = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (input, want) in cases {
            assert_eq!(base64_std(input.as_bytes()), want);
            assert_eq!(base64url(input.as_bytes()), want.trim_end_matches('='));
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
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

    #[test]
    fn percent_decode_handles_edges() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a+b"), "a b");
    }
}
