//! The service-worker host: runs the engine's effects in the browser.
//!
//! It owns the engine, the IndexedDB store and the credentials, and it is the only place where
//! time is read (`Date.now()`) and requests leave (`fetch`). It holds no business rule: every
//! decision is the engine's or a connector's; the host moves bytes and keeps the effect-order
//! contract of [`calltrail_core::engine`]:
//! - one pump executes effects in the order the engine emitted them;
//! - a `Persist` is awaited before the next effect starts, so a create never leaves before its
//!   `Attempting` record is on disk;
//! - CRM operations run concurrently, each as a connector conversation of fetches with a
//!   timeout well under Chrome's 30-second rule; an expired one is an unknown outcome.
//!
//! If a `Persist` fails, nothing after it runs: the host drops the engine and restores a fresh
//! one from what IndexedDB really holds, so memory can never run ahead of disk.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use calltrail_core::crm::oauth::{self, Grant, OAuthClient, TokenSet};
use calltrail_core::crm::{self, Connection, CrmError, CrmOp, CrmOutput, Exchange, HttpRequest, HttpResponse, Reply, Secret, Step};
use calltrail_core::engine::{CallEntry, CrmRequest, Effect, Engine, EngineOptions, Input, Notice, Problem, Slot};
use calltrail_core::intents::{AuditFilter, Intent, PageInput};
use calltrail_core::model::{CallId, IntegrationId, Timestamp};
use calltrail_core::phone::E164;
use calltrail_core::policy;
use calltrail_core::settings::{AuthKind, Settings};
use calltrail_core::store::{Batch, Durability, Record, Snapshot, StoreName, Write};
use calltrail_core::view;

use super::idb::Db;
use super::to_js;

/// How long one HTTP request may take before it counts as timed out. Chrome stops a service
/// worker whose fetch takes longer than 30 s; we give up first, so we record `Unknown` ourselves.
pub const FETCH_TIMEOUT_MS: i32 = 20_000;

/// At most this many requests for one logical operation (paging, search then fetch).
const MAX_EXCHANGES: usize = 24;

/// How many recent problems the diagnostics keep.
const MAX_PROBLEMS: usize = 200;

const SETTINGS_KEY: &str = "current";

/// The JS functions the host calls for what only extension APIs can do.
struct Callbacks {
    /// `setAlarm(epochMs)`: keep one alarm at that time.
    set_alarm: Function,
    /// `notify(notice)`: tell open extension pages that something changed.
    notify: Function,
    /// `setBadge(text)`: the toolbar badge ("" hides it).
    set_badge: Function,
}

#[derive(Default, Serialize)]
struct Diagnostics {
    problems: VecDeque<ProblemEntry>,
    problem_counts: BTreeMap<String, u64>,
    restores: u64,
    persist_failures: u64,
    softphone: SoftphoneStats,
}

/// What the softphone bridge saw: accepted, deliberately ignored, and rejected messages.
/// Rejected messages are never acted on; they are counted here, by reason, for the diagnostics.
#[derive(Default, Serialize)]
struct SoftphoneStats {
    accepted: u64,
    ignored: u64,
    repeated: u64,
    rejected: BTreeMap<String, u64>,
    last_rejections: VecDeque<ProblemEntry>,
}

/// Repeats of the same softphone fact (two tabs, webphone and presence streams) inside this
/// window are dropped before the engine, which would merge them anyway but report each one.
const SOFTPHONE_REPEAT_WINDOW_MS: i64 = 30_000;

#[derive(Serialize, Clone)]
struct ProblemEntry {
    at: i64,
    kind: String,
    detail: String,
}

struct Inner {
    db: Db,
    engine: RefCell<Engine>,
    /// Effects drained from the engine, waiting for the pump.
    queue: RefCell<VecDeque<Effect>>,
    pumping: Cell<bool>,
    credentials: RefCell<BTreeMap<IntegrationId, StoredSecret>>,
    /// The rep's own settings document, before the admin policy is laid over it.
    user_settings: RefCell<Settings>,
    policy: RefCell<serde_json::Value>,
    locked: RefCell<Vec<String>>,
    /// OAuth refreshes in progress: callers wait on the one refresh of their integration.
    refreshing: RefCell<BTreeMap<IntegrationId, Vec<Function>>>,
    badge: RefCell<String>,
    callbacks: Callbacks,
    sync_waiters: RefCell<Vec<Function>>,
    diagnostics: RefCell<Diagnostics>,
    /// This worker start in the boot log.
    boot: super::BootLog,
    /// Dedupe keys of recent softphone facts and when they were seen.
    recent_softphone: RefCell<BTreeMap<String, Timestamp>>,
    /// Effects ever queued, and ever executed: an input is on disk once `executed` reaches the
    /// `queued` count taken right after it was handled (a Persist is awaited before the next).
    queued: Cell<u64>,
    executed: Cell<u64>,
    /// Senders waiting for their input's effects to be executed: (target count, resolve(bool)).
    barriers: RefCell<Vec<(u64, Function)>>,
}

/// The host the service worker creates once per worker start.
#[wasm_bindgen]
pub struct Host {
    inner: Rc<Inner>,
}

/// What the secrets store keeps per integration. Never sent to a page or the engine.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
struct StoredSecret {
    token: Secret,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    expires_at: Option<Timestamp>,
}

