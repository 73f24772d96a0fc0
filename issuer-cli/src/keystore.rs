//! Issuer signing keys at rest: the 32-byte seed sealed with XChaCha20-Poly1305 under a key
//! derived from a passphrase with argon2id (RFC 9106), in a JSON file readable by its owner
//! only. The file's public fields are bound to the ciphertext as associated data, so changing
//! any of them makes the file refuse to open (spec/issuer-keys.md).

use std::io::Write;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use credledger_core::sig::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The format tag every key file starts with.
pub const FORMAT: &str = "credledger-issuer-key/1";

/// Largest key file read.
const MAX_FILE_BYTES: u64 = 16 * 1024;

/// argon2id cost: memory in KiB, passes, lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes.
    pub const STRONG: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 4,
    };

    /// The least a file may ask for (OWASP's argon2id minimum); weaker files are refused.
    pub const MIN: KdfParams = KdfParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };

    fn check(&self) -> Result<(), KeyFileError> {
        let ok = self.m_kib >= Self::MIN.m_kib
            && self.m_kib <= 1024 * 1024
            && self.t >= Self::MIN.t
            && self.t <= 16
            && (1..=16).contains(&self.p);
        if ok {
            Ok(())
        } else {
            Err(KeyFileError::WeakKdf(*self))
        }
    }
}

/// Why a key file could not be written or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// Not a key file of this format, or damaged.
    #[error("{path} is not a credledger issuer key file ({reason})")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The passphrase does not open the file (or the file was altered).
    #[error(
        "the passphrase does not open key {key_id} ({path}); check the passphrase, or restore the file from its backup if it was altered"
    )]
    WrongPassphrase {
        /// The file.
        path: String,
        /// The key it holds.
        key_id: String,
    },
    /// The file asks for key-derivation costs outside the allowed range.
    #[error("key derivation parameters {0:?} are outside the allowed range")]
    WeakKdf(KdfParams),
    /// An empty passphrase.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
}

/// The JSON body of a key file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// [`FORMAT`].
    pub format: String,
    /// The issuer the key belongs to, e.g. `moj`.
    pub issuer: String,
    /// The key's id in the issuer registry, e.g. `moj-2026-01`.
    pub key_id: String,
    /// The public key (hex).
    pub public_key: String,
    /// argon2id costs.
    pub kdf: KdfParams,
    /// argon2id salt (base64, 16 bytes).
    pub salt: String,
    /// XChaCha20-Poly1305 nonce (base64, 24 bytes).
    pub nonce: String,
    /// The sealed seed (base64, 32 + 16 bytes).
    pub sealed_seed: String,
}

impl KeyFile {
    /// The bytes bound to the ciphertext: every public field, in a fixed order.
    fn associated_data(&self) -> Vec<u8> {
        let kdf = self.kdf;
        format!(
            "{}\n{}\n{}\n{}\n{}:{}:{}\n{}",
            self.format,
            self.issuer,
            self.key_id,
            self.public_key,
            kdf.m_kib,
            kdf.t,
            kdf.p,
            self.salt
        )
        .into_bytes()
    }

    /// The public key this file claims to hold.
    pub fn public(&self) -> Result<PublicKey, String> {
        self.public_key
            .parse()
            .map_err(|e| format!("public_key: {e}"))
    }
}

fn derive(
    passphrase: &[u8],
    salt: &[u8],
    kdf: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    kdf.check()?;
    let params =
        Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32)).map_err(|_| KeyFileError::WeakKdf(kdf))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, out.as_mut())
        .map_err(|_| KeyFileError::WeakKdf(kdf))?;
    Ok(out)
}

