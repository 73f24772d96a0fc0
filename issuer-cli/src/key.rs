//! `key generate` and `key show`, and where a passphrase comes from: a prompt, an environment
//! variable or a file (for unattended batch jobs).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use credledger_core::sig::Keypair;
use credledger_issuer::files::{MAX_DOCUMENT_BYTES, MAX_PASSPHRASE_FILE_BYTES, read_limited};
use credledger_issuer::keystore::{self, KdfParams, KeyFileError};
use zeroize::Zeroizing;

use crate::exit;

/// Issuer key commands.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make a new issuer signing key, sealed under a passphrase (argon2id + XChaCha20-Poly1305),
    /// in a file only its owner can read. Prints the public key to register with governance.
    ///
    /// Example: credledger-issuer key generate --issuer moj --key-id moj-2026-02 --out moj-2026-02.key
    Generate {
        /// The issuer, e.g. `moj`.
        #[arg(long)]
        issuer: String,
        /// The key's id in the issuer registry, e.g. `moj-2026-02`.
        #[arg(long)]
        key_id: String,
        /// The key file to write (never replaced).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        pass: Passphrase,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// After an issuer key is revoked: every credential it signed that was published at or
    /// after the revocation's effective time (scanning the committed blocks), to reissue.
    ///
    /// Example: credledger-issuer key affected --issuer moj --key-id moj-2026-01 --genesis genesis.json --node http://127.0.0.1:26800
    Affected {
        /// The issuer.
        #[arg(long)]
        issuer: String,
        /// The revoked key's id.
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        ledger: crate::ledger::LedgerArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Seal a plain devnet key file (as `credledger-genesis init` writes them) under a
    /// passphrase. For test networks: production keys are made with `key generate`.
    ///
    /// Example: credledger-issuer key import --plain .devnet/keys/issuer-moj-2026-01.json --out moj.key
    Import {
        /// The plain key file (`role` `issuer:<issuer>`, `name` the key id, `secret_seed`).
        #[arg(long, value_name = "FILE")]
        plain: PathBuf,
        /// The sealed key file to write (never replaced).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        pass: Passphrase,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a key file's issuer, key id and public key; with a passphrase, also check that it
    /// opens.
    ///
    /// Example: credledger-issuer key show moj-2026-02.key --check
    Show {
        /// The key file.
        file: PathBuf,
        /// Open the file with the passphrase to prove it holds the key (a prompt unless
        /// `--passphrase-file` or `--passphrase-env` gives it, which imply this).
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        pass: Passphrase,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the passphrase comes from: a file, an environment variable, or else a prompt.
#[derive(Args, Debug)]
pub struct Passphrase {
    /// Read the passphrase from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "passphrase_file")]
    passphrase_env: Option<String>,
    /// Read the passphrase from the first line of this file.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

impl Passphrase {
    /// Whether a flag gives the passphrase (no prompt needed).
    pub fn given(&self) -> bool {
        self.passphrase_env.is_some() || self.passphrase_file.is_some()
    }

    /// The passphrase; `confirm` asks twice at a prompt.
    pub fn get(&self, confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
        if let Some(var) = &self.passphrase_env {
            let v = std::env::var(var)
                .map_err(|_| anyhow!("environment variable {var} is not set (or not UTF-8)"))?;
            return Ok(Zeroizing::new(v.into_bytes()));
        }
        if let Some(f) = &self.passphrase_file {
            let text = Zeroizing::new(
                String::from_utf8(
                    read_limited(f, MAX_PASSPHRASE_FILE_BYTES, "a passphrase file")
                        .with_context(|| format!("cannot read passphrase file {}", f.display()))?,
                )
                .map_err(|_| anyhow!("passphrase file {} is not UTF-8", f.display()))?,
            );
            let line = text.lines().next().unwrap_or("");
            return Ok(Zeroizing::new(line.as_bytes().to_vec()));
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "no passphrase: give --passphrase-env VAR or --passphrase-file FILE, or run in a terminal"
            );
        }
        let first = Zeroizing::new(rpassword::prompt_password("passphrase: ")?);
        if confirm {
            let again = Zeroizing::new(rpassword::prompt_password("again: ")?);
            if *first != *again {
                bail!("the two passphrases differ");
            }
        }
        Ok(Zeroizing::new(first.as_bytes().to_vec()))
    }
}

fn key_error(e: KeyFileError) -> (u8, anyhow::Error) {
    let code = match e {
        KeyFileError::Io { .. } => exit::INPUT,
        _ => exit::KEY,
    };
    (code, e.into())
}

fn input(e: anyhow::Error) -> (u8, anyhow::Error) {
    (exit::INPUT, e)
}

/// Runs a key command.
pub fn run(cmd: KeyCommand) -> Result<(), (u8, anyhow::Error)> {
    match cmd {
        KeyCommand::Generate {
            issuer,
            key_id,
            out,
            pass,
            json,
        } => generate(&issuer, &key_id, &out, &pass, json),
        KeyCommand::Show {
            file,
            check,
            pass,
            json,
        } => show(&file, check, &pass, json),
        KeyCommand::Affected {
            issuer,
            key_id,
            ledger,
            json,
        } => crate::classify(crate::affected::run(&issuer, &key_id, &ledger, json)),
        KeyCommand::Import {
            plain,
            out,
            pass,
            json,
        } => import(&plain, &out, &pass, json),
    }
}

fn generate(
    issuer: &str,
    key_id: &str,
    out: &Path,
    pass: &Passphrase,
    json: bool,
) -> Result<(), (u8, anyhow::Error)> {
    issuer
        .parse::<credledger_core::ids::IssuerId>()
        .map_err(|e| input(anyhow!("issuer {issuer:?}: {e}")))?;
    key_id
        .parse::<credledger_core::ids::KeyId>()
        .map_err(|e| input(anyhow!("key id {key_id:?}: {e}")))?;
    refuse_existing(out)?;
    let passphrase = pass.get(true).map_err(input)?;
    let seed = Zeroizing::new(rand_bytes::<32>());
    let key = Keypair::from_seed(&seed);
    seal_and_write(issuer, key_id, &key, &passphrase, out, json)
}

/// A key file is never replaced: refuse before asking for a passphrase.
fn refuse_existing(out: &Path) -> Result<(), (u8, anyhow::Error)> {
    if out.exists() {
        return Err(input(anyhow!(
            "{} exists; a key file is never replaced",
            out.display()
        )));
    }
    Ok(())
}

/// Seals `key` with fresh salt and nonce at the strong cost, writes it (mode 0600) and reports.
fn seal_and_write(
    issuer: &str,
    key_id: &str,
    key: &Keypair,
    passphrase: &[u8],
    out: &Path,
    json: bool,
) -> Result<(), (u8, anyhow::Error)> {
    let file = keystore::seal(
        issuer,
        key_id,
        key,
        passphrase,
        KdfParams::STRONG,
        rand_bytes::<16>(),
        rand_bytes::<24>(),
    )
    .map_err(key_error)?;
    keystore::write(out, &file).map_err(key_error)?;
    print_key(&file, json, &format!("wrote {} (mode 0600)", out.display()));
    Ok(())
}

fn import(
    plain: &Path,
    out: &Path,
    pass: &Passphrase,
    json: bool,
) -> Result<(), (u8, anyhow::Error)> {
    let v: serde_json::Value = read_limited(plain, MAX_DOCUMENT_BYTES, "a plain key file")
        .map_err(anyhow::Error::from)
        .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
        .with_context(|| format!("cannot read {}", plain.display()))
        .map_err(input)?;
    let role = v["role"].as_str().unwrap_or_default();
    let name = v["name"].as_str().unwrap_or_default();
    // Council members' and log sources' keys are sealed the same way, under the
    // pseudo-issuers `council` and `log-source`.
    let (issuer, key_id) = match role.strip_prefix("issuer:") {
        Some(issuer) => (issuer.to_string(), name.to_string()),
        None if role == "governance" => ("council".to_string(), name.to_string()),
        None if role == "log-source" => ("log-source".to_string(), name.to_string()),
        None => {
            return Err(input(anyhow!(
                "{} is not an issuer, council or log-source key (role {role:?})",
                plain.display()
            )));
        }
    };
    let (issuer, key_id) = (issuer.as_str(), key_id.as_str());
    let seed: [u8; 32] = hex::decode(v["secret_seed"].as_str().unwrap_or_default())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            input(anyhow!(
                "{}: secret_seed is not 64 hex digits",
                plain.display()
            ))
        })?;
    refuse_existing(out)?;
    let key = Keypair::from_seed(&Zeroizing::new(seed));
    let passphrase = pass.get(true).map_err(input)?;
    seal_and_write(issuer, key_id, &key, &passphrase, out, json)
}

fn show(
    file: &Path,
    check: bool,
    pass: &Passphrase,
    json: bool,
) -> Result<(), (u8, anyhow::Error)> {
    // A passphrase given on the command line is there to be used.
    let check = check || pass.given();
    let parsed = if check {
        let passphrase = pass.get(false).map_err(input)?;
        keystore::read(file, &passphrase).map_err(key_error)?.0
    } else {
        keystore::public_fields(file).map_err(key_error)?
    };
    let note = if check {
        "opens with the passphrase"
    } else {
        "not opened (add --check)"
    };
    print_key(&parsed, json, note);
    Ok(())
}

fn print_key(f: &keystore::KeyFile, json: bool, note: &str) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "issuer": f.issuer, "key_id": f.key_id, "public_key": f.public_key,
                "kdf": f.kdf, "note": note,
            })
        );
    } else {
        println!("issuer:      {}", f.issuer);
        println!("key id:      {}", f.key_id);
        println!("public key:  {}", f.public_key);
        println!(
            "sealed with: argon2id (m={} KiB, t={}, p={}) + XChaCha20-Poly1305",
            f.kdf.m_kib, f.kdf.t, f.kdf.p
        );
        println!("{note}");
    }
}

/// Fresh random bytes (rand's thread generator: a CSPRNG seeded from the operating system).
fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::fill(&mut b[..]);
    b
}
