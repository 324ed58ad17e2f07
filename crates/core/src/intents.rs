//! What pages and content scripts ask of the service worker (`docs/intents.md`), decoded from
//! their JSON.
//!
//! Why by hand and not with serde's derive: an intent is an internally tagged object
//! (`{"type": "history", "limit": 50}`), and serde reads those by first copying every field into
//! a generic buffer, then reading the variant out of it. That machinery, instantiated for these
//! two enums, was about 30 KB of the gzipped module, a budget the engine's speed needed more
//! (ARCHITECTURE.md, "Crates and optimisation levels"). Here the message is a
//! [`serde_json::Value`], which the module reads anyway, and each variant takes its fields by name.
//!
//! Invariants, as serde's derive had them: fields this version does not know are ignored; a
//! missing field is an error naming it, unless it is optional (`null` counts as absent) or has a
//! default; a field of the wrong type is an error naming the field and what it must be.
//! Everything here is pure, so it is tested natively.

use serde_json::{Map, Value};

use crate::engine::{Resolution, SlotKey};
use crate::model::{CallId, Contact, IntegrationId, RecordId};

/// One intent, by its `type`.
#[derive(Debug, PartialEq)]
pub enum Intent {
    /// A message a content script saw in a softphone page: where it came from, whether it came
    /// from a child frame of the page (the softphone's iframe), and the untrusted data.
    SoftphoneEvent { origin: String, from_frame: bool, data: Value },
    /// Integrations, their health, the badge and counts: the header of every page.
    State,
    /// One call's view (the panel during and after a call).
    Call { call: CallId },
    /// The newest calls with their status per integration.
    History { limit: Option<u32>, unlogged_only: bool, query: String },
    /// Every slot waiting for a person, with its candidates.
    Unresolved,
    /// The audit trail, newest first, filtered.
    Audit { limit: Option<u32>, filter: AuditFilter },
    /// The same, as CSV text.
    AuditCsv { limit: Option<u32>, filter: AuditFilter },
    /// "Sync now": run the digest at once and answer when it is done, with what it logged.
    SyncNow,
    /// The settings in force, the rep's own, and the fields the admin policy locks.
    Settings,
    /// Replace the rep's settings with a whole document (validated; applied whole or not at all).
    ImportSettings { json: String },
    /// The same from the options page's form.
    SaveSettings { settings: Value },
    ExportSettings,
    /// Store the API token of an integration.
    SetCredentials { integration: String, token: String },
    /// Forget an integration's credentials (disconnect).
    ClearCredentials { integration: String },
    /// Run a real search against the CRM: proves the URL and the credentials.
    TestConnection { integration: String, number: Option<String> },
    /// The URL to open with `chrome.identity.launchWebAuthFlow`.
    OauthStart { integration: String, state: String, verifier: String, redirect_uri: String },
    /// The redirect came back: redeem the code and keep the tokens.
    OauthFinish { integration: String, redirect_url: String, state: String, verifier: String, redirect_uri: String },
    /// Engine inputs a page may send (notes, picks, log now, manual, resolve).
    Engine { input: PageInput },
}

/// The engine inputs pages send, by their `input` name.
#[derive(Debug, PartialEq)]
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
#[derive(Debug, Default, PartialEq)]
pub struct AuditFilter {
    pub call: Option<String>,
    pub integration: Option<String>,
    /// A word the outcome must contain ("logged", "failed", "rate limited", ...).
    pub outcome: Option<String>,
}

impl AuditFilter {
    pub fn keeps(&self, e: &Value) -> bool {
        let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("");
        self.call.as_deref().is_none_or(|c| c.is_empty() || field("call") == c)
            && self.integration.as_deref().is_none_or(|i| i.is_empty() || field("integration") == i)
            && self
                .outcome
                .as_deref()
                .is_none_or(|o| o.is_empty() || field("outcome").to_lowercase().contains(&o.to_lowercase()))
    }

