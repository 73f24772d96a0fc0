//! `credledger-troad-sample`: writes a synthetic T-Road transfer log (JSON lines,
//! spec/troad-log.md) to stdout, deterministic from a seed, for tests, benchmarks and the
//! devnet's sample log source. With `--rate` it writes live: records dated now, at a steady
//! rate, as a security server's log grows.

use std::io::{BufWriter, Write};

use clap::Parser;
use credledger_core::ids::Timestamp;
use credledger_tests::troad::sample_record;

/// Write a synthetic T-Road transfer log.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// How many records.
    #[arg(long, default_value_t = 1000)]
    records: u64,
    /// Seed: the same seed writes the same log.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of the first record (to continue a log).
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Time of record 0, ms since 1970.
    #[arg(long, default_value_t = 1_767_225_600_000)]
    start_ms: u64,
    /// Write live at this many records per second, each dated when written.
    #[arg(long)]
    rate: Option<u64>,
    /// Append to this file instead of writing to stdout.
    #[arg(long)]
    append: Option<std::path::PathBuf>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let sink: Box<dyn Write> = match &a.append {
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let end = a.first.saturating_add(a.records);
    let Some(rate) = a.rate.filter(|r| *r > 0) else {
        for i in a.first..end {
            writeln!(
                out,
                "{}",
                sample_record(a.seed, i, Timestamp(a.start_ms)).to_line()
            )?;
        }
        out.flush()?;
        return Ok(());
    };
    // Live: every 10 ms, the records due by now, dated now (record i of the sample is dated
    // start + 7 i, so the start is chosen to make that now).
    let started = std::time::Instant::now();
    let mut i = a.first;
    while i < end {
        let due = a.first + (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while i < due.min(end) {
            let start = now_ms().saturating_sub(7 * i);
            writeln!(
                out,
                "{}",
                sample_record(a.seed, i, Timestamp(start)).to_line()
            )?;
            i += 1;
        }
        out.flush()?;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(())
}
