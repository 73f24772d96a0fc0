//! `anchor`: the T-Road anchoring agent. It reads an agency's transfer-log records, appends
//! each record's leaf to the source's local append-only log, and anchors the log's signed head
//! on the ledger every N records or T milliseconds (spec/troad-log.md §5).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use credledger_core::bounded::BoundedVec;
use credledger_core::ids::LogSourceId;
use credledger_core::merkle::empty_root;
use credledger_core::sig::Keypair;
use credledger_core::state::{LogSourceRecord, StateKey, StateValue};
use credledger_core::tx::{AnchorTx, Signed, Transaction};
use credledger_issuer::logstore::{AnchoredHead, LogStore};
use serde_json::json;

use crate::ledger::{KeyArgs, Ledger, LedgerArgs, Refused};

mod input;
use input::Input;

/// T-Road log anchoring.
#[derive(Subcommand, Debug)]
pub enum AnchorCommand {
    /// Read records and anchor the log: from a file (optionally following it as it grows) or
    /// stdin. Resumes where the local log stops, so a restart neither skips nor repeats.
    ///
    /// Example: credledger-issuer anchor run --store troad/ss1 --follow
    ///   --every 10000 --interval-ms 1000 --key ss1.key --genesis genesis.json
    ///   --node http://127.0.0.1:26800 /var/log/troad/messages.jsonl
    Run(RunArgs),
    /// The local log's size and last anchor, next to the ledger's (checked against genesis).
    ///
    /// Example: credledger-issuer anchor status --store troad/ss1 --source troad-demo-ss1
    ///   --genesis genesis.json --node http://127.0.0.1:26800
    Status(StatusArgs),
}

/// Arguments of `anchor run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The records (JSON lines, spec/troad-log.md §2), or `-` for stdin.
    #[arg(value_name = "FILE")]
    input: String,
    /// Folder of the source's local log (created if missing).
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// Anchor once this many records arrived since the last anchor.
    #[arg(long, default_value_t = 10_000)]
    every: u64,
    /// Anchor at least this often while records arrive.
    #[arg(long, default_value_t = 1_000)]
    interval_ms: u64,
    /// Keep reading the file as it grows instead of stopping at its end.
    #[arg(long)]
    follow: bool,
    /// Stop after this many records in total (the log's size), for tests and benchmarks.
    #[arg(long)]
    max_records: Option<u64>,
    /// Print a JSON summary on stdout when done.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Arguments of `anchor status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Folder of the source's local log.
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// The log source's id on the ledger.
    #[arg(long)]
    source: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Runs an `anchor` subcommand.
pub fn run(cmd: &AnchorCommand) -> Result<()> {
    match cmd {
        AnchorCommand::Run(a) => run_agent(a),
        AnchorCommand::Status(a) => status(a),
    }
}

fn status(a: &StatusArgs) -> Result<()> {
    let ledger = a.ledger.open()?;
    let source: LogSourceId = a.source.parse().map_err(|e| anyhow!("--source: {e}"))?;
    let log = LogStore::open(&a.store)?;
    let on_ledger = source_record(&ledger, &source)?;
    let local = log.anchored();
    if a.json {
        println!(
            "{}",
            json!({
                "source": source,
                "local_size": log.size(),
                "local_root": log.root(),
                "local_anchored": local.map(|h| json!({"sequence": h.sequence, "size": h.size, "root": h.root})),
                "ledger": {"sequence": on_ledger.last_sequence, "size": on_ledger.last_size, "root": on_ledger.last_root},
            })
        );
    } else {
        println!("source        {source}");
        println!("local log     {} records, root {}", log.size(), log.root());
        match local {
            Some(h) => println!(
                "local anchor  #{} at {} records, root {}",
                h.sequence, h.size, h.root
            ),
            None => println!("local anchor  none yet"),
        }
        println!(
            "ledger        #{} at {} records, root {}",
            on_ledger.last_sequence, on_ledger.last_size, on_ledger.last_root
        );
    }
    Ok(())
}

