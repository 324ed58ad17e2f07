//! Inputs about calls, messages and people's choices: where slots are born and change mode.
//!
//! Invariants: the same call seen twice (or in two tabs) is one call with one slot per
//! integration (I8); a bad event becomes a [`Problem`](super::Problem), never a panic and never a
//! lost call; manual logging happens at most once per integration.

use crate::model::{Call, CallId, CallResult, Contact, CrmKind, Device, IntegrationId, Message, Timestamp};
use crate::store::{Snapshot, StoreName};

use super::records::CallEntry;
use super::slot::{call_slot_key, Mode, Slot, SlotKey, SlotState, Subject, Trigger};
use super::{conflict, messages, shared, Engine, Notice, ProblemKind, Resolution};

fn new_slot(key: SlotKey, subject: Subject, integration: IntegrationId, mode: Mode, trigger: Trigger, state: SlotState, at: Timestamp) -> Slot {
    Slot { key, subject, integration, mode, trigger, state, targets: Vec::new(), attempts: 0, last_error: None, at, messages: 0, update_due: None, reused: false, busy: false }
}

/// How far back a call the engine does not know may have ended for a softphone's details to log
/// it: every call that ended since is among the records a restore reads (it reaches back at least
/// 26 hours), so one Calltrail saw would be known.
const KNOWN_CALLS_REACH_MS: i64 = 24 * 60 * 60 * 1000;

/// How much later than the call's first answer a device's own answer may come and still be
/// that first answer, told by another stream (presence stamps it when it arrives).
const TAKE_OVER_MS: i64 = 5_000;

/// Why a CRM that logs a call itself is skipped, as the history says it.
fn logged_by_words(crm: CrmKind) -> String {
    format!("{} logs this call itself (its calling extension made the call's record)", crm.name())
}

