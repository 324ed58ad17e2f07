//! Server mode's outbox: what the extension forwards to the Calltrail server that owns some of
//! its integrations ([`crate::settings::ServerLink`]).
//!
//! Every softphone event the engine hears (a late webhook is then covered) and every intent of
//! the rep about a call (notes, "log now", "sync now") becomes one [`Forwarded`] entry, written
//! to the `meta` store under `outbox/<seq>` in the same effect queue as the input, so the page
//! or frame that sent it is answered only once the entry is on disk. Entries go to
//! `POST <server>/rep/<account>/<rep>/events` in order, a batch at a time, one request in flight;
//! an entry is deleted once the server answered 2xx (it stored the batch in its inbox before
//! answering). A failed or refused request keeps every entry and retries after a backoff (the
//! driver keeps the shell's alarm at the retry). Each entry carries an id the server files it
//! under, so a batch sent again after a lost answer is not applied twice.
//!
//! The entry is plain data, not an internally tagged enum (`what` plus optional fields): the
//! server reads it with the same type.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::Ticket;
use crate::crm::{HttpRequest, Method, Reply};
use crate::engine::{Input, Resolution, SlotKey};
use crate::model::{Call, CallId, Contact, IntegrationId, Timestamp};
use crate::settings::ServerLink;
use crate::store::{Record, Snapshot, Write};

/// The `meta` keys of the entries: `outbox/<20-digit seq>`, so key order is send order.
pub const PREFIX: &str = "outbox/";
/// Most entries in one request.
pub const BATCH: usize = 100;
/// Backoff after a failed request: 1 s doubling to this.
pub const MAX_BACKOFF_MS: i64 = 30_000;

/// What an entry asks the server's engine to hear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    CallRinging,
    CallStarted,
    CallUpdated,
    CallEnded,
    /// The softphone's logger record or completion (`manual`: its "log" button).
    CallDetails,
    NotesOpened,
    NotesSaved,
    NotesCancelled,
    LogNow,
    /// "Sync now": a digest run.
    Sync,
    /// The rep picked contacts of a call in an integration the server owns (`integration`,
    /// `contacts`).
    Picked,
    /// A manual log from the history, for the server's integrations among those asked
    /// (`integrations`).
    ManualLog,
    /// Choices in the server's unresolved queue (`resolutions`).
    Resolve,
}

/// One forwarded input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forwarded {
    /// Unique per entry (a random id of the worker start and a sequence number): the server's
    /// idempotency key.
    pub id: String,
    /// When the extension heard it (epoch ms).
    pub at: i64,
    pub what: What,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Call>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<IntegrationId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<Vec<IntegrationId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<Vec<(SlotKey, Resolution)>>,
}

/// The integration a slot key names (its last `|` field: `call|<call>|<integration>`).
pub fn slot_integration(slot: &str) -> &str {
    slot.rsplit_once('|').map_or(slot, |(_, i)| i)
}

impl Forwarded {
    /// The entry for `input`, when it is one the server hears; `None` for the rest (CRM
    /// replies, settings...). Picks, manual logs and resolutions are the server's only for the
    /// integrations it `owns` (their entry carries only those; [`local_part`] keeps the rest).
    pub fn of(input: &Input, owns: impl Fn(&str) -> bool, id: String, now: Timestamp) -> Option<Forwarded> {
        let mut f = Forwarded { id, at: now.0, what: What::Sync, call: None, call_id: None, notes: None, manual: false, integration: None, contacts: None, integrations: None, resolutions: None };
        // (what, the call, the call's id, notes, manual): one clone site each.
        let (what, call, id_only, notes, manual) = match input {
            Input::CallRinging(c) => (What::CallRinging, Some(c), None, None, false),
            Input::CallStarted(c) => (What::CallStarted, Some(c), None, None, false),
            Input::CallUpdated(c) => (What::CallUpdated, Some(c), None, None, false),
            Input::CallEnded(c) => (What::CallEnded, Some(c), None, None, false),
            Input::CallDetails { call, manual } => (What::CallDetails, Some(call), None, None, *manual),
            Input::NotesOpened { call } => (What::NotesOpened, None, Some(call), None, false),
            Input::NotesSaved { call, notes } => (What::NotesSaved, None, Some(call), Some(notes), false),
            Input::NotesCancelled { call } => (What::NotesCancelled, None, Some(call), None, false),
            Input::LogNowRequested { call } => (What::LogNow, None, Some(call), None, false),
            Input::DigestRequested => (What::Sync, None, None, None, false),
            Input::ContactsPicked { call, integration, contacts } if owns(integration.as_str()) => {
                f.integration = Some(integration.clone());
                f.contacts = Some(contacts.clone());
                (What::Picked, None, Some(call), None, false)
            }
            Input::ManualLogRequested { call, integrations, .. } => {
                let owned: Vec<IntegrationId> = integrations.iter().filter(|i| owns(i.as_str())).cloned().collect();
                if owned.is_empty() {
                    return None;
                }
                f.integrations = Some(owned);
                (What::ManualLog, None, Some(call), None, false)
            }
            Input::UnresolvedResolved { resolutions } => {
                let owned: Vec<(SlotKey, Resolution)> = resolutions.iter().filter(|(k, _)| owns(slot_integration(k))).cloned().collect();
                if owned.is_empty() {
                    return None;
                }
                f.resolutions = Some(owned);
                (What::Resolve, None, None, None, false)
            }
            _ => return None,
        };
        (f.what, f.call, f.call_id, f.notes, f.manual) = (what, call.cloned(), id_only.cloned(), notes.cloned(), manual);
        Some(f)
    }

