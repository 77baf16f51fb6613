//! `/start`: the upstream payment stream (SPEC §4, §5), emitted into the online and offline
//! queues the way the upstream producers (wefox-compatible `/start`) do.
//!
//! `POST /start` with an optional `{count (1000), duration_seconds (90), seed}` plans `count`
//! payments, about half online and half offline, answers 202 with the planned counts at once,
//! and sends them evenly spread over `duration_seconds`; `GET /start` tells how far it got.
//! Message bodies: `{payment_id, account_id, payment_type, credit_card, amount, currency,
//! vendor, card_type, address, country, created_at}`, realistic data from the generator (a
//! Luhn-valid test card number of the brand `card_type` names). `created_at` is the time of the
//! send. Card numbers are never logged.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use payrail_shared::domain::{PaymentType, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::server::Simulator;
use crate::generator::data::{card_number, payments};

/// Most messages one `/start` may plan (they are planned in memory).
pub const MAX_COUNT: u64 = 100_000;
/// Longest emission.
pub const MAX_DURATION_SECONDS: f64 = 3_600.0;

/// Where the stream goes; without both queue URLs `/start` answers 503.
#[derive(Debug, Clone, Default)]
pub struct StreamTarget {
    pub sqs: Option<aws_sdk_sqs::Client>,
    pub online_queue_url: Option<String>,
    pub offline_queue_url: Option<String>,
}

/// `POST /start`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    #[serde(default = "default_count")]
    pub count: u64,
    #[serde(default = "default_duration")]
    pub duration_seconds: f64,
    pub seed: Option<u64>,
}

fn default_count() -> u64 {
    1_000
}

fn default_duration() -> f64 {
    90.0
}

/// What `GET /start` shows.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StreamStatus {
    pub running: bool,
    pub planned_online: u64,
    pub planned_offline: u64,
    pub emitted_online: u64,
    pub emitted_offline: u64,
    /// Sends that failed (logged; those payments were not emitted).
    pub failed: u64,
}

/// The stream's state, shared by the handlers and the emitting task.
#[derive(Debug, Default)]
pub struct Stream {
    target: StreamTarget,
    status: Mutex<StreamStatus>,
}

impl Stream {
    pub fn new(target: StreamTarget) -> Self {
        Self {
            target,
            status: Mutex::new(StreamStatus::default()),
        }
    }

    pub fn status(&self) -> StreamStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut StreamStatus)) {
        change(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// One planned message: its queue and its body without `created_at` (set when sent).
#[derive(Debug, Clone)]
pub struct Planned {
    pub payment_type: PaymentType,
    pub body: serde_json::Map<String, Value>,
}

/// `count` stream payments from `seed`: about half online, half offline, every one paid by
/// card (wallet payments have no card number, so the generator's are skipped).
pub fn plan(seed: u64, count: u64) -> Vec<Planned> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let now = Timestamp::from_millis(now_millis());
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    // The generator's fields (amount, currency, vendor, address, …) are realistic together;
    // it yields about 90 % card payments, so 2 × count + 100 draws are plenty.
    for payment in payments(
        seed,
        count.saturating_mul(2).saturating_add(100),
        1,
        now,
        // Messages carry the card itself: no fingerprint is needed.
        None,
    ) {
        if out.len() as u64 == count {
            break;
        }
        if payment.card_type.is_wallet() {
            continue;
        }
        let Some(number) = card_number(&mut rng, payment.card_type) else {
            continue;
        };
        let payment_type = if rng.random_bool(0.5) {
            PaymentType::Online
        } else {
            PaymentType::Offline
        };
        let body = json!({
            "payment_id": uuid::Uuid::new_v4().to_string(),
            "account_id": payment.account_id.get(),
            "payment_type": payment_type,
            "credit_card": number.expose(),
            "amount": payment.amount.get(),
            "currency": payment.currency.code(),
            "vendor": payment.vendor,
            "card_type": payment.card_type.as_str(),
            "address": payment.address,
            "country": payment.country.code(),
        });
        if let Value::Object(body) = body {
            out.push(Planned { payment_type, body });
        }
    }
    out
}

/// The wall clock in unix milliseconds: a stream payment is created when it is sent.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /start`.
pub async fn get_start(State(sim): State<Arc<Simulator>>) -> Json<StreamStatus> {
    Json(sim.stream().status())
}

/// `POST /start`.
pub async fn post_start(State(sim): State<Arc<Simulator>>, body: axum::body::Bytes) -> Response {
    let request: StartRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StartRequest {
            count: default_count(),
            duration_seconds: default_duration(),
            seed: None,
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return problem(StatusCode::BAD_REQUEST, "Malformed body", &e.to_string());
            }
        }
    };
    if !(1..=MAX_COUNT).contains(&request.count)
        || !(0.0..=MAX_DURATION_SECONDS).contains(&request.duration_seconds)
    {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid stream",
            &format!("count is 1..={MAX_COUNT}, duration_seconds 0..={MAX_DURATION_SECONDS}"),
        );
    }
    let stream = sim.stream();
    let target = &stream.target;
    let (Some(sqs), Some(online), Some(offline)) = (
        target.sqs.clone(),
        target.online_queue_url.clone(),
        target.offline_queue_url.clone(),
    ) else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "No queues",
            "start the simulator with --online-queue-url and --offline-queue-url \
             (or ONLINE_QUEUE_URL and OFFLINE_QUEUE_URL)",
        );
    };
    let seed = request.seed.unwrap_or_else(|| rand::rng().random());
    let planned = plan(seed, request.count);
    let online_count = planned
        .iter()
        .filter(|p| p.payment_type == PaymentType::Online)
        .count() as u64;
    let offline_count = planned.len() as u64 - online_count;
    {
        let mut status = stream.status.lock().unwrap_or_else(PoisonError::into_inner);
        if status.running {
            return problem(
                StatusCode::CONFLICT,
                "Stream running",
                "a stream is being emitted; GET /start shows its progress",
            );
        }
        *status = StreamStatus {
            running: true,
            planned_online: online_count,
            planned_offline: offline_count,
            ..StreamStatus::default()
        };
    }
    tracing::info!(
        online = online_count,
        offline = offline_count,
        seconds = request.duration_seconds,
        seed,
        "stream started"
    );
    let queues = Queues {
        sqs,
        online,
        offline,
    };
    tokio::spawn(emit(
        sim.clone(),
        queues,
        planned,
        Duration::from_secs_f64(request.duration_seconds),
    ));
    (
        StatusCode::ACCEPTED,
        Json(json!({ "online": online_count, "offline": offline_count })),
    )
        .into_response()
}

