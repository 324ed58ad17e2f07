//! Server mode (issue 16): an integration the settings' server owns is logged by the server,
//! never by the extension; what the server must hear (softphone events, notes, log now, sync)
//! goes through the durable outbox, in order, once, whatever the network does.

use calltrail_core::crm::{HttpResponse, Reply};
use calltrail_core::driver::outbox::{Batch, Forwarded, What};
use calltrail_core::driver::Driver;
use calltrail_core::engine::{Effect, EngineOptions, Input};
use calltrail_core::model::{CallId, CrmKind, Timestamp};
use calltrail_core::settings::{ServerLink, Settings};
use calltrail_core::store::{MemStore, StoreName};
use serde_json::Value;

use crate::support::world::{call, integration};

const NOW: Timestamp = Timestamp(1_781_107_200_000);

fn link(integrations: &[&str]) -> ServerLink {
    ServerLink {
        url: "https://calltrail.example.com".into(),
        account: "acme".into(),
        rep: "alice".into(),
        token: "ctr_0123456789abcdef_secret".into(),
        integrations: integrations.iter().map(|i| calltrail_core::model::IntegrationId::new(*i)).collect(),
    }
}

/// A driver with HubSpot and Pipedrive, the server owning `owned` of them, restored from `store`.
fn driver(store: &mut MemStore, owned: &[&str], boot: u64, now: Timestamp) -> Driver {
    let settings = Settings {
        integrations: vec![integration("hs", CrmKind::HubSpot), integration("pd", CrmKind::Pipedrive)],
        server: Some(link(owned)),
        ..Settings::default()
    };
    let secrets = [
        calltrail_core::store::Record::encode("hs", false, NOW.0, &calltrail_core::driver::StoredSecret::api_token("t")),
        calltrail_core::store::Record::encode("pd", false, NOW.0, &calltrail_core::driver::StoredSecret::api_token("t")),
    ];
    let mut d = Driver::new(settings, Value::Null, &secrets, EngineOptions::default(), Box::new(calltrail_core::zone::FixedZones::standard()), now);
    let snapshot = store.restore(&d.restore_query(now));
    d.restore(snapshot, boot, now);
    d
}

/// Runs the queued effects as the shell does; returns the integrations CRM requests went to.
fn run(d: &mut Driver, store: &mut MemStore) -> Vec<String> {
    let mut crm = Vec::new();
    while let Some(e) = d.poll_effect() {
        match &e {
            Effect::Persist(b) => store.apply(b),
            Effect::Crm(r) => crm.push(r.integration.to_string()),
            _ => {}
        }
        d.executed();
    }
    crm
}

