//! Authentication and authorization through the local stack: POST /auth/token and its
//! failed-login limits, the Lambda authorizer run by the API Gateway emulation, and the
//! handlers' role checks.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payrail_shared::auth::{ActingFor, Role, SigningKey, TokenIssuer, TokenScope};
use payrail_shared::domain::{Clock, MerchantId, SystemClock};
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
    // Refunding is the merchant's, and an admin's only for the upstream merchant's payments
    // (403 on a merchant's: tests/tests/api_refunds.rs), so a missing payment is 404 to an
    // admin too; an admin reads a payment's refunds.
    (
        "POST /payments/{id}/refunds",
        "/payments/6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40/refunds",
        404,
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
    scoped_token(ttl_seconds, role, support::stack_token_scope()?)
}

/// A token signed with the stack's own key, in the scope given.
fn scoped_token(
    ttl_seconds: u64,
    role: Role,
    scope: TokenScope,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let key = std::env::var("TOKEN_SIGNING_KEY")?;
    // Any well-formed id: these tests are about the token, not what it owns.
    let id = MerchantId::new();
    let merchant = (role == Role::Merchant).then_some(ActingFor {
        id: &id,
        name: "Alice's Shop",
    });
    Ok(
        TokenIssuer::new(&SigningKey::new(key.into_bytes())?, ttl_seconds, scope)
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
    assert!(
        claims["merchant_id"]
            .as_str()
            .is_some_and(|id| MerchantId::parse(id).is_ok()),
        "{claims}"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0),
        ttl as i64
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let scope = support::stack_token_scope()?;
    assert_eq!(claims["iss"], scope.issuer.as_str());
    assert_eq!(claims["aud"], scope.audience.as_str());
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
    let other_key = TokenIssuer::new(
        &SigningKey::new(vec![9u8; 48])?,
        30,
        support::stack_token_scope()?,
    )
    .issue("admin", Role::Admin, None, SystemClock.now())?
    .access_token;
    // The stack's key, but no `iss` or `aud` at all (tokens as they were before the claims),
    // signed by hand: the issuer always writes both.
    let unscoped = {
        use hmac::Mac as _;
        let now = SystemClock.now().millis() / 1000;
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!({
            "sub": "admin", "role": "admin", "iat": now, "exp": now + 30, "jti": "unscoped"
        }))?);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(
            std::env::var("TOKEN_SIGNING_KEY")?.as_bytes(),
        )?;
        mac.update(format!("{header}.{payload}").as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{payload}.{signature}")
    };
    // The stack's key, but another stage's issuer or another audience.
    let scope = support::stack_token_scope()?;
    let other_issuer = scoped_token(
        30,
        Role::Admin,
        TokenScope {
            issuer: "urn:payrail:another-stage".to_owned(),
            ..scope.clone()
        },
    )?;
    let other_audience = scoped_token(
        30,
        Role::Admin,
        TokenScope {
            audience: "urn:payrail:another-service".to_owned(),
            ..scope
        },
    )?;

    for (what, token) in [
        ("tampered signature", tampered_signature),
        ("tampered payload", tampered_payload),
        ("alg none", alg_none),
        ("another key", other_key),
        ("no issuer or audience", unscoped),
        ("another issuer", other_issuer),
        ("another audience", other_audience),
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

// Failed-login limits. Each test makes its own users and takes its own client addresses
// (random 127.x.y.z), so that its counters are nobody else's: the demo users and 127.0.0.1,
// which every other suite logs in from, are never touched.

/// A template parameter's default: the limits the local stack runs with.
fn limit(parameter: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let template =
        payrail_tools::local::template::Template::load(support::repo_root().join("template.yaml"))?;
    template
        .parameter(parameter)
        .and_then(|p| p.get("Default"))
        .and_then(|d| d.as_u64())
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("template.yaml has no numeric default for {parameter}").into())
}

/// A loopback address no other test uses (127.0.0.1 is everyone's).
fn fresh_address() -> std::net::IpAddr {
    let [a, b, c] = rand::random::<[u8; 3]>();
    std::net::IpAddr::from([127, a, b, c.max(2)])
}

/// A fresh merchant user with the given password; returns its name.
async fn fresh_user(password: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    use payrail_shared::domain::Timestamp;
    use payrail_shared::users::{DynamoUsers, User, Username};
    let client = support::dynamodb().await.ok_or("no DynamoDB")?;
    let name = format!("probe-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let user = User {
        username: Username::parse(&name)?,
        password_hash: payrail_shared::auth::hash_password(password)?,
        role: Role::Merchant,
        merchant: Some("Probe Shop".to_owned()),
        merchant_id: Some(MerchantId::new()),
        enabled: true,
        created_at: Timestamp::from_millis(SystemClock.now().millis()),
    };
    DynamoUsers::new(client, std::env::var("USERS_TABLE")?)
        .add(&user)
        .await?;
    Ok(name)
}

async fn try_login(
    api: &Api,
    username: &str,
    password: &str,
) -> Result<Reply, support::api::Error> {
    api.token_request(&json!({"username": username, "password": password}))
        .await
}

/// The 15-minute window the strict counters count in, as auth-token computes it.
fn window_now() -> i64 {
    SystemClock.now().millis() / (15 * 60 * 1000)
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn assert_too_many(reply: &Reply, what: &str, at_most_seconds: u64) {
    assert_eq!(reply.status, 429, "{what}: {:?}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json", "{what}");
    assert_eq!(reply.body["code"], "too_many_attempts", "{what}");
    let wait = retry_after(reply);
    assert!(
        (1..=at_most_seconds).contains(&wait),
        "{what}: Retry-After {:?}",
        reply.retry_after
    );
}

/// `failures` wrong passwords for `username` from `api`, each a 401; then the next attempt,
/// with `then_password`. None when the strict window turned over meanwhile (the counts began
/// again): the caller tries once more.
async fn fail_then(
    api: &Api,
    username: &str,
    failures: u32,
    then_password: &str,
) -> Result<Option<Reply>, support::api::Error> {
    let window = window_now();
    for n in 0..failures {
        let reply = try_login(api, username, "not the password").await?;
        assert_eq!(
            reply.status, 401,
            "failure {n} for {username}: {:?}",
            reply.body
        );
    }
    let next = try_login(api, username, then_password).await?;
    Ok((window_now() == window).then_some(next))
}

#[tokio::test]
async fn wrong_passwords_from_one_address_end_in_the_same_429_for_real_and_unknown_users()
-> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let per_pair = limit("LoginFailuresPerUserAndSource")?;
    let real = fresh_user("right horse battery").await?;
    let unknown = format!(
        "nobody-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut refusals = Vec::new();
    for (username, password) in [(&real, "right horse battery"), (&unknown, "anything")] {
        let refused = loop {
            let from = api.seen_from(fresh_address())?;
            if let Some(reply) = fail_then(&from, username, per_pair, password).await? {
                break reply;
            }
        };
        // Even the right password: the address has used up its guesses for this name.
        assert_too_many(&refused, username, 15 * 60);
        refusals.push(refused);
    }
    assert_eq!(
        refusals[0].body, refusals[1].body,
        "a real and an unknown user get the same answer"
    );
    Ok(())
}

#[tokio::test]
async fn a_user_under_attack_still_logs_in_from_known_addresses_at_once_and_new_ones_after_a_wait()
-> TestResult {
    let Some(api) = Api::new() else { return Ok(()) };
    let per_pair = limit("LoginFailuresPerUserAndSource")?;
    let max_delay = u64::from(limit("LoginMaxDelaySeconds")?);
    let password = "correct staple";
    let victim = fresh_user(password).await?;
    let home = api.seen_from(fresh_address())?;
    assert_eq!(try_login(&home, &victim, password).await?.status, 200);

    // An attacker elsewhere uses up its address's guesses for the victim.
    let attacker = loop {
        let attacker = api.seen_from(fresh_address())?;
        if let Some(reply) = fail_then(&attacker, &victim, per_pair, password).await? {
            assert_too_many(&reply, "the attacker's address", 15 * 60);
            break attacker;
        }
    };

    // Where the victim logged in before, the attacker's failures do not count.
    let at_home = try_login(&home, &victim, password).await?;
    assert_eq!(at_home.status, 200, "known address: {:?}", at_home.body);

    // From an address the victim never used, at most a wait, never a lockout: the answer
    // says how long, and after that the right password works.
    let travelling = api.seen_from(fresh_address())?;
    let mut waited = 0;
    let reply = loop {
        let reply = try_login(&travelling, &victim, password).await?;
        if reply.status != 429 || waited > 3 * max_delay {
            break reply;
        }
        assert_too_many(&reply, "a new address", max_delay);
        waited += retry_after(&reply);
        // Retry-After is the protocol here: the server said when to come back.
        tokio::time::sleep(Duration::from_secs(retry_after(&reply))).await;
    };
    assert_eq!(
        reply.status, 200,
        "new address after {waited} s: {:?}",
        reply.body
    );

    // The attacker's address stays refused for the victim, right password or not.
    let again = try_login(&attacker, &victim, password).await?;
    assert_too_many(&again, "the attacker's address again", 15 * 60);
    Ok(())
}

#[tokio::test]
async fn an_address_guessing_many_names_is_refused_except_for_users_it_logged_in_as() -> TestResult
{
    let Some(api) = Api::new() else { return Ok(()) };
    let per_source = limit("LoginFailuresPerSource")?;
    let regular = fresh_user("regular pass").await?;
    let stranger = fresh_user("stranger pass").await?;
    let (from, refused) = loop {
        let from = api.seen_from(fresh_address())?;
        let window = window_now();
        assert_eq!(
            try_login(&from, &regular, "regular pass").await?.status,
            200
        );
        for n in 0..per_source {
            let name = format!(
                "spray-{n}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            let reply = try_login(&from, &name, "password1").await?;
            assert_eq!(reply.status, 401, "guess {n}: {:?}", reply.body);
        }
        let refused = try_login(&from, "one-more-name", "password1").await?;
        if window_now() == window {
            break (from, refused);
        }
    };
    assert_too_many(&refused, "one name too many", 15 * 60);
    // A real user the address never logged in as is refused there too, right password or not…
    assert_too_many(
        &try_login(&from, &stranger, "stranger pass").await?,
        "a user new to the address",
        15 * 60,
    );
    // …but the user who logs in from it is not locked out by the others' guessing.
    let regular_again = try_login(&from, &regular, "regular pass").await?;
    assert_eq!(regular_again.status, 200, "{:?}", regular_again.body);
    Ok(())
}