/// The source's record on the ledger, checked against genesis.
fn source_record(ledger: &Ledger, source: &LogSourceId) -> Result<LogSourceRecord> {
    let key = StateKey::LogSource(source.clone());
    match ledger.state_entry(&format!("/v1/state/log-source/{source}"), &key)? {
        Some(StateValue::LogSource(r)) => {
            if let Some(at) = r.removed_at {
                bail!(
                    "log source {source} was removed at {}; it can no longer anchor",
                    at.taiwan_time()
                );
            }
            Ok(r)
        }
        Some(_) => bail!("the ledger's entry for log source {source} is not a log source"),
        None => bail!(
            "the ledger has no log source {source}; governance must add it (`governance propose add-log-source`)"
        ),
    }
}

/// The agent: the local log, the ledger, the key and what it measured.
struct Agent {
    log: LogStore,
    ledger: Ledger,
    source: LogSourceId,
    key: Keypair,
    /// When each record since the last anchor was appended, for the latency report.
    waiting: Vec<Instant>,
    latencies: Latencies,
    anchors: u64,
    last_anchor: Instant,
}

fn run_agent(a: &RunArgs) -> Result<()> {
    if a.every == 0 || a.interval_ms == 0 {
        bail!("--every and --interval-ms must be at least 1");
    }
    let (file, key) = a.key.open_file()?;
    if file.issuer != "log-source" {
        bail!(
            "{} is the key of issuer {}, not of a log source; anchoring needs the source's key",
            file.key_id,
            file.issuer
        );
    }
    let source: LogSourceId = file
        .key_id
        .parse()
        .map_err(|e| anyhow!("log source id in key file: {e}"))?;
    let ledger = a.ledger.open()?;
    let mut agent = Agent {
        log: LogStore::open(&a.store)?,
        ledger,
        source,
        key,
        waiting: Vec::new(),
        latencies: Latencies::default(),
        anchors: 0,
        last_anchor: Instant::now(),
    };
    let mut catch_up = agent.reconcile()?;
    let started = agent.log.size();
    let mut input = Input::open(&a.input, a.follow)?;
    // spec/troad-log.md §4: the input's first `size` records are already in the log.
    input.skip(agent.log.size())?;
    let interval = Duration::from_millis(a.interval_ms);
    loop {
        if a.max_records.is_some_and(|m| agent.log.size() >= m) {
            break;
        }
        match input.next_record()? {
            Some(record) => {
                agent.log.append(record.leaf())?;
                match &catch_up {
                    Some(head) if agent.log.size() == head.last_size => {
                        agent.adopt(head)?;
                        catch_up = None;
                    }
                    Some(_) => {}
                    None => agent.waiting.push(Instant::now()),
                }
            }
            None if !a.follow => {
                if let Some(head) = &catch_up {
                    bail!(
                        "the input has {} records, but the ledger already anchored {} of {}: \
                         is this the source's log file?",
                        agent.log.size(),
                        head.last_size,
                        agent.source
                    );
                }
                break;
            }
            None => {}
        }
        // Records not yet anchored include any the log held at start beyond its last anchor
        // (a crash between checkpoint and commit), not only those read in this run.
        let pending = agent.unanchored();
        let due = catch_up.is_none()
            && (pending >= a.every || (pending > 0 && agent.last_anchor.elapsed() >= interval));
        if due {
            agent.anchor(a.follow)?;
        }
    }
    if catch_up.is_none() && agent.unanchored() > 0 {
        agent.anchor(false)?;
    }
    agent.log.checkpoint()?;
    let head = agent.log.anchored();
    let summary = json!({
        "source": agent.source,
        "records_read": agent.log.size() - started,
        "log_size": agent.log.size(),
        "anchors": agent.anchors,
        "anchored": head.map(|h| json!({"sequence": h.sequence, "size": h.size, "root": h.root})),
        "latency_ms": agent.latencies.summary(),
    });
    if a.json {
        println!("{summary}");
    } else {
        eprintln!(
            "anchor: {} records read; log holds {}; {} anchors made",
            agent.log.size() - started,
            agent.log.size(),
            agent.anchors
        );
    }
    Ok(())
}

