//! GET /accounts/{id}: wires the accounts table and the handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::http::accounts::get_account;
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let table = config::required_env("ACCOUNTS_TABLE")?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let accounts = DynamoAccounts::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    init.done("clients");
    init.ready();
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
