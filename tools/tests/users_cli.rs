//! The `users` command against the local DynamoDB: add (password from stdin, stored only as an
//! argon2id hash), refuse a duplicate, disable, enable, list. Runs when
//! `PAYRAIL_TEST_DYNAMODB_ENDPOINT` is set (`make test` sets it).

use aws_sdk_dynamodb::types::AttributeValue;
use payrail_shared::auth::verify_password;
use payrail_shared::users::{DynamoUsers, FindUser, Username};
use payrail_tools::generator::{Config, client};
use payrail_tools::local::tables::{create_tables, tables_from_template};
use payrail_tools::local::template::Template;
use std::io::Write;
use std::process::{Command, Output, Stdio};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `users ARGS` with `stdin` as its standard input.
fn users(args: &[&str], stdin: &str) -> Result<Output, Box<dyn std::error::Error>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_users"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn adds_disables_enables_and_lists_users() -> TestResult {
    let Ok(endpoint) = std::env::var("PAYRAIL_TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("PAYRAIL_REQUIRE_EMULATORS").is_err(),
            "PAYRAIL_TEST_DYNAMODB_ENDPOINT must be set: run the tests through `make test`"
        );
        return Ok(());
    };
    // The users table exactly as template.yaml declares it, under a fresh prefix.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(root.join("template.yaml"))?;
    let tables: Vec<_> = tables_from_template(&template)?
        .into_iter()
        .filter(|t| t.logical_id == "UsersTable")
        .collect();
    let prefix = format!("users-test-{}-", uuid::Uuid::new_v4().simple());
    let table = format!("{prefix}UsersTable");
    let yaml = format!(
        "endpoint: {endpoint}\nregion: eu-west-1\ncredentials: {{ access_key_id: local, secret_access_key: local }}\ntable: {table}\n"
    );
    let dynamodb = client(&Config::parse(&yaml)?).await;
    create_tables(&dynamodb, &tables, &prefix).await?;
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("users.yaml");
    std::fs::write(&config, &yaml)?;
    let config = config.to_string_lossy().into_owned();
    let c = config.as_str();

    let added = users(
        &[
            "add",
            "--config",
            c,
            "--username",
            "dora",
            "--role",
            "merchant",
            "--merchant",
            "Dora's Deli",
        ],
        "correct horse battery\n",
    )?;
    assert!(added.status.success(), "{}", text(&added));

    // Stored as an argon2id hash of exactly the line given, never in clear.
    let store = DynamoUsers::new(dynamodb.clone(), table.clone());
    let dora = Username::parse("dora")?;
    let stored = store.find(&dora).await?.ok_or("dora was not stored")?;
    assert!(stored.password_hash.0.starts_with("$argon2id$"));
    assert!(verify_password(
        "correct horse battery",
        Some(&stored.password_hash)
    ));
    let raw = dynamodb
        .get_item()
        .table_name(&table)
        .key("username", AttributeValue::S("dora".into()))
        .send()
        .await?
        .item
        .unwrap_or_default();
    assert!(!format!("{raw:?}").contains("correct horse"));
    assert_eq!(stored.merchant.as_deref(), Some("Dora's Deli"));
    assert!(stored.enabled);

    let again = users(
        &[
            "add",
            "--config",
            c,
            "--username",
            "dora",
            "--role",
            "admin",
        ],
        "another password\n",
    )?;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("already exists"));
    let tolerated = users(
        &[
            "add",
            "--config",
            c,
            "--username",
            "dora",
            "--role",
            "admin",
            "--exists-ok",
        ],
        "another password\n",
    )?;
    assert!(tolerated.status.success(), "{}", text(&tolerated));
    assert!(
        store
            .find(&dora)
            .await?
            .is_some_and(|u| u.merchant.is_some()),
        "left unchanged"
    );

    for (args, stdin) in [
        (
            vec![
                "add",
                "--config",
                c,
                "--username",
                "eve",
                "--role",
                "merchant",
            ],
            "long enough\n",
        ),
        (
            vec![
                "add",
                "--config",
                c,
                "--username",
                "eve",
                "--role",
                "admin",
                "--merchant",
                "X",
            ],
            "long enough\n",
        ),
        (
            vec!["add", "--config", c, "--username", "eve", "--role", "admin"],
            "short\n",
        ),
        (
            vec!["add", "--config", c, "--username", "Eve", "--role", "admin"],
            "long enough\n",
        ),
    ] {
        let refused = users(&args, stdin)?;
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&refused)
        );
    }

    let disabled = users(&["disable", "--config", c, "--username", "dora"], "")?;
    assert!(disabled.status.success(), "{}", text(&disabled));
    assert!(store.find(&dora).await?.is_some_and(|u| !u.enabled));
    let missing = users(&["disable", "--config", c, "--username", "nobody"], "")?;
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));

    let listed = users(&["list", "--config", c], "")?;
    let listing = text(&listed);
    assert!(
        listing.contains("dora") && listing.contains("false"),
        "{listing}"
    );
    assert!(!listing.contains("argon2"), "a listing never shows hashes");

    let enabled = users(&["enable", "--config", c, "--username", "dora"], "")?;
    assert!(enabled.status.success(), "{}", text(&enabled));
    assert!(store.find(&dora).await?.is_some_and(|u| u.enabled));

    let _ = dynamodb.delete_table().table_name(&table).send().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
