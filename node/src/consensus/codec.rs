//! The bytes of every message the engine sends to peers or writes to its log: canonical borsh
//! of small wire structs behind a version byte, each decoded with a size limit
//! (spec/blocks.md §6). Malachite's types never reach borsh directly; they convert here.

use std::ops::RangeInclusive;

use arc_malachitebft_app_channel::app::consensus::LivenessMsg;
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommit, CommitSignature, ExtendedCommitCertificate,
    ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate,
    RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use arc_malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use arc_malachitebft_signing_ed25519::Signature as EdSignature;
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use credledger_core::block::MAX_BLOCK_BYTES;
use credledger_core::encoding::{DecodeError, decode, encode};
use credledger_core::hash::Digest;
use credledger_core::sig::PublicKey;

use super::context::{Address, BlockId, Ctx, Height, Proposal, ProposalPart, Vote};

/// The wire version every encoding starts with; a node refuses any other.
pub const WIRE_VERSION: u8 = 1;

/// Bytes of block carried by one proposal part.
pub const PART_BYTES: usize = 256 * 1024;

/// Limit for a vote, proposal, validator proof, sync status or request.
const MAX_SMALL: usize = 4 * 1024;
/// Limit for a certificate (up to 256 signatures) or a proposed value.
const MAX_CERT: usize = 64 * 1024;
/// Limit for one proposal part.
const MAX_PART: usize = PART_BYTES + 1024;
/// Limit for a sync response: a few whole blocks with their certificates.
pub const MAX_RESPONSE: usize = 2 * MAX_BLOCK_BYTES + 1024 * 1024;
/// Longest stream id or peer id accepted.
const MAX_ID_BYTES: usize = 128;

/// Why bytes from a peer or the log were refused.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Empty, or a version this node does not speak.
    #[error("wire version {0:?} is not {WIRE_VERSION}")]
    Version(Option<u8>),
    /// The body does not decode.
    #[error("{what}: {error}")]
    Decode {
        /// The message type.
        what: &'static str,
        /// Why.
        error: DecodeError,
    },
    /// It decodes but breaks a rule of its type.
    #[error("{what}: {reason}")]
    Invalid {
        /// The message type.
        what: &'static str,
        /// Which rule.
        reason: String,
    },
}

fn invalid(what: &'static str, reason: impl Into<String>) -> CodecError {
    CodecError::Invalid {
        what,
        reason: reason.into(),
    }
}

fn enc<T: BorshSerialize>(value: &T) -> Bytes {
    let mut out = vec![WIRE_VERSION];
    out.extend_from_slice(&encode(value));
    Bytes::from(out)
}

fn dec<T: BorshDeserialize + BorshSerialize>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<T, CodecError> {
    match bytes.split_first() {
        Some((&WIRE_VERSION, body)) => {
            decode(body, max).map_err(|error| CodecError::Decode { what, error })
        }
        Some((&v, _)) => Err(CodecError::Version(Some(v))),
        None => Err(CodecError::Version(None)),
    }
}

fn sig_out(s: &EdSignature) -> [u8; 64] {
    s.to_bytes()
}

/// A defined round's number; nil has none (votes and proposals always have one).
fn round_out(r: Round) -> Option<u32> {
    r.as_u32()
}

fn round_in(r: Option<u32>) -> Round {
    r.map_or(Round::Nil, Round::new)
}

