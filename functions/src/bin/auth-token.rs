//! POST /auth/token: wires the users table, the signing key and the token handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::auth::{SigningKey, TokenIssuer};
use payrail_shared::http::auth_token::{TokenEndpoint, issue_token};
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::users::DynamoUsers;
use payrail_shared::{config, domain::SystemClock, telemetry};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let table = config::required_env("USERS_TABLE")?;
    let ttl_seconds = config::env_u64("TOKEN_TTL_SECONDS", 30, 1, 3600)?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let key = SigningKey::load_current(&sdk).await?;
    init.done("keys");
    let endpoint = TokenEndpoint {
        users: DynamoUsers::new(aws_sdk_dynamodb::Client::new(&sdk), table),
        issuer: TokenIssuer::new(&key, ttl_seconds),
        clock: Arc::new(SystemClock),
    };
    init.done("clients");
    init.ready();
    let endpoint = &endpoint;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(
            metrics
                .around(request.request_id(), issue_token(endpoint, request))
                .await,
        )
    }))
    .await
}
