//! Proposal streams: a block split into parts ([`split`]), and their reassembly, where parts
//! arrive out of order, duplicated, interleaved and possibly early, and memory stays bounded
//! whatever peers send.

use std::collections::{BTreeMap, HashMap, VecDeque};

use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::PeerId;
use arc_malachitebft_app_channel::app::types::core::Round;
use bytes::Bytes;
use credledger_core::block::MAX_BLOCK_BYTES;

use super::codec::PART_BYTES;
use super::context::{Address, BlockId, Height, ProposalHead, ProposalPart};

/// Streams being reassembled at once; the oldest is dropped beyond this.
pub const MAX_STREAMS: usize = 64;

/// Most parts a stream may have: the init, the largest block in parts of [`PART_BYTES`], the
/// fin part and the end marker. A peer sending many tiny or empty parts instead would make a
/// stream's memory grow with their count, not their bytes.
pub const MAX_PARTS: u64 = MAX_BLOCK_BYTES.div_ceil(PART_BYTES) as u64 + 3;

/// A whole proposal: who sent it for which height and round, and the block's bytes.
#[derive(Clone, Debug)]
pub struct Completed {
    /// Height.
    pub height: Height,
    /// Round it is proposed in.
    pub round: Round,
    /// Round of the polka a re-proposal rests on.
    pub pol_round: Round,
    /// The proposer named in the stream.
    pub proposer: Address,
    /// The block hash the stream ends with.
    pub id: BlockId,
    /// The encoded block.
    pub bytes: Vec<u8>,
    /// The peer that published the stream.
    pub from: PeerId,
}

impl Completed {
    fn new(head: ProposalHead, id: BlockId, bytes: Vec<u8>, from: PeerId) -> Completed {
        Completed {
            height: head.height,
            round: head.round,
            pol_round: head.pol_round,
            proposer: head.proposer,
            id,
            bytes,
            from,
        }
    }
}

#[derive(Default)]
struct Partial {
    parts: BTreeMap<u64, ProposalPart>,
    /// Sequence of the stream's end marker: the number of parts before it.
    end: Option<u64>,
    bytes: usize,
    height: Option<Height>,
}

/// Streams in progress, keyed by publisher and stream id.
#[derive(Default)]
pub struct Streams {
    partial: HashMap<(PeerId, Bytes), Partial>,
    order: VecDeque<(PeerId, Bytes)>,
}

impl Streams {
    /// Adds one message; returns the proposal when its stream is complete and well formed.
    /// Streams for heights below `current` are ignored.
    pub fn insert(
        &mut self,
        from: PeerId,
        msg: StreamMessage<ProposalPart>,
        current: Height,
    ) -> Option<Completed> {
        let content = match msg.content {
            // A whole proposal in one message completes at once and is never kept as a
            // partial stream; the decoder bounds its size as it bounds any part's.
            StreamContent::Data(ProposalPart::Whole { head, block, id }) => {
                return (msg.sequence == 0 && head.height >= current)
                    .then(|| Completed::new(head, id, block, from));
            }
            other => other,
        };
        let key = (from, msg.stream_id.to_bytes());
        if !self.partial.contains_key(&key) {
            if self.partial.len() >= MAX_STREAMS
                && let Some(old) = self.order.pop_front()
            {
                self.partial.remove(&old);
            }
            self.order.push_back(key.clone());
        }
        if msg.sequence >= MAX_PARTS {
            self.remove(&key);
            return None;
        }
        let s = self.partial.entry(key.clone()).or_default();
        match content {
            StreamContent::Fin => s.end = Some(msg.sequence),
            StreamContent::Data(part) => {
                if let ProposalPart::Init(head) = &part {
                    s.height = Some(head.height);
                }
                if let ProposalPart::Data(d) = &part {
                    s.bytes = s.bytes.saturating_add(d.len());
                }
                if s.bytes > MAX_BLOCK_BYTES {
                    self.remove(&key);
                    return None;
                }
                s.parts.entry(msg.sequence).or_insert(part);
            }
        }
        if s.height.is_some_and(|h| h < current) {
            self.remove(&key);
            return None;
        }
        let end = s.end?;
        if s.parts.len() as u64 != end || s.parts.keys().next_back().is_some_and(|&k| k + 1 != end)
        {
            return None;
        }
        let s = self.remove(&key)?;
        assemble(s, key.0)
    }

