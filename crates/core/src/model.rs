//! The domain words every other module speaks: calls, messages, contacts, integrations and time.
//!
//! These are plain data. They carry no behaviour that needs I/O, they serialise with serde so the
//! shell can persist them and the pages can show them, and their identifiers are newtypes so a
//! call id can never be passed where an integration id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

use crate::phone::E164;

/// `s` in lower case for comparing names and searching, without the standard library's Unicode
/// case tables (about 10 KB of the module): ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
/// capitals are folded, which covers the names reps call; letters of other scripts compare as
/// they are written.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            let u = c as u32;
            let lower = match u {
                0x41..=0x5A | 0xC0..=0xD6 | 0xD8..=0xDE | 0x391..=0x3A1 | 0x3A3..=0x3AB | 0x410..=0x42F => u + 0x20,
                0x400..=0x40F => u + 0x50,
                // Greek capitals with tonos.
                0x386 => 0x3AC,
                0x388..=0x38A => u + 0x25,
                0x38C => 0x3CC,
                0x38E..=0x38F => u + 0x3F,
                // Latin Extended-A pairs capitals and small letters on even and odd code points,
                // with its few exceptions left alone.
                0x100..=0x137 | 0x14A..=0x177 if u % 2 == 0 => u + 1,
                0x139..=0x148 | 0x179..=0x17E if u % 2 == 1 => u + 1,
                _ => u,
            };
            char::from_u32(lower).unwrap_or(c)
        })
        .collect()
}

/// An instant as milliseconds since the Unix epoch, UTC. The core never reads a clock: every
/// `now` is handed in by the shell (or by a test's fake clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn millis(self) -> i64 {
        self.0
    }
    pub const fn plus_ms(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
    pub const fn plus_secs(self, s: i64) -> Timestamp {
        self.plus_ms(s.saturating_mul(1000))
    }
    pub const fn plus_mins(self, m: i64) -> Timestamp {
        self.plus_ms(m.saturating_mul(60_000))
    }
    pub const fn plus_hours(self, h: i64) -> Timestamp {
        self.plus_ms(h.saturating_mul(3_600_000))
    }
    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-03-08T06:50:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        crate::civil::rfc3339_millis(self.0).unwrap_or_else(|| format!("@{}ms", self.0))
    }
    /// Parses RFC 3339 (any offset) or a bare integer of epoch milliseconds.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if let Ok(ms) = s.parse::<i64>() {
            return Some(Timestamp(ms));
        }
        crate::civil::parse(s, crate::civil::Offset::Required).map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared text (`Arc<str>`): ids are copied into slots, requests, notices and audit
        /// entries, and a copy is a reference count. `Arc` rather than `Rc` so an engine can move
        /// between the server's threads.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(s: impl AsRef<str>) -> Self {
                Self(Arc::from(s.as_ref()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into())
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// The softphone's stable id for one call (RingCentral's `sessionId`, or a derived id).
    CallId
);
string_id!(
    /// One connected CRM account, chosen by the user when the integration is added.
    IntegrationId
);
string_id!(
    /// A record's id inside a CRM (a contact, a call log, a task...), as the CRM spells it.
    RecordId
);
string_id!(
    /// One SMS or fax conversation as the softphone names it.
    ConversationId
);

/// The CRMs Calltrail speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrmKind {
    HubSpot,
    Pipedrive,
    Salesforce,
    Zoho,
    Clio,
}

impl CrmKind {
    pub const ALL: [CrmKind; 5] =
        [CrmKind::HubSpot, CrmKind::Pipedrive, CrmKind::Salesforce, CrmKind::Zoho, CrmKind::Clio];

    pub fn name(self) -> &'static str {
        match self {
            CrmKind::HubSpot => "HubSpot",
            CrmKind::Pipedrive => "Pipedrive",
            CrmKind::Salesforce => "Salesforce",
            CrmKind::Zoho => "Zoho CRM",
            CrmKind::Clio => "Clio",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// How a call ended, as far as the softphone tells us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallResult {
    Answered,
    Missed,
    Voicemail,
    Busy,
    Rejected,
    Failed,
    Unknown,
}

impl CallResult {
    /// The result as a rep reads it, in the pages and in what is logged to a CRM.
    pub fn word(self) -> &'static str {
        match self {
            CallResult::Answered => "Answered",
            CallResult::Missed => "Missed",
            CallResult::Voicemail => "Voicemail",
            CallResult::Busy => "Busy",
            CallResult::Rejected => "Rejected",
            CallResult::Failed => "Failed",
            CallResult::Unknown => "Unknown",
        }
    }
}

/// One conversation seen by the softphone. Times are optional because a call can end before it
/// is answered, and a softphone may tell us about a call only once it has ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    pub direction: Direction,
    /// Our (the rep's) number, when the softphone tells it.
    pub our_number: Option<E164>,
    /// The other party's number: what contacts are matched against.
    pub their_number: E164,
    pub started_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub result: CallResult,
    pub recording_url: Option<String>,
    /// The rep's notes, as written so far.
    pub notes: String,
    /// A link to the voicemail the caller left, when the softphone hands one over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_url: Option<String>,
    /// The softphone's AI summary of the call (RingCentral's AI notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_note: Option<String>,
    /// The softphone's transcript, one `speaker: text` line per utterance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// The CRM that logs this call itself (a softphone running as a HubSpot calling extension
    /// has HubSpot create the call's engagement): Calltrail logs the call to the rep's other
    /// CRMs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_by: Option<CrmKind>,
    /// The rep's own part of the call, where the telephony system shares one call between
    /// people (`docs/shared-calls.md`).
    #[serde(default, skip_serializing_if = "Leg::is_unknown")]
    pub leg: Leg,
}

