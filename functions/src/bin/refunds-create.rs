//! POST /payments/{id}/refunds: wires the refunds store, the gateway client, the online queue
//! (the refund message), the error reporter and the idempotency records into the create handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::gateway::{GatewayClient, Timeouts};
use payrail_shared::http::refunds::{RefundEndpoint, create_refund};
use payrail_shared::logservice::SqsErrorReporter;
use payrail_shared::payments::DynamoIdempotency;
use payrail_shared::queue::SqsQueue;
use payrail_shared::refunds::{DynamoRefunds, Refunds};
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
    let online_queue = config::required_env("ONLINE_QUEUE_URL")?;
    let gateway_url = config::service_url("GATEWAY_URL")?;
    let timeouts = Timeouts::from_env("GATEWAY_CONNECT_TIMEOUT_MS", "GATEWAY_TIMEOUT_MS")?;
    let delay = config::env_u64("REFUND_COMPLETION_DELAY_SECONDS", 60, 1, 900)?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let refunds = RefundEndpoint {
        refunds: Refunds {
            store: DynamoRefunds::new(dynamodb.clone(), table.clone()),
            gateway: GatewayClient::new(&gateway_url, timeouts)?,
            online: SqsQueue::new(sqs, online_queue),
            reporter: Arc::new(SqsErrorReporter::from_env(&sdk)?),
            clock: Arc::new(SystemClock),
            completion_delay: Duration::from_secs(delay),
        },
        idempotency: DynamoIdempotency::new(dynamodb, table),
    };
    init.done("clients");
    init.ready();
    let refunds = &refunds;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(request.request_id(), create_refund(refunds, request))
                .await,
        )
    }))
    .await
}
