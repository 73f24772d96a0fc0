//! The issuer CLI's library: what its commands share and what tests reach directly.

pub mod files;
pub mod keystore;
pub mod logstore;
