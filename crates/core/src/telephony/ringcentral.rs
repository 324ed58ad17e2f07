//! RingCentral, server side: account-level telephony-session notifications
//! (`/restapi/v1.0/account/~/telephony/sessions`, delivered to a webhook) and call-log records
//! (`call-log` and `call-log-sync`), decoded into facts about one user's leg of a call, and
//! [`settle`], which reads the facts gathered for a user and a call and says what to log.
//!
//! # Shapes (see `www/ringcentral-emulator/README.md` and `reference/softphones.md`)
//! A notification is `{uuid, event, timestamp, subscriptionId, ownerId, body}` whose `body` is
//! `{sequence, sessionId, telephonySessionId, eventTime, parties:[…], origin}`; each party is
//! `{extensionId? (RingCentral users only), id, direction, from, to, status:{code, reason?},
//! missedCall, queueCall?, recordings?}`. RingCentral sends one party per notification; several
//! are accepted (up to [`MAX_PARTIES`]). Deliveries are neither ordered nor single: `sequence`
//! orders the facts of a session and `(party, sequence)` names a repeat.
//!
//! # The call id
//! `rc:<telephonySessionId>`, exactly as [`crate::softphone::ringcentral`] names the same call
//! from the extension, so a call seen by the browser and by the server is one call.
//!
//! # Whose leg (`docs/shared-calls.md` is the rule in product words)
//! A party belongs to the user whose RingCentral extension id it carries; a user's leg of a
//! session is their parties' notifications, and a call-log record belongs to the user its
//! `extension.id` names. Each user logs their own leg, named by their party id
//! ([`crate::model::Leg`]), so that two users on one call write two records and two browsers
//! of one user one. A leg is *not* the user's to log ([`Leg::NotTheirs`]) when:
//! - it reached them as a queue member (`queueCall`) and they never answered it: a colleague
//!   took it, or nobody did and the queue's own party logs the missed call once (for the rep
//!   the queue's extension is mapped to);
//! - it rang them and was taken elsewhere before they answered: their party left with a reason
//!   that says so ([`TAKEN_ELSEWHERE`]: a pickup, an agent answering for the queue, a redirect
//!   or transfer of the ringing call);
//! - it is internal: the other end is another user of the account (`from`/`to` carry an
//!   `extensionId`) and no outside party is in it.
//!
//! Everything else the user took part in is theirs: an answered leg (from their answer to
//! their party's `Disconnected`, or `Gone` when it moved to a linked session), a call they
//! placed, a direct call that nobody answered (`missedCall`, `VoiceMail`).
//!
//! A conference is a session of its own (`origin.type` `Conference`, parties with a
//! `conferenceRole`): each user in it logs their time in it, against its outside party, whose
//! own party in the session names the number; the calls merged into it
//! end at the merge (their parties go `Gone` with a `peerId`) and are logged as what they were.
//!
//! # When a leg is logged
//! As soon as the user's party is `Disconnected` and the notifications tell the whole story
//! (answered, missed or voicemail, and no recording on its way): the engine hears
//! `CallEnded` within the webhook's round trip. When they do not (a notification was lost, so
//! an answer may be missing; or a recording is being made, whose link only the call log has),
//! the leg waits for the call-log record, at most [`HOLD_FOR_LOG_MS`] after the hang-up, and
//! then goes with what is known. A call-log record is final data (duration, result, recording
//! link) and settles the leg at once, unless the notifications announced a recording the record
//! does not show yet ([`RECORDING_WAIT_MS`]). A call no webhook ever told of is logged from its
//! record alone.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{bounded, quote, TelephonyError};
use crate::model::{Call, CallId, CallResult, Direction, Leg as CallLeg, Timestamp};
use crate::phone::{Country, E164};

/// The prefix of call ids built from a telephony session id (the extension's too).
pub use crate::softphone::ringcentral::CALL_ID_PREFIX;

/// How long a leg whose notifications do not tell the whole story waits for its call-log
/// record after the hang-up, before it is logged with what is known.
pub const HOLD_FOR_LOG_MS: i64 = 2 * 60 * 1000;
/// How long after the hang-up a leg with a recording waits for the record to show the link.
pub const RECORDING_WAIT_MS: i64 = 10 * 60 * 1000;
/// At most this many parties are read from one notification.
pub const MAX_PARTIES: usize = 16;
/// `Disconnected` reasons (RingCentral's `CallStatusInfo.reason`) that say a ringing call was
/// taken elsewhere: someone picked it up (BLF pickup, a queue agent), it was redirected or
/// transferred on before the party answered. A party that leaves unanswered with one of these
/// did not miss the call, and the call was not theirs.
pub const TAKEN_ELSEWHERE: [&str; 9] =
    ["Pickup", "AgentAnswered", "CallRedirected", "CallerInputRedirect", "DtmfTransfer", "BlindTransfer", "AttendedTransfer", "RccTransfer", "TakeOver"];
/// Ids (session, party, extension, record), in bytes.
const MAX_ID: usize = 128;
/// Phone numbers as RingCentral spells them, status codes and reasons.
const MAX_SHORT: usize = 64;
/// A recording link.
const MAX_URL: usize = 2048;

