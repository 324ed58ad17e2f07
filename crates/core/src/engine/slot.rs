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

use super::json;

/// A slot's key in the `slots` store: `call|<call id>|<integration>`,
/// `msg|<integration>|<conversation>|<day>` or `ph|<integration>|<number>`. The marker written
/// into the CRM is `calltrail:<slot key>`, so it depends on the call and the integration, never
/// on the attempt.
pub type SlotKey = std::rc::Rc<str>;

pub fn call_slot_key(call: &CallId, integration: &IntegrationId) -> SlotKey {
    json::shared(&["call|", call.as_str(), "|", integration.as_str()])
}

/// The prefix every slot of `call` starts with (the shell can load a call's slots by range).
pub fn call_slot_prefix(call: &CallId) -> String {
    json::concat(&["call|", call.as_str(), "|"])
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

/// What a slot logs.
// Deserialize: by hand, in `tagged` below (the derived one buffers every field first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    Call { call: CallId },
    Messages {
        conversation: ConversationId,
        /// `YYYY-MM-DD` in the quiet-hours time zone.
        day: String,
        kind: MessageKind,
        their_number: E164,
        our_number: Option<E164>,
    },
    /// A placeholder contact for a number nothing matched; shared by every slot of that number.
    Placeholder { number: E164 },
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
// Deserialize: by hand, in `tagged` below (the derived one buffers every field first).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
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
    /// Failed tries so far (bounded by `EngineOptions::max_attempts`).
    // Defaults are left out of the record: most slots never fail, and every byte of a slot
    // record is written on each of its transitions.
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
    /// A request is in flight (memory only: lost with the worker, like the request itself).
    #[serde(skip)]
    pub busy: bool,
}