    /// The input the server's engine hears; `None` when a field the kind needs is missing.
    pub fn into_input(self) -> Option<Input> {
        let (call, id) = (self.call, self.call_id);
        Some(match self.what {
            What::CallRinging => Input::CallRinging(call?),
            What::CallStarted => Input::CallStarted(call?),
            What::CallUpdated => Input::CallUpdated(call?),
            What::CallEnded => Input::CallEnded(call?),
            What::CallDetails => Input::CallDetails { call: call?, manual: self.manual },
            What::NotesOpened => Input::NotesOpened { call: id? },
            What::NotesSaved => Input::NotesSaved { call: id?, notes: self.notes? },
            What::NotesCancelled => Input::NotesCancelled { call: id? },
            What::LogNow => Input::LogNowRequested { call: id? },
            What::Sync => Input::DigestRequested,
            What::Picked => Input::ContactsPicked { call: id?, integration: self.integration?, contacts: self.contacts? },
            What::ManualLog => Input::ManualLogRequested { call: id?, integrations: self.integrations?, stored: Snapshot::default() },
            What::Resolve => Input::UnresolvedResolved { resolutions: self.resolutions? },
        })
    }
}

/// What of `input` the extension's own engine handles when the server owns `owns`: picks,
/// manual logs and resolutions without the server's integrations (`None`: nothing is left).
pub fn local_part(input: Input, owns: impl Fn(&str) -> bool) -> Option<Input> {
    match input {
        Input::ContactsPicked { integration, .. } if owns(integration.as_str()) => None,
        Input::ManualLogRequested { call, mut integrations, stored } => {
            let asked = integrations.len();
            integrations.retain(|i| !owns(i.as_str()));
            (integrations.len() == asked || !integrations.is_empty()).then_some(Input::ManualLogRequested { call, integrations, stored })
        }
        Input::UnresolvedResolved { mut resolutions } => {
            let asked = resolutions.len();
            resolutions.retain(|(k, _)| !owns(slot_integration(k)));
            (resolutions.len() == asked || !resolutions.is_empty()).then_some(Input::UnresolvedResolved { resolutions })
        }
        other => Some(other),
    }
}

/// The body of `POST /rep/<account>/<rep>/events`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub entries: Vec<Forwarded>,
}

/// A request for the shell to send, and the entries it carries.
#[derive(Clone, Debug)]
pub struct Send {
    pub request: HttpRequest,
    pub keys: Vec<String>,
}

/// What the pages show of the outbox.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Status {
    /// Entries not yet accepted by the server.
    pub queued: usize,
    /// Why the last request failed, while entries wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next attempt goes (epoch ms), while entries wait after a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
}

/// The entries not yet accepted, in order, each with the ticket after which it is on disk and
/// its JSON text (kept as text: the extension never reads an entry back, it only sends it).
#[derive(Debug, Default)]
pub struct Outbox {
    entries: VecDeque<(String, Ticket, String)>,
    next: u64,
    boot: u64,
    in_flight: bool,
    failures: u32,
    retry_at: Option<Timestamp>,
    error: Option<String>,
}