impl Engine {
    pub(super) fn on_call(&mut self, mut call: Call, ended: bool) {
        let now = self.now;
        if let (Some(e), true) = (call.ended_at, call.answered_at.is_some_and(|a| a < call.started_at)) {
            let _ = e;
            self.problem(ProblemKind::BadInput, format!("call {}: answered before it started; answer time dropped", call.id));
            call.answered_at = None;
        }
        if let Some(e) = call.ended_at {
            if e < call.started_at {
                self.problem(ProblemKind::BadInput, format!("call {}: ends before it starts; end taken as the start", call.id));
                call.ended_at = Some(call.started_at);
            }
        }
        if ended && call.ended_at.is_none() {
            self.problem(ProblemKind::BadInput, format!("call {}: ended without an end time; using now", call.id));
            call.ended_at = Some(now.max(call.started_at));
        }
        let id = call.id.clone();
        let mut live_ended = false;
        let was_ended = match self.calls.get_mut(&id) {
            Some(entry) => {
                let c = &mut entry.call;
                if c.their_number != call.their_number {
                    self.effects.push_back(super::Effect::Problem(super::Problem {
                        kind: ProblemKind::BadInput,
                        detail: format!("call {id}: the other party's number changed; keeping the first"),
                    }));
                }
                if !call.notes.is_empty() {
                    c.notes = call.notes;
                }
                // A device that answers well after the call's first answer took over a call
                // the rep answered elsewhere (RingCentral's call switch): it did not carry the
                // leg from the start, so it cannot log it first.
                let mut leg = call.leg;
                if leg.device == Device::Here && c.answered_at.zip(call.answered_at).is_some_and(|(first, this)| this > first.plus_ms(TAKE_OVER_MS)) {
                    leg.device = Device::Elsewhere;
                }
                // The leg's answer is the first one heard of: presence stamps every
                // `CallConnected` (after a hold too) when it arrives, and a device that took
                // the call over answers later again.
                c.answered_at = match (c.answered_at, call.answered_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if !entry.ended {
                    c.ended_at = call.ended_at.or(c.ended_at);
                } else if ended && shared::is_live_elsewhere(c) {
                    // The end first heard of came from a device that only rang; this is the
                    // call's real end, after the rep answered on another device.
                    if let Some(e) = call.ended_at.filter(|e| c.answered_at.is_some_and(|a| *e > a)) {
                        c.ended_at = Some(e);
                        live_ended = true;
                    }
                }
                c.recording_url = call.recording_url.or(c.recording_url.take());
                c.our_number = call.our_number.or(c.our_number.take());
                c.logged_by = c.logged_by.or(call.logged_by);
                c.leg.merge(&leg);
                if call.result != crate::model::CallResult::Unknown {
                    c.result = call.result;
                }
                entry.ended
            }
            None => {
                self.calls.insert(id.clone(), CallEntry::new(call));
                false
            }
        };
        if live_ended {
            self.wake_live_call(&id);
        } else if ended && was_ended {
            self.problem(ProblemKind::Duplicate, format!("call {id} ended again; merged into the first"));
        }
        if ended && !was_ended {
            if let Some(e) = self.calls.get_mut(&id) {
                e.ended = true;
            }
            self.make_slots(&id);
        }
        self.save_call(&id);
    }

    /// The outbox: one slot per integration, in the same strict batch as the ended call.
    fn make_slots(&mut self, id: &CallId) {
        let Some(entry) = self.calls.get(id) else { return };
        let (log_now, notes_opened, ended_at) = (entry.log_now, entry.notes_opened, entry.at());
        let now = self.now;
        let delay = i64::from(self.settings.active_call_delay_mins);
        let integrations: Vec<(IntegrationId, bool, CrmKind)> = self.settings.integrations.iter().map(|i| (i.id.clone(), i.auto_log, i.kind)).collect();
        let owner = entry.call.logged_by;
        for (integ_id, auto_log, kind) in integrations {
            let key = call_slot_key(id, &integ_id);
            if self.slots.contains_key(&key) {
                continue;
            }
            let subject = Subject::Call { call: id.clone() };
            // Read again per integration: handling one slot may change the call's entry.
            let entry = self.calls.get(id);
            let picks = entry.and_then(|e| e.picks.get(&integ_id)).filter(|p| !p.is_empty()).cloned();
            let fresh = entry.and_then(|e| e.matches.get(&integ_id)).filter(|m| m.is_fresh(now)).map(|m| (m.contacts.clone(), m.reused));
            let owned = owner.filter(|o| *o == kind).map(logged_by_words);
            let call = entry.map(|e| &e.call);
            // An inbound call nobody answered, as far as this device knows: decided after a
            // short wait (`shared`), or now where there is none to give.
            let settle = self.opts.unanswered_settle_ms;
            let unanswered = call.is_some_and(shared::is_unanswered);
            let not_the_reps = call.and_then(shared::not_the_reps);
            let (mode, trigger, state, why) = if let Some(reason) = owned {
                (Mode::Auto, Trigger::Auto, SlotState::Skipped { reason }, "the CRM logs this call itself")
            } else if let (Some(reason), 0) = (not_the_reps, settle) {
                (Mode::Auto, Trigger::Auto, SlotState::Skipped { reason: reason.into() }, "not logged: not the rep's leg of a shared call")
            } else if picks.is_some() {
                let due = if log_now { now } else { ended_at.plus_mins(delay).max(now) };
                (Mode::Active, Trigger::Active, SlotState::Waiting { due: Some(due) }, "active-call picks: logged after the delay")
            } else if !auto_log {
                (Mode::Auto, Trigger::Auto, SlotState::Skipped { reason: "automatic logging is off".into() }, "automatic logging off")
            } else if notes_opened {
                (Mode::Digest, Trigger::Digest, SlotState::Waiting { due: None }, "notes opened during the call: left for the digest")
            } else if unanswered && settle > 0 {
                let due = ended_at.plus_ms(settle).max(now);
                (Mode::Auto, Trigger::Auto, SlotState::Waiting { due: Some(due) }, "unanswered here: decided after a short wait (another device or a colleague may have answered)")
            } else {
                (Mode::Auto, Trigger::Auto, SlotState::Waiting { due: Some(now) }, "call ended: automatic logging")
            };
            let waiting_now = matches!(state, SlotState::Waiting { due: Some(d) } if d <= now);
            self.slots.insert(key.clone(), new_slot(key.clone(), subject, integ_id.clone(), mode, trigger, state, ended_at));
            if let Some(p) = picks {
                self.set_targets(&key, p);
                // set_targets makes it due now; active logs wait for the delay.
                if !log_now {
                    let due = ended_at.plus_mins(delay).max(now);
                    self.set_state(&key, SlotState::Waiting { due: Some(due) });
                }
            }
            self.save_slot(&key);
            self.audit(Some(&key), trigger, why, None, None);
            if mode == Mode::Auto && waiting_now {
                // The call pop already asked the CRM: use its answer while it is fresh, or wait
                // for it if it is still on its way, rather than asking again.
                if let Some((contacts, reused)) = fresh {
                    self.audit(Some(&key), trigger, "using the call pop's matches (no second search)", None, None);
                    self.on_search(&key, contacts.to_vec());
                    if reused {
                        self.mark_reused(&key);
                    }
                    continue;
                }
                if self.wait_for_pop(id, &integ_id) {
                    if let Some(s) = self.slots.get_mut(&key) {
                        s.busy = true;
                    }
                    continue;
                }
            }
            self.enqueue(&key);
        }
    }

    /// A softphone's logger or call log about a call (see [`super::Input::CallDetails`]).
    /// Whether the call is known now (a manual log may follow).
    pub(super) fn on_details(&mut self, call: Call) -> bool {
        let id = call.id.clone();
        let Some(entry) = self.calls.get_mut(&id) else {
            // First news of the call. Only a finished call is logged from it, and only a recent
            // one: an older call may have been logged before the records a restore reads.
            match call.ended_at {
                Some(e) if self.now.since(e) <= KNOWN_CALLS_REACH_MS => {
                    self.on_call(call, true);
                    return true;
                }
                _ => self.problem(ProblemKind::UnknownCall, format!("details of call {id}, which Calltrail never saw end recently: not logged")),
            }
            return false;
        };
        let c = &mut entry.call;
        let before = (c.result, c.recording_url.clone(), c.voicemail_url.clone(), c.ai_note.clone(), c.transcript.clone(), c.notes.clone());
        // The broadcast events' times are the softphone's own: the logger only fills gaps.
        c.answered_at = c.answered_at.or(call.answered_at);
        if call.result != CallResult::Unknown {
            c.result = call.result;
        }
        let keep = |new: Option<String>, old: &mut Option<String>| {
            if new.is_some() {
                *old = new;
            }
        };
        keep(call.recording_url, &mut c.recording_url);
        keep(call.voicemail_url, &mut c.voicemail_url);
        keep(call.ai_note, &mut c.ai_note);
        keep(call.transcript, &mut c.transcript);
        if !call.notes.is_empty() {
            c.notes = call.notes;
        }
        c.logged_by = c.logged_by.or(call.logged_by);
        let changed = before != (c.result, c.recording_url.clone(), c.voicemail_url.clone(), c.ai_note.clone(), c.transcript.clone(), c.notes.clone());
        let (ended, end) = (entry.ended, call.ended_at);
        if ended {
            if changed {
                self.call_changed(&id, "details from the softphone");
            }
            self.save_call(&id);
        } else if let Some(e) = end {
            let mut done = entry.call.clone();
            done.ended_at = Some(e.max(done.answered_at.unwrap_or(done.started_at)).max(done.started_at));
            self.on_call(done, true);
        } else {
            self.save_call(&id);
        }
        true
    }

    pub(super) fn on_notes(&mut self, id: CallId, notes: Option<String>) {
        let Some(entry) = self.calls.get_mut(&id) else {
            self.problem(ProblemKind::UnknownCall, format!("notes for unknown call {id}"));
            return;
        };
        entry.notes_opened = true;
        let mut changed = false;
        if let Some(n) = notes {
            changed = entry.call.notes != n;
            entry.call.notes = n;
        }
        let ended = entry.ended;
        if ended && changed {
            self.call_changed(&id, "notes saved");
        }
        if ended {
            // Opened after hang-up: automatic slots that have not started yet move to the digest.
            let keys: Vec<SlotKey> = self
                .slots
                .iter()
                .filter(|(_, s)| s.call_id() == Some(&id) && s.mode == Mode::Auto && !s.busy && s.targets.is_empty())
                .filter(|(_, s)| matches!(s.state, SlotState::Waiting { due: Some(_) }))
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                if let Some(s) = self.slots.get_mut(&k) {
                    s.mode = Mode::Digest;
                    s.trigger = Trigger::Digest;
                    s.state = SlotState::Waiting { due: None };
                }
                self.save_slot(&k);
                self.audit(Some(&k), Trigger::Digest, "notes opened: left for the digest", None, None);
            }
        }
        self.save_call(&id);
    }

