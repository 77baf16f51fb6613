//! The capacity meter: an SDK interceptor that asks DynamoDB for the capacity every call
//! consumes (`ReturnConsumedCapacity=INDEXES`, so the table and each index apart) and sums
//! what the answers report, per table or index, read or write, and counts the calls.
//!
//! It lives on the client's configuration, so the code under measurement is payrail's own,
//! unchanged: a store built with [`CapacityMeter::client`] is metered.

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput},
    delete_item::{DeleteItemInput, DeleteItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::{PutItemInput, PutItemOutput},
    query::{QueryInput, QueryOutput},
    scan::{ScanInput, ScanOutput},
    transact_get_items::{TransactGetItemsInput, TransactGetItemsOutput},
    transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
    update_item::{UpdateItemInput, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Whether a call's units are read or write units (DynamoDB bills them at different prices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Read,
    Write,
}

/// Where capacity was consumed: a table, or one of its global secondary indexes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub table: String,
    pub index: Option<String>,
}

/// Capacity units and calls, summed over the calls a metered client made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Units by table or index and kind.
    pub units: BTreeMap<(Target, Kind), f64>,
    /// Answered calls by operation name (`PutItem`, `TransactWriteItems`, …).
    pub calls: BTreeMap<&'static str, u64>,
    /// Attempts that ended in an error (a failed condition, a cancelled transaction, a
    /// timeout): an error carries no capacity, so what they consumed is not in `units`.
    pub failed: u64,
    /// Answered calls without ConsumedCapacity although it was asked for: a broken meter.
    pub unreported: u64,
    /// Items Query and Scan answers say they read (their `ScannedCount`, before any filter).
    pub scanned: u64,
}

impl Tally {
    /// Adds what one answered call of `operation` reported.
    pub fn add(&mut self, operation: &'static str, kind: Kind, reported: &[ConsumedCapacity]) {
        *self.calls.entry(operation).or_default() += 1;
        if reported.is_empty() {
            self.unreported += 1;
        }
        for consumed in reported {
            let table = consumed.table_name().unwrap_or("?").to_owned();
            let indexes = consumed.global_secondary_indexes().into_iter().flatten();
            let mut on_indexes = 0.0;
            for (index, capacity) in indexes {
                let units = capacity.capacity_units().unwrap_or(0.0);
                on_indexes += units;
                self.put(&table, Some(index), kind, units);
            }
            // With INDEXES the table's own share is given apart; without it, it is the rest.
            let on_table = match consumed.table() {
                Some(capacity) => capacity.capacity_units().unwrap_or(0.0),
                None => consumed.capacity_units().unwrap_or(0.0) - on_indexes,
            };
            self.put(&table, None, kind, on_table);
        }
    }

    fn put(&mut self, table: &str, index: Option<&str>, kind: Kind, units: f64) {
        let target = Target {
            table: table.to_owned(),
            index: index.map(str::to_owned),
        };
        *self.units.entry((target, kind)).or_default() += units;
    }

    /// All units of one kind.
    pub fn total(&self, kind: Kind) -> f64 {
        self.units
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|(_, units)| units)
            // A fold from +0.0: an empty f64 sum is -0.0, which prints as "-0.00".
            .fold(0.0, |sum, units| sum + units)
    }

    /// The units of one kind on `table` itself (`index` None) or on one of its indexes.
    pub fn on(&self, table: &str, index: Option<&str>, kind: Kind) -> f64 {
        let target = Target {
            table: table.to_owned(),
            index: index.map(str::to_owned),
        };
        self.units.get(&(target, kind)).copied().unwrap_or(0.0)
    }

    /// Adds another tally to this one.
    pub fn merge(&mut self, other: &Tally) {
        for (key, units) in &other.units {
            *self.units.entry(key.clone()).or_default() += units;
        }
        for (operation, calls) in &other.calls {
            *self.calls.entry(operation).or_default() += calls;
        }
        self.failed += other.failed;
        self.unreported += other.unreported;
        self.scanned += other.scanned;
    }
}

/// The interceptor; clones share one tally.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter {
    tally: Arc<Mutex<Tally>>,
}

impl CapacityMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A DynamoDB client configured as `sdk` says, every call of which is metered.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// What was measured since the last `take`, and a fresh start.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The operation an execution runs, noted when its input is seen for its answer to be read.
#[derive(Debug, Clone, Copy)]
struct Operation {
    name: &'static str,
    kind: Kind,
}

impl Storable for Operation {
    type Storer = StoreReplace<Self>;
}

/// Sets `ReturnConsumedCapacity=INDEXES` on `$input` when it is one of the listed operation
/// inputs, and evaluates to that operation (a macro: the SDK does not name the type-erased
/// input's type).
macro_rules! ask_for_capacity {
    ($input:expr, $($kind:ident $name:literal $ty:ty),+ $(,)?) => {'found: {
        $(
            if let Some(typed) = $input.downcast_mut::<$ty>() {
                typed.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
                break 'found Some(Operation { name: $name, kind: Kind::$kind });
            }
        )+
        None
    }};
}

