//! The shell's decisions as a sans-IO driver around the [`Engine`]: what every shell (the
//! service worker's wasm glue, the native test world, the server) does between the outside
//! world and the engine, so each shell keeps only the glue of its platform.
//!
//! ```text
//! driver.handle(input, now)            // an engine input; its effects join the queue
//! driver.softphone(msg, now)           // a relayed softphone message: refused, repeat, or an input,
//!                                      // and what to answer the frame
//! driver.contacts_answer(id, now)     // a softphone's contact request, once it can be answered
//! driver.page_input(input, stored, now)// notes, picks, log now, manual, resolve: an input
//! driver.poll_effect()                 // the engine's effects and the driver's own writes, in order
//! driver.executed()                    // the shell ran the effect it polled last
//! driver.step(&mut conversation, now)  // one CRM operation: fetch, refresh, wait, or done
//! ```
//!
//! What it decides, and the engine cannot (the engine never sees a token, a page or a byte of
//! HTTP):
//! - **Settings in force**: the rep's document with the admin policy laid over it
//!   ([`crate::policy`]); a change is written before the engine hears of it.
//! - **Credentials** ([`credentials`]): which token a request carries, when it is refreshed,
//!   one refresh per integration at a time, the refreshed token in force only once written.
//! - **The connector conversation** ([`conversation`]): a connector's steps, the cap on
//!   exchanges and how an over-long one is classed, the 401 → refresh → retry-once policy.
//! - **The softphone gate** ([`gate`]): frame and origin checks, decoding, the repeat window,
//!   and what the frame is answered; contact requests are answered from the CRMs ([`contacts`]).
//! - **Intents**: which engine input a page's message means, and what the page is answered.
//! - **Acknowledgement**: a sender is answered only once every effect its input caused has run
//!   ([`Driver::ticket`], [`Driver::is_done`]); effects dropped by a failed write never count.
//!
//! Effect-order contract (the engine's, kept by every shell): effects are executed in the order
//! polled, a `Persist` completes before the next effect starts, and `Crm` effects may run
//! concurrently, each as a [`Conversation`] stepped through this driver. If a `Persist` fails,
//! the shell calls [`Driver::persist_failed`] and restores: nothing queued after it runs, and
//! memory never runs ahead of disk.

pub mod contacts;
pub mod conversation;
pub mod credentials;
pub mod gate;
pub mod grants;
pub mod outbox;

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::crm::oauth::{self, Grant, OAuthClient};
use crate::crm::{self, Connection, CrmError, CrmOp, CrmOutput, Reply, Step};
use crate::engine::{CallEntry, Effect, Engine, EngineOptions, Input, Notice, Problem, Slot};
use crate::intents::{Intent, PageInput, Sender};
use crate::model::{CallId, CrmKind, IntegrationId, Timestamp};
use crate::phone::E164;
use crate::policy;
use crate::settings::{AuthKind, FieldPath, Settings, SettingsError};
use crate::store::{Batch, Durability, Record, RestoreQuery, Snapshot, StoreName, Write};
use crate::softphone::Reply as FrameReply;
use crate::vecmap::VecMap;
use crate::view;
use crate::zone::{UnknownZone, ZoneSource, Zones};

pub use conversation::{Conversation, Next, MAX_EXCHANGES};
pub use credentials::{Credentials, Identity, StoredSecret};
pub use contacts::REPLY_WAIT_MS;
pub use gate::{Gate, Verdict};

/// The key of the rep's own settings document in the `settings` store.
pub const SETTINGS_KEY: &str = "current";

/// How many recent problems the diagnostics keep.
const MAX_PROBLEMS: usize = 200;

/// A content script may read and act on a call (notes, picks, log now, its view) only if its tab
/// reported the call, and until this long after the call ended; later, the history does it.
pub const CONTENT_SCRIPT_WINDOW_MS: i64 = 3_600_000;

/// The `meta` records the driver keeps: which tab reported which call, and the inputs the
/// module trapped on.
pub const TABS_KEY: &str = "tabs";
pub const POISON_KEY: &str = "poison";

/// How many parked inputs are kept, and how long one counts on the badge.
const MAX_PARKED: usize = 50;
const PARKED_ON_BADGE_MS: i64 = 7 * 86_400_000;

/// A point in the effect queue: done once every effect queued before it has been executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// What a page or content script is answered.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The field a refusal is about (`["integrations", 0, "base_url"]`), so a page can point
    /// at it without reading the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldPath>,
    /// What was asked for, as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    /// Notices the engine emitted while handling the intent (e.g. a manual log refused).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    /// The sender should send the same message again (it was not saved).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retry: bool,
    /// Refused for good: sending it again changes nothing (a forged or malformed softphone
    /// message, a message type its sender may not send). The bridge stops re-sending it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rejected: bool,
}

impl Answer {
    /// Done, with nothing to tell.
    pub fn done() -> Answer {
        Answer { ok: true, ..Answer::default() }
    }

    /// Done, with `data` for the page. Written as JSON text straight away: a detour through
    /// `serde_json::Value` would add a second serialiser per type to the module.
    pub fn with<T: Serialize + ?Sized>(data: &T) -> Answer {
        Answer { ok: true, data: serde_json::value::to_raw_value(data).ok(), ..Answer::default() }
    }

    pub fn err(message: impl Into<String>) -> Answer {
        Answer { ok: false, error: Some(message.into()), ..Answer::default() }
    }

    /// Refused for good (see [`Answer::rejected`]).
    pub fn rejected(message: impl Into<String>) -> Answer {
        Answer { rejected: true, ..Answer::err(message) }
    }

    /// A settings document refused, pointing at the field.
    pub fn refused(e: &SettingsError) -> Answer {
        Answer { field: e.field().cloned(), ..Answer::err(e.to_string()) }
    }

    /// The answer when what the sender's message changed could not be written: send it again.
    pub fn unsaved() -> Answer {
        Answer { retry: true, ..Answer::err("the event could not be saved; send it again") }
    }
}

/// What became of one relayed softphone message ([`Driver::softphone`]).
#[derive(Debug)]
pub struct Outcome {
    pub answer: Answer,
    pub key: Option<String>,
    /// A contact request waiting for a call pop: its id for [`Driver::contacts_answer`].
    pub contacts: Option<u64>,
}

/// What the diagnostics page shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diagnostics {
    pub problems: VecDeque<ProblemEntry>,
    pub problem_counts: VecMap<String, u64>,
    pub restores: u64,
    pub persist_failures: u64,
    pub softphone: gate::SoftphoneStats,
    /// Times the module trapped (a panic in the release build), over every worker start.
    pub traps: u64,
    /// Inputs the module trapped on, never handed to the engine again; newest last.
    pub parked: VecDeque<ParkedInput>,
    /// Since when the browser refuses writes for lack of space (`QuotaExceededError`): shown on
    /// the badge and the history page until a write commits again ([`Driver::persisted`]).
    pub storage_full: Option<i64>,
}

/// An input the module trapped on: its intent type, why (the shell's words for the trap) and a
/// fingerprint of the whole message, so its re-sends are recognised.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ParkedInput {
    pub at: i64,
    pub kind: String,
    pub reason: String,
    pub fingerprint: String,
}

/// What the `meta/poison` record keeps.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct PoisonBook {
    traps: u64,
    parked: VecDeque<ParkedInput>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProblemEntry {
    pub at: i64,
    pub kind: String,
    pub detail: String,
}

/// What became of a token refresh's reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The new secret is being written: step again once the ticket is done (until then the
    /// integration's conversations wait).
    Saving(Ticket),
    /// The refresh failed; the conversation is done with the error.
    Failed,
}

/// The settings in force and where they came from.
#[derive(Debug)]
struct Config {
    /// The rep's own document, before the admin policy is laid over it.
    user: Settings,
    policy: Value,
    locked: Vec<String>,
    /// The rep's document with the policy laid over it: what the engine has.
    effective: Settings,
}

/// The driver. See the module docs.
#[derive(Debug)]
pub struct Driver {
    engine: Engine,
    /// The platform's time zones (the browser's `Intl`, chrono-tz natively): the driver builds
    /// the engine's offset tables from it, and asks it whether a zone a document names exists.
    zone_source: Box<dyn ZoneSource>,
    /// The tables the engine has.
    zones: Zones,
    /// Whether the engine has been restored (it takes no other input before).
    restored: bool,
    options: EngineOptions,
    config: Config,
    credentials: Credentials,
    grants: grants::Grants,
    gate: Gate,
    contacts: contacts::Contacts,
    diagnostics: Diagnostics,
    /// Effects polled from the engine or made here, waiting for the shell.
    effects: VecDeque<Effect>,
    /// Effects ever queued, and ever executed (or dropped by a failed write).
    queued: u64,
    executed: u64,
    /// Ranges of the effect queue `(executed, queued]` dropped by failed writes: tickets in
    /// them are never done.
    dropped: Vec<(u64, u64)>,
    /// Refreshed secrets whose write was dropped by a failed write: written again at the
    /// restore that follows (with rotation, the old refresh token may be dead).
    rewrite: Vec<(IntegrationId, StoredSecret)>,
    /// Writes a worker start found owed (settings stored with the rep's server token, from
    /// before it moved to the credential store), made once restored.
    owed: Vec<Batch>,
    /// Which tab's content script reported which call, and when (`meta/tabs`).
    tabs: Vec<(CallId, i64, Timestamp)>,
    /// Server mode: what waits to be forwarded to the server ([`outbox`]).
    outbox: outbox::Outbox,
    /// The engine's own next deadline, as it last said (the alarm is kept at the earlier of it
    /// and the outbox's retry).
    engine_wake: Option<Timestamp>,
}

