//! Every function's real binary, run by `cargo lambda watch` under the Lambda Runtime API,
//! invoked with its API Gateway v2 events from `events/` (the files `sam local invoke -e` takes).

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

/// What each sample event must produce.
fn check(file: &str, response: &Value) -> TestResult {
    let status = response["statusCode"].as_u64().unwrap_or(0);
    let body = response["body"].as_str().unwrap_or_default();
    let content_type = response["headers"]["content-type"]
        .as_str()
        .unwrap_or_default();
    let expect_status = if file.contains("invalid") { 422 } else { 200 };
    assert_eq!(status, expect_status, "{file}: {response}");
    match file {
        f if f.contains("invalid") => {
            assert_eq!(content_type, "application/problem+json", "{file}");
            let problem: Value = serde_json::from_str(body)?;
            assert_eq!(problem["errors"][0]["field"], "days", "{file}");
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
