//! A log source's anchored heads, fetched from any node (none trusted) and each checked
//! against the trust anchor (commit, then state proof) before it is used
//! (spec/http-api.md §3); and one anchor proven in its block, as an evidence bundle carries
//! it (spec/troad-log.md §6 steps 2–3).

use credledger_core::block::Header;
use credledger_core::ids::{LogSourceId, Timestamp};
use credledger_core::state::{AnchorRecord, LogSourceRecord, StateKey, StateValue};
use credledger_core::verify::{AnchorEvidence, StateAnswer, TrustAnchor, verify_anchor};
use futures_util::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;

use crate::follower::read_any;

/// Largest state answer accepted from a node.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why the anchored heads could not be established.
#[derive(Debug, thiserror::Error)]
pub enum HeadsError {
    /// No node gave a usable answer; names the last problem.
    #[error("no node gave a checked answer for {what}: {last}")]
    Unavailable {
        /// What was asked.
        what: String,
        /// The last problem.
        last: String,
    },
    /// The ledger (checked) says the source does not exist.
    #[error("the ledger has no log source {0}")]
    UnknownSource(LogSourceId),
    /// The ledger (checked) has no anchor with this sequence number.
    #[error("the ledger has no anchor #{sequence} of {source_id}")]
    NoAnchor {
        /// The source.
        source_id: LogSourceId,
        /// The sequence asked for.
        sequence: u64,
    },
}

/// One anchored head, as proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Sequence number.
    pub sequence: u64,
    /// Tree size.
    pub size: u64,
    /// Root.
    pub root: credledger_core::Digest,
    /// Block time of the anchoring block.
    pub anchored_at: Timestamp,
}

/// Anchors asked for at once by [`Heads::all`]: enough to hide a distant node's round trips.
const IN_FLIGHT: usize = 16;

/// Fetches and checks a source's heads.
pub struct Heads<'a> {
    /// HTTP client.
    pub http: reqwest::Client,
    /// Node base URLs, asked in turn.
    pub nodes: Vec<String>,
    /// What answers are checked against.
    pub anchor: &'a TrustAnchor,
    /// Headers whose commits were checked here already: a node answers many requests under
    /// one header, whose signatures need checking once.
    pub verified: std::sync::Mutex<Vec<Header>>,
    /// The source.
    pub source: LogSourceId,
}

impl Heads<'_> {
    /// Asks each node in turn for `path` and returns the first answer that decodes and that
    /// `check` accepts; otherwise names the last problem. With `not_found_answers`, a 404 is
    /// read like any answer (it carries a proof of absence).
    async fn ask<T: DeserializeOwned>(
        &self,
        path: &str,
        not_found_answers: bool,
        check: impl Fn(&T) -> Result<(), String>,
    ) -> Result<T, HeadsError> {
        let mut last = String::from("no node configured");
        for node in &self.nodes {
            let url = format!("{}{path}", node.trim_end_matches('/'));
            let answer = match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() || (not_found_answers && r.status() == 404) => r,
                Ok(r) => {
                    last = format!("{url}: HTTP {}", r.status());
                    continue;
                }
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            let bytes = match read_any(answer, MAX_ANSWER_BYTES).await {
                Ok(b) => b,
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            let a: T = match serde_json::from_slice(&bytes) {
                Ok(a) => a,
                Err(e) => {
                    last = format!("{url}: answer not understood: {e}");
                    continue;
                }
            };
            match check(&a) {
                Ok(()) => return Ok(a),
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        Err(HeadsError::Unavailable {
            what: path.to_string(),
            last,
        })
    }

    /// A state entry with its proof, checked: returns the value (or `None`, proven absent)
    /// and the evidence parts.
    async fn entry(&self, path: &str, key: &StateKey) -> Result<StateAnswer, HeadsError> {
        self.ask(path, true, |a: &StateAnswer| {
            if self.seen(&a.header) {
                a.check_proof(key)
            } else {
                a.check(key, self.anchor)
            }
            .map_err(|e| e.to_string())?;
            self.remember(&a.header);
            Ok(())
        })
        .await
    }

    /// The source's record: its last sequence, size and root.
    pub async fn source_record(&self) -> Result<LogSourceRecord, HeadsError> {
        let key = StateKey::LogSource(self.source.clone());
        let a = self
            .entry(&format!("/v1/state/log-source/{}", self.source), &key)
            .await?;
        match a.value {
            Some(StateValue::LogSource(r)) => Ok(r),
            _ => Err(HeadsError::UnknownSource(self.source.clone())),
        }
    }

    /// Anchor `sequence` as the state holds it, checked against the trust anchor.
    pub async fn anchor(&self, sequence: u64) -> Result<AnchorRecord, HeadsError> {
        let key = StateKey::LogAnchor(self.source.clone(), sequence);
        let a = self
            .entry(
                &format!("/v1/state/log-anchor/{}/{sequence}", self.source),
                &key,
            )
            .await?;
        match a.value {
            Some(StateValue::LogAnchor(record)) => Ok(record),
            _ => Err(HeadsError::NoAnchor {
                source_id: self.source.clone(),
                sequence,
            }),
        }
    }

    /// Anchor `sequence` proven in its block's `anchors_root` (what an evidence bundle
    /// carries), from the first node whose answer checks (spec/troad-log.md §6 steps 2–3).
    pub async fn in_block(&self, sequence: u64) -> Result<AnchorEvidence, HeadsError> {
        let path = format!("/v1/log-anchors/{}/{sequence}", self.source);
        self.ask(&path, false, |ev: &AnchorEvidence| {
            if ev.source != self.source || ev.sequence != sequence {
                return Err("answered for another anchor".into());
            }
            verify_anchor(ev, self.anchor).map_err(|e| e.to_string())
        })
        .await
    }

    /// Every anchored head, in sequence order, `IN_FLIGHT` requests at a time.
    pub async fn all(&self) -> Result<Vec<Head>, HeadsError> {
        let last = self.source_record().await?.last_sequence;
        futures_util::stream::iter(1..=last)
            .map(|sequence| async move {
                let record = self.anchor(sequence).await?;
                Ok(Head {
                    sequence,
                    size: record.tree_size,
                    root: record.root,
                    anchored_at: record.anchored_at,
                })
            })
            .buffered(IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Whether `header` is one whose commit was checked here.
    fn seen(&self, header: &Header) -> bool {
        let v = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        v.iter().any(|h| h == header)
    }

    /// Keeps `header` as checked; the few most recent only.
    fn remember(&self, header: &Header) {
        let mut v = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if v.iter().any(|h| h == header) {
            return;
        }
        if v.len() >= 8 {
            v.remove(0);
        }
        v.push(header.clone());
    }

    /// The first anchor whose tree holds record `index`, found by bisection over the
    /// sequence numbers (sizes grow with them): the earliest proof of the record's existence.
    /// Returned proven in its block, as a bundle carries it.
    pub async fn first_covering(&self, index: u64) -> Result<AnchorEvidence, HeadsError> {
        let last = self.source_record().await?;
        if last.last_size <= index {
            return Err(HeadsError::Unavailable {
                what: format!("an anchor holding record {}", index + 1),
                last: format!(
                    "the latest anchor (#{}) holds {} records",
                    last.last_sequence, last.last_size
                ),
            });
        }
        let (mut lo, mut hi) = (1u64, last.last_sequence);
        let mut best = last.last_sequence;
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            if self.anchor(mid).await?.tree_size > index {
                best = mid;
                hi = mid - 1;
            } else {
                lo = mid + 1;
            }
        }
        self.in_block(best).await
    }
}
