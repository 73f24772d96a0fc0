//! The credledger ledger node: durable storage, execution of decided blocks and the commit
//! path, wired by one service module. Consensus, networking and the HTTP API attach to the
//! service.
//!
//! Architecture Invariant: `storage` and `execution` do not import each other; `service`
//! wires them.

pub mod api;
pub mod config;
pub mod consensus;
pub mod execution;
pub mod mempool;
pub mod relay;
pub mod service;
pub mod storage;
