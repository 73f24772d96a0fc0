//! Credentials: a signed body that commits to salted claim digests, and selective disclosure
//! of those claims (spec/credentials.md).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::bounded::{ShortVec, Text};
use crate::encoding::encode;
use crate::hash::{Digest, Domain};
use crate::ids::{ChainId, ClaimKey, CredentialId, IssuerId, KeyId, KindId, Timestamp};
use crate::sig::{Keypair, PreparedKey, Signature, SignatureError};
use crate::state::KindDef;

/// Version of the credential body format this code writes and reads.
pub const CREDENTIAL_VERSION: u8 = 1;
/// At most this many claims in one credential.
pub const MAX_CLAIMS: usize = 32;
/// A 16-byte claim salt (128 bits, so a hidden claim cannot be guessed by trying values).
pub type Salt = [u8; 16];

/// One claim: a key from the kind's schema and its value as text.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Claim {
    /// The claim's name, e.g. `license_no`.
    pub key: ClaimKey,
    /// The claim's value, at most 255 bytes of UTF-8.
    pub value: Text<255>,
}

/// What the issuer signs and the ledger anchors. It holds no claim values, only their root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CredentialBody {
    /// [`CREDENTIAL_VERSION`].
    pub version: u8,
    /// The issuing ministry.
    pub issuer: IssuerId,
    /// The issuer key that signs the body.
    pub key_id: KeyId,
    /// The kind, which the issuer must be authorized for.
    pub kind: KindId,
    /// The credential's id, unique per issuer.
    pub id: CredentialId,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity (exclusive), if any.
    pub valid_until: Option<Timestamp>,
    /// [`claims_root`] of the claim digests.
    pub claims_root: Digest,
}

impl CredentialBody {
    /// The bytes an issuer key signs: the chain id and the body (spec/credentials.md §3).
    pub fn signing_message(&self, chain: &ChainId) -> Vec<u8> {
        let mut m = encode(chain);
        m.extend_from_slice(&encode(self));
        m
    }

    /// The body's digest, which the ledger stores with the credential's status.
    pub fn digest(&self, chain: &ChainId) -> Digest {
        Domain::Credential.hash(&[&self.signing_message(chain)])
    }

    /// Signs the body with the issuer key.
    pub fn sign(&self, chain: &ChainId, key: &Keypair) -> Signature {
        key.sign(Domain::SignCredential, &self.signing_message(chain))
    }

    /// The ZIP-215 check of the issuer's signature (spec/credentials.md §3).
    pub fn verify_signature(
        &self,
        chain: &ChainId,
        key: &PreparedKey,
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        key.verify(Domain::SignCredential, &self.signing_message(chain), sig)
    }
}

/// The salt of claim `index`, derived from the credential's seed so a holder keeps one secret.
pub fn claim_salt(seed: &Salt, index: u8) -> Salt {
    let d = Domain::ClaimSalt.hash(&[seed, &[index]]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.0[..16]);
    out
}

/// `H_claim(salt ‖ claim)`.
pub fn claim_digest(salt: &Salt, claim: &Claim) -> Digest {
    Domain::Claim.hash(&[salt, &encode(claim)])
}

/// `H_claims(u8 count ‖ digest…)`: the commitment to all claims, in order.
pub fn claims_root(digests: &[Digest]) -> Digest {
    let mut h = Domain::Claims.hasher();
    h.update(&[digests.len() as u8]);
    for d in digests {
        h.update(&d.0);
    }
    h.finish()
}

/// The claim digests of a full set of claims under one seed.
pub fn claim_digests(seed: &Salt, claims: &[Claim]) -> Vec<Digest> {
    claims
        .iter()
        .enumerate()
        .map(|(i, c)| claim_digest(&claim_salt(seed, i as u8), c))
        .collect()
}

/// How a presentation reveals the claims (spec/credentials.md §4).
///
/// Claim values travel without their keys: a credential carries exactly its kind's claims, in
/// the schema's order, so the verifier takes each key from the kind definition. This keeps a
/// lawyer license's QR code at version 12 or below.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Disclosure {
    /// Every claim, with the seed that derives every salt: the smallest form.
    All {
        /// The credential's salt seed.
        seed: Salt,
        /// All claim values, in schema order.
        values: ShortVec<Text<255>, MAX_CLAIMS>,
    },
    /// Each claim either shown with its own salt or hidden behind its digest.
    Selective {
        /// One item per claim, in schema order.
        items: ShortVec<DisclosedItem, MAX_CLAIMS>,
    },
}

/// One claim of a selective disclosure.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum DisclosedItem {
    /// The claim's value and salt.
    Shown {
        /// The claim's salt.
        salt: Salt,
        /// The claim's value.
        value: Text<255>,
    },
    /// Only the claim's digest.
    Hidden {
        /// The claim's digest.
        digest: Digest,
    },
}

