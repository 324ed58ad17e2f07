//! Scenario tests: one per product rule (PRODUCT.md), against the fake world in `support/`.
//! Every test also asserts the world saw no invariant violation on the effect trace.

use calltrail_core::engine::{Input, Notice, ProblemKind, Resolution};
use calltrail_core::model::{CallId, ConversationId, Direction, IntegrationId, Message, MessageKind, RecordId, RecordType, Timestamp};
use calltrail_core::settings::ConflictRule;

use crate::support::fake_crm::contact;
use crate::support::world::{call, e164, ts, CrashPoint};
use crate::support::{Fault, World};

const ANN: &str = "+12125550100";

fn ended(id: &str, number: &str, w: &World) -> Input {
    Input::CallEnded(call(id, number, w.now.plus_mins(-5), w.now))
}

fn cid(s: &str) -> CallId {
    CallId::new(s)
}

fn iid(s: &str) -> IntegrationId {
    IntegrationId::new(s)
}

fn day_before(t: Timestamp) -> Timestamp {
    t.plus_hours(-24)
}

/// A world on an ordinary June day at 10:00 New York, with Ann a contact in the first `n`.
fn world_with_ann(n: usize, integrations: &[&str]) -> World {
    let t0 = ts("2026-06-10T14:00:00Z");
    let mut w = World::new(n, t0);
    for id in integrations {
        w.crm(id).add_contact(&format!("ann-{id}"), "Ann", ANN, day_before(t0));
    }
    w
}

#[test]
fn automatic_logging_at_hang_up_logs_each_matching_integration_once() {
    let mut w = world_with_ann(3, &["hs", "pd"]);
    w.advance_mins(5);
    let e = ended("c1", ANN, &w);
    w.input(e.clone());
    w.input(e); // the same call from a second tab
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.state("c1", "pd"), "logged");
    assert_eq!(w.state("c1", "sf"), "no_match");
    for id in ["hs", "pd"] {
        assert_eq!(w.crm(id).logs_for_call("c1").len(), 1, "{id}");
    }
    assert!(w.problems.iter().any(|p| p.kind == ProblemKind::Duplicate));
    w.assert_clean();
}

#[test]
fn one_of_four_integrations_fails_and_the_next_digest_logs_it() {
    let mut w = world_with_ann(4, &["hs", "pd", "sf", "zo"]);
    w.advance_mins(5);
    w.crm("zo").faults.push_back(Fault::ServerError);
    let e = ended("c1", ANN, &w);
    w.input(e);
    for id in ["hs", "pd", "sf"] {
        assert_eq!(w.state("c1", id), "logged", "{id}");
    }
    assert_eq!(w.state("c1", "zo"), "waiting");
    assert!(w.crm("zo").records.is_empty());
    w.advance_mins(60);
    assert_eq!(w.state("c1", "zo"), "logged");
    for id in ["hs", "pd", "sf", "zo"] {
        assert_eq!(w.crm(id).logs_for_call("c1").len(), 1, "{id}");
    }
    w.assert_clean();
}

#[test]
fn contact_created_two_hours_after_the_call_is_logged_by_the_digest_five_hours_is_not() {
    let mut w = world_with_ann(2, &[]);
    w.advance_mins(5);
    let end = w.now;
    w.input(ended("two", "+13105550111", &w));
    w.input(ended("five", "+13105550122", &w));
    assert_eq!(w.state("two", "hs"), "no_match");
    w.crm("hs").add_contact("late-2", "Bo", "+13105550111", end.plus_hours(2));
    w.crm("hs").add_contact("late-5", "Cy", "+13105550122", end.plus_hours(5));
    w.advance_to(end.plus_hours(3));
    assert_eq!(w.state("two", "hs"), "logged");
    assert_eq!(w.crm("hs").logs_for_call("two").len(), 1);
    w.advance_to(end.plus_hours(30));
    assert!(w.crm("hs").logs_for_call("five").is_empty());
    assert_eq!(w.state("five", "hs"), "skipped", "closed once out of every window");
    // pd never had either contact.
    assert!(w.crm("pd").records.is_empty());
    w.assert_clean();
}

#[test]
fn notes_opened_then_cancelled_goes_to_the_digest() {
    let mut w = world_with_ann(2, &["hs", "pd"]);
    w.advance_mins(5);
    let mut c = call("c1", ANN, w.now, w.now);
    c.ended_at = None;
    w.input(Input::CallRinging(c.clone()));
    w.input(Input::NotesOpened { call: cid("c1") });
    w.input(Input::NotesCancelled { call: cid("c1") });
    w.advance_mins(4);
    c.ended_at = Some(w.now);
    w.input(Input::CallEnded(c));
    assert_eq!(w.creates_sent("hs") + w.creates_sent("pd"), 0, "not logged at hang-up");
    assert_eq!(w.state("c1", "hs"), "waiting");
    w.advance_mins(60);
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.state("c1", "pd"), "logged");
    let digest_creates = w.sent.iter().filter(|s| s.req.trigger == calltrail_core::engine::Trigger::Digest).count();
    assert!(digest_creates >= 2);
    w.assert_clean();
}

#[test]
fn notes_written_during_the_call_are_in_the_digest_log() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    let mut c = call("c1", ANN, w.now, w.now);
    c.ended_at = None;
    w.input(Input::CallStarted(c.clone()));
    w.input(Input::NotesOpened { call: cid("c1") });
    w.input(Input::NotesSaved { call: cid("c1"), notes: "Wants the <b>renewal</b> quote".into() });
    w.advance_mins(2);
    c.ended_at = Some(w.now);
    w.input(Input::CallEnded(c));
    assert_eq!(w.state("c1", "hs"), "waiting");
    w.advance_mins(60);
    let logs = w.crm("hs").logs_for_call("c1");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].notes, "Wants the <b>renewal</b> quote");
    w.assert_clean();
}

