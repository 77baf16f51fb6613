//! The producer: N mixed payments through the API and straight into the queues.

use super::{Stack, now_millis};
use crate::support::api::{Api, Error};
use crate::support::card_scan::{Secrets, TOKEN_PREFIX};
use crate::support::{COUNTRIES, card_number};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::StreamExt as _;
use payrail_shared::domain::{CardType, PaymentId, PaymentType};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to send. [`Plan::mixed`] gives the proportions of the end-to-end test for any size.
#[derive(Debug, Clone)]
pub struct Plan {
    pub payments: usize,
    /// Share sent through POST /payments (alice and bob); the rest go straight into the queues.
    pub api_share: f64,
    /// Share of queue messages sent twice.
    pub duplicate_rate: f64,
    /// Upstream messages carrying a clear card number, as upstream producers may (SPEC §4).
    pub clear_upstream: usize,
    /// Upstream messages naming an account that does not exist: never processable, they must
    /// end in a dead-letter queue with their payment `failed`.
    pub poison: usize,
    pub wallet_rate: f64,
    /// Share of API requests with an Idempotency-Key (a third of those are sent twice).
    pub idempotency_rate: f64,
    /// Share of API payments created with `process: false`, then processed.
    pub deferred_rate: f64,
    pub api_concurrency: usize,
    pub seed: u64,
}

impl Plan {
    pub fn mixed(payments: usize, seed: u64) -> Plan {
        Plan {
            payments,
            api_share: 0.4,
            duplicate_rate: 0.05,
            clear_upstream: (payments / 100).min(10),
            poison: (payments / 125).min(8),
            wallet_rate: 0.05,
            idempotency_rate: 0.3,
            deferred_rate: 0.05,
            api_concurrency: 8,
            seed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Api,
    Queue,
}

/// One payment sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Known once the API answered, for API payments; chosen here for queue messages.
    pub id: Option<String>,
    pub route: Route,
    pub payment_type: PaymentType,
    pub account_id: u64,
    pub poison: bool,
    /// Its upstream message carried the card number in clear.
    pub clear: bool,
    /// Times its message was put on a queue (API: 0, the API queues online ones itself).
    pub copies: u32,
    pub merchant: Option<&'static str>,
    pub idempotency_key: Option<String>,
    pub replayed: bool,
    pub deferred: bool,
}

/// What the producer did.
pub struct Produced {
    pub sent: Vec<Sent>,
    pub secrets: Secrets,
    /// Every API response body, as received.
    pub responses: Vec<String>,
    /// Answers that were not what the API promises (each a failure of the test).
    pub problems: Vec<String>,
    /// Unix ms just before the first send.
    pub started: i64,
    pub elapsed: Duration,
    pub api_requests: usize,
    pub queue_messages: usize,
}

impl Produced {
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.sent.iter().filter_map(|s| s.id.as_deref())
    }
}

const CARD_BRANDS: [CardType; 7] = [
    CardType::Visa,
    CardType::Mastercard,
    CardType::Amex,
    CardType::Discover,
    CardType::Jcb,
    CardType::Diners,
    CardType::Unionpay,
];
const WALLETS: [CardType; 3] = [CardType::Paypal, CardType::ApplePay, CardType::GooglePay];
const MERCHANTS: [&str; 2] = ["alice", "bob"];
const DAY_MS: i64 = 86_400_000;

enum Instrument {
    Card {
        number: String,
        cvc: String,
        method: &'static str,
    },
    Wallet {
        provider: CardType,
        token: String,
    },
}

fn instrument(rng: &mut ChaCha8Rng, plan: &Plan, secrets: &mut Secrets) -> Instrument {
    if rng.random_bool(plan.wallet_rate) {
        let token: String = (0..24)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
            .collect();
        let token = format!("{TOKEN_PREFIX}{token}");
        secrets.tokens.insert(token.clone());
        return Instrument::Wallet {
            provider: WALLETS[rng.random_range(0..WALLETS.len())],
            token,
        };
    }
    let brand = CARD_BRANDS[rng.random_range(0..CARD_BRANDS.len())];
    let number = card_number(rng, brand)
        .map(|n| n.expose().to_owned())
        .unwrap_or_else(|| "4242424242424242".to_owned());
    let digits = if brand == CardType::Amex { 4 } else { 3 };
    let cvc: String = (0..digits)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    secrets.add_number(&number);
    secrets.cvcs.insert(cvc.clone());
    Instrument::Card {
        number,
        cvc,
        method: if rng.random_bool(0.7) {
            "credit_card"
        } else {
            "debit_card"
        },
    }
}

