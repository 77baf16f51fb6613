//! Nothing lost, nothing duplicated across emulator restarts. A stream of payments (online and
//! offline through POST /payments, and upstream messages straight into the online and offline
//! queues) is running when the SQS emulator, or the local DynamoDB, is stopped; production goes on
//! (the API answers 503 problem+json meanwhile and the client retries with its Idempotency-Key;
//! the upstream producer retries its sends); the emulator is started again on its port. After
//! recovery every payment is final, once: one item per payment, aggregates equal to a recount,
//! one charge per online payment at the gateway.
//!
//! moto loses every message it holds when it stops, which a real SQS never does. What the
//! platform must recover by itself it does: the reconciler re-sends the message of a payment
//! stored `pending`. An upstream message lost before any consumer stored its payment is the
//! producer's to re-send (it never got the payment confirmed), so this test's producer re-sends
//! the messages whose payment is not in the table after recovery (docs/design.md).
//!
//! Runs only in a stack of its own: `PAYRAIL_FAULT_STACK=1 infra/local/test-env.sh cargo test
//! -p payrail-tests --test stream_faults` (`make test` does this after the main run).

mod support;

use futures::StreamExt;
use payrail_shared::domain::{CardType, PaymentId, PaymentStatus, PaymentType};
use payrail_shared::store::{PaymentItem, keys};
use rand::Rng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::TestResult;
use support::api::Error;
use support::faults::{Answers, Emulator, FaultStack};
use tokio::time::Instant;

/// The two tests share one stack: they take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Payments per run, a quarter of each kind.
const PAYMENTS: usize = 160;
/// Over how long each producer spreads its payments.
const STREAM: Duration = Duration::from_secs(20);
/// How long the emulator stays down (its restart adds a few seconds).
const OUTAGE: Duration = Duration::from_secs(6);
/// Longest one payment may take to be accepted: a key locked by a request that died with
/// DynamoDB stays locked for a minute (payments::idempotency::LOCK_MS).
const ACCEPT_WITHIN: Duration = Duration::from_secs(150);
/// Longest the recovery may take once production is over.
const RECOVER_WITHIN: Duration = Duration::from_secs(180);
/// How often the upstream producer re-sends what it never saw stored.
const RESEND_EVERY: Duration = Duration::from_secs(10);

#[tokio::test]
async fn an_sqs_restart_mid_stream_loses_nothing_and_duplicates_nothing() -> TestResult {
    let Some(stack) = FaultStack::from_env().await? else {
        return Ok(());
    };
    let _turn = TURN.lock().await;
    survives(&stack, Emulator::Sqs, 101).await
}

#[tokio::test]
async fn a_dynamodb_restart_mid_stream_loses_nothing_and_duplicates_nothing() -> TestResult {
    let Some(stack) = FaultStack::from_env().await? else {
        return Ok(());
    };
    let _turn = TURN.lock().await;
    survives(&stack, Emulator::DynamoDb, 202).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Api,
    Upstream,
}

/// One payment of the stream; its address is unique in the run and names it in the table.
struct Planned {
    route: Route,
    payment_type: PaymentType,
    address: String,
    account_id: u64,
    amount: u64,
    /// The API request body, or the upstream message.
    body: Value,
    /// Upstream: the producer's payment id.
    id: Option<PaymentId>,
}

/// What producing one payment gave: its id once accepted, and the retries it took.
struct Produced {
    id: String,
    answers: Answers,
    send_failures: u32,
}

fn plan(stack: &FaultStack, run: &str, seed: u64) -> Result<Vec<Planned>, Error> {
    let mut rng = support::rng(seed);
    let brands = [
        CardType::Visa,
        CardType::Mastercard,
        CardType::Amex,
        CardType::Discover,
    ];
    let mut plan = Vec::with_capacity(PAYMENTS);
    for i in 0..PAYMENTS {
        let route = if i % 2 == 0 {
            Route::Api
        } else {
            Route::Upstream
        };
        let payment_type = if i % 4 < 2 {
            PaymentType::Online
        } else {
            PaymentType::Offline
        };
        let (country, currency) = support::COUNTRIES[rng.random_range(0..4)];
        let brand = brands[rng.random_range(0..brands.len())];
        let number = support::card_number(&mut rng, brand).ok_or("no card number")?;
        let account_id = rng.random_range(1..=500u64);
        let amount = rng.random_range(100..50_000u64);
        let address = format!("{i} Fault Street, {run}");
        let kind = match payment_type {
            PaymentType::Online => "online",
            PaymentType::Offline => "offline",
        };
        let (body, id) = match route {
            Route::Api => (
                json!({
                    "account_id": account_id, "amount": amount, "currency": currency,
                    "payment_type": kind, "method": "credit_card",
                    "card": {"number": number.expose(), "exp_month": 12, "exp_year": 2034,
                             "cvc": if brand == CardType::Amex { "1234" } else { "123" }},
                    "address": address, "country": country, "vendor": run,
                }),
                None,
            ),
            Route::Upstream => {
                let id = PaymentId::new();
                let sealed = stack.cipher.seal(&number, id)?;
                let message = json!({
                    "payment_id": id.to_string(), "account_id": account_id,
                    "payment_type": kind, "credit_card": sealed.as_str(), "amount": amount,
                    "currency": currency, "vendor": run, "address": address,
                    "country": country, "exp_month": 12, "exp_year": 2034,
                });
                (message, Some(id))
            }
        };
        plan.push(Planned {
            route,
            payment_type,
            address,
            account_id,
            amount,
            body,
            id,
        });
    }
    Ok(plan)
}

