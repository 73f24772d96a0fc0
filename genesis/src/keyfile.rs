//! Devnet key files: JSON with the public key and the secret seed, written with mode 0600.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use credledger_core::sig::Keypair;
use serde::Serialize;

#[derive(Serialize)]
struct KeyFile<'a> {
    chain_id: &'a str,
    role: &'a str,
    name: &'a str,
    public_key: String,
    /// Plain secret seed: devnet only.
    secret_seed: String,
}

/// Writes one key file, readable by its owner only.
pub fn write(path: &Path, chain_id: &str, role: &str, name: &str, key: &Keypair) -> Result<()> {
    let body = KeyFile {
        chain_id,
        role,
        name,
        public_key: key.public().to_string(),
        secret_seed: hex::encode(key.seed()),
    };
    let json = serde_json::to_string_pretty(&body)? + "\n";
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        // An existing file keeps its old mode through `open`; tighten it explicitly.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
