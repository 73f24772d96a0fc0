//! The agent's input: record lines from a file (optionally followed as it grows) or stdin,
//! each read with a bound and counted from line 1 (spec/troad-log.md §5 step 3).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use credledger_core::troad::{LogRecord, MAX_RECORD_LINE};

/// Record lines from a file or stdin, counted from line 1.
pub(super) struct Input {
    reader: Box<dyn BufRead>,
    follow: bool,
    line: u64,
    /// A line read only in part (the writer has not finished it yet).
    partial: Vec<u8>,
}

impl Input {
    pub(super) fn open(path: &str, follow: bool) -> Result<Input> {
        let reader: Box<dyn BufRead> = if path == "-" {
            if follow {
                bail!("--follow needs a file, not stdin");
            }
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin()))
        } else {
            let f = File::open(path).with_context(|| format!("cannot open {path}"))?;
            Box::new(BufReader::with_capacity(1 << 20, f))
        };
        Ok(Input {
            reader,
            follow,
            line: 0,
            partial: Vec::new(),
        })
    }

    /// The next whole line, or `None` at the current end of the input.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>> {
        // A record line is at most MAX_RECORD_LINE bytes plus CR LF; reading one more byte
        // than that tells a line that is too long without reading it whole.
        let limit = (MAX_RECORD_LINE + 3 - self.partial.len().min(MAX_RECORD_LINE + 3)) as u64;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.partial)
            .with_context(|| format!("reading line {}", self.line + 1))?;
        if self.partial.ends_with(b"\n") {
            self.line += 1;
            return Ok(Some(std::mem::take(&mut self.partial)));
        }
        if self.partial.len() > MAX_RECORD_LINE + 2 {
            bail!(
                "line {}: longer than {MAX_RECORD_LINE} bytes; not a T-Road record",
                self.line + 1
            );
        }
        if n == 0 && !self.follow && !self.partial.is_empty() {
            // The last line of a finished file need not end with a line break.
            self.line += 1;
            return Ok(Some(std::mem::take(&mut self.partial)));
        }
        Ok(None)
    }

    /// The next record; `None` at the current end (after a short wait when following).
    pub(super) fn next_record(&mut self) -> Result<Option<LogRecord>> {
        match self.next_line()? {
            Some(line) => LogRecord::from_line(&line)
                .map(Some)
                .map_err(|e| anyhow!("line {}: {e}", self.line)),
            None => {
                if self.follow {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None)
            }
        }
    }

    /// Skips the first `n` lines, which the local log already holds.
    pub(super) fn skip(&mut self, n: u64) -> Result<()> {
        let mut idle = 0u32;
        while self.line < n {
            if self.next_line()?.is_none() {
                if !self.follow || idle > 500 {
                    bail!(
                        "the input has {} records, but the local log already holds {n}: \
                         is this the source's log file?",
                        self.line
                    );
                }
                idle += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }
}
