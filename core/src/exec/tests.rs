use super::*;
use crate::bounded::{BoundedVec, ShortVec};
use crate::credential::HeldCredential;
use crate::devnet::{Devnet, DevnetParams};
use crate::ids::{CredentialId, Nonce};
use crate::merkle::{CompactTree, consistency_proof, empty_root, leaf_hash};
use crate::sig::Keypair;
use crate::state::{CredentialStatus, IssuerKeyRecord, ReasonCode};
use crate::testkit::World;
use crate::tx::{
    AnchorTx, GovernanceAction, GovernanceProposal, IssuerAction, IssuerTx, Signed, SignedBody,
};

const T0: u64 = 1_767_225_600_000;

struct Chain {
    devnet: Devnet,
    state: MemState,
    height: u64,
    /// Every credential event applied so far.
    events: Vec<AppliedEvent>,
}

impl Chain {
    fn new() -> Chain {
        let devnet = Devnet::build(&[7; 32], &DevnetParams::default()).unwrap();
        let state = MemState::from_genesis(&devnet.genesis).unwrap();
        Chain {
            devnet,
            state,
            height: 0,
            events: Vec::new(),
        }
    }

    fn block(&mut self, secs: u64, txs: &[Transaction]) -> Vec<Result<(), TxError>> {
        self.height += 1;
        let env = BlockEnv {
            chain_id: self.devnet.genesis.chain_id.clone(),
            height: Height(self.height),
            time: Timestamp(T0 + secs * 1000),
        };
        let out = execute_block(&self.state, &env, txs).unwrap();
        self.state.apply(&out).unwrap();
        self.events.extend(out.events.iter().cloned());
        out.receipts.into_iter().map(|r| r.result).collect()
    }

    fn world(&self) -> World {
        World::with_devnet(Devnet::build(&[7; 32], &DevnetParams::default()).unwrap())
    }

    fn issuer_tx(
        &self,
        issuer: &str,
        key_id: &str,
        nonce: u64,
        action: IssuerAction,
    ) -> Transaction {
        let body = IssuerTx {
            issuer: issuer.parse().unwrap(),
            key_id: key_id.parse().unwrap(),
            nonce: Nonce(nonce),
            action,
        };
        Transaction::Issuer(Signed::sign(
            &self.devnet.genesis.chain_id,
            body,
            self.devnet.issuer_key(issuer, key_id).unwrap(),
        ))
    }

    fn publish(&self, nonce: u64, creds: &[&HeldCredential]) -> Transaction {
        crate::testkit::publish_tx(&self.devnet, "moj", "moj-2026-01", nonce, creds)
    }

    fn governance(&self, nonce: u64, action: GovernanceAction, signers: usize) -> Transaction {
        let proposal = GovernanceProposal {
            nonce: Nonce(nonce),
            action,
        };
        let approvals = self.devnet.governance_keys[..signers]
            .iter()
            .map(|(_, k)| proposal.approve(&self.devnet.genesis.chain_id, k))
            .collect();
        Transaction::Governance {
            proposal,
            approvals: ShortVec::new(approvals).unwrap(),
        }
    }

    fn status(&self, c: &HeldCredential) -> Option<CredentialStatus> {
        match self
            .state
            .read(&StateKey::Credential(c.body.issuer.clone(), c.body.id))
            .unwrap()
        {
            Some(StateValue::Credential(r)) => Some(r.status),
            _ => None,
        }
    }
}