fn ok() -> Reply {
    Reply::Response(HttpResponse { status: 200, headers: vec![], body: r#"{"accepted":1}"#.into() })
}

fn sent_entries(body: &Option<String>) -> Vec<Forwarded> {
    serde_json::from_str::<Batch>(body.as_deref().unwrap_or("")).unwrap().entries
}

#[test]
fn an_integration_the_server_owns_gets_no_crm_request_from_the_extension() {
    let mut store = MemStore::default();
    let mut d = driver(&mut store, &["hs"], 1, NOW);
    run(&mut d, &mut store);
    let c = call("rc:s-1", "+12125550101", NOW, NOW.plus_ms(60_000));
    d.handle(Input::CallRinging(c.clone()), NOW);
    d.handle(Input::CallEnded(c), NOW.plus_ms(60_000));
    let crm = run(&mut d, &mut store);
    assert!(!crm.is_empty(), "Pipedrive, not owned by the server, still works locally");
    assert!(crm.iter().all(|i| i == "pd"), "no request for HubSpot, the server's: {crm:?}");
    let id = CallId::new("rc:s-1");
    let v = d.engine().slots().filter(|s| s.call_id() == Some(&id)).map(|s| s.integration.to_string()).collect::<Vec<_>>();
    assert_eq!(v, vec!["pd".to_owned()], "the local ledger holds only Pipedrive's slot");
    // The local view too: HubSpot's status is the server's to show (`server-call`), not a
    // local "Not logged" that never changes.
    let entry = d.engine().call(&id).unwrap().clone();
    let slots: Vec<_> = d.engine().slots().filter(|s| s.call_id() == Some(&id)).cloned().collect();
    let view = d.call_view(&entry, &slots, NOW.plus_ms(60_000));
    assert_eq!(view.slots.iter().map(|s| s.integration.as_str()).collect::<Vec<_>>(), ["pd"]);
    let whats: Vec<What> = d.outbox().map(|t| serde_json::from_str::<Forwarded>(t).unwrap().what).collect();
    assert_eq!(whats, vec![What::CallRinging, What::CallEnded]);
}

#[test]
fn the_whole_profile_in_server_mode_logs_nothing_locally_and_forwards_in_order() {
    let mut store = MemStore::default();
    let mut d = driver(&mut store, &[], 1, NOW);
    run(&mut d, &mut store);
    let c = call("rc:s-2", "+12125550101", NOW, NOW.plus_ms(60_000));
    let id = c.id.clone();
    d.handle(Input::CallStarted(c.clone()), NOW);
    // Not sent before it is on disk: the shell has not run the write yet.
    assert!(d.next_forward(NOW).is_none(), "nothing goes out before the entry is written");
    d.handle(Input::NotesOpened { call: id.clone() }, NOW);
    d.handle(Input::NotesSaved { call: id.clone(), notes: "Renewal by Friday".into() }, NOW);
    d.handle(Input::CallEnded(c), NOW.plus_ms(60_000));
    d.handle(Input::DigestRequested, NOW.plus_ms(61_000));
    assert!(run(&mut d, &mut store).is_empty(), "no CRM request at all");
    assert_eq!(store.prefix(StoreName::Meta, "outbox/").len(), 5, "every entry on disk");
    let s = d.next_forward(NOW.plus_ms(61_000)).expect("a batch to send");
    assert_eq!(s.request.url, "https://calltrail.example.com/rep/acme/alice/events");
    assert!(s.request.headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer ctr_0123456789abcdef_secret"));
    let entries = sent_entries(&s.request.body);
    let whats: Vec<What> = entries.iter().map(|e| e.what).collect();
    assert_eq!(whats, vec![What::CallStarted, What::NotesOpened, What::NotesSaved, What::CallEnded, What::Sync]);
    assert_eq!(entries[2].notes.as_deref(), Some("Renewal by Friday"));
    // The server's engine hears the same inputs.
    assert!(matches!(entries[2].clone().into_input(), Some(Input::NotesSaved { notes, .. }) if notes == "Renewal by Friday"));
    assert!(d.next_forward(NOW.plus_ms(61_000)).is_none(), "one request in flight");
    d.forwarded(&s, &ok(), NOW.plus_ms(62_000));
    run(&mut d, &mut store);
    assert_eq!(d.outbox().count(), 0);
    assert!(store.prefix(StoreName::Meta, "outbox/").is_empty(), "accepted entries are deleted");
    assert_eq!(d.outbox_status().unwrap().queued, 0);
}

#[test]
fn while_the_server_is_unreachable_entries_wait_and_go_again_in_order_with_the_same_ids() {
    let mut store = MemStore::default();
    let mut d = driver(&mut store, &[], 1, NOW);
    run(&mut d, &mut store);
    let c = call("rc:s-3", "+12125550101", NOW, NOW.plus_ms(60_000));
    d.handle(Input::CallStarted(c.clone()), NOW);
    d.handle(Input::NotesSaved { call: c.id.clone(), notes: "n".into() }, NOW);
    run(&mut d, &mut store);
    let first = d.next_forward(NOW).unwrap();
    let ids: Vec<String> = sent_entries(&first.request.body).into_iter().map(|e| e.id).collect();
    d.forwarded(&first, &Reply::NetworkError { sent: false, message: "connection refused".into() }, NOW);
    // The alarm is kept at the retry.
    let mut wake = None;
    while let Some(e) = d.poll_effect() {
        if let Effect::WakeAt(t) = e {
            wake = Some(t);
        }
        d.executed();
    }
    assert_eq!(wake, Some(NOW.plus_ms(1000)));
    let st = d.outbox_status().unwrap();
    assert_eq!(st.queued, 2);
    assert!(st.error.unwrap().contains("cannot be reached"));
    assert!(d.next_forward(NOW.plus_ms(500)).is_none(), "backing off");
    // More happens meanwhile: it queues behind.
    d.handle(Input::CallEnded(c), NOW.plus_ms(600));
    run(&mut d, &mut store);
    // A lost answer: the server stored it, the extension does not know.
    let second = d.next_forward(NOW.plus_ms(1000)).unwrap();
    let again = sent_entries(&second.request.body);
    assert_eq!(again.iter().map(|e| e.id.clone()).take(2).collect::<Vec<_>>(), ids, "the same ids: the server drops the repeat");
    assert_eq!(again.len(), 3);
    d.forwarded(&second, &Reply::TimedOut, NOW.plus_ms(21_000));
    run(&mut d, &mut store);
    // The worker stops: a new start reads the outbox back, in order, with the same ids.
    let mut d2 = driver(&mut store, &[], 2, NOW.plus_ms(30_000));
    run(&mut d2, &mut store);
    let third = d2.next_forward(NOW.plus_ms(30_000)).unwrap();
    assert_eq!(sent_entries(&third.request.body), again, "restored as written");
    d2.forwarded(&third, &ok(), NOW.plus_ms(31_000));
    run(&mut d2, &mut store);
    assert_eq!(d2.outbox().count(), 0);
    // New entries after the restore sort after nothing older and have fresh ids.
    d2.handle(Input::DigestRequested, NOW.plus_ms(32_000));
    run(&mut d2, &mut store);
    let fourth = d2.next_forward(NOW.plus_ms(32_000)).unwrap();
    let e = sent_entries(&fourth.request.body);
    assert_eq!(e.len(), 1);
    assert!(!ids.contains(&e[0].id));
}

#[test]
fn an_export_never_carries_the_rep_token() {
    let mut store = MemStore::default();
    let d = driver(&mut store, &[], 1, NOW);
    let exported = serde_json::to_string(&d.exported_settings()).unwrap();
    assert!(!exported.contains("ctr_0123456789abcdef_secret"), "{exported}");
    assert!(exported.contains("calltrail.example.com"), "the rest of the link is kept");
}

#[test]
fn a_server_link_is_validated() {
    let mut s = Settings { server: Some(link(&[])), ..Settings::default() };
    assert!(s.validate().is_ok());
    s.server.as_mut().unwrap().url = "ftp://x".into();
    assert!(s.validate().unwrap_err().to_string().contains("server.url"));
    s.server = Some(ServerLink { token: "short".into(), ..link(&[]) });
    assert!(s.validate().unwrap_err().to_string().contains("server.token"));
    s.server = Some(ServerLink { url: "http://calltrail.example.com".into(), ..link(&[]) });
    assert!(s.validate().is_err(), "plain http only to this machine");
    s.server = Some(ServerLink { url: "http://127.0.0.1:8080".into(), ..link(&[]) });
    assert!(s.validate().is_ok());
}

#[test]
fn an_admin_policy_may_name_the_server_and_locks_it() {
    let policy = serde_json::json!({ "server": { "url": "https://calltrail.example.com", "account": "acme", "rep": "alice", "token": "ctr_0123456789abcdef_secret" } });
    let e = calltrail_core::policy::apply(&Settings::default(), &policy).unwrap();
    assert_eq!(e.settings.server, Some(link(&[])));
    assert!(e.locked.iter().any(|l| l == "server"), "{:?}", e.locked);
}

#[test]
fn picks_manual_logs_and_resolutions_for_the_servers_integrations_go_to_the_outbox_only() {
    use calltrail_core::engine::Resolution;
    use calltrail_core::model::{Contact, IntegrationId, RecordId, RecordType};
    let mut store = MemStore::default();
    let mut d = driver(&mut store, &["hs"], 1, NOW);
    run(&mut d, &mut store);
    let c = call("rc:s-9", "+12125550101", NOW, NOW.plus_ms(60_000));
    let id = c.id.clone();
    d.handle(Input::CallStarted(c.clone()), NOW);
    run(&mut d, &mut store);
    let contact = Contact {
        id: RecordId::new("501"),
        name: "Ada Known".into(),
        record_type: RecordType::new("contact"),
        phones: vec!["+12125550101".to_owned()].into(),
        created_at: None,
        modified_at: None,
        url: None,
    };
    // A pick in HubSpot, the server's: no refusal from the local engine (it has no HubSpot),
    // no CRM request, one entry the server's engine reads as the same pick.
    let notices = d.handle(Input::ContactsPicked { call: id.clone(), integration: IntegrationId::new("hs"), contacts: vec![contact.clone()] }, NOW.plus_ms(5_000));
    assert!(notices.is_empty(), "the local engine never heard it: {notices:?}");
    assert!(run(&mut d, &mut store).is_empty(), "no CRM request for a pick in the server's integration");
    // A manual log asked for both: HubSpot's part goes to the server, Pipedrive's stays here.
    d.handle(Input::CallEnded(c), NOW.plus_ms(60_000));
    run(&mut d, &mut store);
    let stored = calltrail_core::store::Snapshot::default();
    d.handle(Input::ManualLogRequested { call: id.clone(), integrations: vec![IntegrationId::new("hs"), IntegrationId::new("pd")], stored }, NOW.plus_ms(70_000));
    let crm = run(&mut d, &mut store);
    assert!(crm.iter().all(|i| i == "pd"), "HubSpot's part is never sent from here: {crm:?}");
    // Resolutions: the server's slot is forwarded, the local one is not.
    let hs_slot = format!("call|{id}|hs");
    let pd_slot = format!("call|{id}|pd");
    d.handle(
        Input::UnresolvedResolved { resolutions: vec![(hs_slot.clone().into(), Resolution::Dismiss), (pd_slot.into(), Resolution::Dismiss)] },
        NOW.plus_ms(80_000),
    );
    assert!(run(&mut d, &mut store).iter().all(|i| i == "pd"));
    // A pick in Pipedrive, local: the local engine hears it (and refuses it: no such match).
    let notices = d.handle(Input::ContactsPicked { call: id.clone(), integration: IntegrationId::new("pd"), contacts: vec![contact.clone()] }, NOW.plus_ms(90_000));
    assert!(notices.iter().any(|n| format!("{n:?}").contains("PicksRefused")), "{notices:?}");

    let entries: Vec<Forwarded> = d.outbox().map(|t| serde_json::from_str(t).unwrap()).collect();
    let whats: Vec<What> = entries.iter().map(|e| e.what).collect();
    assert_eq!(whats, vec![What::CallStarted, What::Picked, What::CallEnded, What::ManualLog, What::Resolve], "the local pick is not forwarded");
    assert_eq!(entries[1].contacts.as_deref(), Some(&[contact.clone()][..]));
    assert_eq!(entries[3].integrations, Some(vec![IntegrationId::new("hs")]), "only the server's integrations");
    assert_eq!(entries[4].resolutions.as_ref().map(|r| r.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>()), Some(vec![hs_slot]));
    // The server's engine hears the same inputs.
    let picked = entries[1].clone().into_input();
    assert_eq!(picked, Some(Input::ContactsPicked { call: id.clone(), integration: IntegrationId::new("hs"), contacts: vec![contact] }));
    assert!(matches!(entries[3].clone().into_input(), Some(Input::ManualLogRequested { integrations, .. }) if integrations == vec![IntegrationId::new("hs")]));
    assert!(matches!(entries[4].clone().into_input(), Some(Input::UnresolvedResolved { resolutions }) if resolutions.len() == 1));
    // What a local integration alone asks is never forwarded.
    let before = d.outbox().count();
    d.handle(Input::ManualLogRequested { call: id, integrations: vec![IntegrationId::new("pd")], stored: calltrail_core::store::Snapshot::default() }, NOW.plus_ms(95_000));
    run(&mut d, &mut store);
    assert_eq!(d.outbox().count(), before);
}

/// The rep's server token lives in the worker's secrets store, bound to the server's origin:
/// settings written with it (an older start, an import, the options page) give it up at once,
/// and no settings read, view or export carries it; the policy's is kept in memory only.
#[test]
fn the_rep_token_lives_in_the_secrets_store_never_in_the_settings() {
    let token = "ctr_0123456789abcdef_secret";
    let mut store = MemStore::default();
    // Settings stored with the token (as before it moved): the start moves it.
    let mut d = driver(&mut store, &[], 1, NOW);
    run(&mut d, &mut store);
    let settings_text: String = store.all(StoreName::Settings).map(|r| r.value.to_string()).collect();
    assert!(settings_text.contains("calltrail.example.com") && !settings_text.contains(token), "{settings_text}");
    let kept = store.get(StoreName::Secrets, calltrail_core::driver::credentials::REP_TOKEN_KEY).expect("the token in the secrets store");
    assert!(kept.value.to_string().contains(token) && kept.value.to_string().contains("https://calltrail.example.com"));
    let shown = |d: &Driver| format!("{} {} {:?} {:?}", d.settings_view().data.unwrap().get(), d.state_view().data.unwrap().get(), d.exported_settings(), d.settings());
    assert!(!shown(&d).contains(token), "{}", shown(&d));
    let bearer = |d: &mut Driver| {
        d.handle(Input::DigestRequested, NOW);
        let mut store = MemStore::default();
        run(d, &mut store);
        d.next_forward(NOW).map(|s| s.request.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone()).unwrap_or_default())
    };
    // A later start reads it from the secrets store; a save without a token keeps it.
    let mut d = Driver::new(Driver::stored_settings(store.get(StoreName::Settings, calltrail_core::driver::SETTINGS_KEY)), Value::Null, &store.all(StoreName::Secrets).cloned().collect::<Vec<_>>(), EngineOptions::default(), Box::new(calltrail_core::zone::FixedZones::standard()), NOW);
    let snapshot = store.restore(&d.restore_query(NOW));
    d.restore(snapshot, 2, NOW);
    run(&mut d, &mut store);
    let mut page = d.user_settings().clone();
    assert_eq!(page.server.as_ref().map(|l| l.token.as_str()), Some(""));
    page.rep_email = "alice@example.com".into();
    assert!(d.replace_settings(page.clone(), NOW).ok);
    run(&mut d, &mut store);
    assert_eq!(bearer(&mut d).as_deref(), Some(format!("Bearer {token}").as_str()));
    // A new token replaces it; moving to another server leaves it behind.
    page.server.as_mut().unwrap().token = "ctr_fedcba9876543210_newer".into();
    assert!(d.replace_settings(page.clone(), NOW).ok);
    run(&mut d, &mut store);
    assert!(store.get(StoreName::Secrets, calltrail_core::driver::credentials::REP_TOKEN_KEY).unwrap().value.to_string().contains("_newer"));
    assert!(!shown(&d).contains("_newer"));
    page.server.as_mut().unwrap().url = "https://other.example.com".into();
    page.server.as_mut().unwrap().token.clear();
    assert!(d.replace_settings(page.clone(), NOW).ok);
    assert_eq!(d.server_request("history").unwrap().headers[0].1, "Bearer ", "the token is never sent to another origin");
    // Server mode off: the token is forgotten.
    page.server = None;
    assert!(d.replace_settings(page, NOW).ok);
    run(&mut d, &mut store);
    assert!(store.get(StoreName::Secrets, calltrail_core::driver::credentials::REP_TOKEN_KEY).is_none());
    // The policy's token is used and never shown.
    let policy = serde_json::json!({ "server": { "url": "https://calltrail.example.com", "account": "acme", "rep": "alice", "token": "ctr_0000000000000000_policys" } });
    d.set_policy(policy, NOW);
    assert_eq!(d.server_request("history").unwrap().headers[0].1, "Bearer ctr_0000000000000000_policys");
    assert!(!shown(&d).contains("_policys"), "{}", shown(&d));
}