    /// Drops every stream for a height below `h`.
    pub fn drop_below(&mut self, h: Height) {
        let stale: Vec<_> = self
            .partial
            .iter()
            .filter(|(_, s)| s.height.is_some_and(|x| x < h))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.remove(&k);
        }
    }

    fn remove(&mut self, key: &(PeerId, Bytes)) -> Option<Partial> {
        self.order.retain(|k| k != key);
        self.partial.remove(key)
    }

    /// Streams in progress.
    pub fn len(&self) -> usize {
        self.partial.len()
    }

    /// Whether none is in progress.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }
}

/// The messages that publish an encoded block (spec/blocks.md §7): one `Whole` part if it fits
/// one part, with no end marker; else `Init`, the block in chunks of [`PART_BYTES`], `Fin` with
/// its hash, and the end marker.
pub fn split(
    stream_id: StreamId,
    head: ProposalHead,
    block: Vec<u8>,
    id: BlockId,
) -> Vec<StreamMessage<ProposalPart>> {
    if block.len() <= PART_BYTES {
        // Each message costs every validator its relaying and checks; most blocks fit one.
        let whole = ProposalPart::Whole { head, block, id };
        return vec![StreamMessage::new(stream_id, 0, StreamContent::Data(whole))];
    }
    let mut parts = vec![ProposalPart::Init(head)];
    parts.extend(
        block
            .chunks(PART_BYTES)
            .map(|c| ProposalPart::Data(c.to_vec())),
    );
    parts.push(ProposalPart::Fin(id));
    let end = parts.len() as u64;
    let mut out: Vec<_> = parts
        .into_iter()
        .zip(0u64..)
        .map(|(p, seq)| StreamMessage::new(stream_id.clone(), seq, StreamContent::Data(p)))
        .collect();
    out.push(StreamMessage::new(stream_id, end, StreamContent::Fin));
    out
}

