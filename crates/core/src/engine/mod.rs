//! The logging engine: a state machine with no I/O (quinn-proto / str0m style).
//!
//! ```text
//! engine.handle(input, now)   // Input: past-tense facts
//! engine.poll_effect()        // Effect: imperative instructions, drained to None
//! engine.next_deadline()      // when the shell should wake it next (one alarm)
//! ```
//!
//! The engine never reads a clock, a time zone of the machine, randomness, storage or the
//! network: `now` is a parameter, attempt and request ids come from the boot id handed in by
//! [`Input::Restored`] and a counter, and the state it starts from is the [`Snapshot`] the shell
//! read with [`Engine::restore_query`].
//!
//! # Effect-order contract with the shell
//! - The shell executes effects in the order they are drained.
//! - An [`Effect::Persist`] must have completed (committed, with the batch's durability) before
//!   any later effect starts. [`Effect::Crm`] effects may run concurrently with each other.
//! - Therefore a create request for a slot is always preceded, in the drained order, by the
//!   strict `Persist` that moved the slot to `Attempting` with the request's attempt id (I4).
//! - Every CRM effect is answered by exactly one [`Input::CrmDone`] with its `req`, unless the
//!   worker dies first; then the next boot's [`Input::Restored`] takes over (a create whose reply
//!   never came is reconciled with `FindLog`, never blindly repeated).
//! - The shell acknowledges an input to its sender (the softphone page, an extension page) only
//!   once every effect drained after it has been executed; a sender re-sends an input that was
//!   not acknowledged (the worker died), and the engine treats the repeat as a duplicate (I5/I8).
//! - Notices follow the batch that made them true, never precede it.
//! - After every `Restored` the engine emits [`Effect::WakeAt`] before it goes idle (I17), and
//!   again whenever its next deadline changes. The shell keeps one alarm at the latest `WakeAt`;
//!   late, doubled or lost alarms are harmless because windows come from the ledger and `now`.
//!
//! # Persisted records (what the IndexedDB shell stores)
//! - `calls/<call id>`: a [`CallEntry`]; `at` = end (or start) time; `open` while the call is in
//!   progress or has open slots.
//! - `slots/<slot key>`: a [`Slot`] (see [`slot::SlotKey`] for keys); `at` = the call's end;
//!   `open` while the engine still has work for it (or a person must act: unresolved, review).
//! - `messages/<message id>`: a [`crate::model::Message`]; `at` = its time.
//! - `contacts/ph|<integration>|<number>`: a placeholder contact ([`placeholder::CachedPlaceholder`]), open.
//! - `audit/<time>|<boot>|<seq>`: an [`AuditEntry`].
//! - `meta/digest` ([`records::DigestMeta`]) and `meta/health|<integration>` ([`retry::Health`]).
//!
//! Ledger transitions are [`Durability::Strict`]; a batch that only carries audit entries,
//! message copies or meta bookkeeping is relaxed.

/// Whether the planted bug `$bug` is on: false, and compiled away, in every build without the
/// `planted-bugs` feature.
macro_rules! planted {
    ($engine:expr, $bug:ident) => {{
        #[cfg(feature = "planted-bugs")]
        let on = $engine.opts.planted == Some($crate::engine::PlantedBug::$bug);
        #[cfg(not(feature = "planted-bugs"))]
        let on = false;
        on
    }};
}

pub mod audit;
pub mod conflict;
pub mod digest;
pub mod hygiene;
pub mod messages;
pub mod placeholder;
pub mod records;
pub mod repeat;
pub mod retry;
pub mod shared;
pub mod slot;
mod table;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::crm::{self, CallLog, CrmError, CrmOp, CrmOutput, LogHint, LogWhat, MessageLog};
use crate::model::{
    Call, CallId, Contact, ConversationId, CrmKind, IntegrationId, Message, RecordId, Timestamp,
};
use crate::phone::E164;
use crate::settings::{ConflictRule, IntegrationSettings, Settings};
use crate::store::{Batch, Durability, Record, RestoreQuery, Snapshot, StoreName, Write};
use crate::zone::{ZoneTable, Zones};

pub use audit::AuditEntry;
pub use records::{CallEntry, CallMatches, DigestMeta};
pub use retry::Health;
pub use slot::{Mode, Slot, SlotKey, SlotState, Subject, Target, Trigger};

impl crate::softphone::KnownCalls for Engine {
    fn known_call(&self, id: &CallId) -> Option<&Call> {
        self.calls.get(id).map(|e| &e.call)
    }
}

/// The id of one CRM request, unique within a boot (boot id in the high bits).
pub type ReqId = u64;

/// Facts the shell reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The first input after every worker start: what [`Engine::restore_query`] read, the
    /// settings in force, the offsets of the zones they name, and a boot id unique to this start
    /// (random in the shell).
    Restored { snapshot: Snapshot, settings: Settings, zones: Zones, boot_id: u64 },
    SettingsChanged(Settings),
    /// New offset tables (the settings name another zone, or the old tables run out). Handed in
    /// before the settings that need them.
    ZonesChanged(Zones),
    CallRinging(Call),
    CallStarted(Call),
    CallUpdated(Call),
    CallEnded(Call),
    /// What a softphone's logger or call log says of a call (RingCentral's `/callLogger`, a
    /// vendor's completion or recording event), merged into the call as it is known: it fills
    /// times that are missing (the broadcast events' own times win), and its result, recording,
    /// voicemail, AI note, transcript and notes win. A call it names with an end is over; a
    /// call Calltrail has logged already gets its logs rewritten once with the new content.
    /// `manual`: the rep pressed the softphone's "log" button: a manual log in every integration.
    CallDetails { call: Call, manual: bool },
    NotesOpened { call: CallId },
    NotesSaved { call: CallId, notes: String },
    NotesCancelled { call: CallId },
    /// Active-call logging: the rep picked these matched contacts in `integration`. Only
    /// contacts among the call's matches in that integration ([`CallEntry::matches`]) are
    /// accepted; otherwise [`Notice::PicksRefused`] says why and nothing changes.
    ContactsPicked { call: CallId, integration: IntegrationId, contacts: Vec<Contact> },
    LogNowRequested { call: CallId },
    /// Manual logging from the history. `stored` holds the call's records (`calls/<id>` and
    /// `slots/call|<id>|*`) when the call is older than what a restore reads; empty otherwise.
    ManualLogRequested { call: CallId, integrations: Vec<IntegrationId>, stored: Snapshot },
    MessageReceived(Message),
    CrmDone { req: ReqId, result: Result<CrmOutput, CrmError> },
    /// The shell's alarm fired (it may be late, doubled, or a previous one may have been lost).
    AlarmFired,
    /// "Sync now": a digest run at any hour, reported with [`Notice::DigestDone`].
    DigestRequested,
    UnresolvedResolved { resolutions: Vec<(SlotKey, Resolution)> },
    CredentialsChanged { integration: IntegrationId },
    /// Whether the shell can reach the integration's CRM at all, whatever its credentials (the
    /// browser's permission for its API hosts). `missing`: what is missing, in words for the
    /// rep; the integration holds its work, as after a 401. `None`: it can again, and resumes.
    AccessChanged { integration: IntegrationId, missing: Option<String> },
}

