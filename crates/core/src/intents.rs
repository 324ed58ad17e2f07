//! What pages and content scripts ask of the service worker (`docs/intents.md`), read from their
//! JSON with serde.
//!
//! Invariants: fields this version does not know are ignored; a missing field is an error
//! naming it, unless it is optional (`null` counts as absent) or has a default; a field of the
//! wrong type is refused with serde's words for it. Everything here is pure, so it is tested
//! natively.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::engine::{AuditEntry, Resolution, SlotKey};
use crate::model::{CallId, Contact, IntegrationId};

/// One intent, by its `type`.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(remote = "Self", rename_all = "kebab-case")]
pub enum Intent {
    /// A message a content script saw in a softphone page: where it came from, whether it came
    /// from a child frame of the page (the softphone's iframe), and the untrusted data.
    SoftphoneEvent { origin: String, from_frame: bool, data: Value },
    /// Integrations, their health, the badge and counts: the header of every page.
    State,
    /// One call's view (the panel during and after a call).
    Call { call: CallId },
    /// The newest calls with their status per integration.
    History {
        #[serde(default)]
        limit: Option<u32>,
        #[serde(default, deserialize_with = "null_as_default")]
        unlogged_only: bool,
        #[serde(default, deserialize_with = "null_as_default")]
        query: String,
    },
    /// Every slot waiting for a person, with its candidates.
    Unresolved,
    /// The audit trail, newest first, filtered.
    Audit {
        #[serde(default)]
        limit: Option<u32>,
        #[serde(flatten)]
        filter: AuditFilter,
    },
    /// The same, as CSV text.
    AuditCsv {
        #[serde(default)]
        limit: Option<u32>,
        #[serde(flatten)]
        filter: AuditFilter,
    },
    /// "Sync now": run the digest at once and answer when it is done, with what it logged.
    SyncNow,
    /// Server mode: the server's history of the rep's calls, with their status in each CRM
    /// the server logs to (`GET /rep/{account}/{rep}/history`, answered as the server gives it).
    ServerHistory,
    /// Server mode: the rep's unresolved queue on the server (`GET /rep/{account}/{rep}/unresolved`,
    /// the rows the unresolved page shows; resolving one goes through the outbox).
    ServerUnresolved,
    /// Server mode: the server's view of one call (`GET /rep/{account}/{rep}/calls/{call}`):
    /// the panel's slots for the CRMs the server logs to, with their matches to pick.
    ServerCall { call: CallId },
    /// The settings in force, the rep's own, and the fields the admin policy locks.
    Settings,
    /// Replace the rep's settings with a whole document (validated; applied whole or not at all).
    ImportSettings { json: String },
    /// The same from the options page's form.
    SaveSettings { settings: Value },
    ExportSettings,
    /// Store the API token of an integration, or with `client_secret` the company's OAuth client
    /// secret for its client id (`""` forgets it); kept with the credentials, never in the
    /// settings or a view.
    SetCredentials {
        integration: String,
        #[serde(default)]
        token: String,
        #[serde(default)]
        client_secret: Option<String>,
    },
    /// Forget an integration's credentials (disconnect).
    ClearCredentials { integration: String },
    /// Run a real search against the CRM: proves the URL and the credentials.
    TestConnection {
        integration: String,
        #[serde(default)]
        number: Option<String>,
    },
    /// The URL to open with `chrome.identity.launchWebAuthFlow`.
    #[serde(rename = "oauth-start")]
    /// `challenge`: the S256 challenge of the PKCE verifier the page keeps for `oauth-finish`.
    OauthStart { integration: String, state: String, challenge: String, redirect_uri: String },
    /// The redirect came back: redeem the code and keep the tokens.
    #[serde(rename = "oauth-finish")]
    OauthFinish { integration: String, redirect_url: String, state: String, verifier: String, redirect_uri: String },
    /// Engine inputs a page may send (notes, picks, log now, manual, resolve).
    Engine { input: PageInput },
}

/// The engine inputs pages send, by their `input` name.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum PageInput {
    NotesOpened { call: CallId },
    NotesSaved { call: CallId, notes: String },
    NotesCancelled { call: CallId },
    ContactsPicked { call: CallId, integration: IntegrationId, contacts: Vec<Contact> },
    LogNowRequested { call: CallId },
    ManualLogRequested { call: CallId, integrations: Vec<IntegrationId> },
    UnresolvedResolved { resolutions: Vec<(SlotKey, Resolution)> },
}

/// Which audit entries an `audit` or `audit-csv` intent wants; empty or absent fields keep all.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub call: Option<String>,
    #[serde(default)]
    pub integration: Option<String>,
    /// A word the outcome must contain ("logged", "failed", "rate limited", ...).
    #[serde(default)]
    pub outcome: Option<String>,
}

