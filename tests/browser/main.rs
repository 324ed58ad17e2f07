//! Browser tests: the real IndexedDB store code ([`calltrail::wasm::idb`]) under
//! wasm-bindgen-test, inside a service worker in headless Chromium, the scope the extension
//! runs in. Run with `cargo test --target wasm32-unknown-unknown --test browser`
//! (`CHROMEDRIVER=/usr/bin/chromedriver`; the runner comes with wasm-bindgen-cli).
#![cfg(target_arch = "wasm32")]

use calltrail_core::store::contract::{self, AsyncStore};
use calltrail_core::store::{Batch, Durability, Record, RestoreQuery, Snapshot, StoreName, Write};
use calltrail::wasm::idb::Db;
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

fn rec(key: &str, open: u8, at: i64) -> Record {
    Record::encode(key, open == 1, at, &json!({ "key": key, "nested": { "n": at, "tags": ["a", "b"] } }))
}

fn put(store: StoreName, r: Record) -> Write {
    Write::Put { store, record: r }
}

/// Each test uses its own database so tests cannot see each other's records.
async fn fresh(name: &str) -> Db {
    Db::open(&format!("calltrail-test-{name}")).await.expect("open")
}

#[wasm_bindgen_test]
async fn put_get_roundtrip_keeps_nested_values() {
    let db = fresh("roundtrip").await;
    let r = rec("call-1", 1, 1_700_000_000_000);
    db.apply(&Batch { writes: vec![put(StoreName::Calls, r.clone())], durability: Durability::Strict }).await.unwrap();
    assert_eq!(db.get(StoreName::Calls, "call-1").await.unwrap(), Some(r));
    assert_eq!(db.get(StoreName::Calls, "nope").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn restore_reads_open_work_and_recent_history_only() {
    let db = fresh("restore").await;
    let mut writes = Vec::new();
    for i in 0..50 {
        // Old, closed history: must not come back.
        writes.push(put(StoreName::Slots, rec(&format!("done-{i:02}"), 0, i)));
        writes.push(put(StoreName::Calls, rec(&format!("old-{i:02}"), 0, i)));
    }
    writes.push(put(StoreName::Slots, rec("open-old", 1, 5)));
    writes.push(put(StoreName::Calls, rec("recent", 0, 10_000)));
    writes.push(put(StoreName::Calls, rec("open-and-recent", 1, 10_001)));
    writes.push(put(StoreName::Meta, rec("digest", 0, 0)));
    db.apply(&Batch { writes, durability: Durability::Strict }).await.unwrap();

    let snap = db.restore(&RestoreQuery { since: 9_000, recent_stores: vec![StoreName::Calls] }).await.unwrap();
    let keys = |s| {
        let mut k: Vec<String> = snap.records(s).iter().map(|r| r.key.clone()).collect();
        k.sort();
        k
    };
    assert_eq!(keys(StoreName::Slots), ["open-old"]);
    // "open-and-recent" matches both indexes and must appear once.
    assert_eq!(keys(StoreName::Calls), ["open-and-recent", "recent"]);
    assert_eq!(keys(StoreName::Meta), ["digest"]);
    assert_eq!(db.count(StoreName::Slots).await.unwrap(), 51);
}

#[wasm_bindgen_test]
async fn records_survive_closing_and_reopening() {
    let name = "reopen";
    let db = fresh(name).await;
    db.apply(&Batch { writes: vec![put(StoreName::Slots, rec("s", 1, 1))], durability: Durability::Strict })
        .await
        .unwrap();
    db.close();
    let again = fresh(name).await;
    assert_eq!(again.get(StoreName::Slots, "s").await.unwrap().map(|r| r.open), Some(1));
}

#[wasm_bindgen_test]
async fn a_batch_updates_and_deletes_in_one_transaction() {
    let db = fresh("batch").await;
    db.apply(&Batch {
        writes: vec![put(StoreName::Slots, rec("a", 1, 1)), put(StoreName::Slots, rec("b", 1, 1))],
        durability: Durability::Relaxed,
    })
    .await
    .unwrap();
    db.apply(&Batch {
        writes: vec![
            put(StoreName::Slots, rec("a", 0, 2)),
            Write::Delete { store: StoreName::Slots, key: "b".into() },
            put(StoreName::Audit, rec("0001", 0, 2)),
        ],
        durability: Durability::Strict,
    })
    .await
    .unwrap();
    assert_eq!(db.get(StoreName::Slots, "a").await.unwrap().map(|r| (r.open, r.at)), Some((0, 2)));
    assert_eq!(db.get(StoreName::Slots, "b").await.unwrap(), None);
    let snap = db.restore(&RestoreQuery { since: 0, recent_stores: vec![] }).await.unwrap();
    assert!(snap.records(StoreName::Slots).is_empty(), "closed slot must not be restored");
}

#[wasm_bindgen_test]
async fn a_strict_batch_is_visible_to_another_connection_when_apply_returns() {
    // `apply` resolves on the transaction's `complete`, so a second connection (as a new worker
    // instance would open) must already see every write of the batch.
    let writer = fresh("visible").await;
    let reader = fresh("visible").await;
    let writes = (0..20).map(|i| put(StoreName::Slots, rec(&format!("s{i:02}"), 1, i))).collect();
    writer.apply(&Batch { writes, durability: Durability::Strict }).await.unwrap();
    assert_eq!(reader.count(StoreName::Slots).await.unwrap(), 20);
    let snap = reader.restore(&RestoreQuery { since: 0, recent_stores: vec![] }).await.unwrap();
    assert_eq!(snap.records(StoreName::Slots).len(), 20);
}

#[wasm_bindgen_test]
async fn a_version_1_database_migrates_to_the_current_schema_keeping_its_records() {
    let name = "calltrail-test-migrate";
    let v1 = Db::open_version(name, 1).await.expect("open v1");
    v1.apply(&Batch { writes: vec![put(StoreName::Slots, rec("old-slot", 1, 7))], durability: Durability::Strict })
        .await
        .unwrap();
    v1.close();
    let current = Db::open(name).await.expect("migrate");
    assert_eq!(current.get(StoreName::Slots, "old-slot").await.unwrap().map(|r| r.at), Some(7));
    // The store version 2 added is there and usable.
    current
        .apply(&Batch { writes: vec![put(StoreName::Secrets, rec("hs", 0, 1))], durability: Durability::Strict })
        .await
        .unwrap();
    assert_eq!(current.count(StoreName::Secrets).await.unwrap(), 1);
    // A restore never reads secrets.
    let snap = current.restore(&RestoreQuery { since: 0, recent_stores: vec![StoreName::Slots] }).await.unwrap();
    assert!(snap.records(StoreName::Secrets).is_empty());
}

#[wasm_bindgen_test]
async fn a_database_from_a_newer_build_is_refused_clearly() {
    let name = "calltrail-test-too-new";
    let newer = Db::open_version(name, 99).await.expect("open v99");
    newer.close();
    match Db::open(name).await {
        Err(calltrail::wasm::idb::StoreError::TooNew { .. }) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer database must not be opened"),
    }
}

/// The IndexedDB store seen by the shared contract's runner.
struct Contract(Db);

impl AsyncStore for Contract {
    async fn apply(&mut self, batch: &Batch) -> Result<(), String> {
        self.0.apply(batch).await.map_err(|e| e.to_string())
    }
    async fn get(&self, store: StoreName, key: &str) -> Result<Option<Record>, String> {
        self.0.get(store, key).await.map_err(|e| e.to_string())
    }
    async fn prefix(&self, store: StoreName, prefix: &str) -> Result<Vec<Record>, String> {
        self.0.prefix(store, prefix).await.map_err(|e| e.to_string())
    }
    async fn restore(&self, query: &RestoreQuery) -> Result<Snapshot, String> {
        self.0.restore(query).await.map_err(|e| e.to_string())
    }
}

/// Every case of the store contract MemStore and PostgreSQL pass, each on a database of its
/// own; all failures are named, not only the first.
#[wasm_bindgen_test]
async fn the_indexeddb_store_passes_the_store_contract() {
    let cases = contract::cases();
    let mut failed = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut db = Contract(fresh(&format!("contract-{i}")).await);
        if let Err(e) = contract::run(case, &mut db).await {
            failed.push(e);
        }
        db.0.close();
    }
    assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), cases.len(), failed.join("\n"));
}