    fn read(f: &mut Fields) -> Result<AuditFilter, String> {
        Ok(AuditFilter { call: f.opt_string("call")?, integration: f.opt_string("integration")?, outcome: f.opt_string("outcome")? })
    }
}

impl Intent {
    /// Reads an intent; the error says what is wrong with it, naming the field.
    pub fn from_value(v: Value) -> Result<Intent, String> {
        let mut f = Fields::of(v, "an intent")?;
        let kind = f.string("type")?;
        Ok(match kind.as_str() {
            "softphone-event" => Intent::SoftphoneEvent { origin: f.string("origin")?, from_frame: f.bool("from_frame")?, data: f.value("data")? },
            "state" => Intent::State,
            "call" => Intent::Call { call: CallId::new(f.string("call")?) },
            "history" => Intent::History {
                limit: f.opt_u32("limit")?,
                unlogged_only: f.opt_bool("unlogged_only")?.unwrap_or(false),
                query: f.opt_string("query")?.unwrap_or_default(),
            },
            "unresolved" => Intent::Unresolved,
            "audit" => Intent::Audit { limit: f.opt_u32("limit")?, filter: AuditFilter::read(&mut f)? },
            "audit-csv" => Intent::AuditCsv { limit: f.opt_u32("limit")?, filter: AuditFilter::read(&mut f)? },
            "sync-now" => Intent::SyncNow,
            "settings" => Intent::Settings,
            "import-settings" => Intent::ImportSettings { json: f.string("json")? },
            "save-settings" => Intent::SaveSettings { settings: f.value("settings")? },
            "export-settings" => Intent::ExportSettings,
            "set-credentials" => Intent::SetCredentials { integration: f.string("integration")?, token: f.string("token")? },
            "clear-credentials" => Intent::ClearCredentials { integration: f.string("integration")? },
            "test-connection" => Intent::TestConnection { integration: f.string("integration")?, number: f.opt_string("number")? },
            "oauth-start" => Intent::OauthStart {
                integration: f.string("integration")?,
                state: f.string("state")?,
                verifier: f.string("verifier")?,
                redirect_uri: f.string("redirect_uri")?,
            },
            "oauth-finish" => Intent::OauthFinish {
                integration: f.string("integration")?,
                redirect_url: f.string("redirect_url")?,
                state: f.string("state")?,
                verifier: f.string("verifier")?,
                redirect_uri: f.string("redirect_uri")?,
            },
            "engine" => Intent::Engine { input: PageInput::from_value(f.value("input")?).map_err(|e| format!("input: {e}"))? },
            other => return Err(format!("unknown intent type `{other}`")),
        })
    }
}

impl PageInput {
    /// Reads an engine input a page sent; the error names the field.
    pub fn from_value(v: Value) -> Result<PageInput, String> {
        let mut f = Fields::of(v, "an engine input")?;
        let name = f.string("input")?;
        let call = |f: &mut Fields| f.string("call").map(CallId::new);
        Ok(match name.as_str() {
            "notes_opened" => PageInput::NotesOpened { call: call(&mut f)? },
            "notes_saved" => PageInput::NotesSaved { call: call(&mut f)?, notes: f.string("notes")? },
            "notes_cancelled" => PageInput::NotesCancelled { call: call(&mut f)? },
            "contacts_picked" => PageInput::ContactsPicked {
                call: call(&mut f)?,
                integration: IntegrationId::new(f.string("integration")?),
                // Through text: see `read_typed`.
                contacts: read_typed(f.value("contacts")?, "contacts")?,
            },
            "log_now_requested" => PageInput::LogNowRequested { call: call(&mut f)? },
            "manual_log_requested" => PageInput::ManualLogRequested {
                call: call(&mut f)?,
                integrations: strings(f.value("integrations")?, "integrations")?.into_iter().map(IntegrationId::new).collect(),
            },
            "unresolved_resolved" => {
                let Value::Array(items) = f.value("resolutions")? else { return Err(expected("resolutions", "a list")) };
                let resolutions = items.into_iter().map(resolution).collect::<Result<_, _>>()?;
                PageInput::UnresolvedResolved { resolutions }
            }
            other => return Err(format!("unknown engine input `{other}`")),
        })
    }
}

