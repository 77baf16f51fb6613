//! The failed-login counters in DynamoDB (template.yaml `LoginAttemptsTable`, key `pk`, TTL
//! `expires_at`). TTL deletes items lazily (hours to days late), so every read checks
//! `expires_at` itself.

use super::{
    Admission, AttemptKey, Decision, Limit, LoginAttempts, LoginLimits, Observed, Refusal,
    Reservation, UserFailures,
};
use crate::domain::Timestamp;
use crate::store::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct DynamoLoginAttempts {
    client: Client,
    table: String,
    limits: LoginLimits,
}

type Item = HashMap<String, AttributeValue>;

impl DynamoLoginAttempts {
    pub fn new(client: Client, table: impl Into<String>, limits: LoginLimits) -> Self {
        DynamoLoginAttempts {
            client,
            table: table.into(),
            limits,
        }
    }

    pub fn limits(&self) -> &LoginLimits {
        &self.limits
    }

    /// The item, unless absent or past its `expires_at`.
    async fn live(&self, pk: String, now: Timestamp) -> Result<Option<Item>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .consistent_read(true)
            .send()
            .await?
            .item;
        Ok(item.filter(|i| number(i, "expires_at").is_none_or(|e| e * 1000 > now.millis())))
    }

    async fn observe(&self, key: &AttemptKey, now: Timestamp) -> Result<Observed, StoreError> {
        let window = self.limits.window(now);
        let (pair, source, known, user) = futures::try_join!(
            self.live(key.pair(window), now),
            self.live(key.source(window), now),
            self.live(key.known(), now),
            self.live(key.user(), now),
        )?;
        let count = |item: &Option<Item>| {
            item.as_ref()
                .and_then(|i| number(i, "failures"))
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0)
        };
        let user_failures = UserFailures {
            failures: count(&user),
            last_failure: user
                .as_ref()
                .and_then(|i| number(i, "last_failure_at"))
                .map(Timestamp::from_millis),
            claim: user.as_ref().and_then(|i| match i.get("claim") {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            }),
        };
        Ok(Observed {
            pair_failures: count(&pair),
            source_failures: count(&source),
            known: known.is_some(),
            user: user_failures,
        })
    }

    /// `ADD failures 1` on a windowed counter, on condition it is still below `limit`.
    fn count_in_window(
        &self,
        pk: String,
        limit: u32,
        expires_at: i64,
    ) -> Result<Update, StoreError> {
        Ok(Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .update_expression("ADD failures :one SET expires_at = :exp")
            .condition_expression("attribute_not_exists(failures) OR failures < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .expression_attribute_values(":exp", n(expires_at))
            .build()?)
    }
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// Epoch seconds for DynamoDB TTL, rounded up.
fn ttl_seconds(at: Timestamp) -> i64 {
    at.millis().div_euclid(1000) + 1
}

impl LoginAttempts for DynamoLoginAttempts {
    async fn begin(&self, key: &AttemptKey, now: Timestamp) -> Result<Admission, StoreError> {
        let seen = self.observe(key, now).await?;
        if let Decision::Refuse(refusal) = self.limits.decide(&seen, now) {
            return Ok(Admission::Refused(refusal));
        }
        let window = self.limits.window(now);
        // Kept a window past its end, so a straggler's read still sees it (and checks the time).
        let window_ttl = ttl_seconds(window.end.plus(self.limits.window_ms));
        let claim = uuid::Uuid::new_v4().to_string();
        let mut updates = vec![self.count_in_window(
            key.pair(window),
            self.limits.per_user_and_source,
            window_ttl,
        )?];
        if !seen.known {
            updates.push(self.count_in_window(
                key.source(window),
                self.limits.per_source,
                window_ttl,
            )?);
            let failures = self.limits.recent_user_failures(&seen.user, now);
            let (condition, previous) = match &seen.user.claim {
                Some(previous) => ("claim = :previous", Some(previous.clone())),
                None => ("attribute_not_exists(claim)", None),
            };
            let user = Update::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key.user()))
                .update_expression(
                    "SET failures = :failures, last_failure_at = :now, claim = :claim, \
                     expires_at = :exp",
                )
                .condition_expression(condition)
                .set_expression_attribute_values(Some({
                    let mut values = HashMap::from([
                        (":failures".to_owned(), n(i64::from(failures) + 1)),
                        (":now".to_owned(), n(now.millis())),
                        (":claim".to_owned(), AttributeValue::S(claim.clone())),
                        (
                            ":exp".to_owned(),
                            n(ttl_seconds(now.plus(self.limits.user_memory_ms))),
                        ),
                    ]);
                    if let Some(previous) = previous {
                        values.insert(":previous".to_owned(), AttributeValue::S(previous));
                    }
                    values
                }))
                .build()?;
            updates.push(user);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(
                updates
                    .into_iter()
                    .map(|u| TransactWriteItem::builder().update(u).build())
                    .collect(),
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Admission::Admitted(Reservation {
                key: key.clone(),
                window,
                counted_unknown: !seen.known,
                claim,
            })),
            // Another attempt changed a counter since it was read (a limit reached, the
            // username's record claimed): refused, and the next try reads the new state.
            Err(e) if raced(&e) => Ok(Admission::Refused(Refusal {
                limit: Limit::Concurrent,
                retry_after_seconds: 1,
            })),
            Err(e) => Err(e.into()),
        }
    }

    async fn succeeded(&self, reservation: &Reservation, now: Timestamp) -> Result<(), StoreError> {
        let key = &reservation.key;
        let forget_pair = async {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key.pair(reservation.window)))
                .send()
                .await
                .map(|_| ())
                .map_err(StoreError::from)
        };
        let known = async {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(key.known()))
                .item(
                    "expires_at",
                    n(ttl_seconds(now.plus(self.limits.known_for_ms))),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(StoreError::from)
        };
        let give_back = async {
            if !reservation.counted_unknown {
                return Ok(());
            }
            // Only this attempt's own count: other failures from the address stay counted.
            let source = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key.source(reservation.window)))
                .update_expression("ADD failures :minus")
                .condition_expression("failures > :zero")
                .expression_attribute_values(":minus", n(-1))
                .expression_attribute_values(":zero", n(0))
                .send();
            // Undone only while no later attempt has claimed the record.
            let user = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key.user()))
                .update_expression("ADD failures :minus")
                .condition_expression("claim = :claim AND failures > :zero")
                .expression_attribute_values(":minus", n(-1))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":claim", AttributeValue::S(reservation.claim.clone()))
                .send();
            let (source, user) = futures::join!(source, user);
            for result in [
                source.map(|_| ()).map_err(|e| {
                    (
                        StoreError::is_conditional_check_failed(&e),
                        StoreError::from(e),
                    )
                }),
                user.map(|_| ()).map_err(|e| {
                    (
                        StoreError::is_conditional_check_failed(&e),
                        StoreError::from(e),
                    )
                }),
            ] {
                match result {
                    Ok(()) | Err((true, _)) => {}
                    Err((false, e)) => return Err(e),
                }
            }
            Ok(())
        };
        futures::try_join!(forget_pair, known, give_back).map(|_| ())
    }
}

/// A cancellation only for conditions or conflicting transactions: the counters moved.
fn raced<R>(err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            let reasons = e.cancellation_reasons();
            !reasons.is_empty()
                && reasons.iter().all(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed" | "TransactionConflict" | "None") | None
                    )
                })
        }
        _ => false,
    }
}
