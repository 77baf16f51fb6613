//! Issue 13 item 5, the reconciler's half, on the local stack: a payment the validator kept
//! `pending` because the gateway left its charge unanswered (the simulator's `charged-reset`)
//! is re-sent, and the re-send is answered from the gateway's record (charged once, now
//! `succeeded`); one unanswered past the deadline is marked `failed` (`network`) with its sealed
//! card dropped, and never re-sent. The reconciler runs here in-process over the stack's table
//! and queue, with the payment's times moved into the past (the stack's own runs every 2 minutes
//! and would not reach the deadline); the re-sent message is charged by the stack's validator.
//!
//! ```text
//! infra/local/test-env.sh cargo test -p payrail-tests --test reconciler_unanswered
//! ```

mod support;

use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::domain::{
    CardNumber, FailureKind, FixedClock, PaymentId, PaymentStatus, Timestamp,
};
use payrail_shared::logservice::{ErrorType, MemoryReporter};
use payrail_shared::queue::SqsQueue;
use payrail_shared::store::payments::{DynamoPayments, StoredPayment};
use payrail_shared::store::pending::DynamoPending;
use payrail_shared::stream::Reconciler;
use payrail_shared::stream::reconciler::{DEFAULT_DEADLINE, Summary};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::TestResult;
use support::api::Error;
use support::stream::observe::read_queue;
use support::stream::settle::wait_until_idle;
use support::stream::{Stack, now_millis};

/// The two tests change the simulator and read the pending index: they take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn store(stack: &Stack) -> DynamoPayments {
    DynamoPayments::new(
        stack.dynamodb.clone(),
        stack.transactions_table.clone(),
        DynamoAccounts::new(stack.dynamodb.clone(), stack.accounts_table.clone()),
    )
}

