//! Consensus on Malachite (spec/adr/001-consensus-malachite.md). Every Malachite type stays
//! inside this module; the rest of the node sees core's blocks and commit certificates.

pub mod context;
pub mod signing;

#[cfg(test)]
mod tests;
