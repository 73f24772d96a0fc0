//! A reader that refuses a line longer than a bound, so that a CSV file with one huge field is
//! refused with its line named instead of being buffered whole by the CSV reader.

use std::io::{self, Read};

/// Longest CSV line: a row of 32 claims of 255 bytes, quoted, is under 10 KiB.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Reads `inner`, failing at the first line (counted from 1) longer than `max` bytes.
pub struct LineLimit<R> {
    inner: R,
    max: usize,
    /// Bytes since the last line end.
    run: usize,
    /// Line ends seen.
    lines: usize,
}

impl<R> LineLimit<R> {
    /// Limits `inner`'s lines to `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        LineLimit {
            inner,
            max,
            run: 0,
            lines: 0,
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.run = 0;
                self.lines += 1;
            } else {
                self.run += 1;
                if self.run > self.max {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "line {} is longer than {} bytes; no row of a credential is",
                            self.lines + 1,
                            self.max
                        ),
                    ));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_refused_naming_it_and_short_ones_pass() {
        let text = b"a,b\n1234,5\n123456789\n".to_vec();
        let mut out = Vec::new();
        LineLimit::new(&text[..], 9).read_to_end(&mut out).unwrap();
        assert_eq!(out, text);
        let e = LineLimit::new(&text[..], 8)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3 is longer than 8 bytes; no row of a credential is"
        );
    }
}
