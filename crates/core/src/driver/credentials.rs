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
//!   and the next request restarts with a refresh token the CRM still honours. A write of a
//!   refreshed secret that fails is made again after the restore, never forgotten: with
//!   rotation the old refresh token may already be dead.
//! - The company's OAuth client secret ([`App`], from the options page, or from the admin
//!   policy's `oauth_clients`) is kept here, never in settings, an export or a view, and is
//!   handed out only for a token URL on the origin it was given for (or, when it was given
//!   for the vendor, on one of the vendor's documented token hosts).
//! - Who is connected ([`Identity`]) is resolved once per connection and kept with its secret,
//!   so a new connection resolves it again.
//! - Server mode: the rep's token for the Calltrail server is kept here too (the record
//!   [`REP_TOKEN_KEY`], or the admin policy's, in memory), bound to the server's origin: the
//!   settings never hold it, so no view, settings read or export can show it.
//! - A secret belongs to an (integration, API origin, token-URL origin) triple ([`Binding`]):
//!   it is handed out only while the settings in force name the same origins, so a `base_url`
//!   or `token_url` changed by the options page, an import or a policy never receives it.

use crate::vecmap::{VecMap, VecSet};

use serde::{Deserialize, Serialize};

use crate::crm::oauth::{self, TokenSet};
use crate::crm::{CrmError, CrmUser, Secret};
use crate::model::{CrmKind, IntegrationId, Timestamp};
use crate::web::Origin;
use crate::store::{Batch, Durability, Record, StoreName, Write};

/// What the secrets store keeps per integration. Never sent to a page or the engine.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct StoredSecret {
    pub token: Secret,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Who is connected, once resolved: an [`Identity`] kept as its list of strings
    /// ([`Identity::parts`]), since a nested record type costs the module a reader of its own
    /// (about 3 KB of wasm) and a list of strings is read by code the module has anyway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity: Vec<String>,
    /// The hosts it was issued for; `None` in records written before secrets were bound
    /// (they are bound to the rep's settings at the next start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<Binding>,
}

/// Where a secret may go: the origin of the integration's API (`base_url`) and, for OAuth, of
/// its token URL (`https://host[:port]`, see [`crate::settings::origin`]).
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub api: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Who a connection acts as in the CRM: the user who owns what Calltrail logs there.
#[derive(Serialize, Default, Clone, Debug, PartialEq)]
pub struct Identity {
    /// The CRM user id owner fields take; `""`: no user could be resolved, and records are
    /// created without an owner.
    pub id: String,
    pub name: String,
    /// The user's email in the CRM.
    pub email: String,
    /// The rep's email the user was looked up by (a shared token), so a changed email looks
    /// the user up again; empty when the connection itself names its user.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub by_email: String,
    /// Why there is no owner, for the options page.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl StoredSecret {
    /// Who the connection acts as, once asked.
    pub fn identity(&self) -> Option<Identity> {
        let [id, name, email, by_email, note] = self.identity.as_slice() else { return None };
        Some(Identity { id: id.clone(), name: name.clone(), email: email.clone(), by_email: by_email.clone(), note: note.clone() })
    }
}

impl Identity {
    /// Who `user` is, looked up by `by_email` (empty for the connection's own user).
    pub fn of(user: Option<CrmUser>, by_email: String, note: String) -> Identity {
        let u = user.unwrap_or(CrmUser { id: String::new(), name: String::new(), email: String::new() });
        Identity { id: u.id, name: u.name, email: u.email, by_email, note }
    }

    /// The owner id records are created with, if there is one.
    pub fn owner(&self) -> Option<&str> {
        Some(self.id.as_str()).filter(|id| !id.is_empty())
    }

    /// The strings a [`StoredSecret`] keeps it as: id, name, email, by_email, note.
    pub fn parts(&self) -> Vec<String> {
        vec![self.id.clone(), self.name.clone(), self.email.clone(), self.by_email.clone(), self.note.clone()]
    }
}

/// A company OAuth client: for one integration (the options page) or for every integration of
/// a CRM (the admin policy's `oauth_clients`).
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// The client id the secret belongs to: a secret is never sent with another id.
    pub client_id: String,
    pub secret: Option<Secret>,
    /// The origin of the token URL it was given for; `None`: the vendor's own token hosts.
    pub token_origin: Option<String>,
}

