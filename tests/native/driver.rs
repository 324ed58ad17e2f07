//! The driver: the decisions the service worker's shell used to make where only the browser
//! reached them, now driven natively: the 401 → refresh → retry-once path, one refresh per
//! integration, a refreshed token in force only once written, the softphone repeat window, and
//! acknowledgement of what was written.

use calltrail_core::model::CrmKind;
use calltrail_core::crm::{CrmError, CrmOp, CrmOutput, HttpRequest, HttpResponse, Reply, Secret};
use calltrail_core::driver::{Conversation, Driver, Next, Refreshed, StoredSecret};
use calltrail_core::engine::{Effect, EngineOptions};
use calltrail_core::model::{IntegrationId, Timestamp};
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::{AuthKind, Settings};
use calltrail_core::store::{MemStore, Record, StoreName};
use serde_json::{json, Value};

use crate::support::world::{integration, World};

const NOW: Timestamp = Timestamp(1_781_107_200_000);
const TOKEN_URL: &str = "https://hs.crm.example/oauth/v1/token";

fn reply(status: u16, body: Value) -> Reply {
    Reply::Response(HttpResponse { status, headers: vec![("content-type".into(), "application/json".into())], body: body.to_string() })
}

fn auth_header(r: &HttpRequest) -> String {
    r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// A driver with one HubSpot integration connected by OAuth, restored from `store`.
fn oauth_driver(store: &mut MemStore, expires_at: Option<Timestamp>) -> Driver {
    let mut settings = Settings::default();
    let mut hs = integration("hs", CrmKind::HubSpot);
    hs.auth = AuthKind::OAuth { client_id: "calltrail-app".into(), auth_url: String::new(), token_url: TOKEN_URL.into(), scopes: vec![] };
    settings.integrations.push(hs);
    let secret = StoredSecret { token: Secret::new("access-1"), refresh_token: Some(Secret::new("refresh-1")), expires_at, identity: Vec::new(), bound: None };
    let secrets = [Record::encode("hs", false, NOW.0, &secret)];
    let mut driver = Driver::new(settings, Value::Null, &secrets, EngineOptions::default(), Box::new(calltrail_core::zone::FixedZones::standard()), NOW);
    let snapshot = store.restore(&driver.restore_query(NOW));
    driver.restore(snapshot, 1, NOW);
    run_effects(&mut driver, store);
    driver
}

/// Runs every queued effect as the shell does (writes into `store`), returning how many ran.
fn run_effects(driver: &mut Driver, store: &mut MemStore) -> usize {
    let mut n = 0;
    while let Some(e) = driver.poll_effect() {
        if let Effect::Persist(batch) = &e {
            store.apply(batch);
        }
        driver.executed();
        n += 1;
    }
    n
}

fn search() -> CrmOp {
    CrmOp::SearchContacts { phone: E164::parse("+12125550100", Country::US).unwrap() }
}

fn empty_search() -> Reply {
    reply(200, json!({ "total": 0, "results": [] }))
}

fn unauthorized() -> Reply {
    reply(401, json!({ "status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION" }))
}

fn token_answer(access: &str, refresh: &str) -> Reply {
    reply(200, json!({ "token_type": "bearer", "access_token": access, "refresh_token": refresh, "expires_in": 1800 }))
}

fn fetch(driver: &mut Driver, conv: &mut Conversation) -> HttpRequest {
    match driver.step(conv, NOW) {
        Next::Fetch(r) => r,
        other => panic!("expected a fetch, got {other:?}"),
    }
}

#[test]
fn a_401_refreshes_the_token_once_and_retries_with_the_new_one() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, Some(NOW.plus_hours(1)));
    let mut conv = driver.conversation(IntegrationId::new("hs"), search());
    let first = fetch(&mut driver, &mut conv);
    assert_eq!(auth_header(&first), "Bearer access-1");
    conv.replied(unauthorized());

    let Next::Refresh(token_request) = driver.step(&mut conv, NOW) else { panic!("a 401 on a refreshable token refreshes it") };
    assert_eq!(token_request.url, TOKEN_URL);
    assert!(token_request.body.as_deref().unwrap_or("").contains("refresh_token=refresh-1"));
    // Meanwhile another operation on the same integration waits for this refresh.
    let mut other = driver.conversation(IntegrationId::new("hs"), search());
    assert_eq!(driver.step(&mut other, NOW), Next::Wait);

    let Refreshed::Saving(ticket) = driver.refreshed(&mut conv, token_answer("access-2", "refresh-2"), NOW) else { panic!("saved") };
    assert_eq!(driver.step(&mut conv, NOW), Next::Wait, "the new token is not used before it is written");
    assert!(!driver.is_done(ticket));
    assert_eq!(run_effects(&mut driver, &mut store), 1, "one strict write of the new secret");
    assert!(driver.is_done(ticket));
    let saved: StoredSecret = store.get(StoreName::Secrets, "hs").and_then(|r| r.decode()).expect("secret written");
    assert_eq!(saved.refresh_token, Some(Secret::new("refresh-2")), "the rotated refresh token is on disk");

    let retry = fetch(&mut driver, &mut conv);
    assert_eq!(auth_header(&retry), "Bearer access-2");
    conv.replied(empty_search());
    assert_eq!(driver.step(&mut conv, NOW), Next::Done(Ok(CrmOutput::Contacts { contacts: vec![] })));
    assert_eq!(auth_header(&fetch(&mut driver, &mut other)), "Bearer access-2", "the waiter goes on with the new token");
}