    pub(super) fn on_picked(&mut self, id: CallId, integ: IntegrationId, mut contacts: Vec<Contact>) {
        if self.integration(&integ).is_none() {
            self.problem(ProblemKind::UnknownIntegration, format!("picks for unknown integration {integ}"));
            return;
        }
        super::dedup_by_id(&mut contacts);
        if !self.calls.contains_key(&id) {
            self.problem(ProblemKind::UnknownCall, format!("picks for unknown call {id}"));
            self.notify(Notice::PicksRefused { call: id.clone(), integration: integ.clone(), reason: "call not found".into() });
            return;
        }
        // Only contacts that matched the caller in this integration (PRODUCT.md, mode 3), and
        // our own copies of them: the page names contacts by id, it does not define them.
        if !contacts.is_empty() {
            match self.allowed_picks(&id, &integ, &contacts) {
                Ok(ours) => contacts = ours,
                Err(reason) => {
                    self.problem(ProblemKind::BadInput, format!("call {id}: picks in {integ} refused: {reason}"));
                    self.notify(Notice::PicksRefused { call: id.clone(), integration: integ.clone(), reason });
                    return;
                }
            }
        }
        let Some(entry) = self.calls.get_mut(&id) else { return };
        if contacts.is_empty() {
            entry.picks.remove(&integ);
        } else {
            entry.picks.insert(integ.clone(), contacts.clone());
        }
        let (ended, log_now, ended_at) = (entry.ended, entry.log_now, entry.at());
        if ended {
            let key = call_slot_key(&id, &integ);
            let changeable = self.slots.get(&key).is_some_and(|s| {
                !s.busy && s.targets.iter().all(|t| t.record.is_none()) && matches!(s.state, SlotState::Waiting { .. } | SlotState::NoMatch | SlotState::Unresolved { .. })
            });
            if !changeable || contacts.is_empty() {
                self.problem(ProblemKind::BadInput, format!("call {id} is already being logged in {integ}; picks ignored"));
                let reason = "the call is already being logged in this integration".to_owned();
                self.notify(Notice::PicksRefused { call: id.clone(), integration: integ.clone(), reason });
            } else {
                if let Some(s) = self.slots.get_mut(&key) {
                    s.mode = Mode::Active;
                    s.trigger = Trigger::Active;
                }
                self.set_targets(&key, contacts);
                if !log_now {
                    let due = ended_at.plus_mins(i64::from(self.settings.active_call_delay_mins)).max(self.now);
                    self.set_state(&key, SlotState::Waiting { due: Some(due) });
                    self.save_slot(&key);
                    self.enqueue(&key);
                }
            }
        }
        self.save_call(&id);
    }

