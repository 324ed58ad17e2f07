//! Placeholder contacts ("New Lead - +15551234567") for numbers nothing matches.
//!
//! Invariant: one placeholder per (integration, number). The create is a slot of its own
//! (`ph|<integration>|<number>`) with the same Attempting/marker/FindLog protection as a call
//! log, and once created it is cached in the `contacts` store (open, so restore reads it) in the
//! same strict batch, so a second call reuses it even while the CRM's search lags behind.

use serde::{Deserialize, Serialize};

use crate::model::{Contact, IntegrationId, RecordId, RecordType};
use crate::phone::E164;
use crate::store::Record;

pub fn key(integration: &IntegrationId, number: &E164) -> super::slot::SlotKey {
    format!("ph|{}|{}", integration.as_str(), number.as_str()).into()
}

pub fn name(template: &str, number: &E164) -> String {
    template.replace("{phone}", number.as_str())
}

/// The contact when only its id is known (found by marker after an unknown outcome).
pub fn contact(id: RecordId, template: &str, number: &E164) -> Contact {
    Contact {
        id,
        name: name(template, number).into(),
        record_type: RecordType::new("Contact"),
        phones: vec![number.as_str().to_owned()].into(),
        created_at: None,
        modified_at: None,
        url: None,
    }
}

/// The cache entry in the `contacts` store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedPlaceholder {
    pub integration: IntegrationId,
    pub number: E164,
    pub contact: Contact,
}

impl CachedPlaceholder {
    pub fn to_record(&self, at: i64) -> Record {
        Record {
            key: key(&self.integration, &self.number).to_string(),
            open: 1,
            at,
            value: serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned()),
        }
    }
}
