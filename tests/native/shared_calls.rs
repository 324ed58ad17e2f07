//! Who logs a shared call (`docs/shared-calls.md`), on RingCentral's data:
//! - the fixtures in `tests/fixtures/ringcentral/` (a queue call a colleague answered, a queue
//!   call nobody answered, a transfer, a conference), decoded and settled per user, with and
//!   without the call log, in any order and with repeats: each user's legs come out as the
//!   fixture's `expect` says;
//! - the same legs through one engine per user into one CRM account the users share: one record
//!   per logged leg, each under its own marker, nothing for a leg that is not the user's;
//! - the Embeddable's view in the browser: a queue call a colleague answered is not logged by
//!   the rep who only saw it ring, and a call the rep answered on another device is logged by a
//!   browser that only saw it ring as answered, under the same marker as the answering one.

use std::collections::BTreeMap;

use calltrail_core::crm::CrmOp;
use calltrail_core::engine::{Effect, Engine, EngineOptions, Input, SlotState};
use calltrail_core::model::{Call, CallId, CallResult, CrmKind, Direction, Timestamp};
use calltrail_core::phone::Country;
use calltrail_core::settings::Settings;
use calltrail_core::softphone::{self, DecodeContext};
use calltrail_core::store::MemStore;
use calltrail_core::telephony::ringcentral::{self, Fact, Leg};
use serde_json::{json, Value};

use crate::support::fake_crm::FakeCrm;
use crate::support::world::integration;

const FIXTURES: [&str; 4] = ["queue-answered-by-colleague", "queue-missed", "transfer", "conference"];

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/ringcentral/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).expect("fixture JSON")
}

/// Every fact of a fixture, notifications first (as delivered), then the call log.
fn facts(f: &Value, with_log: bool) -> Vec<Fact> {
    let mut out: Vec<Fact> = Vec::new();
    for n in f["notifications"].as_array().expect("notifications") {
        let note = ringcentral::notification(n).unwrap_or_else(|e| panic!("a fixture notification refused: {e}: {n}"));
        out.extend(note.parties.into_iter().map(Fact::Party));
    }
    if with_log {
        for r in f["call_log"].as_array().expect("call_log") {
            out.push(Fact::Log(ringcentral::log_record(r).unwrap_or_else(|e| panic!("a fixture record refused: {e}: {r}"))));
        }
    }
    out
}

/// What the fixture expects for `user`, per session index.
fn expected(f: &Value, user: &str) -> Vec<(usize, Value)> {
    match &f["expect"][user] {
        Value::Array(legs) => legs.iter().map(|l| (l["session"].as_u64().unwrap_or(0) as usize, l.clone())).collect(),
        Value::Object(_) => vec![(f["expect"][user]["session"].as_u64().unwrap_or(0) as usize, f["expect"][user].clone())],
        _ => Vec::new(),
    }
}

/// Settles every user's legs of a fixture at `now`; `(user, session, leg)`.
fn settle_all(f: &Value, facts: &[Fact], now: Timestamp) -> Vec<(String, usize, Leg)> {
    let sessions: Vec<String> = f["sessions"].as_array().expect("sessions").iter().map(|s| s.as_str().expect("session").to_owned()).collect();
    let users: Vec<String> = f["expect"].as_object().expect("expect").keys().cloned().collect();
    let mut out = Vec::new();
    for user in users {
        for (i, s) in sessions.iter().enumerate() {
            // The server's worker hands the rule one session's facts.
            let of_session: Vec<Fact> = facts.iter().filter(|x| x.session() == s).cloned().collect();
            out.push((user.clone(), i, ringcentral::settle(&of_session, &user, Country::US, now)));
        }
    }
    out
}

/// Long after every fixture call: nothing waits for the call log any more.
fn later() -> Timestamp {
    Timestamp::parse("2026-06-01T16:00:00Z").unwrap()
}

