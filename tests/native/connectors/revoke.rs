//! Disconnecting revokes the tokens at the vendor where it documents a revoke endpoint
//! (issue 12): golden requests per CRM, on the token URL's own host.

use calltrail_core::crm::oauth::{endpoints, revoke_request, OAuthClient};
use calltrail_core::crm::{Method, Secret};
use calltrail_core::model::CrmKind;

fn client(kind: CrmKind) -> OAuthClient {
    OAuthClient { kind, client_id: "cid".into(), client_secret: None, redirect_uri: "https://x.chromiumapp.org/".into(), scopes: vec![], endpoints: endpoints(kind, "") }
}

#[test]
fn every_vendor_revokes_on_its_token_host() {
    let (access, refresh) = (Secret::new("acc-1"), Secret::new("ref/2"));
    let cases = [
        (CrmKind::HubSpot, Method::Delete, "https://api.hubapi.com/oauth/v1/refresh-tokens/ref%2F2", None),
        (CrmKind::Salesforce, Method::Post, "https://login.salesforce.com/services/oauth2/revoke", Some("token=ref%2F2")),
        (CrmKind::Zoho, Method::Post, "https://accounts.zoho.com/oauth/v2/token/revoke?token=ref%2F2", None),
        (CrmKind::Pipedrive, Method::Post, "https://oauth.pipedrive.com/oauth/revoke", Some("token=ref%2F2&token_type_hint=refresh_token")),
        (CrmKind::Clio, Method::Post, "https://app.clio.com/oauth/deauthorize", None),
    ];
    for (kind, method, url, body) in cases {
        let r = revoke_request(&client(kind), &access, Some(&refresh)).unwrap_or_else(|| panic!("{kind:?} revokes"));
        assert_eq!((r.method, r.url.as_str(), r.body.as_deref()), (method, url, body), "{kind:?}");
        if kind == CrmKind::Clio {
            // Clio ends the grant of the access token it is sent as Bearer.
            assert!(r.headers.iter().any(|(k, v)| k == "Authorization" && v == "Bearer acc-1"), "{kind:?}");
        }
        assert!(!format!("{r:?}").contains("ref/2") && !format!("{r:?}").contains("ref%2F2"), "{kind:?}: Debug shows no token: {r:?}");
    }
    // HubSpot revokes refresh tokens only: with none there is nothing to send.
    assert_eq!(revoke_request(&client(CrmKind::HubSpot), &access, None), None);
    // A token URL of the emulator: the revoke goes beside it, on the same host.
    let mut c = client(CrmKind::Clio);
    c.endpoints.token_url = "http://127.0.0.1:8790/clio/oauth/token".into();
    assert_eq!(revoke_request(&c, &access, None).map(|r| r.url), Some("http://127.0.0.1:8790/clio/oauth/deauthorize".into()));
}
