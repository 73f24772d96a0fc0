//! What the ledger's state map holds: its keys and typed values (spec/state.md §5).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::block::ValidatorSet;
use crate::bounded::{ShortVec, Text};
use crate::encoding::encode;
use crate::hash::{Digest, Domain};
use crate::history::CredentialEvent;
use crate::ids::{CredentialId, Height, IssuerId, KeyId, KindId, LogSourceId, Nonce, Timestamp};
use crate::sig::PublicKey;

/// The key of a state entry; the tree key is [`StateKey::hash`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum StateKey {
    /// A credential's status record.
    Credential(IssuerId, CredentialId),
    /// An issuer's registry record.
    Issuer(IssuerId),
    /// One issuer key.
    IssuerKey(IssuerId, KeyId),
    /// A credential kind's definition.
    Kind(KindId),
    /// A T-Road log source and its latest anchor.
    LogSource(LogSourceId),
    /// One anchored tree head of a log source.
    LogAnchor(LogSourceId, u64),
    /// The next nonce of an issuer.
    IssuerNonce(IssuerId),
    /// The governance keys, threshold and next nonce.
    Governance,
    /// The validator set of the next height.
    Validators,
}

impl StateKey {
    /// The 256-bit tree key: `H_state-key(encode(key))`.
    pub fn hash(&self) -> Digest {
        Domain::StateKey.hash(&[&encode(self)])
    }
}

/// A state entry's value; the tree stores [`StateValue::hash`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum StateValue {
    /// See [`StateKey::Credential`].
    Credential(CredentialRecord),
    /// See [`StateKey::Issuer`].
    Issuer(IssuerRecord),
    /// See [`StateKey::IssuerKey`].
    IssuerKey(IssuerKeyRecord),
    /// See [`StateKey::Kind`].
    Kind(KindDef),
    /// See [`StateKey::LogSource`].
    LogSource(LogSourceRecord),
    /// See [`StateKey::LogAnchor`].
    LogAnchor(AnchorRecord),
    /// See [`StateKey::IssuerNonce`].
    Nonce {
        /// The nonce the issuer's next transaction must carry.
        next: Nonce,
    },
    /// See [`StateKey::Governance`].
    Governance(GovernanceRecord),
    /// See [`StateKey::Validators`].
    Validators {
        /// The set.
        set: ValidatorSet,
    },
}

impl StateValue {
    /// `H_state-value(encode(value))`.
    pub fn hash(&self) -> Digest {
        Domain::StateValue.hash(&[&encode(self)])
    }
}

/// Why a credential was suspended or revoked (spec/credentials.md §5; after RFC 5280 §5.3.1).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ReasonCode {
    /// No reason given.
    Unspecified = 0,
    /// The issuer key that signed it is compromised.
    KeyCompromise = 1,
    /// Replaced by a newer credential.
    Superseded = 2,
    /// Issued by mistake.
    IssuedInError = 3,
    /// Disciplinary action (e.g. a bar association's decision).
    Disciplinary = 4,
    /// The holder gave it up.
    Surrendered = 5,
    /// The holder died or the company was dissolved.
    HolderCeased = 6,
    /// A condition of the credential is no longer met (e.g. fees, renewal).
    ConditionNotMet = 7,
    /// A court or authority ordered it.
    Order = 8,
}

impl ReasonCode {
    /// Every code, in code order.
    pub const ALL: [ReasonCode; 9] = [
        ReasonCode::Unspecified,
        ReasonCode::KeyCompromise,
        ReasonCode::Superseded,
        ReasonCode::IssuedInError,
        ReasonCode::Disciplinary,
        ReasonCode::Surrendered,
        ReasonCode::HolderCeased,
        ReasonCode::ConditionNotMet,
        ReasonCode::Order,
    ];

