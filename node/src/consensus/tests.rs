use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommit, Context as _, NilOrVal, Round, ThresholdParams, Validator as _,
    ValidatorSet as _,
};
use arc_malachitebft_app_channel::{Signer as _, Verifier as _, VerifierExt as _};
use credledger_core::block::{HEADER_VERSION, Header, ValidatorSet as CoreSet};
use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::hash::Digest;
use credledger_core::ids::{Height as CoreHeight, Timestamp};

use super::context::{BlockId, Ctx, Height, ValidatorSet};
use super::signing::{ConsensusSigner, to_core_commit};

fn setup() -> (Devnet, CoreSet, ValidatorSet, Vec<ConsensusSigner>, Header) {
    let d = Devnet::build(&[3; 32], &DevnetParams::default()).unwrap();
    let core_set = CoreSet::new(d.genesis.validators.to_vec()).unwrap();
    let set = ValidatorSet::from_core(&core_set).unwrap();
    // Signers in validator (address) order.
    let mut signers: Vec<_> = d
        .validator_keys
        .iter()
        .map(|(_, k)| ConsensusSigner::new(d.genesis.chain_id.clone(), k.seed()))
        .collect();
    signers.sort_by_key(|s| s.address());
    let header = first_header(&d, &core_set, 0);
    (d, core_set, set, signers, header)
}

/// A header of height 1 on `d`'s genesis, signed by `set`, naming validator `proposer` as its
/// builder.
pub(crate) fn first_header(d: &Devnet, set: &CoreSet, proposer: u16) -> Header {
    Header {
        version: HEADER_VERSION,
        chain_id: d.genesis.chain_id.clone(),
        height: CoreHeight(1),
        time: Timestamp(d.genesis.genesis_time.0 + 1_000),
        previous: d.genesis.hash(),
        transactions_root: credledger_core::merkle::empty_root(),
        state_root: Digest([5; 32]),
        anchors_root: Digest([6; 32]),
        validators_hash: set.hash(),
        next_validators_hash: set.hash(),
        proposer,
    }
}

#[tokio::test]
async fn engine_certificates_convert_to_core_certificates_that_verify() {
    let (d, core_set, set, signers, header) = setup();
    let ctx = Ctx {
        chain_id: d.genesis.chain_id.clone(),
    };
    let block = BlockId(header.hash());
    let round = Round::new(2);
    let mut votes = Vec::new();
    for s in signers.iter().take(3) {
        let v = ctx.new_precommit(Height(1), round, NilOrVal::Val(block), s.address());
        votes.push(s.sign_vote(v).await.unwrap());
    }
    let cert = MCommit::new(Height(1), round, block, votes);
    let verifier = &signers[0];
    verifier
        .verify_commit_certificate(&ctx, &cert, &set, ThresholdParams::default())
        .await
        .unwrap();

    // The same signatures, in core's compact form, certify the header for core.
    let core = to_core_commit(&cert, &set).unwrap();
    assert_eq!(core.signatures.len(), 3);
    assert_eq!(core.verify(&header, &core_set).unwrap(), 3);

    // Two of four is not a quorum for either side.
    let short = MCommit::new(
        Height(1),
        round,
        block,
        cert_votes(&ctx, &signers[..2], block, round).await,
    );
    assert!(
        verifier
            .verify_commit_certificate(&ctx, &short, &set, ThresholdParams::default())
            .await
            .is_err()
    );
    assert!(
        to_core_commit(&short, &set)
            .unwrap()
            .verify(&header, &core_set)
            .is_err()
    );
}

async fn cert_votes(
    ctx: &Ctx,
    signers: &[ConsensusSigner],
    block: BlockId,
    round: Round,
) -> Vec<arc_malachitebft_app_channel::app::types::core::SignedVote<Ctx>> {
    let mut out = Vec::new();
    for s in signers {
        out.push(
            s.sign_vote(ctx.new_precommit(Height(1), round, NilOrVal::Val(block), s.address()))
                .await
                .unwrap(),
        );
    }
    out
}

#[tokio::test]
async fn votes_bind_chain_kind_and_block_and_not_the_voter_field() {
    let (d, _, set, signers, header) = setup();
    let ctx = Ctx {
        chain_id: d.genesis.chain_id.clone(),
    };
    let block = BlockId(header.hash());
    let s = &signers[1];
    let key = *set.get_by_address(&s.address()).unwrap().public_key();
    let vote = ctx.new_prevote(Height(1), Round::new(0), NilOrVal::Val(block), s.address());
    let signed = s.sign_vote(vote.clone()).await.unwrap();
    assert!(
        s.verify_signed_vote(&vote, &signed.signature, &key)
            .await
            .unwrap()
            .is_valid()
    );
    // A precommit, another block, or another chain: the signature no longer holds.
    let precommit = ctx.new_precommit(Height(1), Round::new(0), NilOrVal::Val(block), s.address());
    assert!(
        s.verify_signed_vote(&precommit, &signed.signature, &key)
            .await
            .unwrap()
            .is_invalid()
    );
    let nil = ctx.new_prevote(Height(1), Round::new(0), NilOrVal::Nil, s.address());
    assert!(
        s.verify_signed_vote(&nil, &signed.signature, &key)
            .await
            .unwrap()
            .is_invalid()
    );
    let other_chain = ConsensusSigner::new("other-chain".parse().unwrap(), [0; 32]);
    assert!(
        other_chain
            .verify_signed_vote(&vote, &signed.signature, &key)
            .await
            .unwrap()
            .is_invalid()
    );
    // The proposer rotates with height and round over the whole set.
    let p1 = *ctx
        .select_proposer(&set, Height(1), Round::new(0))
        .address();
    let p2 = *ctx
        .select_proposer(&set, Height(2), Round::new(0))
        .address();
    let p3 = *ctx
        .select_proposer(&set, Height(1), Round::new(1))
        .address();
    assert_ne!(p1, p2);
    assert_eq!(p2, p3);
}

