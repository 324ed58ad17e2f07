//! What the browser lets the extension do, as the shell reports it: which CRM APIs the worker
//! may fetch (optional host permissions the rep grants when connecting a CRM), and on which of
//! the rep's softphone pages the bridge and panel may run. Rust says what to ask for
//! ([`Wanted`]); the shell asks the browser and reports back; an integration without access
//! holds its work until it is granted ([`crate::engine::Input::AccessChanged`]).
//!
//! Also the first run's checklist: a softphone (a granted page or the side panel), a CRM
//! connected with access, and a test search that found a real contact.


use serde::{Deserialize, Serialize};

use crate::model::IntegrationId;
use crate::settings::Settings;

/// What the shell must check with the browser (and ask the rep for).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Wanted {
    /// Per integration, the API and token hosts its requests go to, as match patterns.
    pub integrations: Vec<WantedAccess>,
    /// The rep's softphone pages, as match patterns.
    pub pages: Vec<String>,
    /// The softphone to run in the side panel, if any.
    pub side_panel: Option<String>,
    /// Server mode: the server's host, as a match pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WantedAccess {
    pub integration: IntegrationId,
    pub patterns: Vec<String>,
}

impl Wanted {
    pub fn of(settings: &Settings) -> Wanted {
        Wanted {
            integrations: settings
                .integrations
                .iter()
                .map(|i| WantedAccess { integration: i.id.clone(), patterns: i.access_patterns() })
                .collect(),
            pages: settings.page_patterns(),
            side_panel: settings.side_panel_softphone.clone(),
            server: settings.server.as_ref().and_then(|l| l.pattern()),
        }
    }
}

/// The browser's answers so far.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Whether the worker may fetch each integration's API hosts; absent: not reported (a
    /// shell without such permissions, like the server, never reports).
    pub access: crate::vecmap::VecMap<IntegrationId, bool>,
    /// The softphone pages the rep granted, as patterns.
    pub pages: Vec<String>,
    pub progress: Progress,
}

/// What the checklist remembers across worker starts (`meta/checklist`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// A test search found a real contact in this integration.
    #[serde(default)]
    pub found_contact_in: Option<IntegrationId>,
}

pub const PROGRESS_KEY: &str = "checklist";

/// "api.hubapi.com and accounts.example.com" from match patterns: what a rep reads.
pub fn hosts(patterns: &[String]) -> String {
    let names: Vec<&str> = patterns.iter().map(|p| p.split("://").nth(1).unwrap_or(p).trim_end_matches("/*")).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Why an integration without access holds its work, in words.
pub fn missing_words(patterns: &[String]) -> String {
    format!("Calltrail needs access to {}", hosts(patterns))
}

/// One item of the first run's checklist.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    pub item: &'static str,
    pub title: &'static str,
    pub done: bool,
    pub detail: String,
}

/// The checklist from the settings in force, who is connected and the browser's grants.
pub fn checklist(settings: &Settings, connected: &dyn Fn(&IntegrationId) -> bool, grants: &Grants) -> Vec<Item> {
    let pages = settings.page_patterns();
    let granted_pages: Vec<&String> = pages.iter().filter(|p| grants.pages.contains(p)).collect();
    let softphone = match (&settings.side_panel_softphone, granted_pages.first(), pages.first()) {
        (Some(url), _, _) => (true, format!("The softphone at {url} runs in Calltrail's side panel.")),
        (None, Some(p), _) => (true, format!("Calltrail runs on {p}.")),
        (None, None, Some(p)) => (false, format!("Grant Calltrail access to {p} to log calls there.")),
        (None, None, None) => (false, "Add the page where your softphone runs, or a softphone for the side panel.".into()),
    };
    let ready: Vec<&IntegrationId> = settings
        .integrations
        .iter()
        .map(|i| &i.id)
        .filter(|id| connected(id) && grants.access.get(*id) != Some(&false))
        .collect();
    let crm = match (ready.first(), settings.integrations.first()) {
        (Some(id), _) => (true, format!("{} is connected.", label(settings, id))),
        (None, Some(i)) => (false, format!("Connect {} and grant Calltrail access to it.", i.label_or_id())),
        (None, None) => (false, "Add a CRM and connect it.".into()),
    };
    let search = match &grants.progress.found_contact_in {
        Some(id) => (true, format!("A test search found a contact in {}.", label(settings, id))),
        None => (false, "Run \"Test connection\" with the number of a contact you know is in the CRM.".into()),
    };
    vec![
        Item { item: "softphone", title: "Where your softphone runs", done: softphone.0, detail: softphone.1 },
        Item { item: "crm", title: "A CRM connected", done: crm.0, detail: crm.1 },
        Item { item: "search", title: "A test search that finds a real contact", done: search.0, detail: search.1 },
    ]
}

fn label(settings: &Settings, id: &IntegrationId) -> String {
    settings.integrations.iter().find(|i| &i.id == id).map_or_else(|| id.to_string(), |i| i.label_or_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_read_as_a_list() {
        let p = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(missing_words(&p(&["https://api.hubapi.com/*"])), "Calltrail needs access to api.hubapi.com");
        assert_eq!(hosts(&p(&["https://a.example/*", "https://b.example/*", "http://127.0.0.1/*"])), "a.example, b.example and 127.0.0.1");
    }

    #[test]
    fn the_checklist_follows_settings_connections_and_grants() {
        let mut settings = Settings::from_json(r#"{"integrations":[{"id":"hs","kind":"hubspot","label":"HubSpot","base_url":"https://api.hubapi.com"}]}"#).unwrap();
        let mut grants = Grants::default();
        let done = |s: &Settings, g: &Grants, connected: bool| checklist(s, &|_| connected, g).iter().map(|i| i.done).collect::<Vec<_>>();
        assert_eq!(done(&settings, &grants, false), [false, false, false]);
        settings.softphone_pages = vec!["https://crm.example.com".into()];
        assert_eq!(done(&settings, &grants, true), [false, true, false], "a page not granted yet is not done");
        grants.pages = vec!["https://crm.example.com/*".into()];
        grants.access.insert(IntegrationId::new("hs"), false);
        assert_eq!(done(&settings, &grants, true), [true, false, false], "connected without access is not done");
        grants.access.insert(IntegrationId::new("hs"), true);
        grants.progress.found_contact_in = Some(IntegrationId::new("hs"));
        assert_eq!(done(&settings, &grants, true), [true, true, true]);
    }
}