/// `[slot, {"choice": ...}]`.
fn resolution(item: Value) -> Result<(SlotKey, Resolution), String> {
    const WHAT: &str = "a [slot, choice] pair";
    let Value::Array(pair) = item else { return Err(expected("resolutions", WHAT)) };
    let [Value::String(slot), choice] = <[Value; 2]>::try_from(pair).map_err(|_| expected("resolutions", WHAT))? else {
        return Err(expected("resolutions", WHAT));
    };
    let mut f = Fields::of(choice, "a choice")?;
    let choice = f.string("choice")?;
    let resolution = match choice.as_str() {
        "contacts" => Resolution::Contacts { ids: strings(f.value("ids")?, "ids")?.into_iter().map(RecordId::new).collect() },
        "apply_rule" => Resolution::ApplyRule { rule: read_typed(f.value("rule")?, "rule")? },
        "create_placeholder" => Resolution::CreatePlaceholder,
        "dismiss" => Resolution::Dismiss,
        other => return Err(format!("unknown choice `{other}`")),
    };
    Ok((SlotKey::from(slot), resolution))
}

/// A nested value of a type with serde code (contacts, a conflict rule), read back from its
/// text. Why not `serde_json::from_value`: every type the module reads is read from text
/// somewhere (the settings, the records), so reading from text reuses that code, while reading
/// from a tree would instantiate every type's serde code a second time (about 9 KB gzipped
/// across the crate when this was measured).
fn read_typed<T: serde::de::DeserializeOwned>(v: Value, field: &str) -> Result<T, String> {
    serde_json::from_str(&v.to_string()).map_err(|e| format!("{field}: {e}"))
}

fn strings(v: Value, field: &str) -> Result<Vec<String>, String> {
    let Value::Array(items) = v else { return Err(expected(field, "a list of strings")) };
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            _ => Err(expected(field, "a list of strings")),
        })
        .collect()
}

fn expected(field: &str, what: &str) -> String {
    format!("field `{field}` must be {what}")
}

/// An object's fields, taken by name.
struct Fields(Map<String, Value>);

impl Fields {
    fn of(v: Value, what: &str) -> Result<Fields, String> {
        match v {
            Value::Object(m) => Ok(Fields(m)),
            _ => Err(format!("{what} must be an object")),
        }
    }

    /// A field that must be there (`null` counts as there: it is a value).
    fn value(&mut self, name: &str) -> Result<Value, String> {
        self.0.remove(name).ok_or_else(|| format!("missing field `{name}`"))
    }

    /// A field that may be absent or `null`.
    fn opt(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &str) -> Result<String, String> {
        match self.value(name)? {
            Value::String(s) => Ok(s),
            _ => Err(expected(name, "a string")),
        }
    }

    fn bool(&mut self, name: &str) -> Result<bool, String> {
        self.value(name)?.as_bool().ok_or_else(|| expected(name, "true or false"))
    }

    fn opt_string(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.opt(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(expected(name, "a string")),
        }
    }

    fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, String> {
        self.opt(name).map(|v| v.as_bool().ok_or_else(|| expected(name, "true or false"))).transpose()
    }

