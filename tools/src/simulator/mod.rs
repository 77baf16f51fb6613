//! The payment gateway and log service simulator (SPEC §5): compatible with the upstream one
//! (`/payment`, `/refund`, `/log` taking `error_type` or `error`, `/logs`), with configurable,
//! seeded latency, transient failures (5xx, 429, timeout, connection reset) and declines; and
//! the upstream payment stream into the online and offline queues (`/start`, [`stream`]). The
//! local stack and the tests point `GATEWAY_URL` and `LOG_URL` at it.

pub mod behaviour;
pub mod server;
pub mod stream;

pub use behaviour::{Behaviour, FailureKind};
pub use server::{Charge, LogEntry, Outcome, Simulator, router};
pub use stream::{StreamStatus, StreamTarget};
