//! Keeping the issuer registry current after genesis: issuers, keys and kinds that governance
//! added or changed are read from the ledger's state, each proven under a header the light
//! client accepts, before a presentation is judged by them (spec/verifier.md §3.4).
//!
//! A presentation naming an unknown issuer, key or kind makes the verifier look once; a forged
//! one cannot make it look again for the same names within [`RETRY_AFTER`], and only one look
//! runs at a time, so forged scans cannot turn into a flood on the nodes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use credledger_core::ids::{IssuerId, KeyId, KindId};
use credledger_core::state::{StateKey, StateValue};
use credledger_core::verify::StateAnswer;

use crate::ledger::LedgerClient;
use crate::trust::Trust;

/// Least time between two looks for the same names.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);
/// Most names remembered; beyond it the memory is cleared.
const MAX_TRIED: usize = 10_000;
/// Largest state answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Looks up registry entries on demand.
#[derive(Debug, Default)]
pub struct RegistryLearner {
    tried: Mutex<HashMap<String, Instant>>,
    busy: AtomicBool,
}

impl RegistryLearner {
    /// Reads the issuer, its key and the kind from the ledger and adds what is proven to the
    /// registry. Returns whether the registry changed. Does nothing (returns `false`) if the
    /// same names were looked up within [`RETRY_AFTER`] or another look is running.
    pub async fn learn(
        &self,
        ledger: &LedgerClient,
        trust: &Trust,
        issuer: &IssuerId,
        key: &KeyId,
        kind: &KindId,
        max_age_ms: u64,
    ) -> bool {
        let name = format!("{issuer}/{key}/{kind}");
        if self.busy.swap(true, Ordering::AcqRel) {
            return false;
        }
        // Cleared however this ends, a request dropped half-way (timed out) included: a flag
        // left set would stop every later look.
        let _busy = Busy(&self.busy);
        {
            let mut tried = self.tried.lock().unwrap_or_else(|e| e.into_inner());
            if tried.get(&name).is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                return false;
            }
            if tried.len() >= MAX_TRIED {
                tried.clear();
            }
            tried.insert(name, Instant::now());
        }
        let keys = [
            StateKey::Issuer(issuer.clone()),
            StateKey::IssuerKey(issuer.clone(), key.clone()),
            StateKey::Kind(kind.clone()),
        ];
        refresh(ledger, trust, &keys, max_age_ms).await
    }
}

/// Clears the learner's busy flag when dropped.
struct Busy<'a>(&'a AtomicBool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Re-reads every issuer, key and kind the registry holds, so that removals, revocations and
/// new kinds reach it (run periodically by the service). Answers under a header older than
/// `max_age_ms` are passed over.
pub async fn refresh_known(ledger: &LedgerClient, trust: &Trust, max_age_ms: u64) -> bool {
    let keys: Vec<StateKey> = trust.read(|s| {
        let r = s.anchor.registry();
        let mut keys: Vec<StateKey> = r
            .issuers()
            .flat_map(|i| {
                let mut v = vec![StateKey::Issuer(i.id.clone())];
                v.extend(i.kinds.iter().map(|k| StateKey::Kind(k.clone())));
                v
            })
            .collect();
        keys.extend(
            r.keys()
                .map(|k| StateKey::IssuerKey(k.issuer.clone(), k.key_id.clone())),
        );
        keys.sort_by_key(StateKey::hash);
        keys.dedup();
        keys
    });
    refresh(ledger, trust, &keys, max_age_ms).await
}

/// Fetches each key's entry and puts the proven ones into the registry.
async fn refresh(ledger: &LedgerClient, trust: &Trust, keys: &[StateKey], max_age_ms: u64) -> bool {
    let mut changed = false;
    for key in keys {
        let Some(value) = fetch(ledger, trust, key, max_age_ms).await else {
            continue;
        };
        changed |= trust.update_registry(|r| {
            r.put_entry(value).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "a registered issuer key does not decode");
                false
            })
        });
    }
    changed
}

/// Where a node serves a registry entry (spec/http-api.md §2).
fn path(key: &StateKey) -> Option<String> {
    match key {
        StateKey::Issuer(i) => Some(format!("/v1/state/issuer/{i}")),
        StateKey::IssuerKey(i, k) => Some(format!("/v1/state/issuer-key/{i}/{k}")),
        StateKey::Kind(k) => Some(format!("/v1/state/kind/{k}")),
        _ => None,
    }
}

/// A present entry, proven under a recent header of the verified chain; nodes are asked in
/// turn. An old answer is passed over: a lagging or lying node could otherwise put back an
/// entry from before a key's revocation or an issuer's removal.
async fn fetch(
    ledger: &LedgerClient,
    trust: &Trust,
    key: &StateKey,
    max_age_ms: u64,
) -> Option<StateValue> {
    proven_entry(ledger.http(), ledger.nodes(), key, |node, a| {
        // The header must belong to the chain the light client follows (a conflicting one
        // raises the fork alarm there); then the commit and the proof are checked.
        trust
            .check_evidence_header(node, &a.header, &a.commit)
            .is_ok()
            && trust.read(|s| a.check(key, &s.anchor)).is_ok()
            && crate::checker::now_ms().since(a.header.time) <= max_age_ms
    })
    .await
    .and_then(|a| a.value)
}

/// The first answer for registry entry `key` that `accept` takes (it checks the header, the
/// commit and the proof), from `nodes` asked in turn; `None` if no node gives one. The
/// answer's `value` is `None` where it proves the entry absent.
pub async fn proven_entry(
    http: &reqwest::Client,
    nodes: &[String],
    key: &StateKey,
    accept: impl Fn(&str, &StateAnswer) -> bool,
) -> Option<StateAnswer> {
    let path = path(key)?;
    for node in nodes {
        let Ok(resp) = http.get(format!("{node}{path}")).send().await else {
            continue;
        };
        let Ok(bytes) = crate::follower::read_limited(resp, MAX_ANSWER_BYTES).await else {
            continue;
        };
        let Ok(a) = serde_json::from_slice::<StateAnswer>(&bytes) else {
            continue;
        };
        if accept(node, &a) {
            return Some(a);
        }
    }
    None
}