/// One party's state in one notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyEvent {
    /// The telephony session id (`s-…`).
    pub session: String,
    pub sequence: u64,
    /// `eventTime`: when the change happened, on RingCentral's clock.
    pub at: Timestamp,
    /// The RingCentral user whose party this is; none for an outside party.
    pub extension: Option<String>,
    pub party: String,
    pub direction: Direction,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `Setup`, `Proceeding`, `Answered`, `Hold`, `VoiceMail`, `Disconnected`, …
    pub status: String,
    pub reason: Option<String>,
    pub missed: bool,
    pub queue: bool,
    /// The party carries `recordings`: a recording is being made.
    pub recording: bool,
    /// The other end (`from` of an inbound party, `to` of an outbound one) names a RingCentral
    /// user of the account (`extensionId`): an internal call, unless in a conference.
    #[serde(default)]
    pub peer_user: bool,
    /// The session is a conference (`origin.type` `Conference`, or the party has a
    /// `conferenceRole`).
    #[serde(default)]
    pub conference: bool,
}

/// One webhook delivery, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// `uuid`: the same for every copy of one notification (repeats are dropped by it).
    pub delivery: String,
    pub subscription: Option<String>,
    pub parties: Vec<PartyEvent>,
}

/// A call-log record, as far as logging needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub id: String,
    pub session: String,
    /// The user the record belongs to (`extension.id`).
    pub extension: Option<String>,
    /// `partyId`: the user's party in the session, when the record names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    pub direction: Direction,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    /// When the user answered (the `Accept` leg of the detailed view), if the record says.
    pub answered_at: Option<Timestamp>,
    pub result: CallResult,
    pub from: Option<String>,
    pub to: Option<String>,
    pub recording_url: Option<String>,
    /// `lastModifiedTime` as sent: with the id, it names one version of the record.
    pub modified: String,
}

/// A fact the server gathered about one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    Party(PartyEvent),
    Log(LogRecord),
}

impl Fact {
    pub fn session(&self) -> &str {
        match self {
            Fact::Party(p) => &p.session,
            Fact::Log(l) => &l.session,
        }
    }
}

/// What a user's leg of a call comes to, given the facts so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leg {
    /// Not over, or waiting for the call log; look again at `recheck_at` (or at the next fact).
    Pending { recheck_at: Option<Timestamp> },
    /// Not the user's to log (a colleague answered the queue call), or not loggable at all.
    NotTheirs { reason: String },
    /// Log it: the engine's `CallEnded`.
    Ended(Call),
}

/// The call id of a telephony session.
pub fn call_id(session: &str) -> CallId {
    CallId::new(format!("{CALL_ID_PREFIX}{session}"))
}

/// The delivery key of a call-log record version (repeats of one version are dropped by it).
pub fn log_delivery(record: &LogRecord) -> String {
    format!("log:{}:{}", record.id, record.modified)
}

/// Reads one webhook body.
pub fn notification(body: &Value) -> Result<Notification, TelephonyError> {
    let raw: RawNotification = serde_json::from_value(body.clone()).map_err(|e| TelephonyError::Shape(quote(&e.to_string())))?;
    let delivery = id_text(raw.uuid.as_ref(), "uuid")?.ok_or(TelephonyError::Missing("uuid"))?;
    let subscription = id_text(raw.subscription_id.as_ref(), "subscriptionId")?;
    let session = raw.body.ok_or(TelephonyError::Missing("body"))?;
    let tsid = id_text(session.telephony_session_id.as_ref(), "body.telephonySessionId")?.ok_or(TelephonyError::Missing("body.telephonySessionId"))?;
    let sequence = session.sequence.ok_or(TelephonyError::Missing("body.sequence"))?;
    let at = time(session.event_time.as_deref(), "body.eventTime")?.ok_or(TelephonyError::Missing("body.eventTime"))?;
    let conference_session = session.origin.as_ref().and_then(|o| o.kind.as_deref()) == Some("Conference");
    if session.parties.len() > MAX_PARTIES {
        return Err(TelephonyError::Oversized { field: "body.parties", max: MAX_PARTIES });
    }
    let mut parties = Vec::with_capacity(session.parties.len());
    for p in session.parties {
        let status = p.status.ok_or(TelephonyError::Missing("body.parties[].status"))?;
        let code = bounded(status.code.as_deref().ok_or(TelephonyError::Missing("body.parties[].status.code"))?, "body.parties[].status.code", MAX_SHORT)?;
        let direction = direction(p.direction.as_deref(), "body.parties[].direction")?;
        let peer = match direction {
            Direction::Inbound => p.from.as_ref(),
            Direction::Outbound => p.to.as_ref(),
        };
        let peer_user = id_text(peer.and_then(|e| e.extension_id.as_ref()), "body.parties[].from/to.extensionId")?.is_some();
        parties.push(PartyEvent {
            session: tsid.clone(),
            sequence,
            at,
            extension: id_text(p.extension_id.as_ref(), "body.parties[].extensionId")?,
            party: id_text(p.id.as_ref(), "body.parties[].id")?.unwrap_or_default(),
            direction,
            from: number(p.from.as_ref(), "body.parties[].from")?,
            to: number(p.to.as_ref(), "body.parties[].to")?,
            status: code.to_owned(),
            reason: status.reason.as_deref().map(|r| bounded(r, "body.parties[].status.reason", MAX_SHORT)).transpose()?.map(str::to_owned),
            missed: p.missed_call.unwrap_or(false),
            queue: p.queue_call.unwrap_or(false),
            recording: p.recordings.as_ref().is_some_and(|r| !r.is_empty()),
            peer_user,
            conference: conference_session || p.conference_role.as_ref().is_some_and(|r| !r.is_null()),
        });
    }
    Ok(Notification { delivery, subscription, parties })
}