fn check_against_expect(name: &str, f: &Value, legs: &[(String, usize, Leg)], how: &str) {
    for (user, session, leg) in legs {
        let Some((_, want)) = expected(f, user).into_iter().find(|(s, _)| s == session) else { continue };
        let at = format!("{name} ({how}): user {user}, session {session}");
        if want["logged"] == json!(true) {
            let Leg::Ended(c) = leg else { panic!("{at}: expected a logged leg, got {leg:?}") };
            assert_eq!(c.id.as_str(), format!("rc:{}", f["sessions"][*session].as_str().unwrap()), "{at}");
            assert_eq!(c.their_number.as_str(), want["their"].as_str().unwrap(), "{at}");
            let dir = match c.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            };
            assert_eq!(dir, want["direction"].as_str().unwrap(), "{at}");
            assert_eq!(format!("{:?}", c.result).to_lowercase(), want["result"].as_str().unwrap(), "{at}");
            assert_eq!(c.duration_secs(), want["talk_secs"].as_i64().unwrap(), "{at}: {c:?}");
            assert!(c.leg.id.as_deref().is_some_and(|p| p.starts_with("p-")), "{at}: the leg names the user's party: {:?}", c.leg);
        } else {
            assert!(matches!(leg, Leg::NotTheirs { .. }), "{at}: expected not the user's ({}), got {leg:?}", want["why"]);
        }
    }
    // Two users' logged legs of one session are two legs.
    let mut by_session: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (_, s, leg) in legs {
        if let Leg::Ended(c) = leg {
            by_session.entry(*s).or_default().push(c.leg.id.clone().unwrap_or_default());
        }
    }
    for (s, ids) in by_session {
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{name}: session {s}: two users share a leg id: {ids:?}");
    }
}

#[test]
fn fixtures_settle_per_user_as_the_rule_says() {
    for name in FIXTURES {
        let f = fixture(name);
        for with_log in [false, true] {
            let how = if with_log { "notifications and call log" } else { "notifications only" };
            let all = facts(&f, with_log);
            check_against_expect(name, &f, &settle_all(&f, &all, later()), how);
            // Deliveries are neither ordered nor single.
            let mut shuffled = all.clone();
            shuffled.reverse();
            shuffled.extend(all.iter().step_by(3).cloned());
            check_against_expect(name, &f, &settle_all(&f, &shuffled, later()), &format!("{how}, reversed, repeats"));
        }
    }
}

#[test]
fn a_queue_leg_is_not_logged_before_the_call_is_over_and_is_never_the_members() {
    // Right after a colleague answered, the member's party is over but the call is not: the
    // member's leg is already known not to be theirs, whatever comes next.
    let f = fixture("queue-answered-by-colleague");
    let all = facts(&f, false);
    let bob = f["users"]["bob"].as_str().unwrap();
    let carol = f["users"]["carol"].as_str().unwrap();
    let answer = all.iter().position(|x| matches!(x, Fact::Party(p) if p.extension.as_deref() == Some(carol) && p.status == "Answered")).expect("Carol answers");
    let so_far = &all[..=answer + 2];
    assert!(matches!(ringcentral::settle(so_far, bob, Country::US, later()), Leg::NotTheirs { .. }));
    assert!(matches!(ringcentral::settle(so_far, carol, Country::US, later()), Leg::Pending { .. }), "Carol's leg goes on");
}

/// Drives `e` until it has nothing more to do at `now`, answering CRM requests from `crm`.
fn pump(e: &mut Engine, crm: &mut FakeCrm, now: Timestamp) {
    pump_logging(e, crm, now, &mut Vec::new());
}

/// [`pump`], keeping the calls as the creates sent them.
fn pump_logging(e: &mut Engine, crm: &mut FakeCrm, now: Timestamp, sent: &mut Vec<Call>) {
    pump_creates(e, crm, now, |log| sent.push(log.call.clone()));
}

/// [`pump`], handing every call log create to `created` as it goes out.
fn pump_creates(e: &mut Engine, crm: &mut FakeCrm, now: Timestamp, mut created: impl FnMut(&calltrail_core::crm::CallLog)) {
    let mut guard = 0;
    loop {
        guard += 1;
        assert!(guard < 10_000, "the engine never settles");
        let mut replies = Vec::new();
        while let Some(x) = e.poll_effect() {
            if let Effect::Crm(r) = x {
                if let CrmOp::CreateCallLog { log } = &r.op {
                    created(log);
                }
                replies.push((r.req, crm.execute(&r.op, now)));
            }
        }
        if replies.is_empty() {
            return;
        }
        for (req, result) in replies {
            e.handle(Input::CrmDone { req, result }, now);
        }
    }
}

fn engine(settle_ms: i64, now: Timestamp) -> Engine {
    engine_with(Settings { integrations: vec![integration("hs", CrmKind::HubSpot)], ..Settings::default() }, settle_ms, now)
}

