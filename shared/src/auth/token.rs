//! Access tokens: HS256 JWTs with `iss`, `aud`, `sub`, `role`, `merchant_id` and `merchant` (the
//! display name), `iat`, `exp`, `jti`.
//! The algorithm is pinned (a token naming any other, `none` included, is refused), `iss` and
//! `aud` must be the stage's own (a token another stage or another service issued with a shared
//! key is refused), and `exp` is checked against the injected clock with at most one second of
//! leeway.

use crate::domain::{Clock, MerchantId, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Merchant,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    /// The merchant's display name (the default `vendor`); owns nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    /// The merchant's immutable id: every ownership decision uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<MerchantId>,
    /// Seconds since the epoch, as JWT has them.
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The HMAC key tokens are signed with. Debug never shows it.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// At least 32 bytes: HS256's security rests on the key's entropy.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let bytes = bytes.into();
        if bytes.len() < 32 {
            Err(TokenError::WeakKey)
        } else {
            Ok(SigningKey(bytes))
        }
    }
}

/// The variable naming the token signing key (the key locally, a Secrets Manager ARN in AWS).
pub const SIGNING_KEY_VAR: &str = "TOKEN_SIGNING_KEY";

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("{SIGNING_KEY_VAR}: {0}")]
    Key(#[from] TokenError),
}

impl SigningKey {
    /// The key to sign with (POST /auth/token).
    pub async fn load_current(sdk: &aws_config::SdkConfig) -> Result<SigningKey, SigningKeyError> {
        let value = crate::secrets::SecretSource::from_env(SIGNING_KEY_VAR)?
            .current(SIGNING_KEY_VAR, sdk)
            .await?;
        Ok(SigningKey::new(value.expose().to_vec())?)
    }

    /// The keys to verify with (the authorizer): current, and pending/previous during a rotation.
    pub async fn load_verifying(
        sdk: &aws_config::SdkConfig,
    ) -> Result<Vec<SigningKey>, SigningKeyError> {
        let values = crate::secrets::SecretSource::from_env(SIGNING_KEY_VAR)?
            .verifying(SIGNING_KEY_VAR, sdk)
            .await?;
        values
            .iter()
            .map(|v| SigningKey::new(v.expose().to_vec()).map_err(SigningKeyError::from))
            .collect()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the signing key must be at least 32 bytes")]
    WeakKey,
    #[error("the token is malformed, uses another algorithm or has a bad signature")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token could not be signed")]
    Signing,
}

/// Who issues a stage's tokens (`iss`) and for whom (`aud`): the issuer writes both, the
/// verifier refuses a token without exactly these. Stage-specific in template.yaml, so a token
/// of one stage is refused by another even if their signing keys were ever the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScope {
    pub issuer: String,
    pub audience: String,
}

/// The variables naming the scope; unset means [`TokenScope::default`].
pub const ISSUER_VAR: &str = "TOKEN_ISSUER";
pub const AUDIENCE_VAR: &str = "TOKEN_AUDIENCE";

impl Default for TokenScope {
    fn default() -> Self {
        TokenScope {
            issuer: "urn:payrail".to_owned(),
            audience: "urn:payrail:api".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} must not be empty")]
pub struct EmptyScope(&'static str);

impl TokenScope {
    /// From `TOKEN_ISSUER` and `TOKEN_AUDIENCE`, each defaulting on its own; an empty value is
    /// refused at cold start rather than issuing tokens nobody checks.
    pub fn from_env() -> Result<TokenScope, EmptyScope> {
        let default = TokenScope::default();
        let read = |name: &'static str, fallback: String| match std::env::var(name) {
            Err(_) => Ok(fallback),
            Ok(value) if value.trim().is_empty() => Err(EmptyScope(name)),
            Ok(value) => Ok(value),
        };
        Ok(TokenScope {
            issuer: read(ISSUER_VAR, default.issuer)?,
            audience: read(AUDIENCE_VAR, default.audience)?,
        })
    }
}

/// The response of POST /auth/token.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// The merchant a merchant user's token acts for.
#[derive(Debug, Clone, Copy)]
pub struct ActingFor<'a> {
    pub id: &'a MerchantId,
    pub name: &'a str,
}

pub struct TokenIssuer {
    key: EncodingKey,
    ttl_seconds: u64,
    scope: TokenScope,
}

impl TokenIssuer {
    pub fn new(key: &SigningKey, ttl_seconds: u64, scope: TokenScope) -> Self {
        TokenIssuer {
            key: EncodingKey::from_secret(&key.0),
            ttl_seconds,
            scope,
        }
    }

    pub fn issue(
        &self,
        sub: &str,
        role: Role,
        merchant: Option<ActingFor<'_>>,
        now: Timestamp,
    ) -> Result<AccessToken, TokenError> {
        let iat = now.millis().div_euclid(1000);
        let ttl = i64::try_from(self.ttl_seconds).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: self.scope.issuer.clone(),
            aud: self.scope.audience.clone(),
            sub: sub.to_owned(),
            role,
            merchant: merchant.map(|m| m.name.to_owned()),
            merchant_id: merchant.map(|m| m.id.clone()),
            iat,
            exp: iat.saturating_add(ttl),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|_| TokenError::Signing)?;
        Ok(AccessToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: self.ttl_seconds,
        })
    }
}

pub struct TokenVerifier {
    /// The current key first; during a rotation also the pending and previous ones.
    keys: Vec<DecodingKey>,
    validation: Validation,
    clock: Box<dyn Clock>,
}

/// Leeway on `exp`, in milliseconds: clocks of the issuer and the authorizer may differ a little.
const LEEWAY_MS: i64 = 1000;

