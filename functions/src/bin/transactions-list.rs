//! GET /transactions: wires config, the DynamoDB client and the list handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::http::cursor::CursorKey;
use payrail_shared::http::transactions::{Reports, list_transactions};
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, domain::SystemClock, reports::DynamoReports, telemetry};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let table = config::required_env("TRANSACTIONS_TABLE")?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let cursor_key = CursorKey::load(&sdk).await?;
    init.done("keys");
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let reports = Reports {
        store: DynamoReports::new(client, table),
        clock: Arc::new(SystemClock),
        cursor_key,
    };
    init.done("clients");
    init.ready();
    let reports = &reports;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(request.request_id(), list_transactions(reports, request))
                .await,
        )
    }))
    .await
}
