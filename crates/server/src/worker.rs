//! The engine side of an instance: one thread, one single-threaded runtime, and one task per
//! rep whose lease this instance holds, each driving that rep's [`Driver`] exactly as the
//! browser's host does (`src/wasm/host.rs`): effects in the order polled, a `Persist`
//! committed (fenced by the lease) before the next effect starts, CRM operations as
//! conversations stepped through the driver and run concurrently, `WakeAt` as a timer.
//!
//! The core is single-threaded by design (`Rc` ids), hence the thread of its own; the HTTP
//! side (webhooks, admin API) runs on the main runtime and talks to this one only through
//! PostgreSQL (the inbox) and `NOTIFY`.
//!
//! A rep's work arrives as inbox rows. RingCentral notifications and call-log records are
//! facts about a call; [`ringcentral::settle`] (the core's rule) says when a call is the rep's
//! to log and with which data; the engine then hears `CallEnded`. A row is marked done once
//! the effects its input caused are on disk; until then a restart reads it again, which is
//! harmless because the engine merges repeats (I8).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use calltrail_core::crm::{CrmError, CrmOutput, HttpRequest, HttpResponse, Method, Reply};
use calltrail_core::driver::outbox;
use calltrail_core::driver::{Conversation, Driver, Next, Refreshed, Ticket, SETTINGS_KEY};
use calltrail_core::engine::{CrmRequest, Effect, EngineOptions, Input, Resolution, SlotKey};
use calltrail_core::model::Timestamp;
use calltrail_core::phone::Country;
use calltrail_core::store::{Snapshot, StoreName};
use calltrail_core::telephony::ringcentral::{self, Fact, Leg};
use calltrail_core::telephony::generic;
use serde::Deserialize;
use sqlx::{PgPool, Row};
use tokio::sync::Notify;
use tokio::task::spawn_local;

use crate::lease::{self, Held};
use crate::metrics::Metrics;
use crate::store::{PgStore, RepRef, StoreError};

/// How long one CRM request may take before its outcome is unknown.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an idle connection to a CRM is kept for reuse: under the 5 s keep-alive of Node's
/// and Apache's defaults, so a request never goes out on a connection the server is closing
/// (it then fails with no answer; the full chaos run met it under load).
pub const POOL_IDLE: Duration = Duration::from_secs(4);

/// What the engine thread needs.
#[derive(Clone)]
pub struct EngineConfig {
    pub database_url: String,
    pub instance: String,
    pub sealer: crate::seal::Sealer,
    pub lease_ttl: Duration,
    pub tick: Duration,
    pub pool_size: u32,
    pub metrics: Arc<Metrics>,
}

struct Ctx {
    store: PgStore,
    pool: PgPool,
    http: reqwest::Client,
    cfg: EngineConfig,
}

/// Starts the engine thread; it runs until the process ends.
pub fn spawn(cfg: EngineConfig) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("engine runtime: {e}");
                    std::process::exit(1);
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                if let Err(e) = run(cfg).await {
                    tracing::error!("engine thread stopped: {e}");
                    std::process::exit(1);
                }
            });
        })
        .unwrap_or_else(|e| {
            tracing::error!("cannot start the engine thread: {e}");
            std::process::exit(1)
        })
}

type Workers = Rc<RefCell<HashMap<(String, String), Rc<Worker>>>>;

async fn run(cfg: EngineConfig) -> Result<(), Box<dyn std::error::Error>> {
    let pool = crate::db::connect(&cfg.database_url, cfg.pool_size).await?;
    let http = reqwest::Client::builder().timeout(FETCH_TIMEOUT).pool_max_idle_per_host(64).pool_idle_timeout(POOL_IDLE).build()?;
    let ctx = Rc::new(Ctx { store: PgStore { pool: pool.clone(), sealer: cfg.sealer.clone(), instance: cfg.instance.clone() }, pool, http, cfg });
    let workers: Workers = Rc::new(RefCell::new(HashMap::new()));
    spawn_local(listen(ctx.clone(), workers.clone()));
    let ttl = ctx.cfg.lease_ttl;
    loop {
        if let Err(e) = lease_round(&ctx, &workers).await {
            tracing::warn!("lease round failed: {e}");
        }
        tokio::time::sleep(ctx.cfg.tick.min(ttl / 3)).await;
    }
}

