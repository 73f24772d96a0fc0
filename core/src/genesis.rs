//! The genesis document: the chain's first validators, governance council, issuers, kinds and
//! log sources, its checks and its hash (spec/genesis.md).

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::block::{Validator, ValidatorSet};
use crate::bounded::{BoundedVec, ShortVec};
use crate::encoding::encode;
use crate::hash::{Digest, Domain};
use crate::ids::{ChainId, Nonce, Timestamp};
use crate::sig::PublicKey;
use crate::smt::{self, MemStore};
use crate::state::{
    GovernanceRecord, IssuerKeyRecord, IssuerRecord, KindDef, LogSourceRecord, StateKey, StateValue,
};

/// Version of the genesis format.
pub const GENESIS_VERSION: u8 = 2;
/// At most this many bytes in a genesis file (JSON).
pub const MAX_GENESIS_BYTES: usize = 1 << 20;

/// The genesis document. Its JSON form is what operators read and exchange; its hash is taken
/// over the canonical binary encoding.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// [`GENESIS_VERSION`].
    pub version: u8,
    /// The chain's id.
    pub chain_id: ChainId,
    /// Time of genesis; the first block must be later.
    pub genesis_time: Timestamp,
    /// The validators of height 1.
    pub validators: BoundedVec<Validator, 256>,
    /// The governance council's keys.
    pub governance_keys: ShortVec<PublicKey, 32>,
    /// Approvals a governance action needs.
    pub governance_threshold: u8,
    /// Credential kinds.
    pub kinds: ShortVec<KindDef, 64>,
    /// Issuers.
    pub issuers: ShortVec<IssuerRecord, 64>,
    /// Issuer keys.
    pub issuer_keys: ShortVec<IssuerKeyRecord, 255>,
    /// T-Road log sources.
    pub log_sources: ShortVec<LogSourceRecord, 255>,
}

impl Genesis {
    /// `H_genesis(encode(genesis))`: the previous hash of height 1, and the chain's fingerprint.
    pub fn hash(&self) -> Digest {
        Domain::Genesis.hash(&[&encode(self)])
    }

    /// Parses the JSON form, bounded in size.
    pub fn from_json(bytes: &[u8]) -> Result<Genesis, GenesisError> {
        if bytes.len() > MAX_GENESIS_BYTES {
            return Err(GenesisError::TooLarge {
                len: bytes.len(),
                max: MAX_GENESIS_BYTES,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| GenesisError::Json(e.to_string()))
    }

    /// The JSON form, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Every problem with the document, each named; empty if it is sound.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.version != GENESIS_VERSION {
            p.push(format!(
                "version is {}; this software reads version {GENESIS_VERSION}",
                self.version
            ));
        }
        if let Err(e) = ValidatorSet::new(self.validators.to_vec()) {
            p.push(format!("validators: {e}"));
        }
        for v in self.validators.iter() {
            if v.public_key.prepare().is_err() {
                p.push(format!(
                    "validator {}: public key is not a valid Ed25519 point",
                    v.name
                ));
            }
        }
        if self.validators.len() < 4 {
            p.push(format!(
                "validators: {} validator(s) tolerate no Byzantine fault; use at least 4 (3f+1 with f ≥ 1)",
                self.validators.len()
            ));
        }
        if self
            .validators
            .windows(2)
            .any(|w| w[0].public_key > w[1].public_key)
        {
            p.push(
                "validators: must be listed sorted by public key (the order is part of the hash)"
                    .into(),
            );
        }
        let names: BTreeSet<_> = self.validators.iter().map(|v| &v.name).collect();
        if names.len() != self.validators.len() {
            p.push("validators: a name appears twice".into());
        }
        if self.governance_keys.windows(2).any(|w| w[0] >= w[1]) {
            p.push("governance_keys: must be sorted and distinct".into());
        }
        for k in self.governance_keys.iter() {
            if k.prepare().is_err() {
                p.push(format!("governance key {k}: not a valid Ed25519 point"));
            }
        }
        if self.governance_threshold == 0
            || usize::from(self.governance_threshold) > self.governance_keys.len()
        {
            p.push(format!(
                "governance_threshold is {} but there are {} governance keys; it must be between 1 and the key count",
                self.governance_threshold,
                self.governance_keys.len()
            ));
        }
        let kinds: BTreeSet<_> = self.kinds.iter().map(|k| &k.id).collect();
        if kinds.len() != self.kinds.len() {
            p.push("kinds: a kind id appears twice".into());
        }
        let mut issuers = BTreeSet::new();
        for i in self.issuers.iter() {
            if !issuers.insert(&i.id) {
                p.push(format!("issuer {}: id appears twice", i.id));
            }
            if i.removed_at.is_some() {
                p.push(format!(
                    "issuer {}: removed_at must be empty at genesis",
                    i.id
                ));
            }
            for k in i.kinds.iter() {
                if !kinds.contains(k) {
                    p.push(format!("issuer {}: kind {k} is not defined in kinds", i.id));
                }
            }
            if i.kinds.windows(2).any(|w| w[0] >= w[1]) {
                p.push(format!(
                    "issuer {}: kinds must be sorted and distinct",
                    i.id
                ));
            }
        }
        let mut keys = BTreeSet::new();
        for k in self.issuer_keys.iter() {
            if !issuers.contains(&k.issuer) {
                p.push(format!(
                    "issuer key {}: issuer {} is not defined",
                    k.key_id, k.issuer
                ));
            }
            if !keys.insert((&k.issuer, &k.key_id)) {
                p.push(format!(
                    "issuer key {}/{}: appears twice",
                    k.issuer, k.key_id
                ));
            }
            if k.public_key.prepare().is_err() {
                p.push(format!(
                    "issuer key {}/{}: not a valid Ed25519 point",
                    k.issuer, k.key_id
                ));
            }
        }
        for i in self.issuers.iter() {
            if !self.issuer_keys.iter().any(|k| k.issuer == i.id) {
                p.push(format!(
                    "issuer {}: has no key, so it could never publish",
                    i.id
                ));
            }
        }
        let mut sources = BTreeSet::new();
        for s in self.log_sources.iter() {
            if !sources.insert(&s.id) {
                p.push(format!("log source {}: id appears twice", s.id));
            }
            if s.public_key.prepare().is_err() {
                p.push(format!(
                    "log source {}: public key is not a valid Ed25519 point",
                    s.id
                ));
            }
            if s.removed_at.is_some() {
                p.push(format!(
                    "log source {}: removed_at must be empty at genesis",
                    s.id
                ));
            }
            if s.last_sequence != 0
                || s.last_size != 0
                || s.last_root != crate::merkle::empty_root()
            {
                p.push(format!(
                    "log source {}: must start with no anchor (sequence 0, size 0, empty root)",
                    s.id
                ));
            }
        }
        p
    }

