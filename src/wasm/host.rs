//! The service-worker host: the browser's glue around the core's [`Driver`].
//!
//! It owns the IndexedDB store and the JS callbacks, and it is the only place where time is read
//! (`Date.now()`) and requests leave (`fetch`). Every decision is the driver's or the engine's:
//! the host runs effects in the order the driver hands them out, awaiting each `Persist` before
//! the next effect starts (so a create never leaves before its `Attempting` record is on disk),
//! runs CRM operations concurrently as conversations stepped through the driver, and answers a
//! sender once the driver says its input's effects have run.
//!
//! If a `Persist` fails, nothing after it runs: the host tells the driver, which drops what was
//! queued, and restores a fresh engine from what IndexedDB really holds, so memory can never run
//! ahead of disk.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use calltrail_core::crm::{CrmError, CrmOutput, HttpRequest, HttpResponse, Reply};
use calltrail_core::driver::{Answer, Conversation, Driver, Next, Parked, Refreshed, Ticket, SETTINGS_KEY};
use calltrail_core::engine::audit::{self, AuditEntry};
use calltrail_core::engine::{slot, CallEntry, CrmRequest, Effect, EngineOptions, Input, Notice, Slot};
use calltrail_core::intents::{AuditFilter, Intent, Sender};
use calltrail_core::model::{CallId, IntegrationId, Timestamp};
use calltrail_core::settings::Settings;
use calltrail_core::store::{Snapshot, StoreName};

use super::idb::Db;
use super::to_js;

/// How long one HTTP request may take before it counts as timed out. Chrome stops a service
/// worker whose fetch takes longer than 30 s; we give up first, so we record `Unknown` ourselves.
pub const FETCH_TIMEOUT_MS: i32 = 20_000;

/// Test builds only (feature `trap-for-tests`): an intent whose JSON text holds this panics;
/// so does every start while the stored settings hold [`TRAP_ON_START`].
#[cfg(feature = "trap-for-tests")]
const TRAP_FOR_TESTS: &str = "calltrail-trap-for-tests";
#[cfg(feature = "trap-for-tests")]
const TRAP_ON_START: &str = "calltrail-trap-on-start";

/// The JS functions the host calls for what only extension APIs can do.
struct Callbacks {
    /// `setAlarm(epochMs)`: keep one alarm at that time.
    set_alarm: Function,
    /// `notify(notice)`: tell open extension pages that something changed.
    notify: Function,
    /// `setBadge(text)`: the toolbar badge ("" hides it).
    set_badge: Function,
}

struct Inner {
    db: Db,
    driver: RefCell<Driver>,
    pumping: Cell<bool>,
    callbacks: Callbacks,
    /// Senders waiting for their input's effects to be executed: (ticket, resolve(bool)).
    barriers: RefCell<Vec<(Ticket, Function)>>,
    /// Conversations waiting for another conversation's token refresh to settle.
    refresh_waiters: RefCell<Vec<Function>>,
    sync_waiters: RefCell<Vec<Function>>,
    badge: RefCell<String>,
    /// This worker start in the boot log.
    boot: super::BootLog,
}