/// Reads one call-log record (simple or detailed view).
pub fn log_record(record: &Value) -> Result<LogRecord, TelephonyError> {
    let raw: RawRecord = serde_json::from_value(record.clone()).map_err(|e| TelephonyError::Shape(quote(&e.to_string())))?;
    let id = id_text(raw.id.as_ref(), "id")?.ok_or(TelephonyError::Missing("id"))?;
    let session = id_text(raw.telephony_session_id.as_ref(), "telephonySessionId")?.ok_or(TelephonyError::Missing("telephonySessionId"))?;
    let started_at = time(raw.start_time.as_deref(), "startTime")?.ok_or(TelephonyError::Missing("startTime"))?;
    let duration_ms = match (raw.duration_ms, raw.duration) {
        (Some(ms), _) => ms,
        (None, Some(s)) => s.saturating_mul(1000),
        (None, None) => 0,
    };
    if !(0..=24 * 3_600_000).contains(&duration_ms) {
        return Err(TelephonyError::Invalid { field: "durationMs", value: duration_ms.to_string() });
    }
    let direction = direction(raw.direction.as_deref(), "direction")?;
    let result_text = raw.result.as_deref().unwrap_or("");
    let result = log_result(bounded(result_text, "result", MAX_SHORT)?);
    let extension = match &raw.extension {
        Some(e) => id_text(e.id.as_ref(), "extension.id")?,
        None => None,
    };
    // The detailed view's legs: the user's own `Accept` (or, for the target of a transfer,
    // `TransferCall`) leg starts when they answered; a record without the user's leg falls back
    // to the first `Accept` leg, then to the start of the call.
    let answered_at = if result == CallResult::Answered {
        let answering = |l: &&RawLeg| matches!(l.leg_type.as_deref(), Some("Accept" | "TransferCall"));
        let theirs = |l: &&RawLeg| {
            let id = l.extension.as_ref().and_then(|e| id_text(e.id.as_ref(), "legs[].extension.id").ok().flatten());
            extension.is_some() && id == extension
        };
        let own = raw.legs.iter().filter(answering).find(theirs);
        let first = raw.legs.iter().find(|l| l.leg_type.as_deref() == Some("Accept"));
        let at = own.or(first).and_then(|l| l.start_time.as_deref());
        Some(time(at, "legs[].startTime")?.unwrap_or(started_at))
    } else {
        None
    };
    let recording_url = match raw.recording {
        Some(r) => r.content_uri.or(r.uri).map(|u| bounded(&u, "recording.contentUri", MAX_URL).map(str::to_owned)).transpose()?,
        None => None,
    };
    Ok(LogRecord {
        id,
        session,
        extension,
        party: id_text(raw.party_id.as_ref(), "partyId")?,
        direction,
        started_at,
        duration_ms,
        answered_at,
        result,
        from: number(raw.from.as_ref(), "from")?,
        to: number(raw.to.as_ref(), "to")?,
        recording_url,
        modified: bounded(raw.last_modified_time.as_deref().unwrap_or(""), "lastModifiedTime", MAX_SHORT)?.to_owned(),
    })
}

