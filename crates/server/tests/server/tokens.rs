//! Per-rep tokens: issued and revoked by the admin API, stored hashed, and the refusals of the
//! rep endpoints (no token, the admin's, another rep's, another account's, a revoked one); the
//! token broker against the CRM emulator's OAuth server: a code exchange and a refresh with the
//! company's client secret, which never reaches the rep.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{rep_with_token, rig, Rig, alice_and_bob, crm_emulator, fresh_db, server, settings, Client, ServerOpts, ADMIN};

async fn get(c: &Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut rb = c.http.get(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(c: &Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let r = c.http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn rep_tokens_open_only_their_own_rep_and_the_broker_keeps_the_secret() {
    let url = fresh_db("tokens").await;
    let srv = server(&ServerOpts { database_url: url.clone(), public_url: None, sync_ms: 60_000, lease_ttl_ms: 6000, id: "t1".into() }).await;
    let crm = crm_emulator().await;
    let base = format!("http://127.0.0.1:{}", srv.port());
    let crm_url = format!("http://127.0.0.1:{}", crm.port());
    let c = Client::default();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();

    for account in ["acme", "other"] {
        let (s, _) = c.admin(Method::PUT, &format!("{base}/admin/accounts/{account}"), Some(json!({}))).await;
        assert_eq!(s, 200);
    }
    for (account, rep, user) in [("acme", "alice", "101"), ("acme", "bob", "102"), ("other", "alice", "201")] {
        let (s, v) = c.admin(Method::PUT, &format!("{base}/admin/accounts/{account}/reps/{rep}"), Some(json!({ "telephony_user": user, "settings": settings(&[("hs", "hubspot", format!("{crm_url}/hubspot"))]) }))).await;
        assert_eq!(s, 200, "{v}");
    }

    // Issued by the admin only; shown once; stored as a hash.
    let (s, v) = c.http.post(format!("{base}/admin/accounts/acme/reps/alice/tokens")).bearer_auth("not-the-admin-token-at-all").send().await.map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!((s, v), (401, ()));
    let (s, v) = c.admin(Method::POST, &format!("{base}/admin/accounts/acme/reps/nobody/tokens"), Some(json!({}))).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("unknown_rep")));
    let issue = |account: &'static str, rep: &'static str| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let (s, v) = c.admin(Method::POST, &format!("{base}/admin/accounts/{account}/reps/{rep}/tokens"), Some(json!({ "label": "laptop" }))).await;
            assert_eq!(s, 200, "{v}");
            (v["data"]["token"].as_str().unwrap().to_owned(), v["data"]["id"].as_str().unwrap().to_owned())
        }
    };
    let (alice, alice_id) = issue("acme", "alice").await;
    let (bob, _) = issue("acme", "bob").await;
    let (other_alice, _) = issue("other", "alice").await;
    let stored: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id, hash FROM rep_tokens").fetch_all(&pool).await.unwrap();
    assert_eq!(stored.len(), 3);
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM rep_tokens t").fetch_one(&pool).await.unwrap();
    for t in [&alice, &bob, &other_alice] {
        assert!(!dump.contains(t.as_str()) && !dump.contains(&t[21..]), "a token is never stored in clear");
    }
    assert!(stored.iter().any(|(id, hash)| id == &alice_id && hash == &calltrail_server::auth::token_hash(&alice)));

    // The rep endpoint takes exactly its rep's token.
    let me = format!("{base}/rep/acme/alice/whoami");
    let (s, v) = get(&c, &me, Some(&alice)).await;
    assert_eq!((s, v["data"]["rep"].as_str()), (200, Some("alice")));
    let cases: Vec<(&str, Option<&str>, u16, &str)> = vec![
        ("no token", None, 401, "unauthorized"),
        ("garbage", Some("ctr_0000000000000000_00"), 401, "unauthorized"),
        ("the admin's credential", Some(ADMIN), 403, "admin_token_refused"),
        ("another rep's token", Some(&bob), 403, "wrong_rep"),
        ("the same rep id in another account", Some(&other_alice), 403, "wrong_rep"),
    ];
    for (what, token, status, kind) in &cases {
        let (s, v) = get(&c, &me, *token).await;
        assert_eq!((s, v["error"].as_str()), (*status, Some(*kind)), "{what}: {v}");
        let (s, v) = get(&c, &format!("{base}/rep/acme/alice/history"), *token).await;
        assert_eq!((s, v["error"].as_str()), (*status, Some(*kind)), "history, {what}: {v}");
    }
    let (s, v) = get(&c, &format!("{base}/rep/acme/alice/history"), Some(&alice)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["reps"], json!(["alice"]), "a rep's history is the rep's only");
    // A rep token opens nothing of the admin's.
    for path in ["/admin/accounts", "/admin/accounts/acme/calls", "/admin/accounts/acme/reps/alice/slots", "/admin/accounts/acme/reps/alice/tokens"] {
        let (s, _) = get(&c, &format!("{base}{path}"), Some(&alice)).await;
        assert_eq!(s, 401, "{path} with a rep token");
    }

    // Listed without the token, revoked by id (only the rep's own ids).
    let (s, v) = c.admin(Method::GET, &format!("{base}/admin/accounts/acme/reps/alice/tokens"), None).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert!(v["data"][0]["last_used_at"].is_i64(), "last use is recorded: {v}");
    assert!(!v.to_string().contains(&alice[21..]), "a list never shows a token");
    let (s, _) = c.admin(Method::DELETE, &format!("{base}/admin/accounts/acme/reps/bob/tokens/{alice_id}"), None).await;
    assert_eq!(s, 404, "alice's token is not revoked through bob");
    let (s, _) = c.admin(Method::DELETE, &format!("{base}/admin/accounts/acme/reps/alice/tokens/{alice_id}"), None).await;
    assert_eq!(s, 200);
    let (s, v) = get(&c, &me, Some(&alice)).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("unauthorized")), "revoked");
    let (alice, _) = issue("acme", "alice").await;

    // The broker: the company's HubSpot client, its secret sealed at rest.
    let hub = format!("{crm_url}/hubspot");
    let redirect = "https://bicpcknbbpfahcmagcjbcgmfjdgbeppn.chromiumapp.org/";
    let client = json!({ "kind": "hubspot", "client_id": "hubspot-client", "client_secret": "hubspot-secret", "redirect_uri": redirect,
        "token_url": format!("{hub}/oauth/v1/token"), "authorize_url": format!("{hub}/oauth/authorize"), "scopes": ["crm.objects.contacts.read"] });
    let r = c.http.put(format!("{base}/admin/accounts/acme/oauth/hs")).bearer_auth(&alice).json(&client).send().await.unwrap();
    assert_eq!(r.status(), 401, "a rep cannot register a client");
    let (s, v) = c.admin(Method::PUT, &format!("{base}/admin/accounts/acme/oauth/hs"), Some(client.clone())).await;
    assert_eq!(s, 200, "{v}");
    assert!(!v.to_string().contains("hubspot-secret"));
    let sealed: String = sqlx::query_scalar("SELECT secret_sealed FROM oauth_clients WHERE account_id = 'acme' AND integration = 'hs'").fetch_one(&pool).await.unwrap();
    assert!(!sealed.contains("hubspot-secret"), "sealed at rest");

    // The extension's part: the authorize redirect with a PKCE challenge, then the code to the broker.
    let verifier = "v".repeat(43) + "-verifier-of-the-extension";
    let challenge = calltrail_core::crm::oauth::code_challenge_s256(&verifier);
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = no_redirect
        .get(format!("{hub}/oauth/authorize"))
        .query(&[("client_id", "hubspot-client"), ("redirect_uri", redirect), ("scope", "crm.objects.contacts.read"), ("state", "st-1"), ("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let location = authorize.headers()["location"].to_str().unwrap().to_owned();
    let code = reqwest::Url::parse(&location).unwrap().query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("a code");

    let token_url = format!("{base}/rep/acme/alice/oauth/hs/token");
    let exchange = json!({ "grant_type": "authorization_code", "code": code, "code_verifier": verifier });
    let (s, v) = post(&c, &token_url, &bob, exchange.clone()).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("wrong_rep")), "bob cannot use alice's broker");
    let (s, v) = post(&c, &token_url, ADMIN, exchange.clone()).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("admin_token_refused")));
    let (s, v) = post(&c, &format!("{base}/rep/acme/alice/oauth/pd/token"), &alice, exchange.clone()).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("no_oauth_client")));
    let (s, v) = post(&c, &token_url, &alice, exchange.clone()).await;
    assert_eq!(s, 200, "{v}");
    let access = v["data"]["access_token"].as_str().expect("an access token").to_owned();
    let refresh = v["data"]["refresh_token"].as_str().expect("a refresh token").to_owned();
    assert!(v["data"]["expires_at"].is_i64());
    assert!(!v.to_string().contains("hubspot-secret"), "the secret never reaches the rep");
    // The emulator took the token as HubSpot would.
    let r = c.http.get(format!("{hub}/crm/v3/objects/contacts?limit=1")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 200, "the brokered access token works");
    // Codes are one-shot: the vendor's refusal comes back in words, scrubbed.
    let (s, v) = post(&c, &token_url, &alice, exchange).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("grant_refused")), "{v}");
    assert!(!v.to_string().contains("hubspot-secret"));

    // Refresh through the broker.
    let (s, v) = post(&c, &token_url, &alice, json!({ "grant_type": "refresh_token", "refresh_token": refresh })).await;
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["data"]["access_token"].as_str().unwrap(), access);
    let (s, v) = post(&c, &token_url, &alice, json!({ "grant_type": "refresh_token", "refresh_token": "not-a-refresh-token" })).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("grant_refused")), "{v}");
    assert!(!v.to_string().contains("not-a-refresh-token"), "the refresh token is scrubbed from the vendor's words");
    let (s, v) = post(&c, &token_url, &alice, json!({ "grant_type": "password", "username": "x" })).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("malformed")));

    // The secret went to the vendor from the server, in the token requests' bodies.
    let log = c.json(Method::GET, &format!("{crm_url}/_admin/requests?vendor=hubspot&method=POST&limit=1000"), None).await;
    let sent = log.to_string();
    assert!(sent.contains("client_secret"), "the server authenticated the client: {sent:.400}");
}