/// Append-to-commit latencies in whole milliseconds, counted in fixed buckets so an agent that
/// follows a log for months holds the same memory as on its first day.
struct Latencies {
    /// `buckets[ms]`: records anchored `ms` after their append; the last bucket holds the rest.
    buckets: Vec<u64>,
    count: u64,
    max: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            buckets: vec![0; 60_001],
            count: 0,
            max: 0,
        }
    }
}

impl Latencies {
    fn add(&mut self, ms: u64) {
        let last = self.buckets.len() - 1;
        self.buckets[(ms as usize).min(last)] += 1;
        self.count += 1;
        self.max = self.max.max(ms);
    }

    /// The smallest latency at or below which a fraction `q` of the records fall.
    fn quantile(&self, q: f64) -> u64 {
        let want = ((self.count as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (ms, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return ms as u64;
            }
        }
        self.max
    }

    fn summary(&self) -> serde_json::Value {
        if self.count == 0 {
            return serde_json::Value::Null;
        }
        json!({"count": self.count, "p50": self.quantile(0.50), "p99": self.quantile(0.99), "max": self.max})
    }
}

impl Agent {
    /// Records in the local log after its last anchor.
    fn unanchored(&self) -> u64 {
        self.log.size() - self.log.anchored().map_or(0, |h| h.size)
    }

    /// Brings the local record of the last anchor in line with the ledger's. A crash between
    /// the ledger's commit and the local record leaves the ledger one anchor ahead, of the
    /// checkpointed tree or, if the anchor committed only after the restart, of an earlier
    /// size of the log. A local log that is behind the ledger (lost, or rebuilt from
    /// the log file) is returned to be caught up from the input; anything else means the two
    /// logs differ, and the agent stops.
    fn reconcile(&mut self) -> Result<Option<LogSourceRecord>> {
        let on_ledger = source_record(&self.ledger, &self.source)?;
        let local = self.log.anchored().map_or(0, |h| h.sequence);
        if on_ledger.last_sequence == local {
            return Ok(None);
        }
        if on_ledger.last_sequence > local && on_ledger.last_size > self.log.size() {
            return Ok(Some(on_ledger));
        }
        // The ledger's head may also be of fewer records than the log holds: an anchor sent
        // just before a crash can commit after the restart, once this agent has read on.
        if Some(on_ledger.last_sequence) == local.checked_add(1)
            && self.log.mark_anchored_earlier(AnchoredHead {
                sequence: on_ledger.last_sequence,
                size: on_ledger.last_size,
                root: on_ledger.last_root,
            })?
        {
            return Ok(None);
        }
        bail!(
            "the local log of {} (anchor #{local}, {} records, root {}) does not match the ledger \
             (anchor #{}, {} records, root {}); is --store the right folder for this source?",
            self.source,
            self.log.size(),
            self.log.root(),
            on_ledger.last_sequence,
            on_ledger.last_size,
            on_ledger.last_root
        )
    }

    /// Takes the ledger's latest head as this log's anchor once the log, rebuilt from the
    /// input, has reached its size with the same root.
    fn adopt(&mut self, head: &LogSourceRecord) -> Result<()> {
        if self.log.root() != head.last_root {
            bail!(
                "the input's first {} records have root {}, but the ledger anchored root {} \
                 (anchor #{}): the log file differs from what was anchored; \
                 `credledger-verifier audit check-log` names the lines",
                head.last_size,
                self.log.root(),
                head.last_root,
                head.last_sequence
            );
        }
        self.log.mark_anchored(AnchoredHead {
            sequence: head.last_sequence,
            size: head.last_size,
            root: head.last_root,
        })?;
        eprintln!(
            "anchor: local log rebuilt up to anchor #{} ({} records)",
            head.last_sequence, head.last_size
        );
        Ok(())
    }

