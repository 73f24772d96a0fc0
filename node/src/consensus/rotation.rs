//! Who proposes first at a height: round-robin, except that a validator that built none of the
//! last `2n` blocks goes last until it is due a retry (spec/blocks.md §7.1, ADR 004).
//!
//! A stopped validator would otherwise cost the chain a propose timeout at every height it is
//! due to propose, a quarter of all heights with four validators. The rule reads only
//! committed headers, so every validator computes the same order for a height.

use credledger_core::block::{Header, ValidatorSet as CoreSet};

/// An absent validator is put back first at its turn about once per this much block time, so
/// a validator that comes back proposes again within about this long, and one that stays away
/// costs one shortened round per this long (`pacing::RETRY_TIMEOUT`, spec/blocks.md §7.1).
pub const RETRY_MS: u64 = 60_000;

/// How many blocks the rule looks back at height `h` for a set of `n`: two turns of each
/// member, so one failed turn alone does not make a member absent.
pub fn window(n: usize) -> u64 {
    2 * n as u64
}

/// Who is absent at a height, and whether the member whose turn it is comes back for a retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Absence {
    /// The members (in set order) that go last in the height's proposer order.
    pub members: Vec<bool>,
    /// The member whose turn it is built none of the window's blocks but is due a retry: it
    /// proposes first, and the height's first round waits less for it (spec/blocks.md §7.1).
    pub retry: bool,
}

/// Which members of `set` are absent at height `h`.
///
/// `recent` holds the committed headers of heights `h-2n ..= h-1` in order, `n` being the
/// set's size. At the chain's first heights (`h ≤ 2n`), or if a header of the window was
/// signed by another set, nobody is absent.
pub fn absent_members(set: &CoreSet, h: u64, recent: &[Header]) -> Absence {
    let n = set.validators().len();
    let nobody = Absence {
        members: vec![false; n],
        retry: false,
    };
    let w = window(n);
    let Some(first) = h.checked_sub(w).filter(|f| *f >= 1) else {
        return nobody;
    };
    if n < 2 || recent.len() as u64 != w {
        return nobody;
    }
    let in_order = recent
        .iter()
        .enumerate()
        .all(|(k, hd)| hd.height.0 == first + k as u64);
    // spec/blocks.md §7.1: the proposer indices of the window count only if they index the
    // same set as this height's.
    let hash = set.hash();
    if !in_order || recent.iter().any(|hd| hd.validators_hash != hash) {
        return nobody;
    }
    let mut absent = vec![true; n];
    for hd in recent {
        if let Some(built) = absent.get_mut(usize::from(hd.proposer)) {
            *built = false;
        }
    }
    // The member whose turn it is gets it back when a multiple of `RETRY_MS` of block time
    // passed since its previous turn, `H(h-1-n)` to `H(h-1)`: at most once per turn, and about
    // once per `RETRY_MS`, as the spans of its turns follow one another.
    let turn = (h % n as u64) as usize;
    let then = recent[n - 1].time.0 / RETRY_MS;
    let now = recent[2 * n - 1].time.0 / RETRY_MS;
    let retry = absent[turn] && then != now;
    if retry {
        absent[turn] = false;
    }
    Absence {
        members: absent,
        retry,
    }
}