#[tokio::test]
async fn a_rep_resolves_their_own_queue_and_reads_their_own_history() {
    let secret = "rep-queue-webhook-secret-0123";
    let r = rig("rep_queue", "t2", json!({ "webhook_secret": secret })).await;
    let Rig { base, crm_url, c, .. } = &r;
    let twins = "+12125550202";
    c.json(Method::POST, &format!("{crm_url}/_admin/seed"), Some(json!({ "vendor": "hubspot", "contacts": [
        { "firstName": "Twin", "lastName": "One", "phone": twins }, { "firstName": "Twin", "lastName": "Two", "phone": twins } ] }))).await;
    let (alice, bob) = alice_and_bob(&c, &base, &crm_url, json!({ "rule": "ask" })).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = json!({ "calltrail": 1, "event": "call.ended", "user": "101", "call": { "id": "q-1", "direction": "inbound", "from": twins,
        "to": "+16505550101", "started_at": now - 120_000, "answered_at": now - 115_000, "ended_at": now - 60_000 } }).to_string();
    let ts = now / 1000;
    let r = c.http.post(format!("{base}/webhooks/generic/acme")).header("content-type", "application/json")
        .header("X-Calltrail-Timestamp", ts.to_string()).header("X-Calltrail-Signature", calltrail_server::http::signature(secret, ts, event.as_bytes()))
        .body(event).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let queue = crate::support::eventually(30, "alice's call unresolved", || {
        let c = c.clone();
        let base = base.clone();
        async move {
            let (_, v) = c.admin(Method::GET, &format!("{base}/admin/accounts/acme/reps/alice/unresolved"), None).await;
            v["data"].as_array().filter(|q| q.len() == 1).cloned()
        }
    })
    .await;
    let slot = queue[0]["slot"].as_str().unwrap().to_owned();
    let pick = queue[0]["candidates"][0]["id"].as_str().unwrap().to_owned();
    let body = json!({ "resolutions": [[slot, { "choice": "contacts", "ids": [pick] }]] });
    let url_res = format!("{base}/rep/acme/alice/resolutions");
    let (s, v) = post(&c, &url_res, &bob, body.clone()).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("wrong_rep")), "bob cannot resolve alice's queue");
    let (s, v) = post(&c, &url_res, ADMIN, body.clone()).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("admin_token_refused")));
    let (s, v) = post(&c, &url_res, &alice, json!({ "resolutions": [["x", { "choice": "guess" }]] })).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("malformed")), "refused whole");
    let (s, v) = post(&c, &url_res, &alice, body).await;
    assert_eq!((s, v["data"]["queued"].as_u64()), (200, Some(1)), "{v}");
    let history = crate::support::eventually(30, "alice's call logged", || {
        let c = c.clone();
        let base = base.clone();
        let alice = alice.clone();
        async move {
            let (_, v) = get(&c, &format!("{base}/rep/acme/alice/history"), Some(&alice)).await;
            (v["data"]["calls"][0]["slots"][0]["category"] == "logged").then_some(v)
        }
    })
    .await;
    assert_eq!(history["data"]["calls"].as_array().unwrap().len(), 1);
    let (s, v) = get(&c, &format!("{base}/rep/acme/bob/history"), Some(&bob)).await;
    assert_eq!((s, v["data"]["calls"].as_array().map(Vec::len)), (200, Some(0)), "bob sees none of alice's calls");
    let (s, v) = c.http.post(format!("{base}/rep/acme/alice/sync")).bearer_auth(&alice).send().await.map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!((s, v), (200, ()));
}