impl Outbox {
    /// The entries `meta` holds (a restore); anything in flight is forgotten (its answer is
    /// ignored: the entries are sent again, and the server drops the repeats).
    pub fn restore(&mut self, meta: &[Record], boot: u64, now: Timestamp) {
        let mut entries: Vec<(String, String)> = meta.iter().filter(|r| r.key.starts_with(PREFIX)).map(|r| (r.key.clone(), r.value.clone())).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let last = entries.last().and_then(|(k, _)| k[PREFIX.len()..].parse::<u64>().ok());
        // Keys keep growing across starts: after the last one kept, else from the clock.
        self.next = last.map_or(0, |n| n + 1).max((now.0.max(0) as u64).saturating_mul(1000));
        self.entries = entries.into_iter().map(|(k, f)| (k, Ticket(0), f)).collect();
        self.boot = boot;
        self.in_flight = false;
        self.retry_at = None;
        self.failures = 0;
    }

    /// Queues `input` when it is forwarded; the write to commit before anyone is answered.
    /// `ticket`: the driver's ticket once that write is executed.
    pub fn push(&mut self, input: &Input, link: &ServerLink, ticket: Ticket, now: Timestamp) -> Option<Write> {
        let seq = self.next;
        let entry = Forwarded::of(input, |i| link.owns_str(i), format!("{:08x}-{seq}", self.boot & 0xffff_ffff), now)?;
        self.next += 1;
        let key = format!("{PREFIX}{seq:020}");
        let record = Record::encode(key.clone(), true, now.0, &entry);
        self.entries.push_back((key, ticket, record.value.clone()));
        Some(Write::Put { store: crate::store::StoreName::Meta, record })
    }

    /// The next request, when one may go: none in flight, entries on disk, no backoff.
    /// `token`: the rep's server token (the credential store's, never the settings').
    pub fn next_send(&mut self, link: &ServerLink, token: &str, written: impl Fn(Ticket) -> bool, now: Timestamp) -> Option<Send> {
        if self.in_flight || self.retry_at.is_some_and(|r| r > now) {
            return None;
        }
        let ready: Vec<&(String, Ticket, String)> = self.entries.iter().take(BATCH).take_while(|(_, t, _)| written(*t)).collect();
        if ready.is_empty() {
            return None;
        }
        // A [`Batch`], written by hand from the entries' texts.
        let texts: Vec<&str> = ready.iter().map(|(_, _, t)| t.as_str()).collect();
        let body = format!("{{\"entries\":[{}]}}", texts.join(","));
        let keys = ready.iter().map(|(k, _, _)| k.clone()).collect();
        let url = format!("{}/rep/{}/{}/events", link.url.trim_end_matches('/'), link.account, link.rep);
        let headers = vec![("authorization".into(), format!("Bearer {token}")), ("content-type".into(), "application/json".into())];
        self.in_flight = true;
        Some(Send { request: HttpRequest { method: Method::Post, url, headers, body: Some(body) }, keys })
    }

    /// The server's answer to `sent`: the deletes to write (accepted), or the time to try again.
    pub fn answered(&mut self, sent: &Send, reply: &Reply, now: Timestamp) -> Result<Vec<Write>, Timestamp> {
        self.in_flight = false;
        let failure = match reply {
            Reply::Response(r) if (200..300).contains(&r.status) => None,
            Reply::Response(r) => Some(format!("the server answered {}: {}", r.status, r.body.chars().take(200).collect::<String>())),
            Reply::TimedOut => Some("the server did not answer in time".to_owned()),
            Reply::NetworkError { message, .. } => Some(format!("the server cannot be reached: {message}")),
        };
        if let Some(error) = failure {
            self.failures = self.failures.saturating_add(1);
            let backoff = (1000i64 << self.failures.min(6).saturating_sub(1)).min(MAX_BACKOFF_MS);
            let at = now.plus_ms(backoff);
            self.retry_at = Some(at);
            self.error = Some(error);
            return Err(at);
        }
        self.failures = 0;
        self.retry_at = None;
        self.error = None;
        self.entries.retain(|(k, _, _)| !sent.keys.contains(k));
        Ok(sent.keys.iter().map(|k| Write::Delete { store: crate::store::StoreName::Meta, key: k.clone() }).collect())
    }

    /// When the next attempt is due after a failure.
    pub fn retry_at(&self) -> Option<Timestamp> {
        self.retry_at.filter(|_| !self.entries.is_empty())
    }

    pub fn status(&self) -> Status {
        let waiting = !self.entries.is_empty();
        Status {
            queued: self.entries.len(),
            error: self.error.clone().filter(|_| waiting),
            retry_at: self.retry_at.filter(|_| waiting).map(|t| t.0),
        }
    }

    /// The entries' JSON texts, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(_, _, t)| t.as_str())
    }
}
