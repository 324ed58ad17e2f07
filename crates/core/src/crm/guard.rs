//! Guarded creates: a call log's first create made safe against another place that logs the
//! same leg (a second browser of the rep, or the server), as far as each CRM allows
//! (`docs/shared-calls.md`, "One record per leg and CRM").
//!
//! Both places write the same marker ([`crate::engine::slot::call_marker`]), so a record made
//! by the other is *the* record. Three flows, each a pure function of the exchanges so far like
//! every connector step:
//! - [`unique`]: the CRM holds the marker in a field the admin made unique; the create carries
//!   it, a duplicate is refused, and the refusal is followed by an exact read of the record the
//!   other made. Nothing can slip through.
//! - [`exact`]: the CRM's marker lookup is exact (a database filter, no search index) but
//!   nothing refuses a duplicate: create, then look; when the look shows an earlier record with
//!   the marker made by the same CRM user, the record just made is a duplicate, and is deleted by
//!   the browser that made it. The earliest record is never deleted by its maker, so one always
//!   stays, and every later one sees it (its look runs after its own create, so after the
//!   earliest's create). There is no look before the create: it would save a create and a delete
//!   only when another place logged the leg earlier, and cost a request on every call
//!   (`docs/shared-calls.md` has the numbers). A CRM that runs several requests as one call
//!   (Salesforce's Composite resource, [`Batch`]) sends the create and the look as one.
//! - [`searched`]: the lookup goes through a search index that lags: look before the create
//!   (HubSpot does so only for a late log, [`super::Timing::Late`]);
//!   a record the other made less than the lag before is not seen (the residual window).
//!
//! Output: `Created` for a record this flow made and kept; `Found { record: Some(_) }` for a
//! record another made, which the engine adopts ([`super::CrmOutput::Found`]).
//!
//! Invariant: only a record this very flow created can be deleted, and only when an earlier
//! record with the same marker and the same creator exists.

use super::{CrmError, CrmOutput, Exchange, HttpRequest, RecordId, Reply, Step};

/// A record carrying the marker, as a lookup lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    pub id: String,
    /// The CRM user who made it, when the CRM says.
    pub creator: Option<String>,
}

/// What a connector supplies for [`exact`].
pub struct Exact<'a> {
    /// The exact lookup of the marker.
    pub lookup: &'a dyn Fn() -> HttpRequest,
    /// The records a lookup reply lists, earliest first.
    pub read: &'a dyn Fn(&Reply) -> Result<Vec<Existing>, CrmError>,
    pub create: &'a dyn Fn() -> Result<HttpRequest, CrmError>,
    /// The create's reply read as the connector reads it (`Created` on success).
    pub created: &'a dyn Fn(&Reply) -> Result<CrmOutput, CrmError>,
    pub delete: &'a dyn Fn(&RecordId) -> HttpRequest,
    /// How the CRM runs the create and the look after it as one call, when it can.
    pub batch: Option<Batch<'a>>,
}

/// Several requests sent as one call (Salesforce's Composite resource), in order.
pub struct Batch<'a> {
    /// The one request that runs `parts` in order.
    pub join: &'a dyn Fn(&[HttpRequest]) -> HttpRequest,
    /// The replies of the parts, in order, from a joined request's reply; `None` when the reply
    /// is the whole call's (an error, a timeout), which then stands for every part's: the first
    /// part's outcome is what the whole call's is.
    pub split: &'a dyn Fn(&Reply) -> Option<Vec<Reply>>,
}

/// Create, then look (see the module docs). `sent`: the exchanges so far, a batch as one.
pub fn exact(g: &Exact<'_>, sent: &[Exchange]) -> Step {
    // The replies of the create, the look and what followed, as the flow sees them: a batch's
    // reply split into its parts' (the flow reads replies only).
    let parts = match (&g.batch, sent.first()) {
        (Some(b), Some(first)) => (b.split)(&first.reply),
        _ => None,
    };
    let replies: Vec<&Reply> = match &parts {
        Some(parts) => parts.iter().take(2).chain(sent[1..].iter().map(|e| &e.reply)).collect(),
        None => sent.iter().map(|e| &e.reply).collect(),
    };
    match (create_then_look(g, &replies), &g.batch) {
        (Step::Send(create), Some(b)) if sent.is_empty() => Step::Send((b.join)(&[create, (g.lookup)()])),
        (step, _) => step,
    }
}

