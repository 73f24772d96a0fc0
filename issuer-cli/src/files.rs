//! Reading files of bounded size through their limit, rather than trusting the length the file
//! system reports (a pipe or device reports 0).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A credential file (`publish` writes them), a presentation file or a proposal file: a
/// presentation is at most 7 KiB, a credential's claims and a proposal's approvals a few KiB.
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024;

/// A genesis file (core's limit).
pub const MAX_GENESIS_BYTES: u64 = credledger_core::genesis::MAX_GENESIS_BYTES as u64;

/// A passphrase file: its first line is the passphrase.
pub const MAX_PASSPHRASE_FILE_BYTES: u64 = 4 * 1024;

/// A line of a batch folder's journal or signed record: one credential as JSON (at most
/// [`MAX_DOCUMENT_BYTES`]) or one transaction's ids, well under that.
pub const MAX_RECORD_LINE_BYTES: u64 = MAX_DOCUMENT_BYTES;

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
    /// A line of a line-by-line file is longer than any line written to it.
    #[error("line {line} is longer than {max} bytes, more than a line of {what} holds")]
    LineTooLong {
        /// The line's number, from 1.
        line: usize,
        /// The limit.
        max: u64,
        /// What kind of file was expected.
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

/// Calls `each` with every line of `path` (without its line end), reading one line at a time,
/// none longer than `max` bytes; `Ok(false)` if there is no such file. A line need not be UTF-8
/// (a line cut by a crash may end inside a character): `each` judges its bytes.
pub fn for_each_line(
    path: &Path,
    max: u64,
    what: &'static str,
    mut each: impl FnMut(&[u8]),
) -> Result<bool, ReadError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        // One byte over the limit tells a line at the limit from a longer one.
        let read = (&mut reader)
            .take(max.saturating_add(2))
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.len() as u64 > max {
            return Err(ReadError::LineTooLong {
                line: number,
                max,
                what,
            });
        }
        each(&line);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn lines_are_read_one_by_one_and_one_over_the_limit_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        // The last line has no line end and stops inside a character, as a crash leaves it.
        std::fs::write(&f, b"abcd\n\nabc\n\xe7\x8e").unwrap();
        let mut lines = Vec::new();
        assert!(for_each_line(&f, 4, "a test file", |l| lines.push(l.to_vec())).unwrap());
        assert_eq!(lines, [&b"abcd"[..], b"", b"abc", b"\xe7\x8e"]);
        let e = for_each_line(&f, 3, "a test file", |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1 is longer than 3 bytes, more than a line of a test file holds"
        );
        std::fs::write(&f, b"ab\nabcdefgh").unwrap();
        let e = for_each_line(&f, 3, "a test file", |_| {}).unwrap_err();
        assert!(matches!(e, ReadError::LineTooLong { line: 2, .. }), "{e}");
        assert!(!for_each_line(&dir.path().join("absent"), 3, "a test file", |_| {}).unwrap());
        // A folder in place of the file is an error, not an empty file.
        assert!(for_each_line(dir.path(), 3, "a test file", |_| {}).is_err());
    }

    proptest! {
        /// Any bytes: the lines read are the file split at line ends (a last line without one
        /// included), or, if some line is over the limit, an error naming the first such line.
        #[test]
        fn any_bytes_read_as_their_lines_or_name_the_first_long_one(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'\n'), any::<u8>()],
                0..600,
            ),
            max in 0u64..40,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("f");
            std::fs::write(&f, &bytes).unwrap();
            let mut expected: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            if bytes.is_empty() || bytes.last() == Some(&b'\n') {
                expected.pop();
            }
            let mut lines = Vec::new();
            let read = for_each_line(&f, max, "a test file", |l| lines.push(l.to_vec()));
            match expected.iter().position(|l| l.len() as u64 > max) {
                None => {
                    prop_assert!(read.unwrap());
                    prop_assert_eq!(lines, expected);
                }
                Some(i) => {
                    let is_long = matches!(read, Err(ReadError::LineTooLong { line, .. }) if line == i + 1);
                    prop_assert!(is_long);
                    prop_assert_eq!(&lines[..], &expected[..i]);
                }
            }
        }
    }
}
