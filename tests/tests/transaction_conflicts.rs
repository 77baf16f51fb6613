//! DynamoDB `TransactionConflict` cancellations on every path that writes payments in a
//! transaction: POST /payments, the recorder, the validator, POST /payments/{id}/refunds. The
//! handlers run in process as their mains wire them, over a DynamoDB client whose HTTP client
//! cancels chosen transactions (support::conflicts), against the emulator. Each write succeeds
//! after its retries, storing and counting once; only conflicts outlasting them answer 503 with
//! Retry-After (the API) or leave the message to be redelivered (the consumers); never a 500,
//! never a payment marked failed for it.

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use payrail_shared::accounts::{Account, DynamoAccounts};
use payrail_shared::cards::CardCipher;
use payrail_shared::domain::{AccountId, Clock, PaymentId, PaymentStatus, SystemClock};
use payrail_shared::http::payments::{IDEMPOTENCY_KEY, create_payment};
use payrail_shared::http::refunds::create_refund;
use payrail_shared::logservice::SqsErrorReporter;
use payrail_shared::secrets::SecretValue;
use payrail_shared::store::payments::DynamoPayments;
use payrail_shared::store::transact::CONFLICT_ATTEMPTS;
use payrail_shared::stream::{Recorder, Redelivery};
use payrail_shared::users::MerchantRegistry;
use payrail_tools::bench::capacity::api::{ApiCall, merchant};
use payrail_tools::bench::capacity::{Api, Wiring};
use payrail_tools::bench::payments_api::payment_body;
use payrail_tools::local::sqs::event::build_event;
use payrail_tools::simulator::{Behaviour, Simulator, router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use support::conflicts::{Conflicts, Plan};
use support::{TestResult, rng};

const ACCOUNT: u64 = 7;

/// Fresh tables with one account, the stack's SQS with queues of the test's own, an
/// in-process gateway simulator, and the handlers over the conflicting client.
struct Setup {
    conflicts: Conflicts,
    plain: Client,
    wiring: Wiring,
    api: Api,
    sqs: aws_sdk_sqs::Client,
    online_arn: String,
    gateway: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.gateway.abort();
    }
}

async fn setup() -> Result<Option<Setup>, Box<dyn std::error::Error + Send + Sync>> {
    let Some(sdk) = support::dynamodb_config().await else {
        return Ok(None);
    };
    let Some(sqs_endpoint) = support::service("PAYRAIL_SQS_ENDPOINT") else {
        return Ok(None);
    };
    let plain = Client::new(&sdk);
    let (transactions, accounts) = support::fresh_payment_tables(&plain).await?;
    DynamoAccounts::new(plain.clone(), &accounts)
        .add(&Account {
            account_id: AccountId::new(ACCOUNT),
            email: "payer@example.com".to_owned(),
            birthdate: "1990-01-01".to_owned(),
            last_payment_date: None,
            created_at: SystemClock.now(),
        })
        .await?;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(sqs_endpoint)
            .build(),
    );
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (online_url, online_arn) = queue(&sqs, &format!("conflicts-online-{suffix}")).await?;
    let (log_url, _) = queue(&sqs, &format!("conflicts-log-{suffix}")).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gateway_url = format!("http://{}", listener.local_addr()?);
    let gateway = tokio::spawn(async move {
        axum::serve(listener, router(Simulator::new(Behaviour::default()))).await
    });
    let conflicts = Conflicts::new(&sdk);
    let wiring = Wiring {
        client: conflicts.client(&sdk),
        sqs: sqs.clone(),
        transactions_table: transactions,
        accounts_table: accounts,
        // The stack's merchant registry: the recorder resolves its payments' owners there.
        users_table: std::env::var("USERS_TABLE").unwrap_or_default(),
        online_queue_url: online_url,
        log_queue_url: log_url,
        gateway_url,
        card_secret: SecretValue::new(
            b"a card data key of the transaction conflict tests".to_vec(),
        ),
    };
    let api = wiring.api()?;
    Ok(Some(Setup {
        conflicts,
        plain,
        wiring,
        api,
        sqs,
        online_arn,
        gateway,
    }))
}

async fn queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let url = sqs
        .create_queue()
        .queue_name(name)
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
    Ok((url, arn))
}

impl Setup {
    fn store(&self) -> DynamoPayments {
        DynamoPayments::new(
            self.plain.clone(),
            &self.wiring.transactions_table,
            DynamoAccounts::new(self.plain.clone(), &self.wiring.accounts_table),
        )
    }

