//! Test support (feature `testkit`): a ledger in miniature that publishes credentials into a
//! real state map and commits headers signed by real validator keys, so tests, benchmarks and
//! spec vectors get genuine presentations without running nodes.
#![allow(clippy::panic)]

use std::collections::HashMap;

use crate::block::{CommitCertificate, HEADER_VERSION, Header, ValidatorSet, VoteSignBytes};
use crate::bounded::{ShortVec, Text};
use crate::credential::{CREDENTIAL_VERSION, Claim, CredentialBody, HeldCredential};
use crate::devnet::{Devnet, DevnetParams, LAWYER_LICENSE};
use crate::hash::{Digest, Domain};
use crate::ids::{ClaimKey, CredentialId, Height, Round, Timestamp};
use crate::presentation::{CompactPresentation, Presentation, StatusEvidence};
use crate::smt::{self, MemStore};
use crate::state::{CredentialRecord, CredentialStatus, StateKey, StateValue};
use crate::verify::TrustAnchor;

/// A miniature ledger.
pub struct World {
    /// The devnet behind it.
    pub devnet: Devnet,
    /// The validator set.
    pub set: ValidatorSet,
    /// State nodes.
    pub store: MemStore,
    /// Current state root.
    pub root: Digest,
    /// Last committed header and its commit.
    pub last: Option<(Header, CommitCertificate)>,
    records: HashMap<Digest, CredentialRecord>,
    pending: Vec<(Digest, Digest)>,
}

/// A typical lawyer license's claims (Traditional Chinese values, as the Ministry would write them).
pub fn lawyer_claims(n: u32) -> Vec<(&'static str, String)> {
    vec![
        ("name", "王小明".to_string()),
        ("license_no", format!("(113)台檢證字第{:05}號", n % 100_000)),
        ("bar", "台北律師公會".to_string()),
        ("admitted", "2024-09-01".to_string()),
    ]
}

fn to_claims(pairs: &[(&str, String)]) -> ShortVec<Claim, 32> {
    let claims = pairs
        .iter()
        .filter_map(|(k, v)| {
            Some(Claim {
                key: ClaimKey::new(*k).ok()?,
                value: Text::new(v.clone()).ok()?,
            })
        })
        .collect();
    ShortVec::new(claims).unwrap_or_default()
}

impl World {
    /// A world on the devnet of `seed` with `validators` validators.
    pub fn new(seed: u8, validators: usize) -> World {
        let params = DevnetParams {
            validators,
            ..DevnetParams::default()
        };
        World::with_devnet(
            Devnet::build(&[seed; 32], &params).unwrap_or_else(|e| panic!("devnet: {e}")),
        )
    }