impl Planned {
    fn queue<'a>(&self, stack: &'a FaultStack) -> &'a str {
        match self.payment_type {
            PaymentType::Online => &stack.online_queue,
            PaymentType::Offline => &stack.offline_queue,
        }
    }

    async fn produce(&self, stack: &FaultStack, key: &str) -> Result<Produced, Error> {
        let deadline = Instant::now() + ACCEPT_WITHIN;
        match (self.route, self.id) {
            (Route::Api, _) => {
                let (accepted, answers) = stack
                    .create_until_accepted(&self.body, key, deadline)
                    .await?;
                let id = accepted["id"]
                    .as_str()
                    .ok_or_else(|| format!("no id in {accepted}"))?
                    .to_owned();
                let expected = match self.payment_type {
                    PaymentType::Online => "pending",
                    PaymentType::Offline => "succeeded",
                };
                // A replay or a retry that found the payment already processed may be further on.
                let status = accepted["status"].as_str().unwrap_or_default();
                if status != expected && status != "succeeded" {
                    return Err(format!("{key}: accepted as {status}: {accepted}").into());
                }
                Ok(Produced {
                    id,
                    answers,
                    send_failures: 0,
                })
            }
            (Route::Upstream, Some(id)) => {
                let send_failures = stack
                    .send_until_confirmed(self.queue(stack), &self.body.to_string(), deadline)
                    .await?;
                Ok(Produced {
                    id: id.to_string(),
                    answers: Answers::default(),
                    send_failures,
                })
            }
            (Route::Upstream, None) => Err("an upstream payment without an id".into()),
        }
    }
}

/// Payments produced so far, per route.
#[derive(Default)]
struct Progress {
    api: AtomicUsize,
    upstream: AtomicUsize,
}

impl Progress {
    fn of(&self, route: Route) -> &AtomicUsize {
        match route {
            Route::Api => &self.api,
            Route::Upstream => &self.upstream,
        }
    }

    /// The fewer of the two routes' counts: the fault must hit both routes mid-stream (the
    /// API's first requests wait for its functions' cold start).
    fn both(&self) -> usize {
        self.api
            .load(Ordering::SeqCst)
            .min(self.upstream.load(Ordering::SeqCst))
    }

    fn total(&self) -> usize {
        self.api.load(Ordering::SeqCst) + self.upstream.load(Ordering::SeqCst)
    }
}

/// Produces the whole plan, each route at an even pace over [`STREAM`], a few at a time.
async fn produce_all(
    stack: &FaultStack,
    plan: &[Planned],
    run: &str,
    done: &Progress,
) -> Vec<Result<Produced, Error>> {
    let start = Instant::now();
    let per_route = (plan.len() / 2).max(1) as u32;
    let interval = STREAM / per_route;
    let route = |route: Route| {
        let items: Vec<(usize, &Planned)> = plan
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.route == route)
            .collect();
        futures::stream::iter(items.into_iter().enumerate())
            .map(move |(k, (i, planned))| async move {
                tokio::time::sleep_until(start + interval * k as u32).await;
                let produced = planned.produce(stack, &format!("{run}-{i}")).await;
                done.of(route).fetch_add(1, Ordering::SeqCst);
                (i, produced)
            })
            .buffer_unordered(4)
            .collect::<Vec<_>>()
    };
    let (api, upstream) = tokio::join!(route(Route::Api), route(Route::Upstream));
    let mut all: Vec<(usize, Result<Produced, Error>)> = api.into_iter().chain(upstream).collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Waits until both routes have produced `count` payments.
