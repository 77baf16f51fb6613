//! The log path end to end on the local stack: `SqsErrorReporter` queues an entry on the real
//! log queue (moto), the SQS event-source emulation hands it to the `log-forwarder` function,
//! which posts it to the simulator's log service. While the log service fails, the entry is
//! retried (and never dropped), and it arrives once the service recovers.
//!
//! ```text
//! infra/local/test-env.sh cargo test -p payrail-tests --test log_reporter
//! ```

mod support;

use payrail_shared::domain::PaymentId;
use payrail_shared::logservice::{ErrorReporter, ErrorType, LogEntry, SqsErrorReporter};
use serde_json::json;
use std::time::{Duration, Instant};
use support::TestResult;
use support::api::Error;
use support::simulator::{LogLine, Simulator};
use support::stream::Stack;
use support::stream::observe::read_queue;

/// Polls GET /logs until `done` holds for this payment's entries.
async fn logs_until(
    sim: &Simulator,
    id: PaymentId,
    deadline: Duration,
    done: impl Fn(&[LogLine]) -> bool,
) -> Result<Vec<LogLine>, Error> {
    let clock = Instant::now();
    loop {
        let mine: Vec<LogLine> = sim
            .logs()
            .await?
            .into_iter()
            .filter(|l| l.payment_id == id.to_string())
            .collect();
        if done(&mine) {
            return Ok(mine);
        }
        if clock.elapsed() > deadline {
            return Err(format!("log entries of {id} after {deadline:?}: {mine:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The receive counts of the log queue's deliveries of this payment's entry, from the SQS
/// event sources' record.
fn deliveries(stack: &Stack, id: PaymentId) -> Result<Vec<u64>, Error> {
    let text = std::fs::read_to_string(&stack.record)?;
    let mut counts = Vec::new();
    for line in text.lines() {
        let line: serde_json::Value = serde_json::from_str(line)?;
        if line["queue"] == "LogQueue"
            && line["body"]
                .as_str()
                .is_some_and(|b| b.contains(&id.to_string()))
        {
            counts.push(line["receive_count"].as_u64().unwrap_or(0));
        }
    }
    Ok(counts)
}

#[tokio::test]
async fn a_reported_error_reaches_the_log_service_scrubbed_and_is_retried_while_it_is_down()
-> TestResult {
    let Some(stack) = Stack::from_env().await? else {
        return Ok(());
    };
    let reporter = SqsErrorReporter::new(stack.sqs.clone(), stack.queues.log.clone());

    // Healthy: the entry arrives once, with its type, and without the card number its
    // description quoted.
    let healthy = PaymentId::new();
    reporter
        .report(LogEntry::new(
            Some(healthy),
            ErrorType::Database,
            "write failed for card 4111111111111111",
        ))
        .await;
    let arrived = logs_until(&stack.simulator, healthy, Duration::from_secs(60), |l| {
        !l.is_empty()
    })
    .await?;
    assert_eq!(arrived.len(), 1, "{arrived:?}");
    assert_eq!(arrived[0].error_type, "database");
    assert!(
        !arrived[0].error_description.contains("4111111111111111")
            && arrived[0].error_description.contains("write failed"),
        "{:?}",
        arrived[0].error_description
    );

    // Down: every call to the log service fails; the entry comes back and is tried again.
    let guard = stack
        .simulator
        .with_behaviour(&json!({"log_failure_rate": 1.0}))
        .await?;
    let delayed = PaymentId::new();
    reporter
        .report(LogEntry::new(
            Some(delayed),
            ErrorType::Network,
            "gateway unreachable",
        ))
        .await;
    let clock = Instant::now();
    while deliveries(&stack, delayed)?.iter().all(|n| *n < 2) {
        assert!(
            clock.elapsed() < Duration::from_secs(60),
            "the entry was not redelivered: {:?}",
            deliveries(&stack, delayed)?
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let early = logs_until(&stack.simulator, delayed, Duration::ZERO, |_| true).await?;
    assert!(early.is_empty(), "the log service refused it: {early:?}");

    // Recovered: the next delivery gets through, once.
    guard.restore().await?;
    let arrived = logs_until(&stack.simulator, delayed, Duration::from_secs(60), |l| {
        !l.is_empty()
    })
    .await?;
    assert_eq!(arrived.len(), 1, "{arrived:?}");
    assert_eq!(arrived[0].error_type, "network");
    let tries = deliveries(&stack, delayed)?;
    assert!(
        tries.len() >= 3,
        "refused at least twice, then delivered: {tries:?}"
    );
    let dead = read_queue(&stack.sqs, &stack.queues.log_dlq).await?;
    assert!(
        !dead.iter().any(|b| b.contains(&delayed.to_string())),
        "not in the dead-letter queue"
    );
    Ok(())
}