fn defined(what: &'static str, r: Option<u32>) -> Result<Round, CodecError> {
    r.map(Round::new)
        .ok_or_else(|| invalid(what, "the round is nil"))
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireVote {
    precommit: bool,
    height: u64,
    round: Option<u32>,
    block: Option<Digest>,
    voter: PublicKey,
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
struct WireProposal {
    height: u64,
    round: Option<u32>,
    block: Digest,
    pol_round: Option<u32>,
    proposer: PublicKey,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireSigned {
    Vote(WireVote, [u8; 64]),
    Proposal(WireProposal, [u8; 64]),
}

fn signed_out(m: &SignedConsensusMsg<Ctx>) -> WireSigned {
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

fn signed_in(w: WireSigned) -> Result<SignedConsensusMsg<Ctx>, CodecError> {
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
struct WireCert {
    height: u64,
    round: Option<u32>,
    block: Digest,
    signatures: Vec<(PublicKey, [u8; 64])>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRoundCert {
    height: u64,
    round: Option<u32>,
    precommit_type: bool,
    signatures: Vec<(WireVote, [u8; 64])>,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireLiveness {
    Vote(WireVote, [u8; 64]),
    Polka(WireCert),
    SkipRound(WireRoundCert),
}

fn polka_out(c: &PolkaCertificate<Ctx>) -> WireCert {
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

fn polka_in(w: WireCert) -> Result<PolkaCertificate<Ctx>, CodecError> {
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

fn liveness_out(m: &LivenessMsg<Ctx>) -> WireLiveness {
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

fn liveness_in(w: WireLiveness) -> Result<LivenessMsg<Ctx>, CodecError> {
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

#[derive(BorshSerialize, BorshDeserialize)]
enum WirePart {
    Init {
        height: u64,
        round: Option<u32>,
        pol_round: Option<u32>,
        proposer: PublicKey,
    },
    Data(Vec<u8>),
    Fin(Digest),
}

fn part_out(p: &ProposalPart) -> WirePart {
    match p {
        ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        } => WirePart::Init {
            height: height.0,
            round: round_out(*round),
            pol_round: round_out(*pol_round),
            proposer: proposer.0,
        },
        ProposalPart::Data(d) => WirePart::Data(d.clone()),
        ProposalPart::Fin(id) => WirePart::Fin(id.0),
    }
}

fn part_in(w: WirePart) -> Result<ProposalPart, CodecError> {
    Ok(match w {
        WirePart::Init {
            height,
            round,
            pol_round,
            proposer,
        } => ProposalPart::Init {
            height: Height(height),
            round: defined("proposal part", round)?,
            pol_round: round_in(pol_round),
            proposer: Address(proposer),
        },
        WirePart::Data(d) if d.len() > PART_BYTES => {
            return Err(invalid("proposal part", format!("{} bytes", d.len())));
        }
        WirePart::Data(d) => ProposalPart::Data(d),
        WirePart::Fin(id) => ProposalPart::Fin(BlockId(id)),
    })
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStream {
    stream_id: Vec<u8>,
    sequence: u64,
    /// `None` ends the stream.
    part: Option<WirePart>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProof {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: [u8; 64],
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStatus {
    peer_id: Vec<u8>,
    tip: u64,
    history_min: u64,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRequest {
    from: u64,
    to: u64,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireDecided {
    block: Vec<u8>,
    commit: WireCert,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireResponse {
    start: u64,
    values: Vec<WireDecided>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProposed {
    height: u64,
    round: Option<u32>,
    valid_round: Option<u32>,
    proposer: PublicKey,
    block: Digest,
    valid: bool,
}

fn peer_in(what: &'static str, bytes: &[u8]) -> Result<PeerId, CodecError> {
    if bytes.len() > MAX_ID_BYTES {
        return Err(invalid(what, "peer id too long"));
    }
    PeerId::from_bytes(bytes).map_err(|e| invalid(what, format!("peer id: {e}")))
}

fn decided_out(v: &RawDecidedValue<Ctx>) -> WireDecided {
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

fn decided_in(w: WireDecided) -> Result<RawDecidedValue<Ctx>, CodecError> {
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

/// The one codec for the network, sync and the consensus log.
#[derive(Clone, Copy, Debug, Default)]
pub struct WireCodec;

impl Codec<ProposalPart> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, CodecError> {
        part_in(dec("proposal part", &bytes, MAX_PART)?)
    }

    fn encode(&self, p: &ProposalPart) -> Result<Bytes, CodecError> {
        Ok(enc(&part_out(p)))
    }
}

impl Codec<SignedConsensusMsg<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<Ctx>, CodecError> {
        signed_in(dec("consensus message", &bytes, MAX_SMALL)?)
    }

    fn encode(&self, m: &SignedConsensusMsg<Ctx>) -> Result<Bytes, CodecError> {
        Ok(enc(&signed_out(m)))
    }
}

impl Codec<LivenessMsg<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<Ctx>, CodecError> {
        liveness_in(dec("liveness message", &bytes, MAX_CERT)?)
    }

    fn encode(&self, m: &LivenessMsg<Ctx>) -> Result<Bytes, CodecError> {
        Ok(enc(&liveness_out(m)))
    }
}

impl Codec<StreamMessage<ProposalPart>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, CodecError> {
        let w: WireStream = dec("stream message", &bytes, MAX_PART)?;
        if w.stream_id.len() > MAX_ID_BYTES {
            return Err(invalid("stream message", "stream id too long"));
        }
        let content = match w.part {
            None => StreamContent::Fin,
            Some(p) => StreamContent::Data(part_in(p)?),
        };
        Ok(StreamMessage::new(
            StreamId::new(Bytes::from(w.stream_id)),
            w.sequence,
            content,
        ))
    }

    fn encode(&self, m: &StreamMessage<ProposalPart>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireStream {
            stream_id: m.stream_id.to_bytes().to_vec(),
            sequence: m.sequence,
            part: match &m.content {
                StreamContent::Data(p) => Some(part_out(p)),
                StreamContent::Fin => None,
            },
        }))
    }
}

impl Codec<ValidatorProof<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, CodecError> {
        let w: WireProof = dec("validator proof", &bytes, MAX_SMALL)?;
        if w.public_key.len() > MAX_ID_BYTES || w.peer_id.len() > MAX_ID_BYTES {
            return Err(invalid("validator proof", "key or peer id too long"));
        }
        Ok(ValidatorProof::new(
            w.public_key,
            w.peer_id,
            EdSignature::from_bytes(w.signature),
        ))
    }

    fn encode(&self, p: &ValidatorProof<Ctx>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireProof {
            public_key: p.public_key.clone(),
            peer_id: p.peer_id.clone(),
            signature: sig_out(&p.signature),
        }))
    }
}

impl Codec<Status<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Status<Ctx>, CodecError> {
        let w: WireStatus = dec("sync status", &bytes, MAX_SMALL)?;
        Ok(Status {
            peer_id: peer_in("sync status", &w.peer_id)?,
            tip_height: Height(w.tip),
            history_min_height: Height(w.history_min),
        })
    }

    fn encode(&self, s: &Status<Ctx>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireStatus {
            peer_id: s.peer_id.to_bytes(),
            tip: s.tip_height.0,
            history_min: s.history_min_height.0,
        }))
    }
}

impl Codec<Request<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Request<Ctx>, CodecError> {
        let w: WireRequest = dec("sync request", &bytes, MAX_SMALL)?;
        if w.from > w.to {
            return Err(invalid("sync request", "empty range"));
        }
        let range: RangeInclusive<Height> = Height(w.from)..=Height(w.to);
        Ok(Request::ValueRequest(ValueRequest::new(range)))
    }

    fn encode(&self, r: &Request<Ctx>) -> Result<Bytes, CodecError> {
        let Request::ValueRequest(v) = r;
        Ok(enc(&WireRequest {
            from: v.range.start().0,
            to: v.range.end().0,
        }))
    }
}

fn response_out(r: &Response<Ctx>) -> WireResponse {
    let Response::ValueResponse(v) = r;
    WireResponse {
        start: v.start_height.0,
        values: v.values.iter().map(decided_out).collect(),
    }
}

impl Codec<Response<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Response<Ctx>, CodecError> {
        let w: WireResponse = dec("sync response", &bytes, MAX_RESPONSE)?;
        let values = w
            .values
            .into_iter()
            .map(decided_in)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Response::ValueResponse(ValueResponse::new(
            Height(w.start),
            values,
        )))
    }

    fn encode(&self, r: &Response<Ctx>) -> Result<Bytes, CodecError> {
        Ok(enc(&response_out(r)))
    }
}

impl HasEncodedLen<Response<Ctx>> for WireCodec {
    fn encoded_len(&self, r: &Response<Ctx>) -> Result<usize, CodecError> {
        Ok(1 + encode(&response_out(r)).len())
    }
}

impl Codec<ProposedValue<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<Ctx>, CodecError> {
        let w: WireProposed = dec("proposed value", &bytes, MAX_CERT)?;
        Ok(ProposedValue {
            height: Height(w.height),
            round: defined("proposed value", w.round)?,
            valid_round: round_in(w.valid_round),
            proposer: Address(w.proposer),
            value: BlockId(w.block),
            validity: if w.valid {
                Validity::Valid
            } else {
                Validity::Invalid
            },
        })
    }

    fn encode(&self, v: &ProposedValue<Ctx>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireProposed {
            height: v.height.0,
            round: round_out(v.round),
            valid_round: round_out(v.valid_round),
            proposer: v.proposer.0,
            block: v.value.0,
            valid: matches!(v.validity, Validity::Valid),
        }))
    }
}

impl Codec<PolkaCertificate<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<Ctx>, CodecError> {
        polka_in(dec("polka certificate", &bytes, MAX_CERT)?)
    }

    fn encode(&self, c: &PolkaCertificate<Ctx>) -> Result<Bytes, CodecError> {
        Ok(enc(&polka_out(c)))
    }
}

