//! The light client's position kept on disk (`serve --state FILE`), so a restarted verifier
//! resumes where it stopped instead of verifying every header again from genesis
//! (spec/verifier.md §2.1).
//!
//! The file is the operator's own, like the genesis file: it is trusted, but only for the
//! genesis it names, and read with a size limit. It is replaced atomically.

use std::io::{Read, Write};
use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use credledger_core::block::ValidatorSet;
use credledger_core::bounded::BoundedVec;
use credledger_core::encoding::{decode, encode};
use credledger_core::genesis::Genesis;
use credledger_core::hash::Digest;
use credledger_core::ids::{ChainId, Height, Timestamp};
use credledger_core::light::LightState;

use crate::trust::Trust;

const VERSION: u8 = 1;
/// Largest state file read: a few hundred validator sets of up to 100 validators.
const MAX_BYTES: usize = 8 * 1024 * 1024;

#[derive(BorshSerialize, BorshDeserialize)]
struct Saved {
    version: u8,
    genesis_hash: Digest,
    chain_id: ChainId,
    height: Height,
    hash: Digest,
    time: Timestamp,
    next_validators: ValidatorSet,
    /// The sets in force from each height (for evidence at older heights).
    sets: BoundedVec<(Height, ValidatorSet), 4096>,
}

/// Why a saved position was not used.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// The file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file does not decode, or is for another chain.
    #[error("{0}")]
    Invalid(String),
}

/// Writes the light client's position (atomically: a temporary file, synced, then renamed).
pub fn save(trust: &Trust, genesis_hash: Digest, path: &Path) -> Result<(), SavedError> {
    let saved = trust.read(|s| Saved {
        version: VERSION,
        genesis_hash,
        chain_id: s.light.chain_id.clone(),
        height: s.light.height,
        hash: s.light.hash,
        time: s.light.time,
        next_validators: s.light.next_validators.clone(),
        sets: BoundedVec::new(
            s.anchor
                .validator_sets()
                .map(|(h, set)| (h, set.clone()))
                .collect(),
        )
        .unwrap_or_default(),
    });
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&encode(&saved))?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The trust of `genesis` advanced to the saved position, or `None` if there is no file.
pub fn load(path: &Path, genesis: &Genesis) -> Result<Option<Trust>, SavedError> {
    let mut bytes = Vec::new();
    match std::fs::File::open(path) {
        // Read through the limit; what is over it fails to decode below as too large.
        Ok(f) => f.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let saved: Saved = decode(&bytes, MAX_BYTES).map_err(|e| SavedError::Invalid(e.to_string()))?;
    if saved.version != VERSION {
        return Err(SavedError::Invalid(format!(
            "state version {} is not supported",
            saved.version
        )));
    }
    if saved.genesis_hash != genesis.hash() {
        return Err(SavedError::Invalid(
            "the saved state is for another genesis".into(),
        ));
    }
    let trust = Trust::from_genesis(genesis).map_err(|e| SavedError::Invalid(e.to_string()))?;
    let light = LightState {
        chain_id: saved.chain_id,
        height: saved.height,
        hash: saved.hash,
        time: saved.time,
        next_validators: saved.next_validators,
    };
    trust.resume(light, saved.sets.into_inner());
    Ok(Some(trust))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use credledger_core::ids::Timestamp;
    use credledger_core::testkit::World;

    #[test]
    fn a_saved_position_resumes_and_a_wrong_or_damaged_file_is_refused() {
        let mut w = World::new(1, 4);
        let genesis = w.devnet.genesis.clone();
        let trust = Trust::from_genesis(&genesis).unwrap();
        for t in 1..=3u64 {
            let (h, c) = w.commit(Timestamp(genesis.genesis_time.0 + t * 1000));
            trust.offer("test", &h, &c, None).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("light.state");
        assert!(load(&path, &genesis).unwrap().is_none(), "no file yet");
        save(&trust, genesis.hash(), &path).unwrap();
        let back = load(&path, &genesis).unwrap().unwrap();
        assert_eq!(back.tip(), trust.tip());
        assert_eq!(back.tip().0, Height(3));
        // The next header follows on from the resumed position.
        let (h, c) = w.commit(Timestamp(genesis.genesis_time.0 + 4000));
        back.offer("test", &h, &c, None).unwrap();
        assert_eq!(back.tip().0, Height(4));

        let other = World::new(2, 4).devnet.genesis;
        assert!(matches!(load(&path, &other), Err(SavedError::Invalid(_))));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(matches!(load(&path, &genesis), Err(SavedError::Invalid(_))));
    }
}
