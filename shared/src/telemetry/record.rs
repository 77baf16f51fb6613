//! The business metrics, one function per fact. Every metric carries the `Stage` dimension;
//! the others are small closed sets (statuses, outcomes), so that the number of metrics stays
//! bounded (CloudWatch bills each name × dimension values). No metric or dimension ever holds a
//! payment's data: amounts in different currencies do not add up, and card data never leaves
//! the payment's own record.
//!
//! | metric | unit | dimensions | counted |
//! |---|---|---|---|
//! | `Payments` | Count | Stage, Status | when a payment's write in that status commits |
//! | `Refunds` | Count | Stage, Status | when a refund's write in that status commits |
//! | `GatewayLatency` | Milliseconds | Stage, Operation | each call to the gateway, answered or not |
//! | `GatewayCalls` | Count | Stage, Operation, Outcome | each call to the gateway |
//! | `LogDeliveryFailures` | Count | Stage, Reason | an error report not delivered (retried) |
//! | `ColdStart` | Count | Stage, Function | each cold start of a function |
//! | `ChargesUnanswered` | Count | Stage | a payment kept `pending` on its message's last delivery because the gateway may have charged it (alarm) |
//! | `ChargesGivenUp` | Count | Stage | such a payment marked `failed` by the reconciler at its deadline, still unanswered (alarm) |

use crate::domain::PaymentStatus;
use crate::gateway::{TransientKind, Verdict};
use crate::refunds::RefundStatus;
use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use std::time::Duration;

pub const STAGE: &str = "Stage";
pub const PAYMENTS: &str = "Payments";
pub const REFUNDS: &str = "Refunds";
pub const GATEWAY_LATENCY: &str = "GatewayLatency";
pub const GATEWAY_CALLS: &str = "GatewayCalls";
pub const LOG_DELIVERY_FAILURES: &str = "LogDeliveryFailures";
pub const COLD_START: &str = "ColdStart";
pub const CHARGES_UNANSWERED: &str = "ChargesUnanswered";
pub const CHARGES_GIVEN_UP: &str = "ChargesGivenUp";

/// The gateway's two endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayOperation {
    Charge,
    Refund,
}

/// Why an error report did not reach the log service (it is retried, then dead-lettered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDeliveryFailure {
    /// The log service answered, but not 2xx.
    Refused,
    /// No answer: down, timed out, connection refused.
    Unreachable,
    /// The queue message is not a log entry (it goes to the dead-letter queue).
    Unreadable,
    /// The report could not even be put on the log queue (only the function's log has it).
    NotQueued,
}

/// Sets the units; called once, after the recorder is installed.
pub(super) fn describe() {
    describe_counter!(PAYMENTS, Unit::Count, "payments that reached a status");
    describe_counter!(REFUNDS, Unit::Count, "refunds that reached a status");
    describe_histogram!(GATEWAY_LATENCY, Unit::Milliseconds, "gateway call duration");
    describe_counter!(GATEWAY_CALLS, Unit::Count, "gateway calls by outcome");
    describe_counter!(
        LOG_DELIVERY_FAILURES,
        Unit::Count,
        "undelivered error reports"
    );
    describe_counter!(COLD_START, Unit::Count, "cold starts");
    describe_counter!(
        CHARGES_UNANSWERED,
        Unit::Count,
        "payments kept pending: the gateway may have charged"
    );
    describe_counter!(
        CHARGES_GIVEN_UP,
        Unit::Count,
        "unanswered payments failed at the deadline"
    );
}

pub fn charge_unanswered() {
    counter!(CHARGES_UNANSWERED).increment(1);
}

pub fn charge_given_up() {
    counter!(CHARGES_GIVEN_UP).increment(1);
}

pub fn payment_reached(status: PaymentStatus) {
    counter!(PAYMENTS, "Status" => payment_status(status)).increment(1);
}

pub fn refund_reached(status: RefundStatus) {
    counter!(REFUNDS, "Status" => refund_status(status)).increment(1);
}

pub fn gateway_call(operation: GatewayOperation, verdict: &Verdict, elapsed: Duration) {
    let operation = match operation {
        GatewayOperation::Charge => "charge",
        GatewayOperation::Refund => "refund",
    };
    // Milliseconds with their fraction: sub-millisecond answers (a local simulator) are not 0.
    let millis = elapsed.as_micros() as f64 / 1000.0;
    histogram!(GATEWAY_LATENCY, "Operation" => operation).record(millis);
    counter!(GATEWAY_CALLS, "Operation" => operation, "Outcome" => gateway_outcome(verdict))
        .increment(1);
}

pub fn log_delivery_failed(reason: LogDeliveryFailure) {
    let reason = match reason {
        LogDeliveryFailure::Refused => "refused",
        LogDeliveryFailure::Unreachable => "unreachable",
        LogDeliveryFailure::Unreadable => "unreadable",
        LogDeliveryFailure::NotQueued => "not_queued",
    };
    counter!(LOG_DELIVERY_FAILURES, "Reason" => reason).increment(1);
}

pub(super) fn cold_start(function: &'static str) {
    counter!(COLD_START, "Function" => function).increment(1);
}

/// The `Outcome` dimension: `approved` (2xx), `declined` (a final 4xx), or the kind of
/// transient failure, which tells a gateway outage (`server_error`) from a network problem
/// (`not_sent`: nothing left; `timeout`, `reset`: sent, unanswered) and from being throttled.
pub fn gateway_outcome(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Accepted => "approved",
        Verdict::Refused(_) => "declined",
        Verdict::Transient(failure) => match failure.kind {
            TransientKind::ServerError(_) => "server_error",
            TransientKind::Throttled => "throttled",
            TransientKind::RequestTimeout => "request_timeout",
            TransientKind::NotSent => "not_sent",
            TransientKind::Timeout => "timeout",
            TransientKind::Reset => "reset",
            TransientKind::Unexpected(_) => "unexpected",
        },
    }
}

/// The status as the API spells it.
pub fn payment_status(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Created => "created",
        PaymentStatus::Pending => "pending",
        PaymentStatus::Succeeded => "succeeded",
        PaymentStatus::Declined => "declined",
        PaymentStatus::Failed => "failed",
        PaymentStatus::PartiallyRefunded => "partially_refunded",
        PaymentStatus::Refunded => "refunded",
    }
}

pub fn refund_status(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::Pending => "pending",
        RefundStatus::Succeeded => "succeeded",
        RefundStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_spelled_as_the_api_serializes_them() -> Result<(), serde_json::Error> {
        for status in [
            PaymentStatus::Created,
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Declined,
            PaymentStatus::Failed,
            PaymentStatus::PartiallyRefunded,
            PaymentStatus::Refunded,
        ] {
            assert_eq!(serde_json::to_value(status)?, payment_status(status));
        }
        for status in [
            RefundStatus::Pending,
            RefundStatus::Succeeded,
            RefundStatus::Failed,
        ] {
            assert_eq!(serde_json::to_value(status)?, refund_status(status));
        }
        Ok(())
    }

    #[test]
    fn each_kind_of_gateway_answer_has_its_outcome() {
        use crate::gateway::classify;
        assert_eq!(gateway_outcome(&classify(201, b"")), "approved");
        assert_eq!(gateway_outcome(&classify(402, b"")), "declined");
        assert_eq!(gateway_outcome(&classify(503, b"")), "server_error");
        assert_eq!(gateway_outcome(&classify(429, b"")), "throttled");
        assert_eq!(gateway_outcome(&classify(408, b"")), "request_timeout");
        assert_eq!(gateway_outcome(&classify(302, b"")), "unexpected");
    }
}