/// Init first, data in order, Fin last: anything else is not a proposal.
fn assemble(s: Partial, from: PeerId) -> Option<Completed> {
    let mut parts = s.parts.into_values();
    let Some(ProposalPart::Init(head)) = parts.next() else {
        return None;
    };
    let mut bytes = Vec::with_capacity(s.bytes);
    let mut id = None;
    for p in parts {
        match (p, id) {
            (ProposalPart::Data(d), None) => bytes.extend_from_slice(&d),
            (ProposalPart::Fin(b), None) => id = Some(b),
            _ => return None,
        }
    }
    Some(Completed::new(head, id?, bytes, from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_core::hash::Digest;
    use credledger_core::sig::PublicKey;

    fn peer(i: u8) -> PeerId {
        let libp2p = crate::consensus::engine::peer_id(&PublicKey([i; 32]));
        PeerId::from_bytes(&libp2p.to_bytes()).expect("peer id")
    }

    fn head(height: u64, round: u32, pol_round: Round) -> ProposalHead {
        ProposalHead {
            height: Height(height),
            round: Round::new(round),
            pol_round,
            proposer: Address(PublicKey([1; 32])),
        }
    }

    fn msgs(id: u8, height: u64, data: &[&[u8]]) -> Vec<StreamMessage<ProposalPart>> {
        let sid = StreamId::new(Bytes::from(vec![id]));
        let mut parts = vec![ProposalPart::Init(head(height, 0, Round::Nil))];
        parts.extend(data.iter().map(|d| ProposalPart::Data(d.to_vec())));
        parts.push(ProposalPart::Fin(BlockId(Digest([9; 32]))));
        let n = parts.len() as u64;
        let mut out: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| StreamMessage::new(sid.clone(), i as u64, StreamContent::Data(p)))
            .collect();
        out.push(StreamMessage::new(sid, n, StreamContent::Fin));
        out
    }

    #[test]
    fn reassembles_out_of_order_and_duplicated_parts() {
        let mut s = Streams::default();
        let peer = peer(7);
        let mut m = msgs(1, 5, &[b"ab", b"cd", b"ef"]);
        m.reverse();
        // A duplicate arrives before the stream is complete.
        let dup = m[1].clone();
        m.insert(3, dup);
        let mut done = Vec::new();
        for x in m {
            done.extend(s.insert(peer, x, Height(5)));
        }
        assert_eq!(done.len(), 1, "completes exactly once");
        let c = &done[0];
        assert_eq!(c.bytes, b"abcdef");
        assert_eq!(c.height, Height(5));
        assert!(s.is_empty());
    }

    #[test]
    fn a_stream_missing_a_part_never_completes_and_old_heights_are_dropped() {
        let mut s = Streams::default();
        let peer = peer(7);
        let mut m = msgs(1, 5, &[b"ab", b"cd"]);
        m.remove(2);
        for x in m {
            assert!(s.insert(peer, x, Height(5)).is_none());
        }
        assert_eq!(s.len(), 1);
        s.drop_below(Height(6));
        assert!(s.is_empty());
        for x in msgs(2, 4, &[b"x"]) {
            assert!(s.insert(peer, x, Height(5)).is_none());
        }
    }

    fn whole(height: u64, seq: u64) -> StreamMessage<ProposalPart> {
        let part = ProposalPart::Whole {
            head: head(height, 1, Round::Nil),
            block: b"block".to_vec(),
            id: BlockId(Digest([9; 32])),
        };
        StreamMessage::new(
            StreamId::new(Bytes::from(vec![4])),
            seq,
            StreamContent::Data(part),
        )
    }

    #[test]
    fn a_whole_block_in_one_message_completes_at_once_and_leaves_nothing_behind() {
        let mut s = Streams::default();
        let done = s.insert(peer(7), whole(5, 0), Height(5)).expect("complete");
        assert_eq!(done.bytes, b"block");
        assert_eq!((done.height, done.round), (Height(5), Round::new(1)));
        assert_eq!(done.id, BlockId(Digest([9; 32])));
        assert_eq!(done.from, peer(7));
        // For an old height, or anywhere but first in its stream, it is no proposal.
        assert!(s.insert(peer(7), whole(4, 0), Height(5)).is_none());
        assert!(s.insert(peer(7), whole(5, 1), Height(5)).is_none());
        assert!(s.is_empty(), "no partial stream is kept for any of them");
        // Nor does it complete a stream of several parts that it lands in.
        let mut m = msgs(1, 5, &[b"ab"]);
        let end = m.pop().expect("end marker");
        let mut w = whole(5, 2);
        w.stream_id = m[0].stream_id.clone();
        for x in m.into_iter().take(2).chain([w, end]) {
            assert!(s.insert(peer(7), x, Height(5)).is_none());
        }
    }

    /// What the proposer sends is what a receiver reassembles, on both sides of the one-part
    /// boundary: one message up to a part's bytes, a stream beyond, in any order.
    #[test]
    fn a_split_block_reassembles_whole_in_any_order() {
        for (len, messages) in [
            (10, 1),
            (PART_BYTES, 1),
            (PART_BYTES + 1, 5),
            (2 * PART_BYTES + 7, 6),
        ] {
            let block: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let id = BlockId(Digest([len as u8; 32]));
            let mut m = split(
                StreamId::new(Bytes::from(vec![1])),
                head(3, 2, Round::new(1)),
                block.clone(),
                id,
            );
            assert_eq!(m.len(), messages, "{len} bytes");
            m.reverse();
            let mut s = Streams::default();
            let done: Vec<_> = m
                .into_iter()
                .filter_map(|x| s.insert(peer(5), x, Height(3)))
                .collect();
            assert_eq!(done.len(), 1, "{len} bytes complete exactly once");
            let c = &done[0];
            assert_eq!((c.bytes == block, c.id), (true, id), "{len} bytes");
            assert_eq!(
                (c.height, c.round, c.pol_round),
                (Height(3), Round::new(2), Round::new(1))
            );
            assert!(s.is_empty());
        }
    }

    #[test]
    fn memory_is_bounded_by_stream_count() {
        let mut s = Streams::default();
        for i in 0..(MAX_STREAMS as u64 + 50) {
            let sid = StreamId::new(Bytes::from(i.to_be_bytes().to_vec()));
            let msg =
                StreamMessage::new(sid, 3, StreamContent::Data(ProposalPart::Data(vec![0; 8])));
            assert!(s.insert(peer(i as u8), msg, Height(1)).is_none());
        }
        assert_eq!(s.len(), MAX_STREAMS);
    }

    #[test]
    fn a_stream_of_more_parts_than_any_block_needs_is_dropped() {
        let mut s = Streams::default();
        let sid = StreamId::new(Bytes::from(vec![1]));
        for seq in 0..MAX_PARTS {
            let empty = StreamContent::Data(ProposalPart::Data(Vec::new()));
            assert!(
                s.insert(
                    peer(3),
                    StreamMessage::new(sid.clone(), seq, empty),
                    Height(1)
                )
                .is_none()
            );
        }
        assert_eq!(s.len(), 1, "within the bound, kept");
        let beyond = StreamContent::Data(ProposalPart::Data(Vec::new()));
        assert!(
            s.insert(
                peer(3),
                StreamMessage::new(sid, MAX_PARTS, beyond),
                Height(1)
            )
            .is_none()
        );
        assert!(s.is_empty(), "beyond it, the whole stream is dropped");
    }
}
