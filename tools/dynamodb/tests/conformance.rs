//! What payrail relies on from DynamoDB, checked against the local one (`payrail-dynamodb`, that
//! is Dynoxide): each test starts its own emulator on a free port and talks to it over the AWS
//! SDK, as the functions do. An emulator upgrade that changes one of these behaviours fails
//! here, by name, before it shows as a strange failure elsewhere. Each behaviour is DynamoDB's
//! documented one; docs/design.md (the local stack) lists them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, Put, ReturnConsumedCapacity, ScalarAttributeType,
    TimeToLiveSpecification, TransactWriteItem, Update,
};
use payrail_shared::store::StoreError;
use payrail_shared::store::transact::cancellation_codes;

type TestResult = anyhow::Result<()>;

/// One emulator process, stopped when dropped.
struct Emulator {
    child: Child,
    client: Client,
}

impl Emulator {
    async fn start(args: &[&str]) -> anyhow::Result<Emulator> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_payrail-dynamodb"))
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "tests",
            ))
            .load()
            .await;
        let emulator = Emulator {
            child,
            client: Client::new(&config),
        };
        eventually("the emulator answers", || async {
            Ok(emulator.client.list_tables().send().await.is_ok())
        })
        .await?;
        Ok(emulator)
    }

    /// A table keyed `pk`/`sk` (strings) with one index `by_g` on `g`, as payrail's tables are.
    async fn table(&self, name: &str) -> anyhow::Result<()> {
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let string = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        self.client
            .create_table()
            .table_name(name)
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(string("pk")?)
            .attribute_definitions(string("sk")?)
            .attribute_definitions(string("g")?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("by_g")
                    .key_schema(key("g", KeyType::Hash)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await?;
        Ok(())
    }
}

impl Emulator {
    /// Puts an item into the `payments` table.
    async fn put(&self, attributes: &[(&str, AttributeValue)]) -> anyhow::Result<()> {
        let mut put = self.client.put_item().table_name("payments");
        for (name, value) in attributes {
            put = put.item(*name, value.clone());
        }
        put.send().await?;
        Ok(())
    }

    /// The item of `payments` at (pk, sk), read consistently.
    async fn get(
        &self,
        pk: &str,
        sk: &str,
    ) -> anyhow::Result<Option<std::collections::HashMap<String, AttributeValue>>> {
        let out = self
            .client
            .get_item()
            .table_name("payments")
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it holds, for at most 30 s.
async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{what}: not within 30 s")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn now_secs() -> anyhow::Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())
}

#[tokio::test]
async fn a_cancelled_transaction_names_the_action_whose_condition_failed() -> TestResult {
    let db = Emulator::start(&[]).await?;
    db.table("payments").await?;
    db.put(&[("pk", s("a")), ("sk", s("x"))]).await?;

    let err = db
        .client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name("payments")
                        .key("pk", s("counter"))
                        .key("sk", s("x"))
                        .update_expression("ADD n :one")
                        .expression_attribute_values(":one", AttributeValue::N("1".into()))
                        .build()?,
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("payments")
                        .item("pk", s("a"))
                        .item("sk", s("x"))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()?,
                )
                .build(),
        )
        .send()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("the transaction committed over an existing item"))?;

    assert_eq!(
        cancellation_codes(&err),
        Some(vec!["None".to_owned(), "ConditionalCheckFailed".to_owned()]),
        "{err:?}"
    );
    assert!(StoreError::is_condition_failure(&err));
    let counter = db.get("counter", "x").await?;
    assert!(counter.is_none(), "a cancelled transaction wrote");
    Ok(())
}

#[tokio::test]
async fn a_single_write_whose_condition_fails_is_conditional_check_failed() -> TestResult {
    let db = Emulator::start(&[]).await?;
    db.table("payments").await?;
    let put = || {
        db.client
            .put_item()
            .table_name("payments")
            .item("pk", s("a"))
            .item("sk", s("x"))
            .condition_expression("attribute_not_exists(pk)")
            .send()
    };
    put().await?;
    let err = put()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("the second put overwrote the item"))?;
    assert!(StoreError::is_conditional_check_failed(&err), "{err:?}");
    assert!(!StoreError::from(err).is_transient());
    Ok(())
}