/// Polls the payment until `done` holds.
async fn payment_until(
    store: &DynamoPayments,
    id: PaymentId,
    within: Duration,
    done: impl Fn(&StoredPayment) -> bool,
) -> Result<StoredPayment, Error> {
    let clock = Instant::now();
    loop {
        if let Some(stored) = store.get(&id).await?.filter(|s| done(s)) {
            return Ok(stored);
        }
        if clock.elapsed() > within {
            return Err(format!("{id}: not as expected after {within:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An upstream online payment whose every charge is made and then lost, through its message's
/// five deliveries: kept `pending`, unanswered. The simulator stays failing until the guard
/// the caller gets back is restored.
async fn unanswered_payment(
    stack: &Stack,
) -> Result<(PaymentId, support::simulator::BehaviourGuard), Error> {
    let guard = stack
        .simulator
        .with_behaviour(&json!({"failure_rate": 1.0, "failures": ["charged-reset"]}))
        .await?;
    let id = PaymentId::new();
    let sealed = stack
        .cipher
        .seal(&CardNumber::parse("5555555555554444")?, id)?;
    let message = json!({
        "payment_id": id.to_string(), "account_id": 9, "payment_type": "online",
        "credit_card": sealed.as_str(), "amount": 2500, "currency": "EUR",
        "vendor": "Unanswered GmbH", "exp_month": 11, "exp_year": 2033,
    });
    stack
        .sqs
        .send_message()
        .queue_url(&stack.queues.online)
        .message_body(message.to_string())
        .send()
        .await?;
    let stored = payment_until(&store(stack), id, Duration::from_secs(120), |s| {
        s.payment
            .failure
            .as_ref()
            .is_some_and(|f| f.unanswered_since.is_some())
    })
    .await?;
    assert_eq!(stored.payment.status, PaymentStatus::Pending);
    Ok((id, guard))
}

/// Moves the payment's pending and unanswered times `ms` into the past, as time would. (Moving
/// the reconciler's clock forward instead would stamp its writes in the future, and later
/// tests would see a payment "written" while they run.)
async fn age(stack: &Stack, id: PaymentId, ms: i64) -> Result<(), Error> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let then = now_millis() - ms;
    stack
        .dynamodb
        .update_item()
        .table_name(&stack.transactions_table)
        .key(
            "pk",
            AttributeValue::S(payrail_shared::store::keys::payment_pk(&id)),
        )
        .key(
            "sk",
            AttributeValue::S(payrail_shared::store::keys::PAYMENT_SK.to_owned()),
        )
        .update_expression("SET #ps = :ps, #f.#u = :u")
        .condition_expression("attribute_exists(#ps)")
        .expression_attribute_names("#ps", payrail_shared::store::keys::attr::PENDING_SINCE)
        .expression_attribute_names("#f", "failure")
        .expression_attribute_names("#u", "unanswered_since")
        .expression_attribute_values(
            ":ps",
            AttributeValue::S(payrail_shared::store::keys::time_key(
                Timestamp::from_millis(then),
                &id.to_string(),
            )),
        )
        .expression_attribute_values(":u", AttributeValue::N(then.to_string()))
        .send()
        .await?;
    Ok(())
}

/// One reconciler run over the stack's table and online queue, at `now`.
async fn reconcile_at(stack: &Stack, now: i64) -> Result<(Summary, Arc<MemoryReporter>), Error> {
    let reporter = Arc::new(MemoryReporter::new());
    let reconciler = Reconciler {
        pending: DynamoPending::new(stack.dynamodb.clone(), stack.transactions_table.clone()),
        online: SqsQueue::new(stack.sqs.clone(), stack.queues.online.clone()),
        store: store(stack),
        reporter: reporter.clone(),
        clock: Arc::new(FixedClock(Timestamp::from_millis(now))),
        after: Duration::from_secs(120),
        deadline: DEFAULT_DEADLINE,
    };
    Ok((reconciler.run().await?, reporter))
}

#[tokio::test]
async fn an_unanswered_payment_re_sent_by_the_reconciler_is_answered_from_the_record() -> TestResult
{
    let Some(stack) = Stack::from_env().await? else {
        return Ok(());
    };
    let _turn = TURN.lock().await;
    wait_until_idle(&stack, Duration::from_secs(180)).await?;
    let (id, guard) = unanswered_payment(&stack).await?;
    guard.restore().await?;

    // Pending longer than RECONCILE_AFTER_SECONDS, well before the deadline.
    age(&stack, id, 300_000).await?;
    let (summary, _) = reconcile_at(&stack, now_millis()).await?;
    assert!(summary.resent >= 1, "{summary:?}");
    assert_eq!(summary.given_up, 0, "{summary:?}");

    let stored = payment_until(&store(&stack), id, Duration::from_secs(60), |s| {
        s.payment.status != PaymentStatus::Pending
    })
    .await?;
    assert_eq!(stored.payment.status, PaymentStatus::Succeeded);
    assert!(stored.card_sealed.is_none());
    let charge = stack
        .simulator
        .charges()
        .await?
        .into_iter()
        .find(|c| c.payment_id == id.to_string())
        .ok_or("the gateway never saw it")?;
    assert_eq!(charge.outcome, "succeeded", "{charge:?}");
    assert_eq!(
        charge.duplicates + 1,
        charge.attempts,
        "charged once, every later call answered from the record: {charge:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unanswered_payment_past_the_deadline_is_failed_and_never_re_sent() -> TestResult {
    let Some(stack) = Stack::from_env().await? else {
        return Ok(());
    };
    let _turn = TURN.lock().await;
    wait_until_idle(&stack, Duration::from_secs(180)).await?;
    let (id, guard) = unanswered_payment(&stack).await?;

    age(&stack, id, 86_400_000 + 60_000).await?;
    let (summary, reporter) = reconcile_at(&stack, now_millis()).await?;
    guard.restore().await?;

    assert!(summary.given_up >= 1, "{summary:?}");
    let stored = store(&stack).get(&id).await?.ok_or("the payment is gone")?;
    assert_eq!(stored.payment.status, PaymentStatus::Failed);
    let failure = stored.payment.failure.clone().ok_or("no failure")?;
    assert_eq!(failure.error_type, FailureKind::Network);
    assert!(failure.unanswered_since.is_some());
    assert!(stored.card_sealed.is_none(), "the sealed card is dropped");
    assert!(
        reporter
            .entries()
            .iter()
            .any(|e| e.payment_id() == Some(id) && e.error_type() == ErrorType::Network),
        "reported as network"
    );
    let queued = read_queue(&stack.sqs, &stack.queues.online).await?;
    assert!(
        !queued.iter().any(|b| b.contains(&id.to_string())),
        "not re-sent"
    );

    // Final: a later run does not see it at all.
    let (again, _) = reconcile_at(&stack, now_millis()).await?;
    assert_eq!(again.given_up, 0, "{again:?}");
    let queued = read_queue(&stack.sqs, &stack.queues.online).await?;
    assert!(!queued.iter().any(|b| b.contains(&id.to_string())));
    Ok(())
}