impl Driver {
    /// A driver for a worker start: the rep's settings as stored, the admin policy (`Null` when
    /// there is none), the secrets store's records and the platform's time zones. Call
    /// [`Driver::restore`] next.
    pub fn new(user: Settings, policy: Value, secrets: &[Record], options: EngineOptions, zone_source: Box<dyn ZoneSource>, now: Timestamp) -> Driver {
        let mut driver = Driver {
            engine: Engine::new(options.clone()),
            zone_source,
            zones: Zones::default(),
            restored: false,
            options,
            config: Config { effective: user.clone(), user, policy: Value::Null, locked: Vec::new() },
            credentials: Credentials::from_records(secrets),
            grants: grants::Grants::default(),
            gate: Gate::default(),
            contacts: contacts::Contacts::default(),
            diagnostics: Diagnostics::default(),
            effects: VecDeque::new(),
            queued: 0,
            executed: 0,
            dropped: Vec::new(),
            rewrite: Vec::new(),
            owed: Vec::new(),
            tabs: Vec::new(),
            outbox: outbox::Outbox::default(),
            engine_wake: None,
        };
        // Secrets stored before they were bound to their hosts belong to the settings they
        // were used with: the rep's own, before any policy is laid over them.
        let user = driver.config.user.clone();
        driver.credentials.bind_unbound(|id| binding(&user, id));
        // Settings written before the rep token moved to the credential store carry it: move it.
        if let Some(link) = driver.config.user.server.as_mut().filter(|l| !l.token.is_empty()) {
            let token = std::mem::take(&mut link.token);
            driver.owed.extend(driver.credentials.set_rep_token(&token, &link.url, now));
            let record = Record::encode(SETTINGS_KEY, false, now.0, &driver.config.user);
            driver.owed.push(Batch { writes: vec![Write::Put { store: StoreName::Settings, record }], durability: Durability::Strict });
        }
        if let Err(e) = driver.lay_policy(policy, now) {
            driver.record_problem("policy_invalid", &e, now);
        }
        driver
    }

    /// The rep's settings document as the `settings` store holds it; a missing, unreadable or
    /// invalid one gives the defaults.
    pub fn stored_settings(record: Option<&Record>) -> Settings {
        record.and_then(|r| Settings::from_json(&r.value).ok()).unwrap_or_default()
    }

    /// What the shell must read before [`Driver::restore`].
    pub fn restore_query(&self, now: Timestamp) -> RestoreQuery {
        Engine::restore_query(self.settings(), now)
    }

    /// A fresh engine from what the store really holds. Effects still queued are dropped: whoever
    /// waits for them is told to send again ([`Driver::is_done`] stays false for them).
    pub fn restore(&mut self, snapshot: Snapshot, boot_id: u64, now: Timestamp) {
        self.drop_queued();
        for batch in std::mem::take(&mut self.owed) {
            self.push(Effect::Persist(batch));
        }
        for r in snapshot.records(StoreName::Meta) {
            if r.key == TABS_KEY {
                self.tabs = r.decode().unwrap_or_default();
            } else if r.key == POISON_KEY {
                if let Some(book) = r.decode::<PoisonBook>() {
                    self.diagnostics.traps = self.diagnostics.traps.max(book.traps);
                    self.diagnostics.parked = book.parked;
                }
            }
        }
        let settings = self.settings().clone();
        self.outbox.restore(snapshot.records(StoreName::Meta), boot_id, now);
        self.engine_wake = None;
        self.engine = Engine::new(self.options.clone());
        self.restored = true;
        self.diagnostics.restores += 1;
        // A policy laid over the settings while the worker was stopped may have moved a host.
        self.drop_moved_credentials(None, now);
        if let Some(progress) = snapshot.records(StoreName::Meta).iter().find(|r| r.key == grants::PROGRESS_KEY).and_then(Record::decode) {
            self.grants.progress = progress;
        }
        // The tables the last start stored, while they still serve; else built anew (and kept).
        let stored = snapshot.records(StoreName::Meta).iter().find(|r| r.key == crate::zone::META_KEY).and_then(Record::decode::<Zones>);
        let zones = match stored {
            Some(z) if z.still_serve(&*self.zone_source, &settings, now) => z,
            _ => {
                let (zones, unknown) = Zones::gather(&*self.zone_source, &settings, now);
                if let Some(u) = unknown {
                    self.record_problem("unknown_time_zone", &format!("{}: {} is not a time zone this platform knows; UTC used", u.setting, u.zone), now);
                }
                self.push(Effect::Persist(Batch { writes: vec![Write::Put { store: StoreName::Meta, record: zones.to_record(now) }], durability: Durability::Relaxed }));
                zones
            }
        };
        self.zones = zones.clone();
        self.handle(Input::Restored { snapshot, settings, zones, boot_id }, now);
        for (id, secret) in std::mem::take(&mut self.rewrite) {
            let batch = self.credentials.refreshed(&id, secret, self.queued + 1, now);
            self.push(Effect::Persist(batch));
        }
        // What the browser said before this restore still holds: the new engine hears it again.
        for (id, granted) in self.grants.access.clone() {
            self.report_access(id, granted, now);
        }
    }

