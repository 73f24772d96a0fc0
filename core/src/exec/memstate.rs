//! The ledger state held in memory: values by key and the state map's nodes. Tests and
//! simulations use it; the node keeps the same two things in RocksDB.

use std::collections::HashMap;

use super::{BlockOutcome, StateReader};
use crate::genesis::Genesis;
use crate::hash::Digest;
use crate::smt::{self, MemStore, SmtError, StateProof};
use crate::state::{StateKey, StateValue};

/// State values, state-map nodes and the current root.
#[derive(Clone, Debug, Default)]
pub struct MemState {
    values: HashMap<Digest, StateValue>,
    store: MemStore,
    root: Digest,
}

impl MemState {
    /// The state genesis creates.
    pub fn from_genesis(genesis: &Genesis) -> Result<MemState, SmtError> {
        let mut s = MemState::default();
        let entries = genesis.state_entries();
        s.write(&entries)?;
        Ok(s)
    }

    /// The current state root.
    pub fn root(&self) -> Digest {
        self.root
    }

    /// Applies a block's writes; returns the new root.
    pub fn apply(&mut self, outcome: &BlockOutcome) -> Result<Digest, SmtError> {
        self.write(&outcome.writes)
    }

    /// Writes entries directly (genesis, and test fixtures that need a large state).
    pub fn write(&mut self, entries: &[(StateKey, StateValue)]) -> Result<Digest, SmtError> {
        let tree: Vec<_> = entries.iter().map(|(k, v)| (k.hash(), v.hash())).collect();
        self.write_raw(&tree)?;
        for (k, v) in entries {
            self.values.insert(k.hash(), v.clone());
        }
        Ok(self.root)
    }

    /// Writes tree entries whose values are kept elsewhere (filler for size benchmarks).
    pub fn write_raw(&mut self, tree: &[(Digest, Digest)]) -> Result<Digest, SmtError> {
        let (root, nodes) = smt::update(&self.store, self.root, tree)?;
        self.store.extend(nodes);
        self.root = root;
        Ok(root)
    }

    /// The value under `key` and its proof against the current root. (Nodes of past roots are
    /// kept, but only current values, so past roots are not served here.)
    pub fn prove(&self, key: &StateKey) -> Result<(Option<StateValue>, StateProof), SmtError> {
        let (value_hash, proof) = smt::prove(&self.store, self.root, &key.hash())?;
        Ok((
            value_hash.and_then(|_| self.values.get(&key.hash()).cloned()),
            proof,
        ))
    }
}

impl StateReader for MemState {
    fn read(&self, key: &StateKey) -> Result<Option<StateValue>, super::StateError> {
        Ok(self.values.get(&key.hash()).cloned())
    }
}