/// What the facts gathered for the user with extension id `extension` about one call come to
/// at `now` (see the module docs for the rule). Facts of other users are ignored, except the
/// outside party's own, which name the number a conference leg is logged against; repeats and
/// order do not matter.
pub fn settle(facts: &[Fact], extension: &str, country: Country, now: Timestamp) -> Leg {
    let mut mine: Vec<&PartyEvent> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Party(p) if p.extension.as_deref() == Some(extension) => Some(p),
            _ => None,
        })
        .collect();
    mine.sort_by(|a, b| (a.sequence, &a.party).cmp(&(b.sequence, &b.party)));
    mine.dedup_by(|a, b| a.sequence == b.sequence && a.party == b.party);
    // The newest version of the user's record.
    let record = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Log(l) if l.extension.as_deref() == Some(extension) => Some(l),
            _ => None,
        })
        .max_by(|a, b| (a.recording_url.is_some(), &a.modified).cmp(&(b.recording_url.is_some(), &b.modified)));
    let recording_expected = mine.iter().any(|p| p.recording);
    let answered = mine.iter().find(|p| p.status == "Answered").map(|p| p.at);
    let conference = mine.iter().any(|p| p.conference);
    let leg = CallLeg {
        id: mine.first().map(|p| p.party.clone()).filter(|p| !p.is_empty()).or_else(|| record.and_then(|r| r.party.clone())),
        queue: mine.iter().any(|p| p.queue),
        // The server is no device of the rep's: where a browser that carried the call logs
        // first (Clio), the server waits for it like any other place, then checks.
        device: crate::model::Device::Elsewhere,
    };

    // Not the user's to log, whatever else is known.
    if let Some(reason) = not_theirs(&mine, answered, conference) {
        return Leg::NotTheirs { reason };
    }

    if let Some(r) = record {
        let ended = r.started_at.plus_ms(r.duration_ms);
        let wait_until = ended.plus_ms(RECORDING_WAIT_MS);
        if recording_expected && r.recording_url.is_none() && now < wait_until {
            return Leg::Pending { recheck_at: Some(wait_until) };
        }
        // The record is final data, but the user's own `Answered` notification says best when
        // they answered (a record's leg for a transfer target starts at the transfer).
        let mut leg = from_record(r, leg, country);
        if let (Leg::Ended(c), Some(a)) = (&mut leg, answered) {
            c.answered_at = Some(a.clamp(c.started_at, c.ended_at.unwrap_or(a).max(c.started_at)));
        }
        return leg;
    }

    // Over once every party of the user has left the session.
    let Some(end) = ended(&mine) else {
        return Leg::Pending { recheck_at: None };
    };
    let voicemail = mine.iter().any(|p| p.status == "VoiceMail");
    let missed = mine.iter().any(|p| p.missed);
    let result = if answered.is_some() {
        CallResult::Answered
    } else if voicemail {
        CallResult::Voicemail
    } else if missed {
        CallResult::Missed
    } else {
        // Over without an answer the notifications showed and without `missedCall`: an answer
        // notification may have been lost, or an outbound call went unanswered. The record says.
        CallResult::Unknown
    };
    let hold_until = end.at.plus_ms(HOLD_FOR_LOG_MS);
    // A conference leg is logged against the conference's outside party: until its own party
    // is known, the leg waits like one whose answer may be missing.
    let outside = if conference { outside_number(facts, &end.session) } else { None };
    let complete = result != CallResult::Unknown && !recording_expected && (!conference || outside.is_some());
    if !complete && now < hold_until {
        return Leg::Pending { recheck_at: Some(hold_until) };
    }
    let result = match result {
        // Gave up waiting: an outbound call nobody answered, else an answered call whose
        // answer notification was lost (a missed inbound call is flagged `missedCall`).
        CallResult::Unknown if end.direction == Direction::Outbound => CallResult::Missed,
        CallResult::Unknown => CallResult::Answered,
        r => r,
    };
    let Some(first) = mine.first() else { return Leg::Pending { recheck_at: None } };
    let (direction, their, our) = match (&outside, conference) {
        (Some(o), _) => (o.direction, Some(o.number.as_str()), None),
        (None, true) => return Leg::NotTheirs { reason: "a conference whose outside party is not known".into() },
        (None, false) => {
            let (their, our) = sides(end.direction, end.from.as_deref(), end.to.as_deref());
            (end.direction, their, our)
        }
    };
    let their = match their.map(|t| E164::parse(t, country)) {
        Some(Ok(n)) => n,
        Some(Err(e)) => return Leg::NotTheirs { reason: format!("the other party's number cannot be read: {e}") },
        None => return Leg::NotTheirs { reason: "the other party's number is unknown".into() },
    };
    let started_at = mine.iter().map(|p| p.at).min().unwrap_or(first.at);
    let ended_at = end.at.max(started_at);
    let our = our.and_then(|o| E164::parse(o, country).ok());
    Leg::Ended(Call {
        answered_at: answered.map(|a| a.clamp(started_at, ended_at)),
        ended_at: Some(ended_at),
        result,
        leg,
        ..Call::new(call_id(&end.session), direction, their, our, started_at)
    })
}

/// Whether the facts gathered about one session need its outside party's own notifications
/// to settle the user's leg: a conference leg is logged against the conference's outside party,
/// which only its own party names (the server routes such notifications to nobody, so its
/// worker reads them when this says so).
pub fn needs_outside_party(facts: &[Fact]) -> bool {
    let conference = facts.iter().any(|f| matches!(f, Fact::Party(p) if p.conference && p.extension.is_some()));
    conference && !facts.iter().any(|f| matches!(f, Fact::Party(p) if p.extension.is_none()))
}

/// Why the user's parties in a session are not theirs to log, if they are not (the module
/// docs' rule).
fn not_theirs(mine: &[&PartyEvent], answered: Option<Timestamp>, conference: bool) -> Option<String> {
    if mine.is_empty() {
        return None;
    }
    let placed = mine.iter().any(|p| p.direction == Direction::Outbound && !p.queue);
    if !conference && mine.iter().all(|p| p.peer_user) {
        return Some("an internal call between two users of the account: no outside party to log".into());
    }
    if answered.is_some() || placed {
        return None;
    }
    if mine.iter().any(|p| p.queue) {
        return Some("a queue call the user did not answer: a colleague took it, or the queue logs it as missed".into());
    }
    let taken = mine.iter().rev().find(|p| matches!(p.status.as_str(), "Disconnected" | "Gone")).and_then(|p| p.reason.as_deref()).filter(|r| TAKEN_ELSEWHERE.contains(r));
    taken.map(|r| format!("taken elsewhere before the user answered ({r})"))
}