    /// Hands one input to the engine; its effects join the queue. Returns copies of the notices
    /// it emitted, for the answer to whoever sent it.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Vec<Notice> {
        if self.restored && self.zones.is_stale(now) && !matches!(input, Input::ZonesChanged(_) | Input::Restored { .. }) {
            // The tables run out soon (a server, or a worker kept alive for weeks), or the clock
            // went back past them: the same zones again, around now.
            let (zones, _) = Zones::gather(&*self.zone_source, self.settings(), now);
            self.set_zones(zones, now);
        }
        // Server mode: the engine here logs only the integrations the server does not own, and
        // what the server must hear is queued for it first (on disk before anyone is answered).
        if let Some(input) = self.server_mode(input, now) {
            self.engine.handle(input, now);
        }
        let mut notices = Vec::new();
        while let Some(mut e) = self.engine.poll_effect() {
            if let Effect::WakeAt(t) = e {
                self.engine_wake = Some(t);
                e = Effect::WakeAt(self.wake_at(t, now));
            }
            if let Effect::Notify(Notice::CallMatches { call, integration, contacts }) = &e {
                if let Some(entry) = self.engine.call(call) {
                    self.contacts.remember(entry.call.their_number, integration.clone(), contacts.clone(), now);
                }
            }
            match &e {
                Effect::Notify(n) => notices.push(n.clone()),
                Effect::Problem(p) => self.record_engine_problem(p, now),
                _ => {}
            }
            self.push(e);
        }
        notices
    }

    /// Server mode: the settings without the integrations the server owns; an input the server
    /// must hear queued for it (one call site, kept out of line: `handle` is inlined widely).
    #[inline(never)]
    fn server_mode(&mut self, input: Input, now: Timestamp) -> Option<Input> {
        match input {
            Input::Restored { snapshot, settings, zones, boot_id } => Some(Input::Restored { snapshot, settings: settings.local(), zones, boot_id }),
            Input::SettingsChanged(s) => Some(Input::SettingsChanged(s.local())),
            other => match (&self.config.effective.server, self.restored) {
                (Some(link), true) => {
                    if let Some(write) = self.outbox.push(&other, link, Ticket(self.queued + 1), now) {
                        self.push(Effect::Persist(Batch { writes: vec![write], durability: Durability::Strict }));
                    }
                    // Picks, manual logs and resolutions for the server's integrations are the
                    // server's alone: the engine here hears only the rest.
                    let link = self.config.effective.server.as_ref()?;
                    outbox::local_part(other, |i| link.owns_str(i))
                }
                _ => Some(other),
            },
        }
    }

    /// The earlier of `t` and the outbox's retry.
    fn wake_at(&self, t: Timestamp, now: Timestamp) -> Timestamp {
        match self.outbox.retry_at() {
            Some(r) if r > now => r.min(t),
            _ => t,
        }
    }

    /// Server mode: the next request to send to the server, when one may go (none in flight,
    /// entries on disk, no backoff running). The shell sends it and hands the reply to
    /// [`Driver::forwarded`]. Ask after every drained effect queue and every alarm.
    pub fn next_forward(&mut self, now: Timestamp) -> Option<outbox::Send> {
        let link = self.config.effective.server.as_ref()?;
        let (executed, dropped) = (self.executed, &self.dropped);
        let written = |t: Ticket| t.0 <= executed && !dropped.iter().any(|(from, to)| t.0 > *from && t.0 <= *to);
        self.outbox.next_send(link, self.credentials.rep_token(&link.url).map_or("", crm::Secret::expose), written, now)
    }

    /// The server's reply to a request [`Driver::next_forward`] gave: accepted entries are
    /// deleted; after a failure they wait, and the alarm is kept at the retry.
    pub fn forwarded(&mut self, sent: &outbox::Send, reply: &Reply, now: Timestamp) {
        match self.outbox.answered(sent, reply, now) {
            Ok(deletes) if !deletes.is_empty() => self.push(Effect::Persist(Batch { writes: deletes, durability: Durability::Relaxed })),
            Ok(_) => {}
            Err(at) => {
                let engine = self.engine_wake.filter(|w| *w > now);
                self.push(Effect::WakeAt(engine.map_or(at, |w| w.min(at))));
            }
        }
    }

    /// Server mode: a `GET` of the rep's own `path` on the server (`history`, `unresolved`),
    /// with the rep's token.
    pub fn server_request(&self, path: &str) -> Option<crm::HttpRequest> {
        let link = self.config.effective.server.as_ref()?;
        let url = format!("{}/rep/{}/{}/{path}", link.url.trim_end_matches('/'), link.account, link.rep);
        Some(crm::HttpRequest { method: crm::Method::Get, url, headers: vec![("authorization".into(), format!("Bearer {}", self.rep_token(link)))], body: None })
    }

    /// What waits for the server, when the settings name one.
    pub fn outbox_status(&self) -> Option<outbox::Status> {
        self.config.effective.server.as_ref().map(|_| self.outbox.status())
    }

    /// The entries waiting for the server, oldest first (tests, diagnostics).
    pub fn outbox(&self) -> impl Iterator<Item = &str> {
        self.outbox.entries()
    }

    /// The next effect to execute, in order.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// The shell executed the effect it polled last (a `Persist`: committed).
    pub fn executed(&mut self) {
        self.executed += 1;
        self.credentials.saved_through(self.executed);
    }

    /// The point in the effect queue as it stands: everything queued so far.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.queued)
    }

    /// Whether every effect queued before `ticket` has been executed. False for ever once they
    /// were dropped by a failed write: the sender must send again.
    pub fn is_done(&self, ticket: Ticket) -> bool {
        self.executed >= ticket.0 && !self.is_dropped(ticket)
    }

    /// Whether some effect queued before `ticket` was dropped by a failed write instead of
    /// being executed: the sender must send again.
    pub fn is_dropped(&self, ticket: Ticket) -> bool {
        self.dropped.iter().any(|(from, to)| ticket.0 > *from && ticket.0 <= *to)
    }

    /// A `Persist` failed: nothing queued after it runs. The shell restores next.
    pub fn persist_failed(&mut self, detail: &str, now: Timestamp) {
        self.diagnostics.persist_failures += 1;
        if detail.contains("QuotaExceededError") {
            self.diagnostics.storage_full.get_or_insert(now.0);
        }
        self.record_problem("persist_failed", detail, now);
        self.drop_queued();
    }

    /// A `Persist` committed: the store takes writes again.
    pub fn persisted(&mut self) {
        self.diagnostics.storage_full = None;
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The settings in force (the rep's with the policy laid over them).
    pub fn settings(&self) -> &Settings {
        &self.config.effective
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }

    /// Records a problem the shell met (a restore that failed, a policy it could not read).
    pub fn record_problem(&mut self, kind: &str, detail: &str, now: Timestamp) {
        let d = &mut self.diagnostics;
        *d.problem_counts.or_default(kind.to_owned()) += 1;
        d.problems.push_back(ProblemEntry { at: now.0, kind: kind.to_owned(), detail: detail.to_owned() });
        while d.problems.len() > MAX_PROBLEMS {
            d.problems.pop_front();
        }
    }

    // ---- softphone and pages ---------------------------------------------------------------

    /// One softphone message a content script (or the side panel, `hosted`) relayed: `origin`
    /// and `from_frame` are what the shell saw, `data` the untrusted message. The answer says
    /// what became of it, with the decoded call and kind, and `reply`, a message to post back to
    /// the frame; the key names the fact for [`Driver::softphone_unsaved`]. An accepted message
    /// is answered `ok` only once [`Driver::is_done`] for the ticket taken after this call. A
    /// contact request that must wait for a call pop comes back with `contacts`, its id: its
    /// answer comes from [`Driver::contacts_answer`].
    ///
    /// `tab` is the tab of the content script that relayed it: a call it reports is one that
    /// tab's content scripts may then act on ([`Driver::allowed`]).
    pub fn softphone(&mut self, origin: &str, from_frame: bool, hosted: bool, data: &Value, tab: Option<i64>, now: Timestamp) -> Outcome {
        let (verdict, reply) = self.gate.check(origin, from_frame, hosted, data, &self.config.effective, &self.engine, now);
        self.diagnostics.softphone = self.gate.stats.clone();
        // A message for the frame goes out with the answer; contacts are answered below.
        let (reply, asked) = match reply {
            Some(FrameReply::Message(m) | FrameReply::Handshake(m)) => (Some(m), None),
            other => (None, other),
        };
        let (mut answer, key) = match verdict {
            Verdict::Rejected { detail, .. } => (Answer::rejected(format!("softphone message rejected: {detail}")), None),
            Verdict::Repeat { event } => {
                self.reported(&event, tab, now);
                (Answer::with(&Relayed { accepted: true, repeat: true, ignored: false, event: &event, reply: reply.as_ref() }), None)
            }
            Verdict::Ignored { event } => (Answer::with(&Relayed { accepted: true, repeat: false, ignored: true, event: &event, reply: reply.as_ref() }), None),
            Verdict::Accepted { input, key, event } => {
                let notices = self.handle(input, now);
                self.reported(&event, tab, now);
                (Answer { notices, ..Answer::with(&Relayed { accepted: true, repeat: false, ignored: false, event: &event, reply: reply.as_ref() }) }, key)
            }
        };
        let mut contacts = None;
        if let Some(FrameReply::Contacts { id, numbers, text }) = asked {
            let asked = self.contacts.ask(id, numbers, text, now);
            match self.contacts_answer(asked, now) {
                Some(a) => answer = a,
                None => contacts = Some(asked),
            }
        }
        Outcome { answer, key, contacts }
    }

    /// The answer to contact request `id` (a relayed message, ignored, with the reply for the
    /// frame), once no call pop it needs is on its way or its wait is over; `None` while it
    /// waits (ask again after the next input, or a little later).
    pub fn contacts_answer(&mut self, id: u64, now: Timestamp) -> Option<Answer> {
        let reply = self.contacts.ready(id, &self.config.effective, &self.engine, now)?;
        let event = gate::Seen { kind: "ignored", call: None };
        Some(Answer::with(&Relayed { accepted: true, repeat: false, ignored: true, event: &event, reply: Some(&reply) }))
    }

    /// Remembers that `tab` reported the event's call (written, so it outlives the worker).
    fn reported(&mut self, event: &gate::Seen, tab: Option<i64>, now: Timestamp) {
        let (Some(call), Some(tab)) = (&event.call, tab) else { return };
        if self.tabs.iter().any(|(c, t, _)| c == call && *t == tab) {
            return;
        }
        // A day is far more than any call plus the hour after it.
        self.tabs.retain(|(_, _, at)| now.since(*at) < 86_400_000);
        self.tabs.push((call.clone(), tab, now));
        let record = Record::encode(TABS_KEY, false, now.0, &self.tabs);
        self.push(Effect::Persist(Batch { writes: vec![Write::Put { store: StoreName::Meta, record }], durability: Durability::Relaxed }));
    }

    /// Whether `sender` may send `intent` ([`Intent::allowed_from`]), and for a content script
    /// acting on a call (its view, notes, picks, "log now"): only a call its own tab reported,
    /// until [`CONTENT_SCRIPT_WINDOW_MS`] after the call ended. The page around a content
    /// script is untrusted, so it cannot reach another tab's calls or old ones.
    pub fn allowed(&self, intent: &Intent, sender: Sender, now: Timestamp) -> Result<(), String> {
        intent.allowed_from(sender)?;
        let Sender::ContentScript { tab } = sender else { return Ok(()) };
        let call = match intent {
            Intent::Call { call } | Intent::ServerCall { call } => call,
            Intent::Engine { input } => match input {
                PageInput::NotesOpened { call }
                | PageInput::NotesSaved { call, .. }
                | PageInput::NotesCancelled { call }
                | PageInput::ContactsPicked { call, .. }
                | PageInput::LogNowRequested { call } => call,
                _ => return Ok(()),
            },
            _ => return Ok(()),
        };
        let reported = tab.is_some_and(|tab| self.tabs.iter().any(|(c, t, _)| c == call && *t == tab));
        if !reported {
            return Err("this page did not report that call".into());
        }
        match self.engine.call(call).map(|e| e.call.ended_at) {
            None => Err("that call is not known".into()),
            Some(Some(end)) if now.since(end) >= CONTENT_SCRIPT_WINDOW_MS => {
                Err("the call ended more than an hour ago: log it from the call history".into())
            }
            Some(_) => Ok(()),
        }
    }

    // ---- traps -----------------------------------------------------------------------------

    /// The module trapped (a panic aborts the release build) while handling `message`; the
    /// shell started a fresh module, restored it from IndexedDB, and says so here. The trap is
    /// counted (diagnostics, badge) and the message parked: [`Driver::is_parked`] recognises
    /// its re-sends, which are answered without reaching the engine again, so one poison input
    /// cannot trap the worker for ever. Answer once the ticket taken after this call is done.
    pub fn poisoned(&mut self, message: &str, reason: &str, now: Timestamp) -> Answer {
        /// Only the type, to name what was parked.
        #[derive(serde::Deserialize)]
        struct Typed {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let kind = serde_json::from_str::<Typed>(message).ok().and_then(|t| t.kind).unwrap_or_else(|| "unknown".into());
        let kind: String = kind.chars().take(40).collect();
        let reason: String = crate::engine::hygiene::scrub(reason).chars().take(300).collect();
        let d = &mut self.diagnostics;
        d.traps += 1;
        d.parked.push_back(ParkedInput { at: now.0, kind: kind.clone(), reason: reason.clone(), fingerprint: fingerprint(message) });
        while d.parked.len() > MAX_PARKED {
            d.parked.pop_front();
        }
        self.record_problem("trap", &format!("{kind} parked: {reason}"), now);
        let book = PoisonBook { traps: self.diagnostics.traps, parked: self.diagnostics.parked.clone() };
        let record = Record::encode(POISON_KEY, false, now.0, &book);
        self.push(Effect::Persist(Batch { writes: vec![Write::Put { store: StoreName::Meta, record }], durability: Durability::Strict }));
        Answer::with(&Parked { parked: true, traps: self.diagnostics.traps })
    }

    /// Whether `message` (an intent's JSON text, as the shell read it) is one the module trapped
    /// on: answer it `parked`, never handle it.
    pub fn is_parked(&self, message: &str) -> bool {
        if self.diagnostics.parked.is_empty() {
            return false;
        }
        let f = fingerprint(message);
        self.diagnostics.parked.iter().any(|p| p.fingerprint == f)
    }

    /// The softphone fact named `key` was accepted but could not be written: forget it, so the
    /// bridge's re-send is handled as new.
    pub fn softphone_unsaved(&mut self, key: &str) {
        self.gate.forget(key);
    }

    /// The call whose stored records a manual log needs (older than what a restore reads), if
    /// the shell must read them before [`Driver::page_input`].
    pub fn stored_call_needed<'a>(&self, input: &'a PageInput) -> Option<&'a CallId> {
        match input {
            PageInput::ManualLogRequested { call, .. } if self.engine.call(call).is_none() => Some(call),
            _ => None,
        }
    }

    /// An engine input a page sent (notes, picks, log now, manual log, resolutions). `stored`
    /// holds the call's records when [`Driver::stored_call_needed`] asked for them.
    pub fn page_input(&mut self, input: PageInput, stored: Snapshot, now: Timestamp) -> Answer {
        let input = match input {
            PageInput::NotesOpened { call } => Input::NotesOpened { call },
            PageInput::NotesSaved { call, notes } => Input::NotesSaved { call, notes },
            PageInput::NotesCancelled { call } => Input::NotesCancelled { call },
            PageInput::ContactsPicked { call, integration, contacts } => Input::ContactsPicked { call, integration, contacts },
            PageInput::LogNowRequested { call } => Input::LogNowRequested { call },
            PageInput::ManualLogRequested { call, integrations } => Input::ManualLogRequested { call, integrations, stored },
            PageInput::UnresolvedResolved { resolutions } => Input::UnresolvedResolved { resolutions },
        };
        let notices = self.handle(input, now);
        let refused = notices.iter().find_map(|n| match n {
            Notice::ManualRefused { integration, reason, .. } | Notice::PicksRefused { integration, reason, .. } => {
                Some(format!("{integration}: {reason}"))
            }
            Notice::ResolutionRefused { slot, reason } => Some(format!("{slot}: {reason}")),
            _ => None,
        });
        Answer { ok: refused.is_none(), error: refused, notices, ..Answer::default() }
    }

    // ---- settings --------------------------------------------------------------------------

    /// The admin policy changed. A broken one is refused (recorded as a problem) and the last
    /// good settings stay in force.
    pub fn set_policy(&mut self, policy: Value, now: Timestamp) {
        if let Err(e) = self.lay_policy(policy, now) {
            self.record_problem("policy_invalid", &e, now);
        }
    }

    /// Replaces the rep's settings with a whole document: refused whole when, with the policy
    /// laid over it, it is not valid; otherwise written, then handed to the engine. Answer once
    /// the ticket taken after this call is done.
    pub fn replace_settings(&mut self, mut user: Settings, now: Timestamp) -> Answer {
        let mut effective = match policy::apply(&user, &self.config.policy) {
            Ok(e) => e,
            Err(e) => return Answer::refused(&e),
        };
        without_rep_token(&mut effective.settings);
        let zones = match Zones::for_settings(&*self.zone_source, &effective.settings, now) {
            Ok(z) => z,
            Err(u) => return Answer::refused(&unknown_zone(&u)),
        };
        self.take_rep_token(&mut user, now);
        let record = Record::encode(SETTINGS_KEY, false, now.0, &user);
        self.push(Effect::Persist(Batch { writes: vec![Write::Put { store: StoreName::Settings, record }], durability: Durability::Strict }));
        self.config.user = user;
        self.config.locked = effective.locked;
        let before = std::mem::replace(&mut self.config.effective, effective.settings.clone());
        self.set_zones(zones, now);
        self.drop_moved_credentials(Some(&before), now);
        let notices = self.handle(Input::SettingsChanged(effective.settings), now);
        #[derive(Serialize)]
        struct Kept {
            kept_by_policy: Vec<String>,
            /// What the browser must now be asked for (the options page asks in the same click).
            wanted: grants::Wanted,
        }
        Answer { notices, ..Answer::with(&Kept { kept_by_policy: effective.overridden, wanted: self.wanted() }) }
    }

    /// The settings in force, the rep's own, the locked fields and who is connected.
    pub fn settings_view(&self) -> Answer {
        #[derive(Serialize)]
        struct SettingsView<'a> {
            settings: &'a Settings,
            user: &'a Settings,
            locked: &'a [String],
            connected: Vec<&'a IntegrationId>,
            /// Each CRM's regions, `{kind: [[value, label], ...]}`, for the region picker.
            regions: Option<Box<RawValue>>,
        }
        Answer::with(&SettingsView {
            settings: self.settings(),
            user: &self.config.user,
            locked: &self.config.locked,
            connected: self.settings().integrations.iter().filter(|i| self.is_connected(&i.id)).map(|i| &i.id).collect(),
            regions: regions_json(),
        })
    }

    /// The rep's own document as it is stored.
    pub fn user_settings(&self) -> &Settings {
        &self.config.user
    }

    /// The rep's own document for export, never with a secret: credentials are not part of it,
    /// server mode's rep token among them (an import into another browser needs the rep's
    /// token put back).
    pub fn exported_settings(&self) -> Settings {
        let mut s = self.config.user.clone();
        if let Some(link) = s.server.as_mut() {
            link.token = String::new();
        }
        s
    }

    /// Moves the rep's server token out of `user` into the credential store (bound to the
    /// server's origin); without a server, forgets the one kept.
    fn take_rep_token(&mut self, user: &mut Settings, now: Timestamp) {
        let batch = match user.server.as_mut() {
            Some(link) if !link.token.is_empty() => self.credentials.set_rep_token(&std::mem::take(&mut link.token), &link.url, now),
            Some(_) => None,
            None => self.credentials.clear_rep_token(),
        };
        if let Some(batch) = batch {
            self.push(Effect::Persist(batch));
        }
    }

    /// Server mode: the rep's token for the server in force (`""` when none is kept: the
    /// server then refuses, and the outbox shows why).
    fn rep_token(&self, link: &crate::settings::ServerLink) -> &str {
        self.credentials.rep_token(&link.url).map_or("", crm::Secret::expose)
    }

    fn lay_policy(&mut self, policy: Value, now: Timestamp) -> Result<(), String> {
        // The company's OAuth clients go to the credentials, never into the settings.
        let apps = credentials::policy_apps(&policy)?;
        let mut effective = policy::apply(&self.config.user, &policy).map_err(|e| e.to_string())?;
        self.credentials.set_policy_rep_token(policy.pointer("/server/token").and_then(Value::as_str));
        without_rep_token(&mut effective.settings);
        // Before a restore nothing is asked of the platform (a worker start must not pay for
        // it): the restore builds or reuses the tables, and reports a zone it does not know.
        let zones = match self.restored {
            true => Some(Zones::for_settings(&*self.zone_source, &effective.settings, now).map_err(|u| unknown_zone(&u).to_string())?),
            false => None,
        };
        self.credentials.set_policy_apps(apps);
        self.config.policy = policy;
        self.config.locked = effective.locked;
        let before = std::mem::replace(&mut self.config.effective, effective.settings.clone());
        if let Some(zones) = zones {
            self.set_zones(zones, now);
            self.drop_moved_credentials(Some(&before), now);
            self.handle(Input::SettingsChanged(effective.settings), now);
        }
        Ok(())
    }

    /// Hands the engine new offset tables, before the settings that need them, and keeps them
    /// for the next start.
    fn set_zones(&mut self, zones: Zones, now: Timestamp) {
        if self.restored && zones != self.zones {
            self.push(Effect::Persist(Batch { writes: vec![Write::Put { store: StoreName::Meta, record: zones.to_record(now) }], durability: Durability::Relaxed }));
            self.zones = zones.clone();
            self.handle(Input::ZonesChanged(zones), now);
        }
    }

    /// The zones the engine has (for the options page: the rep's own zone).
    pub fn zones(&self) -> &Zones {
        &self.zones
    }

    // ---- credentials and CRM operations ----------------------------------------------------

    /// Stores an API token the rep pasted. Answer once the ticket taken after this call is done.
    pub fn set_token(&mut self, integration: IntegrationId, token: &str, now: Timestamp) -> Answer {
        if token.trim().is_empty() {
            return Answer { field: Some(FieldPath::keys(&["token"])), ..Answer::err("the token is empty") };
        }
        self.store_secret(integration, StoredSecret::api_token(token), now)
    }

    /// Forgets an integration's credentials (disconnect), and the request that revokes its
    /// OAuth tokens at the vendor where it documents one, for the shell to send once the
    /// forgetting is written: only to the token host the secret was issued for. In server mode a
    /// revoke that wants the client secret (Pipedrive's) goes through the server, which holds it.
    pub fn clear_credentials(&mut self, integration: &IntegrationId) -> (Answer, Option<crm::HttpRequest>) {
        let revoke = self.credentials.get(integration).filter(|_| self.is_connected(integration)).and_then(|s| {
            let client = self.oauth_client(integration, "").ok()?;
            match self.broker_url(integration) {
                Some((url, token)) if oauth::revoke_needs_secret(client.kind) => {
                    let url = format!("{}/revoke", url.strip_suffix("/token").unwrap_or(&url));
                    Some(oauth::broker_revoke_request(url, token, &s.token, s.refresh_token.as_ref()))
                }
                _ => oauth::revoke_request(&client, &s.token, s.refresh_token.as_ref()),
            }
        });
        let batch = self.credentials.clear(integration);
        self.push(Effect::Persist(batch));
        (Answer::done(), revoke)
    }

    /// Whether `id` has credentials for the hosts the settings in force send it to.
    pub fn is_connected(&self, id: &IntegrationId) -> bool {
        self.credentials.is_connected(id, binding(self.settings(), id).as_ref())
    }

    /// Drops the stored credentials of every integration whose settings in force no longer
    /// send them where they were issued (a `base_url` or `token_url` changed by the options
    /// page, an import or a policy, or the integration removed): the rep reconnects.
    /// `before`: the settings in force until now, when they changed: a `base_url` or
    /// `token_url` edited within the same origin drops the credentials too.
    fn drop_moved_credentials(&mut self, before: Option<&Settings>, now: Timestamp) {
        let settings = self.config.effective.clone();
        let urls = |s: &Settings, id: &IntegrationId| {
            s.integrations.iter().find(|i| &i.id == id).map(|i| {
                let token = match &i.auth {
                    AuthKind::OAuth { token_url, .. } => token_url.trim_end_matches('/').to_owned(),
                    AuthKind::ApiToken => String::new(),
                };
                (i.base_url.trim_end_matches('/').to_owned(), token)
            })
        };
        let moved: Vec<IntegrationId> = self
            .credentials
            .stored()
            .filter(|(id, s)| s.bound.is_none() || s.bound != binding(&settings, id) || before.is_some_and(|b| urls(b, id) != urls(&settings, id)))
            .map(|(id, _)| id.clone())
            .collect();
        // In server mode the server holds the company's client secrets: none is kept here.
        let apps: Vec<IntegrationId> = if settings.server.is_some() { self.credentials.apps().cloned().collect() } else { Vec::new() };
        for id in apps {
            let batch = self.credentials.clear_app(&id);
            self.push(Effect::Persist(batch));
        }
        for id in moved {
            let batch = self.credentials.clear(&id);
            self.push(Effect::Persist(batch));
            self.record_problem("credentials_dropped", &format!("{id}: its API or token URL changed; reconnect it"), now);
        }
    }

    fn store_secret(&mut self, integration: IntegrationId, secret: StoredSecret, now: Timestamp) -> Answer {
        let secret = StoredSecret { bound: binding(self.settings(), &integration), ..secret };
        let batch = self.credentials.set(&integration, secret, now);
        self.push(Effect::Persist(batch));
        let notices = self.handle(Input::CredentialsChanged { integration }, now);
        Answer { notices, ..Answer::done() }
    }

    /// A conversation for one CRM operation (an engine request, or a page's test search).
    pub fn conversation(&self, integration: IntegrationId, op: CrmOp) -> Conversation {
        Conversation::new(integration, op)
    }

    /// What the shell does next for `conv` at `now`.
    pub fn step(&mut self, conv: &mut Conversation, now: Timestamp) -> Next {
        use conversation::Phase;
        loop {
            match &conv.phase {
                Phase::Done(result) => return Next::Done(result.clone()),
                Phase::Refreshing { .. } => return Next::Wait,
                // The browser will not let the worker reach this CRM: nothing can be sent.
                Phase::Start if self.grants.access.get(&conv.integration) == Some(&false) => {
                    let patterns = self.settings().integrations.iter().find(|i| i.id == conv.integration).map(|i| i.access_patterns()).unwrap_or_default();
                    conv.finish(Err(CrmError::Transient { message: grants::missing_words(&patterns) }));
                }
                Phase::Start if self.credentials.get(&conv.integration).is_some() && !self.settings().integrations.iter().any(|i| i.id == conv.integration) => {
                    conv.finish(Err(CrmError::Permanent { message: format!("integration {} is not configured", conv.integration) }));
                }
                Phase::Start => match self.credentials.token(&conv.integration, binding(self.settings(), &conv.integration).as_ref(), now) {
                    credentials::TokenState::Missing => conv.finish(Err(credentials::missing(&conv.integration))),
                    credentials::TokenState::Wait => return Next::Wait,
                    credentials::TokenState::Refresh(stored) => match self.oauth_client(&conv.integration, "") {
                        Err(message) => {
                            self.credentials.refresh_failed(&conv.integration);
                            conv.finish(Err(CrmError::Unauthorized { message }));
                        }
                        Ok(client) => {
                            let Some(refresh_token) = stored.refresh_token.as_ref() else {
                                self.credentials.refresh_failed(&conv.integration);
                                conv.finish(Err(CrmError::Unauthorized { message: "no refresh token: reconnect".into() }));
                                continue;
                            };
                            let request = match self.broker_url(&conv.integration) {
                                Some((url, token)) => {
                                    let grant = oauth::BrokerGrant::RefreshToken { refresh_token: refresh_token.clone(), accounts_server: zoho_accounts_server(&client) };
                                    oauth::broker_request(url, token, &grant)
                                }
                                None => oauth::token_request(&client, &Grant::RefreshToken { refresh_token }),
                            };
                            conv.phase = Phase::Refreshing { stored, client: Box::new(client) };
                            return Next::Refresh(request);
                        }
                    },
                    credentials::TokenState::Ready(token) => match self.connection(&conv.integration, token) {
                        Ok(mut conn) => {
                            let known = self.identity(&conv.integration);
                            if conv.identify || (known.is_none() && needs_owner(&conv.op)) {
                                conv.phase = Phase::Identifying(conn);
                            } else {
                                conn.owner = known.as_ref().and_then(Identity::owner).map(str::to_owned);
                                conv.phase = Phase::Talking(conn);
                            }
                        }
                        Err(e) => conv.finish(Err(e)),
                    },
                },
                Phase::Identifying(conn) => match crm::identify(conn, &self.settings().rep_email, &conv.history) {
                    crm::Who::Send(request) => {
                        conv.sent = Some(request.clone());
                        return Next::Fetch(request);
                    }
                    crm::Who::Done(Err(CrmError::Unauthorized { message })) => self.after_401(conv, message),
                    crm::Who::Done(Err(CrmError::Permanent { message })) => {
                        let note = format!("{} would not say who is connected ({message}): records are created without an owner", conn.kind.name());
                        self.identified(conv, Identity::of(None, String::new(), note), now);
                    }
                    crm::Who::Done(Err(e)) => conv.finish(Err(CrmError::Transient { message: e.to_string() })),
                    crm::Who::Done(Ok(user)) => {
                        let email = if conn.oauth { String::new() } else { email_key(&self.settings().rep_email) };
                        let note = match (&user, conn.oauth || conn.kind != CrmKind::HubSpot, email.is_empty()) {
                            (Some(_), ..) => String::new(),
                            (None, false, true) => "this token is shared: set your email in Settings so what is logged is owned by you".to_owned(),
                            (None, _, _) => format!("no {} user has your email: records are created without an owner", conn.kind.name()),
                        };
                        self.identified(conv, Identity::of(user, email, note), now);
                    }
                },
                Phase::Talking(conn) => match crm::step(conn, &conv.op, &conv.history) {
                    Step::Send(_) if conv.history.len() >= MAX_EXCHANGES => conv.finish(Err(conversation::over_long(&conv.op))),
                    Step::Send(request) => {
                        conv.sent = Some(request.clone());
                        return Next::Fetch(request);
                    }
                    Step::Done(Err(CrmError::Unauthorized { message })) => self.after_401(conv, message),
                    Step::Done(result) => conv.finish(result),
                },
            }
        }
    }

    /// A 401: one refresh and one more try when the token can be refreshed, else `Unauthorized`.
    fn after_401(&mut self, conv: &mut Conversation, message: String) {
        let used = conv.token().cloned().unwrap_or_default();
        if !conv.retried && self.credentials.expire_after_401(&conv.integration, &used) {
            conv.retried = true;
            conv.history.clear();
            conv.phase = conversation::Phase::Start;
        } else {
            conv.finish(Err(CrmError::Unauthorized { message }));
        }
    }

    /// Who `id` is connected as, when known and still right: a shared token's user was looked
    /// up by the rep's email, so another email looks again.
    fn identity(&self, id: &IntegrationId) -> Option<Identity> {
        let email = email_key(&self.settings().rep_email);
        self.credentials.get(id)?.identity().filter(|i| i.by_email.is_empty() || i.by_email == email)
    }

    /// The CRM said who the conversation's connection acts as: kept (written with the
    /// credentials), and the conversation talks on with that owner.
    fn identified(&mut self, conv: &mut Conversation, identity: Identity, now: Timestamp) {
        use conversation::Phase;
        let Phase::Identifying(mut conn) = std::mem::replace(&mut conv.phase, Phase::Start) else { return };
        conn.owner = identity.owner().map(str::to_owned);
        if let Some(batch) = self.credentials.identified(&conv.integration, &identity, now) {
            self.push(Effect::Persist(Batch { durability: Durability::Relaxed, ..batch }));
        }
        conv.who = Some(identity);
        conv.history.clear();
        conv.phase = Phase::Talking(conn);
    }

    /// The reply to a conversation's [`Next::Refresh`].
    pub fn refreshed(&mut self, conv: &mut Conversation, reply: Reply, now: Timestamp) -> Refreshed {
        use conversation::Phase;
        let Phase::Refreshing { stored, client } = std::mem::replace(&mut conv.phase, Phase::Start) else {
            return Refreshed::Failed;
        };
        let mut known = vec![&stored.token];
        known.extend(stored.refresh_token.as_ref());
        match self.read_tokens(client.kind, &reply, now, &known) {
            Err(e) => {
                self.credentials.refresh_failed(&conv.integration);
                conv.finish(Err(e));
                Refreshed::Failed
            }
            Ok(tokens) => {
                let secret = StoredSecret { bound: stored.bound.clone(), ..StoredSecret::from_tokens(tokens, stored.refresh_token.clone()) };
                let batch = self.credentials.refreshed(&conv.integration, secret, self.queued + 1, now);
                self.push(Effect::Persist(batch));
                Refreshed::Saving(self.ticket())
            }
        }
    }

    fn connection(&self, integration: &IntegrationId, token: crm::Secret) -> Result<Connection, CrmError> {
        let settings = self.settings();
        let Some(integ) = settings.integrations.iter().find(|i| &i.id == integration) else {
            return Err(CrmError::Permanent { message: format!("integration {integration} is not configured") });
        };
        let oauth = matches!(integ.auth, AuthKind::OAuth { .. });
        Ok(Connection {
            kind: integ.kind,
            base_url: integ.api_base(),
            token,
            oauth,
            default_country: settings.default_country,
            marker_field: integ.marker_field.clone(),
            owner: None,
        })
    }

    /// A test for the options page's "Test connection": the conversation to run (it asks the
    /// CRM who is connected, then searches), or the answer when the number cannot be read.
    pub fn test_connection(&self, integration: IntegrationId, number: Option<&str>) -> Result<Conversation, Answer> {
        let phone = E164::parse(number.unwrap_or("+12125550100"), self.settings().default_country)
            .map_err(|e| Answer { field: Some(FieldPath::keys(&["number"])), ..Answer::err(e.to_string()) })?;
        let mut conv = self.conversation(integration, CrmOp::SearchContacts { phone });
        conv.identify = true;
        Ok(conv)
    }

    /// What the options page is told of a test search's result. A search that found a contact
    /// ticks the first run's checklist (written, so it stays ticked).
    pub fn test_connection_answer(&mut self, integration: &IntegrationId, result: Result<CrmOutput, CrmError>, now: Timestamp) -> Answer {
        match result {
            Ok(CrmOutput::Contacts { contacts }) => {
                if !contacts.is_empty() && self.grants.progress.found_contact_in.is_none() {
                    self.grants.progress.found_contact_in = Some(integration.clone());
                    let record = Record::encode(grants::PROGRESS_KEY, false, now.0, &self.grants.progress);
                    self.push(Effect::Persist(Batch { writes: vec![Write::Put { store: StoreName::Meta, record }], durability: Durability::Relaxed }));
                }
                Answer::with(&Reachable { reachable: true, matches: Some(contacts.len()), who: self.identity(integration) })
            }
            Ok(_) => Answer::with(&Reachable { reachable: true, matches: None, who: self.identity(integration) }),
            Err(e) => Answer::err(e.to_string()),
        }
    }

    // ---- the browser's grants --------------------------------------------------------------

    /// What the shell must check with the browser: each integration's API hosts, the rep's
    /// softphone pages, the side panel's softphone.
    pub fn wanted(&self) -> grants::Wanted {
        grants::Wanted::of(self.settings())
    }

    /// The browser says whether the worker may fetch `integration`'s API hosts. Without it the
    /// integration holds its work (the rep sees what to grant); with it again, it resumes.
    pub fn set_access(&mut self, integration: IntegrationId, granted: bool, now: Timestamp) -> Vec<Notice> {
        if self.grants.access.insert(integration.clone(), granted) == Some(granted) {
            return Vec::new();
        }
        self.report_access(integration, granted, now)
    }

    fn report_access(&mut self, integration: IntegrationId, granted: bool, now: Timestamp) -> Vec<Notice> {
        let Some(integ) = self.settings().integrations.iter().find(|i| i.id == integration) else { return Vec::new() };
        let missing = (!granted).then(|| grants::missing_words(&integ.access_patterns()));
        self.handle(Input::AccessChanged { integration, missing }, now)
    }

    /// The softphone pages the rep granted (patterns), as the browser reports them.
    /// A change is announced to the pages (a [`Notice::PagesAllowed`] effect).
    pub fn set_pages_granted(&mut self, pages: Vec<String>) {
        if self.grants.pages == pages {
            return;
        }
        self.grants.pages = pages.clone();
        self.push(Effect::Notify(Notice::PagesAllowed { pages }));
    }

    // ---- OAuth -----------------------------------------------------------------------------

    /// The OAuth client of an integration: its settings' client id (else the admin policy's for
    /// the CRM), the company's client secret where it may be sent, the vendor's endpoints for
    /// the region (or the settings' own URLs).
    pub fn oauth_client(&self, id: &IntegrationId, redirect_uri: &str) -> Result<OAuthClient, String> {
        let integ = self.settings().integrations.iter().find(|i| &i.id == id).ok_or_else(|| format!("integration {id} is not configured"))?;
        let AuthKind::OAuth { client_id, scopes, .. } = &integ.auth else {
            return Err(format!("{} uses an API token, not OAuth", integ.label_or_id()));
        };
        let client_id = match client_id.trim() {
            "" => self.credentials.policy_app(integ.kind).map(|a| a.client_id.clone()).ok_or_else(|| {
                format!("{}: no OAuth client id; ask your administrator, or enter the company's app under Sign-in", integ.label_or_id())
            })?,
            c => c.to_owned(),
        };
        let endpoints = integ.oauth_endpoints();
        let client_secret = match self.settings().server {
            Some(_) => None,
            None => self.credentials.client_secret(id, integ.kind, &client_id, &endpoints.token_url).map(|(s, _)| s),
        };
        Ok(OAuthClient { kind: integ.kind, client_id, client_secret, redirect_uri: redirect_uri.to_owned(), scopes: scopes.clone(), endpoints })
    }

    /// The client for a sign-in: refused before the browser opens anything when the vendor
    /// needs the company's client secret and there is none that may be sent.
    fn sign_in_client(&self, id: &IntegrationId, redirect_uri: &str) -> Result<OAuthClient, Answer> {
        let client = self.oauth_client(id, redirect_uri).map_err(Answer::err)?;
        if self.settings().server.is_some() {
            if self.broker_url(id).is_none() {
                return Err(Answer::err("no token for the Calltrail server is kept: enter yours under Calltrail server"));
            }
            return Ok(client);
        }
        if client.client_secret.is_none() && oauth::needs_secret(client.kind) {
            let why = format!("{} needs the company's OAuth client secret: ask your administrator, or enter it under Sign-in", client.kind.name());
            return Err(Answer { field: Some(FieldPath::keys(&["client_secret"])), ..Answer::err(why) });
        }
        Ok(client)
    }

    /// The URL to open with `chrome.identity.launchWebAuthFlow`; `challenge` is the S256
    /// challenge of the PKCE verifier the page keeps for [`Driver::oauth_code_request`].
    pub fn oauth_start(&self, id: &IntegrationId, state: &str, challenge: &str, redirect_uri: &str) -> Answer {
        if !oauth::is_valid_challenge(challenge) {
            return Answer { field: Some(FieldPath::keys(&["challenge"])), ..Answer::err("the PKCE challenge is not valid") };
        }
        match self.sign_in_client(id, redirect_uri) {
            Err(answer) => answer,
            Ok(client) => {
                #[derive(Serialize)]
                struct Url {
                    url: String,
                }
                Answer::with(&Url { url: oauth::authorize_url(&client, state, challenge) })
            }
        }
    }

    /// The redirect came back: the token request that redeems its code, at the data centre the
    /// redirect names (Zoho's `accounts-server`, when it is one of Zoho's or on the configured
    /// token URL's origin).
    pub fn oauth_code_request(&self, id: &IntegrationId, redirect_url: &str, state: &str, verifier: &str, redirect_uri: &str) -> Result<(OAuthClient, crm::HttpRequest), Answer> {
        let mut client = self.sign_in_client(id, redirect_uri)?;
        let redirect = oauth::parse_redirect(redirect_url, state).map_err(|e| Answer::err(e.to_string()))?;
        if let (CrmKind::Zoho, Some(server)) = (client.kind, redirect.accounts_server.as_deref()) {
            let url = oauth::accounts_token_url(server, &client.endpoints.token_url)
                .ok_or_else(|| Answer::err("the sign-in reply named a Zoho accounts server Calltrail does not know; nothing was sent there"))?;
            if self.settings().server.is_none() {
                client.client_secret = self.credentials.client_secret(id, client.kind, &client.client_id, &url).map(|(s, _)| s);
            }
            client.endpoints.token_url = url;
        }
        let request = match self.broker_url(id) {
            Some((url, token)) => {
                let grant = oauth::BrokerGrant::AuthorizationCode { code: redirect.code, code_verifier: verifier.to_owned(), accounts_server: zoho_accounts_server(&client) };
                oauth::broker_request(url, token, &grant)
            }
            None => oauth::token_request(&client, &Grant::AuthorizationCode { code: &redirect.code, verifier }),
        };
        Ok((client, request))
    }

    /// The token endpoint answered the code: keep the tokens, and what the vendor said about
    /// the account (Salesforce's `instance_url`, Zoho's and Pipedrive's `api_domain` become the
    /// API base; Zoho's data centre the token URL). Answer once the ticket taken after this
    /// call is done.
    pub fn oauth_finished(&mut self, id: IntegrationId, client: &OAuthClient, reply: &Reply, now: Timestamp) -> Answer {
        let mut known: Vec<&crm::Secret> = Vec::new();
        known.extend(client.client_secret.as_ref());
        let tokens = match self.read_tokens(client.kind, reply, now, &known) {
            Ok(t) => t,
            Err(e) => return Answer::err(e.to_string()),
        };
        let base = tokens.instance_url.clone().or(tokens.api_domain.clone()).filter(|b| crate::web::Origin::of(b).is_some_and(|o| o.is_secure()));
        let mut user = self.config.user.clone();
        if let Some(i) = user.integrations.iter_mut().find(|i| i.id == id) {
            let moved = i.oauth_endpoints().token_url != client.endpoints.token_url;
            if let (true, AuthKind::OAuth { token_url, .. }) = (moved, &mut i.auth) {
                token_url.clone_from(&client.endpoints.token_url);
            }
            if let Some(b) = &base {
                i.base_url.clone_from(b);
            }
            if moved || base.is_some() {
                let answer = self.replace_settings(user, now);
                if !answer.ok {
                    return answer;
                }
            }
        }
        self.store_secret(id, StoredSecret::from_tokens(tokens, None), now)
    }

    /// Server mode: the broker's token URL for `id` and the rep's server token. Every OAuth
    /// integration's exchange and refresh go there, whether the server owns the integration or
    /// not: the server holds the company's client secret, and this browser keeps none (a local
    /// one is neither asked for, used nor kept). `None` outside server mode, or without a token.
    fn broker_url(&self, id: &IntegrationId) -> Option<(String, &str)> {
        let link = self.settings().server.as_ref()?;
        let token = self.credentials.rep_token(&link.url)?.expose();
        Some((format!("{}/rep/{}/{}/oauth/{id}/token", link.url.trim_end_matches('/'), link.account, link.rep), token))
    }

    /// A token reply, from the broker in server mode, else from the vendor's token endpoint.
    fn read_tokens(&self, kind: CrmKind, reply: &Reply, now: Timestamp, known: &[&crm::Secret]) -> Result<oauth::TokenSet, CrmError> {
        match self.settings().server {
            Some(_) => oauth::parse_broker_reply(kind, reply, known),
            None => oauth::parse_token_reply(kind, reply, now, known),
        }
    }

    /// Keeps the company's OAuth client secret for an integration (the options page's
    /// `set-credentials` with `client_secret`); an empty one forgets it. It goes with the
    /// integration's client id, to its token URL's origin only.
    pub fn set_client_secret(&mut self, id: &IntegrationId, secret: &str, now: Timestamp) -> Answer {
        if self.settings().server.is_some() && !secret.trim().is_empty() {
            let why = "in server mode the Calltrail server holds the company's client secret; this browser keeps none";
            return Answer { field: Some(FieldPath::keys(&["client_secret"])), ..Answer::err(why) };
        }
        if secret.trim().is_empty() {
            let batch = self.credentials.clear_app(id);
            self.push(Effect::Persist(batch));
            return Answer::done();
        }
        let client = match self.oauth_client(id, "") {
            Ok(c) => c,
            Err(e) => return Answer::err(e),
        };
        match self.credentials.set_app(id, &client.client_id, secret, &client.endpoints.token_url, now) {
            Some(batch) => {
                self.push(Effect::Persist(batch));
                Answer::done()
            }
            None => Answer { field: Some(FieldPath::keys(&["client_secret"])), ..Answer::err("the token URL must be https:// (http:// only on this computer)") },
        }
    }

    // ---- views -----------------------------------------------------------------------------

    /// Integrations, their health, the badge and counts: the header of every page.
    pub fn state_view(&self) -> Answer {
        let engine = &self.engine;
        let integrations = self
            .settings()
            .integrations
            .iter()
            .map(|i| {
                let health = engine.health(&i.id);
                let connected = self.is_connected(&i.id);
                let granted = self.grants.access.get(&i.id).copied();
                let patterns = i.access_patterns();
                let (word, tone) = match (connected, granted, health) {
                    (_, Some(false), _) => (grants::missing_words(&patterns), view::Tone::Warning),
                    (false, _, _) => ("Not connected".to_owned(), view::Tone::Neutral),
                    (true, _, Some(h)) if h.parked => ("Needs sign-in".to_owned(), view::Tone::Danger),
                    (true, _, _) => ("Connected".to_owned(), view::Tone::Success),
                };
                IntegrationState {
                    id: &i.id,
                    kind: i.kind,
                    label: i.label_or_id(),
                    connected,
                    health,
                    word,
                    tone,
                    access: Access { granted, hosts: grants::hosts(&patterns), patterns },
                    who: if connected { self.identity(&i.id) } else { None },
                    client_secret: match &i.auth {
                        AuthKind::OAuth { .. } if self.settings().server.is_some() => Some("server"),
                        AuthKind::OAuth { .. } => self.oauth_client(&i.id, "").ok().and_then(|c| {
                            self.credentials.client_secret(&i.id, i.kind, &c.client_id, &c.endpoints.token_url).map(|(_, from)| from)
                        }),
                        AuthKind::ApiToken => None,
                    },
                    asks_token_url: self.settings().server.is_none(),
                    api_base: i.api_base(),
                    unique_marker: crate::settings::unique_marker_field(i.kind),
                }
            })
            .collect();
        let connected = |id: &IntegrationId| self.is_connected(id);
        let pages = self
            .settings()
            .softphone_pages
            .iter()
            .filter_map(|page| {
                let pattern = crate::web::page_pattern(page)?;
                Some(PageGrant { granted: self.grants.pages.contains(&pattern), page, pattern })
            })
            .collect();
        Answer::with(&StateView {
            integrations,
            pages,
            badge: self.badge(self.engine.now()),
            unresolved: engine.unresolved_count(),
            digest: engine.digest_meta(),
            checklist: grants::checklist(self.settings(), &connected, &self.grants),
            wanted: self.wanted(),
            storage_full: self.diagnostics.storage_full,
            server: self.outbox_status(),
        })
    }

    /// The toolbar badge's text ("" hides it): slots that need a person, and inputs the
    /// module trapped on in the last week; "!" while the browser refuses writes for lack of
    /// space (nothing new can be kept, so nothing else counts).
    pub fn badge(&self, now: Timestamp) -> String {
        if self.diagnostics.storage_full.is_some() {
            return "!".into();
        }
        let slots: Vec<Slot> = self.engine.slots().cloned().collect();
        let parked = self.diagnostics.parked.iter().filter(|p| now.since(Timestamp(p.at)) < PARKED_ON_BADGE_MS).count();
        view::badge(&slots, parked)
    }

    /// Every slot waiting for a person, with its candidates.
    pub fn unresolved_view(&self) -> Answer {
        let engine = &self.engine;
        let slots: Vec<Slot> = engine.slots().cloned().collect();
        let calls: Vec<CallEntry> = slots.iter().filter_map(|s| s.call_id()).filter_map(|id| engine.call(id).cloned()).collect();
        Answer::with(&view::unresolved(&slots, &calls, self.settings()))
    }

    /// A call's slots as stored, with the engine's live copies in their place (newer, and they
    /// know which slots have a request in flight).
    pub fn live_slots(&self, mut stored: Vec<Slot>) -> Vec<Slot> {
        for s in &mut stored {
            if let Some(live) = self.engine.slot(&s.key) {
                *s = live.clone();
            }
        }
        stored
    }

    /// One call's view, in the integrations this engine logs (in server mode not the server's:
    /// the server's view of them is `Intent::ServerCall`, `Intent::ServerHistory`).
    pub fn call_view(&self, entry: &CallEntry, slots: &[Slot], now: Timestamp) -> view::CallView {
        view::call_view(entry, slots, self.engine.settings(), now)
    }

    /// How many call records a history request reads: filters drop rows, so read more than
    /// asked (and stop once enough rows pass).
    pub fn history_read(limit: Option<u32>, unlogged_only: bool, query: &str) -> (usize, usize) {
        let limit = limit.unwrap_or(100).clamp(1, 1000) as usize;
        let read = if unlogged_only || !query.trim().is_empty() { (limit * 5).min(5000) } else { limit };
        (read, limit)
    }

    // ---- plumbing --------------------------------------------------------------------------

    fn push(&mut self, e: Effect) {
        self.effects.push_back(e);
        self.queued += 1;
    }

    fn drop_queued(&mut self) {
        self.effects.clear();
        let unsaved = self.credentials.drop_unsaved();
        self.rewrite.extend(unsaved);
        if self.queued > self.executed {
            self.dropped.push((self.executed, self.queued));
        }
        self.executed = self.queued;
    }

    fn record_engine_problem(&mut self, p: &Problem, now: Timestamp) {
        self.record_problem(p.kind.as_str(), &p.detail, now);
    }
}