    async fn post_payment(
        &self,
        payment_type: &str,
        key: Option<&str>,
        seed: u64,
    ) -> Result<(u16, Option<String>, Value), Box<dyn std::error::Error + Send + Sync>> {
        let mut call = ApiCall::post(
            "/payments",
            Some(payment_body(&mut rng(seed), payment_type, ACCOUNT)?),
        );
        if let Some(key) = key {
            call = call.header(IDEMPOTENCY_KEY, key);
        }
        let response = create_payment(&self.api.create, call.request(&merchant())?).await;
        answer(response)
    }

    async fn post_refund(
        &self,
        payment_id: &str,
        amount: u64,
    ) -> Result<(u16, Option<String>, Value), Box<dyn std::error::Error + Send + Sync>> {
        let call = ApiCall::post("/payments/{id}/refunds", Some(json!({"amount": amount})))
            .path("id", payment_id);
        let response = create_refund(&self.api.refunds, call.request(&merchant())?).await;
        answer(response)
    }

    /// The day counters of the test's table, summed: what the count report adds up.
    async fn counted(&self) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self
            .items("AGG#")
            .await?
            .iter()
            .filter_map(|item| item.get("n")?.as_n().ok()?.parse::<u64>().ok())
            .sum())
    }

    async fn items(
        &self,
        prefix: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, Box<dyn std::error::Error + Send + Sync>>
    {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .plain
                .scan()
                .table_name(&self.wiring.transactions_table)
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn status(
        &self,
        id: &str,
    ) -> Result<Option<PaymentStatus>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self
            .store()
            .get(&PaymentId::parse(id)?)
            .await?
            .map(|s| s.payment.status))
    }

    async fn online_messages(
        &self,
    ) -> Result<Vec<Message>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self
            .sqs
            .receive_message()
            .queue_url(&self.wiring.online_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?
            .messages
            .unwrap_or_default())
    }

    fn recorder(&self) -> Result<Recorder<CardCipher>, Box<dyn std::error::Error + Send + Sync>> {
        let cards = CardCipher::from_secrets(&self.wiring.card_secret, &[])?;
        Ok(Recorder {
            store: DynamoPayments::new(
                self.wiring.client.clone(),
                &self.wiring.transactions_table,
                DynamoAccounts::new(self.wiring.client.clone(), &self.wiring.accounts_table),
            ),
            owners: MerchantRegistry::new(self.wiring.client.clone(), &self.wiring.users_table),
            fingerprint_key: cards.fingerprint_key(),
            cards,
            reporter: Arc::new(SqsErrorReporter::new(
                self.sqs.clone(),
                &self.wiring.log_queue_url,
            )),
            redelivery: Redelivery::new(self.sqs.clone(), &self.wiring.online_queue_url, 5),
            clock: Arc::new(SystemClock),
        })
    }
}

fn answer(
    response: lambda_http::Response<lambda_http::Body>,
) -> Result<(u16, Option<String>, Value), Box<dyn std::error::Error + Send + Sync>> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text)?,
        lambda_http::Body::Binary(bytes) => serde_json::from_slice(bytes)?,
        _ => Value::Null,
    };
    Ok((status, retry_after, body))
}

/// An upstream offline message as the recorder's queue carries it, on its first receive.
fn offline_message(payment_id: &str, receive_count: u32) -> Message {
    let body = json!({
        "payment_id": payment_id, "account_id": ACCOUNT, "payment_type": "offline",
        "credit_card": "4111111111111111", "amount": 1250, "currency": "GBP",
        "country": "GB", "address": "1 High Street", "vendor": "Alice's Shop",
    });
    Message::builder()
        .message_id(uuid::Uuid::new_v4().to_string())
        .receipt_handle(format!("receipt-{payment_id}"))
        .body(body.to_string())
        .attributes(
            MessageSystemAttributeName::ApproximateReceiveCount,
            receive_count.to_string(),
        )
        .build()
}

#[tokio::test]
async fn a_payment_whose_transaction_meets_conflicts_is_stored_and_counted_once() -> TestResult {
    let Some(setup) = setup().await? else {
        return Ok(());
    };
    setup.conflicts.set(Plan::Next(3));

    let (status, _, body) = setup.post_payment("offline", None, 1).await?;

    assert_eq!(status, 201, "{body}");
    assert_eq!(
        setup.conflicts.take(),
        (3, 1),
        "three cancelled, the fourth committed"
    );
    let id = body["id"].as_str().ok_or("no id")?;
    assert_eq!(setup.status(id).await?, Some(PaymentStatus::Succeeded));
    assert_eq!(setup.items("PAY#").await?.len(), 1);
    assert_eq!(setup.counted().await?, 1);
    Ok(())
}