#[test]
fn a_second_401_after_the_refresh_is_unauthorized_without_another_refresh() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, None);
    let mut conv = driver.conversation(IntegrationId::new("hs"), search());
    fetch(&mut driver, &mut conv);
    conv.replied(unauthorized());
    let Next::Refresh(_) = driver.step(&mut conv, NOW) else { panic!("refresh") };
    driver.refreshed(&mut conv, token_answer("access-2", "refresh-2"), NOW);
    run_effects(&mut driver, &mut store);
    fetch(&mut driver, &mut conv);
    conv.replied(unauthorized());
    assert!(matches!(driver.step(&mut conv, NOW), Next::Done(Err(CrmError::Unauthorized { .. }))), "retried once, no more");
}

#[test]
fn a_refused_refresh_ends_the_operation_unauthorized_and_lets_the_next_one_try() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, Some(NOW));
    let mut conv = driver.conversation(IntegrationId::new("hs"), search());
    let Next::Refresh(_) = driver.step(&mut conv, NOW) else { panic!("an expired token is refreshed before the request") };
    let bad = reply(400, json!({ "status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token" }));
    assert_eq!(driver.refreshed(&mut conv, bad, NOW), Refreshed::Failed);
    assert!(matches!(driver.step(&mut conv, NOW), Next::Done(Err(CrmError::Unauthorized { .. }))));
    let mut next = driver.conversation(IntegrationId::new("hs"), search());
    assert!(matches!(driver.step(&mut next, NOW), Next::Refresh(_)), "a later operation may refresh again");
}

#[test]
fn a_worker_stopped_before_the_refreshed_secret_is_written_restarts_with_the_old_one() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, Some(NOW));
    let mut conv = driver.conversation(IntegrationId::new("hs"), search());
    let Next::Refresh(_) = driver.step(&mut conv, NOW) else { panic!("refresh") };
    driver.refreshed(&mut conv, token_answer("access-2", "refresh-2"), NOW);
    // The worker dies here: the write never ran. What the next start reads is what it had.
    let saved: StoredSecret = store.get(StoreName::Secrets, "hs").and_then(|r| r.decode()).unwrap_or_default();
    assert_ne!(saved.token, Secret::new("access-2"), "nothing was used that is not on disk");
}

