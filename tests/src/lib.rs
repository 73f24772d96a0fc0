//! Harness for end-to-end tests: finds the workspace's built binaries and runs them like an
//! operator would, capturing exit code and output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod agency;
pub mod citizen;
pub mod net;
pub mod ports;
pub mod troad;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut child = Command::new(&path)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    // Both pipes are drained while the command runs, so a chatty one cannot block on a full
    // pipe; a command that hangs (a deadlock, say) fails its test instead of the whole run.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{bin} {} did not finish within {} s; its stderr:\n{}",
                args.join(" "),
                RUN_LIMIT.as_secs(),
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Longest a command run by [`run`] may take; the slowest, a batch of thousands of rows, takes
/// seconds.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

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