    /// The code with the name [`Self::as_str`] gives, if any.
    pub fn from_name(name: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The code's name, as JSON and the issuer CLI spell it (`issued-in-error`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Unspecified => "unspecified",
            ReasonCode::KeyCompromise => "key-compromise",
            ReasonCode::Superseded => "superseded",
            ReasonCode::IssuedInError => "issued-in-error",
            ReasonCode::Disciplinary => "disciplinary",
            ReasonCode::Surrendered => "surrendered",
            ReasonCode::HolderCeased => "holder-ceased",
            ReasonCode::ConditionNotMet => "condition-not-met",
            ReasonCode::Order => "order",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status lifecycle: active ⇄ suspended, and either → revoked, which is final.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CredentialStatus {
    /// In force.
    Active,
    /// Temporarily not in force.
    Suspended {
        /// Why.
        reason: ReasonCode,
    },
    /// Permanently withdrawn.
    Revoked {
        /// Why.
        reason: ReasonCode,
    },
}

/// A change an issuer asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusChange {
    /// Active → suspended.
    Suspend(ReasonCode),
    /// Suspended → active.
    Reinstate,
    /// Active or suspended → revoked.
    Revoke(ReasonCode),
}

/// A status change the lifecycle does not allow, naming both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} credential cannot be {change}")]
pub struct TransitionError {
    /// The current status, in words.
    pub from: &'static str,
    /// The change refused, in words.
    pub change: &'static str,
}

impl CredentialStatus {
    /// The status after `change`, following the lifecycle of spec/credentials.md §5:
    /// active ⇄ suspended, either → revoked, and revoked is final.
    pub fn apply(self, change: StatusChange) -> Result<CredentialStatus, TransitionError> {
        use CredentialStatus::*;
        match (self, change) {
            (Active, StatusChange::Suspend(reason)) => Ok(Suspended { reason }),
            (Suspended { .. }, StatusChange::Reinstate) => Ok(Active),
            (Active | Suspended { .. }, StatusChange::Revoke(reason)) => Ok(Revoked { reason }),
            (from, change) => Err(TransitionError {
                from: from.word(),
                change: change.word(),
            }),
        }
    }

    /// The status's one-word name: `active`, `suspended` or `revoked`.
    pub fn word(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::Suspended { .. } => "suspended",
            CredentialStatus::Revoked { .. } => "revoked",
        }
    }
}

impl StatusChange {
    fn word(self) -> &'static str {
        match self {
            StatusChange::Suspend(_) => "suspended",
            StatusChange::Reinstate => "reinstated",
            StatusChange::Revoke(_) => "revoked",
        }
    }
}

/// What the ledger knows of a credential: no claims, only the body digest and the status.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// [`crate::credential::CredentialBody::digest`].
    pub digest: Digest,
    /// Current status.
    pub status: CredentialStatus,
    /// Block time of the block that published it: the time of issuance the key must cover.
    pub published_at: Timestamp,
    /// Height of that block.
    pub published_height: Height,
    /// Block time of the last status change (equal to `published_at` if none).
    pub changed_at: Timestamp,
    /// Digest of its whole history ([`crate::history::CredentialHistory::digest`]), so a
    /// history fetched from any node is checked against this record (spec/state.md §5.1).
    pub history: Digest,
}

impl CredentialRecord {
    /// The record of a credential published with body digest `digest` in block `height` at
    /// `time`: active, its history the publication alone.
    pub fn published(digest: Digest, height: Height, time: Timestamp) -> CredentialRecord {
        let first = CredentialEvent {
            height,
            time,
            status: CredentialStatus::Active,
        };
        CredentialRecord {
            digest,
            status: CredentialStatus::Active,
            published_at: time,
            published_height: height,
            changed_at: time,
            history: first.chain(&Digest::ZERO),
        }
    }

    /// Applies a status change `event` (already allowed by [`CredentialStatus::apply`]): the
    /// status, the time of the last change and the history digest move on.
    pub fn record(&mut self, event: &CredentialEvent) {
        self.status = event.status;
        self.changed_at = event.time;
        self.history = event.chain(&self.history);
    }

    /// `StateValue::Credential(self).hash()` without copying the record: borsh encodes an enum
    /// as its variant index (0 for `Credential`) followed by the payload.
    pub fn state_value_hash(&self) -> Digest {
        Domain::StateValue.hash(&[&[0u8], &encode(self)])
    }
}

/// A ministry in the issuer registry.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IssuerRecord {
    /// Its id.
    pub id: IssuerId,
    /// Its name in Traditional Chinese.
    pub name_zh: Text<128>,
    /// Its name in English.
    pub name_en: Text<128>,
    /// The kinds it may issue, sorted, no duplicates.
    pub kinds: ShortVec<KindId, 16>,
    /// Block time from which it was removed, if it was.
    pub removed_at: Option<Timestamp>,
}

/// One issuer key and the window in which it may sign.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IssuerKeyRecord {
    /// The issuer.
    pub issuer: IssuerId,
    /// The key's id.
    pub key_id: KeyId,
    /// The public key.
    pub public_key: PublicKey,
    /// Credentials published before this time are not covered.
    pub valid_from: Timestamp,
    /// Credentials published at or after this time are not covered (set by a revocation,
    /// possibly in the past, e.g. from the time a key was compromised).
    pub revoked_from: Option<Timestamp>,
}

