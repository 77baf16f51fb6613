//! Issue 13 item 5 on the local stack: a charge the gateway may have made is never `failed` by
//! running out of deliveries. The simulator charges every payment and then drops the connection
//! (`charged-reset`: the ambiguous outcome, the request sent and no answer); an upstream message
//! goes on the real online queue (moto), the SQS event-source emulation delivers it to the real
//! validator (cargo lambda watch) five times. After the last delivery the payment is still
//! `pending` with the failure recorded (`network`, `unanswered_since`) and its sealed card kept
//! for the reconciler's re-send, the message is gone and not in the dead-letter queue, the log
//! service got `network` entries, and the validator counted the `ChargesUnanswered` alarm metric.
//!
//! ```text
//! infra/local/test-env.sh cargo test -p payrail-tests --test stream_unanswered
//! ```

mod support;

use payrail_shared::accounts::DynamoAccounts;
use payrail_shared::domain::{CardNumber, FailureKind, PaymentId, PaymentStatus};
use payrail_shared::store::payments::{DynamoPayments, StoredPayment};
use serde_json::json;
use std::time::{Duration, Instant};
use support::TestResult;
use support::api::Error;
use support::stream::Stack;
use support::stream::observe::read_queue;
use support::stream::settle::{queue_depth, wait_until_idle};

/// Polls the payment until `done` holds.
async fn payment_until(
    store: &DynamoPayments,
    id: PaymentId,
    within: Duration,
    done: impl Fn(&StoredPayment) -> bool,
) -> Result<StoredPayment, Error> {
    let clock = Instant::now();
    loop {
        let stored = store.get(&id).await?;
        if let Some(stored) = stored.filter(|s| done(s)) {
            return Ok(stored);
        }
        if clock.elapsed() > within {
            return Err(format!("{id}: not as expected after {within:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_charge_unanswered_on_the_last_delivery_stays_pending_and_is_not_dead_lettered()
-> TestResult {
    let Some(stack) = Stack::from_env().await? else {
        return Ok(());
    };
    wait_until_idle(&stack, Duration::from_secs(180)).await?;
    let store = DynamoPayments::new(
        stack.dynamodb.clone(),
        stack.transactions_table.clone(),
        DynamoAccounts::new(stack.dynamodb.clone(), stack.accounts_table.clone()),
    );
    let guard = stack
        .simulator
        .with_behaviour(&json!({"failure_rate": 1.0, "failures": ["charged-reset"]}))
        .await?;
    let id = PaymentId::new();
    let sealed = stack
        .cipher
        .seal(&CardNumber::parse("4111111111111111")?, id)?;
    let message = json!({
        "payment_id": id.to_string(), "account_id": 7, "payment_type": "online",
        "credit_card": sealed.as_str(), "amount": 4321, "currency": "EUR",
        "vendor": "Unanswered GmbH", "exp_month": 11, "exp_year": 2033,
    });
    stack
        .sqs
        .send_message()
        .queue_url(&stack.queues.online)
        .message_body(message.to_string())
        .send()
        .await?;

    // Five deliveries spaced 1, 2, 4, 8 s; the last one records the failure.
    let stored = payment_until(&store, id, Duration::from_secs(120), |s| {
        s.payment.failure.is_some()
    })
    .await;
    // The message is done with: deleted, or (as before the fix) on its way to the DLQ.
    let clock = Instant::now();
    while queue_depth(&stack.sqs, &stack.queues.online).await? > 0 {
        assert!(
            clock.elapsed() < Duration::from_secs(60),
            "the message stays"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    guard.restore().await?;
    let stored = stored?;

    assert_eq!(
        stored.payment.status,
        PaymentStatus::Pending,
        "the gateway may have charged: {:?}",
        stored.payment.failure
    );
    let failure = serde_json::to_value(&stored.payment.failure)?;
    assert_eq!(failure["error_type"], "network", "{failure}");
    assert!(failure["unanswered_since"].is_i64(), "{failure}");
    assert!(
        stored.card_sealed.is_some(),
        "the sealed card stays for the re-send"
    );
    assert_eq!(
        stored.payment.failure.map(|f| f.error_type),
        Some(FailureKind::Network)
    );
    let dead = read_queue(&stack.sqs, &stack.queues.online_dlq).await?;
    assert!(
        !dead.iter().any(|b| b.contains(&id.to_string())),
        "not dead-lettered"
    );
    let charge = stack
        .simulator
        .charges()
        .await?
        .into_iter()
        .find(|c| c.payment_id == id.to_string())
        .ok_or("the gateway never saw it")?;
    assert_eq!(
        (charge.outcome.as_str(), charge.attempts, charge.duplicates),
        ("succeeded", 5, 4),
        "charged on the first call, the others answered from the record, every answer lost"
    );

    // Reported as `network` to the log service (through the log queue and the forwarder).
    let clock = Instant::now();
    loop {
        let logs = stack.simulator.logs().await?;
        let mine: Vec<_> = logs
            .iter()
            .filter(|l| l.payment_id == id.to_string())
            .collect();
        if mine.len() >= 5 {
            assert!(mine.iter().all(|l| l.error_type == "network"), "{mine:?}");
            break;
        }
        assert!(
            clock.elapsed() < Duration::from_secs(60),
            "log entries: {mine:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The alarm's metric, as an EMF line of the validator's.
    let lambda_log = std::fs::read_to_string(stack.log_dir.join("lambda.log"))?;
    assert!(
        lambda_log
            .lines()
            .any(|l| l.contains("\"_aws\"") && l.contains("\"ChargesUnanswered\"")),
        "no ChargesUnanswered metric in lambda.log"
    );
    Ok(())
}