impl AuditFilter {
    pub fn keeps(&self, e: &AuditEntry) -> bool {
        let named = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| w.is_empty() || have == Some(w));
        named(&self.call, e.call.as_ref().map(|c| c.as_str()))
            && named(&self.integration, e.integration.as_ref().map(|i| i.as_str()))
            && self.outcome.as_deref().is_none_or(|o| o.is_empty() || crate::model::fold(&e.outcome).contains(&crate::model::fold(o)))
    }
}

/// Who sent an intent, as the service worker saw it (`chrome.runtime.MessageSender`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Sender {
    /// One of the extension's own pages (options, history, the side panel): trusted.
    ExtensionPage,
    /// A content script in a web page (the softphone bridge, the in-page panel), in tab `tab`:
    /// the page around it is untrusted, so it may only relay softphone messages and act on the
    /// call on its screen.
    ContentScript {
        #[serde(default)]
        tab: Option<i64>,
    },
}

// Internally tagged by `type`, `input` and `kind`, read by `crate::tagged` (see there why).
impl<'de> Deserialize<'de> for Intent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::tagged::read(d, "Intent", "type", |t| Intent::deserialize(t))
    }
}

impl<'de> Deserialize<'de> for PageInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::tagged::read(d, "PageInput", "input", |t| PageInput::deserialize(t))
    }
}

impl<'de> Deserialize<'de> for Sender {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::tagged::read(d, "Sender", "kind", |t| Sender::deserialize(t))
    }
}

impl Intent {
    /// Reads an intent from its JSON text; the error says what is wrong with it. From text, not
    /// from a `serde_json::Value`: every type the worker reads is read from text (records,
    /// settings), so each type's reading code exists once in the module.
    pub fn from_json(text: &str) -> Result<Intent, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Whether `sender` may send this intent. Extension pages may send every intent; a content
    /// script only what the bridge and the in-page panel need: softphone messages, the header
    /// state, one call's view (its own and the server's), and the rep's notes, picks and "log now" for a call.
    pub fn allowed_from(&self, sender: Sender) -> Result<(), String> {
        if sender == Sender::ExtensionPage {
            return Ok(());
        }
        match self {
            Intent::SoftphoneEvent { .. } | Intent::State | Intent::Call { .. } | Intent::ServerCall { .. } => Ok(()),
            Intent::Engine {
                input:
                    PageInput::NotesOpened { .. }
                    | PageInput::NotesSaved { .. }
                    | PageInput::NotesCancelled { .. }
                    | PageInput::ContactsPicked { .. }
                    | PageInput::LogNowRequested { .. },
            } => Ok(()),
            Intent::Engine { .. } => Err("that engine input is not allowed from a web page".into()),
            _ => Err("that message type is not allowed from a web page".into()),
        }
    }
}