impl Slot {
    /// Whether the slot still has work the engine will do without a person.
    pub fn is_open(&self) -> bool {
        match &self.state {
            SlotState::Logged => self.is_dirty(),
            SlotState::Failed { .. } | SlotState::Skipped { .. } | SlotState::Dismissed => false,
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

    pub fn marker_for(&self, target: usize) -> Marker {
        marker(&self.key, target, self.targets.get(target).map(|t| &t.contact))
    }

    pub fn to_record(&self) -> Record {
        Record { key: String::from(&*self.key), open: u8::from(self.is_open()), at: self.at.0, value: self.to_json() }
    }

    /// The slot as JSON, exactly as the derived `Serialize` writes it (see [`super::json`]):
    /// by hand for the shapes every call goes through, through serde for the rare ones.
    pub fn to_json(&self) -> String {
        let mut out = json::Out::with_capacity(256 + 320 * self.targets.len());
        out.raw("{\"key\":");
        json::str(&mut out, &self.key);
        out.raw(",\"subject\":");
        match &self.subject {
            Subject::Call { call } => {
                out.raw("{\"type\":\"call\",\"call\":");
                json::str(&mut out, call.as_str());
                out.byte(b'}');
            }
            other => json::serde(&mut out, other),
        }
        out.raw(",\"integration\":");
        json::str(&mut out, self.integration.as_str());
        // Mode and trigger names are lower-case words: nothing to escape.
        out.raw(",\"mode\":\"");
        out.raw(self.mode.as_str());
        out.raw("\",\"trigger\":\"");
        out.raw(self.trigger.as_str());
        out.raw("\",\"state\":");
        match &self.state {
            SlotState::Waiting { due } => {
                out.raw("{\"state\":\"waiting\",\"due\":");
                json::opt_time(&mut out, *due);
                out.byte(b'}');
            }
            SlotState::Attempting { attempt, target, started_at } => {
                out.raw("{\"state\":\"attempting\",\"attempt\":");
                json::str(&mut out, attempt);
                out.raw(",\"target\":");
                json::uint(&mut out, *target as u64);
                out.raw(",\"started_at\":");
                json::int(&mut out, started_at.0);
                out.byte(b'}');
            }
            SlotState::Logged => out.raw("{\"state\":\"logged\"}"),
            other => json::serde(&mut out, other),
        }
        out.raw(",\"targets\":[");
        for (i, t) in self.targets.iter().enumerate() {
            if i > 0 {
                out.byte(b',');
            }
            out.raw("{\"contact\":");
            json::contact(&mut out, &t.contact);
            out.raw(",\"marker\":");
            json::str(&mut out, &t.marker.0);
            out.raw(",\"record\":");
            json::opt_str(&mut out, t.record.as_ref().map(|r| r.as_str()));
            if t.synced != 0 {
                out.raw(",\"synced\":");
                json::uint(&mut out, t.synced as u64);
            }
            out.byte(b'}');
        }
        out.byte(b']');
        if self.attempts != 0 {
            out.raw(",\"attempts\":");
            json::uint(&mut out, u64::from(self.attempts));
        }
        if let Some(e) = &self.last_error {
            out.raw(",\"last_error\":");
            json::str(&mut out, e);
        }
        out.raw(",\"at\":");
        json::int(&mut out, self.at.0);
        if self.messages != 0 {
            out.raw(",\"messages\":");
            json::uint(&mut out, self.messages as u64);
        }
        if let Some(t) = self.update_due {
            out.raw(",\"update_due\":");
            json::int(&mut out, t.0);
        }
        out.byte(b'}');
        out.finish()
    }

    pub fn from_record(r: &Record) -> Option<Slot> {
        Slot::read(&r.value)
    }

    /// A slot record read by hand (see [`json::Reader`]): what the derived `Deserialize` reads
    /// (`tagged` below for the two enums), without serde's generic code.
    fn read(text: &str) -> Option<Slot> {
        let mut r = json::Reader::new(text);
        let (mut key, mut subject, mut integration, mut mode, mut trigger, mut state, mut targets) = (None, None, None, None, None, None, None);
        let (mut attempts, mut last_error, mut at, mut messages, mut update_due) = (0, None, None, 0, None);
        const NAMES: &[&str] = &["key", "subject", "integration", "mode", "trigger", "state", "targets", "attempts", "last_error", "at", "messages", "update_due"];
        r.object(NAMES, |r, k| {
            match k {
                0 => key = Some(SlotKey::from(r.text()?)),
                1 => subject = Some(read_subject(r)?),
                2 => integration = Some(IntegrationId::new(r.text()?)),
                3 => {
                    mode = Some(match &*r.text()? {
                        "auto" => Mode::Auto,
                        "digest" => Mode::Digest,
                        "active" => Mode::Active,
                        "manual" => Mode::Manual,
                        "messages" => Mode::Messages,
                        "placeholder" => Mode::Placeholder,
                        _ => return None,
                    })
                }
                4 => {
                    trigger = Some(match &*r.text()? {
                        "auto" => Trigger::Auto,
                        "digest" => Trigger::Digest,
                        "sync" => Trigger::Sync,
                        "active" => Trigger::Active,
                        "manual" => Trigger::Manual,
                        "sms" => Trigger::Sms,
                        "retry" => Trigger::Retry,
                        "reconcile" => Trigger::Reconcile,
                        "resolved" => Trigger::Resolved,
                        "pop" => Trigger::Pop,
                        "notes" => Trigger::Notes,
                        _ => return None,
                    })
                }
                5 => state = Some(read_state(r)?),
                6 => {
                    let mut v = Vec::new();
                    r.array(|r| {
                        let (mut contact, mut marker, mut record, mut synced) = (None, None, None, 0);
                        r.object(&["contact", "marker", "record", "synced"], |r, k| {
                            match k {
                                0 => contact = Some(r.contact()?),
                                1 => marker = Some(Marker(r.string()?)),
                                2 => record = if r.null() { None } else { Some(RecordId::new(r.text()?)) },
                                _ => synced = usize::try_from(r.uint()?).ok()?,
                            }
                            Some(())
                        })?;
                        v.push(Target { contact: contact?, marker: marker?, record, synced });
                        Some(())
                    })?;
                    targets = Some(v);
                }
                7 => attempts = u32::try_from(r.uint()?).ok()?,
                8 => last_error = r.opt_string()?,
                9 => at = Some(Timestamp(r.int()?)),
                10 => messages = usize::try_from(r.uint()?).ok()?,
                _ => update_due = r.opt_time()?,
            }
            Some(())
        })?;
        r.end()?;
        Some(Slot {
            key: key?,
            subject: subject?,
            integration: integration?,
            mode: mode?,
            trigger: trigger?,
            state: state?,
            targets: targets?,
            attempts,
            last_error,
            at: at?,
            messages,
            update_due,
            busy: false,
        })
    }
}

/// A [`Subject`] as `tagged` reads it: the tag anywhere among the fields, the fields of the
/// other variants read (so typed) and ignored, unknown fields skipped.
fn read_subject(r: &mut json::Reader) -> Option<Subject> {
    let (mut tag, mut call, mut conversation, mut day, mut kind) = (None, None, None, None, None);
    let (mut their_number, mut our_number, mut number) = (None, None, None);
    const NAMES: &[&str] = &["type", "call", "conversation", "day", "kind", "their_number", "our_number", "number"];
    r.object(NAMES, |r, k| {
        match k {
            0 => tag = Some(r.text()?),
            1 => call = Some(CallId::new(r.text()?)),
            2 => conversation = Some(ConversationId::new(r.text()?)),
            3 => day = Some(r.string()?),
            4 => {
                kind = Some(match &*r.text()? {
                    "sms" => MessageKind::Sms,
                    "fax" => MessageKind::Fax,
                    _ => return None,
                })
            }
            5 => their_number = Some(E164::try_from(r.string()?).ok()?),
            6 => our_number = if r.null() { None } else { Some(E164::try_from(r.string()?).ok()?) },
            _ => number = Some(E164::try_from(r.string()?).ok()?),
        }
        Some(())
    })?;
    Some(match tag.as_deref()? {
        "call" => Subject::Call { call: call? },
        "messages" => Subject::Messages { conversation: conversation?, day: day?, kind: kind?, their_number: their_number?, our_number },
        "placeholder" => Subject::Placeholder { number: number? },
        _ => return None,
    })
}

/// A [`SlotState`] as `tagged` reads it (see [`read_subject`]).
fn read_state(r: &mut json::Reader) -> Option<SlotState> {
    let (mut tag, mut due, mut placeholder, mut attempt, mut target) = (None, None, None, None, None);
    let (mut started_at, mut since, mut checks, mut candidates, mut reason) = (None, None, None, None, None);
    const NAMES: &[&str] = &["state", "due", "placeholder", "attempt", "target", "started_at", "since", "checks", "candidates", "reason"];
    r.object(NAMES, |r, k| {
        match k {
            0 => tag = Some(r.text()?),
            1 => due = r.opt_time()?,
            2 => placeholder = Some(SlotKey::from(r.text()?)),
            3 => attempt = Some(r.string()?),
            4 => target = Some(usize::try_from(r.uint()?).ok()?),
            5 => started_at = Some(Timestamp(r.int()?)),
            6 => since = Some(Timestamp(r.int()?)),
            7 => checks = Some(u32::try_from(r.uint()?).ok()?),
            8 => candidates = Some(r.contacts()?),
            _ => reason = Some(r.string()?),
        }
        Some(())
    })?;
    Some(match tag.as_deref()? {
        "waiting" => SlotState::Waiting { due },
        "waiting_placeholder" => SlotState::WaitingPlaceholder { placeholder: placeholder? },
        "attempting" => SlotState::Attempting { attempt: attempt?, target: target?, started_at: started_at? },
        "unknown" => SlotState::Unknown { target: target?, since: since?, checks: checks? },
        "logged" => SlotState::Logged,
        "no_match" => SlotState::NoMatch,
        "unresolved" => SlotState::Unresolved { candidates: candidates? },
        "failed" => SlotState::Failed { reason: reason? },
        "needs_review" => SlotState::NeedsReview { reason: reason? },
        "skipped" => SlotState::Skipped { reason: reason? },
        "dismissed" => SlotState::Dismissed,
        _ => return None,
    })
}

/// Reading the two internally tagged enums of a slot record.
///
/// serde's derived `Deserialize` for `#[serde(tag = ...)]` enums cannot know the variant before
/// it has seen the tag, so it first copies every field into a generic buffer and then reads the
/// variant from that: at a restore this was a fifth of the native time, and more in the
/// size-optimised wasm build. The engine always writes the tag first; when it comes first here,
/// the rest of the object is read straight into a struct of every variant's fields. A record
/// whose tag comes later (written by something else) still reads, through a JSON tree.
mod tagged {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, value::MapAccessDeserializer, DeserializeOwned, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    use super::{Contact, ConversationId, MessageKind, SlotKey, SlotState, Subject, Timestamp, E164};
    use crate::model::CallId;

    /// What the enum is read from: its tag name and its fields.
    pub trait Tagged: Sized {
        const TAG: &'static str;
        type Variant: DeserializeOwned;
        type Fields: DeserializeOwned;
        fn build<E: de::Error>(variant: Self::Variant, fields: Self::Fields) -> Result<Self, E>;
    }

    enum Key {
        Tag,
        Other(String),
    }

    struct KeySeed(&'static str);

    impl<'de> de::DeserializeSeed<'de> for KeySeed {
        type Value = Key;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for KeySeed {
        type Value = Key;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a field name")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
            Ok(if v == self.0 { Key::Tag } else { Key::Other(v.to_owned()) })
        }
    }

    pub struct TaggedVisitor<T>(PhantomData<T>);

    impl<T> TaggedVisitor<T> {
        pub fn new() -> Self {
            TaggedVisitor(PhantomData)
        }
    }

    impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an object with a \"{}\" field", T::TAG)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            match map.next_key_seed(KeySeed(T::TAG))? {
                Some(Key::Tag) => {
                    let variant: T::Variant = map.next_value()?;
                    let fields = T::Fields::deserialize(MapAccessDeserializer::new(map))?;
                    T::build(variant, fields)
                }
                first => {
                    // The tag is not first: gather the object, then read it as usual.
                    let mut obj = serde_json::Map::new();
                    if let Some(Key::Other(k)) = first {
                        obj.insert(k, map.next_value()?);
                    }
                    while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                        obj.insert(k, v);
                    }
                    let tag = obj.remove(T::TAG).ok_or_else(|| de::Error::missing_field(T::TAG))?;
                    let variant = serde_json::from_value(tag).map_err(de::Error::custom)?;
                    let fields = serde_json::from_value(serde_json::Value::Object(obj)).map_err(de::Error::custom)?;
                    T::build(variant, fields)
                }
            }
        }
    }

    fn need<T, E: de::Error>(v: Option<T>, field: &'static str) -> Result<T, E> {
        v.ok_or_else(|| E::missing_field(field))
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum StateTag {
        Waiting,
        WaitingPlaceholder,
        Attempting,
        Unknown,
        Logged,
        NoMatch,
        Unresolved,
        Failed,
        NeedsReview,
        Skipped,
        Dismissed,
    }

    #[derive(Deserialize)]
    pub struct StateFields {
        due: Option<Timestamp>,
        placeholder: Option<SlotKey>,
        attempt: Option<String>,
        target: Option<usize>,
        started_at: Option<Timestamp>,
        since: Option<Timestamp>,
        checks: Option<u32>,
        candidates: Option<Vec<Contact>>,
        reason: Option<String>,
    }

    impl Tagged for SlotState {
        const TAG: &'static str = "state";
        type Variant = StateTag;
        type Fields = StateFields;
        fn build<E: de::Error>(v: StateTag, f: StateFields) -> Result<SlotState, E> {
            Ok(match v {
                StateTag::Waiting => SlotState::Waiting { due: f.due },
                StateTag::WaitingPlaceholder => SlotState::WaitingPlaceholder { placeholder: need(f.placeholder, "placeholder")? },
                StateTag::Attempting => SlotState::Attempting {
                    attempt: need(f.attempt, "attempt")?,
                    target: need(f.target, "target")?,
                    started_at: need(f.started_at, "started_at")?,
                },
                StateTag::Unknown => SlotState::Unknown { target: need(f.target, "target")?, since: need(f.since, "since")?, checks: need(f.checks, "checks")? },
                StateTag::Logged => SlotState::Logged,
                StateTag::NoMatch => SlotState::NoMatch,
                StateTag::Unresolved => SlotState::Unresolved { candidates: need(f.candidates, "candidates")? },
                StateTag::Failed => SlotState::Failed { reason: need(f.reason, "reason")? },
                StateTag::NeedsReview => SlotState::NeedsReview { reason: need(f.reason, "reason")? },
                StateTag::Skipped => SlotState::Skipped { reason: need(f.reason, "reason")? },
                StateTag::Dismissed => SlotState::Dismissed,
            })
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum SubjectTag {
        Call,
        Messages,
        Placeholder,
    }

    #[derive(Deserialize)]
    pub struct SubjectFields {
        call: Option<CallId>,
        conversation: Option<ConversationId>,
        day: Option<String>,
        kind: Option<MessageKind>,
        their_number: Option<E164>,
        our_number: Option<E164>,
        number: Option<E164>,
    }

    impl Tagged for Subject {
        const TAG: &'static str = "type";
        type Variant = SubjectTag;
        type Fields = SubjectFields;
        fn build<E: de::Error>(v: SubjectTag, f: SubjectFields) -> Result<Subject, E> {
            Ok(match v {
                SubjectTag::Call => Subject::Call { call: need(f.call, "call")? },
                SubjectTag::Messages => Subject::Messages {
                    conversation: need(f.conversation, "conversation")?,
                    day: need(f.day, "day")?,
                    kind: need(f.kind, "kind")?,
                    their_number: need(f.their_number, "their_number")?,
                    our_number: f.our_number,
                },
                SubjectTag::Placeholder => Subject::Placeholder { number: need(f.number, "number")? },
            })
        }
    }
}

impl<'de> Deserialize<'de> for SlotState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(tagged::TaggedVisitor::<SlotState>::new())
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(tagged::TaggedVisitor::<Subject>::new())
    }
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// The marker for target `index` of slot `key`: `calltrail:<key>` for the first contact, and
/// `calltrail:<key>#<contact id>` for further picked contacts of an active-call log.
pub fn marker(key: &str, index: usize, contact: Option<&Contact>) -> Marker {
    match (index, contact) {
        (0, _) | (_, None) => Marker(json::concat(&["calltrail:", key])),
        (_, Some(c)) => Marker(json::concat(&["calltrail:", key, "#", c.id.as_str()])),
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

    /// The hand-written JSON is what serde writes, for every state, subject, mode and trigger,
    /// with defaults and without, and it reads back as the same slot.
    #[test]
    fn records_match_serde_json_and_read_back() {
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
        let mut n = 0;
        let mut fast_reads = 0;
        for (i, state) in states.iter().enumerate() {
            let subject = subjects[i % subjects.len()].clone();
            let key = format!("call|c{i}|hs");
            let mut s = Slot {
                key: key.clone().into(),
                subject,
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
                busy: false,
            };
            for extra in [false, true] {
                if extra {
                    s.targets = vec![
                        Target { marker: marker(&key, 0, None), contact: contact("p1"), record: Some(RecordId::new("r1")), synced: 2 },
                        Target { marker: marker(&key, 1, Some(&contact("p2"))), contact: contact("p2"), record: None, synced: 0 },
                    ];
                    s.attempts = 3;
                    s.last_error = Some("rate limited\n".into());
                    s.messages = 4;
                    s.update_due = Some(Timestamp(77));
                    s.busy = true;
                }
                let r = s.to_record();
                assert_eq!(r.value, serde_json::to_string(&s).unwrap());
                // The hand reader reads what it knows exactly as serde does, and leaves the rest.
                let serde_read: Slot = serde_json::from_str(&r.value).unwrap();
                if let Some(fast) = Slot::read(&r.value) {
                    assert_eq!(fast, serde_read);
                    fast_reads += 1;
                }
                let back = Slot::from_record(&r).unwrap();
                assert_eq!(back, Slot { busy: false, ..s.clone() });
                n += 1;
            }
        }
        for (m, t) in modes.iter().zip(triggers) {
            assert_eq!(serde_json::to_string(m).unwrap(), format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.as_str()));
        }
        assert_eq!(n, 24);
        assert!(fast_reads >= 8, "{fast_reads}");
        // Every state, mode and trigger of a call slot reads by hand (a restore reads no call
        // slot through serde).
        for (i, state) in states.iter().enumerate() {
            let s = Slot {
                key: "call|c|hs".into(),
                subject: Subject::Call { call: CallId::new("c") },
                integration: IntegrationId::new("hs"),
                mode: modes[i % modes.len()],
                trigger: triggers[i % triggers.len()],
                state: state.clone(),
                targets: vec![Target { marker: marker("call|c|hs", 0, None), contact: contact("p1"), record: None, synced: 0 }],
                attempts: 0,
                last_error: None,
                at: Timestamp(1),
                messages: 0,
                update_due: None,
                busy: false,
            };
            let text = s.to_json();
            assert_eq!(Slot::read(&text).as_ref(), Some(&s), "{text}");
            assert_eq!(serde_json::from_str::<Slot>(&text).unwrap(), s);
        }
    }

    /// Odd spellings, fields of other variants or of a later version, and malformed records:
    /// the hand reader's answer is serde's, value or refusal.
    #[test]
    fn the_hand_reader_reads_odd_records_as_serde_does() {
        let base = r#"{"key":"call|c1|hs","subject":{"type":"call","call":"c1"},"integration":"hs","mode":"auto","trigger":"auto","state":{"state":"waiting","due":null},"targets":[],"at":5}"#;
        let slot = Slot::read(base).unwrap();
        assert_eq!(slot, serde_json::from_str::<Slot>(base).unwrap());
        let odd = [
            base.replace("\"at\":5", "\"at\":5.0"),
            base.replace("\"at\":5", "\"at\":05"),
            base.replace("\"at\":5", "\"at\":5,\"at\":6"),
            base.replace("\"at\":5", "\"at\":5,\"future\":1"),
            base.replace("call|c1|hs", "call|c\\ud83d\\ude00|hs"),
            base.replace("\"due\":null", "\"due\":null,\"attempt\":\"x\""),
            base.replace("\"state\":\"waiting\"", "\"state\":\"no_match\""),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"unknown\",\"target\":0,\"since\":1}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"failed\",\"reason\":null}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"unresolved\",\"candidates\":[1]}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"unknown\",\"target\":0,\"since\":1,\"checks\":4294967296}"),
            base.replace(",\"at\":5", ""),
            format!("{base} x"),
            base.replace("c1\"}", "c1\",}"),
            base.replace("\"at\":5", "\"at\":5,\"future\":{\"a\":[1,2.5,\"x\"]}"),
            base.replace("\"at\":5", "\"\\u0061t\":5"),
            base.replace("call|c1|hs", "call|c\\ud83d|hs"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"call\":\"c1\",\"type\":\"call\"}"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"type\":\"placeholder\",\"number\":\"+12125550100\"}"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"type\":\"placeholder\",\"number\":\"12\"}"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"type\":\"messages\",\"conversation\":\"cv\",\"day\":\"2026-06-10\",\"kind\":\"fax\",\"their_number\":\"+12125550100\"}"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"type\":\"messages\",\"conversation\":\"cv\",\"day\":\"2026-06-10\",\"kind\":\"mms\",\"their_number\":\"+12125550100\"}"),
            base.replace("{\"type\":\"call\",\"call\":\"c1\"}", "{\"type\":\"call\"}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"due\":7,\"state\":\"waiting\"}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"attempting\",\"target\":1}"),
            base.replace("{\"state\":\"waiting\",\"due\":null}", "{\"state\":\"nope\"}"),
        ];
        let mut read = 0;
        for text in &odd {
            let r = Record { key: "k".into(), open: 1, at: 0, value: text.clone() };
            let ours = Slot::from_record(&r);
            assert_eq!(ours, serde_json::from_str::<Slot>(text).ok(), "{text}");
            read += usize::from(ours.is_some());
        }
        // Both kinds occur: some of these read, some are refused.
        assert!(read >= 8 && read < odd.len(), "{read} of {}", odd.len());
        let escaped = base.replace("call|c1|hs", "call|\\\"c\\u00e9\\n\\/1|hs");
        assert_eq!(Slot::read(&escaped), Some(serde_json::from_str::<Slot>(&escaped).unwrap()));
        assert_eq!(Slot::read(&escaped).unwrap().key, "call|\"c\u{e9}\n/1|hs".into());
    }

    /// Records whose tag is not the first field, or that lack a variant's field, read as the
    /// derived `Deserialize` read them.
    #[test]
    fn tagged_enums_read_in_any_field_order() {
        let late: SlotState = serde_json::from_str(r#"{"target":1,"attempt":"a-1","started_at":5,"state":"attempting"}"#).unwrap();
        assert_eq!(late, SlotState::Attempting { attempt: "a-1".into(), target: 1, started_at: Timestamp(5) });
        let waiting: SlotState = serde_json::from_str(r#"{"state":"waiting"}"#).unwrap();
        assert_eq!(waiting, SlotState::Waiting { due: None });
        let extra: SlotState = serde_json::from_str(r#"{"state":"logged","future_field":[1,{"a":2}]}"#).unwrap();
        assert_eq!(extra, SlotState::Logged);
        let subject: Subject = serde_json::from_str(r#"{"call":"c1","type":"call"}"#).unwrap();
        assert_eq!(subject, Subject::Call { call: CallId::new("c1") });
        for bad in [r#"{"state":"attempting","target":1}"#, r#"{"state":"nope"}"#, r#"{"due":3}"#, r#"[1]"#, r#"{"type":"placeholder","number":"12"}"#] {
            assert!(serde_json::from_str::<SlotState>(bad).is_err() || serde_json::from_str::<Subject>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<SlotState>(r#"{"state":"attempting","target":1}"#).is_err());
        assert!(serde_json::from_str::<Subject>(r#"{"type":"placeholder","number":"12"}"#).is_err());
        // Through a JSON tree too (serde's other way in; nothing shipped reads slots so today).
        let tree = serde_json::json!({"state": "failed", "reason": "x"});
        assert_eq!(serde_json::from_value::<SlotState>(tree).unwrap(), SlotState::Failed { reason: "x".into() });
    }
}
