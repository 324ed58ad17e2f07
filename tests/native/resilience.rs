//! What a rep meets in the first weeks (issue 12), as scenarios: a CRM answering in another
//! language, "Sync now" after a server error, a browser closed over a long weekend, and a year
//! of history kept to its retention.

use calltrail_core::engine::{Input, Notice, Resolution, SlotState};
use calltrail_core::intents::PageInput;
use calltrail_core::model::{CallId, IntegrationId, Timestamp};
use calltrail_core::store::StoreName;
use calltrail_core::view;

use crate::support::world::{call, ts, INTEGRATIONS};
use crate::support::{Fault, World};

const ANN: &str = "+12125550100";

/// Five CRMs, Ann a contact in each, on an ordinary June morning in New York. Ann calls every
/// few minutes: repeat callers search every time here (`repeat_caller_window_mins` 0), since a
/// refused create with a reused match is searched again, and these scenarios are about the
/// refusal itself.
fn world() -> World {
    let t0 = ts("2026-06-10T14:00:00Z");
    let mut w = World::with(5, t0, Default::default(), |s| s.repeat_caller_window_mins = 0);
    for (id, _) in INTEGRATIONS {
        w.crm(id).add_contact(&format!("ann-{id}"), "Ann", ANN, t0.plus_hours(-24));
    }
    w
}

fn ended(w: &World, id: &str) -> Input {
    Input::CallEnded(call(id, ANN, w.now.plus_mins(-5), w.now))
}

fn logged_everywhere(w: &World, id: &str) -> bool {
    INTEGRATIONS.iter().all(|(i, _)| w.state(id, i) == "logged")
}

/// The badge the rep would see after the browser restarts (restored from the store alone).
fn badge_after_restart(w: &mut World) -> String {
    w.restart();
    let slots: Vec<_> = w.engine().slots().cloned().collect();
    view::badge(&slots, 0)
}

