//! What the pages show, computed in Rust so the pages hold no rule: a call's status in each
//! integration, the history's filters and search, the unresolved queue, the badge count.
//!
//! Views are read-only projections of ledger records ([`CallEntry`], [`Slot`]); nothing here
//! changes state. Invariant: every slot state maps to exactly one [`Status`], and a status a
//! rep must act on (failed, unresolved, needs review) always carries a reason in words.

use serde::{Deserialize, Serialize};

use crate::engine::{CallEntry, Slot, SlotState};
use crate::model::{Call, Contact, CrmKind, IntegrationId, RecordId, Timestamp};
use crate::phone::E164;
use crate::settings::{origin, IntegrationSettings, Settings};

/// A call's status in one integration, as the history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In the CRM; the row links to the record.
    Logged,
    /// Will be logged at a known time (active-call delay, a retry after a rate limit).
    Scheduled,
    /// Waiting for the next digest run (notes opened, a failure to retry, no contact yet).
    WaitingForDigest,
    /// A request is under way or its outcome is being checked.
    InProgress,
    /// No contact matched (yet).
    NoMatch,
    /// Several contacts matched and a person must choose.
    Unresolved,
    /// The engine cannot tell whether a record exists: a person must look.
    NeedsReview,
    Failed,
    /// Not logged by design (automatic logging off).
    Skipped,
    Dismissed,
    /// The integration has no slot for this call (added later, or the call is still going on).
    NotLogged,
}

impl Status {
    /// Whether the call still needs logging in that integration (the "Unlogged" filter).
    pub fn is_unlogged(self) -> bool {
        !matches!(self, Status::Logged | Status::Skipped | Status::Dismissed)
    }

    /// Whether a rep should look at it (the badge).
    pub fn needs_attention(self) -> bool {
        matches!(self, Status::Unresolved | Status::NeedsReview | Status::Failed)
    }

    /// The word every page and the panel show for it.
    pub fn word(self) -> &'static str {
        match self {
            Status::Logged => "Logged",
            Status::Scheduled => "Scheduled",
            Status::WaitingForDigest => "Waiting for digest",
            Status::InProgress => "Logging…",
            Status::NoMatch => "No match",
            Status::Unresolved => "Choose a contact",
            Status::NeedsReview => "Needs review",
            Status::Failed => "Failed",
            Status::Skipped => "Skipped",
            Status::Dismissed => "Dismissed",
            Status::NotLogged => "Not logged",
        }
    }

    pub fn tone(self) -> Tone {
        match self {
            Status::Logged => Tone::Success,
            Status::Scheduled | Status::WaitingForDigest | Status::InProgress => Tone::Info,
            Status::Unresolved | Status::NeedsReview => Tone::Warning,
            Status::Failed => Tone::Danger,
            Status::NoMatch | Status::Skipped | Status::Dismissed | Status::NotLogged => Tone::Neutral,
        }
    }
}

/// How a status reads: the pages colour its word by tone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Success,
    /// Something to choose from (the call pop's matches).
    Accent,
    Info,
    Warning,
    Danger,
    Neutral,
}

/// Where a call is, for the panel's header and the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Ringing,
    OnCall,
    Ended,
}

impl Phase {
    pub fn of(call: &Call) -> Phase {
        match (call.ended_at, call.answered_at) {
            (Some(_), _) => Phase::Ended,
            (None, Some(_)) => Phase::OnCall,
            (None, None) => Phase::Ringing,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Phase::Ringing => "Ringing",
            Phase::OnCall => "On call",
            Phase::Ended => "Call ended",
        }
    }
}

