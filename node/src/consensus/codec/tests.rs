use arc_malachitebft_app_channel::app::consensus::LivenessMsg;
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedMessage, Validity, VoteType,
};
use arc_malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use arc_malachitebft_signing_ed25519::Signature as EdSignature;
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use bytes::Bytes;
use credledger_core::hash::Digest;
use credledger_core::sig::PublicKey;
use proptest::prelude::*;

use super::*;
use crate::consensus::context::{Proposal, ProposalHead, Vote};

fn peer() -> PeerId {
    let libp2p = crate::consensus::engine::peer_id(&PublicKey([7; 32]));
    PeerId::from_bytes(&libp2p.to_bytes()).unwrap()
}

fn addr(b: u8) -> Address {
    Address(PublicKey([b; 32]))
}

fn sig(b: u8) -> EdSignature {
    EdSignature::from_bytes([b; 64])
}

fn vote(kind: VoteType, value: NilOrVal<BlockId>) -> Vote {
    Vote {
        kind,
        height: Height(7),
        round: Round::new(2),
        value,
        voter: addr(3),
    }
}

fn roundtrip<T>(v: &T) -> T
where
    WireCodec: Codec<T>,
    T: std::fmt::Debug + PartialEq,
{
    let bytes = WireCodec.encode(v).unwrap();
    assert_eq!(bytes[0], WIRE_VERSION);
    let back: T = WireCodec.decode(bytes).unwrap();
    assert_eq!(&back, v);
    back
}

#[test]
fn every_message_type_round_trips() {
    let id = BlockId(Digest([4; 32]));
    for v in [
        vote(VoteType::Prevote, NilOrVal::Nil),
        vote(VoteType::Precommit, NilOrVal::Val(id)),
    ] {
        roundtrip(&SignedConsensusMsg::<Ctx>::Vote(SignedMessage::new(
            v.clone(),
            sig(1),
        )));
        roundtrip(&LivenessMsg::<Ctx>::Vote(SignedMessage::new(v, sig(2))));
    }
    roundtrip(&SignedConsensusMsg::<Ctx>::Proposal(SignedMessage::new(
        Proposal {
            height: Height(7),
            round: Round::new(1),
            value: id,
            pol_round: Round::Nil,
            proposer: addr(5),
        },
        sig(3),
    )));
    let polka = PolkaCertificate {
        height: Height(7),
        round: Round::new(0),
        value_id: id,
        polka_signatures: vec![
            PolkaSignature::new(addr(1), sig(1)),
            PolkaSignature::new(addr(2), sig(2)),
        ],
    };
    roundtrip(&polka);
    roundtrip(&LivenessMsg::<Ctx>::PolkaCertificate(polka));
    roundtrip(&LivenessMsg::<Ctx>::SkipRoundCertificate(
        RoundCertificate {
            height: Height(7),
            round: Round::new(3),
            cert_type: RoundCertificateType::Skip,
            round_signatures: vec![RoundSignature::new(
                VoteType::Prevote,
                NilOrVal::Nil,
                addr(1),
                sig(9),
            )],
        },
    ));
    for part in [
        ProposalPart::Init(ProposalHead {
            height: Height(7),
            round: Round::new(1),
            pol_round: Round::new(0),
            proposer: addr(1),
        }),
        ProposalPart::Data(vec![1, 2, 3]),
        ProposalPart::Fin(id),
        ProposalPart::Whole {
            head: ProposalHead {
                height: Height(7),
                round: Round::new(1),
                pol_round: Round::Nil,
                proposer: addr(1),
            },
            block: vec![4, 5, 6],
            id,
        },
    ] {
        roundtrip(&part);
        roundtrip(&StreamMessage::new(
            StreamId::new(Bytes::from_static(b"s1")),
            3,
            StreamContent::Data(part),
        ));
    }
    roundtrip(&StreamMessage::<ProposalPart>::new(
        StreamId::new(Bytes::from_static(b"s1")),
        4,
        StreamContent::Fin,
    ));
    roundtrip(&Status::<Ctx> {
        peer_id: peer(),
        tip_height: Height(10),
        history_min_height: Height(1),
    });
    roundtrip(&Request::<Ctx>::ValueRequest(ValueRequest::new(
        Height(3)..=Height(9),
    )));
    let cert = engine_commit(
        Height(7),
        id,
        &credledger_core::block::CommitCertificate::from_signatures(
            credledger_core::ids::Round(1),
            1,
            vec![(0, credledger_core::sig::Signature([6; 64]))],
        ),
        &credledger_core::block::ValidatorSet::new(vec![credledger_core::block::Validator {
            name: "v".parse().unwrap(),
            public_key: PublicKey([1; 32]),
            power: credledger_core::ids::VotingPower(1),
        }])
        .unwrap(),
    );
    assert_eq!(cert.commit_signatures.len(), 1);
    let resp = Response::<Ctx>::ValueResponse(ValueResponse::new(
        Height(7),
        vec![RawDecidedValue::new(Bytes::from_static(b"block"), cert)],
    ));
    let back = roundtrip(&resp);
    assert_eq!(
        WireCodec.encoded_len(&back).unwrap(),
        WireCodec.encode(&resp).unwrap().len()
    );
    roundtrip(&ProposedValue::<Ctx> {
        height: Height(7),
        round: Round::new(0),
        valid_round: Round::Nil,
        proposer: addr(1),
        value: id,
        validity: Validity::Invalid,
    });
    let proof = arc_malachitebft_app_channel::app::types::core::ValidatorProof::<Ctx>::new(
        vec![1; 32],
        peer().to_bytes(),
        sig(4),
    );
    roundtrip(&proof);
}