struct Draft {
    sent: Sent,
    body: Value,
}

fn place(rng: &mut ChaCha8Rng) -> (&'static str, &'static str) {
    COUNTRIES[rng.random_range(0..COUNTRIES.len())]
}

fn api_draft(rng: &mut ChaCha8Rng, plan: &Plan, secrets: &mut Secrets) -> Draft {
    let merchant = MERCHANTS[rng.random_range(0..MERCHANTS.len())];
    let payment_type = if rng.random_bool(0.5) {
        PaymentType::Online
    } else {
        PaymentType::Offline
    };
    let (country, currency) = place(rng);
    let account_id = rng.random_range(1..=500u64);
    let mut body = json!({
        "account_id": account_id,
        "amount": rng.random_range(1..200_000u64),
        "currency": currency,
        "payment_type": payment_type,
        "address": format!("{} Test Street", rng.random_range(1..200)),
        "country": country,
    });
    match instrument(rng, plan, secrets) {
        Instrument::Card {
            number,
            cvc,
            method,
        } => {
            body["method"] = json!(method);
            body["card"] = json!({"number": number, "exp_month": rng.random_range(1..=12), "exp_year": 2031, "cvc": cvc});
        }
        Instrument::Wallet { provider, token } => {
            body["method"] = json!("wallet");
            body["wallet"] = json!({"provider": provider.as_str(), "token": token});
        }
    }
    if rng.random_bool(0.2) {
        body["vendor"] = json!("Corner Kiosk");
    }
    let deferred = rng.random_bool(plan.deferred_rate);
    if deferred {
        body["process"] = json!(false);
    }
    let idempotency_key = rng
        .random_bool(plan.idempotency_rate)
        .then(|| format!("e2e-{}", uuid::Uuid::new_v4()));
    let replayed = idempotency_key.is_some() && rng.random_bool(1.0 / 3.0);
    Draft {
        sent: Sent {
            id: None,
            route: Route::Api,
            payment_type,
            account_id,
            poison: false,
            clear: false,
            copies: 0,
            merchant: Some(merchant),
            idempotency_key,
            replayed,
            deferred,
        },
        body,
    }
}

struct QueueKind {
    poison: bool,
    clear: bool,
}

fn queue_draft(
    rng: &mut ChaCha8Rng,
    plan: &Plan,
    kind: QueueKind,
    now: i64,
    stack: &Stack,
    secrets: &mut Secrets,
) -> Result<Draft, Error> {
    let id = PaymentId::new();
    let payment_type = if rng.random_bool(0.5) {
        PaymentType::Online
    } else {
        PaymentType::Offline
    };
    let (country, currency) = place(rng);
    let account_id = if kind.poison {
        900_000 + rng.random_range(0..1000u64)
    } else {
        rng.random_range(1..=500u64)
    };
    let mut body = json!({
        "payment_id": id.to_string(),
        "account_id": account_id,
        "payment_type": payment_type,
        "amount": rng.random_range(1..200_000u64),
        "currency": currency,
        "country": country,
        "vendor": "Upstream Shop",
        "address": format!("{} Queue Lane", rng.random_range(1..200)),
    });
    // Most upstream payments say when they happened (up to 20 days ago, so that accounts see
    // payments out of order); the rest are dated when stored.
    if rng.random_bool(0.7) {
        body["created_at"] = json!(now - rng.random_range(0..20 * DAY_MS));
    }
    let secret = match instrument(rng, plan, secrets) {
        Instrument::Card { number, method, .. } => {
            body["method"] = json!(method);
            body["card_type"] = json!("visa"); // never trusted: the brand comes from the number
            body["exp_month"] = json!(rng.random_range(1..=12));
            body["exp_year"] = json!(2030);
            number
        }
        Instrument::Wallet { provider, token } => {
            body["method"] = json!("wallet");
            body["card_type"] = json!(provider.as_str());
            token
        }
    };
    body["credit_card"] = if kind.clear {
        json!(secret)
    } else {
        json!(String::from(stack.cipher.seal_text(&secret, id)?))
    };
    Ok(Draft {
        sent: Sent {
            id: Some(id.to_string()),
            route: Route::Queue,
            payment_type,
            account_id,
            poison: kind.poison,
            clear: kind.clear,
            copies: 1,
            merchant: None,
            idempotency_key: None,
            replayed: false,
            deferred: false,
        },
        body,
    })
}