/// One call's status in one integration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlotView {
    pub integration: IntegrationId,
    pub label: String,
    pub status: Status,
    /// The status in a word ([`Status::word`], or the call pop's words while the call is on)
    /// and its tone.
    pub word: String,
    pub tone: Tone,
    /// Words for the rep: why it failed, when it will be logged, what is unresolved.
    pub detail: String,
    pub records: Vec<RecordId>,
    /// Where to open the contact the call was logged to, when the CRM gave a link.
    pub contacts: Vec<ContactLink>,
    pub mode: String,
    /// Whether a manual log to this integration is allowed now (at most once per integration).
    pub can_log_manually: bool,
    /// The call pop: contacts matching the caller in this integration, `None` while not
    /// searched yet (ringing, searching, or the integration is paused).
    pub matches: Option<Vec<Contact>>,
    /// The contacts the rep picked for active-call logging.
    pub picked: Vec<RecordId>,
    /// Whether the rep can still pick contacts here: the caller matched, and the call is going
    /// on or its log has not started.
    pub can_pick: bool,
    /// When a scheduled log will be made (the active-call delay, a retry after a rate limit).
    pub due: Option<Timestamp>,
    /// Whether "Log now" applies: picks waiting for the active-call delay.
    pub can_log_now: bool,
    /// The call pop's search is under way (the panel shows a spinner).
    pub searching: bool,
}

/// How long after a call starts its call pop reads "Searching…"; after that, with no answer
/// (the integration paused, a slow CRM), "No match yet".
pub const SEARCH_GRACE_MS: i64 = 4_000;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContactLink {
    pub id: RecordId,
    pub name: String,
    pub url: Option<String>,
}

/// One row of the call history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallView {
    pub call: Call,
    pub phase: Phase,
    pub phase_word: &'static str,
    /// How it ended, in a word.
    pub result_word: &'static str,
    pub notes_opened: bool,
    pub slots: Vec<SlotView>,
}

impl CallView {
    /// Whether more is still to happen to the call in some CRM: it is going on, or a slot is
    /// scheduled, under way, or not made yet. A page following it asks again until it is not.
    pub fn in_motion(&self) -> bool {
        self.call.ended_at.is_none() || self.slots.iter().any(|s| matches!(s.status, Status::Scheduled | Status::InProgress | Status::NotLogged))
    }

    pub fn is_unlogged(&self) -> bool {
        self.slots.iter().any(|s| s.status.is_unlogged())
    }

    /// Search by number (any format, or a fragment of digits) or by a contact's name.
    pub fn matches_query(&self, query: &str) -> bool {
        let q = query.trim();
        if q.is_empty() {
            return true;
        }
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 3 && self.call.their_number.as_str().contains(&digits) {
            return true;
        }
        let lower = crate::model::fold(q);
        self.slots.iter().flat_map(|s| &s.contacts).any(|c| crate::model::fold(&c.name).contains(&lower))
    }
}

/// The view of one call from its ledger records. `slots` may be in any order.
pub fn call_view(entry: &CallEntry, slots: &[Slot], settings: &Settings, now: Timestamp) -> CallView {
    let mut views: Vec<SlotView> = settings
        .integrations
        .iter()
        .map(|integ| {
            let label = if integ.label.is_empty() { integ.id.to_string() } else { integ.label.clone() };
            let slot = slots.iter().find(|s| s.integration == integ.id);
            let mut v = match slot {
                Some(slot) => slot_view(slot, label, now),
                None => SlotView {
                    integration: integ.id.clone(),
                    label,
                    status: Status::NotLogged,
                    word: Status::NotLogged.word().into(),
                    tone: Status::NotLogged.tone(),
                    detail: if entry.ended { "not logged".into() } else { "call in progress".into() },
                    records: Vec::new(),
                    contacts: Vec::new(),
                    mode: String::new(),
                    can_log_manually: entry.ended,
                    matches: None,
                    picked: Vec::new(),
                    can_pick: false,
                    due: None,
                    can_log_now: false,
                    searching: false,
                },
            };
            v.matches = entry.matches.get(&integ.id).map(|m| m.contacts.to_vec());
            v.picked = entry.picks.get(&integ.id).map(|p| p.iter().map(|c| c.id.clone()).collect()).unwrap_or_default();
            if slot.is_none() && !entry.ended {
                describe_pop(&mut v, entry.call.started_at, now);
            }
            safe_links(&mut v, Some(integ));
            let matched = v.matches.as_ref().is_some_and(|m| !m.is_empty());
            // After hang-up, picks can still change a slot whose log has not started.
            let untouched = slot.is_none_or(|s| {
                !s.busy
                    && s.records().is_empty()
                    && matches!(s.state, SlotState::Waiting { .. } | SlotState::NoMatch | SlotState::Unresolved { .. })
            });
            v.can_pick = matched && untouched;
            v
        })
        .collect();
    // Slots of integrations removed since still show, so no record is hidden.
    for slot in slots {
        if !settings.integrations.iter().any(|i| i.id == slot.integration) {
            let mut v = slot_view(slot, format!("{} (removed)", slot.integration), now);
            v.can_log_manually = false;
            safe_links(&mut v, None);
            views.push(v);
        }
    }
    let phase = Phase::of(&entry.call);
    CallView {
        call: entry.call.clone(),
        phase,
        phase_word: phase.word(),
        result_word: entry.call.result.word(),
        notes_opened: entry.notes_opened,
        slots: views,
    }
}

