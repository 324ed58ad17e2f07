//! The PostgreSQL store against the same contract cases MemStore passes
//! (`calltrail_core::store::contract`), both ways it is written: by an engine holding the rep's
//! lease (fenced by its generation) and by the admin API (no lease).

use std::time::Duration;

use calltrail_core::store::contract::{cases, expect_keys, expect_restore, Step};
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
            let who = RepRef { account: "a".into(), rep };
            for (n, step) in case.steps.iter().enumerate() {
                let at = |e: String| panic!("{} ({}, step {n}): {e}", case.name, if leased { "leased" } else { "admin" });
                match step {
                    Step::Apply(b) => store.apply(&who, gen, b).await.unwrap_or_else(|e| at(e.to_string())),
                    Step::Get { store: s, key, want } => {
                        let got = store.get(&who, *s, key).await.unwrap();
                        if &got != want {
                            at(format!("get {key}: got {got:?}, want {want:?}"));
                        }
                    }
                    Step::Prefix { store: s, prefix, want } => {
                        if let Err(e) = expect_keys(prefix, &store.prefix(&who, *s, prefix).await.unwrap(), want) {
                            at(e);
                        }
                    }
                    Step::Restore { query, want } => {
                        if let Err(e) = expect_restore(&store.restore(&who, query).await.unwrap(), want) {
                            at(e);
                        }
                    }
                }
            }
        }
    }
    // Secrets are sealed at rest: the token is not in the table's text.
    let raw: Vec<String> = sqlx::query_scalar("SELECT value FROM records WHERE store = 'secrets'").fetch_all(&pool).await.unwrap();
    assert!(!raw.is_empty() && raw.iter().all(|v| !v.contains("\"v\"")), "{raw:?}");
}