/// The ConsumedCapacity entries of `$output`, whichever listed operation's output it is:
/// `one` for operations reporting one entry, `many` for those reporting one per table.
macro_rules! reported_capacity {
    ($output:expr, one: $($one:ty),+; many: $($many:ty),+ $(,)?) => {'found: {
        $(
            if let Some(typed) = $output.downcast_ref::<$one>() {
                break 'found typed.consumed_capacity.iter().cloned().collect::<Vec<_>>();
            }
        )+
        $(
            if let Some(typed) = $output.downcast_ref::<$many>() {
                break 'found typed.consumed_capacity.clone().unwrap_or_default();
            }
        )+
        Vec::new()
    }};
}

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = ask_for_capacity!(context.input_mut(),
            Write "PutItem" PutItemInput,
            Write "UpdateItem" UpdateItemInput,
            Write "DeleteItem" DeleteItemInput,
            Write "TransactWriteItems" TransactWriteItemsInput,
            Write "BatchWriteItem" BatchWriteItemInput,
            Read "GetItem" GetItemInput,
            Read "Query" QueryInput,
            Read "Scan" ScanInput,
            Read "TransactGetItems" TransactGetItemsInput,
            Read "BatchGetItem" BatchGetItemInput,
        );
        if let Some(operation) = operation {
            cfg.interceptor_state().store_put(operation);
        }
        Ok(())
    }

    /// Runs once per attempt: a retried call is billed per attempt, and counted so.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.load::<Operation>().copied() else {
            return Ok(());
        };
        let mut tally = self.lock();
        match context.output_or_error() {
            Ok(output) => {
                let reported = reported_capacity!(output,
                    one: PutItemOutput, UpdateItemOutput, DeleteItemOutput, GetItemOutput,
                        QueryOutput, ScanOutput;
                    many: TransactWriteItemsOutput, BatchWriteItemOutput,
                        TransactGetItemsOutput, BatchGetItemOutput,
                );
                tally.add(operation.name, operation.kind, &reported);
                let scanned = match (
                    output.downcast_ref::<QueryOutput>(),
                    output.downcast_ref::<ScanOutput>(),
                ) {
                    (Some(query), _) => query.scanned_count,
                    (_, Some(scan)) => scan.scanned_count,
                    _ => 0,
                };
                tally.scanned += u64::try_from(scanned).unwrap_or(0);
            }
            Err(_) => tally.failed += 1,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Capacity;
    use std::collections::HashMap;

    fn capacity(units: f64) -> Capacity {
        Capacity::builder().capacity_units(units).build()
    }

    #[test]
    fn splits_a_transaction_over_tables_and_indexes() {
        let payments = ConsumedCapacity::builder()
            .table_name("tx")
            .capacity_units(10.0)
            .table(capacity(4.0))
            .set_global_secondary_indexes(Some(HashMap::from([
                ("by_day".to_owned(), capacity(4.0)),
                ("by_merchant".to_owned(), capacity(2.0)),
            ])))
            .build();
        let accounts = ConsumedCapacity::builder()
            .table_name("accounts")
            .capacity_units(2.0)
            .table(capacity(2.0))
            .build();
        let mut tally = Tally::default();

        tally.add("TransactWriteItems", Kind::Write, &[payments, accounts]);

        assert_eq!(tally.on("tx", None, Kind::Write), 4.0);
        assert_eq!(tally.on("tx", Some("by_day"), Kind::Write), 4.0);
        assert_eq!(tally.on("tx", Some("by_merchant"), Kind::Write), 2.0);
        assert_eq!(tally.on("accounts", None, Kind::Write), 2.0);
        assert_eq!(tally.total(Kind::Write), 12.0);
        assert_eq!(tally.total(Kind::Read), 0.0);
        assert_eq!(tally.calls.get("TransactWriteItems"), Some(&1));
        assert_eq!(tally.unreported, 0);
    }

    #[test]
    fn without_a_table_share_the_table_gets_what_the_indexes_did_not() {
        let query = ConsumedCapacity::builder()
            .table_name("tx")
            .capacity_units(1.5)
            .set_global_secondary_indexes(Some(HashMap::from([(
                "by_day".to_owned(),
                capacity(1.0),
            )])))
            .build();
        let mut tally = Tally::default();

        tally.add("Query", Kind::Read, &[query]);

        assert_eq!(tally.on("tx", Some("by_day"), Kind::Read), 1.0);
        assert_eq!(tally.on("tx", None, Kind::Read), 0.5);
    }

    #[test]
    fn an_answer_without_capacity_is_counted_as_unreported() {
        let mut tally = Tally::default();
        tally.add("GetItem", Kind::Read, &[]);
        let mut sum = Tally::default();
        sum.merge(&tally);
        sum.merge(&tally);
        assert_eq!(sum.unreported, 2);
        assert_eq!(sum.calls.get("GetItem"), Some(&2));
    }
}
