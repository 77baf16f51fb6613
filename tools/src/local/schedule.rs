//! EventBridge schedules, emulated for the local stack: every `Type: Schedule` event of a
//! function in template.yaml invokes that function through the invoke API of
//! `cargo lambda watch` at its rate, with the event EventBridge sends (`Scheduled Event`, or the
//! event's `Input` when it has one). `cargo lambda watch` has no schedules, and the SQS
//! event-source emulation covers only queues.
//!
//! As in AWS, the first invocation comes one period after the start, and a run still going
//! when the next is due delays it rather than overlapping. Unlike AWS (an asynchronous invoke,
//! retried twice on error), a failed invocation is logged and left to the next period.
//! `cron(...)` expressions, `ScheduleV2` events and unknown properties are errors at start,
//! never silently ignored. Tests shorten every period at once (`--every-seconds`).

use std::future::Future;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::json;
use serde_norway::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::local::invoke::invoke;
use crate::local::template::{FUNCTION_TYPE, LOCAL_ACCOUNT_ID, Resolver, Template, scalar_string};

/// Properties of a Schedule event the emulation honours.
const SUPPORTED: &[&str] = &["Schedule", "Enabled", "Input", "Name"];
/// Properties with no local effect.
const IGNORED: &[&str] = &["Description", "RetryPolicy", "DeadLetterConfig"];

/// One scheduled invocation of a function.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleDef {
    /// The function's logical id.
    pub function: String,
    /// Its binary (`Metadata.BuildProperties.Binary`), its name for the invoke API.
    pub binary: String,
    /// The event's name in the function's `Events`.
    pub event: String,
    /// The period of its `rate(...)` expression.
    pub rate: Duration,
    /// `Input`: sent instead of the scheduled event.
    pub input: Option<serde_json::Value>,
    /// `Enabled: false` schedules are read (and checked) but never fire.
    pub enabled: bool,
}

impl ScheduleDef {
    /// `schedule Every2Minutes -> reconciler (every 120s)`.
    pub fn describe(&self, period: Duration) -> String {
        let disabled = if self.enabled { "" } else { ", DISABLED" };
        format!(
            "schedule {} -> {} (every {}s{disabled})",
            self.event,
            self.binary,
            period.as_secs()
        )
    }

    /// The rule's ARN, as EventBridge names the rule SAM creates for the event.
    fn rule_arn(&self, region: &str) -> String {
        format!(
            "arn:aws:events:{region}:{LOCAL_ACCOUNT_ID}:rule/{}{}",
            self.function, self.event
        )
    }

    /// The payload EventBridge sends at `at`.
    pub fn payload(&self, region: &str, at: OffsetDateTime) -> serde_json::Value {
        if let Some(input) = &self.input {
            return input.clone();
        }
        let time = at
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": LOCAL_ACCOUNT_ID,
            "time": time,
            "region": region,
            "resources": [self.rule_arn(region)],
            "detail": {}
        })
    }
}

/// `rate(1 minute)`, `rate(5 minutes)`, `rate(2 hours)`, `rate(1 day)`: EventBridge's rate
/// expressions (singular unit for 1 only, as EventBridge insists).
pub fn parse_rate(expression: &str) -> anyhow::Result<Duration> {
    let inner = expression
        .trim()
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
        .with_context(|| {
            format!("{expression:?}: only rate(...) schedules are emulated (not cron)")
        })?;
    let (value, unit) = inner
        .trim()
        .split_once(' ')
        .with_context(|| format!("{expression:?}: expected rate(<value> <unit>)"))?;
    let value: u64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .with_context(|| format!("{expression:?}: the value must be a positive integer"))?;
    let seconds = match (unit.trim(), value) {
        ("minute", 1) | ("minutes", 2..) => 60,
        ("hour", 1) | ("hours", 2..) => 3600,
        ("day", 1) | ("days", 2..) => 86_400,
        (unit, _) => bail!(
            "{expression:?}: the unit must be minute(s), hour(s) or day(s), singular only for 1, not {unit:?}"
        ),
    };
    Ok(Duration::from_secs(value * seconds))
}