/// [`exact`] on the replies one by one: the create, the look (once more when it failed for a
/// reason that may pass: a 5xx, a lost reply), the delete of a later duplicate.
fn create_then_look(g: &Exact<'_>, replies: &[&Reply]) -> Step {
    let Some((create, looks)) = replies.split_first() else {
        return match (g.create)() {
            Ok(req) => Step::Send(req),
            Err(e) => Step::Done(Err(e)),
        };
    };
    let made = (g.created)(create);
    let ours = match &made {
        Ok(CrmOutput::Created { record, .. }) => record.clone(),
        _ => return Step::Done(made),
    };
    let Some((look, after)) = looks.split_first() else { return Step::Send((g.lookup)()) };
    let (list, after) = match (g.read)(look) {
        Ok(list) => (list, after),
        Err(CrmError::Transient { .. } | CrmError::Unknown { .. }) => match after.split_first() {
            None => return Step::Send((g.lookup)()),
            Some((again, after)) => match (g.read)(again) {
                Ok(list) => (list, after),
                // The check cannot be read: the record made stands (the engine has it).
                Err(_) => return Step::Done(made),
            },
        },
        Err(_) => return Step::Done(made),
    };
    if !after.is_empty() {
        // Deleted or not, the earlier record is the leg's record.
        return list.first().map_or(Step::Done(made), |earliest| found(&earliest.id));
    }
    let mine = list.iter().find(|e| e.id == ours.as_str());
    match (list.first(), mine) {
        (Some(earliest), Some(mine)) if earliest.id != mine.id && earliest.creator.is_some() && earliest.creator == mine.creator => {
            Step::Send((g.delete)(&ours))
        }
        _ => Step::Done(made),
    }
}

/// What a connector supplies for [`unique`].
pub struct Unique<'a> {
    pub create: &'a dyn Fn() -> Result<HttpRequest, CrmError>,
    pub created: &'a dyn Fn(&Reply) -> Result<CrmOutput, CrmError>,
    /// Whether the create's reply is the CRM refusing a second record with the marker.
    pub conflict: &'a dyn Fn(&Reply) -> bool,
    /// The exact read of the record holding the marker in the unique field.
    pub get: &'a dyn Fn() -> HttpRequest,
    /// The record an exact read's reply names, if any.
    pub read: &'a dyn Fn(&Reply) -> Result<Option<String>, CrmError>,
}

/// Create with the marker in a unique field; on a duplicate, read the other's record.
pub fn unique(g: &Unique<'_>, history: &[Exchange]) -> Step {
    match history {
        [] => match (g.create)() {
            Ok(req) => Step::Send(req),
            Err(e) => Step::Done(Err(e)),
        },
        [create] if (g.conflict)(&create.reply) => Step::Send((g.get)()),
        [create] => Step::Done((g.created)(&create.reply)),
        [_, read, ..] => match (g.read)(&read.reply) {
            Ok(Some(id)) => found(&id),
            Ok(None) => Step::Done(Err(CrmError::Unknown { message: "the CRM refused a duplicate of the marker, but no record holds it".into() })),
            Err(e) => Step::Done(Err(e)),
        },
    }
}

/// What a connector supplies for [`searched`].
pub struct Searched<'a> {
    pub lookup: &'a dyn Fn() -> HttpRequest,
    /// The record a lookup reply names, if any (it lags behind creates).
    pub read: &'a dyn Fn(&Reply) -> Result<Option<String>, CrmError>,
    pub create: &'a dyn Fn() -> Result<HttpRequest, CrmError>,
    pub created: &'a dyn Fn(&Reply) -> Result<CrmOutput, CrmError>,
}

/// Look through the search index, then create when nothing was seen.
pub fn searched(g: &Searched<'_>, history: &[Exchange]) -> Step {
    match history {
        [] => Step::Send((g.lookup)()),
        [look] => match (g.read)(&look.reply) {
            Err(e) => Step::Done(Err(e)),
            Ok(Some(id)) => found(&id),
            Ok(None) => match (g.create)() {
                Ok(req) => Step::Send(req),
                Err(e) => Step::Done(Err(e)),
            },
        },
        [_, create, ..] => Step::Done((g.created)(&create.reply)),
    }
}

