//! AES-256-GCM for card numbers, with the key from `CARD_DATA_KEY` (a Secrets Manager secret in
//! AWS, an inline value locally) and rotation through the secret's version stages.
//!
//! Sealed form: `v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`, where `kid` names the key
//! (8 hex digits derived from the secret, not a hash of the encryption key itself) and the
//! nonce is 96 random bits from the OS CSPRNG. The associated data binds the ciphertext to its
//! version, key id and payment id: a sealed card copied onto another payment does not open.

use crate::domain::card::{CardNumber, FingerprintKey, RequestDigestKey};
use crate::domain::ids::PaymentId;
use crate::secrets::{SecretError, SecretSource, SecretValue};
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_config::SdkConfig;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KID_LEN: usize = 4;
/// HKDF salt: fixes the derivation to this purpose and this version of the format.
const HKDF_SALT: &[u8] = b"payrail card data v1";
const INFO_KEY: &[u8] = b"aes-256-gcm key";
const INFO_KID: &[u8] = b"key id";

#[derive(Debug, thiserror::Error)]
pub enum CardKeyError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0} holds no key")]
    NoKey(&'static str),
    #[error("{name} is too short: at least {min} characters are needed")]
    TooShort { name: &'static str, min: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the OS random number generator failed")]
pub struct SealError;

/// Why a sealed card did not open. No variant carries any of the card's digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("no key with id {0} is loaded (sealed before the previous rotation?)")]
    UnknownKey(String),
    #[error("the sealed card does not open: another payment's, tampered with, or another key")]
    Rejected,
    #[error("the opened value is not a card number")]
    NotACard,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a sealed card (expected v1.<kid>.<base64url>)")]
pub struct InvalidSealedCard;

/// A card number sealed by [`CardCipher::seal`], as stored. Debug shows the key id only;
/// there is no Display, so it is not formatted into messages by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SealedCard(String);

impl SealedCard {
    /// Checks the shape (version, key id, base64url of at least a nonce and a tag).
    pub fn parse(text: &str) -> Result<Self, InvalidSealedCard> {
        let (kid, payload) = split(text).ok_or(InvalidSealedCard)?;
        let valid_kid = kid.len() == KID_LEN * 2
            && kid
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| InvalidSealedCard)?;
        if !valid_kid || bytes.len() <= NONCE_LEN + TAG_LEN {
            return Err(InvalidSealedCard);
        }
        Ok(SealedCard(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kid(&self) -> &str {
        split(&self.0).map_or("", |(kid, _)| kid)
    }

    fn payload(&self) -> Vec<u8> {
        split(&self.0)
            .and_then(|(_, payload)| URL_SAFE_NO_PAD.decode(payload).ok())
            .unwrap_or_default()
    }
}

/// `(kid, payload)` of `v1.<kid>.<payload>`.
fn split(text: &str) -> Option<(&str, &str)> {
    let mut parts = text.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(kid), Some(payload)) => Some((kid, payload)),
        _ => None,
    }
}

impl TryFrom<String> for SealedCard {
    type Error = InvalidSealedCard;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SealedCard::parse(&value)
    }
}

impl From<SealedCard> for String {
    fn from(value: SealedCard) -> Self {
        value.0
    }
}

impl fmt::Debug for SealedCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedCard({VERSION}.{}.…)", self.kid())
    }
}

/// One key, derived from one version of the secret.
struct CardKey {
    kid: String,
    aead: Aes256Gcm,
}

impl CardKey {
    fn derive(secret: &SecretValue) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.expose());
        let mut key = [0u8; 32];
        let mut kid = [0u8; KID_LEN];
        // Both lengths are far below HKDF-SHA256's limit of 255 × 32 bytes: expand cannot fail.
        let _ = hkdf.expand(INFO_KEY, &mut key);
        let _ = hkdf.expand(INFO_KID, &mut kid);
        CardKey {
            kid: kid.iter().map(|b| format!("{b:02x}")).collect(),
            aead: Aes256Gcm::new(&key.into()),
        }
    }
}

/// Seals card numbers with the current key; opens with any key a rotation has left (current,
/// pending, previous). Build one per cold start.
pub struct CardCipher {
    current: CardKey,
    fingerprint: Vec<u8>,
    request_digest: Vec<u8>,
    /// Current first.
    verifying: Vec<CardKey>,
}