/// One round of lease keeping: heartbeat, renew, drop what was lost, claim up to the fair share.
async fn lease_round(ctx: &Rc<Ctx>, workers: &Workers) -> Result<(), sqlx::Error> {
    let (pool, me, ttl) = (&ctx.pool, ctx.cfg.instance.as_str(), ctx.cfg.lease_ttl);
    let live = lease::heartbeat(pool, me, ttl).await?;
    let held: Vec<Held> = workers.borrow().values().filter(|w| !w.stopped.get()).map(|w| w.held()).collect();
    let kept: BTreeSet<Held> = lease::renew(pool, me, &held, ttl).await?.into_iter().collect();
    let lost: Vec<(String, String)> = workers.borrow().iter().filter(|(_, w)| w.stopped.get() || !kept.contains(&w.held())).map(|(k, _)| k.clone()).collect();
    for k in lost {
        if let Some(w) = workers.borrow_mut().remove(&k) {
            if !w.stopped.get() {
                tracing::warn!(account = %k.0, rep = %k.1, "lease lost; engine stopped");
            }
            w.stop();
        }
    }
    let fair = lease::fair_share(pool, live).await?;
    let have = workers.borrow().len() as i64;
    if have < fair {
        for h in lease::claim(pool, me, fair - have, ttl).await? {
            tracing::info!(account = %h.account, rep = %h.rep, gen = h.gen, "lease claimed");
            match Worker::start(ctx.clone(), h.clone()).await {
                Ok(w) => {
                    workers.borrow_mut().insert((h.account.clone(), h.rep.clone()), w);
                }
                Err(e) => {
                    tracing::warn!(account = %h.account, rep = %h.rep, "engine could not start: {e}");
                    let _ = lease::release(pool, me, &h).await;
                }
            }
        }
    } else if have > fair + 1 {
        // Another instance joined: give back one rep with nothing in flight.
        let idle = workers.borrow().iter().find(|(_, w)| w.is_idle()).map(|(k, w)| (k.clone(), w.held()));
        if let Some((k, h)) = idle {
            if let Some(w) = workers.borrow_mut().remove(&k) {
                w.stop();
            }
            lease::release(pool, me, &h).await?;
            tracing::info!(account = %h.account, rep = %h.rep, "lease released to rebalance");
        }
    }
    ctx.cfg.metrics.set_held(workers.borrow().len());
    Ok(())
}

