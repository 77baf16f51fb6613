//! The simulator's HTTP side: the gateway (`/payment`, `/refund`), the log service (`/log`,
//! `/logs`), the upstream payment stream (`/start`, see [`super::stream`]), and a view of what
//! it charged (`/charges`) and its behaviour (`/behaviour`) for tests. Card numbers it receives are reduced to their last four digits at once: they are
//! never stored, logged or answered.

use super::behaviour::{Behaviour, FailureKind};
use super::stream::{Stream, StreamTarget, get_start, post_start};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// What the gateway charged for one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    pub payment_id: String,
    pub amount: u64,
    /// Last four digits of the card, or empty.
    pub last4: String,
    /// Calls that reached the gateway for this payment (retries and duplicates included).
    pub attempts: u32,
    pub outcome: Outcome,
    /// Calls after the first success or decline, answered from the record, not charged again.
    pub duplicates: u32,
    pub refunded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Only transient failures so far.
    Pending,
    Succeeded,
    Declined,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRecord {
    pub refund_id: String,
    pub payment_id: String,
    pub amount: u64,
}

/// One entry the log service received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub payment_id: String,
    pub error_type: String,
    pub error_description: String,
}

#[derive(Debug, Default)]
struct Ledger {
    charges: HashMap<String, Charge>,
    refunds: HashMap<String, RefundRecord>,
    refund_attempts: HashMap<String, u32>,
    log_attempts: HashMap<String, u32>,
    logs: Vec<LogEntry>,
}

pub struct Simulator {
    behaviour: Mutex<Behaviour>,
    ledger: Mutex<Ledger>,
    stream: Stream,
}

type Shared = Arc<Simulator>;

impl Simulator {
    /// A simulator without queues (`/start` answers 503).
    pub fn new(behaviour: Behaviour) -> Shared {
        Self::with_stream(behaviour, StreamTarget::default())
    }

    /// A simulator whose `/start` emits into `target`'s queues.
    pub fn with_stream(behaviour: Behaviour, target: StreamTarget) -> Shared {
        Arc::new(Simulator {
            behaviour: Mutex::new(behaviour),
            ledger: Mutex::new(Ledger::default()),
            stream: Stream::new(target),
        })
    }

    /// The `/start` stream.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    fn behaviour(&self) -> Behaviour {
        self.behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every charge, by payment id.
    pub fn charges(&self) -> Vec<Charge> {
        let mut charges: Vec<Charge> = self.ledger().charges.values().cloned().collect();
        charges.sort_by(|a, b| a.payment_id.cmp(&b.payment_id));
        charges
    }

    pub fn logs(&self) -> Vec<LogEntry> {
        self.ledger().logs.clone()
    }
}

pub fn router(simulator: Shared) -> Router {
    Router::new()
        .route("/payment", post(payment))
        .route("/refund", post(refund))
        .route("/log", post(log))
        .route("/logs", get(logs))
        .route("/charges", get(charges))
        .route("/behaviour", get(get_behaviour).put(put_behaviour))
        .route("/start", get(get_start).post(post_start))
        .with_state(simulator)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

type Fields = serde_json::Map<String, Value>;

/// Reads a JSON object body; the caller answers a refusal with 400.
fn object(body: &Bytes) -> Result<Fields, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("the body must be a JSON object".to_owned()),
    }
}

fn text_field(map: &Fields, name: &str) -> Result<String, String> {
    match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("{name} is required")),
    }
}

fn amount_field(map: &Fields) -> Result<u64, String> {
    map.get("amount")
        .and_then(Value::as_u64)
        .filter(|a| *a > 0)
        .ok_or_else(|| "amount must be a positive integer".to_owned())
}

/// A transient failure as the client meets it.
async fn fail(kind: FailureKind, behaviour: &Behaviour) -> Response {
    match kind {
        FailureKind::ServerError => error(StatusCode::SERVICE_UNAVAILABLE, "try again"),
        FailureKind::Throttle => error(StatusCode::TOO_MANY_REQUESTS, "slow down"),
        FailureKind::Timeout | FailureKind::ChargedTimeout => {
            tokio::time::sleep(std::time::Duration::from_millis(behaviour.hang_ms)).await;
            error(StatusCode::GATEWAY_TIMEOUT, "timed out")
        }
        FailureKind::Reset | FailureKind::ChargedReset => {
            // The body fails before the head is flushed: hyper drops the connection and the
            // client sees it closed without a response.
            let broken = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::from(
                    std::io::ErrorKind::ConnectionReset,
                ))
            });
            Response::new(Body::from_stream(broken))
        }
    }
}

