//! Errors of the store layer.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed: {0}")]
    Request(String),
    #[error("stored item does not map to a payment: {0}")]
    Mapping(#[from] serde_dynamo::Error),
    #[error("request could not be built: {0}")]
    Build(#[from] aws_sdk_dynamodb::error::BuildError),
}

impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>
    From<SdkError<E, R>> for StoreError
{
    fn from(err: SdkError<E, R>) -> Self {
        let detail = match err.as_service_error() {
            Some(service) => format!(
                "{}: {}",
                service.code().unwrap_or("unknown"),
                service.message().unwrap_or("")
            ),
            None => format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err)),
        };
        StoreError::Request(detail)
    }
}

impl StoreError {
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
