//! Card data at rest: the full number, sealed with AES-256-GCM under a rotating key.

mod cipher;

pub use cipher::{CardCipher, CardKeyError, InvalidSealedCard, OpenError, SealError, SealedCard};
