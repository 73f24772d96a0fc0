//! T-Road log anchors: each a consistent extension of the last (spec/transactions.md §4).

use super::{Ctx, Outcome, StateReader, TxError};
use crate::hash::Domain;
use crate::merkle::verify_consistency;
use crate::state::{AnchorRecord, StateKey, StateValue};
use crate::tx::{AnchorTx, Signed};

pub(super) fn apply<R: StateReader>(ctx: &mut Ctx<'_, '_, R>, s: &Signed<AnchorTx>) -> Outcome {
    let a = &s.body;
    let key = StateKey::LogSource(a.source.clone());
    // §4.2 rule 1.
    let mut source = match ctx.get(&key) {
        Some(StateValue::LogSource(r)) if r.removed_at.is_none() => r,
        Some(StateValue::LogSource(_)) => {
            return Outcome::Unauthorized(TxError::LogSourceRemoved(a.source.clone()));
        }
        Some(_) => return Outcome::Unauthorized(TxError::CorruptState("log source")),
        None => return Outcome::Unauthorized(TxError::UnknownLogSource(a.source.clone())),
    };
    let message = Signed::signing_message(&ctx.env.chain_id, a);
    if !ctx.already_checked(&source.public_key)
        && source
            .public_key
            .verify_zip215(Domain::SignTransaction, &message, &s.signature)
            .is_err()
    {
        return Outcome::Unauthorized(TxError::BadSignature);
    }
    // §4.2 rule 2: the sequence number is the anchor chain's nonce; a refused anchor does not
    // spend it, since the next one must link to the last accepted head anyway.
    let expected = source.last_sequence.saturating_add(1);
    if a.sequence != expected {
        return Outcome::Unauthorized(TxError::WrongSequence {
            expected,
            got: a.sequence,
        });
    }
    if a.previous_root != source.last_root {
        return Outcome::Unauthorized(TxError::BrokenLink {
            expected: source.last_root,
            got: a.previous_root,
        });
    }
    // §4.2 rule 3. An empty log has nothing to anchor.
    let consistent = if a.tree_size == 0 {
        Err(crate::merkle::MerkleError::BadSizes {
            size1: source.last_size,
            size2: 0,
        })
    } else if source.last_size == 0 {
        if a.consistency.is_empty() {
            Ok(())
        } else {
            Err(crate::merkle::MerkleError::WrongProofLength {
                got: a.consistency.len(),
                expected: 0,
            })
        }
    } else {
        verify_consistency(
            source.last_size,
            a.tree_size,
            &source.last_root,
            &a.root,
            &a.consistency,
        )
    };
    if let Err(error) = consistent {
        return Outcome::Unauthorized(TxError::Inconsistent {
            last_size: source.last_size,
            size: a.tree_size,
            error,
        });
    }
    // §4.2 rule 4.
    let record = AnchorRecord {
        tree_size: a.tree_size,
        root: a.root,
        anchored_at: ctx.env.time,
        height: ctx.env.height,
    };
    ctx.put(
        StateKey::LogAnchor(a.source.clone(), a.sequence),
        StateValue::LogAnchor(record),
    );
    source.last_sequence = a.sequence;
    source.last_size = a.tree_size;
    source.last_root = a.root;
    ctx.put(key, StateValue::LogSource(source));
    Outcome::Done
}