impl fmt::Debug for CardCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardCipher")
            .field("current", &self.current.kid)
            .field(
                "verifying",
                &self.verifying.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CardCipher {
    /// The environment variable holding the secret (or its Secrets Manager ARN).
    pub const KEY_VAR: &str = "CARD_DATA_KEY";

    /// Fewest characters a secret may have: the template generates 64 alphanumeric ones
    /// (~380 bits); a short one is a mistake, refused at cold start.
    pub const MIN_SECRET_LEN: usize = 32;

    /// Reads `CARD_DATA_KEY`: every version a rotation has left, in one round trip of
    /// cold-start time (the current version is the first, as `SecretSource::verifying` gives).
    pub async fn from_env(sdk: &SdkConfig) -> Result<Self, CardKeyError> {
        let source = SecretSource::from_env(Self::KEY_VAR)?;
        let versions = source.verifying(Self::KEY_VAR, sdk).await?;
        let (current, rest) = versions
            .split_first()
            .ok_or(CardKeyError::NoKey(Self::KEY_VAR))?;
        Self::from_secrets(current, rest)
    }

    /// A cipher sealing with `current` and opening with it and `others`.
    pub fn from_secrets(
        current: &SecretValue,
        others: &[SecretValue],
    ) -> Result<Self, CardKeyError> {
        let too_short = std::iter::once(current)
            .chain(others)
            .any(|s| s.expose().len() < Self::MIN_SECRET_LEN);
        if too_short {
            return Err(CardKeyError::TooShort {
                name: Self::KEY_VAR,
                min: Self::MIN_SECRET_LEN,
            });
        }
        let mut fingerprint = vec![0u8; 32];
        let _ = Hkdf::<Sha256>::new(Some(HKDF_SALT), current.expose())
            .expand(b"payrail card fingerprint v1", &mut fingerprint);
        let mut request_digest = vec![0u8; 32];
        let _ = Hkdf::<Sha256>::new(Some(HKDF_SALT), current.expose()).expand(
            b"payrail idempotency request digest v1",
            &mut request_digest,
        );
        Ok(CardCipher {
            fingerprint,
            request_digest,
            current: CardKey::derive(current),
            verifying: std::iter::once(current)
                .chain(others)
                .map(CardKey::derive)
                .collect(),
        })
    }

    /// The id of the key new cards are sealed with.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Seals `card` for `payment_id` with the current key and a fresh random nonce.
    pub fn seal(&self, card: &CardNumber, payment_id: PaymentId) -> Result<SealedCard, SealError> {
        self.seal_text(card.expose(), payment_id)
    }

    /// Seals any secret the gateway needs (a card number, a wallet token) for `payment_id`.
    pub fn seal_text(&self, secret: &str, payment_id: PaymentId) -> Result<SealedCard, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| SealError)?;
        let aad = associated_data(&self.current.kid, payment_id);
        let sealed = self
            .current
            .aead
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // Only a plaintext beyond 64 GiB fails; a card number is 19 bytes at most.
            .map_err(|_| SealError)?;
        let mut payload = Vec::with_capacity(NONCE_LEN + sealed.len());
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(&sealed);
        Ok(SealedCard(format!(
            "{VERSION}.{}.{}",
            self.current.kid,
            URL_SAFE_NO_PAD.encode(payload)
        )))
    }

    /// Opens a card sealed for `payment_id` by this key or any verifying one.
    pub fn open(
        &self,
        sealed: &SealedCard,
        payment_id: PaymentId,
    ) -> Result<CardNumber, OpenError> {
        let text = self.open_text(sealed, payment_id)?;
        CardNumber::parse(&text).map_err(|_| OpenError::NotACard)
    }

    /// Opens what [`Self::seal_text`] sealed.
    pub fn open_text(
        &self,
        sealed: &SealedCard,
        payment_id: PaymentId,
    ) -> Result<String, OpenError> {
        let kid = sealed.kid();
        let payload = sealed.payload();
        let (nonce, ciphertext) = payload
            .split_at_checked(NONCE_LEN)
            .ok_or(OpenError::Rejected)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Rejected)?;
        let aad = associated_data(kid, payment_id);
        let mut candidates = self.verifying.iter().filter(|k| k.kid == kid).peekable();
        if candidates.peek().is_none() {
            return Err(OpenError::UnknownKey(kid.to_owned()));
        }
        let plain = candidates
            .find_map(|key| {
                key.aead
                    .decrypt(
                        &Nonce::from(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: aad.as_bytes(),
                        },
                    )
                    .ok()
            })
            .ok_or(OpenError::Rejected)?;
        String::from_utf8(plain).map_err(|_| OpenError::NotACard)
    }

    /// The key of card fingerprints (an HMAC of the number), derived from the current secret
    /// for this purpose only.
    pub fn fingerprint_key(&self) -> FingerprintKey {
        FingerprintKey::new(self.fingerprint.clone())
    }

    /// The key of idempotency request digests (an HMAC of a request body that held card
    /// data), derived from the current secret for this purpose only.
    pub fn request_digest_key(&self) -> RequestDigestKey {
        RequestDigestKey::new(self.request_digest.clone())
    }
}

