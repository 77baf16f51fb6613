//! Payments: the create request, idempotency, the stream message, and creating/processing.

pub mod idempotency;
pub mod message;
pub mod request;
pub mod sealing;
pub mod service;

pub use idempotency::{DynamoIdempotency, IdempotencyKey};
pub use message::StreamMessage;
pub use request::CreatePayment;
pub use sealing::{SealCards, SealingError};
pub use service::{Outcome, Payments};
