//! A fake CRM at the `CrmOp` level: contacts with phones and creation times, records with
//! markers, a queue of faults, and search lag (records and placeholder contacts become visible
//! to searches and marker lookups only `search_lag_ms` after they are created).

use std::collections::VecDeque;

use calltrail_core::crm::{CrmError, CrmOp, CrmOutput, Marker};
use calltrail_core::model::{CallId, Contact, CrmKind, RecordId, RecordType, Timestamp};
use calltrail_core::phone::{self, Country};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The write commits, then the reply is lost (timeout / reset / 502 after commit).
    LostAfterCommit,
    /// 429, with or without Retry-After (ms).
    RateLimited(Option<i64>),
    /// 401 until the credentials are fixed.
    Unauthorized,
    /// 5xx before anything was committed (ambiguous for a write, so `Unknown`).
    ServerError,
    /// Offline: the request never left.
    Offline,
    /// 400: refused for good.
    Permanent,
    /// A 5xx whose body echoes the request's credentials and the number searched (a CRM, or a
    /// connector bug, leaking them into the error text): I19's planted secret.
    Leaky,
    /// The CRM answers every request of the op with this status and body, read by the real
    /// connector of the CRM's kind (its error text, its classification).
    Vendor(u16, &'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub struct CrmRecord {
    pub id: RecordId,
    pub marker: Marker,
    pub what: &'static str,
    pub contact: Option<RecordId>,
    pub call: Option<CallId>,
    pub created_at: Timestamp,
    pub notes: String,
    pub messages: usize,
    pub updates: u32,
}

#[derive(Clone, Debug)]
pub struct FakeCrm {
    pub kind: CrmKind,
    /// Contacts and the instant they become visible to searches.
    pub contacts: Vec<(Contact, Timestamp)>,
    pub records: Vec<CrmRecord>,
    pub faults: VecDeque<Fault>,
    /// Faults for writes only (taken before `faults` when the op is a write).
    pub write_faults: VecDeque<Fault>,
    pub search_lag_ms: i64,
    pub find_lag_ms: i64,
    pub unauthorized: bool,
    pub requests: usize,
    /// The credential the shell would send this CRM (never given to the engine).
    pub secret: String,
    /// The CRM's own clock: the rep's machine may jump back, the CRM's servers do not.
    clock: Timestamp,
    next: u64,
    prefix: String,
}

impl FakeCrm {
    pub fn new(kind: CrmKind, prefix: &str) -> FakeCrm {
        let caps = calltrail_core::crm::capabilities(kind);
        let lag = if caps.exact_marker_lookup { 0 } else { caps.search_lag_ms.min(30_000) };
        FakeCrm {
            kind,
            contacts: Vec::new(),
            records: Vec::new(),
            faults: VecDeque::new(),
            write_faults: VecDeque::new(),
            search_lag_ms: lag,
            find_lag_ms: lag,
            unauthorized: false,
            requests: 0,
            secret: format!("tok-{prefix}-S3CR3T-9f7c2a"),
            clock: Timestamp(i64::MIN),
            next: 0,
            prefix: prefix.into(),
        }
    }

    fn id(&mut self, what: &str) -> RecordId {
        self.next += 1;
        RecordId::new(format!("{}-{what}-{}", self.prefix, self.next))
    }

    pub fn add_contact(&mut self, id: &str, name: &str, phone: &str, created_at: Timestamp) -> Contact {
        let c = contact(id, name, "Contact", phone, created_at);
        self.contacts.push((c.clone(), created_at));
        c
    }

    pub fn add(&mut self, c: Contact) {
        let at = c.created_at.unwrap_or(Timestamp(0));
        self.contacts.push((c, at));
    }

    /// The CRM no longer has contact `id`: deleted, or the losing side of a merge. Logs to it
    /// are refused from now on, as the CRMs refuse an association with an id they do not know.
    pub fn remove_contact(&mut self, id: &str) {
        self.contacts.retain(|(c, _)| c.id.as_str() != id);
    }

