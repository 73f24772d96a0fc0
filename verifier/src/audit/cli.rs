//! `credledger-verifier audit …`: the auditor's commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use credledger_core::bounded::BoundedVec;
use credledger_core::ids::{LogSourceId, Timestamp};
use credledger_core::merkle::InclusionBuilder;
use credledger_core::state::StateKey;
use credledger_core::troad::LogRecord;
use credledger_core::verify::{
    EVIDENCE_VERSION, LogEvidence, MAX_EVIDENCE_BYTES, TrustAnchor, verify_log_evidence,
};
use serde_json::json;

use super::heads::Heads;
use super::logcheck::{CheckReport, Finding, check};
use super::logfile::{for_each_leaf, for_each_line, for_each_record, read_leaves, read_log};
use super::sets::{self, Learned};
use super::stream::Stream;
use crate::http::page::taiwan_time;

/// Auditing T-Road transfer logs anchored on the ledger.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Export an evidence bundle for one record: its inclusion in the first anchored head that
    /// holds it, with the ledger's proof of that head. Checked before it is written.
    ///
    /// Example: credledger-verifier audit prove --source troad-demo-ss1 --record 4711
    ///   --log messages.jsonl --genesis genesis.json --node http://127.0.0.1:26800
    ///   --out record-4711.bundle
    Prove(ProveArgs),
    /// Check an evidence bundle offline, against the genesis file alone. Exit code 0: proven;
    /// 1: refused (the failed check is named); 2: the command itself failed.
    ///
    /// Example: credledger-verifier audit verify record-4711.bundle --genesis genesis.json
    ///   --record record-4711.json
    Verify(VerifyArgs),
    /// Recompute a whole log file against the source's anchored heads and name, by line, every
    /// record missing, altered, reordered, duplicated or appended after its anchor. Exit code
    /// 0: intact; 1: findings; 2: the command itself failed.
    ///
    /// Example: credledger-verifier audit check-log --source troad-demo-ss1 messages.jsonl
    ///   --leaves agent-store/ --genesis genesis.json --node http://127.0.0.1:26800
    CheckLog(CheckLogArgs),
}

/// The chain: genesis and nodes.
#[derive(Args, Debug)]
pub struct ChainArgs {
    /// The genesis file: the only thing trusted.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// Node API URLs, asked in turn, none trusted (comma-separated or repeated).
    #[arg(
        long = "node",
        value_name = "URL",
        value_delimiter = ',',
        required = true
    )]
    nodes: Vec<String>,
}

/// Arguments of `audit prove`.
#[derive(Args, Debug)]
pub struct ProveArgs {
    /// The log source.
    #[arg(long)]
    source: String,
    /// The record: its line number in the log file, from 1.
    #[arg(long, value_name = "LINE")]
    record: u64,
    /// The source's log file (JSON lines).
    #[arg(long, value_name = "FILE")]
    log: PathBuf,
    /// The agent's leaves (its store folder or `leaves` file): faster than hashing the log.
    #[arg(long, value_name = "PATH")]
    leaves: Option<PathBuf>,
    /// Where to write the bundle (default `<source>-record-<LINE>.bundle`).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Arguments of `audit verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The evidence bundle.
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    /// The genesis file: the only thing trusted.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// The record itself (a file holding its JSON line), to check it is the one proven.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `audit check-log`.
#[derive(Args, Debug)]
pub struct CheckLogArgs {
    /// The log file (JSON lines).
    #[arg(value_name = "FILE")]
    log: PathBuf,
    /// The log source.
    #[arg(long)]
    source: String,
    /// The agent's leaves (its store folder or `leaves` file). Used only if they reproduce
    /// every anchored head; then each change is named by line, not only by anchor window.
    #[arg(long, value_name = "PATH")]
    leaves: Option<PathBuf>,
    /// A record after the last anchor dated more than this before it was appended late.
    #[arg(long, default_value_t = 60_000)]
    max_delay_ms: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Runs an audit command.
pub fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Prove(a) => prove(a),
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::CheckLog(a) => check_log(a),
    }
}

fn trust(path: &Path) -> Result<TrustAnchor> {
    let genesis = crate::files::read_genesis(path)?;
    Ok(TrustAnchor::from_genesis(&genesis)?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()?)
}

/// How old the header of a registry entry `check --node` learns may be by default, against the
/// clock: a chain makes a block at least every 60 s (spec/operations.md), so an older answer is
/// from a node that lags behind, or one that shows a key as it was before its revocation.
pub const MAX_ENTRY_AGE_MS: u64 = 2 * 60_000;

