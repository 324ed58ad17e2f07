//! Ledger transitions on CRM replies: the exactly-once machinery.
//!
//! Invariants:
//! - a create is sent only from `Attempting`, persisted strictly first (I4);
//! - after an unknown outcome the slot is `Unknown` and the next request for it is a `FindLog`
//!   for its marker; "not found" is believed only once the CRM's search lag has passed (I7);
//! - a 401 parks the integration and keeps its work (I14); a 429 blocks the integration until
//!   `Retry-After` (I13); every other failure counts toward a bound (I15).

use crate::crm::{CrmError, CrmOutput};
use crate::model::{CallId, Contact, IntegrationId, RecordId};

use super::placeholder::{self, CachedPlaceholder};
use super::retry::backoff_ms;
use super::records::CallMatches;
use super::slot::{call_marker, call_slot_key, marker, Mode, SlotKey, SlotState, Subject, Target, Trigger};
use super::{conflict, hygiene, Engine, Notice, OpKind, ProblemKind, StoreName};

impl Engine {
    pub(super) fn on_crm_done(&mut self, req: super::ReqId, result: Result<CrmOutput, CrmError>) {
        let result = if planted!(self, RawCrmErrors) { result } else { result.map_err(hygiene::clean) };
        let Some(f) = self.inflight.remove(&req) else {
            self.problem(ProblemKind::UnknownRequest, format!("reply for request {req} that is not in flight (duplicate or from an earlier boot)"));
            return;
        };
        // Looked up once, and kept for the reset below (nothing between touches the health).
        let mut health = self.health.get_mut(&f.integration);
        if let Some(h) = health.as_deref_mut() {
            h.inflight = h.inflight.saturating_sub(1);
        }
        if let OpKind::Pop { call, feeds } = f.what {
            self.on_pop(call, f.integration, feeds, result);
            return;
        }
        let key = f.slot.clone();
        if let Some(run) = self.run.as_mut() {
            run.touched.insert(key.clone());
        }
        let Some(s) = self.slots.get_mut(&key) else { return };
        s.busy = false;
        if result.is_ok() {
            if let Some(h) = health {
                if h.failures > 0 {
                    h.failures = 0;
                }
            }
        }
        match (f.what, result) {
            (OpKind::Search, Ok(CrmOutput::Contacts { mut contacts })) => {
                super::dedup_by_id(&mut contacts);
                if let Some(number) = self.slot_number(&key) {
                    self.remember_recent(&f.integration, &number, &contacts);
                }
                self.on_search(&key, contacts)
            }
            (OpKind::Search, Ok(other)) => {
                self.problem(ProblemKind::UnexpectedReply, format!("search answered with {}", output_name(&other)));
                self.on_failure(&key, CrmError::Transient { message: "unexpected reply to a search".into() });
            }
            (OpKind::Search, Err(e)) => self.on_failure(&key, e),
            (OpKind::Create { target, rev }, Ok(CrmOutput::Created { record, .. })) => self.on_created(&key, target, Some(rev), record, "logged"),
            // The connector's guard found the leg's record already made, under the same marker,
            // by another place the rep logs from (a second browser, the server): it is adopted,
            // and rewritten only if notes were written here (`crm::guard`).
            (OpKind::Create { target, .. }, Ok(CrmOutput::Found { record: Some(record) })) => self.on_adopted(&key, target, record),
            (OpKind::CreateContact, Ok(CrmOutput::Contact { contact })) => self.on_placeholder_created(&key, contact, "placeholder created"),
            (OpKind::Create { .. } | OpKind::CreateContact, Ok(other)) => {
                // The write may have happened: treat as unknown so the marker is looked for.
                self.problem(ProblemKind::UnexpectedReply, format!("create answered with {}", output_name(&other)));
                self.on_unknown(&key, "unexpected reply to a create".into());
            }
            (OpKind::Create { .. } | OpKind::CreateContact, Err(CrmError::Unknown { message })) => self.on_unknown(&key, message),
            (OpKind::Create { .. }, Err(e)) => {
                if !self.refused_with_reused_match(&key, &e) {
                    self.on_failure(&key, e);
                }
            }
            (OpKind::CreateContact, Err(e)) => self.on_failure(&key, e),
            (OpKind::Find { target }, Ok(CrmOutput::Found { record })) => self.on_found(&key, target, record),
            (OpKind::Find { .. }, Ok(other)) => {
                self.problem(ProblemKind::UnexpectedReply, format!("marker lookup answered with {}", output_name(&other)));
                self.on_find_failed(&key, CrmError::Transient { message: "unexpected reply to a lookup".into() });
            }
            (OpKind::Find { .. }, Err(e)) => self.on_find_failed(&key, e),
            (OpKind::Pop { .. }, _) => {}
            (OpKind::Update { target, count }, Ok(_)) => {
                if let Some(s) = self.slots.get_mut(&key) {
                    if let Some(t) = s.targets.get_mut(target) {
                        t.synced = t.synced.max(count);
                    }
                    s.update_due = None;
                }
                let trigger = self.slots.get(&key).map_or(Trigger::Sms, |s| s.trigger);
                let rec = self.slots.get(&key).and_then(|s| s.targets.get(target)).and_then(|t| t.record.clone());
                self.save_slot(&key);
                let what = if key.starts_with("call|") { format!("call log updated with the notes (revision {count})") } else { format!("conversation log updated ({count} messages)") };
                self.audit(Some(&key), trigger, what, None, rec);
                self.enqueue(&key);
            }
            (OpKind::Update { .. }, Err(e)) => self.on_update_failed(&key, e),
        }
    }

