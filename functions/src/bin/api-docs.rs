//! GET /docs and /docs/{proxy+}: Swagger UI from assets inside the binary.

use lambda_http::{Error, Request, RequestExt, run, service_fn};
use payrail_shared::{http::docs, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    run(service_fn(|request: Request| async move {
        // The route's greedy parameter, so the stage prefix of the path does not matter.
        let asset = request
            .path_parameters()
            .first("proxy")
            .unwrap_or_default()
            .to_owned();
        Ok::<_, Error>(docs::serve(&asset))
    }))
    .await
}
