//! Calltrail's generic softphone protocol posted to the server: the same event shape the
//! extension accepts from a softphone page (`docs/softphone-protocol.md`), plus one top-level
//! field, `user`, naming the telephony user (the platform's user id) whose event it is.
//!
//! ```json
//! {"calltrail":1,"event":"call.ended","user":"u-101","call":{"id":"c-7f3a","direction":"inbound", …}}
//! ```
//!
//! The event itself is decoded by [`crate::softphone::decode`], so the rules (bounds, times,
//! ids `gen:<id>`) are exactly the extension's. There is no page origin on a server: the
//! sender is authenticated by the webhook's signature instead, so the decoder is handed a
//! fixed origin it trusts.

use serde_json::Value;

use super::{bounded, quote, TelephonyError};
use crate::model::Timestamp;
use crate::phone::Country;
use crate::softphone::{self, generic::VERSION_KEY, DecodeContext, SoftphoneEvent};

/// The pseudo-origin signed server events are decoded under.
const SIGNED: &str = "calltrail:signed-webhook";
/// A user id, in bytes.
const MAX_USER: usize = 128;

/// One posted event: whose it is, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub user: String,
    pub event: SoftphoneEvent,
}

/// The `user` of a posted event, read before anything else (the server files the event under
/// that user's rep before it decodes the rest).
pub fn user(body: &Value) -> Result<String, TelephonyError> {
    let Value::Object(map) = body else { return Err(TelephonyError::Shape("not an object".into())) };
    if !map.contains_key(VERSION_KEY) {
        return Err(TelephonyError::Missing("calltrail"));
    }
    match map.get("user") {
        Some(Value::String(u)) => {
            bounded(u, "user", MAX_USER)?;
            if u.is_empty() || !u.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(TelephonyError::Invalid { field: "user", value: quote(u) });
            }
            Ok(u.clone())
        }
        Some(other) => Err(TelephonyError::Invalid { field: "user", value: quote(&other.to_string()) }),
        None => Err(TelephonyError::Missing("user")),
    }
}

/// Decodes one posted event received at `now`.
pub fn decode(body: &Value, country: Country, now: Timestamp) -> Result<Posted, TelephonyError> {
    let user = user(body)?;
    let trusted = [SIGNED.to_owned()];
    let ctx = DecodeContext::new(&trusted, country, now);
    let event = softphone::decode(SIGNED, body, &ctx)?;
    Ok(Posted { user, event })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Timestamp = Timestamp(1_717_430_600_000);

    #[test]
    fn a_posted_event_is_the_extension_event_with_its_user() {
        let body = json!({"calltrail": 1, "event": "call.ended", "user": "u-101", "call": {
            "id": "c-7f3a", "direction": "inbound", "from": "+14155550123", "to": "+16505550100",
            "started_at": 1_717_430_400_000_i64, "answered_at": 1_717_430_404_200_i64, "ended_at": 1_717_430_499_200_i64}});
        let p = decode(&body, Country::US, NOW).unwrap();
        assert_eq!(p.user, "u-101");
        let SoftphoneEvent::CallEnded(c) = p.event else { panic!("an end") };
        assert_eq!(c.id.as_str(), "gen:c-7f3a");
        assert_eq!(c.duration_secs(), 95);
    }

    #[test]
    fn refusals() {
        let table = [
            (json!([]), "shape"),
            (json!({"event": "call.ended", "user": "u"}), "missing_field"),
            (json!({"calltrail": 1, "event": "call.ended"}), "missing_field"),
            (json!({"calltrail": 1, "event": "call.ended", "user": 7}), "invalid_value"),
            (json!({"calltrail": 1, "event": "call.ended", "user": "a b"}), "invalid_value"),
            (json!({"calltrail": 1, "event": "call.ended", "user": "u".repeat(200)}), "oversized"),
            (json!({"calltrail": 2, "event": "call.ended", "user": "u"}), "unsupported_version"),
            (json!({"calltrail": 1, "event": "call.exploded", "user": "u"}), "unknown_type"),
            (json!({"calltrail": 1, "event": "call.ended", "user": "u", "call": {"id": "c"}}), "missing_field"),
        ];
        for (body, kind) in table {
            assert_eq!(decode(&body, Country::US, NOW).unwrap_err().kind(), kind, "{body}");
        }
    }
}
