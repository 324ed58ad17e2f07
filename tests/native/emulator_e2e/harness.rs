//! The emulator as a child process, its admin API, and a blocking executor that runs a
//! connector's `step` conversation over real HTTP.
//!
//! The executor is the native twin of the service worker's fetch loop: it sends each
//! [`HttpRequest`] the connector asks for and reports what happened as a [`Reply`], with the
//! same three shapes the shell produces (a response of any status, a timeout, a network error
//! that says whether the request may have left).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use calltrail_core::crm::{self, Connection, CrmError, CrmOp, CrmOutput, Exchange, HttpRequest, HttpResponse, Reply, Secret, Step};
use calltrail_core::model::CrmKind;
use calltrail_core::phone::Country;
use serde_json::{json, Value};

/// How long the emulator may take to print its ready line on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Per-request timeout: generous, since the emulator is local and only faults make it slow.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Most requests one op may send before the executor calls it a runaway conversation.
const MAX_STEPS: usize = 40;

/// The emulator's vendor name (path prefix, admin `vendor`) for a CRM: the same lower-case
/// keys the core names vendors by.
pub fn vendor(kind: CrmKind) -> &'static str {
    calltrail_core::crm::oauth::key(kind)
}

/// One emulator process on a free port, killed when dropped.
pub struct Emulator {
    child: Child,
    pub port: u16,
    agent: ureq::Agent,
}

