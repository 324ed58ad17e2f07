//! Settings: per integration and global, as the options page, an imported JSON document and admin
//! policy give them. The engine reads them; it never reads secrets (tokens live in the shell).
//!
//! Invariant: a `Settings` value the engine holds has passed [`Settings::validate`], so a broken
//! document is refused whole and the previous settings stay in force.

use serde::{Deserialize, Serialize};

use crate::model::{CrmKind, IntegrationId, RecordType, Timestamp};
use crate::phone::Country;
use crate::zone::{self, ZoneTable, Zones};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub integrations: Vec<IntegrationSettings>,
    /// Origins whose softphone messages are trusted, e.g. `https://apps.ringcentral.com`.
    pub softphone_origins: Vec<String>,
    /// The protocol a trusted origin's frame speaks, by origin. An origin not named here is
    /// read by shape: RingCentral Embeddable's broadcast events or the generic protocol.
    pub softphone_protocols: ProtocolTags,
    /// Pages where the rep's softphone is embedded (`https://crm.example.com`, or a pattern on
    /// one host such as `https://crm.example.com/app/*`): the softphone bridge and the panel
    /// are registered there once the rep grants Calltrail access to the site.
    pub softphone_pages: Vec<String>,
    /// A softphone to run in Calltrail's side panel, for reps without a page that embeds one
    /// (RingCentral Embeddable's `app.html` with the company's client id, for instance). Its
    /// origin must be one of `softphone_origins`.
    pub side_panel_softphone: Option<String>,
    /// The country national numbers belong to.
    pub default_country: Country,
    pub digest: DigestSettings,
    /// Minutes after hang-up before active-call picks are logged ("log now" skips the wait).
    pub active_call_delay_mins: u32,
    /// The IANA zone whose calendar day groups SMS and fax into one record per conversation
    /// per day; `None`: the rep's own zone, as the browser reports it (UTC on the server).
    pub conversation_time_zone: Option<String>,
    /// A number that calls (or texts) again within this many minutes of a search reuses that
    /// search's match instead of asking the CRM again; 0 searches every time.
    pub repeat_caller_window_mins: u32,
    /// The rep's email: with a token the rep shares with others (a HubSpot private app), the
    /// CRM user with this email owns what Calltrail logs.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rep_email: String,
    /// Logged calls, their slots and audit entries older than this many days are pruned;
    /// nothing open (waiting, failed, needing a person) ever is.
    pub retention_days: u32,
    /// Server mode: a Calltrail server that owns the ledger of some (or all) integrations. The
    /// extension logs nothing itself for those; it forwards the softphone's events and the
    /// rep's intents to the server (`crate::driver::outbox`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerLink>,
}

/// A Calltrail server the rep's extension talks to, with the rep's own token (issued by the
/// server's admin API for this rep; never the admin's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerLink {
    /// The server's base URL, like `https://calltrail.example.com`.
    pub url: String,
    pub account: String,
    pub rep: String,
    /// The rep's token, only on the way in (an import, the options page, the policy): the
    /// driver moves it to the worker's credential store at once, so a stored or shown
    /// settings document never carries it (`""`: keep the one stored).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// The local integrations the server owns; empty: every one (the server holds its own
    /// integrations and credentials, so a rep in server mode usually has none locally).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<IntegrationId>,
}

impl ServerLink {
    pub fn owns(&self, id: &IntegrationId) -> bool {
        self.owns_str(id.as_str())
    }

    pub fn owns_str(&self, id: &str) -> bool {
        self.integrations.is_empty() || self.integrations.iter().any(|i| i.as_str() == id)
    }

    /// The match pattern the worker needs host access to (`https://host/*`).
    pub fn pattern(&self) -> Option<String> {
        crate::web::Origin::of(&self.url).filter(crate::web::Origin::is_secure).map(|o| o.pattern())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            integrations: Vec::new(),
            softphone_origins: vec!["https://apps.ringcentral.com".into()],
            softphone_protocols: ProtocolTags::default(),
            softphone_pages: Vec::new(),
            side_panel_softphone: None,
            default_country: Country::US,
            digest: DigestSettings::default(),
            active_call_delay_mins: 3,
            conversation_time_zone: None,
            repeat_caller_window_mins: 15,
            rep_email: String::new(),
            retention_days: 180,
            server: None,
        }
    }
}

