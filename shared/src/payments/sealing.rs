//! What payment code needs from card encryption: seal the number (or wallet token) the gateway
//! still needs, bound to its payment, and open it again. Implemented by [`CardCipher`]
//! (AES-256-GCM).

use crate::cards::{CardCipher, SealedCard};
use crate::domain::PaymentId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    #[error("card data could not be sealed (no randomness)")]
    Seal,
    #[error("sealed card data could not be opened")]
    Open,
}

pub trait SealCards: Send + Sync {
    fn seal(&self, secret: &str, payment_id: &PaymentId) -> Result<String, SealingError>;
    fn open(&self, sealed: &str, payment_id: &PaymentId) -> Result<String, SealingError>;
}

impl SealCards for CardCipher {
    fn seal(&self, secret: &str, payment_id: &PaymentId) -> Result<String, SealingError> {
        self.seal_text(secret, *payment_id)
            .map(String::from)
            .map_err(|_| SealingError::Seal)
    }

    fn open(&self, sealed: &str, payment_id: &PaymentId) -> Result<String, SealingError> {
        let sealed = SealedCard::parse(sealed).map_err(|_| SealingError::Open)?;
        self.open_text(&sealed, *payment_id)
            .map_err(|_| SealingError::Open)
    }
}
