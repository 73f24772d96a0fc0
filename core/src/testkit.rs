//! Test support (feature `testkit`): a ledger in miniature that publishes credentials into a
//! real state map and commits headers signed by real validator keys, so tests, benchmarks and
//! spec vectors get genuine presentations without running nodes.
#![allow(clippy::panic)]

use std::collections::HashMap;

use crate::block::{
    AnchorEntry, CommitCertificate, HEADER_VERSION, Header, ValidatorSet, VoteSignBytes,
    anchors_root, transactions_root,
};
use crate::bounded::{BoundedVec, ShortVec, Text};
use crate::credential::{CREDENTIAL_VERSION, Claim, CredentialBody, HeldCredential};
use crate::devnet::{Devnet, DevnetParams, LAWYER_LICENSE};
use crate::exec::{BlockEnv, MemState, execute_block};
use crate::hash::{Digest, Domain};
use crate::ids::{ClaimKey, CredentialId, Height, LogSourceId, Nonce, Round, Timestamp};
use crate::merkle::{CompactTree, consistency_from_frontier, inclusion_proof, leaf_hash};
use crate::presentation::{CompactPresentation, Presentation, StatusEvidence};
use crate::state::{CredentialRecord, CredentialStatus, StateKey, StateValue};
use crate::tx::{
    AnchorTx, GovernanceAction, GovernanceProposal, IssuerAction, IssuerTx, Signed, SignedBody,
    Transaction,
};
use crate::verify::{AnchorEvidence, StateAnswer, TrustAnchor};

/// A miniature ledger: transactions go through the real state transition function
/// ([`crate::exec`]) and headers are signed by the devnet's validator keys.
pub struct World {
    /// The devnet behind it.
    pub devnet: Devnet,
    /// The validator set.
    pub set: ValidatorSet,
    /// The ledger state.
    pub state: MemState,
    /// Last committed header and its commit.
    pub last: Option<(Header, CommitCertificate)>,
    pending: Vec<Transaction>,
    nonces: HashMap<String, u64>,
    /// Each log source's last anchored frontier.
    frontiers: HashMap<String, CompactTree>,
    /// The anchors each block accepted, with its header and commit, by height.
    anchored: HashMap<u64, (Vec<AnchorEntry>, Header, CommitCertificate)>,
}

/// A governance transaction for `action` with the council's `nonce`, approved by the devnet's
/// first `approvers` council members.
pub fn governance_tx(
    devnet: &Devnet,
    nonce: u64,
    action: GovernanceAction,
    approvers: usize,
) -> Transaction {
    let proposal = GovernanceProposal {
        nonce: Nonce(nonce),
        action,
    };
    let approvals = devnet.governance_keys[..approvers]
        .iter()
        .map(|(_, k)| proposal.approve(&devnet.genesis.chain_id, k))
        .collect();
    Transaction::Governance {
        proposal,
        approvals: ShortVec::new(approvals).unwrap_or_else(|e| panic!("{e}")),
    }
}

/// A transaction publishing `creds` by `issuer` with its key `key_id` and nonce `nonce`.
pub fn publish_tx(
    devnet: &Devnet,
    issuer: &str,
    key_id: &str,
    nonce: u64,
    creds: &[&HeldCredential],
) -> Transaction {
    let credentials = creds
        .iter()
        .map(|c| SignedBody {
            body: c.body.clone(),
            signature: c.signature,
        })
        .collect();
    let body = IssuerTx {
        issuer: issuer.parse().unwrap_or_else(|e| panic!("{e}")),
        key_id: key_id.parse().unwrap_or_else(|e| panic!("{e}")),
        nonce: Nonce(nonce),
        action: IssuerAction::Publish {
            credentials: BoundedVec::new(credentials).unwrap_or_else(|e| panic!("{e}")),
        },
    };
    let key = devnet
        .issuer_key(issuer, key_id)
        .unwrap_or_else(|| panic!("no key {issuer}/{key_id}"));
    Transaction::Issuer(Signed::sign(&devnet.genesis.chain_id, body, key))
}

