//! Every function's real binary, run by `cargo lambda watch` under the Lambda Runtime API,
//! invoked with its events from `events/` (the files `sam local invoke -e` takes): API Gateway
//! v2 requests, the authorizer's REQUEST events and SQS batches for the queue consumers. The
//! stack has the demo users and accounts seeded and the gateway simulator running.

mod support;

use serde_json::Value;
use support::TestResult;

/// Each function binary declared in template.yaml.
fn binaries() -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let template =
        payrail_tools::local::template::Template::load(support::repo_root().join("template.yaml"))?;
    let mut names: Vec<String> = template
        .resources_of_type("AWS::Serverless::Function")
        .filter_map(|f| {
            f.value
                .get("Metadata")?
                .get("BuildProperties")?
                .get("Binary")?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

async fn invoke(
    lambda: &str,
    binary: &str,
    event: &Value,
) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    let url = format!("{lambda}/2015-03-31/functions/{binary}/invocations");
    let response = reqwest::Client::new().post(url).json(event).send().await?;
    assert!(
        response.status().is_success(),
        "invoke of {binary} failed: {}",
        response.status()
    );
    Ok(response.json().await?)
}

#[tokio::test]
async fn every_function_answers_its_sample_events() -> TestResult {
    let Some(lambda) = support::service("PAYRAIL_LAMBDA_URL") else {
        return Ok(());
    };
    let binaries = binaries()?;
    assert!(binaries.len() >= 4, "template.yaml lists {binaries:?}");
    let events = support::repo_root().join("events");
    for binary in &binaries {
        let mut files: Vec<_> = std::fs::read_dir(&events)?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".json"))
            .filter(|name| {
                name == &format!("{binary}.json") || name.starts_with(&format!("{binary}-"))
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "events/ has no event for {binary}");
        for file in files {
            let event: Value = serde_json::from_str(&std::fs::read_to_string(events.join(&file))?)?;
            let response = invoke(&lambda, binary, &event).await?;
            check(&file, &response)?;
        }
    }
    Ok(())
}

/// The status an HTTP sample event must produce, from its file name.
fn expected_status(file: &str) -> u64 {
    if file.contains("invalid") || file.contains("missing-field") {
        422
    } else if file.contains("wrong-password") || file.contains("unauthenticated") {
        401
    } else if file.contains("merchant") || file.contains("disabled") || file.contains("-admin") {
        403
    } else if file.contains("unknown") {
        404
    } else if file == "payments-create.json" {
        201
    } else {
        200
    }
}

/// What each sample event must produce.
fn check(file: &str, response: &Value) -> TestResult {
    if file.starts_with("authorizer") {
        // Always authorized: the decision travels in the context (shared/src/auth/authorizer.rs).
        assert_eq!(response["isAuthorized"], true, "{file}: {response}");
        let denied = match file {
            "authorizer.json" => "invalid_token",
            "authorizer-missing-token.json" => "missing_token",
            other => return Err(format!("no expectation written for events/{other}").into()),
        };
        assert_eq!(
            response["context"],
            serde_json::json!({"denied": denied}),
            "{file}"
        );
        return Ok(());
    }
    if ["validator", "recorder", "log-forwarder"]
        .iter()
        .any(|consumer| file.starts_with(consumer))
    {
        return check_batch(file, response);
    }
    if file.starts_with("reconciler") {
        return check_reconciliation(file, response);
    }
    let status = response["statusCode"].as_u64().unwrap_or(0);
    let body = response["body"].as_str().unwrap_or_default();
    let content_type = response["headers"]["content-type"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(status, expected_status(file), "{file}: {response}");
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{file}");
        let problem: Value = serde_json::from_str(body)?;
        assert_eq!(problem["status"], status, "{file}");
        if status == 422 {
            let field = match file {
                f if f.starts_with("auth-token") => "password",
                f if f.starts_with("transactions") => "days",
                "payments-list-invalid.json" => "account_id",
                "payments-create-invalid.json" | "refunds-create-invalid.json" => "amount",
                _ => "id",
            };
            assert_eq!(problem["errors"][0]["field"], field, "{file}");
        }
        return Ok(());
    }
    match file {
        "auth-token.json" => {
            let token: Value = serde_json::from_str(body)?;
            assert_eq!(token["token_type"], "Bearer", "{file}: {body}");
            assert!(
                token["access_token"]
                    .as_str()
                    .is_some_and(|t| t.split('.').count() == 3)
            );
            assert_eq!(response["headers"]["cache-control"], "no-store", "{file}");
        }
        "transactions-list.json" => {
            let page: Value = serde_json::from_str(body)?;
            assert!(
                page["data"].is_array() && page["has_more"].is_boolean(),
                "{file}: {body}"
            );
        }
        "transactions-count.json" => {
            let count: Value = serde_json::from_str(body)?;
            assert_eq!(count["card_type"], "visa");
            assert!(count["count"].is_u64(), "{file}: {body}");
        }
        "accounts-get.json" => {
            let account: Value = serde_json::from_str(body)?;
            assert_eq!(account["account_id"], 1, "{file}: {body}");
            assert!(account["email"].as_str().is_some_and(|e| e.contains('@')));
        }
        "payments-create.json" => {
            let payment: Value = serde_json::from_str(body)?;
            assert_eq!(payment["status"], "succeeded", "{file}: {body}");
            assert_eq!(
                payment["card"]["masked"], "411111******1111",
                "{file}: {body}"
            );
            assert!(
                !body.contains("4111111111111111"),
                "{file}: the full number came back"
            );
        }
        "payments-list.json" => {
            let page: Value = serde_json::from_str(body)?;
            assert!(page["data"].is_array(), "{file}: {body}");
        }
        "openapi-json.json" => {
            let doc: Value = serde_json::from_str(body)?;
            assert_eq!(doc["openapi"], "3.1.0");
        }
        "api-docs.json" => assert!(
            content_type.starts_with("text/html") && body.contains("swagger-ui"),
            "{file}"
        ),
        "api-docs-asset.json" => assert_eq!(content_type, "text/css", "{file}"),
        other => return Err(format!("no expectation written for events/{other}").into()),
    }
    Ok(())
}

