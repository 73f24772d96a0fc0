//! Durable storage on RocksDB: committed blocks, headers, commits, the transaction index and
//! the authenticated state. A block and everything it changes are written in one synced batch,
//! so a crash at any moment leaves either the whole block or none of it.

mod cache;
mod columns;

pub use columns::{Column, MetaKey};

use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use credledger_core::block::{AnchorEntry, Block, CommitCertificate, Header, ValidatorSet};
use credledger_core::encoding::{decode, encode};
use credledger_core::exec::{StateError, StateReader};
use credledger_core::genesis::Genesis;
use credledger_core::hash::Digest;
use credledger_core::history::CredentialEvent;
use credledger_core::ids::Height;
use credledger_core::sig::PublicKey;
use credledger_core::smt::{Node, NodeStore, SmtError};
use credledger_core::state::{StateKey, StateValue};
use rocksdb::{ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};

use cache::Cache;
use columns::{event_key, height_key, pending_key};

/// Where a committed transaction is and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxLocation {
    /// The block.
    pub height: Height,
    /// Its position in the block.
    pub index: u32,
    /// `None` if accepted, else the ledger's reason for refusing it.
    pub error: Option<String>,
}

/// An undecided block as consensus saw it: who streamed it for which round, whether this node
/// built it, and whether it passed the checks.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PendingBlock {
    /// The round it was proposed in.
    pub round: u32,
    /// The round of the polka a re-proposal rests on.
    pub valid_round: Option<u32>,
    /// The validator that proposed it in `round`.
    pub proposer: PublicKey,
    /// Whether this node built it (the value it must propose again after a restart).
    pub own: bool,
    /// Whether it passed the proposal checks.
    pub valid: bool,
    /// The block.
    pub block: Block,
}

/// Everything one committed block writes.
#[derive(Clone, Debug)]
pub struct BlockWrite {
    /// The block.
    pub block: Block,
    /// Its commit certificate.
    pub commit: CommitCertificate,
    /// Receipts as index entries, in transaction order: `(tx id, location)`.
    pub receipts: Vec<(Digest, TxLocation)>,
    /// State values written by the block.
    pub values: Vec<(StateKey, StateValue)>,
    /// New state-map nodes.
    pub nodes: Vec<(Digest, Node)>,
    /// The state root after the block (equal to the header's).
    pub root: Digest,
    /// The validator set that signs the next block, if this block changed it.
    pub next_set: Option<ValidatorSet>,
    /// Credential events the block applied, in order: `(credential state key hash, event)`.
    pub events: Vec<(Digest, CredentialEvent)>,
    /// The T-Road anchors the block accepted, in `anchors_root` order.
    pub anchors: Vec<AnchorEntry>,
}

/// The database format this node reads and writes. Raised whenever a stored value's encoding
/// or a column's meaning changes: 2 added the credential record's history digest and the
/// `credential_history` column; 3 the header's `anchors_root` and the `block_anchors` column.
/// A database without it predates versioning (format 1).
pub const FORMAT_VERSION: u32 = 3;

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    /// A stored entry does not decode.
    #[error("column {column}: a stored entry is damaged ({reason})")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// What failed.
        reason: String,
    },
    /// The database was made for another chain.
    #[error("this database belongs to genesis {stored}, not {given}; use another data folder")]
    GenesisMismatch {
        /// Genesis hash stored.
        stored: Digest,
        /// Genesis hash given.
        given: Digest,
    },
    /// The database was written in another format.
    #[error(
        "this database was written in format {stored}, this node reads format {expected}: \
         start it in a new data folder (the devnet: DEVNET_FRESH=1 scripts/devnet) and let it \
         sync from its peers"
    )]
    FormatMismatch {
        /// Format found (1 if none is recorded).
        stored: u32,
        /// Format this node reads.
        expected: u32,
    },
    /// A block that does not follow the last committed one.
    #[error("block {got} does not follow the last committed height {last}")]
    OutOfOrder {
        /// Last committed height.
        last: Height,
        /// Height offered.
        got: Height,
    },
    /// The database has not been initialised with a genesis.
    #[error("the database has no genesis yet")]
    NoGenesis,
    /// Building the genesis state failed.
    #[error("genesis state: {0}")]
    Genesis(#[from] SmtError),
}

