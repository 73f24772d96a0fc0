//! What a re-run does first with the transactions an earlier run of the batch sent: send them
//! again byte for byte, then wait until none is pending, so that the ledger's answer for their
//! rows is final before the rows are checked and signed again.
//!
//! Sending again matters when the earlier run's node died after passing some of its
//! transactions on: the others still hold them and will commit them, but the restarted node
//! has forgotten them. Without them in view, a re-run would take their rows for absent and
//! sign them again with the same nonces, which the old transactions then take first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use credledger_core::credential::HeldCredential;
use credledger_core::encoding::encode;
use credledger_core::ids::{ChainId, CredentialId};
use credledger_core::tx::Transaction;

use super::Ready;
use super::out_folder::Submitted;
use crate::ledger::{Issuer, Ledger};

/// How long a re-run waits for an earlier run's transactions to leave the mempools.
const SETTLE_FOR: Duration = Duration::from_secs(60);

/// The earlier run's transactions that can be signed again from the credentials of `rows`,
/// with a nonce the ledger has not used yet (`next_nonce`), in nonce order. One whose rebuilt
/// id is not the journaled one (a journal from another issuer key, say) is left out.
pub(super) fn rebuild(
    chain: &ChainId,
    issuer: &Issuer,
    submitted: &[Submitted],
    rows: &[Ready],
    next_nonce: u64,
) -> Result<Vec<Transaction>> {
    let held: HashMap<CredentialId, &HeldCredential> =
        rows.iter().map(|r| (r.held.body.id, &r.held)).collect();
    let mut txs = Vec::new();
    for s in submitted {
        let Some((nonce, ids)) = &s.rebuild else {
            continue;
        };
        if *nonce < next_nonce {
            continue;
        }
        let Some(creds) = ids
            .iter()
            .map(|id| held.get(id).copied())
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let tx = super::publish_tx(chain, issuer, *nonce, creds.into_iter())?;
        if tx.id().to_string() == s.tx {
            txs.push((*nonce, tx));
        }
    }
    txs.sort_by_key(|(nonce, _)| *nonce);
    Ok(txs.into_iter().map(|(_, tx)| tx).collect())
}

/// Sends `txs` again, in order. A refusal is no error here: the transaction may be pending or
/// committed already, or its nonce taken; the rows are settled on the ledger afterwards.
pub(super) fn resend(ledger: &Ledger, txs: &[Transaction]) -> Result<()> {
    for tx in txs {
        ledger.nodes.submit(&encode(tx), 0)?;
    }
    Ok(())
}

/// Waits (at most a minute) until no transaction an earlier run submitted is still pending.
/// Returns whether one still is: one can wait for ever behind a nonce gap (its predecessor
/// went to a node that died before passing it on, and the journal could not rebuild it), and
/// only sending the rows again fills the gap, so the batch goes on, keeping every holder file
/// while such a transaction may still commit.
pub(super) fn settle(ledger: &Ledger, submitted: &[Submitted]) -> Result<bool> {
    let deadline = Instant::now() + SETTLE_FOR;
    for s in submitted {
        while ledger.nodes.tx_status(&s.tx, true)?.body["state"] == "pending" {
            if Instant::now() > deadline {
                eprintln!(
                    "transaction {} of an earlier run is still pending after a minute; its \
                     rows are sent again, and no holder file is removed in this run",
                    s.tx
                );
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_core::testkit::World;

    #[test]
    fn an_earlier_runs_transactions_are_rebuilt_byte_for_byte_in_nonce_order() {
        let world = World::new(5, 4);
        let chain = &world.devnet.genesis.chain_id;
        let (_, _, key) = &world.devnet.issuer_keys[0];
        let issuer = Issuer {
            id: "moj".parse().unwrap(),
            key_id: "moj-2026-01".parse().unwrap(),
            key: credledger_core::sig::Keypair::from_seed(&key.seed()),
        };
        let rows: Vec<Ready> = (0..4)
            .map(|n| Ready {
                row: n as usize + 2,
                held: world.lawyer_license(n, None),
            })
            .collect();
        let tx = |nonce: u64, of: &[usize]| {
            super::super::publish_tx(chain, &issuer, nonce, of.iter().map(|&i| &rows[i].held))
                .unwrap()
        };
        let journaled = |nonce: u64, of: &[usize]| Submitted {
            tx: tx(nonce, of).id().to_string(),
            rebuild: Some((nonce, of.iter().map(|&i| rows[i].held.body.id).collect())),
        };
        let submitted = vec![
            journaled(6, &[2]),
            journaled(5, &[0, 1]),
            // Below the ledger's next nonce: committed or dead.
            journaled(4, &[3]),
            // A journaled id another signing does not give.
            Submitted {
                tx: "00".repeat(32),
                ..journaled(7, &[3])
            },
            // A credential of which no row is left to rebuild from.
            Submitted {
                rebuild: Some((8, vec![CredentialId([9; 16])])),
                ..journaled(8, &[3])
            },
            // An older journal's line.
            Submitted {
                rebuild: None,
                ..journaled(9, &[3])
            },
        ];
        let rebuilt = rebuild(chain, &issuer, &submitted, &rows, 5).unwrap();
        let ids: Vec<String> = rebuilt.iter().map(|t| t.id().to_string()).collect();
        assert_eq!(ids, [submitted[1].tx.clone(), submitted[0].tx.clone()]);
        assert_eq!(encode(&rebuilt[0]), encode(&tx(5, &[0, 1])));
    }
}
