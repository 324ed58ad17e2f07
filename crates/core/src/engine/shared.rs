//! Shared calls in the engine: whose leg an ended call is, for what a softphone in the browser
//! tells (`docs/shared-calls.md` is the rule in product words).
//!
//! A browser softphone reports one device's view: its call ends when that device stops ringing,
//! whether the rep answered on another device, a colleague answered a queue call, or nobody
//! did. So an inbound call that ended unanswered is decided a short while later
//! ([`super::EngineOptions::unanswered_settle_ms`]), once the rep-level streams (RingCentral's
//! presence) had their say:
//! - answered meanwhile (on another device of the rep): the call goes on elsewhere; its slots
//!   wait for the real end ([`LIVE_ELSEWHERE_MAX_MS`] at most) and then log it as answered;
//! - a queue or ring-group call ([`crate::model::Leg::queue`]) still unanswered: not the rep's,
//!   its slots are skipped with the reason;
//! - otherwise: a missed call, logged as one.
//!
//! The server hands the engine only legs the telephony data already settled
//! ([`crate::telephony::ringcentral::settle`]) and runs with no such wait.
//!
//! Where a CRM's check for another place's record of a leg is a request of its own (Clio), the
//! device that carried the leg logs it first without the check ([`timing`]), and every place
//! that cannot say it carried it, the server included, waits for it ([`waits_for_carrier`]),
//! then checks (`docs/shared-calls.md`, "Why the browser that carried the call logs first").
//!
//! Invariant: nothing here creates or deletes a slot; it only decides when a slot's work starts
//! and whether it is skipped, so the ledger's exactly-once machinery is untouched.

use crate::crm::{Capabilities, Timing};
use crate::model::{Call, CallResult, Device, Direction, Timestamp};

use super::slot::{Mode, SlotKey, SlotState, Trigger};
use super::Engine;

/// How long after the end a device reported, at most, the slots of a call answered on another
/// device wait for the call's real end before logging what is known.
pub const LIVE_ELSEWHERE_MAX_MS: i64 = 4 * 60 * 60 * 1000;

/// The wait the browser's engine gives an unanswered inbound call before deciding it
/// ([`super::EngineOptions::unanswered_settle_ms`]): RingCentral's presence reports an answer on
/// another device within a second or two.
pub const BROWSER_UNANSWERED_SETTLE_MS: i64 = 30_000;

/// How soon after the end, at most, the device that carried a leg issues its call log as the
/// leg's first ([`crate::crm::Timing::Carrier`]).
pub const CARRIER_HEAD_START_MS: i64 = 10_000;

/// How long after the end a place that cannot say it carried a call waits before logging it
/// into a CRM whose carrier logs first ([`crate::crm::Capabilities::carrier_first`]), so that
/// the carrier's record, if a browser carried it, exists when this place checks: the carrier
/// issues its create within [`CARRIER_HEAD_START_MS`], may refresh its token and look up its
/// owner before it, and gives up on each request after 20 s (10 + 3 x 20 = 70 s).
pub const OTHERS_WAIT_MS: i64 = 90_000;

/// When a call log goes out, for the CRM's guard against a second record of the leg.
/// `first_try`: nothing went wrong with the slot before (a create whose outcome was unknown may
/// still be carried out by the CRM, so the next one checks).
pub fn timing(call: &Call, caps: Capabilities, now: Timestamp, first_try: bool) -> Timing {
    let since = now.since(call.ended_at.unwrap_or(call.started_at));
    let carrier = call.leg.device == Device::Here && call.ended_at.is_some() && first_try;
    if caps.carrier_first && carrier && since < CARRIER_HEAD_START_MS {
        Timing::Carrier
    } else if !caps.exact_marker_lookup && since >= caps.search_lag_ms {
        Timing::Late
    } else {
        Timing::AtHangUp
    }
}

