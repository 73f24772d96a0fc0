//! Pure protocol core of credledger: the data model, canonical encoding, hashing, signatures,
//! RFC 6962 Merkle logs, the authenticated state map, presentations and [`verify()`].
//!
//! Architecture Invariant: this crate performs no I/O, reads no clock, draws no randomness and
//! starts no tasks. Time, keys and trust anchors are arguments, so that the node, the verifier,
//! the issuer CLI and every test agree on one definition of validity.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod block;
pub mod bounded;
pub mod claim_format;
pub mod credential;
pub mod devnet;
pub mod encoding;
pub mod exec;
pub mod genesis;
pub mod hash;
pub mod history;
pub mod ids;
pub mod light;
pub mod merkle;
pub mod presentation;
pub mod registry;
pub mod sig;
pub mod smt;
pub mod state;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod troad;
pub mod tx;
pub mod verify;

pub use hash::{Digest, Domain};

pub use verify::{Policy, Rejection, TrustAnchor, Verdict, verify, verify_text};
