//! Issue 13 item 4: however verbose RUST_LOG is, a function's output never holds the raw event.
//! lambda_runtime logs every event's body at `trace`, and the HTTP and SDK crates log bodies and
//! headers at `trace`/`debug`; `telemetry::init` caps them at `info`. Each function binary runs
//! here as Lambda runs it (the Runtime API of `payrail_tools::runtime_api`) with RUST_LOG=trace,
//! is invoked with a card number, a CVC, a password and a bearer token in its event, and
//! everything it wrote (stdout and stderr) is searched for them.
//!
//! ```text
//! infra/local/test-env.sh cargo test -p payrail-tests --test trace_logging
//! ```

mod support;

use serde_json::{Value, json};
use support::TestResult;
use support::function::Function;

type Error = Box<dyn std::error::Error + Send + Sync>;

const CARD: &str = "4000056655665556";
const CVC: &str = "739";
const PASSWORD: &str = "correct-horse-battery-8812";
const BEARER: &str = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2VuLWJvZHk.c2lnbmF0dXJlLXZhbHVl";

fn event(file: &str) -> Result<Value, Error> {
    let path = support::repo_root().join("events").join(file);
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// Runs `binary` with RUST_LOG=trace, invokes it with `event`, and returns all it wrote.
async fn output_of(binary: &str, event: Value) -> Result<String, Error> {
    let function = Function::start("trace-test", binary, &[("RUST_LOG", "trace")]).await?;
    let answer = function.invoke("req-trace", event).await?;
    let (stdout, stderr) = function.stop_all().await?;
    assert!(
        answer.get("invocation_error").is_none(),
        "{binary} failed: {answer}"
    );
    // The filter really is at trace for payrail's own code: something was logged.
    assert!(!stdout.is_empty(), "{binary} wrote nothing");
    Ok(format!("{stdout}\n{stderr}"))
}

fn assert_clean(binary: &str, output: &str) {
    for (what, secret) in [
        ("card number", CARD),
        ("password", PASSWORD),
        ("bearer token", BEARER),
    ] {
        assert!(
            !output.contains(secret),
            "{binary}: its {what} reached the output:\n{}",
            excerpt(output, secret)
        );
    }
    for needle in [
        format!("\"cvc\": \"{CVC}\""),
        format!("\"cvc\":\"{CVC}\""),
        format!("\\\"cvc\\\": \\\"{CVC}\\\""),
        format!("\\\"cvc\\\":\\\"{CVC}\\\""),
    ] {
        assert!(
            !output.contains(&needle),
            "{binary}: the CVC reached the output:\n{}",
            excerpt(output, &needle)
        );
    }
}

/// The line holding `secret`, cut short, so that a failure shows where the leak is.
fn excerpt(output: &str, secret: &str) -> String {
    output
        .lines()
        .find(|l| l.contains(secret))
        .map(|l| l.chars().take(400).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn payments_create_at_trace_logs_no_card_cvc_or_bearer_token() -> TestResult {
    if support::service("PAYRAIL_LAMBDA_URL").is_none() {
        return Ok(());
    }
    let mut event = event("payments-create.json")?;
    event["headers"]["authorization"] = json!(format!("Bearer {BEARER}"));
    event["headers"]["idempotency-key"] = json!(format!("trace-{}", uuid::Uuid::new_v4()));
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap_or_default())?;
    body["card"]["number"] = json!(CARD);
    body["card"]["cvc"] = json!(CVC);
    event["body"] = json!(body.to_string());

    let output = output_of("payments-create", event).await?;

    assert_clean("payments-create", &output);
    Ok(())
}

#[tokio::test]
async fn auth_token_at_trace_logs_no_password() -> TestResult {
    if support::service("PAYRAIL_LAMBDA_URL").is_none() {
        return Ok(());
    }
    let mut event = event("auth-token.json")?;
    event["headers"]["authorization"] = json!(format!("Bearer {BEARER}"));
    event["body"] = json!(json!({"username": "alice", "password": PASSWORD}).to_string());

    let output = output_of("auth-token", event).await?;

    assert_clean("auth-token", &output);
    Ok(())
}

#[tokio::test]
async fn the_authorizer_at_trace_logs_no_bearer_token() -> TestResult {
    if support::service("PAYRAIL_LAMBDA_URL").is_none() {
        return Ok(());
    }
    let mut event = event("authorizer.json")?;
    event["headers"]["authorization"] = json!(format!("Bearer {BEARER}"));

    let output = output_of("authorizer", event).await?;

    assert_clean("authorizer", &output);
    Ok(())
}

#[tokio::test]
async fn the_validator_at_trace_logs_no_card_in_a_clear_upstream_message() -> TestResult {
    if support::service("PAYRAIL_LAMBDA_URL").is_none() {
        return Ok(());
    }
    let mut batch = event("validator.json")?;
    let mut body: Value =
        serde_json::from_str(batch["Records"][0]["body"].as_str().unwrap_or_default())?;
    body["payment_id"] = json!(uuid::Uuid::new_v4().to_string());
    body["credit_card"] = json!(CARD);
    batch["Records"][0]["body"] = json!(body.to_string());

    let output = output_of("validator", batch).await?;

    assert_clean("validator", &output);
    Ok(())
}
