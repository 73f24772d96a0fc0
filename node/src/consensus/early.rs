//! Whole proposals that arrived before their height started, kept (bounded) until it does.
//!
//! Three validators are a quorum without the fourth, so a validator that is slower for a
//! moment (its block's synced write, a memtable flush, a host busier than the others') can fall
//! two heights behind within milliseconds while the others go on. Malachite keeps the others'
//! votes for those heights (up to ten ahead); without their proposals too, the validator could
//! only learn those blocks by sync, over a second later, and if it is the next proposer every
//! validator waits for it meanwhile. (It was first seen when every validator waited out its
//! block interval; only the proposer paces now, `pacing.rs`.)

use super::context::Height;
use super::streams::Completed;

/// Proposals kept at most.
pub const MAX_EARLY: usize = 16;
/// How many heights ahead of this node's a proposal is kept: further ahead it is of no use
/// before sync brings this node there.
pub const AHEAD: u64 = 4;

/// The proposals kept for heights above this node's.
#[derive(Default)]
pub struct EarlyProposals {
    kept: Vec<Completed>,
}

impl EarlyProposals {
    /// Offers a whole proposal for a height above `current`, this node's; returns whether it
    /// is kept. Before the first height starts (`current` 0) any height is near. When the
    /// room is taken, the one farthest ahead gives way to a nearer one, needed sooner.
    pub fn offer(&mut self, current: Height, p: Completed) -> bool {
        let near = current.0 == 0 || p.height.0 <= current.0.saturating_add(AHEAD);
        if p.height <= current || !near {
            return false;
        }
        if self.kept.len() >= MAX_EARLY {
            let farthest = (0..self.kept.len()).max_by_key(|&i| self.kept[i].height);
            match farthest {
                Some(i) if self.kept[i].height > p.height => {
                    self.kept.swap_remove(i);
                }
                _ => return false,
            }
        }
        self.kept.push(p);
        true
    }

    /// Takes the proposals for `height`, which starts now, and drops those below it.
    pub fn take(&mut self, height: Height) -> Vec<Completed> {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.kept)
            .into_iter()
            .filter(|p| p.height >= height)
            .partition(|p| p.height == height);
        self.kept = later;
        now
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::context::{Address, BlockId};
    use arc_malachitebft_app_channel::app::types::PeerId;
    use arc_malachitebft_app_channel::app::types::core::Round;
    use credledger_core::hash::Digest;
    use credledger_core::sig::PublicKey;

    fn proposal(height: u64, tag: u8) -> Completed {
        let libp2p = crate::consensus::engine::peer_id(&PublicKey([1; 32]));
        Completed {
            height: Height(height),
            round: Round::new(0),
            pol_round: Round::Nil,
            proposer: Address(PublicKey([1; 32])),
            id: BlockId(Digest([tag; 32])),
            bytes: vec![tag],
            from: PeerId::from_bytes(&libp2p.to_bytes()).expect("peer id"),
        }
    }

    #[test]
    fn proposals_up_to_four_heights_ahead_are_kept_until_their_height_starts() {
        let mut e = EarlyProposals::default();
        // This node is at height 50, still writing its block; the others are at 52.
        assert!(e.offer(Height(50), proposal(51, 1)));
        assert!(e.offer(Height(50), proposal(52, 2)));
        assert!(e.offer(Height(50), proposal(54, 4)));
        assert!(!e.offer(Height(50), proposal(55, 5)), "too far ahead");
        assert!(!e.offer(Height(50), proposal(50, 0)), "not ahead");
        assert_eq!(e.len(), 3);
        assert_eq!(e.take(Height(51))[0].bytes, [1]);
        let at52 = e.take(Height(52));
        assert_eq!((at52.len(), at52[0].bytes.clone()), (1, vec![2]));
        // A height passed by sync drops what was kept for it.
        assert!(e.take(Height(55)).is_empty());
        assert!(e.is_empty());
    }

    #[test]
    fn when_full_the_farthest_ahead_gives_way_to_a_nearer_one() {
        let mut e = EarlyProposals::default();
        for i in 0..MAX_EARLY {
            assert!(e.offer(Height(10), proposal(14, i as u8)));
        }
        assert!(
            !e.offer(Height(10), proposal(14, 99)),
            "no nearer than those kept"
        );
        assert!(e.offer(Height(10), proposal(11, 100)));
        assert_eq!(e.len(), MAX_EARLY);
        assert_eq!(e.take(Height(11))[0].bytes, [100]);
        assert_eq!(e.take(Height(14)).len(), MAX_EARLY - 1);
    }
}