/// `null` read as the field's default, as if it were absent.
fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{RecordId, RecordType};
    use crate::settings::ConflictRule;

    fn read(v: Value) -> Result<Intent, String> {
        Intent::from_json(&v.to_string())
    }

    #[test]
    fn every_intent_in_the_protocol_reads() {
        let cases = [
            (json!({"type": "state"}), Intent::State),
            (json!({"type": "call", "call": "c1"}), Intent::Call { call: CallId::new("c1") }),
            (json!({"type": "history"}), Intent::History { limit: None, unlogged_only: false, query: String::new() }),
            (
                json!({"type": "history", "limit": 50, "unlogged_only": true, "query": "ada"}),
                Intent::History { limit: Some(50), unlogged_only: true, query: "ada".into() },
            ),
            (json!({"type": "history", "limit": null, "unlogged_only": null, "query": null}), Intent::History { limit: None, unlogged_only: false, query: String::new() }),
            (json!({"type": "unresolved"}), Intent::Unresolved),
            (json!({"type": "audit"}), Intent::Audit { limit: None, filter: AuditFilter::default() }),
            (
                json!({"type": "audit-csv", "limit": 10, "call": "c1", "integration": "hs", "outcome": "failed"}),
                Intent::AuditCsv {
                    limit: Some(10),
                    filter: AuditFilter { call: Some("c1".into()), integration: Some("hs".into()), outcome: Some("failed".into()) },
                },
            ),
            (json!({"type": "sync-now"}), Intent::SyncNow),
            (json!({"type": "settings"}), Intent::Settings),
            (json!({"type": "import-settings", "json": "{}"}), Intent::ImportSettings { json: "{}".into() }),
            (json!({"type": "save-settings", "settings": {"a": 1}}), Intent::SaveSettings { settings: json!({"a": 1}) }),
            (json!({"type": "export-settings"}), Intent::ExportSettings),
            (json!({"type": "set-credentials", "integration": "hs", "token": "t"}), Intent::SetCredentials { integration: "hs".into(), token: "t".into(), client_secret: None }),
            (
                json!({"type": "set-credentials", "integration": "hs", "client_secret": "s"}),
                Intent::SetCredentials { integration: "hs".into(), token: String::new(), client_secret: Some("s".into()) },
            ),
            (json!({"type": "clear-credentials", "integration": "hs"}), Intent::ClearCredentials { integration: "hs".into() }),
            (json!({"type": "test-connection", "integration": "hs"}), Intent::TestConnection { integration: "hs".into(), number: None }),
            (
                json!({"type": "oauth-start", "integration": "sf", "state": "s", "challenge": "c", "redirect_uri": "https://x/cb"}),
                Intent::OauthStart { integration: "sf".into(), state: "s".into(), challenge: "c".into(), redirect_uri: "https://x/cb".into() },
            ),
            (
                json!({"type": "oauth-finish", "integration": "sf", "redirect_url": "https://x/cb?code=1", "state": "s", "verifier": "v", "redirect_uri": "https://x/cb"}),
                Intent::OauthFinish {
                    integration: "sf".into(),
                    redirect_url: "https://x/cb?code=1".into(),
                    state: "s".into(),
                    verifier: "v".into(),
                    redirect_uri: "https://x/cb".into(),
                },
            ),
            (
                json!({"type": "softphone-event", "origin": "https://apps.ringcentral.com", "from_frame": true, "data": {"type": "rc-call-ring-notify"}}),
                Intent::SoftphoneEvent { origin: "https://apps.ringcentral.com".into(), from_frame: true, data: json!({"type": "rc-call-ring-notify"}) },
            ),
            // Fields this version does not know are ignored.
            (json!({"type": "state", "sent_at": 5, "tab": {"id": 3}}), Intent::State),
        ];
        for (v, want) in cases {
            assert_eq!(read(v.clone()), Ok(want), "{v}");
        }
    }

    #[test]
    fn every_engine_input_reads() {
        let contact = Contact {
            id: RecordId::new("p1"),
            name: "Ada".into(),
            record_type: RecordType::new("Contact"),
            phones: vec!["+12125550100".to_owned()].into(),
            created_at: None,
            modified_at: None,
            url: None,
        };
        let engine = |input: Value| read(json!({"type": "engine", "input": input}));
        let cases = [
            (json!({"input": "notes_opened", "call": "c"}), PageInput::NotesOpened { call: CallId::new("c") }),
            (json!({"input": "notes_saved", "call": "c", "notes": "hi"}), PageInput::NotesSaved { call: CallId::new("c"), notes: "hi".into() }),
            (json!({"input": "notes_cancelled", "call": "c"}), PageInput::NotesCancelled { call: CallId::new("c") }),
            (
                json!({"input": "contacts_picked", "call": "c", "integration": "hs", "contacts": [serde_json::to_value(&contact).unwrap()]}),
                PageInput::ContactsPicked { call: CallId::new("c"), integration: IntegrationId::new("hs"), contacts: vec![contact.clone()] },
            ),
            (json!({"input": "log_now_requested", "call": "c"}), PageInput::LogNowRequested { call: CallId::new("c") }),
            (
                json!({"input": "manual_log_requested", "call": "c", "integrations": ["hs", "pd"]}),
                PageInput::ManualLogRequested { call: CallId::new("c"), integrations: vec![IntegrationId::new("hs"), IntegrationId::new("pd")] },
            ),
            (
                json!({"input": "unresolved_resolved", "resolutions": [
                    ["call|c|hs", {"choice": "contacts", "ids": ["p1", "p2"]}],
                    ["call|c|pd", {"choice": "apply_rule", "rule": {"rule": "priority", "order": ["Contact", "Lead"]}}],
                    ["call|c|zo", {"choice": "create_placeholder"}],
                    ["call|c|cl", {"choice": "dismiss"}],
                ]}),
                PageInput::UnresolvedResolved {
                    resolutions: vec![
                        ("call|c|hs".into(), Resolution::Contacts { ids: vec![RecordId::new("p1"), RecordId::new("p2")] }),
                        ("call|c|pd".into(), Resolution::ApplyRule { rule: ConflictRule::Priority { order: vec![RecordType::new("Contact"), RecordType::new("Lead")] } }),
                        ("call|c|zo".into(), Resolution::CreatePlaceholder),
                        ("call|c|cl".into(), Resolution::Dismiss),
                    ],
                },
            ),
        ];
        for (v, want) in cases {
            assert_eq!(engine(v.clone()), Ok(Intent::Engine { input: want }), "{v}");
        }
    }

    /// Every malformed intent is refused with serde's sentence for what is wrong: the field
    /// missing, the variant unknown, or the type it found and the one it expected.
    #[test]
    fn malformed_intents_say_what_is_wrong() {
        let cases = [
            (json!("state"), "expected internally tagged enum Intent"),
            (json!({}), "missing field `type`"),
            (json!({"type": 5}), "invalid type: integer `5`"),
            (json!({"type": "no-such"}), "unknown variant `no-such`"),
            (json!({"type": "call"}), "missing field `call`"),
            (json!({"type": "call", "call": null}), "invalid type: null, expected a string"),
            (json!({"type": "history", "limit": -1}), "invalid value: integer `-1`, expected u32"),
            (json!({"type": "history", "limit": 1.5}), "expected u32"),
            (json!({"type": "history", "limit": 4_294_967_296_u64}), "expected u32"),
            (json!({"type": "history", "unlogged_only": "yes"}), "expected a boolean"),
            (json!({"type": "softphone-event", "origin": "o", "from_frame": true}), "missing field `data`"),
            (json!({"type": "softphone-event", "origin": "o", "from_frame": 1, "data": {}}), "expected a boolean"),
            (json!({"type": "engine"}), "missing field `input`"),
            (json!({"type": "engine", "input": {"input": "no_such_input"}}), "unknown variant `no_such_input`"),
            (json!({"type": "engine", "input": [1]}), "invalid length"),
            (json!({"type": "engine", "input": {"input": "notes_saved", "call": "c"}}), "missing field `notes`"),
            (json!({"type": "engine", "input": {"input": "manual_log_requested", "call": "c", "integrations": ["hs", 2]}}), "invalid type: integer `2`"),
            (json!({"type": "engine", "input": {"input": "contacts_picked", "call": "c", "integration": "hs", "contacts": [{"id": "p"}]}}), "missing field `name`"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": {}}}), "expected a sequence"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [["s"]]}}), "expected a tuple of size 2"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [[1, {"choice": "dismiss"}]]}}), "expected a string"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [["s", {"choice": "maybe"}]]}}), "unknown variant `maybe`"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [["s", {"choice": "apply_rule", "rule": {"rule": "x"}}]]}}), "unknown variant `x`"),
        ];
        for (v, want) in cases {
            let err = read(v.clone()).expect_err(&v.to_string());
            assert!(err.contains(want), "{v}: {err:?} should say {want:?}");
        }
    }

    #[test]
    fn a_content_script_may_send_only_what_the_bridge_and_panel_need() {
        let content = Sender::ContentScript { tab: Some(3) };
        let allowed = [
            json!({"type": "state"}),
            json!({"type": "call", "call": "c"}),
            json!({"type": "server-call", "call": "c"}),
            json!({"type": "softphone-event", "origin": "o", "from_frame": true, "data": {}}),
            json!({"type": "engine", "input": {"input": "notes_saved", "call": "c", "notes": "n"}}),
            json!({"type": "engine", "input": {"input": "log_now_requested", "call": "c"}}),
        ];
        let refused = [
            json!({"type": "history"}),
            json!({"type": "server-history"}),
            json!({"type": "settings"}),
            json!({"type": "set-credentials", "integration": "hs", "token": "t"}),
            json!({"type": "audit-csv"}),
            json!({"type": "engine", "input": {"input": "manual_log_requested", "call": "c", "integrations": ["hs"]}}),
            json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": []}}),
        ];
        for v in allowed {
            assert_eq!(read(v.clone()).unwrap().allowed_from(content), Ok(()), "{v}");
        }
        for v in refused {
            let intent = read(v.clone()).unwrap();
            assert!(intent.allowed_from(content).is_err(), "{v}");
            assert_eq!(intent.allowed_from(Sender::ExtensionPage), Ok(()), "{v}");
        }
        let sender: Sender = serde_json::from_value(json!({"kind": "content_script", "tab": 7})).unwrap();
        assert_eq!(sender, Sender::ContentScript { tab: Some(7) });
    }

    #[test]
    fn the_audit_filter_keeps_what_it_names() {
        let e = AuditEntry {
            at: crate::model::Timestamp(1),
            trigger: crate::engine::Trigger::Auto,
            integration: Some(IntegrationId::new("hs")),
            slot: None,
            call: Some(CallId::new("c1")),
            contact: None,
            outcome: "Logged to Ada".into(),
            record: None,
        };
        assert!(AuditFilter::default().keeps(&e));
        assert!(AuditFilter { call: Some("c1".into()), integration: Some(String::new()), outcome: Some("logged".into()) }.keeps(&e));
        assert!(!AuditFilter { integration: Some("pd".into()), ..AuditFilter::default() }.keeps(&e));
        assert!(!AuditFilter { outcome: Some("failed".into()), ..AuditFilter::default() }.keeps(&e));
    }
}
