//! Answers to a softphone's contact requests (RingCentral's contact match and search), from what
//! the CRMs said about the numbers of the rep's calls.
//!
//! An answer is built from the directory of recent call pops (every [`Notice::CallMatches`]
//! the engine emits, kept as long as the engine trusts a call pop's answer: an hour for a match,
//! five minutes for none) and the engine's own call pop when one is on its way for a call with
//! that party: the widget asks as the call rings, and the answer waits for the pop instead of
//! searching the CRMs a second time. The shell asks [`Contacts::ready`] after each input until
//! it answers, or after [`REPLY_WAIT_MS`] it answers with what is known.
//!
//! What it does not do: search the CRMs for a number no call had (the widget's history of calls
//! from before Calltrail was installed, or a number typed into the dialer that never called).
//! Those are answered without contacts; it keeps the module small (issue 17's notes).
//!
//! Invariant: a request is always answered, with every CRM that answered in time; a CRM that
//! failed or is slow is simply absent, never an error to the widget.
//!
//! [`Notice::CallMatches`]: crate::engine::Notice::CallMatches

use std::sync::Arc;

use serde_json::Value;

use crate::engine::{CallMatches, Engine};
use crate::model::{Contact, IntegrationId, Timestamp};
use crate::phone::E164;
use crate::settings::Settings;
use crate::softphone::service::{self, Found};

/// How long a contact request waits for a call pop on its way before it is answered with what
/// is known (the widget itself gives up after 30 s).
pub const REPLY_WAIT_MS: i64 = 8_000;
/// Answers (a number in one CRM) the directory keeps at most; the oldest go first. A short list
/// searched in order: a map type of its own would only add its code to the module.
const MAX_ENTRIES: usize = 1000;

#[derive(Debug)]
struct Pending {
    id: u64,
    request: String,
    numbers: Vec<E164>,
    text: Option<String>,
    since: Timestamp,
}

/// The directory and the requests waiting on it.
#[derive(Debug, Default)]
pub struct Contacts {
    directory: Vec<(E164, IntegrationId, CallMatches)>,
    pending: Vec<Pending>,
    next: u64,
}

impl Contacts {
    /// Remembers what a CRM said about `number` (a call pop's notice).
    pub fn remember(&mut self, number: E164, integration: IntegrationId, contacts: Arc<[Contact]>, now: Timestamp) {
        self.directory.retain(|(n, i, _)| !(*n == number && *i == integration));
        self.directory.push((number, integration, CallMatches { at: now, contacts, reused: false }));
        if self.directory.len() > MAX_ENTRIES {
            // Pushed in time order: the oldest answer is first.
            self.directory.remove(0);
        }
    }

    /// A new request; its id for [`Contacts::ready`].
    pub fn ask(&mut self, request: String, numbers: Vec<E164>, text: Option<String>, now: Timestamp) -> u64 {
        self.next += 1;
        self.pending.push(Pending { id: self.next, request, numbers, text, since: now });
        self.next
    }

    /// The answer to request `id` once no call pop it needs is on its way (or, after
    /// [`REPLY_WAIT_MS`], with what is known); `None` while it waits. An answered request is
    /// forgotten.
    pub fn ready(&mut self, id: u64, settings: &Settings, engine: &Engine, now: Timestamp) -> Option<Value> {
        let at = self.pending.iter().position(|p| p.id == id)?;
        let p = &self.pending[at];
        let integrations = &settings.integrations;
        let waiting = p.numbers.iter().any(|n| integrations.iter().any(|i| self.known(n, &i.id, engine, now).is_none() && engine.known_matches(n, &i.id, now).1));
        if waiting && now.since(p.since) < REPLY_WAIT_MS {
            return None;
        }
        let p = self.pending.remove(at);
        let mut rows: Vec<(E164, IntegrationId, String, Contact)> = Vec::new();
        let mut add = |n: &E164, i: &IntegrationId, c: &Contact| {
            if !rows.iter().any(|(_, ri, _, rc)| ri == i && rc.id == c.id) {
                let label = integrations.iter().find(|s| &s.id == i).map_or_else(|| i.to_string(), |s| s.label_or_id());
                rows.push((*n, i.clone(), label, c.clone()));
            }
        };
        for n in &p.numbers {
            for i in integrations {
                for c in self.known(n, &i.id, engine, now).iter().flat_map(|c| c.iter()) {
                    add(n, &i.id, c);
                }
            }
        }
        if let Some(text) = &p.text {
            for (n, i, m) in self.directory.iter().filter(|(_, _, m)| m.is_fresh(now)) {
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
        match self.directory.iter().find(|(dn, di, m)| dn == n && di == integ && m.is_fresh(now)) {
            Some((_, _, m)) => Some(m.contacts.clone()),
            None => engine.known_matches(n, integ, now).0,
        }
    }
}
