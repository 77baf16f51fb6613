//! Authentication and authorization through the local stack: POST /auth/token, the Lambda
//! authorizer run by the API Gateway emulation, and the handlers' role checks.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payrail_shared::auth::{Role, SigningKey, TokenIssuer};
use payrail_shared::domain::{Clock, SystemClock};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::TestResult;
use support::api::{Api, Reply};

/// A request to every protected route, by route key, and what the admin gets from it. The test
/// fails when template.yaml declares a protected route this table has no request for.
const PROTECTED: [(&str, &str, u16); 9] = [
    ("GET /transactions", "/transactions?days=7&limit=5", 200),
    (
        "GET /transactions/count",
        "/transactions/count?days=7&card_type=visa",
        200,
    ),
    ("GET /accounts/{id}", "/accounts/1", 200),
    ("GET /payments", "/payments?account_id=1&limit=5", 200),
    (
        "GET /payments/{id}",
        "/payments/6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40",
        404,
    ),
    // Creating and processing are a merchant's: an admin gets 403.
    ("POST /payments", "/payments", 403),
    (
        "POST /payments/{id}/process",
        "/payments/6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40/process",
        403,
    ),
    // Refunding is the merchant's; an admin reads a payment's refunds.
    (
        "POST /payments/{id}/refunds",
        "/payments/6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40/refunds",
        403,
    ),
    (
        "GET /payments/{id}/refunds",
        "/payments/6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40/refunds",
        404,
    ),
];

/// The admin-only routes: a merchant gets 403.
const REPORTS: [&str; 2] = [
    "/transactions?days=7&limit=5",
    "/transactions/count?days=7&card_type=visa",
];

/// The method of a route key.
fn method(route: &str) -> reqwest::Method {
    if route.starts_with("POST ") {
        reqwest::Method::POST
    } else {
        reqwest::Method::GET
    }
}

fn protected_routes_in_template() -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let template =
        payrail_tools::local::template::Template::load(support::repo_root().join("template.yaml"))?;
    let routes = payrail_tools::local::apigw::routes_from_template(&template)?;
    let mut keys: Vec<String> = routes
        .routes()
        .iter()
        .filter(|r| r.target.authorizer.is_some())
        .map(|r| r.route_key())
        .collect();
    keys.sort();
    Ok(keys)
}

fn assert_unauthorized(reply: &Reply, what: &str, detail_mentions: &str) {
    assert_eq!(reply.status, 401, "{what}: {:?}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json", "{what}");
    assert_eq!(reply.body["code"], "unauthorized", "{what}");
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(detail_mentions), "{what}: {detail}");
    assert!(
        reply
            .www_authenticate
            .as_deref()
            .is_some_and(|h| h.starts_with("Bearer")),
        "{what}: a 401 names its scheme"
    );
}

/// A token signed with the stack's own key, with the lifetime asked for.
fn stack_token(
    ttl_seconds: u64,
    role: Role,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let key = std::env::var("TOKEN_SIGNING_KEY")?;
    let merchant = (role == Role::Merchant).then_some("Alice's Shop");
    Ok(
        TokenIssuer::new(&SigningKey::new(key.into_bytes())?, ttl_seconds)
            .issue("admin", role, merchant, SystemClock.now())?
            .access_token,
    )
}

#[tokio::test]
async fn a_valid_token_opens_every_protected_route_and_none_opens_without_one() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let mut covered: Vec<String> = PROTECTED.iter().map(|(k, _, _)| (*k).to_owned()).collect();
    covered.sort();
    assert_eq!(
        protected_routes_in_template()?,
        covered,
        "every protected route needs a request in PROTECTED"
    );
    let body = json!({});
    for (route, path, status) in PROTECTED {
        // Renewed as it ages: each route's first call is a cold start, and together they can
        // outlast one token.
        let admin = format!("Bearer {}", api.admin_token().await?);
        let body = (method(route) == reqwest::Method::POST).then_some(&body);
        let reply = api
            .send_with(method(route), path, Some(&admin), body)
            .await?;
        assert_eq!(reply.status, status, "{route} as admin: {:?}", reply.body);
        let anonymous = api.send_with(method(route), path, None, body).await?;
        assert_unauthorized(&anonymous, route, "Authorization");
    }
    for public in ["/openapi.json", "/docs"] {
        assert_eq!(api.get_with(public, None).await?.status, 200, "{public}");
    }
    Ok(())
}

#[tokio::test]
async fn tokens_from_the_endpoint_carry_the_configured_lifetime() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let reply = api
        .token_request(&json!({"username": "alice", "password": Api::demo_password()}))
        .await?;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    let ttl: u64 = std::env::var("TOKEN_TTL_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    assert_eq!(reply.body["expires_in"].as_u64(), Some(ttl));
    let token = reply.body["access_token"].as_str().unwrap_or_default();
    let payload = token.split('.').nth(1).unwrap_or_default();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], "merchant");
    assert_eq!(claims["merchant"], "Alice's Shop");
    assert_eq!(
        claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0),
        ttl as i64
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    Ok(())
}