fn associated_data(kid: &str, payment_id: PaymentId) -> String {
    format!("{VERSION}.{kid}.{payment_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card::luhn_check_digit;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const VISA: &str = "4111111111111111";

    fn secret(fill: char) -> SecretValue {
        SecretValue::new(fill.to_string().repeat(64))
    }

    fn cipher(current: char, others: &[char]) -> CardCipher {
        let others: Vec<SecretValue> = others.iter().map(|c| secret(*c)).collect();
        match CardCipher::from_secrets(&secret(current), &others) {
            Ok(cipher) => cipher,
            Err(err) => unreachable!("test secrets are long enough: {err}"),
        }
    }

    fn card(number: &str) -> CardNumber {
        match CardNumber::parse(number) {
            Ok(card) => card,
            Err(err) => unreachable!("test numbers are valid: {err}"),
        }
    }

    #[test]
    fn a_sealed_card_opens_for_its_payment() -> Result<(), Box<dyn std::error::Error>> {
        let cipher = cipher('a', &[]);
        let id = PaymentId::new();
        let sealed = cipher.seal(&card(VISA), id)?;
        assert!(
            sealed
                .as_str()
                .starts_with(&format!("v1.{}.", cipher.current_kid()))
        );
        assert_eq!(cipher.open(&sealed, id)?, card(VISA));
        Ok(())
    }

    #[test]
    fn a_sealed_card_does_not_open_for_another_payment() -> Result<(), Box<dyn std::error::Error>> {
        let cipher = cipher('a', &[]);
        let sealed = cipher.seal(&card(VISA), PaymentId::new())?;
        assert_eq!(
            cipher.open(&sealed, PaymentId::new()),
            Err(OpenError::Rejected)
        );
        Ok(())
    }

    #[test]
    fn any_change_to_a_sealed_card_is_detected() -> Result<(), Box<dyn std::error::Error>> {
        let cipher = cipher('a', &[]);
        let id = PaymentId::new();
        let sealed = cipher.seal(&card(VISA), id)?;
        let payload = sealed.payload();
        for i in 0..payload.len() {
            let mut changed = payload.clone();
            if let Some(byte) = changed.get_mut(i) {
                *byte ^= 0x01;
            }
            let text = format!("v1.{}.{}", sealed.kid(), URL_SAFE_NO_PAD.encode(&changed));
            let tampered = SealedCard::parse(&text)?;
            assert_eq!(
                cipher.open(&tampered, id),
                Err(OpenError::Rejected),
                "byte {i}"
            );
        }
        let truncated = payload.get(..payload.len() - 1).unwrap_or_default();
        let text = format!("v1.{}.{}", sealed.kid(), URL_SAFE_NO_PAD.encode(truncated));
        assert_eq!(
            cipher.open(&SealedCard::parse(&text)?, id),
            Err(OpenError::Rejected)
        );
        Ok(())
    }

    #[test]
    fn another_key_does_not_open_it() -> Result<(), Box<dyn std::error::Error>> {
        let id = PaymentId::new();
        let sealed = cipher('a', &[]).seal(&card(VISA), id)?;
        let other = cipher('b', &[]);
        assert_eq!(
            other.open(&sealed, id),
            Err(OpenError::UnknownKey(sealed.kid().to_owned()))
        );
        // Even under a forged key id, the other key cannot open it.
        let forged =
            SealedCard::parse(&sealed.as_str().replace(sealed.kid(), other.current_kid()))?;
        assert_eq!(other.open(&forged, id), Err(OpenError::Rejected));
        Ok(())
    }

    #[test]
    fn cards_sealed_before_a_rotation_still_open_after_it() -> Result<(), Box<dyn std::error::Error>>
    {
        let id = PaymentId::new();
        let before = cipher('a', &[]);
        let sealed_before = before.seal(&card(VISA), id)?;
        // Rotation under way: `b` pending; the functions still seal with `a`.
        let during = cipher('a', &['b']);
        assert_eq!(during.open(&sealed_before, id)?, card(VISA));
        // Rotation done: `b` current, `a` previous.
        let after = cipher('b', &['a']);
        assert_ne!(after.current_kid(), before.current_kid());
        assert_eq!(after.open(&sealed_before, id)?, card(VISA));
        let sealed_after = after.seal(&card(VISA), id)?;
        assert_eq!(sealed_after.kid(), after.current_kid());
        assert_eq!(during.open(&sealed_after, id)?, card(VISA));
        Ok(())
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() -> Result<(), Box<dyn std::error::Error>> {
        let cipher = cipher('a', &[]);
        let id = PaymentId::new();
        let mut nonces = HashSet::new();
        let mut sealed = HashSet::new();
        for _ in 0..2000 {
            let card = cipher.seal(&card(VISA), id)?;
            nonces.insert(card.payload().get(..NONCE_LEN).map(<[u8]>::to_vec));
            sealed.insert(card.as_str().to_owned());
        }
        assert_eq!((nonces.len(), sealed.len()), (2000, 2000));
        Ok(())
    }

    #[test]
    fn nothing_printed_shows_the_number() -> Result<(), Box<dyn std::error::Error>> {
        let cipher = cipher('a', &[]);
        let sealed = cipher.seal(&card(VISA), PaymentId::new())?;
        let printed = format!("{sealed:?} {cipher:?} {:?}", OpenError::NotACard);
        assert!(!printed.contains(VISA), "{printed}");
        assert!(
            !printed.contains(&String::from(sealed.clone())[12..]),
            "{printed}"
        );
        assert_eq!(
            format!("{sealed:?}"),
            format!("SealedCard(v1.{}.…)", sealed.kid())
        );
        assert!(!sealed.as_str().contains("1111"));
        Ok(())
    }

    #[test]
    fn refuses_short_secrets_and_malformed_sealed_cards() {
        let short = CardCipher::from_secrets(&SecretValue::new("too short"), &[]);
        assert!(matches!(short, Err(CardKeyError::TooShort { .. })));
        for text in [
            "",
            "v1",
            "v1.abcd1234",
            "v2.abcd1234.AAAA",
            "v1.ABCD1234.AAAA",
            "v1.abcd1234.AAAA",
            "v1.abcd1234.!!!",
        ] {
            assert_eq!(SealedCard::parse(text), Err(InvalidSealedCard), "{text}");
        }
    }

    #[test]
    fn serializes_as_its_string() -> Result<(), Box<dyn std::error::Error>> {
        let sealed = cipher('a', &[]).seal(&card(VISA), PaymentId::new())?;
        let json = serde_json::to_string(&sealed)?;
        assert_eq!(json, format!("\"{}\"", sealed.as_str()));
        assert_eq!(serde_json::from_str::<SealedCard>(&json)?, sealed);
        assert!(serde_json::from_str::<SealedCard>("\"v1.zz.AAAA\"").is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn any_card_round_trips_for_its_payment(partial in "4[0-9]{14}", id in any::<u128>()) {
            let number = format!("{partial}{}", luhn_check_digit(&partial));
            let id = PaymentId::from_uuid(uuid::Uuid::from_u128(id));
            let cipher = cipher('k', &[]);
            let sealed = cipher.seal(&card(&number), id).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(!sealed.as_str().contains(&number));
            prop_assert_eq!(cipher.open(&sealed, id), Ok(card(&number)));
        }
    }
}
