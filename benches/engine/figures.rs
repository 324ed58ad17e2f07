//! The engine's figures for `cargo bench --bench engine`: how long the pure engine takes for
//! what a rep's worker does most (a restart's restore, a call's hang-up to its creates, a digest
//! pass), natively. A regression guide, not a bar: what a rep feels is measured end to end in
//! the browser (`scripts/bench-extension.mjs`).
//!
//! The figures never read a clock: the caller hands one in, in milliseconds. Every figure is the
//! median of `samples` timings; set-up (building stores, restore queries, answering requests the
//! figure is not about) is outside the timed part. The native test binary compiles this file
//! too (`tests/native/bench.rs`), so every `cargo test` runs each figure once.
//!
//! Figures:
//! - `restore`: `Restored` + drain, from a store holding 50,000 closed calls of history (one
//!   logged slot each) and 200 open slots; the snapshot is what [`MemStore::restore`] returns
//!   for [`Engine::restore_query`], so the history is not in it (checked).
//! - `hang_up_to_creates`: one call across 5 integrations: `CallEnded` → 5 searches →
//!   5 `CrmDone(contacts)` → 5 creates (per call).
//! - `ring_pop_then_hang_up`: the same call rung first: `CallRinging` → 5 call-pop searches →
//!   5 matches, then `CallEnded` → 5 creates reusing the matches (per call).
//! - `digest_pass_10k`: `DigestRequested` + drain with 10,000 open slots waiting for it.
//! - `reply_during_10k_digest`: one search reply while those 10,000 slots are enrolled in the run.

use calltrail_core::crm::{CrmOp, CrmOutput};
use calltrail_core::engine::records::{CallEntry, DigestMeta};
use calltrail_core::engine::slot::{call_slot_key, marker, Mode, Slot, SlotState, Subject, Target, Trigger};
use calltrail_core::engine::{Effect, Engine, EngineOptions, Input, ReqId};
use calltrail_core::model::{Call, CallId, CallResult, Contact, CrmKind, Direction, IntegrationId, RecordId, RecordType, Timestamp};
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::{IntegrationSettings, Settings};
use calltrail_core::store::{Batch, Durability, MemStore, Record, Snapshot, StoreName, Write};

/// One benchmark result.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    /// What one timed unit is.
    pub unit: String,
    pub median_ns: f64,
    pub samples: usize,
    /// Facts about the set-up worth printing (snapshot size, effects drained).
    pub note: String,
}

pub const HISTORY_CALLS: usize = 50_000;
pub const OPEN_SLOTS: usize = 200;
pub const DIGEST_SLOTS: usize = 10_000;
const CALLS_PER_SAMPLE: usize = 20;

/// Runs the figures whose name contains `filter` (all when it is empty). `iterations` scales
/// the sample counts (restore and digest figures take `iterations` samples, per-call figures
/// `iterations * 4` samples of 20 calls each). Each figure runs once untimed first (a third of
/// the samples, at least three) to warm the caches.
pub fn run_only(iterations: usize, clock: &mut dyn FnMut() -> f64, filter: &str) -> Vec<Figure> {
    let iterations = iterations.max(3);
    let warm = iterations.div_ceil(3).max(3);
    let want = |name: &str| filter.is_empty() || name.contains(filter);
    let mut out = Vec::new();
    if want("restore") {
        restore(warm, clock);
        out.push(restore(iterations, clock));
    }
    if want("hang_up_to_creates") {
        hang_up(warm * 4, false, clock);
        out.push(hang_up(iterations * 4, false, clock));
    }
    if want("ring_pop_then_hang_up") {
        hang_up(warm * 4, true, clock);
        out.push(hang_up(iterations * 4, true, clock));
    }
    if want("digest_pass_10k") {
        digest_pass(warm, clock);
        out.push(digest_pass(iterations, clock));
    }
    if want("reply_during_10k_digest") {
        reply_during_digest(warm, clock);
        out.push(reply_during_digest(iterations, clock));
    }
    out
}

