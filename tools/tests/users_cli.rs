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

/// A users table as template.yaml declares it (with the merchant registry's indexes) under a
/// fresh prefix, and a config file naming it; `None` outside `make test`.
async fn fresh_users_table() -> Result<Option<(String, DynamoUsers)>, Box<dyn std::error::Error>> {
    let Ok(endpoint) = std::env::var("PAYRAIL_TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("PAYRAIL_REQUIRE_EMULATORS").is_err(),
            "PAYRAIL_TEST_DYNAMODB_ENDPOINT must be set: run the tests through `make test`"
        );
        return Ok(None);
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(root.join("template.yaml"))?;
    let tables: Vec<_> = tables_from_template(&template)?
        .into_iter()
        .filter(|t| t.logical_id == "UsersTable")
        .collect();
    let prefix = format!("owners-test-{}-", uuid::Uuid::new_v4().simple());
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
    Ok(Some((
        config.to_string_lossy().into_owned(),
        DynamoUsers::new(dynamodb, table),
    )))
}

fn add_merchant(
    c: &str,
    username: &str,
    merchant: &[&str],
) -> Result<Output, Box<dyn std::error::Error>> {
    let mut args = vec![
        "add",
        "--config",
        c,
        "--username",
        username,
        "--role",
        "merchant",
    ];
    args.extend_from_slice(merchant);
    users(&args, "long enough\n")
}

#[tokio::test]
async fn merchants_get_ids_share_them_by_id_and_none_may_be_upstream() -> TestResult {
    let Some((config, store)) = fresh_users_table().await? else {
        return Ok(());
    };
    let c = config.as_str();

    // The reserved upstream merchant: neither its name (in any case) nor its id.
    for merchant in [
        &["--merchant", "upstream"][..],
        &["--merchant", "UpStream"],
        &["--merchant", " upstream "],
        &["--merchant", "mer_upstream"],
        &["--merchant-id", "mer_upstream"],
    ] {
        let refused = add_merchant(c, "mallory", merchant)?;
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{merchant:?}: {}",
            text(&refused)
        );
        assert!(text(&refused).contains("upstream"), "{}", text(&refused));
    }
    assert!(store.find(&Username::parse("mallory")?).await?.is_none());

    // A new merchant gets a new id; a second user joins it by id, not by name.
    let added = add_merchant(c, "fay", &["--merchant", "Fay's Flowers"])?;
    assert!(added.status.success(), "{}", text(&added));
    let fay = store
        .find(&Username::parse("fay")?)
        .await?
        .ok_or("fay was not stored")?;
    let id = fay.merchant_id.clone().ok_or("fay has no merchant id")?;
    assert!(!id.is_upstream());
    assert!(text(&added).contains(id.as_str()), "{}", text(&added));
    let registry = store.list().await?;
    assert!(
        registry
            .iter()
            .all(|u| !u.username.as_str().starts_with("mer_")),
        "the registry's items are no users"
    );
    let same_name = add_merchant(c, "gus", &["--merchant", "Fay's Flowers"])?;
    assert_eq!(same_name.status.code(), Some(1), "{}", text(&same_name));
    assert!(
        text(&same_name).contains("--merchant-id"),
        "{}",
        text(&same_name)
    );
    let joined = add_merchant(c, "gus", &["--merchant-id", id.as_str()])?;
    assert!(joined.status.success(), "{}", text(&joined));
    let gus = store
        .find(&Username::parse("gus")?)
        .await?
        .ok_or("gus was not stored")?;
    assert_eq!(
        (gus.merchant_id.as_ref(), gus.merchant.as_deref()),
        (Some(&id), Some("Fay's Flowers"))
    );
    let unknown = add_merchant(
        c,
        "hal",
        &["--merchant-id", "mer_0123456789abcdef0123456789abcdef"],
    )?;
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));

    // A rename renames every user of the merchant; the id stays.
    let renamed = users(
        &[
            "rename-merchant",
            "--config",
            c,
            "--merchant-id",
            id.as_str(),
            "--merchant",
            "Fay & Gus",
        ],
        "",
    )?;
    assert!(renamed.status.success(), "{}", text(&renamed));
    for name in ["fay", "gus"] {
        let user = store
            .find(&Username::parse(name)?)
            .await?
            .ok_or("user gone")?;
        assert_eq!(
            (user.merchant_id.as_ref(), user.merchant.as_deref()),
            (Some(&id), Some("Fay & Gus"))
        );
    }
    let listing = text(&users(&["list", "--config", c], "")?);
    assert!(listing.contains(id.as_str()), "{listing}");
    Ok(())
}
