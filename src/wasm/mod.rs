//! The only module that touches JavaScript: the exports the service worker calls, and the
//! IndexedDB store ([`idb`]). It holds no business rule; it moves data between the browser and
//! the core.

pub mod host;
pub mod idb;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use calltrail_core::model::Timestamp;
use calltrail_core::store::{Batch, Durability, Record, StoreName, Write};


/// When this build was made: the commit time the build script passes in (reproducible builds
/// use the commit time, not the wall clock).
const BUILD_TIME: &str = match option_env!("CALLTRAIL_BUILD_TIME") {
    Some(t) => t,
    None => "unknown",
};

#[derive(Serialize)]
struct Pong {
    name: &'static str,
    version: &'static str,
    build_time: &'static str,
    schema_version: u32,
}

/// Answers the `ping` message: who we are. Proves the wasm core is loaded and running.
#[wasm_bindgen]
pub fn ping() -> Result<JsValue, JsValue> {
    to_js(&Pong { name: "calltrail", version: crate::VERSION, build_time: BUILD_TIME, schema_version: idb::SCHEMA_VERSION })
}

/// How many worker instances have started, and when: kept in `meta/boot`, returned by `ping`.
#[derive(Serialize, serde::Deserialize, Default, Clone)]
pub(crate) struct BootLog {
    boots: u64,
    first_boot_at: i64,
    last_boot_at: i64,
    last_instance: String,
}

/// Records one worker start in `db` and returns the boot log. A new instance sees the count
/// the old one left.
pub(crate) async fn record_boot(db: &idb::Db, instance: String, now: Timestamp) -> Result<BootLog, idb::StoreError> {
    let mut log: BootLog = match db.get(StoreName::Meta, "boot").await? {
        Some(r) => r.decode().unwrap_or_default(),
        None => BootLog { first_boot_at: now.0, ..BootLog::default() },
    };
    log.boots += 1;
    log.last_boot_at = now.0;
    log.last_instance = instance;
    let record = Record::encode("boot", false, now.0, &log);
    // A diagnostic counter: relaxed, so a worker start never waits on a disk flush for it.
    db.apply(&Batch { writes: vec![Write::Put { store: StoreName::Meta, record }], durability: Durability::Relaxed })
        .await?;
    Ok(log)
}

/// Runs two futures concurrently on the one JS thread and waits for both: start-up reads from
/// IndexedDB overlap instead of waiting for each other.
pub(crate) async fn join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    use std::task::Poll;
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

/// A Rust value as a plain JS value, through JSON text (`JSON.parse`). One serde format for
/// the whole crate keeps the wasm small: every type already has its serde_json code.
pub(crate) fn to_js<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(v).map_err(|e| JsValue::from_str(&e.to_string()))?;
    js_sys::JSON::parse(&text)
}

/// A plain JS value as JSON text (`JSON.stringify`).
pub(crate) fn json_text(v: &JsValue) -> Result<String, String> {
    if v.is_undefined() {
        return Ok("null".into());
    }
    Ok(js_sys::JSON::stringify(v).map_err(|_| "not JSON-compatible".to_owned())?.into())
}

/// A plain JS value read as `T`, through JSON text (`JSON.stringify`).
pub(crate) fn from_js<T: serde::de::DeserializeOwned>(v: &JsValue) -> Result<T, String> {
    if v.is_undefined() {
        return serde_json::from_str("null").map_err(|e| e.to_string());
    }
    let text: String = js_sys::JSON::stringify(v).map_err(|_| "not JSON-compatible".to_owned())?.into();
    serde_json::from_str(&text).map_err(|e| e.to_string())
}