/// A Markdown table of the figures.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from("| figure | unit | median | samples | note |\n| --- | --- | --- | --- | --- |\n");
    for f in figures {
        out.push_str(&format!("| {} | {} | {} | {} | {} |\n", f.name, f.unit, human(f.median_ns), f.samples, f.note));
    }
    out
}

/// `1.23 ms`, `4.5 µs`, `800 ns`.
pub fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

// ---- fixtures ------------------------------------------------------------------------------

/// Noon in New York on an ordinary June day: outside quiet hours.
const NOW: Timestamp = Timestamp(1_781_107_200_000);

const KINDS: [(&str, CrmKind); 5] =
    [("hs", CrmKind::HubSpot), ("pd", CrmKind::Pipedrive), ("sf", CrmKind::Salesforce), ("zo", CrmKind::Zoho), ("cl", CrmKind::Clio)];

/// Fixed offsets for the settings' zones: the figures never cross a change of offset.
fn zones() -> calltrail_core::zone::Zones {
    calltrail_core::zone::Zones::gather(&calltrail_core::zone::FixedZones::standard(), &settings(), NOW).0
}

fn settings() -> Settings {
    let mut s = Settings::default();
    for (id, kind) in KINDS {
        s.integrations.push(IntegrationSettings::new(id, kind, format!("https://{id}.crm.example")));
    }
    s
}

fn number(i: usize) -> E164 {
    // 10,000 distinct NANP numbers, all well-formed, so `parse` cannot fail.
    let text = format!("+1212555{:04}", i % 10_000);
    E164::parse(&text, Country::US).expect("a well-formed NANP number")
}

fn call(id: &str, i: usize, end: Timestamp) -> Call {
    Call {
        answered_at: Some(end.plus_mins(-4)),
        ended_at: Some(end),
        result: CallResult::Answered,
        ..Call::new(CallId::new(id), Direction::Inbound, number(i), None, end.plus_mins(-4))
    }
}

fn contact(integ: &str, i: usize) -> Contact {
    Contact {
        id: RecordId::new(format!("{integ}-p{i}")),
        name: format!("Person {i}").into(),
        record_type: RecordType::new("Contact"),
        phones: vec![number(i).as_str().to_owned()].into(),
        created_at: Some(Timestamp(1_700_000_000_000)),
        modified_at: Some(Timestamp(1_700_000_000_000)),
        url: Some(format!("https://{integ}.crm.example/contacts/{i}").into()),
    }
}

fn slot(call: &CallId, integ: &str, state: SlotState, at: Timestamp, targets: Vec<Target>) -> Slot {
    let key = call_slot_key(call, &IntegrationId::new(integ));
    Slot {
        key,
        subject: Subject::Call { call: call.clone() },
        integration: IntegrationId::new(integ),
        mode: Mode::Auto,
        trigger: Trigger::Auto,
        state,
        targets,
        attempts: 0,
        last_error: None,
        at,
        messages: 0,
        update_due: None,
        reused: false,
        busy: false,
    }
}

fn put(store: StoreName, record: Record) -> Write {
    Write::Put { store, record }
}

fn meta() -> Write {
    // A digest ran ten minutes ago: a restore does not start one.
    let m = DigestMeta { last_started: Some(NOW.plus_mins(-10)), last_completed: Some(NOW.plus_mins(-10)) };
    put(StoreName::Meta, m.to_record())
}

