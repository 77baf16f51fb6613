//! GET /accounts/{id}: wires the accounts table, the account–merchant links (in the
//! transactions table) and the handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::http::accounts::{AccountsEndpoint, get_account};
use payrail_shared::store::links::DynamoLinks;
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let accounts_table = config::required_env("ACCOUNTS_TABLE")?;
    let transactions_table = config::required_env("TRANSACTIONS_TABLE")?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let endpoint = AccountsEndpoint {
        accounts: DynamoAccounts::new(client.clone(), accounts_table),
        links: DynamoLinks::new(client, transactions_table),
    };
    init.done("clients");
    init.ready();
    let endpoint = &endpoint;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(request.request_id(), get_account(endpoint, request))
                .await,
        )
    }))
    .await
}
