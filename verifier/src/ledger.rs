//! Live status from the ledger: each credential's state record with its proof, fetched from any
//! node (none trusted), checked against the light client's headers, and cached briefly so a
//! busy verifier does not ask the ledger once per scan (spec/verifier.md §3).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credledger_core::ids::{CredentialId, IssuerId, Timestamp};
use credledger_core::presentation::StatusEvidence;
use credledger_core::verify::AbsenceEvidence;

use crate::follower::{read_any, read_limited};
use crate::trust::Trust;

/// Largest status answer accepted from a node (a record, a 256-level proof, header, commit).
pub const MAX_EVIDENCE_BYTES: usize = 64 * 1024;
/// Most credentials whose evidence is cached; beyond it the cache is cleared and refilled.
const MAX_CACHED: usize = 100_000;
/// How long one look for a credential's status may take over all nodes: nodes past it are not
/// asked, so that a scan with several dead nodes still gets its answer (CANNOT CHECK, or a
/// full presentation's own status) inside the service's 10 s request timeout, which also
/// holds a registry lookup or a second look.
pub const FETCH_BUDGET: Duration = Duration::from_secs(4);

/// Where the status of a credential stands, as far as the ledger could be asked.
#[derive(Clone, Debug)]
pub enum Fetched {
    /// Evidence whose header is verified or certified by a valid commit.
    Evidence(Arc<StatusEvidence>),
    /// A node's answer that the ledger holds no record of the credential, with its proof (its
    /// header passed the light client's fork check; core's `verify_absence` judges the rest).
    Absent(Box<AbsenceEvidence>),
    /// Every node was asked; none gave usable evidence. Names the last problem.
    Unavailable(String),
}

/// How recent a node's answer must be: its header at most `max_age_ms` older than `now`.
#[derive(Clone, Copy, Debug)]
pub struct Fresh {
    /// The time of the check.
    pub now: Timestamp,
    /// The freshness bound (spec/verifier.md §2).
    pub max_age_ms: u64,
}

impl Fresh {
    /// Why an answer under a header of `time` is too old, if it is.
    fn stale(&self, time: Timestamp) -> Option<String> {
        let age = self.now.since(time);
        (age > self.max_age_ms).then(|| {
            format!(
                "its answer is {age} ms old, beyond the {} ms freshness bound",
                self.max_age_ms
            )
        })
    }
}

/// Evidence by credential, with when it was fetched.
/// Keyed by the id alone so a lookup allocates nothing; the issuer is compared on a hit.
type Cache = HashMap<CredentialId, (IssuerId, Instant, Arc<StatusEvidence>)>;

/// The verifier's client of the ledger's nodes.
#[derive(Debug)]
pub struct LedgerClient {
    client: reqwest::Client,
    nodes: Vec<String>,
    /// Evidence younger than this is reused.
    refresh: Duration,
    next: AtomicUsize,
    cache: Mutex<Cache>,
    /// Credentials being refreshed in the background, so each is asked for once at a time.
    refreshing: Mutex<HashSet<CredentialId>>,
    /// How long one look may take over all nodes ([`FETCH_BUDGET`]).
    budget: Duration,
}

impl LedgerClient {
    /// A client of `nodes`, reusing evidence for `refresh`.
    pub fn new(client: reqwest::Client, nodes: Vec<String>, refresh: Duration) -> Self {
        LedgerClient {
            client,
            nodes,
            refresh,
            next: AtomicUsize::new(0),
            cache: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(HashSet::new()),
            budget: FETCH_BUDGET,
        }
    }

    /// The same client with another time limit for one look over all nodes.
    pub fn with_fetch_budget(self, budget: Duration) -> Self {
        LedgerClient { budget, ..self }
    }

