//! Defaults for the operator: `--genesis`, `--node` and `--key` may come from a TOML file
//! (`CREDLEDGER_ISSUER_CONFIG`, else `~/.config/credledger/issuer.toml`) when neither the
//! command line nor the environment gives them. Precedence: flag, then environment, then file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use credledger_issuer::files::read_limited;
use serde::Deserialize;

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chain's genesis file.
    pub genesis: Option<PathBuf>,
    /// Node API URLs, in order of preference.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// The issuer's sealed key file.
    pub key: Option<PathBuf>,
}

/// Where the config file is, if any.
fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CREDLEDGER_ISSUER_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    let p = PathBuf::from(home).join(".config/credledger/issuer.toml");
    p.exists().then_some(p)
}

/// Reads the config file; none is an empty config. Relative paths in it are relative to it.
pub fn load() -> Result<Config> {
    let Some(p) = path() else {
        return Ok(Config::default());
    };
    let bytes = read_limited(&p, MAX_CONFIG_BYTES, "a config file")
        .with_context(|| format!("cannot read config {}", p.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("config {} is not UTF-8", p.display()))?;
    let mut c: Config = toml::from_str(&text).with_context(|| format!("config {}", p.display()))?;
    let base = p.parent().map(PathBuf::from).unwrap_or_default();
    let resolve = |f: PathBuf| if f.is_absolute() { f } else { base.join(f) };
    c.genesis = c.genesis.map(resolve);
    c.key = c.key.map(resolve);
    Ok(c)
}
