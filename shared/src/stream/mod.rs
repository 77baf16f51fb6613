//! The payment stream's consumers: the validator (`online` queue → gateway) and the recorder
//! (`offline` queue → store), over one reading of the message and one redelivery policy.

pub mod incoming;
pub mod recorder;
pub mod redelivery;
mod refunds;
pub mod validator;

pub use recorder::Recorder;
pub use redelivery::Redelivery;
pub use validator::Validator;