/// Zoho through the broker: the rep signs in at the US accounts server with an EU account, the
/// redirect names the EU `accounts-server`, and the extension sends it with the code (the core's
/// `BrokerGrant`); the broker redeems and refreshes there, with the secret, and answers the EU
/// `api_domain`. An accounts server that is neither Zoho's nor on the registered origin is refused.
#[tokio::test]
async fn the_broker_redeems_and_refreshes_zoho_at_the_accounts_server_the_redirect_named() {
    use calltrail_core::crm::oauth::BrokerGrant;
    use calltrail_core::crm::Secret;
    let r = rig("broker_zoho", "t3", json!({})).await;
    let Rig { base, crm_url, c, .. } = &r;
    let alice = rep_with_token(c, base, "alice", "101", settings(&[])).await;
    c.json(Method::POST, &format!("{crm_url}/_admin/users"), Some(json!({ "vendor": "zoho-eu", "users": [{ "name": "Erika Rep", "email": "erika@example.eu" }], "replace": true }))).await;
    let redirect = "https://bicpcknbbpfahcmagcjbcgmfjdgbeppn.chromiumapp.org/";
    let accounts = format!("{crm_url}/zoho-accounts");
    let client = json!({ "kind": "zoho", "client_id": "zoho-client", "client_secret": "zoho-secret", "redirect_uri": redirect,
        "token_url": format!("{accounts}/oauth/v2/token"), "authorize_url": format!("{accounts}/oauth/v2/auth") });
    let (s, v) = c.admin(Method::PUT, &format!("{base}/admin/accounts/acme/oauth/zo"), Some(client)).await;
    assert_eq!(s, 200, "{v}");

    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = no_redirect
        .get(format!("{accounts}/oauth/v2/auth"))
        .query(&[("response_type", "code"), ("client_id", "zoho-client"), ("redirect_uri", redirect), ("state", "st"), ("scope", "ZohoCRM.modules.ALL"), ("access_type", "offline"), ("prompt", "consent"), ("login_hint", "erika@example.eu")])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let location = reqwest::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let param = |k: &str| location.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned()).unwrap_or_else(|| panic!("{k} in {location}"));
    let (code, server) = (param("code"), param("accounts-server"));
    assert!(server.ends_with("/zoho-accounts-eu"), "{server}");

    let broker = format!("{base}/rep/acme/alice/oauth/zo/token");
    let send = |grant: BrokerGrant| {
        let c = c.clone();
        let (broker, alice) = (broker.clone(), alice.clone());
        async move {
            let r = c.http.post(&broker).bearer_auth(&alice).header("content-type", "application/json").body(grant.to_json()).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let verifier = "v".repeat(43);
    let evil = BrokerGrant::AuthorizationCode { code: code.clone(), code_verifier: verifier.clone(), accounts_server: Some("https://accounts.zoho.evil.example".into()) };
    let (s, v) = send(evil).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_accounts_server")), "{v}");
    let (s, v) = send(BrokerGrant::AuthorizationCode { code, code_verifier: verifier, accounts_server: Some(server.clone()) }).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["api_domain"].as_str(), Some(format!("{crm_url}/zoho-eu").as_str()), "{v}");
    // The extension reads the answer as the core's TokenSet.
    let reply = calltrail_core::crm::Reply::Response(calltrail_core::crm::HttpResponse { status: 200, headers: vec![], body: v.to_string() });
    let tokens = calltrail_core::crm::oauth::parse_broker_reply(calltrail_core::model::CrmKind::Zoho, &reply, &[]).unwrap();
    let refresh = tokens.refresh_token.clone().expect("Zoho's offline access gives a refresh token");
    let (s, v) = send(BrokerGrant::RefreshToken { refresh_token: refresh, accounts_server: Some(server) }).await;
    assert_eq!(s, 200, "refreshed at the EU data centre: {v}");
    assert_ne!(v["data"]["access_token"].as_str(), Some(tokens.access_token.expose()));
    let (s, _) = send(BrokerGrant::RefreshToken { refresh_token: Secret::new("not-a-refresh-token"), accounts_server: None }).await;
    assert_eq!(s, 400);
    // The EU accounts server heard the secret from the server.
    let log = c.json(Method::GET, &format!("{crm_url}/_admin/requests?method=POST&limit=1000"), None).await;
    let eu: Vec<&Value> = log["requests"].as_array().unwrap().iter().filter(|r| r.to_string().contains("zoho-accounts-eu")).collect();
    assert!(eu.len() >= 2 && eu.iter().all(|r| r.to_string().contains("client_secret")), "{log:.600}");
}