#[test]
fn refuses_other_versions_nil_rounds_and_oversized_parts() {
    let v = SignedConsensusMsg::<Ctx>::Vote(SignedMessage::new(
        vote(VoteType::Prevote, NilOrVal::Nil),
        sig(1),
    ));
    let mut bytes = WireCodec.encode(&v).unwrap().to_vec();
    bytes[0] = 2;
    let r: Result<SignedConsensusMsg<Ctx>, _> = WireCodec.decode(Bytes::from(bytes));
    assert!(matches!(r, Err(CodecError::Version(Some(2)))));
    let r: Result<SignedConsensusMsg<Ctx>, _> = WireCodec.decode(Bytes::new());
    assert!(matches!(r, Err(CodecError::Version(None))));

    let mut nil = vote(VoteType::Prevote, NilOrVal::Nil);
    nil.round = Round::Nil;
    let bytes = WireCodec
        .encode(&SignedConsensusMsg::<Ctx>::Vote(SignedMessage::new(
            nil,
            sig(1),
        )))
        .unwrap();
    let r: Result<SignedConsensusMsg<Ctx>, _> = WireCodec.decode(bytes);
    assert!(matches!(r, Err(CodecError::Invalid { .. })), "{r:?}");

    let big = WireCodec
        .encode(&ProposalPart::Data(vec![0; PART_BYTES + 1]))
        .unwrap();
    let r: Result<ProposalPart, _> = WireCodec.decode(big);
    assert!(r.is_err());

    // A whole block in one part obeys the part's size and the rule on rounds.
    let whole = |round: Round, len: usize| ProposalPart::Whole {
        head: ProposalHead {
            height: Height(7),
            round,
            pol_round: Round::Nil,
            proposer: addr(1),
        },
        block: vec![0; len],
        id: BlockId(credledger_core::hash::Digest([3; 32])),
    };
    let fits = WireCodec.encode(&whole(Round::new(0), PART_BYTES)).unwrap();
    let r: Result<ProposalPart, _> = WireCodec.decode(fits);
    assert!(r.is_ok(), "{r:?}");
    let big = WireCodec
        .encode(&whole(Round::new(0), PART_BYTES + 1))
        .unwrap();
    let r: Result<ProposalPart, _> = WireCodec.decode(big);
    assert!(
        matches!(&r, Err(CodecError::Invalid { .. })),
        "a whole block over one part: {r:?}"
    );
    let nil = WireCodec.encode(&whole(Round::Nil, 3)).unwrap();
    let r: Result<ProposalPart, _> = WireCodec.decode(nil);
    assert!(matches!(&r, Err(CodecError::Invalid { .. })), "{r:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes from a peer are refused or accepted, never a panic; whatever decodes
    /// encodes back to the same bytes.
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let mut bytes = vec![WIRE_VERSION];
        bytes.extend_from_slice(&body);
        let b = Bytes::from(bytes);
        if let Ok(m) = Codec::<SignedConsensusMsg<Ctx>>::decode(&WireCodec, b.clone()) {
            prop_assert_eq!(WireCodec.encode(&m).unwrap(), b.clone());
        }
        let _ = Codec::<LivenessMsg<Ctx>>::decode(&WireCodec, b.clone());
        let _ = Codec::<StreamMessage<ProposalPart>>::decode(&WireCodec, b.clone());
        let _ = Codec::<Status<Ctx>>::decode(&WireCodec, b.clone());
        let _ = Codec::<Request<Ctx>>::decode(&WireCodec, b.clone());
        let _ = Codec::<Response<Ctx>>::decode(&WireCodec, b.clone());
        let _ = Codec::<ProposedValue<Ctx>>::decode(&WireCodec, b.clone());
        let _ = Codec::<PolkaCertificate<Ctx>>::decode(&WireCodec, b.clone());
        let _ = Codec::<ProposalPart>::decode(&WireCodec, b.clone());
        let _ = Codec::<ValidatorProof<Ctx>>::decode(&WireCodec, b);
    }
}
