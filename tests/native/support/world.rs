//! The fake world: drives the engine like the shell does (effects in drained order, a Persist
//! completes before the next effect, CRM requests answered later), and can kill the worker
//! between any two effects. Trace-level invariants are checked on every CRM effect and
//! collected in `violations`.

use std::collections::{BTreeMap, BTreeSet};

use calltrail_core::crm::CrmOp;
use calltrail_core::driver::{Answer, Driver};
use calltrail_core::engine::{CrmRequest, Effect, Engine, EngineOptions, Input, Notice, Problem, SlotKey};
use calltrail_core::intents::PageInput;
use calltrail_core::model::{Call, CallId, CallResult, CrmKind, Direction, IntegrationId, Timestamp};
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::{IntegrationSettings, Settings};
use calltrail_core::store::{Durability, MemStore, Record, StoreName, Write};

use super::fake_crm::FakeCrm;
use super::zones::Tzdb;

#[derive(Clone, Debug)]
pub struct Sent {
    pub at: Timestamp,
    pub req: CrmRequest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    BeforeSend,
    AfterSend,
}

pub struct World {
    pub now: Timestamp,
    pub store: MemStore,
    /// The worker's memory: the driver and the engine inside it, as the service worker has them.
    pub driver: Driver,
    pub opts: EngineOptions,
    pub settings: Settings,
    pub crms: BTreeMap<IntegrationId, FakeCrm>,
    /// Requests sent and not yet answered.
    pub pending: Vec<Sent>,
    /// Every request ever sent.
    pub sent: Vec<Sent>,
    pub alarm: Option<Timestamp>,
    pub boot: u64,
    pub notices: Vec<Notice>,
    pub problems: Vec<Problem>,
    pub trace: Vec<String>,
    /// FNV-1a over every trace line (I20 compares it across runs of one seed).
    pub trace_hash: u64,
    /// Keep the trace lines themselves (scenarios) or only their hash (simulator).
    pub keep_trace: bool,
    wake_since_boot: bool,
    pub violations: Vec<String>,
    /// Answer requests as soon as they are sent (scenario tests); the simulator turns it off.
    pub auto_deliver: bool,
    /// Kill the worker before the effect with this index in the next drain (None: never).
    pub crash_before_effect: Option<usize>,
    /// Whether that kill is a power loss (relaxed batches since the last strict one are lost).
    pub crash_is_power_loss: bool,
    /// On a crash, whether writes in flight reached the CRM.
    pub crash_commits_writes: bool,
    /// Kill the worker at the next create: before it is sent, or just after (the CRM got it).
    pub crash_on_create: Option<CrashPoint>,
    pub restarts: usize,
    /// How far the machine's wall clock (what the engine sees) is off true time (what the CRMs
    /// see): a clock jump changes it.
    pub skew_ms: i64,
    /// Slots whose last create had an unknown outcome and that have not been looked up since.
    needs_find: BTreeSet<SlotKey>,
    /// No request to an integration before this, in true time (from 429 Retry-After we sent).
    retry_after: BTreeMap<IntegrationId, Timestamp>,
    /// Slots with a create in flight.
    creating: BTreeSet<SlotKey>,
    /// Relaxed batches since the last strict one, as undo records (what was there before):
    /// a power loss takes them back (I18, F13).
    relaxed_tail: Vec<Vec<(StoreName, String, Option<Record>)>>,
    pub power_losses: usize,
    /// I19: strings that must never appear in what the engine emits (tokens), and numbers
    /// (their digits) that must not appear in problems, audit outcomes, reasons or errors.
    pub secrets: Vec<String>,
    pub numbers: Vec<String>,
    /// Also scan the `Debug` text of every effect for the secrets (slow; planted-bug tests).
    pub full_hygiene_scan: bool,
    /// The machine's time zones (chrono-tz), with the zone the rep's machine reports.
    pub zones: Tzdb,
    /// I9: the contacts each CRM ever answered with (searches, placeholder creates): a create
    /// may only name one of them.
    returned: BTreeMap<IntegrationId, BTreeSet<String>>,
}

