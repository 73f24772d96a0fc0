//! Consensus on Malachite (spec/adr/001-consensus-malachite.md). Every Malachite type stays
//! inside this module; the rest of the node sees core's blocks and commit certificates.

pub mod addr;
pub mod app;
pub mod chain;
pub mod codec;
pub mod context;
pub mod early;
pub mod engine;
pub mod pacing;
pub mod peers;
pub mod rotation;
pub mod signing;
pub mod streams;

#[cfg(test)]
mod tests;