/// Pipedrive revokes only with the client's authentication (HTTP Basic with the secret), which a
/// browser in server mode does not have: the extension sends the tokens to
/// `/rep/{account}/{rep}/oauth/{integration}/revoke` (the core's `broker_revoke_request`), and the
/// server sends the core's revoke request with the secret. The refresh token is dead afterwards.
#[tokio::test]
async fn the_broker_revokes_a_pipedrive_grant_with_the_secret_the_browser_lacks() {
    use calltrail_core::crm::oauth::{self, BrokerGrant};
    use calltrail_core::crm::{HttpResponse, Reply};
    use calltrail_core::model::CrmKind;
    let r = rig("broker_revoke", "t4", json!({})).await;
    let Rig { base, crm_url, c, .. } = &r;
    let alice = rep_with_token(c, base, "alice", "101", settings(&[])).await;
    let redirect = "https://bicpcknbbpfahcmagcjbcgmfjdgbeppn.chromiumapp.org/";
    let pd = format!("{crm_url}/pipedrive");
    let client = json!({ "kind": "pipedrive", "client_id": "pipedrive-client", "client_secret": "pipedrive-secret", "redirect_uri": redirect,
        "token_url": format!("{pd}/oauth/token"), "authorize_url": format!("{pd}/oauth/authorize") });
    let (s, v) = c.admin(Method::PUT, &format!("{base}/admin/accounts/acme/oauth/pd"), Some(client)).await;
    assert_eq!(s, 200, "{v}");
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = no_redirect
        .get(format!("{pd}/oauth/authorize"))
        .query(&[("response_type", "code"), ("client_id", "pipedrive-client"), ("redirect_uri", redirect), ("state", "st")])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let location = reqwest::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(n, _)| n == "code").map(|(_, v)| v.into_owned()).expect("a code");

    let send = |r: calltrail_core::crm::HttpRequest| {
        let c = c.clone();
        async move {
            let r = c.http.post(&r.url).header("authorization", &r.headers[0].1).header("content-type", "application/json").body(r.body.unwrap_or_default()).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let token_url = format!("{base}/rep/acme/alice/oauth/pd/token");
    let grant = BrokerGrant::AuthorizationCode { code, code_verifier: "v".repeat(43), accounts_server: None };
    let (s, v) = send(oauth::broker_request(token_url.clone(), &alice, &grant)).await;
    assert_eq!(s, 200, "{v}");
    let reply = Reply::Response(HttpResponse { status: 200, headers: vec![], body: v.to_string() });
    let tokens = oauth::parse_broker_reply(CrmKind::Pipedrive, &reply, &[]).unwrap();
    let refresh = tokens.refresh_token.clone().expect("Pipedrive gives a refresh token");

    let revoke_url = format!("{base}/rep/acme/alice/oauth/pd/revoke");
    // Only the rep's own token opens it; a body that is not the core's is refused.
    let (s, _) = send(oauth::broker_revoke_request(revoke_url.clone(), "ctr_nope_nope", &tokens.access_token, Some(&refresh))).await;
    assert_eq!(s, 401);
    let r = c.http.post(&revoke_url).bearer_auth(&alice).json(&json!({ "token": "x" })).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "not the core's revoke body");
    let (s, v) = send(oauth::broker_revoke_request(revoke_url, &alice, &tokens.access_token, Some(&refresh))).await;
    assert_eq!((s, &v["data"]["revoked"]), (200, &json!(true)), "{v}");
    // Pipedrive heard the revoke with the client's Basic authentication, from the server.
    let log = c.json(Method::GET, &format!("{crm_url}/_admin/requests?vendor=pipedrive&method=POST&limit=1000"), None).await;
    let revokes: Vec<&Value> = log["requests"].as_array().unwrap().iter().filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/oauth/revoke"))).collect();
    assert_eq!(revokes.len(), 1, "{log:.600}");
    // The grant is gone: the refresh token no longer redeems.
    let (s, v) = send(oauth::broker_request(token_url, &alice, &BrokerGrant::RefreshToken { refresh_token: refresh, accounts_server: None })).await;
    assert_eq!(s, 400, "a revoked refresh token is refused: {v}");
}