/// Reads the `Type: Schedule` events of every function, in template order.
pub fn schedules_from_template(template: &Template) -> anyhow::Result<Vec<ScheduleDef>> {
    let resolver = Resolver::new(template, "", "us-east-1");
    let mut schedules = Vec::new();
    for function in template.resources_of_type(FUNCTION_TYPE) {
        let Some(events) = function
            .properties
            .get("Events")
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            let name = scalar_string(name).unwrap_or_default();
            match event.get("Type").and_then(Value::as_str) {
                Some("Schedule") => {}
                Some("ScheduleV2") => bail!(
                    "event {name} of function {}: ScheduleV2 (EventBridge Scheduler) is not \
                     emulated; use Type: Schedule",
                    function.logical_id
                ),
                _ => continue,
            }
            let context = || {
                format!(
                    "Schedule event {name} of function {} cannot be emulated",
                    function.logical_id
                )
            };
            let binary = function
                .metadata
                .get("BuildProperties")
                .and_then(|b| b.get("Binary"))
                .and_then(scalar_string)
                .with_context(|| {
                    format!(
                        "function {} has no Metadata.BuildProperties.Binary",
                        function.logical_id
                    )
                })?;
            let props = event.get("Properties").unwrap_or(&Value::Null);
            let (rate, input, enabled) = schedule(&resolver, props).with_context(context)?;
            schedules.push(ScheduleDef {
                function: function.logical_id.to_owned(),
                binary,
                event: name,
                rate,
                input,
                enabled,
            });
        }
    }
    Ok(schedules)
}

fn schedule(
    resolver: &Resolver<'_>,
    props: &Value,
) -> anyhow::Result<(Duration, Option<serde_json::Value>, bool)> {
    let Some(map) = props.as_mapping() else {
        bail!("Properties must be a mapping with a Schedule");
    };
    for key in map.keys() {
        let key = key.as_str().unwrap_or_default();
        if !SUPPORTED.contains(&key) && !IGNORED.contains(&key) {
            bail!("the local stack does not emulate the Schedule property {key}");
        }
    }
    let expression = props
        .get("Schedule")
        .map(|v| resolver.resolve_string(v))
        .transpose()?
        .flatten()
        .context("Schedule is required")?;
    let rate = parse_rate(&expression)?;
    let input = match props.get("Input") {
        None => None,
        Some(v) => {
            let text = resolver
                .resolve_string(v)?
                .context("Input must be a JSON string")?;
            Some(serde_json::from_str(&text).context("Input is not JSON")?)
        }
    };
    let enabled = match props.get("Enabled") {
        None => true,
        Some(v) => resolver.resolve_bool(v)?.unwrap_or(true),
    };
    Ok((rate, input, enabled))
}

/// Where and how the schedules invoke their functions.
#[derive(Debug, Clone)]
pub struct ScheduleContext {
    pub http: reqwest::Client,
    /// Base URL of the Lambda invoke API.
    pub lambda_url: String,
    /// `region` of the events.
    pub region: String,
    /// Replaces every schedule's rate (tests); `None`: each its own.
    pub every: Option<Duration>,
}

impl ScheduleContext {
    pub fn period(&self, schedule: &ScheduleDef) -> Duration {
        self.every.unwrap_or(schedule.rate)
    }
}

/// Fires every enabled schedule at its period until `shutdown` completes; an invocation in
/// flight is finished first.
pub async fn run(
    context: ScheduleContext,
    schedules: Vec<ScheduleDef>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for schedule in schedules.into_iter().filter(|s| s.enabled) {
        tasks.spawn(fire(context.clone(), schedule, stop_rx.clone()));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!("a schedule ended abnormally: {e}");
        }
    }
}