    fn opt_u32(&mut self, name: &str) -> Result<Option<u32>, String> {
        self.opt(name)
            .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| expected(name, "a whole number from 0 to 4294967295")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::RecordType;
    use crate::settings::ConflictRule;

    fn read(v: Value) -> Result<Intent, String> {
        Intent::from_value(v)
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
            (json!({"type": "set-credentials", "integration": "hs", "token": "t"}), Intent::SetCredentials { integration: "hs".into(), token: "t".into() }),
            (json!({"type": "clear-credentials", "integration": "hs"}), Intent::ClearCredentials { integration: "hs".into() }),
            (json!({"type": "test-connection", "integration": "hs"}), Intent::TestConnection { integration: "hs".into(), number: None }),
            (
                json!({"type": "oauth-start", "integration": "sf", "state": "s", "verifier": "v", "redirect_uri": "https://x/cb"}),
                Intent::OauthStart { integration: "sf".into(), state: "s".into(), verifier: "v".into(), redirect_uri: "https://x/cb".into() },
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

    /// Every malformed intent is refused with a sentence that names what is wrong.
    #[test]
    fn malformed_intents_say_what_is_wrong() {
        let cases = [
            (json!("state"), "an intent must be an object"),
            (json!({}), "missing field `type`"),
            (json!({"type": 5}), "field `type` must be a string"),
            (json!({"type": "no-such"}), "unknown intent type `no-such`"),
            (json!({"type": "call"}), "missing field `call`"),
            (json!({"type": "call", "call": null}), "field `call` must be a string"),
            (json!({"type": "history", "limit": -1}), "field `limit` must be a whole number from 0 to 4294967295"),
            (json!({"type": "history", "limit": 1.5}), "field `limit` must be a whole number"),
            (json!({"type": "history", "limit": 4_294_967_296_u64}), "field `limit` must be a whole number"),
            (json!({"type": "history", "unlogged_only": "yes"}), "field `unlogged_only` must be true or false"),
            (json!({"type": "softphone-event", "origin": "o", "from_frame": true}), "missing field `data`"),
            (json!({"type": "softphone-event", "origin": "o", "from_frame": 1, "data": {}}), "field `from_frame` must be true or false"),
            (json!({"type": "engine"}), "missing field `input`"),
            (json!({"type": "engine", "input": {"input": "no_such_input"}}), "input: unknown engine input `no_such_input`"),
            (json!({"type": "engine", "input": [1]}), "input: an engine input must be an object"),
            (json!({"type": "engine", "input": {"input": "notes_saved", "call": "c"}}), "input: missing field `notes`"),
            (json!({"type": "engine", "input": {"input": "manual_log_requested", "call": "c", "integrations": ["hs", 2]}}), "field `integrations` must be a list of strings"),
            (json!({"type": "engine", "input": {"input": "contacts_picked", "call": "c", "integration": "hs", "contacts": [{"id": "p"}]}}), "input: contacts: missing field"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": {}}}), "field `resolutions` must be a list"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [["s"]]}}), "field `resolutions` must be a [slot, choice] pair"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [[1, {"choice": "dismiss"}]]}}), "[slot, choice] pair"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [["s", {"choice": "maybe"}]]}}), "unknown choice `maybe`"),
            (json!({"type": "engine", "input": {"input": "unresolved_resolved", "resolutions": [["s", {"choice": "apply_rule", "rule": {"rule": "x"}}]]}}), "rule: unknown variant `x`"),
        ];
        for (v, want) in cases {
            let err = read(v.clone()).expect_err(&v.to_string());
            assert!(err.contains(want), "{v}: {err:?} should say {want:?}");
        }
    }

    #[test]
    fn the_audit_filter_keeps_what_it_names() {
        let e = json!({"call": "c1", "integration": "hs", "outcome": "Logged to Ada"});
        assert!(AuditFilter::default().keeps(&e));
        assert!(AuditFilter { call: Some("c1".into()), integration: Some(String::new()), outcome: Some("logged".into()) }.keeps(&e));
        assert!(!AuditFilter { integration: Some("pd".into()), ..AuditFilter::default() }.keeps(&e));
        assert!(!AuditFilter { outcome: Some("failed".into()), ..AuditFilter::default() }.keeps(&e));
    }
}
