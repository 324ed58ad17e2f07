//! What the webhooks and the admin API refuse: each with a clear error and nothing stored.

use calltrail_server::http::{signature, RcSealed};
use calltrail_server::seal::Sealer;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{fresh_db, server, settings, Client, ServerOpts, SEAL};

const SECRET: &str = "generic-secret-0123456789";

async fn inbox_rows(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM inbox WHERE source <> 'admin'").fetch_one(pool).await.unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn webhooks_and_admin_refuse_what_they_must_and_store_nothing() {
    let url = fresh_db("refusals").await;
    let srv = server(&ServerOpts { database_url: url.clone(), public_url: None, sync_ms: 60_000, lease_ttl_ms: 6000, id: "r1".into() }).await;
    let base = format!("http://127.0.0.1:{}", srv.port());
    let c = Client::default();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();

    // Admin: missing or wrong credentials.
    let r = c.http.put(format!("{base}/admin/accounts/acme")).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let r = c.http.put(format!("{base}/admin/accounts/acme")).bearer_auth("wrong-token-wrong-token").json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 0, "nothing created without credentials");

    // Set up an account (RingCentral credentials pointing nowhere: only its tokens matter here).
    let rc = json!({ "server_url": "http://127.0.0.1:9", "client_id": "c", "client_secret": "s", "jwt": "j" });
    let (s, _) = c.admin(Method::PUT, &format!("{base}/admin/accounts/acme"), Some(json!({ "ringcentral": rc, "webhook_secret": SECRET }))).await;
    assert_eq!(s, 200);
    let (s, v) = c.admin(Method::PUT, &format!("{base}/admin/accounts/acme/reps/bob"), Some(json!({ "telephony_user": "101", "settings": { "integrations": [{ "id": "hs", "kind": "nocrm" }] } }))).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_settings")), "a settings document is refused whole: {v}");
    let (s, _) = c.admin(Method::PUT, &format!("{base}/admin/accounts/acme/reps/bob"), Some(json!({ "telephony_user": "101", "settings": settings(&[("hs", "hubspot", "http://127.0.0.1:9/hubspot".into())]) }))).await;
    assert_eq!(s, 200);
    let sealed: String = sqlx::query_scalar("SELECT rc_sealed FROM accounts WHERE id = 'acme'").fetch_one(&pool).await.unwrap();
    let verification = serde_json::from_str::<RcSealed>(&Sealer::from_text(SEAL).unwrap().open_text("acme/rc", &sealed).unwrap()).unwrap().verification_token;

    let hook = format!("{base}/webhooks/ringcentral/acme");
    // The handshake echoes a well-formed token and refuses a bad one.
    let r = c.http.post(&hook).header("Validation-Token", "0f9a2c1e-0000-4bbb-8ccc-123456789abc").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["validation-token"], "0f9a2c1e-0000-4bbb-8ccc-123456789abc");
    let r = c.http.post(&hook).header("Validation-Token", "not a token; x").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "bad_validation_token");

    let note = json!({"uuid": "9000000000000000001", "subscriptionId": "sub", "body": {"sequence": 1, "telephonySessionId": "s-1",
        "eventTime": "2026-06-01T15:00:00.000Z", "parties": [{"extensionId": "101", "id": "p-1", "direction": "Inbound",
        "from": {"phoneNumber": "+14155550123"}, "to": {"phoneNumber": "+16505550101"}, "status": {"code": "Setup"}}]}});
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (None, note.to_string().into_bytes(), 401, "bad_verification_token"),
        (Some("wrong"), note.to_string().into_bytes(), 401, "bad_verification_token"),
        (Some(verification.as_str()), b"{not json".to_vec(), 400, "malformed"),
        (Some(verification.as_str()), br#"{"uuid": "1"}"#.to_vec(), 400, "missing_field"),
        (Some(verification.as_str()), br#"{"uuid": "1", "body": {"telephonySessionId": "s", "sequence": 1, "eventTime": "x", "parties": []}}"#.to_vec(), 400, "invalid_value"),
    ];
    for (token, body, status, kind) in cases {
        let mut rb = c.http.post(&hook).header("content-type", "application/json").body(body);
        if let Some(t) = token {
            rb = rb.header("Verification-Token", t);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{kind}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], kind);
    }
    assert_eq!(inbox_rows(&pool).await, 0, "nothing refused was stored");
    let r = c.http.post(&hook).header("Verification-Token", &verification).json(&note).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.http.post(&hook).header("Verification-Token", &verification).json(&note).send().await.unwrap();
    assert_eq!(r.status(), 200, "a repeat is answered");
    assert_eq!(inbox_rows(&pool).await, 1, "stored once, repeats dropped by delivery id");

    // Signed generic events.
    let generic = format!("{base}/webhooks/generic/acme");
    let event = json!({"calltrail": 1, "event": "call.ended", "user": "101", "call": {"id": "c-1", "direction": "inbound",
        "from": "+14155550123", "to": "+16505550101", "started_at": (now_secs() - 120) * 1000, "ended_at": (now_secs() - 60) * 1000}}).to_string();
    let ts = now_secs();
    let good = signature(SECRET, ts, event.as_bytes());
    let post = |ts: Option<i64>, sig: Option<String>, body: String| {
        let mut rb = c.http.post(&generic).header("content-type", "application/json").body(body);
        if let Some(t) = ts {
            rb = rb.header("X-Calltrail-Timestamp", t.to_string());
        }
        if let Some(s) = sig {
            rb = rb.header("X-Calltrail-Signature", s);
        }
        rb.send()
    };
    let bad_body = "{\"calltrail\": 1, \"event\": \"call.ended\", \"user\": \"101\"}".to_owned();
    /// A signed post: its timestamp and signature headers, body, and the refusal it must get.
    struct Signed {
        ts: Option<i64>,
        sig: Option<String>,
        body: String,
        status: u16,
        kind: &'static str,
    }
    let case = |ts, sig, body: &str, status, kind| Signed { ts, sig, body: body.to_owned(), status, kind };
    let cases = [
        case(None, None, &event, 401, "unsigned"),
        case(Some(ts), Some("sha256=00".into()), &event, 401, "bad_signature"),
        case(Some(ts), Some(signature("another-secret-entirely", ts, event.as_bytes())), &event, 401, "bad_signature"),
        case(Some(ts + 1), Some(good.clone()), &event, 401, "bad_signature"),
        case(Some(ts - 3600), Some(signature(SECRET, ts - 3600, event.as_bytes())), &event, 401, "stale_timestamp"),
        case(Some(ts), Some(signature(SECRET, ts, b"{nope")), "{nope", 400, "malformed"),
        case(Some(ts), Some(signature(SECRET, ts, bad_body.as_bytes())), &bad_body, 400, "missing_field"),
    ];
    for c in cases {
        let r = post(c.ts, c.sig, c.body).await.unwrap();
        assert_eq!(r.status().as_u16(), c.status, "{}", c.kind);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], c.kind);
    }
    assert_eq!(inbox_rows(&pool).await, 1, "nothing refused was stored");
    let r = post(Some(ts), Some(good), event).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(inbox_rows(&pool).await, 2);
}
