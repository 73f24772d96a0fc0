//! The validator-set changes since genesis, learned from nodes that are not trusted: their list
//! of changes only says where to look; each change is learned from the one header that
//! announces it, certified by the set in force before it (spec/verification.md §3.1). The
//! auditor's commands check every later answer with the sets learned, and put the changes in
//! their evidence bundles so that genesis alone checks them offline (spec/troad-log.md §6).

use std::collections::BTreeSet;

use credledger_core::ids::Height;
use credledger_core::verify::{HeaderAnswer, SetChange, TrustAnchor, learn_from_answer};

use super::heads::HeadsError;
use crate::follower::{MAX_EVENT_BYTES, read_limited};

/// Largest list of validator sets read from a node (it lists at most 10,000).
const MAX_SETS_BYTES: usize = 2 * 1024 * 1024;

/// Genesis's trust with every validator-set change learned, and the changes.
pub struct Learned {
    /// What answers are checked against.
    pub anchor: TrustAnchor,
    /// The changes, oldest first.
    pub changes: Vec<SetChange>,
}

impl Learned {
    /// The changes a verifier trusting genesis needs to check a header at `height`.
    pub fn before(&self, height: Height) -> Vec<SetChange> {
        self.changes
            .iter()
            .filter(|c| c.header.height < height)
            .cloned()
            .collect()
    }
}

/// Learns, from `nodes` asked in turn, every validator-set change since `genesis`.
///
/// The nodes' lists are merged, since each entry is checked: a height where no change happened
/// is dropped once its header shows none; a change no node can prove is an error, because
/// answers signed by a set not learned would all be refused later.
pub async fn learn(
    http: &reqwest::Client,
    nodes: &[String],
    genesis: TrustAnchor,
) -> Result<Learned, HeadsError> {
    let mut starts = BTreeSet::new();
    let mut answered = false;
    let mut last = String::from("no node configured");
    for node in nodes {
        match hints(http, node).await {
            Ok(h) => {
                answered = true;
                starts.extend(h.into_iter().filter(|&from| from > 1));
            }
            Err(e) => last = format!("{node}: {e}"),
        }
    }
    if !answered {
        return Err(HeadsError::Unavailable {
            what: "the list of validator sets".into(),
            last,
        });
    }
    let mut anchor = genesis;
    let mut changes = Vec::new();
    'heights: for from in starts {
        let at = Height(from - 1);
        for node in nodes {
            match change_at(http, node, at, &mut anchor).await {
                Ok(Some(c)) => {
                    changes.push(c);
                    continue 'heights;
                }
                // A checked header that announces no change: the hint was wrong.
                Ok(None) => continue 'heights,
                Err(e) => last = format!("{node}: {e}"),
            }
        }
        return Err(HeadsError::Unavailable {
            what: format!("the validator set that signs from height {from}"),
            last,
        });
    }
    Ok(Learned { anchor, changes })
}

/// The heights from which a node says new sets sign (`GET /v1/validator-sets`).
async fn hints(http: &reqwest::Client, node: &str) -> Result<Vec<u64>, String> {
    let url = format!("{}/v1/validator-sets", node.trim_end_matches('/'));
    let resp = http.get(&url).send().await.map_err(|e| e.to_string())?;
    let body = read_limited(resp, MAX_SETS_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("list of sets not understood: {e}"))?;
    let sets = v["sets"].as_array().ok_or("list of sets without `sets`")?;
    sets.iter()
        .map(|s| {
            s["from"]
                .as_u64()
                .ok_or_else(|| "a set without `from`".to_string())
        })
        .collect()
}

/// The header at `at` from `node`, checked against `anchor`: the change it announces, learned
/// into `anchor`, or `None` if it announces none.
async fn change_at(
    http: &reqwest::Client,
    node: &str,
    at: Height,
    anchor: &mut TrustAnchor,
) -> Result<Option<SetChange>, String> {
    let url = format!("{}/v1/headers/{at}", node.trim_end_matches('/'));
    let resp = http.get(&url).send().await.map_err(|e| e.to_string())?;
    let body = read_limited(resp, MAX_EVENT_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let a: HeaderAnswer =
        serde_json::from_slice(&body).map_err(|e| format!("header not understood: {e}"))?;
    learn_from_answer(anchor, at, a).map_err(|e| e.to_string())
}
