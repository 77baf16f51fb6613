//! The template's `AWS::DynamoDB::Table` resources, and creating them in the local DynamoDB.
//!
//! The local table name is the resource's logical id (e.g. `TransactionsTable`) with an optional
//! prefix, which is also what `!Ref TransactionsTable` resolves to in the local function
//! environment (see [`super::env`]).

use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, LocalSecondaryIndex,
    Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus, TimeToLiveSpecification,
};
use serde_norway::Value;

use super::template::{Resolver, TABLE_TYPE, Template};

/// Properties the local stack reads.
const SUPPORTED: &[&str] = &[
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "TimeToLiveSpecification",
    "StreamSpecification",
];

/// Properties that change nothing on the local DynamoDB (encryption, backups, protection, naming,
/// tagging, cost and capacity management): ignored.
const IGNORED: &[&str] = &[
    "SSESpecification",
    "PointInTimeRecoverySpecification",
    "DeletionProtectionEnabled",
    "Tags",
    "TableName",
    "TableClass",
    "ContributorInsightsSpecification",
    "KinesisStreamSpecification",
    "ResourcePolicy",
    "OnDemandThroughput",
    "WarmThroughput",
];

/// One attribute definition (`S`, `N` or `B`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: String,
    pub kind: String,
}

/// One key schema element (`HASH` or `RANGE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyElement {
    pub name: String,
    pub key_type: String,
}

/// Read and write capacity units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    pub read: i64,
    pub write: i64,
}

/// A secondary index (global or local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub key_schema: Vec<KeyElement>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
    /// The `NonKeyAttributes` of an `INCLUDE` projection.
    pub non_key_attributes: Vec<String>,
    /// Only for global indexes of a provisioned table.
    pub throughput: Option<Throughput>,
}

/// How a table is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    PayPerRequest,
    Provisioned(Throughput),
}

/// A table as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// The resource's logical id; the local table name is prefix + this.
    pub logical_id: String,
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyElement>,
    pub global_secondary_indexes: Vec<IndexDef>,
    pub local_secondary_indexes: Vec<IndexDef>,
    pub billing: Billing,
    /// The TTL attribute, when `TimeToLiveSpecification.Enabled` is true.
    pub ttl_attribute: Option<String>,
    /// `StreamSpecification.StreamViewType`, when the table has a stream.
    pub stream_view_type: Option<String>,
}

impl TableDef {
    /// The local table name.
    pub fn table_name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.logical_id)
    }

    /// A global secondary index by name.
    pub fn gsi(&self, name: &str) -> Option<&IndexDef> {
        self.global_secondary_indexes
            .iter()
            .find(|i| i.name == name)
    }
}

/// Reads every `AWS::DynamoDB::Table` of the template, in template order.
pub fn tables_from_template(template: &Template) -> anyhow::Result<Vec<TableDef>> {
    let resolver = Resolver::new(template, "", "us-east-1");
    template
        .resources_of_type(TABLE_TYPE)
        .map(|r| {
            table_def(&resolver, r.logical_id, r.properties)
                .with_context(|| format!("table {} in the template", r.logical_id))
        })
        .collect()
}

