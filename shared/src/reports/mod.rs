//! The transactions reports: list (last n days, by card type, by country, by amount range,
//! combinable) and count by card type, answered by Query on the report indexes and counters.

mod directory;
mod dynamo;
mod expr;
mod plan;
mod request;
mod shard_stream;

pub use dynamo::{DynamoReports, ListPage};
pub use plan::Plan;
pub use request::{
    AmountRange, CountRequest, Days, InvalidDays, ListRequest, Position, ReadStats,
    TransactionFilter, Window,
};
