//! Restore and digest runs.
//!
//! Invariant: a restore rebuilds everything from open and recent records only; a slot found
//! `Attempting` becomes `Unknown` (reconcile before any new create). A digest run enrols the
//! slots waiting for it whose call ended inside the window, and closes those that fell out of
//! every future window (visibly).

use std::collections::BTreeSet;

use crate::model::{IntegrationId, Timestamp};
use crate::settings::Settings;
use crate::store::{Snapshot, StoreName, Write};
use crate::zone::Zones;

/// Calls (with their slots) and audit entries a scheduled digest run prunes at most.
pub const PRUNE_CALLS: u32 = 500;
pub const PRUNE_AUDIT: u32 = 2_000;

use super::placeholder::CachedPlaceholder;
use super::records::{CallEntry, DigestMeta, DIGEST_KEY, HEALTH_PREFIX};
use super::retry::Health;
use super::slot::{Slot, SlotKey, SlotState, Subject, Trigger};
use super::{digest, messages, Engine, ProblemKind, Run};

impl Engine {
    pub(super) fn on_restored(&mut self, snap: Snapshot, settings: Settings, zones: Zones, boot_id: u64) {
        let (opts, now) = (self.opts.clone(), self.now);
        *self = Engine::new(opts);
        self.now = now;
        self.restored = true;
        self.boot = boot_id;
        if let Err(e) = settings.validate() {
            self.problem(ProblemKind::BadSettings, format!("restored settings are not valid ({e}); using them anyway"));
        }
        self.settings = settings;
        self.zones = zones;
        self.check_zones();
        for r in snap.records(StoreName::Meta) {
            if r.key == DIGEST_KEY {
                if let Some(m) = DigestMeta::from_record(r) {
                    self.digest = m;
                }
            } else if let Some(id) = r.key.strip_prefix(HEALTH_PREFIX) {
                if let Some(h) = r.decode::<Health>() {
                    self.health.insert(IntegrationId::new(id), h);
                }
            }
        }
        let calls = snap.records(StoreName::Calls);
        for r in calls {
            match CallEntry::from_record(r) {
                Some(c) => {
                    self.calls.insert(c.call.id.clone(), c);
                }
                None => self.problem(ProblemKind::BadInput, format!("unreadable call record {}", r.key)),
            }
        }
        for r in snap.records(StoreName::Messages) {
            if let Some(m) = r.decode::<crate::model::Message>() {
                if self.message_ids.insert(m.id.clone()) {
                    let day = self.conversation_day(m.at);
                    messages::insert_sorted(self.messages.entry((m.conversation.clone(), day)).or_default(), m);
                }
            }
        }
        for r in snap.records(StoreName::Contacts) {
            if r.key.starts_with(super::repeat::PREFIX) {
                self.restore_recent(r);
            } else if let Some(p) = r.decode::<CachedPlaceholder>() {
                self.placeholders.insert((p.integration, p.number), p.contact);
            }
        }
        let mut unknown = Vec::new();
        for r in snap.records(StoreName::Slots) {
            let Some(mut s) = Slot::from_record(r) else {
                self.problem(ProblemKind::BadInput, format!("unreadable slot record {}", r.key));
                continue;
            };
            if let SlotState::Attempting { target, .. } = s.state {
                // The request may or may not have reached the CRM: look before creating again.
                // The search lag is counted from now, not from the attempt: the request may
                // have reached the CRM at any moment until the worker died.
                s.state = if planted!(self, BlindRetryAfterUnknown) {
                    SlotState::Waiting { due: Some(self.now) }
                } else {
                    SlotState::Unknown { target, since: self.now, checks: 0 }
                };
                unknown.push(s.key.clone());
            }
            self.slots.insert(s.key.clone(), s);
        }
        for k in unknown {
            let trigger = self.slots.get(&k).map_or(Trigger::Reconcile, |s| s.trigger);
            self.save_slot(&k);
            self.audit(Some(&k), trigger, "found attempting at restart: outcome unknown, reconciling", None, None);
        }
        let period = i64::from(self.settings.digest.period_mins);
        self.digest_due = match self.digest.last_started {
            // A clock that jumped back must not postpone the digest beyond one period.
            Some(t) => t.plus_mins(period).min(self.now.plus_mins(period)),
            None => self.now,
        };
        // Only slots with a due time go to the queue or a timer (most restored slots wait for
        // the digest): copying every key to offer it to `enqueue` cost a copy and a lookup each.
        let keys: Vec<SlotKey> = self
            .slots
            .iter()
            .filter(|(_, s)| match &s.state {
                SlotState::Waiting { due: Some(_) } | SlotState::Unknown { .. } => true,
                SlotState::Logged => s.is_dirty(),
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            self.enqueue(k);
        }
        self.force_wake = true;
    }

    /// A digest run: scheduled (`sync == false`, held back in quiet hours by the caller) or
    /// "sync now".
    ///
    /// Two bounds: a slot that only waits for a contact to appear (no match yet) is searched
    /// again while its call is in the run window (lookback, catch-up); work that already has a
    /// match, notes, picks or a failure to retry waits up to `max_wait_days` (a browser closed
    /// over a long weekend), then fails visibly, saying why.
    pub(super) fn run_digest(&mut self, sync: bool) {
        let now = self.now;
        let d = self.settings.digest.clone();
        let from = digest::window_start(&d, now, self.digest.last_completed);
        let expiry = digest::expiry(&d, now);
        let wait_from = digest::wait_start(&d, now);
        let trigger = if sync { Trigger::Sync } else { Trigger::Digest };
        let away = self.digest.last_started.map_or(0, |t| now.since(t));
        self.digest.last_started = Some(now);
        self.prune_recent();
        self.digest_due = now.plus_mins(i64::from(d.period_mins));
        self.save_meta_digest();
        let due_now = if sync { self.sync_now() } else { Vec::new() };
        if !sync {
            // Retention, a small batch per scheduled run: hourly runs drain a backlog of a year
            // in days, and no transaction holds the store for long.
            let before = now.plus_hours(-24 * i64::from(self.settings.retention_days)).0;
            self.writes.push(Write::Prune { store: StoreName::Calls, before, limit: PRUNE_CALLS });
            self.writes.push(Write::Prune { store: StoreName::Audit, before, limit: PRUNE_AUDIT });
        }
        let mut enrol = Vec::new();
        let mut expire = Vec::new();
        for (k, s) in self.slots.iter() {
            if matches!(s.subject, Subject::Placeholder { .. }) || s.busy {
                continue;
            }
            if self.health.get(&s.integration).is_some_and(Health::is_paused) {
                continue;
            }
            let (start, end) = match s.state {
                SlotState::NoMatch => (from, expiry),
                SlotState::Waiting { due: None } => (wait_from, wait_from),
                _ => continue,
            };
            if s.at >= start || (s.at < end && self.answered_before_end(s)) {
                enrol.push(k.clone());
            } else if s.at < end {
                expire.push(k.clone());
            }
        }
        let run = self.run.get_or_insert_with(Run::default);
        run.started_at = now;
        run.sync |= sync;
        for k in &enrol {
            run.enrolled.insert(k.clone());
            run.covered.insert(k.clone());
        }
        for k in due_now {
            // Work made due now is waited for, so the answer says how it went; a marker lookup
            // after a failed one included (`checks > 0`: no search lag left to wait out). An
            // unknown outcome still inside the CRM's search lag is only reported (I7).
            let state = self.slots.get(&k).map(|s| &s.state);
            if matches!(state, Some(SlotState::Waiting { .. } | SlotState::Logged)) || matches!(state, Some(SlotState::Unknown { checks, .. }) if *checks > 0) {
                run.enrolled.insert(k.clone());
            }
            run.covered.insert(k);
        }
        run.recheck_all = true;
        self.audit(None, trigger, format!("digest run: window from {from}, {} slots", enrol.len()), None, None);
        for k in enrol {
            if let Some(s) = self.slots.get_mut(&k) {
                if s.state == SlotState::NoMatch {
                    s.targets.clear();
                }
                // Enrolment stays in memory: if the worker dies, the slot waits for the next run.
                s.state = SlotState::Waiting { due: Some(now) };
                s.trigger = trigger;
            }
            self.enqueue(&k);
        }
        for k in expire {
            let Some(s) = self.slots.get(&k) else { continue };
            let trigger = s.trigger;
            let state = if s.state == SlotState::NoMatch {
                SlotState::Skipped { reason: digest::NO_MATCH_REASON.into() }
            } else {
                SlotState::Failed { reason: digest::expired_reason(&d, away, s.last_error.as_deref()) }
            };
            let reason = match &state {
                SlotState::Skipped { reason } | SlotState::Failed { reason } => reason.clone(),
                _ => String::new(),
            };
            self.set_state(&k, state);
            self.save_slot(&k);
            self.audit(Some(&k), trigger, reason, None, None);
        }
        self.evict(expiry);
    }

    /// A call's slot left with no match at hang-up on the call pop's answer, which came before
    /// the call ended (a contact the rep added since was not searched for), and searched by no
    /// run since: the digest runs of its window were to search again. When none came (the
    /// laptop slept past the window), the run that finds it past its window searches it once
    /// rather than closing it unsearched; that search closes it (`on_search`) or logs it.
    /// (A hang-up search that said the same as the pop leaves the pop's time: such a slot,
    /// after a sleep past its window, costs that one search more.)
    fn answered_before_end(&self, s: &Slot) -> bool {
        let Some(call) = s.call_id() else { return false };
        s.state == SlotState::NoMatch
            && s.trigger == Trigger::Auto
            && self.calls.get(call).and_then(|e| e.matches.get(&s.integration)).is_some_and(|m| m.at < s.at)
    }

    /// Forgets closed calls and slots older than every window, so memory and digest passes stay
    /// bounded by recent work. They stay in the store (history).
    fn evict(&mut self, before: Timestamp) {
        // Changed slots are written before any of them leaves memory.
        let notices = self.stage_dirty();
        self.notices.splice(0..0, notices);
        let old: Vec<SlotKey> = self
            .slots
            .iter()
            .filter(|(_, s)| !s.is_open() && !s.busy && s.at < before && !matches!(s.subject, Subject::Placeholder { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            self.slots.remove(k);
        }
        let calls: Vec<_> = self.calls.iter().filter(|(_, c)| c.ended && c.at() < before).map(|(k, _)| k.clone()).collect();
        for c in calls {
            if !self.call_is_open(&c) {
                self.calls.remove(&c);
            }
        }
        let days: BTreeSet<_> = self
            .messages
            .iter()
            .filter(|(_, ms)| ms.last().is_some_and(|m| m.at < before.plus_hours(-24)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in days {
            let still_used = self.slots.values().any(|s| matches!(&s.subject, Subject::Messages { conversation, day, .. } if conversation == &k.0 && day == &k.1));
            if !still_used {
                if let Some(ms) = self.messages.remove(&k) {
                    for m in ms {
                        self.message_ids.remove(&m.id);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Effect, EngineOptions, Input, Mode, Target};
    use crate::model::{Call, CallId, CallResult, Direction};
    use crate::phone::{Country, E164};
    use crate::store::Record;

    fn call(id: &str, notes: &str) -> Record {
        let mut e = CallEntry::new(Call {
            ended_at: Some(Timestamp(2_000)),
            result: CallResult::Missed,
            notes: notes.into(),
            ..Call::new(CallId::new(id), Direction::Inbound, E164::parse("+12125550100", Country::US).unwrap(), None, Timestamp(1_000))
        });
        e.ended = true;
        e.to_record(true)
    }

    fn slot(call: &str, state: SlotState) -> Record {
        let key = super::super::slot::call_slot_key(&CallId::new(call), &IntegrationId::new("hs"));
        Slot {
            key,
            subject: Subject::Call { call: CallId::new(call) },
            integration: IntegrationId::new("hs"),
            mode: Mode::Digest,
            trigger: Trigger::Digest,
            state,
            targets: Vec::<Target>::new(),
            attempts: 0,
            last_error: None,
            at: Timestamp(2_000),
            messages: 0,
            update_due: None,
            reused: false,
            busy: false,
        }
        .to_record()
    }

    /// Records in any order all arrive, a repeated key keeps the last record, and unreadable
    /// records are still reported.
    #[test]
    fn restore_reads_records_in_any_order_and_reports_unreadable_ones() {
        let bad = |key: &str| Record { key: key.into(), open: 1, at: 0, value: "{\"key\":".into() };
        let snapshot = Snapshot {
            stores: vec![
                (StoreName::Calls, vec![call("c2", ""), call("c1", "first"), bad("c0"), call("c1", "second")]),
                (StoreName::Slots, vec![slot("c2", SlotState::NoMatch), bad("call|c0|hs"), slot("c1", SlotState::NoMatch), slot("c1", SlotState::Logged)]),
            ],
        };
        let mut e = Engine::new(EngineOptions::default());
        e.handle(Input::Restored { snapshot, settings: Settings::default(), zones: Zones::default(), boot_id: 1 }, Timestamp(3_000));
        let mut unreadable = Vec::new();
        while let Some(x) = e.poll_effect() {
            if let Effect::Problem(p) = x {
                if p.detail.starts_with("unreadable") {
                    unreadable.push(p.detail);
                }
            }
        }
        assert_eq!(unreadable, ["unreadable call record c0", "unreadable slot record call|c0|hs"]);
        let mut calls: Vec<&str> = e.calls.keys().map(|c| c.as_str()).collect();
        calls.sort_unstable();
        assert_eq!(calls, ["c1", "c2"]);
        assert_eq!(e.call(&CallId::new("c1")).unwrap().call.notes, "second");
        assert_eq!(e.slots().map(|s| &*s.key).collect::<Vec<_>>(), ["call|c1|hs", "call|c2|hs"]);
        assert_eq!(e.slot("call|c1|hs").unwrap().state, SlotState::Logged);
    }
}
