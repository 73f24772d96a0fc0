//! An agency's local log of T-Road record leaves: an append-only RFC 6962 tree kept on disk so
//! the anchoring agent survives a crash without skipping or repeating a record
//! (spec/troad-log.md §4).
//!
//! Two files in the source's folder: `leaves` (32 bytes per record, appended) and `state` (the
//! tree's frontier, its size and the last anchored head, replaced atomically). A checkpoint
//! syncs `leaves` before it writes `state`, so `state` never counts a leaf that is not on disk;
//! leaves written after the last checkpoint are dropped at the next open and re-read from the
//! input, whose first `size` records are already in the tree.
//!
//! Proofs never load the whole log: the frontier kept at the last anchor plus the leaves since
//! give the next anchor's consistency proof, and an inclusion proof streams the leaves once.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use borsh::{BorshDeserialize, BorshSerialize};
use credledger_core::encoding::{decode, encode};
use credledger_core::hash::{Digest, Domain};
use credledger_core::merkle::{
    CompactTree, InclusionBuilder, MerkleError, consistency_from_frontier,
};

/// Largest `state` file read back: two frontiers of 64 peaks, a head and the checksum fit in
/// ~4.4 KiB.
const MAX_STATE_BYTES: usize = 8 * 1024;
/// Version 3 files end in a checksum of the state (spec/troad-log.md §4); version 2 files,
/// without it, are still read.
const STATE_VERSION: u8 = 3;

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
    /// The frontier of the anchored tree: with the leaves since, it gives the next
    /// consistency proof without reading older leaves.
    anchored_tree: CompactTree,
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
    /// The head to record is not the current tree.
    #[error("the anchored head has size {head}, but the log holds {size} leaves")]
    NotCurrent {
        /// Size of the head.
        head: u64,
        /// Leaves in the log.
        size: u64,
    },
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

/// A state file's bytes: the state and its checksum.
fn state_bytes(state: &State) -> Vec<u8> {
    let mut bytes = encode(state);
    let sum = Domain::LocalState.hash(&[&bytes]);
    bytes.extend_from_slice(&sum.0);
    bytes
}