impl Settings {
    /// What the local engine logs: without the integrations a server owns.
    pub fn local(&self) -> Settings {
        let mut s = self.clone();
        if let Some(link) = &self.server {
            s.integrations.retain(|i| !link.owns(&i.id));
        }
        s
    }
}

/// The softphone protocols Calltrail decodes (`crate::softphone`), as a trusted origin is tagged
/// in `softphone_protocols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// RingCentral Embeddable, with Calltrail registered as the widget's call logger and contact
    /// source (an untagged origin hears its broadcast events only).
    RingCentral,
    /// Calltrail's own protocol (`docs/softphone-protocol.md`).
    Generic,
    /// RingCentral RingCX (Engage Voice) Embeddable.
    RingCx,
    JustCall,
    Ringover,
    /// Aircall Everywhere (Aircall Workspace in an iframe).
    Aircall,
    /// Zoom Phone Smart Embed.
    Zoom,
    /// Any vendor's frame running as a HubSpot calling extension: HubSpot logs those calls itself.
    HubSpot,
}

impl Protocol {
    pub const ALL: [Protocol; 8] = [
        Protocol::RingCentral,
        Protocol::Generic,
        Protocol::RingCx,
        Protocol::JustCall,
        Protocol::Ringover,
        Protocol::Aircall,
        Protocol::Zoom,
        Protocol::HubSpot,
    ];

    /// The name in a settings document.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::RingCentral => "ringcentral",
            Protocol::Generic => "generic",
            Protocol::RingCx => "ringcx",
            Protocol::JustCall => "justcall",
            Protocol::Ringover => "ringover",
            Protocol::Aircall => "aircall",
            Protocol::Zoom => "zoom",
            Protocol::HubSpot => "hubspot",
        }
    }

    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// `softphone_protocols`: origin → protocol name, kept as the JSON object the document has (its
/// code is already in the module; a map type of its own would add more for a handful of entries).
/// [`Settings::validate`] checks every name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProtocolTags(pub serde_json::Map<String, serde_json::Value>);

impl ProtocolTags {
    pub fn get(&self, origin: &str) -> Option<Protocol> {
        self.0.get(origin).and_then(|v| v.as_str()).and_then(Protocol::from_name)
    }