/// Issue 12, first bullet: HubSpot refuses a create with a Russian message. The call fails
/// there (visibly), and the next call is logged in every CRM, HubSpot included.
#[test]
fn a_localized_crm_error_does_not_stop_logging_in_any_crm() {
    let mut w = world();
    w.advance_mins(5);
    let body = r#"{"status":"error","message":"Invalid token: недействителен токен доступа","correlationId":"x","category":"VALIDATION_ERROR"}"#;
    w.crm("hs").write_faults.push_back(Fault::Vendor(400, body));
    w.input(ended(&w, "c1"));
    assert_eq!(w.state("c1", "hs"), "failed");
    let reason = w.store.get(StoreName::Slots, "call|c1|hs").map(|r| r.json()["state"]["reason"].to_string()).unwrap_or_default();
    assert!(reason.contains("недействителен токен доступа"), "the CRM's own words reach the rep: {reason}");
    for (i, _) in &INTEGRATIONS[1..] {
        assert_eq!(w.state("c1", i), "logged", "{i}");
    }
    w.advance_mins(3);
    w.input(ended(&w, "c2"));
    assert!(logged_everywhere(&w, "c2"), "the next call is logged in every CRM");
    // A server error in Chinese on a search, and a Zoho error in Arabic on a create: the same.
    w.crm("pd").faults.push_back(Fault::Vendor(503, r#"{"success":false,"error":"服务暂时不可用: token=密钥"}"#));
    w.crm("zo").write_faults.push_back(Fault::Vendor(400, r#"{"data":[{"code":"INVALID_DATA","message":"رمز غير صالح token:مفتاح","status":"error"}]}"#));
    w.advance_mins(3);
    w.input(ended(&w, "c3"));
    w.advance_mins(3);
    w.input(ended(&w, "c4"));
    assert!(logged_everywhere(&w, "c4"));
    w.advance_mins(120);
    assert_eq!(w.state("c3", "pd"), "logged", "the search failure was retried by the digest");
    assert_eq!(w.state("c3", "zo"), "failed");
    assert_eq!(badge_after_restart(&mut w), "2", "both refusals wait for the rep, across a restart");
    w.assert_clean();
}

/// Issue 12, second bullet: a 500 on a create, then "Sync now": the marker lookup and the
/// create are retried at once, as is a search whose failure backs its CRM off; only a CRM's
/// Retry-After is kept, and the answer says until when.
#[test]
fn sync_now_retries_at_once_and_says_why_anything_waits() {
    let mut w = world();
    w.advance_mins(5);
    w.crm("hs").write_faults.push_back(Fault::ServerError);
    w.crm("pd").faults.push_back(Fault::ServerError);
    w.input(ended(&w, "c1"));
    assert_eq!((w.state("c1", "hs"), w.state("c1", "pd")), ("unknown".into(), "waiting".into()));
    // After HubSpot's search lag the marker lookup fails too: HubSpot backs off.
    w.crm("hs").faults.push_back(Fault::Offline);
    w.advance_mins(1);
    assert_eq!(w.state("c1", "hs"), "unknown");
    assert!(w.engine().health(&IntegrationId::new("hs")).is_some_and(|h| h.blocked_until.is_some_and(|t| t > w.now)), "hs backs off");
    assert_eq!(w.state("c1", "pd"), "waiting", "pd's failed search waits for the digest");
    let zo_wait = 30_000;
    w.crm("zo").faults.push_back(Fault::RateLimited(Some(zo_wait)));
    w.input(ended(&w, "c2"));
    let (before, asked) = (w.sent.len(), w.now);
    w.input(Input::DigestRequested);
    let sent: Vec<_> = w.sent[before..].iter().map(|s| (s.req.integration.to_string(), crate::support::world::op_name(&s.req.op))).collect();
    assert!(sent.contains(&("hs".into(), "find")) && sent.contains(&("hs".into(), "create_call")), "hs looked and created at once: {sent:?}");
    assert!(sent.contains(&("pd".into(), "search")), "pd's backoff was lifted: {sent:?}");
    assert!(!sent.iter().any(|(i, _)| i == "zo"), "zo's Retry-After is kept: {sent:?}");
    for i in ["hs", "pd"] {
        assert_eq!((w.state("c1", i), w.state("c2", i)), ("logged".into(), "logged".into()), "{i}");
    }
    let report = w
        .notices
        .iter()
        .rev()
        .find_map(|n| match n {
            Notice::DigestDone { sync: true, report, .. } => Some(report.clone()),
            _ => None,
        })
        .expect("sync answered");
    let zo = report.iter().find(|r| r.integration.as_str() == "zo").expect("a line per integration");
    assert_eq!(zo.held.as_deref(), Some("Retry-After 30 s"));
    let c2 = zo.unlogged.iter().find(|u| u.call == Some(CallId::new("c2"))).expect("c2 waits in zo");
    assert_eq!(c2.retry_at.map(|t| t.since(asked)), Some(zo_wait), "{c2:?}");
    assert!(report.iter().find(|r| r.integration.as_str() == "hs").is_some_and(|r| r.logged >= 1 && r.unlogged.is_empty()), "{report:?}");
    w.advance_mins(1);
    assert_eq!(w.state("c2", "zo"), "logged");
    w.assert_clean();
}

/// "Sync now" with nothing else to do than a create whose marker lookup failed: the answer
/// waits for the lookup and the create it makes due, and says how they went (it answered at
/// once with the failed lookup's words while the create was still to come).
#[test]
fn sync_now_answers_after_the_lookup_and_create_it_retried() {
    let mut w = world();
    w.advance_mins(5);
    w.crm("hs").write_faults.push_back(Fault::ServerError);
    w.input(ended(&w, "c1"));
    w.crm("hs").faults.push_back(Fault::Offline);
    w.advance_mins(1);
    assert_eq!(w.state("c1", "hs"), "unknown", "the lookup failed: hs backs off");
    w.input(Input::DigestRequested);
    let report = w
        .notices
        .iter()
        .rev()
        .find_map(|n| match n {
            Notice::DigestDone { sync: true, report, .. } => Some(report.clone()),
            _ => None,
        })
        .expect("sync answered");
    assert_eq!(w.state("c1", "hs"), "logged");
    let hs = report.iter().find(|r| r.integration.as_str() == "hs").expect("a line for hs");
    assert_eq!((hs.logged, hs.unlogged.len()), (1, 0), "{hs:?}");
    w.assert_clean();
}

/// Issue 12, third bullet: notes opened on a Friday afternoon, the browser closed until
/// Monday: the call is logged when it comes back.
#[test]
fn a_call_with_notes_is_logged_when_the_browser_returns_after_three_days() {
    let mut w = world();
    w.advance_mins(5);
    let mut c = call("c1", ANN, w.now, w.now);
    c.ended_at = None;
    w.input(Input::CallStarted(c.clone()));
    w.input(Input::NotesOpened { call: CallId::new("c1") });
    c.ended_at = Some(w.now.plus_mins(4));
    w.now = w.now.plus_mins(4);
    w.input(Input::CallEnded(c));
    w.input(Input::NotesSaved { call: CallId::new("c1"), notes: "call back Monday".into() });
    assert_eq!(w.state("c1", "hs"), "waiting");
    // The browser is closed: no alarm, no worker, for three days (and its clock moves on).
    w.now = w.now.plus_hours(72);
    w.alarm = None;
    w.restart();
    w.advance_mins(61);
    assert!(logged_everywhere(&w, "c1"), "logged on return");
    assert!(w.crm("hs").logs_for_call("c1").iter().all(|r| r.notes == "call back Monday"));
    w.assert_clean();
}

/// Past the configured wait the work is not lost silently: it fails saying why, and it counts
/// on the badge until the rep logs it again or dismisses it.
#[test]
fn work_past_the_wait_fails_visibly_and_stays_on_the_badge() {
    let mut w = World::with(2, ts("2026-06-10T14:00:00Z"), Default::default(), |s| s.digest.max_wait_days = 3);
    let before = w.now.plus_hours(-24);
    for id in ["hs", "pd"] {
        w.crm(id).add_contact(&format!("ann-{id}"), "Ann", ANN, before);
    }
    w.advance_mins(5);
    let mut c = call("c1", ANN, w.now, w.now);
    c.ended_at = None;
    w.input(Input::CallStarted(c.clone()));
    w.input(Input::NotesOpened { call: CallId::new("c1") });
    c.ended_at = Some(w.now);
    w.input(Input::CallEnded(c));
    w.now = w.now.plus_hours(24 * 5);
    w.alarm = None;
    w.restart();
    w.advance_mins(61);
    let reason = w.store.get(StoreName::Slots, "call|c1|hs").map(|r| r.json()["state"]["reason"].as_str().unwrap_or("").to_owned());
    assert_eq!(reason.as_deref(), Some("not logged: browser closed for 5 days"));
    assert_eq!(w.store.get(StoreName::Slots, "call|c1|hs").map(|r| r.open), Some(1), "open: it waits for the rep");
    assert_eq!(badge_after_restart(&mut w), "2");
    // The rep logs it from the history in one CRM and dismisses it in the other.
    let answer = w.page(PageInput::ManualLogRequested { call: CallId::new("c1"), integrations: vec![IntegrationId::new("hs")] });
    assert!(answer.ok, "{answer:?}");
    w.input(Input::UnresolvedResolved { resolutions: vec![("call|c1|pd".into(), Resolution::Dismiss)] });
    assert_eq!((w.state("c1", "hs"), w.state("c1", "pd")), ("logged".into(), "dismissed".into()));
    assert_eq!(badge_after_restart(&mut w), "");
    w.assert_clean();
}

/// The search for a contact created after the call keeps its bounds: a call nobody matched is
/// not searched for days, it closes (skipped, not failed) once out of the window.
#[test]
fn the_search_for_later_contacts_keeps_the_digest_window() {
    let mut w = World::new(1, ts("2026-06-10T14:00:00Z"));
    w.advance_mins(5);
    w.input(ended(&w, "c1"));
    assert_eq!(w.state("c1", "hs"), "no_match");
    w.now = w.now.plus_hours(72);
    w.alarm = None;
    w.restart();
    w.advance_mins(61);
    assert_eq!(w.state("c1", "hs"), "skipped");
    w.assert_clean();
}

/// Retention: closed calls, their slots and audit entries older than the setting are pruned
/// in small batches by the scheduled digest; an open one (a failure waiting for the rep) is
/// kept however old.
#[test]
fn history_older_than_the_retention_is_pruned_and_nothing_open_is() {
    let t0 = ts("2026-01-05T15:00:00Z");
    let mut w = World::with(1, t0, Default::default(), |s| {
        s.retention_days = 30;
        s.repeat_caller_window_mins = 0;
    });
    w.crm("hs").add_contact("ann", "Ann", ANN, t0.plus_hours(-24));
    for k in 0..5 {
        w.advance_mins(10);
        w.input(ended(&w, &format!("old{k}")));
    }
    w.crm("hs").write_faults.push_back(Fault::Permanent);
    w.advance_mins(10);
    w.input(ended(&w, "refused"));
    assert_eq!(w.state("refused", "hs"), "failed");
    let audit_first = w.store.all(StoreName::Audit).map(|r| r.at).min().unwrap_or(0);
    // 31 days later the day's calls are past the retention.
    w.advance_to(t0.plus_hours(24 * 31));
    w.input(ended(&w, "new"));
    w.advance_mins(61);
    for k in 0..5 {
        let id = format!("old{k}");
        assert!(w.store.get(StoreName::Calls, &id).is_none() && w.state(&id, "hs") == "none", "{id} pruned with its slot");
    }
    assert_eq!(w.state("refused", "hs"), "failed", "open work is never pruned");
    assert!(w.store.get(StoreName::Calls, "refused").is_some());
    assert_eq!(w.state("new", "hs"), "logged");
    let oldest = w.store.all(StoreName::Audit).map(|r| r.at).min().unwrap_or(i64::MAX);
    assert!(oldest >= t0.plus_hours(24).0 && oldest > audit_first, "old audit entries pruned");
    assert!(Timestamp(oldest) <= w.now);
    assert!(w.engine().slots().any(|s| matches!(s.state, SlotState::Failed { .. })));
    w.assert_clean();
}