fn engine_with(settings: Settings, settle_ms: i64, now: Timestamp) -> Engine {
    let snapshot = MemStore::new().restore(&Engine::restore_query(&settings, now));
    let mut e = Engine::new(EngineOptions { unanswered_settle_ms: settle_ms, ..EngineOptions::default() });
    let zones = calltrail_core::zone::Zones::for_settings(&crate::support::zones::Tzdb::default(), &settings, now).expect("known zones");
    e.handle(Input::Restored { snapshot, settings, zones, boot_id: 7 }, now);
    e
}

/// A CRM account several users share, with the fixtures' caller as a contact.
fn shared_crm() -> FakeCrm {
    let mut crm = FakeCrm::new(CrmKind::HubSpot, "hs");
    crm.search_lag_ms = 0;
    crm.find_lag_ms = 0;
    crm.add_contact("c-1", "Wireless Caller", "+14155550123", Timestamp(1_700_000_000_000));
    crm
}

#[test]
fn shared_calls_give_one_record_per_leg_in_a_shared_crm() {
    for name in FIXTURES {
        let f = fixture(name);
        let all = facts(&f, true);
        let legs = settle_all(&f, &all, later());
        let mut crm = shared_crm();
        let mut want: Vec<(String, String)> = Vec::new();
        let users: Vec<String> = f["expect"].as_object().unwrap().keys().cloned().collect();
        for user in &users {
            // One engine per user (their browser, or their engine on the server).
            let mut e = engine(0, later());
            for (u, _, leg) in &legs {
                if u != user {
                    continue;
                }
                if let Leg::Ended(c) = leg {
                    want.push((user.clone(), c.leg.id.clone().unwrap_or_default()));
                    e.handle(Input::CallEnded(c.clone()), later());
                    pump(&mut e, &mut crm, later());
                }
            }
            for s in e.slots() {
                assert!(matches!(s.state, SlotState::Logged), "{name}: {user}: {} is {:?}", s.key, s.state);
            }
        }
        let calls: Vec<_> = crm.records.iter().filter(|r| r.what == "call").collect();
        assert_eq!(calls.len(), want.len(), "{name}: one record per logged leg: {:#?}", crm.records);
        for (user, party) in &want {
            let mine: Vec<_> = calls.iter().filter(|r| r.marker.as_str().ends_with(&format!("|{party}"))).collect();
            assert_eq!(mine.len(), 1, "{name}: {user}'s leg {party} has one record");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The Embeddable's view, in the browser

const ORIGIN: &str = "https://apps.ringcentral.com";

fn decode(data: Value, now: Timestamp) -> Option<Input> {
    let origins = vec![ORIGIN.to_owned()];
    let ctx = DecodeContext::new(&origins, Country::US, now);
    softphone::to_input(softphone::decode(ORIGIN, &data, &ctx).unwrap_or_else(|e| panic!("{e}: {data}")))
}

/// A webphone session as `rc-call-*-notify` carries it (reference/softphones.md §1.2).
fn webphone(kind: &str, t0: i64, start: Option<i64>, end: Option<i64>, queue: Option<&str>) -> Value {
    let mut call = json!({
        "id": "c2lwLXNlc3Npb24tMQ", "callId": "a84b4c76e66710@10.0.0.5", "direction": "Inbound",
        "callStatus": "webphone-session-connecting", "to": "+16505550102", "from": "+14155550123",
        "fromUserName": "WIRELESS CALLER", "startTime": start, "creationTime": t0,
        "partyData": {"partyId": "p-a0d7a2b5c1e3fz18f3e7b8a2-3", "sessionId": "s-a0d7a2b5c1e3fz18f3e7b8a2"},
        "callQueueName": queue, "contactMatch": null
    });
    if let Some(e) = end {
        call["endTime"] = json!(e);
        call["callStatus"] = json!("webphone-session-finished");
    }
    json!({"type": kind, "call": call})
}

/// A presence active call as `rc-active-call-notify` carries it.
fn presence(status: &str, termination: &str, t0: i64, queue: bool) -> Value {
    json!({"type": "rc-active-call-notify", "call": {
        "direction": "Inbound", "from": {"phoneNumber": "+14155550123"}, "to": {"phoneNumber": "+16505550102"},
        "startTime": t0, "telephonyStatus": status, "terminationType": termination,
        "sessionId": "1234567890123", "telephonySessionId": "s-a0d7a2b5c1e3fz18f3e7b8a2",
        "partyId": "p-a0d7a2b5c1e3fz18f3e7b8a2-3", "queueCall": queue
    }})
}

#[test]
fn a_queue_call_a_colleague_answered_is_not_logged_by_a_member_who_saw_it_ring() {
    let t0 = Timestamp::parse("2026-06-01T15:00:00Z").unwrap();
    for settle_ms in [0, 30_000] {
        let mut crm = shared_crm();
        let mut e = engine(settle_ms, t0);
        let ms = t0.0;
        let stream = [
            (0, webphone("rc-call-ring-notify", ms, None, None, Some("Support Queue"))),
            (150, presence("Ringing", "intermediate", ms, true)),
            (8_000, webphone("rc-call-end-notify", ms, None, Some(ms + 8_000), Some("Support Queue"))),
            (8_400, presence("NoCall", "final", ms, true)),
        ];
        for (at, data) in stream {
            let now = t0.plus_ms(at);
            if let Some(input) = decode(data, now) {
                e.handle(input, now);
            }
            pump(&mut e, &mut crm, now);
        }
        let later = t0.plus_ms(60_000);
        e.handle(Input::AlarmFired, later);
        pump(&mut e, &mut crm, later);
        assert!(crm.records.is_empty(), "settle {settle_ms}: nothing logged: {:?}", crm.records);
        let s = e.slots().next().expect("a slot, to show why");
        assert!(matches!(&s.state, SlotState::Skipped { reason } if reason.contains("queue call")), "{:?}", s.state);
    }
}

/// One browser's view of a direct call the rep answered at +8 s and hung up at +68 s: the
/// answering browser's webphone session, or (`rang_only`) a browser whose webphone only rang,
/// which hears of the answer from presence a moment after its session ended.
fn direct_call_stream(t0: Timestamp, rang_only: bool) -> Vec<(i64, Value)> {
    let ms = t0.0;
    let mut s = vec![(0, webphone("rc-call-ring-notify", ms, None, None, None)), (150, presence("Ringing", "intermediate", ms, false))];
    if rang_only {
        s.push((8_000, webphone("rc-call-end-notify", ms, None, Some(ms + 8_000), None)));
        s.push((9_200, presence("CallConnected", "intermediate", ms, false)));
        s.push((68_900, presence("NoCall", "final", ms, false)));
    } else {
        s.push((8_000, webphone("rc-call-start-notify", ms, Some(ms + 8_000), None, None)));
        s.push((9_200, presence("CallConnected", "intermediate", ms, false)));
        s.push((68_000, webphone("rc-call-end-notify", ms, Some(ms + 8_000), Some(ms + 68_000), None)));
        s.push((68_900, presence("NoCall", "final", ms, false)));
    }
    s
}

#[test]
fn a_call_answered_on_another_device_is_logged_as_answered_under_the_same_marker() {
    let t0 = Timestamp::parse("2026-06-01T15:00:00Z").unwrap();
    let mut logged = Vec::new();
    for rang_only in [false, true] {
        let mut crm = shared_crm();
        let mut e = engine(30_000, t0);
        let mut sent = Vec::new();
        for (at, data) in direct_call_stream(t0, rang_only) {
            let now = t0.plus_ms(at);
            if let Some(input) = decode(data, now) {
                e.handle(input, now);
            }
            pump_logging(&mut e, &mut crm, now, &mut sent);
        }
        for at in [70_000, 100_000, 200_000] {
            e.handle(Input::AlarmFired, t0.plus_ms(at));
            pump_logging(&mut e, &mut crm, t0.plus_ms(at), &mut sent);
        }
        assert_eq!((crm.records.len(), sent.len()), (1, 1), "rang only: {rang_only}: {:?}", crm.records);
        logged.push((crm.records[0].marker.clone(), sent.remove(0)));
    }
    assert_eq!(logged[0].0, logged[1].0, "both browsers write one marker");
    let (answering, rang) = (&logged[0].1, &logged[1].1);
    assert_eq!((answering.result, answering.duration_secs()), (CallResult::Answered, 60));
    assert_eq!(rang.result, CallResult::Answered, "the browser that only rang logs the call as answered: {rang:?}");
    // Presence stamps its times when they arrive: the talk time is off by their delay.
    assert!((58..=61).contains(&rang.duration_secs()), "{rang:?}");
}

#[test]
fn a_direct_call_nobody_answered_is_logged_as_missed_after_the_wait() {
    let t0 = Timestamp::parse("2026-06-01T15:00:00Z").unwrap();
    let ms = t0.0;
    let mut crm = shared_crm();
    let mut e = engine(30_000, t0);
    for (at, data) in [
        (0, webphone("rc-call-ring-notify", ms, None, None, None)),
        (20_000, webphone("rc-call-end-notify", ms, None, Some(ms + 20_000), None)),
        (20_400, presence("NoCall", "final", ms, false)),
    ] {
        let now = t0.plus_ms(at);
        if let Some(input) = decode(data, now) {
            e.handle(input, now);
        }
        pump(&mut e, &mut crm, now);
    }
    assert!(crm.records.is_empty(), "not before the wait");
    let after = t0.plus_ms(51_000);
    assert_eq!(e.next_deadline(), Some(t0.plus_ms(50_000)));
    e.handle(Input::AlarmFired, after);
    pump(&mut e, &mut crm, after);
    assert_eq!(crm.records.len(), 1);
    assert_eq!(e.call(&CallId::new("rc:s-a0d7a2b5c1e3fz18f3e7b8a2")).map(|c| c.call.result), Some(CallResult::Missed));
}

/// One browser's engine with a Clio integration, and Clio with the caller as a contact.
fn clio_browser(now: Timestamp) -> (Engine, FakeCrm, calltrail_core::model::Contact) {
    // A pick made during the call is logged at the call's end (no delay to change one's mind).
    let settings = Settings { integrations: vec![integration("cl", CrmKind::Clio)], active_call_delay_mins: 0, ..Settings::default() };
    let e = engine_with(settings, 30_000, now);
    let mut crm = FakeCrm::new(CrmKind::Clio, "cl");
    let caller = crm.add_contact("c-1", "Wireless Caller", "+14155550123", Timestamp(1_700_000_000_000));
    (e, crm, caller)
}

/// One browser's view of a call into Clio: its stream of Embeddable messages, a pick made in
/// it at +20 s, and alarms, in time order; the call log creates it sent, with their timing,
/// and whether every slot ended logged.
fn clio_browser_day(stream: Vec<(i64, Value)>, pick: bool, write_fault: Option<crate::support::fake_crm::Fault>) -> (Vec<(i64, calltrail_core::crm::Timing)>, usize, bool) {
    let t0 = Timestamp::parse("2026-06-01T15:00:00Z").unwrap();
    let (mut e, mut crm, caller) = clio_browser(t0);
    crm.write_faults.extend(write_fault);
    let mut creates = Vec::new();
    let mut run = |e: &mut Engine, crm: &mut FakeCrm, at: i64| pump_creates(e, crm, t0.plus_ms(at), |log| creates.push((at, log.timing)));
    let mut inputs: Vec<(i64, Option<Value>)> = stream.into_iter().map(|(at, d)| (at, Some(d))).collect();
    inputs.extend([20_000, 70_000, 100_000, 158_899, 158_900, 200_000, 689_999, 690_000, 900_000].map(|at| (at, None)));
    inputs.sort_by_key(|(at, _)| *at);
    for (at, data) in inputs {
        let now = t0.plus_ms(at);
        match data {
            Some(data) => {
                if let Some(input) = decode(data, now) {
                    e.handle(input, now);
                }
            }
            None if at == 20_000 && pick => {
                let call = CallId::new("rc:s-a0d7a2b5c1e3fz18f3e7b8a2");
                e.handle(Input::ContactsPicked { call, integration: calltrail_core::model::IntegrationId::new("cl"), contacts: vec![caller.clone()] }, now);
            }
            None => e.handle(Input::AlarmFired, now),
        }
        run(&mut e, &mut crm, at);
    }
    let logged = e.slots().all(|s| s.state == SlotState::Logged);
    (creates, crm.records.len(), logged)
}

/// On Clio, whose check for another browser's record is a request of its own: the browser
/// whose webphone answered logs at the hang-up as the leg's first, without the check; a browser
/// whose webphone only rang, or that had none (it hears of the answer through presence), or that
/// took the call over after the rep answered it elsewhere (a call switch), waits until 90 s after
/// the end, then logs with the check, also when the rep picked the contact in it during the call,
/// or the call pop's answer was on hand; and a carrier whose first create's outcome was unknown
/// checks on its retry.
#[test]
fn on_clio_the_browser_that_answered_logs_first_and_the_others_wait_for_it() {
    use calltrail_core::crm::Timing::{AtHangUp, Carrier};
    use calltrail_core::engine::shared::OTHERS_WAIT_MS;
    use crate::support::fake_crm::Fault;
    let t0 = Timestamp::parse("2026-06-01T15:00:00Z").unwrap();
    let ms = t0.0;
    // RingOut calling mode (a desk phone carried it): presence only, and the call pop's answer
    // is on hand at the end.
    let presence_only = vec![(150, presence("Ringing", "intermediate", ms, false)), (9_200, presence("CallConnected", "intermediate", ms, false)), (68_900, presence("NoCall", "final", ms, false))];
    // The rep answered on a desk phone, then switched the call to this browser's webphone.
    let switched_here = vec![
        (150, presence("Ringing", "intermediate", ms, false)),
        (9_200, presence("CallConnected", "intermediate", ms, false)),
        (200_000, webphone("rc-call-start-notify", ms, Some(ms + 200_000), None, None)),
        (600_000, webphone("rc-call-end-notify", ms, Some(ms + 200_000), Some(ms + 600_000), None)),
        (600_900, presence("NoCall", "final", ms, false)),
    ];
    let end = 68_900;
    let cases = [
        ("answered here", direct_call_stream(t0, false), false, None, vec![(68_000, Carrier)]),
        ("rang here", direct_call_stream(t0, true), false, None, vec![(end + OTHERS_WAIT_MS, AtHangUp)]),
        ("rang here, picked here", direct_call_stream(t0, true), true, None, vec![(end + OTHERS_WAIT_MS, AtHangUp)]),
        ("presence only", presence_only, false, None, vec![(end + OTHERS_WAIT_MS, AtHangUp)]),
        ("switched here", switched_here, false, None, vec![(600_000 + OTHERS_WAIT_MS, AtHangUp)]),
        ("answered here, the create's outcome unknown", direct_call_stream(t0, false), false, Some(Fault::ServerError), vec![(68_000, Carrier), (68_000, AtHangUp)]),
    ];
    for (name, stream, pick, fault, want) in cases {
        let (creates, records, logged) = clio_browser_day(stream, pick, fault);
        assert_eq!(creates, want, "{name}");
        assert_eq!((records, logged), (1, true), "{name}");
    }
}

/// A browser whose webphone only rang, where the rep picked the contact while talking on
/// another device: the pick's log waits for the call's real end (ten minutes on), then the
/// pick delay, and carries the whole talk time; it is not made mid-call with none.
#[test]
fn a_pick_made_while_the_call_goes_on_elsewhere_is_logged_after_its_real_end() {
    let t0 = Timestamp::parse("2026-06-01T15:00:00Z").unwrap();
    let ms = t0.0;
    let real_end = 600_000;
    let stream = vec![
        (0, webphone("rc-call-ring-notify", ms, None, None, None)),
        (150, presence("Ringing", "intermediate", ms, false)),
        (8_000, webphone("rc-call-end-notify", ms, None, Some(ms + 8_000), None)),
        (9_200, presence("CallConnected", "intermediate", ms, false)),
        (real_end, presence("NoCall", "final", ms, false)),
    ];
    let mut crm = shared_crm();
    let mut e = engine(30_000, t0);
    let mut sent: Vec<(i64, Call)> = Vec::new();
    let mut pump_at = |e: &mut Engine, crm: &mut FakeCrm, at: i64| {
        let mut calls = Vec::new();
        pump_logging(e, crm, t0.plus_ms(at), &mut calls);
        sent.extend(calls.into_iter().map(|c| (at, c)));
    };
    let mut alarms = vec![20_000, 100_000, 188_000, 300_000, real_end + 1_000, real_end + 180_000, real_end + 200_000];
    for (at, data) in stream {
        while alarms.first().is_some_and(|a| *a < at) {
            let a = alarms.remove(0);
            if a == 20_000 {
                let call = CallId::new("rc:s-a0d7a2b5c1e3fz18f3e7b8a2");
                let caller = crm.contacts[0].0.clone();
                e.handle(Input::ContactsPicked { call, integration: calltrail_core::model::IntegrationId::new("hs"), contacts: vec![caller] }, t0.plus_ms(a));
            } else {
                e.handle(Input::AlarmFired, t0.plus_ms(a));
            }
            pump_at(&mut e, &mut crm, a);
        }
        if let Some(input) = decode(data, t0.plus_ms(at)) {
            e.handle(input, t0.plus_ms(at));
        }
        pump_at(&mut e, &mut crm, at);
    }
    for a in alarms {
        e.handle(Input::AlarmFired, t0.plus_ms(a));
        pump_at(&mut e, &mut crm, a);
    }
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let (at, call) = &sent[0];
    assert_eq!(*at, real_end + 180_000, "logged the pick delay (3 min) after the real end");
    assert_eq!(call.result, CallResult::Answered);
    assert!((589..=591).contains(&call.duration_secs()), "{call:?}");
}