/// Merchant tokens, renewed well before their 30 s run out.
struct Tokens {
    tokens: tokio::sync::Mutex<HashMap<&'static str, (String, Instant)>>,
}

impl Tokens {
    async fn get(&self, api: &Api, merchant: &'static str) -> Result<String, Error> {
        let mut tokens = self.tokens.lock().await;
        if let Some((token, at)) = tokens.get(merchant)
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(token.clone());
        }
        let token = api.login(merchant).await?;
        tokens.insert(merchant, (token.clone(), Instant::now()));
        Ok(token)
    }
}

/// One HTTP answer as received.
struct Answer {
    status: u16,
    replayed: bool,
    text: String,
    body: Value,
}

async fn post(
    api: &Api,
    token: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> Result<Answer, Error> {
    let mut request = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(token)
        .timeout(Duration::from_secs(90));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        replayed,
        text,
        body,
    })
}

#[derive(Default)]
struct Log {
    responses: Vec<String>,
    problems: Vec<String>,
    requests: usize,
}

/// Sends one API payment (and its replay, and its processing); returns its id.
async fn send_api(
    api: &Api,
    tokens: &Tokens,
    draft: &Draft,
    log: &Mutex<Log>,
) -> Result<Option<String>, Error> {
    let sent = &draft.sent;
    let merchant = sent.merchant.unwrap_or("alice");
    let note = |answer: &Answer, problem: Option<String>| {
        let mut log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.requests += 1;
        log.responses.push(answer.text.clone());
        if let Some(problem) = problem {
            log.problems.push(problem);
        }
    };
    let (expected_status, expected_state) = match (sent.deferred, sent.payment_type) {
        (true, _) => (201, "created"),
        (false, PaymentType::Offline) => (201, "succeeded"),
        (false, PaymentType::Online) => (202, "pending"),
    };
    let token = tokens.get(api, merchant).await?;
    let key = sent.idempotency_key.as_deref();
    let first = post(api, &token, "/payments", key, Some(&draft.body)).await?;
    let id = first.body["id"].as_str().map(str::to_owned);
    let ok = first.status == expected_status && first.body["status"] == expected_state;
    note(
        &first,
        (!ok).then(|| {
            format!(
                "POST /payments ({:?}{}): {} {} (expected {expected_status} {expected_state})",
                sent.payment_type,
                if sent.deferred { ", process false" } else { "" },
                first.status,
                first.body["status"]
            )
        }),
    );
    let Some(id) = id.filter(|_| ok) else {
        return Ok(None);
    };
    if sent.replayed {
        let again = post(api, &token, "/payments", key, Some(&draft.body)).await?;
        let same = again.status == first.status && again.body["id"] == id.as_str();
        note(
            &again,
            (!same || !again.replayed).then(|| {
                format!(
                    "the replay of Idempotency-Key {key:?} answered {} {} (replayed: {}), not the first answer for {id}",
                    again.status, again.body["id"], again.replayed
                )
            }),
        );
    }
    if sent.deferred {
        let (status, state) = match sent.payment_type {
            PaymentType::Offline => (200, "succeeded"),
            PaymentType::Online => (202, "pending"),
        };
        let token = tokens.get(api, merchant).await?;
        let processed = post(api, &token, &format!("/payments/{id}/process"), None, None).await?;
        let ok = processed.status == status && processed.body["status"] == state;
        note(
            &processed,
            (!ok).then(|| {
                format!(
                    "POST /payments/{id}/process: {} {} (expected {status} {state})",
                    processed.status, processed.body["status"]
                )
            }),
        );
    }
    Ok(Some(id))
}

