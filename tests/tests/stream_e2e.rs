//! Issue 4's end-to-end test on the local stack: 1000 mixed payments, through the API and
//! straight into the online and offline queues, while the gateway simulator fails 20% of calls
//! transiently and declines 5%, and 5% of the queue messages are sent twice. Afterwards every
//! payment is in exactly one final state (or `failed` with its message in a dead-letter queue),
//! none lost or duplicated, the aggregates equal a recount, every account's
//! `last_payment_date` is its latest payment, every error reached the log service with its
//! type, and no full card number or CVC appears in any log, queue message, table item or
//! response.
//!
//! ```text
//! infra/local/test-env.sh cargo test -p payrail-tests --test stream_e2e -- --nocapture
//! ```

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::TestResult;
use support::card_scan::Secrets;
use support::stream::Stack;
use support::stream::check::verify;
use support::stream::check_logs::delivery_summary;
use support::stream::produce::{Plan, produce};
use support::stream::settle::{wait_for_quiescence, wait_until_idle};

/// Quick transient failures only: a `timeout` would hold a validator call for the gateway
/// client's 10 s timeout.
fn faults() -> serde_json::Value {
    json!({
        "failure_rate": 0.2,
        "failures": ["server-error", "throttle", "reset"],
        "decline_rate": 0.05,
        "latency_ms": 0,
        "jitter_ms": 20,
        "log_failure_rate": 0.0,
    })
}

async fn run(payments: usize, seed: u64) -> TestResult {
    let Some(stack) = Stack::from_env().await? else {
        return Ok(());
    };
    let clock = Instant::now();
    let idle = wait_until_idle(&stack, Duration::from_secs(180)).await?;
    let guard = stack.simulator.with_behaviour(&faults()).await?;

    let plan = Plan::mixed(payments, seed);
    let produced = produce(&stack, &plan).await?;
    let settled = wait_for_quiescence(&stack, &produced, Duration::from_secs(240)).await?;
    guard.restore().await?;
    let report = verify(&stack, &produced).await?;

    eprintln!(
        "stream e2e: {} payments ({} API requests, {} queue messages) sent in {:.1?}; settled {:.1?} \
         later ({} polls); {:.1?} in all (waited {idle:.1?} for earlier work first)",
        produced.sent.len(),
        produced.api_requests,
        produced.queue_messages,
        produced.elapsed,
        settled.elapsed,
        settled.polls,
        clock.elapsed()
    );
    eprintln!("  {}", delivery_summary(&stack, &produced)?);
    for line in &report.summary {
        eprintln!("  {line}");
    }
    assert_eq!(produced.ids().count(), payments, "every payment has an id");
    assert!(
        report.violations.is_empty(),
        "{} violations:\n{}",
        report.violations.len(),
        report.violations.join("\n")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_mixed_payments_under_gateway_faults_and_duplicates_end_consistent() -> TestResult
{
    run(1000, 20_261_121).await
}

#[test]
fn the_card_scan_finds_numbers_tokens_and_cvc_values_but_not_masked_cards_or_other_digits() {
    let mut s = Secrets::default();
    s.add_number("4111111111111111");
    s.cvcs.insert("123".into());
    s.tokens.insert("wtk_abc123".into());
    let clean = r#"{"masked":"411111******1111","amount":123,"cvc":"must be 3 digits","t":1731000000000,"token":"wtk_abc1234"}"#;
    assert_eq!(s.scan("clean", clean), []);
    for dirty in [
        "card 4111111111111111 charged",
        "x=994111111111111111",
        r#"{"cvc":"123"}"#,
        r#"\"CVC\": \"999\""#,
        "cvv=1234",
        r#"{"token":"wtk_abc123"}"#,
    ] {
        assert_eq!(s.scan("dirty", dirty).len(), 1, "{dirty}");
    }
}
