//! POST /auth/token: wires the users table, the failed-login counters, the signing key and the
//! token handler.

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::auth::attempts::{AddressTrust, DynamoLoginAttempts, LoginLimits};
use payrail_shared::auth::{SigningKey, TokenIssuer, TokenScope};
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
    let attempts_table = config::required_env("LOGIN_ATTEMPTS_TABLE")?;
    let limits = LoginLimits::from_env()?;
    let ttl_seconds = config::env_u64("TOKEN_TTL_SECONDS", 30, 1, 3600)?;
    let scope = TokenScope::from_env()?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let key = SigningKey::load_current(&sdk).await?;
    let address_trust = AddressTrust::load(&sdk).await?;
    init.done("keys");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let endpoint = TokenEndpoint {
        users: DynamoUsers::new(dynamodb.clone(), table),
        attempts: DynamoLoginAttempts::new(dynamodb, attempts_table, limits),
        address_trust,
        issuer: TokenIssuer::new(&key, ttl_seconds, scope),
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
