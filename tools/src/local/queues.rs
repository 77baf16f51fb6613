//! The template's `AWS::SQS::Queue` resources, and creating them in the local SQS (moto).
//!
//! The local queue name is prefix + logical id (+ `.fifo` for FIFO queues), which is also what
//! `!Ref`/`!GetAtt` of the queue resolve to in the functions' environment (see
//! [`super::template::LocalQueue`]). Dead-letter queues are created before the queues that
//! redrive into them, so a `RedrivePolicy` can name the local DLQ's real ARN.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_norway::Value;

use super::template::{QUEUE_TYPE, Resolver, Template, intrinsic, scalar_string};

/// Properties that are SQS queue attributes of the same name, passed on as they are.
const ATTRIBUTES: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// Properties that change nothing on the local SQS (naming, tagging, KMS keys, who may redrive
/// into the queue): ignored.
const IGNORED: &[&str] = &[
    "QueueName",
    "Tags",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "RedriveAllowPolicy",
];

/// Where a queue sends the messages its consumers failed `max_receive_count` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// The logical id of the dead-letter queue (a queue of the same template).
    pub dead_letter_queue: String,
    pub max_receive_count: i64,
}

/// A queue as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    pub logical_id: String,
    /// SQS attributes other than the redrive policy (`VisibilityTimeout` → `"180"`, …).
    pub attributes: BTreeMap<String, String>,
    pub redrive: Option<Redrive>,
}

impl QueueDef {
    /// Whether this is a FIFO queue.
    pub fn fifo(&self) -> bool {
        self.attributes.get("FifoQueue").map(String::as_str) == Some("true")
    }

    /// The local queue name.
    pub fn queue_name(&self, prefix: &str) -> String {
        let suffix = if self.fifo() { ".fifo" } else { "" };
        format!("{prefix}{}{suffix}", self.logical_id)
    }
}

/// Reads every `AWS::SQS::Queue` of the template, dead-letter queues before the queues that
/// name them (otherwise in template order).
pub fn queues_from_template(template: &Template) -> anyhow::Result<Vec<QueueDef>> {
    let resolver = Resolver::new(template, "", "us-east-1");
    let queues = template
        .resources_of_type(QUEUE_TYPE)
        .map(|r| {
            queue_def(template, &resolver, r.logical_id, r.properties)
                .with_context(|| format!("queue {} in the template", r.logical_id))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    order_dead_letter_queues_first(queues)
}

fn queue_def(
    template: &Template,
    resolver: &Resolver<'_>,
    id: &str,
    props: &Value,
) -> anyhow::Result<QueueDef> {
    let mut attributes = BTreeMap::new();
    let mut redrive = None;
    let Some(map) = props.as_mapping() else {
        if props.is_null() {
            return Ok(QueueDef {
                logical_id: id.to_owned(),
                attributes,
                redrive,
            });
        }
        bail!("Properties must be a mapping");
    };
    for (key, value) in map {
        let key = key.as_str().unwrap_or_default();
        if key == "RedrivePolicy" {
            redrive = Some(redrive_policy(template, resolver, value).context("RedrivePolicy")?);
        } else if ATTRIBUTES.contains(&key) {
            if let Some(v) = resolver
                .resolve_string(value)
                .with_context(|| format!("property {key}"))?
            {
                attributes.insert(key.to_owned(), v);
            }
        } else if !IGNORED.contains(&key) {
            bail!("the local stack does not support the queue property {key}");
        }
    }
    Ok(QueueDef {
        logical_id: id.to_owned(),
        attributes,
        redrive,
    })
}

/// `{deadLetterTargetArn: !GetAtt <Queue>.Arn, maxReceiveCount: n}`: the target must be a
/// queue of this template, which is what the local stack can recreate.
fn redrive_policy(
    template: &Template,
    resolver: &Resolver<'_>,
    value: &Value,
) -> anyhow::Result<Redrive> {
    let target = value
        .get("deadLetterTargetArn")
        .context("deadLetterTargetArn is missing")?;
    let dead_letter_queue = get_att_arn_target(target)
        .filter(|id| template.resource(id).is_some_and(|r| r.kind == QUEUE_TYPE))
        .context("deadLetterTargetArn must be !GetAtt <a queue of this template>.Arn")?;
    let max_receive_count = value
        .get("maxReceiveCount")
        .map(|v| resolver.resolve_i64(v))
        .transpose()?
        .flatten()
        .context("maxReceiveCount is missing")?;
    if !(1..=1000).contains(&max_receive_count) {
        bail!("maxReceiveCount {max_receive_count} is not within 1..=1000");
    }
    Ok(Redrive {
        dead_letter_queue,
        max_receive_count,
    })
}

/// The logical id X of `!GetAtt X.Arn` (either form).
pub fn get_att_arn_target(value: &Value) -> Option<String> {
    let (name, arg) = intrinsic(value)?;
    if name != "Fn::GetAtt" {
        return None;
    }
    let (id, attribute) = match arg {
        Value::Sequence(parts) if parts.len() == 2 => {
            (scalar_string(&parts[0])?, scalar_string(&parts[1])?)
        }
        other => {
            let text = scalar_string(other)?;
            let (id, attribute) = text.split_once('.')?;
            (id.to_owned(), attribute.to_owned())
        }
    };
    (attribute == "Arn").then_some(id)
}

fn order_dead_letter_queues_first(mut pending: Vec<QueueDef>) -> anyhow::Result<Vec<QueueDef>> {
    let mut ordered: Vec<QueueDef> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|q| {
            q.redrive.as_ref().is_none_or(|r| {
                ordered
                    .iter()
                    .any(|done| done.logical_id == r.dead_letter_queue)
            })
        });
        let Some(index) = ready else {
            let ids: Vec<&str> = pending.iter().map(|q| q.logical_id.as_str()).collect();
            bail!("the redrive policies of these queues form a cycle: {ids:?}");
        };
        ordered.push(pending.remove(index));
    }
    Ok(ordered)
}

