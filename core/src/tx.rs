//! Ledger transactions: governance actions, issuer actions and T-Road log anchors
//! (spec/transactions.md).
//!
//! Every transaction is authorized by signatures over `chain id ‖ encode(body)` under its own
//! domain, and carries a nonce (or, for anchors, a sequence number) that the ledger requires to
//! be the next one for its signer, so no transaction can be replayed on this or another chain.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::block::Validator;
use crate::bounded::{BoundedVec, ShortVec, Text};
use crate::credential::CredentialBody;
use crate::encoding::encode;
use crate::hash::{Digest, Domain};
use crate::ids::{ChainId, CredentialId, IssuerId, KeyId, KindId, LogSourceId, Nonce, Timestamp};
use crate::sig::{BatchVerifier, Keypair, PublicKey, Signature};
use crate::state::{KindDef, ReasonCode};

/// At most this many credentials in one publish transaction.
pub const MAX_BATCH: usize = 4096;
/// At most this many bytes in one encoded transaction.
pub const MAX_TX_BYTES: usize = 1 << 20;

/// A change to the registry, the validator set or the log sources, which only a threshold of
/// governance keys may make.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum GovernanceAction {
    /// Registers an issuer and the kinds it may issue.
    AddIssuer {
        /// New issuer id.
        issuer: IssuerId,
        /// Name in Traditional Chinese.
        name_zh: Text<128>,
        /// Name in English.
        name_en: Text<128>,
        /// Kinds it may issue.
        kinds: ShortVec<KindId, 16>,
    },
    /// Replaces the kinds an issuer may issue.
    SetIssuerKinds {
        /// The issuer.
        issuer: IssuerId,
        /// Kinds it may issue from now on.
        kinds: ShortVec<KindId, 16>,
    },
    /// Removes an issuer: it can no longer act, and its credentials no longer verify.
    RemoveIssuer {
        /// The issuer.
        issuer: IssuerId,
    },
    /// Defines or redefines a credential kind.
    DefineKind {
        /// The kind.
        kind: KindDef,
    },
    /// Adds a signing key to an issuer.
    AddIssuerKey {
        /// The issuer.
        issuer: IssuerId,
        /// New key id.
        key_id: KeyId,
        /// The public key.
        public_key: PublicKey,
        /// First publication time it covers.
        valid_from: Timestamp,
    },
    /// Revokes an issuer key from a time on, which may lie in the past (a compromise).
    RevokeIssuerKey {
        /// The issuer.
        issuer: IssuerId,
        /// The key.
        key_id: KeyId,
        /// Publications at or after this time are no longer covered by the key.
        effective: Timestamp,
    },
    /// Adds a validator from the next height on.
    AddValidator {
        /// The validator.
        validator: Validator,
    },
    /// Removes a validator from the next height on.
    RemoveValidator {
        /// Its key.
        public_key: PublicKey,
    },
    /// Registers a T-Road log source.
    AddLogSource {
        /// New source id.
        source: LogSourceId,
        /// Agency or security server name.
        name: Text<128>,
        /// Key that signs its anchors.
        public_key: PublicKey,
    },
    /// Removes a log source; it can no longer anchor.
    RemoveLogSource {
        /// The source.
        source: LogSourceId,
    },
    /// Replaces the governance keys and threshold.
    SetGovernance {
        /// New keys.
        keys: ShortVec<PublicKey, 32>,
        /// New threshold.
        threshold: u8,
    },
}

/// A governance action with the nonce that makes it usable once.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovernanceProposal {
    /// Must equal the ledger's next governance nonce.
    pub nonce: Nonce,
    /// What to do.
    pub action: GovernanceAction,
}

/// One council member's approval.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Approval {
    /// The member's governance key.
    pub key: PublicKey,
    /// Signature over the proposal under [`Domain::SignGovernance`].
    pub signature: Signature,
}

impl GovernanceProposal {
    /// The bytes a council member signs.
    pub fn signing_message(&self, chain: &ChainId) -> Vec<u8> {
        let mut m = encode(chain);
        m.extend_from_slice(&encode(self));
        m
    }

    /// A council member's approval.
    pub fn approve(&self, chain: &ChainId, key: &Keypair) -> Approval {
        Approval {
            key: key.public(),
            signature: key.sign(Domain::SignGovernance, &self.signing_message(chain)),
        }
    }
}

