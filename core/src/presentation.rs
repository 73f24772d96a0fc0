//! Presentations, what a QR code carries: compact (credential, disclosed claims, signature) or
//! full (plus the status proof, header and commit), and their text forms (spec/presentations.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::block::{CommitCertificate, Header};
use crate::credential::{CredentialBody, Disclosure};
use crate::encoding::{DecodeError, decode, encode};
use crate::sig::Signature;
use crate::smt::StateProof;
use crate::state::CredentialRecord;

/// At most this many bytes in a binary presentation.
pub const MAX_PRESENTATION_BYTES: usize = 4096;
/// At most this many characters in a presentation's text form (Base45 of the largest binary).
pub const MAX_PRESENTATION_TEXT: usize = 8 + MAX_PRESENTATION_BYTES / 2 * 3 + 3;
/// Prefix of the QR form: Base45 in QR alphanumeric mode, the smallest QR code.
pub const QR_PREFIX: &str = "CL1:";
/// Prefix of the URL form: base64url without padding, safe in a URL path.
pub const URL_PREFIX: &str = "cl1.";

/// The credential and what its holder chose to disclose; status comes from the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CompactPresentation {
    /// The signed body.
    pub body: CredentialBody,
    /// The issuer's signature.
    pub signature: Signature,
    /// The disclosed claims.
    pub disclosure: Disclosure,
}

/// The ledger's word on a credential, checkable offline against genesis.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StatusEvidence {
    /// The credential's state record.
    pub record: CredentialRecord,
    /// Proof of the record under the header's state root.
    pub proof: StateProof,
    /// A committed header.
    pub header: Header,
    /// The commit certificate of that header.
    pub commit: CommitCertificate,
}

/// A presentation, as a QR code or link carries it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "form")]
// Presentations are decoded once per verification and moved, not copied in bulk; boxing the
// full form would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Presentation {
    /// Needs the ledger for status.
    Compact(CompactPresentation),
    /// Carries its own status evidence.
    Full {
        /// The credential part.
        compact: CompactPresentation,
        /// The status evidence.
        evidence: StatusEvidence,
    },
}

/// Why a presentation's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresentationError {
    /// The text is longer than [`MAX_PRESENTATION_TEXT`].
    #[error("presentation text is {len} characters; at most {max} allowed")]
    TooLong {
        /// Text length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The text starts with neither known prefix.
    #[error("not a credledger presentation: expected prefix {QR_PREFIX:?} or {URL_PREFIX:?}")]
    UnknownPrefix,
    /// The Base45 or base64url text is invalid or not in canonical form.
    #[error("invalid {0} text")]
    BadText(&'static str),
    /// The bytes do not decode.
    #[error("presentation bytes: {0}")]
    Decode(#[from] DecodeError),
}

impl Presentation {
    /// The credential part.
    pub fn compact(&self) -> &CompactPresentation {
        match self {
            Presentation::Compact(c) => c,
            Presentation::Full { compact, .. } => compact,
        }
    }

    /// The status evidence, for a full presentation.
    pub fn evidence(&self) -> Option<&StatusEvidence> {
        match self {
            Presentation::Compact(_) => None,
            Presentation::Full { evidence, .. } => Some(evidence),
        }
    }

    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Strict decoding of outside bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Presentation, DecodeError> {
        decode(bytes, MAX_PRESENTATION_BYTES)
    }

    /// The QR form: `CL1:` + Base45 (RFC 9285), all in the QR alphanumeric character set.
    pub fn to_qr_text(&self) -> String {
        format!("{QR_PREFIX}{}", base45::encode(self.to_bytes()))
    }

    /// The URL form: `cl1.` + base64url without padding.
    pub fn to_url_text(&self) -> String {
        format!("{URL_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }

    /// Reads either text form; a trailing line break (as some scanners add) is ignored.
    pub fn from_text(text: &str) -> Result<Presentation, PresentationError> {
        if text.len() > MAX_PRESENTATION_TEXT {
            return Err(PresentationError::TooLong {
                len: text.len(),
                max: MAX_PRESENTATION_TEXT,
            });
        }
        let text = text.trim_end_matches(['\r', '\n']);
        let bytes = if let Some(b45) = text.strip_prefix(QR_PREFIX) {
            let bytes = base45::decode(b45).map_err(|_| PresentationError::BadText("Base45"))?;
            // Base45 has one text per byte string; refuse any other spelling (spec/
            // presentations.md §2.4). The decoder refuses letters outside the alphabet, a
            // single leftover letter and a group of three over 65535, but keeps the low byte
            // of a final pair over 255: only that pair needs encoding again to compare.
            if b45.len() % 3 == 2 {
                let canonical = bytes.last().map(|b| base45::encode([*b]));
                if canonical.as_deref() != b45.get(b45.len() - 2..) {
                    return Err(PresentationError::BadText("Base45"));
                }
            }
            bytes
        } else if let Some(b64) = text.strip_prefix(URL_PREFIX) {
            URL_SAFE_NO_PAD
                .decode(b64)
                .map_err(|_| PresentationError::BadText("base64url"))?
        } else {
            return Err(PresentationError::UnknownPrefix);
        };
        Ok(Presentation::from_bytes(&bytes)?)
    }
}