    /// The state entries genesis creates (spec/genesis.md §3).
    pub fn state_entries(&self) -> Vec<(StateKey, StateValue)> {
        let mut e = Vec::new();
        e.push((
            StateKey::Governance,
            StateValue::Governance(GovernanceRecord {
                keys: self.governance_keys.clone(),
                threshold: self.governance_threshold,
                next_nonce: Nonce(0),
            }),
        ));
        if let Ok(set) = ValidatorSet::new(self.validators.to_vec()) {
            e.push((StateKey::Validators, StateValue::Validators { set }));
        }
        for k in self.kinds.iter() {
            e.push((StateKey::Kind(k.id.clone()), StateValue::Kind(k.clone())));
        }
        for i in self.issuers.iter() {
            e.push((
                StateKey::Issuer(i.id.clone()),
                StateValue::Issuer(i.clone()),
            ));
            e.push((
                StateKey::IssuerNonce(i.id.clone()),
                StateValue::Nonce { next: Nonce(0) },
            ));
        }
        for k in self.issuer_keys.iter() {
            e.push((
                StateKey::IssuerKey(k.issuer.clone(), k.key_id.clone()),
                StateValue::IssuerKey(k.clone()),
            ));
        }
        for s in self.log_sources.iter() {
            e.push((
                StateKey::LogSource(s.id.clone()),
                StateValue::LogSource(s.clone()),
            ));
        }
        e
    }

    /// The state root and nodes after genesis.
    pub fn initial_state(&self) -> Result<(Digest, MemStore), smt::SmtError> {
        let entries: Vec<_> = self
            .state_entries()
            .iter()
            .map(|(k, v)| (k.hash(), v.hash()))
            .collect();
        let mut store = MemStore::new();
        let (root, nodes) = smt::update(&store, Digest::ZERO, &entries)?;
        store.extend(nodes);
        Ok((root, store))
    }
}

/// Why a genesis file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The file is larger than [`MAX_GENESIS_BYTES`].
    #[error("genesis file is {len} bytes; at most {max} allowed")]
    TooLarge {
        /// File size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The JSON does not parse into a genesis document.
    #[error("genesis JSON: {0}")]
    Json(String),
    /// The document parses but breaks rules.
    #[error("genesis has {} problem(s): {}", .0.len(), .0.join("; "))]
    Invalid(Vec<String>),
}