    pub(super) fn on_search(&mut self, key: &SlotKey, mut contacts: Vec<Contact>) {
        let Some(s) = self.slots.get(key) else { return };
        super::dedup_by_id(&mut contacts);
        let integ = s.integration.clone();
        let trigger = s.trigger;
        let is_messages = matches!(s.subject, Subject::Messages { .. });
        let call = s.call_id().cloned();
        // The number is needed only when nothing matched (the placeholder), so it is read then.
        let number = match &s.subject {
            Subject::Call { .. } => None,
            Subject::Messages { their_number, .. } => Some(*their_number),
            Subject::Placeholder { number } => Some(*number),
        };
        if let Some(call) = &call {
            // The latest word on who the caller is in this integration (picks are checked
            // against it).
            self.remember_matches(call, &integ, &contacts, false);
        }
        let Some(placeholders_on) = self.integration(&integ).map(|i| i.placeholder.enabled) else { return };
        if contacts.is_empty() {
            let number = match &call {
                Some(call) => self.calls.get(call).map(|c| c.call.their_number),
                None => number,
            };
            let cached = number.as_ref().and_then(|n| self.placeholders.get(&(integ.clone(), *n))).cloned();
            match (cached, &number) {
                (Some(c), _) if !is_messages => {
                    self.audit(Some(key), trigger, "no match; reusing the placeholder contact", Some(c.id.clone()), None);
                    self.set_targets(key, vec![c]);
                }
                (None, Some(n)) if !is_messages && placeholders_on => {
                    let n = *n;
                    self.audit(Some(key), trigger, "no match; placeholder contact requested", None, None);
                    self.request_placeholder(key, &n);
                }
                _ => {
                    // `NoMatch` waits for the digest to search again while the call is in its
                    // window. Work searched after that window closed (work that waited for a
                    // retry, searched by a late run) has nothing left to wait for: it closes now,
                    // as the next run would close it an hour later.
                    let expiry = super::digest::expiry(&self.settings.digest, self.now);
                    let closed = self.slots.get(key).is_some_and(|s| s.at < expiry);
                    if let Some(s) = self.slots.get_mut(key) {
                        s.state = if closed { SlotState::Skipped { reason: super::digest::NO_MATCH_REASON.into() } } else { SlotState::NoMatch };
                        s.last_error = None;
                    }
                    self.save_slot(key);
                    self.audit(Some(key), trigger, if closed { super::digest::NO_MATCH_REASON } else { "no match" }, None, None);
                }
            }
            return;
        }
        if is_messages {
            let n = contacts.len();
            self.audit(Some(key), trigger, format!("matched {n} contact(s)"), None, None);
            self.set_targets(key, contacts);
            return;
        }
        if contacts.len() == 1 {
            self.audit(Some(key), trigger, "matched", Some(contacts[0].id.clone()), None);
            self.set_targets(key, contacts);
            return;
        }
        let rule = self.integration(&integ).map(|i| i.conflict_rule.clone()).unwrap_or_default();
        match conflict::choose(&contacts, &rule) {
            Some(c) => {
                self.audit(Some(key), trigger, format!("{} matches; rule {:?} chose {}", contacts.len(), rule, c.id), Some(c.id.clone()), None);
                self.set_targets(key, vec![c]);
            }
            None => {
                self.set_state(key, SlotState::Unresolved { candidates: contacts.clone() });
                self.save_slot(key);
                self.audit(Some(key), trigger, format!("{} matches; waiting in the unresolved queue", contacts.len()), None, None);
                let count = self.unresolved_count();
                self.notify(Notice::UnresolvedCount { count });
            }
        }
    }