/// Seals `key` for `issuer`/`key_id` under `passphrase`. `salt` and `nonce` must be fresh
/// random bytes (the caller supplies them, so this stays testable and deterministic).
pub fn seal(
    issuer: &str,
    key_id: &str,
    key: &Keypair,
    passphrase: &[u8],
    kdf: KdfParams,
    salt: [u8; 16],
    nonce: [u8; 24],
) -> Result<KeyFile, KeyFileError> {
    if passphrase.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    let mut file = KeyFile {
        format: FORMAT.into(),
        issuer: issuer.into(),
        key_id: key_id.into(),
        public_key: key.public().to_string(),
        kdf,
        salt: B64.encode(salt),
        nonce: B64.encode(nonce),
        sealed_seed: String::new(),
    };
    let k = derive(passphrase, &salt, kdf)?;
    let seed = Zeroizing::new(key.seed());
    let aad = file.associated_data();
    let sealed = XChaCha20Poly1305::new(k.as_ref().into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: seed.as_ref(),
                aad: &aad,
            },
        )
        .map_err(|_| KeyFileError::Damaged {
            path: String::new(),
            reason: "sealing failed".into(),
        })?;
    file.sealed_seed = B64.encode(sealed);
    Ok(file)
}

/// Opens a key file's JSON with `passphrase`; `path` names it in errors.
pub fn open(
    json: &[u8],
    passphrase: &[u8],
    path: &str,
) -> Result<(KeyFile, Keypair), KeyFileError> {
    let damaged = |reason: String| KeyFileError::Damaged {
        path: path.into(),
        reason,
    };
    let file: KeyFile = serde_json::from_slice(json).map_err(|e| damaged(e.to_string()))?;
    if file.format != FORMAT {
        return Err(damaged(format!(
            "format {:?}, expected {FORMAT:?}",
            file.format
        )));
    }
    let public = file.public().map_err(damaged)?;
    let b64 = |field: &str, v: &str, len: usize| -> Result<Vec<u8>, KeyFileError> {
        let bytes = B64
            .decode(v)
            .map_err(|e| damaged(format!("{field}: {e}")))?;
        if bytes.len() != len {
            return Err(damaged(format!(
                "{field}: {} bytes, expected {len}",
                bytes.len()
            )));
        }
        Ok(bytes)
    };
    let salt = b64("salt", &file.salt, 16)?;
    let nonce = b64("nonce", &file.nonce, 24)?;
    let sealed = b64("sealed_seed", &file.sealed_seed, 48)?;
    if passphrase.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    let k = derive(passphrase, &salt, file.kdf)?;
    let seed = XChaCha20Poly1305::new(k.as_ref().into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &sealed,
                aad: &file.associated_data(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| KeyFileError::WrongPassphrase {
            path: path.into(),
            key_id: file.key_id.clone(),
        })?;
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| damaged("sealed seed is not 32 bytes".into()))?;
    let key = Keypair::from_seed(&seed);
    if key.public() != public {
        return Err(damaged("the sealed key does not match public_key".into()));
    }
    Ok((file, key))
}

/// A key file's public fields (issuer, key id, public key), read without the passphrase;
/// nothing here is checked against the sealed key.
pub fn public_fields(path: &Path) -> Result<KeyFile, KeyFileError> {
    let name = path.display().to_string();
    let bytes = read_key_file(path, &name)?;
    serde_json::from_slice(&bytes).map_err(|e| KeyFileError::Damaged {
        path: name,
        reason: format!("not a key file: {e}"),
    })
}

/// Reads and opens a key file.
pub fn read(path: &Path, passphrase: &[u8]) -> Result<(KeyFile, Keypair), KeyFileError> {
    let name = path.display().to_string();
    let json = read_key_file(path, &name)?;
    open(&json, passphrase, &name)
}

/// A key file's bytes, at most `MAX_FILE_BYTES` of them.
fn read_key_file(path: &Path, name: &str) -> Result<Vec<u8>, KeyFileError> {
    crate::files::read_limited(path, MAX_FILE_BYTES, "a key file").map_err(|e| match e {
        crate::files::ReadError::Io(error) => KeyFileError::Io {
            path: name.to_string(),
            error,
        },
        too_large => KeyFileError::Damaged {
            path: name.to_string(),
            reason: too_large.to_string(),
        },
    })
}

