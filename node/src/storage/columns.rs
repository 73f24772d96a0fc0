//! Every column family of the node's database, with its key and value types: the one place
//! that declares them.
//!
//! | column | key | value |
//! |---|---|---|
//! | `meta` | [`MetaKey`] name (ASCII) | borsh of the value named there |
//! | `headers` | height, `u64` big-endian | [`Header`](credledger_core::block::Header) |
//! | `blocks` | height, `u64` big-endian | [`Block`](credledger_core::block::Block) |
//! | `commits` | height, `u64` big-endian | [`CommitCertificate`](credledger_core::block::CommitCertificate) |
//! | `tx_index` | transaction id (32 bytes) | [`TxLocation`](super::TxLocation) |
//! | `state_nodes` | node hash (32 bytes) | [`Node`](credledger_core::smt::Node) |
//! | `state_values` | state key hash (32 bytes) | [`StateValue`](credledger_core::state::StateValue) |
//! | `validator_sets` | first height the set signs, `u64` big-endian | [`ValidatorSet`](credledger_core::block::ValidatorSet) |
//! | `pending` | height `u64` BE ‖ round `u32` BE ‖ block hash | [`PendingBlock`](super::PendingBlock) |
//! | `credential_history` | credential's state key hash ‖ height `u64` BE ‖ event index in the block `u32` BE | [`CredentialEvent`](credledger_core::history::CredentialEvent) |
//! | `block_anchors` | height, `u64` big-endian | `Vec<`[`AnchorEntry`](credledger_core::block::AnchorEntry)`>`: the leaves of that header's `anchors_root`, for heights that accepted an anchor |
//!
//! Values are canonical borsh; heights are big-endian so that keys sort by height.

/// A column family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// Small named values: see [`MetaKey`].
    Meta,
    /// Committed headers by height.
    Headers,
    /// Committed blocks by height.
    Blocks,
    /// Commit certificates by height.
    Commits,
    /// Where each committed transaction is, and whether it was accepted.
    TxIndex,
    /// State-map nodes by hash (content-addressed; every root stays readable).
    StateNodes,
    /// Current state values by state key hash.
    StateValues,
    /// Every validator set the chain has had, by the first height it signs; sync serves old
    /// commits with the set that signed them.
    ValidatorSets,
    /// Undecided blocks this node built or received at heights not yet committed, so a
    /// restarted validator still holds the body of a value its consensus log may decide.
    Pending,
    /// Every event of every credential (spec/state.md §5.1), so its history is one prefix
    /// scan; a client checks it against the record's history digest.
    CredentialHistory,
    /// The T-Road anchors each block accepted, in `anchors_root` order, so a node proves one
    /// anchor from its block's header (spec/troad-log.md §6).
    BlockAnchors,
}

impl Column {
    /// Every column, in creation order.
    pub const ALL: [Column; 11] = [
        Column::Meta,
        Column::Headers,
        Column::Blocks,
        Column::Commits,
        Column::TxIndex,
        Column::StateNodes,
        Column::StateValues,
        Column::ValidatorSets,
        Column::Pending,
        Column::CredentialHistory,
        Column::BlockAnchors,
    ];

    /// The column family's name in RocksDB.
    pub const fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::Headers => "headers",
            Column::Blocks => "blocks",
            Column::Commits => "commits",
            Column::TxIndex => "tx_index",
            Column::StateNodes => "state_nodes",
            Column::StateValues => "state_values",
            Column::ValidatorSets => "validator_sets",
            Column::Pending => "pending",
            Column::CredentialHistory => "credential_history",
            Column::BlockAnchors => "block_anchors",
        }
    }
}

impl Column {
    /// Whether the column is keyed by a hash and only ever read by point lookups: its keys are
    /// uniformly spread and never scanned in order.
    pub const fn hash_keyed(self) -> bool {
        matches!(
            self,
            Column::TxIndex | Column::StateNodes | Column::StateValues
        )
    }

