//! What a gateway call came to (SPEC §5), decided by one pure function, [`classify`]:
//! 2xx accepted; 4xx other than 408 and 429 refused for good; everything else transient.
//! A call that got no answer says whether the request had left ([`TransientKind::Timeout`],
//! [`TransientKind::Reset`]: the gateway may have acted on it) or not
//! ([`TransientKind::NotSent`]: it cannot have), and a charge keeps that apart as
//! [`ChargeOutcome::Unanswered`], which the validator never turns into `failed`.

use crate::domain::ids::PaymentId;
use crate::domain::payment::{Failure, FailureKind, PaymentStatus};
use crate::logservice::{ErrorType, LogEntry};
use crate::outbound::Timeouts;
use crate::redact::{scrub_secrets, short_text};
use std::fmt;

/// Longest reason kept from a gateway's answer.
pub const MAX_REASON: usize = 200;

/// A final refusal: the gateway understood the call and said no (a decline, an over-refund).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// A short reason from the answer's body, if it gave one (scrubbed, truncated).
    pub reason: Option<String>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{}: {reason}", self.status),
            None => write!(f, "{}", self.status),
        }
    }
}

/// Why a call must be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransientKind {
    /// A 5xx answer.
    ServerError(u16),
    /// 429 Too Many Requests.
    Throttled,
    /// 408 Request Timeout.
    RequestTimeout,
    /// The connection could not be opened (refused, no route, DNS, TLS, the connect timeout):
    /// the request never left, so the gateway cannot have acted on it.
    NotSent,
    /// The request was sent and no answer came within the client's timeout: the gateway may
    /// have acted on it.
    Timeout,
    /// The request was sent and the connection was reset or closed before an answer (or the
    /// answer broke off): the gateway may have acted on it.
    Reset,
    /// An answer SPEC §5 does not classify (1xx, 3xx): retried, so that a misconfigured URL
    /// ends in the dead-letter queue rather than declining a customer's payment.
    Unexpected(u16),
}

impl TransientKind {
    /// The request reached the gateway and no answer came back: it may have charged.
    pub fn is_unanswered(self) -> bool {
        match self {
            TransientKind::Timeout | TransientKind::Reset => true,
            TransientKind::ServerError(_)
            | TransientKind::Throttled
            | TransientKind::RequestTimeout
            | TransientKind::NotSent
            | TransientKind::Unexpected(_) => false,
        }
    }
}

/// A transient failure, with a short scrubbed detail for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransientFailure {
    pub kind: TransientKind,
    pub detail: String,
}

impl TransientFailure {
    pub(crate) fn timeout(timeouts: Timeouts) -> Self {
        TransientFailure {
            kind: TransientKind::Timeout,
            detail: format!(
                "no answer within {} ms (connect timeout {} ms)",
                timeouts.request.as_millis(),
                timeouts.connect.as_millis()
            ),
        }
    }
}

impl fmt::Display for TransientFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransientKind::ServerError(status) => format!("answered {status}"),
            TransientKind::Throttled => "throttled the call (429)".to_owned(),
            TransientKind::RequestTimeout => "timed the request out (408)".to_owned(),
            TransientKind::NotSent => "could not be reached (nothing was sent)".to_owned(),
            TransientKind::Timeout => "did not answer in time".to_owned(),
            TransientKind::Reset => "dropped the connection before answering".to_owned(),
            TransientKind::Unexpected(status) => format!("answered an unexpected {status}"),
        };
        if self.detail.is_empty() {
            write!(f, "the gateway {what}")
        } else {
            write!(f, "the gateway {what}: {}", self.detail)
        }
    }
}

/// The classification of one answer, shared by charges and refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Refused(Rejection),
    Transient(TransientFailure),
}

/// Classifies an answer by its status; `body` (any prefix of it) only supplies the reason.
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    classify_sent(status, body, &[])
}

