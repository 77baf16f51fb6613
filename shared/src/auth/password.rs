//! Password hashing with argon2id (OWASP's first choice), PHC strings stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash as Phc};

/// A stored argon2id hash in PHC string form (`$argon2id$v=19$m=...`). Debug shows only the
/// algorithm and parameters, not the salt and hash (which would help an offline guesser).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<&str> = self.0.split('$').take(4).collect();
        write!(f, "PasswordHash({}$***)", params.join("$"))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password could not be hashed: {0}")]
pub struct HashError(String);

/// Hashes with a fresh random salt and argon2's default (argon2id, m=19 MiB, t=2, p=1).
pub fn hash_password(password: &str) -> Result<PasswordHash, HashError> {
    // The salt comes from the OS CSPRNG (argon2's `getrandom` feature).
    PasswordHasher::<Phc>::hash_password(&Argon2::default(), password.as_bytes())
        .map(|h| PasswordHash(h.to_string()))
        .map_err(|e| HashError(e.to_string()))
}

/// True when `password` matches `stored`. With no stored hash (unknown user) the password is
/// checked against a dummy hash all the same, so an unknown user takes as long as a wrong
/// password: the response time does not tell which usernames exist.
pub fn verify_password(password: &str, stored: Option<&PasswordHash>) -> bool {
    let (hash, known) = match stored {
        Some(h) => (h.0.as_str(), true),
        None => (dummy_hash(), false),
    };
    let matches = Phc::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    matches && known
}

/// The hash an unknown user's password is checked against: argon2id with the default
/// parameters of [`hash_password`] (a test keeps them equal), of a throwaway password. A
/// constant rather than a hash made at cold start, which cost the token function ~60 ms of init.
/// It protects nothing: no user has it, and a match is refused anyway.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$/w5gvN3V7N0/sCP9hXWx5Q$VNtKU78DWWC4FXbUGBOcXfsJGVua7/+C1ZGJ4GH5ZvU";

fn dummy_hash() -> &'static str {
    DUMMY_HASH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_right_password_only() -> Result<(), HashError> {
        let stored = hash_password("correct horse")?;
        assert!(stored.0.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&stored)));
        assert!(!verify_password("Correct horse", Some(&stored)));
        Ok(())
    }

    #[test]
    fn the_dummy_hash_costs_what_a_stored_hash_costs() -> Result<(), HashError> {
        let stored = hash_password("anything")?;
        let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(params(dummy_hash()), params(&stored.0));
        assert!(Phc::new(dummy_hash()).is_ok());
        Ok(())
    }

    #[test]
    fn an_unknown_user_never_verifies() {
        assert!(!verify_password("no user has this password", None));
        assert!(!verify_password("anything", None));
    }

    #[test]
    fn debug_shows_the_parameters_but_not_the_hash() -> Result<(), HashError> {
        let stored = hash_password("pw")?;
        let shown = format!("{stored:?}");
        assert!(
            shown.starts_with("PasswordHash($argon2id$v=19$m="),
            "{shown}"
        );
        let hash = stored.0.rsplit('$').next().unwrap_or_default();
        assert!(!shown.contains(hash), "{shown}");
        Ok(())
    }

    #[test]
    fn salts_every_hash() -> Result<(), HashError> {
        assert_ne!(hash_password("same")?, hash_password("same")?);
        Ok(())
    }
}