#[wasm_bindgen]
impl Host {
    /// Opens the store, restores the engine from open work, and starts executing its effects.
    /// `callbacks` is `{ setAlarm(epochMs), notify(notice), setBadge(text) }`; `policy` is what
    /// `chrome.storage.managed` holds (an object, possibly empty).
    pub async fn start(db_name: String, callbacks: JsValue, policy: JsValue, instance: String) -> Result<Host, JsValue> {
        let set_alarm = function(&callbacks, "setAlarm")?;
        let notify = function(&callbacks, "notify")?;
        let set_badge = function(&callbacks, "setBadge")?;
        let db = Db::open(&db_name).await?;
        // The three start-up reads overlap (one connection, three transactions).
        let ((user, secrets), boot) = super::join(
            super::join(load_settings(&db), db.prefix(StoreName::Secrets, "")),
            super::record_boot(&db, instance, now()),
        )
        .await;
        let (secrets, boot) = (secrets?, boot?);
        let policy: serde_json::Value = super::from_js(&policy).unwrap_or(serde_json::Value::Null);
        let mut startup_problem = None;
        let (settings, locked) = match policy::apply(&user, &policy) {
            Ok(e) => (e.settings, e.locked),
            Err(e) => {
                startup_problem = Some(e.to_string());
                (user.clone(), Vec::new())
            }
        };
        let mut credentials = BTreeMap::new();
        for r in secrets {
            if let Ok(s) = serde_json::from_str::<StoredSecret>(&r.value) {
                credentials.insert(IntegrationId::new(r.key), s);
            }
        }
        let inner = Rc::new(Inner {
            db,
            engine: RefCell::new(Engine::new(EngineOptions::default())),
            queue: RefCell::new(VecDeque::new()),
            pumping: Cell::new(false),
            credentials: RefCell::new(credentials),
            user_settings: RefCell::new(user),
            policy: RefCell::new(policy),
            locked: RefCell::new(locked),
            refreshing: RefCell::new(BTreeMap::new()),
            badge: RefCell::new(String::new()),
            callbacks: Callbacks { set_alarm, notify, set_badge },
            sync_waiters: RefCell::new(Vec::new()),
            diagnostics: RefCell::new(Diagnostics::default()),
            recent_softphone: RefCell::new(BTreeMap::new()),
            queued: Cell::new(0),
            executed: Cell::new(0),
            barriers: RefCell::new(Vec::new()),
            boot,
        });
        if let Some(p) = startup_problem {
            inner.record_problem("policy_invalid", &p);
        }
        inner.clone().restore(settings).await?;
        Ok(Host { inner })
    }

    /// The boot log as this worker start left it (`ping` shows it).
    pub fn boot(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.boot)
    }

    /// The admin policy changed (`chrome.storage.managed.onChanged`).
    #[wasm_bindgen(js_name = setPolicy)]
    pub fn set_policy(&self, policy: JsValue) {
        let policy: serde_json::Value = super::from_js(&policy).unwrap_or(serde_json::Value::Null);
        let user = self.inner.user_settings.borrow().clone();
        match policy::apply(&user, &policy) {
            Ok(e) => {
                *self.inner.policy.borrow_mut() = policy;
                *self.inner.locked.borrow_mut() = e.locked;
                self.inner.clone().input(Input::SettingsChanged(e.settings));
            }
            // The last good settings stay in force.
            Err(e) => self.inner.record_problem("policy_invalid", &e.to_string()),
        }
    }

    /// The shell's alarm fired.
    pub fn alarm(&self) {
        self.inner.clone().input(Input::AlarmFired);
    }

    /// An intent from an extension page or a content script, already routed by
    /// `extension/lib/messages.js`. Answers with a JSON-compatible value.
    pub async fn intent(&self, message: JsValue) -> Result<JsValue, JsValue> {
        let intent = super::from_js::<serde_json::Value>(&message)
            .and_then(Intent::from_value)
            .map_err(|e| JsValue::from_str(&format!("malformed intent: {e}")))?;
        let answer = self.inner.clone().on_intent(intent).await?;
        to_js(&answer)
    }

    /// Everything the diagnostics page shows: problems, counts, restores.
    pub fn diagnostics(&self) -> Result<JsValue, JsValue> {
        to_js(&*self.inner.diagnostics.borrow())
    }
}

#[derive(Serialize, Default)]
struct Answer {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
    /// Notices the engine emitted while handling the intent (e.g. a manual log refused).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notices: Vec<Notice>,
    /// The sender should send the same message again (it was not saved).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    retry: bool,
}

impl Answer {
    fn ok(data: Option<serde_json::Value>) -> Answer {
        Answer { ok: true, data, ..Answer::default() }
    }
    fn err(msg: impl Into<String>) -> Answer {
        Answer { ok: false, error: Some(msg.into()), ..Answer::default() }
    }
}

impl Inner {
    async fn restore(self: Rc<Self>, settings: Settings) -> Result<(), JsValue> {
        let now = now();
        let query = Engine::restore_query(&settings, now);
        let snapshot = self.db.restore(&query).await?;
        let boot_id = (js_sys::Math::random() * 4_294_967_295.0) as u64;
        {
            let mut engine = Engine::new(EngineOptions::default());
            engine.handle(Input::Restored { snapshot, settings, boot_id }, now);
            *self.engine.borrow_mut() = engine;
        }
        self.diagnostics.borrow_mut().restores += 1;
        self.queue.borrow_mut().clear();
        // What was queued is dropped: whoever waits for it must send again.
        self.executed.set(self.queued.get());
        for (_, resolve) in self.barriers.borrow_mut().drain(..) {
            resolve.call1(&JsValue::NULL, &JsValue::FALSE).ok();
        }
        self.drain();
        spawn_local(self.pump());
        Ok(())
    }

