//! payrail tools.
pub mod generator;
pub mod local;