/// [`classify`], with `sent`, the secrets the request carried (the card number or wallet
/// token), removed from the reason wherever the body echoes them.
pub fn classify_sent(status: u16, body: &[u8], sent: &[&str]) -> Verdict {
    let reason = || reason(body, sent);
    let transient = |kind| {
        Verdict::Transient(TransientFailure {
            kind,
            detail: reason().unwrap_or_default(),
        })
    };
    match status {
        200..=299 => Verdict::Accepted,
        408 => transient(TransientKind::RequestTimeout),
        429 => transient(TransientKind::Throttled),
        400..=499 => Verdict::Refused(Rejection {
            status,
            reason: reason(),
        }),
        500..=599 => transient(TransientKind::ServerError(status)),
        _ => transient(TransientKind::Unexpected(status)),
    }
}

/// The first of `reason`, `error`, `message`, `detail`, `title` in a JSON object body, else a
/// plain-text body; scrubbed (of `sent`, card-like digits and token-like words) and cut to
/// [`MAX_REASON`].
fn reason(body: &[u8], sent: &[&str]) -> Option<String> {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => ["reason", "error", "message", "detail", "title"]
            .iter()
            .find_map(|key| map.get(*key).and_then(serde_json::Value::as_str))
            .map(str::to_owned)?,
        Ok(_) => return None,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text = scrub_secrets(&text, sent);
    Some(short_text(&text, MAX_REASON)).filter(|r| !r.is_empty())
}

/// What a charge came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// 2xx: the payment is valid → `succeeded`.
    Approved,
    /// A final 4xx → `declined`.
    Declined(Rejection),
    /// Retry later (the message goes back to the queue); the gateway deduplicates on
    /// `payment_id`, so a retry never charges twice. The gateway answered without deciding
    /// (5xx, 408, 429, 1xx/3xx), or the request never left ([`TransientKind::NotSent`]).
    Transient(TransientFailure),
    /// The request was sent and no answer came (a timeout, a reset): the gateway may have
    /// charged. Retried like a transient failure, but never made `failed` by running out of
    /// deliveries: only an answer or the reconciler's deadline ends it.
    Unanswered(TransientFailure),
}

impl From<Verdict> for ChargeOutcome {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Accepted => ChargeOutcome::Approved,
            Verdict::Refused(rejection) => ChargeOutcome::Declined(rejection),
            Verdict::Transient(failure) if failure.kind.is_unanswered() => {
                ChargeOutcome::Unanswered(failure)
            }
            Verdict::Transient(failure) => ChargeOutcome::Transient(failure),
        }
    }
}

impl ChargeOutcome {
    /// Approved or declined: no retry will change it.
    pub fn is_final(&self) -> bool {
        match self {
            ChargeOutcome::Approved | ChargeOutcome::Declined(_) => true,
            ChargeOutcome::Transient(_) | ChargeOutcome::Unanswered(_) => false,
        }
    }

    /// The payment's new status, for a final outcome.
    pub fn status(&self) -> Option<PaymentStatus> {
        match self {
            ChargeOutcome::Approved => Some(PaymentStatus::Succeeded),
            ChargeOutcome::Declined(_) => Some(PaymentStatus::Declined),
            ChargeOutcome::Transient(_) | ChargeOutcome::Unanswered(_) => None,
        }
    }

    /// `None` when approved; `Declined` or `Network` otherwise.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            ChargeOutcome::Approved => None,
            ChargeOutcome::Declined(_) => Some(FailureKind::Declined),
            ChargeOutcome::Transient(_) | ChargeOutcome::Unanswered(_) => {
                Some(FailureKind::Network)
            }
        }
    }

    /// The payment's `failure` field, when there is one.
    pub fn failure(&self) -> Option<Failure> {
        Some(Failure {
            error_type: self.failure_kind()?,
            message: self.description()?,
            unanswered_since: None,
        })
    }

    /// The log-service entry for this outcome (none when approved): a decline is `other`, a
    /// transient failure `network` (SPEC §5).
    pub fn log_entry(&self, payment_id: PaymentId) -> Option<LogEntry> {
        let kind = self.failure_kind()?;
        Some(LogEntry::new(
            Some(payment_id),
            ErrorType::from(kind),
            &self.description()?,
        ))
    }

    fn description(&self) -> Option<String> {
        match self {
            ChargeOutcome::Approved => None,
            ChargeOutcome::Declined(rejection) => {
                Some(format!("the gateway declined the payment ({rejection})"))
            }
            ChargeOutcome::Transient(failure) => Some(failure.to_string()),
            ChargeOutcome::Unanswered(failure) => {
                Some(format!("{failure} (the gateway may have charged)"))
            }
        }
    }
}

