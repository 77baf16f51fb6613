//! The `redrive` command against the real moto server (`PAYRAIL_SQS_ENDPOINT`): a dry run
//! leaves the DLQ as it was, `--max` bounds the move, every moved message keeps its body and
//! attributes and gains `payrail_redriven = "1"`, and the DLQ ends empty.

mod support;

use std::process::{Command, Output};

use aws_sdk_sqs::types::MessageAttributeValue;
use support::sqs::{REGION, TestResult, client, depth, endpoint, fresh_prefix};

fn redrive(endpoint: &str, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_redrive"))
        .args(args)
        .env("AWS_ENDPOINT_URL_SQS", endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE")
        .output()?)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_dead_letter_queue_is_listed_then_moved_back_marked_as_redriven() -> TestResult {
    let Some(endpoint) = endpoint() else {
        return Ok(());
    };
    let client = client(&endpoint);
    let prefix = fresh_prefix("redrive");
    let queue = client
        .create_queue()
        .queue_name(format!("{prefix}Queue"))
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    let dlq = client
        .create_queue()
        .queue_name(format!("{prefix}DeadLetterQueue"))
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    let bodies: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"payment_id":"p-{i}","credit_card":"4111111111111111"}}"#))
        .collect();
    for body in &bodies {
        client
            .send_message()
            .queue_url(&dlq)
            .message_body(body)
            .message_attributes(
                "origin",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("crm")
                    .build()?,
            )
            .send()
            .await?;
    }

    let dry = redrive(&endpoint, &["--from", &dlq, "--to", &queue, "--dry-run"])?;
    assert!(dry.status.success(), "{}", text(&dry));
    let listing = text(&dry);
    assert!(
        listing.contains("payment_id=p-0") && listing.contains("3 message(s)"),
        "{listing}"
    );
    assert!(
        !listing.contains("4111111111111111"),
        "a dry run never prints a body"
    );
    assert_eq!(
        depth(&client, &dlq).await?,
        (3, 0),
        "a dry run leaves the DLQ as it was"
    );

    let some = redrive(&endpoint, &["--from", &dlq, "--to", &queue, "--max", "2"])?;
    assert!(some.status.success(), "{}", text(&some));
    assert!(
        text(&some).contains("moved 2 message(s)"),
        "{}",
        text(&some)
    );
    let rest = redrive(&endpoint, &["--from", &dlq, "--to", &queue])?;
    assert!(rest.status.success(), "{}", text(&rest));
    assert!(
        text(&rest).contains("moved 1 message(s)"),
        "{}",
        text(&rest)
    );
    assert_eq!(depth(&client, &dlq).await?, (0, 0));

    let received = client
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await?;
    let mut moved: Vec<String> = Vec::new();
    for message in received.messages() {
        let attributes = message.message_attributes().cloned().unwrap_or_default();
        assert_eq!(
            attributes
                .get("payrail_redriven")
                .and_then(|a| a.string_value()),
            Some("1")
        );
        assert_eq!(
            attributes.get("origin").and_then(|a| a.string_value()),
            Some("crm")
        );
        moved.push(message.body().unwrap_or_default().to_owned());
    }
    moved.sort();
    assert_eq!(moved, bodies);
    Ok(())
}

#[test]
fn an_unreachable_queue_is_exit_status_2() -> TestResult {
    let output = redrive(
        "http://127.0.0.1:9",
        &[
            "--from",
            "http://127.0.0.1:9/123456789012/a",
            "--to",
            "http://127.0.0.1:9/123456789012/b",
        ],
    )?;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    Ok(())
}
