//! OAuth end to end through the driver, against the CRM emulator's vendor OAuth servers: the
//! authorize URL each vendor documents, the code redeemed with the vendor's client
//! authentication (the company's secret from the options page or the admin policy), the API
//! base the vendor names, the rep resolved as owner once per connection, and a call logged
//! with that owner. Then refresh with rotation when the worker dies between the token answer
//! and the next request, or when the write of the new token fails: nothing is lost.
//!
//! The browser's part (`chrome.identity.launchWebAuthFlow`, the consent page) is
//! `tests/e2e/oauth.test.mjs`; here the authorize URL is followed the way the browser does
//! with the emulator's automatic consent, and everything else is the driver the worker runs.

#[allow(dead_code)]
#[path = "emulator_e2e/harness.rs"]
mod harness;

use calltrail_core::crm::{CallLog, CrmError, CrmOp, CrmOutput, HttpRequest, Marker, Reply};
use calltrail_core::crm::oauth::code_challenge_s256;
use calltrail_core::driver::{Conversation, Driver, Next, SETTINGS_KEY};
use calltrail_core::engine::{Effect, EngineOptions};
use calltrail_core::model::{Call, CallId, CallResult, Contact, CrmKind, Direction, IntegrationId, Timestamp};
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::{AuthKind, Settings};
use calltrail_core::store::{MemStore, StoreName};
use serde_json::{json, Value};

use crate::support::world::integration;
use harness::{Emulator, Executor};

const REDIRECT: &str = "https://bicpcknbbpfahcmagcjbcgmfjdgbeppn.chromiumapp.org/";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn now() -> Timestamp {
    Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64)
}

/// One OAuth connection to make: the integration, where its OAuth server is (emulator
/// prefixes), the realm its API lands in, and how the company's client secret is given.
struct Case {
    id: &'static str,
    kind: CrmKind,
    /// Emulator prefix of the OAuth server the settings name.
    auth: &'static str,
    /// Emulator prefix whose realm holds the account's records (where the API base must end up).
    api: &'static str,
    /// `base_url` in the settings: empty when the vendor names it in the token answer.
    base: &'static str,
    /// The client secret comes from the admin policy (else from the options page).
    from_policy: bool,
}

const CASES: [Case; 7] = [
    Case { id: "hs", kind: CrmKind::HubSpot, auth: "hubspot", api: "hubspot", base: "hubspot", from_policy: false },
    Case { id: "pd", kind: CrmKind::Pipedrive, auth: "pipedrive", api: "pipedrive", base: "", from_policy: false },
    Case { id: "sf", kind: CrmKind::Salesforce, auth: "salesforce-login", api: "salesforce", base: "", from_policy: true },
    Case { id: "sfx", kind: CrmKind::Salesforce, auth: "salesforce-test", api: "salesforce-sandbox", base: "", from_policy: true },
    Case { id: "zo", kind: CrmKind::Zoho, auth: "zoho-accounts", api: "zoho-eu", base: "", from_policy: true },
    Case { id: "cl", kind: CrmKind::Clio, auth: "clio-eu", api: "clio-eu", base: "clio-eu", from_policy: true },
    Case { id: "cl2", kind: CrmKind::Clio, auth: "clio", api: "clio", base: "clio", from_policy: false },
];

fn vendor(kind: CrmKind) -> &'static str {
    harness::vendor(kind)
}

fn paths(kind: CrmKind) -> (&'static str, &'static str) {
    match kind {
        CrmKind::HubSpot => ("/oauth/authorize", "/oauth/v1/token"),
        CrmKind::Salesforce => ("/services/oauth2/authorize", "/services/oauth2/token"),
        CrmKind::Zoho => ("/oauth/v2/auth", "/oauth/v2/token"),
        CrmKind::Pipedrive | CrmKind::Clio => ("/oauth/authorize", "/oauth/token"),
    }
}

/// The rep's settings for `cases`, pointed at the emulator.
fn settings(emu: &Emulator, cases: &[&Case]) -> Settings {
    let root = format!("http://127.0.0.1:{}", emu.port);
    let mut s = Settings::default();
    for c in cases {
        let mut i = integration(c.id, c.kind);
        let (a, t) = paths(c.kind);
        i.base_url = if c.base.is_empty() { String::new() } else { format!("{root}/{}", c.base) };
        let client_id = if c.from_policy { String::new() } else { format!("{}-client", vendor(c.kind)) };
        i.auth = AuthKind::OAuth { client_id, auth_url: format!("{root}/{}{a}", c.auth), token_url: format!("{root}/{}{t}", c.auth), scopes: vec![] };
        s.integrations.push(i);
    }
    s
}