impl TokenVerifier {
    /// A verifier accepting tokens of `scope` signed with any of `keys` (see `crate::secrets` on
    /// rotation).
    pub fn new(keys: &[SigningKey], scope: &TokenScope, clock: Box<dyn Clock>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the injected clock, not the library's.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "iat", "sub", "iss", "aud"]
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
        // Checked by the library after the signature: a wrong `iss` or `aud` is `Invalid`.
        validation.set_issuer(&[&scope.issuer]);
        validation.set_audience(&[&scope.audience]);
        validation.leeway = 0;
        TokenVerifier {
            keys: keys
                .iter()
                .map(|k| DecodingKey::from_secret(&k.0))
                .collect(),
            validation,
            clock,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut claims = None;
        for key in &self.keys {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                // Another key may have signed it; any other fault is final.
                Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {}
                Err(_) => return Err(TokenError::Invalid),
            }
        }
        let claims = claims.ok_or(TokenError::Invalid)?;
        if claims.exp.saturating_mul(1000).saturating_add(LEEWAY_MS) <= self.clock.now().millis() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FixedClock;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const T0: i64 = 1_700_000_000_000;

    fn key(fill: u8) -> SigningKey {
        SigningKey::new(vec![fill; 32]).unwrap_or_else(|_| unreachable!("32 bytes"))
    }

    fn scope() -> TokenScope {
        TokenScope {
            issuer: "urn:payrail:qa".to_owned(),
            audience: "urn:payrail:qa:api".to_owned(),
        }
    }

    fn clock(ms: i64) -> Box<dyn Clock> {
        Box::new(FixedClock(Timestamp::from_millis(ms)))
    }

    fn verifier_at(ms: i64) -> TokenVerifier {
        TokenVerifier::new(&[key(7)], &scope(), clock(ms))
    }

    fn issue() -> Result<String, TokenError> {
        issue_in(scope())
    }

    fn alices() -> MerchantId {
        MerchantId::parse("mer_0123456789abcdef0123456789abcdef")
            .unwrap_or_else(|_| unreachable!("a well-formed id"))
    }

    fn issue_in(scope: TokenScope) -> Result<String, TokenError> {
        let issued = TokenIssuer::new(&key(7), 30, scope).issue(
            "alice",
            Role::Merchant,
            Some(ActingFor {
                id: &alices(),
                name: "Alice's Shop",
            }),
            Timestamp::from_millis(T0),
        )?;
        Ok(issued.access_token)
    }

    #[test]
    fn a_fresh_token_carries_its_claims() -> Result<(), TokenError> {
        let claims = verifier_at(T0 + 29_000).verify(&issue()?)?;
        assert_eq!(
            (claims.sub.as_str(), claims.role),
            ("alice", Role::Merchant)
        );
        assert_eq!(claims.merchant.as_deref(), Some("Alice's Shop"));
        assert_eq!(claims.merchant_id, Some(alices()));
        assert_eq!(claims.exp - claims.iat, 30);
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            ("urn:payrail:qa", "urn:payrail:qa:api")
        );
        Ok(())
    }

    #[test]
    fn refuses_a_token_of_another_issuer_or_audience() -> Result<(), TokenError> {
        let other_stage = TokenScope {
            issuer: "urn:payrail:prod".to_owned(),
            ..scope()
        };
        let other_audience = TokenScope {
            audience: "urn:payrail:qa:console".to_owned(),
            ..scope()
        };
        for (what, token) in [
            ("issuer", issue_in(other_stage)?),
            ("audience", issue_in(other_audience)?),
        ] {
            assert_eq!(
                verifier_at(T0).verify(&token),
                Err(TokenError::Invalid),
                "{what}"
            );
        }
        Ok(())
    }

    #[test]
    fn refuses_a_token_without_iss_or_aud() -> Result<(), TokenError> {
        // Signed with the right key, but as tokens were before they carried a scope.
        #[derive(Serialize)]
        struct Unscoped<'a> {
            sub: &'a str,
            role: Role,
            iat: i64,
            exp: i64,
            jti: &'a str,
        }
        let iat = T0 / 1000;
        let unscoped = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Unscoped {
                sub: "alice",
                role: Role::Admin,
                iat,
                exp: iat + 30,
                jti: "j",
            },
            &EncodingKey::from_secret(&[7; 32]),
        )
        .map_err(|_| TokenError::Signing)?;
        assert_eq!(verifier_at(T0).verify(&unscoped), Err(TokenError::Invalid));
        Ok(())
    }

    #[test]
    fn expires_after_its_lifetime_with_at_most_a_second_of_leeway() -> Result<(), TokenError> {
        let token = issue()?;
        assert!(verifier_at(T0 + 30_500).verify(&token).is_ok());
        assert_eq!(
            verifier_at(T0 + 31_000).verify(&token),
            Err(TokenError::Expired)
        );
        Ok(())
    }

    #[test]
    fn refuses_another_key_a_tampered_signature_and_alg_none() -> Result<(), TokenError> {
        let token = issue()?;
        let other = TokenVerifier::new(&[key(8)], &scope(), clock(T0));
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        // During a rotation the verifier holds the new key and the old one: both verify.
        let rotating = TokenVerifier::new(&[key(8), key(7)], &scope(), clock(T0));
        assert!(rotating.verify(&token).is_ok());

        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert_eq!(verifier_at(T0).verify(&tampered), Err(TokenError::Invalid));

        let payload = token.split('.').nth(1).unwrap_or_default();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            verifier_at(T0).verify(&format!("{none_header}.{payload}.")),
            Err(TokenError::Invalid)
        );
        Ok(())
    }

    #[test]
    fn refuses_short_keys() {
        assert!(matches!(
            SigningKey::new(vec![1; 31]),
            Err(TokenError::WeakKey)
        ));
    }
}
