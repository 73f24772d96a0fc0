//! Harness for end-to-end tests: finds the workspace's built binaries and runs them like an
//! operator would, capturing exit code and output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod agency;
pub mod citizen;
pub mod net;
pub mod ports;
pub mod troad;

use std::path::PathBuf;
use std::process::Command;

/// The folder holding the built binaries: `CREDLEDGER_BIN_DIR`, or the profile folder this test
/// runs from (`target/<profile>/deps/..`).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CREDLEDGER_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// What a command did.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs one of the workspace's binaries with `args`.
pub fn run(bin: &str, args: &[&str]) -> Output {
    run_with_env(bin, args, &[])
}

/// Runs one of the workspace's binaries with `args` and extra environment variables.
pub fn run_with_env(bin: &str, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let path = bin_dir().join(bin);
    assert!(
        path.is_file(),
        "{} is not built; run `scripts/test` (or `cargo build --workspace --bins`) before the tests",
        path.display()
    );
    let out = Command::new(&path)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Seals a plain devnet key file (`keys/*.json`) into `out` with the passphrase in `pass`,
/// as an operator does with `credledger-issuer key import`; panics if that fails.
pub fn import_key(plain: &std::path::Path, out: &std::path::Path, pass: &std::path::Path) {
    let o = run(
        "credledger-issuer",
        &[
            "key",
            "import",
            "--plain",
            &plain.display().to_string(),
            "--out",
            &out.display().to_string(),
            "--passphrase-file",
            &pass.display().to_string(),
        ],
    );
    assert_eq!(o.code, 0, "key import of {}: {}", plain.display(), o.stderr);
}
