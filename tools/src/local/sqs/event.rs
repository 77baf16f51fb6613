//! The event Lambda sends an SQS consumer: an [`SqsEvent`] whose records are the received
//! messages as Lambda renders them (`messageId`, `receiptHandle`, `body`, system `attributes`,
//! `messageAttributes` with camelCase keys, `md5OfBody`, `eventSource: "aws:sqs"`,
//! `eventSourceARN`, `awsRegion`).

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{Message, MessageAttributeValue};

/// The region part of an ARN (`arn:aws:sqs:eu-west-1:…` → `eu-west-1`).
pub fn arn_region(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

/// The event for one batch of messages received from the queue `queue_arn`.
pub fn build_event(messages: &[Message], queue_arn: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| record(m, queue_arn, arn_region(queue_arn)))
        .collect();
    event
}

fn record(message: &Message, queue_arn: &str, region: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id.clone();
    record.receipt_handle = message.receipt_handle.clone();
    record.body = message.body.clone();
    record.md5_of_body = message.md5_of_body.clone();
    record.md5_of_message_attributes = message.md5_of_message_attributes.clone();
    record.attributes = message
        .attributes()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
        .collect();
    record.message_attributes = message
        .message_attributes()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), attribute(v)))
        .collect();
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(queue_arn.to_owned());
    record.aws_region = Some(region.to_owned());
    record
}

fn attribute(value: &MessageAttributeValue) -> SqsMessageAttribute {
    let mut attribute = SqsMessageAttribute::default();
    attribute.data_type = Some(value.data_type().to_owned());
    attribute.string_value = value.string_value.clone();
    attribute.binary_value = value.binary_value.as_ref().map(|b| base64_data(b.as_ref()));
    attribute.string_list_values = value.string_list_values().to_vec();
    attribute.binary_list_values = value
        .binary_list_values()
        .iter()
        .map(|b| base64_data(b.as_ref()))
        .collect();
    attribute
}

fn base64_data(bytes: &[u8]) -> Base64Data {
    let mut data = Base64Data::default();
    data.extend_from_slice(bytes);
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::MessageSystemAttributeName;

    fn message() -> anyhow::Result<Message> {
        Ok(Message::builder()
            .message_id("19dd0b57-b21e-4ac1-bd88-01bbb068cb78")
            .receipt_handle("MessageReceiptHandle")
            .body("Hello from SQS!")
            .md5_of_body("7b270e59b47ff90a553787216d55d91d")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1523232000000")
            .attributes(MessageSystemAttributeName::SenderId, "123456789012")
            .attributes(
                MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
                "1523232000001",
            )
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("redriven")
                    .build()?,
            )
            .build())
    }

    #[test]
    fn a_record_has_the_shape_lambda_sends() -> anyhow::Result<()> {
        let event = build_event(&[message()?], "arn:aws:sqs:eu-west-1:123456789012:MyQueue");
        let json = serde_json::to_value(&event)?;
        // As `sam local generate-event sqs receive-message` prints it, plus a message attribute.
        let expected = serde_json::json!({
            "messageId": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
            "receiptHandle": "MessageReceiptHandle",
            "body": "Hello from SQS!",
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1523232000000",
                "SenderId": "123456789012",
                "ApproximateFirstReceiveTimestamp": "1523232000001"
            },
            "messageAttributes": {
                "kind": {
                    "stringValue": "redriven",
                    "binaryValue": null,
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": "String"
                }
            },
            "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
            "md5OfMessageAttributes": null,
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:MyQueue",
            "awsRegion": "eu-west-1"
        });
        assert_eq!(json["Records"][0], expected);
        // And the functions' own type reads it back.
        let back: SqsEvent = serde_json::from_value(json)?;
        assert_eq!(back, event);
        Ok(())
    }
}
