//! TransactWriteItems with DynamoDB's `TransactionConflict` handled. DynamoDB cancels a
//! transaction that touches an item another transaction is writing at that moment (two payments
//! on one day counter, or on one account); the SDK does not retry a cancellation. A cancelled
//! transaction wrote nothing, so sending it again is safe: it is retried here with jittered,
//! growing pauses, each attempt built afresh (so that it may pick another counter shard). When
//! conflicts outlast the attempts, the write is reported as [`StoreError::Unavailable`]: the
//! caller answers 503 with Retry-After, or lets the message be redelivered, as under an outage.

use super::error::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use std::time::Duration;

/// Attempts at one transaction before conflicts count as unavailability. With the pauses below
/// they span about a second, well inside an API request's budget.
pub const CONFLICT_ATTEMPTS: u32 = 8;
const FIRST_PAUSE_MS: u64 = 5;
const LONGEST_PAUSE_MS: u64 = 250;

/// A transaction that did not commit.
#[derive(Debug, thiserror::Error)]
pub enum TransactFailure {
    /// Cancelled because conditions did not hold: for each action in order, whether its
    /// condition failed.
    #[error("the transaction's conditions did not hold")]
    Conditions(Vec<bool>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Each action's cancellation code (`None`, `ConditionalCheckFailed`, `TransactionConflict`…),
/// in order, when `err` is a cancellation.
pub fn cancellation_codes<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<String>> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// What to do after a cancellation with these codes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cancelled {
    Conditions(Vec<bool>),
    Conflict,
    Other,
}

fn classify(codes: &[String]) -> Cancelled {
    if codes.iter().any(|c| c == "ConditionalCheckFailed") {
        Cancelled::Conditions(
            codes
                .iter()
                .map(|c| c == "ConditionalCheckFailed")
                .collect(),
        )
    } else if codes.iter().any(|c| c == "TransactionConflict") {
        Cancelled::Conflict
    } else {
        Cancelled::Other
    }
}

/// The pause before attempt `attempt + 1`: full jitter over an exponentially growing cap, so
/// that contenders which collided once do not collide again in step.
pub fn conflict_pause(attempt: u32) -> Duration {
    let cap = FIRST_PAUSE_MS
        .saturating_mul(1u64 << attempt.min(16))
        .min(LONGEST_PAUSE_MS);
    Duration::from_millis(rand::random_range(cap / 2..=cap))
}

/// Sends the transaction `build` makes, again after each `TransactionConflict` cancellation
/// (building it anew), up to [`CONFLICT_ATTEMPTS`] times.
pub async fn transact_write(
    client: &Client,
    mut build: impl FnMut() -> Result<Vec<TransactWriteItem>, StoreError>,
) -> Result<(), TransactFailure> {
    let mut attempt = 0;
    loop {
        let result = client
            .transact_write_items()
            .set_transact_items(Some(build()?))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        match cancellation_codes(&err).as_deref().map(classify) {
            Some(Cancelled::Conditions(failed)) => return Err(TransactFailure::Conditions(failed)),
            Some(Cancelled::Conflict) => {
                attempt += 1;
                if attempt >= CONFLICT_ATTEMPTS {
                    tracing::warn!(
                        attempts = attempt,
                        "transaction conflicts outlasted the retries"
                    );
                    return Err(StoreError::Unavailable(format!(
                        "TransactionConflict on {attempt} attempts in a row"
                    ))
                    .into());
                }
                tokio::time::sleep(conflict_pause(attempt)).await;
            }
            Some(Cancelled::Other) | None => return Err(StoreError::from(err).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_failed_condition_decides_a_conflict_is_retried_anything_else_is_not() {
        assert_eq!(
            classify(&codes(&[
                "None",
                "ConditionalCheckFailed",
                "TransactionConflict"
            ])),
            Cancelled::Conditions(vec![false, true, false])
        );
        assert_eq!(
            classify(&codes(&["None", "TransactionConflict"])),
            Cancelled::Conflict
        );
        assert_eq!(
            classify(&codes(&["ValidationError", "None"])),
            Cancelled::Other
        );
    }

    #[test]
    fn pauses_grow_to_a_cap_and_are_jittered() {
        for attempt in 0..40 {
            let pause = conflict_pause(attempt);
            assert!(pause <= Duration::from_millis(LONGEST_PAUSE_MS));
            assert!(pause >= Duration::from_millis(FIRST_PAUSE_MS / 2));
        }
        let firsts: std::collections::HashSet<_> = (0..50).map(|_| conflict_pause(8)).collect();
        assert!(firsts.len() > 1, "the pause is jittered");
    }
}
