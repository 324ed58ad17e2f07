//! The test world: PostgreSQL (scripts/postgres.sh, one cluster per test binary run, a fresh
//! database per test), the two emulators and server instances as child processes, a small
//! round-robin proxy standing in for the load balancer RingCentral would deliver to, and an
//! admin client.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

pub const ADMIN: &str = "admin-token-for-tests-0123456789";
pub const SEAL: &str = "0101010101010101010101010101010101010101010101010101010101010101";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs scripts/postgres.sh `cmd` on the cluster in `target/<name>`; the base URL (without
/// database) for `start`.
pub async fn postgres(cmd: &str, name: &str) -> String {
    let dir = repo().join("target").join(name);
    let out = Command::new("bash").arg(repo().join("scripts/postgres.sh")).arg(cmd).arg(&dir).output().await.expect("postgres.sh runs");
    assert!(out.status.success(), "postgres.sh {cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().strip_prefix("export DATABASE_URL=") {
        Some(url) => url.rsplit_once('/').expect("url has a database").0.to_owned(),
        None => String::new(),
    }
}

/// The shared cluster's base URL, started once per test binary run.
pub async fn cluster() -> String {
    static URL: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    URL.get_or_init(|| postgres("start", "pg-test")).await.clone()
}

static DB_SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database; its URL.
pub async fn fresh_db(name: &str) -> String {
    fresh_db_on(&cluster().await, name).await
}

/// A fresh database on the cluster at `base`.
pub async fn fresh_db_on(base: &str, name: &str) -> String {
    let db = format!("t_{}_{}_{}", name, std::process::id(), DB_SEQ.fetch_add(1, Ordering::SeqCst));
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await.expect("connect");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db}")).execute(&admin).await.expect("drop");
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await.expect("create");
    admin.close().await;
    format!("{base}/{db}")
}

/// A child process that is killed when dropped.
pub struct Proc {
    pub child: Child,
    pub ready: Value,
}

impl Proc {
    pub fn port(&self) -> u16 {
        self.ready["port"].as_u64().expect("port") as u16
    }
    pub fn kill9(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `cmd` and waits for its JSON ready line.
pub async fn spawn_ready(mut cmd: Command, what: &str) -> Proc {
    cmd.stdout(Stdio::piped()).stderr(if std::env::var("CALLTRAIL_TEST_LOGS").is_ok() { Stdio::inherit() } else { Stdio::null() }).kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["ready"] == json!(true) {
                    return v;
                }
            }
        }
        panic!("{what} exited before it was ready");
    })
    .await
    .unwrap_or_else(|_| panic!("{what} not ready in 60 s"));
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Proc { child, ready }
}

pub async fn crm_emulator() -> Proc {
    let mut c = Command::new("node");
    c.arg(repo().join("www/crm-emulator/server.mjs")).args(["--port", "0", "--seed", "7"]);
    spawn_ready(c, "crm emulator").await
}

pub async fn rc_emulator() -> Proc {
    let mut c = Command::new("node");
    c.arg(repo().join("www/ringcentral-emulator/server.mjs")).args(["--port", "0", "--seed", "7"]);
    spawn_ready(c, "ringcentral emulator").await
}

pub struct ServerOpts {
    pub database_url: String,
    pub public_url: Option<String>,
    pub sync_ms: u64,
    pub lease_ttl_ms: u64,
    pub id: String,
}

pub async fn server(o: &ServerOpts) -> Proc {
    let mut c = Command::new(env!("CARGO_BIN_EXE_calltrail-server"));
    c.env("DATABASE_URL", &o.database_url)
        .env("CALLTRAIL_LISTEN", "127.0.0.1:0")
        .env("CALLTRAIL_SEAL_KEY", SEAL)
        .env("CALLTRAIL_ADMIN_TOKEN", ADMIN)
        .env("CALLTRAIL_INSTANCE_ID", &o.id)
        .env("CALLTRAIL_SYNC_INTERVAL_MS", o.sync_ms.to_string())
        .env("CALLTRAIL_SUBSCRIPTION_CHECK_MS", "2000")
        .env("CALLTRAIL_LEASE_TTL_MS", o.lease_ttl_ms.to_string())
        .env("CALLTRAIL_POOL_SIZE", "8");
    if let Some(p) = &o.public_url {
        c.env("CALLTRAIL_PUBLIC_URL", p);
    }
    spawn_ready(c, "calltrail-server").await
}

/// A round-robin TCP proxy over the ports in `backends` (updated as instances come and go): a
/// connection goes to the next backend that accepts it.
pub struct Balancer {
    pub port: u16,
    pub backends: Arc<Mutex<Vec<u16>>>,
}