    /// Fixes the contacts a slot logs to and makes it ready to create now.
    pub(super) fn set_targets(&mut self, key: &SlotKey, contacts: Vec<Contact>) {
        let now = self.now;
        let leg = self.slots.get(key).and_then(|s| s.call_id()).and_then(|id| self.calls.get(id)).and_then(|e| e.call.leg.id.clone());
        let Some(s) = self.slots.get_mut(key) else { return };
        let call = s.call_id().cloned();
        let marker_of = |i: usize, c: &Contact| match &call {
            Some(id) => call_marker(id, leg.as_deref(), i, Some(c)),
            None => marker(key, i, Some(c)),
        };
        s.targets = contacts.into_iter().enumerate().map(|(i, c)| Target { marker: marker_of(i, &c), contact: c, record: None, synced: 0 }).collect();
        s.state = SlotState::Waiting { due: Some(now) };
        // Chosen now (a search, a pick, a resolution); a reuse marks it again (`mark_reused`).
        s.reused = false;
        self.enqueue(key);
        self.save_slot(key);
    }

    pub(super) fn request_placeholder(&mut self, key: &SlotKey, number: &crate::phone::E164) {
        let Some(s) = self.slots.get(key) else { return };
        let integ = s.integration.clone();
        let trigger = s.trigger;
        let ph = placeholder::key(&integ, number);
        if let Some(c) = self.placeholders.get(&(integ.clone(), *number)).cloned() {
            self.set_targets(key, vec![c]);
            return;
        }
        match self.slots.get(&ph).map(|p| p.state.clone()) {
            Some(SlotState::Logged) => {
                let c = self.slots.get(&ph).and_then(|p| p.targets.first()).map(|t| t.contact.clone());
                if let Some(c) = c {
                    self.set_targets(key, vec![c]);
                    return;
                }
            }
            Some(SlotState::Failed { .. } | SlotState::NeedsReview { .. }) => {
                // A person looks at the placeholder; retrying the create from here could duplicate it.
                self.fail(key, "the placeholder contact could not be created".into());
                return;
            }
            Some(_) => {}
            None => {
                let now = self.now;
                let slot = super::Slot {
                    key: ph.clone(),
                    subject: Subject::Placeholder { number: *number },
                    integration: integ,
                    mode: Mode::Placeholder,
                    trigger,
                    state: SlotState::Waiting { due: Some(now) },
                    targets: Vec::new(),
                    attempts: 0,
                    last_error: None,
                    at: now,
                    messages: 0,
                    update_due: None,
                    reused: false,
                    busy: false,
                };
                self.slots.insert(ph.clone(), slot);
                self.save_slot(&ph);
                self.enqueue(&ph);
            }
        }
        self.set_state(key, SlotState::WaitingPlaceholder { placeholder: ph });
        self.save_slot(key);
    }

    fn on_placeholder_created(&mut self, ph: &SlotKey, contact: Contact, how: &'static str) {
        let Some(s) = self.slots.get_mut(ph) else { return };
        let Subject::Placeholder { number } = s.subject.clone() else { return };
        let integ = s.integration.clone();
        let trigger = s.trigger;
        s.targets = vec![Target { marker: marker(ph, 0, None), record: Some(contact.id.clone()), contact: contact.clone(), synced: 0 }];
        s.state = SlotState::Logged;
        self.placeholders.insert((integ.clone(), number), contact.clone());
        let cached = CachedPlaceholder { integration: integ, number, contact: contact.clone() };
        let at = self.now.0;
        // Same batch as the ledger transition, strictly: the cache is what stops a second create.
        self.stage(StoreName::Contacts, cached.to_record(at), true);
        self.save_slot(ph);
        self.audit(Some(ph), trigger, how, Some(contact.id.clone()), Some(contact.id.clone()));
        self.on_placeholder_settled(ph);
    }