#[test]
fn active_call_picks_in_two_of_three_are_logged_after_the_delay_and_the_third_automatically() {
    let mut w = world_with_ann(3, &["hs", "pd", "sf"]);
    let t = w.now;
    let bea = w.crm("hs").add_contact("bea-hs", "Bea", ANN, day_before(t));
    let ann_hs = contact("ann-hs", "Ann", "Contact", ANN, day_before(w.now));
    let ann_pd = contact("ann-pd", "Ann", "Contact", ANN, day_before(w.now));
    w.advance_mins(5);
    let mut c = call("c1", ANN, w.now, w.now);
    c.ended_at = None;
    w.input(Input::CallStarted(c.clone()));
    w.input(Input::ContactsPicked { call: cid("c1"), integration: iid("hs"), contacts: vec![ann_hs, bea] });
    w.input(Input::ContactsPicked { call: cid("c1"), integration: iid("pd"), contacts: vec![ann_pd] });
    w.input(Input::NotesSaved { call: cid("c1"), notes: "so far".into() });
    w.advance_mins(3);
    c.ended_at = Some(w.now);
    let end = w.now;
    w.input(Input::CallEnded(c));
    // sf is neither picked nor noted?: notes were saved, so sf goes to the digest, not auto.
    assert_eq!(w.creates_sent("hs") + w.creates_sent("pd"), 0, "picks wait for the delay");
    w.advance_to(end.plus_mins(2));
    assert_eq!(w.creates_sent("hs"), 0);
    w.advance_to(end.plus_mins(3));
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.state("c1", "pd"), "logged");
    let hs = w.crm("hs").logs_for_call("c1");
    assert_eq!(hs.len(), 2, "one log per picked contact");
    assert!(hs.iter().all(|r| r.notes == "so far"));
    assert!(w.crm("sf").logs_for_call("c1").is_empty(), "sf: notes were written, so it waits for the digest");
    w.assert_clean();
}

#[test]
fn active_call_picks_leave_other_integrations_automatic_and_log_now_skips_the_wait() {
    let mut w = world_with_ann(3, &["hs", "pd", "sf"]);
    let ann_hs = contact("ann-hs", "Ann", "Contact", ANN, day_before(w.now));
    let ann_pd = contact("ann-pd", "Ann", "Contact", ANN, day_before(w.now));
    w.advance_mins(5);
    let mut c = call("c1", ANN, w.now, w.now);
    c.ended_at = None;
    w.input(Input::CallStarted(c.clone()));
    w.input(Input::ContactsPicked { call: cid("c1"), integration: iid("hs"), contacts: vec![ann_hs] });
    w.input(Input::ContactsPicked { call: cid("c1"), integration: iid("pd"), contacts: vec![ann_pd] });
    w.advance_mins(1);
    c.ended_at = Some(w.now);
    w.input(Input::CallEnded(c));
    assert_eq!(w.state("c1", "sf"), "logged", "the third integration logs automatically");
    assert_eq!(w.state("c1", "hs"), "waiting");
    w.advance_mins(1);
    w.input(Input::LogNowRequested { call: cid("c1") });
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.state("c1", "pd"), "logged");
    assert_eq!(w.crm("hs").logs_for_call("c1").len(), 1);
    w.assert_clean();
}

