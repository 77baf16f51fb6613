//! Authentication figures: the authorizer's verification time in process, and the latency the
//! authorizer step adds to a request through the local stack.

use payrail_shared::auth::{
    Role, SigningKey, TokenIssuer, TokenScope, TokenVerifier, hash_password, verify_password,
};
use payrail_shared::domain::{Clock, SystemClock};
use serde_json::json;
use std::time::{Duration, Instant};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Percentiles of a set of durations, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Micros {
    pub p50: f64,
    pub p99: f64,
    pub mean: f64,
}

impl Micros {
    pub fn of(mut samples: Vec<Duration>) -> Micros {
        samples.sort();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        let total: f64 = samples.iter().map(Duration::as_secs_f64).sum();
        Micros {
            p50: at(0.5),
            p99: at(0.99),
            mean: total * 1e6 / samples.len().max(1) as f64,
        }
    }
}

/// Times `iterations` verifications of one valid token (signature, algorithm, `exp`) as the
/// authorizer does them.
pub fn verify_timing(iterations: usize) -> BenchResult<Micros> {
    let key = SigningKey::new(b"bench signing key, at least 32 bytes long".to_vec())?;
    let scope = TokenScope::default();
    let token = TokenIssuer::new(&key, 3600, scope.clone())
        .issue("admin", Role::Admin, None, SystemClock.now())?
        .access_token;
    let verifier = TokenVerifier::new(&[key], &scope, Box::new(SystemClock));
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let claims = verifier.verify(std::hint::black_box(&token))?;
        samples.push(started.elapsed());
        std::hint::black_box(claims);
    }
    Ok(Micros::of(samples))
}

/// Times `iterations` argon2id password checks (what one login costs the token function).
pub fn password_timing(iterations: usize) -> BenchResult<Micros> {
    let stored = hash_password("password")?;
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let ok = verify_password(std::hint::black_box("password"), Some(&stored));
        samples.push(started.elapsed());
        if !ok {
            return Err("the password did not verify".into());
        }
    }
    Ok(Micros::of(samples))
}

/// Latency through the local stack, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct StackLatency {
    /// A protected request through the API Gateway emulation: authorizer + function.
    pub protected_request: Micros,
    /// The authorizer alone, invoked through the Lambda invoke API: the step the emulation
    /// (and API Gateway) adds to every protected request.
    pub authorizer_invoke: Micros,
    /// POST /auth/token through the emulation (argon2id check included).
    pub token_request: Micros,
    /// POST /auth/token for a user that does not exist, and for a wrong password: the two
    /// must not be told apart by their time.
    pub unknown_user: Micros,
    pub wrong_password: Micros,
}

/// Times refused logins, alternating unknown user and wrong password.
async fn refused_logins(
    http: &reqwest::Client,
    api_url: &str,
    rounds: usize,
) -> BenchResult<(Micros, Micros)> {
    let mut unknown = Vec::with_capacity(rounds);
    let mut wrong = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        for (username, samples) in [("nobody", &mut unknown), ("alice", &mut wrong)] {
            let body = json!({"username": username, "password": "not the password"});
            let started = Instant::now();
            let status = http
                .post(format!("{api_url}/auth/token"))
                .json(&body)
                .send()
                .await?
                .status();
            samples.push(started.elapsed());
            if status != reqwest::StatusCode::UNAUTHORIZED {
                return Err(format!("{username}: expected 401, got {status}").into());
            }
        }
    }
    Ok((Micros::of(unknown), Micros::of(wrong)))
}

/// Sends `requests` protected requests and as many direct authorizer invocations.
pub async fn stack_latency(
    api_url: &str,
    lambda_url: &str,
    password: &str,
    requests: usize,
) -> BenchResult<StackLatency> {
    let http = reqwest::Client::new();
    let login = json!({"username": "admin", "password": password});
    let mut token_samples = Vec::new();
    let mut token = String::new();
    let mut token_at = Instant::now() - Duration::from_secs(3600);
    let mut protected = Vec::with_capacity(requests);
    let mut direct = Vec::with_capacity(requests);
    for i in 0..=requests {
        if token_at.elapsed() > Duration::from_secs(10) {
            let started = Instant::now();
            let reply: serde_json::Value = http
                .post(format!("{api_url}/auth/token"))
                .json(&login)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            token_samples.push(started.elapsed());
            token = reply["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            token_at = Instant::now();
        }
        let started = Instant::now();
        http.get(format!(
            "{api_url}/transactions/count?days=1&card_type=visa"
        ))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
        let through_api = started.elapsed();

        let event = json!({
            "version": "2.0", "type": "REQUEST", "routeKey": "GET /transactions/count",
            "rawPath": "/transactions/count", "rawQueryString": "days=1&card_type=visa",
            "headers": {"authorization": format!("Bearer {token}")},
            "requestContext": {"http": {"method": "GET", "path": "/transactions/count"}},
        });
        let started = Instant::now();
        let decision: serde_json::Value = http
            .post(format!(
                "{lambda_url}/2015-03-31/functions/authorizer/invocations"
            ))
            .json(&event)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let authorizer = started.elapsed();
        if decision["context"]["sub"] != "admin" {
            return Err(format!("the authorizer did not accept the token: {decision}").into());
        }
        // The first round warms both functions (a cold start is not what is measured here).
        if i > 0 {
            protected.push(through_api);
            direct.push(authorizer);
        }
    }
    // Logins: the first one above (a cold start) is not counted.
    token_samples.clear();
    for _ in 0..50 {
        let started = Instant::now();
        http.post(format!("{api_url}/auth/token"))
            .json(&login)
            .send()
            .await?
            .error_for_status()?;
        token_samples.push(started.elapsed());
    }
    // Four of each: the failed-login limits (design.md, "Login abuse") answer the fifth wrong
    // password for one (username, address) in 15 minutes with 429, and 429 is not what this
    // measures.
    let (unknown_user, wrong_password) = refused_logins(&http, api_url, 4).await?;
    Ok(StackLatency {
        protected_request: Micros::of(protected),
        authorizer_invoke: Micros::of(direct),
        token_request: Micros::of(token_samples),
        unknown_user,
        wrong_password,
    })
}
