//! Live status from the ledger: each credential's state record with its proof, fetched from any
//! node (none trusted), checked against the light client's headers, and cached briefly so a
//! busy verifier does not ask the ledger once per scan (spec/verifier.md §3).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credledger_core::ids::{CredentialId, IssuerId};
use credledger_core::presentation::StatusEvidence;

use crate::follower::read_limited;
use crate::trust::Trust;

/// Largest status answer accepted from a node (a record, a 256-level proof, header, commit).
pub const MAX_EVIDENCE_BYTES: usize = 64 * 1024;
/// Most credentials whose evidence is cached; beyond it the cache is cleared and refilled.
const MAX_CACHED: usize = 100_000;

/// Where the status of a credential stands, as far as the ledger could be asked.
#[derive(Clone, Debug)]
pub enum Fetched {
    /// Evidence whose header is verified or certified by a valid commit.
    Evidence(Arc<StatusEvidence>),
    /// Every node was asked; none gave usable evidence. Names the last problem.
    Unavailable(String),
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
        }
    }

    /// The nodes asked.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Status evidence for a credential: cached if recent, otherwise from the nodes in turn,
    /// starting with a different one each time so load spreads and a dead node is passed over.
    pub async fn evidence(&self, trust: &Trust, issuer: &IssuerId, id: CredentialId) -> Fetched {
        if let Some(ev) = self.cached(issuer, id) {
            return Fetched::Evidence(ev);
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut problem = String::from("no node is configured");
        for i in 0..self.nodes.len() {
            let node = &self.nodes[(start + i) % self.nodes.len()];
            match self.ask(node, issuer, id).await {
                Ok(ev) => match trust.check_evidence_header(node, &ev.header, &ev.commit) {
                    Ok(()) if !trust.prove(issuer, id, &ev) => {
                        problem = format!("{node}: the status proof does not match its header");
                    }
                    Ok(()) => {
                        let ev = Arc::new(ev);
                        self.store(issuer, id, ev.clone());
                        return Fetched::Evidence(ev);
                    }
                    Err(e) => problem = format!("{node}: {e}"),
                },
                Err(e) => problem = format!("{node}: {e}"),
            }
            tracing::warn!(node = %node, problem = %problem, "status not available from node");
        }
        Fetched::Unavailable(problem)
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

    fn cached(&self, issuer: &IssuerId, id: CredentialId) -> Option<Arc<StatusEvidence>> {
        let cache = self.lock();
        let (i, at, ev) = cache.get(&id)?;
        (i == issuer && at.elapsed() < self.refresh).then(|| ev.clone())
    }

    fn store(&self, issuer: &IssuerId, id: CredentialId, ev: Arc<StatusEvidence>) {
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(id, (issuer.clone(), Instant::now(), ev));
    }

    async fn ask(
        &self,
        node: &str,
        issuer: &IssuerId,
        id: CredentialId,
    ) -> Result<StatusEvidence, String> {
        let url = format!("{node}/v1/credentials/{issuer}/{id}");
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Err("the ledger has no record of this credential".into());
        }
        let body = read_limited(resp, MAX_EVIDENCE_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&body).map_err(|e| format!("not status evidence: {e}"))
    }
}