    /// Hands one input to the engine and schedules its effects; returns the notices it emitted.
    fn input(self: Rc<Self>, input: Input) -> Vec<Notice> {
        self.engine.borrow_mut().handle(input, now());
        let notices = self.drain();
        spawn_local(self.pump());
        notices
    }

    /// Moves the engine's effects into the host's queue, returning copies of its notices.
    fn drain(&self) -> Vec<Notice> {
        let mut engine = self.engine.borrow_mut();
        let mut queue = self.queue.borrow_mut();
        let mut notices = Vec::new();
        while let Some(e) = engine.poll_effect() {
            if let Effect::Notify(n) = &e {
                notices.push(n.clone());
            }
            queue.push_back(e);
            self.queued.set(self.queued.get() + 1);
        }
        notices
    }

    /// Executes queued effects in order. Only one pump runs at a time; inputs that arrive while
    /// it awaits a write add to the queue it is draining.
    async fn pump(self: Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(effect) = next else { break };
            match effect {
                Effect::Persist(batch) => {
                    if let Err(e) = self.db.apply(&batch).await {
                        self.persist_failed(e.to_string());
                        self.pumping.set(false);
                        let settings = self.engine.borrow().settings().clone();
                        if let Err(e) = self.clone().restore(settings).await {
                            self.record_problem("restore_failed", &super::idb::describe(&e));
                        }
                        return;
                    }
                }
                Effect::Crm(req) => spawn_local(self.clone().run_crm(*req)),
                Effect::WakeAt(at) => {
                    self.callbacks.set_alarm.call1(&JsValue::NULL, &JsValue::from_f64(at.0 as f64)).ok();
                }
                Effect::Notify(notice) => self.notice(&notice),
                Effect::Problem(p) => self.problem(&p),
            }
            self.executed.set(self.executed.get() + 1);
            self.release_barriers();
        }
        self.pumping.set(false);
        self.update_badge();
    }

    /// Resolves the waiters whose effects have all been executed.
    fn release_barriers(&self) {
        let done = self.executed.get();
        let ready: Vec<Function> = {
            let mut b = self.barriers.borrow_mut();
            let (ready, waiting): (Vec<_>, Vec<_>) = b.drain(..).partition(|(target, _)| *target <= done);
            *b = waiting;
            ready.into_iter().map(|(_, f)| f).collect()
        };
        for resolve in ready {
            resolve.call1(&JsValue::NULL, &JsValue::TRUE).ok();
        }
    }

    /// True once every effect queued so far has been executed (its Persist committed); false
    /// when they were dropped because a write failed and the engine was restored from disk.
    async fn committed(&self) -> bool {
        let target = self.queued.get();
        if self.executed.get() >= target {
            return true;
        }
        let p = Promise::new(&mut |resolve: Function, _| self.barriers.borrow_mut().push((target, resolve)));
        JsFuture::from(p).await.ok().and_then(|v| v.as_bool()).unwrap_or(false)
    }

    fn update_badge(&self) {
        let text = {
            let engine = self.engine.borrow();
            let slots: Vec<Slot> = engine.slots().cloned().collect();
            view::badge(&slots)
        };
        if *self.badge.borrow() != text {
            self.callbacks.set_badge.call1(&JsValue::NULL, &JsValue::from_str(&text)).ok();
            *self.badge.borrow_mut() = text;
        }
    }

    /// Runs one CRM operation for the engine, then reports the result.
    async fn run_crm(self: Rc<Self>, req: CrmRequest) {
        let result = self.clone().run_op(&req.integration, &req.op).await;
        self.input(Input::CrmDone { req: req.req, result });
    }

    /// Runs one CRM operation. A 401 on an OAuth integration gets one refresh (shared with any
    /// other request that hit it) and one more try before the engine hears `Unauthorized`:
    /// Salesforce gives no expiry, so a 401 is how its sessions say they ended.
    async fn run_op(self: Rc<Self>, integration: &IntegrationId, op: &CrmOp) -> Result<CrmOutput, CrmError> {
        let used = self.credentials.borrow().get(integration).map(|s| s.token.clone());
        let first = self.clone().run_op_once(integration, op).await;
        let refreshable = self.credentials.borrow().get(integration).is_some_and(|s| s.refresh_token.is_some());
        match first {
            Err(CrmError::Unauthorized { .. }) if refreshable => {
                let current = self.credentials.borrow().get(integration).cloned();
                // Unless another request already refreshed it meanwhile, mark the token expired
                // so `fresh_token` refreshes it (once, for every caller waiting on it).
                if let Some(mut stored) = current.filter(|s| Some(&s.token) == used.as_ref()) {
                    stored.expires_at = Some(Timestamp(0));
                    self.credentials.borrow_mut().insert(integration.clone(), stored);
                }
                self.run_op_once(integration, op).await
            }
            other => other,
        }
    }

    /// Runs one CRM operation as a connector conversation of fetches.
    async fn run_op_once(self: Rc<Self>, integration: &IntegrationId, op: &CrmOp) -> Result<CrmOutput, CrmError> {
        let token = self.clone().fresh_token(integration).await?;
        let conn = self.connection(integration, token)?;
        let mut history: Vec<Exchange> = Vec::new();
        loop {
            match crm::step(&conn, op, &history) {
                Step::Done(r) => return r,
                Step::Send(_) if history.len() >= MAX_EXCHANGES => {
                    let message = format!("more than {MAX_EXCHANGES} requests for one operation");
                    return Err(if op.is_write() { CrmError::Unknown { message } } else { CrmError::Transient { message } });
                }
                Step::Send(request) => {
                    let reply = fetch(&request).await;
                    history.push(Exchange { request, reply });
                }
            }
        }
    }

    fn connection(&self, integration: &IntegrationId, token: Secret) -> Result<Connection, CrmError> {
        let engine = self.engine.borrow();
        let settings = engine.settings();
        let Some(integ) = settings.integrations.iter().find(|i| &i.id == integration) else {
            return Err(CrmError::Permanent { message: format!("integration {integration} is not configured") });
        };
        Ok(Connection {
            kind: integ.kind,
            base_url: integ.base_url.trim_end_matches('/').to_owned(),
            token,
            default_country: settings.default_country,
        })
    }

    async fn on_intent(self: Rc<Self>, intent: Intent) -> Result<Answer, JsValue> {
        Ok(match intent {
            Intent::SoftphoneEvent { origin, from_frame, data } => {
                // The bridge re-sends until it gets an answer, so answer only once what the
                // event changed is on disk: a worker stopped before that never answers, and the
                // repeat is merged by the engine (I5, I8).
                let (answer, dedupe_key) = self.clone().softphone(&origin, from_frame, &data);
                if answer.ok && !self.committed().await {
                    if let Some(k) = dedupe_key {
                        self.recent_softphone.borrow_mut().remove(&k);
                    }
                    Answer { retry: true, ..Answer::err("the event could not be saved; send it again") }
                } else {
                    answer
                }
            }
            Intent::State => Answer::ok(Some(self.state())),
            Intent::Call { call } => {
                let entry = self.engine.borrow().call(&call).cloned();
                let entry = match entry {
                    Some(e) => Some(e),
                    None => self.db.get(StoreName::Calls, call.as_str()).await?.and_then(|r| CallEntry::from_record(&r)),
                };
                match entry {
                    None => Answer::err(format!("no call {call}")),
                    Some(entry) => {
                        let slots = self.slots_of(&entry.call.id).await?;
                        let v = view::call_view(&entry, &slots, self.engine.borrow().settings(), now());
                        Answer::ok(serde_json::to_value(v).ok())
                    }
                }
            }
            Intent::History { limit, unlogged_only, query } => {
                let limit = limit.unwrap_or(100).clamp(1, 1000);
                // Filters drop rows, so read more than asked and stop once enough rows pass.
                let read = if unlogged_only || !query.trim().is_empty() { (limit * 5).min(5000) } else { limit };
                let mut rows = Vec::new();
                for r in self.db.newest(StoreName::Calls, read).await? {
                    let Some(entry) = CallEntry::from_record(&r) else { continue };
                    let slots = self.slots_of(&entry.call.id).await?;
                    let v = view::call_view(&entry, &slots, self.engine.borrow().settings(), now());
                    if (!unlogged_only || v.is_unlogged()) && v.matches_query(&query) {
                        rows.push(v);
                        if rows.len() >= limit as usize {
                            break;
                        }
                    }
                }
                Answer::ok(serde_json::to_value(rows).ok())
            }
            Intent::Unresolved => {
                let engine = self.engine.borrow();
                let slots: Vec<Slot> = engine.slots().cloned().collect();
                let calls: Vec<CallEntry> =
                    slots.iter().filter_map(|s| s.call_id()).filter_map(|id| engine.call(id).cloned()).collect();
                Answer::ok(serde_json::to_value(view::unresolved(&slots, &calls, engine.settings())).ok())
            }
            Intent::Audit { limit, filter } => Answer::ok(Some(serde_json::Value::Array(self.audit(limit, &filter).await?))),
            Intent::AuditCsv { limit, filter } => {
                let mut csv = String::from(calltrail_core::engine::audit::CSV_HEADER);
                csv.push('\n');
                for e in self.audit(limit, &filter).await? {
                    if let Ok(entry) = serde_json::from_str::<calltrail_core::engine::AuditEntry>(&e.to_string()) {
                        csv.push_str(&entry.to_csv());
                        csv.push('\n');
                    }
                }
                Answer::ok(Some(serde_json::Value::String(csv)))
            }
            Intent::SyncNow => {
                let done = Promise::new(&mut |resolve: Function, _reject: Function| {
                    self.sync_waiters.borrow_mut().push(resolve);
                });
                self.clone().input(Input::DigestRequested);
                let result = JsFuture::from(done).await?;
                Answer::ok(super::from_js(&result).ok())
            }
            Intent::Settings => {
                let engine = self.engine.borrow();
                Answer::ok(Some(serde_json::json!({
                    "settings": engine.settings(),
                    "user": &*self.user_settings.borrow(),
                    "locked": &*self.locked.borrow(),
                    "connected": self.credentials.borrow().keys().map(|k| k.to_string()).collect::<Vec<_>>(),
                })))
            }
            Intent::ImportSettings { json } => match Settings::from_json(&json) {
                Err(e) => Answer::err(e.to_string()),
                Ok(user) => self.replace_settings(user).await?,
            },
            Intent::SaveSettings { settings } => {
                // Read from text, not from the tree: one instantiation of the settings' serde code
                // (the one `Settings::from_json` uses) serves import, save and policy alike.
                match serde_json::from_str::<Settings>(&settings.to_string()).map_err(|e| e.to_string()).and_then(|s| {
                    s.validate().map_err(|e| e.to_string())?;
                    Ok(s)
                }) {
                    Err(e) => Answer::err(e),
                    Ok(user) => self.replace_settings(user).await?,
                }
            }
            Intent::ExportSettings => {
                let s = self.user_settings.borrow().clone();
                Answer::ok(serde_json::to_value(&s).ok())
            }
            Intent::SetCredentials { integration, token } => {
                if token.trim().is_empty() {
                    return Ok(Answer::err("the token is empty"));
                }
                let secret = StoredSecret { token: Secret::new(token.trim()), ..StoredSecret::default() };
                self.clone().store_secret(IntegrationId::new(integration), secret).await?
            }
            Intent::ClearCredentials { integration } => {
                let id = IntegrationId::new(integration);
                let batch = Batch {
                    writes: vec![Write::Delete { store: StoreName::Secrets, key: id.to_string() }],
                    durability: Durability::Strict,
                };
                self.db.apply(&batch).await?;
                self.credentials.borrow_mut().remove(&id);
                Answer::ok(None)
            }
            Intent::TestConnection { integration, number } => {
                let id = IntegrationId::new(integration);
                let country = self.engine.borrow().settings().default_country;
                let phone = match E164::parse(number.as_deref().unwrap_or("+12125550100"), country) {
                    Ok(p) => p,
                    Err(e) => return Ok(Answer::err(e.to_string())),
                };
                match self.clone().run_op(&id, &CrmOp::SearchContacts { phone }).await {
                    Ok(CrmOutput::Contacts { contacts }) => {
                        Answer::ok(Some(serde_json::json!({ "reachable": true, "matches": contacts.len() })))
                    }
                    Ok(_) => Answer::ok(Some(serde_json::json!({ "reachable": true }))),
                    Err(e) => Answer::err(e.to_string()),
                }
            }
            Intent::OauthStart { integration, state, verifier, redirect_uri } => {
                match self.oauth_client(&IntegrationId::new(integration), &redirect_uri) {
                    Err(e) => Answer::err(e),
                    Ok(_) if !oauth::is_valid_verifier(&verifier) => Answer::err("the PKCE verifier is not valid"),
                    Ok(client) => Answer::ok(Some(serde_json::json!({ "url": oauth::authorize_url(&client, &state, &verifier) }))),
                }
            }
            Intent::OauthFinish { integration, redirect_url, state, verifier, redirect_uri } => {
                let id = IntegrationId::new(integration);
                let client = match self.oauth_client(&id, &redirect_uri) {
                    Ok(c) => c,
                    Err(e) => return Ok(Answer::err(e)),
                };
                let code = match oauth::parse_redirect(&redirect_url, &state) {
                    Ok(r) => r.code,
                    Err(e) => return Ok(Answer::err(e.to_string())),
                };
                let request = oauth::token_request(&client, &Grant::AuthorizationCode { code: &code, verifier: &verifier });
                let reply = fetch(&request).await;
                match oauth::parse_token_reply(client.kind, &reply, now(), &[]) {
                    Err(e) => Answer::err(e.to_string()),
                    Ok(tokens) => {
                        // Salesforce names the org's instance, Zoho its data centre: the API base.
                        if let Some(base) = tokens.instance_url.clone().or(tokens.api_domain.clone()) {
                            let mut user = self.user_settings.borrow().clone();
                            if let Some(i) = user.integrations.iter_mut().find(|i| i.id == id) {
                                i.base_url = base;
                            }
                            self.clone().replace_settings(user).await?;
                        }
                        self.clone().store_secret(id, secret_from(tokens, None)).await?
                    }
                }
            }
            Intent::Engine { input } => {
                let input = match input {
                    PageInput::NotesOpened { call } => Input::NotesOpened { call },
                    PageInput::NotesSaved { call, notes } => Input::NotesSaved { call, notes },
                    PageInput::NotesCancelled { call } => Input::NotesCancelled { call },
                    PageInput::ContactsPicked { call, integration, contacts } => {
                        Input::ContactsPicked { call, integration, contacts }
                    }
                    PageInput::LogNowRequested { call } => Input::LogNowRequested { call },
                    PageInput::ManualLogRequested { call, integrations } => {
                        let stored = self.stored_call(&call).await?;
                        Input::ManualLogRequested { call, integrations, stored }
                    }
                    PageInput::UnresolvedResolved { resolutions } => Input::UnresolvedResolved { resolutions },
                };
                let notices = self.clone().input(input);
                let refused = notices.iter().find_map(|n| match n {
                    Notice::ManualRefused { integration, reason, .. } | Notice::PicksRefused { integration, reason, .. } => {
                        Some(format!("{integration}: {reason}"))
                    }
                    _ => None,
                });
                Answer { ok: refused.is_none(), error: refused, notices, data: None, retry: false }
            }
        })
    }

    /// Lays the policy over `user`, keeps `user` as the rep's settings and hands the result to
    /// the engine; refused whole when the result is not valid.
    async fn replace_settings(self: Rc<Self>, user: Settings) -> Result<Answer, JsValue> {
        let effective = match policy::apply(&user, &self.policy.borrow()) {
            Ok(e) => e,
            Err(e) => return Ok(Answer::err(e.to_string())),
        };
        save_settings(&self.db, &user).await?;
        *self.user_settings.borrow_mut() = user;
        *self.locked.borrow_mut() = effective.locked;
        let notices = self.clone().input(Input::SettingsChanged(effective.settings));
        let data = serde_json::json!({ "kept_by_policy": effective.overridden });
        Ok(Answer { notices, ..Answer::ok(Some(data)) })
    }

    async fn store_secret(self: Rc<Self>, id: IntegrationId, secret: StoredSecret) -> Result<Answer, JsValue> {
        let record = Record::encode(id.to_string(), false, now().0, &secret);
        let batch = Batch { writes: vec![Write::Put { store: StoreName::Secrets, record }], durability: Durability::Strict };
        self.db.apply(&batch).await?;
        self.credentials.borrow_mut().insert(id.clone(), secret);
        let notices = self.input(Input::CredentialsChanged { integration: id });
        Ok(Answer { notices, ..Answer::ok(None) })
    }

    fn state(&self) -> serde_json::Value {
        let engine = self.engine.borrow();
        let settings = engine.settings();
        let connected = self.credentials.borrow();
        let integrations: Vec<serde_json::Value> = settings
            .integrations
            .iter()
            .map(|i| {
                serde_json::json!({
                    "id": i.id, "kind": i.kind, "label": if i.label.is_empty() { i.id.to_string() } else { i.label.clone() },
                    "connected": connected.contains_key(&i.id),
                    "health": engine.health(&i.id),
                })
            })
            .collect();
        let slots: Vec<Slot> = engine.slots().cloned().collect();
        serde_json::json!({
            "integrations": integrations,
            "badge": view::badge(&slots),
            "unresolved": engine.unresolved_count(),
            "digest": engine.digest_meta(),
        })
    }

    async fn slots_of(&self, call: &CallId) -> Result<Vec<Slot>, JsValue> {
        let prefix = calltrail_core::engine::slot::call_slot_prefix(call);
        let mut slots: Vec<Slot> =
            self.db.prefix(StoreName::Slots, &prefix).await?.iter().filter_map(Slot::from_record).collect();
        // The engine's copy is newer (and knows which slots have a request in flight).
        let engine = self.engine.borrow();
        for s in &mut slots {
            if let Some(live) = engine.slot(&s.key) {
                *s = live.clone();
            }
        }
        Ok(slots)
    }

    async fn audit(&self, limit: Option<u32>, filter: &AuditFilter) -> Result<Vec<serde_json::Value>, JsValue> {
        let limit = limit.unwrap_or(500).clamp(1, 50_000);
        Ok(self
            .db
            .newest(StoreName::Audit, limit.saturating_mul(4).min(200_000))
            .await?
            .into_iter()
            .map(|r| r.json())
            .filter(|e| filter.keeps(e))
            .take(limit as usize)
            .collect())
    }

    fn oauth_client(&self, id: &IntegrationId, redirect_uri: &str) -> Result<OAuthClient, String> {
        let engine = self.engine.borrow();
        let integ = engine
            .settings()
            .integrations
            .iter()
            .find(|i| &i.id == id)
            .ok_or_else(|| format!("integration {id} is not configured"))?;
        let AuthKind::OAuth { client_id, auth_url, token_url, scopes } = &integ.auth else {
            return Err(format!("{} uses an API token, not OAuth", integ.label_or_id()));
        };
        let mut endpoints = oauth::endpoints(integ.kind, None);
        if !auth_url.is_empty() {
            endpoints.authorize_url = auth_url.clone();
        }
        if !token_url.is_empty() {
            endpoints.token_url = token_url.clone();
        }
        Ok(OAuthClient {
            kind: integ.kind,
            client_id: client_id.clone(),
            client_secret: None,
            redirect_uri: redirect_uri.to_owned(),
            scopes: scopes.clone(),
            endpoints,
        })
    }

    /// A fresh access token for `id`: refreshes it first when it is about to expire, one
    /// refresh per integration at a time (rotating refresh tokens die when two race).
    async fn fresh_token(self: Rc<Self>, id: &IntegrationId) -> Result<Secret, CrmError> {
        loop {
            let stored = self.credentials.borrow().get(id).cloned();
            let Some(stored) = stored else {
                return Err(CrmError::Unauthorized { message: format!("no credentials for {id}: connect it in Settings") });
            };
            if !oauth::needs_refresh(stored.expires_at, now()) || stored.refresh_token.is_none() {
                return Ok(stored.token);
            }
            // Someone is refreshing: wait for them, then look again.
            let waiting = {
                let mut r = self.refreshing.borrow_mut();
                match r.get_mut(id) {
                    Some(waiters) => Some(Promise::new(&mut |resolve: Function, _| waiters.push(resolve))),
                    None => {
                        r.insert(id.clone(), Vec::new());
                        None
                    }
                }
            };
            if let Some(p) = waiting {
                JsFuture::from(p).await.ok();
                continue;
            }
            let result = self.clone().refresh(id, &stored).await;
            for resolve in self.refreshing.borrow_mut().remove(id).unwrap_or_default() {
                resolve.call0(&JsValue::NULL).ok();
            }
            return result;
        }
    }

    async fn refresh(self: Rc<Self>, id: &IntegrationId, stored: &StoredSecret) -> Result<Secret, CrmError> {
        let client = self.oauth_client(id, "").map_err(|message| CrmError::Unauthorized { message })?;
        let Some(refresh_token) = stored.refresh_token.as_ref() else {
            return Err(CrmError::Unauthorized { message: "no refresh token: reconnect".into() });
        };
        let request = oauth::token_request(&client, &Grant::RefreshToken { refresh_token });
        let reply = fetch(&request).await;
        let tokens = oauth::parse_token_reply(client.kind, &reply, now(), &[refresh_token, &stored.token])?;
        let secret = secret_from(tokens, stored.refresh_token.clone());
        let token = secret.token.clone();
        // Written strictly before anyone uses it, so a restart never falls back to a used token.
        let record = Record::encode(id.to_string(), false, now().0, &secret);
        let batch = Batch { writes: vec![Write::Put { store: StoreName::Secrets, record }], durability: Durability::Strict };
        self.db.apply(&batch).await.map_err(|e| CrmError::Transient { message: e.to_string() })?;
        self.credentials.borrow_mut().insert(id.clone(), secret);
        Ok(token)
    }

    /// Decodes one softphone message and hands the engine what it means. Anything refused is
    /// counted by reason and never acted on.
    fn softphone(self: Rc<Self>, origin: &str, from_frame: bool, data: &serde_json::Value) -> (Answer, Option<String>) {
        let now = now();
        if !from_frame {
            return (self.reject_softphone("not_from_softphone_frame", origin, "the message did not come from a child frame"), None);
        }
        let decoded = {
            let engine = self.engine.borrow();
            let ctx = calltrail_core::softphone::DecodeContext::from_settings(engine.settings(), now);
            calltrail_core::softphone::decode(origin, data, &ctx)
        };
        let event = match decoded {
            Ok(e) => e,
            Err(e) => return (self.reject_softphone(e.kind(), origin, &e.to_string()), None),
        };
        let dedupe_key = event.dedupe_key();
        if let Some(key) = &dedupe_key {
            let mut recent = self.recent_softphone.borrow_mut();
            recent.retain(|_, at| now.since(*at) < SOFTPHONE_REPEAT_WINDOW_MS);
            if recent.insert(key.clone(), now).is_some() {
                self.diagnostics.borrow_mut().softphone.repeated += 1;
                return (Answer::ok(Some(serde_json::json!({ "accepted": true, "repeat": true }))), None);
            }
        }
        match calltrail_core::softphone::to_input(event) {
            None => {
                self.diagnostics.borrow_mut().softphone.ignored += 1;
                (Answer::ok(Some(serde_json::json!({ "accepted": true, "ignored": true }))), None)
            }
            Some(input) => {
                self.diagnostics.borrow_mut().softphone.accepted += 1;
                let notices = self.input(input);
                (Answer { notices, ..Answer::ok(Some(serde_json::json!({ "accepted": true }))) }, dedupe_key)
            }
        }
    }

    fn reject_softphone(&self, reason: &str, origin: &str, detail: &str) -> Answer {
        let mut d = self.diagnostics.borrow_mut();
        let stats = &mut d.softphone;
        *stats.rejected.entry(reason.to_owned()).or_default() += 1;
        // The origin is the page's, not secret; cap it anyway, it is untrusted text.
        let origin: String = origin.chars().take(100).collect();
        stats.last_rejections.push_back(ProblemEntry {
            at: now().0,
            kind: reason.to_owned(),
            detail: format!("{origin}: {detail}"),
        });
        while stats.last_rejections.len() > 50 {
            stats.last_rejections.pop_front();
        }
        Answer::err(format!("softphone message rejected: {detail}"))
    }

    /// A call's records as stored, for manual logging of calls older than what a restore reads.
    async fn stored_call(&self, call: &calltrail_core::model::CallId) -> Result<Snapshot, JsValue> {
        if self.engine.borrow().call(call).is_some() {
            return Ok(Snapshot::default());
        }
        let mut snap = Snapshot::default();
        if let Some(r) = self.db.get(StoreName::Calls, call.as_str()).await? {
            snap.stores.push((StoreName::Calls, vec![r]));
        }
        let prefix = calltrail_core::engine::slot::call_slot_prefix(call);
        let slots = self.db.prefix(StoreName::Slots, &prefix).await?;
        if !slots.is_empty() {
            snap.stores.push((StoreName::Slots, slots));
        }
        Ok(snap)
    }

    fn notice(&self, notice: &Notice) {
        if let Notice::DigestDone { sync: true, .. } = notice {
            let value = to_js(notice).unwrap_or(JsValue::NULL);
            for resolve in self.sync_waiters.borrow_mut().drain(..) {
                resolve.call1(&JsValue::NULL, &value).ok();
            }
        }
        if let Ok(v) = to_js(notice) {
            self.callbacks.notify.call1(&JsValue::NULL, &v).ok();
        }
    }

    fn problem(&self, p: &Problem) {
        let kind = serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_owned));
        self.record_problem(kind.as_deref().unwrap_or("problem"), &p.detail);
    }

    fn persist_failed(&self, detail: String) {
        self.diagnostics.borrow_mut().persist_failures += 1;
        self.record_problem("persist_failed", &detail);
    }

    fn record_problem(&self, kind: &str, detail: &str) {
        let mut d = self.diagnostics.borrow_mut();
        *d.problem_counts.entry(kind.to_owned()).or_default() += 1;
        d.problems.push_back(ProblemEntry { at: now().0, kind: kind.to_owned(), detail: detail.to_owned() });
        while d.problems.len() > MAX_PROBLEMS {
            d.problems.pop_front();
        }
        web_sys::console::warn_2(&JsValue::from_str(&format!("calltrail: {kind}")), &JsValue::from_str(detail));
    }
}

