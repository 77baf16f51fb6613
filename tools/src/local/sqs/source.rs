//! The SQS event sources the template declares: every `Type: SQS` event of an
//! `AWS::Serverless::Function`, read as Lambda's event source mapping reads it. What the
//! emulation cannot reproduce (filters, FIFO ordering, a queue outside the template, …) is an
//! error at start, never silently ignored.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_norway::Value;

use crate::local::queues::get_att_arn_target;
use crate::local::template::{FUNCTION_TYPE, QUEUE_TYPE, Resolver, Template, scalar_string};

/// Properties of an SQS event the emulation honours.
const SUPPORTED: &[&str] = &[
    "Queue",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "Enabled",
    "ScalingConfig",
];

/// Properties with no local effect (CloudWatch metrics of the mapping, its encryption key).
const IGNORED: &[&str] = &["MetricsConfig", "KmsKeyArn"];

/// Lambda's default batch size for SQS.
pub const DEFAULT_BATCH_SIZE: usize = 10;

/// One SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    /// The function's logical id.
    pub function: String,
    /// The function's binary (`Metadata.BuildProperties.Binary`), its name for the invoke API.
    pub binary: String,
    /// The event's name in the function's `Events`.
    pub event: String,
    /// The queue's logical id.
    pub queue: String,
    /// Most messages per invocation (`BatchSize`, 1..=10000).
    pub batch_size: usize,
    /// How long to gather a batch once its first message arrived
    /// (`MaximumBatchingWindowInSeconds`).
    pub window: Duration,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`: most concurrent invocations.
    pub maximum_concurrency: Option<usize>,
    /// `Enabled: false` mappings are read (and checked) but not polled.
    pub enabled: bool,
}

impl EventSource {
    /// `sqs OnlineQueue -> validator (batch 10, window 1s, partial failures)`.
    pub fn describe(&self) -> String {
        let mut details = vec![
            format!("batch {}", self.batch_size),
            format!("window {}s", self.window.as_secs()),
        ];
        if self.report_batch_item_failures {
            details.push("partial failures".into());
        }
        if let Some(n) = self.maximum_concurrency {
            details.push(format!("max concurrency {n}"));
        }
        if !self.enabled {
            details.push("DISABLED".into());
        }
        format!(
            "sqs {} -> {} ({})",
            self.queue,
            self.binary,
            details.join(", ")
        )
    }
}

/// Reads the `Type: SQS` events of every function, in template order.
pub fn event_sources_from_template(template: &Template) -> anyhow::Result<Vec<EventSource>> {
    let resolver = Resolver::new(template, "", "us-east-1");
    let mut sources = Vec::new();
    for function in template.resources_of_type(FUNCTION_TYPE) {
        let Some(events) = function
            .properties
            .get("Events")
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                continue;
            }
            let name = scalar_string(name).unwrap_or_default();
            let binary = function
                .metadata
                .get("BuildProperties")
                .and_then(|b| b.get("Binary"))
                .and_then(scalar_string)
                .with_context(|| {
                    format!(
                        "function {} has SQS events but no Metadata.BuildProperties.Binary",
                        function.logical_id
                    )
                })?;
            let source = event_source(
                template,
                &resolver,
                event.get("Properties").unwrap_or(&Value::Null),
            )
            .map(|partial| EventSource {
                function: function.logical_id.to_owned(),
                binary,
                event: name.clone(),
                ..partial
            })
            .with_context(|| {
                format!(
                    "SQS event {name} of function {} cannot be emulated",
                    function.logical_id
                )
            })?;
            sources.push(source);
        }
    }
    Ok(sources)
}

fn event_source(
    template: &Template,
    resolver: &Resolver<'_>,
    props: &Value,
) -> anyhow::Result<EventSource> {
    let Some(map) = props.as_mapping() else {
        bail!("Properties must be a mapping with a Queue");
    };
    for key in map.keys() {
        let key = key.as_str().unwrap_or_default();
        if !SUPPORTED.contains(&key) && !IGNORED.contains(&key) {
            bail!("the local stack does not emulate the SQS event property {key}");
        }
    }
    let queue = props
        .get("Queue")
        .and_then(get_att_arn_target)
        .context("Queue must be !GetAtt <a queue of this template>.Arn")?;
    let queue_resource = template
        .resource(&queue)
        .filter(|r| r.kind == QUEUE_TYPE)
        .with_context(|| format!("Queue: {queue} is not an AWS::SQS::Queue of this template"))?;
    if let Some(fifo) = queue_resource.properties.get("FifoQueue")
        && resolver.resolve_bool(fifo)? == Some(true)
    {
        bail!("{queue} is a FIFO queue: its per-group ordering is not emulated");
    }
    let integer = |key: &str| -> anyhow::Result<Option<i64>> {
        props
            .get(key)
            .map(|v| resolver.resolve_i64(v).with_context(|| key.to_owned()))
            .transpose()
            .map(Option::flatten)
    };
    let batch_size = integer("BatchSize")?.unwrap_or(DEFAULT_BATCH_SIZE as i64);
    if !(1..=10_000).contains(&batch_size) {
        bail!("BatchSize {batch_size} is not within 1..=10000");
    }
    let window = integer("MaximumBatchingWindowInSeconds")?.unwrap_or(0);
    if !(0..=300).contains(&window) {
        bail!("MaximumBatchingWindowInSeconds {window} is not within 0..=300");
    }
    if batch_size > 10 && window < 1 {
        bail!(
            "a BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1 (as in AWS)"
        );
    }
    let mut report_batch_item_failures = false;
    if let Some(types) = props.get("FunctionResponseTypes") {
        let types = resolver.resolve(types)?;
        for t in types
            .as_ref()
            .and_then(Value::as_sequence)
            .context("FunctionResponseTypes must be a list")?
        {
            match scalar_string(t).as_deref() {
                Some("ReportBatchItemFailures") => report_batch_item_failures = true,
                other => bail!("FunctionResponseTypes: {other:?} is not ReportBatchItemFailures"),
            }
        }
    }
    let maximum_concurrency = match props.get("ScalingConfig") {
        None => None,
        Some(scaling) => {
            let n = scaling
                .get("MaximumConcurrency")
                .map(|v| resolver.resolve_i64(v))
                .transpose()?
                .flatten()
                .context("ScalingConfig: only MaximumConcurrency is emulated")?;
            if !(2..=1000).contains(&n) {
                bail!("ScalingConfig.MaximumConcurrency {n} is not within 2..=1000");
            }
            Some(usize::try_from(n)?)
        }
    };
    let enabled = match props.get("Enabled") {
        None => true,
        Some(v) => resolver.resolve_bool(v)?.unwrap_or(true),
    };
    Ok(EventSource {
        function: String::new(),
        binary: String::new(),
        event: String::new(),
        queue,
        batch_size: usize::try_from(batch_size)?,
        window: Duration::from_secs(u64::try_from(window)?),
        report_batch_item_failures,
        maximum_concurrency,
        enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  Payments: { Type: AWS::SQS::Queue }
  Validator:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: validator } }
    Properties:
      Events:
        Online:
          Type: SQS
          Properties:
            Queue: !GetAtt Payments.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
        Api:
          Type: HttpApi
          Properties: { Path: /x, Method: GET }
"#;

    #[test]
    fn an_sqs_event_is_read_with_its_batching_and_response_types() -> anyhow::Result<()> {
        let sources = event_sources_from_template(&Template::parse(TEMPLATE)?)?;
        assert_eq!(
            sources,
            [EventSource {
                function: "Validator".into(),
                binary: "validator".into(),
                event: "Online".into(),
                queue: "Payments".into(),
                batch_size: 10,
                window: Duration::from_secs(1),
                report_batch_item_failures: true,
                maximum_concurrency: None,
                enabled: true,
            }]
        );
        assert_eq!(
            sources[0].describe(),
            "sqs Payments -> validator (batch 10, window 1s, partial failures)"
        );
        Ok(())
    }

    #[test]
    fn defaults_are_lambdas_batch_of_ten_without_window_or_partial_failures() -> anyhow::Result<()>
    {
        let text = TEMPLATE
            .replace("            BatchSize: 10\n", "")
            .replace("            MaximumBatchingWindowInSeconds: 1\n", "")
            .replace(
                "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
                "",
            );
        let sources = event_sources_from_template(&Template::parse(&text)?)?;
        assert_eq!(sources[0].batch_size, 10);
        assert_eq!(sources[0].window, Duration::ZERO);
        assert!(!sources[0].report_batch_item_failures);
        Ok(())
    }

    #[test]
    fn what_cannot_be_emulated_is_an_error_naming_it() -> anyhow::Result<()> {
        for (change, expected) in [
            (
                "BatchSize: 10\n",
                "BatchSize: 10\n            FilterCriteria: { Filters: [] }\n",
            ),
            ("Queue: !GetAtt Payments.Arn", "Queue: arn:aws:sqs:x"),
            (
                "BatchSize: 10\n            MaximumBatchingWindowInSeconds: 1",
                "BatchSize: 100\n            MaximumBatchingWindowInSeconds: 0",
            ),
            ("[ReportBatchItemFailures]", "[Other]"),
        ]
        .map(|(from, to)| (TEMPLATE.replacen(from, to, 1), to))
        {
            let result = event_sources_from_template(&Template::parse(&change)?);
            let err = result
                .err()
                .with_context(|| format!("accepted {expected}"))?;
            assert!(format!("{err:#}").contains("cannot be emulated"), "{err:#}");
        }
        Ok(())
    }
}