#[test]
fn no_credentials_is_unauthorized_and_an_unknown_integration_permanent() {
    let mut driver = Driver::new(Settings::default(), Value::Null, &[], EngineOptions::default(), Box::new(calltrail_core::zone::FixedZones::standard()), NOW);
    let mut conv = driver.conversation(IntegrationId::new("hs"), search());
    assert!(matches!(driver.step(&mut conv, NOW), Next::Done(Err(CrmError::Unauthorized { .. }))));
    let token = [Record::encode("zz", false, NOW.0, &StoredSecret::api_token("t"))];
    let mut driver = Driver::new(Settings::default(), Value::Null, &token, EngineOptions::default(), Box::new(calltrail_core::zone::FixedZones::standard()), NOW);
    let mut conv = driver.conversation(IntegrationId::new("zz"), search());
    assert!(matches!(driver.step(&mut conv, NOW), Next::Done(Err(CrmError::Permanent { .. }))));
}

const SOFTPHONE: &str = "https://phone.example.com";

/// An answer's data, read back.
fn data(a: &calltrail_core::driver::Answer) -> Value {
    serde_json::from_str(a.data.as_ref().expect("data").get()).expect("JSON")
}

fn generic(event: &str, id: &str, extra: Value) -> Value {
    let mut call = json!({ "id": id, "direction": "inbound", "from": "+12125550100", "started_at": NOW.0 - 60_000 });
    if let (Value::Object(c), Value::Object(e)) = (&mut call, extra) {
        c.extend(e);
    }
    json!({ "calltrail": 1, "event": event, "call": call })
}

fn softphone_world() -> World {
    World::with(2, NOW, EngineOptions::default(), |s| s.softphone_origins = vec![SOFTPHONE.into()])
}

#[test]
fn a_repeated_softphone_fact_within_the_window_reaches_the_engine_once() {
    let mut w = softphone_world();
    let ended = generic("call.ended", "c1", json!({ "answered_at": NOW.0 - 50_000, "ended_at": NOW.0 - 1_000 }));
    let first = w.softphone(SOFTPHONE, true, &ended);
    assert!(first.ok, "{first:?}");
    let event = &data(&first)["event"];
    assert_eq!(event["kind"], "call_ended", "the answer carries what the worker decoded");
    assert_eq!(event["call"], "gen:c1");
    let sent = w.sent.len();
    let again = w.softphone(SOFTPHONE, true, &ended);
    assert_eq!(data(&again)["repeat"], true);
    assert_eq!(w.sent.len(), sent, "a repeat inside the window sends nothing");
    assert_eq!(w.driver.diagnostics().softphone.repeated, 1);

    w.advance_to(NOW.plus_secs(31));
    let later = w.softphone(SOFTPHONE, true, &ended);
    assert_ne!(data(&later)["repeat"], true, "after the window it goes to the engine again");
    assert_eq!(w.driver.diagnostics().softphone.accepted, 2);
    w.assert_clean();
}

#[test]
fn forged_softphone_messages_are_refused_and_counted_by_reason() {
    let mut w = softphone_world();
    let ringing = generic("call.ringing", "c2", json!({}));
    assert!(!w.softphone(SOFTPHONE, false, &ringing).ok, "from the page itself, not its frame");
    assert!(!w.softphone("https://phone.example.com.evil.example", true, &ringing).ok);
    assert!(!w.softphone(SOFTPHONE, true, &json!({ "calltrail": 2 })).ok);
    let stats = &w.driver.diagnostics().softphone;
    assert_eq!(stats.rejected.get("not_from_softphone_frame"), Some(&1));
    assert_eq!(stats.rejected.values().sum::<u64>(), 3);
    assert_eq!(stats.accepted, 0);
    assert!(w.sent.is_empty());
}

/// Issue 12: a number the decoder refused is quoted in its error; the diagnostics show it
/// masked like everywhere else (the last four digits), never whole.
#[test]
fn rejected_softphone_numbers_are_masked_in_the_diagnostics() {
    let mut w = softphone_world();
    let too_long = generic("call.ringing", "c9", json!({ "from": "+1 (212) 555-0100 98765" }));
    assert!(!w.softphone(SOFTPHONE, true, &too_long).ok);
    let stats = &w.driver.diagnostics().softphone;
    assert_eq!(stats.rejected.get("invalid_number"), Some(&1), "{stats:?}");
    let shown = serde_json::to_string(&w.driver.diagnostics()).expect("diagnostics serialise");
    let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
    assert!(!digits.contains("2125550100"), "the number is masked: {shown}");
    let detail = &stats.last_rejections.back().expect("a rejection").detail;
    assert!(detail.contains("\u{2026}8765") && !detail.contains("555"), "{detail}");
    assert!(w.sent.is_empty());
}