/// Writes a key file readable by its owner only; refuses to replace an existing one.
pub fn write(path: &Path, file: &KeyFile) -> Result<(), KeyFileError> {
    let name = path.display().to_string();
    let io = |error| KeyFileError::Io {
        path: name.clone(),
        error,
    };
    let json = serde_json::to_string_pretty(file).map_err(|e| KeyFileError::Damaged {
        path: name.clone(),
        reason: e.to_string(),
    })? + "\n";
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(json.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams::MIN;

    fn sealed() -> (KeyFile, Keypair) {
        let key = Keypair::from_seed(&[5; 32]);
        let f = seal(
            "moj",
            "moj-2026-01",
            &key,
            b"correct horse",
            FAST,
            [1; 16],
            [2; 24],
        )
        .unwrap();
        (f, key)
    }

    #[test]
    fn seals_and_opens_with_the_passphrase_only() {
        let (f, key) = sealed();
        let json = serde_json::to_vec(&f).unwrap();
        let (back, k) = open(&json, b"correct horse", "k.json").unwrap();
        assert_eq!(k.public(), key.public());
        assert_eq!(back.key_id, "moj-2026-01");
        assert!(!String::from_utf8_lossy(&json).contains(&hex::encode(key.seed())));
        let e = open(&json, b"wrong horse", "k.json").unwrap_err();
        assert!(matches!(e, KeyFileError::WrongPassphrase { .. }), "{e}");
        assert!(e.to_string().contains("moj-2026-01"));
    }

    #[test]
    fn any_changed_field_refuses_to_open() {
        let (f, _) = sealed();
        let mut other_id = f.clone();
        other_id.key_id = "moj-2026-02".into();
        let mut other_issuer = f.clone();
        other_issuer.issuer = "moea".into();
        let mut weaker = f.clone();
        weaker.kdf.t = 1;
        let mut other_key = f.clone();
        other_key.public_key = Keypair::from_seed(&[6; 32]).public().to_string();
        let mut flipped = f.clone();
        let mut bytes = B64.decode(&f.sealed_seed).unwrap();
        bytes[3] ^= 1;
        flipped.sealed_seed = B64.encode(bytes);
        for bad in [other_id, other_issuer, other_key, flipped] {
            let json = serde_json::to_vec(&bad).unwrap();
            assert!(matches!(
                open(&json, b"correct horse", "k.json"),
                Err(KeyFileError::WrongPassphrase { .. })
            ));
        }
        let json = serde_json::to_vec(&weaker).unwrap();
        assert!(matches!(
            open(&json, b"correct horse", "k.json"),
            Err(KeyFileError::WeakKdf(_))
        ));
        for junk in [&b"{}"[..], b"not json", b""] {
            assert!(matches!(
                open(junk, b"x", "k.json"),
                Err(KeyFileError::Damaged { .. })
            ));
        }
    }

    proptest::proptest! {
        // Each case runs the KDF once (at its cheapest, some 20 ms).
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// A key file damaged anywhere, by one changed byte or cut short, never panics and
        /// never opens to another key: it is refused, or (a change JSON ignores) opens to the
        /// same one.
        #[test]
        fn a_damaged_key_file_is_refused_never_misread(
            at in 0usize..10_000,
            xor in 1u8..=255,
            cut in proptest::prelude::any::<bool>(),
        ) {
            let (f, key) = sealed();
            let mut json = serde_json::to_vec(&f).unwrap();
            let at = at % json.len();
            if cut {
                json.truncate(at);
            } else {
                json[at] ^= xor;
            }
            if let Ok((_, k)) = open(&json, b"correct horse", "k.json") {
                proptest::prop_assert_eq!(k.public(), key.public());
            }
        }
    }

    #[test]
    fn written_files_are_owner_only_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let (f, key) = sealed();
        write(&path, &f).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(write(&path, &f), Err(KeyFileError::Io { .. })));
        let (_, k) = read(&path, b"correct horse").unwrap();
        assert_eq!(k.public(), key.public());
    }
}