impl App {
    /// An app record is the list `[client_id, secret, token_origin]`: a derived record type would
    /// cost the module a reader and a writer of its own (kilobytes of wasm) for three strings.
    fn read(r: &Record) -> Option<App> {
        let [client_id, secret, origin] = r.decode::<Vec<String>>()?.try_into().ok()?;
        Some(App { client_id, secret: Some(Secret::new(secret)), token_origin: Some(origin) })
    }
}

/// Reads the admin policy's `oauth_clients` (which [`crate::policy::apply`] leaves out of the
/// settings): `{"hubspot": {"client_id", "client_secret", "token_url"?}, ...}`, a `token_url`
/// binding the secret to that origin instead of the vendor's own token hosts.
pub fn policy_apps(policy: &serde_json::Value) -> Result<Vec<(CrmKind, App)>, String> {
    let Some(clients) = policy.get("oauth_clients") else { return Ok(Vec::new()) };
    let bad = |what: &str| Err(format!("policy.oauth_clients: {what}"));
    let Some(clients) = clients.as_object() else { return bad("must be an object keyed by CRM") };
    let mut apps = Vec::new();
    for (name, c) in clients {
        let Some(kind) = CrmKind::ALL.into_iter().find(|k| crate::crm::oauth::key(*k) == name) else { return bad("an unknown CRM") };
        let s = |k: &str| c.get(k).and_then(serde_json::Value::as_str).map(str::trim).unwrap_or("");
        if s("client_id").is_empty() {
            return bad("every client needs a client_id");
        }
        let secret = Some(s("client_secret")).filter(|v| !v.is_empty()).map(Secret::new);
        apps.push((kind, App { client_id: s("client_id").to_owned(), secret, token_origin: Origin::of(s("token_url")).map(|o| o.to_string()) }));
    }
    Ok(apps)
}

/// The key prefix of [`App`] records in the secrets store.
pub const APP_PREFIX: &str = "app:";

/// The key of the rep's server token in the secrets store: the list `[token, server origin]`
/// (no integration id has a `:`).
pub const REP_TOKEN_KEY: &str = "server:rep-token";

impl StoredSecret {
    /// An API token pasted by the rep: no refresh, no expiry.
    pub fn api_token(token: &str) -> StoredSecret {
        StoredSecret { token: Secret::new(token.trim()), ..StoredSecret::default() }
    }

    /// A token reply, read; a reply without a refresh token means the old one stays good.
    pub fn from_tokens(tokens: TokenSet, previous_refresh: Option<Secret>) -> StoredSecret {
        StoredSecret { token: tokens.access_token, refresh_token: tokens.refresh_token.or(previous_refresh), expires_at: tokens.expires_at, identity: Vec::new(), bound: None }
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
    /// Company OAuth clients from the options page, by integration (a few: a list).
    apps: Vec<(IntegrationId, App)>,
    /// OAuth clients from the admin policy, by CRM.
    policy_apps: Vec<(CrmKind, App)>,
    /// Server mode: the rep's server token and the origin it was given for; and the policy's,
    /// which wins (a policy's `server` is laid whole, so its token goes with its own URL).
    rep_token: Option<(Secret, String)>,
    policy_rep_token: Option<Secret>,
}

impl Credentials {
    /// The credentials the shell read from its secrets store; records it cannot read are
    /// skipped (the integration then shows as not connected).
    pub fn from_records(records: &[Record]) -> Credentials {
        let mut c = Credentials::default();
        for r in records {
            if r.key == REP_TOKEN_KEY {
                let parts: Option<[String; 2]> = r.decode::<Vec<String>>().and_then(|v| v.try_into().ok());
                c.rep_token = parts.map(|[token, origin]| (Secret::new(token), origin));
                continue;
            }
            match r.key.strip_prefix(APP_PREFIX) {
                Some(id) => c.apps.extend(App::read(r).map(|a| (IntegrationId::new(id), a))),
                None => {
                    if let Some(s) = r.decode::<StoredSecret>() {
                        c.stored.insert(IntegrationId::new(r.key.as_str()), s);
                    }
                }
            }
        }
        c
    }