impl Emulator {
    /// Starts `node www/crm-emulator/server.mjs --port 0` from the repository root and waits for
    /// its ready line.
    pub fn start() -> Emulator {
        let root = env!("CARGO_MANIFEST_DIR");
        let spawned = Command::new("node")
            .args(["www/crm-emulator/server.mjs", "--port", "0"])
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "the emulator tests need Node.js 20+ as `node` on PATH (www/crm-emulator/server.mjs), and none was found: {e}"
            ),
            Err(e) => panic!("cannot start `node www/crm-emulator/server.mjs` in {root}: {e}"),
        };
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        // The reader keeps draining stdout after the ready line so the child never blocks on it.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            for _ in lines {}
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("the emulator printed no ready line within {START_TIMEOUT:?} (got {other:?}, exit {status:?})");
            }
        };
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("emulator ready line is not JSON ({e}): {line}"));
        assert_eq!(ready["ready"], json!(true), "{line}");
        let port = ready["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or_else(|| panic!("no port in {line}"));
        Emulator { child, port, agent: agent(REQUEST_TIMEOUT) }
    }

    pub fn base_url(&self, kind: CrmKind) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, vendor(kind))
    }

    /// A connection with the emulator's default token for `kind`.
    pub fn connection(&self, kind: CrmKind) -> Connection {
        self.connection_with_token(kind, &format!("{}-token", vendor(kind)))
    }

    pub fn connection_with_token(&self, kind: CrmKind, token: &str) -> Connection {
        Connection { kind, base_url: self.base_url(kind), token: Secret::new(token), oauth: false, default_country: Country::US, marker_field: None, owner: None }
    }

    /// One admin call; panics on a non-2xx answer, since a test that cannot set up is broken.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}/_admin{path}", self.port);
        let req = ureq::http::Request::builder().method(method).uri(&url).header("Content-Type", "application/json");
        let result = match body {
            Some(b) => self.agent.run(req.body(b.to_string()).expect("admin request")),
            None => self.agent.run(req.body(()).expect("admin request")),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("admin {method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        assert!((200..300).contains(&status), "admin {method} {path} -> {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("admin {method} {path}: not JSON ({e}): {text}"))
    }

    /// Seeds contacts (the admin `/seed` shape) and returns the created records.
    pub fn seed(&self, kind: CrmKind, contacts: Value) -> Vec<Value> {
        let v = self.admin("POST", "/seed", Some(json!({"vendor": vendor(kind), "contacts": contacts})));
        v["created"].as_array().cloned().unwrap_or_default()
    }

    pub fn fault(&self, kind: CrmKind, spec: Value) -> Value {
        let mut spec = spec;
        spec["vendor"] = json!(vendor(kind));
        self.admin("POST", "/faults", Some(spec))
    }

    pub fn clear_faults(&self, kind: CrmKind) {
        self.admin("DELETE", &format!("/faults?vendor={}", vendor(kind)), None);
    }

    /// The records of `kind_of_record` ("calls", "messages", "contacts") whose JSON contains
    /// `needle`, as the emulator stores them.
    pub fn records(&self, kind: CrmKind, kind_of_record: &str, needle: &str) -> Vec<Value> {
        let q = format!("/{kind_of_record}?vendor={}&marker={}", vendor(kind), encode(needle));
        let v = self.admin("GET", &q, None);
        v["byVendor"][vendor(kind)].as_array().cloned().unwrap_or_default()
    }

    /// The request log's last sequence number: a mark to count requests from.
    pub fn mark(&self) -> u64 {
        self.admin("GET", "/stats", None)["lastSeq"].as_u64().unwrap_or(0)
    }

    /// Requests to `kind`'s API since `mark`, admin calls excluded.
    pub fn requests_since(&self, kind: CrmKind, mark: u64) -> u64 {
        let v = self.admin("GET", &format!("/stats?vendor={}&since={mark}", vendor(kind)), None);
        v["byVendor"][vendor(kind)]["total"].as_u64().unwrap_or(0)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // Every status is data for the connector, not an error.
        .http_status_as_error(false)
        // A fresh connection per request: a pooled socket the server closed while idle would
        // look like a lost reply, which is the one thing these tests must not fake.
        .max_idle_connections(0)
        .max_redirects(0)
        .build();
    config.into()
}

fn encode(s: &str) -> String {
    calltrail_core::crm::common::encode_component(s)
}

/// Sends connector requests and reports replies the way the service worker does.
pub struct Executor {
    agent: ureq::Agent,
}

/// What one op did: its result and every exchange it took.
pub struct Run {
    pub result: Result<CrmOutput, CrmError>,
    pub exchanges: Vec<Exchange>,
}

impl Executor {
    pub fn new() -> Executor {
        Executor { agent: agent(REQUEST_TIMEOUT) }
    }

    pub fn with_timeout(timeout: Duration) -> Executor {
        Executor { agent: agent(timeout) }
    }

    /// Loops `crm::step` until the connector is done, sending every request it asks for.
    pub fn run(&self, conn: &Connection, op: &CrmOp) -> Run {
        let mut history: Vec<Exchange> = Vec::new();
        loop {
            match crm::step(conn, op, &history) {
                Step::Done(result) => return Run { result, exchanges: history },
                Step::Send(request) => {
                    assert!(history.len() < MAX_STEPS, "{:?} {op:?}: more than {MAX_STEPS} requests", conn.kind);
                    let reply = self.send(&request);
                    history.push(Exchange { request, reply });
                }
            }
        }
    }

    /// The result of `op`, panicking with the exchanges when it is an error.
    pub fn ok(&self, conn: &Connection, op: &CrmOp) -> CrmOutput {
        let run = self.run(conn, op);
        match run.result {
            Ok(out) => out,
            Err(e) => panic!("{:?} {op:?} failed: {e:?}\nexchanges:\n{}", conn.kind, describe(&run.exchanges)),
        }
    }

    pub fn send(&self, req: &HttpRequest) -> Reply {
        let mut builder = ureq::http::Request::builder().method(req.method.as_str()).uri(&req.url);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let result = match &req.body {
            Some(b) => self.agent.run(builder.body(b.clone()).expect("connector request is valid HTTP")),
            None => self.agent.run(builder.body(()).expect("connector request is valid HTTP")),
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect();
                match resp.body_mut().read_to_string() {
                    Ok(body) => Reply::Response(HttpResponse { status, headers, body }),
                    Err(ureq::Error::Timeout(_)) => Reply::TimedOut,
                    Err(e) => Reply::NetworkError { sent: true, message: format!("reading the body: {e}") },
                }
            }
            Err(ureq::Error::Timeout(_)) => Reply::TimedOut,
            Err(e) => {
                // Only a refused or unresolvable connection proves the request never left.
                let sent = !matches!(
                    &e,
                    ureq::Error::ConnectionFailed | ureq::Error::HostNotFound | ureq::Error::BadUri(_)
                ) && !matches!(&e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
                Reply::NetworkError { sent, message: e.to_string() }
            }
        }
    }
}

/// The exchanges as short lines for a failure message (no headers, so no token).
pub fn describe(exchanges: &[Exchange]) -> String {
    exchanges
        .iter()
        .map(|ex| {
            let reply = match &ex.reply {
                Reply::Response(r) => format!("{} {}", r.status, calltrail_core::crm::common::truncate_chars(&r.body, 600)),
                other => format!("{other:?}"),
            };
            format!(
                "  {} {}\n    body: {}\n    -> {reply}",
                ex.request.method.as_str(),
                ex.request.url,
                ex.request.body.as_deref().map(|b| calltrail_core::crm::common::truncate_chars(b, 600)).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls `f` until it gives `Some`, or `None` once `limit` has passed.
pub fn poll<T>(limit: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(every);
    }
}