/// Validators' keys are decompressed once and kept; a key `core` will not prepare (here the
/// identity, of small order, which no validator set may hold) is judged by the same raw ZIP-215
/// check as before, under which the identity with R = identity and s = 0 "signs" anything.
#[tokio::test]
async fn a_key_core_does_not_prepare_is_judged_by_cores_raw_check() {
    use arc_malachitebft_signing_ed25519::{PublicKey as EdPublicKey, Signature as EdSignature};
    use credledger_core::hash::Domain;
    use credledger_core::sig::{PublicKey, Signature};

    let (d, _, _, signers, header) = setup();
    let ctx = Ctx {
        chain_id: d.genesis.chain_id.clone(),
    };
    let s = &signers[2];
    let vote = ctx.new_prevote(
        Height(1),
        Round::new(0),
        NilOrVal::Val(BlockId(header.hash())),
        s.address(),
    );
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey(identity).prepare().is_err());
    let key = EdPublicKey::from_bytes(identity).unwrap();
    for (s_scalar, expect_valid) in [(0u8, true), (1u8, false)] {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity);
        sig[32] = s_scalar;
        // Twice: the second check must not find a kept key that the first one left behind.
        for _ in 0..2 {
            let verdict = s
                .verify_signed_vote(&vote, &EdSignature::from_bytes(sig), &key)
                .await
                .unwrap();
            assert_eq!(verdict.is_valid(), expect_valid, "s = {s_scalar}");
        }
        let message = vote.sign_bytes(&d.genesis.chain_id).message();
        assert_eq!(
            PublicKey(identity)
                .verify_zip215(Domain::SignVote, &message, &Signature(sig))
                .is_ok(),
            expect_valid,
            "core's raw check agrees"
        );
    }
}

#[test]
fn a_taken_p2p_port_is_refused_with_its_address_and_a_free_one_passes() {
    use super::engine::{EngineError, check_listen};
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let addr: arc_malachitebft_app_channel::app::net::Multiaddr =
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let err = check_listen(&addr).unwrap_err();
    assert!(matches!(err, EngineError::Listen { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!(
            "cannot listen on /ip4/127.0.0.1/tcp/{port} for p2p"
        )),
        "{err}"
    );
    drop(taken);
    check_listen(&addr).unwrap();
}

/// The network watcher keeps the peer count through busy answers and returns once the network
/// says it has stopped, which is what stops the node (main.rs) rather than leave it answering
/// its API with no part in consensus.
#[tokio::test]
async fn the_network_watcher_keeps_the_peer_count_and_ends_when_the_network_stops() {
    use super::engine::{NetState, watch_network};
    let peers = std::sync::atomic::AtomicU64::new(0);
    let script = std::sync::Mutex::new(
        vec![
            NetState::Peers(0),
            NetState::NoAnswer,
            NetState::Peers(3),
            NetState::NoAnswer,
            NetState::Stopped,
            NetState::Peers(9),
        ]
        .into_iter(),
    );
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let ask = || {
        asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let next = script.lock().unwrap().next();
        async move { next.unwrap_or(NetState::NoAnswer) }
    };
    let tick = std::time::Duration::from_millis(1);
    let watched = watch_network(ask, &peers, true, (tick, tick));
    tokio::time::timeout(std::time::Duration::from_secs(10), watched)
        .await
        .expect("the watcher ends when the network stops");
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::Relaxed),
        5,
        "not asked after Stopped"
    );
    assert_eq!(
        peers.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "a busy answer keeps the count"
    );
}

/// The header's `proposer` is its builder: the round's proposer for a new block, and for a
/// re-proposal the proposer of a round up to its polka's (spec/blocks.md §7).
#[test]
fn a_header_must_name_a_validator_that_can_have_built_it() {
    use super::context::may_have_built;
    let (_, _, set, _, _) = setup();
    let (h, nil) = (Height(1), Round::Nil);
    // With none absent, round r of height 1 is validator (1 + r) mod 4's.
    assert!(may_have_built(&set, h, Round::new(0), nil, 1));
    assert!(!may_have_built(&set, h, Round::new(0), nil, 2));
    assert!(may_have_built(&set, h, Round::new(1), nil, 2));
    assert!(!may_have_built(&set, h, Round::new(1), nil, 1));
    // Re-proposed in round 2 on round 1's polka: built in round 0 or 1, not in round 2.
    let pol = Round::new(1);
    assert!(may_have_built(&set, h, Round::new(2), pol, 1));
    assert!(may_have_built(&set, h, Round::new(2), pol, 2));
    assert!(!may_have_built(&set, h, Round::new(2), pol, 3));
    assert!(!may_have_built(&set, h, Round::new(2), pol, 0));
    // A polka from a late round: every member has had a turn, and no index beyond the set.
    for i in 0..4 {
        assert!(may_have_built(&set, h, Round::new(9), Round::new(8), i));
    }
    assert!(!may_have_built(&set, h, Round::new(9), Round::new(8), 4));
    // Member 1 absent: round 0 of height 1 goes to member 2 and member 1 proposes last.
    let set = set.with_absent(vec![false, true, false, false]);
    assert!(may_have_built(&set, h, Round::new(0), nil, 2));
    assert!(!may_have_built(&set, h, Round::new(0), nil, 1));
    assert!(may_have_built(&set, h, Round::new(3), nil, 1));
}
