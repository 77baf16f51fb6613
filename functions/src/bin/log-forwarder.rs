//! The log queue's consumer: delivers each error report to the log service.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payrail_shared::logservice::{LogServiceClient, forward_batch};
use payrail_shared::outbound::Timeouts;
use payrail_shared::{config, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let log_url = config::required_env("LOG_URL")?;
    let client = LogServiceClient::new(&log_url, Timeouts::DEFAULT)?;
    let client = &client;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(forward_batch(client, event.payload).await)
    }))
    .await
}
