//! Identifiers. Payment ids are UUID v4 drawn from the OS CSPRNG (`uuid` uses `getrandom`):
//! 122 random bits are unguessable (no enumerating other merchants' payments), spread evenly over
//! DynamoDB partitions, and leak neither volume nor time the way counters or UUID v7 would.
//! Merchant ids (`mer_` + a UUID v4 in simple form) are the immutable owners of payments: a
//! merchant's display name may change or be shared, its id never.

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

/// The immutable id of a merchant: what owns payments, account links and Idempotency-Key
/// scopes. `mer_` and 32 lower-case hex digits (a UUID v4, simple form), or the one reserved id
/// [`MerchantId::UPSTREAM`] that owns stream payments no registered merchant claims (only admins
/// act for it). A display name never stands in for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MerchantId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a merchant id (mer_ and 32 lower-case hex digits, or mer_upstream)")]
pub struct InvalidMerchantId;

impl MerchantId {
    const PREFIX: &'static str = "mer_";
    /// The reserved upstream merchant's id.
    pub const UPSTREAM: &'static str = "mer_upstream";

    /// A new merchant's id, from the OS CSPRNG.
    pub fn new() -> Self {
        MerchantId(format!("{}{}", Self::PREFIX, Uuid::new_v4().simple()))
    }

    /// The reserved upstream merchant.
    pub fn upstream() -> Self {
        MerchantId(Self::UPSTREAM.to_owned())
    }

    pub fn parse(text: &str) -> Result<Self, InvalidMerchantId> {
        if text == Self::UPSTREAM {
            return Ok(Self::upstream());
        }
        let hex = text.strip_prefix(Self::PREFIX).ok_or(InvalidMerchantId)?;
        let well_formed = hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(MerchantId(text.to_owned()))
        } else {
            Err(InvalidMerchantId)
        }
    }

    pub fn is_upstream(&self) -> bool {
        self.0 == Self::UPSTREAM
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MerchantId {
    fn default() -> Self {
        MerchantId::new()
    }
}

impl TryFrom<String> for MerchantId {
    type Error = InvalidMerchantId;
    fn try_from(text: String) -> Result<Self, InvalidMerchantId> {
        MerchantId::parse(&text)
    }
}

impl From<MerchantId> for String {
    fn from(id: MerchantId) -> String {
        id.0
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    fn new_merchant_ids_are_prefixed_random_and_parse_back() {
        let id = MerchantId::new();
        assert!(id.as_str().starts_with("mer_") && id.as_str().len() == 36);
        assert_eq!(MerchantId::parse(id.as_str()), Ok(id.clone()));
        assert_ne!(id, MerchantId::new());
        assert!(!id.is_upstream() && MerchantId::upstream().is_upstream());
    }

    #[test]
    fn rejects_a_merchant_name_or_a_malformed_merchant_id() {
        for bad in [
            "",
            "upstream",
            "Alice's Shop",
            "mer_",
            "MER_upstream",
            "mer_UPSTREAM",
            "mer_0123456789ABCDEF0123456789abcdef",
            "mer_0123456789abcdef0123456789abcde",
            "mer_0123456789abcdef0123456789abcdef0",
        ] {
            assert_eq!(MerchantId::parse(bad), Err(InvalidMerchantId), "{bad:?}");
        }
        assert!(MerchantId::parse("mer_0123456789abcdef0123456789abcdef").is_ok());
        assert!(serde_json::from_str::<MerchantId>("\"Alice's Shop\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn merchant_id_parsing_never_panics_and_round_trips(text in "\\PC{0,40}") {
            if let Ok(id) = MerchantId::parse(&text) {
                proptest::prop_assert_eq!(id.as_str(), text.as_str());
            }
        }
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