#[test]
fn manual_logging_twice_to_the_same_integration_is_refused() {
    let mut w = World::with(2, ts("2026-06-10T14:00:00Z"), Default::default(), |s| s.integrations[0].auto_log = false);
    let t = w.now;
    w.crm("hs").add_contact("ann", "Ann", ANN, day_before(t));
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    assert_eq!(w.state("c1", "hs"), "skipped");
    w.auto_deliver = false;
    let manual = |i: &[&str]| Input::ManualLogRequested {
        call: cid("c1"),
        integrations: i.iter().map(|s| iid(s)).collect(),
        stored: Default::default(),
    };
    w.input(manual(&["hs"]));
    w.input(manual(&["hs", "nope"]));
    w.deliver_all();
    assert_eq!(w.state("c1", "hs"), "logged");
    w.input(manual(&["hs"]));
    let refusals: Vec<String> = w
        .notices
        .iter()
        .filter_map(|n| match n {
            Notice::ManualRefused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert!(refusals[0].contains("already being logged"));
    assert!(refusals[1].contains("not connected"));
    assert!(refusals[2].contains("already logged (record hs-call-"), "{}", refusals[2]);
    assert_eq!(w.crm("hs").logs_for_call("c1").len(), 1);
    // A choice for the logged slot (another device's unresolved page) is refused with why.
    w.input(Input::UnresolvedResolved { resolutions: vec![("call|c1|hs".into(), Resolution::Dismiss)] });
    let refused: Vec<(String, String)> = w
        .notices
        .iter()
        .filter_map(|n| match n {
            Notice::ResolutionRefused { slot, reason } => Some((slot.to_string(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [("call|c1|hs".to_owned(), "already logged".to_owned())]);
    assert_eq!(w.state("c1", "hs"), "logged");
    w.assert_clean();
}

#[test]
fn manual_logging_of_an_old_call_uses_the_stored_records() {
    let mut w = World::with(1, ts("2026-06-10T14:00:00Z"), Default::default(), |s| s.integrations[0].auto_log = false);
    w.advance_mins(5);
    w.input(ended("old", ANN, &w));
    w.advance_to(w.now.plus_hours(24 * 5));
    w.restart();
    assert!(w.engine().call(&cid("old")).is_none(), "not read by the restore");
    let t = w.now;
    w.crm("hs").add_contact("ann", "Ann", ANN, t);
    let mut stored = calltrail_core::store::Snapshot::default();
    let calls = vec![w.store.get(calltrail_core::store::StoreName::Calls, "old").unwrap().clone()];
    let slots = w.store.all(calltrail_core::store::StoreName::Slots).cloned().collect();
    stored.stores = vec![(calltrail_core::store::StoreName::Calls, calls), (calltrail_core::store::StoreName::Slots, slots)];
    w.input(Input::ManualLogRequested { call: cid("old"), integrations: vec![iid("hs")], stored });
    assert_eq!(w.state("old", "hs"), "logged");
    w.assert_clean();
}

/// Every minute of the night from 00:00 local in `zone` (nine UTC hours, for a fall-back night):
/// alarms fire each minute, notes-switched calls wait for the digest, no digest request goes
/// out from 02:00 to 06:59 local (chrono-tz read directly says when that is), and quiet hours
/// last `quiet_hours` real hours.
fn quiet_night(zone: &str, night_local_midnight_utc: &str, quiet_hours: i64) {
    let start = ts(night_local_midnight_utc);
    let mut w = World::with(2, start, Default::default(), |s| s.digest.quiet_time_zone = zone.into());
    let d = w.settings.digest.clone();
    w.crm("hs").add_contact("ann", "Ann", ANN, day_before(start));
    for m in 0..(9 * 60) {
        w.now = start.plus_mins(m);
        // A notes-switched call every 40 minutes, and an automatic one every 90.
        if m % 40 == 20 && m < 6 * 60 + 30 {
            let id = format!("n{m}");
            let mut c = call(&id, ANN, w.now.plus_mins(-3), w.now);
            c.ended_at = None;
            w.input(Input::CallStarted(c.clone()));
            w.input(Input::NotesOpened { call: cid(&id) });
            c.ended_at = Some(w.now);
            w.input(Input::CallEnded(c));
        }
        if m % 90 == 45 && m < 6 * 60 + 30 {
            w.input(Input::CallEnded(call(&format!("a{m}"), ANN, w.now.plus_mins(-3), w.now)));
        }
        w.input(Input::AlarmFired);
    }
    let mut quiet_minutes = 0;
    for m in 0..(9 * 60) {
        let t = start.plus_mins(m);
        if crate::support::zones::in_quiet_hours(&d, t) {
            quiet_minutes += 1;
            let digest_reqs: Vec<_> = w
                .requests_between(t, t.plus_mins(1))
                .into_iter()
                .filter(|s| s.req.trigger == calltrail_core::engine::Trigger::Digest)
                .collect();
            assert!(digest_reqs.is_empty(), "digest request at {t}: {:?}", digest_reqs[0].req);
        }
    }
    assert_eq!(quiet_minutes, quiet_hours * 60, "{zone}");
    // Automatic logging still runs at night, and by 08:00 the digest has logged every call.
    for c in w.engine().slots().filter(|s| s.integration.as_str() == "hs").map(|s| s.key.clone()).collect::<Vec<_>>() {
        assert_eq!(w.stored_state(&c), "logged", "{c}");
    }
    w.assert_clean();
}

#[test]
fn no_digest_request_in_quiet_hours_on_the_spring_forward_night() {
    quiet_night("America/New_York", "2026-03-08T05:00:00Z", 4);
}

#[test]
fn no_digest_request_in_quiet_hours_on_the_fall_back_night() {
    // New York repeats 01:00-02:00, before the quiet hours.
    quiet_night("America/New_York", "2026-11-01T04:00:00Z", 5);
}

#[test]
fn no_digest_request_in_quiet_hours_on_an_ordinary_night() {
    quiet_night("America/New_York", "2026-06-10T04:00:00Z", 5);
}

#[test]
fn no_digest_request_in_berlin_quiet_hours_on_the_spring_forward_night() {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST.
    quiet_night("Europe/Berlin", "2026-03-28T23:00:00Z", 4);
}

#[test]
fn no_digest_request_in_berlin_quiet_hours_on_the_fall_back_night() {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:00-03:00 is quiet twice.
    quiet_night("Europe/Berlin", "2026-10-24T22:00:00Z", 6);
}

#[test]
fn no_digest_request_in_sydney_quiet_hours_on_the_fall_back_night() {
    // 2026-04-05: 03:00 AEDT becomes 02:00 AEST.
    quiet_night("Australia/Sydney", "2026-04-04T13:00:00Z", 6);
}

#[test]
fn no_digest_request_in_sydney_quiet_hours_on_the_spring_forward_night() {
    // 2026-10-04: 02:00 AEST becomes 03:00 AEDT.
    quiet_night("Australia/Sydney", "2026-10-03T14:00:00Z", 4);
}

#[test]
fn the_seven_oclock_catch_up_run_covers_a_call_that_failed_at_one_fifty() {
    // 00:00 New York on an ordinary day; digests at 00:00 and 01:00, quiet from 02:00.
    let start = ts("2026-06-10T04:00:00Z");
    let mut w = World::new(1, start);
    w.crm("hs").add_contact("ann", "Ann", ANN, day_before(start));
    w.advance_to(ts("2026-06-10T05:50:00Z"));
    w.crm("hs").faults.push_back(Fault::ServerError);
    w.input(ended("c150", ANN, &w));
    assert_eq!(w.state("c150", "hs"), "waiting");
    w.advance_to(ts("2026-06-10T10:59:00Z"));
    assert_eq!(w.state("c150", "hs"), "waiting", "nothing during quiet hours");
    w.advance_to(ts("2026-06-10T11:01:00Z"));
    assert_eq!(w.state("c150", "hs"), "logged", "07:00 run reaches back to the last completed run");
    let create = w.sent.iter().find(|s| matches!(s.req.op, calltrail_core::crm::CrmOp::CreateCallLog { .. })).unwrap();
    assert_eq!(create.at, ts("2026-06-10T11:00:00Z"));
    w.assert_clean();
}

#[test]
fn conflicts_follow_each_integrations_rule() {
    let rules = [
        ConflictRule::LastModified,
        ConflictRule::EarliestCreated,
        ConflictRule::Alphabetical,
        ConflictRule::Priority { order: vec![RecordType::new("Lead"), RecordType::new("Contact")] },
    ];
    let mut w = World::with(4, ts("2026-06-10T14:00:00Z"), Default::default(), |s| {
        for (i, r) in rules.iter().enumerate() {
            s.integrations[i].conflict_rule = r.clone();
        }
    });
    let t = w.now;
    for id in ["hs", "pd", "sf", "zo"] {
        let mut zed = contact("zed", "Zed", "Contact", ANN, t.plus_hours(-50));
        zed.modified_at = Some(t.plus_hours(-1));
        let mut amy = contact("amy", "Amy", "Contact", ANN, t.plus_hours(-40));
        amy.modified_at = Some(t.plus_hours(-30));
        let mut lee = contact("lee", "Lee", "Lead", ANN, t.plus_hours(-30));
        lee.modified_at = Some(t.plus_hours(-20));
        for c in [zed, amy, lee] {
            w.crm(id).add(c);
        }
    }
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    let chosen = |w: &mut World, id: &str| w.crm(id).logs_for_call("c1")[0].contact.clone().unwrap().to_string();
    assert_eq!(chosen(&mut w, "hs"), "zed", "last modified");
    assert_eq!(chosen(&mut w, "pd"), "zed", "earliest created");
    assert_eq!(chosen(&mut w, "sf"), "amy", "alphabetical");
    assert_eq!(chosen(&mut w, "zo"), "lee", "priority: Lead first");
    w.assert_clean();
}

#[test]
fn ask_sends_conflicts_to_the_unresolved_queue_and_a_batch_resolves_them() {
    let mut w = World::with(1, ts("2026-06-10T14:00:00Z"), Default::default(), |s| {
        s.integrations[0].placeholder.enabled = true;
    });
    let t = w.now;
    for n in ["+12125550101", "+12125550102", "+12125550103", "+12125550104"] {
        w.crm("hs").add(contact(&format!("a{n}"), "Amy", "Contact", n, t.plus_hours(-5)));
        w.crm("hs").add(contact(&format!("b{n}"), "Bob", "Lead", n, t.plus_hours(-9)));
    }
    w.advance_mins(5);
    for (i, n) in ["+12125550101", "+12125550102", "+12125550103", "+12125550104"].iter().enumerate() {
        w.input(ended(&format!("c{i}"), n, &w));
    }
    assert_eq!(w.engine().unresolved_count(), 4);
    assert!(w.notices.iter().any(|n| matches!(n, Notice::UnresolvedCount { count: 4 })));
    let key = |i: usize| calltrail_core::engine::slot::call_slot_key(&cid(&format!("c{i}")), &iid("hs"));
    w.input(Input::UnresolvedResolved {
        resolutions: vec![
            (key(0), Resolution::Contacts { ids: vec![RecordId::new("a+12125550101"), RecordId::new("b+12125550101")] }),
            (key(1), Resolution::ApplyRule { rule: ConflictRule::EarliestCreated }),
            (key(2), Resolution::CreatePlaceholder),
            (key(3), Resolution::Dismiss),
        ],
    });
    assert_eq!(w.engine().unresolved_count(), 0);
    assert_eq!(w.crm("hs").logs_for_call("c0").len(), 2);
    assert_eq!(w.crm("hs").logs_for_call("c1")[0].contact.as_ref().unwrap().as_str(), "b+12125550102");
    assert_eq!(w.state("c2", "hs"), "logged");
    assert!(w.crm("hs").logs_for_call("c2")[0].contact.as_ref().unwrap().starts_with("hs-contact-"));
    assert_eq!(w.state("c3", "hs"), "dismissed");
    assert!(w.crm("hs").logs_for_call("c3").is_empty());
    w.assert_clean();
}

#[test]
fn a_second_call_from_the_same_number_reuses_the_placeholder() {
    let mut w = World::with(1, ts("2026-06-10T14:00:00Z"), Default::default(), |s| {
        s.integrations[0].placeholder.enabled = true;
    });
    // The CRM's search lags ten minutes behind creates.
    w.crm("hs").search_lag_ms = 600_000;
    w.advance_mins(5);
    w.input(ended("c1", "+14155550199", &w));
    assert_eq!(w.state("c1", "hs"), "logged");
    w.restart();
    w.advance_mins(2);
    w.input(ended("c2", "+14155550199", &w));
    assert_eq!(w.state("c2", "hs"), "logged");
    let contacts: Vec<_> = w.crm("hs").records.iter().filter(|r| r.what == "contact").cloned().collect();
    assert_eq!(contacts.len(), 1, "one placeholder");
    let crm = w.crm("hs");
    let (a, b) = (crm.logs_for_call("c1")[0].contact.clone(), crm.logs_for_call("c2")[0].contact.clone());
    assert_eq!(a, b);
    assert_eq!(a.unwrap(), contacts[0].id);
    assert!(crm.contacts.iter().any(|(c, _)| &*c.name == "New Lead - +14155550199"));
    w.assert_clean();
}

#[test]
fn a_placeholder_create_with_a_lost_reply_is_found_by_its_marker() {
    let mut w = World::with(1, ts("2026-06-10T14:00:00Z"), Default::default(), |s| {
        s.integrations[0].placeholder.enabled = true;
    });
    w.advance_mins(5);
    w.crm("hs").faults.push_back(Fault::Offline);
    w.crm("hs").write_faults.push_back(Fault::LostAfterCommit);
    w.input(Input::CallEnded(call("c1", "+14155550199", w.now.plus_mins(-1), w.now)));
    // Search failed: left for the digest; the digest searches, then the placeholder create's
    // reply is lost; the marker lookup after the lag finds it.
    w.advance_mins(120);
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.crm("hs").records.iter().filter(|r| r.what == "contact").count(), 1);
    w.assert_clean();
}

fn sms(id: &str, conv: &str, at: Timestamp, text: &str) -> Message {
    Message {
        id: id.into(),
        conversation: ConversationId::new(conv),
        kind: MessageKind::Sms,
        direction: Direction::Inbound,
        our_number: Some(e164("+12125550000")),
        their_number: e164(ANN),
        at,
        text: text.into(),
    }
}

#[test]
fn sms_makes_one_record_per_conversation_per_day_updated_as_messages_arrive() {
    let mut w = world_with_ann(2, &["hs"]);
    w.advance_mins(5);
    let t = w.now;
    w.input(Input::MessageReceived(sms("m1", "conv", t, "hi")));
    w.advance_mins(3);
    w.input(Input::MessageReceived(sms("m2", "conv", w.now, "there")));
    w.input(Input::MessageReceived(sms("m2", "conv", w.now, "there"))); // duplicate
    w.advance_mins(3);
    w.input(Input::MessageReceived(sms("m3", "conv", w.now, "!")));
    let recs: Vec<_> = w.crm("hs").records.iter().filter(|r| r.what == "messages").cloned().collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].messages, 3);
    assert_eq!(recs[0].updates, 2);
    // The next day (New York) is a new record.
    w.advance_to(t.plus_hours(24));
    w.input(Input::MessageReceived(sms("m4", "conv", w.now, "again")));
    assert_eq!(w.crm("hs").records.iter().filter(|r| r.what == "messages").count(), 2);
    assert!(w.crm("pd").records.is_empty(), "no contact in pd");
    w.assert_clean();
}

#[test]
fn unauthorized_parks_the_integration_and_new_credentials_resume_it() {
    let mut w = world_with_ann(2, &["hs", "pd"]);
    w.advance_mins(5);
    w.crm("pd").faults.push_back(Fault::Unauthorized);
    w.input(ended("c1", ANN, &w));
    w.advance_mins(1);
    w.input(ended("c2", ANN, &w));
    assert!(w.notices.iter().any(|n| matches!(n, Notice::IntegrationParked { .. })));
    assert!(w.engine().health(&iid("pd")).unwrap().parked);
    let before = w.crm("pd").requests;
    w.advance_mins(180);
    assert_eq!(w.crm("pd").requests, before, "nothing is sent to a parked integration");
    assert_eq!(w.state("c1", "hs"), "logged");
    w.crm("pd").unauthorized = false;
    w.input(Input::CredentialsChanged { integration: iid("pd") });
    assert_eq!(w.state("c1", "pd"), "logged");
    assert_eq!(w.state("c2", "pd"), "logged");
    w.assert_clean();
}

#[test]
fn rate_limits_are_honoured_per_integration() {
    let mut w = world_with_ann(2, &["hs", "pd"]);
    w.advance_mins(5);
    w.crm("hs").faults.push_back(Fault::RateLimited(Some(90_000)));
    w.input(Input::DigestRequested);
    w.input(ended("c1", ANN, &w));
    assert_eq!(w.state("c1", "pd"), "logged");
    w.input(ended("c2", ANN, &w));
    let asked = w.now;
    w.input(Input::DigestRequested);
    // "Sync now" answers at once: HubSpot asked to wait 90 s, and the answer says so.
    let report = w.notices.iter().rev().find_map(|n| match n {
        Notice::DigestDone { sync: true, report, .. } => Some(report.clone()),
        _ => None,
    });
    let hs = report.unwrap_or_default().into_iter().find(|r| r.integration == iid("hs")).expect("a line for HubSpot");
    assert!(hs.held.as_deref().is_some_and(|h| h.starts_with("Retry-After ")), "{hs:?}");
    let c1 = hs.unlogged.iter().find(|u| u.call == Some(CallId::new("c1"))).expect("c1 is reported");
    assert!(c1.retry_at.is_some_and(|t| t > asked && t.since(asked) <= 90_000), "{c1:?}");
    // Both are logged once the 90 s are over, without another sync.
    w.advance_mins(2);
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.state("c2", "hs"), "logged");
    w.assert_clean();
}

#[test]
fn restart_after_attempting_is_persisted_looks_for_the_marker_then_creates_once() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.crash_on_create = Some(CrashPoint::BeforeSend);
    w.input(ended("c1", ANN, &w));
    assert_eq!(w.restarts, 1);
    assert_eq!(w.state("c1", "hs"), "unknown");
    assert!(w.alarm.is_some(), "I17: a wake-up is scheduled after restore");
    w.advance_mins(2);
    let ops: Vec<_> = w.sent.iter().map(|s| crate::support::world::op_name(&s.req.op)).collect();
    assert_eq!(ops, ["search", "find", "create_call"], "find before create");
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.crm("hs").logs_for_call("c1").len(), 1);
    w.assert_clean();
}

