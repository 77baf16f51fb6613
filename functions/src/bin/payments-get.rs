//! GET /payments/{id}: wires the payments store and the handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::http::payments::get_payment;
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
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let accounts = DynamoAccounts::new(client.clone(), accounts_table);
    let store = DynamoPayments::new(client, table, accounts);
    let store = &store;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(request.request_id(), get_payment(store, request))
                .await,
        )
    }))
    .await
}
