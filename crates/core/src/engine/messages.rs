//! SMS and fax: one CRM record per (conversation, local day, integration, matched contact),
//! created on the first message and rewritten as messages arrive.
//!
//! Invariant: the create goes through the same Attempting/marker machinery as a call log; an
//! update rewrites the whole day's messages, so repeating it is harmless and needs no marker.

use crate::model::{ConversationId, IntegrationId, Message};

pub fn slot_key(integration: &IntegrationId, conversation: &ConversationId, day: &str) -> super::slot::SlotKey {
    format!("msg|{}|{}|{}", integration.as_str(), conversation.as_str(), day).into()
}

/// Insert keeping messages in time order (ties by id), so every rewrite is identical.
pub fn insert_sorted(list: &mut Vec<Message>, m: Message) {
    let pos = list.partition_point(|x| (x.at, &x.id) < (m.at, &m.id));
    list.insert(pos, m);
}
