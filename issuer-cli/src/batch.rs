//! `publish --csv`: thousands of credentials from a CSV file (a header row of claim names, one
//! subject per row). Bad rows are reported and left out without stopping the batch. Each row's
//! credential id and salt seed derive from the issuer's secret key and the row's claims
//! (`Domain::BatchCredential`), and a journal in the output folder records what committed, so
//! re-running the same batch skips what is done and can never issue a row twice. A row's
//! holder files are written before it is submitted, and its signed credential flushed to disk
//! in `signed.jsonl`; a re-run that finds either without a journal line asks the ledger, and
//! submits that same credential again only if it is proven absent. Before that, it sends
//! again, byte for byte, the transactions the earlier run journaled and the ledger has not
//! committed (`earlier`), so none of them can take the nonces of its new ones unseen. A batch
//! that stops half-way still writes its report.

mod earlier;
mod line_limit;
mod out_folder;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use credledger_core::bounded::{BoundedVec, ShortVec};
use credledger_core::credential::{CREDENTIAL_VERSION, Claim, CredentialBody, HeldCredential};
use credledger_core::encoding::encode;
use credledger_core::hash::{Digest, Domain};
use credledger_core::ids::{ChainId, CredentialId, KindId, Nonce, Timestamp};
use credledger_core::state::KindDef;
use credledger_core::tx::{IssuerAction, IssuerTx, Signed, SignedBody, Transaction};
use serde_json::{Value, json};

use crate::ledger::{Issuer, Ledger};
use crate::publish::claims_for;
pub(crate) use out_folder::OutFolder;
pub(crate) use out_folder::sync_dir;
use out_folder::{RowResult, Submitted};

/// Credentials per transaction: one publish transaction is all or nothing on the ledger.
const PER_TX: usize = 250;
/// Transactions whose credentials are flushed to disk together before the first is sent.
const FLUSH_CHUNKS: usize = 40;
/// Rows read at most.
const MAX_ROWS: usize = 1_000_000;

/// A row that became a credential to publish.
struct Ready {
    row: usize,
    held: HeldCredential,
}

pub(crate) fn derive(tag: u8, parts: &[&[u8]]) -> [u8; 16] {
    let mut m = vec![tag];
    for p in parts {
        m.extend_from_slice(p);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&Domain::BatchCredential.hash(&[&m]).0[..16]);
    out
}

/// The credential a row always becomes for this issuer key (spec/hashing.md, `BatchCredential`).
fn credential_for(
    ledger: &Ledger,
    issuer: &Issuer,
    kind: &KindId,
    claims: Vec<Claim>,
    now: Timestamp,
    valid_until: Option<Timestamp>,
) -> Result<HeldCredential> {
    let seed_secret = issuer.key.seed();
    let claims = ShortVec::new(claims).map_err(|e| anyhow!("claims: {e}"))?;
    let id = derive(
        1,
        &[&seed_secret, kind.as_str().as_bytes(), &encode(&claims)],
    );
    let salt = derive(2, &[&seed_secret, &id]);
    let body = CredentialBody {
        version: CREDENTIAL_VERSION,
        issuer: issuer.id.clone(),
        key_id: issuer.key_id.clone(),
        kind: kind.clone(),
        id: CredentialId(id),
        valid_from: now,
        valid_until,
        claims_root: Digest::ZERO,
    };
    Ok(HeldCredential::issue(
        &ledger.genesis.chain_id,
        body,
        salt,
        claims,
        &issuer.key,
    ))
}

/// How long a batch waits for its transactions' commits asking only the first node that
/// answers; after that it asks every node (see [`crate::client::Nodes::tx_status`]).
const LAGGING_AFTER: Duration = Duration::from_secs(3);

/// How long a batch's transaction may be unknown to every node before its rows are settled
/// on the ledger instead of waited for.
const DROPPED_AFTER: Duration = Duration::from_secs(10);

/// The transaction publishing `credentials` with `nonce`. Signing is deterministic, so the
/// same arguments give the same transaction, byte for byte ([`earlier::rebuild`]).
fn publish_tx<'a>(
    chain: &ChainId,
    issuer: &Issuer,
    nonce: u64,
    credentials: impl Iterator<Item = &'a HeldCredential>,
) -> Result<Transaction> {
    let credentials = credentials
        .map(|h| SignedBody {
            body: h.body.clone(),
            signature: h.signature,
        })
        .collect();
    Ok(Transaction::Issuer(Signed::sign(
        chain,
        IssuerTx {
            issuer: issuer.id.clone(),
            key_id: issuer.key_id.clone(),
            nonce: Nonce(nonce),
            action: IssuerAction::Publish {
                credentials: BoundedVec::new(credentials).map_err(|e| anyhow!("{e}"))?,
            },
        },
        &issuer.key,
    )))
}

