//! What the verifier trusts: genesis, and headers its light client verified from genesis on
//! (core's `LightState` rule). Headers come from untrusted nodes; one that conflicts with a
//! verified header under a valid commit is a fork, and raises an alarm that stops every answer
//! but CANNOT CHECK until an operator looks (spec/verifier.md §2).

use std::sync::RwLock;

use credledger_core::block::{CommitCertificate, Header, ValidatorSet};
use credledger_core::genesis::Genesis;
use credledger_core::ids::{CredentialId, Height, IssuerId, Timestamp};
use credledger_core::light::{LightError, LightState};
use credledger_core::presentation::StatusEvidence;
use credledger_core::state::StateKey;
use credledger_core::verify::{Rejection, TrustAnchor, check_header};
use serde::Serialize;

/// How many verified headers are kept, so status evidence a little behind the tip is recognised
/// without checking its commit again.
pub const KEEP_HEADERS: u64 = 64;

/// Two commits for one height: the evidence an alarm keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForkAlarm {
    /// The height with two committed headers.
    pub height: Height,
    /// The header the light client had verified.
    pub verified: Header,
    /// The conflicting header, also with a valid commit.
    pub conflicting: Header,
    /// Its commit certificate.
    pub conflicting_commit: CommitCertificate,
    /// Which node served it.
    pub source: String,
}

/// What became of an offered header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Offered {
    /// It was the next header, verified; the light client moved to it.
    Advanced,
    /// Already verified (another node sent it first), or too old to compare.
    Known,
    /// Above the next height: the sender must start again from [`Trust::next_height`].
    Ahead {
        /// The height expected.
        expected: Height,
    },
}

/// Why an offered header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// It does not verify.
    #[error("header {height}: {source}")]
    Invalid {
        /// Its height.
        height: Height,
        /// What failed.
        source: LightError,
    },
    /// It conflicts with a verified header under a valid commit: a fork.
    #[error("fork at height {0}: two headers with valid commits")]
    Fork(Height),
    /// A header above the light client's height (status evidence from a node ahead of it)
    /// whose commit does not verify against the validators known for its height.
    #[error("header {height} is not yet verified and does not verify: {source}")]
    Unverified {
        /// Its height.
        height: Height,
        /// Core's reason.
        source: Rejection,
    },
}

/// The verifier's trusted view, behind one lock; readers hold it only to run `verify`.
#[derive(Debug)]
pub struct Trust {
    inner: RwLock<TrustState>,
}

/// The state behind [`Trust`]'s lock.
#[derive(Clone, Debug)]
pub struct TrustState {
    /// What `verify` trusts: genesis plus the verified headers and validator sets.
    pub anchor: TrustAnchor,
    /// The light client's position.
    pub light: LightState,
    /// Set once a fork is seen; never cleared while the process runs.
    pub alarm: Option<Box<ForkAlarm>>,
}

impl Trust {
    /// Trust as of genesis.
    pub fn from_genesis(genesis: &Genesis) -> anyhow::Result<Trust> {
        Ok(Trust {
            inner: RwLock::new(TrustState {
                anchor: TrustAnchor::from_genesis(genesis)?,
                light: LightState::from_genesis(genesis)?,
                alarm: None,
            }),
        })
    }