/// The tab the world's softphone page is in.
pub const TAB: i64 = 7;

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap_or_else(|| panic!("bad time {s}"))
}

pub fn e164(s: &str) -> E164 {
    E164::parse(s, Country::US).unwrap()
}

pub fn call(id: &str, number: &str, start: Timestamp, end: Timestamp) -> Call {
    Call {
        answered_at: Some(start),
        ended_at: Some(end),
        result: CallResult::Answered,
        ..Call::new(CallId::new(id), Direction::Inbound, e164(number), Some(e164("+12125550000")), start)
    }
}

pub fn integration(id: &str, kind: CrmKind) -> IntegrationSettings {
    IntegrationSettings::new(id, kind, format!("https://{id}.crm.example"))
}

/// The five integrations the scenarios use, one per CRM kind.
pub const INTEGRATIONS: [(&str, CrmKind); 5] = [
    ("hs", CrmKind::HubSpot),
    ("pd", CrmKind::Pipedrive),
    ("sf", CrmKind::Salesforce),
    ("zo", CrmKind::Zoho),
    ("cl", CrmKind::Clio),
];

fn is_create(op: &CrmOp) -> bool {
    matches!(op, CrmOp::CreateCallLog { .. } | CrmOp::CreateContact { .. } | CrmOp::CreateMessageLog { .. })
}

impl World {
    pub fn new(n: usize, now: Timestamp) -> World {
        Self::with(n, now, EngineOptions::default(), |_| {})
    }

    pub fn with(n: usize, now: Timestamp, opts: EngineOptions, tweak: impl FnOnce(&mut Settings)) -> World {
        let mut settings = Settings::default();
        for (id, kind) in INTEGRATIONS.iter().take(n) {
            settings.integrations.push(integration(id, *kind));
        }
        tweak(&mut settings);
        settings.validate().expect("test settings are valid");
        let crms = settings.integrations.iter().map(|i| (i.id.clone(), FakeCrm::new(i.kind, i.id.as_str()))).collect();
        let mut w = World {
            now,
            store: MemStore::new(),
            driver: Driver::new(settings.clone(), serde_json::Value::Null, &[], opts.clone(), Box::new(Tzdb::default()), now),
            opts,
            settings,
            crms,
            pending: Vec::new(),
            sent: Vec::new(),
            alarm: None,
            boot: 0,
            notices: Vec::new(),
            problems: Vec::new(),
            trace: Vec::new(),
            trace_hash: 0xcbf2_9ce4_8422_2325,
            keep_trace: true,
            wake_since_boot: true,
            violations: Vec::new(),
            auto_deliver: true,
            crash_before_effect: None,
            crash_is_power_loss: false,
            crash_commits_writes: true,
            crash_on_create: None,
            restarts: 0,
            skew_ms: 0,
            needs_find: BTreeSet::new(),
            retry_after: BTreeMap::new(),
            creating: BTreeSet::new(),
            relaxed_tail: Vec::new(),
            power_losses: 0,
            secrets: Vec::new(),
            numbers: Vec::new(),
            full_hygiene_scan: false,
            zones: Tzdb::default(),
            returned: BTreeMap::new(),
        };
        w.secrets = w.crms.values().map(|c| c.secret.clone()).collect();
        w.boot_engine();
        w
    }