fn table_def(resolver: &Resolver<'_>, id: &str, props: &Value) -> anyhow::Result<TableDef> {
    let Some(map) = props.as_mapping() else {
        bail!("Properties must be a mapping");
    };
    for key in map.keys() {
        let key = key.as_str().unwrap_or_default();
        if !SUPPORTED.contains(&key) && !IGNORED.contains(&key) {
            bail!("the local stack does not support the table property {key}");
        }
    }
    let get = |name: &str| -> anyhow::Result<Option<Value>> {
        match props.get(name) {
            None => Ok(None),
            Some(v) => Ok(resolver
                .resolve(v)
                .with_context(|| format!("property {name}"))?),
        }
    };

    let attribute_definitions = list(
        get("AttributeDefinitions")?.as_ref(),
        "AttributeDefinitions",
    )?
    .iter()
    .map(|a| {
        let kind = field(a, "AttributeType")?;
        if !["S", "N", "B"].contains(&kind.as_str()) {
            bail!("AttributeType {kind:?} is not S, N or B");
        }
        Ok(AttributeDef {
            name: field(a, "AttributeName")?,
            kind,
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()?;
    let key_schema = key_schema(get("KeySchema")?.as_ref()).context("KeySchema")?;

    let billing_mode = get("BillingMode")?
        .as_ref()
        .and_then(super::template::scalar_string);
    let table_throughput = get("ProvisionedThroughput")?
        .as_ref()
        .map(throughput)
        .transpose()
        .context("ProvisionedThroughput")?;
    let billing = match (billing_mode.as_deref(), table_throughput) {
        (Some("PAY_PER_REQUEST"), _) => Billing::PayPerRequest,
        (Some("PROVISIONED") | None, Some(t)) => Billing::Provisioned(t),
        (Some("PROVISIONED") | None, None) => {
            bail!("a PROVISIONED table (the default BillingMode) needs ProvisionedThroughput")
        }
        (Some(other), _) => bail!("unknown BillingMode {other:?}"),
    };
    let provisioned = matches!(billing, Billing::Provisioned(_));

    let indexes = |name: &str, global: bool| -> anyhow::Result<Vec<IndexDef>> {
        let Some(value) = get(name)? else {
            return Ok(Vec::new());
        };
        list(Some(&value), name)?
            .iter()
            .map(|i| index_def(i, global && provisioned))
            .collect::<anyhow::Result<Vec<_>>>()
            .with_context(|| name.to_owned())
    };
    let global_secondary_indexes = indexes("GlobalSecondaryIndexes", true)?;
    let local_secondary_indexes = indexes("LocalSecondaryIndexes", false)?;

    let ttl_attribute = match get("TimeToLiveSpecification")? {
        None => None,
        Some(spec) => {
            let enabled = spec
                .get("Enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let attribute = spec
                .get("AttributeName")
                .and_then(super::template::scalar_string);
            match (enabled, attribute) {
                (true, Some(a)) => Some(a),
                (true, None) => bail!("TimeToLiveSpecification needs AttributeName"),
                (false, _) => None,
            }
        }
    };
    let stream_view_type = match get("StreamSpecification")? {
        None => None,
        Some(spec) => Some(field(&spec, "StreamViewType").context("StreamSpecification")?),
    };

    let defined = |name: &str| attribute_definitions.iter().any(|a| a.name == name);
    let all_keys = key_schema.iter().chain(
        global_secondary_indexes
            .iter()
            .chain(&local_secondary_indexes)
            .flat_map(|i| &i.key_schema),
    );
    for key in all_keys {
        if !defined(&key.name) {
            bail!("key attribute {} is not in AttributeDefinitions", key.name);
        }
    }

    Ok(TableDef {
        logical_id: id.to_owned(),
        attribute_definitions,
        key_schema,
        global_secondary_indexes,
        local_secondary_indexes,
        billing,
        ttl_attribute,
        stream_view_type,
    })
}

fn list<'v>(value: Option<&'v Value>, what: &str) -> anyhow::Result<&'v [Value]> {
    match value.and_then(Value::as_sequence) {
        Some(items) => Ok(items),
        None => bail!("{what} must be a list"),
    }
}

fn field(value: &Value, name: &str) -> anyhow::Result<String> {
    value
        .get(name)
        .and_then(super::template::scalar_string)
        .with_context(|| format!("{name} is missing or not a string"))
}

fn key_schema(value: Option<&Value>) -> anyhow::Result<Vec<KeyElement>> {
    let keys = list(value, "KeySchema")?
        .iter()
        .map(|k| {
            let key_type = field(k, "KeyType")?;
            if key_type != "HASH" && key_type != "RANGE" {
                bail!("KeyType {key_type:?} is not HASH or RANGE");
            }
            Ok(KeyElement {
                name: field(k, "AttributeName")?,
                key_type,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.first().map(|k| k.key_type.as_str()) != Some("HASH") {
        bail!("a key schema starts with its HASH key");
    }
    Ok(keys)
}

fn throughput(value: &Value) -> anyhow::Result<Throughput> {
    let units = |name: &str| -> anyhow::Result<i64> {
        let v = value
            .get(name)
            .with_context(|| format!("{name} is missing"))?;
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .with_context(|| format!("{name} is not an integer"))
    };
    Ok(Throughput {
        read: units("ReadCapacityUnits")?,
        write: units("WriteCapacityUnits")?,
    })
}

fn index_def(value: &Value, needs_throughput: bool) -> anyhow::Result<IndexDef> {
    let name = field(value, "IndexName")?;
    let projection = value
        .get("Projection")
        .with_context(|| format!("index {name}: Projection is missing"))?;
    let projection_type = projection
        .get("ProjectionType")
        .and_then(super::template::scalar_string)
        .unwrap_or_else(|| "ALL".to_owned());
    if !["ALL", "KEYS_ONLY", "INCLUDE"].contains(&projection_type.as_str()) {
        bail!("index {name}: unknown ProjectionType {projection_type:?}");
    }
    let non_key_attributes = match projection.get("NonKeyAttributes") {
        None => Vec::new(),
        Some(v) => list(Some(v), "NonKeyAttributes")?
            .iter()
            .map(|a| super::template::scalar_string(a).context("NonKeyAttributes are strings"))
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    if projection_type == "INCLUDE" && non_key_attributes.is_empty() {
        bail!("index {name}: an INCLUDE projection needs NonKeyAttributes");
    }
    let throughput = match value.get("ProvisionedThroughput") {
        Some(t) => Some(throughput(t).with_context(|| format!("index {name}"))?),
        None if needs_throughput => {
            bail!("index {name} of a PROVISIONED table needs ProvisionedThroughput")
        }
        None => None,
    };
    Ok(IndexDef {
        key_schema: key_schema(value.get("KeySchema"))
            .with_context(|| format!("index {name}: KeySchema"))?,
        name,
        projection_type,
        non_key_attributes,
        throughput,
    })
}

/// What [`create_tables`] did with one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOutcome {
    pub table_name: String,
    /// False when the table already existed (it is then left alone).
    pub created: bool,
    /// Global secondary indexes the template added since an existing table was created, now
    /// created on it (as a stack update would).
    pub added_indexes: Vec<String>,
    /// Differences between an existing table and the template that were left alone.
    pub drift: Vec<String>,
}

/// Creates each table (prefix + logical id) unless it exists, waits until it is ACTIVE and
/// enables its TTL. An existing table gets the global secondary indexes it lacks (a persisted
/// local table from before the template added one); other differences from the template are
/// reported in [`TableOutcome::drift`] and left alone.
pub async fn create_tables(
    client: &Client,
    tables: &[TableDef],
    prefix: &str,
) -> anyhow::Result<Vec<TableOutcome>> {
    let mut outcomes = Vec::with_capacity(tables.len());
    for table in tables {
        let name = table.table_name(prefix);
        let outcome = create_table(client, table, &name)
            .await
            .with_context(|| format!("creating table {name}"))?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn create_table(
    client: &Client,
    table: &TableDef,
    name: &str,
) -> anyhow::Result<TableOutcome> {
    let mut request = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(
            table
                .attribute_definitions
                .iter()
                .map(|a| {
                    AttributeDefinition::builder()
                        .attribute_name(&a.name)
                        .attribute_type(ScalarAttributeType::from(a.kind.as_str()))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?,
        ))
        .set_key_schema(Some(sdk_key_schema(&table.key_schema)?));
    request = match table.billing {
        Billing::PayPerRequest => request.billing_mode(BillingMode::PayPerRequest),
        Billing::Provisioned(t) => request
            .billing_mode(BillingMode::Provisioned)
            .provisioned_throughput(sdk_throughput(t)?),
    };
    for index in &table.global_secondary_indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .set_key_schema(Some(sdk_key_schema(&index.key_schema)?))
            .projection(sdk_projection(index));
        if let Some(t) = index.throughput {
            gsi = gsi.provisioned_throughput(sdk_throughput(t)?);
        }
        request = request.global_secondary_indexes(gsi.build()?);
    }
    for index in &table.local_secondary_indexes {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(sdk_key_schema(&index.key_schema)?))
                .projection(sdk_projection(index))
                .build()?,
        );
    }
    if let Some(view) = &table.stream_view_type {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()?,
        );
    }

    match request.send().await {
        Ok(_) => {}
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), CreateTableError::ResourceInUseException(_)) =>
        {
            let added_indexes = add_missing_indexes(client, table, name).await?;
            let drift = drift(client, table, name).await?;
            return Ok(TableOutcome {
                table_name: name.to_owned(),
                created: false,
                added_indexes,
                drift,
            });
        }
        Err(e) => return Err(anyhow::Error::new(e).context("CreateTable")),
    }

    wait_active(client, name).await?;
    if let Some(attribute) = &table.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .context("UpdateTimeToLive")?;
    }
    Ok(TableOutcome {
        table_name: name.to_owned(),
        created: true,
        added_indexes: Vec::new(),
        drift: Vec::new(),
    })
}

/// Creates on the existing table `name` each global secondary index of the template it lacks,
/// one at a time (DynamoDB creates one per UpdateTable), waiting until each is ACTIVE (its
/// backfill done). Returns their names.
async fn add_missing_indexes(
    client: &Client,
    table: &TableDef,
    name: &str,
) -> anyhow::Result<Vec<String>> {
    let out = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .context("DescribeTable")?;
    let existing: Vec<String> = out
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|g| g.index_name().map(str::to_owned))
        .collect();
    let mut added = Vec::new();
    for index in &table.global_secondary_indexes {
        if existing.contains(&index.name) {
            continue;
        }
        let mut create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(&index.name)
            .set_key_schema(Some(sdk_key_schema(&index.key_schema)?))
            .projection(sdk_projection(index));
        if let Some(t) = index.throughput {
            create = create.provisioned_throughput(sdk_throughput(t)?);
        }
        let attributes = table
            .attribute_definitions
            .iter()
            .filter(|a| index.key_schema.iter().any(|k| k.name == a.name))
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(&a.name)
                    .attribute_type(ScalarAttributeType::from(a.kind.as_str()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        client
            .update_table()
            .table_name(name)
            .set_attribute_definitions(Some(attributes))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .create(create.build()?)
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("UpdateTable: adding index {}", index.name))?;
        wait_index_active(client, name, &index.name).await?;
        added.push(index.name.clone());
    }
    Ok(added)
}

/// DynamoDB backfills a new index in the background (CREATING, then ACTIVE); Dynoxide has it
/// ACTIVE when UpdateTable answers (conformance tests). The deadline is for a large table.
const INDEX_ACTIVE_WITHIN: Duration = Duration::from_secs(300);

async fn wait_index_active(client: &Client, name: &str, index: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + INDEX_ACTIVE_WITHIN;
    while tokio::time::Instant::now() < deadline {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .context("DescribeTable")?;
        let status = out.table().and_then(|t| {
            t.global_secondary_indexes()
                .iter()
                .find(|g| g.index_name() == Some(index))
                .and_then(|g| g.index_status().cloned())
        });
        if status == Some(IndexStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("index {index} of {name} did not become ACTIVE within {INDEX_ACTIVE_WITHIN:?}")
}

async fn wait_active(client: &Client, name: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .context("DescribeTable")?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("table {name} did not become ACTIVE within 30 s")
}

/// Compares an existing table's keys and indexes with the template.
async fn drift(client: &Client, table: &TableDef, name: &str) -> anyhow::Result<Vec<String>> {
    let out = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .context("DescribeTable")?;
    let Some(desc) = out.table() else {
        return Ok(Vec::new());
    };
    let keys = |schema: &[KeySchemaElement]| -> Vec<(String, String)> {
        schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let wanted = |schema: &[KeyElement]| -> Vec<(String, String)> {
        schema
            .iter()
            .map(|k| (k.name.clone(), k.key_type.clone()))
            .collect()
    };
    let mut drift = Vec::new();
    if keys(desc.key_schema()) != wanted(&table.key_schema) {
        drift.push("its primary key differs".to_owned());
    }
    let existing: Vec<(String, Vec<(String, String)>)> = desc
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap_or_default().to_owned(),
                keys(g.key_schema()),
            )
        })
        .collect();
    for index in &table.global_secondary_indexes {
        match existing.iter().find(|(n, _)| *n == index.name) {
            None => drift.push(format!("index {} is missing", index.name)),
            Some((_, k)) if *k != wanted(&index.key_schema) => {
                drift.push(format!("index {} has another key schema", index.name));
            }
            Some(_) => {}
        }
    }
    for (n, _) in &existing {
        if table.gsi(n).is_none() {
            drift.push(format!("index {n} is not in the template"));
        }
    }
    Ok(drift)
}

fn sdk_key_schema(keys: &[KeyElement]) -> anyhow::Result<Vec<KeySchemaElement>> {
    Ok(keys
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?)
}

fn sdk_throughput(t: Throughput) -> anyhow::Result<ProvisionedThroughput> {
    Ok(ProvisionedThroughput::builder()
        .read_capacity_units(t.read)
        .write_capacity_units(t.write)
        .build()?)
}

fn sdk_projection(index: &IndexDef) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(index.projection_type.as_str()))
        .set_non_key_attributes(
            (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_template() -> anyhow::Result<Template> {
        Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
    }

    #[test]
    fn the_real_template_declares_the_transactions_table_with_its_indexes() -> anyhow::Result<()> {
        let tables = tables_from_template(&real_template()?)?;
        let table = tables
            .iter()
            .find(|t| t.logical_id == "TransactionsTable")
            .context("TransactionsTable")?;
        assert_eq!(table.table_name("t1_"), "t1_TransactionsTable");
        assert_eq!(table.billing, Billing::PayPerRequest);
        assert_eq!(table.key_schema[0].name, "pk");
        assert_eq!(table.key_schema[0].key_type, "HASH");
        let names: Vec<&str> = table
            .global_secondary_indexes
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "by_day",
                "by_card_type_day",
                "by_country_day",
                "by_day_amount",
                "by_merchant",
                "by_account",
                "by_pending"
            ]
        );
        let by_amount = table.gsi("by_day_amount").context("by_day_amount")?;
        assert_eq!(by_amount.key_schema[1].name, "amount");
        assert!(table.attribute_definitions.contains(&AttributeDef {
            name: "amount".into(),
            kind: "N".into()
        }));
        Ok(())
    }

    const OTHER: &str = r#"
Parameters:
  Rcu: { Type: Number, Default: 5 }
Resources:
  IdempotencyTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-idempotency"
      BillingMode: PROVISIONED
      ProvisionedThroughput: { ReadCapacityUnits: !Ref Rcu, WriteCapacityUnits: 2 }
      AttributeDefinitions:
        - { AttributeName: key, AttributeType: S }
        - { AttributeName: owner, AttributeType: S }
      KeySchema: [{ AttributeName: key, KeyType: HASH }]
      GlobalSecondaryIndexes:
        - IndexName: by_owner
          KeySchema: [{ AttributeName: owner, KeyType: HASH }]
          Projection: { ProjectionType: INCLUDE, NonKeyAttributes: [status, expires_at] }
          ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 }
      TimeToLiveSpecification: { AttributeName: expires_at, Enabled: true }
      DeletionProtectionEnabled: !If [Never, true, false]
      Tags: [{ Key: k, Value: !GetAtt Somewhere.Arn }]
"#;

    #[test]
    fn provisioned_tables_include_projections_and_ttl_are_read_and_irrelevant_properties_ignored()
    -> anyhow::Result<()> {
        let tables = tables_from_template(&Template::parse(OTHER)?)?;
        let [table] = tables.as_slice() else {
            anyhow::bail!("expected one table, got {tables:?}");
        };
        assert_eq!(
            table.billing,
            Billing::Provisioned(Throughput { read: 5, write: 2 })
        );
        let gsi = table.gsi("by_owner").context("by_owner")?;
        assert_eq!(gsi.projection_type, "INCLUDE");
        assert_eq!(gsi.non_key_attributes, ["status", "expires_at"]);
        assert_eq!(gsi.throughput, Some(Throughput { read: 1, write: 1 }));
        assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));
        Ok(())
    }

    #[test]
    fn a_table_property_that_would_matter_locally_but_is_unknown_is_an_error() -> anyhow::Result<()>
    {
        let text = OTHER.replace("Tags:", "SomethingNew: 1\n      Tags:");
        let err = tables_from_template(&Template::parse(&text)?)
            .err()
            .context("expected an error")?;
        assert!(format!("{err:#}").contains("SomethingNew"), "{err:#}");
        Ok(())
    }
}