/// The admin policy's `oauth_clients`: the emulator's default client per vendor, for its origin.
fn policy(emu: &Emulator) -> Value {
    let root = format!("http://127.0.0.1:{}", emu.port);
    let client = |v: &str| json!({ "client_id": format!("{v}-client"), "client_secret": format!("{v}-secret"), "token_url": format!("{root}/") });
    json!({ "oauth_clients": { "salesforce": client("salesforce"), "zoho": client("zoho"), "clio": client("clio") } })
}

/// A driver started from `store` (settings, secrets and all), as a worker start does;
/// `settings` when the store has none yet.
fn start(store: &mut MemStore, settings: Settings, policy: Value) -> Driver {
    let secrets: Vec<_> = store.all(StoreName::Secrets).cloned().collect();
    let settings = match store.get(StoreName::Settings, SETTINGS_KEY) {
        Some(r) => Driver::stored_settings(Some(r)),
        None => settings,
    };
    let mut d = Driver::new(settings, policy, &secrets, EngineOptions::default(), Box::new(calltrail_core::zone::FixedZones::standard()), now());
    let snapshot = store.restore(&d.restore_query(now()));
    d.restore(snapshot, 1, now());
    run_effects(&mut d, store);
    d
}

/// Runs the queued effects as the shell does: writes into `store`, CRM effects dropped (the
/// tests run their own conversations).
fn run_effects(d: &mut Driver, store: &mut MemStore) {
    while let Some(e) = d.poll_effect() {
        if let Effect::Persist(batch) = &e {
            store.apply(batch);
        }
        d.executed();
    }
}

/// What the browser does with the authorize URL when the vendor signs the user in at once:
/// follows it to the redirect, which it hands back. At Zoho the rep signs in with an account of
/// the EU data centre at the US accounts server (the emulator's `login_hint` stands for what
/// they type), which sends them back with that data centre's `accounts-server`.
fn sign_in(exec: &Executor, url: &str) -> String {
    let url = if url.contains("/zoho-accounts/") { format!("{url}&login_hint=erika%40example.eu") } else { url.to_owned() };
    let req = HttpRequest { method: calltrail_core::crm::Method::Get, url, headers: vec![], body: None };
    match exec.send(&req) {
        Reply::Response(r) if r.status == 302 => r.header("location").unwrap_or_default().to_owned(),
        other => panic!("the authorize page did not redirect: {other:?}"),
    }
}

/// The OAuth flow as the options page runs it: start, sign in, finish.
fn connect(d: &mut Driver, store: &mut MemStore, exec: &Executor, id: &str) {
    let id = IntegrationId::new(id);
    let start = d.oauth_start(&id, "state-1", &code_challenge_s256(VERIFIER), REDIRECT);
    assert!(start.ok, "{id}: {:?}", start.error);
    let url: Value = serde_json::from_str(start.data.as_ref().unwrap().get()).unwrap();
    let redirect = sign_in(exec, url["url"].as_str().unwrap());
    assert!(redirect.starts_with(REDIRECT), "{id}: {redirect}");
    let (client, request) = d.oauth_code_request(&id, &redirect, "state-1", VERIFIER, REDIRECT).unwrap_or_else(|a| panic!("{id}: {:?}", a.error));
    let reply = exec.send(&request);
    let answer = d.oauth_finished(id.clone(), &client, &reply, now());
    assert!(answer.ok, "{id}: {:?} ({reply:?})", answer.error);
    run_effects(d, store);
}

/// Steps a conversation to its end over real HTTP, refreshing as the driver asks.
fn converse(d: &mut Driver, store: &mut MemStore, exec: &Executor, mut conv: Conversation) -> (Result<CrmOutput, CrmError>, Conversation) {
    loop {
        match d.step(&mut conv, now()) {
            Next::Done(r) => return (r, conv),
            Next::Fetch(req) => conv.replied(exec.send(&req)),
            Next::Refresh(req) => {
                let reply = exec.send(&req);
                d.refreshed(&mut conv, reply, now());
                run_effects(d, store);
            }
            Next::Wait => panic!("nobody else is refreshing"),
        }
    }
}

fn e164(s: &str) -> E164 {
    E164::parse(s, Country::US).unwrap()
}

fn call(id: &str) -> Call {
    let at = now().plus_mins(-5);
    Call {
        our_number: Some(e164("+16175550000")),
        answered_at: Some(at.plus_secs(2)),
        ended_at: Some(at.plus_secs(62)),
        result: CallResult::Answered,
        ..Call::new(CallId::new(id), Direction::Inbound, e164("+12125550100"), None, at)
    }
}