/// The host the service worker creates once per worker start.
#[wasm_bindgen]
pub struct Host {
    inner: Rc<Inner>,
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
        let ((settings, secrets), boot) = super::join(
            super::join(db.get(StoreName::Settings, SETTINGS_KEY), db.prefix(StoreName::Secrets, "")),
            super::record_boot(&db, instance, now()),
        )
        .await;
        #[cfg(feature = "trap-for-tests")]
        if settings.as_ref().is_ok_and(|s| s.as_ref().is_some_and(|r| r.value.contains(TRAP_ON_START))) {
            panic!("{TRAP_ON_START}: the stored settings ask this module to trap while it restores");
        }
        let user = Driver::stored_settings(settings.ok().flatten().as_ref());
        let policy = super::from_js(&policy).unwrap_or(serde_json::Value::Null);
        // A browser softphone reports one device's view: an unanswered call is decided once the
        // rep-level streams had a moment to say whether another device answered it.
        let options = EngineOptions { unanswered_settle_ms: calltrail_core::engine::shared::BROWSER_UNANSWERED_SETTLE_MS, ..EngineOptions::default() };
        let driver = Driver::new(user, policy, &secrets?, options, Box::new(super::zones::IntlZones::default()), now());
        let inner = Rc::new(Inner {
            db,
            driver: RefCell::new(driver),
            pumping: Cell::new(false),
            callbacks: Callbacks { set_alarm, notify, set_badge },
            barriers: RefCell::new(Vec::new()),
            refresh_waiters: RefCell::new(Vec::new()),
            sync_waiters: RefCell::new(Vec::new()),
            badge: RefCell::new(String::new()),
            boot: boot?,
        });
        inner.clone().restore().await?;
        Ok(Host { inner })
    }

    /// The boot log as this worker start left it (`ping` shows it).
    pub fn boot(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.boot)
    }

    /// The admin policy changed (`chrome.storage.managed.onChanged`).
    #[wasm_bindgen(js_name = setPolicy)]
    pub fn set_policy(&self, policy: JsValue) {
        let policy = super::from_js(&policy).unwrap_or(serde_json::Value::Null);
        self.inner.driver.borrow_mut().set_policy(policy, now());
        self.inner.clone().kick();
    }

    /// What the service worker must check with the browser: `{integrations: [{integration,
    /// patterns}], pages, side_panel}` (see `calltrail_core::driver::grants`).
    pub fn wanted(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.driver.borrow().wanted())
    }

    /// The browser says whether the worker may fetch an integration's API hosts.
    #[wasm_bindgen(js_name = setAccess)]
    pub fn set_access(&self, integration: String, granted: bool) {
        self.inner.driver.borrow_mut().set_access(IntegrationId::new(integration), granted, now());
        self.inner.clone().kick();
    }

    /// The softphone pages (match patterns) the browser lets the bridge and panel run on.
    #[wasm_bindgen(js_name = setPagesGranted)]
    pub fn set_pages_granted(&self, pages: Vec<String>) {
        self.inner.driver.borrow_mut().set_pages_granted(pages);
        self.inner.clone().kick();
    }

    /// The shell's alarm fired.
    pub fn alarm(&self) {
        self.inner.clone().input(Input::AlarmFired);
    }

    /// An intent from an extension page or a content script, already routed by
    /// `extension/lib/messages.js`; `sender` is `{kind: "extension_page"}` or
    /// `{kind: "content_script", tab}`. Answers with a JSON-compatible value. A message the
    /// module trapped on before ([`Host::poisoned`]) is answered `{ok: true, data: {parked:
    /// true}}` and never handled again.
    pub async fn intent(&self, message: JsValue, sender: JsValue) -> Result<JsValue, JsValue> {
        let text = super::json_text(&message);
        if text.as_deref().is_ok_and(|t| self.inner.driver.borrow().is_parked(t)) {
            return to_js(&Answer::with(&Parked { parked: true, traps: self.inner.driver.borrow().diagnostics().traps }));
        }
        #[cfg(feature = "trap-for-tests")]
        if text.as_deref().is_ok_and(|t| t.contains(TRAP_FOR_TESTS)) {
            // As a real one would: with the driver borrowed, so the instance is unusable after.
            let _held = self.inner.driver.borrow_mut();
            panic!("{TRAP_FOR_TESTS}: the test asked this module to trap");
        }
        let intent = text.and_then(|t| Intent::from_json(&t));
        let sender = super::from_js::<Sender>(&sender).map_err(|e| format!("unknown sender: {e}"));
        let answer = match (intent, sender) {
            (Err(e), _) => Answer::rejected(format!("malformed intent: {e}")),
            (_, Err(e)) => Answer::rejected(e),
            (Ok(intent), Ok(sender)) => {
                let allowed = self.inner.driver.borrow().allowed(&intent, sender, now());
                match allowed {
                    Err(e) => Answer::rejected(e),
                    Ok(()) => self.inner.clone().on_intent(intent, sender).await?,
                }
            }
        };
        to_js(&answer)
    }

    /// The module trapped while handling `message` (the shell saw the wasm call throw, started
    /// this fresh module and restored it): the trap is counted in the diagnostics and on the
    /// badge, and `message` is parked with `reason` so its re-sends never reach the engine.
    /// Resolves once that is written.
    pub async fn poisoned(&self, message: JsValue, reason: String) -> Result<JsValue, JsValue> {
        let text = super::json_text(&message).unwrap_or_else(|_| "null".into());
        let answer = self.inner.driver.borrow_mut().poisoned(&text, &reason, now());
        let answer = self.inner.clone().settled(answer).await;
        self.inner.update_badge();
        to_js(&answer)
    }

    /// Everything the diagnostics page shows: problems, counts, restores.
    pub fn diagnostics(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.driver.borrow().diagnostics())
    }
}

