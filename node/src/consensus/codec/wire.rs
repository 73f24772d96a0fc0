//! The wire structs behind [`super::WireCodec`]: borsh layouts of every message (spec/blocks.md
//! §6) and their conversions to and from Malachite's types, refusing what breaks a rule.

use arc_malachitebft_app_channel::app::consensus::LivenessMsg;
use arc_malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, VoteType,
};
use arc_malachitebft_app_channel::app::types::sync::RawDecidedValue;
use arc_malachitebft_app_channel::app::types::{PeerId, SignedConsensusMsg};
use arc_malachitebft_signing_ed25519::Signature as EdSignature;
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use credledger_core::hash::Digest;
use credledger_core::sig::PublicKey;

use super::super::context::{
    Address, BlockId, Ctx, Height, Proposal, ProposalHead, ProposalPart, Vote,
};
use super::{CodecError, MAX_ID_BYTES, PART_BYTES, invalid};

pub fn sig_out(s: &EdSignature) -> [u8; 64] {
    s.to_bytes()
}

/// A defined round's number; nil has none (votes and proposals always have one).
pub fn round_out(r: Round) -> Option<u32> {
    r.as_u32()
}

pub fn round_in(r: Option<u32>) -> Round {
    r.map_or(Round::Nil, Round::new)
}

