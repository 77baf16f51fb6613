//! The HTTP API's Lambda authorizer: wires the verifying keys and the authorizer.

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payrail_shared::auth::authorizer::authorize;
use payrail_shared::auth::{SigningKey, TokenVerifier};
use payrail_shared::telemetry::Invocation;
use payrail_shared::{config, domain::SystemClock, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    let sdk = config::aws().await;
    let keys = SigningKey::load_verifying(&sdk).await?;
    let verifier = TokenVerifier::new(&keys, Box::new(SystemClock));
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