impl Inner {
    async fn restore(self: Rc<Self>) -> Result<(), JsValue> {
        let now = now();
        let query = self.driver.borrow().restore_query(now);
        let snapshot = self.db.restore(&query).await?;
        let boot_id = (js_sys::Math::random() * 4_294_967_295.0) as u64;
        self.driver.borrow_mut().restore(snapshot, boot_id, now);
        // What was queued was dropped: whoever waits for it must send again.
        self.release_barriers();
        self.wake_refresh_waiters();
        self.kick();
        Ok(())
    }

    /// Hands one input to the engine and runs its effects; returns the notices it emitted.
    fn input(self: Rc<Self>, input: Input) -> Vec<Notice> {
        let notices = self.driver.borrow_mut().handle(input, now());
        self.kick();
        notices
    }

    /// Starts the pump if it is not running.
    fn kick(self: Rc<Self>) {
        spawn_local(self.pump());
    }

    /// Executes queued effects in order. Only one pump runs at a time; inputs that arrive while
    /// it awaits a write add to the queue it is draining.
    async fn pump(self: Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let next = self.driver.borrow_mut().poll_effect();
            let Some(effect) = next else { break };
            match effect {
                Effect::Persist(batch) => {
                    if let Err(e) = self.db.apply(&batch).await {
                        self.driver.borrow_mut().persist_failed(&e.to_string(), now());
                        self.pumping.set(false);
                        self.update_badge();
                        if let Err(e) = self.clone().restore().await {
                            self.driver.borrow_mut().record_problem("restore_failed", &super::idb::describe(&e), now());
                        }
                        return;
                    }
                    self.driver.borrow_mut().persisted();
                }
                Effect::Crm(req) => spawn_local(self.clone().run_crm(*req)),
                Effect::WakeAt(at) => {
                    self.callbacks.set_alarm.call1(&JsValue::NULL, &JsValue::from_f64(at.0 as f64)).ok();
                }
                Effect::Notify(notice) => self.notice(&notice),
                Effect::Problem(p) => {
                    web_sys::console::warn_2(&JsValue::from_str(&format!("calltrail: {:?}", p.kind)), &JsValue::from_str(&p.detail));
                }
            }
            self.driver.borrow_mut().executed();
            self.release_barriers();
        }
        self.pumping.set(false);
        self.update_badge();
        self.forward();
    }

    /// Server mode: sends the outbox's next batch when one may go; the reply goes back to the
    /// driver, whose effects (deletes, or the retry's alarm) the pump then runs.
    fn forward(self: &Rc<Self>) {
        let Some(sent) = self.driver.borrow_mut().next_forward(now()) else { return };
        let this = self.clone();
        spawn_local(async move {
            let reply = fetch(&sent.request).await;
            this.driver.borrow_mut().forwarded(&sent, &reply, now());
            this.kick();
        });
    }

    /// Resolves the waiters whose effects have all been executed (true) or were dropped (false).
    fn release_barriers(&self) {
        let settled: Vec<(Function, bool)> = {
            let driver = self.driver.borrow();
            let mut barriers = self.barriers.borrow_mut();
            let (settled, waiting): (Vec<_>, Vec<_>) =
                barriers.drain(..).partition(|(t, _)| driver.is_done(*t) || driver.is_dropped(*t));
            *barriers = waiting;
            settled.into_iter().map(|(t, f)| (f, driver.is_done(t))).collect()
        };
        for (resolve, done) in settled {
            resolve.call1(&JsValue::NULL, &JsValue::from_bool(done)).ok();
        }
    }

    /// True once every effect queued so far has been executed (its Persist committed); false
    /// when they were dropped because a write failed and the engine was restored from disk.
    async fn committed(self: Rc<Self>) -> bool {
        let ticket = self.driver.borrow().ticket();
        self.clone().kick();
        {
            let driver = self.driver.borrow();
            if driver.is_done(ticket) || driver.is_dropped(ticket) {
                return driver.is_done(ticket);
            }
        }
        let p = Promise::new(&mut |resolve: Function, _| self.barriers.borrow_mut().push((ticket, resolve)));
        JsFuture::from(p).await.ok().and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// `answer`, once what produced it is on disk; an error if it could not be written.
    async fn settled(self: Rc<Self>, answer: Answer) -> Answer {
        if self.committed().await || !answer.ok {
            answer
        } else {
            Answer::err("the change could not be saved; try again")
        }
    }

    fn update_badge(&self) {
        let text = self.driver.borrow().badge(now());
        if *self.badge.borrow() != text {
            self.callbacks.set_badge.call1(&JsValue::NULL, &JsValue::from_str(&text)).ok();
            *self.badge.borrow_mut() = text;
        }
    }

    /// Runs one CRM operation for the engine, then reports the result.
    async fn run_crm(self: Rc<Self>, req: CrmRequest) {
        let conv = self.driver.borrow().conversation(req.integration.clone(), req.op);
        let result = self.clone().converse(conv).await;
        self.input(Input::CrmDone { req: req.req, result });
    }

    /// Steps a conversation through the driver until it is done.
    async fn converse(self: Rc<Self>, mut conv: Conversation) -> Result<CrmOutput, CrmError> {
        loop {
            let next = self.driver.borrow_mut().step(&mut conv, now());
            match next {
                Next::Done(result) => return result,
                Next::Fetch(request) => conv.replied(fetch(&request).await),
                Next::Refresh(request) => {
                    let reply = fetch(&request).await;
                    let outcome = self.driver.borrow_mut().refreshed(&mut conv, reply, now());
                    if let Refreshed::Saving(_) = outcome {
                        self.clone().committed().await;
                    }
                    self.wake_refresh_waiters();
                }
                Next::Wait => {
                    let p = Promise::new(&mut |resolve: Function, _| self.refresh_waiters.borrow_mut().push(resolve));
                    JsFuture::from(p).await.ok();
                }
            }
        }
    }

    fn wake_refresh_waiters(&self) {
        let waiters = std::mem::take(&mut *self.refresh_waiters.borrow_mut());
        for resolve in waiters {
            resolve.call0(&JsValue::NULL).ok();
        }
    }

    async fn on_intent(self: Rc<Self>, intent: Intent, sender: Sender) -> Result<Answer, JsValue> {
        let now = now();
        Ok(match intent {
            Intent::SoftphoneEvent { origin, from_frame, data } => {
                // The bridge re-sends until it gets an answer, so answer only once what the
                // event changed is on disk: a worker stopped before that never answers, and the
                // repeat is merged by the engine (I5, I8).
                // A frame of the extension's own page (the side panel) is hosted by Calltrail.
                let hosted = sender == Sender::ExtensionPage;
                let tab = match sender {
                    Sender::ContentScript { tab } => tab,
                    Sender::ExtensionPage => None,
                };
                let relayed = self.driver.borrow_mut().softphone(&origin, from_frame, hosted, &data, tab, now);
                let answer = relayed.answer;
                if answer.ok && !self.clone().committed().await {
                    if let Some(k) = relayed.key {
                        self.driver.borrow_mut().softphone_unsaved(&k);
                    }
                    Answer::unsaved()
                } else if let Some(id) = relayed.contacts {
                    self.clone().contacts_answer(id).await
                } else {
                    answer
                }
            }
            Intent::State => self.driver.borrow().state_view(),
            Intent::Call { call } => {
                let live = self.driver.borrow().engine().call(&call).cloned();
                let entry = match live {
                    Some(e) => Some(e),
                    None => self.db.get(StoreName::Calls, call.as_str()).await?.and_then(|r| CallEntry::from_record(&r)),
                };
                match entry {
                    None => Answer::err(format!("no call {call}")),
                    Some(entry) => {
                        let slots = self.slots_of(&entry.call.id).await?;
                        let view = self.driver.borrow().call_view(&entry, &slots, now);
                        Answer::with(&view)
                    }
                }
            }
            Intent::History { limit, unlogged_only, query } => {
                let (read, limit) = Driver::history_read(limit, unlogged_only, &query);
                let mut rows = Vec::new();
                for r in self.db.newest(StoreName::Calls, read as u32).await? {
                    let Some(entry) = CallEntry::from_record(&r) else { continue };
                    let slots = self.slots_of(&entry.call.id).await?;
                    let view = self.driver.borrow().call_view(&entry, &slots, now);
                    if (!unlogged_only || view.is_unlogged()) && view.matches_query(&query) {
                        rows.push(view);
                        if rows.len() >= limit {
                            break;
                        }
                    }
                }
                Answer::with(&rows)
            }
            Intent::Unresolved => self.driver.borrow().unresolved_view(),
            Intent::Audit { limit, filter } => Answer::with(&self.audit(limit, &filter).await?),
            Intent::AuditCsv { limit, filter } => {
                let oldest = self.db.oldest(StoreName::Audit).await?.map(|r| Timestamp(r.at));
                let covers = audit::covers(oldest, self.driver.borrow().settings().retention_days);
                Answer::with(&audit::csv(&covers, &self.audit(limit, &filter).await?))
            }
            Intent::SyncNow => {
                let done = Promise::new(&mut |resolve: Function, _reject: Function| {
                    self.sync_waiters.borrow_mut().push(resolve);
                });
                self.clone().input(Input::DigestRequested);
                let result = JsFuture::from(done).await?;
                Answer { data: super::json_text(&result).ok().and_then(|t| serde_json::value::RawValue::from_string(t).ok()), ..Answer::done() }
            }
            Intent::Settings => self.driver.borrow().settings_view(),
            Intent::ImportSettings { json } => match Settings::from_json(&json) {
                Err(e) => Answer::refused(&e),
                Ok(user) => self.replace_settings(user).await,
            },
            Intent::SaveSettings { settings } => match Settings::from_json(&settings.to_string()) {
                Err(e) => Answer::refused(&e),
                Ok(user) => self.replace_settings(user).await,
            },
            Intent::ExportSettings => Answer::with(&self.driver.borrow().exported_settings()),
            Intent::ServerHistory | Intent::ServerUnresolved | Intent::ServerCall { .. } => {
                let path = match &intent {
                    Intent::ServerCall { call } => format!("calls/{}", calltrail_core::crm::common::encode_component(call.as_str())),
                    Intent::ServerHistory => "history".into(),
                    _ => "unresolved".into(),
                };
                let request = self.driver.borrow().server_request(&path);
                match request {
                    None => Answer::err("no Calltrail server is set up"),
                    Some(r) => match fetch(&r).await {
                        Reply::Response(resp) if resp.status == 200 => match serde_json::from_str::<serde_json::Value>(&resp.body) {
                            Ok(mut v) => Answer::with(&v["data"].take()),
                            Err(e) => Answer::err(format!("the server's answer could not be read: {e}")),
                        },
                        Reply::Response(resp) => Answer::err(format!("the server answered {}", resp.status)),
                        _ => Answer::err("the Calltrail server cannot be reached"),
                    },
                }
            }
            Intent::SetCredentials { integration, token, client_secret } => {
                let id = IntegrationId::new(integration);
                let answer = match client_secret {
                    Some(secret) => self.driver.borrow_mut().set_client_secret(&id, &secret, now),
                    None => self.driver.borrow_mut().set_token(id, &token, now),
                };
                self.settled(answer).await
            }
            Intent::ClearCredentials { integration } => {
                let (answer, revoke) = self.driver.borrow_mut().clear_credentials(&IntegrationId::new(integration));
                let answer = self.clone().settled(answer).await;
                if let (true, Some(request)) = (answer.ok, revoke) {
                    // Forgotten first; the revoke is a courtesy to the vendor, and its failure
                    // is only worth a line in the diagnostics.
                    if let Reply::Response(r) = fetch(&request).await {
                        if !(200..300).contains(&r.status) {
                            self.driver.borrow_mut().record_problem("revoke_failed", &format!("the vendor answered {}", r.status), self::now());
                        }
                    }
                }
                answer
            }
            Intent::TestConnection { integration, number } => {
                let conv = self.driver.borrow().test_connection(IntegrationId::new(integration), number.as_deref());
                match conv {
                    Err(answer) => answer,
                    Ok(conv) => {
                        let id = conv.integration.clone();
                        let result = self.clone().converse(conv).await;
                        let answer = self.driver.borrow_mut().test_connection_answer(&id, result, self::now());
                        self.settled(answer).await
                    }
                }
            }
            Intent::OauthStart { integration, state, challenge, redirect_uri } => {
                self.driver.borrow().oauth_start(&IntegrationId::new(integration), &state, &challenge, &redirect_uri)
            }
            Intent::OauthFinish { integration, redirect_url, state, verifier, redirect_uri } => {
                let id = IntegrationId::new(integration);
                let request = self.driver.borrow().oauth_code_request(&id, &redirect_url, &state, &verifier, &redirect_uri);
                match request {
                    Err(answer) => answer,
                    Ok((client, request)) => {
                        let reply = fetch(&request).await;
                        let answer = self.driver.borrow_mut().oauth_finished(id, &client, &reply, self::now());
                        self.settled(answer).await
                    }
                }
            }
            Intent::Engine { input } => {
                let needed = self.driver.borrow().stored_call_needed(&input).cloned();
                let stored = match needed {
                    Some(call) => self.stored_call(&call).await?,
                    None => Snapshot::default(),
                };
                let answer = self.driver.borrow_mut().page_input(input, stored, self::now());
                self.kick();
                answer
            }
        })
    }

    /// Answers a softphone's contact request once the driver can: when the call pop it waits
    /// for has come back (or its wait is over). The bridge relays one message at a time, so
    /// later softphone messages wait too: at most the driver's wait.
    async fn contacts_answer(self: Rc<Self>, id: u64) -> Answer {
        loop {
            if let Some(answer) = self.driver.borrow_mut().contacts_answer(id, now()) {
                return answer;
            }
            gloo_timers::future::TimeoutFuture::new(50).await;
        }
    }

    async fn replace_settings(self: Rc<Self>, user: Settings) -> Answer {
        let answer = self.driver.borrow_mut().replace_settings(user, now());
        self.settled(answer).await
    }

    async fn slots_of(&self, call: &CallId) -> Result<Vec<Slot>, JsValue> {
        let stored = self.db.prefix(StoreName::Slots, &slot::call_slot_prefix(call)).await?;
        let slots = stored.iter().filter_map(Slot::from_record).collect();
        Ok(self.driver.borrow().live_slots(slots))
    }

    async fn audit(&self, limit: Option<u32>, filter: &AuditFilter) -> Result<Vec<AuditEntry>, JsValue> {
        let limit = limit.unwrap_or(500).clamp(1, 50_000);
        Ok(self
            .db
            .newest(StoreName::Audit, limit.saturating_mul(4).min(200_000))
            .await?
            .iter()
            .filter_map(|r| r.decode::<AuditEntry>())
            .filter(|e| filter.keeps(e))
            .take(limit as usize)
            .collect())
    }

    /// A call's records as stored, for manual logging of calls older than what a restore reads.
    async fn stored_call(&self, call: &CallId) -> Result<Snapshot, JsValue> {
        let mut snap = Snapshot::default();
        if let Some(r) = self.db.get(StoreName::Calls, call.as_str()).await? {
            snap.stores.push((StoreName::Calls, vec![r]));
        }
        let slots = self.db.prefix(StoreName::Slots, &slot::call_slot_prefix(call)).await?;
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
