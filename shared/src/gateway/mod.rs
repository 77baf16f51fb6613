//! The payment gateway client (SPEC §5): charges and refunds over HTTP, each answer classified
//! once, here, as final (approved / declined, refunded / rejected) or transient (retry).

mod client;
mod outcome;

pub use crate::outbound::{ClientConfigError, Timeouts};
pub use client::{ChargeRequest, Charged, GatewayClient, RefundRequest};
pub use outcome::{
    ChargeOutcome, MAX_REASON, RefundOutcome, Rejection, TransientFailure, TransientKind, Verdict,
    classify, classify_sent,
};
