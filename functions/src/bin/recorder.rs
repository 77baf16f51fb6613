//! The offline queue's consumer: wires the store, the card cipher, the error reporter and the
//! redelivery policy into the recorder.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::cards::CardCipher;
use payrail_shared::logservice::SqsErrorReporter;
use payrail_shared::store::payments::DynamoPayments;
use payrail_shared::stream::{Recorder, Redelivery};
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::users::MerchantRegistry;
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
    let users_table = config::required_env("USERS_TABLE")?;
    let queue_url = config::required_env("OFFLINE_QUEUE_URL")?;
    let log_queue = config::required_env("LOG_QUEUE_URL")?;
    let max_receive_count = config::env_u64("MAX_RECEIVE_COUNT", 5, 1, 1000)?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let cards = CardCipher::from_env(&sdk).await?;
    init.done("keys");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let recorder = Recorder {
        store: DynamoPayments::new(
            dynamodb.clone(),
            table,
            DynamoAccounts::new(dynamodb.clone(), accounts_table),
        ),
        owners: MerchantRegistry::new(dynamodb, users_table),
        fingerprint_key: cards.fingerprint_key(),
        cards,
        reporter: Arc::new(SqsErrorReporter::new(sqs.clone(), log_queue)),
        redelivery: Redelivery::new(sqs, queue_url, u32::try_from(max_receive_count)?),
        clock: Arc::new(SystemClock),
    };
    init.done("clients");
    init.ready();
    let recorder = &recorder;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            metrics
                .around(event.request_id(), recorder.handle(event.payload))
                .await,
        )
    }))
    .await
}
