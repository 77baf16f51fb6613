//! The log service (SPEC §5): entries.

mod entry;

pub use entry::{ErrorType, LogEntry};