/// 50,000 logged calls from last month, and 200 recent calls with one open slot each.
fn restore_store() -> MemStore {
    let mut store = MemStore::new();
    let mut writes = Vec::with_capacity(HISTORY_CALLS * 2 + OPEN_SLOTS * 2 + 1);
    for i in 0..HISTORY_CALLS {
        let id = CallId::new(format!("h{i}"));
        let end = NOW.plus_hours(-30 * 24).plus_secs(i as i64 * 45);
        let mut e = CallEntry::new(call(id.as_str(), i, end));
        e.ended = true;
        writes.push(put(StoreName::Calls, e.to_record(false)));
        let (integ, _) = KINDS[i % KINDS.len()];
        let key = call_slot_key(&id, &IntegrationId::new(integ));
        let c = contact(integ, i);
        let target = Target { marker: marker(&key, 0, Some(&c)), contact: c, record: Some(RecordId::new(format!("log{i}"))), synced: 0 };
        writes.push(put(StoreName::Slots, slot(&id, integ, SlotState::Logged, end, vec![target]).to_record()));
    }
    for i in 0..OPEN_SLOTS {
        let id = CallId::new(format!("o{i}"));
        let end = NOW.plus_mins(-(i as i64 % 180) - 5);
        let mut e = CallEntry::new(call(id.as_str(), i, end));
        e.ended = true;
        writes.push(put(StoreName::Calls, e.to_record(true)));
        let (integ, _) = KINDS[i % KINDS.len()];
        let key = call_slot_key(&id, &IntegrationId::new(integ));
        let (state, targets) = match i % 20 {
            0..=14 => (SlotState::Waiting { due: None }, Vec::new()),
            15..=16 => (SlotState::NoMatch, Vec::new()),
            17..=18 => (SlotState::Unresolved { candidates: vec![contact(integ, i), contact(integ, i + 10_000)] }, Vec::new()),
            _ => {
                let c = contact(integ, i);
                let t = Target { marker: marker(&key, 0, Some(&c)), contact: c, record: None, synced: 0 };
                (SlotState::Attempting { attempt: format!("old-{i}"), target: 0, started_at: end }, vec![t])
            }
        };
        writes.push(put(StoreName::Slots, slot(&id, integ, state, end, targets).to_record()));
    }
    writes.push(meta());
    store.apply(&Batch { writes, durability: Durability::Strict });
    store
}

/// 2,000 calls of the last three hours, each waiting for the digest in all 5 integrations.
fn digest_snapshot() -> Snapshot {
    let mut store = MemStore::new();
    let mut writes = Vec::new();
    let calls = DIGEST_SLOTS / KINDS.len();
    for i in 0..calls {
        let id = CallId::new(format!("d{i}"));
        let end = NOW.plus_secs(-(i as i64 * 5) - 300);
        let mut e = CallEntry::new(call(id.as_str(), i, end));
        e.ended = true;
        e.notes_opened = true;
        writes.push(put(StoreName::Calls, e.to_record(true)));
        for (integ, _) in KINDS {
            let mut s = slot(&id, integ, SlotState::Waiting { due: None }, end, Vec::new());
            s.mode = Mode::Digest;
            s.trigger = Trigger::Digest;
            writes.push(put(StoreName::Slots, s.to_record()));
        }
    }
    writes.push(meta());
    store.apply(&Batch { writes, durability: Durability::Strict });
    store.restore(&Engine::restore_query(&settings(), NOW))
}

fn restored(snapshot: Snapshot) -> Engine {
    let mut e = Engine::new(EngineOptions::default());
    e.handle(Input::Restored { snapshot, settings: settings(), zones: zones(), boot_id: 0xbe4c }, NOW);
    while e.poll_effect().is_some() {}
    e
}

fn empty_snapshot() -> Snapshot {
    let mut store = MemStore::new();
    store.apply(&Batch { writes: vec![meta()], durability: Durability::Relaxed });
    store.restore(&Engine::restore_query(&settings(), NOW))
}

/// Drains the engine as a shell would (every effect taken and dropped), returning the CRM
/// requests it started: id, integration, and whether it creates a call log.
fn drain(e: &mut Engine) -> Vec<(ReqId, IntegrationId, bool)> {
    let mut out = Vec::new();
    while let Some(x) = e.poll_effect() {
        if let Effect::Crm(r) = x {
            let r = *r;
            out.push((r.req, r.integration, matches!(r.op, CrmOp::CreateCallLog { .. })));
        }
    }
    out
}