    /// Anchors the current tree; with `patient`, failures to reach the ledger are retried
    /// until it answers (a following agent must not stop on an outage).
    fn anchor(&mut self, patient: bool) -> Result<()> {
        // The tree is made durable before it is signed, so that after a crash the local log
        // holds at least what the ledger may already have anchored.
        self.log.checkpoint()?;
        // The interval runs from when an anchor is sent, not from its commit, so that records
        // wait at most one interval plus one commit.
        let began = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.try_anchor() {
                Ok(height) => {
                    let now = Instant::now();
                    for t in self.waiting.drain(..) {
                        self.latencies.add(now.duration_since(t).as_millis() as u64);
                    }
                    self.anchors += 1;
                    self.last_anchor = began;
                    eprintln!(
                        "anchor: #{} of {} at {} records, block {height}",
                        self.log.anchored().map_or(0, |h| h.sequence),
                        self.source,
                        self.log.size()
                    );
                    return Ok(());
                }
                Err(e) if e.downcast_ref::<Refused>().is_some() => {
                    // The sequence number may have been taken by an anchor sent before a crash
                    // and committed since: take that head, then anchor the rest after it.
                    let before = self.log.anchored();
                    if attempt < 10
                        && matches!(self.reconcile(), Ok(None))
                        && self.log.anchored() != before
                    {
                        if self.fully_anchored() {
                            self.waiting.clear();
                            return Ok(());
                        }
                        continue;
                    }
                    return Err(e);
                }
                Err(e) if patient || attempt < 10 => {
                    eprintln!("anchor: attempt {attempt} failed ({e:#}); retrying");
                    std::thread::sleep(Duration::from_millis(500));
                    // The anchor may have committed although its answer was lost.
                    if matches!(self.reconcile(), Ok(None)) && self.fully_anchored() {
                        self.waiting.clear();
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the last anchored head covers every record in the log.
    fn fully_anchored(&self) -> bool {
        self.log
            .anchored()
            .is_some_and(|h| h.size == self.log.size())
    }

    fn try_anchor(&mut self) -> Result<u64> {
        let last = self.log.anchored();
        let tx = AnchorTx {
            source: self.source.clone(),
            sequence: last.map_or(1, |h| h.sequence.saturating_add(1)),
            tree_size: self.log.size(),
            root: self.log.root(),
            previous_root: last.map_or_else(empty_root, |h| h.root),
            consistency: BoundedVec::new(self.log.consistency_since_anchor()?)
                .map_err(|e| anyhow!("consistency proof: {e}"))?,
            log_time: crate::ledger::now(),
        };
        let head = AnchoredHead {
            sequence: tx.sequence,
            size: tx.tree_size,
            root: tx.root,
        };
        let signed =
            Transaction::Anchor(Signed::sign(&self.ledger.genesis.chain_id, tx, &self.key));
        let committed = self.ledger.submit_tx(&signed)?;
        self.log.mark_anchored(head)?;
        Ok(committed.height)
    }
}

#[cfg(test)]
mod tests {
    use super::Latencies;

    #[test]
    fn quantiles_come_from_fixed_buckets() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.add(ms);
        }
        // Beyond the last bucket it still counts, and the maximum is kept exactly.
        l.add(90_000);
        assert_eq!(l.quantile(0.50), 51);
        assert_eq!(l.quantile(0.99), 100);
        assert_eq!(l.quantile(1.0), 60_000);
        assert_eq!(l.summary()["max"], 90_000);
        assert_eq!(l.summary()["count"], 101);
        assert!(Latencies::default().summary().is_null());
    }
}