/// Every CRM's regions as JSON, written by hand from constants (a serde serializer for this
/// one nested shape would cost the module more than the loop).
fn regions_json() -> Option<Box<RawValue>> {
    let mut json = String::from("{");
    for k in CrmKind::ALL {
        json.push_str(if json.len() > 1 { ",\"" } else { "\"" });
        json.push_str(oauth::key(k));
        json.push_str("\":[");
        for (n, (value, label)) in oauth::regions(k).iter().enumerate() {
            for part in [if n > 0 { ",[\"" } else { "[\"" }, value, "\",\"", label, "\"]"] {
                json.push_str(part);
            }
        }
        json.push(']');
    }
    json.push('}');
    RawValue::from_string(json).ok()
}

/// The rep's email as kept beside a shared token's identity, to notice when it changes:
/// trimmed and folded with [`crate::model::fold`], not `to_lowercase` (whose Unicode tables
/// are about 12 KB of the module); the same for every ASCII address.
fn email_key(email: &str) -> String {
    crate::model::fold(email.trim())
}

/// Whether `op` creates a record, which must carry the rep as its owner.
fn needs_owner(op: &CrmOp) -> bool {
    matches!(op, CrmOp::CreateCallLog { .. } | CrmOp::CreateContact { .. } | CrmOp::CreateMessageLog { .. })
}