    /// Wakes (or fails) the slots waiting on placeholder slot `ph`.
    pub(super) fn on_placeholder_settled(&mut self, ph: &SlotKey) {
        let Some(p) = self.slots.get(ph) else { return };
        if !matches!(p.subject, Subject::Placeholder { .. }) {
            return;
        }
        let state = p.state.clone();
        let contact = p.targets.first().map(|t| t.contact.clone());
        let waiting: Vec<SlotKey> = self
            .slots
            .iter()
            .filter(|(_, s)| matches!(&s.state, SlotState::WaitingPlaceholder { placeholder } if placeholder == ph))
            .map(|(k, _)| k.clone())
            .collect();
        for k in waiting {
            match (&state, &contact) {
                (SlotState::Logged, Some(c)) => self.set_targets(&k, vec![c.clone()]),
                (SlotState::Failed { .. } | SlotState::NeedsReview { .. } | SlotState::Dismissed, _) => {
                    self.fail(&k, "the placeholder contact could not be created".into())
                }
                _ => {}
            }
        }
    }

    /// `rev`: what the create carried (messages, notes revision); `None` when the record was
    /// found by its marker and nobody knows which attempt made it.
    fn on_created(&mut self, key: &SlotKey, target: usize, rev: Option<usize>, record: RecordId, how: &'static str) {
        let Some(s) = self.slots.get_mut(key) else { return };
        let is_call = matches!(s.subject, Subject::Call { .. });
        if let Some(t) = s.targets.get_mut(target) {
            t.record = Some(record.clone());
            // A call log found by marker may predate notes saved since: rewrite it if any were.
            t.synced = rev.unwrap_or(if is_call { 0 } else { s.messages });
        }
        let contact = s.targets.get(target).map(|t| t.contact.id.clone());
        s.last_error = None;
        let logged = s.targets.iter().all(|t| t.record.is_some());
        // Once logged, how the contact was found no longer matters.
        s.reused &= !logged;
        s.state = if logged {
            SlotState::Logged
        } else {
            SlotState::Waiting { due: Some(self.now) }
        };
        let trigger = s.trigger;
        self.save_slot(key);
        self.audit(Some(key), trigger, how, contact, Some(record));
        self.enqueue(key);
    }

    /// The leg's record, made under the same marker by another place the rep logs from: it is
    /// this slot's record now. Notes written here (during the call or after) are written into it
    /// by an update; without any, the record stays as the other place made it.
    fn on_adopted(&mut self, key: &SlotKey, target: usize, record: RecordId) {
        let notes = self.slots.get(key).and_then(|s| s.call_id()).and_then(|c| self.calls.get(c)).is_some_and(|c| !c.call.notes.trim().is_empty());
        if let Some(s) = self.slots.get_mut(key) {
            if notes && s.messages == 0 {
                s.messages = 1;
            }
        }
        self.on_created(key, target, None, record, "already logged under this leg's marker (by another browser or the server): adopted");
    }

    fn on_unknown(&mut self, key: &SlotKey, message: String) {
        let Some(s) = self.slots.get_mut(key) else { return };
        let SlotState::Attempting { target, .. } = s.state.clone() else { return };
        let trigger = s.trigger;
        s.last_error = Some(format!("outcome unknown: {message}"));
        s.state = if planted!(self, BlindRetryAfterUnknown) {
            SlotState::Waiting { due: Some(self.now) }
        } else {
            // The lag counts from when we learnt the outcome is unknown: a slow request may
            // have reached the CRM long after it was sent.
            SlotState::Unknown { target, since: self.now, checks: 0 }
        };
        self.save_slot(key);
        self.audit(Some(key), trigger, format!("outcome unknown ({message}); will look for the marker before retrying"), None, None);
        self.enqueue(key);
    }