#[test]
fn a_softphone_event_whose_effects_were_lost_is_not_acknowledged() {
    let mut w = softphone_world();
    // The worker dies before the event's first effect: the bridge hears nothing and re-sends,
    // and the re-send is handled as new (not a repeat), so the call is still logged.
    w.crash_before_effect = Some(0);
    let ended = generic("call.ended", "c3", json!({ "answered_at": NOW.0 - 50_000, "ended_at": NOW.0 - 1_000 }));
    let answer = w.softphone(SOFTPHONE, true, &ended);
    assert!(answer.ok);
    assert_eq!(w.restarts, 1);
    assert_ne!(data(&answer)["repeat"], true);
    assert_eq!(w.state("gen:c3", "hs"), "no_match");
    w.assert_clean();
}

#[test]
fn tickets_are_done_when_their_effects_ran_and_never_when_dropped() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, None);
    let answer = driver.set_token(IntegrationId::new("pd"), "t", NOW);
    assert!(answer.ok);
    let ticket = driver.ticket();
    assert!(!driver.is_done(ticket));
    driver.persist_failed("quota exceeded", NOW);
    assert!(!driver.is_done(ticket) && driver.is_dropped(ticket));
    assert_eq!(driver.diagnostics().persist_failures, 1);
    let answer = driver.set_token(IntegrationId::new("pd"), "t", NOW);
    assert!(answer.ok);
    let again = driver.ticket();
    run_effects(&mut driver, &mut store);
    assert!(driver.is_done(again) && !driver.is_dropped(again));
    assert!(matches!(store.get(StoreName::Secrets, "pd").map(|r| &r.value), Some(v) if v.contains("\"t\"")));
    assert!(!driver.set_token(IntegrationId::new("pd"), "  ", NOW).ok, "an empty token is refused");
}

#[test]
fn a_full_disk_is_shown_until_a_write_commits_again() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, None);
    driver.persist_failed("transaction failed: UnknownError: disk I/O", NOW);
    assert_eq!((driver.diagnostics().storage_full, driver.badge(NOW)), (None, String::new()), "only a quota error says full");
    driver.persist_failed("transaction failed: QuotaExceededError: The quota has been exceeded.", NOW);
    driver.persist_failed("transaction failed: QuotaExceededError: The quota has been exceeded.", NOW.plus_hours(1));
    assert_eq!(driver.diagnostics().storage_full, Some(NOW.0), "since the first refusal");
    assert_eq!(driver.badge(NOW), "!");
    assert_eq!(data(&driver.state_view())["storage_full"], json!(NOW.0));
    driver.persisted();
    assert_eq!((driver.diagnostics().storage_full, driver.badge(NOW)), (None, String::new()));
    assert_eq!(data(&driver.state_view())["storage_full"], Value::Null);
}

#[test]
fn the_history_reads_more_when_it_filters() {
    assert_eq!(Driver::history_read(None, false, ""), (100, 100));
    assert_eq!(Driver::history_read(Some(50), true, ""), (250, 50));
    assert_eq!(Driver::history_read(Some(5000), false, "ada"), (5000, 1000));
    assert_eq!(Driver::history_read(Some(0), false, " "), (1, 1));
}