/// A disclosure whose claim count differs from the kind's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the kind has {expected} claims; the disclosure has {got}")]
pub struct ClaimCountError {
    /// Claims in the schema.
    pub expected: usize,
    /// Claims in the disclosure.
    pub got: usize,
}

impl Disclosure {
    /// The claim digests this disclosure commits to, in order, and the claims it reveals, with
    /// keys taken from the kind's schema.
    pub fn digests_and_claims(
        &self,
        schema: &KindDef,
    ) -> Result<(Vec<Digest>, Vec<Claim>), ClaimCountError> {
        let keys = &schema.claims;
        let got = match self {
            Disclosure::All { values, .. } => values.len(),
            Disclosure::Selective { items } => items.len(),
        };
        if got != keys.len() {
            return Err(ClaimCountError {
                expected: keys.len(),
                got,
            });
        }
        let mut digests = Vec::with_capacity(got);
        let mut shown = Vec::with_capacity(got);
        match self {
            Disclosure::All { seed, values } => {
                for (i, (def, value)) in keys.iter().zip(values.iter()).enumerate() {
                    let claim = Claim {
                        key: def.key.clone(),
                        value: value.clone(),
                    };
                    digests.push(claim_digest(&claim_salt(seed, i as u8), &claim));
                    shown.push(claim);
                }
            }
            Disclosure::Selective { items } => {
                for (def, item) in keys.iter().zip(items.iter()) {
                    match item {
                        DisclosedItem::Shown { salt, value } => {
                            let claim = Claim {
                                key: def.key.clone(),
                                value: value.clone(),
                            };
                            digests.push(claim_digest(salt, &claim));
                            shown.push(claim);
                        }
                        DisclosedItem::Hidden { digest } => digests.push(*digest),
                    }
                }
            }
        }
        Ok((digests, shown))
    }

    /// Number of hidden claims.
    pub fn hidden_count(&self) -> usize {
        match self {
            Disclosure::All { .. } => 0,
            Disclosure::Selective { items } => items
                .iter()
                .filter(|i| matches!(i, DisclosedItem::Hidden { .. }))
                .count(),
        }
    }
}

/// What a holder keeps: the signed body, the seed and every claim. Never sent to the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct HeldCredential {
    /// The signed body.
    pub body: CredentialBody,
    /// The issuer's signature over the body.
    pub signature: Signature,
    /// The salt seed.
    pub seed: Salt,
    /// All claims, in order.
    pub claims: ShortVec<Claim, MAX_CLAIMS>,
}

impl HeldCredential {
    /// Issues a credential: computes the claims root, fills it into `body` and signs. The
    /// claims must be the kind's schema claims in order ([`check_claims`]).
    pub fn issue(
        chain: &ChainId,
        mut body: CredentialBody,
        seed: Salt,
        claims: ShortVec<Claim, MAX_CLAIMS>,
        key: &Keypair,
    ) -> HeldCredential {
        body.claims_root = claims_root(&claim_digests(&seed, &claims));
        let signature = body.sign(chain, key);
        HeldCredential {
            body,
            signature,
            seed,
            claims,
        }
    }

    /// A disclosure revealing the claims whose keys are in `reveal` (all when `None`).
    pub fn disclose(&self, reveal: Option<&[&str]>) -> Disclosure {
        let Some(reveal) = reveal else {
            let values = self.claims.iter().map(|c| c.value.clone()).collect();
            return Disclosure::All {
                seed: self.seed,
                values: ShortVec::new(values).unwrap_or_default(),
            };
        };
        let items = self
            .claims
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let salt = claim_salt(&self.seed, i as u8);
                if reveal.contains(&c.key.as_str()) {
                    DisclosedItem::Shown {
                        salt,
                        value: c.value.clone(),
                    }
                } else {
                    DisclosedItem::Hidden {
                        digest: claim_digest(&salt, c),
                    }
                }
            })
            .collect();
        // `claims` holds at most MAX_CLAIMS, so the items do too.
        Disclosure::Selective {
            items: ShortVec::new(items).unwrap_or_default(),
        }
    }
}

/// Checks that `claims` are exactly the schema's claims, in order, each value in its claim's
/// format ([`ClaimFormat`](crate::claim_format::ClaimFormat)), naming the first difference.
pub fn check_claims(schema: &KindDef, claims: &[Claim]) -> Result<(), String> {
    if claims.len() != schema.claims.len() {
        let want: Vec<&str> = schema.claims.iter().map(|c| c.key.as_str()).collect();
        return Err(format!(
            "kind {} has claims {want:?}; got {} claims",
            schema.id,
            claims.len()
        ));
    }
    for (i, (c, def)) in claims.iter().zip(schema.claims.iter()).enumerate() {
        if c.key != def.key {
            return Err(format!(
                "claim {i} of kind {} is {}, not {}",
                schema.id, def.key, c.key
            ));
        }
        def.format.check(c.value.as_str()).map_err(|e| {
            format!(
                "claim {:?} ({}) {e}",
                def.key.as_str(),
                def.label_en.as_str()
            )
        })?;
    }
    Ok(())
}