/// Searches `id`'s CRM for the seeded caller, then logs a call to them.
fn log_a_call(d: &mut Driver, store: &mut MemStore, exec: &Executor, id: &str) -> Conversation {
    let search = Conversation::new(IntegrationId::new(id), CrmOp::SearchContacts { phone: e164("+12125550100") });
    let contact: Contact = match converse(d, store, exec, search).0 {
        Ok(CrmOutput::Contacts { contacts }) if contacts.len() == 1 => contacts[0].clone(),
        other => panic!("{id}: search: {other:?}"),
    };
    let log = CallLog { marker: Marker(format!("calltrail:oauth-{id}")), contact, call: call(&format!("call-{id}")), timing: Default::default() };
    let (result, conv) = converse(d, store, exec, Conversation::new(IntegrationId::new(id), CrmOp::CreateCallLog { log }));
    assert!(matches!(result, Ok(CrmOutput::Created { .. })), "{id}: create: {result:?}");
    conv
}

fn the_owner_of(emu: &Emulator, realm: &str, marker: &str) -> Value {
    let v = emu.admin("GET", &format!("/records?vendor={realm}&kind=calls&contains={marker}"), None);
    assert_eq!(v["count"], json!(1), "{realm}: {v}");
    v["records"][0]["owner"].clone()
}

#[test]
fn oauth_completes_for_every_crm_and_each_call_is_owned_by_the_rep() {
    let emu = Emulator::start();
    let exec = Executor::new();
    emu.admin("POST", "/users", Some(json!({ "vendor": "zoho-eu", "users": [{ "name": "Erika Rep", "email": "erika@example.eu" }], "replace": true })));
    let cases: Vec<&Case> = CASES.iter().collect();
    for c in &cases {
        emu.admin("POST", "/seed", Some(json!({ "vendor": c.api, "contacts": [{ "firstName": "Jane", "lastName": "Doe", "phone": "+1 (212) 555-0100" }] })));
    }
    let mut store = MemStore::new();
    let mut d = start(&mut store, settings(&emu, &cases), policy(&emu));
    // The options page's path for the company's secret: kept with the credentials.
    for c in cases.iter().filter(|c| !c.from_policy) {
        let a = d.set_client_secret(&IntegrationId::new(c.id), &format!("{}-secret", vendor(c.kind)), now());
        assert!(a.ok, "{}: {:?}", c.id, a.error);
    }
    run_effects(&mut d, &mut store);
    let root = format!("http://127.0.0.1:{}", emu.port);
    for c in &cases {
        connect(&mut d, &mut store, &exec, c.id);
        let integ = d.settings().integrations.iter().find(|i| i.id.as_str() == c.id).unwrap();
        assert_eq!(integ.api_base(), format!("{root}/{}", c.api), "{}: the API base the vendor named", c.id);
        let conv = log_a_call(&mut d, &mut store, &exec, c.id);
        let who = conv.who.clone().unwrap_or_else(|| panic!("{}: the first create asked who is connected", c.id));
        let id = who.owner().unwrap_or_else(|| panic!("{}: {}", c.id, who.note));
        let owner = the_owner_of(&emu, c.api, &format!("oauth-{}", c.id));
        assert_eq!(owner["id"].as_str(), Some(id), "{}: {owner}", c.id);
        let email = if c.api == "zoho-eu" { "erika@example.eu" } else { "rep@example.com" };
        assert_eq!(owner["email"], json!(email), "{}", c.id);
    }
    // Zoho: signed in at the US accounts server, redeemed at the EU one the redirect named.
    let zo = d.settings().integrations.iter().find(|i| i.id.as_str() == "zo").unwrap();
    assert_eq!(zo.oauth_endpoints().token_url, format!("{root}/zoho-accounts-eu/oauth/v2/token"));
    // Pipedrive OAuth tokens go out as Bearer, never as x-api-token.
    let log = emu.admin("GET", "/requests?vendor=pipedrive", None);
    let api: Vec<&Value> = log["requests"].as_array().unwrap().iter().filter(|r| r["path"].as_str().is_some_and(|p| !p.starts_with("/oauth"))).collect();
    assert!(!api.is_empty());
    for r in api {
        let h = &r["headers"];
        assert!(h["authorization"].as_str().is_some_and(|a| a.starts_with("Bearer ")), "{r}");
        assert!(h.get("x-api-token").is_none_or(Value::is_null), "{r}");
    }
    // The secrets and tokens are in the secrets store only: not in a view, not in the settings.
    let seen = format!("{} {}", d.settings_view().data.unwrap().get(), d.state_view().data.unwrap().get());
    for secret in ["hubspot-secret", "pipedrive-secret", "salesforce-secret", "zoho-secret", "clio-secret"] {
        assert!(!seen.contains(secret), "{secret} shown in a view");
    }
    assert!(seen.contains("\"client_secret\":\"policy\"") && seen.contains("\"client_secret\":\"settings\""), "{seen}");
    // A second call reuses who the connection is: no second current-user request.
    let mark = emu.mark();
    let conv = log_a_call(&mut d, &mut store, &exec, "pd");
    assert!(conv.who.is_none());
    let users_me = emu.admin("GET", &format!("/requests?vendor=pipedrive&since={mark}&path=users"), None);
    assert_eq!(users_me["count"], json!(0), "{users_me}");
}

