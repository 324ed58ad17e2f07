//! Two browsers, one rep, one CRM: one record (`docs/shared-calls.md`). Two drivers of one rep
//! (their integrations even named differently, as two hand-configured browsers may) log one leg
//! of one call into the CRM emulator over real HTTP:
//! - at the same moment (their requests interleaved one by one, so both create before either
//!   has seen the other's record), and one after the other: Salesforce (an exact `CallObject`
//!   lookup after the create, in the same Composite call, and with the admin's External ID +
//!   Unique field), Clio (an exact external-property lookup after the create) and HubSpot with a
//!   unique call property each keep one record, which every ledger points at;
//! - HubSpot without the unique property: logs sent at the hang-up make two records (no search
//!   first: it could not see the other's call yet); late logs search first, and the residual is
//!   measured against the emulator's search lag (`CALLTRAIL_PRINT_RESIDUAL=1` prints the table
//!   that BENCHMARKS.md records).

use std::time::{Duration, Instant};

use calltrail_core::driver::{Conversation, Driver, Next};
use calltrail_core::engine::{Effect, EngineOptions, Input, ReqId, SlotState};
use calltrail_core::model::{Call, CallId, CallResult, CrmKind, Direction, IntegrationId, Leg, RecordId, Timestamp};
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::Settings;
use calltrail_core::store::MemStore;
use serde_json::{json, Value};

use crate::emulator_e2e::harness::{vendor, Emulator, Executor};
use crate::support::world::integration;

const CALLER: &str = "+13125550177";