/// An SQS consumer's answer: every message of a valid batch processed; the one message of an
/// `-invalid` batch reported back (ReportBatchItemFailures) so that it is retried, then DLQ'd.
fn check_batch(file: &str, response: &Value) -> TestResult {
    let failures = response["batchItemFailures"]
        .as_array()
        .ok_or_else(|| format!("{file}: no batchItemFailures in {response}"))?;
    if file.contains("invalid") {
        assert_eq!(failures.len(), 1, "{file}: {response}");
        assert!(
            failures[0]["itemIdentifier"]
                .as_str()
                .is_some_and(|id| id.starts_with("0b5c3f8e-")),
            "{file}: {response}"
        );
    } else {
        assert!(failures.is_empty(), "{file}: {response}");
    }
    Ok(())
}

/// The reconciler's answer to its schedule: how many stale pending payments it found and what
/// became of each; with SQS up, every one it could send was sent.
fn check_reconciliation(file: &str, response: &Value) -> TestResult {
    let count = |name: &str| {
        response[name]
            .as_u64()
            .ok_or_else(|| format!("{file}: no {name} count in {response}"))
    };
    let (stale, resent, failed, unsendable) = (
        count("stale")?,
        count("resent")?,
        count("failed")?,
        count("unsendable")?,
    );
    assert_eq!(failed, 0, "{file}: {response}");
    assert_eq!(resent + unsendable, stale, "{file}: {response}");
    Ok(())
}

/// events/authorizer.json with a token the stack's key signed: the identity comes through.
#[tokio::test]
async fn the_authorizer_passes_a_valid_tokens_identity_on() -> TestResult {
    let (Some(lambda), Some(key)) = (
        support::service("PAYRAIL_LAMBDA_URL"),
        support::service("TOKEN_SIGNING_KEY"),
    ) else {
        return Ok(());
    };
    use payrail_shared::auth::{ActingFor, Role, SigningKey, TokenIssuer};
    use payrail_shared::domain::{Clock, MerchantId, SystemClock};
    let bobs = MerchantId::new();
    let token = TokenIssuer::new(
        &SigningKey::new(key.into_bytes())?,
        30,
        support::stack_token_scope()?,
    )
    .issue(
        "bob",
        Role::Merchant,
        Some(ActingFor {
            id: &bobs,
            name: "Bob's Bikes",
        }),
        SystemClock.now(),
    )?
    .access_token;
    let path = support::repo_root().join("events/authorizer.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    event["headers"]["authorization"] = Value::from(format!("Bearer {token}"));
    let response = invoke(&lambda, "authorizer", &event).await?;
    assert_eq!(response["isAuthorized"], true);
    assert_eq!(
        response["context"],
        serde_json::json!({
            "sub": "bob", "role": "merchant", "merchant": "Bob's Bikes",
            "merchant_id": bobs.as_str(),
        })
    );
    Ok(())
}
