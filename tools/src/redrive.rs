//! Re-driving a dead-letter queue (SPEC §4, docs/runbook-dlq.md): messages are received from
//! the DLQ, sent to the target queue with the same body and message attributes plus the String
//! attribute `payrail_redriven = "1"` (the validator reopens a payment it marked `failed` when it
//! sees it), and deleted from the DLQ only once their send succeeded.
//!
//! At least once: a crash between the send and the delete leaves the message in both queues,
//! and it is delivered twice; consumers are idempotent on `payment_id`, so that is harmless.
//! A message that cannot be sent stays in the DLQ (it returns there when the receive's
//! visibility timeout ends) and is counted as failed.
//!
//! A dry run receives the messages, lists them (ids, receive counts, payment ids: never a
//! body, which holds a card number) and makes them visible again at once.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

/// The message attribute that marks a re-driven message.
pub const REDRIVEN_ATTRIBUTE: &str = "payrail_redriven";
/// SQS's most message attributes per message.
const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// How long received messages stay hidden while they are moved (they return to the DLQ after
/// it if the move did not finish).
const MOVE_VISIBILITY_SECONDS: i32 = 60;

/// What to re-drive.
#[derive(Debug, Clone)]
pub struct RedriveOptions {
    pub from: String,
    pub to: String,
    /// At most this many messages (None: until the DLQ is empty).
    pub max: Option<usize>,
    pub dry_run: bool,
}

/// One message as a dry run lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub message_id: String,
    pub receive_count: String,
    /// The body's `payment_id`, when the body is a JSON object carrying one.
    pub payment_id: Option<String>,
}

/// What a re-drive did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedriveReport {
    /// Sent to the target and deleted from the DLQ.
    pub moved: usize,
    /// Sent to the target but not deleted from the DLQ (they will be re-driven twice).
    pub not_deleted: usize,
    /// Not sent: still in the DLQ.
    pub failed: usize,
    /// Dry run: the messages seen.
    pub listed: Vec<Listed>,
}

/// Re-drives `options.from` into `options.to` (see the module documentation). Errors only when
/// the DLQ cannot be read at all; failures of single messages are counted in the report.
pub async fn redrive(client: &Client, options: &RedriveOptions) -> anyhow::Result<RedriveReport> {
    let mut report = RedriveReport::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut hidden: Vec<Message> = Vec::new();
    loop {
        let done = report.moved + report.not_deleted + report.failed + report.listed.len();
        let wanted = options
            .max
            .map_or(10, |max| max.saturating_sub(done).min(10));
        if wanted == 0 {
            break;
        }
        let received = client
            .receive_message()
            .queue_url(&options.from)
            .max_number_of_messages(i32::try_from(wanted).unwrap_or(10))
            .wait_time_seconds(1)
            .visibility_timeout(MOVE_VISIBILITY_SECONDS)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
            .with_context(|| format!("receiving from {}", options.from))?;
        let messages: Vec<Message> = received
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.message_id().is_some_and(|id| seen.insert(id.to_owned())))
            .collect();
        if messages.is_empty() {
            break;
        }
        if options.dry_run {
            report.listed.extend(messages.iter().map(listed));
            hidden.extend(messages);
        } else {
            move_batch(client, options, &messages, &mut report).await;
        }
    }
    if !hidden.is_empty() {
        release(client, &options.from, &hidden).await;
    }
    Ok(report)
}

fn listed(message: &Message) -> Listed {
    let payment_id = message
        .body()
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|v| {
            v.get("payment_id")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
    Listed {
        message_id: message.message_id().unwrap_or_default().to_owned(),
        receive_count: message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .cloned()
            .unwrap_or_default(),
        payment_id,
    }
}

/// The message attributes to send: the original ones plus `payrail_redriven = "1"`.
pub fn redriven_attributes(
    original: Option<&HashMap<String, MessageAttributeValue>>,
) -> anyhow::Result<HashMap<String, MessageAttributeValue>> {
    let mut attributes = original.cloned().unwrap_or_default();
    attributes.insert(
        REDRIVEN_ATTRIBUTE.to_owned(),
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value("1")
            .build()?,
    );
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        anyhow::bail!(
            "the message has {MAX_MESSAGE_ATTRIBUTES} attributes already: no room for {REDRIVEN_ATTRIBUTE}"
        );
    }
    Ok(attributes)
}

