//! Refusals the rep should see: the rep's engine on the server refuses a forwarded manual log,
//! pick or resolution with a notice; the worker keeps the latest per call and CRM (server-only
//! store `refusals` in `records`, which the engine never reads), and the rep's history, call view
//! and unresolved rows show it, and so does the admin's page on that rep's rows, in its own
//! words (`crate::rep` has the whole story).

use std::collections::HashMap;

use calltrail_core::engine::Notice;
use calltrail_core::model::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};

use crate::store::RepRef;

/// A refusal of the rep's request by the rep's engine on the server, as kept and shown.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Refused {
    pub at: i64,
    /// `manual_log`, `picks` or `resolution`.
    pub what: String,
    pub reason: String,
    /// What the rep reads: which request was refused, and why.
    pub words: String,
}

impl Refused {
    /// What the admin reads on the rep's row: whose request was refused, and why.
    pub fn admin_words(&self) -> String {
        let asked = match self.what.as_str() {
            "manual_log" => "the rep's manual log",
            "picks" => "the rep's contact pick",
            _ => "a choice for this slot",
        };
        format!("Refused {asked}: {}", self.reason)
    }
}

/// A kept refusal as a row carries it: the stored fields, and the admin's words beside the
/// rep's (the pages render one or the other, never word it themselves).
#[derive(Debug, Serialize)]
pub struct Shown<'a> {
    #[serde(flatten)]
    pub refused: &'a Refused,
    pub admin_words: String,
}

/// The refusal a notice reports, keyed `<call id>|<integration>`; `None` for other notices.
pub fn refusal_of(n: &Notice, now: Timestamp) -> Option<(String, Refused)> {
    let r = |what: &str, reason: &str| {
        let asked = match what {
            "manual_log" => "Your manual log was refused",
            "picks" => "Your picks were refused",
            _ => "Your choice was refused",
        };
        Refused { at: now.0, what: what.into(), reason: reason.into(), words: format!("{asked}: {reason}") }
    };
    match n {
        Notice::ManualRefused { call, integration, reason } => Some((format!("{call}|{integration}"), r("manual_log", reason))),
        Notice::PicksRefused { call, integration, reason } => Some((format!("{call}|{integration}"), r("picks", reason))),
        // A call slot's key is `call|<call>|<integration>`; other slots have no call to show on.
        Notice::ResolutionRefused { slot, reason } => slot.strip_prefix("call|").map(|k| (k.to_owned(), r("resolution", reason))),
        _ => None,
    }
}

/// Keeps the latest refusal per call and CRM (the worker calls this for every refusing notice).
/// Not fenced by the lease: a refusal an old owner saw is still true.
pub async fn record_refusal(pool: &PgPool, who: &RepRef, key: &str, r: &Refused) -> Result<(), sqlx::Error> {
    let value = serde_json::to_string(r).unwrap_or_default();
    sqlx::query(
        "INSERT INTO records (account_id, rep_id, store, key, open, at, value) VALUES ($1, $2, 'refusals', $3, 0, $4, $5)
         ON CONFLICT (account_id, rep_id, store, key) DO UPDATE SET at = excluded.at, value = excluded.value",
    )
    .bind(&who.account)
    .bind(&who.rep)
    .bind(key)
    .bind(r.at)
    .bind(value)
    .execute(pool)
    .await
    .map(|_| ())
}

/// The refusals kept for `calls`, by `<call id>|<integration>`.
pub async fn refusals_of(pool: &PgPool, who: &RepRef, calls: &[String]) -> Result<HashMap<String, Refused>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT key, value FROM records WHERE account_id = $1 AND rep_id = $2 AND store = 'refusals'
           AND split_part(key, '|', 1) = ANY($3)",
    )
    .bind(&who.account)
    .bind(&who.rep)
    .bind(calls)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.try_get::<String, _>("key").ok()?, serde_json::from_str(&r.try_get::<String, _>("value").ok()?).ok()?)))
        .collect())
}

/// The refusal to show on a slot: the one kept for its call and CRM.
pub fn refusal_for<'a>(refusals: &'a HashMap<String, Refused>, call: &str, integration: &str) -> Option<Shown<'a>> {
    refusals.get(&format!("{call}|{integration}")).map(|refused| Shown { refused, admin_words: refused.admin_words() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_reads_why_and_whose_request() {
        let r = |what: &str| Refused { at: 1, what: what.into(), reason: "already logged".into(), words: String::new() };
        assert_eq!(r("manual_log").admin_words(), "Refused the rep's manual log: already logged");
        assert_eq!(r("picks").admin_words(), "Refused the rep's contact pick: already logged");
        assert_eq!(r("resolution").admin_words(), "Refused a choice for this slot: already logged");
        let kept = HashMap::from([("c-1|hs".to_owned(), r("picks"))]);
        let shown = serde_json::to_value(refusal_for(&kept, "c-1", "hs")).unwrap();
        assert_eq!((shown["what"].as_str(), shown["at"].as_i64()), (Some("picks"), Some(1)), "{shown}");
        assert!(shown["admin_words"].as_str().is_some_and(|w| w.starts_with("Refused the rep's contact pick: ")), "{shown}");
        assert!(refusal_for(&kept, "c-1", "sf").is_none());
    }
}
