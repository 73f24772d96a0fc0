//! Reading the files the verifier is given (genesis, presentations, evidence bundles) through
//! their size limit, rather than trusting the length the file system reports (a pipe or device
//! reports 0) or reading them whole first. (Its saved position, `saved.rs`, is read the same
//! way there, where a missing file is no error.)

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use credledger_core::genesis::{Genesis, MAX_GENESIS_BYTES};

/// Reads `path`, which must hold at most `max` bytes; `what` names its kind for the error.
pub fn read_limited(path: &Path, max: usize, what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max as u64 + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > max {
        bail!(
            "{} is larger than {max} bytes, more than {what} holds",
            path.display()
        );
    }
    Ok(bytes)
}

/// Reads and parses a genesis document.
pub fn read_genesis(path: &Path) -> Result<Genesis> {
    let bytes = read_limited(path, MAX_GENESIS_BYTES, "a genesis document")?;
    Genesis::from_json(&bytes)
        .with_context(|| format!("{} is not a genesis document", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_over_its_limit_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bundle.bin");
        std::fs::write(&f, [1u8; 10]).unwrap();
        assert_eq!(read_limited(&f, 10, "a bundle").unwrap(), [1u8; 10]);
        let e = read_limited(&f, 9, "a bundle").unwrap_err().to_string();
        assert!(
            e.ends_with("bundle.bin is larger than 9 bytes, more than a bundle holds"),
            "{e}"
        );
        assert!(
            read_genesis(&f)
                .unwrap_err()
                .to_string()
                .contains("not a genesis document")
        );
    }
}