/// What [`create_queues`] did with one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOutcome {
    pub logical_id: String,
    pub queue_name: String,
    pub url: String,
    pub arn: String,
    /// False when the queue existed already (it was left alone).
    pub created: bool,
}

/// Creates the queues that do not exist yet (`queues` in the order of
/// [`queues_from_template`]); existing queues are left alone.
pub async fn create_queues(
    client: &Client,
    queues: &[QueueDef],
    prefix: &str,
) -> anyhow::Result<Vec<QueueOutcome>> {
    let mut done: Vec<QueueOutcome> = Vec::with_capacity(queues.len());
    for queue in queues {
        let name = queue.queue_name(prefix);
        let existing = client.get_queue_url().queue_name(&name).send().await;
        let (url, created) = match existing {
            Ok(found) => (found.queue_url().unwrap_or_default().to_owned(), false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist()) =>
            {
                let attributes = sdk_attributes(queue, &done)?;
                let created = client
                    .create_queue()
                    .queue_name(&name)
                    .set_attributes(Some(attributes))
                    .send()
                    .await
                    .with_context(|| format!("creating the queue {name}"))?;
                (created.queue_url().unwrap_or_default().to_owned(), true)
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("looking up the queue {name}")));
            }
        };
        let arn = queue_arn(client, &url).await?;
        done.push(QueueOutcome {
            logical_id: queue.logical_id.clone(),
            queue_name: name,
            url,
            arn,
            created,
        });
    }
    Ok(done)
}

/// A queue's ARN, as the SQS endpoint reports it.
pub async fn queue_arn(client: &Client, url: &str) -> anyhow::Result<String> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("reading the ARN of {url}"))?;
    attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .with_context(|| format!("{url} has no QueueArn"))
}