/// A CRM link a page may render as a link: an `https:` URL on the integration's own web host
/// (its API origin, where Salesforce and Clio records live, or HubSpot's app host
/// `app[-<region>].hubspot.com`), or an `http:` one on this computer when the integration itself
/// is there (the local emulator). Anything else (another host, `javascript:`, a CRM reply
/// pointing elsewhere) is `None`, and the page shows the name as text.
pub fn crm_link(integ: Option<&IntegrationSettings>, url: &str) -> Option<String> {
    let integ = integ?;
    let link = origin(url)?;
    let host = link.strip_prefix("https://");
    let hubspot_app = integ.kind == CrmKind::HubSpot
        && host.and_then(|h| h.strip_suffix(".hubspot.com")).is_some_and(|p| {
            p == "app" || p.strip_prefix("app-").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
        });
    (hubspot_app || origin(&integ.base_url).as_deref() == Some(link.as_str())).then(|| url.trim().to_owned())
}

/// Keeps only the links [`crm_link`] allows in a slot's contacts and matches.
fn safe_links(v: &mut SlotView, integ: Option<&IntegrationSettings>) {
    for c in &mut v.contacts {
        c.url = c.url.as_deref().and_then(|u| crm_link(integ, u));
    }
    for c in v.matches.iter_mut().flatten() {
        c.url = c.url.as_deref().and_then(|u| crm_link(integ, u)).map(Into::into);
    }
}

/// The words for an integration while the call is on and its slot does not exist yet: what the
/// call pop found.
fn describe_pop(v: &mut SlotView, started_at: Timestamp, now: Timestamp) {
    let (word, tone, detail, searching) = match &v.matches {
        None if now.since(started_at) < SEARCH_GRACE_MS => {
            ("Searching…".to_owned(), Tone::Info, format!("Searching {} for this number…", v.label), true)
        }
        None => ("No match yet".into(), Tone::Neutral, "No contact matched so far. If one is added during the call, the digest still logs it.".into(), false),
        Some(m) if m.is_empty() => ("No match".into(), Tone::Neutral, "No contact has this number here.".into(), false),
        Some(m) => (
            if m.len() == 1 { "1 match".to_owned() } else { format!("{} matches", m.len()) },
            Tone::Accent,
            "Pick the contacts to log this call to.".into(),
            false,
        ),
    };
    v.word = word;
    v.tone = tone;
    v.detail = detail;
    v.searching = searching;
}

