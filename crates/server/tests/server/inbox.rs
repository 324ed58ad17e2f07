//! The inbox's group commit: routing in the statement, repeats dropped within one commit and
//! across commits, nobody's events kept once, one NOTIFY per woken rep, and many concurrent
//! callers each answered once their event is committed.

use calltrail_server::inbox::{self, Event, Inbox, Row, To};
use sqlx::postgres::PgListener;

use crate::support::fresh_db;

fn event(body: &str, rows: Vec<(To, &str)>) -> Event {
    Event { account: "a".into(), body: body.into(), rows: rows.into_iter().map(|(to, delivery)| Row { to, source: "t", delivery: delivery.into(), session: Some("s".into()) }).collect() }
}

async fn rows(pool: &sqlx::PgPool) -> Vec<(Option<String>, String, bool)> {
    sqlx::query_as("SELECT rep_id, delivery, done FROM inbox ORDER BY id").fetch_all(pool).await.unwrap()
}

#[tokio::test]
async fn one_commit_routes_drops_repeats_and_notifies_each_rep_once() {
    let url = fresh_db("inbox").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    calltrail_server::db::migrate(&pool).await.unwrap();
    sqlx::query("INSERT INTO accounts (id) VALUES ('a')").execute(&pool).await.unwrap();
    for (rep, user) in [("bob", "101"), ("carol", "102")] {
        sqlx::query("INSERT INTO reps (account_id, rep_id, telephony_user) VALUES ('a', $1, $2)").bind(rep).bind(user).execute(&pool).await.unwrap();
    }
    let mut listener = PgListener::connect(&url).await.unwrap();
    listener.listen(inbox::CHANNEL).await.unwrap();

    let batch = [
        // Two parties who are reps: a row each.
        event("{1}", vec![(To::User("101".into()), "d1"), (To::User("102".into()), "d1")]),
        // The same delivery again in the same commit: dropped.
        event("{1}", vec![(To::User("101".into()), "d1")]),
        // A party who is nobody's beside one who is a rep: only the rep's row.
        event("{2}", vec![(To::User("999".into()), "d2"), (To::User("101".into()), "d2")]),
        // Nobody's at all: kept once, done.
        event("{3}", vec![(To::User("998".into()), "d3"), (To::User("999".into()), "d3")]),
        event("{4}", vec![(To::Nobody, "d4")]),
        // Addressed to a rep by id.
        event("{5}", vec![(To::Rep("carol".into()), "d5")]),
    ];
    inbox::commit(&pool, &batch.iter().collect::<Vec<_>>()).await.unwrap();
    let want = vec![
        (Some("bob".to_owned()), "d1".to_owned(), false),
        (Some("carol".to_owned()), "d1".to_owned(), false),
        (Some("bob".to_owned()), "d2".to_owned(), false),
        (None, "d3".to_owned(), true),
        (None, "d4".to_owned(), true),
        (Some("carol".to_owned()), "d5".to_owned(), false),
    ];
    assert_eq!(rows(&pool).await, want);
    let mut woken = vec![listener.recv().await.unwrap().payload().to_owned(), listener.recv().await.unwrap().payload().to_owned()];
    woken.sort();
    assert_eq!(woken, ["a/bob", "a/carol"], "one NOTIFY per rep with new rows");

    // A repeat in a later commit stores nothing and wakes nobody.
    inbox::commit(&pool, &[&batch[0], &batch[3]]).await.unwrap();
    assert_eq!(rows(&pool).await, want);
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), listener.recv()).await;
    assert!(quiet.is_err(), "a repeat wakes nobody: {quiet:?}");

    // Many concurrent callers through the writer: each answered once its event is stored.
    let writer = Inbox::start(pool.clone());
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let w = writer.clone();
            tokio::spawn(async move { w.store(event("{}", vec![(To::User(if i % 2 == 0 { "101" } else { "102" }.into()), &format!("c{i}"))])).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE delivery LIKE 'c%' AND NOT done").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 200);
}
