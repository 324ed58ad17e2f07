//! Admin policy (`chrome.storage.managed`): settings an administrator pushes, which the rep
//! cannot change. The policy's format is the settings document's (see
//! `extension/managed-schema.json`); every field it sets is locked.
//!
//! Invariant: the settings in force are always the rep's settings with the policy laid over
//! them, validated as a whole. A rep's import cannot undo a locked field (the policy wins and
//! the answer names the fields it kept), and a broken policy is refused with a clear error while
//! the last good settings stay in force.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::settings::{FieldPath, Settings, SettingsError};

/// Settings in force and the fields the policy locks, as dotted paths (`digest.period_mins`,
/// `integrations.hs` for a whole integration the administrator pushed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Effective {
    pub settings: Settings,
    pub locked: Vec<String>,
    /// Fields of the rep's document that the policy overrode (for an import's answer).
    pub overridden: Vec<String>,
}

/// Lays `policy` (a JSON object, possibly empty) over `user` and validates the result.
pub fn apply(user: &Settings, policy: &Value) -> Result<Effective, SettingsError> {
    let invalid = |field: &str, problem: &str| {
        let field = if field.is_empty() { FieldPath::keys(&["policy"]) } else { FieldPath::keys(&["policy", field]) };
        SettingsError::Invalid { field, problem: problem.into() }
    };
    let policy = match policy {
        Value::Null => {
            user.validate()?;
            return Ok(Effective { settings: user.clone(), locked: Vec::new(), overridden: Vec::new() });
        }
        Value::Object(m) => m,
        _ => return Err(invalid("", "must be an object")),
    };
    // Through text, as every document is read: the settings' serde code exists once.
    let text = serde_json::to_string(user).map_err(|e| invalid("", &e.to_string()))?;
    let mut doc: Value = serde_json::from_str(&text).map_err(|e| invalid("", &e.to_string()))?;
    let Value::Object(doc_map) = &mut doc else { return Err(invalid("", "settings are not an object")) };
    let mut locked = Vec::new();
    let mut overridden = Vec::new();
    for (key, value) in policy {
        match (key.as_str(), value) {
            ("digest", Value::Object(fields)) => {
                let digest = doc_map.entry("digest").or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(d) = digest else { return Err(invalid("digest", "must be an object")) };
                for (f, v) in fields {
                    let path = format!("digest.{f}");
                    if d.get(f).is_some_and(|old| old != v) {
                        overridden.push(path.clone());
                    }
                    d.insert(f.clone(), v.clone());
                    locked.push(path);
                }
            }
            ("integrations", Value::Array(items)) => {
                let list = doc_map.entry("integrations").or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(list) = list else { return Err(invalid("integrations", "must be a list")) };
                for item in items {
                    let Some(id) = item.get("id").and_then(Value::as_str) else {
                        return Err(invalid("integrations", "every integration needs an id"));
                    };
                    let path = format!("integrations.{id}");
                    match list.iter_mut().find(|i| i.get("id").and_then(Value::as_str) == Some(id)) {
                        Some(existing) => {
                            if existing != item {
                                overridden.push(path.clone());
                            }
                            *existing = item.clone();
                        }
                        None => list.push(item.clone()),
                    }
                    locked.push(path);
                }
            }
            ("digest" | "integrations", _) => return Err(invalid(key, "has the wrong type")),
            // The company's OAuth clients are credentials, read by the driver, never settings.
            ("oauth_clients", _) => {}
            (_, v) => {
                if doc_map.get(key).is_some_and(|old| old != v) {
                    overridden.push(key.clone());
                }
                doc_map.insert(key.clone(), v.clone());
                locked.push(key.clone());
            }
        }
    }
    // From text, as `Settings::from_json` reads it: one instantiation of the settings' serde code.
    let settings: Settings = Settings::read_json(&doc.to_string()).map_err(|e| SettingsError::Invalid {
        field: e.field().cloned().unwrap_or_default().under("policy"),
        problem: format!("the administrator's policy is not valid: {e}"),
    })?;
    settings.validate().map_err(|e| match e {
        SettingsError::Invalid { field, problem } => {
            SettingsError::Invalid { field, problem: format!("{problem} (set by the administrator's policy)") }
        }
        other => other,
    })?;
    locked.sort();
    overridden.sort();
    Ok(Effective { settings, locked, overridden })
}

/// Whether `path` (e.g. `digest.lookback_mins` or `integrations.hs.auto_log`) is locked.
pub fn is_locked(locked: &[String], path: &str) -> bool {
    locked.iter().any(|l| path == l || path.starts_with(&format!("{l}.")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Settings {
        Settings::from_json(
            r#"{"active_call_delay_mins": 5, "digest": {"lookback_mins": 300},
                "integrations": [{"id": "hs", "kind": "hubspot", "base_url": "https://api.hubapi.com"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn no_policy_changes_nothing() {
        let e = apply(&user(), &Value::Null).unwrap();
        assert_eq!(e.settings, user());
        assert!(e.locked.is_empty());
    }

    #[test]
    fn policy_fields_win_and_are_locked() {
        let policy = json!({
            "active_call_delay_mins": 1,
            "digest": {"quiet_start_hour": 1},
            "integrations": [
                {"id": "hs", "kind": "hubspot", "base_url": "https://api.hubapi.com", "auto_log": false},
                {"id": "sf", "kind": "salesforce", "base_url": "https://acme.my.salesforce.com"}
            ]
        });
        let e = apply(&user(), &policy).unwrap();
        assert_eq!(e.settings.active_call_delay_mins, 1);
        assert_eq!(e.settings.digest.quiet_start_hour, 1);
        assert_eq!(e.settings.digest.lookback_mins, 300, "unlocked fields keep the rep's value");
        assert_eq!(e.settings.integrations.len(), 2);
        assert!(!e.settings.integrations[0].auto_log);
        assert_eq!(e.locked, ["active_call_delay_mins", "digest.quiet_start_hour", "integrations.hs", "integrations.sf"]);
        assert_eq!(e.overridden, ["active_call_delay_mins", "digest.quiet_start_hour", "integrations.hs"]);
        assert!(is_locked(&e.locked, "integrations.hs.auto_log"));
        assert!(!is_locked(&e.locked, "digest.lookback_mins"));
    }

    #[test]
    fn a_broken_policy_is_refused_with_a_clear_error() {
        for (policy, needle) in [
            (json!([1]), "must be an object"),
            (json!({"digest": 3}), "wrong type"),
            (json!({"integrations": [{"kind": "hubspot"}]}), "needs an id"),
            (json!({"default_country": "Narnia"}), "not valid"),
            (json!({"digest": {"period_mins": 0}}), "administrator"),
        ] {
            let err = apply(&user(), &policy).unwrap_err().to_string();
            assert!(err.contains(needle), "{policy}: {err}");
        }
    }
}