#[test]
fn a_sign_in_without_the_company_secret_is_refused_before_the_browser_opens() {
    let emu = Emulator::start();
    let case = &CASES[0];
    let mut store = MemStore::new();
    let d = start(&mut store, settings(&emu, &[case]), Value::Null);
    let a = d.oauth_start(&IntegrationId::new("hs"), "s", &code_challenge_s256(VERIFIER), REDIRECT);
    assert!(!a.ok && a.error.as_deref().unwrap_or("").contains("client secret"), "{:?}", a.error);
    // A Zoho redirect naming an accounts server that is not Zoho's is refused: the code and the
    // secret are never sent there.
    let zo = &CASES[4];
    let mut d = start(&mut MemStore::new(), settings(&emu, &[zo]), policy(&emu));
    run_effects(&mut d, &mut store);
    let evil = format!("{REDIRECT}?code=c&state=s&accounts-server=https%3A%2F%2Faccounts.zoho.evil.example");
    let refused = d.oauth_code_request(&IntegrationId::new("zo"), &evil, "s", VERIFIER, REDIRECT).unwrap_err();
    assert!(refused.error.unwrap().contains("Zoho accounts server"));
}

/// Salesforce with Refresh Token Rotation on (an app setting Salesforce documents): every
/// refresh answers a new refresh token and retires the old one, and presenting a retired one
/// revokes the grant. The worker dies right after the token answer was written, before the
/// next request; another starts from the store and carries on with the new tokens.
#[test]
fn refresh_with_rotation_survives_a_worker_dying_after_the_token_answer() {
    let emu = Emulator::start();
    let exec = Executor::new();
    emu.admin("POST", "/config", Some(json!({ "refreshRotation": { "salesforce": "rotate-invalidate" } })));
    emu.admin("POST", "/seed", Some(json!({ "vendor": "salesforce", "contacts": [{ "firstName": "Jane", "lastName": "Doe", "phone": "+1 (212) 555-0100" }] })));
    let case = &CASES[2];
    let mut store = MemStore::new();
    let mut d = start(&mut store, settings(&emu, &[case]), policy(&emu));
    connect(&mut d, &mut store, &exec, "sf");
    let first_refresh = d.credentials().get(&IntegrationId::new("sf")).unwrap().refresh_token.clone().unwrap();

    // The session ends; the next request gets 401 INVALID_SESSION_ID and refreshes.
    emu.admin("POST", "/tokens/expire", Some(json!({ "vendor": "salesforce" })));
    let mut conv = Conversation::new(IntegrationId::new("sf"), CrmOp::SearchContacts { phone: e164("+12125550100") });
    let Next::Fetch(req) = d.step(&mut conv, now()) else { panic!("a search first") };
    conv.replied(exec.send(&req));
    let Next::Refresh(req) = d.step(&mut conv, now()) else { panic!("a 401 asks for a refresh") };
    d.refreshed(&mut conv, exec.send(&req), now());
    // The token answer is written...
    run_effects(&mut d, &mut store);
    // ...and the worker dies before the next request.
    drop(conv);
    drop(d);

    let mut d = start(&mut store, settings(&emu, &[case]), policy(&emu));
    let stored = d.credentials().get(&IntegrationId::new("sf")).unwrap().clone();
    assert_ne!(stored.refresh_token.as_ref(), Some(&first_refresh), "the rotated refresh token is on disk");
    let conv = Conversation::new(IntegrationId::new("sf"), CrmOp::SearchContacts { phone: e164("+12125550100") });
    let (result, _) = converse(&mut d, &mut store, &exec, conv);
    assert!(matches!(&result, Ok(CrmOutput::Contacts { contacts }) if contacts.len() == 1), "{result:?}");
    // And the rotated token keeps working for the next refresh.
    emu.admin("POST", "/tokens/expire", Some(json!({ "vendor": "salesforce" })));
    let conv = Conversation::new(IntegrationId::new("sf"), CrmOp::SearchContacts { phone: e164("+12125550100") });
    assert!(converse(&mut d, &mut store, &exec, conv).0.is_ok());
}

