//! A stopped validator costs the chain a propose timeout at its turns only until the others
//! see that it built none of the last `2n` blocks; then it proposes last, is retried once a
//! minute in a short round, and once back gets its turn again at a retry (spec/blocks.md §7.1,
//! ADR 004).

use std::time::Duration;

use credledger_tests::net::Net;

const LONG: Duration = Duration::from_secs(60);

/// The test validators wait 2 s for a proposal (the default) and make a block per 100 ms when
/// idle: a gap this long between blocks is a round that timed out waiting for its proposer.
const TIMED_OUT_MS: u64 = 1_500;

/// A retry whose proposer is still away waits 500 ms for its proposal and 500 ms for
/// precommits: a gap at least this long is a retry (or, rarely, a slow moment of the machine).
const RETRY_MS: u64 = 700;

/// The full timeouts of round 0 are 2 s for the proposal and 1 s for precommits (3 s); a
/// retry must stay well under their sum.
const RETRY_LIMIT_MS: u64 = 2_500;

fn gap_ms(net: &Net, i: usize, h: u64) -> u64 {
    net.block_time(i, h).unwrap() - net.block_time(i, h - 1).unwrap()
}

#[test]
fn a_stopped_validator_is_passed_over_at_its_turns_and_proposes_again_once_back() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 3, LONG), "{}", net.log(0));
    // A header's `proposer` is an index in the set, which is sorted by public key.
    let mut keys: Vec<&str> = net.nodes.iter().map(|n| n.public_key.as_str()).collect();
    keys.sort_unstable();
    let index_of_3 = keys
        .iter()
        .position(|k| *k == net.nodes[3].public_key)
        .unwrap() as u64;

    net.kill(3);
    let killed_at = net.height(0).unwrap();
    // Its next two turns time out; by then the others have seen it build none of the last
    // eight blocks (the last it built is at most one past `killed_at`).
    assert!(net.wait_height(0, killed_at + 12, LONG), "{}", net.log(0));
    let from = net.height(0).unwrap();
    assert!(net.wait_height(0, from + 32, LONG), "{}", net.log(0));
    let slow: Vec<(u64, u64)> = (from + 1..=from + 32)
        .map(|h| (h, gap_ms(&net, 0, h)))
        .filter(|&(_, gap)| gap >= TIMED_OUT_MS)
        .collect();
    // 32 heights hold 8 of its turns, none of which may wait for the full timeouts; a retry
    // (once per 60 s of block time) costs about 1 s, under the threshold. One slow height is
    // allowed for a stall of the shared machine.
    assert!(
        slow.len() <= 1,
        "heights whose round timed out (height, ms after the block before): {slow:?}\n{}",
        net.log(0)
    );
    assert!(
        net.wait(LONG, || net.metric(0, "credledger_absent_validators")
            == Some(1.0)),
        "the stopped validator is counted absent"
    );

    // Once per minute of block time it is retried at its turn, and a retry whose proposer is
    // still away costs its short round (500 ms for the proposal, 500 ms for precommits), not
    // the full timeouts (2 s + 1 s). Over more than a minute of block time: a retry's gap is
    // seen, and no gap comes near a full timeout.
    let since = net.block_time(0, from).unwrap();
    let minute_passed = net.wait(Duration::from_secs(150), || {
        net.height(0)
            .and_then(|h| net.block_time(0, h))
            .is_some_and(|t| t >= since + 61_000)
    });
    assert!(
        minute_passed,
        "block time did not pass a minute:\n{}",
        net.log(0)
    );
    let tip = net.height(0).unwrap();
    let times: Vec<u64> = (from..=tip)
        .map(|h| net.block_time(0, h).unwrap())
        .collect();
    let gaps: Vec<(u64, u64)> = times
        .windows(2)
        .zip(from + 1..)
        .map(|(t, h)| (h, t[1] - t[0]))
        .filter(|&(_, gap)| gap >= RETRY_MS)
        .collect();
    // A retry falls at its turn, a height whose plain rotation gives it round 0; a slow
    // moment of the machine elsewhere does not count.
    assert!(
        gaps.iter().any(|&(h, _)| h % 4 == index_of_3),
        "no retry at its turns in heights {from}..={tip} (a minute of block time); \
         gaps of {RETRY_MS} ms or more: {gaps:?}\n{}",
        net.log(0)
    );
    assert!(
        gaps.iter().all(|&(_, gap)| gap < RETRY_LIMIT_MS),
        "a height waited about a full timeout (height, ms after the block before): {gaps:?}"
    );

    // Back, it catches up and, at its next retry (within 60 s of block time), proposes again.
    net.start_node(3);
    let back_at = net.height(0).unwrap();
    let mut seen = back_at;
    let proposed = net.wait(Duration::from_secs(150), || {
        let tip = net.height(0).unwrap_or(seen);
        let found = (seen + 1..=tip).any(|h| {
            net.header(0, h)
                .is_some_and(|hd| hd["proposer"] == index_of_3)
        });
        seen = tip;
        found
    });
    assert!(
        proposed,
        "no block built by the restarted validator in heights {back_at}..={seen}:\n{}",
        net.log(3)
    );
    assert!(
        net.wait(LONG, || net.metric(0, "credledger_absent_validators")
            == Some(0.0)),
        "nobody is absent once it proposes again"
    );
}