/// What an issuer does with its credentials.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum IssuerAction {
    /// Anchors one or more signed credential bodies as active.
    Publish {
        /// The credentials.
        credentials: BoundedVec<SignedBody, MAX_BATCH>,
    },
    /// Active → suspended.
    Suspend {
        /// The credential.
        id: CredentialId,
        /// Why.
        reason: ReasonCode,
    },
    /// Suspended → active.
    Reinstate {
        /// The credential.
        id: CredentialId,
    },
    /// Active or suspended → revoked (final).
    Revoke {
        /// The credential.
        id: CredentialId,
        /// Why.
        reason: ReasonCode,
    },
}

/// A credential body with its issuer signature, as published.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedBody {
    /// The body.
    pub body: CredentialBody,
    /// The issuer's signature over it.
    pub signature: Signature,
}

/// An issuer's transaction, signed by one of its keys.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IssuerTx {
    /// The acting issuer.
    pub issuer: IssuerId,
    /// The key that signs.
    pub key_id: KeyId,
    /// Must equal the issuer's next nonce.
    pub nonce: Nonce,
    /// What to do.
    pub action: IssuerAction,
}

/// A log source's signed tree head, linked to its previous anchor.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorTx {
    /// The source.
    pub source: LogSourceId,
    /// Must be the source's last sequence + 1.
    pub sequence: u64,
    /// Records in the log.
    pub tree_size: u64,
    /// RFC 6962 root over the record digests.
    pub root: Digest,
    /// Root of the previous anchor (the empty root before the first), linking the chain.
    pub previous_root: Digest,
    /// Consistency proof from the previous anchor's size to `tree_size` (empty for the first).
    pub consistency: BoundedVec<Digest, 128>,
    /// The source's own clock when it made the head.
    pub log_time: Timestamp,
}

/// A body with one signature over `chain id ‖ encode(body)`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Signed<T> {
    /// What is signed.
    pub body: T,
    /// Signature under [`Domain::SignTransaction`].
    pub signature: Signature,
}

impl<T: BorshSerialize> Signed<T> {
    /// The bytes the signer signs.
    pub fn signing_message(chain: &ChainId, body: &T) -> Vec<u8> {
        let mut m = encode(chain);
        m.extend_from_slice(&encode(body));
        m
    }

    /// Signs `body`.
    pub fn sign(chain: &ChainId, body: T, key: &Keypair) -> Signed<T> {
        let signature = key.sign(
            Domain::SignTransaction,
            &Self::signing_message(chain, &body),
        );
        Signed { body, signature }
    }
}

/// A ledger transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Transaction {
    /// A governance action with its approvals.
    Governance {
        /// The proposal.
        proposal: GovernanceProposal,
        /// Council approvals, one per key.
        approvals: ShortVec<Approval, 32>,
    },
    /// An issuer action.
    Issuer(Signed<IssuerTx>),
    /// A log anchor.
    Anchor(Signed<AnchorTx>),
}

impl Transaction {
    /// The transaction's id: `H_transaction(encode(tx))`.
    pub fn id(&self) -> Digest {
        Domain::Transaction.hash(&[&encode(self)])
    }

    /// The message and signature of an issuer or anchor transaction.
    pub fn signing_message(&self, chain: &ChainId) -> Option<(Vec<u8>, Signature)> {
        match self {
            Transaction::Governance { .. } => None,
            Transaction::Issuer(s) => Some((Signed::signing_message(chain, &s.body), s.signature)),
            Transaction::Anchor(s) => Some((Signed::signing_message(chain, &s.body), s.signature)),
        }
    }
}

/// Why a governance action's approvals are not enough.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// The proposal's nonce is not the ledger's next governance nonce (a replay or a gap).
    #[error("proposal nonce {got} is not the next governance nonce {expected}")]
    WrongNonce {
        /// The ledger's next nonce.
        expected: Nonce,
        /// The proposal's nonce.
        got: Nonce,
    },
    /// An approval is by a key outside the council.
    #[error("approval by {0}, which is not a governance key")]
    NotCouncil(PublicKey),
    /// One key approved twice.
    #[error("key {0} approved twice")]
    Duplicate(PublicKey),
    /// Fewer approvals than the threshold.
    #[error("{got} approval(s); the threshold is {threshold}")]
    BelowThreshold {
        /// Approvals given.
        got: usize,
        /// Approvals needed.
        threshold: u8,
    },
    /// At least one approval signature is invalid.
    #[error("an approval signature does not verify")]
    BadSignature,
}

