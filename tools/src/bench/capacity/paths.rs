//! The paths measured: each run one at a time, its units read off the meter when it is done.

use super::api::{self, ApiCall, answer, id_of};
use super::{CapacityMeter, PathRow, Tally};
use crate::bench::BenchResult;
use crate::bench::payments_api::payment_body;
use crate::local::sqs::event::build_event;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::cards::CardCipher;
use payrail_shared::domain::{PaymentId, SystemClock};
use payrail_shared::gateway::{GatewayClient, Timeouts};
use payrail_shared::http::cursor::CursorKey;
use payrail_shared::http::payments::{
    CreateEndpoint, IDEMPOTENCY_KEY, create_payment as create, get_payment,
};
use payrail_shared::http::refunds::{RefundEndpoint, create_refund};
use payrail_shared::http::transactions::{Reports, count_transactions, list_transactions};
use payrail_shared::logservice::SqsErrorReporter;
use payrail_shared::payments::{DynamoIdempotency, Payments};
use payrail_shared::queue::SqsQueue;
use payrail_shared::refunds::{DynamoRefunds, Refunds};
use payrail_shared::reports::DynamoReports;
use payrail_shared::secrets::SecretValue;
use payrail_shared::store::payments::DynamoPayments;
use payrail_shared::stream::{Redelivery, Validator};
use payrail_shared::users::MerchantRegistry;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the functions' mains read from their environment, and the (metered) client.
#[derive(Debug, Clone)]
pub struct Wiring {
    pub client: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub transactions_table: String,
    pub accounts_table: String,
    pub users_table: String,
    pub online_queue_url: String,
    pub log_queue_url: String,
    pub gateway_url: String,
    /// CARD_DATA_KEY's value.
    pub card_secret: SecretValue,
}

/// The API functions' handlers' dependencies, as their mains build them.
pub struct Api {
    /// payments-create.
    pub create: CreateEndpoint<SqsQueue, CardCipher>,
    /// payments-get.
    pub payments: DynamoPayments,
    /// refunds-create (the refund message is not delayed: the bench reads it at once).
    pub refunds: RefundEndpoint<SqsQueue>,
    /// transactions-list and transactions-count.
    pub reports: Reports<DynamoReports>,
}

impl Wiring {
    fn payments_store(&self) -> DynamoPayments {
        let accounts = DynamoAccounts::new(self.client.clone(), &self.accounts_table);
        DynamoPayments::new(self.client.clone(), &self.transactions_table, accounts)
    }

    fn cards(&self) -> BenchResult<CardCipher> {
        Ok(CardCipher::from_secrets(&self.card_secret, &[])?)
    }

    fn online_queue(&self) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), &self.online_queue_url)
    }

    fn gateway(&self) -> BenchResult<GatewayClient> {
        Ok(GatewayClient::new(&self.gateway_url, Timeouts::DEFAULT)?)
    }

    pub fn api(&self) -> BenchResult<Api> {
        let cards = self.cards()?;
        let digest_key = cards.request_digest_key();
        let reporter = SqsErrorReporter::new(self.sqs.clone(), &self.log_queue_url);
        Ok(Api {
            create: CreateEndpoint {
                payments: Payments {
                    store: self.payments_store(),
                    online: self.online_queue(),
                    fingerprint_key: cards.fingerprint_key(),
                    cards,
                    clock: Arc::new(SystemClock),
                },
                idempotency: DynamoIdempotency::new(self.client.clone(), &self.transactions_table),
                digest_key,
            },
            payments: self.payments_store(),
            refunds: RefundEndpoint {
                refunds: Refunds {
                    store: DynamoRefunds::new(self.client.clone(), &self.transactions_table),
                    gateway: self.gateway()?,
                    online: self.online_queue(),
                    reporter: Arc::new(reporter),
                    clock: Arc::new(SystemClock),
                    completion_delay: Duration::ZERO,
                },
                idempotency: DynamoIdempotency::new(self.client.clone(), &self.transactions_table),
            },
            reports: Reports {
                store: DynamoReports::new(self.client.clone(), &self.transactions_table),
                clock: Arc::new(SystemClock),
                cursor_key: CursorKey::new(self.card_secret.expose().to_vec())?,
            },
        })
    }

    /// The validator, as its main builds it (the template's maxReceiveCount, 5).
    pub fn validator(&self) -> BenchResult<Validator<CardCipher>> {
        let cards = self.cards()?;
        Ok(Validator {
            store: self.payments_store(),
            owners: MerchantRegistry::new(self.client.clone(), &self.users_table),
            gateway: self.gateway()?,
            fingerprint_key: cards.fingerprint_key(),
            cards,
            reporter: Arc::new(SqsErrorReporter::new(self.sqs.clone(), &self.log_queue_url)),
            redelivery: Redelivery::new(self.sqs.clone(), &self.online_queue_url, 5),
            clock: Arc::new(SystemClock),
        })
    }
}