#[test]
fn restart_after_the_crm_committed_finds_the_record_and_does_not_create_again() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.crash_on_create = Some(CrashPoint::AfterSend);
    w.input(ended("c1", ANN, &w));
    w.advance_mins(2);
    let ops: Vec<_> = w.sent.iter().map(|s| crate::support::world::op_name(&s.req.op)).collect();
    assert_eq!(ops, ["search", "create_call", "find"]);
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.crm("hs").logs_for_call("c1").len(), 1);
    w.assert_clean();
}

#[test]
fn a_lost_reply_waits_out_the_search_lag_before_believing_not_found() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.crm("hs").write_faults.push_back(Fault::LostAfterCommit);
    w.input(ended("c1", ANN, &w));
    assert_eq!(w.state("c1", "hs"), "unknown");
    w.advance_mins(5);
    assert_eq!(w.state("c1", "hs"), "logged");
    assert_eq!(w.crm("hs").logs_for_call("c1").len(), 1);
    w.assert_clean();
}

#[test]
fn lookups_that_keep_failing_end_in_needs_review_not_a_blind_create() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.crm("hs").write_faults.push_back(Fault::LostAfterCommit);
    w.input(ended("c1", ANN, &w));
    w.crm("hs").faults.extend([Fault::Offline; 5]);
    w.advance_mins(600);
    assert_eq!(w.state("c1", "hs"), "needs_review");
    assert_eq!(w.creates_sent("hs"), 1);
    w.assert_clean();
}

