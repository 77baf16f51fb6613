//! create-tables against the local DynamoDB on a table that predates an index of the template (a
//! persisted local table, `make run`): the missing index is added, the data stays. Runs only
//! when `PAYRAIL_TEST_DYNAMODB_ENDPOINT` is set (`make test` sets it).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use payrail_tools::local::tables::{create_tables, tables_from_template};
use payrail_tools::local::template::Template;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ENDPOINT_VAR: &str = "PAYRAIL_TEST_DYNAMODB_ENDPOINT";

async fn local_client() -> Option<Client> {
    let Ok(endpoint) = std::env::var(ENDPOINT_VAR) else {
        assert!(
            std::env::var("PAYRAIL_REQUIRE_EMULATORS").is_err(),
            "{ENDPOINT_VAR} must be set: run the tests through `make test`"
        );
        eprintln!("note: {ENDPOINT_VAR} is not set; skipping");
        return None;
    };
    let endpoint = if endpoint.contains("://") {
        endpoint
    } else {
        format!("http://{endpoint}")
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .load()
        .await;
    Some(Client::new(&config))
}

#[tokio::test]
async fn an_index_the_template_added_later_is_created_on_the_existing_table() -> TestResult {
    let Some(client) = local_client().await else {
        return Ok(());
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(root.join("template.yaml"))?;
    let full: Vec<_> = tables_from_template(&template)?
        .into_iter()
        .filter(|t| t.logical_id == "TransactionsTable")
        .collect();
    let mut older = full.clone();
    older[0]
        .global_secondary_indexes
        .retain(|i| i.name != "by_pending");
    older[0]
        .attribute_definitions
        .retain(|a| !a.name.starts_with("pending_"));
    let prefix = format!("tables-test-{}-", uuid::Uuid::new_v4().simple());
    let name = format!("{prefix}TransactionsTable");
    create_tables(&client, &older, &prefix).await?;
    client
        .put_item()
        .table_name(&name)
        .item("pk", AttributeValue::S("PAY#x".into()))
        .item("sk", AttributeValue::S("PAYMENT".into()))
        .item("pending_shard", AttributeValue::S("PENDING#1".into()))
        .item("pending_since", AttributeValue::S("0000000000001#x".into()))
        .send()
        .await?;

    let outcomes = create_tables(&client, &full, &prefix).await?;

    assert!(!outcomes[0].created);
    assert_eq!(outcomes[0].added_indexes, ["by_pending"]);
    assert!(outcomes[0].drift.is_empty(), "{:?}", outcomes[0].drift);
    let found = client
        .query()
        .table_name(&name)
        .index_name("by_pending")
        .key_condition_expression("pending_shard = :s")
        .expression_attribute_values(":s", AttributeValue::S("PENDING#1".into()))
        .send()
        .await?;
    assert_eq!(
        found.count(),
        1,
        "the item written before is in the new index"
    );
    let again = create_tables(&client, &full, &prefix).await?;
    assert!(again[0].added_indexes.is_empty());
    client.delete_table().table_name(&name).send().await?;
    Ok(())
}