#[tokio::test]
async fn conflicts_outlasting_the_retries_answer_503_with_retry_after_and_write_nothing()
-> TestResult {
    let Some(setup) = setup().await? else {
        return Ok(());
    };
    setup.conflicts.set(Plan::Always);

    let (status, retry_after, body) = setup.post_payment("offline", Some("k-1"), 2).await?;

    assert_eq!(status, 503, "{body}");
    assert!(retry_after.is_some(), "503 carries Retry-After");
    assert_eq!(setup.conflicts.take().0, CONFLICT_ATTEMPTS);
    assert!(setup.items("PAY#").await?.is_empty());
    assert_eq!(setup.counted().await?, 0);

    // The client's retry with the same key, once the contention is over, stores it once.
    setup.conflicts.set(Plan::Pass);
    let (status, _, body) = setup.post_payment("offline", Some("k-1"), 2).await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(setup.items("PAY#").await?.len(), 1);
    assert_eq!(setup.counted().await?, 1);
    Ok(())
}

#[tokio::test]
async fn the_recorder_retries_conflicts_and_leaves_a_lasting_one_to_redelivery() -> TestResult {
    let Some(setup) = setup().await? else {
        return Ok(());
    };
    let recorder = setup.recorder()?;
    let first = PaymentId::new().to_string();
    setup.conflicts.set(Plan::Next(2));

    let response = recorder
        .handle(build_event(
            &[offline_message(&first, 1)],
            &setup.online_arn,
        ))
        .await;

    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(setup.conflicts.take(), (2, 1));
    assert_eq!(setup.status(&first).await?, Some(PaymentStatus::Succeeded));
    assert_eq!(setup.counted().await?, 1);

    // Conflicts on every attempt, on the message's last receive: it is handed back to the
    // queue (its DLQ after that), and the payment is not marked failed for a transient fault.
    let second = PaymentId::new().to_string();
    setup.conflicts.set(Plan::Always);
    let response = recorder
        .handle(build_event(
            &[offline_message(&second, 5)],
            &setup.online_arn,
        ))
        .await;
    assert_eq!(response.batch_item_failures.len(), 1, "{response:?}");
    setup.conflicts.set(Plan::Pass);
    assert_eq!(setup.status(&second).await?, None);
    assert_eq!(setup.counted().await?, 1);
    Ok(())
}

#[tokio::test]
async fn the_validator_retries_conflicts_on_the_final_write_and_counts_once() -> TestResult {
    let Some(setup) = setup().await? else {
        return Ok(());
    };
    let validator = setup.wiring.validator()?;
    let (status, _, body) = setup.post_payment("online", None, 3).await?;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().ok_or("no id")?.to_owned();
    let mut messages = Vec::new();
    while messages.is_empty() {
        messages = setup.online_messages().await?;
    }
    setup.conflicts.take();
    setup.conflicts.set(Plan::Next(4));

    let response = validator
        .handle(build_event(&messages, &setup.online_arn))
        .await;

    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(setup.conflicts.take(), (4, 1));
    assert_eq!(setup.status(&id).await?, Some(PaymentStatus::Succeeded));
    assert_eq!(setup.counted().await?, 1);
    Ok(())
}

#[tokio::test]
async fn refunds_retry_conflicts_and_answer_503_when_they_outlast_the_retries() -> TestResult {
    let Some(setup) = setup().await? else {
        return Ok(());
    };
    let (status, _, body) = setup.post_payment("offline", None, 4).await?;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().ok_or("no id")?.to_owned();
    let amount = body["amount"].as_u64().ok_or("no amount")?;
    setup.conflicts.take();

    setup.conflicts.set(Plan::Next(3));
    let (status, _, refund) = setup.post_refund(&id, 1).await?;
    assert_eq!(status, 201, "{refund}");
    assert_eq!(setup.conflicts.take().0, 3);

    setup.conflicts.set(Plan::Always);
    let (status, retry_after, problem) = setup.post_refund(&id, 1).await?;
    assert_eq!(status, 503, "{problem}");
    assert!(retry_after.is_some());

    setup.conflicts.set(Plan::Pass);
    let stored = setup
        .store()
        .get(&PaymentId::parse(&id)?)
        .await?
        .ok_or("the payment vanished")?;
    assert_eq!(
        stored.payment.refunded_amount, 1,
        "one refund of 1 committed"
    );
    assert_eq!(stored.payment.status, PaymentStatus::PartiallyRefunded);
    assert!(amount > 1);
    assert_eq!(setup.counted().await?, 1);
    Ok(())
}
