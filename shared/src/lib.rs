//! payrail's domain crate: the types, the transactions store and the HTTP handlers that every
//! Lambda function in `functions/` wires together.

pub mod accounts;
pub mod auth;
pub mod cards;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod http;
pub mod logservice;
pub mod outbound;
pub mod payments;
pub mod queue;
pub mod redact;
pub mod refunds;
pub mod reports;
pub mod secrets;
pub mod sqs_batch;
pub mod store;
pub mod stream;
pub mod telemetry;
pub mod users;