/// Sends one batch to the target and deletes from the DLQ what was sent.
async fn move_batch(
    client: &Client,
    options: &RedriveOptions,
    messages: &[Message],
    report: &mut RedriveReport,
) {
    let fifo = options.to.ends_with(".fifo");
    let mut entries = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let entry = redriven_attributes(message.message_attributes()).and_then(|attributes| {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(message.body().unwrap_or_default())
                .set_message_attributes(Some(attributes));
            if fifo {
                let group = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                    .map_or("redrive", String::as_str);
                entry = entry
                    .message_group_id(group)
                    .message_deduplication_id(message.message_id().unwrap_or_default());
            }
            Ok(entry.build()?)
        });
        match entry {
            Ok(entry) => entries.push(entry),
            Err(e) => {
                report.failed += 1;
                eprintln!(
                    "not re-driven {}: {e:#}",
                    message.message_id().unwrap_or_default()
                );
            }
        }
    }
    if entries.is_empty() {
        return;
    }
    let sent = match client
        .send_message_batch()
        .queue_url(&options.to)
        .set_entries(Some(entries.clone()))
        .send()
        .await
    {
        Ok(output) => {
            for failure in output.failed() {
                eprintln!(
                    "not re-driven (entry {}): {} {}",
                    failure.id(),
                    failure.code(),
                    failure.message().unwrap_or_default()
                );
            }
            report.failed += output.failed().len();
            output
                .successful()
                .iter()
                .filter_map(|s| s.id().parse::<usize>().ok())
                .collect::<Vec<_>>()
        }
        Err(e) => {
            eprintln!(
                "sending to {} failed: {}",
                options.to,
                DisplayErrorContext(e)
            );
            report.failed += entries.len();
            return;
        }
    };
    let deletes: Vec<DeleteMessageBatchRequestEntry> = sent
        .iter()
        .filter_map(|&i| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(messages.get(i)?.receipt_handle()?)
                .build()
                .ok()
        })
        .collect();
    match client
        .delete_message_batch()
        .queue_url(&options.from)
        .set_entries(Some(deletes))
        .send()
        .await
    {
        Ok(output) => {
            report.moved += output.successful().len();
            report.not_deleted += output.failed().len();
        }
        Err(e) => {
            eprintln!(
                "deleting from {} failed (the sent messages stay there too): {}",
                options.from,
                DisplayErrorContext(e)
            );
            report.not_deleted += sent.len();
        }
    }
}

/// Makes the messages a dry run received visible again at once.
async fn release(client: &Client, queue: &str, messages: &[Message]) {
    for chunk in messages.chunks(10) {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        if let Err(e) = client
            .change_message_visibility_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
        {
            eprintln!(
                "could not make the listed messages visible again (they will be after \
                 {MOVE_VISIBILITY_SECONDS} s): {}",
                DisplayErrorContext(e)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redriven_attribute_is_added_to_the_original_ones() -> anyhow::Result<()> {
        let original = HashMap::from([(
            "origin".to_owned(),
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("crm")
                .build()?,
        )]);
        let attributes = redriven_attributes(Some(&original))?;
        assert_eq!(attributes.len(), 2);
        assert_eq!(attributes[REDRIVEN_ATTRIBUTE].string_value(), Some("1"));
        assert_eq!(attributes["origin"].string_value(), Some("crm"));
        Ok(())
    }

    #[test]
    fn a_message_with_ten_attributes_has_no_room_for_the_mark() -> anyhow::Result<()> {
        let mut full = HashMap::new();
        for i in 0..10 {
            full.insert(
                format!("a{i}"),
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("x")
                    .build()?,
            );
        }
        assert!(redriven_attributes(Some(&full)).is_err());
        Ok(())
    }
}
