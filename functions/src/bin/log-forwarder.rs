//! The log queue's consumer: delivers each error report to the log service; an undelivered
//! one comes back after a backoff.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payrail_shared::logservice::{LogServiceClient, forward_batch_with_backoff};
use payrail_shared::outbound::Timeouts;
use payrail_shared::stream::Redelivery;
use payrail_shared::telemetry::{InitTimer, Invocation};
use payrail_shared::{config, telemetry};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimer::start();
    telemetry::init();
    let metrics = telemetry::metrics(env!("CARGO_BIN_NAME"))?;
    init.done("telemetry");
    let log_url = config::service_url("LOG_URL")?;
    let queue_url = config::required_env("LOG_QUEUE_URL")?;
    let max_receive_count = config::env_u64("LOG_MAX_RECEIVE_COUNT", 10, 1, 1000)?;
    let sdk = config::aws().await;
    init.done("aws_config");
    let client = LogServiceClient::new(&log_url, Timeouts::DEFAULT)?;
    let mut redelivery = Redelivery::new(
        aws_sdk_sqs::Client::new(&sdk),
        queue_url,
        u32::try_from(max_receive_count)?,
    );
    // 2 s doubling to 5 min: the first retries catch a blip; the ten receives of the log
    // queue span about 13 minutes of outage before an entry rests in the dead-letter queue.
    redelivery.base = Duration::from_secs(2);
    redelivery.cap = Duration::from_secs(300);
    init.done("clients");
    init.ready();
    let (client, redelivery) = (&client, &redelivery);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            metrics
                .around(
                    event.request_id(),
                    forward_batch_with_backoff(client, redelivery, event.payload),
                )
                .await,
        )
    }))
    .await
}