fn slot_view(slot: &Slot, label: String, now: Timestamp) -> SlotView {
    let (status, detail) = match &slot.state {
        SlotState::Logged => (Status::Logged, "logged".to_owned()),
        SlotState::Waiting { due: Some(due) } if *due > now => {
            (Status::Scheduled, format!("will be logged in {}", minutes_words(due.since(now))))
        }
        SlotState::Waiting { .. } if slot.busy => (Status::InProgress, "logging now".into()),
        SlotState::Waiting { due: None } => (
            Status::WaitingForDigest,
            match &slot.last_error {
                Some(e) => format!("waiting for the digest after: {e}"),
                None => "waiting for the digest".into(),
            },
        ),
        SlotState::Waiting { .. } => (Status::InProgress, "logging now".into()),
        SlotState::WaitingPlaceholder { .. } => (Status::InProgress, "creating a placeholder contact".into()),
        SlotState::Attempting { .. } => (Status::InProgress, "logging now".into()),
        SlotState::Unknown { .. } => (Status::InProgress, "checking whether the CRM got it".into()),
        SlotState::NoMatch => (Status::NoMatch, "no contact matched".into()),
        SlotState::Unresolved { candidates } => {
            (Status::Unresolved, format!("{} contacts match: choose one", candidates.len()))
        }
        SlotState::Failed { reason } => (Status::Failed, reason.clone()),
        SlotState::NeedsReview { reason } => (Status::NeedsReview, reason.clone()),
        SlotState::Skipped { reason } => (Status::Skipped, reason.clone()),
        SlotState::Dismissed => (Status::Dismissed, "dismissed".into()),
    };
    let can_log_manually =
        matches!(status, Status::NoMatch | Status::Failed | Status::Skipped | Status::Dismissed | Status::WaitingForDigest);
    SlotView {
        integration: slot.integration.clone(),
        label,
        status,
        word: status.word().into(),
        tone: status.tone(),
        detail,
        records: slot.records(),
        contacts: slot
            .targets
            .iter()
            .map(|t| ContactLink { id: t.contact.id.clone(), name: t.contact.name.to_string(), url: t.contact.url.as_deref().map(str::to_owned) })
            .collect(),
        mode: format!("{:?}", slot.mode).to_ascii_lowercase(),
        can_log_manually,
        matches: None,
        picked: Vec::new(),
        can_pick: false,
        due: match slot.state {
            SlotState::Waiting { due: Some(due) } if due > now => Some(due),
            _ => None,
        },
        can_log_now: status == Status::Scheduled && slot.mode == crate::engine::Mode::Active,
        searching: false,
    }
}

fn minutes_words(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min", (secs + 59) / 60)
    }
}

/// One entry of the unresolved queue: a slot a person must choose for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnresolvedView {
    pub slot: String,
    /// `unresolved`: choose among `candidates`; `needs_review`: look in the CRM (no candidates),
    /// then dismiss; `failed`: log again from the history, or dismiss.
    pub status: Status,
    pub word: &'static str,
    pub integration: IntegrationId,
    pub label: String,
    pub call: Option<Call>,
    pub their_number: Option<E164>,
    pub candidates: Vec<Contact>,
    pub detail: String,
    /// What the rep can do about it, in words.
    pub hint: &'static str,
}

/// The unresolved queue from the open slots: "ask" conflicts and outcomes needing review.
pub fn unresolved(slots: &[Slot], calls: &[CallEntry], settings: &Settings) -> Vec<UnresolvedView> {
    let mut out: Vec<UnresolvedView> = slots
        .iter()
        .filter_map(|s| {
            let integ = settings.integrations.iter().find(|i| i.id == s.integration);
            let (status, mut candidates, detail) = match &s.state {
                SlotState::Unresolved { candidates } => {
                    (Status::Unresolved, candidates.clone(), format!("{} contacts match", candidates.len()))
                }
                SlotState::NeedsReview { reason } => (Status::NeedsReview, Vec::new(), reason.clone()),
                SlotState::Failed { reason } => (Status::Failed, Vec::new(), reason.clone()),
                _ => return None,
            };
            for c in &mut candidates {
                c.url = c.url.as_deref().and_then(|u| crm_link(integ, u)).map(Into::into);
            }
            let call = s.call_id().and_then(|id| calls.iter().find(|c| &c.call.id == id)).map(|c| c.call.clone());
            let label = settings
                .integrations
                .iter()
                .find(|i| i.id == s.integration)
                .map(|i| if i.label.is_empty() { i.id.to_string() } else { i.label.clone() })
                .unwrap_or_else(|| s.integration.to_string());
            Some(UnresolvedView {
                slot: s.key.to_string(),
                status,
                word: status.word(),
                integration: s.integration.clone(),
                label,
                their_number: call.as_ref().map(|c| c.their_number),
                call,
                candidates,
                detail,
                hint: match status {
                    Status::Unresolved => "Choose the contact to log to.",
                    Status::NeedsReview => "Needs review: check the CRM, then dismiss.",
                    _ => "Not logged: log it again from the history, or dismiss.",
                },
            })
        })
        .collect();
    // Oldest first: the queue is worked through in the order calls happened.
    out.sort_by_key(|u| (u.call.as_ref().map(|c| c.started_at), u.slot.clone()));
    out
}