async fn reached(done: &Progress, count: usize) -> Result<(), Error> {
    let deadline = Instant::now() + STREAM * 4;
    while done.both() < count {
        if Instant::now() > deadline {
            return Err(format!("the stream never reached {count} payments per route").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Once a third of the stream is produced on each route: stop the emulator, keep it down for [`OUTAGE`]
/// while production goes on, start it again. Before an SQS restart, the gateway fails for a
/// few seconds, so that messages surely sit in moto when it stops (waiting out the validator's
/// retry delay), as they would in a busy queue: their payments, stored `pending`, are the
/// reconciler's to recover.
async fn fault(
    stack: &FaultStack,
    emulator: Emulator,
    done: &Progress,
    per_route: usize,
) -> Result<(), Error> {
    reached(done, per_route / 5).await?;
    let normal = stack.behaviour().await?;
    if emulator == Emulator::Sqs {
        let mut failing = normal.clone();
        failing["failure_rate"] = json!(1.0);
        failing["failures"] = json!(["server-error"]);
        stack.set_behaviour(&failing).await?;
    }
    reached(done, per_route / 3).await?;
    let stopped = Instant::now();
    stack.stop(emulator).await?;
    eprintln!(
        "{}: stopped after {} payments",
        emulator.name(),
        done.total()
    );
    // The outage itself: a duration, not a condition to await.
    tokio::time::sleep(OUTAGE).await;
    stack.start(emulator).await?;
    eprintln!(
        "{}: answering again {:.1} s after the stop, at {} payments",
        emulator.name(),
        stopped.elapsed().as_secs_f64(),
        done.total()
    );
    stack.set_behaviour(&normal).await
}

/// How many of `ids` the reconciler re-sent, as the log service heard it; waits up to `wait`
/// for a first one (the log queue's consumer delivers reports a little after they are made).
async fn reconciler_resends(
    stack: &FaultStack,
    ids: &HashSet<String>,
    wait: Duration,
) -> Result<usize, Error> {
    let deadline = Instant::now() + wait;
    loop {
        let resent = stack
            .logs()
            .await?
            .iter()
            .filter(|e| {
                e["payment_id"].as_str().is_some_and(|id| ids.contains(id))
                    && e["error_description"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("reconciler:") && d.contains("re-sent"))
            })
            .count();
        if resent > 0 || Instant::now() > deadline {
            return Ok(resent);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn is_final(status: PaymentStatus) -> bool {
    !matches!(status, PaymentStatus::Created | PaymentStatus::Pending)
}

/// The run's payment items by address.
fn by_address<'a>(items: &'a [PaymentItem], run: &str) -> HashMap<&'a str, Vec<&'a PaymentItem>> {
    let mut map: HashMap<&str, Vec<&PaymentItem>> = HashMap::new();
    for item in items.iter().filter(|i| i.payment.vendor == run) {
        map.entry(item.payment.address.as_str())
            .or_default()
            .push(item);
    }
    map
}

/// Polls until every planned payment is stored and final, re-sending (as the upstream producer
/// would) the upstream messages whose payment is still not in the table. Returns every payment
/// item of the table and how many messages were re-sent.
async fn recover(
    stack: &FaultStack,
    plan: &[Planned],
    run: &str,
) -> Result<(Vec<PaymentItem>, usize), Error> {
    let deadline = Instant::now() + RECOVER_WITHIN;
    let mut last_resend = Instant::now();
    let mut resent = 0;
    loop {
        let items = stack.payments().await?;
        let stored = by_address(&items, run);
        let missing: Vec<&Planned> = plan
            .iter()
            .filter(|p| !stored.contains_key(p.address.as_str()))
            .collect();
        let unfinished = stored
            .values()
            .flatten()
            .filter(|i| !is_final(i.payment.status))
            .count();
        if missing.is_empty() && unfinished == 0 {
            return Ok((items, resent));
        }
        if Instant::now() > deadline {
            let lost: Vec<String> = missing
                .iter()
                .map(|p| format!("{:?} {:?} {}", p.route, p.payment_type, p.address))
                .collect();
            return Err(format!(
                "not recovered in {RECOVER_WITHIN:?}: {unfinished} not final, missing {lost:?}"
            )
            .into());
        }
        if last_resend.elapsed() >= RESEND_EVERY {
            for planned in missing.iter().filter(|p| p.route == Route::Upstream) {
                let deadline = Instant::now() + Duration::from_secs(10);
                stack
                    .send_until_confirmed(planned.queue(stack), &planned.body.to_string(), deadline)
                    .await?;
                resent += 1;
            }
            last_resend = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The aggregate counters a recount of the completed payments gives.
fn recount(items: &[PaymentItem]) -> BTreeMap<(String, String), BTreeMap<String, u64>> {
    let mut out: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for p in items.iter().map(|i| &i.payment) {
        if !p.status.is_completed() {
            continue;
        }
        let key = (
            keys::aggregate_pk(p.card_type),
            p.created_at.day().to_string(),
        );
        let counts = out.entry(key).or_default();
        *counts.entry(keys::attr::COUNT.to_owned()).or_default() += 1;
        *counts
            .entry(keys::country_count_attr(p.country))
            .or_default() += 1;
    }
    out
}

async fn survives(stack: &FaultStack, emulator: Emulator, seed: u64) -> TestResult {
    let run = format!(
        "faults-{}-{}",
        emulator.name(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let plan = plan(stack, &run, seed)?;
    let done = Progress::default();
    let (produced, faulted) = tokio::join!(
        produce_all(stack, &plan, &run, &done),
        fault(stack, emulator, &done, plan.len() / 2)
    );
    faulted?;
    let produced: Vec<Produced> = produced.into_iter().collect::<Result<_, _>>()?;

    let statuses: Vec<u16> = produced
        .iter()
        .flat_map(|p| p.answers.statuses.iter().copied())
        .collect();
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    let send_failures: u32 = produced.iter().map(|p| p.send_failures).sum();
    eprintln!(
        "{run}: while {} was down the API answered 503 x{}, 409 x{}, 500 x{}; upstream sends \
         retried x{send_failures}",
        emulator.name(),
        count(503),
        count(409),
        count(500)
    );
    // The outage was seen, and seen as a dependency being unavailable, never as a fault of ours.
    assert!(
        count(503) > 0,
        "the API never answered 503 while {} was down",
        emulator.name()
    );
    assert_eq!(count(500), 0, "the API answered 500: {statuses:?}");

    let (items, resent) = recover(stack, &plan, &run).await?;
    let ids: HashSet<String> = produced.iter().map(|p| p.id.clone()).collect();
    let wait = match emulator {
        Emulator::Sqs => Duration::from_secs(60),
        Emulator::DynamoDb => Duration::ZERO,
    };
    let reconciled = reconciler_resends(stack, &ids, wait).await?;
    eprintln!(
        "{run}: recovered; the reconciler re-sent {reconciled} payments' messages, the producer \
         {resent} upstream messages; {} messages rest in the dead-letter queues",
        stack.dead_letters().await?
    );
    if emulator == Emulator::Sqs {
        // Messages were lost with moto (see `fault`): their payments came back through the
        // reconciler.
        assert!(
            reconciled > 0,
            "the reconciler re-sent nothing after the SQS restart"
        );
    }

    // Nothing lost, nothing duplicated: exactly one item per planned payment, under the id its
    // producer was given, final, as sent.
    let stored = by_address(&items, &run);
    assert_eq!(stored.len(), plan.len(), "payments of the run in the table");
    for (planned, produced) in plan.iter().zip(&produced) {
        let found = stored.get(planned.address.as_str()).map(Vec::as_slice);
        let [item] = found.unwrap_or_default() else {
            return Err(
                format!("{}: {} items", planned.address, found.map_or(0, <[_]>::len)).into(),
            );
        };
        let p = &item.payment;
        assert_eq!(p.id.to_string(), produced.id, "{}", planned.address);
        assert_eq!(
            p.status,
            PaymentStatus::Succeeded,
            "{}: {p:?}",
            planned.address
        );
        assert_eq!(p.payment_type, planned.payment_type, "{}", planned.address);
        assert_eq!(
            (p.account_id.get(), p.amount.get()),
            (planned.account_id, planned.amount)
        );
        assert!(
            item.card_sealed.is_none(),
            "{}: card kept on a final payment",
            p.id
        );
        assert!(
            item.pending.is_none(),
            "{}: still in the pending index",
            p.id
        );
        if planned.route == Route::Api {
            assert_eq!(p.merchant.as_deref(), Some(stack.merchant_id.as_str()));
        }
    }

    // Counters agree with the payments (the whole table: both runs, and anything else stored).
    assert_eq!(
        stack.aggregates().await?,
        recount(&items),
        "aggregates differ from a recount"
    );

    // One charge per online payment, none for offline ones, none for a payment not stored.
    let charges = stack.charges().await?;
    let stored_ids: HashSet<String> = items.iter().map(|i| i.payment.id.to_string()).collect();
    let mut charged: HashMap<&str, &Value> = HashMap::new();
    for charge in &charges {
        let id = charge["payment_id"].as_str().unwrap_or_default();
        assert!(
            stored_ids.contains(id),
            "a charge for {id}, which is not stored: {charge}"
        );
        assert!(
            charged.insert(id, charge).is_none(),
            "two ledger entries for {id}"
        );
    }
    for item in stored.values().flatten() {
        let p = &item.payment;
        let charge = charged.get(p.id.to_string().as_str());
        match p.payment_type {
            PaymentType::Online => {
                let charge = charge.ok_or_else(|| format!("{} was never charged", p.id))?;
                assert_eq!(charge["outcome"], "succeeded", "{charge}");
                assert_eq!(charge["amount"], p.amount.get(), "{charge}");
            }
            PaymentType::Offline => assert!(charge.is_none(), "offline {} was charged", p.id),
        }
    }
    Ok(())
}
