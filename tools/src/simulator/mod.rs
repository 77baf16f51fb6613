//! The payment gateway and log service simulator (SPEC §5): compatible with the upstream one
//! (`/payment`, `/refund`, `/log` taking `error_type` or `error`, `/logs`), with configurable,
//! seeded latency, transient failures (5xx, 429, timeout, connection reset) and declines. The
//! local stack and the tests point `GATEWAY_URL` and `LOG_URL` at it.

pub mod behaviour;
pub mod server;

pub use behaviour::{Behaviour, FailureKind};
pub use server::{Charge, LogEntry, Outcome, Simulator, router};
