//! A validator-set change with its proof: the header that announces the new set, that header's
//! commit, and the set itself. Carried where a verifier that trusts genesis alone must learn the
//! set that signs a later header, e.g. in an evidence bundle (spec/verification.md §3.1).

use std::borrow::Cow;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{HeaderAnswer, Rejection, TrustAnchor, learn_set_change};
use crate::block::{CommitCertificate, Header, ValidatorSet};
use crate::ids::Height;

/// The header announcing a new validator set, its commit, and the set that signs from the next
/// height on.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SetChange {
    /// The header whose `next_validators_hash` names the new set.
    pub header: Header,
    /// Its commit, by the set in force at its height.
    pub commit: CommitCertificate,
    /// The new set.
    pub next_validators: ValidatorSet,
}

impl SetChange {
    /// A node's header answer that announces a change; `None` if it announces none.
    pub fn from_answer(a: HeaderAnswer) -> Option<SetChange> {
        Some(SetChange {
            header: a.header,
            commit: a.commit,
            next_validators: a.next_validators?,
        })
    }

    /// The height from which the new set signs.
    pub fn signs_from(&self) -> Height {
        Height(self.header.height.0.saturating_add(1))
    }
}

/// `anchor` with `changes` learned, oldest first, each certified by the set the anchor holds
/// for its height (spec/verification.md §3.1). Heights must strictly increase, so a change is
/// learned once and in the order the chain made them. Borrows `anchor` when there is nothing
/// to learn.
pub fn learn_set_changes<'a>(
    anchor: &'a TrustAnchor,
    changes: &[SetChange],
) -> Result<Cow<'a, TrustAnchor>, Rejection> {
    if changes.is_empty() {
        return Ok(Cow::Borrowed(anchor));
    }
    let mut learned = anchor.clone();
    let mut last: Option<Height> = None;
    for c in changes {
        if let Some(h) = last
            && c.header.height <= h
        {
            return Err(Rejection::MalformedEvidence {
                reason: format!(
                    "validator-set changes out of order: height {} after {h}",
                    c.header.height
                ),
            });
        }
        last = Some(c.header.height);
        learn_set_change(&mut learned, &c.header, &c.commit, &c.next_validators)?;
    }
    Ok(Cow::Owned(learned))
}
