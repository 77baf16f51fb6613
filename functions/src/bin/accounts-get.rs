//! GET /accounts/{id}: wires the accounts table and the handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::http::accounts::get_account;
use payrail_shared::telemetry::Invocation;
use payrail_shared::{config, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    let table = config::required_env("ACCOUNTS_TABLE")?;
    let sdk = config::aws().await;
    let accounts = DynamoAccounts::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let accounts = &accounts;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(request.request_id(), get_account(accounts, request))
                .await,
        )
    }))
    .await
}