/// A commit certificate for `header`, signed in round 0 by the first `signers` validators of
/// `set` whose keys the devnet holds.
pub fn sign_commit(
    devnet: &Devnet,
    set: &ValidatorSet,
    header: &Header,
    signers: usize,
) -> CommitCertificate {
    let vote = VoteSignBytes {
        chain_id: header.chain_id.clone(),
        kind: crate::block::VoteKind::Precommit,
        height: header.height,
        round: Round(0),
        block: Some(header.hash()),
    };
    let mut sigs = Vec::new();
    for (i, v) in set.validators().iter().enumerate().take(signers) {
        if let Some((_, k)) = devnet
            .validator_keys
            .iter()
            .find(|(_, k)| k.public() == v.public_key)
        {
            sigs.push((i, vote.sign(k)));
        }
    }
    CommitCertificate::from_signatures(Round(0), set.validators().len(), sigs)
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
        let state =
            MemState::from_genesis(&devnet.genesis).unwrap_or_else(|e| panic!("state: {e}"));
        World {
            devnet,
            set,
            state,
            last: None,
            pending: Vec::new(),
            nonces: HashMap::new(),
            frontiers: HashMap::new(),
            anchored: HashMap::new(),
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

    fn issuer_tx(&mut self, c: &HeldCredential, action: IssuerAction) {
        let issuer = c.body.issuer.to_string();
        let nonce = self.nonces.entry(issuer.clone()).or_insert(0);
        let body = IssuerTx {
            issuer: c.body.issuer.clone(),
            key_id: c.body.key_id.clone(),
            nonce: Nonce(*nonce),
            action,
        };
        *nonce += 1;
        let key = self
            .devnet
            .issuer_key(&issuer, c.body.key_id.as_str())
            .unwrap_or_else(|| panic!("no key"));
        self.pending.push(Transaction::Issuer(Signed::sign(
            &self.devnet.genesis.chain_id,
            body,
            key,
        )));
    }

    /// Publishes a credential in the next block.
    pub fn publish(&mut self, c: &HeldCredential) {
        let credentials = BoundedVec::new(vec![SignedBody {
            body: c.body.clone(),
            signature: c.signature,
        }]);
        self.issuer_tx(
            c,
            IssuerAction::Publish {
                credentials: credentials.unwrap_or_default(),
            },
        );
    }

    /// Moves a published credential to `status` in the next block.
    pub fn set_status(&mut self, c: &HeldCredential, status: CredentialStatus) {
        let id = c.body.id;
        let action = match status {
            CredentialStatus::Active => IssuerAction::Reinstate { id },
            CredentialStatus::Suspended { reason } => IssuerAction::Suspend { id, reason },
            CredentialStatus::Revoked { reason } => IssuerAction::Revoke { id, reason },
        };
        self.issuer_tx(c, action);
    }

    /// Writes an active record for a credential directly, bypassing the ledger's rules: a
    /// state an honest ledger would refuse (e.g. a kind the issuer may not issue), for vectors
    /// that check verifiers refuse it too.
    pub fn force_publish(&mut self, c: &HeldCredential, published_at: Timestamp) {
        let record = CredentialRecord::published(
            c.body.digest(&self.devnet.genesis.chain_id),
            Height(self.last.as_ref().map_or(1, |(h, _)| h.height.0 + 1)),
            published_at,
        );
        let key = StateKey::Credential(c.body.issuer.clone(), c.body.id);
        self.state
            .write(&[(key, StateValue::Credential(record))])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Writes any state entry directly, bypassing the ledger's rules (e.g. an issuer the
    /// council registered, without the governance transaction), for tests of readers.
    pub fn force_entry(&mut self, key: StateKey, value: StateValue) {
        self.state
            .write(&[(key, value)])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Adds `n` unrelated entries to the state map, to give it a realistic size.
    pub fn add_filler(&mut self, n: u32) {
        let value = Domain::DevnetDerive.hash(&[b"filler-value"]);
        let entries: Vec<_> = (0..n)
            .map(|i| {
                (
                    Domain::DevnetDerive.hash(&[b"filler", &i.to_le_bytes()]),
                    value,
                )
            })
            .collect();
        self.state
            .write_raw(&entries)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Executes the pending transactions in a block at `time` (each must be accepted) and
    /// commits its header, signed by just over 2/3 of the voting power (the smallest
    /// certificate).
    pub fn commit(&mut self, time: Timestamp) -> (Header, CommitCertificate) {
        let txs = std::mem::take(&mut self.pending);
        let g = &self.devnet.genesis;
        let (height, previous) = match &self.last {
            Some((h, _)) => (Height(h.height.0 + 1), h.hash()),
            None => (Height(1), g.hash()),
        };
        let env = BlockEnv {
            chain_id: g.chain_id.clone(),
            height,
            time,
        };
        let outcome = execute_block(&self.state, &env, &txs).unwrap_or_else(|e| panic!("{e}"));
        for r in &outcome.receipts {
            if let Err(e) = &r.result {
                panic!("the ledger refused a transaction: {e}");
            }
        }
        let root = self.state.apply(&outcome).unwrap_or_else(|e| panic!("{e}"));
        let anchors = outcome.anchors();
        let header = Header {
            version: HEADER_VERSION,
            chain_id: g.chain_id.clone(),
            height,
            time,
            previous,
            transactions_root: transactions_root(&txs),
            state_root: root,
            anchors_root: anchors_root(&anchors),
            validators_hash: self.set.hash(),
            next_validators_hash: self.set.hash(),
            proposer: 0,
        };
        let commit = sign_commit(
            &self.devnet,
            &self.set,
            &header,
            self.set.validators().len() * 2 / 3 + 1,
        );
        self.last = Some((header.clone(), commit.clone()));
        if !anchors.is_empty() {
            self.anchored
                .insert(height.0, (anchors, header.clone(), commit.clone()));
        }
        (header, commit)
    }

    /// Anchors the head of `tree` for the devnet log source `source` in the next block,
    /// linked to the source's last anchor with a consistency proof from `appended`, the leaves
    /// since that anchor (the leaves of the whole tree for the first anchor).
    pub fn anchor_log(&mut self, source: &str, tree: &CompactTree, appended: &[Digest]) {
        let id: LogSourceId = source.parse().unwrap_or_else(|e| panic!("{e}"));
        let (value, _) = self
            .state
            .prove(&StateKey::LogSource(id.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        let Some(StateValue::LogSource(last)) = value else {
            panic!("no log source {source}")
        };
        let consistency = if last.last_size == 0 {
            Vec::new()
        } else {
            // The caller's tree extends the frontier of this source's last anchor.
            let old = self.frontiers.get(source).cloned().unwrap_or_default();
            consistency_from_frontier(&old, appended).unwrap_or_else(|e| panic!("{e}"))
        };
        let key = self
            .devnet
            .log_source_keys
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, k)| k)
            .unwrap_or_else(|| panic!("no key for {source}"));
        let tx = Transaction::Anchor(Signed::sign(
            &self.devnet.genesis.chain_id,
            AnchorTx {
                source: id,
                sequence: last.last_sequence + 1,
                tree_size: tree.size(),
                root: tree.root(),
                previous_root: last.last_root,
                consistency: BoundedVec::new(consistency).unwrap_or_default(),
                log_time: Timestamp(0),
            },
            key,
        ));
        self.pending.push(tx);
        self.frontiers.insert(source.to_string(), tree.clone());
    }

    /// The transactions queued for the next commit, taken out: to submit them to a real node
    /// instead.
    pub fn take_pending(&mut self) -> Vec<Transaction> {
        std::mem::take(&mut self.pending)
    }

    /// Evidence of anchor `sequence` of `source`: its place in its block's anchors tree.
    pub fn anchor_evidence(&self, source: &str, sequence: u64) -> AnchorEvidence {
        let id: LogSourceId = source.parse().unwrap_or_else(|e| panic!("{e}"));
        let (value, _) = self
            .state
            .prove(&StateKey::LogAnchor(id.clone(), sequence))
            .unwrap_or_else(|e| panic!("{e}"));
        let Some(StateValue::LogAnchor(record)) = value else {
            panic!("no anchor {sequence} of {source}")
        };
        let (entries, header, commit) = self
            .anchored
            .get(&record.height.0)
            .unwrap_or_else(|| panic!("no anchors at height {}", record.height));
        let position = entries
            .iter()
            .position(|e| e.source == id && e.sequence == sequence)
            .unwrap_or_else(|| panic!("anchor {sequence} not in its block"));
        let leaves: Vec<Digest> = entries.iter().map(|e| leaf_hash(&e.digest().0)).collect();
        let path = inclusion_proof(&leaves, position as u64).unwrap_or_else(|e| panic!("{e}"));
        AnchorEvidence {
            source: id,
            sequence,
            record,
            position: position as u32,
            anchors: entries.len() as u32,
            path: BoundedVec::new(path).unwrap_or_else(|e| panic!("{e}")),
            header: header.clone(),
            commit: commit.clone(),
        }
    }

    /// A node's answer for any state entry (present or proven absent) under the last commit.
    pub fn state_answer(&self, key: &StateKey) -> StateAnswer {
        let (header, commit) = self
            .last
            .clone()
            .unwrap_or_else(|| panic!("nothing committed"));
        let (value, proof) = self.state.prove(key).unwrap_or_else(|e| panic!("{e}"));
        StateAnswer {
            value,
            proof,
            header,
            commit,
        }
    }

    /// Status evidence for a credential under the last commit.
    pub fn evidence(&self, c: &HeldCredential) -> StatusEvidence {
        let key = StateKey::Credential(c.body.issuer.clone(), c.body.id);
        let (header, commit) = self
            .last
            .clone()
            .unwrap_or_else(|| panic!("nothing committed"));
        assert_eq!(
            header.state_root,
            self.state.root(),
            "evidence is served for the last commit only"
        );
        let (value, proof) = self.state.prove(&key).unwrap_or_else(|e| panic!("{e}"));
        let Some(StateValue::Credential(record)) = value else {
            panic!("not published")
        };
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
        full_with(c, reveal, self.evidence(c))
    }
}

/// A full presentation of `c` with status evidence from elsewhere (e.g. a node's API).
pub fn full_with(
    c: &HeldCredential,
    reveal: Option<&[&str]>,
    evidence: StatusEvidence,
) -> Presentation {
    Presentation::Full {
        compact: CompactPresentation {
            body: c.body.clone(),
            signature: c.signature,
            disclosure: c.disclose(reveal),
        },
        evidence,
    }
}