/// Where `id`'s secret may be sent under `settings`: its API origin and, with OAuth, its token
/// URL's origin, or in server mode the server's (the refresh token goes to its broker). `None`
/// when the integration is not configured or its URL is not one a secret may go to.
pub fn binding(settings: &Settings, id: &IntegrationId) -> Option<credentials::Binding> {
    let integ = settings.integrations.iter().find(|i| &i.id == id)?;
    let token = match (&integ.auth, &settings.server) {
        (AuthKind::ApiToken, _) => None,
        (AuthKind::OAuth { .. }, Some(link)) => Some(crate::settings::origin(&link.url)?),
        (AuthKind::OAuth { .. }, None) => Some(crate::settings::origin(&integ.oauth_endpoints().token_url)?),
    };
    Some(credentials::Binding { api: crate::settings::origin(&integ.api_base())?, token })
}

/// Zoho's accounts server a connection is made at (its token URL without `/oauth/v2/token`),
/// for the broker to redeem and refresh at the same data centre.
fn zoho_accounts_server(client: &OAuthClient) -> Option<String> {
    (client.kind == CrmKind::Zoho).then(|| client.endpoints.token_url.trim_end_matches('/').trim_end_matches("/oauth/v2/token").to_owned())
}

/// The settings in force never hold the rep's server token (the credentials do).
fn without_rep_token(s: &mut Settings) {
    if let Some(link) = s.server.as_mut() {
        link.token.clear();
    }
}

