//! Auditor tools for T-Road logs (spec/troad-log.md §6–§7): the anchored heads of a source,
//! checked against genesis; evidence bundles for one record; and a whole log file checked
//! against its anchors.

pub mod cli;
pub mod heads;
pub mod logcheck;
pub mod logfile;
pub mod sets;
pub mod stream;
