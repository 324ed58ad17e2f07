//! Per-integration health: parking on 401, Retry-After and exponential backoff.
//!
//! Invariant (I13): while `now < blocked_until` the engine sends that integration nothing new;
//! a parked integration gets nothing until its credentials change. Jitter is derived from the
//! integration and the failure count, never from a random source, so runs replay exactly.

use serde::{Deserialize, Serialize};

use crate::model::{IntegrationId, Timestamp};

pub const BACKOFF_BASE_MS: i64 = 30_000;
pub const BACKOFF_CAP_MS: i64 = 3_600_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// 401 seen: nothing is sent until `CredentialsChanged`.
    pub parked: bool,
    /// The shell cannot reach the CRM at all (the browser's permission for its API is missing):
    /// nothing is sent until `AccessChanged` says it can. Apart from `parked`, so new
    /// credentials do not unblock an integration the browser will not let us reach.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_access: bool,
    /// No request before this instant (Retry-After or backoff).
    pub blocked_until: Option<Timestamp>,
    /// The part of `blocked_until` the CRM asked for (`Retry-After`): the only wait a "sync
    /// now" keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_until: Option<Timestamp>,
    /// Consecutive failures, for the backoff exponent.
    pub failures: u32,
    /// Requests in flight (memory only).
    #[serde(skip)]
    pub inflight: usize,
}

impl Health {
    pub fn is_blocked(&self, now: Timestamp) -> bool {
        self.is_paused() || self.blocked_until.is_some_and(|t| now < t)
    }

    /// Whether the integration holds all its work until the rep acts (signs in again, grants
    /// access).
    pub fn is_paused(&self) -> bool {
        self.parked || self.no_access
    }
}

/// Exponential backoff with deterministic "equal jitter": half fixed, half derived from a hash
/// of the integration and the failure count. Monotone non-decreasing up to the cap (I15).
pub fn backoff_ms(integration: &IntegrationId, failures: u32) -> i64 {
    let exp = BACKOFF_BASE_MS.saturating_mul(1i64 << failures.min(20)).min(BACKOFF_CAP_MS);
    if exp >= BACKOFF_CAP_MS {
        return BACKOFF_CAP_MS;
    }
    let half = exp / 2;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in integration.as_str().bytes().chain(failures.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // The jitter is at most half of this step, and the next step's fixed half is at least this
    // step's whole, so the sequence never decreases.
    half + (h % (half.max(1) as u64)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_and_never_shrinks() {
        let id = IntegrationId::new("hs");
        let mut last = 0;
        for f in 0..30 {
            let b = backoff_ms(&id, f);
            assert!(b >= last, "{f}: {b} < {last}");
            assert!(b <= BACKOFF_CAP_MS);
            last = b;
        }
        assert!(last >= BACKOFF_CAP_MS / 2);
        assert_eq!(backoff_ms(&id, 3), backoff_ms(&id, 3));
    }
}
