//! Governance actions, approved by a threshold of council keys (spec/transactions.md §3).

use super::{Ctx, Outcome, StateReader, TxError};
use crate::block::ValidatorSet;
use crate::bounded::ShortVec;
use crate::ids::{IssuerId, KindId, Nonce};
use crate::merkle::empty_root;
use crate::state::{
    GovernanceRecord, IssuerKeyRecord, IssuerRecord, LogSourceRecord, StateKey, StateValue,
};
use crate::tx::{Approval, GovernanceAction, GovernanceProposal, check_approvals};

pub(super) fn apply<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    proposal: &GovernanceProposal,
    approvals: &[Approval],
) -> Outcome {
    let council = match ctx.get(&StateKey::Governance) {
        Some(StateValue::Governance(g)) => g,
        _ => return Outcome::Unauthorized(TxError::CorruptState("governance")),
    };
    // §3.3 rules 1–2.
    if let Err(e) = check_approvals(&ctx.env.chain_id, &council, proposal, approvals) {
        return Outcome::Unauthorized(e.into());
    }
    let spent_record = GovernanceRecord {
        next_nonce: Nonce(council.next_nonce.0.saturating_add(1)),
        ..council
    };
    let spent = (
        StateKey::Governance,
        StateValue::Governance(spent_record.clone()),
    );
    ctx.put(spent.0.clone(), spent.1.clone());
    match act(ctx, &proposal.action, spent_record) {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Refused(e, vec![spent]),
    }
}