/// The index of the proposer of `round` at `height` in a set of `n` members of which those
/// marked in `absent` are absent: the rotation that starts at `height mod n`, with the absent
/// moved to its end and the order otherwise kept, indexed by `round mod n`
/// (spec/blocks.md §7.1).
pub fn proposer_index(n: usize, absent: &[bool], height: u64, round: u32) -> usize {
    if n == 0 {
        return 0;
    }
    let is_absent = |i: usize| absent.get(i).copied().unwrap_or(false);
    let start = (height % n as u64) as usize;
    let r = round as usize % n;
    let present = (0..n).filter(|&i| !is_absent(i)).count();
    let (want_absent, mut k) = if r < present {
        (false, r)
    } else {
        (true, r - present)
    };
    for j in 0..n {
        let i = (start + j) % n;
        if is_absent(i) == want_absent {
            if k == 0 {
                return i;
            }
            k -= 1;
        }
    }
    // Unreachable: the two groups together hold all `n` members.
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_core::devnet::{Devnet, DevnetParams};
    use credledger_core::hash::Digest;
    use credledger_core::ids::{Height, Timestamp};

    /// The first `n` validators of a devnet's four.
    fn set(n: usize) -> CoreSet {
        let d = Devnet::build(&[3; 32], &DevnetParams::default()).unwrap();
        CoreSet::new(d.genesis.validators[..n].to_vec()).unwrap()
    }

    /// Headers of heights `from..from + builders.len()`, block `k` built by `builders[k]`, one
    /// second apart from `t0` ms.
    fn headers(set: &CoreSet, from: u64, t0: u64, builders: &[u16]) -> Vec<Header> {
        builders
            .iter()
            .enumerate()
            .map(|(k, &b)| Header {
                version: 1,
                chain_id: "test".parse().unwrap(),
                height: Height(from + k as u64),
                time: Timestamp(t0 + 1_000 * k as u64),
                previous: Digest::ZERO,
                transactions_root: Digest::ZERO,
                state_root: Digest::ZERO,
                anchors_root: Digest::ZERO,
                validators_hash: set.hash(),
                next_validators_hash: set.hash(),
                proposer: b,
            })
            .collect()
    }

    #[test]
    fn with_nobody_absent_it_is_plain_round_robin() {
        for h in 0..12 {
            for r in 0..9 {
                let want = ((h + u64::from(r)) % 4) as usize;
                assert_eq!(proposer_index(4, &[false; 4], h, r), want, "h {h} r {r}");
                assert_eq!(proposer_index(4, &[], h, r), want, "h {h} r {r}");
            }
        }
    }

    #[test]
    fn an_absent_validator_goes_last_and_the_rest_keep_their_order() {
        // Height 6 starts at index 2; 2 is absent: 3, 0, 1, then 2.
        let absent = [false, false, true, false];
        let order: Vec<usize> = (0..8).map(|r| proposer_index(4, &absent, 6, r)).collect();
        assert_eq!(order, [3, 0, 1, 2, 3, 0, 1, 2]);
        // At another validator's turn nothing moves but the absent one's place.
        let order: Vec<usize> = (0..4).map(|r| proposer_index(4, &absent, 5, r)).collect();
        assert_eq!(order, [1, 3, 0, 2]);
        // Every round still reaches every validator: rounds cycle through all of them.
        for h in 0..8 {
            let mut seen: Vec<usize> = (0..4).map(|r| proposer_index(4, &absent, h, r)).collect();
            seen.sort_unstable();
            assert_eq!(seen, [0, 1, 2, 3]);
        }
    }

    #[test]
    fn a_validator_that_built_none_of_the_last_2n_blocks_is_absent() {
        let s = set(4);
        // h = 20, n = 4: the window is heights 12..=19; validator 2 built none of them.
        let recent = headers(&s, 12, 1_000, &[0, 1, 3, 0, 1, 3, 0, 1]);
        assert_eq!(
            absent_members(&s, 20, &recent).members,
            [false, false, true, false]
        );
        // One block in the window, even its first, is enough: one failed turn is forgiven.
        let recent = headers(&s, 12, 1_000, &[2, 1, 3, 0, 1, 3, 0, 1]);
        assert_eq!(absent_members(&s, 20, &recent).members, [false; 4]);
        // At its own turn (22 mod 4 = 2) the next validator proposes first.
        let recent = headers(&s, 14, 1_000, &[3, 0, 1, 3, 0, 1, 3, 0]);
        let absent = absent_members(&s, 22, &recent);
        assert_eq!(absent.members, [false, false, true, false]);
        assert!(!absent.retry);
        assert_eq!(proposer_index(4, &absent.members, 22, 0), 3);
    }

    #[test]
    fn an_absent_validator_is_retried_once_a_multiple_of_the_retry_time_passes() {
        let s = set(4);
        let builders = [3, 0, 1, 3, 0, 1, 3, 0];
        // Heights 14..=21 one second apart: H(17), the block before validator 2's previous
        // turn, at 59,999 ms and H(21) at 63,999 ms, so 60,000 passed in between.
        let recent = headers(&s, 14, 56_999, &builders);
        let absent = absent_members(&s, 22, &recent);
        assert_eq!(absent.members, [false; 4], "validator 2's turn is a retry");
        assert!(absent.retry);
        assert_eq!(proposer_index(4, &absent.members, 22, 0), 2);
        // One millisecond later, both are in the same minute: no retry.
        let recent = headers(&s, 14, 57_000, &builders);
        let absent = absent_members(&s, 22, &recent);
        assert_eq!(absent.members, [false, false, true, false]);
        assert!(!absent.retry);
        // The multiple that falls in validator 1's span (H(16) to H(20)) retries nobody else.
        let recent = headers(&s, 13, 56_999, &[1, 3, 0, 1, 3, 0, 1, 3]);
        let absent = absent_members(&s, 21, &recent);
        assert_eq!(absent.members, [false, false, true, false]);
        assert!(
            !absent.retry,
            "validator 1 built blocks: its turn is no retry"
        );
    }

    #[test]
    fn early_heights_a_changed_set_or_a_gap_make_nobody_absent() {
        let s = set(4);
        let builders = [0, 1, 3, 0, 1, 3, 0, 1];
        // The chain's first heights: up to 2n there is no whole window.
        let recent = headers(&s, 1, 1_000, &builders[..7]);
        assert_eq!(absent_members(&s, 8, &recent).members, [false; 4]);
        let recent = headers(&s, 1, 1_000, &builders);
        assert_eq!(
            absent_members(&s, 9, &recent).members,
            [false, false, true, false]
        );
        // A header of the window signed by another set: its proposer index is not this set's.
        for k in [0, 7] {
            let mut recent = headers(&s, 12, 1_000, &builders);
            recent[k].validators_hash = set(3).hash();
            assert_eq!(
                absent_members(&s, 20, &recent).members,
                [false; 4],
                "header {k}"
            );
        }
        // Headers that are not the heights just before.
        let recent = headers(&s, 11, 1_000, &builders);
        assert_eq!(absent_members(&s, 20, &recent).members, [false; 4]);
        // One validator: nothing to rotate.
        let one = set(1);
        let recent = headers(&one, 1, 1_000, &[0, 0]);
        assert_eq!(absent_members(&one, 3, &recent).members, [false]);
    }

    #[test]
    fn a_proposer_index_outside_the_set_marks_nobody_present() {
        // The ledger refuses such a header (its builder must be in the set), but the rule
        // does not lean on that.
        let s = set(4);
        let recent = headers(&s, 12, 1_000, &[0, 9, 9, 9, 9, 9, 9, 9]);
        assert_eq!(
            absent_members(&s, 20, &recent).members,
            [false, true, true, true]
        );
        let recent = headers(&s, 12, 1_000, &[9; 8]);
        assert_eq!(absent_members(&s, 20, &recent).members, [true; 4]);
        // All absent: the plain rotation again.
        assert_eq!(proposer_index(4, &[true; 4], 20, 1), 1);
    }
}
