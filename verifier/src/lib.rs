//! The public verifier: a light client that trusts only genesis, live status checked by core's
//! `verify`, and the HTTP service citizens and apps use (spec/verifier.md).

pub mod audit;
pub mod checker;
pub mod files;
pub mod follower;
pub mod http;
pub mod ledger;
pub mod qrimage;
pub mod registry;
pub mod report;
pub mod saved;
pub mod serve;
pub mod signature_queue;
pub mod trust;