#[tokio::test]
async fn an_expired_token_is_refused_once_its_lifetime_is_over() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let (_, path, _) = PROTECTED[1];
    // Warm the authorizer and the function, so the short-lived token's first use is prompt.
    assert_eq!(api.get(path).await?.status, 200);

    // Long enough that a loaded machine still uses it in time, short enough to wait out.
    let ttl = 6;
    let issued = Instant::now();
    let token = format!("Bearer {}", stack_token(ttl, Role::Admin)?);
    let first = api.get_with(path, Some(&token)).await?;
    assert_eq!(first.status, 200, "a fresh token works: {:?}", first.body);

    // Wait for the condition (the 401), not for a fixed time; give up well after exp + leeway.
    let deadline = issued + Duration::from_secs(ttl + 15);
    let refused = loop {
        let reply = api.get_with(path, Some(&token)).await?;
        if reply.status != 200 {
            break reply;
        }
        assert!(
            Instant::now() < deadline,
            "the token was still accepted after {ttl} s + 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        issued.elapsed() >= Duration::from_secs(ttl - 1),
        "refused before its lifetime was over: {:?}",
        issued.elapsed()
    );
    assert_unauthorized(&refused, "expired token", "expired");
    Ok(())
}

#[tokio::test]
async fn forged_altered_and_malformed_credentials_are_each_a_401_problem() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let (_, path, _) = PROTECTED[0];
    let valid = stack_token(30, Role::Admin)?;
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();

    // The signature of another payload: a merchant token promoted to admin by hand.
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1])?)?;
    claims["sub"] = json!("mallory");
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?);
    let tampered_payload = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    // One character of the signature changed.
    let last = parts[2].pop().unwrap_or('A');
    parts[2].push(if last == 'A' { 'B' } else { 'A' });
    let tampered_signature = parts.join(".");
    // alg: none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    // A well-formed token signed with a key that is not the stack's.
    let other_key = TokenIssuer::new(&SigningKey::new(vec![9u8; 48])?, 30)
        .issue("admin", Role::Admin, None, SystemClock.now())?
        .access_token;

    for (what, token) in [
        ("tampered signature", tampered_signature),
        ("tampered payload", tampered_payload),
        ("alg none", alg_none),
        ("another key", other_key),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ] {
        let reply = api.get_with(path, Some(&format!("Bearer {token}"))).await?;
        assert_unauthorized(&reply, what, "not valid");
    }
    assert_unauthorized(
        &api.get_with(path, None).await?,
        "no header",
        "Authorization",
    );
    for header in [
        "Basic YWRtaW46cGFzc3dvcmQ=",
        "Bearer",
        "Bearer two tokens",
        valid.as_str(),
    ] {
        let reply = api.get_with(path, Some(header)).await?;
        assert_unauthorized(&reply, header, "Bearer <token>");
    }
    Ok(())
}

#[tokio::test]
async fn a_merchant_is_forbidden_the_reports() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let token = format!("Bearer {}", api.login("alice").await?);
    for path in REPORTS {
        let reply = api.get_with(path, Some(&token)).await?;
        assert_eq!(reply.status, 403, "{path}: {:?}", reply.body);
        assert_eq!(reply.content_type, "application/problem+json");
        assert_eq!(reply.body["code"], "forbidden");
    }
    Ok(())
}

#[tokio::test]
async fn the_token_endpoint_tells_nothing_about_which_users_exist() -> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let unknown = api
        .token_request(&json!({"username": "mallory", "password": Api::demo_password()}))
        .await?;
    let wrong = api
        .token_request(&json!({"username": "alice", "password": "not the password"}))
        .await?;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body, wrong.body, "identical bodies");
    assert_eq!(unknown.content_type, wrong.content_type);
    assert_eq!(unknown.www_authenticate, wrong.www_authenticate);

    let disabled = api
        .token_request(&json!({"username": "charlie", "password": Api::demo_password()}))
        .await?;
    assert_eq!(disabled.status, 403, "{:?}", disabled.body);
    assert_eq!(disabled.content_type, "application/problem+json");
    let disabled_wrong = api
        .token_request(&json!({"username": "charlie", "password": "not the password"}))
        .await?;
    assert_eq!(
        disabled_wrong.body, wrong.body,
        "a wrong password reveals no account state"
    );

    for (body, field) in [
        (json!({"username": "alice"}), "password"),
        (json!({"password": "x"}), "username"),
        (json!({"username": "", "password": "x"}), "username"),
    ] {
        let reply = api.token_request(&body).await?;
        assert_eq!(reply.status, 422, "{body}");
        assert_eq!(reply.body["errors"][0]["field"], field, "{body}");
    }
    let malformed = api
        .send_raw(
            api.http
                .post(format!("{}/auth/token", api.base))
                .body("{not json"),
        )
        .await?;
    assert_eq!(malformed.status, 400);
    Ok(())
}