#[test]
fn a_settings_document_naming_a_zone_the_platform_does_not_know_is_refused_at_its_field() {
    let mut store = MemStore::new();
    let mut driver = Driver::new(Settings::default(), Value::Null, &[], EngineOptions::default(), Box::new(crate::support::zones::Tzdb::default()), NOW);
    let snapshot = store.restore(&driver.restore_query(NOW));
    driver.restore(snapshot, 1, NOW);
    run_effects(&mut driver, &mut store);
    let mut s = Settings::default();
    s.digest.quiet_time_zone = "Europe/Atlantis".into();
    let a = driver.replace_settings(s.clone(), NOW);
    assert!(!a.ok);
    assert_eq!(serde_json::to_value(&a.field).unwrap(), json!(["digest", "quiet_time_zone"]));
    assert!(a.error.as_deref().unwrap_or("").contains("Europe/Atlantis"), "{a:?}");
    s.digest.quiet_time_zone = "Australia/Sydney".into();
    s.conversation_time_zone = Some("Mars/Olympus".into());
    let a = driver.replace_settings(s.clone(), NOW);
    assert_eq!(serde_json::to_value(&a.field).unwrap(), json!(["conversation_time_zone"]));
    // Every zone the platform knows is accepted, and the engine gets its offsets first.
    s.conversation_time_zone = Some("Asia/Kathmandu".into());
    assert!(driver.replace_settings(s, NOW).ok);
    run_effects(&mut driver, &mut store);
    assert_eq!(driver.settings().digest.quiet_time_zone, "Australia/Sydney");
    assert_eq!(driver.zones().get("Asia/Kathmandu").map(|t| t.offset_secs(NOW)), Some(5 * 3600 + 45 * 60));
    assert!(driver.diagnostics().problems.is_empty(), "{:?}", driver.diagnostics().problems);
    // A policy naming an unknown zone is refused whole, and the settings in force stay.
    driver.set_policy(json!({"digest": {"quiet_time_zone": "Europe/Atlantis"}}), NOW);
    assert_eq!(driver.settings().digest.quiet_time_zone, "Australia/Sydney");
    assert_eq!(driver.diagnostics().problem_counts.get("policy_invalid"), Some(&1));
}

#[test]
fn the_zone_tables_are_rebuilt_before_they_run_out() {
    // A server (or a worker kept alive) runs for weeks: the offsets keep coming from the shell.
    let mut w = World::with(1, NOW, EngineOptions::default(), |s| s.digest.quiet_time_zone = "Europe/Berlin".into());
    let first = w.driver.zones().until();
    assert_eq!(first, NOW.plus_ms(calltrail_core::zone::SPAN_AHEAD_MS));
    w.advance_to(NOW.plus_hours(24 * 45));
    let later = w.driver.zones().until();
    assert!(later > w.now.plus_ms(calltrail_core::zone::REFRESH_BEFORE_MS), "{later} at {}", w.now);
    // And the engine still has Berlin's offset (+01:00 in winter, 45 days on from June it is
    // late July: +02:00).
    assert_eq!(w.driver.zones().get("Europe/Berlin").map(|t| t.offset_secs(w.now)), Some(2 * 3600));
    w.assert_clean();
}

/// chrono-tz, counting what it is asked: a worker start must not ask the platform for zones
/// while the tables the last start stored still serve.
#[derive(Debug, Clone)]
struct Counting {
    db: crate::support::zones::Tzdb,
    asked: std::rc::Rc<std::cell::Cell<usize>>,
}

impl calltrail_core::zone::ZoneSource for Counting {
    fn offset_secs(&self, zone: &str, at_ms: i64) -> Option<i32> {
        self.asked.set(self.asked.get() + 1);
        self.db.offset_secs(zone, at_ms)
    }
    fn local_zone(&self) -> Option<String> {
        self.asked.set(self.asked.get() + 1);
        self.db.local_zone()
    }
    fn local_offset_secs(&self, at_ms: i64) -> Option<i32> {
        self.db.local_offset_secs(at_ms)
    }
}