    fn on_found(&mut self, key: &SlotKey, target: usize, record: Option<RecordId>) {
        let Some(s) = self.slots.get(key) else { return };
        let SlotState::Unknown { since, .. } = s.state.clone() else { return };
        let integ = s.integration.clone();
        let trigger = s.trigger;
        if let Some(r) = record {
            if let Subject::Placeholder { number } = &s.subject {
                let template = self.integration(&integ).map_or_else(|| "New Lead - {phone}".to_owned(), |i| i.placeholder.template.clone());
                let c = placeholder::contact(r, &template, number);
                self.on_placeholder_created(key, c, "placeholder found by marker after an unknown outcome");
            } else {
                self.on_created(key, target, None, r, "found by marker after an unknown outcome: logged");
            }
            return;
        }
        let caps = self.caps(&integ);
        let trusted = caps.exact_marker_lookup || self.now.since(since.min(self.now)) >= caps.search_lag_ms;
        if trusted {
            if let Some(s) = self.slots.get_mut(key) {
                s.state = SlotState::Waiting { due: Some(self.now) };
                s.update_due = None;
                // A worker that stopped mid-create left no error: say so, which also keeps the
                // next create from skipping the check for a record the CRM may still make.
                s.last_error.get_or_insert_with(|| "outcome unknown: the worker stopped during the create".into());
            }
            self.save_slot(key);
            self.audit(Some(key), Trigger::Reconcile, format!("marker not found after the search lag: creating again (origin {})", trigger.as_str()), None, None);
        } else {
            if let Some(s) = self.slots.get_mut(key) {
                s.update_due = Some(since.min(self.now).plus_ms(caps.search_lag_ms));
                if let SlotState::Unknown { checks, .. } = &mut s.state {
                    *checks = (*checks).max(1);
                }
            }
            self.save_slot(key);
        }
        self.enqueue(key);
    }

    fn on_find_failed(&mut self, key: &SlotKey, e: CrmError) {
        let Some(s) = self.slots.get(key) else { return };
        let integ = s.integration.clone();
        if self.charge_failure(key, &integ, &e) {
            return;
        }
        let max = self.opts.max_reconcile_checks;
        let now = self.now;
        let Some(s) = self.slots.get_mut(key) else { return };
        let SlotState::Unknown { target, since, checks } = s.state.clone() else { return };
        let checks = checks + 1;
        s.last_error = Some(format!("marker lookup failed: {e}"));
        if checks >= max {
            let reason = format!("could not tell whether the record exists after {checks} lookups: {e}");
            s.state = SlotState::NeedsReview { reason: reason.clone() };
            self.save_slot(key);
            self.audit(Some(key), Trigger::Reconcile, reason, None, None);
            self.on_placeholder_settled(key);
            return;
        }
        s.state = SlotState::Unknown { target, since, checks };
        s.update_due = Some(now.plus_ms(backoff_ms(&integ, checks)));
        self.save_slot(key);
        self.audit(Some(key), Trigger::Reconcile, format!("marker lookup failed: {e}"), None, None);
        self.enqueue(key);
    }

    fn on_update_failed(&mut self, key: &SlotKey, e: CrmError) {
        let Some(s) = self.slots.get(key) else { return };
        let integ = s.integration.clone();
        let trigger = s.trigger;
        // A refused update fails below, whatever the count: there is no retry to space out, so
        // the integration is not backed off for it.
        if !matches!(e, CrmError::Permanent { .. }) && self.charge_failure(key, &integ, &e) {
            return;
        }
        let max = self.opts.max_attempts;
        let now = self.now;
        let Some(s) = self.slots.get_mut(key) else { return };
        s.attempts += 1;
        s.last_error = Some(format!("update failed: {e}"));
        if s.attempts >= max || matches!(e, CrmError::Permanent { .. }) {
            // The records exist; only the latest messages are missing from them.
            let reason = format!("the log could not be updated with the latest content: {e}");
            s.state = SlotState::Failed { reason: reason.clone() };
            self.save_slot(key);
            self.audit(Some(key), trigger, reason, None, None);
            return;
        }
        let attempts = s.attempts;
        s.update_due = Some(now.plus_ms(backoff_ms(&integ, attempts)));
        self.save_slot(key);
        self.audit(Some(key), trigger, format!("update failed: {e}"), None, None);
        self.enqueue(key);
    }

