//! A node's answer about one state entry: the value (or its absence) with a proof under a
//! committed header and that header's commit (spec/http-api.md §3). Served by the node, and
//! checked here once for every client: the verifier, its auditor tools and the issuer CLI.

use serde::{Deserialize, Serialize};

use super::{Rejection, TrustAnchor, check_header};
use crate::block::{CommitCertificate, Header, ValidatorSet};
use crate::presentation::StatusEvidence;
use crate::smt::StateProof;
use crate::state::{StateKey, StateValue};

/// One state entry (or its absence), proven under a committed header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateAnswer {
    /// The entry, or `None` if absent.
    pub value: Option<StateValue>,
    /// Proof of presence or absence under `header.state_root`.
    pub proof: StateProof,
    /// The committed header.
    pub header: Header,
    /// Its commit certificate.
    pub commit: CommitCertificate,
}

/// A committed header as a node serves it (`GET /v1/headers/{h}` and each event of the header
/// stream, spec/http-api.md), with the next validator set when the header announces a change.
/// Not yet checked: a light client advances with it, or learns a set change from it
/// (`learn_set_change`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderAnswer {
    /// The header.
    pub header: Header,
    /// Its commit certificate.
    pub commit: CommitCertificate,
    /// The set that signs from the next height, present when it differs from this one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_validators: Option<ValidatorSet>,
}

/// A credential's status evidence is the answer about its state entry, with the record present.
impl From<StatusEvidence> for StateAnswer {
    fn from(ev: StatusEvidence) -> StateAnswer {
        StateAnswer {
            value: Some(StateValue::Credential(ev.record)),
            proof: ev.proof,
            header: ev.header,
            commit: ev.commit,
        }
    }
}

impl StateAnswer {
    /// Checks that the header is committed on the anchor's chain (spec/verification.md §2.6)
    /// and that the proof shows exactly this value (or absence) at `key` under its state root.
    pub fn check(&self, key: &StateKey, anchor: &TrustAnchor) -> Result<(), Rejection> {
        check_header(&self.header, &self.commit, anchor)?;
        self.check_proof(key)
    }

    /// The second half of [`StateAnswer::check`], for a caller that has checked this very
    /// header before: the proof shows exactly this value (or absence) at `key`.
    pub fn check_proof(&self, key: &StateKey) -> Result<(), Rejection> {
        let value_hash = self.value.as_ref().map(StateValue::hash);
        self.proof
            .verify(&self.header.state_root, &key.hash(), value_hash.as_ref())
            .map_err(|reason| Rejection::BadStateProof {
                height: self.header.height,
                reason,
            })
    }
}
