//! The store contract ([`calltrail_core::store`]) over PostgreSQL, one rep's records at a time.
//!
//! - Records are keyed (account, rep, store, key); `open` and `at` are indexed so a restore
//!   reads open work and recent history only.
//! - A [`Batch`] is one transaction. [`Durability::Relaxed`] sets `synchronous_commit = off`
//!   for that transaction; strict batches wait for the WAL flush (the default).
//! - Fencing: every write transaction first checks, and share-locks, the rep's lease row with
//!   the generation the writer holds. A writer whose lease expired or was taken (a paused
//!   instance waking up) gets [`StoreError::Fenced`] and nothing is written; a new owner's claim
//!   waits for a writer already past the check, so it restores only after that write.
//! - Secrets (store `secrets`) are sealed at rest, bound to account, rep and key.

use calltrail_core::store::{Batch, Durability, Record, RestoreQuery, Snapshot, StoreName, Write};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::seal::Sealer;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the lease on this rep is no longer ours (generation {0})")]
    Fenced(i64),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("a secret could not be sealed or opened: {0}")]
    Seal(#[from] crate::seal::SealError),
}

/// Who writes: a rep, and the lease generation the writer holds (None: an admin write, which
/// does not run the engine and takes no lease).
#[derive(Clone, Debug)]
pub struct RepRef {
    pub account: String,
    pub rep: String,
}

impl RepRef {
    pub fn secret_owner(&self, key: &str) -> String {
        format!("{}/{}/{}", self.account, self.rep, key)
    }
}

#[derive(Clone, Debug)]
pub struct PgStore {
    pub pool: PgPool,
    pub sealer: Sealer,
    /// The instance id written as lease owner.
    pub instance: String,
}

fn store_from(name: &str) -> Option<StoreName> {
    StoreName::ALL.into_iter().find(|s| s.as_str() == name)
}

impl PgStore {
    /// Checks and share-locks the lease inside `tx`.
    async fn fence(&self, tx: &mut Transaction<'_, Postgres>, who: &RepRef, gen: i64) -> Result<(), StoreError> {
        let ok = sqlx::query(
            "SELECT 1 FROM reps WHERE account_id = $1 AND rep_id = $2 AND lease_gen = $3 AND lease_owner = $4 AND lease_until > now() FOR SHARE",
        )
        .bind(&who.account)
        .bind(&who.rep)
        .bind(gen)
        .bind(&self.instance)
        .fetch_optional(&mut **tx)
        .await?;
        if ok.is_none() {
            return Err(StoreError::Fenced(gen));
        }
        Ok(())
    }

    /// Applies `batch` atomically for `who`, fenced by lease generation `gen`.
    pub async fn apply(&self, who: &RepRef, gen: Option<i64>, batch: &Batch) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if batch.durability == Durability::Relaxed {
            sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
        }
        if let Some(gen) = gen {
            self.fence(&mut tx, who, gen).await?;
        }
        for w in &batch.writes {
            match w {
                Write::Put { store, record } => {
                    let value = if *store == StoreName::Secrets { self.sealer.seal(&who.secret_owner(&record.key), record.value.as_bytes())? } else { record.value.clone() };
                    sqlx::query(
                        "INSERT INTO records (account_id, rep_id, store, key, open, at, value) VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (account_id, rep_id, store, key) DO UPDATE SET open = EXCLUDED.open, at = EXCLUDED.at, value = EXCLUDED.value",
                    )
                    .bind(&who.account)
                    .bind(&who.rep)
                    .bind(store.as_str())
                    .bind(&record.key)
                    .bind(i16::from(record.open))
                    .bind(record.at)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::Delete { store, key } => {
                    sqlx::query("DELETE FROM records WHERE account_id = $1 AND rep_id = $2 AND store = $3 AND key = $4")
                        .bind(&who.account)
                        .bind(&who.rep)
                        .bind(store.as_str())
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::Prune { store, before, limit } => {
                    // The oldest closed records first; a pruned call takes its slots with it.
                    sqlx::query(
                        "WITH old AS (SELECT key FROM records WHERE account_id = $1 AND rep_id = $2 AND store = $3 AND open = 0 AND at < $4
                                      ORDER BY at, key LIMIT $5),
                              gone AS (DELETE FROM records r USING old WHERE r.account_id = $1 AND r.rep_id = $2 AND r.store = $3
                                       AND r.key = old.key RETURNING r.key)
                         DELETE FROM records s USING gone WHERE $3 = 'calls' AND s.account_id = $1 AND s.rep_id = $2
                           AND s.store = 'slots' AND starts_with(s.key, 'call|' || gone.key || '|')",
                    )
                    .bind(&who.account)
                    .bind(&who.rep)
                    .bind(store.as_str())
                    .bind(before)
                    .bind(i64::from(*limit))
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    fn record(&self, who: &RepRef, store: StoreName, row: &sqlx::postgres::PgRow) -> Result<Record, StoreError> {
        let key: String = row.try_get("key")?;
        let raw: String = row.try_get("value")?;
        let value = if store == StoreName::Secrets { self.sealer.open_text(&who.secret_owner(&key), &raw)? } else { raw };
        let open: i16 = row.try_get("open")?;
        Ok(Record { key, open: u8::from(open != 0), at: row.try_get("at")?, value })
    }

    pub async fn get(&self, who: &RepRef, store: StoreName, key: &str) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query("SELECT key, open, at, value FROM records WHERE account_id = $1 AND rep_id = $2 AND store = $3 AND key = $4")
            .bind(&who.account)
            .bind(&who.rep)
            .bind(store.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.record(who, store, &r)).transpose()
    }

    /// Every record of `store` whose key starts with `prefix`, in key order (byte order: the
    /// column's collation is "C").
    pub async fn prefix(&self, who: &RepRef, store: StoreName, prefix: &str) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query(
            "SELECT key, open, at, value FROM records WHERE account_id = $1 AND rep_id = $2 AND store = $3 AND key >= $4 AND starts_with(key, $4) ORDER BY key",
        )
        .bind(&who.account)
        .bind(&who.rep)
        .bind(store.as_str())
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.record(who, store, r)).collect()
    }

    /// What a restore reads: open records, recent ones of the recent stores, meta and settings
    /// whole; never secrets.
    pub async fn restore(&self, who: &RepRef, q: &RestoreQuery) -> Result<Snapshot, StoreError> {
        let recent: Vec<&str> = q.recent_stores.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(
            "SELECT store, key, open, at, value FROM records WHERE account_id = $1 AND rep_id = $2 AND store <> 'secrets'
               AND (open = 1 OR store IN ('meta', 'settings') OR (store = ANY($3) AND at >= $4)) ORDER BY store, key",
        )
        .bind(&who.account)
        .bind(&who.rep)
        .bind(&recent)
        .bind(q.since)
        .fetch_all(&self.pool)
        .await?;
        let mut snap = Snapshot::default();
        for row in &rows {
            let name: String = row.try_get("store")?;
            let Some(store) = store_from(&name) else { continue };
            let rec = self.record(who, store, row)?;
            match snap.stores.last_mut() {
                Some((s, recs)) if *s == store => recs.push(rec),
                _ => snap.stores.push((store, vec![rec])),
            }
        }
        Ok(snap)
    }
}