/// §3.3 rule 3: the action's effect.
fn act<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    action: &GovernanceAction,
    council: GovernanceRecord,
) -> Result<(), TxError> {
    let t = ctx.env.time;
    match action {
        GovernanceAction::AddIssuer {
            issuer,
            name_zh,
            name_en,
            kinds,
        } => {
            if ctx.get(&StateKey::Issuer(issuer.clone())).is_some() {
                return Err(TxError::IssuerExists(issuer.clone()));
            }
            check_kinds(ctx, kinds)?;
            let record = IssuerRecord {
                id: issuer.clone(),
                name_zh: name_zh.clone(),
                name_en: name_en.clone(),
                kinds: kinds.clone(),
                removed_at: None,
            };
            ctx.put(StateKey::Issuer(issuer.clone()), StateValue::Issuer(record));
            ctx.put(
                StateKey::IssuerNonce(issuer.clone()),
                StateValue::Nonce { next: Nonce(0) },
            );
        }
        GovernanceAction::SetIssuerKinds { issuer, kinds } => {
            let mut record = present_issuer(ctx, issuer)?;
            check_kinds(ctx, kinds)?;
            record.kinds = kinds.clone();
            ctx.put(StateKey::Issuer(issuer.clone()), StateValue::Issuer(record));
        }
        GovernanceAction::RemoveIssuer { issuer } => {
            let mut record = present_issuer(ctx, issuer)?;
            record.removed_at = Some(t);
            ctx.put(StateKey::Issuer(issuer.clone()), StateValue::Issuer(record));
        }
        GovernanceAction::DefineKind { kind } => {
            if let Some(StateValue::Kind(old)) = ctx.get(&StateKey::Kind(kind.id.clone())) {
                // Verifiers take claim keys from the schema, so they are fixed once defined.
                let keys = |k: &crate::state::KindDef| {
                    k.claims.iter().map(|c| c.key.clone()).collect::<Vec<_>>()
                };
                if keys(&old) != keys(kind) {
                    return Err(TxError::KindClaimsChanged(kind.id.clone()));
                }
            }
            ctx.put(
                StateKey::Kind(kind.id.clone()),
                StateValue::Kind(kind.clone()),
            );
        }
        GovernanceAction::AddIssuerKey {
            issuer,
            key_id,
            public_key,
            valid_from,
        } => {
            present_issuer(ctx, issuer)?;
            let key = StateKey::IssuerKey(issuer.clone(), key_id.clone());
            if ctx.get(&key).is_some() {
                return Err(TxError::KeyExists {
                    issuer: issuer.clone(),
                    key_id: key_id.clone(),
                });
            }
            public_key
                .prepare()
                .map_err(|_| TxError::BadPublicKey(*public_key))?;
            let record = IssuerKeyRecord {
                issuer: issuer.clone(),
                key_id: key_id.clone(),
                public_key: *public_key,
                valid_from: *valid_from,
                revoked_from: None,
            };
            ctx.put(key, StateValue::IssuerKey(record));
        }
        GovernanceAction::RevokeIssuerKey {
            issuer,
            key_id,
            effective,
        } => {
            let key = StateKey::IssuerKey(issuer.clone(), key_id.clone());
            let mut record = match ctx.get(&key) {
                Some(StateValue::IssuerKey(k)) => k,
                _ => {
                    return Err(TxError::UnknownKey {
                        issuer: issuer.clone(),
                        key_id: key_id.clone(),
                    });
                }
            };
            // A revocation can only be moved earlier (a compromise found to start sooner).
            if let Some(r) = record.revoked_from.filter(|r| effective >= r) {
                return Err(TxError::AlreadyRevoked {
                    key_id: key_id.clone(),
                    revoked_from: r,
                });
            }
            record.revoked_from = Some(*effective);
            ctx.put(key, StateValue::IssuerKey(record));
        }
        GovernanceAction::AddValidator { validator } => {
            let mut list = validators(ctx)?.validators().to_vec();
            list.push(validator.clone());
            let set = ValidatorSet::new(list).map_err(TxError::ValidatorSet)?;
            ctx.put(StateKey::Validators, StateValue::Validators { set });
        }
        GovernanceAction::RemoveValidator { public_key } => {
            let old = validators(ctx)?;
            if old.index_of(public_key).is_none() {
                return Err(TxError::UnknownValidator(*public_key));
            }
            let list = old
                .validators()
                .iter()
                .filter(|v| v.public_key != *public_key)
                .cloned()
                .collect();
            let set = ValidatorSet::new(list).map_err(TxError::ValidatorSet)?;
            ctx.put(StateKey::Validators, StateValue::Validators { set });
        }
        GovernanceAction::AddLogSource {
            source,
            name,
            public_key,
        } => {
            let key = StateKey::LogSource(source.clone());
            if ctx.get(&key).is_some() {
                return Err(TxError::LogSourceExists(source.clone()));
            }
            public_key
                .prepare()
                .map_err(|_| TxError::BadPublicKey(*public_key))?;
            let record = LogSourceRecord {
                id: source.clone(),
                name: name.clone(),
                public_key: *public_key,
                last_sequence: 0,
                last_size: 0,
                last_root: empty_root(),
                removed_at: None,
            };
            ctx.put(key, StateValue::LogSource(record));
        }
        GovernanceAction::RemoveLogSource { source } => {
            let key = StateKey::LogSource(source.clone());
            let mut record = match ctx.get(&key) {
                Some(StateValue::LogSource(s)) if s.removed_at.is_none() => s,
                Some(StateValue::LogSource(_)) => {
                    return Err(TxError::LogSourceRemoved(source.clone()));
                }
                _ => return Err(TxError::UnknownLogSource(source.clone())),
            };
            record.removed_at = Some(t);
            ctx.put(key, StateValue::LogSource(record));
        }
        GovernanceAction::SetGovernance { keys, threshold } => {
            let mut sorted = keys.to_vec();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != keys.len() {
                return Err(TxError::BadCouncil("a key appears twice".into()));
            }
            if *threshold == 0 || usize::from(*threshold) > sorted.len() {
                return Err(TxError::BadCouncil(format!(
                    "threshold {threshold} of {} keys",
                    sorted.len()
                )));
            }
            if let Some(k) = sorted.iter().find(|k| k.prepare().is_err()) {
                return Err(TxError::BadPublicKey(*k));
            }
            let keys = ShortVec::new(sorted).map_err(|e| TxError::BadCouncil(e.to_string()))?;
            let record = GovernanceRecord {
                keys,
                threshold: *threshold,
                next_nonce: council.next_nonce,
            };
            ctx.put(StateKey::Governance, StateValue::Governance(record));
        }
    }
    Ok(())
}

fn present_issuer<R: StateReader>(
    ctx: &Ctx<'_, '_, R>,
    issuer: &IssuerId,
) -> Result<IssuerRecord, TxError> {
    match ctx.get(&StateKey::Issuer(issuer.clone())) {
        Some(StateValue::Issuer(r)) if r.removed_at.is_none() => Ok(r),
        Some(StateValue::Issuer(_)) => Err(TxError::IssuerRemoved(issuer.clone())),
        _ => Err(TxError::UnknownIssuer(issuer.clone())),
    }
}

fn check_kinds<R: StateReader>(ctx: &Ctx<'_, '_, R>, kinds: &[KindId]) -> Result<(), TxError> {
    if kinds.windows(2).any(|w| w[0] >= w[1]) {
        return Err(TxError::BadKinds("not sorted and distinct".into()));
    }
    match kinds.iter().find(|k| {
        !matches!(
            ctx.get(&StateKey::Kind((*k).clone())),
            Some(StateValue::Kind(_))
        )
    }) {
        Some(k) => Err(TxError::BadKinds(format!("{k} is not defined"))),
        None => Ok(()),
    }
}

fn validators<R: StateReader>(ctx: &Ctx<'_, '_, R>) -> Result<ValidatorSet, TxError> {
    match ctx.get(&StateKey::Validators) {
        Some(StateValue::Validators { set }) => Ok(set),
        _ => Err(TxError::CorruptState("validators")),
    }
}
