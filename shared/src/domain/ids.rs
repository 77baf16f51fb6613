//! Identifiers. Payment ids are UUID v4 drawn from the OS CSPRNG (`uuid` uses `getrandom`):
//! 122 random bits are unguessable (no enumerating other merchants' payments), spread evenly over
//! DynamoDB partitions, and leak neither volume nor time the way counters or UUID v7 would.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(Uuid);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a UUID")]
pub struct InvalidPaymentId;

impl PaymentId {
    pub fn new() -> Self {
        PaymentId(Uuid::new_v4())
    }

    pub fn parse(text: &str) -> Result<Self, InvalidPaymentId> {
        Uuid::try_parse(text)
            .map(PaymentId)
            .map_err(|_| InvalidPaymentId)
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        PaymentId(uuid)
    }

    /// Which write shard of a report index this payment goes to: stable, and even because the
    /// id is random.
    pub fn shard(&self, shards: u8) -> u8 {
        let bytes = self.0.as_bytes();
        let folded = bytes.iter().fold(0u32, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(u32::from(*b))
        });
        (folded % u32::from(shards.max(1))) as u8
    }
}

impl Default for PaymentId {
    fn default() -> Self {
        PaymentId::new()
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The paying account's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(u64);

impl AccountId {
    pub fn new(value: u64) -> Self {
        AccountId(value)
    }

    pub fn get(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_version_4() {
        let id = PaymentId::new();
        assert_eq!(id.0.get_version_num(), 4);
        assert_ne!(id, PaymentId::new());
    }

    #[test]
    fn shards_spread_evenly() {
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[usize::from(PaymentId::new().shard(4))] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }
}