/// What a refund came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// 2xx: the gateway refunded (or had already refunded this `refund_id`).
    Refunded,
    /// A final 4xx: unknown payment (404), more than is left (409), …
    Rejected(Rejection),
    /// Retry later; the gateway deduplicates on `refund_id`.
    Transient(TransientFailure),
}

impl From<Verdict> for RefundOutcome {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Accepted => RefundOutcome::Refunded,
            Verdict::Refused(rejection) => RefundOutcome::Rejected(rejection),
            Verdict::Transient(failure) => RefundOutcome::Transient(failure),
        }
    }
}

impl RefundOutcome {
    pub fn is_final(&self) -> bool {
        match self {
            RefundOutcome::Refunded | RefundOutcome::Rejected(_) => true,
            RefundOutcome::Transient(_) => false,
        }
    }

    /// The log-service entry for this outcome (none when refunded): a rejection is `other`,
    /// a transient failure `network`.
    pub fn log_entry(&self, payment_id: PaymentId) -> Option<LogEntry> {
        let (error_type, description) = match self {
            RefundOutcome::Refunded => return None,
            RefundOutcome::Rejected(rejection) => (
                ErrorType::Other,
                format!("the gateway rejected the refund ({rejection})"),
            ),
            RefundOutcome::Transient(failure) => (ErrorType::Network, format!("refund: {failure}")),
        };
        Some(LogEntry::new(Some(payment_id), error_type, &description))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(verdict: &Verdict) -> Option<TransientKind> {
        match verdict {
            Verdict::Transient(failure) => Some(failure.kind),
            Verdict::Accepted | Verdict::Refused(_) => None,
        }
    }

    #[test]
    fn classifies_every_status_as_spec_section_5_says() {
        for status in 200..=299 {
            assert_eq!(classify(status, b""), Verdict::Accepted, "{status}");
        }
        for status in (400..=499).filter(|s| *s != 408 && *s != 429) {
            assert!(
                matches!(classify(status, b""), Verdict::Refused(Rejection { status: s, .. }) if s == status),
                "{status}"
            );
        }
        assert_eq!(
            kind(&classify(408, b"")),
            Some(TransientKind::RequestTimeout)
        );
        assert_eq!(kind(&classify(429, b"")), Some(TransientKind::Throttled));
        for status in 500..=599 {
            assert_eq!(
                kind(&classify(status, b"")),
                Some(TransientKind::ServerError(status))
            );
        }
        for status in [100, 101, 301, 302, 304, 307, 308, 600, 999] {
            assert_eq!(
                kind(&classify(status, b"")),
                Some(TransientKind::Unexpected(status))
            );
        }
    }

    #[test]
    fn keeps_a_short_scrubbed_reason_from_the_body() {
        let declined = br#"{"payment_id":"p","status":"declined","reason":"card declined"}"#;
        assert_eq!(
            classify(402, declined),
            Verdict::Refused(Rejection {
                status: 402,
                reason: Some("card declined".to_owned())
            })
        );
        let echoed = br#"{"error":"bad card 4111111111111111"}"#;
        let Verdict::Refused(rejection) = classify(422, echoed) else {
            unreachable!("422 is a refusal")
        };
        assert_eq!(rejection.reason.as_deref(), Some("bad card [redacted]"));
        let long = "x".repeat(5000);
        let Verdict::Refused(rejection) = classify(400, long.as_bytes()) else {
            unreachable!("400 is a refusal")
        };
        assert_eq!(
            rejection.reason.map(|r| r.chars().count()),
            Some(MAX_REASON)
        );
        assert_eq!(
            classify(404, b"[1,2]"),
            Verdict::Refused(Rejection {
                status: 404,
                reason: None
            })
        );
        assert_eq!(
            classify(404, b""),
            Verdict::Refused(Rejection {
                status: 404,
                reason: None
            })
        );
    }

    #[test]
    fn a_charge_outcome_says_what_the_payment_becomes_and_what_is_logged() {
        let id = PaymentId::new();
        assert!(ChargeOutcome::Approved.is_final());
        assert_eq!(
            ChargeOutcome::Approved.status(),
            Some(PaymentStatus::Succeeded)
        );
        assert_eq!(ChargeOutcome::Approved.log_entry(id), None);
        assert_eq!(ChargeOutcome::Approved.failure(), None);

        let declined = ChargeOutcome::from(classify(402, br#"{"reason":"card declined"}"#));
        assert!(declined.is_final());
        assert_eq!(declined.status(), Some(PaymentStatus::Declined));
        assert_eq!(declined.failure_kind(), Some(FailureKind::Declined));
        let entry = declined.log_entry(id);
        assert_eq!(
            entry.as_ref().map(LogEntry::error_type),
            Some(ErrorType::Other)
        );
        assert_eq!(
            entry.as_ref().map(LogEntry::error_description),
            Some("the gateway declined the payment (402: card declined)")
        );

        let unavailable = ChargeOutcome::from(classify(503, br#"{"error":"try again"}"#));
        assert!(!unavailable.is_final());
        assert_eq!(unavailable.status(), None);
        assert_eq!(
            unavailable.failure().map(|f| (f.error_type, f.message)),
            Some((
                FailureKind::Network,
                "the gateway answered 503: try again".to_owned()
            ))
        );
        assert_eq!(
            unavailable.log_entry(id).map(|e| e.error_type()),
            Some(ErrorType::Network)
        );
    }

    fn failed(kind: TransientKind) -> Verdict {
        Verdict::Transient(TransientFailure {
            kind,
            detail: String::new(),
        })
    }

    #[test]
    fn a_charge_sent_without_an_answer_is_unanswered_and_one_never_sent_is_transient() {
        for kind in [TransientKind::Timeout, TransientKind::Reset] {
            let outcome = ChargeOutcome::from(failed(kind));
            assert!(
                matches!(outcome, ChargeOutcome::Unanswered(_)),
                "{kind:?}: {outcome:?}"
            );
            assert!(!outcome.is_final());
            assert_eq!(outcome.status(), None);
            assert_eq!(outcome.failure_kind(), Some(FailureKind::Network));
            assert_eq!(
                outcome.log_entry(PaymentId::new()).map(|e| e.error_type()),
                Some(ErrorType::Network)
            );
        }
        for kind in [
            TransientKind::NotSent,
            TransientKind::ServerError(503),
            TransientKind::Throttled,
            TransientKind::RequestTimeout,
            TransientKind::Unexpected(302),
        ] {
            let outcome = ChargeOutcome::from(failed(kind));
            assert!(
                matches!(outcome, ChargeOutcome::Transient(_)),
                "{kind:?}: {outcome:?}"
            );
        }
    }

    #[test]
    fn a_reason_echoing_the_wallet_token_or_card_digits_is_scrubbed() {
        let token = "wtk_live_7a6b5c4d";
        let body = format!(
            r#"{{"reason":"token {token} declined; dpan 4000 0012 3456 7899 (not luhn: 1234567890123)"}}"#
        );
        let Verdict::Refused(rejection) = classify_sent(402, body.as_bytes(), &[token]) else {
            unreachable!("402 is a refusal")
        };
        let reason = rejection.reason.unwrap_or_default();
        assert_eq!(
            reason,
            "token [redacted] declined; dpan [redacted] (not luhn: [redacted])"
        );
        let Verdict::Transient(failure) =
            classify_sent(503, format!("overloaded for {token}").as_bytes(), &[token])
        else {
            unreachable!("503 is transient")
        };
        assert_eq!(failure.detail, "overloaded for [redacted]");
    }

    #[test]
    fn a_refund_outcome_is_final_unless_transient() {
        let id = PaymentId::new();
        assert!(RefundOutcome::from(classify(200, b"")).is_final());
        let over = RefundOutcome::from(classify(
            409,
            br#"{"error":"the refund exceeds what is left"}"#,
        ));
        assert!(over.is_final());
        assert_eq!(
            over.log_entry(id).map(|e| e.error_description().to_owned()),
            Some(
                "the gateway rejected the refund (409: the refund exceeds what is left)".to_owned()
            )
        );
        let throttled = RefundOutcome::from(classify(429, b""));
        assert!(!throttled.is_final());
        assert_eq!(
            throttled.log_entry(id).map(|e| e.error_type()),
            Some(ErrorType::Network)
        );
    }
}