    /// Whether `id` has a secret for the hosts `binding` names.
    pub fn is_connected(&self, id: &IntegrationId, binding: Option<&Binding>) -> bool {
        self.stored.get(id).is_some_and(|s| binding.is_some() && s.bound.as_ref() == binding)
    }

    /// Every integration with a stored secret, bound to the hosts it names or not.
    pub fn stored(&self) -> impl Iterator<Item = (&IntegrationId, &StoredSecret)> {
        self.stored.iter()
    }

    pub fn get(&self, id: &IntegrationId) -> Option<&StoredSecret> {
        self.stored.get(id)
    }

    /// Binds secrets read from records that predate binding to what `binding_of` says.
    pub fn bind_unbound(&mut self, binding_of: impl Fn(&IntegrationId) -> Option<Binding>) {
        for (id, s) in self.stored.iter_mut() {
            if s.bound.is_none() {
                s.bound = binding_of(id);
            }
        }
    }

    /// What a conversation for `id` should do about its token at `now`, when the settings in
    /// force send it to the hosts `binding` names: a secret bound elsewhere is `Missing`.
    pub fn token(&mut self, id: &IntegrationId, binding: Option<&Binding>, now: Timestamp) -> TokenState {
        let Some(stored) = self.stored.get(id).filter(|s| binding.is_some() && s.bound.as_ref() == binding) else { return TokenState::Missing };
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
    /// Who is connected carries over from the secret it replaces: a refresh is the same
    /// connection.
    pub fn refreshed(&mut self, id: &IntegrationId, mut secret: StoredSecret, after: u64, now: Timestamp) -> Batch {
        if secret.identity.is_empty() {
            let newest = self.unsaved.get(id).map(|(_, s)| s).or(self.stored.get(id));
            secret.identity = newest.map(|s| s.identity.clone()).unwrap_or_default();
        }
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

    /// The effects waiting to run were dropped (a write failed): the refreshed secrets that
    /// were not written, to write again ([`Credentials::refreshed`]) once the shell restored.
    /// Their integrations stay "refreshing" until then: with rotation the CRM may already have
    /// retired the old refresh token, so the new one must not be lost.
    pub fn drop_unsaved(&mut self) -> Vec<(IntegrationId, StoredSecret)> {
        std::mem::take(&mut self.unsaved).into_iter().map(|(id, (_, s))| (id, s)).collect()
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

    /// Keeps who `id` is connected as; the write that keeps it with the secret (the newest one,
    /// a refreshed secret still being written included). `None` when `id` is not connected.
    pub fn identified(&mut self, id: &IntegrationId, identity: &Identity, now: Timestamp) -> Option<Batch> {
        if let Some((_, s)) = self.unsaved.get_mut(id) {
            s.identity = identity.parts();
        }
        let stored = self.stored.get_mut(id)?;
        stored.identity = identity.parts();
        let newest = self.unsaved.get(id).map_or(&*stored, |(_, s)| s);
        Some(write(id, newest, now))
    }

    /// Keeps the company's client secret for `id`'s client `client_id`, bound to the origin of
    /// `token_url`; the write. `None` when `token_url` is not a URL a secret may go to.
    pub fn set_app(&mut self, id: &IntegrationId, client_id: &str, secret: &str, token_url: &str, now: Timestamp) -> Option<Batch> {
        let origin = Origin::of(token_url).filter(Origin::is_secure)?.to_string();
        let parts = vec![client_id.trim().to_owned(), secret.trim().to_owned(), origin];
        let record = Record::encode(format!("{APP_PREFIX}{id}"), false, now.0, &parts);
        self.clear_app(id);
        self.apps.extend(App::read(&record).map(|a| (id.clone(), a)));
        Some(Batch { writes: vec![Write::Put { store: StoreName::Secrets, record }], durability: Durability::Strict })
    }

    /// Forgets `id`'s client secret; the write.
    pub fn clear_app(&mut self, id: &IntegrationId) -> Batch {
        self.apps.retain(|(i, _)| i != id);
        Batch { writes: vec![Write::Delete { store: StoreName::Secrets, key: format!("{APP_PREFIX}{id}") }], durability: Durability::Strict }
    }

    /// The OAuth clients the admin policy gives now (replacing the last ones).
    pub fn set_policy_apps(&mut self, apps: Vec<(CrmKind, App)>) {
        self.policy_apps = apps;
    }

    /// The policy's client for `kind`, if any.
    pub fn policy_app(&self, kind: CrmKind) -> Option<&App> {
        self.policy_apps.iter().find(|(k, _)| *k == kind).map(|(_, a)| a)
    }

    /// The client secret to send with `client_id` to `token_url` for `id`: the options page's
    /// for this integration, else the policy's for `kind`, each only where it is bound (see the
    /// module invariants). Where it says where it came from: `"settings"` or `"policy"`.
    pub fn client_secret(&self, id: &IntegrationId, kind: CrmKind, client_id: &str, token_url: &str) -> Option<(Secret, &'static str)> {
        let to = Origin::of(token_url)?;
        let vendor = |o: &Origin| o.scheme == crate::web::Scheme::Https && o.port.is_none() && oauth::is_vendor_token_host(kind, &o.host);
        let may_go = |bound: Option<&str>| match bound.and_then(Origin::of) {
            Some(b) => b == to || (vendor(&b) && vendor(&to)),
            None => vendor(&to),
        };
        let mine = self.apps.iter().find(|(i, a)| i == id && a.client_id == client_id && may_go(a.token_origin.as_deref()));
        if let Some(secret) = mine.and_then(|(_, a)| a.secret.clone()) {
            return Some((secret, "settings"));
        }
        let p = self.policy_app(kind).filter(|a| a.client_id == client_id && may_go(a.token_origin.as_deref()))?;
        Some((p.secret.clone()?, "policy"))
    }

    /// Keeps the rep's server token for the server at `url`; the write. `None` when `url` has no
    /// origin a secret may go to.
    pub fn set_rep_token(&mut self, token: &str, url: &str, now: Timestamp) -> Option<Batch> {
        let origin = Origin::of(url).filter(Origin::is_secure)?.to_string();
        let record = Record::encode(REP_TOKEN_KEY, false, now.0, &vec![token.trim().to_owned(), origin.clone()]);
        self.rep_token = Some((Secret::new(token.trim()), origin));
        Some(Batch { writes: vec![Write::Put { store: StoreName::Secrets, record }], durability: Durability::Strict })
    }

    /// Forgets the rep's server token; the write.
    pub fn clear_rep_token(&mut self) -> Option<Batch> {
        self.rep_token.take()?;
        Some(Batch { writes: vec![Write::Delete { store: StoreName::Secrets, key: REP_TOKEN_KEY.into() }], durability: Durability::Strict })
    }

    /// The admin policy's rep token (its `server.token`), if it names one.
    pub fn set_policy_rep_token(&mut self, token: Option<&str>) {
        self.policy_rep_token = token.filter(|t| !t.is_empty()).map(Secret::new);
    }

    /// The rep's token for the server at `url`: the policy's, else the rep's own while `url` is
    /// on the origin it was given for.
    pub fn rep_token(&self, url: &str) -> Option<&Secret> {
        let own = self.rep_token.as_ref().filter(|(_, o)| Origin::of(url).is_some_and(|u| u.to_string() == *o)).map(|(t, _)| t);
        self.policy_rep_token.as_ref().or(own)
    }

    /// Every app record's integration (server mode forgets them: the server holds the secret).
    pub fn apps(&self) -> impl Iterator<Item = &IntegrationId> {
        self.apps.iter().map(|(id, _)| id)
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

    fn b() -> Binding {
        Binding { api: "https://api.example".into(), token: Some("https://auth.example".into()) }
    }

    fn oauth(expires_at: Option<Timestamp>) -> StoredSecret {
        StoredSecret { token: Secret::new("old"), refresh_token: Some(Secret::new("r1")), expires_at, identity: Vec::new(), bound: Some(b()) }
    }

    #[test]
    fn one_refresh_at_a_time_and_the_new_secret_only_once_written() {
        let id = IntegrationId::new("hs");
        let mut c = Credentials::default();
        c.set(&id, oauth(Some(NOW)), NOW);
        let TokenState::Refresh(stored) = c.token(&id, Some(&b()), NOW) else { panic!("an expired token is refreshed") };
        assert_eq!(stored.refresh_token, Some(Secret::new("r1")));
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Wait, "a second conversation waits for the first refresh");
        let fresh = StoredSecret { token: Secret::new("new"), refresh_token: Some(Secret::new("r2")), expires_at: Some(NOW.plus_hours(1)), identity: Vec::new(), bound: Some(b()) };
        let batch = c.refreshed(&id, fresh, 7, NOW);
        assert_eq!(batch.durability, Durability::Strict);
        c.saved_through(6);
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Wait, "not in force before its write ran");
        c.saved_through(7);
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Ready(Secret::new("new")));
    }

    #[test]
    fn a_refresh_keeps_who_is_connected() {
        let id = IntegrationId::new("sf");
        let mut c = Credentials::default();
        c.set(&id, oauth(Some(NOW)), NOW);
        let rep = Identity { id: "005A".into(), name: "Ada".into(), email: "ada@example.com".into(), ..Identity::default() };
        c.identified(&id, &rep, NOW).unwrap();
        let fresh = StoredSecret { token: Secret::new("new"), bound: Some(b()), ..StoredSecret::default() };
        let Write::Put { record, .. } = &c.refreshed(&id, fresh, 1, NOW).writes[0] else { panic!("a put") };
        assert_eq!(record.decode::<StoredSecret>().and_then(|s| s.identity()), Some(rep.clone()), "written with the secret");
        c.saved_through(1);
        assert_eq!(c.get(&id).and_then(StoredSecret::identity), Some(rep), "no second current-user request after a refresh");
    }

    #[test]
    fn a_dropped_write_hands_the_refreshed_secret_back_to_write_again() {
        let id = IntegrationId::new("pd");
        let mut c = Credentials::default();
        c.set(&id, oauth(Some(NOW)), NOW);
        assert!(matches!(c.token(&id, Some(&b()), NOW), TokenState::Refresh(_)));
        let new = StoredSecret { bound: Some(b()), ..StoredSecret::api_token("new") };
        c.refreshed(&id, new.clone(), 3, NOW);
        let again = c.drop_unsaved();
        assert_eq!(again, vec![(id.clone(), new.clone())], "the rotated secret is not forgotten");
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Wait, "nobody refreshes with the old refresh token meanwhile");
        c.refreshed(&id, new, 9, NOW);
        c.saved_through(9);
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Ready(Secret::new("new")));
    }

