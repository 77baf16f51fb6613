//! payrail tools.