pub async fn balancer() -> Balancer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let backends: Arc<Mutex<Vec<u16>>> = Arc::new(Mutex::new(Vec::new()));
    let b = backends.clone();
    tokio::spawn(async move {
        let mut next = 0usize;
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { continue };
            let ports = b.lock().await.clone();
            next += 1;
            let start = next;
            tokio::spawn(async move {
                for i in 0..ports.len() {
                    let p = ports[(start + i) % ports.len()];
                    if let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", p)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                        return;
                    }
                }
            });
        }
    });
    Balancer { port, backends }
}

/// Admin and emulator HTTP calls.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
}

impl Default for Client {
    fn default() -> Self {
        Client { http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client") }
    }
}

impl Client {
    pub async fn admin(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self.http.request(method, url).bearer_auth(ADMIN);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn json(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, url);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{url}: {status} {v}");
        v
    }
}

/// Settings for a rep with the given integrations `(id, kind, base_url)`.
pub fn settings(integrations: &[(&str, &str, String)]) -> Value {
    json!({
        "default_country": "US",
        "integrations": integrations.iter().map(|(id, kind, base)| json!({
            "id": id, "kind": kind, "label": id, "base_url": base, "auth": {"type": "api_token"},
            "auto_log": true, "log_messages": true, "conflict_rule": {"rule": "last_modified"}
        })).collect::<Vec<_>>()
    })
}

/// What most server tests start from: a server on its own database (`name`, instance `id`), a
/// CRM emulator beside it, and the account `acme` made by the admin with `account` as its body.
/// The processes stop when it is dropped.
pub struct Rig {
    pub url: String,
    pub base: String,
    pub crm_url: String,
    pub c: Client,
    _srv: Proc,
    _crm: Proc,
}

pub async fn rig(name: &str, id: &str, account: Value) -> Rig {
    let url = fresh_db(name).await;
    let srv = server(&ServerOpts { database_url: url.clone(), public_url: None, sync_ms: 60_000, lease_ttl_ms: 6000, id: id.into() }).await;
    let crm = crm_emulator().await;
    let base = format!("http://127.0.0.1:{}", srv.port());
    let crm_url = format!("http://127.0.0.1:{}", crm.port());
    let c = Client::default();
    let (s, v) = c.admin(reqwest::Method::PUT, &format!("{base}/admin/accounts/acme"), Some(account)).await;
    assert_eq!(s, 200, "{v}");
    Rig { url, base, crm_url, c, _srv: srv, _crm: crm }
}

/// The rep `rep` (telephony user `user`) of `acme` with `settings`, and their API token as the
/// admin issues it.
pub async fn rep_with_token(c: &Client, base: &str, rep: &str, user: &str, settings: Value) -> String {
    let (s, v) = c.admin(reqwest::Method::PUT, &format!("{base}/admin/accounts/acme/reps/{rep}"), Some(json!({ "telephony_user": user, "settings": settings }))).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c.admin(reqwest::Method::POST, &format!("{base}/admin/accounts/acme/reps/{rep}/tokens"), Some(json!({}))).await;
    assert_eq!(s, 200, "{v}");
    v["data"]["token"].as_str().expect("a rep token").to_owned()
}

/// Alice (telephony user 101) and Bob (102) on account `acme` at `base`, each logging to the CRM
/// emulator's HubSpot (`hs`, its `conflict_rule` as given) with a token, and each rep's own API
/// token as the admin issues it: `(alice, bob)`.
pub async fn alice_and_bob(c: &Client, base: &str, crm_url: &str, conflict_rule: Value) -> (String, String) {
    let mut tokens = Vec::new();
    for (rep, user) in [("alice", "101"), ("bob", "102")] {
        let mut s = settings(&[("hs", "hubspot", format!("{crm_url}/hubspot"))]);
        s["integrations"][0]["conflict_rule"] = conflict_rule.clone();
        let (st, v) = c.admin(reqwest::Method::PUT, &format!("{base}/admin/accounts/acme/reps/{rep}"), Some(json!({ "telephony_user": user, "settings": s }))).await;
        assert_eq!(st, 200, "{v}");
        c.admin(reqwest::Method::PUT, &format!("{base}/admin/accounts/acme/reps/{rep}/credentials/hs"), Some(json!({ "token": "hubspot-token" }))).await;
        let (_, v) = c.admin(reqwest::Method::POST, &format!("{base}/admin/accounts/acme/reps/{rep}/tokens"), None).await;
        tokens.push(v["data"]["token"].as_str().expect("a rep token").to_owned());
    }
    (tokens[0].clone(), tokens[1].clone())
}

/// Polls `f` until it returns Some, at most `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
