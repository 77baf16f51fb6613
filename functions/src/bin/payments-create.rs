//! POST /payments: wires the payments store, idempotency records, the online queue and the card
//! cipher into the create handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::cards::CardCipher;
use payrail_shared::http::payments::{CreateEndpoint, create_payment};
use payrail_shared::payments::{DynamoIdempotency, Payments};
use payrail_shared::queue::SqsQueue;
use payrail_shared::store::payments::DynamoPayments;
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, domain::SystemClock, telemetry};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let table = config::required_env("TRANSACTIONS_TABLE")?;
    let accounts_table = config::required_env("ACCOUNTS_TABLE")?;
    let online_queue = config::required_env("ONLINE_QUEUE_URL")?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let cards = CardCipher::from_env(&sdk).await?;
    let digest_key = cards.request_digest_key();
    init.done("keys");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let accounts = DynamoAccounts::new(dynamodb.clone(), accounts_table);
    let endpoint = CreateEndpoint {
        payments: Payments {
            store: DynamoPayments::new(dynamodb.clone(), table.clone(), accounts),
            online: SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), online_queue),
            fingerprint_key: cards.fingerprint_key(),
            cards,
            clock: Arc::new(SystemClock),
        },
        idempotency: DynamoIdempotency::new(dynamodb, table),
        digest_key,
    };
    init.done("clients");
    init.ready();
    let endpoint = &endpoint;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(request.request_id(), create_payment(endpoint, request))
                .await,
        )
    }))
    .await
}