    /// A search or a create known not to have taken effect failed.
    pub(super) fn on_failure(&mut self, key: &SlotKey, e: CrmError) {
        let Some(s) = self.slots.get(key) else { return };
        let integ = s.integration.clone();
        let trigger = s.trigger;
        let mode = s.mode;
        match &e {
            CrmError::Unauthorized { message } => {
                // Parked: the work is kept as it was and resumes when credentials change.
                if let Some(s) = self.slots.get_mut(key) {
                    s.state = SlotState::Waiting { due: Some(self.now) };
                    s.last_error = Some(e.to_string());
                }
                self.park(&integ, message.clone());
                self.save_slot(key);
                self.audit(Some(key), trigger, format!("not authorised: {message}; integration parked"), None, None);
                self.enqueue(key);
                return;
            }
            CrmError::Permanent { message } => {
                self.fail(key, format!("refused by the CRM: {message}"));
                return;
            }
            CrmError::RateLimited { retry_after_ms, .. } => self.rate_limited(&integ, *retry_after_ms),
            CrmError::Transient { .. } | CrmError::Unknown { .. } => self.bump_backoff(&integ),
        }
        let max = self.opts.max_attempts;
        let now = self.now;
        let blocked = self.health.get(&integ).and_then(|h| h.blocked_until);
        let Some(s) = self.slots.get_mut(key) else { return };
        s.attempts += 1;
        s.last_error = Some(e.to_string());
        if s.attempts >= max {
            let reason = format!("gave up after {} attempts: {e}", s.attempts);
            self.fail(key, reason);
            return;
        }
        // Automatic, active, SMS and digest work is left for the digest (seed 000); work a
        // person asked for, and placeholders others wait on, retry after the backoff.
        let retry_soon = matches!(mode, Mode::Manual | Mode::Placeholder) || matches!(trigger, Trigger::Retry | Trigger::Resolved);
        s.state = if retry_soon {
            let b = now.plus_ms(backoff_ms(&integ, s.attempts));
            SlotState::Waiting { due: Some(blocked.map_or(b, |t| t.max(b))) }
        } else {
            SlotState::Waiting { due: None }
        };
        self.save_slot(key);
        self.audit(Some(key), trigger, format!("failed, left for {}: {e}", if retry_soon { "a retry" } else { "the digest" }), None, None);
        self.enqueue(key);
    }

    /// Charges `integ` for failure `e` of a lookup or an update of slot `key`: a 401 parks the
    /// integration and re-queues the slot, which then waits with the rest of the integration's
    /// work (`true`: the caller has nothing more to do); a 429 blocks the integration until
    /// `Retry-After`; anything else backs it off.
    fn charge_failure(&mut self, key: &SlotKey, integ: &IntegrationId, e: &CrmError) -> bool {
        match e {
            CrmError::Unauthorized { message } => {
                self.park(integ, message.clone());
                self.enqueue(key);
                return true;
            }
            CrmError::RateLimited { retry_after_ms, .. } => self.rate_limited(integ, *retry_after_ms),
            _ => self.bump_backoff(integ),
        }
        false
    }

    fn rate_limited(&mut self, integ: &IntegrationId, retry_after_ms: Option<i64>) {
        let now = self.now;
        let h = self.health.or_default(integ.clone());
        h.failures = h.failures.saturating_add(1);
        let asked = retry_after_ms.filter(|ms| *ms >= 0);
        let until = now.plus_ms(asked.unwrap_or_else(|| backoff_ms(integ, h.failures)));
        h.blocked_until = Some(h.blocked_until.map_or(until, |t| t.max(until)));
        if asked.is_some() {
            h.retry_after_until = Some(h.retry_after_until.map_or(until, |t| t.max(until)));
        }
        self.save_health(integ);
    }