#[test]
fn a_restart_reuses_the_stored_zone_tables_until_the_machine_moves() {
    let mut store = MemStore::new();
    let asked = std::rc::Rc::new(std::cell::Cell::new(0));
    let start = |store: &mut MemStore, local: &str, now: Timestamp| {
        let source = Counting { db: crate::support::zones::Tzdb { local: Some(local.into()) }, asked: asked.clone() };
        let mut driver = Driver::new(Settings::default(), Value::Null, &[], EngineOptions::default(), Box::new(source), now);
        let snapshot = store.restore(&driver.restore_query(now));
        driver.restore(snapshot, 1, now);
        run_effects(&mut driver, store);
        driver
    };
    let d = start(&mut store, "Europe/Berlin", NOW);
    assert!(asked.get() > 0, "the first start builds the tables");
    assert!(d.zones().get("Europe/Berlin").is_some() && d.zones().get("America/New_York").is_some());
    asked.set(0);
    let d = start(&mut store, "Europe/Berlin", NOW.plus_hours(5));
    assert_eq!(asked.get(), 0, "a restart reads them back and asks nothing");
    assert_eq!(d.zones().local(), Some("Europe/Berlin"));
    // The rep flew to Sydney: the machine's offset no longer fits, the tables are built again.
    let d = start(&mut store, "Australia/Sydney", NOW.plus_hours(30));
    assert!(asked.get() > 0);
    assert_eq!(d.zones().local(), Some("Australia/Sydney"));
    assert_eq!(d.settings().conversation_zone(d.zones()), "Australia/Sydney");
}

/// Issue 12: a content script reads and acts only on calls its own tab reported, and only
/// until an hour after they ended; the rule outlives the worker.
#[test]
fn content_scripts_act_only_on_their_tabs_calls_until_an_hour_after_the_end() {
    use calltrail_core::driver::CONTENT_SCRIPT_WINDOW_MS;
    use calltrail_core::intents::{Intent, PageInput, Sender};
    use calltrail_core::model::CallId;
    use crate::support::world::TAB;
    let mut w = softphone_world();
    let ringing = generic("call.ringing", "c1", json!({}));
    assert!(w.softphone(SOFTPHONE, true, &ringing).ok);
    let call = CallId::new("gen:c1");
    let view = Intent::Call { call: call.clone() };
    let notes = Intent::Engine { input: PageInput::NotesSaved { call: call.clone(), notes: "n".into() } };
    let here = Sender::ContentScript { tab: Some(TAB) };
    let there = Sender::ContentScript { tab: Some(TAB + 1) };
    for intent in [&view, &notes] {
        assert_eq!(w.driver.allowed(intent, here, w.now), Ok(()));
        assert!(w.driver.allowed(intent, there, w.now).is_err(), "another tab's page");
        assert!(w.driver.allowed(intent, Sender::ContentScript { tab: None }, w.now).is_err());
        assert_eq!(w.driver.allowed(intent, Sender::ExtensionPage, w.now), Ok(()), "the extension's pages are trusted");
    }
    let other = Intent::Call { call: CallId::new("gen:someone-else") };
    assert!(w.driver.allowed(&other, here, w.now).is_err(), "a call the tab never reported");
    let ended = generic("call.ended", "c1", json!({ "answered_at": NOW.0 - 50_000, "ended_at": NOW.0 - 1_000 }));
    assert!(w.softphone(SOFTPHONE, true, &ended).ok);
    w.restart();
    let end = NOW.plus_ms(-1_000);
    assert_eq!(w.driver.allowed(&notes, here, end.plus_ms(CONTENT_SCRIPT_WINDOW_MS - 1)), Ok(()), "after a restart too");
    let late = w.driver.allowed(&notes, here, end.plus_ms(CONTENT_SCRIPT_WINDOW_MS));
    assert!(late.as_ref().is_err_and(|e| e.contains("more than an hour ago")), "{late:?}");
    assert!(w.driver.allowed(&view, here, end.plus_ms(CONTENT_SCRIPT_WINDOW_MS)).is_err());
    w.assert_clean();
}