fn secret_from(tokens: TokenSet, previous_refresh: Option<Secret>) -> StoredSecret {
    StoredSecret {
        token: tokens.access_token,
        // A reply without a refresh token means the old one stays good.
        refresh_token: tokens.refresh_token.or(previous_refresh),
        expires_at: tokens.expires_at,
    }
}

trait LabelOrId {
    fn label_or_id(&self) -> String;
}

impl LabelOrId for calltrail_core::settings::IntegrationSettings {
    fn label_or_id(&self) -> String {
        if self.label.is_empty() {
            self.id.to_string()
        } else {
            self.label.clone()
        }
    }
}

async fn load_settings(db: &Db) -> Settings {
    match db.get(StoreName::Settings, SETTINGS_KEY).await {
        Ok(Some(r)) => serde_json::from_str::<Settings>(&r.value)
            .ok()
            .filter(|s| s.validate().is_ok())
            .unwrap_or_default(),
        _ => Settings::default(),
    }
}

async fn save_settings(db: &Db, settings: &Settings) -> Result<(), JsValue> {
    let record = Record::encode(SETTINGS_KEY, false, now().0, settings);
    db.apply(&Batch { writes: vec![Write::Put { store: StoreName::Settings, record }], durability: Durability::Strict })
        .await?;
    Ok(())
}