/// Reads a state file: a version 3 file whose checksum holds, or a version 2 file (written
/// before the checksum). A state whose anchored tree is larger than its tree is damaged too.
fn read_state(bytes: &[u8]) -> Result<State, String> {
    let s: State = match bytes.first() {
        Some(&STATE_VERSION) => {
            let Some(split) = bytes.len().checked_sub(32) else {
                return Err("too short for its checksum".into());
            };
            let (body, sum) = bytes.split_at(split);
            if Domain::LocalState.hash(&[body]).0 != sum {
                return Err("its checksum does not hold: the file was altered or damaged".into());
            }
            decode(body, MAX_STATE_BYTES).map_err(|e| e.to_string())?
        }
        Some(2) => decode(bytes, MAX_STATE_BYTES).map_err(|e| e.to_string())?,
        Some(v) => return Err(format!("state version {v} is not supported")),
        None => return Err("empty".into()),
    };
    let anchored = s.anchored.map_or(0, |h| h.size);
    let anchored_root = s.anchored.map(|h| h.root);
    if s.anchored_tree.size() != anchored
        || anchored > s.tree.size()
        || anchored_root.is_some_and(|r| r != s.anchored_tree.root())
    {
        return Err(format!(
            "counts {} leaves, anchored {anchored} (a frontier of {})",
            s.tree.size(),
            s.anchored_tree.size()
        ));
    }
    Ok(State {
        version: STATE_VERSION,
        ..s
    })
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
                read_state(&bytes).map_err(|reason| StoreError::Damaged {
                    path: state_path.clone(),
                    reason,
                })?
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
        // A state file that decodes yet counts more leaves than any file can hold is damaged;
        // taken at its word, the product would wrap and the truncation below cut anchored
        // leaves.
        let Some(counted) = state.tree.size().checked_mul(32) else {
            return Err(StoreError::Damaged {
                path: state_path,
                reason: format!("counts {} leaves", state.tree.size()),
            });
        };
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

    /// Hands buffered leaves to the file, so that reading it sees them.
    fn flush_leaves(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join("leaves");
        self.leaves.flush().map_err(io(&path))
    }

    /// Makes every appended leaf and the anchored head durable.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        let leaves_path = self.dir.join("leaves");
        self.flush_leaves()?;
        self.leaves
            .get_ref()
            .sync_data()
            .map_err(io(&leaves_path))?;
        let state_path = self.dir.join("state");
        let tmp = self.dir.join("state.tmp");
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&state_bytes(&self.state)).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &state_path).map_err(io(&state_path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }

    /// Records a head of the current tree accepted by the ledger, durably.
    pub fn mark_anchored(&mut self, head: AnchoredHead) -> Result<(), StoreError> {
        if head.size != self.size() {
            return Err(StoreError::NotCurrent {
                head: head.size,
                size: self.size(),
            });
        }
        self.state.anchored = Some(head);
        self.state.anchored_tree = self.state.tree.clone();
        self.checkpoint()
    }

    /// The root of the log's first `size` leaves, for a size between the last anchored head's
    /// and the current one; `None` outside that range. Reads only the leaves since the anchor.
    #[cfg(test)]
    pub(crate) fn root_at(&mut self, size: u64) -> Result<Option<Digest>, StoreError> {
        Ok(self.tree_at(size)?.map(|t| t.root()))
    }

    fn tree_at(&mut self, size: u64) -> Result<Option<CompactTree>, StoreError> {
        let mut tree = self.state.anchored_tree.clone();
        if size < tree.size() || size > self.size() {
            return Ok(None);
        }
        for leaf in self.leaves(tree.size(), size)? {
            tree.push(leaf);
        }
        Ok(Some(tree))
    }

    /// Records a head the ledger accepted, durably, if it is this log's tree at its size: the
    /// current size (a crash between the commit and the local record) or an earlier one down
    /// to the last anchored head's (an anchor sent before a crash and committed only after the
    /// restarted agent read on). Returns whether it was.
    pub fn mark_anchored_earlier(&mut self, head: AnchoredHead) -> Result<bool, StoreError> {
        match self.tree_at(head.size)? {
            Some(tree) if tree.root() == head.root => {
                self.state.anchored = Some(head);
                self.state.anchored_tree = tree;
                self.checkpoint()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Leaves `from..to`, read back from the leaves file. Buffered leaves are written first;
    /// reading needs no sync, so this costs no checkpoint (the agent makes one per anchor).
    pub fn leaves(&mut self, from: u64, to: u64) -> Result<Vec<Digest>, StoreError> {
        self.flush_leaves()?;
        let to = to.min(self.size());
        let from = from.min(to);
        let path = self.dir.join("leaves");
        let mut f = File::open(&path).map_err(io(&path))?;
        f.seek(SeekFrom::Start(from * 32)).map_err(io(&path))?;
        let mut bytes = vec![0u8; ((to - from) * 32) as usize];
        f.read_exact(&mut bytes).map_err(io(&path))?;
        Ok(bytes.chunks_exact(32).map(digest).collect())
    }

    /// The consistency proof from the last anchored head to the current tree (empty before
    /// the first anchor): O(leaves since the anchor + log size).
    pub fn consistency_since_anchor(&mut self) -> Result<Vec<Digest>, StoreError> {
        let old = self.state.anchored_tree.clone();
        if old.size() == 0 {
            return Ok(Vec::new());
        }
        let appended = self.leaves(old.size(), self.size())?;
        Ok(consistency_from_frontier(&old, &appended)?)
    }

    /// Proof that leaf `index` is in the tree of the first `size` leaves, with that leaf,
    /// streaming the leaves once (see [`read_inclusion`]).
    pub fn inclusion(
        &mut self,
        index: u64,
        size: u64,
    ) -> Result<(Digest, Vec<Digest>), StoreError> {
        self.flush_leaves()?;
        read_inclusion(&self.dir.join("leaves"), index, size)
    }
}

fn digest(c: &[u8]) -> Digest {
    let mut d = [0u8; 32];
    d.copy_from_slice(c);
    Digest(d)
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves of a `leaves`
/// file (32 bytes per leaf), read in one pass with memory independent of the log's size.
pub fn read_inclusion(
    path: &Path,
    index: u64,
    size: u64,
) -> Result<(Digest, Vec<Digest>), StoreError> {
    let mut builder = InclusionBuilder::new(index, size)?;
    let f = File::open(path).map_err(io(path))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
    let mut buf = [0u8; 32 * 1024];
    while builder.remaining() > 0 {
        let want = (builder.remaining() * 32).min(buf.len() as u64) as usize;
        reader.read_exact(&mut buf[..want]).map_err(io(path))?;
        for c in buf[..want].chunks_exact(32) {
            builder.push(digest(c));
        }
    }
    Ok(builder.finish()?)
}

#[cfg(test)]
mod tests;