/// The node's database.
pub struct Store {
    db: DB,
    /// State-map nodes recently written or read: every block's update reads the paths the
    /// blocks before it wrote. Nodes are content-addressed (stored under their own hash and
    /// never changed), so a cached node can never be stale: this cache needs no invalidation,
    /// only a bound on its size.
    nodes: std::sync::Mutex<Cache<Node>>,
    /// Current state values recently written or read, and absent keys recently asked for.
    values: std::sync::Mutex<ValueCache>,
}

/// State values by state key hash, in front of the `state_values` column. Unlike nodes, a
/// key's value changes, so the cache must never keep one the store has replaced.
///
/// Every committed block writes its new values through to the cache and advances the
/// generation, in one critical section after the batch is durable. A reader that missed
/// notes the generation before it reads the store and keeps what it read only if no block
/// committed in between: otherwise it might put back a value that block replaced.
///
/// Between the synced write and that critical section a reader could still be answered a
/// key's old value. The node never lets it happen: its service commits under the ledger's
/// write lock and reads under its read lock (`service/node.rs`).
struct ValueCache {
    entries: Cache<Option<StateValue>>,
    generation: u64,
}

/// State values per generation of the value cache. Admission reads an issuer's record, key
/// and nonce for every transaction and each new credential's key once, and execution reads
/// them again a block later: a few thousand keys per block, kept for some ten blocks.
const CACHED_VALUES: usize = 1 << 15;

/// Nodes per generation of the node cache. At most twice this many are kept, about 100 bytes
/// each (some 60 MiB): the whole tree of about a quarter of a million state entries, whose
/// upper levels every block's update walks.
const CACHED_NODES: usize = 1 << 18;

/// The memtable size of each column of the database at `path`: between 32 and 64 MiB
/// (RocksDB's default), fixed by the path; `state_nodes` gets a quarter of it in up to four
/// memtables ([`Column::options`]).
///
/// Every validator writes the same data, so with equal memtables all of them flush, and then
/// compact, at the same block. Where they share the cores (the devnet, the benchmarks), those
/// bursts came together and stalled the chain for seconds (BENCHMARKS.md, session 14); with
/// sizes that differ, they come apart.
fn memtable_bytes(path: &Path) -> usize {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    path.hash(&mut h);
    (32 << 20) + (h.finish() % (32 << 20)) as usize
}

