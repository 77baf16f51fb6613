//! GET /openapi.json: serves the document generated from the handlers' types (committed as
//! docs/openapi.json, kept equal by a test).

use lambda_http::{Error, Request, run, service_fn};
use payrail_shared::http::openapi;
use payrail_shared::telemetry::{self, InitTimer, Invocation};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    init.ready();
    run(service_fn(move |request: Request| async move {
        let served = async { openapi::document_response() };
        Ok::<_, Error>(metrics.around(request.request_id(), served).await)
    }))
    .await
}