/// Wakes the worker of a rep when a webhook stored an event for it.
async fn listen(ctx: Rc<Ctx>, workers: Workers) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&ctx.pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("listen: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(crate::inbox::CHANNEL).await {
            tracing::warn!("listen: {e}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        // After a reconnect, notifications may have been missed: wake everyone once.
        for w in workers.borrow().values() {
            w.wake.notify_one();
        }
        loop {
            match listener.recv().await {
                Ok(n) => {
                    if let Some((account, rep)) = n.payload().split_once('/') {
                        if let Some(w) = workers.borrow().get(&(account.to_owned(), rep.to_owned())) {
                            w.wake.notify_one();
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("listen: {e}");
                    break;
                }
            }
        }
    }
}

/// The facts gathered about one call of the rep, and the inbox rows they came from.
#[derive(Default)]
struct Session {
    rows: Vec<i64>,
    facts: Vec<Fact>,
    recheck: Option<Timestamp>,
}

/// An admin event for a rep's engine: `{"kind": "reload" | "resolve" | "sync", ...}`.
///
/// A plain struct, not an internally tagged enum: serde reads those through its private
/// `Content` buffer, which the core's tag-first readers (`calltrail_core::tagged`, used by
/// [`Resolution`]) cannot be read from.
#[derive(Deserialize)]
struct AdminEvent {
    kind: AdminKind,
    /// For `resolve`: the unresolved queue's choices.
    #[serde(default)]
    resolutions: Vec<(SlotKey, Resolution)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AdminKind {
    /// Settings or credentials changed: restart the engine from what is stored.
    Reload,
    Resolve,
    Sync,
}

/// One rep's engine on this instance.
struct Worker {
    ctx: Rc<Ctx>,
    who: RepRef,
    gen: i64,
    user: String,
    country: Country,
    driver: RefCell<Driver>,
    stopped: Cell<bool>,
    wake: Notify,
    /// Signalled after every executed effect (conversations waiting for a write).
    progress: Notify,
    pumping: Cell<bool>,
    inflight: Cell<usize>,
    known: RefCell<BTreeSet<i64>>,
    sessions: RefCell<BTreeMap<String, Session>>,
    /// Inbox rows to mark done once the ticket's effects have run.
    finishing: RefCell<Vec<(Ticket, Vec<i64>)>>,
    alarm: Cell<Option<Timestamp>>,
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    Timestamp(ms)
}

fn boot_id() -> u64 {
    let mut b = [0u8; 4];
    // Only the uniqueness of attempt ids across boots depends on it; a failed read leaves the
    // time's low bits, which differ between boots too.
    if getrandom::getrandom(&mut b).is_err() {
        return (now().0 as u64) & 0xffff_ffff;
    }
    u64::from(u32::from_le_bytes(b))
}

impl Worker {
    async fn start(ctx: Rc<Ctx>, h: Held) -> Result<Rc<Worker>, StoreError> {
        let who = RepRef { account: h.account.clone(), rep: h.rep.clone() };
        let row = sqlx::query("SELECT r.telephony_user, a.default_country FROM reps r JOIN accounts a ON a.id = r.account_id WHERE r.account_id = $1 AND r.rep_id = $2")
            .bind(&who.account)
            .bind(&who.rep)
            .fetch_one(&ctx.pool)
            .await?;
        let user: String = row.try_get(0)?;
        let country = Country::parse(&row.try_get::<String, _>(1)?).unwrap_or(Country::US);
        let driver = Self::fresh_driver(&ctx, &who).await?;
        let w = Rc::new(Worker {
            ctx,
            who,
            gen: h.gen,
            user,
            country,
            driver: RefCell::new(driver),
            stopped: Cell::new(false),
            wake: Notify::new(),
            progress: Notify::new(),
            pumping: Cell::new(false),
            inflight: Cell::new(0),
            known: RefCell::new(BTreeSet::new()),
            sessions: RefCell::new(BTreeMap::new()),
            finishing: RefCell::new(Vec::new()),
            alarm: Cell::new(None),
        });
        w.clone().restore().await?;
        spawn_local(w.clone().main());
        Ok(w)
    }

    async fn fresh_driver(ctx: &Ctx, who: &RepRef) -> Result<Driver, StoreError> {
        let settings = ctx.store.get(who, StoreName::Settings, SETTINGS_KEY).await?;
        let secrets = ctx.store.prefix(who, StoreName::Secrets, "").await?;
        let user = Driver::stored_settings(settings.as_ref());
        Ok(Driver::new(user, serde_json::Value::Null, &secrets, EngineOptions::default(), Box::new(calltrail_core::zone::Tzdb::default()), now()))
    }

    fn held(&self) -> Held {
        Held { account: self.who.account.clone(), rep: self.who.rep.clone(), gen: self.gen }
    }

    fn is_idle(&self) -> bool {
        self.inflight.get() == 0 && !self.pumping.get() && self.sessions.borrow().is_empty()
    }

    fn stop(&self) {
        self.stopped.set(true);
        self.wake.notify_one();
        self.progress.notify_waiters();
    }

    /// A fresh engine from what PostgreSQL holds; everything in memory is read again.
    async fn restore(self: Rc<Self>) -> Result<(), StoreError> {
        let t = now();
        let query = self.driver.borrow().restore_query(t);
        let snapshot = self.ctx.store.restore(&self.who, &query).await?;
        self.driver.borrow_mut().restore(snapshot, boot_id(), t);
        self.known.borrow_mut().clear();
        self.sessions.borrow_mut().clear();
        self.finishing.borrow_mut().clear();
        self.progress.notify_waiters();
        Ok(())
    }

    async fn main(self: Rc<Self>) {
        while !self.stopped.get() {
            if let Err(e) = self.clone().ingest().await {
                tracing::warn!(account = %self.who.account, rep = %self.who.rep, "inbox: {e}");
            }
            let t = now();
            // A conference leg waiting for its outside party: it may have come since.
            let due: Vec<String> = self.sessions.borrow().iter().filter(|(_, s)| s.recheck.is_some_and(|r| r <= t)).map(|(k, _)| k.clone()).collect();
            for key in due {
                if let Err(e) = self.load_outside_party(&key).await {
                    tracing::warn!(account = %self.who.account, rep = %self.who.rep, "inbox: {e}");
                }
            }
            self.recheck(t);
            if self.alarm.get().is_some_and(|a| a <= t) {
                self.alarm.set(None);
                self.driver.borrow_mut().handle(Input::AlarmFired, t);
            }
            self.clone().kick();
            let next = [self.alarm.get(), self.sessions.borrow().values().filter_map(|s| s.recheck).min()].into_iter().flatten().min();
            // A missed NOTIFY costs at most a second.
            let wait = next.map_or(1000, |n| n.since(now()).clamp(0, 1000));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            }
        }
    }

    /// Reads the rep's inbox rows not yet seen and hands what they say to the engine.
    async fn ingest(self: Rc<Self>) -> Result<(), StoreError> {
        let rows = sqlx::query("SELECT id, source, session, body FROM inbox WHERE account_id = $1 AND rep_id = $2 AND NOT done ORDER BY id LIMIT 2000")
            .bind(&self.who.account)
            .bind(&self.who.rep)
            .fetch_all(&self.ctx.pool)
            .await?;
        let mut touched = BTreeSet::new();
        let mut finished_now = Vec::new();
        let t = now();
        for row in rows {
            let id: i64 = row.try_get(0)?;
            if !self.known.borrow_mut().insert(id) {
                continue;
            }
            let source: String = row.try_get(1)?;
            let session: Option<String> = row.try_get(2)?;
            let body: String = row.try_get(3)?;
            let value: serde_json::Value = match serde_json::from_str(&body) {
                Ok(v) => v,
                Err(_) => {
                    finished_now.push(id);
                    continue;
                }
            };
            match source.as_str() {
                "rc" | "rc-log" => {
                    let facts: Vec<Fact> = if source == "rc" {
                        match ringcentral::notification(&value) {
                            Ok(n) => n.parties.into_iter().filter(|p| p.extension.as_deref() == Some(self.user.as_str())).map(Fact::Party).collect(),
                            Err(_) => Vec::new(),
                        }
                    } else {
                        ringcentral::log_record(&value).map(Fact::Log).into_iter().collect()
                    };
                    if facts.is_empty() {
                        finished_now.push(id);
                        continue;
                    }
                    let key = session.unwrap_or_else(|| facts[0].session().to_owned());
                    let mut sessions = self.sessions.borrow_mut();
                    let s = sessions.entry(key.clone()).or_default();
                    s.rows.push(id);
                    s.facts.extend(facts);
                    touched.insert(key);
                }
                "generic" => match generic::decode(&value, self.country, t) {
                    Ok(posted) => match calltrail_core::softphone::to_input(posted.event) {
                        Some(input) => {
                            self.driver.borrow_mut().handle(input, t);
                            let ticket = self.driver.borrow().ticket();
                            self.finishing.borrow_mut().push((ticket, vec![id]));
                            self.ctx.cfg.metrics.call_fed();
                        }
                        None => finished_now.push(id),
                    },
                    Err(e) => {
                        tracing::debug!("generic event refused: {e}");
                        finished_now.push(id);
                    }
                },
                // Server mode: what the rep's extension forwarded (its softphone's events and the
                // rep's intents), in the order it sent them. The same call's webhook facts
                // merge with it in the engine (one call id: `rc:<telephony session>`).
                "ext" => match serde_json::from_value::<outbox::Forwarded>(value).ok().and_then(outbox::Forwarded::into_input) {
                    Some(mut input) => {
                        // A manual log of a call older than what a restore reads: its records
                        // first, as the extension's shell reads them.
                        if let Input::ManualLogRequested { call, stored, .. } = &mut input {
                            if self.driver.borrow().engine().call(call).is_none() {
                                *stored = self.stored_call(call).await?;
                            }
                        }
                        self.driver.borrow_mut().handle(input, t);
                        let ticket = self.driver.borrow().ticket();
                        self.finishing.borrow_mut().push((ticket, vec![id]));
                    }
                    None => finished_now.push(id),
                },
                "admin" => {
                    match serde_json::from_value::<AdminEvent>(value) {
                        Ok(AdminEvent { kind: AdminKind::Reload, .. }) => {
                            self.mark_done(&[id]).await?;
                            let fresh = Self::fresh_driver(&self.ctx, &self.who).await?;
                            *self.driver.borrow_mut() = fresh;
                            self.clone().restore().await?;
                            return Ok(());
                        }
                        Ok(AdminEvent { kind: AdminKind::Resolve, resolutions }) => {
                            self.driver.borrow_mut().handle(Input::UnresolvedResolved { resolutions }, t);
                            let ticket = self.driver.borrow().ticket();
                            self.finishing.borrow_mut().push((ticket, vec![id]));
                        }
                        Ok(AdminEvent { kind: AdminKind::Sync, .. }) => {
                            self.driver.borrow_mut().handle(Input::DigestRequested, t);
                            let ticket = self.driver.borrow().ticket();
                            self.finishing.borrow_mut().push((ticket, vec![id]));
                        }
                        Err(_) => finished_now.push(id),
                    }
                }
                _ => finished_now.push(id),
            }
        }
        for key in touched {
            self.load_outside_party(&key).await?;
            self.settle(&key, t);
        }
        if !finished_now.is_empty() {
            self.mark_done(&finished_now).await?;
        }
        Ok(())
    }

    /// The records of `call` a manual log needs (`calls/<id>`, `slots/call|<id>|*`).
    async fn stored_call(&self, call: &calltrail_core::model::CallId) -> Result<Snapshot, StoreError> {
        let calls = self.ctx.store.get(&self.who, StoreName::Calls, call.as_str()).await?.into_iter().collect();
        let slots = self.ctx.store.prefix(&self.who, StoreName::Slots, &calltrail_core::engine::slot::call_slot_prefix(call)).await?;
        Ok(Snapshot { stores: vec![(StoreName::Calls, calls), (StoreName::Slots, slots)] })
    }

    /// Applies the core's rule to one call's facts.
    fn settle(&self, key: &str, t: Timestamp) {
        let leg = {
            let sessions = self.sessions.borrow();
            let Some(s) = sessions.get(key) else { return };
            ringcentral::settle(&s.facts, &self.user, self.country, t)
        };
        match leg {
            Leg::Pending { recheck_at } => {
                if let Some(s) = self.sessions.borrow_mut().get_mut(key) {
                    s.recheck = recheck_at;
                }
            }
            Leg::NotTheirs { reason } => {
                tracing::debug!(account = %self.who.account, rep = %self.who.rep, session = key, "not logged: {reason}");
                if let Some(s) = self.sessions.borrow_mut().remove(key) {
                    let ticket = self.driver.borrow().ticket();
                    self.finishing.borrow_mut().push((ticket, s.rows));
                }
            }
            Leg::Ended(call) => {
                let rows = self.sessions.borrow_mut().remove(key).map(|s| s.rows).unwrap_or_default();
                self.ctx.cfg.metrics.call_fed();
                self.driver.borrow_mut().handle(Input::CallEnded(call), t);
                let ticket = self.driver.borrow().ticket();
                self.finishing.borrow_mut().push((ticket, rows));
            }
        }
    }

    fn recheck(&self, t: Timestamp) {
        let due: Vec<String> = self.sessions.borrow().iter().filter(|(_, s)| s.recheck.is_some_and(|r| r <= t)).map(|(k, _)| k.clone()).collect();
        for key in due {
            self.settle(&key, t);
        }
    }

    /// Adds the outside party's notifications of session `key` to its facts when the rule needs
    /// them ([`ringcentral::needs_outside_party`]: a conference leg is logged against the
    /// conference's outside party). They are in the inbox as nobody's rows.
    async fn load_outside_party(&self, key: &str) -> Result<(), StoreError> {
        let needed = self.sessions.borrow().get(key).is_some_and(|s| ringcentral::needs_outside_party(&s.facts));
        if !needed {
            return Ok(());
        }
        let rows = sqlx::query("SELECT body FROM inbox WHERE account_id = $1 AND rep_id IS NULL AND session = $2 AND source = 'rc' ORDER BY id LIMIT 200")
            .bind(&self.who.account)
            .bind(key)
            .fetch_all(&self.ctx.pool)
            .await?;
        let mut outside = Vec::new();
        for row in rows {
            let body: String = row.try_get(0)?;
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else { continue };
            if let Ok(n) = ringcentral::notification(&value) {
                outside.extend(n.parties.into_iter().filter(|p| p.extension.is_none()).map(Fact::Party));
            }
        }
        if let Some(s) = self.sessions.borrow_mut().get_mut(key) {
            s.facts.extend(outside);
        }
        Ok(())
    }

    /// Marks inbox rows done. Without waiting for the WAL flush: a mark lost in a crash only
    /// makes the next engine read the row again, which the engine merges (I8), so no fsync is
    /// spent on it.
    async fn mark_done(&self, ids: &[i64]) -> Result<(), StoreError> {
        sqlx::query("WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)) UPDATE inbox SET done = true FROM relaxed WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.ctx.pool)
            .await?;
        Ok(())
    }

    /// Starts the pump unless it runs.
    fn kick(self: Rc<Self>) {
        if !self.pumping.get() {
            spawn_local(self.pump());
        }
    }

    /// Executes queued effects in order; one pump at a time.
    async fn pump(self: Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            if self.stopped.get() {
                break;
            }
            let next = self.driver.borrow_mut().poll_effect();
            let Some(effect) = next else { break };
            match effect {
                Effect::Persist(batch) => match self.ctx.store.apply(&self.who, Some(self.gen), &batch).await {
                    Ok(()) => {}
                    Err(StoreError::Fenced(_)) => {
                        tracing::warn!(account = %self.who.account, rep = %self.who.rep, "write fenced: the lease is gone");
                        self.stop();
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(account = %self.who.account, rep = %self.who.rep, "persist failed, restoring: {e}");
                        self.driver.borrow_mut().persist_failed(&e.to_string(), now());
                        self.pumping.set(false);
                        // Memory must not run ahead of disk: a fresh engine from what is stored,
                        // retried until the database answers again.
                        loop {
                            if self.stopped.get() {
                                return;
                            }
                            match self.clone().restore().await {
                                Ok(()) => break,
                                Err(StoreError::Fenced(_)) => return self.stop(),
                                Err(e) => {
                                    tracing::warn!("restore failed: {e}");
                                    tokio::time::sleep(Duration::from_millis(500)).await;
                                }
                            }
                        }
                        self.wake.notify_one();
                        return;
                    }
                },
                Effect::Crm(req) => {
                    self.inflight.set(self.inflight.get() + 1);
                    spawn_local(self.clone().run_crm(*req));
                }
                Effect::WakeAt(at) => {
                    self.alarm.set(Some(at));
                    self.wake.notify_one();
                }
                Effect::Notify(n) => {
                    // The rep's request refused: kept for the rep's pages (`crate::rep`). Awaited
                    // here, so the inbox row that asked is marked done only once it is written.
                    if let Some((key, refused)) = crate::refusals::refusal_of(&n, now()) {
                        if let Err(e) = crate::refusals::record_refusal(&self.ctx.pool, &self.who, &key, &refused).await {
                            tracing::warn!(account = %self.who.account, rep = %self.who.rep, "keeping a refusal: {e}");
                        }
                    }
                }
                Effect::Problem(p) => tracing::debug!(account = %self.who.account, rep = %self.who.rep, "engine problem {:?}: {}", p.kind, p.detail),
            }
            self.driver.borrow_mut().executed();
            self.progress.notify_waiters();
        }
        self.pumping.set(false);
        if let Err(e) = self.finish_rows().await {
            tracing::warn!("marking inbox rows done: {e}");
        }
    }

    /// Marks done the inbox rows whose input's effects have all run.
    async fn finish_rows(&self) -> Result<(), StoreError> {
        let ready: Vec<i64> = {
            let driver = self.driver.borrow();
            let mut finishing = self.finishing.borrow_mut();
            let (done, waiting): (Vec<_>, Vec<_>) = finishing.drain(..).partition(|(t, _)| driver.is_done(*t));
            *finishing = waiting.into_iter().filter(|(t, _)| !driver.is_dropped(*t)).collect();
            done.into_iter().flat_map(|(_, ids)| ids).collect()
        };
        if !ready.is_empty() {
            self.mark_done(&ready).await?;
        }
        Ok(())
    }

    async fn run_crm(self: Rc<Self>, req: CrmRequest) {
        let is_create = req.op.is_write();
        let conv = self.driver.borrow().conversation(req.integration.clone(), req.op);
        let result = self.clone().converse(conv, is_create).await;
        self.inflight.set(self.inflight.get().saturating_sub(1));
        if self.stopped.get() {
            return;
        }
        self.driver.borrow_mut().handle(Input::CrmDone { req: req.req, result }, now());
        self.kick();
    }

    async fn converse(self: Rc<Self>, mut conv: Conversation, is_write: bool) -> Result<CrmOutput, CrmError> {
        loop {
            if self.stopped.get() {
                return Err(CrmError::Unknown { message: "the engine stopped".into() });
            }
            let next = self.driver.borrow_mut().step(&mut conv, now());
            match next {
                Next::Done(result) => return result,
                Next::Fetch(request) => {
                    if is_write && request.method == Method::Post {
                        self.ctx.cfg.metrics.create_sent();
                    }
                    conv.replied(fetch(&self.ctx.http, &request).await)
                }
                Next::Refresh(request) => {
                    let reply = fetch(&self.ctx.http, &request).await;
                    let outcome = self.driver.borrow_mut().refreshed(&mut conv, reply, now());
                    if let Refreshed::Saving(ticket) = outcome {
                        self.clone().kick();
                        while !self.stopped.get() && !self.driver.borrow().is_done(ticket) && !self.driver.borrow().is_dropped(ticket) {
                            self.progress.notified().await;
                        }
                    }
                }
                Next::Wait => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// Sends one request; never fails, the outcome is a [`Reply`]. A GET whose connection failed
/// after it was sent is sent once more, as browsers do for an idempotent request on a reused
/// connection the server closed; a write never is (its outcome is the engine's to resolve).
pub async fn fetch(http: &reqwest::Client, request: &HttpRequest) -> Reply {
    let reply = fetch_once(http, request).await;
    match reply {
        Reply::NetworkError { sent: true, .. } if request.method == Method::Get => fetch_once(http, request).await,
        reply => reply,
    }
}

async fn fetch_once(http: &reqwest::Client, request: &HttpRequest) -> Reply {
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Patch => reqwest::Method::PATCH,
        Method::Put => reqwest::Method::PUT,
        Method::Delete => reqwest::Method::DELETE,
    };
    let mut rb = http.request(method, &request.url);
    for (k, v) in &request.headers {
        rb = rb.header(k, v);
    }
    if let Some(body) = &request.body {
        rb = rb.body(body.clone());
    }
    let reply = match rb.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let headers = resp.headers().iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned()))).collect();
            match resp.text().await {
                Ok(body) => Reply::Response(HttpResponse { status, headers, body }),
                Err(e) if e.is_timeout() => Reply::TimedOut,
                Err(e) => Reply::NetworkError { sent: true, message: chain(e) },
            }
        }
        Err(e) if e.is_timeout() => Reply::TimedOut,
        // A refused connection provably never reached the CRM.
        Err(e) if e.is_connect() => Reply::NetworkError { sent: false, message: chain(e) },
        Err(e) => Reply::NetworkError { sent: true, message: chain(e) },
    };
    if let Reply::NetworkError { sent, message } = &reply {
        let host = reqwest::Url::parse(&request.url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        tracing::warn!(%host, method = ?request.method, sent, "CRM request failed: {message}");
    }
    reply
}

/// An error with its causes, without the URL (a query may carry a secret).
fn chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
