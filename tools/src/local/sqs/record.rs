//! An opt-in record of every message the event sources deliver (`local-stack event-sources
//! --record FILE`): one JSON line per delivered message, appended before the function is
//! invoked, so that tests can inspect what went through the queues (the card-data scan, how
//! often a message was delivered). For tests only: it writes message bodies to disk.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde::Serialize;

/// One line of the record.
#[derive(Debug, Serialize)]
struct Line<'a> {
    /// The queue's logical id in the template.
    queue: &'a str,
    message_id: &'a str,
    /// ApproximateReceiveCount of this delivery (1 for the first).
    receive_count: u32,
    body: &'a str,
}

#[derive(Debug)]
pub struct DeliveryRecord {
    file: Mutex<File>,
}

impl DeliveryRecord {
    /// Opens (creating it if needed) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(DeliveryRecord {
            file: Mutex::new(file),
        })
    }

    /// Appends one line per message of a batch delivered from `queue`, in one write so that
    /// concurrent pollers never interleave within a line. Best effort: a failed write is
    /// logged, and the delivery goes on.
    pub fn append(&self, queue: &str, messages: &[Message]) {
        let mut text = String::new();
        for message in messages {
            let line = Line {
                queue,
                message_id: message.message_id().unwrap_or_default(),
                receive_count: message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
                body: message.body().unwrap_or_default(),
            };
            match serde_json::to_string(&line) {
                Ok(json) => {
                    text.push_str(&json);
                    text.push('\n');
                }
                Err(e) => tracing::warn!(queue, "a delivery could not be recorded: {e}"),
            }
        }
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            tracing::warn!(queue, "the delivery record could not be written: {e}");
        }
    }
}
