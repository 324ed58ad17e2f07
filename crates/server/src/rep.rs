//! The rep's own endpoints for the extension's server mode, behind the rep's token
//! ([`crate::auth::rep_only`]): what the rep may ask of their own engine on the server.
//!
//! - `GET /rep/{account}/{rep}/history?from=&to=`: the rep's calls with their status per CRM
//!   ([`crate::admin::rep_history`], the admin's rows for one rep).
//! - `GET /rep/{account}/{rep}/unresolved`: the rep's unresolved queue (the admin's view of it,
//!   `crate::http::own_unresolved`).
//! - `POST /rep/{account}/{rep}/resolutions`: `{"resolutions": [[slot, resolution], ...]}`,
//!   the unresolved queue's choices, queued for the rep's engine exactly as the admin's are.
//! - `POST /rep/{account}/{rep}/sync`: "sync now".
//! - `POST /rep/{account}/{rep}/events`: server mode's outbox
//!   (`calltrail_core::driver::outbox`): `{"entries": [...]}`, the softphone events the rep's
//!   extension saw and the rep's intents (notes, log now, sync, contact picks, manual logs and
//!   unresolved resolutions for the integrations the server owns), in order. Each entry is filed
//!   under its own id, so a batch sent again after a lost answer is stored once; answered
//!   `{"accepted": n}` once the whole batch is committed.
//!
//! - `GET /rep/{account}/{rep}/calls/{call}`: one call's view on the server (the core's
//!   [`calltrail_core::view::call_view`] over the rep's records and settings: one slot per CRM
//!   the server logs to, its status, the contacts its call pop matched and whether they can be
//!   picked), `null` while the server has not heard of the call; each slot carries `refused`
//!   when the engine refused the rep's last request about it, and the view `in_motion`
//!   ([`calltrail_core::view::CallView::in_motion`]) while anything is still to happen to the
//!   call (the panel asks again until it is not). The call id is the extension's
//!   own (`rc:<telephony session>` for RingCentral), the same the webhooks give the call.
//!
//! Refusals: the rep's engine refuses a forwarded manual log, pick or resolution with a notice
//! (`ManualRefused`, `PicksRefused`, `ResolutionRefused`); the worker keeps the latest one per
//! call and CRM in `records` under the server-only store `refusals` ([`crate::refusals`]; the
//! engine never reads it, no restore selects it), and the rep's history, call view and
//! unresolved rows show it until the rep asks again about the same call and CRM (a new request
//! clears it as it is stored; a resend of the same entry does not). One row per refused slot,
//! pruned with its call by retention ([`crate::store::PgStore::apply`]), removed with the rep.
//!
//! Events go through the inbox like every other input, so they are stored before the answer
//! and the engine that holds the rep's lease applies them in order. A rep can only ever queue
//! events for their own engine: the path names the rep and the token must be that rep's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use calltrail_core::driver::{outbox, Driver, SETTINGS_KEY};
use calltrail_core::engine::{slot, CallEntry, Resolution, Slot, SlotKey};
use calltrail_core::model::{CallId, Timestamp};
use calltrail_core::store::StoreName;
use serde::Deserialize;
use serde_json::{json, Value};


use crate::reply::{internal, now_ms, ok, refuse};
use crate::app::App;
use crate::inbox::{self, Event, InboxError, To};
use crate::seal::random_hex;
use crate::store::RepRef;
use crate::auth::rep_only;
use crate::refusals::{refusal_for, refusals_of};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/rep/{account}/{rep}/resolutions", post(resolutions))
        .route("/rep/{account}/{rep}/sync", post(sync))
        .route("/rep/{account}/{rep}/events", post(events))
        .route("/rep/{account}/{rep}/calls/{call}", get(call))
}