async fn fire(
    context: ScheduleContext,
    schedule: ScheduleDef,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let period = context.period(&schedule).max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticks.tick() => {}
        }
        let payload = schedule.payload(&context.region, OffsetDateTime::now_utc());
        let started = std::time::Instant::now();
        match invoke(
            &context.http,
            &context.lambda_url,
            &schedule.binary,
            &payload,
        )
        .await
        {
            Ok(output) => tracing::info!(
                event = %schedule.event, function = %schedule.binary,
                ms = started.elapsed().as_millis(),
                "invoked: {}", String::from_utf8_lossy(&output).chars().take(300).collect::<String>()
            ),
            Err(e) => tracing::warn!(
                event = %schedule.event, function = %schedule.binary,
                ms = started.elapsed().as_millis(),
                "invocation failed (the next period tries again): {e}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        Hourly:
          Type: Schedule
          Properties: { Schedule: rate(1 hour), Enabled: false, Input: '{"k": 1}' }
        Api:
          Type: HttpApi
          Properties: { Path: /x, Method: GET }
"#;

    #[test]
    fn rate_expressions_are_read_as_eventbridge_reads_them() -> anyhow::Result<()> {
        assert_eq!(parse_rate("rate(1 minute)")?, Duration::from_secs(60));
        assert_eq!(parse_rate("rate(2 minutes)")?, Duration::from_secs(120));
        assert_eq!(parse_rate("rate(3 hours)")?, Duration::from_secs(10_800));
        assert_eq!(parse_rate("rate(1 day)")?, Duration::from_secs(86_400));
        for bad in [
            "rate(2 minute)",
            "rate(1 minutes)",
            "rate(0 minutes)",
            "rate(5 seconds)",
            "cron(0 12 * * ? *)",
            "rate(minutes)",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad} was accepted");
        }
        Ok(())
    }

    #[test]
    fn schedule_events_are_read_with_their_input_and_state() -> anyhow::Result<()> {
        let schedules = schedules_from_template(&Template::parse(TEMPLATE)?)?;
        assert_eq!(schedules.len(), 2);
        assert_eq!(schedules[0].binary, "reconciler");
        assert_eq!(schedules[0].event, "Every2Minutes");
        assert_eq!(schedules[0].rate, Duration::from_secs(120));
        assert!(schedules[0].enabled && schedules[0].input.is_none());
        assert!(!schedules[1].enabled);
        assert_eq!(schedules[1].input, Some(json!({"k": 1})));
        assert_eq!(
            schedules[0].describe(Duration::from_secs(5)),
            "schedule Every2Minutes -> reconciler (every 5s)"
        );
        Ok(())
    }

    #[test]
    fn what_cannot_be_emulated_is_an_error_naming_it() -> anyhow::Result<()> {
        for (from, to) in [
            ("rate(2 minutes)", "cron(0/2 * * * ? *)"),
            (
                "Type: Schedule\n          Properties: { Schedule: rate(2",
                "Type: ScheduleV2\n          Properties: { Schedule: rate(2",
            ),
            (
                "{ Schedule: rate(2 minutes) }",
                "{ Schedule: rate(2 minutes), State: DISABLED }",
            ),
        ] {
            let text = TEMPLATE.replacen(from, to, 1);
            assert_ne!(text, TEMPLATE, "{from} not found");
            let result = schedules_from_template(&Template::parse(&text)?);
            assert!(result.is_err(), "accepted {to}");
        }
        Ok(())
    }

    #[test]
    fn the_payload_is_an_eventbridge_scheduled_event_unless_an_input_replaces_it()
    -> anyhow::Result<()> {
        let schedules = schedules_from_template(&Template::parse(TEMPLATE)?)?;
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000)?;
        let event = schedules[0].payload("eu-west-1", at);
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["time"], "2027-01-15T08:00:00Z");
        assert_eq!(
            event["resources"][0],
            "arn:aws:events:eu-west-1:123456789012:rule/ReconcilerEvery2Minutes"
        );
        assert_eq!(schedules[1].payload("eu-west-1", at), json!({"k": 1}));
        Ok(())
    }

    #[test]
    fn the_real_template_schedules_the_reconciler_every_two_minutes() -> anyhow::Result<()> {
        let template = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))?;
        let schedules = schedules_from_template(&template)?;
        let reconciler = schedules
            .iter()
            .find(|s| s.binary == "reconciler")
            .context("no schedule invokes the reconciler")?;
        assert_eq!(reconciler.rate, Duration::from_secs(120));
        Ok(())
    }
}
