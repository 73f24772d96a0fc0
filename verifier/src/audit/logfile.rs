//! Reading an agency's log file and the agent's leaves file, bounded line by line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use credledger_core::Digest;
use credledger_core::merkle::leaf_hash;
use credledger_core::troad::{LogRecord, MAX_RECORD_LINE};

use super::logcheck::{FileRecord, Finding};

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A leaves file whose length is not a multiple of 32 bytes.
    #[error("{path} is {len} bytes, not a whole number of 32-byte leaves")]
    Leaves {
        /// The file.
        path: String,
        /// Its length.
        len: u64,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Calls `each` with every line of a log file (line number from 1, its bytes without the line
/// break, or `None` for a line longer than a record may be, which is skipped unread).
pub fn for_each_line(
    path: &Path,
    mut each: impl FnMut(u64, Option<&[u8]>),
) -> Result<u64, FileError> {
    let f = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::with_capacity(1 << 20, f);
    let mut buf = Vec::with_capacity(MAX_RECORD_LINE + 3);
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_RECORD_LINE as u64 + 3)
            .read_until(b'\n', &mut buf)
            .map_err(io(path))?;
        if n == 0 {
            return Ok(line);
        }
        line += 1;
        if !buf.ends_with(b"\n") && buf.len() > MAX_RECORD_LINE + 2 {
            // Too long to be a record: skip the rest of it without holding it.
            reader.skip_until(b'\n').map_err(io(path))?;
            each(line, None);
        } else {
            each(line, Some(&buf));
        }
    }
}

/// Every line of a log file as a [`FileRecord`], with a finding for each line that is not a
/// record (spec/troad-log.md §2).
pub fn read_log(path: &Path) -> Result<(Vec<FileRecord>, Vec<Finding>), FileError> {
    let mut records = Vec::new();
    let findings = for_each_record(path, |r| records.push(r))?;
    Ok((records, findings))
}

/// Calls `each` with every line of a log file as a [`FileRecord`], in order; returns a finding
/// for each line that is not a record. Memory does not grow with the file.
pub fn for_each_record(
    path: &Path,
    mut each: impl FnMut(FileRecord),
) -> Result<Vec<Finding>, FileError> {
    let mut findings = Vec::new();
    for_each_line(path, |line, bytes| {
        let parsed = match bytes {
            Some(b) => LogRecord::from_line(b).map_err(|e| e.to_string()),
            None => Err(format!("longer than {MAX_RECORD_LINE} bytes")),
        };
        match parsed {
            Ok(r) => each(FileRecord {
                leaf: r.leaf(),
                time: Some(r.time_ms),
            }),
            Err(reason) => {
                findings.push(Finding::Unreadable { line, reason });
                // Hashing the raw bytes keeps the line's place with a leaf no record has.
                each(FileRecord {
                    leaf: leaf_hash(bytes.unwrap_or(b"")),
                    time: None,
                });
            }
        }
    })?;
    Ok(findings)
}

/// The `leaves` file itself, or the one in a store folder.
fn leaves_file(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join("leaves")
    } else {
        path.to_path_buf()
    }
}

/// Calls `each` with the first `count` leaves of an agent's leaves file (fewer if it is
/// shorter), reading it in chunks: memory does not grow with the log.
pub fn for_each_leaf(
    path: &Path,
    count: u64,
    mut each: impl FnMut(Digest),
) -> Result<(), FileError> {
    let path = leaves_file(path);
    let len = std::fs::metadata(&path).map_err(io(&path))?.len();
    if len % 32 != 0 {
        return Err(FileError::Leaves {
            path: path.display().to_string(),
            len,
        });
    }
    let mut reader = BufReader::with_capacity(1 << 20, File::open(&path).map_err(io(&path))?);
    let mut left = count.min(len / 32);
    let mut buf = [0u8; 32 * 1024];
    while left > 0 {
        let want = (left * 32).min(buf.len() as u64) as usize;
        reader.read_exact(&mut buf[..want]).map_err(io(&path))?;
        for c in buf[..want].chunks_exact(32) {
            let mut d = [0u8; 32];
            d.copy_from_slice(c);
            each(Digest(d));
        }
        left -= (want / 32) as u64;
    }
    Ok(())
}

/// All leaves of an agent's leaves file (or of the one in a store folder).
pub fn read_leaves(path: &Path) -> Result<Vec<Digest>, FileError> {
    let mut out = Vec::new();
    for_each_leaf(path, u64::MAX, |d| out.push(d))?;
    Ok(out)
}