    /// The nodes asked.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The HTTP client (bounded timeouts) the nodes are asked with.
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }

    /// This credential's refresh time: between ½ and 1½ times the setting, fixed per credential
    /// by its id (spec/verifier.md §3, step 3). Evidence for many credentials is often fetched
    /// at one moment (a verifier's start, a crowd at one event); with one refresh time for all
    /// it would come due at one moment again, every period, and its refreshes would stall the
    /// answers queued behind them.
    fn refresh_of(&self, id: CredentialId) -> Duration {
        self.refresh.mul_f64(0.5 + spread(id))
    }

    /// Whether evidence of this credential is cached (fresh or being refreshed).
    pub fn is_cached(&self, issuer: &IssuerId, id: CredentialId) -> bool {
        self.cached(issuer, id)
            .is_some_and(|(age, _)| age < self.refresh * 3)
    }

    /// Status evidence for a credential (spec/verifier.md §3.3): cached if younger than its
    /// refresh time (`refresh_of`); cached but refreshed in the background if younger
    /// than three times the setting, so a scan does not wait for the ledger; otherwise asked of
    /// the nodes now.
    pub async fn evidence(
        self: &Arc<Self>,
        trust: &Arc<Trust>,
        issuer: &IssuerId,
        id: CredentialId,
        fresh: Fresh,
    ) -> Fetched {
        match self.cached(issuer, id) {
            Some((age, ev)) if age < self.refresh_of(id) => return Fetched::Evidence(ev),
            Some((age, ev)) if age < self.refresh * 3 => {
                let first = self.refreshing().insert(id);
                if first {
                    let (me, trust, issuer) = (self.clone(), trust.clone(), issuer.clone());
                    tokio::spawn(async move {
                        me.fetch(&trust, &issuer, id, fresh).await;
                        me.refreshing().remove(&id);
                    });
                }
                return Fetched::Evidence(ev);
            }
            _ => {}
        }
        self.fetch(trust, issuer, id, fresh).await
    }

    fn refreshing(&self) -> std::sync::MutexGuard<'_, HashSet<CredentialId>> {
        self.refreshing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the nodes in turn, starting with a different one each time so load spreads and a
    /// dead node is passed over; keeps the first usable evidence. An answer older than the
    /// freshness bound is passed over: a lagging or lying node must not stand for the ledger
    /// while another can answer now. When none is fresh, the most recent evidence is returned
    /// (not cached), for `verify` to name what is stale.
    pub async fn fetch(
        &self,
        trust: &Trust,
        issuer: &IssuerId,
        id: CredentialId,
        fresh: Fresh,
    ) -> Fetched {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut problem = String::from("no node is configured");
        let mut newest_stale: Option<Box<StatusEvidence>> = None;
        let deadline = tokio::time::Instant::now() + self.budget;
        for i in 0..self.nodes.len() {
            let node = &self.nodes[(start + i) % self.nodes.len()];
            let asked = tokio::time::timeout_at(deadline, self.ask(node, issuer, id)).await;
            let Ok(asked) = asked else {
                problem = format!("no node answered within {:?} ({problem})", self.budget);
                tracing::warn!(node = %node, "status look ran out of time");
                break;
            };
            match asked {
                Ok(Answer::Absent(a)) => {
                    match trust.check_evidence_header(node, &a.header, &a.commit) {
                        Ok(()) => match fresh.stale(a.header.time) {
                            None => return Fetched::Absent(a),
                            Some(old) => problem = format!("{node}: {old}"),
                        },
                        Err(e) => problem = format!("{node}: {e}"),
                    }
                }
                Ok(Answer::Present(ev)) => {
                    match trust.check_evidence_header(node, &ev.header, &ev.commit) {
                        Ok(()) if !trust.prove(issuer, id, &ev) => {
                            problem = format!("{node}: the status proof does not match its header");
                        }
                        Ok(()) if let Some(old) = fresh.stale(ev.header.time) => {
                            problem = format!("{node}: {old}");
                            if newest_stale
                                .as_ref()
                                .is_none_or(|n| n.header.time < ev.header.time)
                            {
                                newest_stale = Some(ev);
                            }
                        }
                        Ok(()) => {
                            let ev: Arc<StatusEvidence> = Arc::from(ev);
                            self.store(issuer, id, ev.clone());
                            return Fetched::Evidence(ev);
                        }
                        Err(e) => problem = format!("{node}: {e}"),
                    }
                }
                Err(e) => problem = format!("{node}: {e}"),
            }
            tracing::warn!(node = %node, problem = %problem, "status not available from node");
        }
        match newest_stale {
            Some(ev) => Fetched::Evidence(Arc::from(ev)),
            None => Fetched::Unavailable(problem),
        }
    }

    /// Drops cached evidence of one credential (after it failed verification).
    pub fn forget(&self, issuer: &IssuerId, id: CredentialId) {
        let mut cache = self.lock();
        if cache.get(&id).is_some_and(|(i, _, _)| i == issuer) {
            cache.remove(&id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(
        &self,
        issuer: &IssuerId,
        id: CredentialId,
    ) -> Option<(Duration, Arc<StatusEvidence>)> {
        let cache = self.lock();
        let (i, at, ev) = cache.get(&id)?;
        (i == issuer).then(|| (at.elapsed(), ev.clone()))
    }

    fn store(&self, issuer: &IssuerId, id: CredentialId, ev: Arc<StatusEvidence>) {
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(id, (issuer.clone(), Instant::now(), ev));
    }

    async fn ask(&self, node: &str, issuer: &IssuerId, id: CredentialId) -> Result<Answer, String> {
        let url = format!("{node}/v1/credentials/{issuer}/{id}");
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            // Without the URL, which names the credential: logs hold no credential ids.
            .map_err(|e| e.without_url().to_string())?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            // The node's 404 carries the proof of absence (spec/http-api.md §3).
            #[derive(serde::Deserialize)]
            struct NotFound {
                absence: AbsenceEvidence,
            }
            let body = read_any(resp, MAX_EVIDENCE_BYTES).await?;
            return serde_json::from_slice::<NotFound>(&body)
                .map(|n| Answer::Absent(Box::new(n.absence)))
                .map_err(|_| {
                    "the ledger has no record of this credential (no proof given)".into()
                });
        }
        let body = read_limited(resp, MAX_EVIDENCE_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&body)
            .map(|ev| Answer::Present(Box::new(ev)))
            .map_err(|e| format!("not status evidence: {e}"))
    }
}

/// A fraction in [0, 1) drawn from every byte of the id (Fibonacci hashing of its two halves),
/// so ids that differ in any byte, sequential ones included, spread over the whole range
/// (spec/verifier.md §3, step 3). Issuers choose ids; whatever they choose, a refresh time stays
/// within its bounds.
fn spread(id: CredentialId) -> f64 {
    let (lo, hi) = id.0.split_at(8);
    let mut half = [0u8; 8];
    half.copy_from_slice(lo);
    let mut x = u64::from_le_bytes(half);
    half.copy_from_slice(hi);
    x ^= u64::from_le_bytes(half).rotate_left(32);
    let top = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48;
    top as f64 / 65_536.0
}

/// What one node answered.
enum Answer {
    Present(Box<StatusEvidence>),
    Absent(Box<AbsenceEvidence>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three nodes that take the connection and never answer: the look gives up at its budget,
    /// not after three client timeouts, and says so.
    #[tokio::test]
    async fn a_look_over_silent_nodes_ends_at_its_budget() {
        let mut nodes = Vec::new();
        let mut held = Vec::new();
        for _ in 0..3 {
            let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            nodes.push(format!("http://{}", silent.local_addr().unwrap()));
            held.push(tokio::spawn(async move {
                let mut conns = Vec::new();
                while let Ok((c, _)) = silent.accept().await {
                    conns.push(c);
                }
            }));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let ledger = LedgerClient::new(client, nodes, Duration::ZERO)
            .with_fetch_budget(Duration::from_millis(300));
        let genesis = credledger_core::devnet::Devnet::build(
            &[1; 32],
            &credledger_core::devnet::DevnetParams::default(),
        )
        .unwrap()
        .genesis;
        let trust = Trust::from_genesis(&genesis).unwrap();
        let fresh = Fresh {
            now: Timestamp(0),
            max_age_ms: 10_000,
        };
        let started = Instant::now();
        let fetched = ledger
            .fetch(
                &trust,
                &"moj".parse().unwrap(),
                CredentialId([1; 16]),
                fresh,
            )
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        match fetched {
            Fetched::Unavailable(problem) => {
                assert!(
                    problem.contains("no node answered within 300ms"),
                    "{problem}"
                )
            }
            _ => panic!("silent nodes gave something"),
        }
        for h in held {
            h.abort();
        }
    }

    /// Sequential ids, counting in the low bytes or in the high bytes as an issuer might
    /// number them, fall due spread over the whole period: no tenth of it gets more than twice
    /// its share, and every refresh time is within ½ and 1½ times the setting.
    #[test]
    fn refresh_times_of_sequential_ids_spread_over_the_period() {
        let client = LedgerClient::new(reqwest::Client::new(), vec![], Duration::from_secs(2));
        for shift in [0usize, 14] {
            let mut tenths = [0u32; 10];
            for n in 0u16..1000 {
                let mut id = [0u8; 16];
                id[shift..shift + 2].copy_from_slice(&n.to_be_bytes());
                let r = client.refresh_of(CredentialId(id));
                assert!(
                    r >= Duration::from_secs(1) && r < Duration::from_secs(3),
                    "{r:?}"
                );
                let u = spread(CredentialId(id));
                tenths[(u * 10.0) as usize] += 1;
            }
            assert!(
                tenths.iter().all(|&t| t <= 200),
                "shift {shift}: {tenths:?}"
            );
        }
    }
}
