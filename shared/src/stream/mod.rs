//! The payment stream's consumers: the validator (`online` queue → gateway) and the recorder
//! (`offline` queue → store), over one reading of the message and one redelivery policy; and
//! the reconciler, which re-sends the message of a payment left pending too long.

pub mod incoming;
pub mod reconciler;
pub mod recorder;
pub mod redelivery;
mod refunds;
pub mod validator;

pub use reconciler::Reconciler;
pub use recorder::Recorder;
pub use redelivery::Redelivery;
pub use validator::Validator;
