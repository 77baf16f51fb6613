//! What payment code needs from card encryption: seal the number (or wallet token) the gateway
//! still needs, bound to its payment, and open it again. Implemented over AES-256-GCM.

use crate::domain::PaymentId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sealed card data could not be opened")]
pub struct OpenError;

pub trait SealCards: Send + Sync {
    fn seal(&self, secret: &str, payment_id: &PaymentId) -> String;
    fn open(&self, sealed: &str, payment_id: &PaymentId) -> Result<String, OpenError>;
}
