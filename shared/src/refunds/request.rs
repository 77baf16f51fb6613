//! The body of POST /payments/{id}/refunds: `{amount?, reason?}`. No amount refunds all that is
//! left; an empty body (or JSON `null`, as the OpenAPI document allows) is taken as `{}`: a
//! full refund needs nothing more.

use crate::domain::MinorUnits;
use crate::http::ApiError;
use crate::http::body::{self, Fields, integer, text};
use crate::redact::scrub_card_numbers;
use serde::Deserialize;
use utoipa::ToSchema;

/// Longest `reason` kept.
pub const MAX_REASON: usize = 500;

/// A valid refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRefund {
    /// `None`: everything that is left.
    pub amount: Option<MinorUnits>,
    pub reason: Option<String>,
}

/// Body of POST /payments/{id}/refunds.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RefundBody {
    /// Minor units of the payment's currency, at most what is left to refund; absent: all of it.
    #[schema(minimum = 1, maximum = 999_999_999_999_999_i64, example = 500)]
    amount: Option<u64>,
    /// Why the money goes back (kept with the refund).
    #[schema(min_length = 1, max_length = 500, example = "returned item")]
    reason: Option<String>,
}

const FIELDS: [&str; 2] = ["amount", "reason"];

impl CreateRefund {
    pub fn parse(body: &[u8]) -> Result<CreateRefund, ApiError> {
        let trimmed = body.trim_ascii();
        let object = if trimmed.is_empty() || trimmed == b"null" {
            serde_json::Map::new()
        } else {
            body::object(body)?
        };
        let mut errors = Vec::new();
        let mut f = Fields::new(&object, &FIELDS, &mut errors);
        let amount = f.optional("amount", |v| {
            integer(1, MinorUnits::MAX)(v)
                .and_then(|n| MinorUnits::new(n).map_err(|e| e.to_string()))
        });
        // Free text kept with the refund: a card number typed into it is not stored in clear.
        let reason = f
            .optional("reason", text(MAX_REASON))
            .map(|r| scrub_card_numbers(&r));
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
        Ok(CreateRefund { amount, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => vec![format!("not a 422: {other}")],
        }
    }

    #[test]
    fn an_empty_body_or_object_is_a_full_refund() -> Result<(), ApiError> {
        let full = CreateRefund {
            amount: None,
            reason: None,
        };
        assert_eq!(CreateRefund::parse(b"")?, full);
        assert_eq!(CreateRefund::parse(b" {} ")?, full);
        assert_eq!(CreateRefund::parse(b"null")?, full);
        assert_eq!(CreateRefund::parse(br#"{"amount": null}"#)?, full);
        Ok(())
    }

    #[test]
    fn reads_an_amount_and_a_reason() -> Result<(), ApiError> {
        let parsed = CreateRefund::parse(br#"{"amount": 250, "reason": "damaged"}"#)?;
        assert_eq!(parsed.amount.map(|a| a.get()), Some(250));
        assert_eq!(parsed.reason.as_deref(), Some("damaged"));
        Ok(())
    }

    #[test]
    fn names_each_bad_field() {
        let long = "x".repeat(MAX_REASON + 1);
        for (body, field) in [
            (r#"{"amount": 0}"#.to_owned(), "amount"),
            (r#"{"amount": -5}"#.to_owned(), "amount"),
            (r#"{"amount": 1.5}"#.to_owned(), "amount"),
            (r#"{"amount": "10"}"#.to_owned(), "amount"),
            (r#"{"amount": 1000000000000000}"#.to_owned(), "amount"),
            (format!(r#"{{"reason": "{long}"}}"#), "reason"),
            (r#"{"reason": ""}"#.to_owned(), "reason"),
            (r#"{"reason": 5}"#.to_owned(), "reason"),
            (r#"{"currency": "GBP"}"#.to_owned(), "currency"),
        ] {
            let err = CreateRefund::parse(body.as_bytes()).err();
            assert_eq!(err.map(fields), Some(vec![field.to_owned()]), "{body}");
        }
    }

    #[test]
    fn a_card_number_in_the_reason_is_not_kept() -> Result<(), ApiError> {
        let parsed =
            CreateRefund::parse(br#"{"reason": "card 4111 1111 1111 1111 charged twice"}"#)?;
        assert_eq!(
            parsed.reason.as_deref(),
            Some("card [redacted] charged twice")
        );
        Ok(())
    }

    #[test]
    fn malformed_json_is_a_400() {
        assert!(matches!(
            CreateRefund::parse(b"{amount"),
            Err(ApiError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn accepts_exactly_the_positive_amounts_in_range(n in any::<i64>()) {
            let parsed = CreateRefund::parse(format!(r#"{{"amount": {n}}}"#).as_bytes());
            let valid = n >= 1 && n.unsigned_abs() <= MinorUnits::MAX;
            prop_assert_eq!(parsed.is_ok(), valid);
            if let Ok(r) = parsed {
                prop_assert_eq!(r.amount.map(|a| a.get()), Some(n.unsigned_abs()));
            }
        }

        #[test]
        fn accepts_reasons_up_to_the_limit(reason in "[a-zA-Z0-9 ,.]{1,600}") {
            let body = serde_json::json!({"reason": reason}).to_string();
            let parsed = CreateRefund::parse(body.as_bytes());
            prop_assert_eq!(parsed.is_ok(), reason.chars().count() <= MAX_REASON);
        }
    }
}
