//! One entry for the log service: `{payment_id, error_type, error_description}` (SPEC §5).

use crate::domain::ids::PaymentId;
use crate::domain::payment::FailureKind;
use crate::redact::short_text;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The log service's error classes (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// Storage: DynamoDB refused or failed a read or write.
    Database,
    /// The gateway was unreachable, answered 5xx, 408 or 429, or timed out.
    Network,
    /// Everything else, declines included.
    Other,
}

impl ErrorType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorType::Database => "database",
            ErrorType::Network => "network",
            ErrorType::Other => "other",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<FailureKind> for ErrorType {
    /// A decline is a business outcome, logged as `other` (SPEC §5).
    fn from(kind: FailureKind) -> Self {
        match kind {
            FailureKind::Database => ErrorType::Database,
            FailureKind::Network => ErrorType::Network,
            FailureKind::Other | FailureKind::Declined => ErrorType::Other,
        }
    }
}

/// An error as the log service receives it. The description is scrubbed of anything that looks
/// like a card number and cut to [`LogEntry::MAX_DESCRIPTION`] characters by every constructor,
/// deserialization included, so no entry can carry one, whatever text went in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawEntry")]
pub struct LogEntry {
    payment_id: Option<PaymentId>,
    error_type: ErrorType,
    error_description: String,
}

/// The wire shape, before scrubbing.
#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    payment_id: Option<PaymentId>,
    error_type: ErrorType,
    #[serde(default)]
    error_description: String,
}

impl From<RawEntry> for LogEntry {
    fn from(raw: RawEntry) -> Self {
        LogEntry::new(raw.payment_id, raw.error_type, &raw.error_description)
    }
}

impl LogEntry {
    /// Room for a cause chain, small enough for a log line and an SQS message.
    pub const MAX_DESCRIPTION: usize = 1000;

    /// An entry about `payment_id` (or about no payment: `payment_id` is sent as `null`).
    pub fn new(payment_id: Option<PaymentId>, error_type: ErrorType, description: &str) -> Self {
        LogEntry {
            payment_id,
            error_type,
            error_description: short_text(description, Self::MAX_DESCRIPTION),
        }
    }

    pub fn payment_id(&self) -> Option<PaymentId> {
        self.payment_id
    }

    pub fn error_type(&self) -> ErrorType {
        self.error_type
    }

    pub fn error_description(&self) -> &str {
        &self.error_description
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn serializes_as_the_log_service_expects() -> Result<(), serde_json::Error> {
        let id = PaymentId::new();
        let entry = LogEntry::new(Some(id), ErrorType::Network, "gateway answered 503");
        assert_eq!(
            serde_json::to_value(&entry)?,
            json!({"payment_id": id.to_string(), "error_type": "network",
                   "error_description": "gateway answered 503"})
        );
        let orphan = LogEntry::new(None, ErrorType::Database, "table unreachable");
        assert_eq!(serde_json::to_value(&orphan)?["payment_id"], json!(null));
        Ok(())
    }

    #[test]
    fn declines_are_logged_as_other() {
        assert_eq!(ErrorType::from(FailureKind::Declined), ErrorType::Other);
        assert_eq!(ErrorType::from(FailureKind::Network), ErrorType::Network);
        assert_eq!(ErrorType::from(FailureKind::Database), ErrorType::Database);
    }

    #[test]
    fn a_deserialized_entry_is_scrubbed_too() -> Result<(), serde_json::Error> {
        let wire = json!({"payment_id": null, "error_type": "other",
                          "error_description": "echo: 4111 1111 1111 1111"});
        let entry: LogEntry = serde_json::from_value(wire)?;
        assert_eq!(entry.error_description(), "echo: [redacted]");
        assert!(serde_json::from_value::<LogEntry>(json!({"error_type": "nope"})).is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn no_card_number_reaches_the_log_service(
            before in ".{0,60}",
            number in "[0-9]{12,19}",
            dashes in any::<bool>(),
            after in ".{0,60}",
        ) {
            let shown = if dashes {
                number.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>().join("-")
            } else {
                number.clone()
            };
            let entry = LogEntry::new(None, ErrorType::Other, &format!("{before}{shown}{after}"));
            let wire = serde_json::to_string(&entry).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(!wire.contains(&number));
            prop_assert!(!wire.contains(&shown));
            prop_assert!(entry.error_description().chars().count() <= LogEntry::MAX_DESCRIPTION);
        }
    }
}
