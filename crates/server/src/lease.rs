//! Leases: which instance runs which rep's engine. One rep's engine runs on one instance at a
//! time.
//!
//! - Every instance heartbeats in `instances`; the live ones share the reps, each aiming at
//!   its fair share (`ceil(reps / live instances)`), so work moves to the survivors when one
//!   dies (its leases expire after [`LeaseConfig::ttl`]) and spreads again when one joins.
//! - A claim takes free or expired leases with `FOR UPDATE SKIP LOCKED` (instances never wait
//!   on each other) and bumps the lease generation: the fencing token every write of that
//!   rep's engine checks ([`crate::store`]). Times are the database's `now()`, never an
//!   instance's clock.
//! - A renewal only extends a lease still held with the same generation; a lease that could
//!   not be renewed is lost, and its engine stops.

use std::time::Duration;

use sqlx::{PgPool, Row};

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub ttl: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Held {
    pub account: String,
    pub rep: String,
    pub gen: i64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Records that `instance` is alive; returns how many instances are.
pub async fn heartbeat(pool: &PgPool, instance: &str, ttl: Duration) -> Result<i64, sqlx::Error> {
    sqlx::query("INSERT INTO instances (id, heartbeat_at) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()")
        .bind(instance)
        .execute(pool)
        .await?;
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM instances WHERE heartbeat_at > now() - make_interval(secs => $1 / 1000.0)")
        .bind(ms(ttl))
        .fetch_one(pool)
        .await?;
    Ok(live.max(1))
}

/// The fair share of reps for one of `live` instances.
pub async fn fair_share(pool: &PgPool, live: i64) -> Result<i64, sqlx::Error> {
    let reps: i64 = sqlx::query_scalar("SELECT count(*) FROM reps").fetch_one(pool).await?;
    Ok((reps + live - 1) / live.max(1))
}

/// Claims up to `n` reps whose lease is free or expired, those with waiting events first.
pub async fn claim(pool: &PgPool, instance: &str, n: i64, ttl: Duration) -> Result<Vec<Held>, sqlx::Error> {
    if n <= 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "WITH free AS (
             SELECT r.account_id, r.rep_id FROM reps r
              WHERE r.lease_until IS NULL OR r.lease_until < now()
              ORDER BY EXISTS (SELECT 1 FROM inbox i WHERE i.account_id = r.account_id AND i.rep_id = r.rep_id AND NOT i.done) DESC,
                       r.lease_until NULLS FIRST
              LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE reps SET lease_owner = $1, lease_gen = reps.lease_gen + 1, lease_until = now() + make_interval(secs => $3 / 1000.0)
           FROM free WHERE reps.account_id = free.account_id AND reps.rep_id = free.rep_id
         RETURNING reps.account_id, reps.rep_id, reps.lease_gen",
    )
    .bind(instance)
    .bind(n)
    .bind(ms(ttl))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(Held { account: r.try_get(0)?, rep: r.try_get(1)?, gen: r.try_get(2)? })).collect()
}

/// Extends the leases in `held` that are still ours; returns those that are (the rest are lost).
pub async fn renew(pool: &PgPool, instance: &str, held: &[Held], ttl: Duration) -> Result<Vec<Held>, sqlx::Error> {
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let accounts: Vec<&str> = held.iter().map(|h| h.account.as_str()).collect();
    let reps: Vec<&str> = held.iter().map(|h| h.rep.as_str()).collect();
    let gens: Vec<i64> = held.iter().map(|h| h.gen).collect();
    let rows = sqlx::query(
        "UPDATE reps SET lease_until = now() + make_interval(secs => $5 / 1000.0)
           FROM unnest($2::text[], $3::text[], $4::bigint[]) AS h(account_id, rep_id, gen)
          WHERE reps.account_id = h.account_id AND reps.rep_id = h.rep_id AND reps.lease_gen = h.gen
            AND reps.lease_owner = $1 AND reps.lease_until > now()
          RETURNING reps.account_id, reps.rep_id, reps.lease_gen",
    )
    .bind(instance)
    .bind(&accounts)
    .bind(&reps)
    .bind(&gens)
    .bind(ms(ttl))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(Held { account: r.try_get(0)?, rep: r.try_get(1)?, gen: r.try_get(2)? })).collect()
}

/// Gives a lease back at once (shutdown, rebalancing).
pub async fn release(pool: &PgPool, instance: &str, h: &Held) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reps SET lease_owner = NULL, lease_until = NULL WHERE account_id = $1 AND rep_id = $2 AND lease_gen = $3 AND lease_owner = $4")
        .bind(&h.account)
        .bind(&h.rep)
        .bind(h.gen)
        .bind(instance)
        .execute(pool)
        .await?;
    Ok(())
}

/// The account-level keeper lease (subscription and call-log sync): claims or renews it for
/// `instance`; the generation when held.
pub async fn keep_account(pool: &PgPool, instance: &str, account: &str, ttl: Duration) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE accounts SET keeper_gen = CASE WHEN keeper_owner = $1 AND keeper_until > now() THEN keeper_gen ELSE keeper_gen + 1 END,
                             keeper_owner = $1, keeper_until = now() + make_interval(secs => $3 / 1000.0)
          WHERE id = $2 AND (keeper_owner = $1 OR keeper_until IS NULL OR keeper_until < now())
          RETURNING keeper_gen",
    )
    .bind(instance)
    .bind(account)
    .bind(ms(ttl))
    .fetch_optional(pool)
    .await?;
    row.map(|r| r.try_get(0)).transpose()
}
