//! `key affected`: the credentials a revoked issuer key signed that were published at or after
//! the revocation's effective time, found by scanning committed blocks, so the ministry can
//! reissue them.

use anyhow::{Result, anyhow, bail};
use credledger_core::ids::{IssuerId, KeyId, Timestamp};
use credledger_core::state::{StateKey, StateValue};
use credledger_core::tx::{IssuerAction, Transaction};
use serde_json::json;

use crate::ledger::{Ledger, LedgerArgs};

/// Runs `key affected`. Every header and block it reads is checked against genesis, so no
/// node can hide an affected credential.
pub fn run(issuer: &str, key_id: &str, ledger: &LedgerArgs, json_out: bool) -> Result<()> {
    let ledger = ledger.open()?;
    let issuer_id: IssuerId = issuer
        .parse()
        .map_err(|e| anyhow!("issuer {issuer:?}: {e}"))?;
    let key: KeyId = key_id
        .parse()
        .map_err(|e| anyhow!("key id {key_id:?}: {e}"))?;
    let record = match ledger.state_entry(
        &format!("/v1/state/issuer-key/{issuer}/{key_id}"),
        &StateKey::IssuerKey(issuer_id.clone(), key),
    )? {
        Some(StateValue::IssuerKey(r)) => r,
        None => bail!("issuer {issuer} has no key {key_id}"),
        Some(_) => bail!("the node's answer for key {issuer}/{key_id} is of another kind"),
    };
    let Some(cut) = record.revoked_from else {
        bail!("key {issuer}/{key_id} is not revoked: nothing is affected");
    };
    let tip = highest_checked_tip(&ledger)?;
    let mut affected = Vec::new();
    for h in first_at_or_after(&ledger, cut, tip)?..=tip {
        let block = ledger.checked_block(h)?;
        for tx in block.transactions.iter() {
            let Transaction::Issuer(s) = tx else { continue };
            let IssuerAction::Publish { credentials } = &s.body.action else {
                continue;
            };
            for c in credentials.iter() {
                if c.body.issuer.as_str() == issuer && c.body.key_id.as_str() == key_id {
                    affected.push((c.body.id.to_string(), h));
                }
            }
        }
    }
    // Each one's status now, proven like every other answer, so that the ministry sees which
    // are still to be revoked or reissued and which it has dealt with already.
    let mut statuses = Vec::with_capacity(affected.len());
    for (id, _) in &affected {
        statuses.push(ledger.evidence(&issuer_id, id)?.record.status.word());
    }
    if json_out {
        let list: Vec<_> = affected
            .iter()
            .zip(&statuses)
            .map(|((id, h), status)| json!({ "credential": id, "height": h, "status": status }))
            .collect();
        println!(
            "{}",
            json!({ "key": format!("{issuer}/{key_id}"), "revoked_from": cut, "affected": list })
        );
    } else {
        println!(
            "key {issuer}/{key_id} revoked from {}: {} credential(s) published since",
            cut.taiwan_time(),
            affected.len()
        );
        for ((id, h), status) in affected.iter().zip(&statuses) {
            println!("  {id}  (block {h}, {status} now)");
        }
    }
    Ok(())
}

/// The first height in `1..=tip` whose block time is at or after `cut` (`tip + 1` if none):
/// block times strictly increase (spec/blocks.md §2), so a binary search over checked headers finds
/// it in O(log tip) requests.
/// The highest height any node reports whose header checks against genesis: a node that
/// under-reports its height cannot hide the newest blocks, and one that over-reports cannot
/// stop the scan.
fn highest_checked_tip(ledger: &Ledger) -> Result<u64> {
    let mut heights: Vec<u64> = ledger
        .nodes
        .get_all("/v1/status")
        .iter()
        .filter_map(|a| a.body["height"].as_u64())
        .collect();
    if heights.is_empty() {
        // Ask once more the usual way, for an error that names every node.
        ledger.nodes.get("/v1/status")?;
        bail!("no node gave its height");
    }
    heights.sort_unstable();
    heights.dedup();
    for h in heights.into_iter().rev() {
        if ledger.checked_header(h).is_ok() {
            return Ok(h);
        }
    }
    bail!("no node gave a height whose header checks against genesis")
}

fn first_at_or_after(ledger: &Ledger, cut: Timestamp, tip: u64) -> Result<u64> {
    let (mut lo, mut hi) = (1, tip + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ledger.checked_header(mid)?.time < cut {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}
