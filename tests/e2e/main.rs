//! End-to-end tests of the binaries, each written as the script an operator would follow.

mod genesis_cli;
mod verifier_cli;