/// How a person resolved one unresolved slot.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "choice", rename_all = "snake_case")]
pub enum Resolution {
    Contacts { ids: Vec<RecordId> },
    ApplyRule { rule: ConflictRule },
    CreatePlaceholder,
    Dismiss,
}

/// `Resolution` is read tag first, by `crate::tagged` (see there why), through this mirror.
#[derive(Deserialize)]
#[serde(remote = "Resolution", rename_all = "snake_case")]
enum ResolutionDe {
    Contacts { ids: Vec<RecordId> },
    ApplyRule { rule: ConflictRule },
    CreatePlaceholder,
    Dismiss,
}

impl<'de> Deserialize<'de> for Resolution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::tagged::read(d, "Resolution", "choice", |t| ResolutionDe::deserialize(t))
    }
}

/// Instructions for the shell (see the effect-order contract above). A CRM request is boxed:
/// it is many times the size of every other effect.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Persist(Batch),
    Crm(Box<CrmRequest>),
    WakeAt(Timestamp),
    Notify(Notice),
    Problem(Problem),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrmRequest {
    pub req: ReqId,
    pub integration: IntegrationId,
    pub kind: CrmKind,
    pub slot: SlotKey,
    pub trigger: Trigger,
    /// For creates: the attempt id the preceding strict `Persist` recorded.
    pub attempt: Option<String>,
    pub op: CrmOp,
}

/// What the pages should show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// `state`: [`SlotState::name`].
    SlotChanged { slot: SlotKey, integration: IntegrationId, state: std::borrow::Cow<'static, str>, records: Vec<RecordId> },
    UnresolvedCount { count: usize },
    IntegrationParked { integration: IntegrationId, reason: String },
    IntegrationResumed { integration: IntegrationId },
    ManualAccepted { call: CallId, integration: IntegrationId },
    ManualRefused { call: CallId, integration: IntegrationId, reason: String },
    /// Contacts matching the call's other party in `integration` (the call pop, or the hang-up
    /// search): what the panel offers for active-call picks.
    CallMatches { call: CallId, integration: IntegrationId, contacts: std::sync::Arc<[Contact]> },
    /// Active-call picks refused (contacts not among the matches, unknown call, too late).
    PicksRefused { call: CallId, integration: IntegrationId, reason: String },
    /// A resolution of the unresolved queue refused (the slot left the queue, contacts not
    /// among its candidates); nothing changed for that slot.
    ResolutionRefused { slot: SlotKey, reason: String },
    /// The softphone pages the browser lets Calltrail run on changed (match patterns). Emitted
    /// by the driver, which hears of the browser's grants; the pages re-read their state.
    PagesAllowed { pages: Vec<String> },
    /// A digest run finished; `sync` when the rep asked for it. `report` says, per
    /// integration, what it logged and why anything it covered is not logged yet.
    DigestDone { sync: bool, started_at: Timestamp, logged: Vec<(SlotKey, Vec<RecordId>)>, report: Vec<RunReport> },
}

/// One integration's part of a digest run's answer: how many slots it logged, what holds the
/// integration back (not connected, the CRM's `Retry-After`), and each slot the run covered
/// that is not logged, with the reason in words and when it will be tried again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub integration: IntegrationId,
    pub label: String,
    pub logged: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    pub unlogged: Vec<Unlogged>,
}

/// A slot a run covered and did not log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unlogged {
    pub slot: SlotKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallId>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    NotRestored,
    BadInput,
    Duplicate,
    UnknownCall,
    UnknownIntegration,
    UnknownRequest,
    UnknownSlot,
    UnexpectedReply,
    BadSettings,
}

impl ProblemKind {
    /// The name serde gives it (the diagnostics page counts problems by it).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::NotRestored => "not_restored",
            ProblemKind::BadInput => "bad_input",
            ProblemKind::Duplicate => "duplicate",
            ProblemKind::UnknownCall => "unknown_call",
            ProblemKind::UnknownIntegration => "unknown_integration",
            ProblemKind::UnknownRequest => "unknown_request",
            ProblemKind::UnknownSlot => "unknown_slot",
            ProblemKind::UnexpectedReply => "unexpected_reply",
            ProblemKind::BadSettings => "bad_settings",
        }
    }
}

/// Knobs for tests and the simulator; the defaults are the product's.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineOptions {
    pub max_inflight_per_integration: usize,
    /// Failed tries before a slot is `Failed` (I15).
    pub max_attempts: u32,
    /// Failed marker lookups before a slot needs review.
    pub max_reconcile_checks: u32,
    /// How long an inbound call that ended unanswered waits before it is decided (missed, not
    /// the rep's, or answered on another device): [`shared::BROWSER_UNANSWERED_SETTLE_MS`] in
    /// the browser, whose softphone reports one device's view; 0 where the facts are the
    /// rep's already (the server, tests).
    pub unanswered_settle_ms: i64,
    /// A deliberately planted bug, so the simulator's tests can prove it catches each one. Only
    /// in builds with the `planted-bugs` feature, which only the tests turn on.
    #[cfg(feature = "planted-bugs")]
    pub planted: Option<PlantedBug>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_inflight_per_integration: 4,
            max_attempts: 8,
            max_reconcile_checks: 5,
            unanswered_settle_ms: 0,
            #[cfg(feature = "planted-bugs")]
            planted: None,
        }
    }
}

/// The bugs the simulator's tests plant, one at a time, to prove it catches each.
#[cfg(feature = "planted-bugs")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// Send creates without persisting `Attempting` first.
    SkipAttemptingWrite,
    /// Create again after an unknown outcome without looking for the marker.
    BlindRetryAfterUnknown,
    /// Run the digest whatever the hour.
    IgnoreQuietHours,
    /// Keep CRM error text as it came (tokens and numbers included).
    RawCrmErrors,
    /// Write ledger transitions with relaxed durability.
    RelaxedLedger,
}