/// Until when a call slot waits before it starts, when the device that carried the leg may
/// be another browser of the rep that logs first.
pub fn waits_for_carrier(call: &Call, caps: Capabilities) -> Option<Timestamp> {
    let end = call.ended_at?;
    (caps.carrier_first && call.leg.device == Device::Elsewhere).then(|| end.plus_ms(OTHERS_WAIT_MS))
}

/// An inbound call that, as far as the engine knows, nobody answered.
pub fn is_unanswered(call: &Call) -> bool {
    call.direction == Direction::Inbound && call.answered_at.is_none() && call.result != CallResult::Answered
}

/// Why an ended call is not the rep's to log, if it is not: a queue or ring-group call they
/// never answered.
pub fn not_the_reps(call: &Call) -> Option<&'static str> {
    (call.leg.queue && is_unanswered(call)).then_some(
        "a queue call you did not answer: a colleague took it, or it is logged once as the queue's missed call",
    )
}

/// The call was answered after the end first heard of it: a device that only rang reported
/// the end, and the rep is on the call on another one.
pub fn is_live_elsewhere(call: &Call) -> bool {
    match (call.answered_at, call.ended_at) {
        (Some(a), Some(e)) => a > e,
        _ => false,
    }
}

impl Engine {
    /// What a call slot does when its work is about to start with a search: `true` when it
    /// was decided here (skipped, or put off until the call's real end) and must not start.
    pub(super) fn settle_shared(&mut self, key: &SlotKey, call: &Call, first_end: Timestamp) -> bool {
        if let Some(reason) = not_the_reps(call) {
            let trigger = self.slots.get(key).map_or(Trigger::Auto, |s| s.trigger);
            self.set_state(key, SlotState::Skipped { reason: reason.into() });
            self.save_slot(key);
            self.audit(Some(key), trigger, format!("not logged: {reason}"), None, None);
            return true;
        }
        self.wait_for_real_end(key, call, first_end) || self.wait_for_carrier(key, call)
    }

    /// Puts a call slot off while the call goes on on another device of the rep (this one only
    /// rang): `true` when it waits. Before the search, and again before the create for a slot
    /// that reached it without one (a pick made while the rep talked elsewhere).
    pub(super) fn wait_for_real_end(&mut self, key: &SlotKey, call: &Call, first_end: Timestamp) -> bool {
        let due = first_end.plus_ms(LIVE_ELSEWHERE_MAX_MS);
        is_live_elsewhere(call) && self.wait_until(key, due, "answered on another device: waiting for the call's real end")
    }

    /// Puts a call slot off while the device that carried the leg may be another browser that
    /// logs it first ([`waits_for_carrier`]): `true` when it waits. Before the search, and again
    /// before the create for a slot that reached it without one (a pick, a manual log).
    pub(super) fn wait_for_carrier(&mut self, key: &SlotKey, call: &Call) -> bool {
        let Some(slot) = self.slots.get(key) else { return false };
        match waits_for_carrier(call, self.caps(&slot.integration)) {
            Some(due) => self.wait_until(key, due, "carried by another device: giving a browser that carried it the time to log it first"),
            None => false,
        }
    }

    /// Puts a slot off until `due`, saying `why` in the audit: `true` when `due` is still ahead.
    fn wait_until(&mut self, key: &SlotKey, due: Timestamp, why: &'static str) -> bool {
        if self.now >= due {
            return false;
        }
        let trigger = self.slots.get(key).map_or(Trigger::Auto, |s| s.trigger);
        self.set_state(key, SlotState::Waiting { due: Some(due) });
        self.save_slot(key);
        self.audit(Some(key), trigger, why, None, None);
        self.enqueue(key);
        true
    }