/// The write of a rotated token fails (IndexedDB refused the transaction): the token is written
/// again after the restore instead of being forgotten, since the old one is already retired.
#[test]
fn a_rotated_token_whose_write_failed_is_written_again_not_lost() {
    let emu = Emulator::start();
    let exec = Executor::new();
    emu.admin("POST", "/config", Some(json!({ "refreshRotation": { "salesforce": "rotate-invalidate" } })));
    let case = &CASES[2];
    let mut store = MemStore::new();
    let mut d = start(&mut store, settings(&emu, &[case]), policy(&emu));
    connect(&mut d, &mut store, &exec, "sf");
    emu.admin("POST", "/tokens/expire", Some(json!({ "vendor": "salesforce" })));
    let mut conv = Conversation::new(IntegrationId::new("sf"), CrmOp::SearchContacts { phone: e164("+12125550100") });
    let Next::Fetch(req) = d.step(&mut conv, now()) else { panic!() };
    conv.replied(exec.send(&req));
    let Next::Refresh(req) = d.step(&mut conv, now()) else { panic!() };
    d.refreshed(&mut conv, exec.send(&req), now());
    assert!(matches!(d.poll_effect(), Some(Effect::Persist(_))), "the new token's write");
    d.persist_failed("QuotaExceededError", now());
    assert_eq!(d.step(&mut conv, now()), Next::Wait, "nobody refreshes with the retired token meanwhile");
    let snapshot = store.restore(&d.restore_query(now()));
    d.restore(snapshot, 2, now());
    run_effects(&mut d, &mut store);
    drop(d);
    let mut d = start(&mut store, settings(&emu, &[case]), policy(&emu));
    let conv = Conversation::new(IntegrationId::new("sf"), CrmOp::SearchContacts { phone: e164("+12125550100") });
    let (result, _) = converse(&mut d, &mut store, &exec, conv);
    assert!(result.is_ok(), "{result:?}");
}

/// A HubSpot private app's token is shared by the team: the rep's email in settings picks the
/// owner; without a mapping the record has no owner and the options page says why.
#[test]
fn a_shared_token_is_owned_through_the_reps_email() {
    let emu = Emulator::start();
    let exec = Executor::new();
    emu.admin("POST", "/users", Some(json!({ "vendor": "hubspot", "users": [{ "name": "Ada Rep", "email": "ada@example.com" }] })));
    emu.admin("POST", "/seed", Some(json!({ "vendor": "hubspot", "contacts": [{ "firstName": "Jane", "lastName": "Doe", "phone": "+1 (212) 555-0100" }] })));
    let mut settings = Settings { rep_email: "nobody@example.com".into(), ..Settings::default() };
    let mut hs = integration("hs", CrmKind::HubSpot);
    hs.base_url = emu.base_url(CrmKind::HubSpot);
    settings.integrations.push(hs);
    let mut store = MemStore::new();
    let mut d = start(&mut store, settings.clone(), Value::Null);
    assert!(d.set_token(IntegrationId::new("hs"), "hubspot-token", now()).ok);
    run_effects(&mut d, &mut store);

    let conv = log_a_call(&mut d, &mut store, &exec, "hs");
    let who = conv.who.unwrap();
    assert!(who.owner().is_none() && who.note.contains("no HubSpot user has your email"), "{who:?}");
    assert_eq!(the_owner_of(&emu, "hubspot", "oauth-hs"), Value::Null);

    // The rep sets their email: the next create looks the owner up again.
    settings.rep_email = "ada@example.com".into();
    assert!(d.replace_settings(settings, now()).ok);
    run_effects(&mut d, &mut store);
    let contact = match converse(&mut d, &mut store, &exec, Conversation::new(IntegrationId::new("hs"), CrmOp::SearchContacts { phone: e164("+12125550100") })).0 {
        Ok(CrmOutput::Contacts { contacts }) => contacts[0].clone(),
        other => panic!("{other:?}"),
    };
    let log = CallLog { marker: Marker("calltrail:oauth-hs-2".into()), contact, call: call("call-hs-2"), timing: Default::default() };
    let (result, conv) = converse(&mut d, &mut store, &exec, Conversation::new(IntegrationId::new("hs"), CrmOp::CreateCallLog { log }));
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(conv.who.map(|w| w.email), Some("ada@example.com".into()));
    assert_eq!(the_owner_of(&emu, "hubspot", "oauth-hs-2")["email"], json!("ada@example.com"));
}

// ---- server mode: the token broker (issue 16) ------------------------------------------------

const SERVER: &str = "https://calltrail.example.com";
const REP_TOKEN: &str = "ctr_0123456789abcdef_alices-own-token";