/// Checks a governance action against the council record (spec/transactions.md): the nonce is
/// the next one, every approval is by a distinct council key, there are at least `threshold`
/// of them, and every signature verifies (ZIP-215, in one batch).
pub fn check_approvals(
    chain: &ChainId,
    council: &crate::state::GovernanceRecord,
    proposal: &GovernanceProposal,
    approvals: &[Approval],
) -> Result<(), ApprovalError> {
    if proposal.nonce != council.next_nonce {
        return Err(ApprovalError::WrongNonce {
            expected: council.next_nonce,
            got: proposal.nonce,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for a in approvals {
        if !council.keys.contains(&a.key) {
            return Err(ApprovalError::NotCouncil(a.key));
        }
        if !seen.insert(a.key) {
            return Err(ApprovalError::Duplicate(a.key));
        }
    }
    if approvals.len() < usize::from(council.threshold) {
        return Err(ApprovalError::BelowThreshold {
            got: approvals.len(),
            threshold: council.threshold,
        });
    }
    let message = proposal.signing_message(chain);
    let mut batch = BatchVerifier::new();
    for a in approvals {
        batch.queue(&a.key, Domain::SignGovernance, &message, &a.signature);
    }
    batch.verify().map_err(|_| ApprovalError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::GovernanceRecord;

    fn council() -> (Vec<Keypair>, GovernanceRecord) {
        let keys: Vec<_> = (1..=3u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
        let mut publics: Vec<_> = keys.iter().map(Keypair::public).collect();
        publics.sort();
        let record = GovernanceRecord {
            keys: ShortVec::new(publics).unwrap(),
            threshold: 2,
            next_nonce: Nonce(4),
        };
        (keys, record)
    }

    #[test]
    fn threshold_nonce_membership_and_signatures_are_enforced() {
        let chain: ChainId = "c".parse().unwrap();
        let (keys, record) = council();
        let proposal = GovernanceProposal {
            nonce: Nonce(4),
            action: GovernanceAction::RemoveIssuer {
                issuer: "moea".parse().unwrap(),
            },
        };
        let one = [proposal.approve(&chain, &keys[0])];
        assert_eq!(
            check_approvals(&chain, &record, &proposal, &one),
            Err(ApprovalError::BelowThreshold {
                got: 1,
                threshold: 2
            })
        );
        let two = [
            proposal.approve(&chain, &keys[0]),
            proposal.approve(&chain, &keys[2]),
        ];
        assert_eq!(check_approvals(&chain, &record, &proposal, &two), Ok(()));
        let twice = [
            proposal.approve(&chain, &keys[0]),
            proposal.approve(&chain, &keys[0]),
        ];
        assert!(matches!(
            check_approvals(&chain, &record, &proposal, &twice),
            Err(ApprovalError::Duplicate(_))
        ));
        let outsider = Keypair::from_seed(&[9; 32]);
        let foreign = [
            proposal.approve(&chain, &keys[0]),
            proposal.approve(&chain, &outsider),
        ];
        assert!(matches!(
            check_approvals(&chain, &record, &proposal, &foreign),
            Err(ApprovalError::NotCouncil(_))
        ));
        // Approvals made for another chain do not count here.
        let other: ChainId = "d".parse().unwrap();
        let replayed = [
            proposal.approve(&other, &keys[0]),
            proposal.approve(&other, &keys[1]),
        ];
        assert_eq!(
            check_approvals(&chain, &record, &proposal, &replayed),
            Err(ApprovalError::BadSignature)
        );
        // A used nonce cannot be replayed.
        let stale = GovernanceProposal {
            nonce: Nonce(3),
            ..proposal.clone()
        };
        let signed = [
            stale.approve(&chain, &keys[0]),
            stale.approve(&chain, &keys[1]),
        ];
        assert!(matches!(
            check_approvals(&chain, &record, &stale, &signed),
            Err(ApprovalError::WrongNonce { .. })
        ));
    }

    #[test]
    fn transaction_ids_differ_with_any_field() {
        let chain: ChainId = "c".parse().unwrap();
        let key = Keypair::from_seed(&[5; 32]);
        let body = |n| IssuerTx {
            issuer: "moj".parse().unwrap(),
            key_id: "moj-1".parse().unwrap(),
            nonce: Nonce(n),
            action: IssuerAction::Reinstate {
                id: CredentialId([1; 16]),
            },
        };
        let a = Transaction::Issuer(Signed::sign(&chain, body(1), &key));
        let b = Transaction::Issuer(Signed::sign(&chain, body(2), &key));
        assert_ne!(a.id(), b.id());
        let (m, sig) = a.signing_message(&chain).unwrap();
        assert!(
            key.public()
                .verify_zip215(Domain::SignTransaction, &m, &sig)
                .is_ok()
        );
        let bytes = crate::encoding::encode(&a);
        assert_eq!(
            crate::encoding::decode::<Transaction>(&bytes, MAX_TX_BYTES).unwrap(),
            a
        );
    }
}