/// What an otherwise offline check (`credledger-verifier check --node`) learns from nodes it
/// does not trust: every validator-set change since genesis, each certified by the set before
/// it, then the registry `entries` (an issuer, its key, a kind) as the ledger holds them now,
/// each proven under a header the learned sets certify, at most `fresh.1` ms older than the
/// clock's `fresh.0`. An entry no node proves so is left as genesis has it, and returned in
/// the second list for the caller to say so.
pub fn learn_for_check(
    nodes: &[String],
    genesis: TrustAnchor,
    entries: &[StateKey],
    fresh: (Timestamp, u64),
) -> Result<(TrustAnchor, Vec<StateKey>)> {
    runtime()?.block_on(async {
        let mut anchor = learn_sets(nodes, genesis)
            .await
            .context("cannot learn the validator-set changes since genesis")?
            .anchor;
        let http = http()?;
        let mut unproven = Vec::new();
        for key in entries {
            let proven = crate::registry::proven_entry(&http, nodes, key, |_, a| {
                a.check(key, &anchor).is_ok() && fresh.0.since(a.header.time) <= fresh.1
            })
            .await;
            match proven.map(|a| a.value) {
                Some(Some(value)) => {
                    anchor
                        .registry_mut()
                        .put_entry(value)
                        .context("a registered issuer key does not decode")?;
                }
                Some(None) => {}
                None => unproven.push(key.clone()),
            }
        }
        Ok((anchor, unproven))
    })
}

/// Genesis's trust plus every validator-set change since, learned from the nodes.
async fn learn_sets(nodes: &[String], genesis: TrustAnchor) -> Result<Learned> {
    Ok(sets::learn(&http()?, nodes, genesis).await?)
}

fn heads<'a>(chain: &ChainArgs, anchor: &'a TrustAnchor, source: &str) -> Result<Heads<'a>> {
    Ok(Heads {
        http: http()?,
        nodes: chain.nodes.clone(),
        anchor,
        verified: Default::default(),
        source: source
            .parse::<LogSourceId>()
            .map_err(|e| anyhow!("--source: {e}"))?,
    })
}

