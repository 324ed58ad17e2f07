//! The softphone gate: what the worker does with one relayed softphone message before the
//! engine hears of it.
//!
//! A message is refused unless it came from a child frame of the page and decodes from a trusted
//! origin ([`crate::softphone::decode`]); a repeat of the same fact within
//! [`REPEAT_WINDOW_MS`] (two tabs, RingCentral's webphone and presence streams, a bridge that
//! re-sent an event the worker had already saved) is answered without reaching the engine,
//! which would merge it anyway but report each one. Everything refused or ignored is counted by
//! reason for the diagnostics page and never acted on.
//!
//! What to answer the frame ([`Reply`]) is decided here too, from the decoded message, and
//! whatever became of it: a repeat or an ignored message is answered like the first (the bridge
//! re-sends a request the worker could not answer). A vendor's handshake is answered only when
//! Calltrail hosts the frame itself (`hosted`: the side panel); in a web page the vendor's SDK
//! on the page answers it.
//!
//! Invariant: a repeat is only recognised after the first one was saved; when the first one's
//! effects could not be written, its key is forgotten ([`Gate::forget`]) so the sender's
//! re-send is not mistaken for a repeat.

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::Value;

use crate::engine::Input;
use crate::model::{CallId, Timestamp};
use crate::settings::Settings;
use crate::softphone::{self, DecodeContext, KnownCalls, Reply, SoftphoneEvent};
use crate::vecmap::VecMap;

/// Repeats of the same softphone fact inside this window are dropped before the engine
/// (RingCentral's widget de-dupes over the same 30 seconds).
pub const REPEAT_WINDOW_MS: i64 = 30_000;

/// How many recent rejections the diagnostics keep.
const MAX_REJECTIONS: usize = 50;

/// What the gate decided about one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Refused: never acted on. `reason` is a stable word for counting; `detail` says why.
    Rejected { reason: &'static str, detail: String },
    /// The same fact was accepted within the window.
    Repeat { event: Seen },
    /// Trusted and well-formed, but nothing to log (login, settings, mute...).
    Ignored { event: Seen },
    /// Accepted: hand `input` to the engine. `key` names the fact for the repeat window.
    Accepted { input: Input, key: Option<String>, event: Seen },
}

/// What a page may know of an accepted event: which call it is about and what happened, as the
/// worker decoded it (the panel renders from this, not from the softphone's own message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<CallId>,
}

impl Seen {
    fn of(event: &SoftphoneEvent) -> Seen {
        let kind = match event {
            SoftphoneEvent::CallRinging(_) => "call_ringing",
            SoftphoneEvent::CallAnswered(_) => "call_answered",
            SoftphoneEvent::CallHeld(_) => "call_held",
            SoftphoneEvent::CallResumed(_) => "call_resumed",
            SoftphoneEvent::CallEnded(_) => "call_ended",
            SoftphoneEvent::CallNotes { .. } => "call_notes",
            SoftphoneEvent::CallDetails { .. } => "call_details",
            SoftphoneEvent::Message(_) => "message",
            SoftphoneEvent::Ignored { .. } => "ignored",
        };
        Seen { kind, call: event.call_id().cloned() }
    }
}

/// What the softphone bridge saw: accepted, deliberately ignored, repeated and rejected messages.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SoftphoneStats {
    pub accepted: u64,
    pub ignored: u64,
    /// Ignored messages by reason (`unknown_call`, `nothing_to_log`, ...).
    pub ignored_by: VecMap<String, u64>,
    pub repeated: u64,
    pub rejected: VecMap<String, u64>,
    pub last_rejections: VecDeque<Rejection>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    pub at: i64,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Gate {
    /// Keys of recently accepted facts and when they were seen.
    recent: VecMap<String, Timestamp>,
    pub stats: SoftphoneStats,
}

impl Gate {
    /// Judges one message relayed from a softphone page at `now`, and what to answer the frame.
    /// `hosted`: the message came from a frame of the extension's own page (the side panel).
    #[allow(clippy::too_many_arguments)]
    pub fn check(&mut self, origin: &str, from_frame: bool, hosted: bool, data: &Value, settings: &Settings, known: &dyn KnownCalls, now: Timestamp) -> (Verdict, Option<Reply>) {
        if !from_frame {
            return (self.reject("not_from_softphone_frame", origin, "the message did not come from a child frame".into(), now), None);
        }
        let decoded = match softphone::read(origin, data, &DecodeContext::from_settings(settings, now, known)) {
            Ok(d) => d,
            Err(e) => return (self.reject(e.kind(), origin, e.to_string(), now), None),
        };
        let reply = decoded.reply.filter(|r| hosted || !matches!(r, Reply::Handshake(_)));
        let event = decoded.event;
        let seen = Seen::of(&event);
        let key = event.dedupe_key();
        if let Some(key) = &key {
            self.recent.retain(|_, at| now.since(*at) < REPEAT_WINDOW_MS);
            if self.recent.insert(key.clone(), now).is_some() {
                self.stats.repeated += 1;
                return (Verdict::Repeat { event: seen }, reply);
            }
        }
        if let SoftphoneEvent::Ignored { reason, .. } = &event {
            *self.stats.ignored_by.or_default(reason.as_str().to_owned()) += 1;
        }
        let verdict = match softphone::to_input(event) {
            None => {
                self.stats.ignored += 1;
                Verdict::Ignored { event: seen }
            }
            Some(input) => {
                self.stats.accepted += 1;
                Verdict::Accepted { input, key, event: seen }
            }
        };
        (verdict, reply)
    }

    /// The fact named `key` could not be saved: its re-send is not a repeat.
    pub fn forget(&mut self, key: &str) {
        self.recent.remove(key);
    }

    fn reject(&mut self, reason: &'static str, origin: &str, detail: String, now: Timestamp) -> Verdict {
        // A refused number is masked like everywhere else (the decoder quotes what it refused).
        let detail = crate::engine::hygiene::scrub(&detail);
        *self.stats.rejected.or_default(reason.to_owned()) += 1;
        // The origin is the page's, not secret; cap it anyway, it is untrusted text.
        let origin: String = origin.chars().take(100).collect();
        self.stats.last_rejections.push_back(Rejection { at: now.0, kind: reason.to_owned(), detail: format!("{origin}: {detail}") });
        while self.stats.last_rejections.len() > MAX_REJECTIONS {
            self.stats.last_rejections.pop_front();
        }
        Verdict::Rejected { reason, detail }
    }
}