/// The Calltrail server's token broker as `crates/server/src/tokens.rs` runs it, in process:
/// the rep's bearer checked, the company's client and secret added, the vendor's token endpoint
/// called with the core's request, its reply read and answered as the core's `TokenSet`.
fn broker(emu: &Emulator, exec: &Executor, req: &HttpRequest) -> Reply {
    use calltrail_core::crm::oauth::{self, BrokerGrant, Endpoints, Grant, OAuthClient};
    use calltrail_core::crm::{HttpResponse, Secret};
    let answer = |status: u16, v: Value| Reply::Response(HttpResponse { status, headers: vec![], body: v.to_string() });
    let bearer = req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.as_str());
    if bearer != Some(&format!("Bearer {REP_TOKEN}")) {
        return answer(401, json!({ "ok": false, "error": "unauthorized", "message": "a rep's bearer token is required" }));
    }
    let id = req.url.strip_prefix(&format!("{SERVER}/rep/acme/alice/oauth/")).and_then(|r| r.strip_suffix("/token")).expect("the broker's path");
    let case = CASES.iter().find(|c| c.id == id).expect("a registered client");
    let root = format!("http://127.0.0.1:{}", emu.port);
    let (a, t) = paths(case.kind);
    let mut client = OAuthClient {
        kind: case.kind,
        client_id: format!("{}-client", vendor(case.kind)),
        client_secret: Some(Secret::new(format!("{}-secret", vendor(case.kind)))),
        redirect_uri: REDIRECT.into(),
        scopes: vec![],
        endpoints: Endpoints { authorize_url: format!("{root}/{}{a}", case.auth), token_url: format!("{root}/{}{t}", case.auth) },
    };
    let grant: BrokerGrant = serde_json::from_str(req.body.as_deref().unwrap_or("")).expect("the core's grant");
    let (BrokerGrant::AuthorizationCode { accounts_server, .. } | BrokerGrant::RefreshToken { accounts_server, .. }) = &grant;
    if let Some(server) = accounts_server {
        client.endpoints.token_url = oauth::accounts_token_url(server, &client.endpoints.token_url).expect("an accounts server of the client's origin");
    }
    let request = match &grant {
        BrokerGrant::AuthorizationCode { code, code_verifier, .. } => oauth::token_request(&client, &Grant::AuthorizationCode { code, verifier: code_verifier }),
        BrokerGrant::RefreshToken { refresh_token, .. } => oauth::token_request(&client, &Grant::RefreshToken { refresh_token }),
    };
    match oauth::parse_token_reply(case.kind, &exec.send(&request), now(), &[]) {
        Ok(tokens) => answer(200, json!({ "ok": true, "data": tokens })),
        Err(e) => answer(400, json!({ "ok": false, "error": "grant_refused", "message": e.to_string() })),
    }
}

/// Sends what the extension sends: to the broker, or to the emulator; every request kept.
struct Wire<'a> {
    emu: &'a Emulator,
    exec: &'a Executor,
    sent: std::cell::RefCell<Vec<HttpRequest>>,
}

impl Wire<'_> {
    fn send(&self, req: &HttpRequest) -> Reply {
        self.sent.borrow_mut().push(req.clone());
        if req.url.starts_with(SERVER) { broker(self.emu, self.exec, req) } else { self.exec.send(req) }
    }
}

fn broker_settings(emu: &Emulator, cases: &[&Case]) -> Settings {
    let link = calltrail_core::settings::ServerLink {
        url: SERVER.into(),
        account: "acme".into(),
        rep: "alice".into(),
        token: REP_TOKEN.into(),
        // The server logs another integration; these are logged from this browser.
        integrations: vec![IntegrationId::new("server-crm")],
    };
    Settings { server: Some(link), ..settings(emu, cases) }
}

fn connect_via(d: &mut Driver, store: &mut MemStore, wire: &Wire, id: &str) {
    let id = IntegrationId::new(id);
    let start = d.oauth_start(&id, "state-1", &code_challenge_s256(VERIFIER), REDIRECT);
    assert!(start.ok, "{id}: {:?}", start.error);
    let url: Value = serde_json::from_str(start.data.as_ref().unwrap().get()).unwrap();
    let redirect = sign_in(wire.exec, url["url"].as_str().unwrap());
    let (client, request) = d.oauth_code_request(&id, &redirect, "state-1", VERIFIER, REDIRECT).unwrap_or_else(|a| panic!("{id}: {:?}", a.error));
    assert!(request.url.starts_with(&format!("{SERVER}/rep/acme/alice/oauth/{id}/token")), "{id}: the code goes to the broker: {}", request.url);
    let reply = wire.send(&request);
    let answer = d.oauth_finished(id.clone(), &client, &reply, now());
    assert!(answer.ok, "{id}: {:?} ({reply:?})", answer.error);
    run_effects(d, store);
}