/// The rep's own part (leg) of a call that the telephony system may share between several
/// people: a queue or ring group that rings many, a transfer, a conference.
///
/// Two reps on one call each log their own leg into a CRM account they share, so the CRM marker
/// of a call log names the leg when the softphone names one ([`Leg::id`]); two browsers of one
/// rep, or the browser and the server, see the same leg id and so write the same marker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// The telephony system's id of the rep's part of the call (RingCentral's party id), when
    /// the softphone or platform names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call reached the rep as a member of a call queue or ring group (RingCentral's
    /// `queueCall`, the Embeddable's `callQueueName`): if the rep never answered it, it is
    /// not the rep's to log (a colleague took it, or the queue logs it once as missed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queue: bool,
    /// Which of the rep's devices carried the leg, as far as this place can tell.
    #[serde(default, skip_serializing_if = "Device::is_unknown")]
    pub device: Device,
}

/// Which of the rep's devices carried a leg (took or placed it, and talked), as the place that
/// logs it can tell. Only one device carries a leg, so at most one place of the rep can say
/// [`Device::Here`]: the one place that can log the leg first without asking the CRM whether
/// another did (`docs/shared-calls.md`, "One record per leg and CRM").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The softphone does not say (every softphone but RingCentral Embeddable's webphone).
    #[default]
    Unknown,
    /// This browser's own phone carried it: the Embeddable's webphone placed it, or answered it.
    Here,
    /// Another device did, or may have: this place heard of the call only through the rep's
    /// presence (a desk phone, the RingCentral app, another browser's webphone).
    Elsewhere,
}

impl Device {
    pub fn is_unknown(&self) -> bool {
        *self == Device::Unknown
    }

    /// What is known once `other` tells more: a device that carried the leg says so once and
    /// for all; presence, heard on every device, only says "maybe elsewhere".
    fn merge(self, other: Device) -> Device {
        match (self, other) {
            (Device::Here, _) | (_, Device::Here) => Device::Here,
            (Device::Elsewhere, _) | (_, Device::Elsewhere) => Device::Elsewhere,
            _ => Device::Unknown,
        }
    }
}

impl Leg {
    /// The longest leg id kept (RingCentral's party ids are about 40 characters).
    pub const MAX_ID: usize = 128;

    pub fn is_unknown(&self) -> bool {
        self.id.is_none() && !self.queue && self.device.is_unknown()
    }

    /// What is known of the leg once `other` tells more: the first id seen is kept (a later,
    /// different one is another part of the same call, such as a transfer back), and a queue
    /// call stays one.
    pub fn merge(&mut self, other: &Leg) {
        if self.id.is_none() {
            self.id.clone_from(&other.id);
        }
        self.queue |= other.queue;
        self.device = self.device.merge(other.device);
    }
}

impl Call {
    /// A call with what every softphone tells first and nothing else yet: not answered, not
    /// ended, no result, no recording, no notes.
    pub fn new(id: CallId, direction: Direction, their_number: E164, our_number: Option<E164>, started_at: Timestamp) -> Call {
        Call {
            id,
            direction,
            our_number,
            their_number,
            started_at,
            answered_at: None,
            ended_at: None,
            result: CallResult::Unknown,
            recording_url: None,
            notes: String::new(),
            voicemail_url: None,
            ai_note: None,
            transcript: None,
            logged_by: None,
            leg: Leg::default(),
        }
    }

    /// Talk time in whole seconds: from answer to end, zero for a call never answered.
    pub fn duration_secs(&self) -> i64 {
        match (self.answered_at, self.ended_at) {
            (Some(a), Some(e)) if e >= a => e.since(a) / 1000,
            _ => 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Sms,
    Fax,
}

/// One SMS or fax, inbound or outbound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub conversation: ConversationId,
    pub kind: MessageKind,
    pub direction: Direction,
    pub our_number: Option<E164>,
    pub their_number: E164,
    pub at: Timestamp,
    /// SMS text, or a fax's page count and status line.
    pub text: String,
}

string_id!(
    /// A CRM's name for a kind of record that can be called: Contact, Lead, Person, ...
    RecordType
);

/// A contact as a CRM returns it from a search: enough to match, choose and link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: RecordId,
    pub name: Arc<str>,
    pub record_type: RecordType,
    /// The numbers exactly as the CRM stores them (matching re-normalises them).
    pub phones: Arc<[String]>,
    pub created_at: Option<Timestamp>,
    pub modified_at: Option<Timestamp>,
    /// A link a person can open to see the record in the CRM, when the connector can build one.
    pub url: Option<Arc<str>>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_fold_to_lower_case_in_the_scripts_reps_use() {
        let table = [
            ("Ada LOVELACE", "ada lovelace"),
            ("ÉMILE Zoë ÅSA Øre", "émile zoë åsa øre"),
            ("ŁUKASZ Ščerba ŽOFIE Ğ", "łukasz ščerba žofie ğ"),
            ("ΣΩΚΡΆΤΗΣ", "σωκράτησ"),
            ("ЮРИЙ Ёлкин", "юрий ёлкин"),
            ("×÷ ß 123 +1 (212)", "×÷ ß 123 +1 (212)"),
        ];
        for (raw, want) in table {
            assert_eq!(super::fold(raw), want, "{raw}");
        }
    }
}
