//! `credledger-troad-sample`: writes a synthetic T-Road transfer log (JSON lines,
//! spec/troad-log.md) to stdout, deterministic from a seed, for tests, benchmarks and the
//! devnet's sample log source.

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
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for i in a.first..a.first.saturating_add(a.records) {
        writeln!(
            out,
            "{}",
            sample_record(a.seed, i, Timestamp(a.start_ms)).to_line()
        )?;
    }
    out.flush()?;
    Ok(())
}
