//! A verifier's trusted view of the issuer registry: issuers, their keys and the kinds.
//!
//! It starts from genesis and is extended only with records the caller has checked against a
//! verified state root, so `verify` can look keys up without trusting any node.

use std::collections::BTreeMap;

use crate::ids::{IssuerId, KeyId, KindId};
use crate::sig::{PreparedKey, SignatureError};
use crate::state::{IssuerKeyRecord, IssuerRecord, KindDef};

/// An issuer key with its point decompressed once.
#[derive(Clone, Debug)]
pub struct RegisteredKey {
    /// The key's record.
    pub record: IssuerKeyRecord,
    /// The decompressed key.
    pub prepared: PreparedKey,
}

/// The issuer registry as a verifier trusts it.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    issuers: BTreeMap<IssuerId, IssuerRecord>,
    keys: BTreeMap<(IssuerId, KeyId), RegisteredKey>,
    kinds: BTreeMap<KindId, KindDef>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an issuer.
    pub fn put_issuer(&mut self, record: IssuerRecord) {
        self.issuers.insert(record.id.clone(), record);
    }

    /// Adds or replaces an issuer key; a key that is not a valid point is refused.
    pub fn put_key(&mut self, record: IssuerKeyRecord) -> Result<(), SignatureError> {
        let prepared = record.public_key.prepare()?;
        self.keys.insert(
            (record.issuer.clone(), record.key_id.clone()),
            RegisteredKey { record, prepared },
        );
        Ok(())
    }

    /// Adds or replaces a kind.
    pub fn put_kind(&mut self, kind: KindDef) {
        self.kinds.insert(kind.id.clone(), kind);
    }

    /// An issuer by id.
    pub fn issuer(&self, id: &IssuerId) -> Option<&IssuerRecord> {
        self.issuers.get(id)
    }

    /// An issuer key by issuer and key id.
    pub fn key(&self, issuer: &IssuerId, key_id: &KeyId) -> Option<&RegisteredKey> {
        self.keys.get(&(issuer.clone(), key_id.clone()))
    }

    /// A kind by id.
    pub fn kind(&self, id: &KindId) -> Option<&KindDef> {
        self.kinds.get(id)
    }

    /// Every issuer.
    pub fn issuers(&self) -> impl Iterator<Item = &IssuerRecord> {
        self.issuers.values()
    }

    /// Every key of every issuer.
    pub fn keys(&self) -> impl Iterator<Item = &IssuerKeyRecord> {
        self.keys.values().map(|k| &k.record)
    }
}
