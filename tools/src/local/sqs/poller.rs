//! One poller of one event source: gather a batch, invoke the function with it, delete the
//! messages the verdict says succeeded, repeat. A few pollers per source run batches in
//! parallel. Visibility timeouts and the move to the dead-letter queue are the queue's own:
//! a poller never changes a message's visibility and never deletes a message it did not
//! deliver. Errors of SQS or of the invoke API are logged and retried after a bounded
//! exponential backoff; nothing here ends the process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use tokio::sync::{Mutex, watch};

use super::backoff::Backoff;
use super::batch::{BatchLimits, Receive, gather};
use super::event::build_event;
use super::record::DeliveryRecord;
use super::response::{Verdict, verdict};
use super::source::EventSource;
use crate::local::invoke::{InvokeError, invoke};
use crate::local::queues::queue_arn;

/// What every poller shares.
#[derive(Debug, Clone)]
pub struct PollerContext {
    pub sqs: Client,
    pub http: reqwest::Client,
    /// Base URL of the Lambda invoke API.
    pub lambda_url: String,
    /// The local name of each source's queue is prefix + logical id.
    pub prefix: String,
    /// When set, every delivered message is recorded there (tests only: `--record`).
    pub record: Option<Arc<DeliveryRecord>>,
}

/// ReceiveMessage on one queue, asking for every attribute Lambda passes on.
///
/// The pollers of a queue take turns: plain moto is not safe under concurrent ReceiveMessage
/// calls on one queue (two calls moving the same message to the dead-letter queue fail one of
/// them with a 500, and the messages that call had already taken stay invisible until their
/// visibility timeout ends, 180 s for the stream queues). The local stack's moto is patched
/// for that (infra/local/moto_sqs_server.py); the turns keep any other SQS endpoint safe and
/// cost little, a receive of a queue with messages answering at once. A long poll is made of
/// one-second polls, so that no poller holds the turn for more than about a second.
struct QueueReceiver<'a> {
    sqs: &'a Client,
    url: &'a str,
    turn: &'a Mutex<()>,
}

impl QueueReceiver<'_> {
    async fn receive_once(&self, max: i32, wait_seconds: i32) -> anyhow::Result<Vec<Message>> {
        let _turn = self.turn.lock().await;
        let output = self
            .sqs
            .receive_message()
            .queue_url(self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(output.messages.unwrap_or_default())
    }
}

impl Receive for QueueReceiver<'_> {
    async fn receive(
        &self,
        max: i32,
        wait_seconds: i32,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Vec<Message>> {
        let deadline =
            Instant::now() + Duration::from_secs(u64::try_from(wait_seconds).unwrap_or(0));
        loop {
            let wait = i32::from(
                deadline.saturating_duration_since(Instant::now()) >= Duration::from_secs(1),
            );
            let messages = self.receive_once(max, wait).await?;
            if !messages.is_empty() || wait == 0 || *stop.borrow() {
                return Ok(messages);
            }
        }
    }
}

/// Runs one poller until `stop` turns true; a batch being delivered is finished first.
pub async fn run_poller(
    context: PollerContext,
    source: EventSource,
    poller: usize,
    turn: Arc<Mutex<()>>,
    mut stop: watch::Receiver<bool>,
) {
    let name = format!("{}{}", context.prefix, source.queue);
    let mut backoff = Backoff::default();
    let Some((url, arn)) = locate(&context.sqs, &name, &mut backoff, &mut stop).await else {
        return;
    };
    let limits = BatchLimits {
        size: source.batch_size,
        window: source.window,
    };
    let receiver = QueueReceiver {
        sqs: &context.sqs,
        url: &url,
        turn: &turn,
    };
    tracing::debug!(queue = %name, function = %source.binary, poller, "polling");
    while !*stop.borrow() {
        let gathered = gather(&receiver, limits, &mut stop).await;
        let mut failed = gathered.error.is_some();
        if let Some(e) = &gathered.error {
            tracing::warn!(queue = %name, poller, "receiving failed: {e:#}");
        }
        if !gathered.messages.is_empty() {
            let unreachable = deliver(&context, &source, &url, &arn, &gathered.messages).await;
            failed |= unreachable;
        }
        if failed {
            let pause = backoff.failure();
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => {}
                () = tokio::time::sleep(pause) => {}
            }
        } else {
            backoff.success();
        }
    }
}

