//! Slots: one per (call, integration), (conversation-day, integration) or placeholder contact,
//! and the ledger state each one is in.
//!
//! Invariant: every slot has exactly one [`SlotState`]; the persisted state is the source of
//! truth, and anything only in memory (a request in flight, an enrolment in a digest run) can
//! be lost at any instant without losing or duplicating a log.

use serde::{Deserialize, Serialize};

use crate::crm::Marker;
use crate::model::{CallId, Contact, ConversationId, IntegrationId, MessageKind, RecordId, Timestamp};
use crate::phone::E164;
use crate::store::Record;

/// A slot's key in the `slots` store: `call|<call id>|<integration>`,
/// `msg|<integration>|<conversation>|<day>` or `ph|<integration>|<number>`. The marker written
/// into the CRM is fixed when a slot's contacts are chosen and kept with them ([`Target`]): for
/// a call log it names the call and the rep's leg of it ([`call_marker`]), for anything else it
/// is `calltrail:<slot key>`; never the attempt.
pub type SlotKey = std::sync::Arc<str>;

pub fn call_slot_key(call: &CallId, integration: &IntegrationId) -> SlotKey {
    format!("call|{}|{}", call.as_str(), integration.as_str()).into()
}

/// The prefix every slot of `call` starts with (the shell can load a call's slots by range).
pub fn call_slot_prefix(call: &CallId) -> String {
    format!("call|{}|", call.as_str())
}

/// How a slot came to be logged (seed 000's four ways, plus messages and placeholders).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Auto,
    Digest,
    Active,
    Manual,
    Messages,
    Placeholder,
}

impl Mode {
    /// The name serde gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Digest => "digest",
            Mode::Active => "active",
            Mode::Manual => "manual",
            Mode::Messages => "messages",
            Mode::Placeholder => "placeholder",
        }
    }
}

/// What set the slot's current work in motion; written into every audit entry and every
/// [`super::Effect::Crm`]. Only [`Trigger::Digest`] work is held back during quiet hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Auto,
    /// A scheduled digest run.
    Digest,
    /// "Sync now": a digest run the rep asked for; runs at any hour.
    Sync,
    Active,
    Manual,
    Sms,
    /// Work resumed after credentials were fixed.
    Retry,
    /// Looking for our own record after an unknown outcome.
    Reconcile,
    /// A person resolved the slot from the unresolved queue.
    Resolved,
    /// The call pop: the other party's number searched while the call rings.
    Pop,
    /// Notes saved after the call was logged: the logs are rewritten with them.
    Notes,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Auto => "auto",
            Trigger::Digest => "digest",
            Trigger::Sync => "sync",
            Trigger::Active => "active",
            Trigger::Manual => "manual",
            Trigger::Sms => "sms",
            Trigger::Retry => "retry",
            Trigger::Reconcile => "reconcile",
            Trigger::Resolved => "resolved",
            Trigger::Pop => "pop",
            Trigger::Notes => "notes",
        }
    }
}