/// FNV-1a over a message's JSON text: the same message re-sent has the same one.
fn fingerprint(message: &str) -> String {
    let h = message.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{h:016x}")
}

/// The answer to a parked input, and to [`Driver::poisoned`].
#[derive(Serialize)]
pub struct Parked {
    pub parked: bool,
    pub traps: u64,
}

/// What a relayed softphone message became (the bridge hands `event` to the panel).
#[derive(Serialize)]
struct Relayed<'a> {
    accepted: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    repeat: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignored: bool,
    event: &'a gate::Seen,
    /// A message to post back to the frame the event came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<&'a Value>,
}

/// A test search's answer: who is connected (`user`, or `note` saying why nobody owns the
/// records) and how many contacts the search found.
#[derive(Serialize)]
struct Reachable {
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    matches: Option<usize>,
    who: Option<Identity>,
}

/// The header every page shows.
#[derive(Serialize)]
struct StateView<'a> {
    integrations: Vec<IntegrationState<'a>>,
    /// The rep's softphone pages and whether the browser lets the bridge run there.
    pages: Vec<PageGrant<'a>>,
    badge: String,
    unresolved: usize,
    digest: &'a crate::engine::DigestMeta,
    checklist: Vec<grants::Item>,
    wanted: grants::Wanted,
    /// Since when writes are refused for lack of space (see [`Diagnostics::storage_full`]).
    storage_full: Option<i64>,
    /// Server mode: what waits to be forwarded ("queued for server (n)").
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<outbox::Status>,
}

