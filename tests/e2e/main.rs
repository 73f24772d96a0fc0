//! End-to-end tests of the binaries, each written as the script an operator would follow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod genesis_cli;
mod issuer_batch;
mod issuer_governance;
mod issuer_keys;
mod issuer_publish;
mod network;
mod observers;
mod rotation;
mod troad_audit;
mod validator_change;
mod verifier_cli;
mod verifier_service;