fn prove(a: ProveArgs) -> Result<ExitCode> {
    if a.record == 0 {
        bail!("--record is a line number, counted from 1");
    }
    let index = a.record - 1;
    let genesis = trust(&a.chain.genesis)?;
    let rt = runtime()?;
    let learned = rt.block_on(learn_sets(&a.chain.nodes, genesis.clone()))?;
    let heads = heads(&a.chain, &learned.anchor, &a.source)?;
    let ev = rt.block_on(heads.first_covering(index))?;
    let set_changes = BoundedVec::new(learned.before(ev.header.height))
        .map_err(|e| anyhow!("validator-set changes since genesis: {e}"))?;
    let size = ev.record.tree_size;
    // One pass over the log: the record's digest, and (without --leaves) every leaf.
    let mut builder = InclusionBuilder::new(index, size)?;
    let mut record: Option<LogRecord> = None;
    let mut bad: Option<String> = None;
    let hash_log = a.leaves.is_none();
    for_each_line(&a.log, |line, bytes| {
        if line > size || bad.is_some() {
            return;
        }
        let parsed = bytes
            .ok_or_else(|| "too long".to_string())
            .and_then(|b| LogRecord::from_line(b).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => {
                if hash_log {
                    builder.push(r.leaf());
                }
                if line == a.record {
                    record = Some(r);
                }
            }
            Err(e) if hash_log || line == a.record => bad = Some(format!("line {line}: {e}")),
            Err(_) => {}
        }
    })?;
    if let Some(b) = bad {
        bail!("{b}; the log file is damaged here (`audit check-log` names what changed)");
    }
    let record =
        record.ok_or_else(|| anyhow!("{} has fewer than {} lines", a.log.display(), a.record))?;
    if let Some(path) = &a.leaves {
        for_each_leaf(path, size, |leaf| builder.push(leaf))?;
    }
    let (leaf, proof) = builder
        .finish()
        .map_err(|e| anyhow!("the leaves end before the anchored size {size}: {e}"))?;
    if leaf != record.leaf() {
        bail!(
            "line {} of the log does not match leaf {} of the leaves given",
            a.record,
            index
        );
    }
    let bundle = LogEvidence {
        version: EVIDENCE_VERSION,
        index,
        record_digest: record.digest(),
        inclusion: BoundedVec::new(proof).map_err(|e| anyhow!("inclusion proof: {e}"))?,
        anchor: ev,
        set_changes,
    };
    // Checked exactly as `audit verify` will check it, against genesis alone; a record that is
    // not in the anchored log (altered, or slipped in) fails here rather than yielding a bundle.
    let verdict = verify_log_evidence(&bundle, &genesis, Some(&record)).map_err(|r| {
        anyhow!(
            "line {} is not proven by anchor #{}: {r}",
            a.record,
            bundle.anchor.sequence
        )
    })?;
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{}-record-{}.bundle", a.source, a.record)));
    let bytes = bundle.to_bytes();
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    if a.json {
        println!(
            "{}",
            json!({"bundle": out, "bytes": bytes.len(), "verdict": verdict})
        );
    } else {
        println!(
            "wrote {} ({} bytes): line {} of {} is in anchor #{} ({} records), block {} at {}",
            out.display(),
            bytes.len(),
            a.record,
            verdict.source,
            verdict.sequence,
            verdict.tree_size,
            verdict.anchored_height,
            taiwan_time(verdict.anchored_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let anchor = trust(&a.genesis)?;
    let bytes = crate::files::read_limited(&a.bundle, MAX_EVIDENCE_BYTES, "an evidence bundle")?;
    let record = match &a.record {
        Some(p) => {
            let mut line = None;
            for_each_line(p, |n, b| {
                if n == 1 {
                    line = Some(b.map(<[u8]>::to_vec));
                }
            })?;
            let bytes = line
                .flatten()
                .ok_or_else(|| anyhow!("{} holds no record line", p.display()))?;
            Some(
                LogRecord::from_line(&bytes)
                    .with_context(|| format!("{} is not a T-Road record", p.display()))?,
            )
        }
        None => None,
    };
    let result = LogEvidence::from_bytes(&bytes)
        .and_then(|ev| verify_log_evidence(&ev, &anchor, record.as_ref()));
    match result {
        Ok(v) => {
            if a.json {
                println!("{}", json!({"outcome": "PROVEN", "verdict": v}));
            } else {
                println!(
                    "PROVEN: record {} (line {}) of log source {} existed, unaltered, by {}",
                    v.record_digest,
                    v.index + 1,
                    v.source,
                    taiwan_time(v.anchored_at)
                );
                println!(
                    "  anchored in #{} ({} records, root {}) at block {}, proven under its header",
                    v.sequence, v.tree_size, v.root, v.anchored_height
                );
                if v.set_changes > 0 {
                    println!(
                        "  checked against genesis and the {} validator-set change(s) the bundle carries",
                        v.set_changes
                    );
                }
                if !v.record_checked {
                    println!(
                        "  (give --record FILE to check the record itself against the digest)"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(r) => {
            if a.json {
                println!(
                    "{}",
                    json!({"outcome": "NOT_PROVEN", "failed_check": r.check(), "rejection": r})
                );
            } else {
                println!("NOT PROVEN: {r}");
                println!(
                    "  failed check: {}",
                    json!(r.check()).as_str().unwrap_or_default()
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn check_log(a: CheckLogArgs) -> Result<ExitCode> {
    let rt = runtime()?;
    let learned = rt.block_on(learn_sets(&a.chain.nodes, trust(&a.chain.genesis)?))?;
    let heads = heads(&a.chain, &learned.anchor, &a.source)?;
    let all = rt.block_on(heads.all())?;
    // One streaming pass settles an intact log; only a log that contradicts an anchor is read
    // into memory, with the agent's leaves, to name each change by line.
    let mut stream = Stream::new(&all);
    let unreadable = for_each_record(&a.log, |r| stream.push(r))?;
    let report = match stream.finish(unreadable, a.max_delay_ms) {
        Some(report) => report,
        None => {
            let (file, unreadable) = read_log(&a.log)?;
            let reference = a.leaves.as_deref().map(read_leaves).transpose()?;
            check(
                &all,
                &file,
                unreadable,
                reference.as_deref(),
                a.max_delay_ms,
            )
        }
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&a.source, &report);
    }
    Ok(if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(source: &str, r: &CheckReport) {
    println!(
        "{}: {} lines; {} anchors hold {} records; {} lines not yet anchored",
        source, r.records, r.anchors, r.anchored, r.unanchored
    );
    if r.clean() {
        println!("INTACT: every anchored record is present, unaltered and in order");
        return;
    }
    println!("TAMPERED: {} finding(s)", r.findings.len());
    for f in &r.findings {
        println!("  {}", describe(f));
    }
}

/// One finding in a sentence.
pub fn describe(f: &Finding) -> String {
    match f {
        Finding::Unreadable { line, reason } => format!("line {line}: not a record ({reason})"),
        Finding::Altered {
            line,
            anchored_line,
        } => format!("line {line}: altered (differs from anchored record {anchored_line})"),
        Finding::Missing {
            anchored_line,
            count,
            after_line,
        } => {
            let what = if *count == 1 {
                format!("anchored record {anchored_line} is missing")
            } else {
                format!(
                    "anchored records {anchored_line}–{} ({count}) are missing",
                    anchored_line + count - 1
                )
            };
            match after_line {
                Some(l) => format!("{what} (after line {l})"),
                None => format!("{what} (at the start)"),
            }
        }
        Finding::Reordered {
            line,
            anchored_line,
        } => format!("line {line}: reordered (anchored as record {anchored_line})"),
        Finding::Duplicated { line, first_line } => {
            format!("line {line}: duplicate of line {first_line}")
        }
        Finding::AppendedAfterAnchor {
            line,
            sequence,
            anchored_at,
            time,
        } => format!(
            "line {line}: appended after anchor #{sequence} (made {}) although dated {}",
            taiwan_time(*anchored_at),
            time.map_or("?".into(), taiwan_time)
        ),
        Finding::HeadMismatch {
            sequence,
            size,
            from_line,
            to_line,
        } => format!(
            "lines {from_line}–{to_line}: do not reproduce anchor #{sequence} ({size} records); give --leaves to name the line"
        ),
        Finding::TimeBackwards { line } => {
            format!("line {line}: dated before the line above it")
        }
        Finding::LeavesRejected { sequence } => {
            format!("the leaves given do not reproduce anchor #{sequence}; not used")
        }
    }
}
