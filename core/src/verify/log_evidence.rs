//! Evidence that a T-Road log record existed, unaltered, by a time: the record's place in its
//! source's log tree, that tree's head as the ledger anchored it, and the ledger's proof of
//! that anchor (spec/troad-log.md §6). Checked offline against genesis alone.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{Check, Rejection, SetChange, TrustAnchor, check_header, learn_set_changes};
use crate::block::{AnchorEntry, CommitCertificate, Header};
use crate::bounded::BoundedVec;
use crate::encoding::{decode, encode};
use crate::hash::Digest;
use crate::ids::{Height, LogSourceId, Timestamp};
use crate::merkle::{leaf_hash, verify_inclusion};
use crate::state::AnchorRecord;
use crate::troad::LogRecord;

/// The evidence format version this code writes and reads (2 added the validator-set changes;
/// 3 proves the anchor in its block's `anchors_root` instead of the state map).
pub const EVIDENCE_VERSION: u8 = 3;
/// Largest evidence bundle read, in bytes. A bundle is ~2 KB even for 10^9 records; each
/// validator-set change it carries adds a header, a commit and a set (~0.6 KB for 4 validators,
/// ~22 KB for 256).
pub const MAX_EVIDENCE_BYTES: usize = 256 * 1024;
/// Most validator-set changes one bundle carries.
pub const MAX_SET_CHANGES: usize = 64;
/// First bytes of a bundle file, so that a wrong file is named as such.
pub const EVIDENCE_MAGIC: &[u8; 4] = b"CLE\x01";

/// A source's anchored tree head with the ledger's proof of it: its place among the anchors
/// its block accepted, under that block's header (spec/troad-log.md §6).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorEvidence {
    /// The log source.
    pub source: LogSourceId,
    /// The anchor's sequence number in the source's anchor chain.
    pub sequence: u64,
    /// The anchor as the block accepted it (and the state holds it).
    pub record: AnchorRecord,
    /// Its position among the anchors the block accepted, from 0.
    pub position: u32,
    /// How many anchors the block accepted.
    pub anchors: u32,
    /// Its audit path in the block's anchors tree, leaf side first.
    pub path: BoundedVec<Digest, 32>,
    /// The anchoring block's header (height `record.height`).
    pub header: Header,
    /// The header's commit certificate.
    pub commit: CommitCertificate,
}

impl AnchorEvidence {
    /// The entry this evidence proves.
    pub fn entry(&self) -> AnchorEntry {
        AnchorEntry {
            source: self.source.clone(),
            sequence: self.sequence,
            record: self.record.clone(),
        }
    }
}

/// An evidence bundle: one record's inclusion in an anchored head.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LogEvidence {
    /// [`EVIDENCE_VERSION`].
    pub version: u8,
    /// The record's position in the log, counting from 0 (line `index + 1` of the log file).
    pub index: u64,
    /// The record's digest (spec/troad-log.md §3).
    pub record_digest: Digest,
    /// Its audit path in the anchored tree, leaf side first.
    pub inclusion: BoundedVec<Digest, 64>,
    /// The anchored head and its proof.
    pub anchor: AnchorEvidence,
    /// Every validator-set change before `anchor.header`, oldest first, so that genesis alone
    /// tells who signs that header (spec/verification.md §3.1). Empty while the set is
    /// genesis's.
    pub set_changes: BoundedVec<SetChange, MAX_SET_CHANGES>,
}

/// What a checked bundle proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogVerdict {
    /// The log source.
    pub source: LogSourceId,
    /// The record's position (from 0).
    pub index: u64,
    /// The record's digest.
    pub record_digest: Digest,
    /// The anchor's sequence number.
    pub sequence: u64,
    /// Size of the anchored log.
    pub tree_size: u64,
    /// Root of the anchored log.
    pub root: Digest,
    /// The record existed, unaltered, no later than this block time.
    pub anchored_at: Timestamp,
    /// Height of the anchoring block, whose header the anchor is proven under.
    pub anchored_height: Height,
    /// Validator-set changes since genesis that the bundle carried and that were learned.
    pub set_changes: usize,
    /// Whether a record was given and matched the digest.
    pub record_checked: bool,
    /// Checks made, in order; every one passed.
    pub checks: Vec<Check>,
}