impl Store {
    /// Opens (or creates) the database at `path` with every column family.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Flushes and compactions keep the default CPU priority. At nice 19 they can starve
        // while other processes keep the cores busy, and the node's writes then stall behind
        // them (tried in session 13: BENCHMARKS.md).
        let write_buffer = memtable_bytes(path);
        let cfs = Column::ALL
            .iter()
            .map(|c| ColumnFamilyDescriptor::new(c.name(), c.options(write_buffer)));
        Ok(Store {
            db: DB::open_cf_descriptors(&opts, path, cfs)?,
            nodes: std::sync::Mutex::new(Cache::new(CACHED_NODES)),
            values: std::sync::Mutex::new(ValueCache {
                entries: Cache::new(CACHED_VALUES),
                generation: 0,
            }),
        })
    }

    fn cf(&self, c: Column) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(c.name()).ok_or(StoreError::Corrupt {
            column: c.name(),
            reason: "column family missing".into(),
        })
    }

    fn get<T: BorshDeserialize + BorshSerialize>(
        &self,
        c: Column,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.db.get_pinned_cf(self.cf(c)?, key)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes, usize::MAX)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    column: c.name(),
                    reason: e.to_string(),
                }),
        }
    }

    fn synced() -> WriteOptions {
        let mut w = WriteOptions::default();
        // An acknowledged commit must survive a crash or power loss: fsync the WAL.
        w.set_sync(true);
        w
    }

    /// Writes the genesis state once; on later starts checks that the database belongs to the
    /// same genesis. Returns the current state root.
    pub fn init(&self, genesis: &Genesis) -> Result<Digest, StoreError> {
        let given = genesis.hash();
        if let Some(stored) = self.get::<Digest>(Column::Meta, MetaKey::GenesisHash.key())? {
            if stored != given {
                return Err(StoreError::GenesisMismatch { stored, given });
            }
            let format = self
                .get::<u32>(Column::Meta, MetaKey::FormatVersion.key())?
                .unwrap_or(1);
            if format != FORMAT_VERSION {
                return Err(StoreError::FormatMismatch {
                    stored: format,
                    expected: FORMAT_VERSION,
                });
            }
            return self.state_root();
        }
        let entries = genesis.state_entries();
        let tree: Vec<_> = entries.iter().map(|(k, v)| (k.hash(), v.hash())).collect();
        let (root, nodes) = credledger_core::smt::update(self, Digest::ZERO, &tree)?;
        let mut batch = WriteBatch::default();
        for (h, n) in &nodes {
            batch.put_cf(self.cf(Column::StateNodes)?, h.0, encode(n));
        }
        for (k, v) in &entries {
            batch.put_cf(self.cf(Column::StateValues)?, k.hash().0, encode(v));
        }
        batch.put_cf(
            self.cf(Column::Meta)?,
            MetaKey::StateRoot.key(),
            encode(&root),
        );
        batch.put_cf(
            self.cf(Column::Meta)?,
            MetaKey::GenesisHash.key(),
            encode(&given),
        );
        batch.put_cf(
            self.cf(Column::Meta)?,
            MetaKey::FormatVersion.key(),
            encode(&FORMAT_VERSION),
        );
        let set =
            ValidatorSet::new(genesis.validators.to_vec()).map_err(|e| StoreError::Corrupt {
                column: Column::ValidatorSets.name(),
                reason: format!("genesis validator set: {e}"),
            })?;
        batch.put_cf(
            self.cf(Column::ValidatorSets)?,
            height_key(Height(1)),
            encode(&set),
        );
        self.db.write_opt(batch, &Self::synced())?;
        self.wrote_values(entries.into_iter().map(|(k, v)| (k.hash(), v)));
        Ok(root)
    }

    /// Height of the last committed block (0 before block 1).
    pub fn last_height(&self) -> Result<Height, StoreError> {
        Ok(self
            .get::<Height>(Column::Meta, MetaKey::LastHeight.key())?
            .unwrap_or(Height(0)))
    }

    /// The state root after the last committed block.
    pub fn state_root(&self) -> Result<Digest, StoreError> {
        self.get::<Digest>(Column::Meta, MetaKey::StateRoot.key())?
            .ok_or(StoreError::NoGenesis)
    }

    /// The genesis hash this database belongs to.
    pub fn genesis_hash(&self) -> Result<Digest, StoreError> {
        self.get::<Digest>(Column::Meta, MetaKey::GenesisHash.key())?
            .ok_or(StoreError::NoGenesis)
    }

    /// A committed header.
    pub fn header(&self, h: Height) -> Result<Option<Header>, StoreError> {
        self.get(Column::Headers, &height_key(h))
    }

    /// A committed block.
    pub fn block(&self, h: Height) -> Result<Option<Block>, StoreError> {
        self.get(Column::Blocks, &height_key(h))
    }

    /// The commit certificate of a committed block.
    pub fn commit(&self, h: Height) -> Result<Option<CommitCertificate>, StoreError> {
        self.get(Column::Commits, &height_key(h))
    }

    /// The T-Road anchors block `h` accepted, in its `anchors_root` order (empty if none).
    pub fn block_anchors(&self, h: Height) -> Result<Vec<AnchorEntry>, StoreError> {
        Ok(self
            .get(Column::BlockAnchors, &height_key(h))?
            .unwrap_or_default())
    }

    /// Where a committed transaction is.
    pub fn tx(&self, id: &Digest) -> Result<Option<TxLocation>, StoreError> {
        self.get(Column::TxIndex, &id.0)
    }

    /// A current state value.
    pub fn value(&self, key: &StateKey) -> Result<Option<StateValue>, StoreError> {
        let hash = key.hash();
        let generation = match self.cached_value(&hash) {
            Ok(value) => return Ok(value),
            Err(generation) => generation,
        };
        let value: Option<StateValue> = self.get(Column::StateValues, &hash.0)?;
        if let Some(g) = generation {
            self.keep_value(hash, &value, g);
        }
        Ok(value)
    }

    /// The cached value under `hash`, or on a miss the cache's generation (`None` if its lock
    /// is poisoned: that only costs the cache, the store still answers).
    fn cached_value(&self, hash: &Digest) -> Result<Option<StateValue>, Option<u64>> {
        match self.values.lock() {
            Ok(mut c) => c.entries.get(hash).ok_or(Some(c.generation)),
            Err(_) => Err(None),
        }
    }

    /// Keeps a value read from the store at cache generation `generation`, unless a block has
    /// committed since (see [`ValueCache`]).
    fn keep_value(&self, hash: Digest, value: &Option<StateValue>, generation: u64) {
        if let Ok(mut c) = self.values.lock()
            && c.generation == generation
        {
            c.entries.insert(hash, value.clone());
        }
    }

    /// After `values` are durably written: the cache holds them, and reads that began before
    /// keep nothing (see [`ValueCache`]).
    fn wrote_values(&self, values: impl Iterator<Item = (Digest, StateValue)>) {
        if let Ok(mut c) = self.values.lock() {
            c.generation += 1;
            for (hash, v) in values {
                c.entries.insert(hash, Some(v));
            }
        }
    }

    /// Writes one committed block and everything it changes, atomically and synced.
    pub fn write_block(&self, w: &BlockWrite) -> Result<(), StoreError> {
        let last = self.last_height()?;
        let h = w.block.header.height;
        if Some(h) != last.next() {
            return Err(StoreError::OutOfOrder { last, got: h });
        }
        let key = height_key(h);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(Column::Headers)?, key, encode(&w.block.header));
        batch.put_cf(self.cf(Column::Blocks)?, key, encode(&w.block));
        batch.put_cf(self.cf(Column::Commits)?, key, encode(&w.commit));
        let mut indexed = std::collections::HashSet::new();
        for (id, loc) in &w.receipts {
            // A transaction's first commit is its record. A repeat of it, in this block or a
            // later one (only a faulty proposer makes one, and it fails there), must not
            // overwrite where and how it took effect.
            if !indexed.insert(id) || self.tx(id)?.is_some() {
                continue;
            }
            batch.put_cf(self.cf(Column::TxIndex)?, id.0, encode(loc));
        }
        for (hash, node) in &w.nodes {
            batch.put_cf(self.cf(Column::StateNodes)?, hash.0, encode(node));
        }
        let values: Vec<(Digest, &StateValue)> =
            w.values.iter().map(|(k, v)| (k.hash(), v)).collect();
        for (hash, v) in &values {
            batch.put_cf(self.cf(Column::StateValues)?, hash.0, encode(*v));
        }
        for (i, (credential, event)) in w.events.iter().enumerate() {
            // At most a few thousand transactions per block, each far below 2^32 events.
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            batch.put_cf(
                self.cf(Column::CredentialHistory)?,
                event_key(credential, h, index),
                encode(event),
            );
        }
        if !w.anchors.is_empty() {
            batch.put_cf(self.cf(Column::BlockAnchors)?, key, encode(&w.anchors));
        }
        batch.put_cf(
            self.cf(Column::Meta)?,
            MetaKey::StateRoot.key(),
            encode(&w.root),
        );
        batch.put_cf(
            self.cf(Column::Meta)?,
            MetaKey::LastHeight.key(),
            encode(&h),
        );
        if let Some(set) = &w.next_set {
            batch.put_cf(
                self.cf(Column::ValidatorSets)?,
                height_key(Height(h.0 + 1)),
                encode(set),
            );
        }
        // Undecided blocks at this height or below can never be decided now. They are deleted
        // key by key: a range deletion per block would leave one range tombstone per height,
        // which every later read of the column must step over (catch-up slowed from ~135 to
        // ~25 blocks/s over 600 blocks that way).
        // Heights below `h` hold nothing: each commit cleared its own, and `put_pending` keeps
        // nothing for committed heights. Starting the scan at `h` also keeps it clear of the
        // point tombstones those earlier deletions left.
        let pending = self.cf(Column::Pending)?;
        let mut it = self.db.raw_iterator_cf(pending);
        it.seek(height_key(h));
        while let Some(k) = it.key() {
            if k >= height_key(Height(h.0 + 1)).as_slice() {
                break;
            }
            batch.delete_cf(pending, k);
            it.next();
        }
        it.status()?;
        self.db.write_opt(batch, &Self::synced())?;
        // Only now are the nodes and values in the store, so only now may the caches hold them.
        if let Ok(mut cache) = self.nodes.lock() {
            for (hash, node) in &w.nodes {
                cache.insert(*hash, node.clone());
            }
        }
        self.wrote_values(values.into_iter().map(|(hash, v)| (hash, v.clone())));
        Ok(())
    }
}

