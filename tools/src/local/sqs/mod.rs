//! Lambda's SQS event source mapping, emulated for the local stack (SPEC §7) in front of
//! `cargo lambda watch`, as template.yaml declares it.
//!
//! For each `Type: SQS` event of a function ([`source`]), a few pollers ([`poller`]) each
//! gather a batch ([`batch`]: long polling, `BatchSize`, `MaximumBatchingWindowInSeconds`),
//! invoke the function's binary with an [`SqsEvent`](aws_lambda_events::event::sqs::SqsEvent)
//! ([`event`]) through the invoke API, and delete the messages that succeeded ([`response`]:
//! `ReportBatchItemFailures` read as AWS reads it). Failed messages are left to the queue:
//! they return when their visibility timeout ends and move to the dead-letter queue after the
//! redrive policy's `maxReceiveCount` (moto implements both).
//!
//! The pollers of one queue take turns to receive (moto mishandles concurrent receives on a
//! queue); the deliveries they gather still run in parallel.
//!
//! Not emulated: FIFO queues, `FilterCriteria`, the 6 MB payload limit of one invocation,
//! Lambda's scaling of pollers with the queue's depth (a fixed number of pollers per source).

pub mod backoff;
pub mod batch;
pub mod event;
pub mod poller;
pub mod record;
pub mod response;
pub mod source;

use std::future::Future;

pub use poller::PollerContext;
pub use record::DeliveryRecord;
pub use source::{EventSource, event_sources_from_template};

/// Runs `pollers` pollers per enabled source (fewer when its `ScalingConfig` says so) until
/// `shutdown` completes; batches in flight are finished before it returns.
pub async fn run(
    context: PollerContext,
    sources: Vec<EventSource>,
    pollers: usize,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for source in sources.into_iter().filter(|s| s.enabled) {
        let count = source
            .maximum_concurrency
            .map_or(pollers, |max| pollers.min(max))
            .max(1);
        // One turn to receive per queue, shared by its pollers (see `poller`).
        let turn = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        for poller in 0..count {
            tasks.spawn(poller::run_poller(
                context.clone(),
                source.clone(),
                poller,
                turn.clone(),
                stop_rx.clone(),
            ));
        }
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!("a poller ended abnormally: {e}");
        }
    }
}
