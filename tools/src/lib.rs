//! payrail tools.
pub mod bench;
pub mod generator;
pub mod local;
pub mod redrive;
pub mod runtime_api;
pub mod simulator;
pub mod smoke;