fn converse_via(d: &mut Driver, store: &mut MemStore, wire: &Wire, mut conv: Conversation) -> Result<CrmOutput, CrmError> {
    loop {
        match d.step(&mut conv, now()) {
            Next::Done(r) => return r,
            Next::Fetch(req) => conv.replied(wire.send(&req)),
            Next::Refresh(req) => {
                assert!(req.url.starts_with(SERVER), "a refresh goes to the broker: {}", req.url);
                let reply = wire.send(&req);
                d.refreshed(&mut conv, reply, now());
                run_effects(d, store);
            }
            Next::Wait => panic!("nobody else is refreshing"),
        }
    }
}

fn search_via(d: &mut Driver, store: &mut MemStore, wire: &Wire, id: &str) -> Result<CrmOutput, CrmError> {
    converse_via(d, store, wire, Conversation::new(IntegrationId::new(id), CrmOp::SearchContacts { phone: e164("+12125550100") }))
}

/// Issue 16: in server mode the code exchange and every refresh go to the server's broker with
/// the rep's bearer; no request this browser makes, and nothing it stores or shows, carries the
/// company's client secret, even with a policy that names one. Zoho's data centre and
/// Salesforce's `instance_url` still land where they should, and a refresh token rotated by the
/// broker is on disk before anything uses it (the worker dies right after; the next one carries on).
#[test]
fn in_server_mode_the_exchange_and_refresh_go_through_the_broker_and_no_secret_leaves() {
    let emu = Emulator::start();
    let exec = Executor::new();
    let wire = Wire { emu: &emu, exec: &exec, sent: Default::default() };
    emu.admin("POST", "/config", Some(json!({ "refreshRotation": { "salesforce": "rotate-invalidate" } })));
    emu.admin("POST", "/users", Some(json!({ "vendor": "zoho-eu", "users": [{ "name": "Erika Rep", "email": "erika@example.eu" }], "replace": true })));
    // HubSpot (PKCE, its secret once given on the options page), Salesforce, Zoho (EU).
    let cases: Vec<&Case> = [0, 2, 4].iter().map(|i| &CASES[*i]).collect();
    for c in &cases {
        emu.admin("POST", "/seed", Some(json!({ "vendor": c.api, "contacts": [{ "firstName": "Jane", "lastName": "Doe", "phone": "+1 (212) 555-0100" }] })));
    }
    let mut store = MemStore::new();
    // A client secret kept before server mode was turned on is forgotten.
    store.apply(&calltrail_core::store::Batch {
        writes: vec![calltrail_core::store::Write::Put {
            store: StoreName::Secrets,
            record: calltrail_core::store::Record::encode("app:hs", false, 0, &vec!["hubspot-client", "hubspot-secret", "http://127.0.0.1:1"]),
        }],
        durability: calltrail_core::store::Durability::Strict,
    });
    let mut d = start(&mut store, broker_settings(&emu, &cases), policy(&emu));
    let refused = d.set_client_secret(&IntegrationId::new("hs"), "hubspot-secret", now());
    assert!(!refused.ok && refused.error.as_deref().unwrap_or("").contains("server"), "{:?}", refused.error);
    let root = format!("http://127.0.0.1:{}", emu.port);
    for c in &cases {
        connect_via(&mut d, &mut store, &wire, c.id);
        let integ = d.settings().integrations.iter().find(|i| i.id.as_str() == c.id).unwrap();
        assert_eq!(integ.api_base(), format!("{root}/{}", c.api), "{}: the API base the vendor named, through the broker", c.id);
        assert!(matches!(search_via(&mut d, &mut store, &wire, c.id), Ok(CrmOutput::Contacts { contacts }) if contacts.len() == 1), "{}", c.id);
    }
    let zo = d.settings().integrations.iter().find(|i| i.id.as_str() == "zo").unwrap();
    assert_eq!(zo.oauth_endpoints().token_url, format!("{root}/zoho-accounts-eu/oauth/v2/token"), "Zoho's data centre, as the redirect named it");

    // Every session ends: each integration refreshes through the broker (Zoho at its EU data centre).
    let first_sf = d.credentials().get(&IntegrationId::new("sf")).unwrap().refresh_token.clone().unwrap();
    for v in ["hubspot", "salesforce", "zoho-eu"] {
        emu.admin("POST", "/tokens/expire", Some(json!({ "vendor": v })));
    }
    for c in &cases {
        assert!(search_via(&mut d, &mut store, &wire, c.id).is_ok(), "{}: after a brokered refresh", c.id);
    }
    // The worker dies after the rotated token's write; the next one uses the new one.
    drop(d);
    let mut d = start(&mut store, broker_settings(&emu, &cases), policy(&emu));
    assert_ne!(d.credentials().get(&IntegrationId::new("sf")).unwrap().refresh_token.as_ref(), Some(&first_sf), "the rotated refresh token is on disk");
    emu.admin("POST", "/tokens/expire", Some(json!({ "vendor": "salesforce" })));
    assert!(search_via(&mut d, &mut store, &wire, "sf").is_ok(), "the rotated refresh token works");

    let sent = wire.sent.borrow();
    let brokered: Vec<&HttpRequest> = sent.iter().filter(|r| r.url.starts_with(SERVER)).collect();
    let grants: Vec<String> = brokered.iter().map(|r| format!("{} {}", r.url.rsplit("/oauth/").next().unwrap_or(""), &r.body.as_deref().unwrap_or("")[..30])).collect();
    assert_eq!(brokered.len(), 3 + 3 + 1, "three exchanges and four refreshes, all at the broker: {grants:#?}");
    for r in &brokered {
        assert!(r.headers.iter().any(|(k, v)| k == "Authorization" && v == &format!("Bearer {REP_TOKEN}")), "{}", r.url);
    }
    for r in sent.iter() {
        let text = format!("{} {:?} {}", r.url, r.headers, r.body.as_deref().unwrap_or(""));
        assert!(!text.contains("-secret") && !text.contains("client_secret"), "a secret left this browser: {text}");
        assert!(r.url.starts_with(SERVER) || !r.url.contains("/oauth"), "this browser called a vendor's token endpoint: {}", r.url);
    }
    // Stored and shown: no client secret anywhere; the rep token only in the secrets store.
    let settings_text: String = store.all(StoreName::Settings).map(|r| r.value.to_string()).collect();
    let secrets_text: String = store.all(StoreName::Secrets).map(|r| format!("{} {}", r.key, r.value)).collect();
    assert!(!settings_text.contains("-secret") && !secrets_text.contains("-secret"), "{settings_text} {secrets_text}");
    assert!(!secrets_text.contains("app:"), "no client secret record is kept in server mode: {secrets_text}");
    let views = format!("{} {} {:?}", d.settings_view().data.unwrap().get(), d.state_view().data.unwrap().get(), d.exported_settings());
    assert!(!views.contains("-secret") && !settings_text.contains(REP_TOKEN), "{views}");
    assert!(views.contains("\"client_secret\":\"server\""), "the options page shows the server holds it: {views}");
}