    /// Contact `from` merged into `into`: `from` is gone and `into` has its numbers too.
    pub fn merge(&mut self, from: &str, into: &str) {
        let phones: Vec<String> = self.contacts.iter().filter(|(c, _)| c.id.as_str() == from).flat_map(|(c, _)| c.phones.to_vec()).collect();
        self.remove_contact(from);
        if let Some((c, _)) = self.contacts.iter_mut().find(|(c, _)| c.id.as_str() == into) {
            let mut all = c.phones.to_vec();
            all.extend(phones);
            c.phones = all.into();
        }
    }

    fn has_contact(&self, id: &RecordId) -> bool {
        self.contacts.iter().any(|(c, _)| &c.id == id)
    }

    pub fn with_marker(&self, marker: &str) -> Vec<&CrmRecord> {
        self.records.iter().filter(|r| r.marker.as_str() == marker).collect()
    }

    pub fn logs_for_call(&self, call: &str) -> Vec<&CrmRecord> {
        self.records.iter().filter(|r| r.call.as_ref().is_some_and(|c| c.as_str() == call)).collect()
    }

    pub fn matching(&self, number: &calltrail_core::phone::E164, at: Timestamp) -> Vec<Contact> {
        self.contacts
            .iter()
            .filter(|(c, visible)| *visible <= at && c.phones.iter().any(|p| phone::matches(p, number, Country::US)))
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Answers one op at `now`, consuming a queued fault if any.
    pub fn execute(&mut self, op: &CrmOp, now: Timestamp) -> Result<CrmOutput, CrmError> {
        self.requests += 1;
        if self.unauthorized {
            return Err(CrmError::Unauthorized { message: "401 invalid token".into() });
        }
        let fault = if op.is_write() { self.write_faults.pop_front().or_else(|| self.faults.pop_front()) } else { self.faults.pop_front() };
        if let Some(f) = fault {
            let write = op.is_write();
            return match f {
                Fault::RateLimited(ms) => Err(CrmError::RateLimited { retry_after_ms: ms, message: "429".into() }),
                Fault::Unauthorized => {
                    self.unauthorized = true;
                    Err(CrmError::Unauthorized { message: "401 invalid token".into() })
                }
                Fault::ServerError if write => Err(CrmError::Unknown { message: "502 on a create".into() }),
                Fault::ServerError | Fault::Offline => Err(CrmError::Transient { message: "503".into() }),
                Fault::Permanent => Err(CrmError::Permanent { message: "400 validation".into() }),
                Fault::Leaky => {
                    let phone = match op {
                        CrmOp::SearchContacts { phone } => phone.as_str().to_owned(),
                        CrmOp::CreateCallLog { log } => log.call.their_number.as_str().to_owned(),
                        _ => String::new(),
                    };
                    let message = format!("502 from upstream: Authorization: Bearer {} (phone {phone})", self.secret);
                    if write {
                        Err(CrmError::Unknown { message })
                    } else {
                        Err(CrmError::Transient { message })
                    }
                }
                Fault::Vendor(status, body) => Err(self.vendor_error(op, status, body)),
                Fault::LostAfterCommit => {
                    let _ = self.apply(op, now);
                    if write {
                        Err(CrmError::Unknown { message: "timeout after send".into() })
                    } else {
                        Err(CrmError::Transient { message: "timeout on a read".into() })
                    }
                }
            };
        }
        self.apply(op, now)
    }

    /// What the real connector makes of `status` and `body` as the answer to every request of
    /// `op`.
    fn vendor_error(&self, op: &CrmOp, status: u16, body: &str) -> CrmError {
        use calltrail_core::crm::{step, Connection, Exchange, HttpResponse, Reply, Secret, Step};
        let conn = Connection { kind: self.kind, base_url: "https://crm.example".into(), token: Secret::new(self.secret.clone()), default_country: Country::US, oauth: false, marker_field: None, owner: None };
        let reply = Reply::Response(HttpResponse { status, headers: vec![("content-type".into(), "application/json".into())], body: body.into() });
        let mut history = Vec::new();
        while history.len() < 20 {
            match step(&conn, op, &history) {
                Step::Send(request) => history.push(Exchange { request, reply: reply.clone() }),
                Step::Done(Err(e)) => return e,
                Step::Done(Ok(out)) => return CrmError::Permanent { message: format!("the connector read {status} as a success: {out:?}") },
            }
        }
        CrmError::Transient { message: "the connector kept asking".into() }
    }

    /// Applies an op for real (also used when a worker dies with a write in flight that the
    /// CRM received).
    pub fn apply(&mut self, op: &CrmOp, now: Timestamp) -> Result<CrmOutput, CrmError> {
        self.clock = self.clock.max(now);
        let now = self.clock;
        match op {
            CrmOp::SearchContacts { phone } => Ok(CrmOutput::Contacts { contacts: self.matching(phone, now) }),
            CrmOp::FindLog { marker, .. } => {
                let lag = self.find_lag_ms;
                let r = self.records.iter().find(|r| &r.marker == marker && r.created_at.plus_ms(lag) <= now);
                Ok(CrmOutput::Found { record: r.map(|r| r.id.clone()) })
            }
            CrmOp::CreateCallLog { log } if !self.has_contact(&log.contact.id) => Err(CrmError::Permanent { message: format!("404 contact {} not found", log.contact.id) }),
            CrmOp::CreateMessageLog { log } if !self.has_contact(&log.contact.id) => Err(CrmError::Permanent { message: format!("404 contact {} not found", log.contact.id) }),
            CrmOp::CreateCallLog { log } => {
                let id = self.id("call");
                self.records.push(CrmRecord {
                    id: id.clone(),
                    marker: log.marker.clone(),
                    what: "call",
                    contact: Some(log.contact.id.clone()),
                    call: Some(log.call.id.clone()),
                    created_at: now,
                    notes: log.call.notes.clone(),
                    messages: 0,
                    updates: 0,
                });
                Ok(CrmOutput::Created { record: id, url: None })
            }
            CrmOp::UpdateCallLog { record, log } => match self.records.iter_mut().find(|r| &r.id == record) {
                Some(r) => {
                    r.notes = log.call.notes.clone();
                    r.updates += 1;
                    Ok(CrmOutput::Updated)
                }
                None => Err(CrmError::Permanent { message: "404".into() }),
            },
            CrmOp::CreateContact { name, phone, marker } => {
                let id = self.id("contact");
                let mut c = contact(id.as_str(), name, "Contact", phone.as_str(), now);
                c.modified_at = Some(now);
                self.contacts.push((c.clone(), now.plus_ms(self.search_lag_ms)));
                self.records.push(CrmRecord {
                    id: id.clone(),
                    marker: marker.clone(),
                    what: "contact",
                    contact: None,
                    call: None,
                    created_at: now,
                    notes: String::new(),
                    messages: 0,
                    updates: 0,
                });
                Ok(CrmOutput::Contact { contact: c })
            }
            CrmOp::CreateMessageLog { log } => {
                let id = self.id("msg");
                self.records.push(CrmRecord {
                    id: id.clone(),
                    marker: log.marker.clone(),
                    what: "messages",
                    contact: Some(log.contact.id.clone()),
                    call: None,
                    created_at: now,
                    notes: String::new(),
                    messages: log.messages.len(),
                    updates: 0,
                });
                Ok(CrmOutput::Created { record: id, url: None })
            }
            CrmOp::UpdateMessageLog { record, log } => match self.records.iter_mut().find(|r| &r.id == record) {
                Some(r) => {
                    r.messages = log.messages.len();
                    r.updates += 1;
                    Ok(CrmOutput::Updated)
                }
                None => Err(CrmError::Permanent { message: "404".into() }),
            },
        }
    }
}

pub fn contact(id: &str, name: &str, ty: &str, phone: &str, created_at: Timestamp) -> Contact {
    Contact {
        id: RecordId::new(id),
        name: name.into(),
        record_type: RecordType::new(ty),
        phones: vec![phone.into()].into(),
        created_at: Some(created_at),
        modified_at: Some(created_at),
        url: None,
    }
}