/// Publishes every good row of `csv_path`; writes the holders' files, `journal.jsonl` and
/// `report.csv` in `folder`. Returns the summary.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ledger: &Ledger,
    issuer: &Issuer,
    kind: &KindId,
    schema: &KindDef,
    csv_path: &Path,
    folder: OutFolder,
    valid_until: Option<Timestamp>,
    progress: bool,
) -> Result<Value> {
    // End to end: from reading the CSV to the last commit.
    let start = Instant::now();
    let file = std::fs::File::open(csv_path)
        .with_context(|| format!("cannot read {}", csv_path.display()))?;
    let mut reader =
        csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(line_limit::LineLimit::new(
                std::io::BufReader::new(file),
                line_limit::MAX_LINE_BYTES,
            ));
    let headers = reader
        .headers()
        .context("the CSV has no header row")?
        .clone();
    // A header that does not fit the kind would fail every row alike: said once, before the
    // output folder is touched.
    check_header(schema, &headers)
        .with_context(|| format!("{}'s header row", csv_path.display()))?;
    folder.bind_key(&format!("{}/{}", issuer.id, issuer.key_id))?;
    folder.clear_report()?;
    let (done, submitted) = folder.read_journal()?;
    let signed = folder.read_signed_without_files()?;
    let now = crate::ledger::now();

    let mut results: Vec<RowResult> = Vec::new();
    let mut ready: Vec<Ready> = Vec::new();
    let mut recheck: Vec<Ready> = Vec::new();
    let mut seen: HashMap<CredentialId, usize> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2; // line numbers as a spreadsheet shows them, after the header
        if i >= MAX_ROWS {
            bail!(
                "{} has more than {MAX_ROWS} rows; split it",
                csv_path.display()
            );
        }
        let record = match record {
            Ok(r) => r,
            // The file cannot be read on (a line past the limit, a read error): no row after
            // this one can be trusted to be where the CSV reader says.
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                bail!("{}: {e}", csv_path.display())
            }
            Err(e) => {
                results.push(RowResult {
                    row,
                    id: None,
                    outcome: format!("error: {e}"),
                });
                continue;
            }
        };
        let subject: serde_json::Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        // A row whose presentation would not fit in a QR code is refused, as a single
        // publication is: its holder could never show it.
        let held = claims_for(schema, &Value::Object(subject))
            .and_then(|claims| credential_for(ledger, issuer, kind, claims, now, valid_until))
            .and_then(|held| {
                crate::qr::fits(&out_folder::qr_text(&held))?;
                Ok(held)
            });
        match held {
            Err(e) => results.push(RowResult {
                row,
                id: None,
                outcome: format!("error: {e:#}"),
            }),
            Ok(held) => {
                let id = held.body.id;
                if let Some(first) = seen.insert(id, row) {
                    results.push(RowResult {
                        row,
                        id: Some(id),
                        outcome: format!("error: same subject as row {first}"),
                    });
                } else if done.contains(&id.to_string()) {
                    // Its holder files may have been lost with the page cache; the signed
                    // record brings them back.
                    if let Some(earlier) = signed.get(&id) {
                        folder.write_holder(earlier)?;
                    }
                    results.push(RowResult {
                        row,
                        id: Some(id),
                        outcome: "skipped: already committed".into(),
                    });
                } else if let Some(earlier) = folder
                    .read_holder(&id)?
                    .or_else(|| signed.get(&id).cloned())
                {
                    // Signed by an earlier run, which may have sent it.
                    recheck.push(Ready { row, held: earlier });
                } else {
                    ready.push(Ready { row, held });
                }
            }
        }
    }

    // Every row from here on is settled over the network; if the batch stops on the way, the
    // report still lists each row, the unsettled ones as such.
    let queued: Vec<(usize, CredentialId)> = ready
        .iter()
        .chain(&recheck)
        .map(|r| (r.row, r.held.body.id))
        .collect();
    let published = publish_rows(
        ledger,
        issuer,
        &folder,
        &submitted,
        ready,
        recheck,
        progress,
        &mut results,
    );
    let elapsed = start.elapsed();
    if let Err(e) = published {
        let settled: HashSet<usize> = results.iter().map(|r| r.row).collect();
        for (row, id) in queued {
            if !settled.contains(&row) {
                results.push(RowResult {
                    row,
                    id: Some(id),
                    outcome: format!(
                        "error: not settled, the batch stopped ({e:#}); run the batch again"
                    ),
                });
            }
        }
        let report = folder.write_report(&mut results)?;
        return Err(e.context(format!(
            "the batch stopped; {} lists every row, and running the same batch again settles the rest",
            report.display()
        )));
    }
    let report = folder.write_report(&mut results)?;
    let count = |p: &str| results.iter().filter(|r| r.outcome.starts_with(p)).count();
    let committed = count("committed");
    let unsettled = results
        .iter()
        .filter(|r| {
            r.outcome.contains("run the batch again") || r.outcome.contains("files are kept")
        })
        .count();
    Ok(json!({
        "rows": results.len(),
        "committed": committed,
        "skipped": count("skipped"),
        "errors": count("error"),
        "unsettled": unsettled,
        "seconds": (elapsed.as_secs_f64() * 100.0).round() / 100.0,
        "credentials_per_s": if elapsed.as_secs_f64() > 0.0 { (committed as f64 / elapsed.as_secs_f64()).round() } else { 0.0 },
        "report": report.display().to_string(),
    }))
}

