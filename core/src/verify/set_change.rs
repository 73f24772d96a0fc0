//! A validator-set change with its proof: the header that announces the new set, that header's
//! commit, and the set itself. Carried where a verifier that trusts genesis alone must learn the
//! set that signs a later header, e.g. in an evidence bundle (spec/verification.md §3.1).

use std::borrow::Cow;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{HeaderAnswer, Rejection, TrustAnchor, check_header, learn_set_change};
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

/// Learns the change a node's header answer at height `at` announces, if it announces one
/// (spec/verification.md §3.1): the header must be the one asked for and committed under the
/// set the anchor holds for `at`. `Ok(None)` if it announces no change (the node's list of
/// changes was wrong); the change, learned into `anchor`, otherwise.
pub fn learn_from_answer(
    anchor: &mut TrustAnchor,
    at: Height,
    answer: HeaderAnswer,
) -> Result<Option<SetChange>, Rejection> {
    let malformed = |reason: String| Rejection::MalformedEvidence { reason };
    if answer.header.height != at {
        return Err(malformed(format!(
            "asked for header {at}, got header {}",
            answer.header.height
        )));
    }
    check_header(&answer.header, &answer.commit, anchor)?;
    if answer.header.next_validators_hash == answer.header.validators_hash {
        return Ok(None);
    }
    let change = SetChange::from_answer(answer).ok_or_else(|| {
        malformed(format!(
            "header {at} announces a new validator set but the answer does not carry it"
        ))
    })?;
    learn_set_change(
        anchor,
        &change.header,
        &change.commit,
        &change.next_validators,
    )?;
    Ok(Some(change))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::HEADER_VERSION;
    use crate::hash::Digest;
    use crate::ids::Timestamp;
    use crate::testkit::{World, sign_commit};

    #[test]
    fn a_node_answer_teaches_a_change_or_shows_there_was_none() {
        let w = World::new(4, 5);
        let old = w.set.clone();
        let new = ValidatorSet::new(old.validators()[..4].to_vec()).unwrap();
        let header = |height: u64, next: &ValidatorSet| Header {
            version: HEADER_VERSION,
            chain_id: w.devnet.genesis.chain_id.clone(),
            height: Height(height),
            time: Timestamp(height),
            previous: Digest([1; 32]),
            transactions_root: Digest([2; 32]),
            state_root: Digest([3; 32]),
            anchors_root: Digest([4; 32]),
            validators_hash: old.hash(),
            next_validators_hash: next.hash(),
            proposer: 0,
        };
        let answer = |h: Header, next: Option<&ValidatorSet>| HeaderAnswer {
            commit: sign_commit(&w.devnet, &old, &h, 4),
            header: h,
            next_validators: next.cloned(),
        };
        let mut anchor = w.anchor();

        // A listed height where nothing changed: learned as no change.
        let same = answer(header(7, &old), None);
        assert_eq!(
            learn_from_answer(&mut anchor, Height(7), same.clone()),
            Ok(None)
        );
        // The header must be the one asked for, and a change must carry its set.
        assert!(matches!(
            learn_from_answer(&mut anchor, Height(8), same),
            Err(Rejection::MalformedEvidence { .. })
        ));
        assert!(matches!(
            learn_from_answer(&mut anchor, Height(9), answer(header(9, &new), None)),
            Err(Rejection::MalformedEvidence { .. })
        ));
        assert_eq!(anchor.validators_at(Height(10)), Some(&old));

        let change = learn_from_answer(&mut anchor, Height(9), answer(header(9, &new), Some(&new)))
            .unwrap()
            .unwrap();
        assert_eq!(change.signs_from(), Height(10));
        assert_eq!(anchor.validators_at(Height(10)), Some(&new));
        // The same change, as a bundle carries it, teaches a fresh anchor the same set.
        let fresh = w.anchor();
        let learned = learn_set_changes(&fresh, &[change]).unwrap();
        assert_eq!(learned.validators_at(Height(10)), Some(&new));
    }
}
