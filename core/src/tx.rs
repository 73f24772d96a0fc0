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

    /// Queues every signature of the transaction whose key it names itself (the approvals of a
    /// governance action) into `batch`. Issuer and anchor signatures need the signer's key from
    /// state and are queued by the caller with [`Transaction::signing_message`].
    pub fn queue_approvals(&self, chain: &ChainId, batch: &mut BatchVerifier) {
        if let Transaction::Governance {
            proposal,
            approvals,
        } = self
        {
            let m = proposal.signing_message(chain);
            for a in approvals.iter() {
                batch.queue(&a.key, Domain::SignGovernance, &m, &a.signature);
            }
        }
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