#[test]
fn a_permanent_refusal_fails_visibly() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.crm("hs").faults.extend([Fault::Permanent]);
    w.input(ended("c1", ANN, &w));
    assert_eq!(w.state("c1", "hs"), "failed");
    assert!(w.notices.iter().any(|n| matches!(n, Notice::SlotChanged { state, .. } if state == "failed")));
    w.assert_clean();
}

#[test]
fn bad_input_is_reported_and_never_loses_the_call() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    let mut c = call("bad", ANN, w.now, w.now.plus_mins(-10));
    c.answered_at = None;
    w.input(Input::CallEnded(c));
    w.input(Input::NotesOpened { call: cid("ghost") });
    w.input(Input::LogNowRequested { call: cid("ghost") });
    w.input(Input::CrmDone { req: 424242, result: Ok(calltrail_core::crm::CrmOutput::Updated) });
    w.input(Input::ContactsPicked { call: cid("bad"), integration: iid("nope"), contacts: vec![] });
    let kinds: Vec<_> = w.problems.iter().map(|p| p.kind).collect();
    for k in [ProblemKind::BadInput, ProblemKind::UnknownCall, ProblemKind::UnknownRequest, ProblemKind::UnknownIntegration] {
        assert!(kinds.contains(&k), "{k:?} in {kinds:?}");
    }
    assert_eq!(w.state("bad", "hs"), "logged");
    let mut fresh = calltrail_core::engine::Engine::default();
    fresh.handle(Input::AlarmFired, w.now);
    assert!(matches!(fresh.poll_effect(), Some(calltrail_core::engine::Effect::Problem(p)) if p.kind == ProblemKind::NotRestored));
    w.assert_clean();
}

