//! Ed25519 keys and signatures under domain tags, with one validity rule (spec/signatures.md).
//!
//! Every signature is checked under the ZIP-215 rules, as `ed25519-zebra` (their reference
//! implementation) applies them: its single and batch checks accept exactly the same
//! signatures, so every validator and every verifier reaches the same answer however it groups
//! its checks. Keys are registered only if they are points of large order
//! ([`PublicKey::prepare`]). ed25519-dalek's `verify_strict` is kept as the benchmarks'
//! baseline and to compare with the Wycheproof vectors; no message is judged by it.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::Domain;

/// An Ed25519 public key (32 bytes, as encoded by RFC 8032).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

/// An Ed25519 signature (64 bytes, `R ‖ S`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

/// A signature check failed; the check that refused it is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key bytes are not a valid point (or are of small order).
    #[error("public key is not a valid Ed25519 point")]
    BadKey,
    /// The signature does not verify for this key and message.
    #[error("signature does not verify")]
    Invalid,
}

/// A secret signing key. It is kept outside every encoded type so it cannot be hashed,
/// signed or logged by accident; its `Debug` prints only the public key.
pub struct Keypair(SigningKey);

impl Keypair {
    /// The key for a 32-byte seed (RFC 8032 secret key). Callers supply the randomness.
    pub fn from_seed(seed: &[u8; 32]) -> Keypair {
        Keypair(SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed, for writing an encrypted key file.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `message` under `domain` (the signed bytes are `Domain::signing_bytes`).
    pub fn sign(&self, domain: Domain, message: &[u8]) -> Signature {
        Signature(self.0.sign(&domain.signing_bytes(message)).to_bytes())
    }

    /// Signs raw bytes with no domain framing; only for known-answer tests of RFC 8032.
    pub fn sign_raw(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair(public: {})", self.public())
    }
}

/// A public key decompressed once, for keys checked many times (issuer keys in a registry).
#[derive(Clone, Debug)]
pub struct PreparedKey {
    /// The key as ZIP-215 checks it: the rule of every message (spec/signatures.md §2).
    zip215: ed25519_zebra::VerificationKey,
    /// The same key for ed25519-dalek's `verify_strict`, the benchmarks' baseline.
    strict: VerifyingKey,
}

impl PublicKey {
    /// Decompresses and checks the key once. A key that is not a point, or is a point of small
    /// order, is refused (spec/signatures.md §1): such a key signs nothing that binds its
    /// holder, so no registry, genesis or validator set may hold one.
    pub fn prepare(&self) -> Result<PreparedKey, SignatureError> {
        let strict = VerifyingKey::from_bytes(&self.0).map_err(|_| SignatureError::BadKey)?;
        if strict.is_weak() {
            return Err(SignatureError::BadKey);
        }
        let zip215 =
            ed25519_zebra::VerificationKey::try_from(self.0).map_err(|_| SignatureError::BadKey)?;
        Ok(PreparedKey { zip215, strict })
    }

    /// ed25519-dalek's `verify_strict` of `sig` over `message` framed under `domain`: the
    /// benchmarks' baseline, not a protocol rule.
    pub fn verify_strict(
        &self,
        domain: Domain,
        message: &[u8],
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        self.prepare()?.verify_strict(domain, message, sig)
    }

    /// `verify_strict` over raw bytes with no domain framing; to compare with published test
    /// vectors only.
    pub fn verify_strict_raw(&self, message: &[u8], sig: &Signature) -> Result<(), SignatureError> {
        self.prepare()?.verify_strict_raw(message, sig)
    }

    /// ZIP-215 check of `sig` over `message` framed under `domain`; agrees with [`BatchVerifier`].
    pub fn verify_zip215(
        &self,
        domain: Domain,
        message: &[u8],
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        let vk =
            ed25519_zebra::VerificationKey::try_from(self.0).map_err(|_| SignatureError::BadKey)?;
        let s = ed25519_zebra::Signature::from_bytes(&sig.0);
        vk.verify(&s, &domain.signing_bytes(message))
            .map_err(|_| SignatureError::Invalid)
    }

    /// ZIP-215 over bytes taken as they are: published test vectors, and the consensus
    /// engine's messages, which the node frames itself (votes and proposals under their
    /// domains, validator proofs under Malachite's own prefix).
    pub fn verify_zip215_raw(&self, message: &[u8], sig: &Signature) -> Result<(), SignatureError> {
        let vk =
            ed25519_zebra::VerificationKey::try_from(self.0).map_err(|_| SignatureError::BadKey)?;
        vk.verify(&ed25519_zebra::Signature::from_bytes(&sig.0), message)
            .map_err(|_| SignatureError::Invalid)
    }
}

impl PreparedKey {
    /// The ZIP-215 check of `sig` over `message` framed under `domain`, as every message is
    /// judged (spec/signatures.md §2); agrees with [`BatchVerifier`].
    pub fn verify(
        &self,
        domain: Domain,
        message: &[u8],
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        let s = ed25519_zebra::Signature::from_bytes(&sig.0);
        self.zip215
            .verify(&s, &domain.signing_bytes(message))
            .map_err(|_| SignatureError::Invalid)
    }

    /// The key's bytes.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.zip215.into())
    }

    /// ed25519-dalek's `verify_strict` of `sig` over `message` framed under `domain`: the
    /// benchmarks' baseline, not a protocol rule.
    pub fn verify_strict(
        &self,
        domain: Domain,
        message: &[u8],
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        self.verify_strict_raw(&domain.signing_bytes(message), sig)
    }

    /// `verify_strict` over raw bytes.
    pub fn verify_strict_raw(&self, message: &[u8], sig: &Signature) -> Result<(), SignatureError> {
        let s = ed25519_dalek::Signature::from_bytes(&sig.0);
        self.strict
            .verify_strict(message, &s)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// Checks many ZIP-215 signatures at once.
///
/// The batch coefficients come from a ChaCha20 stream seeded with a tagged hash of every queued
/// item, so the check is deterministic (core draws no randomness) yet the coefficients cannot be
/// chosen by whoever made the signatures, as in Fiat–Shamir (spec/signatures.md §3).
#[derive(Default)]
pub struct BatchVerifier {
    inner: ed25519_zebra::batch::Verifier,
    seed: Option<crate::hash::Hasher>,
    count: usize,
}

impl BatchVerifier {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues one signature over `message` framed under `domain`.
    pub fn queue(&mut self, key: &PublicKey, domain: Domain, message: &[u8], sig: &Signature) {
        let framed = domain.signing_bytes(message);
        let seed = self.seed.get_or_insert_with(|| Domain::BatchSeed.hasher());
        seed.update(&key.0);
        seed.update(&sig.0);
        seed.update(&(framed.len() as u64).to_le_bytes());
        seed.update(&framed);
        let vkb = ed25519_zebra::VerificationKeyBytes::from(key.0);
        self.inner
            .queue((vkb, ed25519_zebra::Signature::from_bytes(&sig.0), &framed));
        self.count += 1;
    }

    /// Number of queued signatures.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Checks every queued signature; `Ok` only if all are valid.
    pub fn verify(self) -> Result<(), SignatureError> {
        let Some(seed) = self.seed else { return Ok(()) };
        let rng = ChaCha20Rng::from_seed(seed.finish().0);
        self.inner.verify(rng).map_err(|_| SignatureError::Invalid)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

/// Why a hex key or signature could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} hex digits; got {got:?}")]
pub struct HexParseError {
    /// Hex digits expected.
    pub expected: usize,
    /// What was given (cut to 80 characters).
    pub got: String,
}

fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], HexParseError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| HexParseError {
        expected: 2 * N,
        got: s.chars().take(80).collect(),
    })?;
    Ok(out)
}

impl FromStr for PublicKey {
    type Err = HexParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex(s).map(PublicKey)
    }
}

impl FromStr for Signature {
    type Err = HexParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex(s).map(Signature)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_separation_binds_the_signature() {
        let k = Keypair::from_seed(&[7; 32]);
        let sig = k.sign(Domain::SignCredential, b"m");
        assert_eq!(
            k.public().verify_strict(Domain::SignCredential, b"m", &sig),
            Ok(())
        );
        assert_eq!(
            k.public()
                .verify_strict(Domain::SignTransaction, b"m", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            k.public().verify_zip215(Domain::SignCredential, b"m", &sig),
            Ok(())
        );
    }

    #[test]
    fn batch_agrees_with_single_checks() {
        let keys: Vec<_> = (0..8u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
        let mut good = BatchVerifier::new();
        for (i, k) in keys.iter().enumerate() {
            let m = [i as u8; 5];
            good.queue(
                &k.public(),
                Domain::SignVote,
                &m,
                &k.sign(Domain::SignVote, &m),
            );
        }
        assert_eq!(good.len(), 8);
        assert_eq!(good.verify(), Ok(()));

        let mut bad = BatchVerifier::new();
        for (i, k) in keys.iter().enumerate() {
            let m = [i as u8; 5];
            let mut sig = k.sign(Domain::SignVote, &m);
            if i == 5 {
                sig.0[3] ^= 1;
            }
            bad.queue(&k.public(), Domain::SignVote, &m, &sig);
        }
        assert_eq!(bad.verify(), Err(SignatureError::Invalid));
        assert_eq!(BatchVerifier::new().verify(), Ok(()));
    }
}
