//! Who logs a shared call, end to end: PostgreSQL, one server instance, the RingCentral
//! emulator playing calls that several users take part in, and one HubSpot account (the CRM
//! emulator) that every rep logs into with their own connection. Bob and Carol are reps, and so
//! is the Support Queue's extension (the account's missed queue calls are logged for it).
//!
//! Per call, the records by marker (`calltrail:call|rc:<session>|<party>`) must be the rule of
//! `docs/shared-calls.md`: a queue call a colleague answered: one record, hers; a queue call
//! nobody answered: one record, the queue's; a transfer: one record per rep, each under their
//! own party; a conference: Bob's call until the merge, nothing for the consult between the two
//! reps, and one record per rep for the conference.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const BOB: &str = "62000000102";
const CAROL: &str = "62000000103";
const QUEUE: &str = "62000000200";
const CALLER: &str = "+14155550123";

/// The party of `ext` in session `tsid` of a played call (the emulator's summary of events).
fn party(played: &Value, tsid: &str, ext: &str) -> String {
    played["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["telephonySessionId"] == json!(tsid) && e["extensionId"] == json!(ext))
        .and_then(|e| e["partyId"].as_str())
        .unwrap_or_else(|| panic!("no party of {ext} in {tsid}"))
        .to_owned()
}

/// `hs_call_external_id` of every HubSpot call, with its status.
async fn hubspot_calls(c: &Client, crm_url: &str) -> Vec<(String, String)> {
    let recs = c.json(Method::GET, &format!("{crm_url}/_admin/records?vendor=hubspot&kind=calls"), None).await;
    recs["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let p = &r["record"]["properties"];
            (p["hs_call_external_id"].as_str().unwrap_or("").to_owned(), p["hs_call_status"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_calls_are_logged_once_per_leg_by_the_rep_whose_leg_it_is() {
    let c = Client::default();
    let url = fresh_db("shared").await;
    let crm = crm_emulator().await;
    let rc = rc_emulator().await;
    let crm_url = format!("http://127.0.0.1:{}", crm.port());
    let rc_url = format!("http://127.0.0.1:{}", rc.port());
    c.json(Method::POST, &format!("{rc_url}/_admin/config"), Some(json!({ "rateLimits": { "enabled": false }, "paceMs": 2, "callLogLagMs": 300 }))).await;
    let health = c.json(Method::GET, &format!("{rc_url}/_admin/health"), None).await;
    let alice_jwt = health["defaults"]["jwts"]["62000000101"].as_str().expect("alice's jwt").to_owned();
    c.json(Method::POST, &format!("{crm_url}/_admin/seed"), Some(json!({ "vendor": "hubspot", "contacts": [{ "firstName": "Wireless", "lastName": "Caller", "phone": CALLER }] }))).await;

    // The server's public address (where RingCentral delivers) is known before it starts.
    let lb = balancer().await;
    let public = format!("http://127.0.0.1:{}", lb.port);
    let srv = server(&ServerOpts { database_url: url.clone(), public_url: Some(public.clone()), sync_ms: 2000, lease_ttl_ms: 4000, id: "shared-0".into() }).await;
    *lb.backends.lock().await = vec![srv.port()];
    let admin = format!("{public}/admin/accounts/acme");
    let (s, v) = c.admin(Method::PUT, &admin, Some(json!({ "name": "Acme", "ringcentral": { "server_url": rc_url, "client_id": "rcemu-client", "client_secret": "rcemu-secret", "jwt": alice_jwt } }))).await;
    assert_eq!(s, 200, "{v}");
    for (rep, ext) in [("bob", BOB), ("carol", CAROL), ("queue", QUEUE)] {
        // One HubSpot account, each rep with their own connection to it.
        let st = settings(&[("hs", "hubspot", format!("{crm_url}/hubspot"))]);
        let (s, v) = c.admin(Method::PUT, &format!("{admin}/reps/{rep}"), Some(json!({ "telephony_user": ext, "settings": st }))).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = c.admin(Method::PUT, &format!("{admin}/reps/{rep}/credentials/hs"), Some(json!({ "token": "hubspot-token" }))).await;
        assert_eq!(s, 200, "{v}");
    }
    eventually(60, "an active subscription", || async {
        let subs = c.json(Method::GET, &format!("{rc_url}/_admin/subscriptions"), None).await;
        subs["records"].as_array().and_then(|a| a.iter().find(|s| s["status"] == "Active")).map(|_| ())
    })
    .await;

    let play = |mut script: Value| {
        let c = c.clone();
        let rc_url = rc_url.clone();
        for (k, v) in [("external", json!(CALLER)), ("paceMs", json!(2)), ("ringSeconds", json!(3)), ("talkSeconds", json!(30))] {
            script[k] = v;
        }
        async move { c.json(Method::POST, &format!("{rc_url}/_admin/calls"), Some(script)).await }
    };
    let queue_answered = play(json!({ "queueId": QUEUE, "answeredBy": CAROL })).await;
    let queue_missed = play(json!({ "queueId": QUEUE, "outcome": "missed" })).await;
    let transfer = play(json!({ "extensionId": BOB, "transfer": { "toExtensionId": CAROL, "afterSeconds": 10 } })).await;
    let conference = play(json!({ "extensionId": BOB, "conference": { "withExtensionId": CAROL, "afterSeconds": 10, "talkSeconds": 20 } })).await;

    let tsid = |p: &Value| p["telephonySessionId"].as_str().expect("tsid").to_owned();
    let conf_sessions: Vec<String> = conference["sessions"].as_array().expect("sessions").iter().map(|s| s["telephonySessionId"].as_str().unwrap().to_owned()).collect();
    // Marker → expected, per session: the markers that must exist, and nothing else for it.
    let marker = |s: &str, p: &str| format!("calltrail:call|rc:{s}|{p}");
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    want.insert(tsid(&queue_answered), vec![marker(&tsid(&queue_answered), &party(&queue_answered, &tsid(&queue_answered), CAROL))]);
    want.insert(tsid(&queue_missed), vec![marker(&tsid(&queue_missed), &party(&queue_missed, &tsid(&queue_missed), QUEUE))]);
    want.insert(tsid(&transfer), vec![marker(&tsid(&transfer), &party(&transfer, &tsid(&transfer), BOB)), marker(&tsid(&transfer), &party(&transfer, &tsid(&transfer), CAROL))]);
    want.insert(conf_sessions[0].clone(), vec![marker(&conf_sessions[0], &party(&conference, &conf_sessions[0], BOB))]);
    want.insert(conf_sessions[1].clone(), vec![]);
    want.insert(
        conf_sessions[2].clone(),
        vec![marker(&conf_sessions[2], &party(&conference, &conf_sessions[2], BOB)), marker(&conf_sessions[2], &party(&conference, &conf_sessions[2], CAROL))],
    );
    let expected_total: usize = want.values().map(Vec::len).sum();

    // Every expected record arrives; then nothing more comes (a leg that is not a rep's must
    // not be logged late either: the server holds incomplete legs for the call log up to two
    // minutes, and the emulator's call log is 0.3 s behind, so 5 s after the last is plenty).
    let got = eventually(90, "every leg logged", || async {
        let calls = hubspot_calls(&c, &crm_url).await;
        (calls.len() >= expected_total).then_some(calls)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let got = {
        let again = hubspot_calls(&c, &crm_url).await;
        assert_eq!(again.len(), got.len(), "more records came: {again:#?}");
        again
    };
    for (session, markers) in &want {
        let mut of_session: Vec<&String> = got.iter().map(|(m, _)| m).filter(|m| m.contains(&format!("rc:{session}|"))).collect();
        of_session.sort();
        let mut expected: Vec<&String> = markers.iter().collect();
        expected.sort();
        assert_eq!(of_session, expected, "session {session}");
    }
    assert_eq!(got.len(), expected_total, "{got:#?}");
    // The account's missed queue call is logged as missed.
    let missed = got.iter().find(|(m, _)| m.contains(&tsid(&queue_missed))).expect("the missed queue call");
    assert_eq!(missed.1, "NO_ANSWER", "{missed:?}");
    // Every leg is decided, not waiting for more data: a rep's inbox rows are done once the rule
    // settled their call (logged, or not theirs), and no slot is left open.
    let db = sqlx::PgPool::connect(&url).await.expect("db");
    let pending: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT rep_id, session FROM inbox WHERE NOT done AND rep_id IS NOT NULL").fetch_all(&db).await.expect("inbox");
    assert!(pending.is_empty(), "legs still waiting: {pending:?}");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM records WHERE store = 'slots' AND open = 1").fetch_one(&db).await.expect("count");
    assert_eq!(open, 0);
}
