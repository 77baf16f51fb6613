//! Recording a completed payment: the payment, its aggregate counter and its account–merchant
//! link in one TransactWriteItems, so the counters stay exact under retries and redeliveries.

use super::aggregates::{AggregateDelta, AggregateUpdate};
use super::error::StoreError;
use super::item::PaymentItem;
use super::keys::attr;
use super::links::{self, LinkEffect};
use super::transact::{TransactFailure, transact_write};
use crate::domain::Payment;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

/// Outcome of recording a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// A payment with this id was already stored: nothing was written, nothing counted twice.
    AlreadyThere,
}

/// Writes a new payment; when it is completed, adds it to its day's aggregate in the same
/// transaction; when it has an owner, links its account to the owner (the link's date moved
/// forward when it is completed). Conditional on the id being new.
#[tracing::instrument(skip_all, fields(payment_id = %payment.id))]
pub async fn record_payment(
    client: &Client,
    table: &str,
    payment: &Payment,
) -> Result<Recorded, StoreError> {
    let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        serde_dynamo::to_item(PaymentItem::of(payment.clone()))?;
    let mut link = LinkEffect::of(payment, true, payment.status.is_completed());
    loop {
        let result = transact_write(client, || {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .build()?;
            let mut actions = vec![TransactWriteItem::builder().put(put).build()];
            // Second, where the cancellation reasons below look for it.
            actions.extend(links::action(table, payment, link)?);
            if payment.status.is_completed() {
                let delta = AggregateDelta::one(payment.country);
                let update = AggregateUpdate::new(
                    payment.card_type,
                    payment.created_at.day(),
                    AggregateUpdate::random_shard(),
                    &delta,
                )
                .into_transact(table)?;
                actions.push(TransactWriteItem::builder().update(update).build());
            }
            Ok(actions)
        })
        .await;
        match result {
            Ok(()) => return Ok(Recorded::New),
            Err(TransactFailure::Conditions(failed)) => {
                // Only the link's date being later is worth another attempt (without the date).
                let link_failed = link == LinkEffect::Touch
                    && failed.get(1) == Some(&true)
                    && failed.first() != Some(&true);
                if !link_failed {
                    return Ok(Recorded::AlreadyThere);
                }
                link = link.after_failed_condition();
            }
            Err(TransactFailure::Store(err)) => return Err(err),
        }
    }
}