    /// Tags `origin`, replacing its tag if it had one.
    pub fn insert(&mut self, origin: impl Into<String>, protocol: Protocol) {
        self.0.insert(origin.into(), serde_json::Value::from(protocol.name()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Settings {
    /// The zone of the conversation day: the one set, else the rep's own, else UTC.
    pub fn conversation_zone<'a>(&'a self, zones: &'a Zones) -> &'a str {
        self.conversation_time_zone.as_deref().or(zones.local()).unwrap_or("UTC")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigestSettings {
    /// Minutes between scheduled runs.
    pub period_mins: u32,
    /// How far back a run looks: calls completed in the last `lookback_mins`.
    pub lookback_mins: u32,
    /// Quiet hours, in `quiet_time_zone` civil time: no scheduled run from `quiet_start_hour`
    /// (inclusive) to `quiet_end_hour` (exclusive).
    pub quiet_start_hour: u8,
    pub quiet_end_hour: u8,
    pub quiet_time_zone: String,
    /// The furthest a catch-up run (the first after quiet hours or an outage) reaches back.
    pub catch_up_max_hours: u32,
    /// How long work that already has a match, notes or picks waits to be logged (a browser
    /// closed over a long weekend); past it the rep is shown what was not logged. The search
    /// for contacts created after a call keeps the lookback and catch-up bounds above.
    pub max_wait_days: u32,
}

/// Civil time for the digest: quiet hours are checked instant → local time in the configured
/// zone (never a fixed offset, never the machine's zone), so DST nights need no special case
/// (I10, I11). `zone` is the table of `quiet_time_zone`'s offsets the shell handed in
/// ([`crate::zone`]). The engine's `digest` module holds the rest of the digest's clock
/// arithmetic.
impl DigestSettings {
    /// Whether `now` falls in quiet hours, in the zone's civil time.
    pub fn in_quiet_hours(&self, zone: &ZoneTable, now: Timestamp) -> bool {
        let h = zone.hour(now);
        let (s, e) = (self.quiet_start_hour, self.quiet_end_hour);
        match s.cmp(&e) {
            std::cmp::Ordering::Less => s <= h && h < e,
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Greater => h >= s || h < e,
        }
    }

    /// The first instant at or after `now` outside quiet hours. Quiet boundaries are whole local
    /// hours, so stepping in quarter hours (every zone offset is a multiple of 15 minutes) finds
    /// the boundary exactly; a day bounds the loop.
    pub fn quiet_end(&self, zone: &ZoneTable, now: Timestamp) -> Timestamp {
        if !self.in_quiet_hours(zone, now) {
            return now;
        }
        const Q: i64 = 15 * 60_000;
        let mut t = Timestamp(now.0 - now.0.rem_euclid(Q));
        for _ in 0..(26 * 4) {
            t = t.plus_ms(Q);
            if !self.in_quiet_hours(zone, t) {
                return t;
            }
        }
        t
    }
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            period_mins: 60,
            lookback_mins: 240,
            quiet_start_hour: 2,
            quiet_end_hour: 7,
            quiet_time_zone: "America/New_York".into(),
            catch_up_max_hours: 24,
            max_wait_days: 7,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    pub id: IntegrationId,
    pub kind: CrmKind,
    /// What the rep calls it ("HubSpot - EMEA").
    #[serde(default)]
    pub label: String,
    /// The vendor's region (a Zoho data centre, a Clio region, a Salesforce sandbox or My
    /// Domain name; see [`crate::crm::oauth::regions`]); `""` is the vendor's default.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// API base URL; `""` takes it from the vendor and region, and an OAuth connection fills in
    /// the account's own (Salesforce `instance_url`, Zoho and Pipedrive `api_domain`).
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub auth: AuthKind,
    #[serde(default = "yes")]
    pub auto_log: bool,
    #[serde(default = "yes")]
    pub log_messages: bool,
    #[serde(default)]
    pub conflict_rule: ConflictRule,
    #[serde(default)]
    pub placeholder: PlaceholderSettings,
    /// The API name of a field the CRM's admin made unique on its call object (a HubSpot call
    /// property with `hasUniqueValue`, a Salesforce Task field that is External ID and Unique).
    /// Call logs write their marker into it too, so the CRM itself refuses a second record of
    /// one leg (`docs/shared-calls.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker_field: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthKind {
    /// A token pasted by the admin (HubSpot private app, Pipedrive API token, ...).
    #[default]
    ApiToken,
    /// OAuth 2 authorization code (with PKCE where the CRM supports it) and refresh.
    #[serde(rename = "oauth")]
    OAuth { client_id: String, auth_url: String, token_url: String, scopes: Vec<String> },
}

/// What to do when several contacts match in one integration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ConflictRule {
    /// Send the slot to the unresolved queue.
    #[default]
    Ask,
    LastModified,
    EarliestCreated,
    Alphabetical,
    /// Record types in order of preference (e.g. Contact before Lead), then alphabetical.
    Priority { order: Vec<RecordType> },
}

/// How `AuthKind` and `ConflictRule` are read: tag first, by `crate::tagged` (see there why);
/// the `remote` mirrors read the same fields into the real types.
mod read {
    use serde::{Deserialize, Deserializer};

    use super::{AuthKind, ConflictRule};
    use crate::model::RecordType;

    #[derive(Deserialize)]
    #[serde(remote = "AuthKind", rename_all = "snake_case")]
    enum AuthKindDe {
        ApiToken,
        #[serde(rename = "oauth")]
        OAuth { client_id: String, auth_url: String, token_url: String, scopes: Vec<String> },
    }

    impl<'de> Deserialize<'de> for AuthKind {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            crate::tagged::read(d, "AuthKind", "type", |t| AuthKindDe::deserialize(t))
        }
    }

    #[derive(Deserialize)]
    #[serde(remote = "ConflictRule", rename_all = "snake_case")]
    enum ConflictRuleDe {
        Ask,
        LastModified,
        EarliestCreated,
        Alphabetical,
        Priority { order: Vec<RecordType> },
    }

    impl<'de> Deserialize<'de> for ConflictRule {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            crate::tagged::read(d, "ConflictRule", "rule", |t| ConflictRuleDe::deserialize(t))
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaceholderSettings {
    pub enabled: bool,
    /// `{phone}` is replaced by the E.164 number.
    pub template: String,
}

impl Default for PlaceholderSettings {
    fn default() -> Self {
        PlaceholderSettings { enabled: false, template: "New Lead - {phone}".into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The document is not JSON, or not the shape of a settings document (serde's sentence
    /// names the field and where it stopped reading).
    #[error("settings are not valid JSON for Calltrail: {0}")]
    Malformed(String),
    #[error("{field}: {problem}")]
    Invalid { field: FieldPath, problem: String },
}

impl SettingsError {
    /// The field a refusal is about, when it is about one: what a page points at.
    pub fn field(&self) -> Option<&FieldPath> {
        match self {
            SettingsError::Malformed(_) => None,
            SettingsError::Invalid { field, .. } => (!field.is_empty()).then_some(field),
        }
    }

    fn malformed(e: impl std::fmt::Display) -> SettingsError {
        SettingsError::Malformed(e.to_string())
    }
}

/// Where in a settings document a problem is: keys and list positions, outermost first. It
/// reads `integrations[0].base_url` and travels as `["integrations", 0, "base_url"]`, so a page
/// finds the field without reading the sentence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldPath(pub Vec<PathStep>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

impl FieldPath {
    /// A path of keys: `FieldPath::keys(&["digest", "period_mins"])`.
    pub fn keys(keys: &[&str]) -> FieldPath {
        FieldPath(keys.iter().map(|k| PathStep::Key((*k).to_owned())).collect())
    }

    /// This path with `step` added at the end.
    pub fn then(mut self, step: PathStep) -> FieldPath {
        self.0.push(step);
        self
    }

    /// This path under `key`.
    pub fn under(mut self, key: &str) -> FieldPath {
        self.0.insert(0, PathStep::Key(key.to_owned()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Key(k) if i == 0 => f.write_str(k)?,
                PathStep::Key(k) => write!(f, ".{k}")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl Settings {
    /// The browser match patterns of `softphone_pages`, one per page, in order.
    pub fn page_patterns(&self) -> Vec<String> {
        let mut out: Vec<String> = self.softphone_pages.iter().filter_map(|p| crate::web::page_pattern(p)).collect();
        out.dedup();
        out
    }
}

impl IntegrationSettings {
    /// An integration as a new one is imported: labelled with its id, logging calls and
    /// messages, every other choice the default (as `serde(default)` reads a bare record).
    pub fn new(id: &str, kind: CrmKind, base_url: impl Into<String>) -> IntegrationSettings {
        IntegrationSettings {
            id: IntegrationId::new(id),
            kind,
            label: id.into(),
            region: String::new(),
            base_url: base_url.into(),
            auth: AuthKind::default(),
            auto_log: true,
            log_messages: true,
            conflict_rule: ConflictRule::default(),
            placeholder: PlaceholderSettings::default(),
            marker_field: None,
        }
    }

    /// The sites the worker must be allowed to fetch for this integration: its API, and its
    /// OAuth token endpoint when it has one, as browser match patterns (one host each).
    pub fn access_patterns(&self) -> Vec<String> {
        let mut urls = vec![self.api_base()];
        if let AuthKind::OAuth { .. } = &self.auth {
            urls.push(self.oauth_endpoints().token_url);
        }
        let mut out: Vec<String> = urls.iter().filter_map(|u| crate::web::Origin::of(u)).map(|o| o.pattern()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The API base URL without a trailing slash: `base_url`, or the vendor's for the region.
    pub fn api_base(&self) -> String {
        match self.base_url.trim().trim_end_matches('/') {
            "" => crate::crm::oauth::api_base(self.kind, &self.region),
            url => url.to_owned(),
        }
    }

    /// The OAuth server: the settings' URLs where given, else the vendor's for the region.
    pub fn oauth_endpoints(&self) -> crate::crm::oauth::Endpoints {
        let mut e = crate::crm::oauth::endpoints(self.kind, &self.region);
        if let AuthKind::OAuth { auth_url, token_url, .. } = &self.auth {
            if !auth_url.trim().is_empty() {
                e.authorize_url = auth_url.trim().to_owned();
            }
            if !token_url.trim().is_empty() {
                e.token_url = token_url.trim().to_owned();
            }
        }
        e
    }

    /// The label the rep gave it, or its id.
    pub fn label_or_id(&self) -> String {
        if self.label.is_empty() {
            self.id.to_string()
        } else {
            self.label.clone()
        }
    }
}

impl Settings {
    /// Parses and validates a whole settings document.
    pub fn from_json(text: &str) -> Result<Settings, SettingsError> {
        let s = Settings::read_json(text)?;
        s.validate()?;
        Ok(s)
    }

    /// Reads a settings document without validating it.
    pub fn read_json(text: &str) -> Result<Settings, SettingsError> {
        serde_json::from_str(text).map_err(SettingsError::malformed)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |field: FieldPath, problem: &str| Err(SettingsError::Invalid { field, problem: problem.into() });
        let d = &self.digest;
        if d.period_mins == 0 || d.period_mins > 24 * 60 {
            return bad(FieldPath::keys(&["digest", "period_mins"]), "must be between 1 and 1440");
        }
        if d.lookback_mins == 0 || d.lookback_mins > 7 * 24 * 60 {
            return bad(FieldPath::keys(&["digest", "lookback_mins"]), "must be between 1 and 10080");
        }
        if d.quiet_start_hour > 23 || d.quiet_end_hour > 24 {
            return bad(FieldPath::keys(&["digest", "quiet_start_hour"]), "hours run from 0 to 24");
        }
        // Whether the zone exists is the shell's to say (the driver asks it); here, the shape.
        if !zone::is_zone_name(&d.quiet_time_zone) {
            return bad(FieldPath::keys(&["digest", "quiet_time_zone"]), "must be an IANA time zone like America/New_York");
        }
        if self.conversation_time_zone.as_deref().is_some_and(|z| !zone::is_zone_name(z)) {
            return bad(FieldPath::keys(&["conversation_time_zone"]), "must be an IANA time zone like Europe/Berlin, or null for the rep's own");
        }
        if d.catch_up_max_hours == 0 || d.catch_up_max_hours > 24 * 7 {
            return bad(FieldPath::keys(&["digest", "catch_up_max_hours"]), "must be between 1 and 168");
        }
        let email = self.rep_email.trim();
        if !email.is_empty() && !(email.len() <= 254 && email.split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.')) && !email.contains(char::is_whitespace)) {
            return bad(FieldPath::keys(&["rep_email"]), "must be an email address");
        }
        if d.max_wait_days == 0 || d.max_wait_days > 30 {
            return bad(FieldPath::keys(&["digest", "max_wait_days"]), "must be between 1 and 30");
        }
        if !(30..=3650).contains(&self.retention_days) {
            return bad(FieldPath::keys(&["retention_days"]), "must be between 30 and 3650");
        }
        if self.active_call_delay_mins > 24 * 60 {
            return bad(FieldPath::keys(&["active_call_delay_mins"]), "must be at most 1440");
        }
        if self.repeat_caller_window_mins > 24 * 60 {
            return bad(FieldPath::keys(&["repeat_caller_window_mins"]), "must be at most 1440 (0 searches every time)");
        }
        if let Some(link) = &self.server {
            let at = |k: &str| FieldPath::keys(&["server", k]);
            let url_ok = (link.url.starts_with("https://") || link.url.starts_with("http://")) && link.pattern().is_some() && !link.url.contains(['?', '#']);
            if !url_ok {
                return bad(at("url"), "must be the server's https:// address, like https://calltrail.example.com");
            }
            for (k, v) in [("account", &link.account), ("rep", &link.rep)] {
                if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    return bad(at(k), "must be 1 to 64 letters, digits, - or _");
                }
            }
            if !link.token.is_empty() && link.token.len() < 16 || link.token.len() > 512 || link.token.contains(char::is_whitespace) {
                return bad(at("token"), "must be the rep token the server's admin issued (ctr_...)");
            }
        }
        for (i, o) in self.softphone_origins.iter().enumerate() {
            let ok = (o.starts_with("https://") || o.starts_with("http://")) && !o.ends_with('/') && !o.contains('*');
            if !ok {
                return bad(FieldPath::keys(&["softphone_origins"]).then(PathStep::Index(i)), "must be an exact origin like https://app.example.com");
            }
        }
        for (o, name) in &self.softphone_protocols.0 {
            let at = FieldPath::keys(&["softphone_protocols", o]);
            if !self.softphone_origins.contains(o) {
                return bad(at, "tags an origin that softphone_origins does not trust");
            }
            if name.as_str().and_then(Protocol::from_name).is_none() {
                return bad(at, "unknown protocol: ringcentral, generic, ringcx, justcall, ringover, aircall, zoom or hubspot");
            }
        }
        for (i, page) in self.softphone_pages.iter().enumerate() {
            if crate::web::page_pattern(page).is_none() {
                return bad(
                    FieldPath::keys(&["softphone_pages"]).then(PathStep::Index(i)),
                    "must be one site's https:// address, like https://crm.example.com or https://crm.example.com/app/*",
                );
            }
        }
        if let Some(url) = &self.side_panel_softphone {
            let origin = crate::web::Origin::of(url).filter(crate::web::Origin::is_secure);
            match origin {
                None => return bad(FieldPath::keys(&["side_panel_softphone"]), "must be an https:// address"),
                Some(o) if !self.softphone_origins.contains(&o.to_string()) => {
                    return bad(FieldPath::keys(&["side_panel_softphone"]), "its origin must be one of softphone_origins (else its events are refused)")
                }
                Some(_) => {}
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, integ) in self.integrations.iter().enumerate() {
            let at = |f: &str| FieldPath::keys(&["integrations"]).then(PathStep::Index(i)).then(PathStep::Key(f.to_owned()));
            if integ.id.as_str().is_empty() || !seen.insert(integ.id.clone()) {
                return bad(at("id"), "must be present and unique");
            }
            if !crate::crm::oauth::is_region(integ.kind, &integ.region) {
                return bad(at("region"), "is not a region of this CRM");
            }
            if origin(&integ.api_base()).is_none() {
                return bad(at("base_url"), "must be an https URL (http only for this computer: localhost, 127.0.0.1)");
            }
            if let AuthKind::OAuth { auth_url, token_url, .. } = &integ.auth {
                for (name, url) in [("auth.auth_url", auth_url), ("auth.token_url", token_url)] {
                    if !url.is_empty() && origin(url).is_none() {
                        return bad(at(name), "must be an https URL (http only for this computer: localhost, 127.0.0.1)");
                    }
                }
            }
            if integ.placeholder.enabled && !integ.placeholder.template.contains("{phone}") {
                return bad(at("placeholder.template"), "must contain {phone}");
            }
            if let Some(f) = &integ.marker_field {
                let ok = !f.is_empty() && f.len() <= 100 && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !ok {
                    return bad(at("marker_field"), "must be the field's API name: letters, digits and _ only");
                }
                if unique_marker_field(integ.kind).is_none() {
                    return bad(at("marker_field"), "only HubSpot (a unique call property) and Salesforce (an External ID, Unique Task field) refuse a duplicate call log");
                }
            }
            if let ConflictRule::Priority { order } = &integ.conflict_rule {
                if order.is_empty() {
                    return bad(at("conflict_rule.order"), "must name at least one record type");
                }
            }
        }
        Ok(())
    }
}

/// The origin (`https://host[:port]`, lower case) of a URL credentials may be sent to: `https:`,
/// or `http:` to this computer only (`localhost`, `127.x.x.x`, `[::1]`: the local CRM
/// emulator). `None` for anything else, a URL with user info (`https://a@b`) included. Secrets
/// are bound to these origins ([`crate::driver::credentials`]).
pub fn origin(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("").to_ascii_lowercase();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")).unwrap_or_default(),
        None => authority.split(':').next().unwrap_or("").to_owned(),
    };
    let port = authority.strip_prefix(&host).unwrap_or("");
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
        && (port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()));
    let loopback = host == "localhost" || host == "[::1]" || host.strip_prefix("127.").is_some_and(|r| r.split('.').count() == 3 && r.split('.').all(|o| o.parse::<u8>().is_ok()));
    let ok = host_ok && (scheme == "https" || (scheme == "http" && loopback)) && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let s = Settings::default();
        assert_eq!((s.digest.period_mins, s.digest.lookback_mins), (60, 240));
        assert_eq!((s.digest.quiet_start_hour, s.digest.quiet_end_hour), (2, 7));
        assert_eq!(s.active_call_delay_mins, 3);
        assert_eq!((s.repeat_caller_window_mins, s.conversation_time_zone.as_deref()), (15, None));
        s.validate().unwrap();
    }

    #[test]
    fn origins_are_tagged_with_their_protocol() {
        let doc = r#"{"softphone_origins":["https://apps.ringcentral.com","https://app.justcall.io"],
            "softphone_protocols":{"https://app.justcall.io":"justcall","https://apps.ringcentral.com":"ringcentral"}}"#;
        let s = Settings::from_json(doc).unwrap();
        assert_eq!(s.softphone_protocols.get("https://app.justcall.io"), Some(Protocol::JustCall));
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["softphone_protocols"]["https://app.justcall.io"], "justcall");
        // A document from before the tags reads as it did: every origin untagged.
        let old = Settings::from_json(r#"{"softphone_origins":["https://apps.ringcentral.com"]}"#).unwrap();
        assert!(old.softphone_protocols.is_empty());
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn broken_documents_are_refused_whole() {
        for (doc, needle) in [
            ("{", "not valid JSON"),
            (r#"{"digest":{"period_mins":0}}"#, "digest.period_mins"),
            (r#"{"surprise":1}"#, "unknown field"),
            (r#"{"softphone_origins":["https://*.example.com"]}"#, "softphone_origins"),
            (r#"{"softphone_protocols":{"https://app.justcall.io":"justcall"}}"#, "does not trust"),
            (r#"{"softphone_origins":["https://a.example"],"softphone_protocols":{"https://a.example":"skype"}}"#, "unknown protocol"),
            (r#"{"integrations":[{"id":"a","kind":"hubspot","base_url":"ftp://x"}]}"#, "base_url"),
            (r#"{"integrations":[{"id":"a","kind":"nope","base_url":"https://x.example"}]}"#, "unknown variant"),
            (r#"{"integrations":[{"id":"a","kind":"hubspot","base_url":"https://x.example","marker_field":"a b"}]}"#, "integrations[0].marker_field"),
            (r#"{"integrations":[{"id":"a","kind":"clio","base_url":"https://x.example","marker_field":"m"}]}"#, "only HubSpot"),
        ] {
            let err = Settings::from_json(doc).unwrap_err().to_string();
            assert!(err.contains(needle), "{doc}: {err}");
        }
    }

    #[test]
    fn credentials_go_to_https_or_to_this_computer_only() {
        for (url, want) in [
            ("https://api.hubapi.com", Some("https://api.hubapi.com")),
            ("https://Acme.my.salesforce.com/", Some("https://acme.my.salesforce.com")),
            ("http://127.0.0.1:8790/hubspot", Some("http://127.0.0.1:8790")),
            ("http://localhost:3000", Some("http://localhost:3000")),
            ("http://[::1]:9/x", Some("http://[::1]:9")),
            ("http://api.hubapi.com", None),
            ("http://127.0.0.1.evil.example", None),
            ("http://128.0.0.1", None),
            ("https://user@api.hubapi.com", None),
            ("https://api.hubapi.com:99999", None),
            ("https:///x", None),
            ("ftp://x.example", None),
            ("javascript:alert(1)", None),
            ("https://a b.example", None),
        ] {
            assert_eq!(origin(url).as_deref(), want, "{url}");
        }
        let err = Settings::from_json(r#"{"integrations":[{"id":"a","kind":"hubspot","base_url":"http://api.hubapi.com"}]}"#).unwrap_err();
        assert_eq!(err.field().map(|f| f.to_string()), Some("integrations[0].base_url".into()));
        let err = Settings::from_json(r#"{"integrations":[{"id":"a","kind":"hubspot","base_url":"https://api.hubapi.com","auth":{"type":"oauth","client_id":"c","auth_url":"","token_url":"http://tokens.example/t","scopes":[]}}]}"#).unwrap_err();
        assert_eq!(err.field().map(|f| f.to_string()), Some("integrations[0].auth.token_url".into()));
    }

    #[test]
    fn waiting_work_and_retention_are_bounded() {
        for (doc, field) in [
            (r#"{"digest":{"max_wait_days":0}}"#, "digest.max_wait_days"),
            (r#"{"digest":{"max_wait_days":31}}"#, "digest.max_wait_days"),
            (r#"{"retention_days":29}"#, "retention_days"),
            (r#"{"retention_days":3651}"#, "retention_days"),
        ] {
            let err = Settings::from_json(doc).unwrap_err();
            assert_eq!(err.field().map(|f| f.to_string()), Some(field.into()), "{doc}");
        }
        let s = Settings::from_json(r#"{"digest":{"max_wait_days":14},"retention_days":365}"#).unwrap();
        assert_eq!((s.digest.max_wait_days, s.retention_days), (14, 365));
        assert_eq!((Settings::default().digest.max_wait_days, Settings::default().retention_days), (7, 180));
    }

    #[test]
    fn a_refusal_names_the_field_it_is_about() {
        let cases = [
            (r#"{"integrations":[{"id":"a","kind":"hubspot","base_url":"ftp://x"}]}"#, Some(r#"["integrations",0,"base_url"]"#)),
            (r#"{"digest":{"period_mins":0}}"#, Some(r#"["digest","period_mins"]"#)),
            (r#"{"softphone_origins":["https://ok.example","https://*.example.com"]}"#, Some(r#"["softphone_origins",1]"#)),
            (r#"{"softphone_protocols":{"https://x.example":"zoom"}}"#, Some(r#"["softphone_protocols","https://x.example"]"#)),
            (r#"{"surprise":1}"#, None),
            ("{", None),
            (r#"{} trailing"#, None),
        ];
        for (doc, want) in cases {
            let err = Settings::from_json(doc).unwrap_err();
            let got = err.field().map(|f| serde_json::to_string(f).unwrap());
            assert_eq!(got.as_deref(), want, "{doc}: {err}");
        }
        let err = Settings::from_json(cases[0].0).unwrap_err();
        assert_eq!(err.to_string(), "integrations[0].base_url: must be an https URL (http only for this computer: localhost, 127.0.0.1)");
        let ok = r#"{"integrations":[{"id":"a","kind":"salesforce","base_url":"https://x.example","marker_field":"Calltrail_Marker__c"}]}"#;
        assert_eq!(Settings::from_json(ok).unwrap().integrations[0].marker_field.as_deref(), Some("Calltrail_Marker__c"));
    }
}

/// What the admin creates in `kind` so that it refuses a second record of one call log (the
/// integration's `marker_field`), in the options page's words; `None` where the CRM has no such
/// field (`docs/shared-calls.md`).
pub fn unique_marker_field(kind: CrmKind) -> Option<&'static str> {
    match kind {
        CrmKind::HubSpot => Some("The API name of a call property with unique values that your admin created: a second browser's copy of a call is then refused."),
        CrmKind::Salesforce => Some("The API name of an External ID, Unique text field on Task that your admin created: a second browser's copy of a call is then refused."),
        CrmKind::Pipedrive | CrmKind::Zoho | CrmKind::Clio => None,
    }
}