fn found(id: &str) -> Step {
    Step::Done(Ok(CrmOutput::Found { record: Some(RecordId::new(id)) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::{HttpResponse, Method};

    fn req(url: &str) -> HttpRequest {
        HttpRequest { method: Method::Get, url: url.into(), headers: vec![], body: None }
    }

    fn resp(body: &str) -> Reply {
        Reply::Response(HttpResponse { status: 200, headers: vec![], body: body.into() })
    }

    fn status(code: u16, body: &str) -> Reply {
        Reply::Response(HttpResponse { status: code, headers: vec![], body: body.into() })
    }

    /// Lookup replies here are `id/creator,id/creator`; a 5xx is worth another try, a 4xx not.
    fn list(reply: &Reply) -> Result<Vec<Existing>, CrmError> {
        let r = match reply {
            Reply::Response(r) if r.status >= 500 => return Err(CrmError::Transient { message: "5xx".into() }),
            Reply::Response(r) if r.status >= 400 => return Err(CrmError::Permanent { message: "4xx".into() }),
            Reply::Response(r) => r,
            _ => return Err(CrmError::Transient { message: "no reply".into() }),
        };
        Ok(r.body.split(',').filter(|s| !s.is_empty()).map(|s| {
            let (id, by) = s.split_once('/').unwrap_or((s, ""));
            Existing { id: id.into(), creator: (!by.is_empty()).then(|| by.into()) }
        }).collect())
    }

    /// Creates answer the new id; a 5xx or a lost reply leaves the outcome unknown.
    fn made(reply: &Reply) -> Result<CrmOutput, CrmError> {
        match reply {
            Reply::Response(r) if r.status < 400 => Ok(CrmOutput::Created { record: RecordId::new(&r.body), url: None }),
            _ => Err(CrmError::Unknown { message: "lost".into() }),
        }
    }

    /// A batch here is `create+look`; its reply `create reply|look reply`, where `!` is a part
    /// that failed with a 500. Any other reply is the whole call's.
    fn split(reply: &Reply) -> Option<Vec<Reply>> {
        let Reply::Response(r) = reply else { return None };
        let (c, l) = r.body.split_once('|')?;
        Some([c, l].iter().map(|p| if *p == "!" { status(500, "") } else { resp(p) }).collect())
    }

    /// Runs the exact flow with the given replies, batched or not; the requests' URLs and the
    /// output.
    fn run_exact(replies: &[Reply], batched: bool) -> (Vec<String>, Step) {
        let join = |parts: &[HttpRequest]| req(&parts.iter().map(|p| p.url.as_str()).collect::<Vec<_>>().join("+"));
        let g = Exact {
            lookup: &|| req("look"),
            read: &list,
            create: &|| Ok(req("create")),
            created: &made,
            delete: &|id| req(&format!("delete {id}")),
            batch: batched.then(|| Batch { join: &join, split: &split }),
        };
        let mut history = Vec::new();
        let mut sent = Vec::new();
        loop {
            match exact(&g, &history) {
                Step::Send(r) => {
                    sent.push(r.url.clone());
                    let reply = replies.get(history.len()).cloned().expect("a reply for every request");
                    history.push(Exchange { request: r, reply });
                }
                done => return (sent, done),
            }
        }
    }

    #[test]
    fn exact_lookups_keep_one_record() {
        let adopted = |id: &str| Step::Done(Ok(CrmOutput::Found { record: Some(RecordId::new(id)) }));
        let kept = |id: &str| Step::Done(Ok(CrmOutput::Created { record: RecordId::new(id), url: None }));
        let lost = Step::Done(Err(CrmError::Unknown { message: "lost".into() }));
        // (replies, requests sent, outcome)
        let table: Vec<(Vec<Reply>, Vec<&str>, Step)> = vec![
            // Alone: create, the check shows only ours.
            (vec![resp("9"), resp("9/u1")], vec!["create", "look"], kept("9")),
            // The other place logged it earlier (or created at the same moment, first): ours is
            // the later, deleted; theirs adopted.
            (vec![resp("9"), resp("7/u1,9/u1"), resp("")], vec!["create", "look", "delete 9"], adopted("7")),
            // Ours is the earlier: keep it (the other deletes its own).
            (vec![resp("7"), resp("7/u1,9/u1")], vec!["create", "look"], kept("7")),
            // An earlier record by another CRM user (another rep sharing the marker): keep ours.
            (vec![resp("9"), resp("7/u2,9/u1")], vec!["create", "look"], kept("9")),
            // Creators unknown: never delete.
            (vec![resp("9"), resp("7,9")], vec!["create", "look"], kept("9")),
            // The check's reply is lost: look once more, then judge.
            (vec![resp("9"), Reply::TimedOut, resp("7/u1,9/u1"), resp("")], vec!["create", "look", "look", "delete 9"], adopted("7")),
            // The check fails twice: what was made stands.
            (vec![resp("9"), status(503, ""), Reply::TimedOut], vec!["create", "look", "look"], kept("9")),
            // The check is refused (a 4xx): no second try, what was made stands.
            (vec![resp("9"), status(403, "")], vec!["create", "look"], kept("9")),
            // The delete fails: the earlier record is still the leg's.
            (vec![resp("9"), resp("7/u1,9/u1"), Reply::TimedOut], vec!["create", "look", "delete 9"], adopted("7")),
            // The create's reply is lost: unknown, as for any create; nothing more is sent.
            (vec![Reply::TimedOut], vec!["create"], lost.clone()),
        ];
        for (i, (replies, want_sent, want)) in table.into_iter().enumerate() {
            let (sent, got) = run_exact(&replies, false);
            assert_eq!(sent, want_sent, "row {i}");
            assert_eq!(got, want, "row {i}");
        }
        // The create and the check as one call (a batch).
        let table: Vec<(Vec<Reply>, Vec<&str>, Step)> = vec![
            (vec![resp("9|9/u1")], vec!["create+look"], kept("9")),
            (vec![resp("9|7/u1,9/u1"), resp("")], vec!["create+look", "delete 9"], adopted("7")),
            // The create succeeded, its check failed inside the batch: the create is known, the
            // check runs alone.
            (vec![resp("9|!"), resp("7/u1,9/u1"), resp("")], vec!["create+look", "look", "delete 9"], adopted("7")),
            (vec![resp("9|!"), resp("9/u1")], vec!["create+look", "look"], kept("9")),
            (vec![resp("9|!"), Reply::TimedOut], vec!["create+look", "look"], kept("9")),
            // The create failed inside the batch (its check ran anyway and is not read).
            (vec![resp("!|7/u1")], vec!["create+look"], lost.clone()),
            // The whole call failed or its reply is lost: the create's outcome is unknown.
            (vec![status(500, "")], vec!["create+look"], lost.clone()),
            (vec![Reply::TimedOut], vec!["create+look"], lost),
        ];
        for (i, (replies, want_sent, want)) in table.into_iter().enumerate() {
            let (sent, got) = run_exact(&replies, true);
            assert_eq!(sent, want_sent, "batched row {i}");
            assert_eq!(got, want, "batched row {i}");
        }
    }

    #[test]
    fn unique_fields_and_searches() {
        let conflict = |r: &Reply| matches!(r, Reply::Response(x) if x.status == 409);
        let read = |r: &Reply| match r {
            Reply::Response(x) if x.status == 200 => Ok(Some(x.body.clone())),
            Reply::Response(_) => Ok(None),
            _ => Err(CrmError::Transient { message: "no reply".into() }),
        };
        let g = Unique { create: &|| Ok(req("create")), created: &made, conflict: &conflict, get: &|| req("get"), read: &read };
        let ex = |url: &str, reply: Reply| Exchange { request: req(url), reply };
        let refused = Reply::Response(HttpResponse { status: 409, headers: vec![], body: "dup".into() });
        assert!(matches!(unique(&g, &[]), Step::Send(r) if r.url == "create"));
        assert_eq!(unique(&g, &[ex("create", resp("5"))]), Step::Done(Ok(CrmOutput::Created { record: RecordId::new("5"), url: None })));
        assert!(matches!(unique(&g, &[ex("create", refused.clone())]), Step::Send(r) if r.url == "get"));
        assert_eq!(unique(&g, &[ex("create", refused.clone()), ex("get", resp("4"))]), found("4"));
        let missing = Reply::Response(HttpResponse { status: 404, headers: vec![], body: String::new() });
        assert!(matches!(unique(&g, &[ex("create", refused), ex("get", missing)]), Step::Done(Err(CrmError::Unknown { .. }))));

        let s = Searched { lookup: &|| req("search"), read: &read, create: &|| Ok(req("create")), created: &made };
        let nothing = Reply::Response(HttpResponse { status: 404, headers: vec![], body: String::new() });
        assert_eq!(searched(&s, &[ex("search", resp("3"))]), found("3"));
        assert!(matches!(searched(&s, &[ex("search", nothing.clone())]), Step::Send(r) if r.url == "create"));
        assert_eq!(searched(&s, &[ex("search", nothing), ex("create", resp("8"))]), Step::Done(Ok(CrmOutput::Created { record: RecordId::new("8"), url: None })));
        assert!(matches!(searched(&s, &[ex("search", Reply::TimedOut)]), Step::Done(Err(CrmError::Transient { .. }))));
    }
}