impl IssuerKeyRecord {
    /// Whether the key covers a credential published at `t`.
    pub fn covers(&self, t: Timestamp) -> bool {
        self.valid_from <= t && self.revoked_from.is_none_or(|r| t < r)
    }
}

/// A credential kind and the claims its schema requires.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct KindDef {
    /// Its id, e.g. `lawyer-license`.
    pub id: KindId,
    /// Its name in Traditional Chinese.
    pub name_zh: Text<128>,
    /// Its name in English.
    pub name_en: Text<128>,
    /// The claims every credential of this kind carries, in order.
    pub claims: ShortVec<ClaimDef, 32>,
}

/// One claim of a kind's schema.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimDef {
    /// The claim key.
    pub key: crate::ids::ClaimKey,
    /// Its label in Traditional Chinese.
    pub label_zh: Text<64>,
    /// Its label in English.
    pub label_en: Text<64>,
    /// What its value must look like; checked before an issuer signs (absent in JSON: text).
    #[serde(default)]
    pub format: crate::claim_format::ClaimFormat,
}

/// A T-Road log source and the head of its anchor chain.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LogSourceRecord {
    /// Its id.
    pub id: LogSourceId,
    /// The agency or security server it belongs to.
    pub name: Text<128>,
    /// The key that signs its anchors.
    pub public_key: PublicKey,
    /// Sequence number of the latest anchor (0 before the first).
    pub last_sequence: u64,
    /// Tree size of the latest anchor.
    pub last_size: u64,
    /// Root of the latest anchor.
    pub last_root: Digest,
    /// Block time from which it was removed, if it was.
    pub removed_at: Option<Timestamp>,
}

/// One anchored tree head.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorRecord {
    /// Number of records in the log.
    pub tree_size: u64,
    /// RFC 6962 root over the record digests.
    pub root: Digest,
    /// Block time of the anchoring block.
    pub anchored_at: Timestamp,
    /// Height of the anchoring block.
    pub height: Height,
}

/// The governance council's keys and threshold.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovernanceRecord {
    /// Council keys, sorted, no duplicates.
    pub keys: ShortVec<PublicKey, 32>,
    /// Approvals needed.
    pub threshold: u8,
    /// The nonce the next governance action must carry.
    pub next_nonce: Nonce,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_code_reads_as_json_spells_it_and_every_code_is_listed() {
        for (i, r) in ReasonCode::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i);
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::Value::String(r.to_string())
            );
            assert_eq!(ReasonCode::from_name(r.as_str()), Some(r));
        }
        assert_eq!(ReasonCode::from_name("IssuedInError"), None);
    }

    #[test]
    fn lifecycle_allows_only_its_transitions() {
        use CredentialStatus::*;
        let r = ReasonCode::Disciplinary;
        assert_eq!(
            Active.apply(StatusChange::Suspend(r)),
            Ok(Suspended { reason: r })
        );
        assert_eq!(
            Suspended { reason: r }.apply(StatusChange::Reinstate),
            Ok(Active)
        );
        assert_eq!(
            Active.apply(StatusChange::Revoke(r)),
            Ok(Revoked { reason: r })
        );
        assert_eq!(
            Suspended { reason: r }.apply(StatusChange::Revoke(r)),
            Ok(Revoked { reason: r })
        );
        let e = Revoked { reason: r }
            .apply(StatusChange::Reinstate)
            .unwrap_err();
        assert_eq!(e.to_string(), "a revoked credential cannot be reinstated");
        assert!(
            Revoked { reason: r }
                .apply(StatusChange::Revoke(r))
                .is_err()
        );
        assert!(Active.apply(StatusChange::Reinstate).is_err());
        assert!(
            Suspended { reason: r }
                .apply(StatusChange::Suspend(r))
                .is_err()
        );
    }

    #[test]
    fn record_hash_shortcut_equals_the_enum_hash() {
        let r = CredentialRecord {
            digest: Digest([3; 32]),
            status: CredentialStatus::Suspended {
                reason: ReasonCode::Order,
            },
            published_at: Timestamp(5),
            published_height: Height(2),
            changed_at: Timestamp(9),
            history: Digest([4; 32]),
        };
        assert_eq!(
            r.state_value_hash(),
            StateValue::Credential(r.clone()).hash()
        );
    }
}
