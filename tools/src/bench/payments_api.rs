//! Latency of POST /payments and GET /payments/{id} through the local stack (API Gateway
//! emulation → authorizer → function → the local DynamoDB, and SQS for online payments), one request
//! at a time, as one merchant sees it.

use super::BenchResult;
use super::auth::Micros;
use crate::generator::data::card_number;
use payrail_shared::domain::CardType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// p50/p99/mean per request kind.
#[derive(Debug)]
pub struct PaymentsLatency {
    pub create_offline: Micros,
    pub create_online: Micros,
    pub get: Micros,
}

/// A merchant token, fetched again before it expires (30 s by default).
struct Token {
    value: String,
    fetched: Instant,
}

struct Client<'a> {
    http: reqwest::Client,
    api_url: &'a str,
    password: &'a str,
    token: Option<Token>,
}

impl Client<'_> {
    async fn bearer(&mut self) -> BenchResult<String> {
        let fresh = self
            .token
            .as_ref()
            .is_some_and(|t| t.fetched.elapsed() < Duration::from_secs(15));
        if !fresh {
            let answer: Value = self
                .http
                .post(format!("{}/auth/token", self.api_url))
                .json(&json!({"username": "alice", "password": self.password}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let value = answer["access_token"]
                .as_str()
                .ok_or("no access_token in the token answer")?
                .to_owned();
            self.token = Some(Token {
                value,
                fetched: Instant::now(),
            });
        }
        Ok(format!(
            "Bearer {}",
            self.token.as_ref().map_or("", |t| t.value.as_str())
        ))
    }

    /// One timed request (the token fetch, when due, happens before the clock starts).
    async fn timed(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        expect: u16,
    ) -> BenchResult<(Duration, Value)> {
        let bearer = self.bearer().await?;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api_url))
            .header("authorization", bearer);
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await?;
        let elapsed = started.elapsed();
        if status != expect {
            return Err(format!("{path}: expected {expect}, got {status}: {answer}").into());
        }
        Ok((elapsed, answer))
    }
}

/// `requests` payments of each type created one after another, then each read back once.
pub async fn payments_latency(
    api_url: &str,
    password: &str,
    requests: usize,
) -> BenchResult<PaymentsLatency> {
    let mut client = Client {
        http: reqwest::Client::new(),
        api_url: api_url.trim_end_matches('/'),
        password,
        token: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut ids = Vec::with_capacity(requests * 2);
    let mut offline = Vec::with_capacity(requests);
    let mut online = Vec::with_capacity(requests);
    // One untimed request of each kind first, so no cold start is in the figures.
    for (payment_type, expect, samples) in [
        ("offline", 201, None),
        ("online", 202, None),
        ("offline", 201, Some(&mut offline)),
        ("online", 202, Some(&mut online)),
    ] {
        let rounds = if samples.is_some() { requests } else { 1 };
        let mut timings = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let account_id = rng.random_range(1..=500u64);
            let body = payment_body(&mut rng, payment_type, account_id)?;
            let (elapsed, answer) = client
                .timed(reqwest::Method::POST, "/payments", Some(&body), expect)
                .await?;
            timings.push(elapsed);
            ids.push(
                answer["id"]
                    .as_str()
                    .ok_or("no id in the created payment")?
                    .to_owned(),
            );
        }
        if let Some(samples) = samples {
            *samples = timings;
        }
    }
    let mut gets = Vec::with_capacity(ids.len());
    for id in &ids {
        let (elapsed, _) = client
            .timed(reqwest::Method::GET, &format!("/payments/{id}"), None, 200)
            .await?;
        gets.push(elapsed);
    }
    Ok(PaymentsLatency {
        create_offline: Micros::of(offline),
        create_online: Micros::of(online),
        get: Micros::of(gets),
    })
}

/// A POST /payments body: a Visa card, GBP, in the UK.
pub fn payment_body(
    rng: &mut ChaCha8Rng,
    payment_type: &str,
    account_id: u64,
) -> BenchResult<Value> {
    let number = card_number(rng, CardType::Visa).ok_or("no visa number")?;
    Ok(json!({
        "account_id": account_id,
        "amount": rng.random_range(100..50_000u64),
        "currency": "GBP",
        "payment_type": payment_type,
        "method": "credit_card",
        "card": {"number": number.expose(), "exp_month": 12, "exp_year": 2035, "cvc": "123"},
        "address": "1 Bench Road, London",
        "country": "GB",
    }))
}