    /// The real end of a call that was still going on another device arrived: its call slots
    /// that wait for it start now, picks after their delay from this end (unless the rep asked
    /// to log now).
    pub(super) fn wake_live_call(&mut self, id: &crate::model::CallId) {
        let now = self.now;
        let log_now = self.calls.get(id).is_some_and(|e| e.log_now);
        let pick_due = now.plus_mins(i64::from(self.settings.active_call_delay_mins));
        let waiting: Vec<(SlotKey, Timestamp)> = self
            .slots
            .of_call(id)
            // A slot with contacts waiting out a failed create's back-off keeps its own time.
            .filter(|(_, s)| !s.busy && (s.targets.is_empty() || s.attempts == 0) && matches!(s.state, SlotState::Waiting { due: Some(d) } if d > now))
            .map(|(k, s)| (k.clone(), if s.mode == Mode::Active && !log_now { pick_due } else { now }))
            .collect();
        for (k, due) in waiting {
            self.set_state(&k, SlotState::Waiting { due: Some(due) });
            self.save_slot(&k);
            self.enqueue(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Leg};
    use crate::phone::{Country, E164};

    fn call(answered: Option<i64>, ended: Option<i64>, queue: bool) -> Call {
        let their = E164::parse("+14155550123", Country::US).unwrap();
        Call {
            answered_at: answered.map(Timestamp),
            ended_at: ended.map(Timestamp),
            result: if answered.is_some() { CallResult::Answered } else { CallResult::Missed },
            leg: Leg { id: Some("p-1-2".into()), queue, ..Leg::default() },
            ..Call::new(CallId::new("rc:s-1"), Direction::Inbound, their, None, Timestamp(1_000))
        }
    }

    #[test]
    fn whose_leg_an_ended_call_is() {
        // (answered, ended, queue) → (not the rep's, live elsewhere)
        let table = [
            ((None, Some(5_000), false), (false, false)),
            ((None, Some(5_000), true), (true, false)),
            ((Some(2_000), Some(5_000), true), (false, false)),
            ((Some(9_000), Some(5_000), false), (false, true)),
            ((Some(9_000), Some(5_000), true), (false, true)),
        ];
        for (i, ((a, e, q), (not, live))) in table.into_iter().enumerate() {
            let c = call(a, e, q);
            assert_eq!(not_the_reps(&c).is_some(), not, "row {i}");
            assert_eq!(is_live_elsewhere(&c), live, "row {i}");
        }
        let mut out = call(None, Some(5_000), true);
        out.direction = Direction::Outbound;
        assert!(not_the_reps(&out).is_none(), "a call the rep placed is theirs");
    }

    #[test]
    fn the_carrier_logs_first_where_the_check_costs_a_request() {
        use crate::crm::capabilities;
        use crate::model::CrmKind::{Clio, HubSpot, Salesforce};
        let end = 5_000;
        // (CRM, device, sent this long after the end) -> (timing, waits until)
        let table = [
            (Clio, Device::Here, 0, Timing::Carrier, None),
            (Clio, Device::Here, CARRIER_HEAD_START_MS - 1, Timing::Carrier, None),
            (Clio, Device::Here, CARRIER_HEAD_START_MS, Timing::AtHangUp, None),
            (Clio, Device::Elsewhere, 0, Timing::AtHangUp, Some(end + OTHERS_WAIT_MS)),
            (Clio, Device::Unknown, 0, Timing::AtHangUp, None),
            (Salesforce, Device::Here, 0, Timing::AtHangUp, None),
            (Salesforce, Device::Elsewhere, 0, Timing::AtHangUp, None),
            (HubSpot, Device::Here, 0, Timing::AtHangUp, None),
            (HubSpot, Device::Here, 60_000, Timing::Late, None),
            (HubSpot, Device::Elsewhere, 59_999, Timing::AtHangUp, None),
        ];
        for (i, (kind, device, after, timing, waits)) in table.into_iter().enumerate() {
            let mut c = call(Some(2_000), Some(end), false);
            c.leg.device = device;
            let caps = capabilities(kind);
            assert_eq!(super::timing(&c, caps, Timestamp(end + after), true), timing, "row {i}");
            if timing == Timing::Carrier {
                assert_eq!(super::timing(&c, caps, Timestamp(end + after), false), Timing::AtHangUp, "row {i}: a retry checks");
            }
            assert_eq!(waits_for_carrier(&c, caps), waits.map(Timestamp), "row {i}");
        }
    }
}