impl Store {
    /// The events of the credential whose state key hashes to `credential`, oldest first, in
    /// blocks up to `upto`; at most `max` (the caller asks one more than it serves, to tell a
    /// history that is too long).
    pub fn credential_history(
        &self,
        credential: &Digest,
        upto: Height,
        max: usize,
    ) -> Result<Vec<CredentialEvent>, StoreError> {
        let cf = self.cf(Column::CredentialHistory)?;
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek(credential.0);
        let mut events = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&credential.0) || events.len() >= max {
                break;
            }
            let event: CredentialEvent = decode(v, 1_024).map_err(|e| StoreError::Corrupt {
                column: Column::CredentialHistory.name(),
                reason: e.to_string(),
            })?;
            if event.height > upto {
                break;
            }
            events.push(event);
            it.next();
        }
        it.status()?;
        Ok(events)
    }

    /// Every height from which a new validator set signs (1 for the genesis set), in order,
    /// with that set's hash; at most `max`.
    pub fn validator_set_starts(&self, max: usize) -> Result<Vec<(Height, Digest)>, StoreError> {
        Ok(self
            .validator_sets(max)?
            .into_iter()
            .map(|(h, set)| (h, set.hash()))
            .collect())
    }

    /// Every validator set the chain has had, with the height from which it signs, in order;
    /// at most `max`.
    pub fn validator_sets(&self, max: usize) -> Result<Vec<(Height, ValidatorSet)>, StoreError> {
        let cf = self.cf(Column::ValidatorSets)?;
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek_to_first();
        let mut sets = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if sets.len() >= max {
                break;
            }
            let corrupt = |reason: String| StoreError::Corrupt {
                column: Column::ValidatorSets.name(),
                reason,
            };
            let height = <[u8; 8]>::try_from(k)
                .map(|b| Height(u64::from_be_bytes(b)))
                .map_err(|_| corrupt(format!("key of {} bytes", k.len())))?;
            let set: ValidatorSet = decode(v, usize::MAX).map_err(|e| corrupt(e.to_string()))?;
            sets.push((height, set));
            it.next();
        }
        it.status()?;
        Ok(sets)
    }

    /// The validator set that signs block `h` (the latest set that took effect at or before it).
    pub fn validator_set(&self, h: Height) -> Result<Option<ValidatorSet>, StoreError> {
        let cf = self.cf(Column::ValidatorSets)?;
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek_for_prev(height_key(h));
        match it.value() {
            None => {
                it.status()?;
                Ok(None)
            }
            Some(bytes) => decode(bytes, usize::MAX)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    column: Column::ValidatorSets.name(),
                    reason: e.to_string(),
                }),
        }
    }

    /// Keeps an undecided block before consensus is told about it; fsynced if `durable`.
    pub fn put_pending(&self, p: &PendingBlock, durable: bool) -> Result<(), StoreError> {
        let h = &p.block.header;
        // A committed height is never decided again (a late synced copy of it, say): keeping
        // its body would only leave an entry no commit clears.
        if h.height <= self.last_height()? {
            return Ok(());
        }
        // A peer's restream of this node's own proposal must not overwrite the record that
        // this node proposed it (ADR 001); another copy replaces a peer's (its validity is
        // judged again, at a later clock).
        let key = pending_key(h.height, p.round, &h.hash());
        if !p.own
            && matches!(self.get::<PendingBlock>(Column::Pending, &key), Ok(Some(old)) if old.own)
        {
            return Ok(());
        }
        let options = if durable {
            Self::synced()
        } else {
            WriteOptions::default()
        };
        self.db
            .put_cf_opt(self.cf(Column::Pending)?, key, encode(p), &options)?;
        Ok(())
    }

    /// Every undecided block kept for height `h`, in round order.
    pub fn pending_at(&self, h: Height) -> Result<Vec<PendingBlock>, StoreError> {
        let cf = self.cf(Column::Pending)?;
        let prefix = height_key(h);
        let mut out = Vec::new();
        for item in self.db.prefix_iterator_cf(cf, prefix) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(decode(&v, usize::MAX).map_err(|e| StoreError::Corrupt {
                column: Column::Pending.name(),
                reason: e.to_string(),
            })?);
        }
        Ok(out)
    }
}

impl NodeStore for Store {
    fn get_node(&self, hash: &Digest) -> Result<Option<Node>, SmtError> {
        if let Some(n) = self.nodes.lock().ok().and_then(|mut c| c.get(hash)) {
            return Ok(Some(n));
        }
        let node: Option<Node> = self
            .get(Column::StateNodes, &hash.0)
            .map_err(|e| SmtError::Store(e.to_string()))?;
        if let (Some(n), Ok(mut cache)) = (&node, self.nodes.lock()) {
            cache.insert(*hash, n.clone());
        }
        Ok(node)
    }
}

impl StateReader for Store {
    fn read(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        self.value(key).map_err(|e| StateError(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
