//! A log source's anchored heads, fetched from any node (none trusted) and each checked
//! against the trust anchor (commit, then state proof) before it is used
//! (spec/troad-log.md §6 steps 1–2).

use credledger_core::block::Header;
use credledger_core::ids::{LogSourceId, Timestamp};
use credledger_core::state::{LogSourceRecord, StateKey, StateValue};
use credledger_core::verify::{AnchorEvidence, StateAnswer, TrustAnchor};
use futures_util::{StreamExt, TryStreamExt};

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
    /// A state entry with its proof, checked: returns the value (or `None`, proven absent)
    /// and the evidence parts.
    async fn entry(&self, path: &str, key: &StateKey) -> Result<StateAnswer, HeadsError> {
        let mut last = String::from("no node configured");
        for node in &self.nodes {
            let url = format!("{}{path}", node.trim_end_matches('/'));
            let answer = match self.http.get(&url).send().await {
                Ok(r) if r.status().as_u16() == 404 || r.status().is_success() => r,
                Ok(r) => {
                    last = format!("{url}: HTTP {}", r.status());
                    continue;
                }
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            // A 404 still carries the proof of absence; read it like any answer.
            let bytes = match read_any(answer, MAX_ANSWER_BYTES).await {
                Ok(b) => b,
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            let a: StateAnswer = match serde_json::from_slice(&bytes) {
                Ok(a) => a,
                Err(e) => {
                    last = format!("{url}: answer not understood: {e}");
                    continue;
                }
            };
            let checked = if self.seen(&a.header) {
                a.check_proof(key)
            } else {
                a.check(key, self.anchor)
            };
            match checked {
                Ok(()) => {
                    self.remember(&a.header);
                    return Ok(a);
                }
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        Err(HeadsError::Unavailable {
            what: path.to_string(),
            last,
        })
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

    /// Anchor `sequence` with its evidence, checked against the trust anchor.
    pub async fn anchor(&self, sequence: u64) -> Result<AnchorEvidence, HeadsError> {
        let key = StateKey::LogAnchor(self.source.clone(), sequence);
        let a = self
            .entry(
                &format!("/v1/state/log-anchor/{}/{sequence}", self.source),
                &key,
            )
            .await?;
        let Some(StateValue::LogAnchor(record)) = a.value else {
            return Err(HeadsError::NoAnchor {
                source_id: self.source.clone(),
                sequence,
            });
        };
        let ev = AnchorEvidence {
            source: self.source.clone(),
            sequence,
            record,
            proof: a.proof,
            header: a.header,
            commit: a.commit,
        };
        // `entry` checked the header and the proof of this very record, which is what
        // `verify_anchor` checks; `audit prove` runs the whole bundle check before writing.
        Ok(ev)
    }

    /// Every anchored head, in sequence order, [`IN_FLIGHT`] requests at a time.
    pub async fn all(&self) -> Result<Vec<Head>, HeadsError> {
        let last = self.source_record().await?.last_sequence;
        futures_util::stream::iter(1..=last)
            .map(|sequence| async move {
                let ev = self.anchor(sequence).await?;
                Ok(Head {
                    sequence,
                    size: ev.record.tree_size,
                    root: ev.record.root,
                    anchored_at: ev.record.anchored_at,
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
        let mut best = None;
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            let ev = self.anchor(mid).await?;
            if ev.record.tree_size > index {
                hi = mid - 1;
                best = Some(ev);
            } else {
                lo = mid + 1;
            }
        }
        match best {
            Some(ev) => Ok(ev),
            None => self.anchor(last.last_sequence).await,
        }
    }
}
