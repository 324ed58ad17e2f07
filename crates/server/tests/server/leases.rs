//! Leases: expiry, fencing and takeover, on a real PostgreSQL.

use std::time::Duration;

use calltrail_core::store::contract::rec;
use calltrail_core::store::{Batch, Durability, StoreName, Write};
use calltrail_server::lease;
use calltrail_server::seal::Sealer;
use calltrail_server::store::{PgStore, RepRef, StoreError};

use crate::support::{fresh_db, SEAL};

fn put(key: &str) -> Batch {
    Batch { writes: vec![Write::Put { store: StoreName::Calls, record: rec(key, false, 1, key) }], durability: Durability::Strict }
}

#[tokio::test]
async fn leases_expire_fence_and_move_to_another_instance() {
    let url = fresh_db("lease").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    calltrail_server::db::migrate(&pool).await.unwrap();
    sqlx::query("INSERT INTO accounts (id) VALUES ('a')").execute(&pool).await.unwrap();
    sqlx::query("INSERT INTO reps (account_id, rep_id, telephony_user) VALUES ('a', 'bob', '101')").execute(&pool).await.unwrap();
    let sealer = Sealer::from_text(SEAL).unwrap();
    let a = PgStore { pool: pool.clone(), sealer: sealer.clone(), instance: "A".into() };
    let b = PgStore { pool: pool.clone(), sealer, instance: "B".into() };
    let who = RepRef { account: "a".into(), rep: "bob".into() };
    let ttl = Duration::from_millis(1500);

    // A claims; B finds nothing free while A's lease lives.
    let held_a = lease::claim(&pool, "A", 5, ttl).await.unwrap();
    assert_eq!(held_a.len(), 1);
    let gen_a = held_a[0].gen;
    assert!(lease::claim(&pool, "B", 5, ttl).await.unwrap().is_empty(), "one rep's engine on one instance at a time");
    a.apply(&who, Some(gen_a), &put("by-a")).await.unwrap();
    // An admin write (no lease) needs the rep to exist; nothing is written otherwise.
    let nobody = RepRef { account: "a".into(), rep: "nobody".into() };
    assert!(matches!(a.apply(&nobody, None, &put("x")).await, Err(StoreError::UnknownRep)));
    // B, which holds no lease, cannot write even with A's generation.
    assert!(matches!(b.apply(&who, Some(gen_a), &put("by-b")).await, Err(StoreError::Fenced(_))));
    // A renews and keeps it.
    assert_eq!(lease::renew(&pool, "A", &held_a, ttl).await.unwrap().len(), 1);

    // A pauses past the expiry: its writes are fenced even before anyone else claims.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert!(matches!(a.apply(&who, Some(gen_a), &put("late-a")).await, Err(StoreError::Fenced(_))));
    // B takes over with a higher generation; A's renewal finds the lease lost.
    let held_b = lease::claim(&pool, "B", 5, ttl).await.unwrap();
    assert_eq!(held_b.len(), 1);
    assert!(held_b[0].gen > gen_a);
    assert!(lease::renew(&pool, "A", &held_a, ttl).await.unwrap().is_empty(), "a lost lease is not renewed");
    b.apply(&who, Some(held_b[0].gen), &put("by-b")).await.unwrap();
    assert!(matches!(a.apply(&who, Some(gen_a), &put("stale-a")).await, Err(StoreError::Fenced(_))), "the paused instance cannot write");
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM records WHERE store = 'calls' ORDER BY key").fetch_all(&pool).await.unwrap();
    assert_eq!(keys, ["by-a", "by-b"]);

    // Released at once: claimable without waiting for the expiry.
    lease::release(&pool, "B", &held_b[0]).await.unwrap();
    let again = lease::claim(&pool, "A", 5, ttl).await.unwrap();
    assert_eq!(again.len(), 1);
    assert!(again[0].gen > held_b[0].gen);

    // Fair shares: 5 reps over 2 live instances is 3 each at most.
    for r in ["c", "d", "e", "f"] {
        sqlx::query("INSERT INTO reps (account_id, rep_id, telephony_user) VALUES ('a', $1, $1)").bind(r).execute(&pool).await.unwrap();
    }
    lease::heartbeat(&pool, "A", ttl).await.unwrap();
    let live = lease::heartbeat(&pool, "B", ttl).await.unwrap();
    assert_eq!(live, 2);
    assert_eq!(lease::fair_share(&pool, live).await.unwrap(), 3);
}
