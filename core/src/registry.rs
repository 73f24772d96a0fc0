//! A verifier's trusted view of the issuer registry: issuers, their keys and the kinds.
//!
//! It starts from genesis and is extended only with records the caller has checked against a
//! verified state root, so `verify` can look keys up without trusting any node.

use std::collections::BTreeMap;

use crate::ids::{IssuerId, KeyId, KindId};
use crate::sig::{PreparedKey, SignatureError};
use crate::state::{IssuerKeyRecord, IssuerRecord, KindDef, StateValue};

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

    /// Puts a proven state entry that belongs in the registry (an issuer, an issuer key or a
    /// kind); other entries are left out. Returns whether the registry changed.
    pub fn put_entry(&mut self, value: StateValue) -> Result<bool, SignatureError> {
        Ok(match value {
            StateValue::Issuer(rec) => {
                let new = self.issuer(&rec.id) != Some(&rec);
                self.put_issuer(rec);
                new
            }
            StateValue::IssuerKey(rec) => {
                let new = self.key(&rec.issuer, &rec.key_id).map(|k| &k.record) != Some(&rec);
                self.put_key(rec)?;
                new
            }
            StateValue::Kind(def) => {
                let new = self.kind(&def.id) != Some(&def);
                self.put_kind(def);
                new
            }
            _ => false,
        })
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

#[cfg(test)]
mod tests {
    use crate::ids::{Nonce, Timestamp};
    use crate::state::StateValue;
    use crate::testkit::World;

    #[test]
    fn a_proven_entry_is_put_and_says_whether_it_changed_anything() {
        let anchor = World::new(1, 4).anchor();
        let mut r = anchor.registry().clone();
        let mut key = r.keys().next().unwrap().clone();
        let issuer = r.issuer(&key.issuer).unwrap().clone();
        // What the registry already holds changes nothing.
        assert!(!r.put_entry(StateValue::Issuer(issuer)).unwrap());
        assert!(!r.put_entry(StateValue::IssuerKey(key.clone())).unwrap());
        // A revocation learned since does.
        key.revoked_from = Some(Timestamp(1));
        assert!(r.put_entry(StateValue::IssuerKey(key.clone())).unwrap());
        assert_eq!(r.key(&key.issuer, &key.key_id).unwrap().record, key);
        // Entries that are not the registry's are left out.
        assert!(!r.put_entry(StateValue::Nonce { next: Nonce(3) }).unwrap());
    }
}