/// The engine's certificate for a committed block as sync serves it, from core's compact form.
pub fn engine_commit(
    height: Height,
    block: BlockId,
    commit: &credledger_core::block::CommitCertificate,
    set: &credledger_core::block::ValidatorSet,
) -> ExtendedCommitCertificate<Ctx> {
    let mut sigs = commit.signatures.iter();
    let mut out = Vec::with_capacity(commit.signatures.len());
    for (i, v) in set.validators().iter().enumerate() {
        let signed = commit
            .signers
            .get(i / 8)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0);
        if signed && let Some(s) = sigs.next() {
            out.push(ExtendedCommitSignature {
                address: Address(v.public_key),
                signature: EdSignature::from_bytes(s.0),
                extension: None,
            });
        }
    }
    ExtendedCommitCertificate {
        height,
        round: Round::new(commit.round.0),
        value_id: block,
        commit_signatures: out,
    }
}

/// The engine's plain commit certificate from an extended one (vote extensions are unused).
pub fn plain_commit(c: &ExtendedCommitCertificate<Ctx>) -> MCommit<Ctx> {
    MCommit {
        height: c.height,
        round: c.round,
        value_id: c.value_id,
        commit_signatures: c
            .commit_signatures
            .iter()
            .map(|s| CommitSignature::new(s.address, s.signature))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