/// Puts every message on its queue (ten per SendMessageBatch), duplicates included, in a
/// shuffled order so that a duplicate may arrive before or long after its original.
async fn send_queue(stack: &Stack, drafts: &[Draft], rng: &mut ChaCha8Rng) -> Result<usize, Error> {
    let mut messages: Vec<(&str, String)> = Vec::new();
    for draft in drafts {
        let url = match draft.sent.payment_type {
            PaymentType::Online => stack.queues.online.as_str(),
            PaymentType::Offline => stack.queues.offline.as_str(),
        };
        let body = serde_json::to_string(&draft.body)?;
        for _ in 0..draft.sent.copies {
            messages.push((url, body.clone()));
        }
    }
    messages.shuffle(rng);
    let mut by_queue: HashMap<&str, Vec<String>> = HashMap::new();
    for (url, body) in messages {
        by_queue.entry(url).or_default().push(body);
    }
    let mut batches = Vec::new();
    for (url, bodies) in &by_queue {
        for chunk in bodies.chunks(10) {
            batches.push((*url, chunk));
        }
    }
    let total: usize = by_queue.values().map(Vec::len).sum();
    let results: Vec<Result<(), Error>> = futures::stream::iter(batches)
        .map(|(url, chunk)| async move {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = stack
                .sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await?;
            if output.failed().is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} messages not sent: {:?}",
                    output.failed().len(),
                    output.failed()
                )
                .into())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(total)
}

/// Sends the plan's payments: the API ones and the queue ones at the same time.
pub async fn produce(stack: &Stack, plan: &Plan) -> Result<Produced, Error> {
    let mut rng = crate::support::rng(plan.seed);
    let mut secrets = Secrets::default();
    let now = now_millis();
    let api_count = (plan.payments as f64 * plan.api_share).round() as usize;
    let queue_count = plan.payments - api_count;
    let api_drafts: Vec<Draft> = (0..api_count)
        .map(|_| api_draft(&mut rng, plan, &mut secrets))
        .collect();
    let mut queue_drafts = Vec::with_capacity(queue_count);
    for i in 0..queue_count {
        let kind = QueueKind {
            poison: i < plan.poison,
            clear: (plan.poison..plan.poison + plan.clear_upstream).contains(&i),
        };
        let mut draft = queue_draft(&mut rng, plan, kind, now, stack, &mut secrets)?;
        if rng.random_bool(plan.duplicate_rate) {
            draft.sent.copies = 2;
        }
        queue_drafts.push(draft);
    }

    let started = now_millis();
    let clock = Instant::now();
    let tokens = Tokens {
        tokens: tokio::sync::Mutex::new(HashMap::new()),
    };
    let log = Mutex::new(Log::default());
    let api_side = futures::stream::iter(&api_drafts)
        .map(|draft| send_api(&stack.api, &tokens, draft, &log))
        .buffered(plan.api_concurrency.max(1))
        .collect::<Vec<_>>();
    let mut queue_rng = crate::support::rng(plan.seed ^ 0x5eed);
    let queue_side = send_queue(stack, &queue_drafts, &mut queue_rng);
    let (api_ids, queue_messages) = tokio::join!(api_side, queue_side);
    let queue_messages = queue_messages?;
    let elapsed = clock.elapsed();

    let mut sent = Vec::with_capacity(plan.payments);
    for (draft, id) in api_drafts.into_iter().zip(api_ids) {
        let mut s = draft.sent;
        s.id = id?;
        sent.push(s);
    }
    sent.extend(queue_drafts.into_iter().map(|d| d.sent));
    let log = log
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Produced {
        sent,
        secrets,
        responses: log.responses,
        problems: log.problems,
        started,
        elapsed,
        api_requests: log.requests,
        queue_messages,
    })
}
