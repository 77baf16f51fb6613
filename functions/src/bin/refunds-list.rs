//! GET /payments/{id}/refunds: wires the refunds store, the cursor key and the handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::http::cursor::CursorKey;
use payrail_shared::http::refunds::list_refunds;
use payrail_shared::refunds::DynamoRefunds;
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, telemetry};

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
    let store = DynamoRefunds::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    init.done("clients");
    init.ready();
    let (store, cursor_key) = (&store, &cursor_key);
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(
                    request.request_id(),
                    list_refunds(store, cursor_key, request),
                )
                .await,
        )
    }))
    .await
}