    /// A world on a given devnet (e.g. the one `credledger-genesis init --seed` wrote).
    pub fn with_devnet(devnet: Devnet) -> World {
        let set = ValidatorSet::new(devnet.genesis.validators.to_vec())
            .unwrap_or_else(|e| panic!("set: {e}"));
        let (root, store) = devnet
            .genesis
            .initial_state()
            .unwrap_or_else(|e| panic!("state: {e}"));
        World {
            devnet,
            set,
            store,
            root,
            last: None,
            records: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// The trust anchor of the world's genesis.
    pub fn anchor(&self) -> TrustAnchor {
        TrustAnchor::from_genesis(&self.devnet.genesis).unwrap_or_else(|e| panic!("anchor: {e}"))
    }

    /// Issues lawyer license number `n` with the Ministry of Justice's key.
    pub fn lawyer_license(&self, n: u32, valid_until: Option<Timestamp>) -> HeldCredential {
        self.issue(
            "moj",
            "moj-2026-01",
            LAWYER_LICENSE,
            n,
            &lawyer_claims(n),
            valid_until,
        )
    }

    /// Issues a credential of any kind with the given claims.
    pub fn issue(
        &self,
        issuer: &str,
        key_id: &str,
        kind: &str,
        n: u32,
        claims: &[(&str, String)],
        valid_until: Option<Timestamp>,
    ) -> HeldCredential {
        let g = &self.devnet.genesis;
        let mut id = [0u8; 16];
        id.copy_from_slice(
            &Domain::DevnetDerive
                .hash(&[issuer.as_bytes(), &n.to_le_bytes()])
                .0[..16],
        );
        let mut seed = [0u8; 16];
        seed.copy_from_slice(&Domain::DevnetDerive.hash(&[b"salt", &id]).0[..16]);
        let body = CredentialBody {
            version: CREDENTIAL_VERSION,
            issuer: issuer.parse().unwrap_or_else(|e| panic!("{e}")),
            key_id: key_id.parse().unwrap_or_else(|e| panic!("{e}")),
            kind: kind.parse().unwrap_or_else(|e| panic!("{e}")),
            id: CredentialId(id),
            valid_from: g.genesis_time,
            valid_until,
            claims_root: Digest::ZERO,
        };
        let key = self
            .devnet
            .issuer_key(issuer, key_id)
            .unwrap_or_else(|| panic!("no key {issuer}/{key_id}"));
        HeldCredential::issue(&g.chain_id, body, seed, to_claims(claims), key)
    }

    /// Records a credential as published at `time` (applied at the next commit).
    pub fn publish(&mut self, c: &HeldCredential, time: Timestamp) {
        let next = Height(self.last.as_ref().map_or(1, |(h, _)| h.height.0 + 1));
        let record = CredentialRecord {
            digest: c.body.digest(&self.devnet.genesis.chain_id),
            status: CredentialStatus::Active,
            published_at: time,
            published_height: next,
            changed_at: time,
        };
        self.put(c, record);
    }

    /// Changes a published credential's status at `time`.
    pub fn set_status(&mut self, c: &HeldCredential, status: CredentialStatus, time: Timestamp) {
        let key = StateKey::Credential(c.body.issuer.clone(), c.body.id).hash();
        let mut record = self
            .records
            .get(&key)
            .cloned()
            .unwrap_or_else(|| panic!("not published"));
        record.status = status;
        record.changed_at = time;
        self.put(c, record);
    }

    fn put(&mut self, c: &HeldCredential, record: CredentialRecord) {
        let key = StateKey::Credential(c.body.issuer.clone(), c.body.id).hash();
        self.pending
            .push((key, StateValue::Credential(record.clone()).hash()));
        self.records.insert(key, record);
    }

    /// Adds `n` unrelated credential records, to give the state map a realistic size.
    pub fn add_filler(&mut self, n: u32) {
        let record = CredentialRecord {
            digest: Digest::ZERO,
            status: CredentialStatus::Active,
            published_at: Timestamp(0),
            published_height: Height(1),
            changed_at: Timestamp(0),
        };
        let value = StateValue::Credential(record).hash();
        let entries: Vec<_> = (0..n)
            .map(|i| {
                (
                    Domain::DevnetDerive.hash(&[b"filler", &i.to_le_bytes()]),
                    value,
                )
            })
            .collect();
        let (root, nodes) =
            smt::update(&self.store, self.root, &entries).unwrap_or_else(|e| panic!("{e}"));
        self.store.extend(nodes);
        self.root = root;
    }

    /// Applies pending changes and commits a header at `time`, signed by all but the fewest
    /// validators a commit can spare (the smallest certificate: just over 2/3 of the power).
    pub fn commit(&mut self, time: Timestamp) -> (Header, CommitCertificate) {
        let pending = std::mem::take(&mut self.pending);
        let (root, nodes) =
            smt::update(&self.store, self.root, &pending).unwrap_or_else(|e| panic!("{e}"));
        self.store.extend(nodes);
        self.root = root;
        let g = &self.devnet.genesis;
        let (height, previous) = match &self.last {
            Some((h, _)) => (Height(h.height.0 + 1), h.hash()),
            None => (Height(1), g.hash()),
        };
        let header = Header {
            version: HEADER_VERSION,
            chain_id: g.chain_id.clone(),
            height,
            time,
            previous,
            transactions_root: crate::merkle::empty_root(),
            state_root: root,
            validators_hash: self.set.hash(),
            next_validators_hash: self.set.hash(),
            proposer: 0,
        };
        let vote = VoteSignBytes {
            chain_id: g.chain_id.clone(),
            kind: crate::block::VoteKind::Precommit,
            height,
            round: Round(0),
            block: Some(header.hash()),
        };
        let n = self.set.validators().len();
        let needed = n * 2 / 3 + 1;
        let mut sigs = Vec::new();
        for (i, v) in self.set.validators().iter().enumerate().take(needed) {
            let key = self
                .devnet
                .validator_keys
                .iter()
                .find(|(_, k)| k.public() == v.public_key)
                .map(|(_, k)| k);
            if let Some(k) = key {
                sigs.push((i, vote.sign(k)));
            }
        }
        let commit = CommitCertificate::from_signatures(Round(0), n, sigs);
        self.last = Some((header.clone(), commit.clone()));
        (header, commit)
    }

    /// Status evidence for a credential under the last commit.
    pub fn evidence(&self, c: &HeldCredential) -> StatusEvidence {
        let key = StateKey::Credential(c.body.issuer.clone(), c.body.id).hash();
        let (header, commit) = self
            .last
            .clone()
            .unwrap_or_else(|| panic!("nothing committed"));
        let (_, proof) =
            smt::prove(&self.store, header.state_root, &key).unwrap_or_else(|e| panic!("{e}"));
        let record = self
            .records
            .get(&key)
            .cloned()
            .unwrap_or_else(|| panic!("not published"));
        StatusEvidence {
            record,
            proof,
            header,
            commit,
        }
    }

    /// The compact presentation of a credential, disclosing `reveal` (all claims when `None`).
    pub fn compact(c: &HeldCredential, reveal: Option<&[&str]>) -> Presentation {
        Presentation::Compact(CompactPresentation {
            body: c.body.clone(),
            signature: c.signature,
            disclosure: c.disclose(reveal),
        })
    }

    /// The full presentation of a credential under the last commit.
    pub fn full(&self, c: &HeldCredential, reveal: Option<&[&str]>) -> Presentation {
        let compact = CompactPresentation {
            body: c.body.clone(),
            signature: c.signature,
            disclosure: c.disclose(reveal),
        };
        Presentation::Full {
            compact,
            evidence: self.evidence(c),
        }
    }
}