/// Issue 12: an input the module trapped on is parked with its reason, counted in the
/// diagnostics and on the badge (for a week), and never handed to the engine again, across
/// worker starts.
#[test]
fn a_poisoned_input_is_parked_counted_and_never_handled_again() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, None);
    let poison = json!({ "type": "softphone-event", "origin": SOFTPHONE, "from_frame": true, "data": { "calltrail": 1, "event": "call.ended", "call": { "id": "x" } } }).to_string();
    assert!(!driver.is_parked(&poison));
    let answer = driver.poisoned(&poison, "RuntimeError: unreachable executed (call +12125550100)", NOW);
    assert!(answer.ok);
    run_effects(&mut driver, &mut store);
    assert!(driver.is_parked(&poison));
    assert!(!driver.is_parked(r#"{"type":"state"}"#));
    let d = driver.diagnostics();
    assert_eq!((d.traps, d.parked.len()), (1, 1));
    assert_eq!(d.parked[0].kind, "softphone-event");
    assert!(!d.parked[0].reason.contains("2125550100"), "numbers are masked: {}", d.parked[0].reason);
    assert_eq!(driver.badge(NOW), "1");
    // A fresh module (the shell re-instantiates after a trap) reads it back.
    let mut again = oauth_driver(&mut store, None);
    assert!(again.is_parked(&poison));
    assert_eq!((again.diagnostics().traps, again.badge(NOW.plus_hours(24 * 8))), (1, String::new()));
    again.poisoned(r#"{"type":"call","call":"y"}"#, "trap", NOW);
    assert_eq!(again.diagnostics().traps, 2);
}

/// Issue 12: credentials belong to their hosts. A `base_url` changed by an import (or a
/// policy) drops them, and the old token is never sent to the new host.
#[test]
fn a_moved_base_url_drops_the_credentials_and_the_old_token_goes_nowhere() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, None);
    assert!(driver.is_connected(&IntegrationId::new("hs")));
    // Even on the same host: another path is another API.
    let mut moved = driver.user_settings().clone();
    moved.integrations[0].base_url = "https://hs.crm.example/other".into();
    assert!(driver.replace_settings(moved, NOW).ok);
    run_effects(&mut driver, &mut store);
    assert!(store.get(StoreName::Secrets, "hs").is_none(), "dropped from the store");
    assert!(!driver.is_connected(&IntegrationId::new("hs")));
    let mut conv = driver.conversation(IntegrationId::new("hs"), search());
    assert!(matches!(driver.step(&mut conv, NOW), Next::Done(Err(CrmError::Unauthorized { .. }))), "no request at all");
    // The same by policy, for a secret the worker read at start (a policy set while it slept).
    let mut store = MemStore::new();
    let driver = oauth_driver(&mut store, None);
    let secrets: Vec<Record> = store.prefix(StoreName::Secrets, "");
    let mut d = Driver::new(driver.user_settings().clone(), json!({ "integrations": [{ "id": "hs", "base_url": "https://evil.example" }] }), &secrets, EngineOptions::default(), Box::new(crate::support::zones::Tzdb::default()), NOW);
    let mut conv = d.conversation(IntegrationId::new("hs"), search());
    assert!(matches!(d.step(&mut conv, NOW), Next::Done(Err(CrmError::Unauthorized { .. }))), "never sent to the policy's host");
    // http:// is refused except to this computer.
    let mut plain = driver.user_settings().clone();
    plain.integrations[0].base_url = "http://api.hubapi.com".into();
    let mut driver = oauth_driver(&mut MemStore::new(), None);
    let refused = driver.replace_settings(plain, NOW);
    assert!(!refused.ok && refused.error.as_deref().is_some_and(|e| e.contains("https")), "{refused:?}");
}

/// Issue 12: disconnecting revokes the OAuth tokens at the vendor, on the token URL's host.
#[test]
fn disconnecting_revokes_the_token_where_the_vendor_can() {
    let mut store = MemStore::new();
    let mut driver = oauth_driver(&mut store, None);
    let (answer, revoke) = driver.clear_credentials(&IntegrationId::new("hs"));
    assert!(answer.ok);
    let revoke = revoke.expect("HubSpot documents a refresh-token revoke");
    assert_eq!((revoke.method, revoke.url.as_str()), (calltrail_core::crm::Method::Delete, "https://hs.crm.example/oauth/v1/refresh-tokens/refresh-1"));
    run_effects(&mut driver, &mut store);
    assert!(store.get(StoreName::Secrets, "hs").is_none());
    let (_, none) = driver.clear_credentials(&IntegrationId::new("hs"));
    assert!(none.is_none(), "nothing left to revoke");
    driver.set_token(IntegrationId::new("pd"), "api-token", NOW);
    assert!(driver.clear_credentials(&IntegrationId::new("pd")).1.is_none(), "an API token is revoked in the CRM");
}
