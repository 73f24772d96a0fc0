//! An agency's local log of T-Road record leaves: an append-only RFC 6962 tree kept on disk so
//! the anchoring agent survives a crash without skipping or repeating a record
//! (spec/troad-log.md §4).
//!
//! Two files in the source's folder: `leaves` (32 bytes per record, appended) and `state` (the
//! tree's frontier, its size and the last anchored head, replaced atomically). A checkpoint
//! syncs `leaves` before it writes `state`, so `state` never counts a leaf that is not on disk;
//! leaves written after the last checkpoint are dropped at the next open and re-read from the
//! input, whose first `size` records are already in the tree.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use borsh::{BorshDeserialize, BorshSerialize};
use credledger_core::encoding::{decode, encode};
use credledger_core::hash::Digest;
use credledger_core::merkle::{CompactTree, MerkleError, consistency_proof, inclusion_proof};

/// Largest `state` file read back: a frontier of 64 peaks and a head fit in ~2.2 KiB.
const MAX_STATE_BYTES: usize = 8 * 1024;
const STATE_VERSION: u8 = 1;

/// A tree head this source anchored on the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AnchoredHead {
    /// The anchor's sequence number on the ledger.
    pub sequence: u64,
    /// Tree size anchored.
    pub size: u64,
    /// Tree root anchored.
    pub root: Digest,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct State {
    version: u8,
    tree: CompactTree,
    anchored: Option<AnchoredHead>,
}

/// Why the log could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The files contradict each other or do not decode.
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A proof was asked for sizes the log does not have.
    #[error("proof: {0}")]
    Proof(#[from] MerkleError),
}

/// The open log of one source.
#[derive(Debug)]
pub struct LogStore {
    dir: PathBuf,
    leaves: BufWriter<File>,
    state: State,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, dropping leaves written after the last checkpoint.
    pub fn open(dir: &Path) -> Result<LogStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let state_path = dir.join("state");
        let state = match std::fs::File::open(&state_path) {
            Ok(f) => {
                let mut bytes = Vec::new();
                f.take(MAX_STATE_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(io(&state_path))?;
                let s: State =
                    decode(&bytes, MAX_STATE_BYTES).map_err(|e| StoreError::Damaged {
                        path: state_path.clone(),
                        reason: e.to_string(),
                    })?;
                if s.version != STATE_VERSION {
                    return Err(StoreError::Damaged {
                        path: state_path,
                        reason: format!("state version {} is not supported", s.version),
                    });
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                version: STATE_VERSION,
                ..State::default()
            },
            Err(e) => return Err(io(&state_path)(e)),
        };
        let leaves_path = dir.join("leaves");
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&leaves_path)
            .map_err(io(&leaves_path))?;
        let on_disk = file.metadata().map_err(io(&leaves_path))?.len();
        let counted = state.tree.size() * 32;
        if on_disk < counted {
            return Err(StoreError::Damaged {
                path: leaves_path,
                reason: format!(
                    "holds {on_disk} bytes but the state counts {} leaves ({counted} bytes)",
                    state.tree.size()
                ),
            });
        }
        if on_disk > counted {
            // Written after the last checkpoint: the input still has these records.
            file.set_len(counted).map_err(io(&leaves_path))?;
            file.sync_all().map_err(io(&leaves_path))?;
        }
        file.seek(SeekFrom::End(0)).map_err(io(&leaves_path))?;
        Ok(LogStore {
            dir: dir.to_path_buf(),
            leaves: BufWriter::new(file),
            state,
        })
    }

    /// Leaves in the tree (checkpointed or not): also how many input records are consumed.
    pub fn size(&self) -> u64 {
        self.state.tree.size()
    }

    /// The current root.
    pub fn root(&self) -> Digest {
        self.state.tree.root()
    }

    /// The last head anchored on the ledger, as recorded here.
    pub fn anchored(&self) -> Option<AnchoredHead> {
        self.state.anchored
    }

    /// Appends one leaf (a record's RFC 6962 leaf hash).
    pub fn append(&mut self, leaf: Digest) -> Result<(), StoreError> {
        let path = self.dir.join("leaves");
        self.leaves.write_all(&leaf.0).map_err(io(&path))?;
        self.state.tree.push(leaf);
        Ok(())
    }

    /// Makes every appended leaf and the anchored head durable.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        let leaves_path = self.dir.join("leaves");
        self.leaves.flush().map_err(io(&leaves_path))?;
        self.leaves
            .get_ref()
            .sync_data()
            .map_err(io(&leaves_path))?;
        let state_path = self.dir.join("state");
        let tmp = self.dir.join("state.tmp");
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&encode(&self.state)).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &state_path).map_err(io(&state_path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }

    /// Records a head accepted by the ledger, durably.
    pub fn mark_anchored(&mut self, head: AnchoredHead) -> Result<(), StoreError> {
        self.state.anchored = Some(head);
        self.checkpoint()
    }

    /// The first `size` leaves, read back from disk (after a checkpoint).
    pub fn leaves(&mut self, size: u64) -> Result<Vec<Digest>, StoreError> {
        self.checkpoint()?;
        let path = self.dir.join("leaves");
        let mut bytes = vec![0u8; (size.min(self.size()) * 32) as usize];
        let mut f = File::open(&path).map_err(io(&path))?;
        f.read_exact(&mut bytes).map_err(io(&path))?;
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut d = [0u8; 32];
                d.copy_from_slice(c);
                Digest(d)
            })
            .collect())
    }

    /// Proof that the tree of `old` leaves is a prefix of the current tree (RFC 6962).
    pub fn consistency(&mut self, old: u64) -> Result<Vec<Digest>, StoreError> {
        let all = self.leaves(self.size())?;
        Ok(consistency_proof(&all, old)?)
    }

    /// Proof that leaf `index` is in the tree of the first `size` leaves.
    pub fn inclusion(&mut self, index: u64, size: u64) -> Result<Vec<Digest>, StoreError> {
        let leaves = self.leaves(size)?;
        Ok(inclusion_proof(&leaves, index)?)
    }
}

#[cfg(test)]
mod tests;
