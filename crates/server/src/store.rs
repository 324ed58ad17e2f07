//! The store contract ([`calltrail_core::store`]) over PostgreSQL, one rep's records at a time.
//!
//! - Records are keyed (account, rep, store, key); `open` and `at` are indexed so a restore
//!   reads open work and recent history only.
//! - A [`Batch`] is one statement, hence one transaction and one round trip (an engine writes
//!   three or four batches per call, so statements per batch were most of the database's work).
//!   [`Durability::Relaxed`] sets `synchronous_commit = off` for that transaction; strict
//!   batches wait for the WAL flush (the default).
//! - Fencing: every write first checks, and share-locks, the rep's lease row with the
//!   generation the writer holds. A writer whose lease expired or was taken (a paused instance
//!   waking up) gets [`StoreError::Fenced`] and nothing is written; a new owner's claim (`SKIP
//!   LOCKED`) passes the row by while a writer already past the check holds its share lock, so
//!   it restores only after that write.
//! - Secrets (store `secrets`) are sealed at rest, bound to account, rep and key.

use std::collections::HashMap;

use calltrail_core::store::{Batch, Durability, Record, RestoreQuery, Snapshot, StoreName, Write};
use sqlx::{PgPool, Row};

use crate::seal::Sealer;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the lease on this rep is no longer ours (generation {0})")]
    Fenced(i64),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("a secret could not be sealed or opened: {0}")]
    Seal(#[from] crate::seal::SealError),
    #[error("no such rep")]
    UnknownRep,
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

/// A batch reduced to what it leaves behind: the last write to each (store, key), as rows for
/// one statement. Writes to different keys do not interact, so applying the last write per key
/// at once leaves what applying every write in order would.
#[derive(Default)]
struct Net {
    put_store: Vec<&'static str>,
    put_key: Vec<String>,
    put_open: Vec<i16>,
    put_at: Vec<i64>,
    put_value: Vec<String>,
    del_store: Vec<&'static str>,
    del_key: Vec<String>,
}

impl Net {
    fn of(store: &PgStore, who: &RepRef, batch: &Batch) -> Result<Net, StoreError> {
        let mut last: HashMap<(StoreName, &str), &Write> = HashMap::new();
        let mut order = Vec::new();
        for w in &batch.writes {
            let k = match w {
                Write::Put { store, record } => (*store, record.key.as_str()),
                Write::Delete { store, key } => (*store, key.as_str()),
                // Applied after the net writes (`PgStore::apply`).
                Write::Prune { .. } => continue,
            };
            if last.insert(k, w).is_none() {
                order.push(k);
            }
        }
        let mut net = Net::default();
        for k in order {
            match last[&k] {
                Write::Put { store: s, record } => {
                    let value = if *s == StoreName::Secrets { store.sealer.seal(&who.secret_owner(&record.key), record.value.as_bytes())? } else { record.value.clone() };
                    net.put_store.push(s.as_str());
                    net.put_key.push(record.key.clone());
                    net.put_open.push(i16::from(record.open));
                    net.put_at.push(record.at);
                    net.put_value.push(value);
                }
                Write::Delete { store: s, key } => {
                    net.del_store.push(s.as_str());
                    net.del_key.push(key.clone());
                }
                Write::Prune { .. } => {}
            }
        }
        Ok(net)
    }
}

impl PgStore {
    /// Applies `batch` atomically for `who`, fenced by lease generation `gen` (None: an admin
    /// write, which holds no lease; the rep must still exist).
    ///
    /// One statement, so one round trip and one transaction: the fence (the lease row, checked
    /// and share-locked), the durability (`synchronous_commit` for this transaction only), the
    /// deletes and the upserts. The writes run only when the fence holds; it returns no row when
    /// it does not, and nothing is written.
    ///
    /// A batch with retention prunes (a scheduled digest run's, [`Write::Prune`]) is one
    /// transaction instead: that statement, then each prune in order. A prune thus also sees the
    /// batch's own puts, which only prunes sooner what is closed and past retention anyway.
    pub async fn apply(&self, who: &RepRef, gen: Option<i64>, batch: &Batch) -> Result<(), StoreError> {
        let net = Net::of(self, who, batch)?;
        let prunes: Vec<(StoreName, i64, u32)> = batch
            .writes
            .iter()
            .filter_map(|w| match w {
                Write::Prune { store, before, limit } => Some((*store, *before, *limit)),
                _ => None,
            })
            .collect();
        let sync = if batch.durability == Durability::Relaxed { "off" } else { "on" };
        let query = sqlx::query_scalar(
            "WITH fence AS (
                 SELECT set_config('synchronous_commit', $5, true) FROM reps
                  WHERE account_id = $1 AND rep_id = $2
                    AND ($3::bigint IS NULL OR (lease_gen = $3 AND lease_owner = $4 AND lease_until > now()))
                  FOR SHARE
             ), gone AS (
                 DELETE FROM records r USING unnest($11::text[], $12::text[]) AS d(store, key)
                  WHERE r.account_id = $1 AND r.rep_id = $2 AND r.store = d.store AND r.key = d.key AND EXISTS (SELECT 1 FROM fence)
             ), put AS (
                 INSERT INTO records (account_id, rep_id, store, key, open, at, value)
                 SELECT $1, $2, w.store, w.key, w.open, w.at, w.value
                   FROM unnest($6::text[], $7::text[], $8::smallint[], $9::bigint[], $10::text[]) AS w(store, key, open, at, value)
                  WHERE EXISTS (SELECT 1 FROM fence)
                 ON CONFLICT (account_id, rep_id, store, key) DO UPDATE SET open = EXCLUDED.open, at = EXCLUDED.at, value = EXCLUDED.value
             )
             SELECT 1 FROM fence",
        )
        .bind(&who.account)
        .bind(&who.rep)
        .bind(gen)
        .bind(&self.instance)
        .bind(sync)
        .bind(&net.put_store)
        .bind(&net.put_key)
        .bind(&net.put_open)
        .bind(&net.put_at)
        .bind(&net.put_value)
        .bind(&net.del_store)
        .bind(&net.del_key);
        let held: Option<i32> = if prunes.is_empty() {
            query.fetch_optional(&self.pool).await?
        } else {
            let mut tx = self.pool.begin().await?;
            let held = query.fetch_optional(&mut *tx).await?;
            if held.is_some() {
                for (store, before, limit) in prunes {
                    // The oldest closed records first; a pruned call takes its slots with it, and the
                    // refusals kept for it (`crate::rep`, keyed `<call>|<integration>`).
                    sqlx::query(
                        "WITH old AS (SELECT key FROM records WHERE account_id = $1 AND rep_id = $2 AND store = $3 AND open = 0 AND at < $4
                                      ORDER BY at, key LIMIT $5),
                              gone AS (DELETE FROM records r USING old WHERE r.account_id = $1 AND r.rep_id = $2 AND r.store = $3
                                       AND r.key = old.key RETURNING r.key)
                         DELETE FROM records s USING gone WHERE $3 = 'calls' AND s.account_id = $1 AND s.rep_id = $2
                           AND ((s.store = 'slots' AND starts_with(s.key, 'call|' || gone.key || '|'))
                             OR (s.store = 'refusals' AND starts_with(s.key, gone.key || '|')))",
                    )
                    .bind(&who.account)
                    .bind(&who.rep)
                    .bind(store.as_str())
                    .bind(before)
                    .bind(i64::from(limit))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
            held
        };
        match (held, gen) {
            (Some(_), _) => Ok(()),
            (None, Some(gen)) => Err(StoreError::Fenced(gen)),
            (None, None) => Err(StoreError::UnknownRep),
        }
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
