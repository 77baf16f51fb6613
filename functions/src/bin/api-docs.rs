//! GET /docs and /docs/{proxy+}: Swagger UI from assets inside the binary.

use lambda_http::{Error, Request, RequestExt, run, service_fn};
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{http::docs, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    init.ready();
    run(service_fn(move |request: Request| async move {
        let request_id = request.request_id();
        // The route's greedy parameter, so the stage prefix of the path does not matter.
        let asset = request
            .path_parameters()
            .first("proxy")
            .unwrap_or_default()
            .to_owned();
        Ok::<_, Error>(
            metrics
                .around(request_id, async { docs::serve(&asset) })
                .await,
        )
    }))
    .await
}
