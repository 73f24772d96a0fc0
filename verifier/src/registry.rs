//! Keeping the issuer registry current after genesis: issuers, keys and kinds that governance
//! added or changed are read from the ledger's state, each proven under a header the light
//! client accepts, before a presentation is judged by them (spec/verifier.md §3.4).
//!
//! A presentation naming an unknown issuer, key or kind makes the verifier look once; a forged
//! one cannot make it look again for the same names within [`RETRY_AFTER`] (within
//! [`RETRY_UNKNOWN_AFTER`] when no node could answer), and only one look runs at a time, so
//! forged scans cannot turn into a flood on the nodes.

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
/// Least time between two looks for the same names when the last one could not tell (no node
/// answered): short, so that a new issuer's credentials read CANNOT CHECK only a few seconds
/// after the nodes are back; one look at a time still bounds what forgeries cost the nodes.
pub const RETRY_UNKNOWN_AFTER: Duration = Duration::from_secs(5);
/// Most names remembered; beyond it the memory is cleared.
const MAX_TRIED: usize = 10_000;
/// How long one on-demand lookup (three entries, nodes in turn) may take: past it, the
/// presentation is answered CANNOT CHECK within the service's request timeout.
pub const LOOKUP_BUDGET: Duration = Duration::from_secs(3);
/// Largest state answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Looks up registry entries on demand.
#[derive(Debug, Default)]
pub struct RegistryLearner {
    /// When each set of names was last looked up, and what that look found.
    tried: Mutex<HashMap<String, (Instant, Lookup)>>,
    busy: AtomicBool,
}

/// What a look at the ledger for a presentation's issuer, key and kind found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The registry gained or changed an entry: judge the presentation again.
    Changed,
    /// Every entry was answered, proven under a recent header, and nothing was new: what the
    /// registry lacks, the ledger lacks too.
    Current,
    /// Some entry got no usable answer (no node answered in time, or only with stale or
    /// unproven answers), or another look was running: what the registry still lacks cannot
    /// be said absent (what was answered is in the registry all the same).
    Unknown,
}

impl RegistryLearner {
    /// Reads the issuer, its key and the kind from the ledger and adds what is proven to the
    /// registry. If the same names were looked up within [`RETRY_AFTER`] ([`RETRY_UNKNOWN_AFTER`]
    /// if that look could not tell), its finding is returned without asking again; while another
    /// look runs, [`Lookup::Unknown`].
    pub async fn learn(
        &self,
        ledger: &LedgerClient,
        trust: &Trust,
        issuer: &IssuerId,
        key: &KeyId,
        kind: &KindId,
        max_age_ms: u64,
    ) -> Lookup {
        let name = format!("{issuer}/{key}/{kind}");
        if let Some(&(at, found)) = self.tried().get(&name)
            && at.elapsed()
                < match found {
                    Lookup::Unknown => RETRY_UNKNOWN_AFTER,
                    _ => RETRY_AFTER,
                }
        {
            // A change was already taken in; the registry now says what that look found.
            return if found == Lookup::Changed {
                Lookup::Current
            } else {
                found
            };
        }
        if self.busy.swap(true, Ordering::AcqRel) {
            return Lookup::Unknown;
        }
        // Cleared however this ends, a request dropped half-way (timed out) included: a flag
        // left set would stop every later look.
        let _busy = Busy(&self.busy);
        let keys = [
            StateKey::Issuer(issuer.clone()),
            StateKey::IssuerKey(issuer.clone(), key.clone()),
            StateKey::Kind(kind.clone()),
        ];
        // An entry without an answer leaves the names unknown, whatever else was learned: a
        // new issuer proven while its key got no answer must not make the key look forged.
        let found =
            match tokio::time::timeout(LOOKUP_BUDGET, refresh(ledger, trust, &keys, max_age_ms))
                .await
            {
                Ok((_, true)) | Err(_) => Lookup::Unknown,
                Ok((true, false)) => Lookup::Changed,
                Ok((false, false)) => Lookup::Current,
            };
        let mut tried = self.tried();
        if tried.len() >= MAX_TRIED {
            tried.clear();
        }
        tried.insert(name, (Instant::now(), found));
        found
    }

    fn tried(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Lookup)>> {
        self.tried.lock().unwrap_or_else(|e| e.into_inner())
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
    let (changed, _) = refresh(ledger, trust, &keys, max_age_ms).await;
    changed
}

/// Fetches each key's entry and puts the proven ones into the registry; returns whether the
/// registry changed, and whether some entry got no usable answer.
async fn refresh(
    ledger: &LedgerClient,
    trust: &Trust,
    keys: &[StateKey],
    max_age_ms: u64,
) -> (bool, bool) {
    let mut changed = false;
    let mut unanswered = false;
    for key in keys {
        let Some(answer) = fetch(ledger, trust, key, max_age_ms).await else {
            unanswered = true;
            continue;
        };
        // Proven absent: nothing to add.
        let Some(value) = answer else {
            continue;
        };
        changed |= trust.update_registry(|r| {
            r.put_entry(value).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "a registered issuer key does not decode");
                false
            })
        });
    }
    (changed, unanswered)
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

/// An entry (`Some(None)` where proven absent), proven under a recent header of the verified
/// chain; nodes are asked in turn; `None` if none gives such an answer. An old answer is passed
/// over: a lagging or lying node could otherwise put back an entry from before a key's
/// revocation or an issuer's removal.
async fn fetch(
    ledger: &LedgerClient,
    trust: &Trust,
    key: &StateKey,
    max_age_ms: u64,
) -> Option<Option<StateValue>> {
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
    .map(|a| a.value)
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