/// `GET /rep/{account}/{rep}/calls/{call}`: the server's view of one call (see the module doc).
async fn call(State(app): State<App>, Path((account, rep, call)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    let who = RepRef { account, rep };
    let id = CallId::new(call.as_str());
    let prefix = slot::call_slot_prefix(&id);
    let read = tokio::try_join!(
        app.store.get(&who, StoreName::Calls, id.as_str()),
        app.store.prefix(&who, StoreName::Slots, &prefix),
        app.store.get(&who, StoreName::Settings, SETTINGS_KEY),
    );
    let (entry, slots, settings) = match read {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let refusals = match refusals_of(&app.pool, &who, std::slice::from_ref(&call)).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    // Core values are single-threaded: everything below runs without an await.
    let Some(entry) = entry.as_ref().and_then(CallEntry::from_record) else { return ok(Value::Null) };
    let slots: Vec<Slot> = slots.iter().filter_map(Slot::from_record).collect();
    let settings = Driver::stored_settings(settings.as_ref());
    let view = calltrail_core::view::call_view(&entry, &slots, &settings, Timestamp(now_ms()));
    let mut v = match serde_json::to_value(&view) {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    v["in_motion"] = json!(view.in_motion());
    if let Some(rows) = v["slots"].as_array_mut() {
        for (row, s) in rows.iter_mut().zip(&view.slots) {
            row["refused"] = json!(refusal_for(&refusals, &call, s.integration.as_str()));
        }
    }
    ok(v)
}


/// The `<call id>|<integration>` keys a rep's request in `e` is about (picks, manual logs,
/// resolutions): a new request clears the refusal of the one before.
fn requested(e: &outbox::Forwarded) -> Vec<String> {
    let call = e.call_id.as_ref().map(|c| c.as_str()).unwrap_or_default();
    match e.what {
        outbox::What::Picked => e.integration.iter().map(|i| format!("{call}|{i}")).collect(),
        outbox::What::ManualLog => e.integrations.iter().flatten().map(|i| format!("{call}|{i}")).collect(),
        outbox::What::Resolve => e.resolutions.iter().flatten().filter_map(|(k, _)| k.strip_prefix("call|").map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// The most entries one request may carry (the extension sends at most `outbox::BATCH`).
const MAX_ENTRIES: usize = 500;

async fn events(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    let batch: outbox::Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
    };
    if batch.entries.len() > MAX_ENTRIES {
        return refuse(StatusCode::BAD_REQUEST, "too_many", format!("at most {MAX_ENTRIES} entries"));
    }
    let mut stored = Vec::with_capacity(batch.entries.len());
    for e in &batch.entries {
        if e.id.is_empty() || e.id.len() > 100 {
            return refuse(StatusCode::BAD_REQUEST, "bad_id", "an entry id is 1 to 100 characters");
        }
        // Refused whole when one entry lacks what its kind needs: the engine reads it so.
        if e.clone().into_input().is_none() {
            return refuse(StatusCode::BAD_REQUEST, "bad_entry", format!("entry {} lacks a field its kind needs", e.id));
        }
        let body = match serde_json::to_string(e) {
            Ok(b) => b,
            Err(e) => return internal(e),
        };
        let row = inbox::Row { to: To::Rep(rep.clone()), source: "ext", delivery: e.id.clone(), session: None };
        stored.push(Event { account: account.clone(), body, rows: vec![row] });
    }
    // The rep asks again: the refusal of their request before is no longer the news. Cleared
    // before the new entries are stored, so the engine's answer to them lands after; an entry
    // sent again (a lost answer) is not new, and clears nothing.
    let asking: Vec<&outbox::Forwarded> = batch.entries.iter().filter(|e| !requested(e).is_empty()).collect();
    let mut cleared = Vec::new();
    if !asking.is_empty() {
        let ids: Vec<&str> = asking.iter().map(|e| e.id.as_str()).collect();
        let seen: Result<Vec<String>, _> = sqlx::query_scalar("SELECT delivery FROM inbox WHERE account_id = $1 AND source = 'ext' AND rep_id = $2 AND delivery = ANY($3)")
            .bind(&account)
            .bind(&rep)
            .bind(&ids)
            .fetch_all(&app.pool)
            .await;
        match seen {
            Ok(seen) => cleared.extend(asking.iter().filter(|e| !seen.contains(&e.id)).flat_map(|e| requested(e))),
            Err(e) => return internal(e),
        }
    }
    if !cleared.is_empty() {
        let gone = sqlx::query("DELETE FROM records WHERE account_id = $1 AND rep_id = $2 AND store = 'refusals' AND key = ANY($3)")
            .bind(&account)
            .bind(&rep)
            .bind(&cleared)
            .execute(&app.pool)
            .await;
        if let Err(e) = gone {
            return internal(e);
        }
    }
    let n = stored.len();
    if n > 0 {
        let refs: Vec<&Event> = stored.iter().collect();
        if let Err(e) = inbox::commit(&app.pool, &refs).await {
            return internal(e);
        }
    }
    ok(json!({ "accepted": n }))
}

/// Queues `event` for the rep's engine, as an admin event (the worker reads only those).
async fn queue(app: &App, account: &str, rep: &str, event: &Value) -> Result<(), InboxError> {
    let row = inbox::Row { to: To::Rep(rep.to_owned()), source: "admin", delivery: random_hex(12), session: None };
    inbox::commit(&app.pool, &[&Event { account: account.to_owned(), body: event.to_string(), rows: vec![row] }]).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolutionsBody {
    resolutions: Vec<(SlotKey, Resolution)>,
}

async fn resolutions(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    // Read as the engine will read it (refused whole when a row is not a resolution), then
    // kept as text: the engine's types do not cross threads.
    let (event, n) = {
        let b: ResolutionsBody = match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
        };
        if b.resolutions.is_empty() || b.resolutions.len() > 1000 {
            return refuse(StatusCode::BAD_REQUEST, "bad_resolutions", "between 1 and 1000 resolutions");
        }
        (json!({ "kind": "resolve", "resolutions": b.resolutions }), b.resolutions.len())
    };
    match queue(&app, &account, &rep, &event).await {
        Ok(()) => ok(json!({ "queued": n })),
        Err(e) => internal(e),
    }
}

async fn sync(State(app): State<App>, Path((account, rep)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = rep_only(&app, &headers, &account, &rep).await {
        return r;
    }
    match queue(&app, &account, &rep, &json!({ "kind": "sync" })).await {
        Ok(()) => ok(json!({ "queued": true })),
        Err(e) => internal(e),
    }
}