    pub(super) fn on_log_now(&mut self, id: CallId) {
        let now = self.now;
        let Some(entry) = self.calls.get_mut(&id) else {
            self.problem(ProblemKind::UnknownCall, format!("log now for unknown call {id}"));
            return;
        };
        entry.log_now = true;
        let keys: Vec<SlotKey> = self
            .slots
            .iter()
            .filter(|(_, s)| s.call_id() == Some(&id) && s.mode == Mode::Active)
            .filter(|(_, s)| matches!(s.state, SlotState::Waiting { due: Some(t) } if t > now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.set_state(&k, SlotState::Waiting { due: Some(now) });
            self.save_slot(&k);
            self.enqueue(&k);
        }
        self.save_call(&id);
    }

    pub(super) fn on_manual(&mut self, id: CallId, integrations: Vec<IntegrationId>, stored: Snapshot) {
        // Records of an old call the restore did not read: the shell loaded them for us.
        for r in stored.records(StoreName::Calls) {
            if let Some(c) = CallEntry::from_record(r) {
                if c.call.id == id && !self.calls.contains_key(&id) {
                    self.calls.insert(id.clone(), c);
                }
            }
        }
        for r in stored.records(StoreName::Slots) {
            if let Some(s) = Slot::from_record(r) {
                if s.call_id() == Some(&id) && !self.slots.contains_key(&s.key) {
                    self.slots.insert(s.key.clone(), s);
                }
            }
        }
        let now = self.now;
        for integ in integrations {
            let refuse = |reason: String| Notice::ManualRefused { call: id.clone(), integration: integ.clone(), reason };
            if self.integration(&integ).is_none() {
                self.notify(refuse(format!("integration {integ} is not connected")));
                continue;
            }
            let Some(entry) = self.calls.get(&id) else {
                self.notify(refuse("call not found".into()));
                continue;
            };
            if !entry.ended {
                self.notify(refuse("the call is still in progress".into()));
                continue;
            }
            let key = call_slot_key(&id, &integ);
            let at = entry.at();
            let kind = self.integration(&integ).map(|i| i.kind);
            let owned = entry.call.logged_by.filter(|o| Some(*o) == kind).map(logged_by_words);
            let reason = owned.or_else(|| match self.slots.get(&key) {
                None => None,
                Some(s) => match &s.state {
                    SlotState::Logged => Some(format!("already logged (record {})", s.records().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "))),
                    SlotState::Attempting { .. } | SlotState::Unknown { .. } | SlotState::WaitingPlaceholder { .. } => Some("already being logged".into()),
                    SlotState::Waiting { due: Some(_) } => Some("already being logged".into()),
                    _ if s.busy => Some("already being logged".into()),
                    SlotState::Unresolved { .. } => Some("waiting in the unresolved queue: choose a contact there".into()),
                    SlotState::NeedsReview { reason } => Some(format!("needs review first: {reason}")),
                    _ => None,
                },
            });
            if let Some(reason) = reason {
                self.notify(refuse(reason));
                continue;
            }
            if !self.slots.contains_key(&key) {
                let s = new_slot(key.clone(), Subject::Call { call: id.clone() }, integ.clone(), Mode::Manual, Trigger::Manual, SlotState::Waiting { due: None }, at);
                self.slots.insert(key.clone(), s);
            }
            if let Some(s) = self.slots.get_mut(&key) {
                s.mode = Mode::Manual;
                s.trigger = Trigger::Manual;
                s.attempts = 0;
                if !matches!(s.state, SlotState::Waiting { .. }) {
                    s.targets.clear();
                }
                s.state = SlotState::Waiting { due: Some(now) };
            }
            self.save_slot(&key);
            self.audit(Some(&key), Trigger::Manual, "manual logging requested", None, None);
            self.notify(Notice::ManualAccepted { call: id.clone(), integration: integ.clone() });
            self.enqueue(&key);
        }
        self.save_call_if_changed(&id);
    }

    pub(super) fn on_message(&mut self, m: Message) {
        if !self.message_ids.insert(m.id.clone()) {
            self.problem(ProblemKind::Duplicate, format!("message {} seen again", m.id));
            return;
        }
        let now = self.now;
        let day = self.conversation_day(m.at);
        let rec = crate::store::Record { key: m.id.clone(), open: 0, at: m.at.0, value: serde_json::to_string(&m).unwrap_or_else(|_| "null".to_owned()) };
        self.stage(StoreName::Messages, rec, true);
        let list_key = (m.conversation.clone(), day.clone());
        messages::insert_sorted(self.messages.entry(list_key.clone()).or_default(), m.clone());
        let count = self.messages.get(&list_key).map_or(0, Vec::len);
        let integrations: Vec<_> = self.settings.integrations.iter().filter(|i| i.log_messages).map(|i| i.id.clone()).collect();
        for integ in integrations {
            let key = messages::slot_key(&integ, &m.conversation, &day);
            match self.slots.get_mut(&key) {
                Some(s) => {
                    s.messages = count;
                    if s.state == SlotState::Logged {
                        s.update_due = None;
                    }
                }
                None => {
                    let subject = Subject::Messages {
                        conversation: m.conversation.clone(),
                        day: day.clone(),
                        kind: m.kind,
                        their_number: m.their_number,
                        our_number: m.our_number,
                    };
                    let mut s = new_slot(key.clone(), subject, integ.clone(), Mode::Messages, Trigger::Sms, SlotState::Waiting { due: Some(now) }, m.at);
                    s.messages = count;
                    self.slots.insert(key.clone(), s);
                    self.audit(Some(&key), Trigger::Sms, "first message of the conversation-day", None, None);
                }
            }
            self.save_slot(&key);
            self.enqueue(&key);
        }
    }

    pub(super) fn on_resolved(&mut self, resolutions: Vec<(SlotKey, Resolution)>) {
        for (key, res) in resolutions {
            // A slot under review or failed waits for a person too: they may dismiss it (or
            // log the call again from the history).
            let dismissable = self.slots.get(&key).is_some_and(|s| matches!(s.state, SlotState::NeedsReview { .. } | SlotState::Failed { .. }));
            if dismissable && res == Resolution::Dismiss {
                self.set_state(&key, SlotState::Dismissed);
                self.save_slot(&key);
                self.audit(Some(&key), Trigger::Resolved, "dismissed", None, None);
                continue;
            }
            let candidates = match self.slots.get(&key).map(|s| &s.state) {
                Some(SlotState::Unresolved { candidates }) => candidates.clone(),
                other => {
                    let reason = if matches!(other, Some(SlotState::Logged)) { "already logged" } else { "not waiting for a choice any more" };
                    self.problem(ProblemKind::UnknownSlot, format!("{key} is not in the unresolved queue"));
                    self.refuse_resolution(&key, reason);
                    continue;
                }
            };
            if let Some(s) = self.slots.get_mut(&key) {
                s.trigger = Trigger::Resolved;
                s.attempts = 0;
            }
            match res {
                Resolution::Contacts { ids } => {
                    let chosen: Vec<Contact> = candidates.iter().filter(|c| ids.contains(&c.id)).cloned().collect();
                    if chosen.is_empty() || chosen.len() != ids.len() {
                        self.problem(ProblemKind::BadInput, format!("{key}: chosen contacts are not among the candidates"));
                        self.refuse_resolution(&key, "the chosen contacts are not among the candidates");
                        continue;
                    }
                    self.audit(Some(&key), Trigger::Resolved, format!("resolved: {} contact(s) chosen", chosen.len()), None, None);
                    self.set_targets(&key, chosen);
                }
                Resolution::ApplyRule { rule } => match conflict::choose(&candidates, &rule) {
                    Some(c) => {
                        self.audit(Some(&key), Trigger::Resolved, format!("resolved by rule {rule:?}"), Some(c.id.clone()), None);
                        self.set_targets(&key, vec![c]);
                    }
                    None => self.problem(ProblemKind::BadInput, format!("{key}: rule \"ask\" cannot resolve a conflict")),
                },
                Resolution::CreatePlaceholder => {
                    let number = self.slots.get(&key).and_then(|s| s.call_id()).and_then(|c| self.calls.get(c)).map(|c| c.call.their_number);
                    match number {
                        Some(n) => {
                            self.audit(Some(&key), Trigger::Resolved, "resolved: placeholder contact", None, None);
                            self.request_placeholder(&key, &n);
                        }
                        None => self.problem(ProblemKind::BadInput, format!("{key}: no number for a placeholder")),
                    }
                }
                Resolution::Dismiss => {
                    self.set_state(&key, SlotState::Dismissed);
                    self.save_slot(&key);
                    self.audit(Some(&key), Trigger::Resolved, "dismissed", None, None);
                }
            }
        }
        let count = self.unresolved_count();
        self.notify(Notice::UnresolvedCount { count });
    }

    fn refuse_resolution(&mut self, key: &SlotKey, reason: &str) {
        self.notify(Notice::ResolutionRefused { slot: key.clone(), reason: reason.into() });
    }

    pub(super) fn on_credentials(&mut self, integ: IntegrationId) {
        if self.integration(&integ).is_none() {
            self.problem(ProblemKind::UnknownIntegration, format!("credentials for unknown integration {integ}"));
            return;
        }
        let h = self.health.or_default(integ.clone());
        let was_paused = h.is_paused();
        // A Retry-After still in force stays in force: new credentials do not lift a rate limit.
        h.parked = false;
        h.failures = 0;
        let resumed = was_paused && !h.is_paused();
        self.save_health(&integ);
        if resumed {
            self.notify(Notice::IntegrationResumed { integration: integ.clone() });
            self.audit(None, Trigger::Retry, format!("integration {integ} resumed: credentials changed"), None, None);
        }
        self.retry_waiting(&integ);
    }

    /// The shell's access to the integration's CRM changed (see [`Input::AccessChanged`]).
    pub(super) fn on_access(&mut self, integ: IntegrationId, missing: Option<String>) {
        if self.integration(&integ).is_none() {
            self.problem(ProblemKind::UnknownIntegration, format!("access for unknown integration {integ}"));
            return;
        }
        let h = self.health.or_default(integ.clone());
        if h.no_access == missing.is_some() {
            return;
        }
        h.no_access = missing.is_some();
        let paused = h.is_paused();
        if let Some(run) = self.run.as_mut() {
            run.recheck_all = true;
        }
        self.save_health(&integ);
        match missing {
            Some(reason) => {
                self.audit(None, Trigger::Auto, format!("integration {integ} holds its work: {reason}"), None, None);
                self.notify(Notice::IntegrationParked { integration: integ, reason });
            }
            None => {
                self.audit(None, Trigger::Retry, format!("integration {integ}: access granted"), None, None);
                if !paused {
                    self.notify(Notice::IntegrationResumed { integration: integ.clone() });
                    self.retry_waiting(&integ);
                }
            }
        }
    }

    /// Work an integration held while it could not be reached goes again now.
    fn retry_waiting(&mut self, integ: &IntegrationId) {
        let integ = integ.clone();
        let now = self.now;
        let keys: Vec<SlotKey> = self.slots.iter().filter(|(_, s)| s.integration == integ).map(|(k, _)| k.clone()).collect();
        for k in keys {
            if let Some(s) = self.slots.get_mut(&k) {
                if s.state == (SlotState::Waiting { due: None }) && s.last_error.is_some() {
                    s.state = SlotState::Waiting { due: Some(now) };
                    s.trigger = Trigger::Retry;
                }
            }
            self.enqueue(&k);
        }
    }

    /// The engine's copies of `picked`, when every one is among the contacts that matched the
    /// caller in `integ` (the call's matches, or its slot's candidates and targets); otherwise
    /// why not, in words for the rep.
    fn allowed_picks(&self, id: &CallId, integ: &IntegrationId, picked: &[Contact]) -> Result<Vec<Contact>, String> {
        let mut allowed: Vec<&Contact> = Vec::new();
        if let Some(m) = self.calls.get(id).and_then(|e| e.matches.get(integ)) {
            allowed.extend(m.contacts.iter());
        }
        if let Some(s) = self.slots.get(&call_slot_key(id, integ)) {
            if let SlotState::Unresolved { candidates } = &s.state {
                allowed.extend(candidates);
            }
            allowed.extend(s.targets.iter().map(|t| &t.contact));
        }
        if allowed.is_empty() {
            return Err(format!("no contact has matched this caller in {integ} (yet): only matched contacts can be picked"));
        }
        picked
            .iter()
            .map(|p| {
                allowed.iter().find(|a| a.id == p.id).map(|a| (*a).clone()).ok_or_else(|| {
                    format!("contact {} is not among the contacts that matched this caller in {integ}", p.id)
                })
            })
            .collect()
    }

    /// What a log shows of the call changed after hang-up (notes saved, a recording or an AI note
    /// handed over): every log of the call made (or being made) with the older content is
    /// rewritten once with the new (an update, so a retry is harmless). `what` says why.
    fn call_changed(&mut self, id: &CallId, what: &str) {
        let keys: Vec<SlotKey> = self.slots.of_call(id).map(|(k, _)| k.clone()).collect();
        for k in keys {
            let Some(s) = self.slots.get_mut(&k) else { continue };
            s.messages += 1;
            if s.state == SlotState::Logged && s.is_dirty() {
                s.trigger = super::slot::Trigger::Notes;
                s.update_due = None;
                s.attempts = 0;
                let rev = s.messages;
                self.save_slot(&k);
                self.audit(Some(&k), super::slot::Trigger::Notes, format!("{what} after logging: the log will be updated (revision {rev})"), None, None);
                self.enqueue(&k);
            } else if s.targets.iter().any(|t| t.record.is_some()) || matches!(s.state, SlotState::Attempting { .. } | SlotState::Unknown { .. }) {
                // Created (or being created) with older notes: updated once it is logged.
                self.save_slot(&k);
            }
        }
    }
}
