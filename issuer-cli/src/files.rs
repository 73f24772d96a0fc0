//! Reading files of bounded size through their limit, rather than trusting the length the file
//! system reports (a pipe or device reports 0).

use std::io::Read;
use std::path::Path;

/// A credential file (`publish` writes them), a presentation file or a proposal file: a
/// presentation is at most 7 KiB, a credential's claims and a proposal's approvals a few KiB.
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024;

/// A genesis file (core's limit).
pub const MAX_GENESIS_BYTES: u64 = credledger_core::genesis::MAX_GENESIS_BYTES as u64;

/// A passphrase file: its first line is the passphrase.
pub const MAX_PASSPHRASE_FILE_BYTES: u64 = 4 * 1024;

/// Why a bounded file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file holds more than a file of its kind can.
    #[error("larger than {max} bytes, more than {what} holds")]
    TooLarge {
        /// The limit.
        max: u64,
        /// What kind of file was expected ("a key file").
        what: &'static str,
    },
}

/// Reads `path`, which must hold at most `max` bytes; `what` names its kind for the error.
pub fn read_limited(path: &Path, max: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge { max, what });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_over_its_limit_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, [7u8; 10]).unwrap();
        assert_eq!(read_limited(&f, 10, "a test file").unwrap(), [7u8; 10]);
        let e = read_limited(&f, 9, "a test file").unwrap_err();
        assert_eq!(
            e.to_string(),
            "larger than 9 bytes, more than a test file holds"
        );
        assert!(matches!(
            read_limited(&dir.path().join("absent"), 9, "a test file"),
            Err(ReadError::Io(_))
        ));
    }
}
