//! The service-worker host: runs the engine's effects in the browser.
//!
//! It owns the engine, the IndexedDB store and the credentials, and it is the only place where
//! time is read (`Date.now()`) and requests leave (`fetch`). It holds no business rule: every
//! decision is the engine's or a connector's; the host moves bytes and keeps the effect-order
//! contract of [`crate::engine`]:
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

use crate::crm::{self, Connection, CrmError, Exchange, HttpRequest, HttpResponse, Reply, Secret, Step};
use crate::engine::{CrmRequest, Effect, Engine, EngineOptions, Input, Notice, Problem};
use crate::model::{IntegrationId, Timestamp};
use crate::settings::Settings;
use crate::store::{Batch, Durability, Record, Snapshot, StoreName, Write};

use super::idb::Db;

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
    credentials: RefCell<BTreeMap<IntegrationId, Secret>>,
    callbacks: Callbacks,
    sync_waiters: RefCell<Vec<Function>>,
    diagnostics: RefCell<Diagnostics>,
    /// Dedupe keys of recent softphone facts and when they were seen.
    recent_softphone: RefCell<BTreeMap<String, Timestamp>>,
}

/// The host the service worker creates once per worker start.
#[wasm_bindgen]
pub struct Host {
    inner: Rc<Inner>,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredSecret {
    token: Secret,
}

#[wasm_bindgen]
impl Host {
    /// Opens the store, restores the engine from open work, and starts executing its effects.
    /// `callbacks` is `{ setAlarm(epochMs), notify(notice) }`.
    pub async fn start(db_name: String, callbacks: JsValue) -> Result<Host, JsValue> {
        let set_alarm = function(&callbacks, "setAlarm")?;
        let notify = function(&callbacks, "notify")?;
        let db = Db::open(&db_name).await?;
        let settings = load_settings(&db).await;
        let mut credentials = BTreeMap::new();
        for r in db.prefix(StoreName::Secrets, "").await? {
            if let Ok(s) = serde_json::from_value::<StoredSecret>(r.value) {
                credentials.insert(IntegrationId(r.key), s.token);
            }
        }
        let inner = Rc::new(Inner {
            db,
            engine: RefCell::new(Engine::new(EngineOptions::default())),
            queue: RefCell::new(VecDeque::new()),
            pumping: Cell::new(false),
            credentials: RefCell::new(credentials),
            callbacks: Callbacks { set_alarm, notify },
            sync_waiters: RefCell::new(Vec::new()),
            diagnostics: RefCell::new(Diagnostics::default()),
            recent_softphone: RefCell::new(BTreeMap::new()),
        });
        inner.clone().restore(settings).await?;
        Ok(Host { inner })
    }

    /// The shell's alarm fired.
    pub fn alarm(&self) {
        self.inner.clone().input(Input::AlarmFired);
    }

    /// An intent from an extension page or a content script, already routed by
    /// `extension/lib/messages.js`. Answers with a JSON-compatible value.
    pub async fn intent(&self, message: JsValue) -> Result<JsValue, JsValue> {
        let intent: Intent = serde_wasm_bindgen::from_value(message)
            .map_err(|e| JsValue::from_str(&format!("malformed intent: {e}")))?;
        let answer = self.inner.clone().on_intent(intent).await?;
        to_js(&answer)
    }

    /// Everything the diagnostics page shows: problems, counts, restores.
    pub fn diagnostics(&self) -> Result<JsValue, JsValue> {
        to_js(&*self.inner.diagnostics.borrow())
    }
}

/// What pages and content scripts may ask of the host. Pages hold no business rule; every
/// intent becomes an engine input or a read of the store.
#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum Intent {
    /// A message a content script saw in a softphone page: where it came from, whether it came
    /// from a child frame of the page (the softphone's iframe), and the untrusted data.
    SoftphoneEvent { origin: String, from_frame: bool, data: serde_json::Value },
    /// "Sync now": run the digest at once and answer when it is done, with what it logged.
    SyncNow,
    /// Replace the settings with a whole document (validated; applied whole or not at all).
    ImportSettings { json: String },
    ExportSettings,
    /// Store the API token or access token of an integration.
    SetCredentials { integration: String, token: String },
    /// The ledger as the history page shows it: the newest calls and their slots.
    History { limit: Option<u32> },
    /// The audit trail, newest first.
    Audit { limit: Option<u32> },
    /// Engine inputs a page may send as they are (notes, picks, log now, manual, resolve).
    Engine { input: PageInput },
}

