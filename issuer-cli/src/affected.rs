//! `key affected`: the credentials a revoked issuer key signed that were published at or after
//! the revocation's effective time, found by scanning committed blocks, so the ministry can
//! reissue them.

use anyhow::{Result, anyhow, bail};
use credledger_core::block::Block;
use credledger_core::state::StateValue;
use credledger_core::tx::{IssuerAction, Transaction};
use serde_json::json;

use crate::ledger::LedgerArgs;

/// Runs `key affected`.
pub fn run(issuer: &str, key_id: &str, ledger: &LedgerArgs, json_out: bool) -> Result<()> {
    let ledger = ledger.open()?;
    let answer = ledger
        .nodes
        .get(&format!("/v1/state/issuer-key/{issuer}/{key_id}"))?;
    let record = match serde_json::from_value::<Option<StateValue>>(answer.body["value"].clone()) {
        Ok(Some(StateValue::IssuerKey(r))) => r,
        Ok(None) => bail!("issuer {issuer} has no key {key_id}"),
        _ => bail!(
            "the node's answer for the key is not understood: {}",
            answer.body
        ),
    };
    let Some(cut) = record.revoked_from else {
        bail!("key {issuer}/{key_id} is not revoked: nothing is affected");
    };
    let tip = ledger.nodes.get("/v1/status")?.body["height"]
        .as_u64()
        .ok_or_else(|| anyhow!("the node did not give its height"))?;
    let mut affected = Vec::new();
    for h in 1..=tip {
        let answer = ledger.nodes.get(&format!("/v1/blocks/{h}"))?;
        let block: Block = serde_json::from_value(answer.body["block"].clone())
            .map_err(|e| anyhow!("block {h}: {e}"))?;
        if block.header.time < cut {
            continue;
        }
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
    if json_out {
        let list: Vec<_> = affected
            .iter()
            .map(|(id, h)| json!({ "credential": id, "height": h }))
            .collect();
        println!(
            "{}",
            json!({ "key": format!("{issuer}/{key_id}"), "revoked_from": cut, "affected": list })
        );
    } else {
        println!(
            "key {issuer}/{key_id} revoked from {cut} ms: {} credential(s) published since",
            affected.len()
        );
        for (id, h) in &affected {
            println!("  {id}  (block {h})");
        }
    }
    Ok(())
}
