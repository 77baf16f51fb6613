//! GET /payments: wires the payments store, the cursor key and the handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::http::cursor::CursorKey;
use payrail_shared::http::payments::list_payments;
use payrail_shared::store::payments::DynamoPayments;
use payrail_shared::telemetry::Invocation;
use payrail_shared::{config, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    let table = config::required_env("TRANSACTIONS_TABLE")?;
    let accounts_table = config::required_env("ACCOUNTS_TABLE")?;
    let sdk = config::aws().await;
    let cursor_key = CursorKey::load(&sdk).await?;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let accounts = DynamoAccounts::new(client.clone(), accounts_table);
    let store = DynamoPayments::new(client, table, accounts);
    let (store, cursor_key) = (&store, &cursor_key);
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(
                    request.request_id(),
                    list_payments(store, cursor_key, request),
                )
                .await,
        )
    }))
    .await
}