/// The user's last party event once every one of their parties has left the session
/// (`Disconnected`, or `Gone` to a linked one).
fn ended<'a>(mine: &[&'a PartyEvent]) -> Option<&'a PartyEvent> {
    let gone = |p: &PartyEvent| matches!(p.status.as_str(), "Disconnected" | "Gone");
    let mut parties: Vec<&str> = mine.iter().map(|p| p.party.as_str()).collect();
    parties.sort_unstable();
    parties.dedup();
    for party in parties {
        let last = mine.iter().rev().find(|p| p.party == party)?;
        if !gone(last) {
            return None;
        }
    }
    mine.iter().rev().find(|p| gone(p)).copied()
}

/// An outside party's number, and the call's direction as the user sees it.
#[derive(Debug)]
struct Outside {
    number: String,
    direction: Direction,
}

/// The outside party of session `session` (a party with no extension id): its own number
/// (`from` when it called in, `to` when it was called) and the direction the call has for the
/// users in it. The first one seen, when there are several.
fn outside_number(facts: &[Fact], session: &str) -> Option<Outside> {
    let mut outside: Vec<&PartyEvent> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Party(p) if p.extension.is_none() && p.session == session => Some(p),
            _ => None,
        })
        .collect();
    outside.sort_by_key(|p| p.sequence);
    outside.iter().find_map(|p| {
        let (own, direction) = match p.direction {
            // The outside party placed the call: it is inbound for the users.
            Direction::Outbound => (p.from.as_deref()?, Direction::Inbound),
            Direction::Inbound => (p.to.as_deref()?, Direction::Outbound),
        };
        Some(Outside { number: own.to_owned(), direction })
    })
}

fn from_record(r: &LogRecord, leg: CallLeg, country: Country) -> Leg {
    let (their, our) = sides(r.direction, r.from.as_deref(), r.to.as_deref());
    let their = match their.map(|t| E164::parse(t, country)) {
        Some(Ok(n)) => n,
        Some(Err(e)) => return Leg::NotTheirs { reason: format!("the other party's number cannot be read: {e}") },
        None => return Leg::NotTheirs { reason: "the other party's number is unknown".into() },
    };
    let ended_at = r.started_at.plus_ms(r.duration_ms);
    let our = our.and_then(|o| E164::parse(o, country).ok());
    Leg::Ended(Call {
        answered_at: r.answered_at.map(|a| a.clamp(r.started_at, ended_at)),
        ended_at: Some(ended_at),
        result: r.result,
        recording_url: r.recording_url.clone(),
        leg,
        ..Call::new(call_id(&r.session), r.direction, their, our, r.started_at)
    })
}

/// (their number, our number) for a party or record going `direction`.
fn sides<'a>(direction: Direction, from: Option<&'a str>, to: Option<&'a str>) -> (Option<&'a str>, Option<&'a str>) {
    match direction {
        Direction::Inbound => (from, to),
        Direction::Outbound => (to, from),
    }
}

/// RingCentral's call-log `result` in the engine's words.
fn log_result(result: &str) -> CallResult {
    match result {
        "Accepted" | "Call connected" | "Reply" => CallResult::Answered,
        "Missed" | "No Answer" | "Hang Up" | "Abandoned" | "Stopped" => CallResult::Missed,
        "Voicemail" => CallResult::Voicemail,
        "Busy" => CallResult::Busy,
        "Rejected" | "Declined" | "Blocked" => CallResult::Rejected,
        "Call Failed" | "Call Failure" | "Failed" | "Internal Error" | "IP Phone Offline" => CallResult::Failed,
        _ => CallResult::Unknown,
    }
}

fn direction(d: Option<&str>, field: &'static str) -> Result<Direction, TelephonyError> {
    match d {
        Some("Inbound") => Ok(Direction::Inbound),
        Some("Outbound") => Ok(Direction::Outbound),
        Some(other) => Err(TelephonyError::Invalid { field, value: quote(other) }),
        None => Err(TelephonyError::Missing(field)),
    }
}

/// An id that RingCentral sends as a string or a number; printable ASCII without spaces.
fn id_text(v: Option<&Value>, field: &'static str) -> Result<Option<String>, TelephonyError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(other) => return Err(TelephonyError::Invalid { field, value: quote(&other.to_string()) }),
    };
    bounded(&text, field, MAX_ID)?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TelephonyError::Invalid { field, value: quote(&text) });
    }
    Ok(Some(text))
}

fn time(t: Option<&str>, field: &'static str) -> Result<Option<Timestamp>, TelephonyError> {
    match t {
        None => Ok(None),
        Some(s) => {
            bounded(s, field, MAX_SHORT)?;
            Timestamp::parse(s).map(Some).ok_or_else(|| TelephonyError::Invalid { field, value: quote(s) })
        }
    }
}

