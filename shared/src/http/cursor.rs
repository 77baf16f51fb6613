//! Opaque pagination cursors: a position in the report order, bound to the query it came from
//! and signed (HMAC-SHA256), so a cursor that was altered, forged or reused with another query
//! is refused with a 400 instead of being trusted.

use crate::domain::Timestamp;
use crate::reports::Position;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

const TAG_LEN: usize = 16;

/// The key that signs cursors. Debug never shows it.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum CursorKeyError {
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("CURSOR_KEY must be at least 16 bytes")]
    TooShort,
}

impl CursorKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, CursorKeyError> {
        let bytes = bytes.into();
        if bytes.len() < 16 {
            Err(CursorKeyError::TooShort)
        } else {
            Ok(CursorKey(bytes))
        }
    }

    /// Reads `CURSOR_KEY`: the key itself locally, a Secrets Manager ARN in AWS (see
    /// `crate::secrets`). Cursors are signed and checked with the current version only: a
    /// rotation invalidates the cursors in flight, which clients see as a 400 and restart.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Self, CursorKeyError> {
        let value = crate::secrets::SecretSource::from_env("CURSOR_KEY")?
            .current("CURSOR_KEY", sdk)
            .await?;
        CursorKey::new(value.expose().to_vec())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_mac())
    }
}

#[expect(clippy::panic, reason = "HMAC-SHA256 accepts keys of every length")]
fn unreachable_mac() -> Hmac<Sha256> {
    panic!("HMAC rejected a key")
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(***)")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    v: u8,
    q: String,
    t: i64,
    i: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a cursor this query issued")]
pub struct InvalidCursor;

/// A short digest of the query a cursor belongs to.
pub fn query_fingerprint(canonical_query: &str) -> String {
    let digest = Sha256::digest(canonical_query.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

pub fn encode(key: &CursorKey, query: &str, position: &Position) -> String {
    let payload = Payload {
        v: 1,
        q: query_fingerprint(query),
        t: position.created_at.millis(),
        i: position.id.clone(),
    };
    let mut bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let mut mac = key.mac();
    mac.update(&bytes);
    bytes.extend_from_slice(&mac.finalize().into_bytes()[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(key: &CursorKey, query: &str, cursor: &str) -> Result<Position, InvalidCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| InvalidCursor)?;
    if bytes.len() <= TAG_LEN {
        return Err(InvalidCursor);
    }
    let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    let mut mac = key.mac();
    mac.update(payload);
    mac.verify_truncated_left(tag).map_err(|_| InvalidCursor)?;
    let payload: Payload = serde_json::from_slice(payload).map_err(|_| InvalidCursor)?;
    if payload.v != 1 || payload.q != query_fingerprint(query) {
        return Err(InvalidCursor);
    }
    Ok(Position {
        created_at: Timestamp::from_millis(payload.t),
        id: payload.i,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(bytes: &[u8]) -> CursorKey {
        CursorKey::new(bytes.to_vec()).unwrap_or_else(|_| unreachable!("test keys are long enough"))
    }

    fn position() -> Position {
        Position {
            created_at: Timestamp::from_millis(1_700_000_000_000),
            id: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".to_owned(),
        }
    }

    #[test]
    fn round_trips_a_position_for_the_same_query() {
        let k = key(b"0123456789abcdef0123");
        let cursor = encode(&k, "days=7", &position());
        assert_eq!(decode(&k, "days=7", &cursor), Ok(position()));
    }

    #[test]
    fn refuses_a_cursor_from_another_query_or_key() {
        let k = key(b"0123456789abcdef0123");
        let cursor = encode(&k, "days=7", &position());
        assert_eq!(decode(&k, "days=8", &cursor), Err(InvalidCursor));
        assert_eq!(
            decode(&key(b"another key of 16+ bytes"), "days=7", &cursor),
            Err(InvalidCursor)
        );
    }

    #[test]
    fn refuses_garbage() {
        let k = key(b"0123456789abcdef0123");
        for bad in ["", "abc", "!!!!", "eyJ2IjoxfQ"] {
            assert_eq!(decode(&k, "days=7", bad), Err(InvalidCursor), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_altered_character_is_refused(index in 0usize..200, replacement in "[A-Za-z0-9_-]") {
            let k = key(b"0123456789abcdef0123");
            let cursor = encode(&k, "days=7", &position());
            let index = index % cursor.len();
            let mut altered: Vec<char> = cursor.chars().collect();
            prop_assume!(altered[index].to_string() != replacement);
            altered[index] = replacement.chars().next().unwrap_or('A');
            let altered: String = altered.into_iter().collect();
            // The last character carries padding bits base64 may ignore; everything else must fail.
            prop_assume!(URL_SAFE_NO_PAD.decode(&altered).ok() != URL_SAFE_NO_PAD.decode(&cursor).ok());
            prop_assert_eq!(decode(&k, "days=7", &altered), Err(InvalidCursor));
        }
    }
}