#[test]
fn restore_reads_open_work_and_recent_calls_only() {
    let mut w = World::new(1, ts("2026-01-10T14:00:00Z"));
    for i in 0..30 {
        w.advance_mins(24 * 60);
        w.input(ended(&format!("h{i}"), "+19995550100", &w));
    }
    let snap = w.store.restore(&calltrail_core::engine::Engine::restore_query(&w.settings, w.now));
    let calls = snap.records(calltrail_core::store::StoreName::Calls).len();
    assert!(calls <= 2, "{calls} calls read on restore");
    w.restart();
    w.assert_clean();
}

mod idempotence {
    //! Property: delivering every softphone event twice (page retries, two tabs) gives the same
    //! ledger and the same CRM records as delivering it once.
    use super::*;
    use proptest::prelude::*;

    fn outcome(events: &[(u8, u8, bool)], twice: bool) -> (Vec<(String, String)>, usize) {
        let mut w = world_with_ann(2, &["hs"]);
        let numbers = [ANN, "+13105550111", "+14155550122"];
        for (i, (kind, num, notes)) in events.iter().enumerate() {
            let id = format!("p{}", i / 2);
            w.advance_mins(1);
            let c = call(&id, numbers[*num as usize % 3], w.now.plus_mins(-1), w.now);
            let input = match kind % 4 {
                0 => Input::CallEnded(c),
                1 if *notes => Input::NotesOpened { call: cid(&id) },
                1 => Input::CallStarted(Call { ended_at: None, ..c }),
                2 => Input::MessageReceived(sms(&format!("m{i}"), "conv", w.now, "x")),
                _ => Input::LogNowRequested { call: cid(&id) },
            };
            w.input(input.clone());
            if twice {
                w.input(input);
            }
        }
        w.advance_mins(300);
        let states = w.store.all(calltrail_core::store::StoreName::Slots).map(|r| (r.key.clone(), w.stored_state(&r.key))).collect();
        let records = w.crms.values().map(|c| c.records.len()).sum();
        w.assert_clean();
        (states, records)
    }

    use calltrail_core::model::Call;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn replaying_every_event_twice_changes_nothing(events in proptest::collection::vec((0u8..4, 0u8..3, any::<bool>()), 1..12)) {
            prop_assert_eq!(outcome(&events, false), outcome(&events, true));
        }
    }
}

fn ringing(id: &str, number: &str, w: &World) -> calltrail_core::model::Call {
    let mut c = call(id, number, w.now, w.now);
    c.ended_at = None;
    c
}

#[test]
fn the_call_pop_finds_the_caller_while_it_rings_and_hang_up_reuses_it() {
    let mut w = world_with_ann(2, &["hs", "pd"]);
    w.advance_mins(5);
    let mut c = ringing("c1", ANN, &w);
    w.input(Input::CallRinging(c.clone()));
    w.input(Input::CallStarted(c.clone())); // a second event of the same call: no second pop
    let m = w.engine().call(&cid("c1")).and_then(|e| e.matches.get(&iid("hs"))).expect("hs matches").clone();
    assert_eq!(m.contacts.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["ann-hs"]);
    assert!(w.notices.iter().any(|n| matches!(n, Notice::CallMatches { integration, contacts, .. } if integration.as_str() == "hs" && contacts.len() == 1)));
    w.advance_mins(4);
    c.ended_at = Some(w.now);
    w.input(Input::CallEnded(c));
    for id in ["hs", "pd"] {
        assert_eq!(w.state("c1", id), "logged", "{id}");
        // One search while ringing, one create: the hang-up did not search again.
        let ops: Vec<_> = w.sent.iter().filter(|s| s.req.integration.as_str() == id).map(|s| crate::support::world::op_name(&s.req.op)).collect();
        assert_eq!(ops, ["search", "create_call"], "{id}");
    }
    w.assert_clean();
}

