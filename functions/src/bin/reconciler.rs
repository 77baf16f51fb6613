//! The reconciler, on a schedule: wires the pending-payments index, the online queue and the
//! error reporter into the reconciler. The scheduled event carries nothing it needs.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::logservice::SqsErrorReporter;
use payrail_shared::queue::SqsQueue;
use payrail_shared::store::payments::DynamoPayments;
use payrail_shared::store::pending::DynamoPending;
use payrail_shared::stream::{Reconciler, reconciler};
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, domain::SystemClock, telemetry};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let table = config::required_env("TRANSACTIONS_TABLE")?;
    let accounts_table = config::required_env("ACCOUNTS_TABLE")?;
    let online_queue = config::required_env("ONLINE_QUEUE_URL")?;
    let log_queue = config::required_env("LOG_QUEUE_URL")?;
    let after = config::env_u64("RECONCILE_AFTER_SECONDS", 120, 1, 86_400)?;
    let deadline = config::env_u64(
        "UNANSWERED_DEADLINE_SECONDS",
        reconciler::DEFAULT_DEADLINE.as_secs(),
        60,
        30 * 86_400,
    )?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let reconciler = Reconciler {
        pending: DynamoPending::new(dynamodb.clone(), table.clone()),
        store: DynamoPayments::new(
            dynamodb.clone(),
            table,
            DynamoAccounts::new(dynamodb, accounts_table),
        ),
        online: SqsQueue::new(sqs.clone(), online_queue),
        reporter: Arc::new(SqsErrorReporter::new(sqs, log_queue)),
        clock: Arc::new(SystemClock),
        after: Duration::from_secs(after),
        deadline: Duration::from_secs(deadline),
    };
    init.done("clients");
    init.ready();
    let reconciler = &reconciler;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // Boxed: the run's future nested in the flush's overflows the compiler's layout
            // query depth.
            metrics
                .around(event.request_id(), Box::pin(reconciler.run()))
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
