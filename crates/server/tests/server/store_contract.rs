//! The PostgreSQL store against the same contract cases MemStore passes
//! (`calltrail_core::store::contract`), both ways it is written: by an engine holding the rep's
//! lease (fenced by its generation) and by the admin API (no lease).

use std::time::Duration;

use calltrail_core::store::contract::{cases, run, AsyncStore};
use calltrail_core::store::{Batch, Record, RestoreQuery, Snapshot, StoreName};
use calltrail_server::lease;
use calltrail_server::seal::Sealer;
use calltrail_server::store::{PgStore, RepRef};

use crate::support::{fresh_db, SEAL};

#[tokio::test]
async fn the_postgres_store_passes_the_store_contract() {
    let url = fresh_db("contract").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    calltrail_server::db::migrate(&pool).await.unwrap();
    sqlx::query("INSERT INTO accounts (id) VALUES ('a')").execute(&pool).await.unwrap();
    let store = PgStore { pool: pool.clone(), sealer: Sealer::from_text(SEAL).unwrap(), instance: "t".into() };
    for (i, case) in cases().iter().enumerate() {
        for leased in [true, false] {
            let rep = format!("r{i}-{}", if leased { "leased" } else { "admin" });
            sqlx::query("INSERT INTO reps (account_id, rep_id, telephony_user) VALUES ('a', $1, $1)").bind(&rep).execute(&pool).await.unwrap();
            // Claims every free rep, this case's among them (an admin write ignores leases).
            let gen = if leased {
                let held = lease::claim(&pool, "t", 1000, Duration::from_secs(600)).await.unwrap();
                Some(held.iter().find(|h| h.rep == rep).expect("this case's rep was free").gen)
            } else {
                None
            };
            let mut rep = Leased { store: &store, who: RepRef { account: "a".into(), rep }, gen };
            if let Err(e) = run(case, &mut rep).await {
                panic!("{e} ({})", if leased { "leased" } else { "admin" });
            }
        }
    }
    // Secrets are sealed at rest: the token is not in the table's text.
    let raw: Vec<String> = sqlx::query_scalar("SELECT value FROM records WHERE store = 'secrets'").fetch_all(&pool).await.unwrap();
    assert!(!raw.is_empty() && raw.iter().all(|v| !v.contains("\"v\"")), "{raw:?}");
}

/// The store as one rep's engine sees it: written under `gen` (the lease) or, with none, as the
/// admin API writes.
struct Leased<'a> {
    store: &'a PgStore,
    who: RepRef,
    gen: Option<i64>,
}

impl AsyncStore for Leased<'_> {
    async fn apply(&mut self, batch: &Batch) -> Result<(), String> {
        self.store.apply(&self.who, self.gen, batch).await.map_err(|e| e.to_string())
    }
    async fn get(&self, store: StoreName, key: &str) -> Result<Option<Record>, String> {
        self.store.get(&self.who, store, key).await.map_err(|e| e.to_string())
    }
    async fn prefix(&self, store: StoreName, prefix: &str) -> Result<Vec<Record>, String> {
        self.store.prefix(&self.who, store, prefix).await.map_err(|e| e.to_string())
    }
    async fn restore(&self, query: &RestoreQuery) -> Result<Snapshot, String> {
        self.store.restore(&self.who, query).await.map_err(|e| e.to_string())
    }
}

/// Retention prunes a call's kept refusals with the call (the rep's engine never reads them, so
/// nothing else would), and leaves another call's.
#[tokio::test]
async fn a_pruned_call_takes_its_refusals_with_it() {
    use calltrail_core::store::{Durability, Write};
    use calltrail_server::refusals::{record_refusal, Refused};
    let url = fresh_db("prune_refusals").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    calltrail_server::db::migrate(&pool).await.unwrap();
    sqlx::query("INSERT INTO accounts (id) VALUES ('a')").execute(&pool).await.unwrap();
    sqlx::query("INSERT INTO reps (account_id, rep_id, telephony_user) VALUES ('a', 'r', 'r')").execute(&pool).await.unwrap();
    let store = PgStore { pool: pool.clone(), sealer: Sealer::from_text(SEAL).unwrap(), instance: "t".into() };
    let who = RepRef { account: "a".into(), rep: "r".into() };
    let call = |key: &str, at: i64| Write::Put { store: StoreName::Calls, record: Record::encode(key, false, at, &serde_json::json!({})) };
    let batch = |writes| Batch { writes, durability: Durability::Strict };
    store.apply(&who, None, &batch(vec![call("old", 50), call("new", 500)])).await.unwrap();
    let refused = Refused { at: 60, what: "manual_log".into(), reason: "already logged".into(), words: "Your manual log was refused: already logged".into() };
    for key in ["old|hs", "new|hs"] {
        record_refusal(&pool, &who, key, &refused).await.unwrap();
    }
    store.apply(&who, None, &batch(vec![Write::Prune { store: StoreName::Calls, before: 100, limit: 10 }])).await.unwrap();
    let left: Vec<String> = sqlx::query_scalar("SELECT key FROM records WHERE store = 'refusals' ORDER BY key").fetch_all(&pool).await.unwrap();
    assert_eq!(left, ["new|hs"]);
    assert!(store.get(&who, StoreName::Calls, "old").await.unwrap().is_none());
}
