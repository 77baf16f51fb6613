//! The log service (SPEC §5): entries, the HTTP client, and the two halves of delivery.
//!
//! Payment code never posts to the log service inline: it hands entries to an
//! [`ErrorReporter`], which writes a structured log line and queues the entry on SQS
//! (`LOG_QUEUE_URL`); the `log-forwarder` function consumes that queue with [`forward_batch`].
//! A log service that is down fails no payment and loses no entry: SQS keeps retrying, and
//! after the last receive the entry rests in the dead-letter queue.

mod client;
mod entry;
mod forwarder;
mod reporter;

pub use client::{LogServiceClient, NotDelivered};
pub use entry::{ErrorType, LogEntry};
pub use forwarder::{forward_batch, forward_batch_with_backoff};
pub use reporter::{ErrorReporter, MemoryReporter, SqsErrorReporter};