    fn log(&mut self, line: String) {
        for b in line.bytes().chain([b'\n']) {
            self.trace_hash = (self.trace_hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        if self.keep_trace {
            self.trace.push(line);
        }
    }

    pub fn crm(&mut self, id: &str) -> &mut FakeCrm {
        self.crms.get_mut(&IntegrationId::new(id)).expect("known integration")
    }

    fn boot_engine(&mut self) {
        self.boot += 1;
        self.driver = Driver::new(self.settings.clone(), serde_json::Value::Null, &[], self.opts.clone(), Box::new(self.zones.clone()), self.now);
        let snap = self.store.restore(&self.driver.restore_query(self.now));
        for r in snap.records(StoreName::Slots) {
            if r.json().get("state").and_then(|s| s.get("state")).and_then(|s| s.as_str()) == Some("attempting") {
                self.needs_find.insert(r.key.as_str().into());
            }
        }
        let boot_id = 0x5eed_0000 + self.boot;
        self.log(format!("{} boot {boot_id}", self.now.0));
        self.wake_since_boot = false;
        self.driver.restore(snap, boot_id, self.now);
        self.drain();
        // I17: the restore's effects schedule a wake-up before the engine goes idle (unless
        // the worker died again while draining them, which boots once more).
        if !self.wake_since_boot {
            self.violations.push(format!("I17 no WakeAt after boot {boot_id}"));
        }
    }

    /// Kills the worker: memory and unanswered requests are gone; writes in flight reached the
    /// CRM when `crash_commits_writes`.
    pub fn restart(&mut self) {
        self.restarts += 1;
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            if is_create(&p.req.op) {
                self.needs_find.insert(p.req.slot.clone());
            }
            if self.crash_commits_writes && p.req.op.is_write() {
                let now = self.now.plus_ms(-self.skew_ms);
                if let Some(crm) = self.crms.get_mut(&p.req.integration) {
                    let _ = crm.apply(&p.req.op, now);
                }
            }
        }
        self.creating.clear();
        // Whatever was not fsynced survived this crash (the OS kept it).
        self.relaxed_tail.clear();
        self.log(format!("{} crash", self.now.0));
        self.boot_engine();
    }

    /// Power loss (F13): the relaxed batches since the last strict one are gone, then the
    /// worker restarts like after any crash.
    pub fn power_loss(&mut self) {
        self.power_losses += 1;
        for undo in std::mem::take(&mut self.relaxed_tail).into_iter().rev() {
            for (store, key, before) in undo.into_iter().rev() {
                let write = match before {
                    Some(record) => Write::Put { store, record },
                    None => Write::Delete { store, key },
                };
                self.store.apply(&calltrail_core::store::Batch { writes: vec![write], durability: Durability::Relaxed });
            }
        }
        self.log(format!("{} power loss", self.now.0));
        self.restart();
    }

    /// Sends an input as its sender would: if the worker dies before every effect of the input
    /// ran, the input was not acknowledged and the sender sends it again (alarms and CRM
    /// replies are not re-sent: they are lost with the worker).
    pub fn input(&mut self, input: Input) {
        let resend = !matches!(input, Input::AlarmFired | Input::CrmDone { .. } | Input::Restored { .. });
        let mut tries = 0;
        loop {
            let line = if self.keep_trace { short_input(&input) } else { String::new() };
            self.log(format!("{} in {line}", self.now.0));
            let restarts = self.restarts;
            self.driver.handle(input.clone(), self.now);
            self.drain();
            tries += 1;
            if !resend || self.restarts == restarts || tries > 5 {
                break;
            }
        }
        if self.auto_deliver {
            self.deliver_all();
        }
    }

    pub fn drain(&mut self) {
        let mut index = 0usize;
        while let Some(e) = self.driver.poll_effect() {
            if self.crash_before_effect == Some(index) {
                self.crash_before_effect = None;
                if self.crash_is_power_loss {
                    self.power_loss();
                } else {
                    self.restart();
                }
                return;
            }
            index += 1;
            if let (Effect::Crm(r), Some(point)) = (&e, self.crash_on_create) {
                if is_create(&r.op) {
                    self.crash_on_create = None;
                    if point == CrashPoint::AfterSend {
                        self.apply(e);
                    }
                    self.restart();
                    return;
                }
            }
            self.apply(e);
            self.driver.executed();
        }
    }

    /// The engine inside the worker's driver, for inspection.
    pub fn engine(&self) -> &Engine {
        self.driver.engine()
    }

    /// A softphone message as the bridge relays it: through the driver's gate, answered once
    /// its effects ran. A worker that dies meanwhile never answers, so the bridge sends it again.
    pub fn softphone(&mut self, origin: &str, from_frame: bool, data: &serde_json::Value) -> Answer {
        for _ in 0..5 {
            let restarts = self.restarts;
            self.log(format!("{} softphone {}", self.now.0, data.get("type").and_then(|t| t.as_str()).unwrap_or("?")));
            let relayed = self.driver.softphone(origin, from_frame, false, data, Some(TAB), self.now);
            let mut answer = relayed.answer;
            let ticket = self.driver.ticket();
            self.drain();
            if self.restarts == restarts && self.driver.is_done(ticket) {
                if self.auto_deliver {
                    self.deliver_all();
                }
                if let Some(id) = relayed.contacts {
                    answer = self.contacts_answer(id);
                }
                return answer;
            }
        }
        Answer::unsaved()
    }

    /// A softphone's contact request waiting for a call pop, as the shell answers it: the
    /// engine's requests are answered meanwhile, or the wait runs out.
    fn contacts_answer(&mut self, id: u64) -> Answer {
        for _ in 0..3 {
            if let Some(answer) = self.driver.contacts_answer(id, self.now) {
                return answer;
            }
            self.deliver_all();
        }
        self.now = self.now.plus_ms(calltrail_core::driver::REPLY_WAIT_MS);
        self.driver.contacts_answer(id, self.now).unwrap_or_else(Answer::unsaved)
    }

    /// An engine input a page sends (notes, picks, log now, manual log, resolutions), with
    /// the stored call read first when the driver needs it, as the shell does.
    pub fn page(&mut self, input: PageInput) -> Answer {
        let stored = match self.driver.stored_call_needed(&input) {
            Some(call) => {
                let mut snap = calltrail_core::store::Snapshot::default();
                if let Some(r) = self.store.get(StoreName::Calls, call.as_str()) {
                    snap.stores.push((StoreName::Calls, vec![r.clone()]));
                }
                let prefix = calltrail_core::engine::slot::call_slot_prefix(call);
                let slots: Vec<Record> = self.store.prefix(StoreName::Slots, &prefix);
                if !slots.is_empty() {
                    snap.stores.push((StoreName::Slots, slots));
                }
                snap
            }
            None => calltrail_core::store::Snapshot::default(),
        };
        self.log(format!("{} page {input:?}", self.now.0));
        let answer = self.driver.page_input(input, stored, self.now);
        self.drain();
        if self.auto_deliver {
            self.deliver_all();
        }
        answer
    }

    fn apply(&mut self, e: Effect) {
        match e {
            Effect::Persist(b) => {
                self.log(format!("{} persist {:?} {}", self.now.0, b.durability, b.writes.len()));
                self.check_hygiene_batch(&b);
                match b.durability {
                    Durability::Strict => self.relaxed_tail.clear(),
                    Durability::Relaxed => {
                        let undo = b
                            .writes
                            .iter()
                            .map(|w| {
                                let (store, key) = match w {
                                    Write::Put { store, record } => (*store, record.key.clone()),
                                    Write::Delete { store, key } => (*store, key.clone()),
                                    // Pruned history is not taken back by a power loss.
                                    Write::Prune { store, .. } => (*store, String::new()),
                                };
                                let before = self.store.get(store, &key).cloned();
                                (store, key, before)
                            })
                            .collect();
                        self.relaxed_tail.push(undo);
                    }
                }
                self.store.apply(&b);
            }
            Effect::Crm(req) => {
                self.check_request(&req);
                if self.full_hygiene_scan {
                    let text = format!("{:?}", req.op);
                    if self.secrets.iter().any(|s| text.contains(s.as_str())) {
                        self.violations.push(format!("I19 a token in a CRM request for {}", req.slot));
                    }
                }
                self.log(format!("{} crm {} {} {} {}", self.now.0, req.req, req.integration, req.slot, op_name(&req.op)));
                let s = Sent { at: self.now, req: *req };
                self.sent.push(s.clone());
                self.pending.push(s);
            }
            Effect::WakeAt(t) => {
                self.wake_since_boot = true;
                self.log(format!("{} wake {}", self.now.0, t.0));
                self.alarm = Some(t);
            }
            Effect::Notify(n) => {
                let words = match &n {
                    Notice::IntegrationParked { reason, .. } | Notice::ManualRefused { reason, .. } | Notice::PicksRefused { reason, .. } => Some(reason.clone()),
                    _ => None,
                };
                if let Some(w) = words {
                    self.check_words("notice", &w);
                }
                if self.keep_trace {
                    self.log(format!("{} notify {n:?}", self.now.0));
                } else {
                    self.log(format!("{} notify", self.now.0));
                }
                self.notices.push(n);
            }
            Effect::Problem(p) => {
                self.check_words("problem", &p.detail);
                self.log(format!("{} problem {:?}", self.now.0, p.kind));
                self.problems.push(p);
            }
        }
    }

    /// I19 on words the engine wrote: no token, no whole planted number.
    fn check_words(&mut self, what: &str, text: &str) {
        for s in &self.secrets {
            if text.contains(s.as_str()) {
                self.violations.push(format!("I19 a token in a {what}: {text}"));
            }
        }
        // Separators people write inside numbers do not hide one.
        let squashed: String = text.chars().filter(|c| !matches!(c, ' ' | '(' | ')' | '.' | '-')).collect();
        for n in &self.numbers {
            if squashed.contains(n.as_str()) {
                self.violations.push(format!("I19 an unredacted number in a {what}: {text}"));
            }
        }
    }

    /// I19 on a batch: audit outcomes, slot errors and reasons are words; with the full scan,
    /// every byte of every record.
    fn check_hygiene_batch(&mut self, b: &calltrail_core::store::Batch) {
        let mut words = Vec::new();
        for w in &b.writes {
            let Write::Put { store, record } = w else { continue };
            match store {
                StoreName::Audit => words.push(("audit entry", record.json().get("outcome").and_then(|o| o.as_str()).unwrap_or("").to_owned())),
                StoreName::Slots => {
                    if let Some(e) = record.json().get("last_error").and_then(|o| o.as_str()) {
                        words.push(("slot error", e.to_owned()));
                    }
                    if let Some(r) = record.json().get("state").and_then(|s| s.get("reason")).and_then(|o| o.as_str()) {
                        words.push(("slot reason", r.to_owned()));
                    }
                }
                _ => {}
            }
            if self.full_hygiene_scan {
                let text = record.value.clone();
                for s in &self.secrets {
                    if text.contains(s.as_str()) {
                        self.violations.push(format!("I19 a token in the {} record {}", store.as_str(), record.key));
                    }
                }
            }
        }
        for (what, text) in words {
            self.check_words(what, &text);
        }
    }

    fn check_request(&mut self, req: &CrmRequest) {
        let now = self.now;
        let mut v = Vec::new();
        if is_create(&req.op) {
            // I4: a committed Attempting with this attempt id precedes the create.
            let stored = self.store.get(StoreName::Slots, &req.slot).map(|r| r.json());
            let state = stored.as_ref().and_then(|v| v.get("state").cloned());
            let ok = state.as_ref().is_some_and(|s| {
                s.get("state").and_then(|x| x.as_str()) == Some("attempting")
                    && s.get("attempt").and_then(|x| x.as_str()) == req.attempt.as_deref()
            });
            if !ok {
                v.push(format!("I4 create for {} without a committed Attempting (stored: {state:?})", req.slot));
            }
            // I6: one create per slot at a time.
            if !self.creating.insert(req.slot.clone()) {
                v.push(format!("I6 two creates in flight for {}", req.slot));
            }
            // I7: no create after an unknown outcome before a marker lookup.
            if self.needs_find.contains(&req.slot) {
                v.push(format!("I7 create for {} after an unknown outcome without a FindLog", req.slot));
            }
            // I9: no create for a contact the CRM's lookups never returned, nor for one whose
            // numbers do not match the other party's.
            let target = match &req.op {
                CrmOp::CreateCallLog { log } => Some((&log.contact, log.call.their_number)),
                CrmOp::CreateMessageLog { log } => Some((&log.contact, log.their_number)),
                _ => None,
            };
            if let Some((contact, number)) = target {
                let returned = self.returned.get(&req.integration).is_some_and(|r| r.contains(contact.id.as_str()));
                let matches = contact.phones.iter().any(|p| calltrail_core::phone::matches(p, &number, Country::US));
                if !returned || !matches {
                    v.push(format!("I9 create for {} to contact {} (returned by a lookup: {returned}, its number matches: {matches})", req.slot, contact.id));
                }
            }
        }
        if let CrmOp::FindLog { .. } = &req.op {
            self.needs_find.remove(&req.slot);
        }
        // I10: no digest-initiated request in quiet hours.
        if req.trigger == calltrail_core::engine::Trigger::Digest && super::zones::in_quiet_hours(&self.settings.digest, now) {
            v.push(format!("I10 digest request at {now} (quiet hours) for {}", req.slot));
        }
        // I13: nothing to an integration before its Retry-After elapsed, in the CRM's time:
        // after the machine's clock was set back, its hours are not the CRM's.
        if let Some(t) = self.retry_after.get(&req.integration) {
            if now.plus_ms(-self.skew_ms) < *t {
                v.push(format!("I13 request to {} at {now} before Retry-After {t}", req.integration));
            }
        }
        self.violations.extend(v);
    }

    /// Answers the oldest pending request.
    pub fn deliver(&mut self, index: usize) {
        if index >= self.pending.len() {
            return;
        }
        let p = self.pending.remove(index);
        let now = self.now;
        let Some(crm) = self.crms.get_mut(&p.req.integration) else { return };
        let result = crm.execute(&p.req.op, now.plus_ms(-self.skew_ms));
        let ids: Vec<String> = match &result {
            Ok(calltrail_core::crm::CrmOutput::Contacts { contacts }) => contacts.iter().map(|c| c.id.to_string()).collect(),
            Ok(calltrail_core::crm::CrmOutput::Contact { contact }) => vec![contact.id.to_string()],
            // A placeholder contact whose create reply was lost, found again by its marker.
            Ok(calltrail_core::crm::CrmOutput::Found { record: Some(id) }) => vec![id.to_string()],
            _ => Vec::new(),
        };
        self.returned.entry(p.req.integration.clone()).or_default().extend(ids);
        if is_create(&p.req.op) {
            self.creating.remove(&p.req.slot);
            if let Err(calltrail_core::crm::CrmError::Unknown { .. }) = &result {
                self.needs_find.insert(p.req.slot.clone());
            }
        }
        let limit = match &result {
            Err(calltrail_core::crm::CrmError::RateLimited { retry_after_ms: Some(ms), .. }) => Some(now.plus_ms(*ms - self.skew_ms)),
            _ => None,
        };
        let restarts = self.restarts;
        self.input_no_deliver(Input::CrmDone { req: p.req.req, result });
        // I13 holds the engine to a Retry-After it heard: if the worker died while handling the
        // 429 (before its effects ran), the reply was lost with it, like any reply in flight.
        if let (Some(t), true) = (limit, self.restarts == restarts) {
            let e = self.retry_after.entry(p.req.integration.clone()).or_insert(t);
            *e = (*e).max(t);
        }
    }

    fn input_no_deliver(&mut self, input: Input) {
        let line = if self.keep_trace { short_input(&input) } else { String::new() };
        self.log(format!("{} in {line}", self.now.0));
        self.driver.handle(input, self.now);
        self.drain();
    }

    pub fn deliver_all(&mut self) {
        let mut guard = 0;
        let began = self.trace.len();
        while !self.pending.is_empty() {
            self.deliver(0);
            guard += 1;
            if guard >= 100_000 {
                // A replayed seed (`keep_trace`) shows its trace up to the storm and the storm's
                // first requests.
                let end = self.trace.len().min(began + 60);
                panic!("request storm: {} requests pending at {}; trace:\n{}", self.pending.len(), self.now, self.trace[..end].join("\n"));
            }
        }
    }

    /// Moves the clock forward, firing the alarm at each deadline on the way (on time).
    /// The shell keeps two alarms: a one-shot at the latest `WakeAt`, and a periodic backstop
    /// (every digest period) so a lost one-shot cannot leave the engine asleep for good.
    pub fn advance_to(&mut self, t: Timestamp) {
        let mut guard = 0;
        let period = i64::from(self.settings.digest.period_mins);
        loop {
            let backstop = self.now.plus_mins(period);
            let a = self.alarm.map_or(backstop, |a| a.min(backstop));
            if a > t {
                break;
            }
            self.now = self.now.max(a);
            if self.alarm.is_some_and(|x| x <= self.now) {
                self.alarm = None;
            }
            self.input(Input::AlarmFired);
            guard += 1;
            assert!(guard < 1_000_000, "alarm storm");
        }
        self.now = self.now.max(t);
    }

    /// The machine's clock jumps by `ms` (true time does not).
    pub fn jump_clock(&mut self, ms: i64) {
        self.now = self.now.plus_ms(ms);
        self.skew_ms += ms;
    }

    pub fn advance_mins(&mut self, m: i64) {
        let t = self.now.plus_mins(m);
        self.advance_to(t);
    }

    pub fn state(&self, call: &str, integ: &str) -> String {
        let key = calltrail_core::engine::slot::call_slot_key(&CallId::new(call), &IntegrationId::new(integ));
        self.stored_state(&key)
    }

    /// The slot's state as the store has it (the source of truth after any crash).
    pub fn stored_state(&self, key: &str) -> String {
        self.store
            .get(StoreName::Slots, key)
            .and_then(|r| r.json().get("state").and_then(|s| s.get("state")).and_then(|s| s.as_str()).map(String::from))
            .unwrap_or_else(|| "none".into())
    }

    pub fn creates_sent(&self, integ: &str) -> usize {
        self.sent.iter().filter(|s| s.req.integration.as_str() == integ && is_create(&s.req.op)).count()
    }

    pub fn requests_between(&self, from: Timestamp, to: Timestamp) -> Vec<&Sent> {
        self.sent.iter().filter(|s| s.at >= from && s.at < to).collect()
    }

    pub fn assert_clean(&self) {
        assert!(self.violations.is_empty(), "violations: {:#?}", self.violations);
    }
}

pub fn op_name(op: &CrmOp) -> &'static str {
    match op {
        CrmOp::SearchContacts { .. } => "search",
        CrmOp::CreateCallLog { .. } => "create_call",
        CrmOp::UpdateCallLog { .. } => "update_call",
        CrmOp::FindLog { .. } => "find",
        CrmOp::CreateContact { .. } => "create_contact",
        CrmOp::CreateMessageLog { .. } => "create_messages",
        CrmOp::UpdateMessageLog { .. } => "update_messages",
    }
}

fn short_input(i: &Input) -> String {
    match i {
        Input::Restored { boot_id, .. } => format!("restored {boot_id}"),
        Input::CrmDone { req, result } => format!("done {req} {}", match result {
            Ok(o) => serde_json::to_string(o).unwrap_or_default(),
            Err(e) => e.to_string(),
        }),
        other => format!("{other:?}"),
    }
}