/// POST /payments as the demo merchant; the new payment's id.
pub async fn create_payment(
    api: &Api,
    body: &Value,
    idempotency_key: Option<&str>,
    expected: u16,
) -> BenchResult<String> {
    let mut call = ApiCall::post("/payments", Some(body.clone()));
    if let Some(key) = idempotency_key {
        call = call.header(IDEMPOTENCY_KEY, key);
    }
    let response = create(&api.create, call.request(&api::merchant())?).await;
    id_of(&answer(&response, expected, "POST /payments")?)
}

/// `count` payments of `payment_type` (to accounts 1..=500, as the stack seeds them), each
/// with an Idempotency-Key of its own when `idempotent`; their ids.
async fn create_many(
    api: &Api,
    rng: &mut ChaCha8Rng,
    payment_type: &str,
    count: usize,
    idempotent: bool,
) -> BenchResult<Vec<String>> {
    let expected = if payment_type == "online" { 202 } else { 201 };
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let account_id = rng.random_range(1..=500u64);
        let body = payment_body(rng, payment_type, account_id)?;
        let key = idempotent.then(|| uuid::Uuid::new_v4().to_string());
        ids.push(create_payment(api, &body, key.as_deref(), expected).await?);
    }
    Ok(ids)
}

/// A queue of the bench's own in the stack's SQS.
#[derive(Debug, Clone)]
pub struct BenchQueue {
    pub url: String,
    pub arn: String,
}

/// The online queue the API and the validator use here, and the log queue errors go to.
#[derive(Debug, Clone)]
pub struct BenchQueues {
    pub online: BenchQueue,
    pub log: BenchQueue,
}

impl BenchQueues {
    pub async fn create(sqs: &aws_sdk_sqs::Client) -> BenchResult<Self> {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        Ok(BenchQueues {
            online: queue(sqs, &format!("capacity-online-{suffix}")).await?,
            log: queue(sqs, &format!("capacity-log-{suffix}")).await?,
        })
    }

    pub async fn delete(&self, sqs: &aws_sdk_sqs::Client) {
        for queue in [&self.online, &self.log] {
            if let Err(err) = sqs.delete_queue().queue_url(&queue.url).send().await {
                eprintln!("bench capacity: could not delete {}: {err}", queue.url);
            }
        }
    }
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> BenchResult<BenchQueue> {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "180")
        .send()
        .await?
        .queue_url
        .ok_or("no queue URL")?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("no queue ARN")?;
    Ok(BenchQueue { url, arn })
}

/// One measurement run over every path.
pub struct Run<'a> {
    pub wiring: &'a Wiring,
    pub meter: &'a CapacityMeter,
    /// For the bench's own reads (final statuses), which must not be counted.
    pub unmetered: aws_sdk_dynamodb::Client,
    pub queues: &'a BenchQueues,
    pub count: usize,
}

fn row(name: impl Into<String>, runs: usize, tally: Tally) -> PathRow {
    PathRow {
        name: name.into(),
        runs: runs as u64,
        tally,
    }
}

impl Run<'_> {
    pub async fn all(&self, rng: &mut ChaCha8Rng) -> BenchResult<Vec<PathRow>> {
        let api = self.wiring.api()?;
        let n = self.count;
        let mut rows = Vec::new();
        self.meter.take();

        let offline = create_many(&api, rng, "offline", n, false).await?;
        rows.push(row(
            "POST /payments offline → succeeded",
            n,
            self.meter.take(),
        ));
        create_many(&api, rng, "offline", n, true).await?;
        rows.push(row(
            "POST /payments offline, with Idempotency-Key",
            n,
            self.meter.take(),
        ));
        let online = create_many(&api, rng, "online", n, false).await?;
        rows.push(row(
            "POST /payments online → pending (+ SQS send)",
            n,
            self.meter.take(),
        ));

        let handled = self.validate(n).await?;
        let mut by_status: BTreeMap<&str, (usize, Tally)> = BTreeMap::new();
        for message in &handled {
            let entry = by_status.entry(message.status.as_str()).or_default();
            entry.0 += 1;
            entry.1.merge(&message.tally);
        }
        for (status, (runs, tally)) in by_status {
            rows.push(row(format!("validator: pending → {status}"), runs, tally));
        }
        let succeeded: Vec<&str> = handled
            .iter()
            .filter(|m| m.status == "succeeded")
            .map(|m| m.payment_id.as_str())
            .collect();

        for id in &online {
            let call = ApiCall::get("/payments/{id}").path("id", id);
            let response = get_payment(&api.payments, call.request(&api::merchant())?).await;
            answer(&response, 200, "GET /payments/{id}")?;
        }
        rows.push(row("GET /payments/{id}", online.len(), self.meter.take()));

        for id in &succeeded {
            self.refund(&api, id).await?;
        }
        rows.push(row(
            "POST /payments/{id}/refunds, online payment (gateway, settled in the request)",
            succeeded.len(),
            self.meter.take(),
        ));
        let mut completion = Tally::default();
        for message in self.validate(succeeded.len()).await? {
            completion.merge(&message.tally);
        }
        rows.push(row(
            "validator: the refund's message (already settled)",
            succeeded.len(),
            completion,
        ));

        for id in &offline {
            self.refund(&api, id).await?;
        }
        rows.push(row(
            "POST /payments/{id}/refunds, offline payment",
            offline.len(),
            self.meter.take(),
        ));

        rows.extend(self.reports(&api).await?);
        Ok(rows)
    }
}