/// Declares an internally tagged enum (`tag` names the variant, in snake_case) that is written
/// by serde's derive and read tag first by `crate::tagged` (see there why). The reading needs
/// the derive's `remote` mirror of the enum, with the same variants and fields: this writes it
/// from the one variant list, so the two cannot drift apart.
macro_rules! tagged_enum {
    (
        $tag:literal,
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $({ $($(#[$fmeta:meta])* $field:ident: $ty:ty),* $(,)? })?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Serialize)]
        #[serde(tag = $tag, rename_all = "snake_case")]
        $vis enum $name {
            $($(#[$vmeta])* $variant $({ $($(#[$fmeta])* $field: $ty),* })?),*
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // `remote` takes the real type's name as a string: `Real` is that name here.
                type Real = $name;

                #[derive(Deserialize)]
                #[serde(remote = "Real", rename_all = "snake_case")]
                enum Mirror {
                    $($(#[$vmeta])* $variant $({ $($(#[$fmeta])* $field: $ty),* })?),*
                }

                crate::tagged::read(d, stringify!($name), $tag, |t| Mirror::deserialize(t))
            }
        }
    };
}

tagged_enum! {
    "type",
    /// What a slot logs.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Subject {
        Call { call: CallId },
        Messages {
            conversation: ConversationId,
            /// `YYYY-MM-DD` in the conversation zone (`Settings::conversation_zone`).
            day: String,
            kind: MessageKind,
            their_number: E164,
            our_number: Option<E164>,
        },
        /// A placeholder contact for a number nothing matched; shared by every slot of that number.
        Placeholder { number: E164 },
    }
}

/// One contact a slot logs to, and the record once it exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub contact: Contact,
    pub marker: Marker,
    pub record: Option<RecordId>,
    /// Messages the CRM record holds (conversation logs are rewritten as messages arrive); for a
    /// call log, the notes revision it holds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub synced: usize,
}

tagged_enum! {
    "state",
    /// The ledger state of one slot.
    ///
    /// ```text
    ///  Waiting{due} ──search──► (targets chosen) ──Persist(Attempting, Strict)──► Attempting
    ///     │  ▲  ▲                    │ several + ask ──► Unresolved ──resolve──► Waiting
    ///     │  │  │                    │ none ──► NoMatch (re-searched by the digest in its window)
    ///     │  │  └── 429/5xx/401 ◄────┴──────────────┐
    ///     │  └── not found after lag ◄── Unknown ◄──┤ reply lost / 5xx on create / restart
    ///     │                  found ──► Logged ◄─────┘ created
    ///     └── window passed ──► Failed / NoMatch(closed);  Permanent ──► Failed;  can't tell ──► NeedsReview
    /// ```
    /// `Searching` and `Reconciling` are `Waiting`/`Unknown` with a request in flight; `Parked` is
    /// the integration's state (401), not the slot's: its slots keep their state.
    #[derive(Clone, Debug, PartialEq)]
    pub enum SlotState {
        /// Work to do: at `due`, or at the next digest run when `due` is `None`.
        Waiting { due: Option<Timestamp> },
        /// Waiting for the placeholder contact slot `placeholder` to be created.
        WaitingPlaceholder { placeholder: SlotKey },
        /// A create for `targets[target]` (or the placeholder contact) may be in flight.
        Attempting { attempt: String, target: usize, started_at: Timestamp },
        /// A create's outcome is not known: look for the marker before creating again.
        Unknown { target: usize, since: Timestamp, checks: u32 },
        Logged,
        /// No contact matched; the digest searches again while the call is in its window.
        NoMatch,
        /// Several contacts matched and the rule is "ask": a person chooses.
        Unresolved { candidates: Vec<Contact> },
        Failed { reason: String },
        /// The engine could not tell whether a record exists; a person must look.
        NeedsReview { reason: String },
        /// Not logged by design (automatic logging off for the integration).
        Skipped { reason: String },
        Dismissed,
    }
}

impl SlotState {
    pub fn name(&self) -> &'static str {
        match self {
            SlotState::Waiting { .. } => "waiting",
            SlotState::WaitingPlaceholder { .. } => "waiting_placeholder",
            SlotState::Attempting { .. } => "attempting",
            SlotState::Unknown { .. } => "unknown",
            SlotState::Logged => "logged",
            SlotState::NoMatch => "no_match",
            SlotState::Unresolved { .. } => "unresolved",
            SlotState::Failed { .. } => "failed",
            SlotState::NeedsReview { .. } => "needs_review",
            SlotState::Skipped { .. } => "skipped",
            SlotState::Dismissed => "dismissed",
        }
    }
}

/// One slot as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub key: SlotKey,
    pub subject: Subject,
    pub integration: IntegrationId,
    pub mode: Mode,
    pub trigger: Trigger,
    pub state: SlotState,
    pub targets: Vec<Target>,
    /// Failed tries so far (bounded by `EngineOptions::max_attempts`). Defaults are left out
    /// of the record, as for the fields below: most slots never fail.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the call ended (the message day's first message, the placeholder's request): what
    /// digest windows are measured against.
    pub at: Timestamp,
    /// Messages in the conversation-day; for a call slot, the revision of the call's notes its
    /// records must hold (bumped when notes are saved after hang-up).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub messages: usize,
    /// When a failed conversation-log update may be tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_due: Option<Timestamp>,
    /// The targets are a repeat caller's match reused without a search ([`super::repeat`]): a
    /// create the CRM refuses searches again once instead of failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
    /// A request is in flight (memory only: lost with the worker, like the request itself).
    #[serde(skip)]
    pub busy: bool,
}

impl Slot {
    /// Whether the slot still has work the engine will do, or waits for a person: unresolved,
    /// under review, or failed (counted on the badge until the rep logs it again or dismisses
    /// it, however long ago it failed: a failure is never silent).
    pub fn is_open(&self) -> bool {
        match &self.state {
            SlotState::Logged => self.is_dirty(),
            SlotState::Skipped { .. } | SlotState::Dismissed => false,
            _ => true,
        }
    }

    /// A record that lacks the latest content: messages of a conversation-day, or notes saved
    /// after a call log was made (for call slots `messages` counts notes revisions).
    pub fn is_dirty(&self) -> bool {
        !matches!(self.subject, Subject::Placeholder { .. })
            && self.targets.iter().any(|t| t.record.is_some() && t.synced < self.messages)
    }

    pub fn call_id(&self) -> Option<&CallId> {
        match &self.subject {
            Subject::Call { call } => Some(call),
            _ => None,
        }
    }

    pub fn records(&self) -> Vec<RecordId> {
        self.targets.iter().filter_map(|t| t.record.clone()).collect()
    }

    /// The marker of target `target`, as fixed when the target was chosen.
    pub fn marker_for(&self, target: usize) -> Marker {
        match self.targets.get(target) {
            Some(t) => t.marker.clone(),
            None => marker(&self.key, target, None),
        }
    }

    pub fn to_record(&self) -> Record {
        Record::encode(&*self.key, self.is_open(), self.at.0, self)
    }

    /// A slot as the ledger stored it; `None` when the record cannot be read.
    pub fn from_record(r: &Record) -> Option<Slot> {
        r.decode()
    }
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// The marker for target `index` of slot `key`: `calltrail:<key>` for the first contact, and
/// `calltrail:<key>#<contact id>` for further picked contacts of an active-call log.
pub fn marker(key: &str, index: usize, contact: Option<&Contact>) -> Marker {
    match (index, contact) {
        (0, _) | (_, None) => Marker(format!("calltrail:{key}")),
        (_, Some(c)) => Marker(format!("calltrail:{key}#{}", c.id.as_str())),
    }
}

/// The marker of a call log: `calltrail:call|<call id>|<leg id>` (the leg id empty when the
/// softphone names none), then `#<contact id>` for further picked contacts.
///
/// It names the call and the rep's leg of it, and nothing local to one browser (not the
/// integration's id in the rep's settings): two browsers of one rep, or a browser and the
/// server, write the same marker into one CRM account and so find each other's record, while
/// two reps on one call (a transfer, a conference) write different ones
/// (`docs/shared-calls.md`).
pub fn call_marker(call: &CallId, leg: Option<&str>, index: usize, contact: Option<&Contact>) -> Marker {
    let base = format!("calltrail:call|{}|{}", call.as_str(), leg.unwrap_or(""));
    match (index, contact) {
        (0, _) | (_, None) => Marker(base),
        (_, Some(c)) => Marker(format!("{base}#{}", c.id.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageKind, RecordType};
    use crate::phone::Country;

    fn contact(id: &str) -> Contact {
        Contact {
            id: RecordId::new(id),
            name: format!("Person \"{id}\"").into(),
            record_type: RecordType::new("Contact"),
            phones: vec!["+12125550100".into()].into(),
            created_at: Some(Timestamp(1_700_000_000_000)),
            modified_at: None,
            url: Some(format!("https://crm.example/{id}").into()),
        }
    }

    /// Every state, subject, mode and trigger, with defaults and without, reads back as the
    /// same slot; fields left at their default are not written.
    #[test]
    fn records_read_back() {
        let number = E164::parse("+12125550100", Country::US).unwrap();
        let subjects = [
            Subject::Call { call: CallId::new("c\\1") },
            Subject::Messages { conversation: ConversationId::new("cv"), day: "2026-06-10".into(), kind: MessageKind::Sms, their_number: number, our_number: None },
            Subject::Placeholder { number },
        ];
        let states = [
            SlotState::Waiting { due: None },
            SlotState::Waiting { due: Some(Timestamp(5)) },
            SlotState::WaitingPlaceholder { placeholder: "ph|hs|+1".into() },
            SlotState::Attempting { attempt: "be4c-12".into(), target: 1, started_at: Timestamp(-3) },
            SlotState::Unknown { target: 0, since: Timestamp(9), checks: 2 },
            SlotState::Logged,
            SlotState::NoMatch,
            SlotState::Unresolved { candidates: vec![contact("a"), contact("b")] },
            SlotState::Failed { reason: "no \"luck\"".into() },
            SlotState::NeedsReview { reason: "look".into() },
            SlotState::Skipped { reason: "off".into() },
            SlotState::Dismissed,
        ];
        let modes = [Mode::Auto, Mode::Digest, Mode::Active, Mode::Manual, Mode::Messages, Mode::Placeholder];
        let triggers = [
            Trigger::Auto, Trigger::Digest, Trigger::Sync, Trigger::Active, Trigger::Manual, Trigger::Sms,
            Trigger::Retry, Trigger::Reconcile, Trigger::Resolved, Trigger::Pop, Trigger::Notes,
        ];
        for (i, state) in states.iter().enumerate() {
            let key = format!("call|c{i}|hs");
            let mut s = Slot {
                key: key.clone().into(),
                subject: subjects[i % subjects.len()].clone(),
                integration: IntegrationId::new("hs"),
                mode: modes[i % modes.len()],
                trigger: triggers[i % triggers.len()],
                state: state.clone(),
                targets: Vec::new(),
                attempts: 0,
                last_error: None,
                at: Timestamp(1_781_107_200_000),
                messages: 0,
                update_due: None,
                reused: false,
                busy: false,
            };
            let bare = s.to_record().value;
            for absent in ["attempts", "last_error", "messages", "update_due", "reused", "busy", "synced"] {
                assert!(!bare.contains(&format!("\"{absent}\":")), "{absent} in {bare}");
            }
            s.targets = vec![
                Target { marker: marker(&key, 0, None), contact: contact("p1"), record: Some(RecordId::new("r1")), synced: 2 },
                Target { marker: marker(&key, 1, Some(&contact("p2"))), contact: contact("p2"), record: None, synced: 0 },
            ];
            s.attempts = 3;
            s.last_error = Some("rate limited\n".into());
            s.messages = 4;
            s.update_due = Some(Timestamp(77));
            s.busy = true;
            for slot in [serde_json::from_str::<Slot>(&bare).unwrap(), s.clone()] {
                let r = slot.to_record();
                assert_eq!((r.key.as_str(), r.open == 1, r.at), (key.as_str(), slot.is_open(), slot.at.0));
                assert_eq!(Slot::from_record(&r).unwrap(), Slot { busy: false, ..slot });
            }
        }
        for (m, t) in modes.iter().zip(triggers) {
            assert_eq!(serde_json::to_string(m).unwrap(), format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.as_str()));
        }
    }

    /// How each state and subject is written: records already stored must keep reading, so
    /// each text here reads and is written again to the letter.
    #[test]
    fn written_as_before() {
        for text in [
            r#"{"type":"call","call":"c1"}"#,
            r#"{"type":"messages","conversation":"cv","day":"2026-06-10","kind":"sms","their_number":"+12125550100","our_number":"+12125550100"}"#,
            r#"{"type":"placeholder","number":"+12125550100"}"#,
        ] {
            assert_eq!(serde_json::to_string(&serde_json::from_str::<Subject>(text).unwrap()).unwrap(), text);
        }
        for text in [
            r#"{"state":"waiting","due":5}"#,
            r#"{"state":"waiting_placeholder","placeholder":"ph|hs|+1"}"#,
            r#"{"state":"attempting","attempt":"a-1","target":1,"started_at":-3}"#,
            r#"{"state":"unknown","target":0,"since":9,"checks":2}"#,
            r#"{"state":"logged"}"#,
            r#"{"state":"no_match"}"#,
            r#"{"state":"unresolved","candidates":[]}"#,
            r#"{"state":"failed","reason":"f"}"#,
            r#"{"state":"needs_review","reason":"n"}"#,
            r#"{"state":"skipped","reason":"s"}"#,
            r#"{"state":"dismissed"}"#,
        ] {
            let state = serde_json::from_str::<SlotState>(text).unwrap();
            assert_eq!(serde_json::to_string(&state).unwrap(), text);
            assert!(text.starts_with(&format!(r#"{{"state":"{}""#, state.name())), "{text}");
        }
    }

    /// Fields of a later version are ignored, a tag may come after the fields, and a record
    /// that lacks a variant's field or names an unknown one is refused, not guessed at.
    #[test]
    fn odd_records_read_or_are_refused() {
        let base = r#"{"key":"call|c1|hs","subject":{"type":"call","call":"c1"},"integration":"hs","mode":"auto","trigger":"auto","state":{"state":"waiting","due":null},"targets":[],"at":5}"#;
        let read = |text: &str| Slot::from_record(&Record { key: "k".into(), open: 1, at: 0, value: text.into() });
        assert!(read(base).is_some());
        for ok in [
            base.replace("\"at\":5", "\"at\":5,\"future\":{\"a\":[1,2.5,\"x\"]}"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"call\":\"c1\",\"type\":\"call\"}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"due\":7,\"state\":\"waiting\"}"),
            base.replace("\"due\":null", "\"due\":null,\"attempt\":\"x\""),
        ] {
            assert!(read(&ok).is_some(), "{ok}");
        }
        for bad in [
            base.replace(",\"at\":5", ""),
            format!("{base} x"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"attempting\",\"target\":1}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"nope\"}"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"type\":\"placeholder\",\"number\":\"12\"}"),
            base.replace("\"at\":5", "\"at\":5.5"),
        ] {
            assert!(read(&bad).is_none(), "{bad}");
        }
    }
}
