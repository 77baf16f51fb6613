//! payrail tools.
pub mod bench;
pub mod generator;
pub mod local;
pub mod redrive;
pub mod simulator;
pub mod smoke;