fn number(end: Option<&RawEnd>, field: &'static str) -> Result<Option<String>, TelephonyError> {
    match end.and_then(|e| e.phone_number.as_deref()) {
        None | Some("") => Ok(None),
        Some(n) => Ok(Some(bounded(n, field, MAX_SHORT)?.to_owned())),
    }
}

// ---- what serde reads (every field optional: the checks above say what is required) -------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    uuid: Option<Value>,
    subscription_id: Option<Value>,
    body: Option<RawSession>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSession {
    sequence: Option<u64>,
    telephony_session_id: Option<Value>,
    event_time: Option<String>,
    #[serde(default)]
    parties: Vec<RawParty>,
    origin: Option<RawOrigin>,
}

#[derive(Deserialize)]
struct RawOrigin {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParty {
    extension_id: Option<Value>,
    id: Option<Value>,
    direction: Option<String>,
    from: Option<RawEnd>,
    to: Option<RawEnd>,
    recordings: Option<Vec<Value>>,
    status: Option<RawStatus>,
    missed_call: Option<bool>,
    queue_call: Option<bool>,
    conference_role: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnd {
    phone_number: Option<String>,
    extension_id: Option<Value>,
}

#[derive(Deserialize)]
struct RawStatus {
    code: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecord {
    id: Option<Value>,
    telephony_session_id: Option<Value>,
    start_time: Option<String>,
    duration: Option<i64>,
    duration_ms: Option<i64>,
    direction: Option<String>,
    result: Option<String>,
    from: Option<RawEnd>,
    to: Option<RawEnd>,
    recording: Option<RawRecording>,
    extension: Option<RawExtension>,
    party_id: Option<Value>,
    last_modified_time: Option<String>,
    #[serde(default)]
    legs: Vec<RawLeg>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecording {
    uri: Option<String>,
    content_uri: Option<String>,
}

#[derive(Deserialize)]
struct RawExtension {
    id: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLeg {
    leg_type: Option<String>,
    start_time: Option<String>,
    extension: Option<RawExtension>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: &str = "2026-06-01T15:00:00.000Z";
    const BOB: &str = "62000000102";
    const CAROL: &str = "62000000103";

    fn at(offset_ms: i64) -> Timestamp {
        Timestamp::parse(T0).unwrap().plus_ms(offset_ms)
    }

    /// A notification as the emulator (and RingCentral's documented payload) shapes it.
    fn note(seq: u64, offset_ms: i64, ext: Option<&str>, dir: &str, code: &str, extra: Value) -> Value {
        let mut party = json!({
            "accountId": "37000000008", "id": format!("p-s-1-{}", ext.unwrap_or("out")), "direction": dir,
            "from": {"phoneNumber": "+14155550123", "name": "Caller"}, "to": {"phoneNumber": "+16505550102"},
            "status": {"code": code, "rcc": false}, "park": {}, "missedCall": false, "standAlone": false, "muted": false
        });
        if let Some(e) = ext {
            party["extensionId"] = json!(e);
        }
        if dir == "Outbound" && ext.is_some() {
            party["from"] = json!({"phoneNumber": "+16505550102"});
            party["to"] = json!({"phoneNumber": "+14155550123"});
        }
        if let (Value::Object(p), Value::Object(x)) = (&mut party, extra) {
            p.extend(x);
        }
        let time = at(offset_ms).to_rfc3339();
        json!({"uuid": format!("{}{seq}", "1234567890123456"), "event": "/restapi/v1.0/account/37000000008/telephony/sessions",
               "timestamp": time, "subscriptionId": "sub-1", "ownerId": "62000000101",
               "body": {"sequence": seq, "sessionId": "4242", "telephonySessionId": "s-1", "serverId": "10.13.22.27.TAM",
                        "eventTime": time, "parties": [party], "origin": {"type": "Call"}}})
    }

    fn facts(notes: &[Value]) -> Vec<Fact> {
        notes.iter().flat_map(|n| notification(n).unwrap().parties).map(Fact::Party).collect()
    }

    fn answered_inbound() -> Vec<Value> {
        vec![
            note(1, 0, None, "Outbound", "Setup", json!({})),
            note(2, 40, Some(BOB), "Inbound", "Setup", json!({})),
            note(3, 80, Some(BOB), "Inbound", "Proceeding", json!({})),
            note(4, 8_000, Some(BOB), "Inbound", "Answered", json!({})),
            note(5, 68_000, Some(BOB), "Inbound", "Disconnected", json!({})),
            note(6, 68_015, None, "Outbound", "Disconnected", json!({})),
        ]
    }

    #[test]
    fn a_notification_reads_into_a_party_event() {
        let n = notification(&answered_inbound()[3]).unwrap();
        assert_eq!(n.delivery, "12345678901234564");
        assert_eq!(n.subscription.as_deref(), Some("sub-1"));
        let p = &n.parties[0];
        assert_eq!((p.session.as_str(), p.sequence, p.status.as_str()), ("s-1", 4, "Answered"));
        assert_eq!(p.extension.as_deref(), Some(BOB));
        assert_eq!(p.at, at(8_000));
        assert_eq!(call_id(&p.session).as_str(), "rc:s-1");
    }

    #[test]
    fn legs_settle_by_the_rule() {
        let inbound_missed = vec![
            note(2, 40, Some(BOB), "Inbound", "Setup", json!({})),
            note(4, 20_000, Some(BOB), "Inbound", "Disconnected", json!({"missedCall": true})),
        ];
        let voicemail = vec![
            note(2, 40, Some(BOB), "Inbound", "Setup", json!({})),
            note(3, 20_000, Some(BOB), "Inbound", "VoiceMail", json!({"missedCall": true})),
            note(5, 50_000, Some(BOB), "Inbound", "Disconnected", json!({"missedCall": true})),
        ];
        let colleague = vec![
            note(4, 100, Some(CAROL), "Inbound", "Setup", json!({"queueCall": true})),
            note(7, 9_000, Some(CAROL), "Inbound", "Disconnected", json!({"queueCall": true})),
        ];
        let mut reversed = answered_inbound();
        reversed.reverse();
        let mut doubled = answered_inbound();
        doubled.extend(answered_inbound());
        let later = at(60 * 60 * 1000);
        // (facts, whose, now, expected: "ended <result> <duration>", "pending", "not")
        let table: Vec<(Vec<Value>, &str, Timestamp, &str)> = vec![
            (answered_inbound(), BOB, at(70_000), "ended Answered 60"),
            (reversed, BOB, at(70_000), "ended Answered 60"),
            (doubled, BOB, at(70_000), "ended Answered 60"),
            (answered_inbound()[..4].to_vec(), BOB, at(70_000), "pending"),
            (answered_inbound(), CAROL, at(70_000), "pending"),
            (inbound_missed, BOB, at(21_000), "ended Missed 0"),
            (voicemail, BOB, at(51_000), "ended Voicemail 0"),
            (colleague.clone(), CAROL, at(10_000), "not"),
            // The answer was lost: wait for the call log, then log what is known.
            (vec![answered_inbound()[1].clone(), answered_inbound()[4].clone()], BOB, at(70_000), "pending"),
            (vec![answered_inbound()[1].clone(), answered_inbound()[4].clone()], BOB, later, "ended Answered 0"),
        ];
        for (i, (notes, who, now, want)) in table.into_iter().enumerate() {
            let got = match settle(&facts(&notes), who, Country::US, now) {
                Leg::Ended(c) => format!("ended {:?} {}", c.result, c.duration_secs()),
                Leg::Pending { .. } => "pending".into(),
                Leg::NotTheirs { .. } => "not".into(),
            };
            assert_eq!(got, want, "row {i}");
        }
    }

    #[test]
    fn an_ended_leg_carries_the_numbers_and_times() {
        let Leg::Ended(c) = settle(&facts(&answered_inbound()), BOB, Country::US, at(70_000)) else { panic!("ended") };
        assert_eq!(c.id.as_str(), "rc:s-1");
        assert_eq!(c.their_number.as_str(), "+14155550123");
        assert_eq!(c.our_number.map(|n| n.as_str().to_owned()).as_deref(), Some("+16505550102"));
        assert_eq!((c.started_at, c.answered_at, c.ended_at), (at(40), Some(at(8_000)), Some(at(68_000))));
        let out = vec![
            note(1, 0, Some(BOB), "Outbound", "Setup", json!({})),
            note(5, 5_000, Some(BOB), "Outbound", "Answered", json!({})),
            note(7, 35_000, Some(BOB), "Outbound", "Disconnected", json!({})),
        ];
        let Leg::Ended(c) = settle(&facts(&out), BOB, Country::US, at(40_000)) else { panic!("ended") };
        assert_eq!((c.direction, c.their_number.as_str(), c.duration_secs()), (Direction::Outbound, "+14155550123", 30));
    }

    fn record(extra: Value) -> Value {
        let mut r = json!({
            "uri": "x", "id": "Y3sM8gAAA", "sessionId": "4242", "telephonySessionId": "s-1", "partyId": "p-1",
            "startTime": T0, "duration": 68, "durationMs": 68_000, "type": "Voice", "direction": "Inbound",
            "action": "Phone Call", "result": "Accepted", "to": {"phoneNumber": "+16505550102", "extensionId": BOB},
            "from": {"phoneNumber": "+14155550123"}, "extension": {"uri": "x", "id": 62000000102_i64},
            "lastModifiedTime": "2026-06-01T15:01:10.000Z",
            "legs": [{"legType": "PstnToSip", "startTime": T0}, {"legType": "Accept", "startTime": "2026-06-01T15:00:08.000Z"}]
        });
        if let (Value::Object(p), Value::Object(x)) = (&mut r, extra) {
            p.extend(x);
        }
        r
    }

    #[test]
    fn a_call_nobody_told_us_of_is_logged_from_its_record() {
        let rec = log_record(&record(json!({"recording": {"id": "9", "contentUri": "https://media.example/9/content"}}))).unwrap();
        assert_eq!(rec.extension.as_deref(), Some(BOB), "numeric extension ids read as text");
        assert_eq!(log_delivery(&rec), "log:Y3sM8gAAA:2026-06-01T15:01:10.000Z");
        let Leg::Ended(c) = settle(&[Fact::Log(rec)], BOB, Country::US, at(90_000)) else { panic!("ended") };
        assert_eq!(c.id.as_str(), "rc:s-1");
        assert_eq!((c.result, c.duration_secs()), (CallResult::Answered, 60));
        assert_eq!(c.recording_url.as_deref(), Some("https://media.example/9/content"));
        let missed = log_record(&record(json!({"result": "Missed", "legs": []}))).unwrap();
        let Leg::Ended(c) = settle(&[Fact::Log(missed)], BOB, Country::US, at(90_000)) else { panic!("ended") };
        assert_eq!((c.result, c.answered_at), (CallResult::Missed, None));
    }

    #[test]
    fn a_recording_on_its_way_waits_for_the_record_that_shows_it() {
        let mut notes = answered_inbound();
        notes[3] = note(4, 8_000, Some(BOB), "Inbound", "Answered", json!({"recordings": [{"id": "9", "active": true}]}));
        let mut f = facts(&notes);
        assert!(matches!(settle(&f, BOB, Country::US, at(70_000)), Leg::Pending { recheck_at: Some(_) }));
        f.push(Fact::Log(log_record(&record(json!({}))).unwrap()));
        assert!(matches!(settle(&f, BOB, Country::US, at(75_000)), Leg::Pending { .. }), "the bare record is not final");
        let with = log_record(&record(json!({"lastModifiedTime": "2026-06-01T15:01:15.000Z", "recording": {"id": "9", "contentUri": "https://m/9"}}))).unwrap();
        f.push(Fact::Log(with));
        let Leg::Ended(c) = settle(&f, BOB, Country::US, at(80_000)) else { panic!("ended") };
        assert_eq!(c.recording_url.as_deref(), Some("https://m/9"));
        // A recording that never shows: logged without it in the end.
        f.pop();
        assert!(matches!(settle(&f, BOB, Country::US, at(60 * 60 * 1000)), Leg::Ended(_)));
    }

    #[test]
    fn malformed_bodies_are_errors_never_panics() {
        let good = answered_inbound()[3].clone();
        let mut cases: Vec<(Value, &str)> = vec![
            (json!(null), "shape"),
            (json!([]), "shape"),
            (json!({}), "missing_field"),
            (json!({"uuid": "1"}), "missing_field"),
            (json!({"uuid": {"a": 1}, "body": {}}), "invalid_value"),
            (json!({"uuid": "1", "body": {"telephonySessionId": "s", "sequence": 1, "eventTime": "yesterday", "parties": []}}), "invalid_value"),
            (json!({"uuid": "1", "body": {"telephonySessionId": "s", "sequence": -1}}), "shape"),
            (json!({"uuid": "x".repeat(500), "body": {}}), "oversized"),
        ];
        let mut bad_dir = good.clone();
        bad_dir["body"]["parties"][0]["direction"] = json!("Sideways");
        cases.push((bad_dir, "invalid_value"));
        let mut many = good.clone();
        many["body"]["parties"] = Value::Array(vec![good["body"]["parties"][0].clone(); MAX_PARTIES + 1]);
        cases.push((many, "oversized"));
        for (i, (body, kind)) in cases.into_iter().enumerate() {
            let err = notification(&body).unwrap_err();
            assert_eq!(err.kind(), kind, "case {i}: {err}");
        }
        assert_eq!(log_record(&json!({"id": "1"})).unwrap_err().kind(), "missing_field");
        assert_eq!(log_record(&record(json!({"durationMs": -5}))).unwrap_err().kind(), "invalid_value");
    }

    #[test]
    fn arbitrary_json_never_panics() {
        // A small deterministic fuzz: every prefix-mutation of a good body, and odd values in
        // every field, decode to a value or an error.
        let good = answered_inbound()[4].clone();
        let odd = [json!(null), json!(1), json!(-1), json!(1.5), json!("x"), json!(""), json!([]), json!({}), json!(true), json!("9".repeat(300))];
        let paths: [&[&str]; 8] = [
            &["uuid"],
            &["body"],
            &["body", "sequence"],
            &["body", "eventTime"],
            &["body", "telephonySessionId"],
            &["body", "parties"],
            &["body", "parties", "0"],
            &["body", "parties", "0", "status"],
        ];
        for path in paths {
            for v in &odd {
                let mut body = good.clone();
                let mut cur = &mut body;
                for (i, k) in path.iter().enumerate() {
                    let next = if let Ok(n) = k.parse::<usize>() { cur.get_mut(n) } else { cur.get_mut(*k) };
                    match next {
                        Some(n) if i + 1 < path.len() => cur = n,
                        Some(n) => {
                            *n = v.clone();
                            break;
                        }
                        None => break,
                    }
                }
                if let Ok(n) = notification(&body) {
                    let facts: Vec<Fact> = n.parties.into_iter().map(Fact::Party).collect();
                    let _ = settle(&facts, BOB, Country::US, at(0));
                }
                let _ = log_record(&body);
            }
        }
    }
}
