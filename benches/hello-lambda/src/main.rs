//! Hello world on `lambda_http`: what a Rust function costs to start before it does anything.
//! `make bench` launches it beside payrail's functions (tools/src/bench/cold_start.rs).

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn hello(_request: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::from("hello"))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
