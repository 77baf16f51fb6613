//! What Lambda makes of a consumer's answer: which messages of the batch to delete.
//!
//! Without `ReportBatchItemFailures`, an invocation that returns is a success for the whole
//! batch. With it, the output is read as AWS documents ("Reporting batch item failures"):
//! an empty or null `batchItemFailures`, an empty object or `null` is a complete success;
//! invalid JSON, an `itemIdentifier` that is missing, empty, null or not a message of the batch
//! is a complete failure; otherwise the listed messages failed and the rest succeeded. A failed
//! invocation is a complete failure. Failed messages are not deleted: they return when their
//! visibility timeout ends, and the queue's redrive policy moves them on after
//! `maxReceiveCount` receives.

use std::collections::BTreeSet;

use serde_json::Value;

/// How a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Delete every message.
    AllSucceeded,
    /// Delete every message but these (message ids; never empty).
    SomeFailed(BTreeSet<String>),
    /// Delete nothing; the string says why.
    BatchFailed(String),
}

impl Verdict {
    /// Whether the message `id` is to be deleted.
    pub fn deletes(&self, id: &str) -> bool {
        match self {
            Verdict::AllSucceeded => true,
            Verdict::SomeFailed(failed) => !failed.contains(id),
            Verdict::BatchFailed(_) => false,
        }
    }
}

/// The verdict on the output of a successful invocation over the messages `ids`.
pub fn verdict(ids: &[&str], output: &[u8], report_batch_item_failures: bool) -> Verdict {
    if !report_batch_item_failures {
        return Verdict::AllSucceeded;
    }
    if output.iter().all(u8::is_ascii_whitespace) {
        return Verdict::AllSucceeded;
    }
    let response: Value = match serde_json::from_slice(output) {
        Ok(v) => v,
        Err(e) => return Verdict::BatchFailed(format!("the response is not JSON: {e}")),
    };
    let failures = match &response {
        Value::Null => return Verdict::AllSucceeded,
        Value::Object(map) => match map.get("batchItemFailures") {
            None | Some(Value::Null) => return Verdict::AllSucceeded,
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Verdict::BatchFailed("batchItemFailures is not a list".into());
            }
        },
        _ => return Verdict::BatchFailed("the response is not a JSON object".into()),
    };
    let mut failed = BTreeSet::new();
    for item in failures {
        match item.get("itemIdentifier") {
            Some(Value::String(id)) if ids.contains(&id.as_str()) => {
                failed.insert(id.clone());
            }
            other => {
                return Verdict::BatchFailed(format!(
                    "itemIdentifier {} is not a message of the batch",
                    other.map_or("(missing)".to_owned(), Value::to_string)
                ));
            }
        }
    }
    if failed.is_empty() {
        Verdict::AllSucceeded
    } else {
        Verdict::SomeFailed(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 3] = ["a", "b", "c"];

    fn partial(output: &str) -> Verdict {
        verdict(&IDS, output.as_bytes(), true)
    }

    #[test]
    fn empty_null_or_absent_failure_lists_are_a_complete_success() {
        for output in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
            r#"{"other":1}"#,
        ] {
            assert_eq!(partial(output), Verdict::AllSucceeded, "{output}");
        }
    }

    #[test]
    fn reported_failures_are_kept_and_the_rest_deleted() {
        let v = partial(r#"{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"b"}]}"#);
        assert_eq!(v, Verdict::SomeFailed(BTreeSet::from(["b".to_owned()])));
        assert!(v.deletes("a") && !v.deletes("b") && v.deletes("c"));
    }

    #[test]
    fn an_invalid_response_or_identifier_fails_the_whole_batch() {
        for output in [
            "not json",
            "[1]",
            r#"{"batchItemFailures":"b"}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"itemId":"b"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"z"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"z"}]}"#,
        ] {
            let v = partial(output);
            assert!(matches!(v, Verdict::BatchFailed(_)), "{output}: {v:?}");
            assert!(IDS.iter().all(|id| !v.deletes(id)));
        }
    }

    #[test]
    fn without_partial_failure_reporting_any_output_is_a_complete_success() {
        assert_eq!(
            verdict(
                &IDS,
                br#"{"batchItemFailures":[{"itemIdentifier":"a"}]}"#,
                false
            ),
            Verdict::AllSucceeded
        );
        assert_eq!(verdict(&IDS, b"garbage", false), Verdict::AllSucceeded);
    }
}