#[test]
fn a_call_pop_older_than_the_freshness_rule_is_searched_again() {
    let mut w = world_with_ann(1, &[]);
    w.advance_mins(5);
    let mut c = ringing("c1", ANN, &w);
    w.input(Input::CallRinging(c.clone()));
    // Ann is added during a long call; the pop's "no match" is stale by hang-up.
    let now = w.now;
    w.crm("hs").add_contact("ann-late", "Ann", ANN, now.plus_mins(1));
    w.advance_mins(calltrail_core::engine::records::POP_FRESH_EMPTY_MINS + 2);
    c.ended_at = Some(w.now);
    w.input(Input::CallEnded(c));
    assert_eq!(w.state("c1", "hs"), "logged");
    let ops: Vec<_> = w.sent.iter().map(|s| crate::support::world::op_name(&s.req.op)).collect();
    assert_eq!(ops, ["search", "search", "create_call"]);
    w.assert_clean();
}

#[test]
fn picks_must_name_contacts_that_matched_the_caller() {
    let mut w = world_with_ann(2, &["hs"]);
    w.advance_mins(5);
    let mut c = ringing("c1", ANN, &w);
    w.input(Input::CallRinging(c.clone()));
    let stranger = contact("bob", "Bob", "Contact", "+13105559999", w.now);
    w.input(Input::ContactsPicked { call: cid("c1"), integration: iid("hs"), contacts: vec![stranger.clone()] });
    w.input(Input::ContactsPicked { call: cid("c1"), integration: iid("pd"), contacts: vec![stranger] });
    let refused: Vec<_> = w.notices.iter().filter_map(|n| match n {
        Notice::PicksRefused { integration, reason, .. } => Some((integration.as_str().to_owned(), reason.clone())),
        _ => None,
    }).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].1.contains("not among the contacts that matched"), "{}", refused[0].1);
    assert!(refused[1].1.contains("no contact has matched"), "{}", refused[1].1);
    // Ann matched in hs: the pick is taken, with the engine's copy of her.
    let mut ann = contact("ann-hs", "Someone Else", "Contact", ANN, w.now);
    ann.name = "forged name".into();
    w.input(Input::ContactsPicked { call: cid("c1"), integration: iid("hs"), contacts: vec![ann] });
    c.ended_at = Some(w.now);
    w.input(Input::LogNowRequested { call: cid("c1") });
    w.input(Input::CallEnded(c));
    assert_eq!(w.state("c1", "hs"), "logged");
    let slot = w.engine().slot("call|c1|hs").expect("slot");
    assert_eq!(slot.targets[0].contact.name.as_ref(), "Ann");
    w.assert_clean();
}

#[test]
fn notes_saved_after_the_call_is_logged_update_each_log_once() {
    let mut w = world_with_ann(2, &["hs", "pd"]);
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    assert_eq!(w.state("c1", "hs"), "logged");
    w.input(Input::NotesSaved { call: cid("c1"), notes: "call back Tuesday".into() });
    w.input(Input::NotesSaved { call: cid("c1"), notes: "call back Tuesday".into() }); // unchanged
    for id in ["hs", "pd"] {
        let updates = w.sent.iter().filter(|s| s.req.integration.as_str() == id && matches!(s.req.op, calltrail_core::crm::CrmOp::UpdateCallLog { .. })).count();
        assert_eq!(updates, 1, "{id}");
        assert_eq!(w.crm(id).logs_for_call("c1")[0].notes, "call back Tuesday", "{id}");
        assert_eq!(w.state("c1", id), "logged");
    }
    w.input(Input::NotesSaved { call: cid("c1"), notes: "call back Wednesday".into() });
    assert_eq!(w.crm("hs").logs_for_call("c1")[0].notes, "call back Wednesday");
    assert_eq!(w.crm("hs").logs_for_call("c1")[0].updates, 2);
    w.assert_clean();
}

// ---- repeat callers (issue 14) ---------------------------------------------------------------

/// The searches and creates sent to `integ` so far.
fn sent_ops(w: &World, integ: &str) -> (usize, usize) {
    let of = |s: &&crate::support::world::Sent| s.req.integration.as_str() == integ;
    let searches = w.sent.iter().filter(of).filter(|s| matches!(s.req.op, calltrail_core::crm::CrmOp::SearchContacts { .. })).count();
    (searches, w.creates_sent(integ))
}

#[test]
fn a_repeat_caller_within_the_window_costs_only_the_log() {
    let mut w = world_with_ann(2, &["hs", "pd"]);
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    assert_eq!((sent_ops(&w, "hs"), sent_ops(&w, "pd")), ((1, 1), (1, 1)));
    // Ten minutes later: the match of the first call stands in for a search.
    w.advance_mins(10);
    w.input(ended("c2", ANN, &w));
    assert_eq!((sent_ops(&w, "hs"), sent_ops(&w, "pd")), ((1, 2), (1, 2)));
    assert_eq!(w.crm("hs").logs_for_call("c2")[0].contact.as_ref().map(|c| c.as_str()), Some("ann-hs"));
    // Past the window (15 minutes from the search, not from the last reuse): searched again.
    w.advance_mins(6);
    w.input(ended("c3", ANN, &w));
    assert_eq!((sent_ops(&w, "hs"), sent_ops(&w, "pd")), ((2, 3), (2, 3)));
    for c in ["c1", "c2", "c3"] {
        assert_eq!((w.state(c, "hs"), w.state(c, "pd")), ("logged".into(), "logged".into()), "{c}");
    }
    w.assert_clean();
}