/// The queue's URL and ARN, retried until SQS answers (or `stop`).
async fn locate(
    sqs: &Client,
    name: &str,
    backoff: &mut Backoff,
    stop: &mut watch::Receiver<bool>,
) -> Option<(String, String)> {
    loop {
        let found = async {
            let url = sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                })?
                .queue_url
                .unwrap_or_default();
            let arn = queue_arn(sqs, &url).await?;
            anyhow::Ok((url, arn))
        };
        match found.await {
            Ok(found) => return Some(found),
            Err(e) => {
                let pause = backoff.failure();
                tracing::warn!(queue = %name, "cannot find the queue (retrying in {pause:?}): {e:#}");
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return None,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// Invokes the function with one batch and deletes what succeeded. Returns true when the
/// invoke API was unreachable (the caller backs off).
async fn deliver(
    context: &PollerContext,
    source: &EventSource,
    url: &str,
    arn: &str,
    messages: &[Message],
) -> bool {
    let started = Instant::now();
    if let Some(record) = &context.record {
        record.append(&source.queue, messages);
    }
    let event = build_event(messages, arn);
    let ids: Vec<&str> = messages.iter().filter_map(|m| m.message_id()).collect();
    let outcome = invoke(&context.http, &context.lambda_url, &source.binary, &event).await;
    let unreachable = matches!(outcome, Err(InvokeError::Unreachable { .. }));
    let verdict = match outcome {
        Ok(output) => verdict(&ids, &output, source.report_batch_item_failures),
        Err(e) => Verdict::BatchFailed(e.to_string()),
    };
    let to_delete: Vec<&Message> = messages
        .iter()
        .filter(|m| m.message_id().is_some_and(|id| verdict.deletes(id)))
        .collect();
    let deleted = delete(&context.sqs, url, &to_delete).await;
    let ms = started.elapsed().as_millis();
    match &verdict {
        Verdict::BatchFailed(why) => tracing::warn!(
            queue = %source.queue, function = %source.binary, messages = messages.len(),
            deleted, ms, "batch failed, its messages return after the visibility timeout: {why}"
        ),
        Verdict::SomeFailed(failed) => tracing::info!(
            queue = %source.queue, function = %source.binary, messages = messages.len(),
            deleted, failed = failed.len(), ms, "batch done, some messages failed"
        ),
        Verdict::AllSucceeded => tracing::info!(
            queue = %source.queue, function = %source.binary, messages = messages.len(),
            deleted, ms, "batch done"
        ),
    }
    unreachable
}

/// Deletes messages by receipt handle, ten per call, retrying a failed call a few times;
/// returns how many were deleted. A message left undeleted is delivered again, which
/// consumers tolerate (processing is idempotent).
async fn delete(sqs: &Client, url: &str, messages: &[&Message]) -> usize {
    let mut deleted = 0;
    for chunk in messages.chunks(10) {
        let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..=4 {
            match sqs
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries.clone()))
                .send()
                .await
            {
                Ok(output) => {
                    deleted += output.successful().len();
                    for failure in output.failed() {
                        tracing::warn!(
                            queue_url = %url, code = %failure.code(),
                            "a message could not be deleted: {}",
                            failure.message().unwrap_or_default()
                        );
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(
                        queue_url = %url, attempt,
                        "deleting messages failed: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    );
                    tokio::time::sleep(backoff.failure()).await;
                }
            }
        }
    }
    deleted
}
