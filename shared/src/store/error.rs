//! Errors of the store layer.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed: {0}")]
    Request(String),
    /// DynamoDB could not be reached, timed out, throttled or failed on its side (after the
    /// SDK's own retries): the same request may well succeed later.
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    #[error("stored item does not map to a payment: {0}")]
    Mapping(#[from] serde_dynamo::Error),
    #[error("request could not be built: {0}")]
    Build(#[from] aws_sdk_dynamodb::error::BuildError),
}

impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>
    From<SdkError<E, R>> for StoreError
{
    fn from(err: SdkError<E, R>) -> Self {
        match err.as_service_error() {
            Some(service) => {
                let code = service.code().unwrap_or("unknown");
                let detail = format!("{code}: {}", service.message().unwrap_or(""));
                if TRANSIENT_CODES.contains(&code) {
                    StoreError::Unavailable(detail)
                } else {
                    StoreError::Request(detail)
                }
            }
            None => {
                let detail = format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err));
                match err {
                    // Never sent: the request could not be built.
                    SdkError::ConstructionFailure(_) => StoreError::Request(detail),
                    // No answer (connection refused or reset, timeout) or an unreadable one.
                    _ => StoreError::Unavailable(detail),
                }
            }
        }
    }
}

/// Error codes DynamoDB answers when the request itself was fine and may succeed later.
const TRANSIENT_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
];

impl StoreError {
    /// True when retrying the same request later may succeed (see [`StoreError::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// True when a single-item write was refused because its condition did not hold.
    pub fn is_conditional_check_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
        err.as_service_error().and_then(ProvideErrorMetadata::code)
            == Some("ConditionalCheckFailedException")
    }

    /// True when a TransactWriteItems was cancelled only because a condition did not hold.
    pub fn is_condition_failure<R>(
        err: &SdkError<
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
            R,
        >,
    ) -> bool {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
                .cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed")),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::http::HttpResponse as Raw;
    use aws_sdk_dynamodb::error::ConnectorError;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    #[test]
    fn an_unreachable_or_throttling_dynamodb_is_transient_a_refused_request_is_not() {
        let refused: SdkError<GetItemError, Raw> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        assert!(StoreError::from(refused).is_transient());

        let service = |code: &str| {
            let meta = aws_sdk_dynamodb::error::ErrorMetadata::builder()
                .code(code)
                .message("m")
                .build();
            let raw = Raw::new(
                400u16.try_into().unwrap_or_else(|_| unreachable!()),
                aws_smithy_types::body::SdkBody::empty(),
            );
            StoreError::from(SdkError::<GetItemError, Raw>::service_error(
                GetItemError::generic(meta),
                raw,
            ))
        };
        assert!(service("ProvisionedThroughputExceededException").is_transient());
        assert!(!service("ValidationException").is_transient());
        assert!(!service("ResourceNotFoundException").is_transient());
    }
}
