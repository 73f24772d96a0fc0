//! Who proposes first at a height: round-robin, except that a validator that built none of the
//! last `n` blocks goes last until it is due a retry (spec/blocks.md §7.1, ADR 004).
//!
//! A stopped validator would otherwise cost the chain a propose timeout at every height it is
//! due to propose, a quarter of all heights with four validators. The rule reads only
//! committed headers, so every validator computes the same order for a height.

use credledger_core::block::{Header, ValidatorSet as CoreSet};

/// An absent validator is put back first at its turn once per this much block time, so a
/// validator that comes back proposes again within about this long, and one that stays away
/// costs one propose timeout per this long (spec/blocks.md §7.1).
pub const RETRY_MS: u64 = 60_000;

/// Which members of `set` (in set order) are absent at height `h`: they go last in its
/// proposer order.
///
/// `recent` holds the committed headers of heights `h-1-n ..= h-1` in order, `n` being the
/// set's size. With fewer (the chain's first heights), or if the set changed in that window,
/// nobody is absent.
pub fn absent_members(set: &CoreSet, h: u64, recent: &[Header]) -> Vec<bool> {
    let n = set.validators().len();
    let nobody = vec![false; n];
    if n < 2 || recent.len() != n + 1 {
        return nobody;
    }
    let first = h.checked_sub(n as u64 + 1);
    let in_order = recent
        .iter()
        .enumerate()
        .all(|(k, hd)| first.is_some_and(|f| hd.height.0 == f + k as u64));
    // spec/blocks.md §7.1: the proposer indices of the window count only if they index the
    // same set as this height's.
    let hash = set.hash();
    let window = &recent[1..];
    if !in_order || window.iter().any(|hd| hd.validators_hash != hash) {
        return nobody;
    }
    let mut absent = vec![true; n];
    for hd in window {
        if let Some(built) = absent.get_mut(usize::from(hd.proposer)) {
            *built = false;
        }
    }
    // The validator whose turn it is gets it back once per `RETRY_MS` of block time: when a
    // multiple of it passed since its last turn (its turns' spans tile the timeline, so each
    // multiple gives exactly one retry).
    let turn = (h % n as u64) as usize;
    let (then, now) = (recent[0].time.0 / RETRY_MS, recent[n].time.0 / RETRY_MS);
    if then != now {
        absent[turn] = false;
    }
    absent
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
    fn a_validator_that_built_none_of_the_last_n_blocks_is_absent() {
        let s = set(4);
        // Heights 15..=19 (h = 20, n = 4): the window 16..=19 was built by 0, 1, 3, 0.
        let recent = headers(&s, 15, 1_000, &[3, 0, 1, 3, 0]);
        assert_eq!(absent_members(&s, 20, &recent), [false, false, true, false]);
        // Its turn (20 mod 4 = 0 is validator 0's; take h = 22 for validator 2's) passes it by.
        let recent = headers(&s, 17, 1_000, &[0, 1, 3, 0, 1]);
        let absent = absent_members(&s, 22, &recent);
        assert_eq!(absent, [false, false, true, false]);
        assert_eq!(proposer_index(4, &absent, 22, 0), 3);
    }

    #[test]
    fn an_absent_validator_is_retried_once_a_multiple_of_the_retry_time_passes() {
        let s = set(4);
        // Block times 59,000 .. 63,000 ms: 60,000 passed between h-1-n and h-1.
        let recent = headers(&s, 17, 59_000, &[0, 1, 3, 0, 1]);
        let absent = absent_members(&s, 22, &recent);
        assert_eq!(absent, [false, false, false, false], "validator 2's turn");
        assert_eq!(proposer_index(4, &absent, 22, 0), 2);
        // The same window at another validator's turn retries nobody else.
        let recent = headers(&s, 16, 59_000, &[3, 0, 1, 3, 0]);
        assert_eq!(absent_members(&s, 21, &recent), [false, false, true, false]);
    }

    #[test]
    fn early_heights_a_changed_set_or_a_gap_make_nobody_absent() {
        let s = set(4);
        // Too few headers: the chain's first heights.
        let recent = headers(&s, 1, 1_000, &[1, 2, 3]);
        assert_eq!(absent_members(&s, 4, &recent), [false; 4]);
        // A window header signed by another set: its proposer index is not this set's.
        let mut recent = headers(&s, 15, 1_000, &[3, 0, 1, 3, 0]);
        recent[2].validators_hash = set(3).hash();
        assert_eq!(absent_members(&s, 20, &recent), [false; 4]);
        // Headers that are not the heights just before.
        let recent = headers(&s, 14, 1_000, &[3, 0, 1, 3, 0]);
        assert_eq!(absent_members(&s, 20, &recent), [false; 4]);
        // One validator: nothing to rotate.
        let one = set(1);
        let recent = headers(&one, 1, 1_000, &[0, 0]);
        assert_eq!(absent_members(&one, 3, &recent), [false]);
    }

    #[test]
    fn a_proposer_index_outside_the_set_marks_nobody_present() {
        let s = set(4);
        let recent = headers(&s, 15, 1_000, &[0, 9, 9, 9, 9]);
        assert_eq!(absent_members(&s, 20, &recent), [true, true, true, true]);
        // All absent: the plain rotation again.
        assert_eq!(proposer_index(4, &[true; 4], 20, 1), 1);
    }
}
