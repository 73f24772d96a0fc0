//! The trust a verifier starts from: the chain, its validator sets by height, the issuer
//! registry and the headers its light client has already verified.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::block::{Header, ValidatorSet};
use crate::genesis::{Genesis, GenesisError};
use crate::hash::Digest;
use crate::ids::{ChainId, Height};
use crate::registry::Registry;

/// What `verify` trusts. Built from genesis; extended only with verified facts.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    chain_id: ChainId,
    genesis_hash: Digest,
    /// The set in force from each height on, until the next entry.
    validator_sets: BTreeMap<Height, ValidatorSet>,
    registry: Registry,
    /// Headers the light client verified, kept whole: comparing ~200 bytes is cheaper than
    /// hashing them on every verification.
    verified: HashMap<Height, Header>,
    /// State entries whose proofs the caller checked under a verified state root:
    /// `(state root, state key hash, value hash)`. A verifier that reuses status evidence need
    /// not hash the same proof again on every scan.
    proven: HashSet<(Digest, Digest, Digest)>,
}

/// Most proven entries kept; beyond it the set is emptied and refilled as proofs are checked.
const MAX_PROVEN: usize = 200_000;

impl TrustAnchor {
    /// The anchor of a sound genesis document.
    pub fn from_genesis(genesis: &Genesis) -> Result<TrustAnchor, GenesisError> {
        let problems = genesis.problems();
        if !problems.is_empty() {
            return Err(GenesisError::Invalid(problems));
        }
        let set = ValidatorSet::new(genesis.validators.to_vec())
            .map_err(|e| GenesisError::Invalid(vec![e.to_string()]))?;
        let mut registry = Registry::new();
        for k in genesis.kinds.iter() {
            registry.put_kind(k.clone());
        }
        for i in genesis.issuers.iter() {
            registry.put_issuer(i.clone());
        }
        for k in genesis.issuer_keys.iter() {
            registry.put_key(k.clone()).map_err(|e| {
                GenesisError::Invalid(vec![format!("issuer key {}: {e}", k.key_id)])
            })?;
        }
        Ok(TrustAnchor {
            chain_id: genesis.chain_id.clone(),
            genesis_hash: genesis.hash(),
            validator_sets: BTreeMap::from([(Height(1), set)]),
            registry,
            verified: HashMap::new(),
            proven: HashSet::new(),
        })
    }

    /// The chain.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> Digest {
        self.genesis_hash
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry, to add records proven against a verified state root.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Records the set in force from `height` on (learned by the light client).
    pub fn set_validators_from(&mut self, height: Height, set: ValidatorSet) {
        self.validator_sets.insert(height, set);
    }

    /// Every set the anchor knows, with the height it is in force from.
    pub fn validator_sets(&self) -> impl Iterator<Item = (Height, &ValidatorSet)> {
        self.validator_sets.iter().map(|(h, s)| (*h, s))
    }

    /// The set in force at `height`, as far as the anchor knows (spec/verification.md §3).
    pub fn validators_at(&self, height: Height) -> Option<&ValidatorSet> {
        self.validator_sets
            .range(..=height)
            .next_back()
            .map(|(_, s)| s)
    }

    /// Records a header the caller's light client verified, so `verify` need not check its
    /// commit again.
    pub fn mark_verified(&mut self, header: &Header) {
        self.verified.insert(header.height, header.clone());
    }

    /// Forgets verified headers below `height`, bounding the cache.
    pub fn forget_below(&mut self, height: Height) {
        self.verified.retain(|h, _| *h >= height);
    }

    /// The verified header at `height`, if the anchor still keeps it.
    pub fn verified_at(&self, height: Height) -> Option<&Header> {
        self.verified.get(&height)
    }

    /// Records that `StateProof::verify` accepted `value` at `key` under `root`, the state root
    /// of a header the caller verified, so `verify` need not check that proof again.
    pub fn mark_proven(&mut self, root: Digest, key: Digest, value: Digest) {
        if self.proven.len() >= MAX_PROVEN {
            self.proven.clear();
        }
        self.proven.insert((root, key, value));
    }

    /// Whether that entry was proven under that root.
    pub fn is_proven(&self, root: &Digest, key: &Digest, value: &Digest) -> bool {
        self.proven.contains(&(*root, *key, *value))
    }

    /// Whether this very header was verified.
    pub fn is_verified(&self, header: &Header) -> bool {
        self.verified.get(&header.height) == Some(header)
    }
}
