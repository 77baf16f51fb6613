//! The message that makes sure a pending online refund is finished: POST /payments/{id}/refunds
//! puts it on the `online` queue (delayed) before it calls the gateway, and the validator
//! finishes the refund from it if the request could not (SPEC §4's queue, a second kind of
//! message told apart by its `refund_id`). It names the refund only: the amount and the rest
//! are read from the stored refund.

use super::RefundId;
use crate::domain::{PaymentId, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundMessage {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    /// The refund's `created_at`: with the two ids, its key in the table.
    pub created_at: Timestamp,
}

impl RefundMessage {
    /// Whether a queue message body is a refund message rather than a payment.
    pub fn is_refund(body: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .is_some_and(|v| v.get("refund_id").is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_refund_messages_from_payments() -> Result<(), serde_json::Error> {
        let message = RefundMessage {
            refund_id: RefundId::new(),
            payment_id: PaymentId::new(),
            created_at: Timestamp::from_millis(1_700_000_000_000),
        };
        let body = serde_json::to_string(&message)?;
        assert!(RefundMessage::is_refund(&body));
        assert_eq!(serde_json::from_str::<RefundMessage>(&body)?, message);
        let payment = r#"{"payment_id":"x","account_id":1,"payment_type":"online","credit_card":"4111111111111111","amount":5}"#;
        assert!(!RefundMessage::is_refund(payment));
        assert!(!RefundMessage::is_refund("not json"));
        Ok(())
    }
}
