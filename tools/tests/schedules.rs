//! The schedule emulation (`local-stack schedules`) against a fake Lambda invoke API served
//! over TCP, which records every invocation: each enabled schedule invokes its function again
//! and again with an EventBridge scheduled event, a disabled one never does, and a function
//! that fails does not stop the schedule.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use payrail_tools::local::schedule::{self, ScheduleContext, schedules_from_template};
use payrail_tools::local::template::Template;
use serde_json::Value;
use tokio::time::Instant;

const TEMPLATE: &str = r#"
Resources:
  Reconciler:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: reconciler } }
    Properties:
      Events:
        Every2Minutes:
          Type: Schedule
          Properties: { Schedule: rate(2 minutes) }
  Nightly:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: nightly } }
    Properties:
      Events:
        Off:
          Type: Schedule
          Properties: { Schedule: rate(1 day), Enabled: false }
"#;

type Calls = Arc<Mutex<Vec<(String, Value)>>>;

async fn invoked(
    State(calls): State<Calls>,
    Path(name): Path<String>,
    body: axum::Json<Value>,
) -> (StatusCode, String) {
    let mut calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
    calls.push((name, body.0));
    // Every other invocation fails: the schedule must go on regardless.
    if calls.len() % 2 == 0 {
        (StatusCode::INTERNAL_SERVER_ERROR, "boom".into())
    } else {
        (StatusCode::OK, r#"{"resent":0}"#.into())
    }
}

#[tokio::test]
async fn each_enabled_schedule_invokes_its_function_every_period_with_a_scheduled_event()
-> anyhow::Result<()> {
    let calls: Calls = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let lambda_url = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoked))
        .with_state(calls.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let schedules = schedules_from_template(&Template::parse(TEMPLATE)?)?;
    let context = ScheduleContext {
        http: reqwest::Client::new(),
        lambda_url,
        region: "eu-west-1".into(),
        every: Some(Duration::from_millis(150)),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(schedule::run(context, schedules, async {
        let _ = stopped.await;
    }));

    let count = || calls.lock().unwrap_or_else(PoisonError::into_inner).len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while count() < 4 {
        anyhow::ensure!(Instant::now() < deadline, "only {} invocations", count());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    running.await?;

    let calls = calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert!(
        calls.iter().all(|(name, _)| name == "reconciler"),
        "{calls:?}"
    );
    for (_, event) in &calls {
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["region"], "eu-west-1");
    }
    let ids: std::collections::HashSet<&str> =
        calls.iter().filter_map(|(_, e)| e["id"].as_str()).collect();
    assert_eq!(ids.len(), calls.len(), "each event has its own id");
    Ok(())
}
