//! The bytes of every message the engine sends to peers or writes to its log: canonical borsh
//! of small wire structs behind a version byte, each decoded with a size limit
//! (spec/blocks.md §6). Malachite's types never reach borsh directly; they convert here.

use std::ops::RangeInclusive;

use arc_malachitebft_app_channel::app::consensus::LivenessMsg;
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round, ValidatorProof,
    Validity,
};
use arc_malachitebft_app_channel::app::types::sync::{Request, Response, Status};
use arc_malachitebft_app_channel::app::types::{ProposedValue, SignedConsensusMsg};
use arc_malachitebft_signing_ed25519::Signature as EdSignature;
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use credledger_core::block::MAX_BLOCK_BYTES;
use credledger_core::encoding::{DecodeError, decode, encode};

use super::context::{Address, BlockId, Ctx, Height, ProposalPart};

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
pub(super) const MAX_ID_BYTES: usize = 128;

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

pub(super) fn invalid(what: &'static str, reason: impl Into<String>) -> CodecError {
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

mod wire;

use wire::*;

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

#[cfg(test)]
mod tests;