#[derive(Serialize)]
struct IntegrationState<'a> {
    id: &'a IntegrationId,
    kind: crate::model::CrmKind,
    label: String,
    connected: bool,
    health: Option<&'a crate::engine::Health>,
    /// How it stands, in words and a tone, for the settings page.
    word: String,
    tone: view::Tone,
    access: Access,
    /// Who the connection acts as (the owner of what is logged), or why nobody.
    who: Option<Identity>,
    /// Where the company's OAuth client secret comes from (`settings`, `policy`, or `server`:
    /// the Calltrail server's broker holds it), if there is one that may be sent; never the secret.
    client_secret: Option<&'static str>,
    /// Whether the options page asks for the vendor's token URL: not in server mode, where the
    /// server's broker exchanges and refreshes at the one registered there (`Driver::broker_url`).
    asks_token_url: bool,
    /// The API base in use (from the vendor and region when the settings leave it blank).
    api_base: String,
    /// Where the CRM can refuse a duplicate call log: what to enter as `marker_field`.
    unique_marker: Option<&'static str>,
}

#[derive(Serialize)]
struct PageGrant<'a> {
    page: &'a str,
    pattern: String,
    granted: bool,
}

/// Whether the browser lets the worker reach the integration's API hosts.
#[derive(Serialize)]
struct Access {
    /// `None` until the shell reported it.
    granted: Option<bool>,
    patterns: Vec<String>,
    hosts: String,
}