#[derive(Clone, Debug)]
enum OpKind {
    Search,
    /// The call pop for `call`; `feeds` once the call's slot waits for this answer instead of
    /// searching itself.
    Pop { call: CallId, feeds: bool },
    /// `rev`: the messages (conversation) or notes revision (call) the create carries.
    Create { target: usize, rev: usize },
    CreateContact,
    Find { target: usize },
    Update { target: usize, count: usize },
}

#[derive(Clone, Debug)]
struct InFlight {
    slot: SlotKey,
    integration: IntegrationId,
    what: OpKind,
}

#[derive(Clone, Debug, Default)]
struct Run {
    started_at: Timestamp,
    sync: bool,
    enrolled: BTreeSet<SlotKey>,
    /// Every slot the run took on (enrolled, or made due by "sync now"), for its report.
    covered: BTreeSet<SlotKey>,
    logged: Vec<(SlotKey, Vec<RecordId>)>,
    /// Slots saved or answered since the last check: only they can have settled, unless
    /// something integration-wide happened (`recheck_all`). Keeps a reply during a run of
    /// 10,000 slots from costing a scan of all 10,000.
    touched: BTreeSet<SlotKey>,
    recheck_all: bool,
}

/// The engine. See the module docs for the contract.
#[derive(Debug)]
pub struct Engine {
    opts: EngineOptions,
    settings: Settings,
    /// The offsets of the zones the settings name, from the shell.
    zones: Zones,
    restored: bool,
    boot: u64,
    counter: u64,
    audit_seq: u64,
    now: Timestamp,
    calls: BTreeMap<CallId, CallEntry>,
    slots: table::Slots,
    messages: BTreeMap<(ConversationId, String), Vec<Message>>,
    message_ids: BTreeSet<String>,
    placeholders: BTreeMap<(IntegrationId, E164), Contact>,
    /// Repeat callers' matches ([`repeat`]).
    recent: BTreeMap<(IntegrationId, E164), repeat::RecentMatch>,
    health: crate::vecmap::VecMap<IntegrationId, Health>,
    /// At most `max_inflight_per_integration` per integration: a sorted vector.
    inflight: crate::vecmap::VecMap<ReqId, InFlight>,
    /// Runnable slots per integration; [`Engine::pump`] serves integrations in id order.
    queue: crate::vecmap::VecMap<IntegrationId, VecDeque<SlotKey>>,
    timers: BTreeSet<(Timestamp, SlotKey)>,
    digest: DigestMeta,
    digest_due: Timestamp,
    run: Option<Run>,
    writes: Vec<Write>,
    /// Audit entries of the batch being staged, written at the flush (see [`Engine::audit`]).
    audits: Vec<AuditEntry>,
    /// Slots changed since the last flush: written once per batch, in their final state (a slot
    /// often changes two or three times while one input is handled), in key order.
    dirty: BTreeSet<SlotKey>,
    strict: bool,
    notices: Vec<Notice>,
    effects: VecDeque<Effect>,
    last_wake: Option<Timestamp>,
    force_wake: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineOptions::default())
    }
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Engine {
        Engine {
            opts,
            settings: Settings::default(),
            zones: Zones::default(),
            restored: false,
            boot: 0,
            counter: 0,
            audit_seq: 0,
            now: Timestamp(0),
            calls: BTreeMap::new(),
            slots: table::Slots::default(),
            messages: BTreeMap::new(),
            message_ids: BTreeSet::new(),
            placeholders: BTreeMap::new(),
            recent: BTreeMap::new(),
            health: crate::vecmap::VecMap::new(),
            inflight: crate::vecmap::VecMap::new(),
            queue: crate::vecmap::VecMap::new(),
            timers: BTreeSet::new(),
            digest: DigestMeta::default(),
            digest_due: Timestamp(0),
            run: None,
            writes: Vec::new(),
            audits: Vec::new(),
            dirty: BTreeSet::new(),
            strict: false,
            notices: Vec::new(),
            effects: VecDeque::new(),
            last_wake: None,
            force_wake: false,
        }
    }

    /// What the shell must read before [`Input::Restored`]: open records of every store, plus
    /// calls, slots and messages recent enough for any digest window. Never the whole history.
    pub fn restore_query(settings: &Settings, now: Timestamp) -> RestoreQuery {
        let d = &settings.digest;
        let reach_mins = i64::from(d.lookback_mins).max(i64::from(d.catch_up_max_hours) * 60) + 2 * 60;
        RestoreQuery {
            since: now.plus_mins(-reach_mins).0,
            recent_stores: vec![StoreName::Calls, StoreName::Slots, StoreName::Messages],
        }
    }

    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When the engine next has something to do without a new input.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        if !self.restored {
            return None;
        }
        let mut best = Some(self.digest_due);
        let mut consider = |t: Timestamp| best = Some(best.map_or(t, |b| b.min(t)));
        if let Some((t, _)) = self.timers.first() {
            consider(*t);
        }
        for (integ, q) in &self.queue {
            if q.is_empty() {
                continue;
            }
            if let Some(h) = self.health.get(integ) {
                if let (false, Some(t)) = (h.is_paused(), h.blocked_until) {
                    consider(t);
                }
            }
        }
        best
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The time of the last input.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn slot(&self, key: &str) -> Option<&Slot> {
        self.slots.get(key)
    }

    pub fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.values()
    }

    pub fn call(&self, id: &CallId) -> Option<&CallEntry> {
        self.calls.get(id)
    }

    /// What the engine knows of the contacts matching `number` in `integ`: the freshest matches
    /// a call with that party has (fresh as [`CallMatches::is_fresh`] says), and whether a call
    /// pop for such a call is still on its way.
    pub fn known_matches(&self, number: &E164, integ: &IntegrationId, now: Timestamp) -> (Option<std::sync::Arc<[Contact]>>, bool) {
        let mut best: Option<&CallMatches> = None;
        let mut popping = false;
        for (id, entry) in self.calls.iter().filter(|(_, e)| &e.call.their_number == number) {
            match entry.matches.get(integ) {
                Some(m) if m.is_fresh(now) && best.is_none_or(|b| b.at < m.at) => best = Some(m),
                Some(_) => {}
                None => popping |= self.inflight.values().any(|f| &f.integration == integ && matches!(&f.what, OpKind::Pop { call, .. } if call == id)),
            }
        }
        (best.map(|m| m.contacts.clone()), popping)
    }

    pub fn health(&self, integration: &IntegrationId) -> Option<&Health> {
        self.health.get(integration)
    }

    pub fn unresolved_count(&self) -> usize {
        self.slots.values().filter(|s| matches!(s.state, SlotState::Unresolved { .. })).count()
    }

    pub fn digest_meta(&self) -> &DigestMeta {
        &self.digest
    }

    /// Handles one input at `now`; then drain [`Engine::poll_effect`].
    pub fn handle(&mut self, input: Input, now: Timestamp) {
        if now < self.now {
            // A clock set back must not postpone the digest by the jump, as on a restore: the
            // runs it skipped, with quiet hours after them, let calls leave the catch-up window
            // never searched again (a contact added after the call pop went unlogged).
            let cap = now.plus_mins(i64::from(self.settings.digest.period_mins));
            self.digest_due = self.digest_due.min(cap);
        }
        self.now = now;
        if !self.restored && !matches!(input, Input::Restored { .. }) {
            self.problem(ProblemKind::NotRestored, "input before Restored ignored; the shell must restore first".into());
            return;
        }
        if let Some(run) = self.run.as_mut() {
            // Anything but a CRM reply may change many slots (or the clock) at once.
            run.recheck_all |= !matches!(input, Input::CrmDone { .. });
        }
        // A manual log, from a page or from the softphone's own log button (one call site).
        let mut manual = None;
        match input {
            Input::Restored { snapshot, settings, zones, boot_id } => self.on_restored(snapshot, settings, zones, boot_id),
            Input::SettingsChanged(s) => match s.validate() {
                Ok(()) => {
                    self.settings = s;
                    self.check_zones();
                    // A shorter window (or none) applies to what is kept at once.
                    self.prune_recent();
                }
                Err(e) => self.problem(ProblemKind::BadSettings, format!("settings refused: {e}")),
            },
            Input::ZonesChanged(z) => self.zones = z,
            Input::CallRinging(c) | Input::CallStarted(c) => {
                let id = c.id.clone();
                self.on_call(c, false);
                self.pop_call(&id);
            }
            Input::CallUpdated(c) => self.on_call(c, false),
            Input::CallEnded(c) => self.on_call(c, true),
            Input::CallDetails { call, manual: pressed } => {
                let id = call.id.clone();
                if self.on_details(call) && pressed {
                    let all = self.settings.integrations.iter().map(|i| i.id.clone()).collect();
                    manual = Some((id, all, Snapshot::default()));
                }
            }
            Input::NotesOpened { call } | Input::NotesCancelled { call } => self.on_notes(call, None),
            Input::NotesSaved { call, notes } => self.on_notes(call, Some(notes)),
            Input::ContactsPicked { call, integration, contacts } => self.on_picked(call, integration, contacts),
            Input::LogNowRequested { call } => self.on_log_now(call),
            Input::ManualLogRequested { call, integrations, stored } => manual = Some((call, integrations, stored)),
            Input::MessageReceived(m) => self.on_message(m),
            Input::CrmDone { req, result } => self.on_crm_done(req, result),
            Input::AlarmFired => {}
            Input::DigestRequested => self.run_digest(true),
            Input::UnresolvedResolved { resolutions } => self.on_resolved(resolutions),
            Input::CredentialsChanged { integration } => self.on_credentials(integration),
            Input::AccessChanged { integration, missing } => self.on_access(integration, missing),
        }
        if let Some((call, integrations, stored)) = manual {
            self.on_manual(call, integrations, stored);
        }
        self.tick();
        self.flush();
        self.emit_wake();
    }

    // ---- plumbing -------------------------------------------------------------------------

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn req_id(&mut self) -> ReqId {
        let n = self.next_id();
        (self.boot << 32) ^ n
    }

    fn problem(&mut self, kind: ProblemKind, detail: String) {
        self.effects.push_back(Effect::Problem(Problem { kind, detail }));
    }

    /// Notices wait for the batch that made them true: the pages never show a state that a
    /// crash could still undo.
    fn notify(&mut self, n: Notice) {
        if self.writes.is_empty() && self.dirty.is_empty() && self.audits.is_empty() {
            self.effects.push_back(Effect::Notify(n));
        } else {
            self.notices.push(n);
        }
    }

    fn stage(&mut self, store: StoreName, record: Record, strict: bool) {
        self.strict |= strict;
        self.writes.push(Write::Put { store, record });
    }

    /// Emits the staged writes as one batch. Called before every CRM effect (so intent is on
    /// disk before the request) and at the end of every input.
    fn flush(&mut self) {
        let slot_notices = self.stage_dirty();
        self.stage_audits();
        if !self.writes.is_empty() {
            let durability = if self.strict { Durability::Strict } else { Durability::Relaxed };
            let writes = std::mem::take(&mut self.writes);
            self.strict = false;
            self.effects.push_back(Effect::Persist(Batch { writes, durability }));
            let notices = std::mem::take(&mut self.notices);
            self.effects.extend(slot_notices.into_iter().chain(notices).map(Effect::Notify));
        }
    }

    fn emit_wake(&mut self) {
        let next = self.next_deadline();
        if next != self.last_wake || self.force_wake {
            if let Some(t) = next {
                self.effects.push_back(Effect::WakeAt(t));
            }
            self.last_wake = next;
            self.force_wake = false;
        }
    }

    /// Records a decision or an attempt in the audit trail, in the batch being staged.
    ///
    /// One entry per slot and batch: what the engine decided about a slot while handling one
    /// input (the call ended, it matched, the attempt that follows) is one entry whose outcome
    /// lists each step in order ("matched; attempt 1-9: creating"), with the contact when one
    /// was chosen. An entry that names a record (a log made) always stands alone, and so does
    /// an entry of another trigger.
    fn audit(&mut self, slot: Option<&SlotKey>, trigger: Trigger, outcome: impl Into<String>, contact: Option<RecordId>, record: Option<RecordId>) {
        let outcome = outcome.into();
        if let Some(key) = slot {
            let pending = self.audits.iter_mut().rev().find(|e| e.slot.as_ref() == Some(key));
            if let Some(e) = pending {
                let compatible = e.trigger == trigger && e.record.is_none() && record.is_none() && (e.contact.is_none() || contact.is_none() || e.contact == contact);
                if compatible {
                    e.outcome.push_str("; ");
                    e.outcome.push_str(&outcome);
                    if e.contact.is_none() {
                        e.contact = contact;
                    }
                    return;
                }
            }
        }
        let (integration, call) = match slot.and_then(|k| self.slots.get(k)) {
            Some(s) => (Some(s.integration.clone()), s.call_id().cloned()),
            None => (None, None),
        };
        self.audits.push(AuditEntry { at: self.now, trigger, integration, slot: slot.cloned(), call, contact, outcome, record });
    }

    /// An audit entry about a call in one integration that no slot stands for (the call pop).
    fn audit_call(&mut self, call: &CallId, integration: &IntegrationId, trigger: Trigger, outcome: String) {
        self.audits.push(AuditEntry {
            at: self.now,
            trigger,
            integration: Some(integration.clone()),
            slot: None,
            call: Some(call.clone()),
            contact: None,
            outcome,
            record: None,
        });
    }

    /// Moves the batch's audit entries into the staged writes (relaxed: the trail explains the
    /// ledger, it is not the ledger).
    fn stage_audits(&mut self) {
        for e in std::mem::take(&mut self.audits) {
            self.audit_seq += 1;
            let rec = e.to_record(self.boot, self.audit_seq);
            self.stage(StoreName::Audit, rec, false);
        }
    }

    /// Saves a call record without asking for strict durability: for caches on it (matches)
    /// that a power loss may take back without harm.
    fn save_call_relaxed(&mut self, id: &CallId) {
        self.stage_call(id, false);
    }

    /// Persists a slot's current state (strictly: it is the ledger) and tells the pages. The
    /// record is written at the next flush, in the slot's state then, and always before any
    /// effect that depends on it (every CRM effect flushes first).
    fn save_slot(&mut self, key: &SlotKey) {
        let Some(s) = self.slots.get(key) else { return };
        let open = s.is_open();
        let call = s.call_id().cloned();
        self.dirty.insert(key.clone());
        if let Some(run) = self.run.as_mut() {
            run.touched.insert(key.clone());
        }
        if let Some(call) = call {
            if !open {
                self.save_call_if_changed(&call);
            }
        }
    }

    /// Moves the changed slots into the staged writes; returns their notices.
    fn stage_dirty(&mut self) -> Vec<Notice> {
        let mut notices = Vec::new();
        for key in std::mem::take(&mut self.dirty) {
            let Some(s) = self.slots.get(&key) else { continue };
            notices.push(Notice::SlotChanged {
                slot: key.clone(),
                integration: s.integration.clone(),
                state: s.state.name().into(),
                records: s.records(),
            });
            let rec = s.to_record();
            let strict = !planted!(self, RelaxedLedger);
            self.stage(StoreName::Slots, rec, strict);
        }
        notices
    }

    fn call_is_open(&self, id: &CallId) -> bool {
        let Some(c) = self.calls.get(id) else { return false };
        if !c.ended {
            return true;
        }
        self.slots.of_call(id).any(|(_, s)| s.is_open())
    }

    fn save_call(&mut self, id: &CallId) {
        self.stage_call(id, true);
    }

    /// Stages the call's record as it is now, open or not, and remembers which it wrote so
    /// [`Engine::save_call_if_changed`] can tell. `strict` asks the batch the record goes in for
    /// strict durability.
    fn stage_call(&mut self, id: &CallId, strict: bool) {
        let open = self.call_is_open(id);
        if let Some(c) = self.calls.get_mut(id) {
            c.persisted_open = open;
            let rec = c.to_record(open);
            self.stage(StoreName::Calls, rec, strict);
        }
    }

    fn save_call_if_changed(&mut self, id: &CallId) {
        let open = self.call_is_open(id);
        if self.calls.get(id).is_some_and(|c| c.persisted_open != open) {
            self.save_call(id);
        }
    }

    fn integration(&self, id: &IntegrationId) -> Option<&IntegrationSettings> {
        self.settings.integrations.iter().find(|i| &i.id == id)
    }

    fn set_state(&mut self, key: &SlotKey, state: SlotState) {
        if let Some(s) = self.slots.get_mut(key) {
            s.state = state;
        }
    }

    /// Puts a slot where the scheduler will find it: the run queue when it can run now, a timer
    /// when it has a future due time. Stale entries are checked again when popped.
    fn enqueue(&mut self, key: &SlotKey) {
        let Some(s) = self.slots.get(key) else { return };
        if s.busy {
            return;
        }
        let due = match &s.state {
            SlotState::Waiting { due: Some(t) } => Some(*t),
            SlotState::Unknown { since, .. } => Some(self.reconcile_due(s, *since)),
            SlotState::Logged if s.is_dirty() => Some(s.update_due.unwrap_or(self.now)),
            _ => None,
        };
        let Some(due) = due else { return };
        if due <= self.now {
            self.queue.or_default(s.integration.clone()).push_back(key.clone());
        } else {
            self.timers.insert((due, key.clone()));
        }
    }

    fn reconcile_due(&self, s: &Slot, since: Timestamp) -> Timestamp {
        if let SlotState::Unknown { checks, .. } = &s.state {
            if *checks > 0 {
                // After a failed lookup the retry time is kept in `update_due`.
                return s.update_due.unwrap_or(self.now);
            }
        }
        let caps = self.caps(&s.integration);
        if caps.exact_marker_lookup {
            self.now
        } else {
            // A clock that jumped back must not stretch the wait beyond one lag.
            since.min(self.now).plus_ms(caps.search_lag_ms)
        }
    }

    fn caps(&self, integ: &IntegrationId) -> crm::Capabilities {
        match self.integration(integ) {
            Some(i) => crm::capabilities_with(i.kind, i.marker_field.is_some()),
            None => crm::capabilities(CrmKind::HubSpot),
        }
    }

    fn runnable(&self, s: &Slot) -> bool {
        if s.busy {
            return false;
        }
        match &s.state {
            SlotState::Waiting { due: Some(t) } => *t <= self.now,
            SlotState::Unknown { since, .. } => self.reconcile_due(s, *since) <= self.now,
            SlotState::Logged => s.is_dirty() && s.update_due.is_none_or(|t| t <= self.now),
            _ => false,
        }
    }

    fn quiet(&self) -> bool {
        !planted!(self, IgnoreQuietHours) && self.settings.digest.in_quiet_hours(self.quiet_zone(), self.now)
    }

    /// The offsets of the quiet-hours zone (UTC when the shell gave none: see `check_zones`).
    fn quiet_zone(&self) -> &ZoneTable {
        self.zones.get(&self.settings.digest.quiet_time_zone).unwrap_or(&crate::zone::UTC)
    }

    /// The calendar day of `at` in the conversation zone (one messages record per day).
    fn conversation_day(&self, at: Timestamp) -> String {
        let zone = self.settings.conversation_zone(&self.zones);
        self.zones.get(zone).unwrap_or(&crate::zone::UTC).date(at)
    }

    /// The zones the settings name must come with offsets (the driver hands them in first);
    /// one the shell did not give is a problem, and UTC stands in for it.
    fn check_zones(&mut self) {
        let mut missing = vec![self.settings.digest.quiet_time_zone.clone()];
        missing.extend(self.settings.conversation_time_zone.clone());
        missing.retain(|z| self.zones.get(z).is_none());
        for z in missing {
            self.problem(ProblemKind::BadSettings, format!("no offsets for time zone {z}: UTC used"));
        }
    }

    fn tick(&mut self) {
        while let Some((t, _)) = self.timers.first() {
            if *t > self.now {
                break;
            }
            if let Some((_, key)) = self.timers.pop_first() {
                if let Some(s) = self.slots.get(&key) {
                    self.queue.or_default(s.integration.clone()).push_back(key);
                }
            }
        }
        if self.now >= self.digest_due {
            if self.quiet() {
                self.digest_due = self.settings.digest.quiet_end(self.quiet_zone(), self.now);
            } else {
                self.run_digest(false);
            }
        }
        self.pump();
        self.check_run();
    }

    /// Starts requests for runnable slots, integration by integration in id order, as long as
    /// each integration is neither blocked (parked, Retry-After, backoff) nor at its limit of
    /// requests in flight.
    fn pump(&mut self) {
        let integs: Vec<IntegrationId> = self.queue.iter().filter(|(_, q)| !q.is_empty()).map(|(k, _)| k.clone()).collect();
        let limit = self.opts.max_inflight_per_integration.max(1);
        for integ in integs {
            if self.integration(&integ).is_none() {
                continue;
            }
            loop {
                let now = self.now;
                let h = self.health.or_default(integ.clone());
                if h.is_blocked(now) || h.inflight >= limit {
                    break;
                }
                let Some(key) = self.queue.get_mut(&integ).and_then(VecDeque::pop_front) else { break };
                let Some(s) = self.slots.get(&key) else { continue };
                if !self.runnable(s) {
                    // Stale, or no longer due because the clock went back: re-arm its timer.
                    self.enqueue(&key);
                } else if s.trigger == Trigger::Digest && self.quiet() {
                    let end = self.settings.digest.quiet_end(self.quiet_zone(), self.now);
                    self.timers.insert((end, key));
                } else {
                    self.issue(&key);
                }
            }
        }
    }

    /// Sends one CRM request for a slot, marking it busy until the answer comes. Whatever was
    /// staged (the `Attempting` transition above all) is flushed first: intent is committed
    /// before the request can start.
    fn send(&mut self, key: &SlotKey, what: OpKind, trigger: Trigger, attempt: Option<String>, op: CrmOp) {
        let Some(s) = self.slots.get_mut(key) else { return };
        s.busy = true;
        let integration = s.integration.clone();
        let kind = self.integration(&integration).map_or(CrmKind::HubSpot, |i| i.kind);
        let req = self.req_id();
        self.health.or_default(integration.clone()).inflight += 1;
        self.inflight.insert(req, InFlight { slot: key.clone(), integration: integration.clone(), what });
        self.flush();
        self.effects.push_back(Effect::Crm(Box::new(CrmRequest { req, integration, kind, slot: key.clone(), trigger, attempt, op })));
    }

    /// The call pop: searches every integration for the other party's number while the call
    /// rings, at most once per call and integration, never for an integration that is parked,
    /// rate-limited or already at its concurrency limit (hang-up then searches as usual).
    fn pop_call(&mut self, id: &CallId) {
        let Some(entry) = self.calls.get(id) else { return };
        if entry.ended {
            return;
        }
        let phone = entry.call.their_number;
        let limit = self.opts.max_inflight_per_integration.max(1);
        let integrations: Vec<(IntegrationId, CrmKind)> = self.settings.integrations.iter().map(|i| (i.id.clone(), i.kind)).collect();
        for (integ, kind) in integrations {
            let Some(entry) = self.calls.get_mut(id) else { return };
            if entry.matches.contains_key(&integ) || !entry.popped.insert(integ.clone()) {
                continue;
            }
            if let Some(contacts) = self.recent_match(&integ, &phone) {
                // A repeat caller: the panel shows the match of a moment ago, and hang-up uses it.
                self.remember_matches(id, &integ, &contacts, false);
                if let Some(m) = self.calls.get_mut(id).and_then(|e| e.matches.get_mut(&integ)) {
                    m.reused = true;
                }
                self.save_call_relaxed(id);
                self.audit_call(id, &integ, Trigger::Pop, format!("call pop: repeat caller, {} contact(s) from a match of the last minutes (no search)", contacts.len()));
                continue;
            }
            let h = self.health.or_default(integ.clone());
            if h.is_blocked(self.now) || h.inflight >= limit {
                continue;
            }
            h.inflight += 1;
            let req = self.req_id();
            let slot = format!("pop|{}|{}", id.as_str(), integ.as_str());
            self.inflight.insert(req, InFlight { slot: slot.clone().into(), integration: integ.clone(), what: OpKind::Pop { call: id.clone(), feeds: false } });
            self.flush();
            self.effects.push_back(Effect::Crm(Box::new(CrmRequest {
                req,
                integration: integ,
                kind,
                slot: slot.into(),
                trigger: Trigger::Pop,
                attempt: None,
                op: CrmOp::SearchContacts { phone },
            })));
        }
    }

    /// Makes the call pop in flight for `key`'s call and integration answer for the slot too;
    /// false when there is none.
    fn wait_for_pop(&mut self, call: &CallId, integ: &IntegrationId) -> bool {
        let pop = self.inflight.values_mut().find(|f| &f.integration == integ && matches!(&f.what, OpKind::Pop { call: c, .. } if c == call));
        match pop {
            Some(f) => {
                f.what = OpKind::Pop { call: call.clone(), feeds: true };
                true
            }
            None => false,
        }
    }

    /// Starts the next request for a runnable slot.
    fn issue(&mut self, key: &SlotKey) {
        let Some(s) = self.slots.get(key).cloned() else { return };
        match &s.state {
            SlotState::Unknown { target, .. } => {
                let hint = self.hint(&s, *target);
                let marker = s.marker_for(*target);
                self.send(key, OpKind::Find { target: *target }, Trigger::Reconcile, None, CrmOp::FindLog { marker, hint });
            }
            SlotState::Logged => {
                let Some(i) = s.targets.iter().position(|t| t.record.is_some() && t.synced < s.messages) else { return };
                let Some(record) = s.targets[i].record.clone() else { return };
                if let Subject::Call { call } = &s.subject {
                    // Notes saved after the log was made: rewrite it (an idempotent update).
                    let Some(c) = self.calls.get(call) else { return };
                    let log = CallLog { marker: s.marker_for(i), contact: s.targets[i].contact.clone(), call: c.call.clone(), timing: crm::Timing::AtHangUp };
                    let count = s.messages;
                    self.send(key, OpKind::Update { target: i, count }, s.trigger, None, CrmOp::UpdateCallLog { record, log });
                    return;
                }
                let Some((log, count)) = self.message_log(&s, i) else {
                    // The day's messages are older than what a restart reads (an update whose
                    // reply was lost for a day): say so rather than stay dirty for ever.
                    return self.fail(key, "the conversation log could not be brought up to date: its messages are older than a restart reads".into());
                };
                self.send(key, OpKind::Update { target: i, count }, s.trigger, None, CrmOp::UpdateMessageLog { record, log });
            }
            SlotState::Waiting { .. } => match &s.subject {
                Subject::Placeholder { number } => {
                    let template = self.integration(&s.integration).map_or_else(
                        || crate::settings::PlaceholderSettings::default().template,
                        |i| i.placeholder.template.clone(),
                    );
                    let op = CrmOp::CreateContact {
                        name: placeholder::name(&template, number),
                        phone: *number,
                        marker: s.marker_for(0),
                    };
                    let attempt = self.begin_attempt(key, 0);
                    self.send(key, OpKind::CreateContact, s.trigger, Some(attempt), op);
                }
                _ if s.targets.is_empty() => {
                    if let (Subject::Call { call }, false) = (&s.subject, s.mode == Mode::Manual) {
                        if let Some(c) = self.calls.get(call).map(|e| e.call.clone()) {
                            if self.settle_shared(key, &c, s.at) {
                                return;
                            }
                        }
                    }
                    let phone = match &s.subject {
                        Subject::Call { call } => self.calls.get(call).map(|c| c.call.their_number),
                        Subject::Messages { their_number, .. } => Some(*their_number),
                        Subject::Placeholder { number } => Some(*number),
                    };
                    match phone {
                        Some(phone) if self.reuse_recent(key, &phone) => {}
                        Some(phone) => self.send(key, OpKind::Search, s.trigger, None, CrmOp::SearchContacts { phone }),
                        None => self.fail(key, "the call's details are missing from the ledger".into()),
                    }
                }
                _ => {
                    let Some(i) = s.targets.iter().position(|t| t.record.is_none()) else {
                        self.set_state(key, SlotState::Logged);
                        self.save_slot(key);
                        return;
                    };
                    let op = match &s.subject {
                        Subject::Call { call } => match self.calls.get(call).map(|e| e.call.clone()) {
                            Some(c) if s.mode != Mode::Manual && self.wait_for_real_end(key, &c, s.at) => return,
                            Some(c) if self.wait_for_carrier(key, &c) => return,
                            Some(c) => {
                                let timing = shared::timing(&c, self.caps(&s.integration), self.now, s.last_error.is_none());
                                let log = CallLog { marker: s.marker_for(i), contact: s.targets[i].contact.clone(), call: c, timing };
                                CrmOp::CreateCallLog { log }
                            }
                            None => return self.fail(key, "the call's details are missing from the ledger".into()),
                        },
                        _ => match self.message_log(&s, i) {
                            Some((log, _)) => CrmOp::CreateMessageLog { log },
                            None => return self.fail(key, "the conversation's messages are missing: some are older than a restart reads".into()),
                        },
                    };
                    let rev = match &op {
                        CrmOp::CreateMessageLog { log } => log.messages.len(),
                        _ => s.messages,
                    };
                    let attempt = self.begin_attempt(key, i);
                    self.send(key, OpKind::Create { target: i, rev }, s.trigger, Some(attempt), op);
                }
            },
            _ => {}
        }
    }

    /// Moves a slot to `Attempting` and stages that transition (strict) with its audit entry;
    /// returns the attempt id for the create that always follows.
    fn begin_attempt(&mut self, key: &SlotKey, target: usize) -> String {
        let n = self.next_id();
        let attempt = format!("{:x}-{n}", self.boot);
        let now = self.now;
        if planted!(self, SkipAttemptingWrite) {
            // The planted bug must not be hidden by a write of this slot already staged.
            self.flush();
        }
        let (trigger, contact) = match self.slots.get_mut(key) {
            Some(s) => {
                s.state = SlotState::Attempting { attempt: attempt.clone(), target, started_at: now };
                (s.trigger, s.targets.get(target).map(|t| t.contact.id.clone()))
            }
            None => (Trigger::Auto, None),
        };
        if !planted!(self, SkipAttemptingWrite) {
            self.save_slot(key);
        }
        self.audit(Some(key), trigger, format!("attempt {attempt}: creating"), contact, None);
        attempt
    }

    fn hint(&self, s: &Slot, target: usize) -> LogHint {
        let contact = s.targets.get(target).map(|t| &t.contact);
        let (what, phone, at) = match &s.subject {
            Subject::Call { call } => {
                let c = self.calls.get(call);
                (LogWhat::Call, c.map(|c| c.call.their_number), c.map_or(s.at, |c| c.call.started_at))
            }
            Subject::Messages { their_number, .. } => (LogWhat::Messages, Some(*their_number), s.at),
            Subject::Placeholder { number } => (LogWhat::Contact, Some(*number), s.at),
        };
        LogHint { what, contact: contact.map(|c| c.id.clone()), contact_type: contact.map(|c| c.record_type.clone()), phone, at }
    }

    fn message_log(&self, s: &Slot, target: usize) -> Option<(MessageLog, usize)> {
        let Subject::Messages { conversation, day, kind, their_number, our_number } = &s.subject else { return None };
        let msgs = self.messages.get(&(conversation.clone(), day.clone()))?;
        // A restart reads messages back by time, not by day: a day that began before its reach
        // comes back short of the slot's count. Written short, the log would drop messages
        // from the CRM's record, and an update never reaching the count would be sent again at
        // once, for ever (a request storm). Short is as good as missing.
        if msgs.len() < s.messages {
            return None;
        }
        let t = s.targets.get(target)?;
        let log = MessageLog {
            marker: s.marker_for(target),
            contact: t.contact.clone(),
            kind: *kind,
            day: day.clone(),
            their_number: *their_number,
            our_number: *our_number,
            messages: msgs.clone(),
        };
        Some((log, msgs.len()))
    }

    fn fail(&mut self, key: &SlotKey, reason: String) {
        let trigger = self.slots.get(key).map_or(Trigger::Auto, |s| s.trigger);
        self.set_state(key, SlotState::Failed { reason: reason.clone() });
        self.save_slot(key);
        self.audit(Some(key), trigger, format!("failed: {reason}"), None, None);
        self.on_placeholder_settled(key);
    }

    // ---- run bookkeeping -----------------------------------------------------------------

    /// Whether a run is done with a slot: logged or closed, waiting for a person, or held back
    /// by its integration (not connected, or the CRM's `Retry-After`: the run's answer says so
    /// rather than wait it out).
    fn settled(&self, key: &SlotKey) -> bool {
        let Some(s) = self.slots.get(key) else { return true };
        let h = self.health.get(&s.integration);
        if h.is_some_and(Health::is_paused) {
            return true;
        }
        let told_to_wait = h.and_then(|h| h.retry_after_until).is_some_and(|t| t > self.now);
        !s.busy
            && match s.state {
                SlotState::Waiting { due: Some(_) } => told_to_wait,
                SlotState::Unknown { .. } | SlotState::WaitingPlaceholder { .. } | SlotState::Attempting { .. } => false,
                _ => !s.is_dirty(),
            }
    }

    fn check_run(&mut self) {
        let Some(mut run) = self.run.take() else { return };
        let touched = std::mem::take(&mut run.touched);
        let done: Vec<SlotKey> = if std::mem::take(&mut run.recheck_all) || touched.len() >= run.enrolled.len() {
            run.enrolled.iter().filter(|k| self.settled(k)).cloned().collect()
        } else {
            touched.into_iter().filter(|k| run.enrolled.contains(k) && self.settled(k)).collect()
        };
        for k in done {
            run.enrolled.remove(&k);
            if let Some(s) = self.slots.get(&k) {
                if s.state == SlotState::Logged {
                    run.logged.push((k.clone(), s.records()));
                }
            }
        }
        if !run.enrolled.is_empty() {
            self.run = Some(run);
            return;
        }
        self.digest.last_completed = Some(run.started_at);
        self.save_meta_digest();
        let trigger = if run.sync { Trigger::Sync } else { Trigger::Digest };
        self.audit(None, trigger, format!("digest run of {} done: {} logged", run.started_at, run.logged.len()), None, None);
        let report = self.report(&run);
        self.notify(Notice::DigestDone { sync: run.sync, started_at: run.started_at, logged: run.logged, report });
    }

    /// A run's answer, per integration in settings order.
    fn report(&self, run: &Run) -> Vec<RunReport> {
        let now = self.now;
        self.settings
            .integrations
            .iter()
            .map(|i| {
                let h = self.health.get(&i.id);
                let held = match h {
                    Some(h) if h.parked => Some("not connected: reconnect it in Settings".to_owned()),
                    Some(h) if h.no_access => Some("the browser does not let Calltrail reach it: allow it in Settings".to_owned()),
                    Some(Health { retry_after_until: Some(t), .. }) if *t > now => Some(format!("Retry-After {} s", (t.since(now) + 999) / 1000)),
                    _ => None,
                };
                let blocked = h.and_then(|h| h.blocked_until).filter(|t| *t > now);
                let mut logged = 0;
                let mut unlogged = Vec::new();
                for key in &run.covered {
                    let Some(s) = self.slots.get(key).filter(|s| s.integration == i.id) else { continue };
                    let err = s.last_error.clone();
                    let (reason, retry_at) = match &s.state {
                        SlotState::Logged => {
                            logged += 1;
                            continue;
                        }
                        SlotState::Waiting { due } => (
                            err.unwrap_or_else(|| if due.is_some() { "logging".into() } else { "waiting for the digest".into() }),
                            Some(due.unwrap_or(self.digest_due).max(blocked.unwrap_or(now))),
                        ),
                        SlotState::Unknown { since, .. } => (
                            format!("{}; looking for it in the CRM before trying again", err.unwrap_or_else(|| "outcome unknown".into())),
                            Some(self.reconcile_due(s, *since).max(blocked.unwrap_or(now))),
                        ),
                        SlotState::Attempting { .. } | SlotState::WaitingPlaceholder { .. } => ("logging".into(), None),
                        SlotState::NoMatch => ("no contact matches their number".into(), None),
                        SlotState::Unresolved { candidates } => (format!("{} contacts match: choose one", candidates.len()), None),
                        SlotState::Failed { reason } | SlotState::NeedsReview { reason } | SlotState::Skipped { reason } => (reason.clone(), None),
                        SlotState::Dismissed => ("dismissed".into(), None),
                    };
                    unlogged.push(Unlogged { slot: key.clone(), call: s.call_id().cloned(), reason, retry_at });
                }
                RunReport { integration: i.id.clone(), label: i.label_or_id(), logged, held, unlogged }
            })
            .collect()
    }

    /// "Sync now" means now: every integration's backoff is lifted (only a CRM's `Retry-After`
    /// and a 401's parking hold work back), and work waiting out a backoff (a failed retry, a
    /// failed marker lookup, an update) is due at once. Work waiting on a CRM's search lag
    /// after an unknown outcome keeps waiting (I7): the run's answer says until when.
    pub(super) fn sync_now(&mut self) -> Vec<SlotKey> {
        let now = self.now;
        let integs: Vec<IntegrationId> = self.health.keys().cloned().collect();
        for integ in integs {
            let Some(h) = self.health.get_mut(&integ) else { continue };
            let keep = h.retry_after_until.filter(|t| *t > now);
            if !h.is_paused() && h.blocked_until.is_some_and(|t| t > now) && h.blocked_until > keep {
                h.blocked_until = keep;
                self.save_health(&integ);
            }
        }
        let mut covered = Vec::new();
        let keys: Vec<SlotKey> = self.slots.iter().map(|(k, _)| k.clone()).collect();
        for key in keys {
            let Some(s) = self.slots.get_mut(&key) else { continue };
            if s.busy {
                continue;
            }
            let later = |t: Option<Timestamp>| t.is_some_and(|t| t > now);
            let changed = match &mut s.state {
                SlotState::Waiting { due } if later(*due) && s.last_error.is_some() => {
                    *due = Some(now);
                    true
                }
                SlotState::Unknown { checks, .. } if *checks > 0 && later(s.update_due) => {
                    s.update_due = Some(now);
                    true
                }
                SlotState::Logged if later(s.update_due) => {
                    s.update_due = Some(now);
                    true
                }
                SlotState::Unknown { .. } => {
                    covered.push(key.clone());
                    false
                }
                _ => false,
            };
            if changed {
                self.save_slot(&key);
                self.enqueue(&key);
                covered.push(key);
            }
        }
        covered
    }

    fn save_meta_digest(&mut self) {
        let rec = self.digest.to_record();
        self.stage(StoreName::Meta, rec, false);
    }

    fn save_health(&mut self, integ: &IntegrationId) {
        if let Some(h) = self.health.get(integ) {
            let rec = records::health_record(integ, h);
            self.stage(StoreName::Meta, rec, true);
        }
    }
}

/// Drops contacts whose id came earlier in the list (a CRM can list one twice across pages, a
/// page can name one twice).
fn dedup_by_id(contacts: &mut Vec<Contact>) {
    if contacts.len() > 1 {
        let mut seen = BTreeSet::new();
        contacts.retain(|c| seen.insert(c.id.clone()));
    }
}

mod calls;
mod ledger;
mod run;