#[tokio::test]
async fn a_consistent_read_sees_the_write_before_it_and_an_index_refuses_one() -> TestResult {
    let db = Emulator::start(&[]).await?;
    db.table("payments").await?;
    db.put(&[("pk", s("a")), ("sk", s("x")), ("g", s("G"))])
        .await?;
    let read = db.get("a", "x").await?;
    assert_eq!(read.as_ref().and_then(|i| i.get("g")), Some(&s("G")));

    // DynamoDB: "Consistent reads are not supported on global secondary indexes".
    let err = db
        .client
        .query()
        .table_name("payments")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("G"))
        .consistent_read(true)
        .send()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("a consistent read of a GSI was answered"))?;
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn a_query_with_a_limit_stops_there_with_the_key_to_go_on_from() -> TestResult {
    let db = Emulator::start(&[]).await?;
    db.table("payments").await?;
    for sk in ["1", "2", "3"] {
        db.put(&[("pk", s("p")), ("sk", s(sk))]).await?;
    }
    let query = |start: Option<std::collections::HashMap<String, AttributeValue>>| {
        db.client
            .query()
            .table_name("payments")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .scan_index_forward(false)
            .limit(2)
            .set_exclusive_start_key(start)
            .send()
    };
    let first = query(None).await?;
    let sks: Vec<_> = first.items().iter().map(|i| i.get("sk").cloned()).collect();
    assert_eq!(sks, [Some(s("3")), Some(s("2"))], "newest first, two");
    let rest = query(first.last_evaluated_key().cloned()).await?;
    let sks: Vec<_> = rest.items().iter().map(|i| i.get("sk").cloned()).collect();
    assert_eq!(sks, [Some(s("1"))]);
    Ok(())
}

#[tokio::test]
async fn an_index_added_later_holds_the_items_written_before() -> TestResult {
    let db = Emulator::start(&[]).await?;
    db.table("payments").await?;
    db.put(&[("pk", s("a")), ("sk", s("x")), ("h", s("H"))])
        .await?;
    db.client
        .update_table()
        .table_name("payments")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("h")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .global_secondary_index_updates(
            aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                .create(
                    aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by_h")
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name("h")
                                .key_type(KeyType::Hash)
                                .build()?,
                        )
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::KeysOnly)
                                .build(),
                        )
                        .build()?,
                )
                .build(),
        )
        .send()
        .await?;
    eventually("by_h is ACTIVE", || async {
        let table = db
            .client
            .describe_table()
            .table_name("payments")
            .send()
            .await?;
        Ok(table.table().is_some_and(|t| {
            t.global_secondary_indexes().iter().any(|g| {
                g.index_name() == Some("by_h")
                    && g.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active)
            })
        }))
    })
    .await?;
    let found = db
        .client
        .query()
        .table_name("payments")
        .index_name("by_h")
        .key_condition_expression("h = :h")
        .expression_attribute_values(":h", s("H"))
        .send()
        .await?;
    assert_eq!(found.count(), 1, "the item written before the index");
    Ok(())
}

#[tokio::test]
async fn expired_items_are_deleted_and_live_ones_kept() -> TestResult {
    let db = Emulator::start(&["--ttl-sweep-seconds", "1"]).await?;
    db.table("payments").await?;
    db.client
        .update_time_to_live()
        .table_name("payments")
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    let now = now_secs()?;
    for (sk, expires_at) in [("gone", now - 10), ("kept", now + 3600)] {
        db.put(&[
            ("pk", s("a")),
            ("sk", s(sk)),
            ("expires_at", AttributeValue::N(expires_at.to_string())),
        ])
        .await?;
    }
    eventually("the expired item is deleted", || async {
        Ok(db.get("a", "gone").await?.is_none())
    })
    .await?;
    let kept = db.get("a", "kept").await?;
    assert!(kept.is_some(), "an item not yet expired was deleted");
    Ok(())
}

#[tokio::test]
async fn a_write_reports_its_capacity_per_table_and_index() -> TestResult {
    let db = Emulator::start(&[]).await?;
    db.table("payments").await?;
    // 1.5 KB: 2 write units on the table (1 per KB, rounded up) and 2 on the index it lands in.
    let out = db
        .client
        .put_item()
        .table_name("payments")
        .item("pk", s("a"))
        .item("sk", s("x"))
        .item("g", s("G"))
        .item("pad", s(&"x".repeat(1500)))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await?;
    let used = out
        .consumed_capacity()
        .ok_or_else(|| anyhow::anyhow!("no ConsumedCapacity"))?;
    assert_eq!(used.table().and_then(|t| t.capacity_units()), Some(2.0));
    let index = used
        .global_secondary_indexes()
        .and_then(|m| m.get("by_g"))
        .and_then(|c| c.capacity_units());
    assert_eq!(index, Some(2.0), "{used:?}");
    Ok(())
}

#[tokio::test]
async fn data_in_a_file_survives_the_emulator_being_killed() -> TestResult {
    let dir = std::env::temp_dir().join(format!("payrail-dynamodb-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("db.sqlite");
    let path = file.to_string_lossy().into_owned();
    {
        let db = Emulator::start(&["--db-path", &path]).await?;
        db.table("payments").await?;
        db.put(&[("pk", s("a")), ("sk", s("x"))]).await?;
        // Dropped: SIGKILL, as a crash or the fault tests' stop after its grace period.
    }
    let db = Emulator::start(&["--db-path", &path]).await?;
    let read = db.get("a", "x").await?;
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(read.is_some(), "the committed item was lost");
    Ok(())
}