    #[test]
    fn a_client_secret_goes_only_with_its_client_id_and_where_it_was_given_for() {
        let (hs, zo) = (IntegrationId::new("hs"), IntegrationId::new("zo"));
        let mut c = Credentials::default();
        assert!(c.set_app(&hs, "cid", "s3", "http://api.example/t", NOW).is_none(), "never over plain http to another machine");
        let batch = c.set_app(&hs, "cid", " s3 ", "http://127.0.0.1:8790/hubspot/oauth/v1/token", NOW).unwrap();
        let Write::Put { record, .. } = &batch.writes[0] else { panic!() };
        assert_eq!(record.key, "app:hs");
        let secret = |c: &Credentials, id: &IntegrationId, kind, cid: &str, url: &str| c.client_secret(id, kind, cid, url).map(|(s, from)| (s.expose().to_owned(), from));
        assert_eq!(secret(&c, &hs, CrmKind::HubSpot, "cid", "http://127.0.0.1:8790/x"), Some(("s3".into(), "settings")));
        assert_eq!(secret(&c, &hs, CrmKind::HubSpot, "other", "http://127.0.0.1:8790/x"), None, "another client id");
        assert_eq!(secret(&c, &hs, CrmKind::HubSpot, "cid", "https://api.hubapi.com/oauth/v1/token"), None, "another origin");
        // Given for Zoho's own accounts server, it may follow the account to another data centre.
        c.set_app(&zo, "z", "zs", "https://accounts.zoho.com/oauth/v2/token", NOW).unwrap();
        assert!(secret(&c, &zo, CrmKind::Zoho, "z", "https://accounts.zoho.eu/oauth/v2/token").is_some());
        assert!(secret(&c, &zo, CrmKind::Zoho, "z", "https://accounts.zoho.evil.example/oauth/v2/token").is_none());
        // A policy's client: for every integration of its CRM, on the vendor's own token hosts.
        c.set_policy_apps(vec![(CrmKind::Clio, App { client_id: "pc".into(), secret: Some(Secret::new("ps")), token_origin: None })]);
        let cl = IntegrationId::new("cl");
        assert_eq!(secret(&c, &cl, CrmKind::Clio, "pc", "https://eu.app.clio.com/oauth/token"), Some(("ps".into(), "policy")));
        assert_eq!(secret(&c, &cl, CrmKind::Clio, "pc", "http://127.0.0.1:8790/clio/oauth/token"), None);
        let records = [record.clone(), Record::encode("hs", false, 0, &oauth(None))];
        let read = Credentials::from_records(&records);
        assert!(read.get(&hs).is_some() && read.apps.iter().any(|(i, _)| i == &hs) && read.get(&IntegrationId::new("app:hs")).is_none());
    }