pub fn defined(what: &'static str, r: Option<u32>) -> Result<Round, CodecError> {
    r.map(Round::new)
        .ok_or_else(|| invalid(what, "the round is nil"))
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireVote {
    pub precommit: bool,
    pub height: u64,
    pub round: Option<u32>,
    pub block: Option<Digest>,
    pub voter: PublicKey,
}

impl WireVote {
    fn from_vote(v: &Vote) -> WireVote {
        WireVote {
            precommit: v.kind == VoteType::Precommit,
            height: v.height.0,
            round: round_out(v.round),
            block: match v.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(id) => Some(id.0),
            },
            voter: v.voter.0,
        }
    }

    fn into_vote(self) -> Result<Vote, CodecError> {
        Ok(Vote {
            kind: if self.precommit {
                VoteType::Precommit
            } else {
                VoteType::Prevote
            },
            height: Height(self.height),
            round: defined("vote", self.round)?,
            value: self
                .block
                .map_or(NilOrVal::Nil, |d| NilOrVal::Val(BlockId(d))),
            voter: Address(self.voter),
        })
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireProposal {
    pub height: u64,
    pub round: Option<u32>,
    pub block: Digest,
    pub pol_round: Option<u32>,
    pub proposer: PublicKey,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub enum WireSigned {
    Vote(WireVote, [u8; 64]),
    Proposal(WireProposal, [u8; 64]),
}

pub fn signed_out(m: &SignedConsensusMsg<Ctx>) -> WireSigned {
    match m {
        SignedConsensusMsg::Vote(v) => {
            WireSigned::Vote(WireVote::from_vote(&v.message), sig_out(&v.signature))
        }
        SignedConsensusMsg::Proposal(p) => {
            let m = &p.message;
            WireSigned::Proposal(
                WireProposal {
                    height: m.height.0,
                    round: round_out(m.round),
                    block: m.value.0,
                    pol_round: round_out(m.pol_round),
                    proposer: m.proposer.0,
                },
                sig_out(&p.signature),
            )
        }
    }
}

pub fn signed_in(w: WireSigned) -> Result<SignedConsensusMsg<Ctx>, CodecError> {
    Ok(match w {
        WireSigned::Vote(v, s) => SignedConsensusMsg::Vote(SignedMessage::new(
            v.into_vote()?,
            EdSignature::from_bytes(s),
        )),
        WireSigned::Proposal(p, s) => SignedConsensusMsg::Proposal(SignedMessage::new(
            Proposal {
                height: Height(p.height),
                round: defined("proposal", p.round)?,
                value: BlockId(p.block),
                pol_round: round_in(p.pol_round),
                proposer: Address(p.proposer),
            },
            EdSignature::from_bytes(s),
        )),
    })
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireCert {
    pub height: u64,
    pub round: Option<u32>,
    pub block: Digest,
    pub signatures: Vec<(PublicKey, [u8; 64])>,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireRoundCert {
    pub height: u64,
    pub round: Option<u32>,
    pub precommit_type: bool,
    pub signatures: Vec<(WireVote, [u8; 64])>,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub enum WireLiveness {
    Vote(WireVote, [u8; 64]),
    Polka(WireCert),
    SkipRound(WireRoundCert),
}

pub fn polka_out(c: &PolkaCertificate<Ctx>) -> WireCert {
    WireCert {
        height: c.height.0,
        round: round_out(c.round),
        block: c.value_id.0,
        signatures: c
            .polka_signatures
            .iter()
            .map(|s| (s.address.0, sig_out(&s.signature)))
            .collect(),
    }
}

pub fn polka_in(w: WireCert) -> Result<PolkaCertificate<Ctx>, CodecError> {
    Ok(PolkaCertificate {
        height: Height(w.height),
        round: defined("polka certificate", w.round)?,
        value_id: BlockId(w.block),
        polka_signatures: w
            .signatures
            .into_iter()
            .map(|(a, s)| PolkaSignature::new(Address(a), EdSignature::from_bytes(s)))
            .collect(),
    })
}

pub fn liveness_out(m: &LivenessMsg<Ctx>) -> WireLiveness {
    match m {
        LivenessMsg::Vote(v) => {
            WireLiveness::Vote(WireVote::from_vote(&v.message), sig_out(&v.signature))
        }
        LivenessMsg::PolkaCertificate(c) => WireLiveness::Polka(polka_out(c)),
        LivenessMsg::SkipRoundCertificate(c) => WireLiveness::SkipRound(WireRoundCert {
            height: c.height.0,
            round: round_out(c.round),
            precommit_type: matches!(c.cert_type, RoundCertificateType::Precommit),
            signatures: c
                .round_signatures
                .iter()
                .map(|s| {
                    let vote = WireVote {
                        precommit: s.vote_type == VoteType::Precommit,
                        height: c.height.0,
                        round: round_out(c.round),
                        block: match s.value_id {
                            NilOrVal::Nil => None,
                            NilOrVal::Val(id) => Some(id.0),
                        },
                        voter: s.address.0,
                    };
                    (vote, sig_out(&s.signature))
                })
                .collect(),
        }),
    }
}

pub fn liveness_in(w: WireLiveness) -> Result<LivenessMsg<Ctx>, CodecError> {
    Ok(match w {
        WireLiveness::Vote(v, s) => LivenessMsg::Vote(SignedMessage::new(
            v.into_vote()?,
            EdSignature::from_bytes(s),
        )),
        WireLiveness::Polka(c) => LivenessMsg::PolkaCertificate(polka_in(c)?),
        WireLiveness::SkipRound(c) => {
            let mut sigs = Vec::with_capacity(c.signatures.len());
            for (v, s) in c.signatures {
                if v.height != c.height || v.round != c.round {
                    return Err(invalid(
                        "round certificate",
                        "a signature is for another height or round",
                    ));
                }
                let vote = v.into_vote()?;
                sigs.push(RoundSignature::new(
                    vote.kind,
                    vote.value,
                    vote.voter,
                    EdSignature::from_bytes(s),
                ));
            }
            LivenessMsg::SkipRoundCertificate(RoundCertificate {
                height: Height(c.height),
                round: defined("round certificate", c.round)?,
                cert_type: if c.precommit_type {
                    RoundCertificateType::Precommit
                } else {
                    RoundCertificateType::Skip
                },
                round_signatures: sigs,
            })
        }
    })
}

/// Who proposes which height and round: the head of a stream (`Init`) or of a whole block.
/// Borsh lays its fields out inline, as if they were the variant's own.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireHead {
    height: u64,
    round: Option<u32>,
    pol_round: Option<u32>,
    proposer: PublicKey,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub enum WirePart {
    Init(WireHead),
    Data(Vec<u8>),
    Fin(Digest),
    Whole {
        head: WireHead,
        block: Vec<u8>,
        id: Digest,
    },
}

fn head_out(h: &ProposalHead) -> WireHead {
    WireHead {
        height: h.height.0,
        round: round_out(h.round),
        pol_round: round_out(h.pol_round),
        proposer: h.proposer.0,
    }
}

/// A nil round is refused.
fn head_in(h: WireHead) -> Result<ProposalHead, CodecError> {
    Ok(ProposalHead {
        height: Height(h.height),
        round: defined("proposal part", h.round)?,
        pol_round: round_in(h.pol_round),
        proposer: Address(h.proposer),
    })
}

pub fn part_out(p: &ProposalPart) -> WirePart {
    match p {
        ProposalPart::Init(head) => WirePart::Init(head_out(head)),
        ProposalPart::Data(d) => WirePart::Data(d.clone()),
        ProposalPart::Fin(id) => WirePart::Fin(id.0),
        ProposalPart::Whole { head, block, id } => WirePart::Whole {
            head: head_out(head),
            block: block.clone(),
            id: id.0,
        },
    }
}

pub fn part_in(w: WirePart) -> Result<ProposalPart, CodecError> {
    Ok(match w {
        WirePart::Init(head) => ProposalPart::Init(head_in(head)?),
        WirePart::Data(d) if d.len() > PART_BYTES => {
            return Err(invalid("proposal part", format!("{} bytes", d.len())));
        }
        WirePart::Data(d) => ProposalPart::Data(d),
        WirePart::Fin(id) => ProposalPart::Fin(BlockId(id)),
        WirePart::Whole { block, .. } if block.len() > PART_BYTES => {
            return Err(invalid(
                "proposal part",
                format!("whole block of {} bytes", block.len()),
            ));
        }
        WirePart::Whole { head, block, id } => ProposalPart::Whole {
            head: head_in(head)?,
            block,
            id: BlockId(id),
        },
    })
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireStream {
    pub stream_id: Vec<u8>,
    pub sequence: u64,
    /// `None` ends the stream.
    pub part: Option<WirePart>,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireProof {
    pub public_key: Vec<u8>,
    pub peer_id: Vec<u8>,
    pub signature: [u8; 64],
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireStatus {
    pub peer_id: Vec<u8>,
    pub tip: u64,
    pub history_min: u64,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireRequest {
    pub from: u64,
    pub to: u64,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireDecided {
    pub block: Vec<u8>,
    pub commit: WireCert,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireResponse {
    pub start: u64,
    pub values: Vec<WireDecided>,
}

#[derive(BorshSerialize, BorshDeserialize)]
pub struct WireProposed {
    pub height: u64,
    pub round: Option<u32>,
    pub valid_round: Option<u32>,
    pub proposer: PublicKey,
    pub block: Digest,
    pub valid: bool,
}

pub fn peer_in(what: &'static str, bytes: &[u8]) -> Result<PeerId, CodecError> {
    if bytes.len() > MAX_ID_BYTES {
        return Err(invalid(what, "peer id too long"));
    }
    PeerId::from_bytes(bytes).map_err(|e| invalid(what, format!("peer id: {e}")))
}

pub fn decided_out(v: &RawDecidedValue<Ctx>) -> WireDecided {
    let c = &v.certificate;
    WireDecided {
        block: v.value_bytes.to_vec(),
        commit: WireCert {
            height: c.height.0,
            round: round_out(c.round),
            block: c.value_id.0,
            signatures: c
                .commit_signatures
                .iter()
                .map(|s| (s.address.0, sig_out(&s.signature)))
                .collect(),
        },
    }
}

pub fn decided_in(w: WireDecided) -> Result<RawDecidedValue<Ctx>, CodecError> {
    let c = w.commit;
    Ok(RawDecidedValue::new(
        Bytes::from(w.block),
        ExtendedCommitCertificate {
            height: Height(c.height),
            round: defined("commit certificate", c.round)?,
            value_id: BlockId(c.block),
            commit_signatures: c
                .signatures
                .into_iter()
                .map(|(a, s)| ExtendedCommitSignature {
                    address: Address(a),
                    signature: EdSignature::from_bytes(s),
                    extension: None,
                })
                .collect(),
        },
    ))
}
