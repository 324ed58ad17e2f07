//! The credentials of every integration, as the shell keeps them: an API token, or an OAuth
//! access token with its refresh token and expiry.
//!
//! Invariants:
//! - A secret is only ever in memory here and in the shell's own `secrets` store, which no
//!   restore reads; the engine never sees one, and `Debug` never shows one.
//! - One refresh per integration at a time: rotating refresh tokens die when two race, so a
//!   second conversation that needs a fresh token waits for the first one's refresh.
//! - A refreshed token is used only once it is on disk: the new secret is held back until the
//!   `Persist` that writes it has been executed, so a worker stopped between the token answer
//!   and the next request restarts with a refresh token the CRM still honours.

use crate::vecmap::{VecMap, VecSet};

use serde::{Deserialize, Serialize};

use crate::crm::oauth::{self, TokenSet};
use crate::crm::{CrmError, Secret};
use crate::model::{IntegrationId, Timestamp};
use crate::store::{Batch, Durability, Record, StoreName, Write};

/// What the secrets store keeps per integration. Never sent to a page or the engine.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct StoredSecret {
    pub token: Secret,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl StoredSecret {
    /// An API token pasted by the rep: no refresh, no expiry.
    pub fn api_token(token: &str) -> StoredSecret {
        StoredSecret { token: Secret::new(token.trim()), ..StoredSecret::default() }
    }

    /// A token reply, read; a reply without a refresh token means the old one stays good.
    pub fn from_tokens(tokens: TokenSet, previous_refresh: Option<Secret>) -> StoredSecret {
        StoredSecret { token: tokens.access_token, refresh_token: tokens.refresh_token.or(previous_refresh), expires_at: tokens.expires_at }
    }

    fn can_refresh(&self) -> bool {
        self.refresh_token.is_some()
    }
}

/// What a conversation can do about its token right now.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenState {
    /// Use this token.
    Ready(Secret),
    /// Refresh first (this conversation does it; nobody else is refreshing).
    Refresh(StoredSecret),
    /// Another conversation is refreshing this integration's token: wait for it.
    Wait,
    /// No credentials: the rep must connect the integration.
    Missing,
}

#[derive(Debug, Default)]
pub struct Credentials {
    stored: VecMap<IntegrationId, StoredSecret>,
    /// Integrations with a refresh under way.
    refreshing: VecSet<IntegrationId>,
    /// Refreshed secrets waiting for their write to be executed (the effect count it needs).
    unsaved: VecMap<IntegrationId, (u64, StoredSecret)>,
}

impl Credentials {
    /// The credentials the shell read from its secrets store; records it cannot read are
    /// skipped (the integration then shows as not connected).
    pub fn from_records(records: &[Record]) -> Credentials {
        let stored = records
            .iter()
            .filter_map(|r| serde_json::from_str::<StoredSecret>(&r.value).ok().map(|s| (IntegrationId::new(r.key.as_str()), s)))
            .collect();
        Credentials { stored, ..Credentials::default() }
    }

    pub fn is_connected(&self, id: &IntegrationId) -> bool {
        self.stored.contains_key(id)
    }

    pub fn connected(&self) -> impl Iterator<Item = &IntegrationId> {
        self.stored.keys()
    }

    pub fn get(&self, id: &IntegrationId) -> Option<&StoredSecret> {
        self.stored.get(id)
    }

    /// What a conversation for `id` should do about its token at `now`.
    pub fn token(&mut self, id: &IntegrationId, now: Timestamp) -> TokenState {
        let Some(stored) = self.stored.get(id) else { return TokenState::Missing };
        if !(stored.can_refresh() && oauth::needs_refresh(stored.expires_at, now)) {
            return TokenState::Ready(stored.token.clone());
        }
        if self.refreshing.insert(id.clone()) {
            TokenState::Refresh(stored.clone())
        } else {
            TokenState::Wait
        }
    }

    /// Whether a 401 on a request that used `used` calls for a refresh and one more try: the
    /// token can be refreshed, and unless another request already refreshed it meanwhile, it is
    /// marked expired so the next [`Credentials::token`] refreshes it (once, for every waiter).
    pub fn expire_after_401(&mut self, id: &IntegrationId, used: &Secret) -> bool {
        let Some(stored) = self.stored.get_mut(id) else { return false };
        if !stored.can_refresh() {
            return false;
        }
        if &stored.token == used {
            stored.expires_at = Some(Timestamp(0));
        }
        true
    }

    /// A refresh failed: others may try again.
    pub fn refresh_failed(&mut self, id: &IntegrationId) {
        self.refreshing.remove(id);
    }

    /// A refresh succeeded: the write to make before the new secret may be used. It takes
    /// effect in memory once the effect count reaches `after` ([`Credentials::saved_through`]).
    pub fn refreshed(&mut self, id: &IntegrationId, secret: StoredSecret, after: u64, now: Timestamp) -> Batch {
        let batch = write(id, &secret, now);
        self.unsaved.insert(id.clone(), (after, secret));
        batch
    }