#[test]
fn publish_then_lifecycle_with_nonces() {
    let mut ch = Chain::new();
    let w = ch.world();
    let c = w.lawyer_license(1, None);
    assert_eq!(ch.block(1, &[ch.publish(0, &[&c])]), vec![Ok(())]);
    assert_eq!(ch.status(&c), Some(CredentialStatus::Active));

    // The same transaction again is a replay.
    let replay = ch.block(2, &[ch.publish(0, &[&c])]);
    assert_eq!(
        replay,
        vec![Err(TxError::WrongNonce {
            expected: Nonce(1),
            got: Nonce(0)
        })]
    );

    let id = c.body.id;
    let r = ReasonCode::Disciplinary;
    let txs = [
        ch.issuer_tx(
            "moj",
            "moj-2026-01",
            1,
            IssuerAction::Suspend { id, reason: r },
        ),
        ch.issuer_tx("moj", "moj-2026-01", 2, IssuerAction::Reinstate { id }),
        ch.issuer_tx(
            "moj",
            "moj-2026-01",
            3,
            IssuerAction::Revoke { id, reason: r },
        ),
        ch.issuer_tx("moj", "moj-2026-01", 4, IssuerAction::Reinstate { id }),
        ch.issuer_tx(
            "moj",
            "moj-2026-01",
            5,
            IssuerAction::Revoke { id, reason: r },
        ),
    ];
    let results = ch.block(3, &txs);
    assert_eq!(results[..3], [Ok(()), Ok(()), Ok(())]);
    assert!(
        matches!(&results[3], Err(TxError::Transition { .. })),
        "{results:?}"
    );
    assert_eq!(
        results[3].as_ref().unwrap_err().to_string(),
        format!("credential {id}: a revoked credential cannot be reinstated")
    );
    assert!(matches!(&results[4], Err(TxError::Transition { .. })));
    assert_eq!(ch.status(&c), Some(CredentialStatus::Revoked { reason: r }));
    // Refused actions still spent their nonces: the next one is 6.
    assert_eq!(
        ch.block(
            4,
            &[ch.issuer_tx("moj", "moj-2026-01", 6, IssuerAction::Reinstate { id })]
        )[0]
        .as_ref()
        .unwrap_err()
        .to_string(),
        format!("credential {id}: a revoked credential cannot be reinstated")
    );
}