/// Rows of a finished batch whose transactions were sent but whose fate the ledger did not
/// settle: they may still commit (exit code 6, spec/issuer-keys.md §4).
#[derive(Debug, thiserror::Error)]
#[error(
    "{rows} rows were sent but are not settled; they may still commit: run the same batch again (it publishes none twice), {report} lists them"
)]
pub struct BatchUnsettled {
    /// How many.
    pub rows: u64,
    /// The report's path.
    pub report: String,
}

/// Whether a CSV header row names each of the kind's claims once and nothing else; every
/// column missing, unknown or repeated is named, with the header the kind wants.
fn check_header(schema: &KindDef, headers: &csv::StringRecord) -> Result<()> {
    let wanted: Vec<&str> = schema.claims.iter().map(|d| d.key.as_str()).collect();
    let mut problems = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if !wanted.contains(&h) {
            problems.push(format!("column {h:?} is not a claim of kind {}", schema.id));
        } else if headers.iter().take(i).any(|earlier| earlier == h) {
            problems.push(format!("column {h:?} appears twice"));
        }
    }
    for w in &wanted {
        if !headers.iter().any(|h| h == *w) {
            problems.push(format!("claim {w:?} has no column"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "{}; kind {} wants the header `{}`",
        problems.join("; "),
        schema.id,
        wanted.join(",")
    )
}

/// Rows of a finished batch that failed for good: a bad row, or one the ledger refused. The
/// rest of the batch is published; the report names each failed row and why (exit code 7,
/// spec/issuer-keys.md §4), so a scheduled run can tell a partly failed batch from a whole one.
#[derive(Debug, thiserror::Error)]
#[error("{rows} rows failed and were not published; {report} names each and why")]
pub struct BatchRowsFailed {
    /// How many.
    pub rows: u64,
    /// The report's path.
    pub report: String,
}

/// Settles the rows over the network: re-checks rows an earlier run may have sent, then
/// submits the rest in transactions of [`PER_TX`] and waits for their commits. Each settled
/// row's outcome is pushed to `results`.
#[allow(clippy::too_many_arguments)]
fn publish_rows(
    ledger: &Ledger,
    issuer: &Issuer,
    folder: &OutFolder,
    submitted: &[Submitted],
    mut ready: Vec<Ready>,
    recheck: Vec<Ready>,
    progress: bool,
    results: &mut Vec<RowResult>,
) -> Result<()> {
    // A row an earlier run signed (its holder file or its line in `signed.jsonl` is there) but
    // did not journal may have been committed: the ledger decides, with a proof checked
    // against genesis. If it was not, that very credential is submitted again, so the holder's
    // copy stays right.
    //
    // The earlier run's transactions are sent again first, byte for byte: the node that took
    // them may have died and forgotten them after passing some on, and the others would
    // commit those after this run had signed their rows again with the same nonces.
    let earlier_pending = if recheck.is_empty() {
        false
    } else {
        let next_nonce = ledger.next_nonce(&issuer.id)?.0;
        earlier::resend(
            ledger,
            &earlier::rebuild(
                &ledger.genesis.chain_id,
                issuer,
                submitted,
                &recheck,
                next_nonce,
            )?,
        )?;
        earlier::settle(ledger, submitted)?
    };
    for r in recheck {
        let id = r.held.body.id;
        match on_ledger(ledger, issuer, &r.held)? {
            OnLedger::This => {
                // Its holder files again, in case only the signed record survived.
                folder.write_holder(&r.held)?;
                folder.committed(r.row, &id, "found on the ledger")?;
                results.push(RowResult {
                    row: r.row,
                    id: Some(id),
                    outcome: "skipped: already committed".into(),
                });
            }
            OnLedger::Another => results.push(RowResult {
                row: r.row,
                id: Some(id),
                outcome: format!(
                    "error: the ledger holds another credential {id} than the file in {}",
                    folder.path().display()
                ),
            }),
            OnLedger::Absent => ready.push(r),
        }
    }
    ready.sort_by_key(|r| r.row);

    let bar = indicatif::ProgressBar::new(ready.len() as u64);
    if progress {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} credentials {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }

    // Submit every chunk with consecutive nonces without waiting, then wait for all.
    let mut nonce = ledger.next_nonce(&issuer.id)?.0;
    let mut pending: BTreeMap<String, Vec<Ready>> = BTreeMap::new();
    let mut chunks = Vec::new();
    let mut rest = ready;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(PER_TX));
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    for i in 0..chunks.len() {
        // Before the first transaction of each group of chunks: the group's holder files, and
        // its signed credentials flushed to disk in one go, so a group that commits while this
        // run dies (or the power fails) keeps them. One flush per group, not per transaction:
        // each fsync also drags along whatever else the disk holds unwritten.
        if i % FLUSH_CHUNKS == 0 {
            let group = || {
                chunks[i..(i + FLUSH_CHUNKS).min(chunks.len())]
                    .iter()
                    .flatten()
                    .map(|r| &r.held)
            };
            folder.write_holders(group())?;
            folder.record_signed(group())?;
        }
        let chunk = std::mem::take(&mut chunks[i]);
        let tx = publish_tx(
            &ledger.genesis.chain_id,
            issuer,
            nonce,
            chunk.iter().map(|r| &r.held),
        )?;
        let ids: Vec<CredentialId> = chunk.iter().map(|r| r.held.body.id).collect();
        folder.submitted(&tx.id().to_string(), nonce, &ids)?;
        let answer = ledger.nodes.submit(&encode(&tx), 0)?;
        if answer.status == 200 {
            nonce += 1;
            pending.insert(tx.id().to_string(), chunk);
        } else {
            let reason = answer.body["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("the node answered {}", answer.status));
            // Only a 422 says the transaction is in no mempool and never will commit; a 409
            // (already pending, or its nonce behind or taken) may be about this very
            // transaction (spec/http-api.md §1).
            let definitive = answer.status == 422 && !earlier_pending;
            results.extend(after_refusal(
                ledger, issuer, folder, chunk, &reason, definitive,
            )?);
        }
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let mut unknown_since: HashMap<String, Instant> = HashMap::new();
    while !pending.is_empty() && Instant::now() < deadline {
        // A transaction still pending after a few seconds may be committed on a node other
        // than the first, which lags (just restarted, say): from then on, every node is asked.
        let every_node = started.elapsed() > LAGGING_AFTER;
        let ids: Vec<String> = pending.keys().cloned().collect();
        for txid in ids {
            let a = ledger.nodes.tx_status(&txid, every_node)?;
            // Unknown to every node that answers (a node writes a block before it drops the
            // block's transactions from its mempool, so a commit is never missed in between):
            // its nonce was taken by another transaction, an earlier run's one perhaps, or
            // its only holder restarted. Its rows are settled on the ledger then, not waited
            // for; files are kept, as it may yet commit from a node not asked.
            if a.status == 404 {
                let since = *unknown_since
                    .entry(txid.clone())
                    .or_insert_with(Instant::now);
                if since.elapsed() >= DROPPED_AFTER
                    && let Some(chunk) = pending.remove(&txid)
                {
                    let reason = format!("no node holds transaction {txid} any more");
                    results.extend(after_refusal(
                        ledger, issuer, folder, chunk, &reason, false,
                    )?);
                }
                continue;
            }
            unknown_since.remove(&txid);
            if a.body["state"] != "committed" {
                continue;
            }
            let Some(chunk) = pending.remove(&txid) else {
                continue;
            };
            let height = a.body["height"].as_u64().unwrap_or(0);
            match a.body["error"].as_str() {
                None => {
                    for r in &chunk {
                        folder.committed(r.row, &r.held.body.id, &format!("block {height}"))?;
                        results.push(RowResult {
                            row: r.row,
                            id: Some(r.held.body.id),
                            outcome: format!("committed in block {height}"),
                        });
                    }
                    bar.inc(chunk.len() as u64);
                }
                Some(e) => {
                    // Committed with an error: this transaction changed nothing, for good (but
                    // an earlier run's pending one may still carry these rows).
                    let e = e.to_string();
                    results.extend(after_refusal(
                        ledger,
                        issuer,
                        folder,
                        chunk,
                        &e,
                        !earlier_pending,
                    )?);
                }
            }
        }
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for (txid, chunk) in pending {
        for r in chunk {
            results.push(RowResult {
                row: r.row,
                id: Some(r.held.body.id),
                outcome: format!(
                    "error: transaction {txid} not committed within 120 s; run the batch again"
                ),
            });
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// What the ledger holds under a row's credential id, proven against genesis.
enum OnLedger {
    /// This very credential.
    This,
    /// Another signing of the row under the same id.
    Another,
    /// Nothing.
    Absent,
}

fn on_ledger(ledger: &Ledger, issuer: &Issuer, held: &HeldCredential) -> Result<OnLedger> {
    Ok(match ledger.credential_record(&issuer.id, &held.body.id)? {
        Some(rec) if rec.digest == held.body.digest(&ledger.genesis.chain_id) => OnLedger::This,
        Some(_) => OnLedger::Another,
        None => OnLedger::Absent,
    })
}

/// The outcome of each row of a chunk whose transaction was refused or failed: a refusal
/// says nothing of the rows themselves (an earlier transaction may have committed them, or
/// another node may still hold this one), so each is asked of the ledger with a proof. A row
/// the ledger holds as this very credential is committed; a row proven absent loses its
/// holder files only when `definitive` says this transaction can never commit, and otherwise
/// keeps them for a re-run to settle.
fn after_refusal(
    ledger: &Ledger,
    issuer: &Issuer,
    folder: &OutFolder,
    chunk: Vec<Ready>,
    reason: &str,
    definitive: bool,
) -> Result<Vec<RowResult>> {
    let mut results = Vec::with_capacity(chunk.len());
    for r in chunk {
        let id = r.held.body.id;
        let outcome = match on_ledger(ledger, issuer, &r.held) {
            Ok(OnLedger::This) => {
                folder.committed(r.row, &id, "found on the ledger")?;
                "skipped: already committed".to_string()
            }
            // The id is taken by another signing of this row (an earlier run whose journal and
            // files were lost): this file's credential can never be published.
            Ok(OnLedger::Another) => {
                folder.remove_holder(&id);
                format!(
                    "error: {reason}; the ledger holds an earlier credential {id} for this row, \
                     whose holder file is lost"
                )
            }
            Ok(OnLedger::Absent) if definitive => {
                folder.remove_holder(&id);
                format!("error: {reason}")
            }
            Ok(OnLedger::Absent) => {
                format!("error: {reason}; its files are kept: run the batch again")
            }
            Err(e) => {
                format!("error: {reason}; its files are kept (the ledger could not say: {e:#})")
            }
        };
        results.push(RowResult {
            row: r.row,
            id: Some(id),
            outcome,
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::check_header;
    use credledger_core::devnet::{Devnet, DevnetParams};

    #[test]
    fn a_header_must_name_each_claim_of_the_kind_once() {
        let d = Devnet::build(&[1; 32], &DevnetParams::default()).unwrap();
        let kind = d
            .genesis
            .kinds
            .iter()
            .find(|k| k.id.as_str() == "lawyer-license")
            .unwrap();
        let wanted: Vec<&str> = kind.claims.iter().map(|c| c.key.as_str()).collect();
        check_header(kind, &csv::StringRecord::from(wanted.clone())).unwrap();
        // Columns in another order are fine: they are matched by name.
        let mut reversed = wanted.clone();
        reversed.reverse();
        check_header(kind, &csv::StringRecord::from(reversed)).unwrap();

        let mut wrong = wanted.clone();
        wrong[1] = "license";
        wrong.push(wanted[0]);
        let e = check_header(kind, &csv::StringRecord::from(wrong))
            .unwrap_err()
            .to_string();
        assert!(e.contains("column \"license\" is not a claim"), "{e}");
        assert!(
            e.contains(&format!("column {:?} appears twice", wanted[0])),
            "{e}"
        );
        assert!(
            e.contains(&format!("claim {:?} has no column", wanted[1])),
            "{e}"
        );
        assert!(e.contains(&wanted.join(",")), "{e}");
    }
}