/// The toolbar badge: how many slots need a person (unresolved, review, failed), plus `more`
/// (inputs the worker parked after a trap). Empty at zero.
pub fn badge(slots: &[Slot], more: usize) -> String {
    let n = more
        + slots
            .iter()
            .filter(|s| matches!(s.state, SlotState::Unresolved { .. } | SlotState::NeedsReview { .. } | SlotState::Failed { .. }))
            .count();
    match n {
        0 => String::new(),
        1..=99 => n.to_string(),
        _ => "99+".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Mode, Subject, Target, Trigger};
    use crate::model::{CallId, CallResult, CrmKind, Direction, RecordType};
    use crate::phone::Country;
    use crate::settings::IntegrationSettings;

    fn settings() -> Settings {
        let integ = |id: &str, kind| IntegrationSettings { label: id.to_uppercase(), ..IntegrationSettings::new(id, kind, "https://crm.example") };
        Settings { integrations: vec![integ("hs", CrmKind::HubSpot), integ("pd", CrmKind::Pipedrive)], ..Settings::default() }
    }

    fn entry() -> CallEntry {
        let mut e = CallEntry::new(Call {
            answered_at: Some(Timestamp(1_000_000)),
            ended_at: Some(Timestamp(1_060_000)),
            result: CallResult::Answered,
            ..Call::new(CallId::new("c1"), Direction::Inbound, E164::parse("+12125550142", Country::US).unwrap(), None, Timestamp(1_000_000))
        });
        e.ended = true;
        e
    }

    fn contact(id: &str, name: &str) -> Contact {
        Contact {
            id: RecordId::new(id),
            name: name.into(),
            record_type: RecordType::new("Contact"),
            phones: vec![].into(),
            created_at: None,
            modified_at: None,
            url: Some(format!("https://crm.example/{id}").into()),
        }
    }

    fn slot(integ: &str, state: SlotState) -> Slot {
        Slot {
            key: format!("call|c1|{integ}").into(),
            subject: Subject::Call { call: CallId::new("c1") },
            integration: integ.into(),
            mode: Mode::Auto,
            trigger: Trigger::Auto,
            state,
            targets: vec![Target {
                contact: contact("7", "Ada Lovelace"),
                marker: crate::crm::Marker("m".into()),
                record: Some(RecordId::new("r9")),
                synced: 0,
            }],
            attempts: 0,
            last_error: None,
            at: Timestamp(1_060_000),
            messages: 0,
            update_due: None,
            reused: false,
            busy: false,
        }
    }

    #[test]
    fn every_state_has_a_status_and_words() {
        let now = Timestamp(1_100_000);
        let cases = [
            (SlotState::Logged, Status::Logged, "logged"),
            (SlotState::Waiting { due: Some(Timestamp(1_280_000)) }, Status::Scheduled, "3 min"),
            (SlotState::Waiting { due: None }, Status::WaitingForDigest, "digest"),
            (SlotState::NoMatch, Status::NoMatch, "no contact"),
            (SlotState::Unresolved { candidates: vec![contact("1", "A"), contact("2", "B")] }, Status::Unresolved, "2 contacts"),
            (SlotState::Failed { reason: "refused: bad field".into() }, Status::Failed, "bad field"),
            (SlotState::NeedsReview { reason: "two records".into() }, Status::NeedsReview, "two records"),
            (SlotState::Dismissed, Status::Dismissed, "dismissed"),
        ];
        for (state, status, words) in cases {
            let v = slot_view(&slot("hs", state.clone()), "HS".into(), now);
            assert_eq!(v.status, status, "{state:?}");
            assert!(v.detail.contains(words), "{state:?}: {}", v.detail);
        }
        let mut active = slot("hs", SlotState::Waiting { due: Some(Timestamp(1_280_000)) });
        active.mode = Mode::Active;
        let v = slot_view(&active, "HS".into(), now);
        assert_eq!((v.due, v.can_log_now), (Some(Timestamp(1_280_000)), true));
        let v = slot_view(&slot("hs", SlotState::Waiting { due: Some(Timestamp(1_280_000)) }), "HS".into(), now);
        assert!(!v.can_log_now, "only picks wait for the active-call delay");
    }

    /// Issue 12: a CRM link is a link only on the integration's own web host; a CRM reply (or a
    /// record) pointing anywhere else is shown as text.
    #[test]
    fn crm_links_stay_on_the_integrations_own_host() {
        let mut hs = settings().integrations[0].clone();
        hs.base_url = "https://api.hubapi.com".into();
        let mut sf = hs.clone();
        sf.kind = CrmKind::Salesforce;
        sf.base_url = "https://acme.my.salesforce.com".into();
        let mut local = hs.clone();
        local.base_url = "http://127.0.0.1:8790/hubspot".into();
        for (integ, url, ok) in [
            (&hs, "https://app.hubspot.com/contacts/1/record/0-1/7", true),
            (&hs, "https://app-eu1.hubspot.com/contacts/1/record/0-1/7", true),
            (&hs, "https://app.hubspot.com.evil.example/x", false),
            (&hs, "http://app.hubspot.com/x", false),
            (&hs, "https://evil.example/app.hubspot.com", false),
            (&hs, "javascript:alert(1)//https://app.hubspot.com", false),
            (&sf, "https://acme.my.salesforce.com/lightning/r/Contact/003/view", true),
            (&sf, "https://other.my.salesforce.com/lightning/r/Contact/003/view", false),
            (&sf, "https://app.hubspot.com/x", false),
            (&local, "http://127.0.0.1:8790/hubspot/x", true),
            (&local, "http://127.0.0.1:8791/x", false),
        ] {
            assert_eq!(crm_link(Some(integ), url).is_some(), ok, "{} {url}", integ.base_url);
        }
        assert_eq!(crm_link(None, "https://app.hubspot.com/x"), None, "a removed integration has no host");
        // In a view: the slot's contacts and the call pop's matches alike.
        let s = Settings { integrations: vec![hs], ..Settings::default() };
        let mut e = entry();
        let mut evil = contact("8", "Eve");
        evil.url = Some("https://evil.example/8".into());
        let mut good = contact("9", "Ada");
        good.url = Some("https://app.hubspot.com/contacts/1/record/0-1/9".into());
        e.matches.insert("hs".into(), crate::engine::CallMatches { at: Timestamp(1), contacts: vec![evil, good].into(), reused: false });
        let v = call_view(&e, &[slot("hs", SlotState::Logged)], &s, Timestamp(2_000_000));
        assert_eq!(v.slots[0].contacts[0].url, None, "crm.example is not HubSpot's host");
        let urls: Vec<Option<&str>> = v.slots[0].matches.iter().flatten().map(|c| c.url.as_deref()).collect();
        assert_eq!(urls, [None, Some("https://app.hubspot.com/contacts/1/record/0-1/9")]);
    }

    #[test]
    fn history_rows_cover_every_integration_and_filter_unlogged() {
        let s = settings();
        let v = call_view(&entry(), &[slot("hs", SlotState::Logged)], &s, Timestamp(2_000_000));
        assert_eq!(v.slots.len(), 2);
        assert_eq!((v.slots[0].status, v.slots[0].can_log_manually), (Status::Logged, false));
        assert_eq!((v.slots[1].status, v.slots[1].can_log_manually), (Status::NotLogged, true));
        assert!(v.is_unlogged(), "Pipedrive has no log");
        let logged_everywhere =
            call_view(&entry(), &[slot("hs", SlotState::Logged), slot("pd", SlotState::Logged)], &s, Timestamp(2_000_000));
        assert!(!logged_everywhere.is_unlogged());
    }

    #[test]
    fn the_call_pop_shows_matches_and_whether_picks_are_open() {
        let mut e = entry();
        e.ended = false;
        e.matches.insert("hs".into(), crate::engine::CallMatches { at: Timestamp(1_000_000), contacts: vec![contact("7", "Ada")].into(), reused: false });
        e.matches.insert("pd".into(), crate::engine::CallMatches { at: Timestamp(1_000_000), contacts: Vec::new().into(), reused: false });
        e.picks.insert("hs".into(), vec![contact("7", "Ada")]);
        let v = call_view(&e, &[], &settings(), Timestamp(1_010_000));
        assert_eq!(v.slots[0].matches.as_ref().map(Vec::len), Some(1));
        assert_eq!(v.slots[0].picked, [RecordId::new("7")]);
        assert!(v.slots[0].can_pick);
        assert_eq!(v.slots[1].matches.as_ref().map(Vec::len), Some(0));
        assert!(!v.slots[1].can_pick, "no match, nothing to pick");
        // Once the log exists, picks are closed.
        e.ended = true;
        let logged = call_view(&e, &[slot("hs", SlotState::Logged)], &settings(), Timestamp(1_200_000));
        assert!(!logged.slots[0].can_pick);
    }

    #[test]
    fn search_by_number_fragment_or_name() {
        let v = call_view(&entry(), &[slot("hs", SlotState::Logged)], &settings(), Timestamp(2_000_000));
        for (q, hit) in [("", true), ("555-0142", true), ("(212) 555", true), ("lovelace", true), ("999", false), ("grace", false)] {
            assert_eq!(v.matches_query(q), hit, "{q}");
        }
    }

    #[test]
    fn badge_counts_what_needs_a_person() {
        let slots = [
            slot("hs", SlotState::Failed { reason: "x".into() }),
            slot("pd", SlotState::Unresolved { candidates: vec![] }),
            slot("zz", SlotState::Logged),
        ];
        assert_eq!(badge(&slots, 0), "2");
        assert_eq!(badge(&slots[2..], 0), "");
        let q = unresolved(&slots, &[entry()], &settings());
        assert_eq!(q.len(), 2, "the failed slot waits for a person too");
        assert_eq!((q[0].status, q[0].label.as_str(), q[0].detail.as_str()), (Status::Failed, "HS", "x"));
        let q = &q[1..];
        assert_eq!(q[0].label, "PD");
        assert_eq!(q[0].their_number.as_ref().map(E164::as_str), Some("+12125550142"));
    }

    #[test]
    fn during_a_call_each_integration_reads_as_its_call_pop() {
        let mut e = entry();
        e.ended = false;
        e.call.ended_at = None;
        e.matches.insert("hs".into(), crate::engine::CallMatches { at: Timestamp(1_000_500), contacts: vec![contact("7", "Ada"), contact("8", "Ada L.")].into(), reused: false });
        let words = |e: &CallEntry, now: i64| {
            let v = call_view(e, &[], &settings(), Timestamp(now));
            assert_eq!((v.phase, v.phase_word), (Phase::OnCall, "On call"));
            v.slots.iter().map(|s| (s.word.clone(), s.tone, s.searching)).collect::<Vec<_>>()
        };
        assert_eq!(words(&e, 1_001_000), [("2 matches".to_owned(), Tone::Accent, false), ("Searching…".to_owned(), Tone::Info, true)]);
        assert_eq!(words(&e, 1_000_000 + SEARCH_GRACE_MS)[1], ("No match yet".to_owned(), Tone::Neutral, false));
        e.matches.insert("pd".into(), crate::engine::CallMatches { at: Timestamp(1_000_500), contacts: Vec::new().into(), reused: false });
        assert_eq!(words(&e, 1_001_000)[1].0, "No match");
        let ended = call_view(&entry(), &[], &settings(), Timestamp(1_100_000));
        assert_eq!((ended.phase_word, ended.result_word), ("Call ended", "Answered"));
        assert!(ended.slots.iter().all(|s| s.word == "Not logged" && !s.searching));
    }
}
