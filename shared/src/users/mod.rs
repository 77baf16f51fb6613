//! API clients (SPEC §2 "User"): who may ask for a token, with which role, for which merchant.

mod dynamo;
mod registry;

pub use dynamo::{DynamoUsers, UserWriteError};
pub use registry::{MerchantRegistry, OwnerClaim, ResolveOwner};

use crate::auth::{PasswordHash, Role};
use crate::domain::{MerchantId, Timestamp};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A stored user. The password is only ever its argon2id hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: Username,
    #[serde(with = "hash_string")]
    pub password_hash: PasswordHash,
    pub role: Role,
    /// The display name of the merchant a merchant user acts for (the default `vendor`);
    /// admins have none. Not unique and may change: it owns nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    /// The merchant's immutable id, shared by every user of that merchant: what owns its
    /// payments. Absent only on users written before owner ids (`owners backfill` gives them
    /// one); such a user gets no token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<MerchantId>,
    pub enabled: bool,
    pub created_at: Timestamp,
}

/// A username: 1 to 64 characters of `a-z 0-9 . _ - @`, lower case, so that `Alice` and
/// `alice` cannot be two users.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Username, String> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(format!("must be 1 to {} characters", Self::MAX_LEN));
        }
        if !raw.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'@')
        }) {
            return Err("may hold only a-z, 0-9 and . _ - @".to_owned());
        }
        // The merchant registry's items are keyed by merchant id in the same table.
        if raw.starts_with("mer_") {
            return Err("may not start with mer_ (the shape of a merchant id)".to_owned());
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Username::parse(&raw)
    }
}

impl From<Username> for String {
    fn from(name: Username) -> String {
        name.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merchant's display name as the `users` command takes it: trimmed, 1 to 100 characters,
/// and neither the reserved upstream merchant's name (`upstream`, in any case: the stream's
/// default vendor) nor anything shaped like a merchant id (which a reader could take for one).
pub fn check_merchant_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("a merchant name must be 1 to 100 characters".to_owned());
    }
    if name.eq_ignore_ascii_case(crate::stream::incoming::DEFAULT_VENDOR)
        || name.to_ascii_lowercase().starts_with("mer_")
    {
        return Err(format!(
            "the merchant name {name:?} is reserved: `upstream` is the stream's own merchant, \
             which only admins act for, and mer_… is the shape of a merchant id"
        ));
    }
    Ok(name.to_owned())
}

mod hash_string {
    use crate::auth::PasswordHash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &PasswordHash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hash.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PasswordHash, D::Error> {
        String::deserialize(d).map(PasswordHash)
    }
}

/// Looking a user up by name: all POST /auth/token needs.
pub trait FindUser: Send + Sync {
    fn find(
        &self,
        username: &Username,
    ) -> impl Future<Output = Result<Option<User>, crate::store::StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_short_lower_case_and_plain() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("ops.team-1@payrail").is_ok());
        for bad in [
            "",
            "Alice",
            "a b",
            "x\u{0}",
            "mer_upstream",
            &"a".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_the_upstream_merchant_name_in_any_case_and_id_shaped_names() {
        for reserved in [
            "upstream",
            "UPSTREAM",
            " Upstream ",
            "mer_upstream",
            "MER_x",
        ] {
            assert!(check_merchant_name(reserved).is_err(), "{reserved:?}");
        }
        for empty in ["", "   ", &"x".repeat(101)] {
            assert!(check_merchant_name(empty).is_err(), "{empty:?}");
        }
        assert_eq!(
            check_merchant_name(" Alice's Shop "),
            Ok("Alice's Shop".to_owned())
        );
        assert!(check_merchant_name("Upstream Coffee").is_ok());
    }
}