/// A zone the platform does not know, as a settings refusal pointing at the field.
fn unknown_zone(u: &UnknownZone) -> SettingsError {
    let field = match u.setting {
        "quiet_time_zone" => FieldPath::keys(&["digest", "quiet_time_zone"]),
        other => FieldPath::keys(&[other]),
    };
    SettingsError::Invalid { field, problem: format!("{} is not a time zone this browser knows", u.zone) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::{Exchange, HttpResponse, Method};
    use crate::model::CrmKind;
    use crate::settings::IntegrationSettings;

    const NOW: Timestamp = Timestamp(1_781_107_200_000);

    fn driver() -> Driver {
        let integ: IntegrationSettings = serde_json::from_str(r#"{ "id": "hs", "kind": "hubspot", "base_url": "https://api.hubapi.com" }"#).unwrap();
        let settings = Settings { integrations: vec![integ], ..Settings::default() };
        let secrets = [Record::encode("hs", false, NOW.0, &StoredSecret::api_token("t"))];
        Driver::new(settings, Value::Null, &secrets, EngineOptions::default(), Box::new(crate::zone::FixedZones::standard()), NOW)
    }

    fn exchange() -> Exchange {
        let request = crm::HttpRequest { method: Method::Get, url: "https://api.hubapi.com/x".into(), headers: vec![], body: None };
        Exchange { request, reply: Reply::Response(HttpResponse { status: 200, headers: vec![], body: "{}".into() }) }
    }

    /// A conversation that has already spent its exchanges, one step from asking for more.
    fn spent(op: CrmOp, driver: &mut Driver) -> Conversation {
        let mut conv = driver.conversation(IntegrationId::new("hs"), op);
        assert!(matches!(driver.step(&mut conv, NOW), Next::Fetch(_)));
        conv.sent = None;
        conv.history = vec![exchange(); MAX_EXCHANGES];
        conv
    }

    #[test]
    fn an_over_long_conversation_is_unknown_for_a_write_and_transient_for_a_read() {
        let mut d = driver();
        let phone = E164::parse("+12125550100", crate::phone::Country::US).unwrap();
        let mut read = spent(CrmOp::SearchContacts { phone }, &mut d);
        assert!(matches!(d.step(&mut read, NOW), Next::Done(Err(CrmError::Transient { .. }))));
        let marker = crm::Marker("calltrail:placeholder|hs|+12125550100".into());
        let mut write = spent(CrmOp::CreateContact { name: "New Lead".into(), phone, marker }, &mut d);
        assert!(matches!(d.step(&mut write, NOW), Next::Done(Err(CrmError::Unknown { .. }))));
        assert_eq!(d.settings().integrations[0].kind, CrmKind::HubSpot);
    }

    #[test]
    fn a_policy_that_cannot_be_applied_is_a_problem_and_the_rep_settings_stay() {
        let mut d = driver();
        d.set_policy(serde_json::json!({ "digest": 3 }), NOW);
        assert_eq!(d.diagnostics().problem_counts.get("policy_invalid"), Some(&1));
        assert_eq!(d.settings().integrations.len(), 1);
    }
}