#[test]
fn a_repeat_caller_s_call_pop_shows_the_match_without_a_search() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    w.advance_mins(3);
    let mut c = call("c2", ANN, w.now, w.now);
    c.ended_at = None;
    w.input(Input::CallRinging(c.clone()));
    assert_eq!(sent_ops(&w, "hs"), (1, 1), "no pop search");
    let shown = w.notices.iter().rev().find_map(|n| match n {
        Notice::CallMatches { call, contacts, .. } if call.as_str() == "c2" => Some(contacts.iter().map(|c| c.id.to_string()).collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(shown, Some(vec!["ann-hs".to_owned()]), "the panel still shows who is calling");
    w.advance_mins(2);
    c.ended_at = Some(w.now);
    w.input(Input::CallEnded(c));
    assert_eq!(sent_ops(&w, "hs"), (1, 2));
    assert_eq!(w.state("c2", "hs"), "logged");
    w.assert_clean();
}

#[test]
fn a_repeat_caller_merged_away_in_the_crm_is_searched_again_and_logged_to_the_survivor() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    // In the CRM, Ann is merged into another record for the same person.
    let t = w.now;
    w.crm("hs").add(contact("ann-2", "Ann Smith", "Contact", "+1 (646) 555-0111", day_before(t)));
    w.crm("hs").merge("ann-hs", "ann-2");
    w.advance_mins(4);
    w.input(ended("c2", ANN, &w));
    // The log to the cached id is refused, the number searched again, the survivor logged.
    assert_eq!(sent_ops(&w, "hs"), (2, 3));
    assert_eq!(w.state("c2", "hs"), "logged");
    let logs = w.crm("hs").logs_for_call("c2");
    assert_eq!((logs.len(), logs[0].contact.as_ref().map(|c| c.as_str())), (1, Some("ann-2")));
    // The next call reuses the new match.
    w.advance_mins(2);
    w.input(ended("c3", ANN, &w));
    assert_eq!(sent_ops(&w, "hs"), (2, 4));
    assert_eq!(w.crm("hs").logs_for_call("c3")[0].contact.as_ref().map(|c| c.as_str()), Some("ann-2"));
    w.assert_clean();
}

#[test]
fn a_repeat_caller_deleted_in_the_crm_is_no_match_not_a_failed_log() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    w.crm("hs").remove_contact("ann-hs");
    w.advance_mins(4);
    w.input(ended("c2", ANN, &w));
    assert_eq!(w.state("c2", "hs"), "no_match", "searched again, and nobody has the number now");
    // Added back later: the digest logs the call, as for any caller nobody had.
    let t = w.now;
    w.crm("hs").add_contact("ann-3", "Ann", ANN, t);
    w.advance_mins(60);
    assert_eq!(w.state("c2", "hs"), "logged");
    w.assert_clean();
}

#[test]
fn the_repeat_callers_matches_survive_a_restart_and_expire_on_time() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    w.restart();
    w.advance_mins(5);
    w.input(ended("c2", ANN, &w));
    assert_eq!(sent_ops(&w, "hs"), (1, 2), "the match was read back");
    // An hour later the digest has dropped it from the store too.
    w.advance_mins(60);
    assert!(w.store.get(calltrail_core::store::StoreName::Contacts, "m|hs|+12125550100").is_none());
    w.restart();
    w.input(ended("c3", ANN, &w));
    assert_eq!(sent_ops(&w, "hs"), (2, 3));
    w.assert_clean();
}

#[test]
fn a_window_of_zero_searches_every_time_and_no_match_is_never_reused() {
    let mut w = World::with(1, ts("2026-06-10T14:00:00Z"), Default::default(), |s| s.repeat_caller_window_mins = 0);
    let t0 = w.now;
    w.crm("hs").add_contact("ann-hs", "Ann", ANN, day_before(t0));
    w.input(ended("c1", ANN, &w));
    w.advance_mins(1);
    w.input(ended("c2", ANN, &w));
    assert_eq!(sent_ops(&w, "hs"), (2, 2));
    // With the default window, a number nobody has is still searched every time.
    let mut w = world_with_ann(1, &[]);
    w.input(ended("u1", "+13125550142", &w));
    w.advance_mins(1);
    w.input(ended("u2", "+13125550142", &w));
    assert_eq!(sent_ops(&w, "hs"), (2, 0));
    w.assert_clean();
}

#[test]
fn a_text_from_a_recent_caller_reuses_the_match() {
    let mut w = world_with_ann(1, &["hs"]);
    w.advance_mins(5);
    w.input(ended("c1", ANN, &w));
    w.advance_mins(2);
    let t = w.now;
    w.input(Input::MessageReceived(sms("m1", "conv", t, "thanks for the call")));
    assert_eq!(sent_ops(&w, "hs"), (1, 2));
    assert_eq!(w.crm("hs").records.iter().filter(|r| r.what == "messages").count(), 1);
    w.assert_clean();
}

/// A call log is `late` when it goes out one search lag or more after the call ended: HubSpot
/// (no exact marker lookup) then searches for another browser's record before creating
/// (docs/shared-calls.md). At the hang-up it is not; exact-lookup CRMs never mark it.
#[test]
fn a_call_log_sent_a_search_lag_after_the_hang_up_is_late() {
    use calltrail_core::crm::CrmOp;
    let late_of = |w: &World, integ: &str, call: &str| -> Vec<bool> {
        w.sent
            .iter()
            .filter(|s| s.req.integration.as_str() == integ)
            .filter_map(|s| match &s.req.op {
                CrmOp::CreateCallLog { log } if log.call.id.as_str() == call => Some(log.timing == calltrail_core::crm::Timing::Late),
                _ => None,
            })
            .collect()
    };
    let mut w = world_with_ann(3, &["hs", "sf"]);
    w.advance_mins(5);
    // At the hang-up.
    w.input(ended("c1", ANN, &w));
    assert_eq!(late_of(&w, "hs", "c1"), [false]);
    // Heard two minutes after it ended (a browser that slept through the hang-up).
    w.advance_mins(10);
    let old = call("c2", ANN, w.now.plus_mins(-7), w.now.plus_mins(-2));
    w.input(Input::CallEnded(old));
    assert_eq!(late_of(&w, "hs", "c2"), [true]);
    // Salesforce's lookup is exact: nothing to wait for, never late.
    assert_eq!(late_of(&w, "sf", "c2"), [false]);
    for (integ, call) in [("hs", "c1"), ("hs", "c2"), ("sf", "c2")] {
        assert_eq!(w.state(call, integ), "logged", "{integ} {call}");
    }
    w.assert_clean();
}