async fn payment(State(sim): State<Shared>, body: Bytes) -> Response {
    let parsed = object(&body)
        .and_then(|map| Ok((text_field(&map, "payment_id")?, amount_field(&map)?, map)));
    let (payment_id, amount, map) = match parsed {
        Ok(fields) => fields,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let last4: String = map
        .get("credit_card")
        .and_then(Value::as_str)
        .map(|n| n.chars().filter(char::is_ascii_digit).collect::<String>())
        .map(|digits| {
            digits
                .chars()
                .skip(digits.len().saturating_sub(4))
                .collect()
        })
        .unwrap_or_default();
    let behaviour = sim.behaviour();
    let attempt = {
        let mut ledger = sim.ledger();
        let charge = ledger
            .charges
            .entry(payment_id.clone())
            .or_insert_with(|| Charge {
                payment_id: payment_id.clone(),
                amount,
                last4,
                attempts: 0,
                outcome: Outcome::Pending,
                duplicates: 0,
                refunded: 0,
            });
        charge.attempts += 1;
        charge.attempts
    };
    tokio::time::sleep(behaviour.delay(&payment_id, attempt)).await;

    // A payment already decided is answered from the record: the gateway deduplicates on
    // payment_id, so a redelivered message is never charged twice. Deciding and recording
    // happen under one lock, so two concurrent calls cannot both charge.
    let already = |sim: &Simulator| {
        sim.ledger()
            .charges
            .get(&payment_id)
            .map(|c| c.outcome)
            .filter(|o| *o != Outcome::Pending)
    };
    let fresh = if behaviour.declines(&payment_id) {
        Outcome::Declined
    } else {
        Outcome::Succeeded
    };
    match behaviour.transient_failure(&payment_id, attempt) {
        // The gateway acts (charges, or answers a duplicate from its record) and the answer is
        // lost on the way back, whether or not the payment was decided before.
        Some(kind) if kind.acts_first() => {
            if let Some(charge) = sim.ledger().charges.get_mut(&payment_id) {
                if charge.outcome == Outcome::Pending {
                    charge.outcome = fresh;
                } else {
                    charge.duplicates += 1;
                }
            }
            return fail(kind, &behaviour).await;
        }
        Some(kind) if already(&sim).is_none() => return fail(kind, &behaviour).await,
        Some(_) | None => {}
    }
    let (outcome, duplicate) = {
        let mut ledger = sim.ledger();
        match ledger.charges.get_mut(&payment_id) {
            Some(charge) if charge.outcome != Outcome::Pending => {
                charge.duplicates += 1;
                (charge.outcome, true)
            }
            Some(charge) => {
                charge.outcome = fresh;
                (fresh, false)
            }
            None => (fresh, false),
        }
    };
    match outcome {
        Outcome::Declined => (
            StatusCode::PAYMENT_REQUIRED,
            Json(
                json!({"payment_id": payment_id, "status": "declined", "reason": "card declined"}),
            ),
        )
            .into_response(),
        _ => (
            StatusCode::OK,
            Json(json!({"payment_id": payment_id, "status": "succeeded", "duplicate": duplicate})),
        )
            .into_response(),
    }
}

async fn refund(State(sim): State<Shared>, body: Bytes) -> Response {
    let parsed = object(&body).and_then(|map| {
        Ok((
            text_field(&map, "payment_id")?,
            text_field(&map, "refund_id")?,
            amount_field(&map)?,
        ))
    });
    let (payment_id, refund_id, amount) = match parsed {
        Ok(fields) => fields,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let behaviour = sim.behaviour();
    let attempt = {
        let mut ledger = sim.ledger();
        let attempts = ledger.refund_attempts.entry(refund_id.clone()).or_insert(0);
        *attempts += 1;
        *attempts
    };
    tokio::time::sleep(behaviour.delay(&refund_id, attempt)).await;
    if sim.ledger().refunds.contains_key(&refund_id) {
        return (
            StatusCode::OK,
            Json(json!({"refund_id": refund_id, "status": "succeeded", "duplicate": true})),
        )
            .into_response();
    }
    if let Some(kind) = behaviour.transient_failure(&refund_id, attempt) {
        return fail(kind, &behaviour).await;
    }
    let mut ledger = sim.ledger();
    let Some(charge) = ledger.charges.get_mut(&payment_id) else {
        return error(StatusCode::NOT_FOUND, "no such payment");
    };
    if charge.outcome != Outcome::Succeeded {
        return error(StatusCode::CONFLICT, "the payment was not charged");
    }
    if charge.refunded.saturating_add(amount) > charge.amount {
        return error(StatusCode::CONFLICT, "the refund exceeds what is left");
    }
    charge.refunded += amount;
    ledger.refunds.insert(
        refund_id.clone(),
        RefundRecord {
            refund_id: refund_id.clone(),
            payment_id,
            amount,
        },
    );
    (
        StatusCode::OK,
        Json(json!({"refund_id": refund_id, "status": "succeeded", "duplicate": false})),
    )
        .into_response()
}

/// `{payment_id, error_type | error, error_description}`, as the upstream log service takes.
async fn log(State(sim): State<Shared>, body: Bytes) -> Response {
    let map = match object(&body) {
        Ok(map) => map,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let payment_id = map
        .get("payment_id")
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .unwrap_or_default();
    let Some(error_type) = map
        .get("error_type")
        .or_else(|| map.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(StatusCode::BAD_REQUEST, "error_type is required");
    };
    let error_description = map
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let behaviour = sim.behaviour();
    let key = format!("{payment_id}\u{1f}{error_type}\u{1f}{error_description}");
    let mut ledger = sim.ledger();
    let attempt = {
        let attempts = ledger.log_attempts.entry(key.clone()).or_insert(0);
        *attempts += 1;
        *attempts
    };
    if behaviour.log_fails(&key, attempt) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "log service unavailable");
    }
    ledger.logs.push(LogEntry {
        payment_id,
        error_type,
        error_description,
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn logs(State(sim): State<Shared>) -> Json<Vec<LogEntry>> {
    Json(sim.logs())
}

async fn charges(State(sim): State<Shared>) -> Json<Vec<Charge>> {
    Json(sim.charges())
}

async fn get_behaviour(State(sim): State<Shared>) -> Json<Behaviour> {
    Json(sim.behaviour())
}

/// Replaces the behaviour (tests turn failures on and off without a restart).
async fn put_behaviour(State(sim): State<Shared>, body: Bytes) -> Response {
    let behaviour: Behaviour = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if let Err(message) = behaviour.check() {
        return error(StatusCode::BAD_REQUEST, &message);
    }
    *sim.behaviour.lock().unwrap_or_else(PoisonError::into_inner) = behaviour.clone();
    Json(behaviour).into_response()
}