/// One message the validator handled: what it cost, and the payment's status afterwards.
struct Handled {
    payment_id: String,
    status: String,
    tally: Tally,
}

/// How long the bench waits for the messages it expects in its queue.
const RECEIVE_DEADLINE: Duration = Duration::from_secs(60);

impl Run<'_> {
    /// Hands the `expected` messages of the bench's online queue to the validator, one event
    /// each (a batch costs the same per message: its messages are handled one by one), and
    /// deletes each once handled, as the event source does.
    async fn validate(&self, expected: usize) -> BenchResult<Vec<Handled>> {
        let validator = self.wiring.validator()?;
        let reader = DynamoPayments::new(
            self.unmetered.clone(),
            &self.wiring.transactions_table,
            DynamoAccounts::new(self.unmetered.clone(), &self.wiring.accounts_table),
        );
        let mut handled = Vec::with_capacity(expected);
        let deadline = Instant::now() + RECEIVE_DEADLINE;
        while handled.len() < expected {
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {expected} messages arrived in the bench's queue",
                    handled.len()
                )
                .into());
            }
            for message in self.receive().await? {
                self.meter.take();
                let event = build_event(std::slice::from_ref(&message), &self.queues.online.arn);
                let response = validator.handle(event).await;
                let tally = self.meter.take();
                if !response.batch_item_failures.is_empty() {
                    return Err(format!("the validator failed {:?}", message.body).into());
                }
                let body: Value = serde_json::from_str(message.body().unwrap_or_default())?;
                let payment_id = body["payment_id"].as_str().unwrap_or_default().to_owned();
                let status = match reader.get(&PaymentId::parse(&payment_id)?).await? {
                    Some(stored) => serde_json::to_value(stored.payment.status)?
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    None => "missing".to_owned(),
                };
                if let Some(receipt) = message.receipt_handle() {
                    self.wiring
                        .sqs
                        .delete_message()
                        .queue_url(&self.queues.online.url)
                        .receipt_handle(receipt)
                        .send()
                        .await?;
                }
                handled.push(Handled {
                    payment_id,
                    status,
                    tally,
                });
            }
        }
        Ok(handled)
    }

    async fn receive(&self) -> BenchResult<Vec<Message>> {
        Ok(self
            .wiring
            .sqs
            .receive_message()
            .queue_url(&self.queues.online.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?
            .messages
            .unwrap_or_default())
    }

    /// A full refund of the merchant's payment `id` (201: settled within the request).
    async fn refund(&self, api: &Api, id: &str) -> BenchResult<()> {
        let call = ApiCall::post("/payments/{id}/refunds", None).path("id", id);
        let response = create_refund(&api.refunds, call.request(&api::merchant())?).await;
        answer(&response, 201, "POST /payments/{id}/refunds")?;
        Ok(())
    }

    /// One call of each report as the admin: the first page (the API's default, 100) of the
    /// last 30 days, then filtered by card type, by country, by amount range; and one count.
    async fn reports(&self, api: &Api) -> BenchResult<Vec<PathRow>> {
        let lists = [
            ("GET /transactions?days=30", vec![]),
            (
                "GET /transactions?days=30&card_type=visa",
                vec![("card_type", "visa")],
            ),
            (
                "GET /transactions?days=30&country=GB",
                vec![("country", "GB")],
            ),
            (
                "GET /transactions?days=30&min_amount=10000&max_amount=50000",
                vec![("min_amount", "10000"), ("max_amount", "50000")],
            ),
        ];
        let mut rows = Vec::new();
        for (name, filters) in lists {
            let mut call = ApiCall::get("/transactions").query("days", "30");
            for (key, value) in filters {
                call = call.query(key, value);
            }
            let response = list_transactions(&api.reports, call.request(&api::admin())?).await;
            answer(&response, 200, name)?;
            rows.push(row(
                format!("{name} (first page, 100)"),
                1,
                self.meter.take(),
            ));
        }
        let name = "GET /transactions/count?days=30&card_type=visa";
        let call = ApiCall::get("/transactions/count")
            .query("days", "30")
            .query("card_type", "visa");
        let response = count_transactions(&api.reports, call.request(&api::admin())?).await;
        answer(&response, 200, name)?;
        rows.push(row(name, 1, self.meter.take()));
        Ok(rows)
    }
}
