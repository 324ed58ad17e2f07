//! The inbox: every event the server receives (webhooks, call-log records, admin events) is
//! committed here before anyone is answered or anything is decided about it.
//!
//! Webhooks arrive concurrently and each one's answer waits for a durable commit. Committed one
//! by one, every event costs a transaction of four round trips and a WAL flush of its own, and
//! PostgreSQL serialises the commits of transactions that `NOTIFY`. So an instance has one
//! [`Inbox`] writer doing group commit: the events that arrive while a commit is in flight are
//! stored together by the next one (one multi-row `INSERT`, one commit, one flush), and each
//! caller is answered when the commit holding its rows is done. No event waits for a timer: a
//! lone event is committed at once.
//!
//! Routing happens in the same statement, so it sees the reps as they are at commit: a row
//! addressed to a telephony user goes to the rep mapped to that user; an event none of whose
//! users is anybody's is kept once, done (never processed). A repeat (same account, source,
//! delivery id and rep) is dropped by a unique index. One `NOTIFY` per rep that got a new row
//! wakes the instance running that rep's engine.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The channel the inbox `NOTIFY`s on, with `<account>/<rep>` as payload.
pub const CHANNEL: &str = "calltrail_inbox";
/// Most events in one commit.
pub const MAX_BATCH: usize = 256;
/// Commits in flight at once; events arriving meanwhile wait for the next one.
pub const IN_FLIGHT: usize = 1;
/// Events waiting for a commit before callers are pushed back (the channel's capacity).
const QUEUE: usize = 4096;

/// Whose inbox a row goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum To {
    /// A rep, by id (admin events, call-log records already routed).
    Rep(String),
    /// The rep mapped to this telephony user when the row is committed, if any.
    User(String),
    /// Nobody's (an outside party's state): kept, done, never processed.
    Nobody,
}

/// One inbox row of an event.
#[derive(Clone, Debug)]
pub struct Row {
    pub to: To,
    pub source: &'static str,
    /// The delivery id repeats are recognised by.
    pub delivery: String,
    /// The telephony session the event is about, when it says.
    pub session: Option<String>,
}

/// One event: its body and the rows it is filed under (at least one).
#[derive(Clone, Debug)]
pub struct Event {
    pub account: String,
    pub body: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("database: {0}")]
    Db(Arc<sqlx::Error>),
    #[error("the inbox writer has stopped")]
    Stopped,
}

impl From<sqlx::Error> for InboxError {
    fn from(e: sqlx::Error) -> Self {
        InboxError::Db(Arc::new(e))
    }
}

struct Job {
    event: Event,
    answer: oneshot::Sender<Result<(), InboxError>>,
}

/// The instance's inbox writer (cheap to clone).
#[derive(Clone)]
pub struct Inbox {
    jobs: mpsc::Sender<Job>,
}

impl Inbox {
    /// Starts the writer on the current runtime.
    pub fn start(pool: PgPool) -> Inbox {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(pool, rx));
        Inbox { jobs }
    }

    /// Stores `event`; returns once it is committed (or was a repeat of a committed one).
    pub async fn store(&self, event: Event) -> Result<(), InboxError> {
        let (answer, answered) = oneshot::channel();
        self.jobs.send(Job { event, answer }).await.map_err(|_| InboxError::Stopped)?;
        answered.await.map_err(|_| InboxError::Stopped)?
    }
}

async fn writer(pool: PgPool, mut rx: mpsc::Receiver<Job>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // Taken before the next event, so what arrives during a commit waits for the next one.
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let Some(first) = rx.recv().await else { return };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let events: Vec<&Event> = jobs.iter().map(|j| &j.event).collect();
            match commit(&pool, &events).await {
                Ok(()) => jobs.into_iter().for_each(|j| drop(j.answer.send(Ok(())))),
                // One event the database refuses must not fail the others: each alone.
                Err(_) if jobs.len() > 1 => {
                    for j in jobs {
                        let r = commit(&pool, &[&j.event]).await;
                        let _ = j.answer.send(r);
                    }
                }
                Err(e) => jobs.into_iter().for_each(|j| drop(j.answer.send(Err(e.clone())))),
            }
            drop(permit);
        });
    }
}

impl Clone for InboxError {
    fn clone(&self) -> Self {
        match self {
            InboxError::Db(e) => InboxError::Db(e.clone()),
            InboxError::Stopped => InboxError::Stopped,
        }
    }
}

/// Commits `events` in one statement (one transaction), routing and notifying as it goes.
pub async fn commit(pool: &PgPool, events: &[&Event]) -> Result<(), InboxError> {
    let n: usize = events.iter().map(|e| e.rows.len()).sum();
    let (mut ev, mut account, mut rep, mut user) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut source, mut delivery, mut session, mut body) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (i, e) in events.iter().enumerate() {
        for r in &e.rows {
            ev.push(i as i32);
            account.push(e.account.as_str());
            let (to_rep, to_user) = match &r.to {
                To::Rep(rep) => (Some(rep.as_str()), None),
                To::User(u) => (None, Some(u.as_str())),
                To::Nobody => (None, None),
            };
            rep.push(to_rep);
            user.push(to_user);
            source.push(r.source);
            delivery.push(r.delivery.as_str());
            session.push(r.session.as_deref());
            body.push(e.body.as_str());
        }
    }
    sqlx::query(
        "WITH input AS (
             SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                 AS t(ev, account_id, rep_id, telephony_user, source, delivery, session, body)
         ), routed AS (
             SELECT i.ev, i.account_id, coalesce(i.rep_id, r.rep_id) AS rep_id, i.source, i.delivery, i.session, i.body
               FROM input i LEFT JOIN reps r
                 ON i.rep_id IS NULL AND r.account_id = i.account_id AND r.telephony_user = i.telephony_user
         ), kept AS (
             SELECT DISTINCT ON (ev, rep_id) * FROM routed k
              WHERE rep_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM routed o WHERE o.ev = k.ev AND o.rep_id IS NOT NULL)
              ORDER BY ev, rep_id
         ), stored AS (
             INSERT INTO inbox (account_id, rep_id, source, delivery, session, body, done)
             SELECT account_id, rep_id, source, delivery, session, body, rep_id IS NULL FROM kept ORDER BY ev
             ON CONFLICT (account_id, source, delivery, coalesce(rep_id, '')) DO NOTHING
             RETURNING account_id, rep_id, done
         )
         SELECT pg_notify($9, account_id || '/' || rep_id) FROM (SELECT DISTINCT account_id, rep_id FROM stored WHERE NOT done) woken",
    )
    .bind(&ev)
    .bind(&account)
    .bind(&rep)
    .bind(&user)
    .bind(&source)
    .bind(&delivery)
    .bind(&session)
    .bind(&body)
    .bind(CHANNEL)
    .execute(pool)
    .await?;
    Ok(())
}