    /// Runs `f` under the read lock. A poisoned lock still holds consistent data, because every
    /// writer builds the new state before it swaps it in.
    pub fn read<T>(&self, f: impl FnOnce(&TrustState) -> T) -> T {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    /// Moves the light client to a saved position with the validator sets it had learned
    /// (see `saved.rs`).
    pub fn resume(&self, light: LightState, sets: Vec<(Height, ValidatorSet)>) {
        let mut s = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for (h, set) in sets {
            s.anchor.set_validators_from(h, set);
        }
        s.light = light;
    }

    /// Changes the registry (entries proven under a verified header); returns what `f` does.
    pub fn update_registry<T>(
        &self,
        f: impl FnOnce(&mut credledger_core::registry::Registry) -> T,
    ) -> T {
        let mut s = self.inner.write().unwrap_or_else(|e| e.into_inner());
        f(s.anchor.registry_mut())
    }

    /// Height and time of the last verified header.
    pub fn tip(&self) -> (Height, Timestamp) {
        self.read(|s| (s.light.height, s.light.time))
    }

    /// The height the light client needs next.
    pub fn next_height(&self) -> Height {
        self.read(|s| s.light.height.next().unwrap_or(s.light.height))
    }

    /// The alarm, if one was raised.
    pub fn alarm(&self) -> Option<ForkAlarm> {
        self.read(|s| s.alarm.as_deref().cloned())
    }

    /// Offers a header a node served, with its commit and, when it announces a new set, the
    /// next validator set.
    pub fn offer(
        &self,
        source: &str,
        header: &Header,
        commit: &CommitCertificate,
        next: Option<&ValidatorSet>,
    ) -> Result<Offered, OfferError> {
        let mut s = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if header.height <= s.light.height {
            return check_known(&mut s, source, header, commit);
        }
        let expected = s.light.height.next().unwrap_or(s.light.height);
        if header.height > expected {
            return Ok(Offered::Ahead { expected });
        }
        let light =
            s.light
                .advance(header, commit, next)
                .map_err(|source| OfferError::Invalid {
                    height: header.height,
                    source,
                })?;
        s.anchor.mark_verified(header);
        if header.next_validators_hash != header.validators_hash {
            // `advance` checked that this set hashes to what the header announced.
            if let Some(h) = header.height.next() {
                s.anchor
                    .set_validators_from(h, light.next_validators.clone());
            }
        }
        s.anchor
            .forget_below(Height(header.height.0.saturating_sub(KEEP_HEADERS)));
        s.light = light;
        Ok(Offered::Advanced)
    }

    /// Checks status evidence's proof under its header's state root, once, and records it in
    /// the anchor so later checks of the same evidence skip that hashing (spec/verifier.md
    /// §3.3). The header is still checked by `verify` on every use. False if the proof fails.
    pub fn prove(&self, issuer: &IssuerId, id: CredentialId, ev: &StatusEvidence) -> bool {
        let key = StateKey::Credential(issuer.clone(), id).hash();
        let value = ev.record.state_value_hash();
        if ev
            .proof
            .verify(&ev.header.state_root, &key, Some(&value))
            .is_err()
        {
            return false;
        }
        let mut s = self.inner.write().unwrap_or_else(|e| e.into_inner());
        s.anchor.mark_proven(ev.header.state_root, key, value);
        true
    }

    /// Checks a header met elsewhere (status evidence) against the verified chain: a header the
    /// light client verified, or one it has not reached whose commit verifies, is usable; a
    /// different header with a valid commit at a verified height raises the fork alarm.
    pub fn check_evidence_header(
        &self,
        source: &str,
        header: &Header,
        commit: &CommitCertificate,
    ) -> Result<(), OfferError> {
        let ahead = self.read(|s| {
            if s.anchor.is_verified(header) {
                return Some(Ok(()));
            }
            // Ahead of the light client: usable only if its commit verifies now, so that a
            // node cannot have its evidence taken (and the next node not asked) with a made-up
            // header. Checked under the read lock: its signatures must not stall every reader.
            (header.height > s.light.height).then(|| {
                check_header(header, commit, &s.anchor).map_err(|source| OfferError::Unverified {
                    height: header.height,
                    source,
                })
            })
        });
        if let Some(verdict) = ahead {
            return verdict;
        }
        // At or below it (the light client may have moved on meanwhile): compared with the
        // verified header, which may raise the fork alarm.
        let mut s = self.inner.write().unwrap_or_else(|e| e.into_inner());
        check_known(&mut s, source, header, commit).map(|_| ())
    }
}

/// A header at or below the light client's height: equal to the verified one, or a fork if
/// its commit is valid, or just invalid.
fn check_known(
    s: &mut TrustState,
    source: &str,
    header: &Header,
    commit: &CommitCertificate,
) -> Result<Offered, OfferError> {
    let Some(ours) = s.anchor.verified_at(header.height).cloned() else {
        // Older than the headers kept; the light client passed it long ago.
        return Ok(Offered::Known);
    };
    if &ours == header {
        return Ok(Offered::Known);
    }
    let invalid = |source| OfferError::Invalid {
        height: header.height,
        source,
    };
    if header.chain_id != ours.chain_id {
        return Err(invalid(LightError::WrongChain {
            expected: ours.chain_id.clone(),
            got: header.chain_id.clone(),
        }));
    }
    let set = s
        .anchor
        .validators_at(header.height)
        .ok_or(invalid(LightError::BrokenLink {
            expected: ours.hash(),
            got: header.hash(),
        }))?;
    commit
        .verify(header, set)
        .map_err(|e| invalid(LightError::Commit(e)))?;
    // Two headers at one height, each certified by the validators: the chain forked or its
    // validators equivocated. Nothing it says can be believed until people look.
    let alarm = ForkAlarm {
        height: header.height,
        verified: ours,
        conflicting: header.clone(),
        conflicting_commit: commit.clone(),
        source: source.to_string(),
    };
    // The whole evidence (both headers, the conflicting commit; ledger data only) goes to the
    // log, so it outlives the process, whose `/health` shows only the first alarm.
    tracing::error!(
        height = header.height.0,
        verified = %alarm.verified.hash(),
        conflicting = %header.hash(),
        source,
        evidence = %serde_json::to_string(&alarm).unwrap_or_default(),
        "FORK ALARM: conflicting commits at one height; answering CANNOT CHECK from now on"
    );
    if s.alarm.is_none() {
        s.alarm = Some(Box::new(alarm));
    }
    Err(OfferError::Fork(header.height))
}