    fn bump_backoff(&mut self, integ: &IntegrationId) {
        let now = self.now;
        let h = self.health.or_default(integ.clone());
        h.failures = h.failures.saturating_add(1);
        let until = now.plus_ms(backoff_ms(integ, h.failures.saturating_sub(1)));
        h.blocked_until = Some(h.blocked_until.map_or(until, |t| t.max(until)));
        self.save_health(integ);
    }

    pub(super) fn park(&mut self, integ: &IntegrationId, reason: String) {
        let h = self.health.or_default(integ.clone());
        if h.parked {
            return;
        }
        h.parked = true;
        if let Some(run) = self.run.as_mut() {
            // Every slot of the integration counts as settled now.
            run.recheck_all = true;
        }
        self.save_health(integ);
        self.audit(None, Trigger::Auto, format!("integration {integ} parked: {reason}"), None, None);
        self.notify(Notice::IntegrationParked { integration: integ.clone(), reason });
    }

    /// Keeps `contacts` as the call's matches in `integ` and tells the panel.
    /// `persist`: write the call record now (relaxed: a cache); otherwise the matches go with
    /// the call's next write.
    pub(super) fn remember_matches(&mut self, call: &CallId, integ: &IntegrationId, contacts: &[Contact], persist: bool) {
        let now = self.now;
        let Some(entry) = self.calls.get_mut(call) else { return };
        if entry.matches.get(integ).is_some_and(|m| *m.contacts == *contacts) {
            return;
        }
        let contacts: std::sync::Arc<[Contact]> = contacts.into();
        entry.matches.insert(integ.clone(), CallMatches { at: now, contacts: contacts.clone(), reused: false });
        if persist {
            self.save_call_relaxed(call);
        }
        self.notify(Notice::CallMatches { call: call.clone(), integration: integ.clone(), contacts });
    }

    /// The call pop's answer: remember the matches; a slot waiting for them uses them now.
    fn on_pop(&mut self, call: CallId, integ: IntegrationId, feeds: bool, result: Result<CrmOutput, CrmError>) {
        let key = call_slot_key(&call, &integ);
        let contacts = match result {
            Ok(CrmOutput::Contacts { mut contacts }) => {
                super::dedup_by_id(&mut contacts);
                self.audit_call(&call, &integ, Trigger::Pop, format!("call pop: {} contact(s) matched", contacts.len()));
                Some(contacts)
            }
            Ok(other) => {
                self.problem(ProblemKind::UnexpectedReply, format!("call pop search answered with {}", output_name(&other)));
                None
            }
            Err(e) => {
                match &e {
                    CrmError::Unauthorized { message } => self.park(&integ, message.clone()),
                    CrmError::RateLimited { retry_after_ms, .. } => self.rate_limited(&integ, *retry_after_ms),
                    _ => {}
                }
                self.audit_call(&call, &integ, Trigger::Pop, format!("call pop failed: {e}"));
                None
            }
        };
        if let Some(c) = &contacts {
            if let Some(number) = self.calls.get(&call).map(|e| e.call.their_number) {
                self.remember_recent(&integ, &number, c);
            }
            self.remember_matches(&call, &integ, c, true);
        }
        if !feeds {
            return;
        }
        // The slot made at hang-up waited for this answer instead of searching.
        let waiting = self
            .slots
            .get(&key)
            .is_some_and(|s| s.busy && s.targets.is_empty() && matches!(s.state, SlotState::Waiting { due: Some(_) }));
        if !waiting {
            return;
        }
        if let Some(s) = self.slots.get_mut(&key) {
            s.busy = false;
        }
        if let Some(run) = self.run.as_mut() {
            run.touched.insert(key.clone());
        }
        match contacts {
            Some(c) => {
                let trigger = self.slots.get(&key).map_or(Trigger::Auto, |s| s.trigger);
                self.audit(Some(&key), trigger, "using the call pop's matches (no second search)", None, None);
                self.on_search(&key, c);
            }
            // No answer: the slot searches for itself.
            None => self.enqueue(&key),
        }
    }
}

fn output_name(o: &CrmOutput) -> &'static str {
    match o {
        CrmOutput::Contacts { .. } => "contacts",
        CrmOutput::Created { .. } => "created",
        CrmOutput::Updated => "updated",
        CrmOutput::Found { .. } => "found",
        CrmOutput::Contact { .. } => "contact",
    }
}