impl LogEvidence {
    /// The bundle's bytes: [`EVIDENCE_MAGIC`] then the canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = EVIDENCE_MAGIC.to_vec();
        out.extend_from_slice(&encode(self));
        out
    }

    /// Reads a bundle strictly, within [`MAX_EVIDENCE_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<LogEvidence, Rejection> {
        if bytes.len() > MAX_EVIDENCE_BYTES {
            return Err(Rejection::Oversized {
                len: bytes.len(),
                max: MAX_EVIDENCE_BYTES,
            });
        }
        let body = bytes
            .strip_prefix(EVIDENCE_MAGIC.as_slice())
            .ok_or_else(|| Rejection::MalformedEvidence {
                reason: "not a credledger evidence bundle (wrong first bytes)".into(),
            })?;
        let ev: LogEvidence =
            decode(body, MAX_EVIDENCE_BYTES).map_err(|e| Rejection::MalformedEvidence {
                reason: e.to_string(),
            })?;
        if ev.version != EVIDENCE_VERSION {
            return Err(Rejection::UnsupportedVersion {
                version: ev.version,
            });
        }
        Ok(ev)
    }
}

/// Checks an anchored head against the trust anchor: a committed header of this chain, at the
/// anchor's height and time, whose `anchors_root` holds the anchor (spec/troad-log.md §6
/// steps 2–3).
pub fn verify_anchor(ev: &AnchorEvidence, anchor: &TrustAnchor) -> Result<(), Rejection> {
    let h = &ev.header;
    check_header(h, &ev.commit, anchor)?;
    let refuse = |reason: String| Rejection::AnchorNotInBlock {
        height: h.height,
        reason,
    };
    if h.height != ev.record.height || h.time != ev.record.anchored_at {
        return Err(refuse(format!(
            "the anchor names block {} at {}, the header is block {} at {}",
            ev.record.height, ev.record.anchored_at, h.height, h.time
        )));
    }
    verify_inclusion(
        &leaf_hash(&ev.entry().digest().0),
        u64::from(ev.position),
        u64::from(ev.anchors),
        &ev.path,
        &h.anchors_root,
    )
    .map_err(|e| refuse(e.to_string()))
}

/// Checks a bundle offline (spec/troad-log.md §6); with `record`, also that it is the record
/// the bundle speaks of.
pub fn verify_log_evidence(
    ev: &LogEvidence,
    anchor: &TrustAnchor,
    record: Option<&LogRecord>,
) -> Result<LogVerdict, Rejection> {
    let mut checks = vec![Check::Decoding];
    // §6 step 0: the record, when given, is the one whose digest the bundle carries.
    if let Some(r) = record {
        let digest = r.digest();
        if digest != ev.record_digest {
            return Err(Rejection::RecordMismatch {
                bundle: ev.record_digest,
                record: digest,
            });
        }
        checks.push(Check::Record);
    }
    // §6 step 1: the sets that signed after genesis, each certified by the one before.
    let anchor = learn_set_changes(anchor, &ev.set_changes)?;
    // §6 steps 2–3.
    verify_anchor(&ev.anchor, &anchor)?;
    checks.push(Check::Anchoring);
    // §6 step 4: the record's leaf is at `index` in the anchored tree.
    let a = &ev.anchor.record;
    verify_inclusion(
        &leaf_hash(&ev.record_digest.0),
        ev.index,
        a.tree_size,
        &ev.inclusion,
        &a.root,
    )
    .map_err(|reason| Rejection::NotInLog {
        index: ev.index,
        tree_size: a.tree_size,
        reason,
    })?;
    checks.push(Check::Inclusion);
    Ok(LogVerdict {
        source: ev.anchor.source.clone(),
        index: ev.index,
        record_digest: ev.record_digest,
        sequence: ev.anchor.sequence,
        tree_size: a.tree_size,
        root: a.root,
        anchored_at: a.anchored_at,
        anchored_height: a.height,
        set_changes: ev.set_changes.len(),
        record_checked: record.is_some(),
        checks,
    })
}

#[cfg(test)]
mod tests;