// ---- figures -------------------------------------------------------------------------------

fn restore(samples: usize, clock: &mut dyn FnMut() -> f64) -> Figure {
    let store = restore_store();
    let snapshot = store.restore(&Engine::restore_query(&settings(), NOW));
    let read: usize = snapshot.stores.iter().map(|(_, r)| r.len()).sum();
    let history_in_snapshot = snapshot.records(StoreName::Calls).iter().filter(|r| r.key.starts_with('h')).count();
    let mut times = Vec::with_capacity(samples);
    let mut effects = 0;
    for _ in 0..samples {
        let snap = snapshot.clone();
        let mut e = Engine::new(EngineOptions::default());
        let t0 = clock();
        e.handle(Input::Restored { snapshot: snap, settings: settings(), zones: zones(), boot_id: 0xbe4c }, NOW);
        let mut n = 0;
        while e.poll_effect().is_some() {
            n += 1;
        }
        let t1 = clock();
        times.push((t1 - t0) * 1e6);
        effects = n;
        drop(e);
    }
    Figure {
        name: "restore".into(),
        unit: "Restored + drain".into(),
        median_ns: median(times),
        samples,
        note: format!(
            "store {} calls + {} slots; snapshot {read} records ({history_in_snapshot} from the history); {effects} effects",
            store.len(StoreName::Calls),
            store.len(StoreName::Slots)
        ),
    }
}

/// The requests a run of effects started: (request, the integration's place in [`KINDS`],
/// whether it creates a record).
type Started = Vec<(ReqId, usize, bool)>;

/// Takes every effect off the queue and drops it, as the shell does once it has run them,
/// noting the CRM requests in `out`. Kept lean because it runs inside the timed part: the
/// fixture's bookkeeping is not the engine's work.
fn drain_into(e: &mut Engine, out: &mut Started) {
    while let Some(x) = e.poll_effect() {
        if let Effect::Crm(r) = &x {
            let at = KINDS.iter().position(|(id, _)| *id == r.integration.as_str()).unwrap_or(0);
            out.push((r.req, at, matches!(r.op, CrmOp::CreateCallLog { .. })));
        }
    }
}

/// The timed part of [`hang_up`] for one call: its inputs and the effects drained after each,
/// leaving in `creates` the requests the last inputs started. `replies` holds each
/// integration's search answer, built before the clock started; `found` is scratch room. Not
/// inlined, so a profiler can count exactly this
/// (`valgrind --tool=callgrind --toggle-collect='*bench::one_call*'`).
#[inline(never)]
fn one_call(e: &mut Engine, pop: bool, ringing: Call, ended: Call, replies: &mut [Vec<Contact>], found: &mut Started, creates: &mut Started) -> usize {
    found.clear();
    creates.clear();
    if pop {
        e.handle(Input::CallRinging(ringing), NOW);
        drain_into(e, found);
        for &(req, at, _) in found.iter() {
            let contacts = std::mem::take(&mut replies[at]);
            e.handle(Input::CrmDone { req, result: Ok(CrmOutput::Contacts { contacts }) }, NOW);
            drain_into(e, creates);
        }
        // The call pop's replies start nothing (the matches wait for the hang-up).
        creates.clear();
        e.handle(Input::CallEnded(ended), NOW);
        drain_into(e, creates);
    } else {
        drop(ringing);
        e.handle(Input::CallEnded(ended), NOW);
        drain_into(e, found);
        for &(req, at, _) in found.iter() {
            let contacts = std::mem::take(&mut replies[at]);
            e.handle(Input::CrmDone { req, result: Ok(CrmOutput::Contacts { contacts }) }, NOW);
            drain_into(e, creates);
        }
    }
    found.len()
}

