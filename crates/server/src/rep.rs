//! The rep's own endpoints for the extension's server mode, behind the rep's token
//! ([`crate::tokens::rep_only`]): what the rep may ask of their own engine on the server.
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
//! Events go through the inbox like every other input, so they are stored before the answer
//! and the engine that holds the rep's lease applies them in order. A rep can only ever queue
//! events for their own engine: the path names the rep and the token must be that rep's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use calltrail_core::driver::outbox;
use calltrail_core::engine::{Resolution, SlotKey};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::{internal, ok, refuse};
use crate::http::App;
use crate::inbox::{self, Event, InboxError, To};
use crate::seal::random_hex;
use crate::tokens::rep_only;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/rep/{account}/{rep}/resolutions", post(resolutions))
        .route("/rep/{account}/{rep}/sync", post(sync))
        .route("/rep/{account}/{rep}/events", post(events))
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
