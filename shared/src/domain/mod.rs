//! Domain types with their invariants: parse, don't validate.

pub mod card;
pub mod country;
pub mod ids;
pub mod money;
pub mod payment;
pub mod time;

pub use card::{CardNumber, CardSummary, CardType, FingerprintKey, RequestDigestKey};
pub use country::Country;
pub use ids::{AccountId, InvalidMerchantId, MerchantId, PaymentId};
pub use money::{Currency, MinorUnits, Money};
pub use payment::{Failure, FailureKind, Payment, PaymentMethod, PaymentStatus, PaymentType};
pub use time::{Clock, Day, FixedClock, MS_PER_DAY, SystemClock, Timestamp};