fn sdk_attributes(
    queue: &QueueDef,
    created: &[QueueOutcome],
) -> anyhow::Result<std::collections::HashMap<QueueAttributeName, String>> {
    let mut attributes: std::collections::HashMap<QueueAttributeName, String> = queue
        .attributes
        .iter()
        .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
        .collect();
    if let Some(redrive) = &queue.redrive {
        let target = created
            .iter()
            .find(|q| q.logical_id == redrive.dead_letter_queue)
            .with_context(|| {
                format!(
                    "the dead-letter queue {} of {} was not created first",
                    redrive.dead_letter_queue, queue.logical_id
                )
            })?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": target.arn,
            "maxReceiveCount": redrive.max_receive_count,
        });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_template() -> anyhow::Result<Template> {
        Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
    }

    #[test]
    fn the_real_template_declares_three_queues_each_redriving_into_its_dead_letter_queue()
    -> anyhow::Result<()> {
        let queues = queues_from_template(&real_template()?)?;
        for (main, dlq, receives) in [
            ("OnlineQueue", "OnlineDeadLetterQueue", 5),
            ("OfflineQueue", "OfflineDeadLetterQueue", 5),
            ("LogQueue", "LogDeadLetterQueue", 10),
        ] {
            let at = |id: &str| queues.iter().position(|q| q.logical_id == id);
            let (Some(m), Some(d)) = (at(main), at(dlq)) else {
                anyhow::bail!("{main} or {dlq} is missing: {queues:?}");
            };
            assert!(d < m, "{dlq} must be created before {main}");
            let queue = &queues[m];
            assert_eq!(
                queue.redrive,
                Some(Redrive {
                    dead_letter_queue: dlq.into(),
                    max_receive_count: receives
                })
            );
            assert_eq!(
                queue
                    .attributes
                    .get("VisibilityTimeout")
                    .map(String::as_str),
                Some("180")
            );
            assert_eq!(
                queues[d]
                    .attributes
                    .get("MessageRetentionPeriod")
                    .map(String::as_str),
                Some("1209600")
            );
        }
        Ok(())
    }

    const FIFO: &str = r#"
Parameters:
  Visibility: { Type: Number, Default: 7 }
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      VisibilityTimeout: !Ref Visibility
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [OrdersDlq, Arn] }, maxReceiveCount: 3 }
      Tags: [{ Key: a, Value: b }]
  OrdersDlq:
    Type: AWS::SQS::Queue
    Properties: { FifoQueue: true }
"#;

    #[test]
    fn fifo_queues_get_the_fifo_suffix_and_parameters_are_resolved() -> anyhow::Result<()> {
        let queues = queues_from_template(&Template::parse(FIFO)?)?;
        let names: Vec<String> = queues.iter().map(|q| q.queue_name("p_")).collect();
        assert_eq!(names, ["p_OrdersDlq.fifo", "p_Orders.fifo"]);
        assert_eq!(
            queues[1]
                .attributes
                .get("VisibilityTimeout")
                .map(String::as_str),
            Some("7")
        );
        Ok(())
    }

    #[test]
    fn an_unknown_property_or_a_dead_letter_target_outside_the_template_is_an_error()
    -> anyhow::Result<()> {
        let unknown = FIFO.replace("Tags:", "Something: 1\n      Tags:");
        let err = queues_from_template(&Template::parse(&unknown)?)
            .err()
            .context("expected an error")?;
        assert!(format!("{err:#}").contains("Something"), "{err:#}");

        let outside = FIFO.replace(
            r#"{ "Fn::GetAtt": [OrdersDlq, Arn] }"#,
            "arn:aws:sqs:eu-west-1:1:x",
        );
        let err = queues_from_template(&Template::parse(&outside)?)
            .err()
            .context("expected an error")?;
        assert!(
            format!("{err:#}").contains("deadLetterTargetArn"),
            "{err:#}"
        );
        Ok(())
    }

    #[test]
    fn a_redrive_cycle_is_an_error() -> anyhow::Result<()> {
        let cycle = FIFO.replace(
            "Properties: { FifoQueue: true }",
            "Properties: { RedrivePolicy: { deadLetterTargetArn: !GetAtt Orders.Arn, maxReceiveCount: 1 } }",
        );
        let result = queues_from_template(&Template::parse(&cycle)?);
        assert!(result.is_err(), "{result:?}");
        Ok(())
    }
}