    #[test]
    fn the_policys_oauth_clients_are_read_or_refused_whole() {
        let policy = serde_json::json!({ "digest": {}, "oauth_clients": {
            "zoho": { "client_id": "1000.Z", "client_secret": " zs " },
            "clio": { "client_id": "c", "token_url": "http://127.0.0.1:8790/clio-eu/oauth/token" },
        } });
        let apps = policy_apps(&policy).unwrap();
        assert_eq!(apps[0], (CrmKind::Clio, App { client_id: "c".into(), secret: None, token_origin: Some("http://127.0.0.1:8790".into()) }));
        assert_eq!(apps[1], (CrmKind::Zoho, App { client_id: "1000.Z".into(), secret: Some(Secret::new("zs")), token_origin: None }));
        assert_eq!(policy_apps(&serde_json::json!({})), Ok(vec![]));
        for bad in [serde_json::json!([1]), serde_json::json!({ "freshsales": { "client_id": "x" } }), serde_json::json!({ "zoho": { "client_secret": "s" } })] {
            assert!(policy_apps(&serde_json::json!({ "oauth_clients": bad })).is_err(), "{bad}");
        }
        let shown = format!("{apps:?}");
        assert!(!shown.contains("zs"), "{shown}");
    }

    #[test]
    fn a_401_expires_only_the_token_that_failed() {
        let id = IntegrationId::new("sf");
        let mut c = Credentials::default();
        c.set(&id, oauth(None), NOW);
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Ready(Secret::new("old")), "no known expiry: no refresh");
        assert!(c.expire_after_401(&id, &Secret::new("someone else's")));
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Ready(Secret::new("old")), "already refreshed by another request");
        assert!(c.expire_after_401(&id, &Secret::new("old")));
        assert!(matches!(c.token(&id, Some(&b()), NOW), TokenState::Refresh(_)));
        let mut api = Credentials::default();
        api.set(&id, StoredSecret { bound: Some(b()), ..StoredSecret::api_token(" pasted ") }, NOW);
        assert!(!api.expire_after_401(&id, &Secret::new("pasted")), "an API token cannot be refreshed");
        assert_eq!(api.token(&id, Some(&b()), NOW), TokenState::Ready(Secret::new("pasted")));
        assert_eq!(Credentials::default().token(&id, Some(&b()), NOW), TokenState::Missing);
    }

    /// Issue 12: a secret is handed out only for the hosts it was issued for.
    #[test]
    fn a_secret_bound_elsewhere_is_missing() {
        let id = IntegrationId::new("hs");
        let mut c = Credentials::default();
        c.set(&id, StoredSecret { bound: Some(b()), ..StoredSecret::api_token("t") }, NOW);
        assert_eq!(c.token(&id, Some(&b()), NOW), TokenState::Ready(Secret::new("t")));
        let moved = Binding { api: "https://evil.example".into(), ..b() };
        assert_eq!(c.token(&id, Some(&moved), NOW), TokenState::Missing);
        assert_eq!(c.token(&id, None, NOW), TokenState::Missing, "not configured: nowhere to send it");
        assert!(c.is_connected(&id, Some(&b())) && !c.is_connected(&id, Some(&moved)));
        let legacy = Record::encode("hs", false, 0, &serde_json::json!({ "token": "t" }));
        let mut old = Credentials::from_records(&[legacy]);
        assert_eq!(old.token(&id, Some(&b()), NOW), TokenState::Missing, "unbound until bound");
        old.bind_unbound(|_| Some(b()));
        assert_eq!(old.token(&id, Some(&b()), NOW), TokenState::Ready(Secret::new("t")));
    }
}