/// The engine inputs pages send, in JSON form.
#[derive(Deserialize, Debug)]
#[serde(tag = "input", rename_all = "snake_case")]
enum PageInput {
    NotesOpened { call: String },
    NotesSaved { call: String, notes: String },
    NotesCancelled { call: String },
    LogNowRequested { call: String },
    ManualLogRequested { call: String, integrations: Vec<String> },
    UnresolvedResolved { resolutions: Vec<(String, crate::engine::Resolution)> },
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
                Effect::Crm(req) => spawn_local(self.clone().run_crm(req)),
                Effect::WakeAt(at) => {
                    self.callbacks.set_alarm.call1(&JsValue::NULL, &JsValue::from_f64(at.0 as f64)).ok();
                }
                Effect::Notify(notice) => self.notice(&notice),
                Effect::Problem(p) => self.problem(&p),
            }
        }
        self.pumping.set(false);
    }

    /// Runs one CRM operation as a connector conversation, then reports the result.
    async fn run_crm(self: Rc<Self>, req: CrmRequest) {
        let result = match self.connection(&req.integration) {
            Err(e) => Err(e),
            Ok(conn) => {
                let mut history: Vec<Exchange> = Vec::new();
                loop {
                    match crm::step(&conn, &req.op, &history) {
                        Step::Done(r) => break r,
                        Step::Send(_) if history.len() >= MAX_EXCHANGES => {
                            let message = format!("more than {MAX_EXCHANGES} requests for one operation");
                            break Err(if req.op.is_write() {
                                CrmError::Unknown { message }
                            } else {
                                CrmError::Transient { message }
                            });
                        }
                        Step::Send(request) => {
                            let reply = fetch(&request).await;
                            history.push(Exchange { request, reply });
                        }
                    }
                }
            }
        };
        self.input(Input::CrmDone { req: req.req, result });
    }

    fn connection(&self, integration: &IntegrationId) -> Result<Connection, CrmError> {
        let engine = self.engine.borrow();
        let settings = engine.settings();
        let Some(integ) = settings.integrations.iter().find(|i| &i.id == integration) else {
            return Err(CrmError::Permanent { message: format!("integration {integration} is not configured") });
        };
        let token = self.credentials.borrow().get(integration).cloned().unwrap_or_default();
        if token.is_empty() {
            return Err(CrmError::Unauthorized {
                message: format!("no credentials for {}: connect it in Settings", integ.label_or_id()),
            });
        }
        Ok(Connection {
            kind: integ.kind,
            base_url: integ.base_url.trim_end_matches('/').to_owned(),
            token,
            default_country: settings.default_country,
        })
    }

    async fn on_intent(self: Rc<Self>, intent: Intent) -> Result<Answer, JsValue> {
        Ok(match intent {
            Intent::SoftphoneEvent { origin, from_frame, data } => self.softphone(&origin, from_frame, &data),
            Intent::SyncNow => {
                let done = Promise::new(&mut |resolve: Function, _reject: Function| {
                    self.sync_waiters.borrow_mut().push(resolve);
                });
                self.clone().input(Input::DigestRequested);
                let result = JsFuture::from(done).await?;
                Answer::ok(serde_wasm_bindgen::from_value(result).ok())
            }
            Intent::ImportSettings { json } => match Settings::from_json(&json) {
                Err(e) => Answer::err(e.to_string()),
                Ok(settings) => {
                    save_settings(&self.db, &settings).await?;
                    let notices = self.clone().input(Input::SettingsChanged(settings));
                    Answer { notices, ..Answer::ok(None) }
                }
            },
            Intent::ExportSettings => {
                let s = self.engine.borrow().settings().clone();
                Answer::ok(serde_json::to_value(&s).ok())
            }
            Intent::SetCredentials { integration, token } => {
                let id = IntegrationId(integration);
                let record = Record {
                    key: id.0.clone(),
                    open: 0,
                    at: now().0,
                    value: serde_json::to_value(StoredSecret { token: Secret::new(token.clone()) })
                        .unwrap_or_default(),
                };
                let batch = Batch {
                    writes: vec![Write::Put { store: StoreName::Secrets, record }],
                    durability: Durability::Strict,
                };
                self.db.apply(&batch).await?;
                self.credentials.borrow_mut().insert(id.clone(), Secret::new(token));
                let notices = self.clone().input(Input::CredentialsChanged { integration: id });
                Answer { notices, ..Answer::ok(None) }
            }
            Intent::History { limit } => {
                let calls = self.db.newest(StoreName::Calls, limit.unwrap_or(100).min(1000)).await?;
                let mut rows = Vec::new();
                for c in calls {
                    let prefix = crate::engine::slot::call_slot_prefix(&crate::model::CallId(c.key.clone()));
                    let slots: Vec<serde_json::Value> =
                        self.db.prefix(StoreName::Slots, &prefix).await?.into_iter().map(|r| r.value).collect();
                    rows.push(serde_json::json!({ "call": c.value, "slots": slots }));
                }
                Answer::ok(Some(serde_json::Value::Array(rows)))
            }
            Intent::Audit { limit } => {
                let entries = self.db.newest(StoreName::Audit, limit.unwrap_or(500).min(10_000)).await?;
                Answer::ok(Some(entries.into_iter().map(|r| r.value).collect()))
            }
            Intent::Engine { input } => {
                let input = match input {
                    PageInput::NotesOpened { call } => Input::NotesOpened { call: call.into() },
                    PageInput::NotesSaved { call, notes } => Input::NotesSaved { call: call.into(), notes },
                    PageInput::NotesCancelled { call } => Input::NotesCancelled { call: call.into() },
                    PageInput::LogNowRequested { call } => Input::LogNowRequested { call: call.into() },
                    PageInput::ManualLogRequested { call, integrations } => {
                        let id = crate::model::CallId(call);
                        let stored = self.stored_call(&id).await?;
                        Input::ManualLogRequested {
                            call: id,
                            integrations: integrations.into_iter().map(IntegrationId).collect(),
                            stored,
                        }
                    }
                    PageInput::UnresolvedResolved { resolutions } => Input::UnresolvedResolved { resolutions },
                };
                let notices = self.clone().input(input);
                Answer { notices, ..Answer::ok(None) }
            }
        })
    }

    /// Decodes one softphone message and hands the engine what it means. Anything refused is
    /// counted by reason and never acted on.
    fn softphone(self: Rc<Self>, origin: &str, from_frame: bool, data: &serde_json::Value) -> Answer {
        let now = now();
        if !from_frame {
            return self.reject_softphone("not_from_softphone_frame", origin, "the message did not come from a child frame");
        }
        let decoded = {
            let engine = self.engine.borrow();
            let ctx = crate::softphone::DecodeContext::from_settings(engine.settings(), now);
            crate::softphone::decode(origin, data, &ctx)
        };
        let event = match decoded {
            Ok(e) => e,
            Err(e) => return self.reject_softphone(e.kind(), origin, &e.to_string()),
        };
        if let Some(key) = event.dedupe_key() {
            let mut recent = self.recent_softphone.borrow_mut();
            recent.retain(|_, at| now.since(*at) < SOFTPHONE_REPEAT_WINDOW_MS);
            if recent.insert(key, now).is_some() {
                self.diagnostics.borrow_mut().softphone.repeated += 1;
                return Answer::ok(Some(serde_json::json!({ "accepted": true, "repeat": true })));
            }
        }
        match crate::softphone::to_input(event) {
            None => {
                self.diagnostics.borrow_mut().softphone.ignored += 1;
                Answer::ok(Some(serde_json::json!({ "accepted": true, "ignored": true })))
            }
            Some(input) => {
                self.diagnostics.borrow_mut().softphone.accepted += 1;
                let notices = self.input(input);
                Answer { notices, ..Answer::ok(Some(serde_json::json!({ "accepted": true }))) }
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
    async fn stored_call(&self, call: &crate::model::CallId) -> Result<Snapshot, JsValue> {
        if self.engine.borrow().call(call).is_some() {
            return Ok(Snapshot::default());
        }
        let mut snap = Snapshot::default();
        if let Some(r) = self.db.get(StoreName::Calls, call.as_str()).await? {
            snap.stores.push((StoreName::Calls, vec![r]));
        }
        let prefix = crate::engine::slot::call_slot_prefix(call);
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

trait LabelOrId {
    fn label_or_id(&self) -> String;
}

impl LabelOrId for crate::settings::IntegrationSettings {
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
        Ok(Some(r)) => serde_json::from_value::<Settings>(r.value)
            .ok()
            .filter(|s| s.validate().is_ok())
            .unwrap_or_default(),
        _ => Settings::default(),
    }
}

async fn save_settings(db: &Db, settings: &Settings) -> Result<(), JsValue> {
    let value = serde_json::to_value(settings).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let record = Record { key: SETTINGS_KEY.into(), open: 0, at: now().0, value };
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

fn to_js<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| JsValue::from_str(&e.to_string()))
}
