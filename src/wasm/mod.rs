//! The only module that touches JavaScript: the exports the service worker calls, and the
//! IndexedDB store ([`idb`]). It holds no business rule; it moves data between the browser and
//! the core.

pub mod host;
pub mod idb;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::model::Timestamp;
use crate::store::{Batch, Durability, Record, StoreName, Write};

/// The database the extension keeps everything in.
pub const DB_NAME: &str = "calltrail";

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

#[derive(Serialize, serde::Deserialize, Default)]
struct BootLog {
    boots: u64,
    first_boot_at: i64,
    last_boot_at: i64,
    last_instance: String,
}

/// Records one worker start in IndexedDB (strict durability) and returns the boot log: how many
/// worker instances have started, and when. A new instance sees the count the old one left.
#[wasm_bindgen(js_name = recordBoot)]
pub async fn record_boot(instance: String, now_ms: f64) -> Result<JsValue, JsValue> {
    let db = idb::Db::open(DB_NAME).await?;
    let now = Timestamp(now_ms as i64);
    let mut log: BootLog = match db.get(StoreName::Meta, "boot").await? {
        Some(r) => serde_json::from_value(r.value).unwrap_or_default(),
        None => BootLog { first_boot_at: now.0, ..BootLog::default() },
    };
    log.boots += 1;
    log.last_boot_at = now.0;
    log.last_instance = instance;
    let value = serde_json::to_value(&log).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let record = Record { key: "boot".into(), open: 0, at: now.0, value };
    db.apply(&Batch { writes: vec![Write::Put { store: StoreName::Meta, record }], durability: Durability::Strict })
        .await?;
    db.close();
    to_js(&log)
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| JsValue::from_str(&e.to_string()))
}