fn now() -> Timestamp {
    Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

/// One browser of the rep: a driver with an integration named `name` to `kind` in the emulator.
struct Browser {
    driver: Driver,
    store: MemStore,
    integration: IntegrationId,
}

impl Browser {
    fn new(emu: &Emulator, kind: CrmKind, name: &str, marker_field: Option<&str>) -> Browser {
        let mut integ = integration(name, kind);
        integ.base_url = emu.base_url(kind);
        integ.marker_field = marker_field.map(str::to_owned);
        let settings = Settings { integrations: vec![integ], ..Settings::default() };
        let t = now();
        let mut driver = Driver::new(settings, Value::Null, &[], EngineOptions::default(), Box::new(calltrail_core::zone::FixedZones::standard()), t);
        let store = MemStore::new();
        driver.restore(store.restore(&driver.restore_query(t)), 0x2b, t);
        let id = IntegrationId::new(name);
        driver.set_token(id.clone(), &format!("{}-token", vendor(kind)), t);
        let mut b = Browser { driver, store, integration: id };
        b.persist();
        b
    }

    /// Runs every `Persist` queued; the CRM requests queued, as conversations.
    fn persist(&mut self) -> Vec<(ReqId, Conversation)> {
        let mut convs = Vec::new();
        while let Some(e) = self.driver.poll_effect() {
            match e {
                Effect::Persist(b) => self.store.apply(&b),
                Effect::Crm(r) => convs.push((r.req, self.driver.conversation(r.integration.clone(), r.op.clone()))),
                _ => {}
            }
            self.driver.executed();
        }
        convs
    }

    fn slot_state(&self, call: &CallId) -> (SlotState, Option<RecordId>) {
        let key = calltrail_core::engine::slot::call_slot_key(call, &self.integration);
        let s = self.driver.engine().slot(&key).expect("the call's slot");
        (s.state.clone(), s.records().first().cloned())
    }
}

/// The call both browsers saw, ending now: one leg (RingCentral party) of one session.
fn the_call(session: &str) -> Call {
    the_call_ended(session, now())
}

fn the_call_ended(session: &str, end: Timestamp) -> Call {
    let their = E164::parse(CALLER, Country::US).unwrap();
    Call {
        answered_at: Some(end.plus_ms(-90_000)),
        ended_at: Some(end),
        result: CallResult::Answered,
        leg: Leg { id: Some(format!("p-{}-2", &session[2..])), ..Leg::default() },
        ..Call::new(CallId::new(format!("rc:{session}")), Direction::Inbound, their, None, end.plus_ms(-95_000))
    }
}

/// Hands the call to every browser, then runs their CRM conversations one request at a time in
/// turn, so that simultaneous browsers look before either creates. Returns the requests each
/// browser sent.
fn log_together(http: &Executor, browsers: &mut [&mut Browser], call: &Call) -> Vec<Vec<String>> {
    let inputs = browsers.iter().map(|_| Input::CallEnded(call.clone())).collect();
    run_together(http, browsers, inputs, 0)
}

/// Hands each browser its input at `skew_ms` from now on its clock (a browser whose alarm
/// fires later), then runs their conversations as [`log_together`] does.
fn run_together(http: &Executor, browsers: &mut [&mut Browser], inputs: Vec<Input>, skew_ms: i64) -> Vec<Vec<String>> {
    let now = || now().plus_ms(skew_ms);
    let mut sent = vec![Vec::new(); browsers.len()];
    let mut convs: Vec<(usize, ReqId, Conversation)> = Vec::new();
    for ((i, b), input) in browsers.iter_mut().enumerate().zip(inputs) {
        b.driver.handle(input, now());
        convs.extend(b.persist().into_iter().map(|(r, c)| (i, r, c)));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !convs.is_empty() {
        assert!(Instant::now() < deadline, "the browsers never settle");
        let mut next = Vec::new();
        for (i, req, mut conv) in convs {
            let b = &mut browsers[i];
            match b.driver.step(&mut conv, now()) {
                Next::Fetch(r) => {
                    sent[i].push(format!("{} {}", r.method.as_str(), r.url.split('?').next().unwrap_or("")));
                    conv.replied(http.send(&r));
                    next.push((i, req, conv));
                }
                Next::Done(result) => {
                    b.driver.handle(Input::CrmDone { req, result }, now());
                    next.extend(b.persist().into_iter().map(|(r, c)| (i, r, c)));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        convs = next;
    }
    sent
}

fn records_with(emu: &Emulator, kind: CrmKind, marker: &str) -> usize {
    emu.records(kind, "calls", marker).len()
}

fn seed(emu: &Emulator, kind: CrmKind) {
    emu.seed(kind, json!([{"firstName": "Both", "lastName": "Browsers", "phone": "(312) 555-0177"}]));
}

/// Two browsers at once, then a third later: one record, and every ledger points at it.
fn one_record(kind: CrmKind, marker_field: Option<&str>) {
    let emu = Emulator::start();
    let http = Executor::new();
    seed(&emu, kind);
    if let Some(f) = marker_field {
        let object = if kind == CrmKind::Salesforce { "Task" } else { "calls" };
        emu.admin("POST", "/fields", Some(json!({"vendor": vendor(kind), "object": object, "name": f, "type": "string", "unique": true, "external": true})));
    }
    let session = format!("s-{}{:x}", vendor(kind), now().0);
    let call = the_call(&session);
    let marker = format!("calltrail:call|{}|{}", call.id.as_str(), call.leg.id.as_deref().unwrap());
    let mut a = Browser::new(&emu, kind, "crm-a", marker_field);
    let mut b = Browser::new(&emu, kind, "my-crm", marker_field);
    let sent = log_together(&http, &mut [&mut a, &mut b], &call);
    assert_eq!(records_with(&emu, kind, &marker), 1, "{kind:?}: two browsers at once: {sent:#?}");
    // Both created: the CRM refused the second (a unique field), or the browser whose record
    // came second deleted it (exact lookups after the create).
    let all: Vec<&String> = sent.iter().flatten().collect();
    let creates = all.iter().filter(|r| r.starts_with("POST") && !r.contains("search")).count();
    let deletes = all.iter().filter(|r| r.starts_with("DELETE")).count();
    let want_deletes = usize::from(marker_field.is_none());
    assert_eq!((creates, deletes), (2, want_deletes), "{kind:?}: {sent:#?}");
    let (sa, ra) = a.slot_state(&call.id);
    let (sb, rb) = b.slot_state(&call.id);
    assert!(matches!((&sa, &sb), (SlotState::Logged, SlotState::Logged)), "{kind:?}: {sa:?} {sb:?}");
    assert_eq!(ra, rb, "{kind:?}: both ledgers point at the one record");
    // A third browser of the rep, later: its create is refused (a unique field), or its lookup
    // after the create finds the earlier record and it deletes its own (exact lookups: no
    // lookup before the create, docs/shared-calls.md). One record, and its ledger points at it.
    let mut c = Browser::new(&emu, kind, "crm-c", marker_field);
    let sent = log_together(&http, &mut [&mut c], &call);
    assert_eq!(records_with(&emu, kind, &marker), 1, "{kind:?}: a later browser: {sent:#?}");
    assert_eq!(c.slot_state(&call.id).1, ra);
    let deletes = sent[0].iter().filter(|r| r.starts_with("DELETE")).count();
    assert_eq!(deletes, want_deletes, "{kind:?}: {sent:?}");
}

#[test]
fn two_browsers_one_salesforce_task() {
    one_record(CrmKind::Salesforce, None);
}

#[test]
fn two_browsers_one_salesforce_task_with_a_unique_marker_field() {
    one_record(CrmKind::Salesforce, Some("Calltrail_Marker__c"));
}

#[test]
fn two_browsers_one_clio_communication() {
    one_record(CrmKind::Clio, None);
}

/// The browser whose webphone carried the call (RingCentral Embeddable in Browser calling mode)
/// and a browser that heard of it through presence only. Clio's check for another record is a
/// request of its own, so the carrier logs first without it: a cold call is its search and its
/// create. The other waits `OTHERS_WAIT_MS` after the end, then creates, looks, finds the
/// carrier's earlier record and deletes its own: one record, both ledgers on it.
fn the_carrier_logs_first(kind: CrmKind) -> (Vec<String>, Vec<String>) {
    use calltrail_core::engine::shared::OTHERS_WAIT_MS;
    use calltrail_core::model::Device;
    let emu = Emulator::start();
    let http = Executor::new();
    seed(&emu, kind);
    let session = format!("s-carrier-{}{:x}", vendor(kind), now().0);
    let mut carried = the_call(&session);
    carried.leg.device = Device::Here;
    let heard = Call { leg: Leg { device: Device::Elsewhere, ..carried.leg.clone() }, ..carried.clone() };
    let marker = format!("calltrail:call|{}|{}", carried.id.as_str(), carried.leg.id.as_deref().unwrap());
    let mut a = Browser::new(&emu, kind, "crm-a", None);
    let mut b = Browser::new(&emu, kind, "crm-b", None);
    let inputs = vec![Input::CallEnded(carried.clone()), Input::CallEnded(heard)];
    let first = run_together(&http, &mut [&mut a, &mut b], inputs, 0);
    let waits = matches!(b.slot_state(&carried.id).0, SlotState::Waiting { .. });
    assert_eq!(first[1].is_empty() && waits, kind == CrmKind::Clio, "{kind:?}: the other browser waits for the carrier only where the carrier skips the check: {first:?}");
    let later = run_together(&http, &mut [&mut b], vec![Input::AlarmFired], OTHERS_WAIT_MS + 1_000);
    assert_eq!(records_with(&emu, kind, &marker), 1, "{kind:?}: {first:#?} {later:#?}");
    let (sa, ra) = a.slot_state(&carried.id);
    let (sb, rb) = b.slot_state(&carried.id);
    assert!(matches!((&sa, &sb), (SlotState::Logged, SlotState::Logged)), "{kind:?}: {sa:?} {sb:?}");
    assert_eq!(ra, rb, "{kind:?}: both ledgers point at the carrier's record");
    // Less the connection's one lookup of the rep as owner, which is not the call's.
    let owner = |r: &&String| r.contains("/who_am_i") || r.contains("/userinfo");
    let a_sent = first[0].iter().filter(|r| !owner(r)).cloned().collect();
    let b_sent = first[1].iter().chain(&later[0]).filter(|r| !owner(r)).cloned().collect();
    (a_sent, b_sent)
}

#[test]
fn the_browser_that_carried_the_call_logs_first_into_clio_without_a_check() {
    let (carrier, other) = the_carrier_logs_first(CrmKind::Clio);
    let gets = |sent: &[String], path: &str| sent.iter().filter(|r| r.starts_with("GET") && r.ends_with(path)).count();
    assert_eq!(carrier.len(), 2, "a search and the create: {carrier:?}");
    assert_eq!(gets(&carrier, "/communications.json"), 0, "{carrier:?}");
    // The other: search, create, the look that finds the carrier's record first, its delete.
    assert_eq!(gets(&other, "/communications.json"), 1, "{other:?}");
    assert_eq!(other.iter().filter(|r| r.starts_with("DELETE")).count(), 1, "{other:?}");
}

#[test]
fn where_the_check_is_free_nobody_waits_for_the_carrier() {
    // Salesforce's look rides in the create's Composite call: both browsers check at once.
    let (carrier, other) = the_carrier_logs_first(CrmKind::Salesforce);
    assert_eq!(carrier.len(), 2, "{carrier:?}");
    assert!(other.iter().any(|r| r.starts_with("DELETE")), "the other's twin, deleted: {other:?}");
}

#[test]
fn two_browsers_one_hubspot_call_with_a_unique_property() {
    one_record(CrmKind::HubSpot, Some("calltrail_marker"));
}

/// HubSpot without a unique property. A log sent at the hang-up creates at once: a search could
/// not see a call another browser made at the same hang-up through HubSpot's lagging index, and
/// spends the account's scarce search quota. A late log (sent one assumed search lag, 60 s, or
/// more after the call ended: a browser that slept or was offline, a retry) searches for the
/// marker first, and sees the first browser's call once the index has it. For a search lag
/// `lag`, browser B starts `stagger` after browser A's create; the records the marker ends with.
fn hubspot_residual(emu: &Emulator, http: &Executor, lag: Duration, stagger: Duration, n: usize, late: bool) -> usize {
    let kind = CrmKind::HubSpot;
    emu.clear_faults(kind);
    emu.fault(kind, json!({"type": "search_lag", "lagMs": lag.as_millis() as u64, "count": null, "method": "POST", "path": "^/crm/v3/objects/calls$"}));
    let session = format!("s-residual{n:03}{:x}", now().0);
    let ended = if late { now().plus_ms(-calltrail_core::crm::capabilities(kind).search_lag_ms - 1_000) } else { now() };
    let call = the_call_ended(&session, ended);
    let marker = format!("calltrail:call|{}|{}", call.id.as_str(), call.leg.id.as_deref().unwrap());
    let mut a = Browser::new(emu, kind, "crm-a", None);
    let mut b = Browser::new(emu, kind, "crm-b", None);
    let sent = if stagger.is_zero() {
        log_together(http, &mut [&mut a, &mut b], &call)
    } else {
        let mut sent = log_together(http, &mut [&mut a], &call);
        std::thread::sleep(stagger);
        sent.extend(log_together(http, &mut [&mut b], &call));
        sent
    };
    let searches = sent.iter().flatten().filter(|r| r.ends_with("/crm/v3/objects/calls/search")).count();
    assert_eq!(searches, if late { 2 } else { 0 }, "late {late}: {sent:#?}");
    records_with(emu, kind, &marker)
}

#[test]
fn two_browsers_hubspot_without_a_unique_property_the_residual_is_the_search_lag() {
    let emu = Emulator::start();
    let http = Executor::new();
    seed(&emu, CrmKind::HubSpot);
    let lag = Duration::from_millis(1500);
    let print = std::env::var("CALLTRAIL_PRINT_RESIDUAL").is_ok_and(|v| v == "1");
    // At the hang-up, each browser creates without looking: two records, however far apart.
    for (n, ms) in [0u64, 2200].into_iter().enumerate() {
        assert_eq!(hubspot_residual(&emu, &http, lag, Duration::from_millis(ms), 100 + n, false), 2, "on time, stagger {ms} ms");
    }
    let staggers: &[u64] = if print { &[0, 250, 500, 1000, 1400, 1600, 2000, 3000] } else { &[0, 700, 2200] };
    let mut rows = Vec::new();
    for (n, &ms) in staggers.iter().enumerate() {
        let t = Instant::now();
        let records = hubspot_residual(&emu, &http, lag, Duration::from_millis(ms), n, true);
        rows.push((ms, records, t.elapsed()));
        // Late, inside the lag both browsers create; past it the second finds the first's call.
        let want = if ms < lag.as_millis() as u64 { 2 } else { 1 };
        assert_eq!(records, want, "stagger {ms} ms with a {} ms search lag", lag.as_millis());
    }
    // The window, found by bisection: the shortest stagger that leaves one record.
    let (mut lo, mut hi) = (0u64, 3000u64);
    let mut n = staggers.len();
    while hi - lo > if print { 25 } else { 200 } {
        let mid = (lo + hi) / 2;
        n += 1;
        if hubspot_residual(&emu, &http, lag, Duration::from_millis(mid), n, true) == 1 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    assert!(hi >= lag.as_millis() as u64 - 50 && hi <= lag.as_millis() as u64 + 400, "window {lo}..{hi} ms for a {} ms lag", lag.as_millis());
    if print {
        println!("| search lag | late logs: second browser starts after the first's create | records |");
        println!("| --- | --- | --- |");
        for (ms, records, _) in &rows {
            println!("| {} ms | {ms} ms | {records} |", lag.as_millis());
        }
        println!("residual window: {lo}..{hi} ms after the first create ({} ms search lag)", lag.as_millis());
    }
}
