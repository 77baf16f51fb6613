//! GET /openapi.json: the document is generated once per cold start and served as is.

use lambda_http::http::StatusCode;
use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::http::{openapi, problem::json_response};
use payrail_shared::telemetry::{self, Invocation};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    let document: serde_json::Value = serde_json::from_str(&openapi::document())?;
    let document = &document;
    run(service_fn(move |request: Request| async move {
        let served = async { json_response(StatusCode::OK, document) };
        Ok::<_, Error>(metrics.around(request.request_id(), served).await)
    }))
    .await
}