#[test]
fn every_change_that_took_effect_is_one_event_and_they_fold_to_the_record() {
    let mut ch = Chain::new();
    let w = ch.world();
    let (c, other) = (w.lawyer_license(1, None), w.lawyer_license(2, None));
    ch.block(1, &[ch.publish(0, &[&c, &other])]);
    let id = c.body.id;
    let r = ReasonCode::Disciplinary;
    let tx = |nonce, action| ch.issuer_tx("moj", "moj-2026-01", nonce, action);
    let txs = [
        tx(1, IssuerAction::Suspend { id, reason: r }),
        tx(2, IssuerAction::Reinstate { id }),
        tx(3, IssuerAction::Reinstate { id }),
        tx(4, IssuerAction::Revoke { id, reason: r }),
    ];
    let results = ch.block(2, &txs);
    assert!(
        results[2].is_err(),
        "reinstating an active credential: {results:?}"
    );

    let of = |c: &HeldCredential| crate::history::CredentialHistory {
        events: ch
            .events
            .iter()
            .filter(|e| e.issuer == c.body.issuer && e.id == c.body.id)
            .map(|e| e.event.clone())
            .collect(),
    };
    let history = of(&c);
    let statuses: Vec<_> = history.events.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            CredentialStatus::Active,
            CredentialStatus::Suspended { reason: r },
            CredentialStatus::Active,
            CredentialStatus::Revoked { reason: r },
        ],
        "the refused reinstatement left no event"
    );
    assert_eq!(history.events[0].height, Height(1));
    assert_eq!(history.events[3].time, Timestamp(T0 + 2_000));
    let record = |c: &HeldCredential| match ch
        .state
        .read(&StateKey::Credential(c.body.issuer.clone(), c.body.id))
        .unwrap()
    {
        Some(StateValue::Credential(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(history.check(&record(&c)), Ok(()));
    assert_eq!(of(&other).events.len(), 1);
    assert_eq!(of(&other).check(&record(&other)), Ok(()));
    // One credential's history does not stand for another's.
    assert!(of(&other).check(&record(&c)).is_err());
}

#[test]
fn only_the_issuing_issuer_and_authorized_kinds() {
    let mut ch = Chain::new();
    let w = ch.world();
    let c = w.lawyer_license(2, None);
    ch.block(1, &[ch.publish(0, &[&c])]);
    // The economic ministry cannot revoke the justice ministry's credential.
    let other = ch.issuer_tx(
        "moea",
        "moea-2026-01",
        0,
        IssuerAction::Revoke {
            id: c.body.id,
            reason: ReasonCode::Order,
        },
    );
    assert!(matches!(
        &ch.block(2, &[other])[0],
        Err(TxError::UnknownCredential { .. })
    ));
    assert_eq!(ch.status(&c), Some(CredentialStatus::Active));
    // Nor issue lawyer licenses.
    let wrong = w.issue(
        "moea",
        "moea-2026-01",
        "lawyer-license",
        3,
        &crate::testkit::lawyer_claims(3),
        None,
    );
    let body = SignedBody {
        body: wrong.body.clone(),
        signature: wrong.signature,
    };
    let tx = ch.issuer_tx(
        "moea",
        "moea-2026-01",
        1,
        IssuerAction::Publish {
            credentials: BoundedVec::new(vec![body]).unwrap(),
        },
    );
    assert!(matches!(
        &ch.block(3, &[tx])[0],
        Err(TxError::KindNotAuthorized { .. })
    ));
    // A body of the justice ministry inside the economic ministry's transaction is refused too.
    let c2 = w.lawyer_license(4, None);
    let body = SignedBody {
        body: c2.body.clone(),
        signature: c2.signature,
    };
    let tx = ch.issuer_tx(
        "moea",
        "moea-2026-01",
        2,
        IssuerAction::Publish {
            credentials: BoundedVec::new(vec![body]).unwrap(),
        },
    );
    assert!(matches!(
        &ch.block(4, &[tx])[0],
        Err(TxError::ForeignBody { .. })
    ));
}

#[test]
fn bad_signatures_change_nothing() {
    let mut ch = Chain::new();
    let w = ch.world();
    let c = w.lawyer_license(5, None);
    let root = ch.state.root();
    let mut tx = ch.publish(0, &[&c]);
    if let Transaction::Issuer(s) = &mut tx {
        s.signature.0[0] ^= 1;
    }
    assert_eq!(ch.block(1, &[tx]), vec![Err(TxError::BadSignature)]);
    assert_eq!(
        ch.state.root(),
        root,
        "a refused unauthorized transaction writes nothing"
    );

    // A body whose issuer signature is broken refuses the whole batch; only the nonce moves.
    let good = w.lawyer_license(6, None);
    let mut bad = w.lawyer_license(7, None);
    bad.signature.0[5] ^= 1;
    let results = ch.block(2, &[ch.publish(0, &[&good, &bad])]);
    assert!(matches!(&results[0], Err(TxError::BadCredentialSignature(id)) if *id == bad.body.id));
    assert_eq!(ch.status(&good), None, "a batch is all or nothing");
    assert_eq!(ch.block(3, &[ch.publish(1, &[&good])]), vec![Ok(())]);
    // Ids are unique per issuer, also inside one batch.
    assert!(matches!(
        &ch.block(4, &[ch.publish(2, &[&good])])[0],
        Err(TxError::DuplicateCredential(_))
    ));
}

#[test]
fn governance_threshold_and_key_revocation() {
    let mut ch = Chain::new();
    let w = ch.world();
    let new_key = Keypair::from_seed(&[42; 32]);
    let add = GovernanceAction::AddIssuerKey {
        issuer: "moj".parse().unwrap(),
        key_id: "moj-2026-02".parse().unwrap(),
        public_key: new_key.public(),
        valid_from: Timestamp(T0),
    };
    let below = ch.governance(0, add.clone(), 1);
    assert!(matches!(
        &ch.block(1, &[below])[0],
        Err(TxError::Approval(
            crate::tx::ApprovalError::BelowThreshold { .. }
        ))
    ));
    assert_eq!(
        ch.block(2, &[ch.governance(0, add.clone(), 2)]),
        vec![Ok(())]
    );
    // Adding it again is refused, and that spends governance nonce 1.
    assert!(matches!(
        &ch.block(3, &[ch.governance(1, add, 2)])[0],
        Err(TxError::KeyExists { .. })
    ));

    // Revoke the old key from t = 100 s; a publication at 200 s with it is refused.
    let revoke = GovernanceAction::RevokeIssuerKey {
        issuer: "moj".parse().unwrap(),
        key_id: "moj-2026-01".parse().unwrap(),
        effective: Timestamp(T0 + 100_000),
    };
    assert_eq!(
        ch.block(4, &[ch.governance(2, revoke.clone(), 3)]),
        vec![Ok(())]
    );
    assert!(matches!(
        &ch.block(5, &[ch.governance(3, revoke, 2)])[0],
        Err(TxError::AlreadyRevoked { .. })
    ));
    let c = w.lawyer_license(8, None);
    let results = ch.block(200, &[ch.publish(0, &[&c])]);
    assert!(
        matches!(&results[0], Err(TxError::KeyNotValid { .. })),
        "{results:?}"
    );
}

#[test]
fn validator_changes_keep_a_valid_set() {
    let mut ch = Chain::new();
    let v = crate::block::Validator {
        name: crate::bounded::Ident::new("mac-node").unwrap(),
        public_key: Keypair::from_seed(&[77; 32]).public(),
        power: crate::ids::VotingPower(1),
    };
    assert_eq!(
        ch.block(
            1,
            &[ch.governance(
                0,
                GovernanceAction::AddValidator {
                    validator: v.clone()
                },
                2
            )]
        ),
        vec![Ok(())]
    );
    let count = |ch: &Chain| match ch.state.read(&StateKey::Validators).unwrap() {
        Some(StateValue::Validators { set }) => set.validators().len(),
        _ => 0,
    };
    assert_eq!(count(&ch), 5);
    let again = ch.governance(
        1,
        GovernanceAction::AddValidator {
            validator: v.clone(),
        },
        2,
    );
    assert!(matches!(
        &ch.block(2, &[again])[0],
        Err(TxError::ValidatorSet(_))
    ));
    let remove = ch.governance(
        2,
        GovernanceAction::RemoveValidator {
            public_key: v.public_key,
        },
        2,
    );
    assert_eq!(ch.block(3, &[remove]), vec![Ok(())]);
    assert_eq!(count(&ch), 4);
}

#[test]
fn anchors_must_extend_the_log() {
    let mut ch = Chain::new();
    let (source, key) = {
        let (s, k) = &ch.devnet.log_source_keys[0];
        (s.clone(), Keypair::from_seed(&k.seed()))
    };
    let chain_id = ch.devnet.genesis.chain_id.clone();
    let leaves: Vec<_> = (0..20u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let root_of = |n: usize| {
        let mut t = CompactTree::new();
        leaves[..n].iter().for_each(|l| t.push(*l));
        t.root()
    };
    let anchor = |seq: u64,
                  size: usize,
                  prev: crate::hash::Digest,
                  proof: Vec<crate::hash::Digest>,
                  root| {
        let body = AnchorTx {
            source: source.parse().unwrap(),
            sequence: seq,
            tree_size: size as u64,
            root,
            previous_root: prev,
            consistency: BoundedVec::new(proof).unwrap(),
            log_time: Timestamp(T0),
        };
        Transaction::Anchor(Signed::sign(&chain_id, body, &key))
    };
    let first = anchor(1, 8, empty_root(), vec![], root_of(8));
    let second = anchor(
        2,
        13,
        root_of(8),
        consistency_proof(&leaves[..13], 8).unwrap(),
        root_of(13),
    );
    assert_eq!(ch.block(1, &[first, second]), vec![Ok(()), Ok(())]);

    // A rewritten log (record 3 changed) is not an extension.
    let mut forged = leaves.clone();
    forged[3] = leaf_hash(b"changed");
    let mut t = CompactTree::new();
    forged[..16].iter().for_each(|l| t.push(*l));
    let rewrite = anchor(
        3,
        16,
        root_of(13),
        consistency_proof(&forged[..16], 13).unwrap(),
        t.root(),
    );
    let gap = anchor(
        4,
        16,
        root_of(13),
        consistency_proof(&leaves[..16], 13).unwrap(),
        root_of(16),
    );
    let shrink = anchor(3, 10, root_of(13), vec![], root_of(10));
    let results = ch.block(2, &[rewrite, gap, shrink]);
    assert!(
        matches!(&results[0], Err(TxError::Inconsistent { .. })),
        "{results:?}"
    );
    assert!(matches!(
        &results[1],
        Err(TxError::WrongSequence {
            expected: 3,
            got: 4
        })
    ));
    assert!(matches!(&results[2], Err(TxError::Inconsistent { .. })));
    let next = anchor(
        3,
        16,
        root_of(13),
        consistency_proof(&leaves[..16], 13).unwrap(),
        root_of(16),
    );
    assert_eq!(ch.block(3, &[next]), vec![Ok(())]);
}

#[test]
fn execution_is_deterministic() {
    let run = || {
        let mut ch = Chain::new();
        let w = ch.world();
        let creds: Vec<_> = (0..50).map(|i| w.lawyer_license(100 + i, None)).collect();
        let refs: Vec<_> = creds.iter().collect();
        ch.block(1, &[ch.publish(0, &refs)]);
        let id = CredentialId(creds[3].body.id.0);
        ch.block(
            2,
            &[ch.issuer_tx(
                "moj",
                "moj-2026-01",
                1,
                IssuerAction::Revoke {
                    id,
                    reason: ReasonCode::Superseded,
                },
            )],
        );
        ch.state.root()
    };
    assert_eq!(run(), run());
}

#[test]
fn admission_batches_signatures_and_orders_nonces() {
    let mut ch = Chain::new();
    let w = ch.world();
    let (a, b, c) = (
        w.lawyer_license(301, None),
        w.lawyer_license(302, None),
        w.lawyer_license(303, None),
    );
    ch.block(1, &[ch.publish(0, &[&a])]);
    let mut forged = ch.publish(2, &[&c]);
    if let Transaction::Issuer(s) = &mut forged {
        s.signature.0[9] ^= 4;
    }
    let mut bad_body = w.lawyer_license(304, None);
    bad_body.signature.0[1] ^= 1;
    let txs = [
        ch.publish(1, &[&b]),        // next in line
        ch.publish(3, &[&c]),        // queued ahead of a missing 2: admitted, ordered later
        ch.publish(0, &[&a]),        // a replay of a committed nonce
        forged,                      // bad transaction signature
        ch.publish(4, &[&bad_body]), // bad credential signature
        Transaction::Issuer(Signed::sign(
            &ch.devnet.genesis.chain_id,
            IssuerTx {
                issuer: "mohw".parse().unwrap(),
                key_id: "mohw-1".parse().unwrap(),
                nonce: Nonce(0),
                action: IssuerAction::Reinstate { id: a.body.id },
            },
            ch.devnet.issuer_key("moj", "moj-2026-01").unwrap(),
        )),
    ];
    let now = Timestamp(T0 + 2_000);
    let r = admit(&ch.state, &ch.devnet.genesis.chain_id, now, &txs);
    assert_eq!(
        r[0],
        Ok(Admission {
            signer: Signer::Issuer("moj".parse().unwrap()),
            nonce: 1,
            next: 1,
            checked: vec![ch.devnet.issuer_key("moj", "moj-2026-01").unwrap().public()],
        })
    );
    assert_eq!(r[1].as_ref().map(|a| a.nonce), Ok(3));
    assert_eq!(
        r[2],
        Err(TxError::WrongNonce {
            expected: Nonce(1),
            got: Nonce(0)
        })
    );
    assert_eq!(r[3], Err(TxError::BadSignature));
    assert_eq!(r[4], Err(TxError::BadCredentialSignature(bad_body.body.id)));
    assert!(matches!(r[5], Err(TxError::UnknownIssuer(_))));
}

#[test]
fn signatures_checked_at_admission_are_not_checked_again_and_nothing_else_changes() {
    let ch = Chain::new();
    let w = ch.world();
    let a = w.lawyer_license(21, None);
    let b = w.lawyer_license(22, None);
    let txs = vec![ch.publish(0, &[&a]), ch.publish(1, &[&b])];
    let now = Timestamp(T0 + 2_000);
    let admitted = admit(&ch.state, &ch.devnet.genesis.chain_id, now, &txs);
    let checked: std::collections::HashMap<_, _> = txs
        .iter()
        .zip(&admitted)
        .map(|(t, a)| (t.id(), a.as_ref().unwrap().checked.clone()))
        .collect();
    let env = BlockEnv {
        chain_id: ch.devnet.genesis.chain_id.clone(),
        height: Height(2),
        time: now,
    };
    let plain = execute_block(&ch.state, &env, &txs).unwrap();
    let fast = execute_block_checked(&ch.state, &env, &txs, &checked).unwrap();
    assert_eq!(plain, fast, "same receipts and writes either way");

    // A vouched key only covers its own transaction: a forged one is still checked.
    let mut forged = ch.publish(0, &[&a]);
    if let Transaction::Issuer(s) = &mut forged {
        s.signature.0[0] ^= 1;
    }
    let out = execute_block_checked(&ch.state, &env, &[forged], &checked).unwrap();
    assert_eq!(out.receipts[0].result, Err(TxError::BadSignature));
}

#[test]
fn admission_names_the_refusal_execution_names() {
    let mut ch = Chain::new();
    let w = ch.world();
    // The first credential's signature is broken, the second is of an unknown version: checked
    // in order, the broken signature comes first.
    let mut broken = w.lawyer_license(401, None);
    broken.signature.0[5] ^= 1;
    let mut later = w.lawyer_license(402, None);
    later.body.version = 99;
    let tx = ch.publish(0, &[&broken, &later]);
    let now = Timestamp(T0 + 2_000);
    let admitted = admit(
        &ch.state,
        &ch.devnet.genesis.chain_id,
        now,
        std::slice::from_ref(&tx),
    );
    let expected = TxError::BadCredentialSignature(broken.body.id);
    assert_eq!(admitted, vec![Err(expected.clone())]);
    assert_eq!(ch.block(2, &[tx]), vec![Err(expected)]);

    // A broken transaction signature is named before any credential's, as execution does.
    let mut tx = ch.publish(1, &[&broken]);
    if let Transaction::Issuer(s) = &mut tx {
        s.signature.0[7] ^= 1;
    }
    let admitted = admit(
        &ch.state,
        &ch.devnet.genesis.chain_id,
        now,
        std::slice::from_ref(&tx),
    );
    assert_eq!(admitted, vec![Err(TxError::BadSignature)]);
    assert_eq!(ch.block(3, &[tx]), vec![Err(TxError::BadSignature)]);
}

#[test]
fn admission_names_a_key_that_is_not_a_point_as_execution_does() {
    let mut ch = Chain::new();
    let w = ch.world();
    // A corrupt state: the issuer's second key is stored as bytes that decompress to no
    // point (y = 2 has no x on the curve). Registration refuses such keys, so only a
    // corrupted store holds one; admission must still refuse it by name, not as a bad
    // signature.
    let (issuer, key_id) = ("moj".parse().unwrap(), "moj-2026-02".parse().unwrap());
    let mut bad = [0u8; 32];
    bad[0] = 2;
    assert!(PublicKey(bad).prepare().is_err());
    ch.state
        .write(&[(
            StateKey::IssuerKey(issuer, key_id),
            StateValue::IssuerKey(IssuerKeyRecord {
                issuer: "moj".parse().unwrap(),
                key_id: "moj-2026-02".parse().unwrap(),
                public_key: PublicKey(bad),
                valid_from: Timestamp(0),
                revoked_from: None,
            }),
        )])
        .unwrap();
    let mut c = w.lawyer_license(501, None);
    c.body.key_id = "moj-2026-02".parse().unwrap();
    let tx = ch.publish(0, &[&c]);
    let admitted = admit(
        &ch.state,
        &ch.devnet.genesis.chain_id,
        Timestamp(T0 + 2_000),
        std::slice::from_ref(&tx),
    );
    let expected = TxError::BadPublicKey(PublicKey(bad));
    assert_eq!(admitted, vec![Err(expected.clone())]);
    assert_eq!(ch.block(2, &[tx]), vec![Err(expected)]);
}