/// Disconnecting in server mode: Pipedrive's revoke wants the client secret, which this browser
/// does not have, so it goes to the server's revoke endpoint with the rep's token and the tokens
/// to revoke (never a secret); HubSpot's needs none and goes to HubSpot directly.
#[test]
fn in_server_mode_a_revoke_that_wants_the_secret_goes_through_the_server() {
    use calltrail_core::crm::oauth::BrokerRevoke;
    let emu = Emulator::start();
    let exec = Executor::new();
    let wire = Wire { emu: &emu, exec: &exec, sent: Default::default() };
    let cases: Vec<&Case> = [0, 1].iter().map(|i| &CASES[*i]).collect();
    let mut store = MemStore::new();
    let mut d = start(&mut store, broker_settings(&emu, &cases), policy(&emu));
    for c in &cases {
        connect_via(&mut d, &mut store, &wire, c.id);
    }
    let held = d.credentials().get(&IntegrationId::new("pd")).unwrap().clone();
    let (answer, revoke) = d.clear_credentials(&IntegrationId::new("pd"));
    assert!(answer.ok);
    let revoke = revoke.expect("a revoke request");
    assert_eq!(revoke.url, format!("{SERVER}/rep/acme/alice/oauth/pd/revoke"));
    assert!(revoke.headers.iter().any(|(k, v)| k == "Authorization" && v == &format!("Bearer {REP_TOKEN}")), "{:?}", revoke.headers);
    let body: BrokerRevoke = serde_json::from_str(revoke.body.as_deref().unwrap()).expect("the core's revoke body");
    assert_eq!((body.access_token, body.refresh_token), (held.token, held.refresh_token));
    assert!(!format!("{revoke:?}").contains("-secret"), "{revoke:?}");
    let (_, revoke) = d.clear_credentials(&IntegrationId::new("hs"));
    let revoke = revoke.expect("HubSpot's revoke");
    assert!(revoke.url.starts_with(&format!("http://127.0.0.1:{}/hubspot", emu.port)) && revoke.url.contains("/refresh-tokens/"), "{}", revoke.url);
}
