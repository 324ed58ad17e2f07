//! Server mode's endpoint: the rep's extension forwards its softphone's events and the rep's
//! intents (`POST /rep/{account}/{rep}/events`); only that rep's token is taken, a batch sent
//! again is stored once, and the rep's engine logs the call once in the CRM with the notes.

use calltrail_core::driver::outbox::{Batch, Forwarded, What};
use calltrail_core::model::{Call, CallId, CallResult, Direction, Timestamp};
use calltrail_core::phone::{Country, E164};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{alice_and_bob, rig, Client, Rig, ADMIN};

fn entry(id: &str, what: What, call: Option<&Call>, notes: Option<&str>, at: i64) -> Forwarded {
    let id_only = matches!(what, What::NotesOpened | What::NotesSaved | What::NotesCancelled | What::LogNow);
    Forwarded {
        id: id.into(),
        at,
        what,
        call: call.filter(|_| !id_only).cloned(),
        call_id: call.filter(|_| id_only).map(|c| c.id.clone()),
        notes: notes.map(str::to_owned),
        manual: false,
        integration: None,
        contacts: None,
        integrations: None,
        resolutions: None,
    }
}

async fn post(c: &Client, url: &str, token: &str, body: &str) -> (u16, Value) {
    let r = c.http.post(url).bearer_auth(token).header("content-type", "application/json").body(body.to_owned()).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn forwarded_events_are_stored_once_and_the_reps_engine_logs_the_notes_once() {
    let r = rig("server_mode", "sm1", json!({})).await;
    let Rig { url, base, crm_url, c, .. } = &r;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    c.json(Method::POST, &format!("{crm_url}/_admin/seed"), Some(json!({ "vendor": "hubspot", "contacts": [{ "firstName": "Ada", "lastName": "Known", "phone": "+12125550101" }] }))).await;
    let (alice, bob) = alice_and_bob(&c, &base, &crm_url, json!({ "rule": "last_modified" })).await;

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let id = CallId::new("rc:s-server-mode-1");
    let mut call = Call::new(id.clone(), Direction::Inbound, E164::parse("+12125550101", Country::US).unwrap(), None, Timestamp(now - 120_000));
    call.answered_at = Some(Timestamp(now - 115_000));
    call.result = CallResult::Answered;
    let mut ended = call.clone();
    ended.ended_at = Some(Timestamp(now - 60_000));
    let notes = "Wants the renewal quote by Friday";
    let batch = Batch {
        entries: vec![
            entry("b1-1", What::CallStarted, Some(&call), None, now - 115_000),
            entry("b1-2", What::NotesOpened, Some(&call), None, now - 100_000),
            entry("b1-3", What::NotesSaved, Some(&call), Some(notes), now - 90_000),
            entry("b1-4", What::CallEnded, Some(&ended), None, now - 60_000),
        ],
    };
    let body = serde_json::to_string(&batch).unwrap();
    let events = format!("{base}/rep/acme/alice/events");
    let (s, v) = post(&c, &events, &bob, &body).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("wrong_rep")), "bob cannot speak for alice");
    let (s, v) = post(&c, &events, ADMIN, &body).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("admin_token_refused")));
    let (s, v) = post(&c, &events, &alice, r#"{"entries":[{"id":"x","at":1,"what":"notes_saved"}]}"#).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_entry")), "a notes entry without its call is refused");
    let (s, v) = post(&c, &events, &alice, r#"{"entries":[{"id":"x","at":1,"what":"guess"}]}"#).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("malformed")));
    let (s, v) = post(&c, &events, &alice, &body).await;
    assert_eq!((s, v["data"]["accepted"].as_u64()), (200, Some(4)), "{v}");
    // The answer was lost: the extension sends the same batch again.
    let (s, _) = post(&c, &events, &alice, &body).await;
    assert_eq!(s, 200);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE source = 'ext' AND rep_id = 'alice'").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 4, "each entry stored once");

    // Notes opened during the call leave it to the digest; "sync now" from the extension runs it.
    let sync = Batch { entries: vec![entry("b2-1", What::Sync, None, None, now)] };
    let (s, _) = post(&c, &events, &alice, &serde_json::to_string(&sync).unwrap()).await;
    assert_eq!(s, 200);
    let marker = format!("calltrail:call|{id}|");
    let logs = crate::support::eventually(30, "the call logged in HubSpot", || {
        let c = c.clone();
        let url = format!("{crm_url}/_admin/calls?marker={}", urlencode(&marker));
        async move {
            let v = c.json(Method::GET, &url, None).await;
            (v["count"].as_u64() == Some(1)).then_some(v)
        }
    })
    .await;
    let record = logs["byVendor"]["hubspot"][0].to_string();
    assert!(record.contains(notes), "the record carries the notes: {record}");
    // Sent again, nothing more is logged.
    let (s, _) = post(&c, &events, &alice, &body).await;
    assert_eq!(s, 200);
    let (s, _) = post(&c, &events, &alice, &serde_json::to_string(&sync).unwrap()).await;
    assert_eq!(s, 200);
    let sync2 = Batch { entries: vec![entry("b3-1", What::Sync, None, None, now)] };
    let (s, _) = post(&c, &events, &alice, &serde_json::to_string(&sync2).unwrap()).await;
    assert_eq!(s, 200);
    crate::support::eventually(30, "the second sync done", || {
        let pool = pool.clone();
        async move {
            let open: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE source = 'ext' AND NOT done").fetch_one(&pool).await.unwrap();
            (open == 0).then_some(())
        }
    })
    .await;
    let v = c.json(Method::GET, &format!("{crm_url}/_admin/calls?marker={}", urlencode(&marker)), None).await;
    assert_eq!(v["count"].as_u64(), Some(1), "still one record");
}

/// A resolution the extension forwards through its outbox resolves the server's unresolved
/// slot, as the admin's does; the rep reads the queue with their own token; a forwarded manual
/// log reaches the rep's engine too.
#[tokio::test]
async fn a_forwarded_resolution_resolves_the_servers_unresolved_slot() {
    let r = rig("server_mode_resolve", "sm2", json!({})).await;
    let Rig { base, crm_url, c, .. } = &r;
    let twins = "+12125550303";
    c.json(Method::POST, &format!("{crm_url}/_admin/seed"), Some(json!({ "vendor": "hubspot", "contacts": [
        { "firstName": "Twin", "lastName": "One", "phone": twins }, { "firstName": "Twin", "lastName": "Two", "phone": twins } ] }))).await;
    let (alice, bob) = alice_and_bob(&c, &base, &crm_url, json!({ "rule": "ask" })).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let id = CallId::new("rc:s-server-mode-2");
    let mut call = Call::new(id.clone(), Direction::Inbound, E164::parse(twins, Country::US).unwrap(), None, Timestamp(now - 120_000));
    call.answered_at = Some(Timestamp(now - 115_000));
    call.result = CallResult::Answered;
    call.ended_at = Some(Timestamp(now - 60_000));
    let events = format!("{base}/rep/acme/alice/events");
    let batch = Batch { entries: vec![entry("r1-1", What::CallEnded, Some(&call), None, now - 60_000)] };
    let (s, v) = post(&c, &events, &alice, &serde_json::to_string(&batch).unwrap()).await;
    assert_eq!(s, 200, "{v}");

    let unresolved = format!("{base}/rep/acme/alice/unresolved");
    let (s, v) = get(&c, &unresolved, &bob).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("wrong_rep")), "bob cannot read alice's queue");
    let (s, v) = get(&c, &unresolved, ADMIN).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("admin_token_refused")));
    let queue = crate::support::eventually(30, "alice's call unresolved on the server", || {
        let (c, unresolved, alice) = (c.clone(), unresolved.clone(), alice.clone());
        async move {
            let (_, v) = get(&c, &unresolved, &alice).await;
            v["data"].as_array().filter(|q| q.len() == 1).cloned()
        }
    })
    .await;
    let slot = queue[0]["slot"].as_str().unwrap().to_owned();
    let pick = queue[0]["candidates"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(queue[0]["refused"], Value::Null);
    // A choice of a contact that is not a candidate: refused, and the queue's row says why.
    let body = json!({ "entries": [{ "id": "r1-0", "at": now, "what": "resolve",
        "resolutions": [[slot, { "choice": "contacts", "ids": ["no-such-contact"] }]] }] });
    assert_eq!(post(&c, &events, &alice, &body.to_string()).await.0, 200);
    let refused = crate::support::eventually(30, "the refused choice on alice's queue", || {
        let (c, unresolved, alice) = (c.clone(), unresolved.clone(), alice.clone());
        async move {
            let (_, v) = get(&c, &unresolved, &alice).await;
            v["data"][0]["refused"].as_object().cloned()
        }
    })
    .await;
    assert_eq!(refused["what"], "resolution");
    assert!(refused["words"].as_str().is_some_and(|w| w.contains("not among the candidates")), "{refused:?}");
    // The extension's unresolved page resolves it: a `resolve` entry through the outbox.
    let body = json!({ "entries": [{ "id": "r1-2", "at": now, "what": "resolve",
        "resolutions": [[slot, { "choice": "contacts", "ids": [pick] }]] }] });
    let (s, v) = post(&c, &events, &alice, &body.to_string()).await;
    assert_eq!((s, v["data"]["accepted"].as_u64()), (200, Some(1)), "{v}");
    let (s, v) = post(&c, &events, &alice, r#"{"entries":[{"id":"r1-3","at":1,"what":"resolve"}]}"#).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_entry")), "a resolve entry without resolutions is refused");
    let marker = format!("calltrail:call|{id}|");
    crate::support::eventually(30, "the resolved call logged in HubSpot", || {
        let c = c.clone();
        let url = format!("{crm_url}/_admin/calls?marker={}", urlencode(&marker));
        async move {
            let v = c.json(Method::GET, &url, None).await;
            (v["count"].as_u64() == Some(1)).then_some(v)
        }
    })
    .await;
    let (_, v) = get(&c, &format!("{base}/rep/acme/alice/history"), &alice).await;
    assert_eq!(v["data"]["calls"][0]["slots"][0]["category"], "logged", "{v}");
    assert_eq!(v["data"]["calls"][0]["slots"][0]["refused"], Value::Null, "the next choice cleared the refusal: {v}");
    let (s, v) = get(&c, &unresolved, &alice).await;
    assert_eq!((s, v["data"].as_array().map(Vec::len)), (200, Some(0)), "the queue is empty: {v}");

    // A second call dismissed from the queue, then logged by hand from the history: the
    // forwarded manual log reaches the rep's engine, which searches again and, the number
    // still shared, asks again.
    let id2 = CallId::new("rc:s-server-mode-3");
    let mut call2 = call.clone();
    call2.id = id2.clone();
    let batch = Batch { entries: vec![entry("r2-1", What::CallEnded, Some(&call2), None, now - 50_000)] };
    let (s, _) = post(&c, &events, &alice, &serde_json::to_string(&batch).unwrap()).await;
    assert_eq!(s, 200);
    let slot2 = format!("call|{id2}|hs");
    let queued = |want: bool| {
        let (c, unresolved, alice, slot2) = (c.clone(), unresolved.clone(), alice.clone(), slot2.clone());
        async move {
            let (_, v) = get(&c, &unresolved, &alice).await;
            let has = v["data"].as_array().is_some_and(|q| q.iter().any(|r| r["slot"] == slot2.as_str()));
            (has == want).then_some(())
        }
    };
    crate::support::eventually(30, "the second call unresolved", || queued(true)).await;
    let body = json!({ "entries": [{ "id": "r2-2", "at": now, "what": "resolve", "resolutions": [[slot2, { "choice": "dismiss" }]] }] });
    assert_eq!(post(&c, &events, &alice, &body.to_string()).await.0, 200);
    crate::support::eventually(30, "the second call dismissed", || queued(false)).await;
    let body = json!({ "entries": [{ "id": "r2-3", "at": now, "what": "manual_log", "call_id": id2, "integrations": ["hs"] }] });
    let (s, v) = post(&c, &events, &alice, &body.to_string()).await;
    assert_eq!((s, v["data"]["accepted"].as_u64()), (200, Some(1)), "{v}");
    crate::support::eventually(30, "the manual log asks again", || queued(true)).await;
}

async fn get(c: &Client, url: &str, token: &str) -> (u16, Value) {
    let r = c.http.get(url).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The panel's view of a call in server mode (`GET /rep/{account}/{rep}/calls/{call}`): while
/// the call rings the server's call pop matches the caller and the slot offers the matches to
/// pick; a pick forwarded through the outbox is what the server logs to. A manual log and a
/// resolution the engine then refuses (already logged) show on the rep's history with why.
#[tokio::test]
async fn the_servers_view_of_a_ringing_call_offers_its_matches_and_logs_the_pick() {
    let r = rig("server_mode_call", "sm3", json!({})).await;
    let Rig { base, crm_url, c, .. } = &r;
    let shared = "+12125550404";
    c.json(Method::POST, &format!("{crm_url}/_admin/seed"), Some(json!({ "vendor": "hubspot", "contacts": [
        { "firstName": "Ada", "lastName": "Older", "phone": shared }, { "firstName": "Ada", "lastName": "Newer", "phone": shared } ] }))).await;
    let (alice, bob) = alice_and_bob(&c, &base, &crm_url, json!({ "rule": "last_modified" })).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let id = CallId::new("rc:s-server-mode-call");
    let ringing = Call::new(id.clone(), Direction::Inbound, E164::parse(shared, Country::US).unwrap(), None, Timestamp(now - 5_000));
    let events = format!("{base}/rep/acme/alice/events");
    let view_url = format!("{base}/rep/acme/alice/calls/{}", urlencode(id.as_str()));

    let (s, v) = get(&c, &view_url, &bob).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("wrong_rep")), "bob cannot read alice's call");
    let (s, v) = get(&c, &view_url, &alice).await;
    assert_eq!((s, &v["data"]), (200, &Value::Null), "not heard of yet: {v}");

    let batch = Batch { entries: vec![entry("c1-1", What::CallRinging, Some(&ringing), None, now - 5_000)] };
    assert_eq!(post(&c, &events, &alice, &serde_json::to_string(&batch).unwrap()).await.0, 200);
    let view = crate::support::eventually(30, "the server's call pop in alice's call view", || {
        let (c, view_url, alice) = (c.clone(), view_url.clone(), alice.clone());
        async move {
            let (_, v) = get(&c, &view_url, &alice).await;
            (v["data"]["slots"][0]["matches"].as_array().map(Vec::len) == Some(2)).then_some(v["data"].clone())
        }
    })
    .await;
    let slot = &view["slots"][0];
    assert_eq!((slot["integration"].as_str(), slot["status"].as_str(), slot["word"].as_str()), (Some("hs"), Some("not_logged"), Some("2 matches")), "{view}");
    assert_eq!(view["in_motion"], true, "a ringing call is still in motion: {view}");
    assert_eq!((slot["can_pick"].as_bool(), view["phase"].as_str()), (Some(true), Some("ringing")), "{view}");
    let older = slot["matches"].as_array().unwrap().iter().find(|m| m["name"].as_str().is_some_and(|n| n.contains("Older"))).cloned().expect("Ada Older matched");

    // The rep picks Ada Older (the rule alone would take the newer one), then the call ends
    // and the rep asks to log now.
    let mut ended = ringing.clone();
    ended.answered_at = Some(Timestamp(now - 4_000));
    ended.ended_at = Some(Timestamp(now - 1_000));
    ended.result = CallResult::Answered;
    let body = json!({ "entries": [
        { "id": "c1-2", "at": now - 3_000, "what": "picked", "call_id": id, "integration": "hs", "contacts": [older] },
        serde_json::to_value(entry("c1-3", What::CallEnded, Some(&ended), None, now - 1_000)).unwrap(),
        { "id": "c1-4", "at": now, "what": "log_now", "call_id": id },
    ] });
    let (s, v) = post(&c, &events, &alice, &body.to_string()).await;
    assert_eq!((s, v["data"]["accepted"].as_u64()), (200, Some(3)), "{v}");
    let marker = format!("calltrail:call|{id}|");
    let logs = crate::support::eventually(30, "the picked contact logged in HubSpot", || {
        let c = c.clone();
        let url = format!("{crm_url}/_admin/calls?marker={}", urlencode(&marker));
        async move {
            let v = c.json(Method::GET, &url, None).await;
            (v["count"].as_u64() == Some(1)).then_some(v)
        }
    })
    .await;
    let record = logs["byVendor"]["hubspot"][0]["id"].as_str().unwrap().to_owned();
    let r = c.http.get(format!("{crm_url}/hubspot/crm/v3/objects/calls/{record}?associations=contacts")).bearer_auth("hubspot-token").send().await.unwrap();
    let read: Value = r.json().await.unwrap();
    let contacts: Vec<&str> = read["associations"]["contacts"]["results"].as_array().into_iter().flatten().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(contacts, [older["id"].as_str().unwrap()], "logged on the picked contact: {read}");
    let view = crate::support::eventually(30, "the call logged in alice's call view", || {
        let (c, view_url, alice) = (c.clone(), view_url.clone(), alice.clone());
        async move {
            let (_, v) = get(&c, &view_url, &alice).await;
            (v["data"]["slots"][0]["status"] == "logged").then_some(v["data"].clone())
        }
    })
    .await;
    assert_eq!((view["slots"][0]["can_pick"].as_bool(), view["slots"][0]["can_log_manually"].as_bool()), (Some(false), Some(false)), "{view}");
    assert_eq!(view["slots"][0]["refused"], Value::Null);
    assert_eq!(view["in_motion"], false, "logged: nothing more to follow: {view}");

    // A manual log of the logged call, and a resolution of its slot: both refused by the
    // engine, and the rep's history says why (the core's rule says no manual log either).
    let history = format!("{base}/rep/acme/alice/history");
    let body = json!({ "entries": [{ "id": "c1-5", "at": now, "what": "manual_log", "call_id": id, "integrations": ["hs"] }] });
    assert_eq!(post(&c, &events, &alice, &body.to_string()).await.0, 200);
    let row = crate::support::eventually(30, "the refused manual log in alice's history", || {
        let (c, history, alice) = (c.clone(), history.clone(), alice.clone());
        async move {
            let (_, v) = get(&c, &history, &alice).await;
            let slot = v["data"]["calls"][0]["slots"][0].clone();
            slot["refused"].is_object().then_some(slot)
        }
    })
    .await;
    assert_eq!((row["refused"]["what"].as_str(), row["can_log_manually"].as_bool()), (Some("manual_log"), Some(false)), "{row}");
    assert!(row["refused"]["words"].as_str().is_some_and(|r| r.starts_with("Your manual log was refused: already logged")), "{row}");
    let body = json!({ "entries": [{ "id": "c1-6", "at": now, "what": "resolve", "resolutions": [[format!("call|{id}|hs"), { "choice": "dismiss" }]] }] });
    assert_eq!(post(&c, &events, &alice, &body.to_string()).await.0, 200);
    crate::support::eventually(30, "the refused resolution in alice's call view", || {
        let (c, view_url, alice) = (c.clone(), view_url.clone(), alice.clone());
        async move {
            let (_, v) = get(&c, &view_url, &alice).await;
            (v["data"]["slots"][0]["refused"]["what"] == "resolution").then_some(())
        }
    })
    .await;
}