/// Per call: hang-up to the 5 creates, with (`pop`) or without the call pop at ring time.
fn hang_up(samples: usize, pop: bool, clock: &mut dyn FnMut() -> f64) -> Figure {
    let base = empty_snapshot();
    let mut times = Vec::with_capacity(samples);
    let mut creates = 0;
    let mut searches = 0;
    let (mut found, mut started) = (Started::with_capacity(8), Started::with_capacity(8));
    for s in 0..samples {
        let mut e = restored(base.clone());
        let calls: Vec<Call> = (0..CALLS_PER_SAMPLE).map(|k| call(&format!("b{s}-{k}"), k, NOW)).collect();
        let mut total = 0.0;
        for c in &calls {
            // The CRMs' answers, as the connectors hand them over, made before the clock starts:
            // what a search reply costs to build is the fixture's work, not the engine's.
            let mut replies: Vec<Vec<Contact>> = KINDS.iter().map(|(id, _)| vec![contact(id, 1)]).collect();
            let mut ringing = c.clone();
            ringing.ended_at = None;
            let ended = c.clone();
            let t0 = clock();
            searches += one_call(&mut e, pop, ringing, ended, &mut replies, &mut found, &mut started);
            total += clock() - t0;
            creates += started.iter().filter(|(_, _, create)| *create).count();
            // Outside the timing: the creates succeed, as they would.
            for &(req, _, _) in started.iter() {
                let record = RecordId::new(format!("r{req}"));
                e.handle(Input::CrmDone { req, result: Ok(CrmOutput::Created { record, url: None }) }, NOW);
                drain(&mut e);
            }
        }
        times.push(total * 1e6 / CALLS_PER_SAMPLE as f64);
    }
    let per = (samples * CALLS_PER_SAMPLE).max(1);
    Figure {
        name: if pop { "ring_pop_then_hang_up" } else { "hang_up_to_creates" }.into(),
        unit: "one call, 5 integrations".into(),
        median_ns: median(times),
        samples,
        note: format!("{:.1} searches and {:.1} creates per call", searches as f64 / per as f64, creates as f64 / per as f64),
    }
}

fn digest_pass(samples: usize, clock: &mut dyn FnMut() -> f64) -> Figure {
    let snapshot = digest_snapshot();
    let mut times = Vec::with_capacity(samples);
    let mut sent = 0;
    for _ in 0..samples {
        let mut e = restored(snapshot.clone());
        let t0 = clock();
        e.handle(Input::DigestRequested, NOW);
        sent = drain(&mut e).len();
        let t1 = clock();
        times.push((t1 - t0) * 1e6);
    }
    Figure {
        name: "digest_pass_10k".into(),
        unit: "DigestRequested + drain".into(),
        median_ns: median(times),
        samples,
        note: format!("{} open slots enrolled; {sent} searches started", snapshot.records(StoreName::Slots).len()),
    }
}

fn reply_during_digest(samples: usize, clock: &mut dyn FnMut() -> f64) -> Figure {
    let snapshot = digest_snapshot();
    let mut times = Vec::new();
    for _ in 0..samples.div_ceil(4).max(1) {
        let mut e = restored(snapshot.clone());
        e.handle(Input::DigestRequested, NOW);
        let mut reqs = drain(&mut e);
        // Time a few replies of the run (no match, so each slot settles and frees a request).
        for _ in 0..8 {
            let Some((req, _, _)) = reqs.pop() else { break };
            let t0 = clock();
            e.handle(Input::CrmDone { req, result: Ok(CrmOutput::Contacts { contacts: Vec::new() }) }, NOW);
            reqs.extend(drain(&mut e));
            let t1 = clock();
            times.push((t1 - t0) * 1e6);
        }
    }
    let n = times.len();
    Figure {
        name: "reply_during_10k_digest".into(),
        unit: "one search reply + drain".into(),
        median_ns: median(times),
        samples: n,
        note: "10,000 slots enrolled in the run".into(),
    }
}