/// Sends one request with [`FETCH_TIMEOUT_MS`]; never fails, the outcome is a [`Reply`].
pub async fn fetch(request: &HttpRequest) -> Reply {
    match fetch_inner(request).await {
        Ok(r) => r,
        Err(e) => Reply::NetworkError { sent: is_online(), message: super::idb::describe(&e) },
    }
}

async fn fetch_inner(request: &HttpRequest) -> Result<Reply, JsValue> {
    let controller = web_sys::AbortController::new()?;
    let init = web_sys::RequestInit::new();
    init.set_method(request.method.as_str());
    let headers = web_sys::Headers::new()?;
    for (k, v) in &request.headers {
        headers.append(k, v)?;
    }
    init.set_headers(&headers);
    if let Some(body) = &request.body {
        init.set_body(&JsValue::from_str(body));
    }
    init.set_signal(Some(&controller.signal()));
    let req = web_sys::Request::new_with_str_and_init(&request.url, &init)?;
    let global = js_sys::global();
    let fetch_fn: Function = Reflect::get(&global, &"fetch".into())?.dyn_into()?;
    let aborter = controller.clone();
    let timer = gloo_timers::callback::Timeout::new(FETCH_TIMEOUT_MS as u32, move || aborter.abort());
    let result = JsFuture::from(fetch_fn.call1(&global, &req)?.dyn_into::<Promise>()?).await;
    let response: web_sys::Response = match result {
        Ok(r) => r.dyn_into()?,
        Err(e) => {
            drop(timer);
            if controller.signal().aborted() {
                return Ok(Reply::TimedOut);
            }
            return Err(e);
        }
    };
    let mut headers = Vec::new();
    let entries = js_sys::try_iter(&response.headers())?;
    if let Some(entries) = entries {
        for pair in entries {
            let pair: js_sys::Array = pair?.dyn_into()?;
            let (k, v) = (pair.get(0).as_string(), pair.get(1).as_string());
            if let (Some(k), Some(v)) = (k, v) {
                headers.push((k.to_ascii_lowercase(), v));
            }
        }
    }
    let status = response.status();
    let body = match JsFuture::from(response.text()?).await {
        Ok(t) => t.as_string().unwrap_or_default(),
        Err(_) if controller.signal().aborted() => return Ok(Reply::TimedOut),
        Err(e) => return Err(e),
    };
    drop(timer);
    Ok(Reply::Response(HttpResponse { status, headers, body }))
}

/// `navigator.onLine`: when it is false a failed fetch provably never left.
fn is_online() -> bool {
    let nav = Reflect::get(&js_sys::global(), &"navigator".into()).ok();
    nav.and_then(|n| Reflect::get(&n, &"onLine".into()).ok()).and_then(|v| v.as_bool()).unwrap_or(true)
}

fn now() -> Timestamp {
    Timestamp(js_sys::Date::now() as i64)
}

fn function(obj: &JsValue, name: &str) -> Result<Function, JsValue> {
    Reflect::get(obj, &name.into())?
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from_str(&format!("callbacks.{name} must be a function")))
}
