//! The persistence contract between the engine and whatever keeps its records: IndexedDB in the
//! service worker (`src/wasm/idb.rs`, in the `calltrail` wasm shell), [`MemStore`] in native tests and
//! the simulator.
//!
//! The store is schema-agnostic: it keeps [`Record`] envelopes in named object stores and knows
//! only two indexed fields, `open` and `at`. The engine fills them so that a restore reads only
//! open work (`open == 1`) and recent history (`at >= since`), never the whole history; this is
//! what keeps restore cost flat as the history grows.
//!
//! Invariant: a [`Batch`] is applied atomically (all writes or none), and a batch with
//! [`Durability::Strict`] is on disk before the shell runs the next effect.

pub mod contract;
mod mem;

pub use mem::MemStore;

use serde::{Deserialize, Serialize};

/// The object stores. The names are the IndexedDB object store names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreName {
    /// One record per call, keyed by call id; `at` is when it ended (or started).
    Calls,
    /// One record per (call or conversation, integration) slot: the ledger; `open` while work remains.
    Slots,
    /// SMS and fax messages, keyed by message id; `at` is when it was sent.
    Messages,
    /// Cached CRM contacts and placeholders, keyed by integration and number.
    Contacts,
    /// The audit trail, keyed so that keys sort by time.
    Audit,
    /// Settings documents.
    Settings,
    /// Small engine bookkeeping: digest watermarks, integration health, counters.
    Meta,
    /// Credentials (API tokens, OAuth tokens), written and read only by the shell. Never part
    /// of a restore: the engine never sees a secret.
    Secrets,
}

impl StoreName {
    pub const ALL: [StoreName; 8] = [
        StoreName::Calls,
        StoreName::Slots,
        StoreName::Messages,
        StoreName::Contacts,
        StoreName::Audit,
        StoreName::Settings,
        StoreName::Meta,
        StoreName::Secrets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StoreName::Calls => "calls",
            StoreName::Slots => "slots",
            StoreName::Messages => "messages",
            StoreName::Contacts => "contacts",
            StoreName::Audit => "audit",
            StoreName::Settings => "settings",
            StoreName::Meta => "meta",
            StoreName::Secrets => "secrets",
        }
    }
}

/// How hard a batch must be on disk before the shell goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsynced before `complete` (IndexedDB `durability: "strict"`): every ledger transition.
    Strict,
    /// in the OS buffers before `complete`: caches and the audit trail.
    Relaxed,
}

/// What is kept in every object store: a key, the two indexed fields, and the engine's value
/// as JSON text.
///
/// The value is text, not a JSON tree: the engine writes a few records per input and reads
/// hundreds at a restore, and going straight between its types and text is several times
/// faster (and smaller in wasm) than building `serde_json::Value` trees in between.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: String,
    /// 1 while the record is open work (a slot not yet terminal), else 0. IndexedDB cannot index
    /// booleans, hence a number.
    pub open: u8,
    /// The record's time in epoch milliseconds (a call's end, a message's time, an entry's time).
    pub at: i64,
    /// The engine's value, serialised as JSON.
    pub value: String,
}

impl Record {
    /// A record holding `value` as JSON. Types made of strings, numbers, enums and maps with
    /// string keys always serialise; a failure would store `null`, which `decode` refuses.
    pub fn encode<T: Serialize + ?Sized>(key: impl Into<String>, open: bool, at: i64, value: &T) -> Record {
        Record {
            key: key.into(),
            open: u8::from(open),
            at,
            value: serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()),
        }
    }

    /// The value read back as `T`, or `None` when it is not one (a record from another version).
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(&self.value).ok()
    }

    /// The value as a JSON tree, for views and tests that look at a few fields.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.value).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Write {
    Put { store: StoreName, record: Record },
    Delete { store: StoreName, key: String },
    /// Retention: deletes up to `limit` closed records (`open == 0`) of `store` whose `at` is
    /// before `before`, oldest first. A pruned call takes its slots (`call|<id>|*` in `slots`)
    /// with it, so a slot is never pruned while its call is open (and shown).
    Prune { store: StoreName, before: i64, limit: u32 },
}

impl Write {
    /// The object stores the write touches.
    pub fn stores(&self) -> Vec<StoreName> {
        match self {
            Write::Put { store, .. } | Write::Delete { store, .. } => vec![*store],
            Write::Prune { store: StoreName::Calls, .. } => vec![StoreName::Calls, StoreName::Slots],
            Write::Prune { store, .. } => vec![*store],
        }
    }
}

/// Writes applied in one transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub writes: Vec<Write>,
    pub durability: Durability,
}

/// What a restore reads: every open record of every store, plus records of `recent_stores`
/// whose `at` is at or after `since`, plus the whole `meta` and `settings` stores (small).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreQuery {
    pub since: i64,
    pub recent_stores: Vec<StoreName>,
}

/// The answer to a [`RestoreQuery`], records grouped by store (a record appears once per store
/// even when it is both open and recent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub stores: Vec<(StoreName, Vec<Record>)>,
}

impl Snapshot {
    pub fn records(&self, store: StoreName) -> &[Record] {
        self.stores.iter().find(|(s, _)| *s == store).map(|(_, r)| r.as_slice()).unwrap_or(&[])
    }
}