struct Queues {
    sqs: aws_sdk_sqs::Client,
    online: String,
    offline: String,
}

/// Sends the planned messages, message i at `duration × i / count` after the start.
async fn emit(sim: Arc<Simulator>, queues: Queues, planned: Vec<Planned>, duration: Duration) {
    let started = tokio::time::Instant::now();
    let count = planned.len().max(1) as f64;
    for (i, message) in planned.into_iter().enumerate() {
        tokio::time::sleep_until(started + duration.mul_f64(i as f64 / count)).await;
        let mut body = message.body;
        body.insert("created_at".into(), now_millis().into());
        let (url, online) = match message.payment_type {
            PaymentType::Online => (&queues.online, true),
            PaymentType::Offline => (&queues.offline, false),
        };
        let sent = queues
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(Value::Object(body).to_string())
            .send()
            .await;
        let stream = sim.stream();
        match sent {
            Ok(_) => stream.update(|s| {
                if online {
                    s.emitted_online += 1;
                } else {
                    s.emitted_offline += 1;
                }
            }),
            Err(e) => {
                tracing::warn!(
                    queue_url = %url,
                    "sending a stream payment failed: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                );
                stream.update(|s| s.failed += 1);
            }
        }
    }
    let status = sim.stream().status();
    tracing::info!(?status, "stream done");
    sim.stream().update(|s| s.running = false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use payrail_shared::domain::CardNumber;

    #[test]
    fn a_plan_is_about_half_online_with_valid_cards_of_the_named_brand() -> anyhow::Result<()> {
        let planned = plan(7, 400);
        assert_eq!(planned.len(), 400);
        let online = planned
            .iter()
            .filter(|p| p.payment_type == PaymentType::Online)
            .count();
        assert!((150..=250).contains(&online), "{online} online of 400");
        for p in &planned {
            let number = p.body["credit_card"].as_str().unwrap_or_default();
            let card = CardNumber::parse(number).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            assert_eq!(card.brand().as_str(), p.body["card_type"]);
            assert!(p.body["amount"].as_u64().is_some_and(|a| a > 0));
            assert!((1..=500).contains(&p.body["account_id"].as_u64().unwrap_or_default()));
            assert_eq!(
                p.body["payment_type"],
                serde_json::to_value(p.payment_type)?
            );
        }
        Ok(())
    }

    #[test]
    fn the_same_seed_plans_the_same_stream_apart_from_ids() {
        let strip = |p: &Planned| {
            let mut body = p.body.clone();
            body.remove("payment_id");
            body
        };
        let a: Vec<_> = plan(3, 50).iter().map(strip).collect();
        let b: Vec<_> = plan(3, 50).iter().map(strip).collect();
        assert_eq!(a, b);
    }
}