    /// The column family's RocksDB options. Hash-keyed columns get a Bloom filter in the
    /// memtable and one per table file, so a lookup of a key that is not there (a new
    /// transaction's id, say) reads neither the memtable's skip list nor a data block.
    ///
    /// Their memtable is RocksDB's default skip list. A hashed memtable inserts faster, but
    /// to flush it RocksDB first sorts all of it into a skip list: with ~250,000 state nodes,
    /// seconds of CPU on every validator at the same block, which stalled the chain
    /// (BENCHMARKS.md, session 14).
    ///
    /// `write_buffer` is the memtable size in bytes (see `memtable_bytes` in `storage`).
    /// `state_nodes` gets a quarter of it, in up to four memtables: it takes about a dozen
    /// random keys per transaction, and an insert into a skip list costs about a cache miss per
    /// level it descends, so a smaller list inserts faster (at 8 MiB, 0.5–0.65 of the time per
    /// key at 48 MiB: `node/benches/memtable.rs`), while reads of recent nodes come from the
    /// node cache.
    pub fn options(self, write_buffer: usize) -> rocksdb::Options {
        let mut o = rocksdb::Options::default();
        if self == Column::StateNodes {
            o.set_write_buffer_size(write_buffer / 4);
            o.set_max_write_buffer_number(4);
        } else {
            o.set_write_buffer_size(write_buffer);
        }
        o.set_compression_type(rocksdb::DBCompressionType::Lz4);
        if self.hash_keyed() {
            // Hashes do not compress.
            o.set_compression_type(rocksdb::DBCompressionType::None);
            o.set_memtable_whole_key_filtering(true);
            o.set_memtable_prefix_bloom_ratio(0.05);
            let mut t = rocksdb::BlockBasedOptions::default();
            t.set_bloom_filter(10.0, false);
            o.set_block_based_table_factory(&t);
        }
        o
    }
}

/// The named entries of [`Column::Meta`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaKey {
    /// Hash of the genesis this database belongs to (`Digest`).
    GenesisHash,
    /// The layout and value formats the database was written in (`u32`,
    /// [`FORMAT_VERSION`](super::FORMAT_VERSION)).
    FormatVersion,
    /// Height of the last committed block (`Height`; absent before block 1).
    LastHeight,
    /// State root after the last committed block (`Digest`).
    StateRoot,
}

impl MetaKey {
    /// The key bytes.
    pub const fn key(self) -> &'static [u8] {
        match self {
            MetaKey::GenesisHash => b"genesis_hash",
            MetaKey::FormatVersion => b"format_version",
            MetaKey::LastHeight => b"last_height",
            MetaKey::StateRoot => b"state_root",
        }
    }
}

/// A height as a key: big-endian, so keys sort by height.
pub fn height_key(h: credledger_core::ids::Height) -> [u8; 8] {
    h.0.to_be_bytes()
}

/// A credential event's key: the credential's state key hash, then the block height and the
/// event's index among the block's events, so one credential's events are one prefix in order.
pub fn event_key(
    credential: &credledger_core::hash::Digest,
    h: credledger_core::ids::Height,
    index: u32,
) -> [u8; 44] {
    let mut k = [0u8; 44];
    k[..32].copy_from_slice(&credential.0);
    k[32..40].copy_from_slice(&h.0.to_be_bytes());
    k[40..].copy_from_slice(&index.to_be_bytes());
    k
}

/// A pending block's key: height, round, block hash; a prefix of height alone selects a height.
pub fn pending_key(
    h: credledger_core::ids::Height,
    round: u32,
    id: &credledger_core::hash::Digest,
) -> [u8; 44] {
    let mut k = [0u8; 44];
    k[..8].copy_from_slice(&h.0.to_be_bytes());
    k[8..12].copy_from_slice(&round.to_be_bytes());
    k[12..].copy_from_slice(&id.0);
    k
}
