//! Shared helpers of core's integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

use std::path::PathBuf;

/// The published vectors folder (`../shared/vectors` beside the repo), or `None` with a loud
/// note when it is absent. Under CI its absence is a failure, never a silent pass.
pub fn shared_vectors() -> Option<PathBuf> {
    let dir = std::env::var_os("CREDLEDGER_SHARED_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "published vectors not found at {}; CI must provide shared/ beside the clone",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: published vectors not found at {} (set CREDLEDGER_SHARED_VECTORS)",
        dir.display()
    );
    None
}

/// The repo's spec/vectors folder.
pub fn spec_vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}
