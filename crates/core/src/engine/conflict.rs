//! Conflict rules: which of several matching contacts a call is logged to.
//!
//! Invariant: the choice is a pure function of the contacts and the rule (ties broken by name,
//! then id), so a replay or a restart chooses the same contact.

use std::cmp::Ordering;

use crate::model::Contact;
use crate::settings::ConflictRule;

/// The contact to log to, or `None` when the rule is "ask" (the unresolved queue decides).
pub fn choose(contacts: &[Contact], rule: &ConflictRule) -> Option<Contact> {
    let alpha = |a: &Contact, b: &Contact| {
        crate::model::fold(&a.name).cmp(&crate::model::fold(&b.name)).then_with(|| a.id.cmp(&b.id))
    };
    let best = |cmp: &dyn Fn(&Contact, &Contact) -> Ordering| contacts.iter().min_by(|a, b| cmp(a, b)).cloned();
    match rule {
        ConflictRule::Ask => None,
        ConflictRule::Alphabetical => best(&alpha),
        // Most recent first; a contact without a date loses to one with a date.
        ConflictRule::LastModified => best(&|a, b| b.modified_at.cmp(&a.modified_at).then_with(|| alpha(a, b))),
        ConflictRule::EarliestCreated => best(&|a, b| {
            let key = |c: &Contact| c.created_at.map_or(i64::MAX, |t| t.0);
            key(a).cmp(&key(b)).then_with(|| alpha(a, b))
        }),
        ConflictRule::Priority { order } => {
            let rank = |c: &Contact| order.iter().position(|t| t == &c.record_type).unwrap_or(usize::MAX);
            best(&|a, b| rank(a).cmp(&rank(b)).then_with(|| alpha(a, b)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RecordId, RecordType, Timestamp};

    fn c(id: &str, name: &str, ty: &str, created: i64, modified: i64) -> Contact {
        Contact {
            id: RecordId::new(id),
            name: name.into(),
            record_type: RecordType::new(ty),
            phones: vec![].into(),
            created_at: Some(Timestamp(created)),
            modified_at: Some(Timestamp(modified)),
            url: None,
        }
    }

    #[test]
    fn each_rule_picks_its_contact() {
        let cs = [c("1", "Zed", "Lead", 10, 500), c("2", "amy", "Contact", 30, 100), c("3", "Bob", "Lead", 5, 200)];
        let pr = ConflictRule::Priority { order: vec![RecordType::new("Contact"), RecordType::new("Lead")] };
        let pl = ConflictRule::Priority { order: vec![RecordType::new("Lead")] };
        for (rule, want) in [
            (ConflictRule::Ask, None),
            (ConflictRule::Alphabetical, Some("2")),
            (ConflictRule::LastModified, Some("1")),
            (ConflictRule::EarliestCreated, Some("3")),
            (pr, Some("2")),
            (pl, Some("3")),
        ] {
            assert_eq!(choose(&cs, &rule).map(|c| c.id.to_string()), want.map(String::from), "{rule:?}");
        }
    }

    #[test]
    fn ties_break_by_name_then_id() {
        let cs = [c("9", "Same", "Lead", 1, 1), c("4", "Same", "Lead", 1, 1)];
        assert_eq!(choose(&cs, &ConflictRule::LastModified).unwrap().id.as_str(), "4");
    }
}
