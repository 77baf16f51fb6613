//! The HTTP API's Lambda authorizer: wires the verifying keys and the authorizer.

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payrail_shared::auth::authorizer::authorize;
use payrail_shared::auth::{SigningKey, TokenScope, TokenVerifier};
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, domain::SystemClock, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let sdk = config::aws().await;
    init.done("aws_config");
    let keys = SigningKey::load_verifying(&sdk).await?;
    init.done("keys");
    let scope = TokenScope::from_env()?;
    let verifier = TokenVerifier::new(&keys, &scope, Box::new(SystemClock));
    init.done("clients");
    init.ready();
    let verifier = &verifier;
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            let request_id = event.request_id();
            let decision = async { authorize(verifier, &event.payload) };
            Ok::<_, Error>(metrics.around(request_id, decision).await)
        },
    ))
    .await
}
