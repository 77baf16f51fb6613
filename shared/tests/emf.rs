//! The EMF documents the collector writes, in a process of their own (the `metrics` recorder
//! is global: one per process, as in a function).

use payrail_shared::domain::PaymentStatus;
use payrail_shared::gateway::classify;
use payrail_shared::refunds::RefundStatus;
use payrail_shared::telemetry::{self, record};
use serde_json::{Value, json};
use std::time::Duration;

fn documents(bytes: &[u8]) -> Result<Vec<Value>, serde_json::Error> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(serde_json::from_str)
        .collect()
}

fn find<'a>(documents: &'a [Value], metric: &str, dimension: &str, value: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| !d[metric].is_null() && d[dimension] == value)
        .collect()
}

#[test]
fn one_flush_writes_one_document_per_dimension_set_and_then_starts_from_zero()
-> Result<(), Box<dyn std::error::Error>> {
    let metrics = telemetry::metrics("emf-test")?;
    record::payment_reached(PaymentStatus::Succeeded);
    record::payment_reached(PaymentStatus::Succeeded);
    record::payment_reached(PaymentStatus::Declined);
    record::refund_reached(RefundStatus::Pending);
    record::gateway_call(
        record::GatewayOperation::Charge,
        &classify(503, b""),
        Duration::from_micros(12_500),
    );

    let mut first = Vec::new();
    metrics.flush_into(Some("req-1".to_owned()), &mut first)?;
    let first = documents(&first)?;

    let cold = find(&first, "ColdStart", "Function", "emf-test");
    assert_eq!(cold.len(), 1, "{first:#?}");
    assert_eq!(cold[0]["ColdStart"], 1);
    let succeeded = find(&first, "Payments", "Status", "succeeded");
    assert_eq!(succeeded.len(), 1, "{first:#?}");
    assert_eq!(succeeded[0]["Payments"], 2);
    assert_eq!(succeeded[0]["RequestId"], "req-1");
    let stage = std::env::var("STAGE").unwrap_or_else(|_| "local".to_owned());
    assert_eq!(succeeded[0]["Stage"], stage.as_str());
    assert_eq!(
        succeeded[0]["_aws"]["CloudWatchMetrics"],
        json!([{"Namespace": "payrail", "Dimensions": [["Stage", "Status"]],
                "Metrics": [{"Name": "Payments", "Unit": "Count"}]}])
    );
    assert_eq!(
        find(&first, "Payments", "Status", "declined")[0]["Payments"],
        1
    );
    assert_eq!(
        find(&first, "Refunds", "Status", "pending")[0]["Refunds"],
        1
    );
    let calls = find(&first, "GatewayCalls", "Outcome", "server_error");
    assert_eq!(calls.len(), 1, "{first:#?}");
    assert_eq!(calls[0]["Operation"], "charge");
    let latency = find(&first, "GatewayLatency", "Operation", "charge");
    assert_eq!(latency[0]["GatewayLatency"], json!([12.5]));
    assert_eq!(
        latency[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"],
        json!([{"Name": "GatewayLatency", "Unit": "Milliseconds"}])
    );

    // The next invocation writes only what it recorded, under its own request id.
    record::payment_reached(PaymentStatus::Pending);
    let mut second = Vec::new();
    metrics.flush_into(Some("req-2".to_owned()), &mut second)?;
    let second = documents(&second)?;
    assert_eq!(second.len(), 1, "{second:#?}");
    assert_eq!(second[0]["Status"], "pending");
    assert_eq!(second[0]["Payments"], 1);
    assert_eq!(second[0]["RequestId"], "req-2");
    Ok(())
}