    /// Effects up to `executed` have run: refreshed secrets written by then are now in force.
    pub fn saved_through(&mut self, executed: u64) {
        let done: Vec<IntegrationId> = self.unsaved.iter().filter(|(_, (after, _))| *after <= executed).map(|(id, _)| id.clone()).collect();
        for id in done {
            if let Some((_, secret)) = self.unsaved.remove(&id) {
                self.stored.insert(id.clone(), secret);
                self.refreshing.remove(&id);
            }
        }
    }

    /// The effects waiting to run were dropped (a write failed): refreshed secrets that were
    /// not written are forgotten, and the refresh may be tried again.
    pub fn drop_unsaved(&mut self) {
        for (id, _) in std::mem::take(&mut self.unsaved) {
            self.refreshing.remove(&id);
        }
    }

    /// Whether `id` has a refresh in flight or waiting for its write.
    pub fn is_refreshing(&self, id: &IntegrationId) -> bool {
        self.refreshing.contains(id)
    }

    /// Stores a new secret (the rep pasted a token, or an OAuth flow finished); the write to
    /// make before it is in force.
    pub fn set(&mut self, id: &IntegrationId, secret: StoredSecret, now: Timestamp) -> Batch {
        let batch = write(id, &secret, now);
        self.stored.insert(id.clone(), secret);
        self.unsaved.remove(id);
        self.refreshing.remove(id);
        batch
    }

    /// Forgets an integration's credentials; the write that deletes them.
    pub fn clear(&mut self, id: &IntegrationId) -> Batch {
        self.stored.remove(id);
        self.unsaved.remove(id);
        self.refreshing.remove(id);
        Batch { writes: vec![Write::Delete { store: StoreName::Secrets, key: id.to_string() }], durability: Durability::Strict }
    }
}

fn write(id: &IntegrationId, secret: &StoredSecret, now: Timestamp) -> Batch {
    let record = Record::encode(id.to_string(), false, now.0, secret);
    Batch { writes: vec![Write::Put { store: StoreName::Secrets, record }], durability: Durability::Strict }
}

/// Why a conversation could not get a token.
pub fn missing(id: &IntegrationId) -> CrmError {
    CrmError::Unauthorized { message: format!("no credentials for {id}: connect it in Settings") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn oauth(expires_at: Option<Timestamp>) -> StoredSecret {
        StoredSecret { token: Secret::new("old"), refresh_token: Some(Secret::new("r1")), expires_at }
    }

    #[test]
    fn one_refresh_at_a_time_and_the_new_secret_only_once_written() {
        let id = IntegrationId::new("hs");
        let mut c = Credentials::default();
        c.set(&id, oauth(Some(NOW)), NOW);
        let TokenState::Refresh(stored) = c.token(&id, NOW) else { panic!("an expired token is refreshed") };
        assert_eq!(stored.refresh_token, Some(Secret::new("r1")));
        assert_eq!(c.token(&id, NOW), TokenState::Wait, "a second conversation waits for the first refresh");
        let fresh = StoredSecret { token: Secret::new("new"), refresh_token: Some(Secret::new("r2")), expires_at: Some(NOW.plus_hours(1)) };
        let batch = c.refreshed(&id, fresh, 7, NOW);
        assert_eq!(batch.durability, Durability::Strict);
        c.saved_through(6);
        assert_eq!(c.token(&id, NOW), TokenState::Wait, "not in force before its write ran");
        c.saved_through(7);
        assert_eq!(c.token(&id, NOW), TokenState::Ready(Secret::new("new")));
    }

    #[test]
    fn a_dropped_write_forgets_the_refreshed_secret_and_allows_another_refresh() {
        let id = IntegrationId::new("pd");
        let mut c = Credentials::default();
        c.set(&id, oauth(Some(NOW)), NOW);
        assert!(matches!(c.token(&id, NOW), TokenState::Refresh(_)));
        c.refreshed(&id, StoredSecret::api_token("new"), 3, NOW);
        c.drop_unsaved();
        assert!(matches!(c.token(&id, NOW), TokenState::Refresh(s) if s.token == Secret::new("old")));
    }

    #[test]
    fn a_401_expires_only_the_token_that_failed() {
        let id = IntegrationId::new("sf");
        let mut c = Credentials::default();
        c.set(&id, oauth(None), NOW);
        assert_eq!(c.token(&id, NOW), TokenState::Ready(Secret::new("old")), "no known expiry: no refresh");
        assert!(c.expire_after_401(&id, &Secret::new("someone else's")));
        assert_eq!(c.token(&id, NOW), TokenState::Ready(Secret::new("old")), "already refreshed by another request");
        assert!(c.expire_after_401(&id, &Secret::new("old")));
        assert!(matches!(c.token(&id, NOW), TokenState::Refresh(_)));
        let mut api = Credentials::default();
        api.set(&id, StoredSecret::api_token(" pasted "), NOW);
        assert!(!api.expire_after_401(&id, &Secret::new("pasted")), "an API token cannot be refreshed");
        assert_eq!(api.token(&id, NOW), TokenState::Ready(Secret::new("pasted")));
        assert_eq!(Credentials::default().token(&id, NOW), TokenState::Missing);
    }
}
