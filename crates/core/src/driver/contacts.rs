//! Answers to a softphone's contact requests (RingCentral's contact match and search), which
//! need what the CRMs say about a number.
//!
//! An answer is built from, in this order: the directory of recent answers (lookups and call
//! pops, kept as long as a call pop's answer is trusted: an hour for a match, five minutes for
//! none), the engine's call pop for a call with that party (waited for while it is on its way,
//! so a ringing call is searched once, not twice), and otherwise a lookup the shell runs (a
//! [`CrmOp::SearchContacts`] conversation). The shell steps it sans-IO: it runs the lookups
//! [`Contacts::ask`] hands out, reports each with [`Contacts::found`], and asks
//! [`Contacts::ready`] after each input until it answers, or gives up after [`REPLY_WAIT_MS`] and
//! answers with what is known.
//!
//! Invariant: a request is always answered, with every CRM that answered in time; a CRM that
//! failed or is slow is simply absent, never an error to the widget.
//!
//! Everything here is a short list searched in order: a few hundred numbers at most, and map
//! types of their own would only add their code to the module.

use std::sync::Arc;

use serde_json::Value;

use crate::crm::{CrmError, CrmOp, CrmOutput};
use crate::engine::{CallMatches, Engine};
use crate::model::{Contact, IntegrationId, Timestamp};
use crate::phone::E164;
use crate::settings::Settings;
use crate::softphone::service::{self, Found};

/// How long a contact request waits for CRM answers before it is answered with what is known
/// (the widget itself gives up after 30 s).
pub const REPLY_WAIT_MS: i64 = 8_000;
/// Answers (a number in one CRM) the directory keeps at most; the oldest go first.
const MAX_ENTRIES: usize = 1000;

#[derive(Debug)]
struct Pending {
    request: String,
    numbers: Vec<E164>,
    text: Option<String>,
    /// Lookups handed to the shell and not reported yet.
    looking: Vec<(E164, IntegrationId)>,
    since: Timestamp,
}

/// The directory and the requests waiting on it.
#[derive(Debug, Default)]
pub struct Contacts {
    directory: Vec<(E164, IntegrationId, CallMatches)>,
    pending: Vec<(u64, Pending)>,
    next: u64,
}

/// One lookup the shell runs for request `id`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub id: u64,
    pub integration: IntegrationId,
    pub op: CrmOp,
}

impl Contacts {
    /// Remembers what a CRM said about `number` (a lookup, or a call pop's notice).
    pub fn remember(&mut self, number: E164, integration: IntegrationId, contacts: Arc<[Contact]>, now: Timestamp) {
        self.directory.retain(|(n, i, _)| !(*n == number && *i == integration));
        self.directory.push((number, integration, CallMatches { at: now, contacts }));
        if self.directory.len() > MAX_ENTRIES {
            // Pushed in time order: the oldest answer is first.
            self.directory.remove(0);
        }
    }

    /// A new request: its id and the lookups to run for it (none when everything is known or
    /// on its way through the engine). `connected` are the integrations that can be asked.
    pub fn ask(&mut self, request: String, numbers: Vec<E164>, text: Option<String>, connected: &[IntegrationId], engine: &Engine, now: Timestamp) -> (u64, Vec<Lookup>) {
        self.next += 1;
        let id = self.next;
        let mut looking = Vec::new();
        let mut lookups = Vec::new();
        for n in &numbers {
            for integ in connected {
                if self.known(n, integ, engine, now).is_some() || engine.known_matches(n, integ, now).1 {
                    continue;
                }
                looking.push((*n, integ.clone()));
                lookups.push(Lookup { id, integration: integ.clone(), op: CrmOp::SearchContacts { phone: *n } });
            }
        }
        self.pending.push((id, Pending { request, numbers, text, looking, since: now }));
        (id, lookups)
    }

    /// A lookup's result.
    pub fn found(&mut self, lookup: &Lookup, result: Result<CrmOutput, CrmError>, now: Timestamp) {
        let CrmOp::SearchContacts { phone } = &lookup.op else { return };
        if let Some((_, p)) = self.pending.iter_mut().find(|(id, _)| *id == lookup.id) {
            p.looking.retain(|(n, i)| !(n == phone && *i == lookup.integration));
        }
        if let Ok(CrmOutput::Contacts { contacts }) = result {
            self.remember(*phone, lookup.integration.clone(), contacts.into(), now);
        }
    }

    /// The answer to request `id` once every CRM answered (or, after [`REPLY_WAIT_MS`], with
    /// what is known); `None` while it waits. An answered request is forgotten.
    pub fn ready(&mut self, id: u64, settings: &Settings, connected: &[IntegrationId], engine: &Engine, now: Timestamp) -> Option<Value> {
        let at = self.pending.iter().position(|(i, _)| *i == id)?;
        let p = &self.pending[at].1;
        let give_up = now.since(p.since) >= REPLY_WAIT_MS;
        let waiting = !p.looking.is_empty()
            || p.numbers.iter().any(|n| connected.iter().any(|i| self.known(n, i, engine, now).is_none() && engine.known_matches(n, i, now).1));
        if waiting && !give_up {
            return None;
        }
        let (_, p) = self.pending.remove(at);
        let label = |i: &IntegrationId| settings.integrations.iter().find(|s| &s.id == i).map(|s| s.label_or_id()).unwrap_or_else(|| i.to_string());
        let mut rows: Vec<(E164, IntegrationId, String, Contact)> = Vec::new();
        let mut add = |n: &E164, i: &IntegrationId, c: &Contact| {
            if !rows.iter().any(|(_, ri, _, rc)| ri == i && rc.id == c.id) {
                rows.push((*n, i.clone(), label(i), c.clone()));
            }
        };
        for n in &p.numbers {
            for i in connected {
                for c in self.known(n, i, engine, now).iter().flat_map(|c| c.iter()) {
                    add(n, i, c);
                }
            }
        }
        if let Some(text) = &p.text {
            for (n, i, m) in self.directory.iter().filter(|(_, i, m)| connected.contains(i) && m.is_fresh(now)) {
                for c in m.contacts.iter().filter(|c| service::name_matches(text, c)) {
                    add(n, i, c);
                }
            }
        }
        let found: Vec<Found<'_>> = rows.iter().map(|(number, integration, label, contact)| Found { number, integration, label, contact }).collect();
        Some(service::contacts_reply(&p.request, &p.numbers, p.text.is_some(), &found))
    }

    /// What is known of `n` in `integ`: the directory's answer, else the engine's call pop.
    fn known(&self, n: &E164, integ: &IntegrationId, engine: &Engine, now: Timestamp) -> Option<Arc<[Contact]>> {
        match self.directory.iter().find(|(dn, di, m)| dn == n && di == integ && m.is_fresh(now)).map(|(_, _, m)| m) {
            Some(m) => Some(m.contacts.clone()),
            None => engine.known_matches(n, integ, now).0,
        }
    }
}
