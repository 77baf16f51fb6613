//! The transactions store in DynamoDB: item layout, writes, and the report queries.

pub mod aggregates;
pub mod error;
pub mod item;
pub mod keys;
pub mod links;
pub mod payments;
pub mod pending;
pub mod transact;
pub mod write;

pub use error::StoreError;
pub use item::PaymentItem;
pub use write::{Recorded, record_payment};
