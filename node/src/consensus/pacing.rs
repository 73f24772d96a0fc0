//! When this node, as proposer, builds its block: at once if transactions are ready, else when
//! one arrives or when the block interval since the height started has passed; and while the
//! chain is busy, not before the busy interval since the height started.
//!
//! Every block costs the validators a fixed amount of work whatever it holds (proposal and
//! votes over gossip, their signatures, a synced write): about 25 ms of CPU across four
//! validators sharing two cores (BENCHMARKS.md, session 18). A chain that proposes the moment
//! anything is ready makes many small blocks under load and spends that fixed cost instead of
//! committing transactions; holding a busy proposer's block a little makes fewer, larger ones
//! (session 19). A lightly loaded chain does not reach the busy threshold and keeps its
//! latency.
//!
//! Only the proposer paces. Every validator moves to the next height as soon as one is
//! decided, so a validator whose own mempool happens to be empty never holds back the others,
//! and a transaction that reaches an idle proposer is proposed at once instead of at the end
//! of the interval.

use std::time::Duration;

use arc_malachitebft_app_channel::app::types::LocallyProposedValue;
use arc_malachitebft_app_channel::app::types::core::{LinearTimeouts, Round};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::context::{Ctx, Height};

/// Timing of heights: the engine's timeouts and the least time between blocks.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// Propose, prevote and precommit timeouts.
    pub timeouts: LinearTimeouts,
    /// While no transaction is ready, the proposer of round 0 holds back its block until
    /// this much time since the height started (none: it never waits), so an idle chain makes
    /// one block per interval rather than as many as it can. A transaction that becomes ready
    /// ends the wait.
    pub block_interval: Option<Duration>,
    /// While at least [`Self::busy_txs`] transactions wait in the proposer's mempool, the
    /// proposer of round 0 holds back its block until this much time since the height started
    /// (none: it builds at once). Arrivals do not end this wait.
    pub busy_interval: Option<Duration>,
    /// Transactions waiting in the proposer's mempool from which the chain counts as busy.
    pub busy_txs: usize,
}

impl Pacing {
    /// The pacing of a chain whose proposal waits `propose` and whose votes wait `vote` in round
    /// 0, each half as long again in every later round; `block_interval`, `busy_interval` and
    /// `busy_txs` as their fields say.
    pub fn new(
        propose: Duration,
        vote: Duration,
        block_interval: Option<Duration>,
        busy_interval: Option<Duration>,
        busy_txs: usize,
    ) -> Pacing {
        Pacing {
            timeouts: LinearTimeouts {
                propose,
                propose_delta: propose / 2,
                prevote: vote,
                prevote_delta: vote / 2,
                precommit: vote,
                precommit_delta: vote / 2,
                rebroadcast: propose + vote * 2,
                ..LinearTimeouts::default()
            },
            block_interval,
            busy_interval,
            busy_txs,
        }
    }
}

/// Why the proposer holds back its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Nothing is ready: a transaction that becomes ready ends the wait, however many arrive
    /// at once (making such a burst wait out the busy interval kept the chain busy longer
    /// after a saturated step: BENCHMARKS.md, session 19).
    Idle,
    /// The chain is busy: the block waits to the end of the busy interval to grow.
    Busy,
}

/// The engine's request for this node's proposal, held back while nothing is ready.
pub struct HeldProposal {
    /// The height asked for.
    pub height: Height,
    /// The round asked for.
    pub round: Round,
    /// When the block is built whatever the mempool holds.
    pub until: Instant,
    /// The round's propose timeout, which sizes the block.
    pub timeout: Duration,
    /// Where the value goes.
    pub reply: oneshot::Sender<LocallyProposedValue<Ctx>>,
    /// Why it is held.
    pub hold: Hold,
}

/// How long round 0 of a height waits for a retried validator's proposal, and for precommits
/// after its votes, at most (spec/blocks.md §7.1): it likely stays away, and a live one has
/// time to build, send and have checked a block sized to a fifth of it (`App::own_value`).
pub const RETRY_TIMEOUT: Duration = Duration::from_millis(500);

impl Pacing {
    /// The timeouts of a height whose first proposer is a retried validator (rotation.rs):
    /// round 0's propose and precommit timeouts at most [`RETRY_TIMEOUT`], so a retry that
    /// finds the validator still away costs about a second, not the full timeouts; later
    /// rounds wait as long as at any other height.
    pub fn retry_timeouts(&self) -> LinearTimeouts {
        let t = self.timeouts;
        let propose = t.propose.min(RETRY_TIMEOUT);
        let precommit = t.precommit.min(RETRY_TIMEOUT);
        LinearTimeouts {
            propose,
            propose_delta: (t.propose + t.propose_delta).saturating_sub(propose),
            precommit,
            precommit_delta: (t.precommit + t.precommit_delta).saturating_sub(precommit),
            ..t
        }
    }

    /// Until when and why the proposer of `round` holds back its block, asked at `now` for a
    /// height that started at `started`, with `timeout` to answer, while `waiting`
    /// transactions are in its mempool and some are `ready` for the block; `None`: build it
    /// now.
    pub fn hold_until(
        &self,
        round: Round,
        ready: bool,
        waiting: usize,
        started: Instant,
        now: Instant,
        timeout: Duration,
    ) -> Option<(Instant, Hold)> {
        // A later round means round 0 failed: the chain is not idle, it is late.
        if round != Round::new(0) {
            return None;
        }
        let (interval, hold) = match (ready, waiting >= self.busy_txs) {
            (false, _) => (self.block_interval?, Hold::Idle),
            (true, true) => (self.busy_interval?, Hold::Busy),
            (true, false) => return None,
        };
        // The engine gives up on its request after `timeout`; answer well before that, so a
        // short propose timeout can never turn a held height into a failed round.
        let end = (started + interval).min(now + timeout / 2);
        (end > now).then_some((end, hold))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacing(interval_ms: Option<u64>) -> Pacing {
        Pacing {
            timeouts: LinearTimeouts::default(),
            block_interval: interval_ms.map(Duration::from_millis),
            busy_interval: Some(Duration::from_millis(50)),
            busy_txs: 100,
        }
    }

    /// What `p` answers in `round`, asked `at_ms` after the height started with
    /// `timeout_ms` to answer: the end of the hold in ms after the start, and why.
    fn ask(
        p: &Pacing,
        round: u32,
        ready: bool,
        waiting: usize,
        at_ms: u64,
        timeout_ms: u64,
    ) -> Option<(u64, Hold)> {
        let started = Instant::now();
        let now = started + Duration::from_millis(at_ms);
        let timeout = Duration::from_millis(timeout_ms);
        p.hold_until(Round::new(round), ready, waiting, started, now, timeout)
            .map(|(end, hold)| ((end - started).as_millis() as u64, hold))
    }

    const TIMEOUT: u64 = 2_000;

    #[test]
    fn a_retry_height_waits_less_in_its_first_round_only() {
        use arc_malachitebft_app_channel::app::types::core::{Timeout, TimeoutKind};
        let p = Pacing {
            timeouts: LinearTimeouts {
                propose: Duration::from_millis(2_000),
                propose_delta: Duration::from_millis(1_000),
                precommit: Duration::from_millis(1_000),
                precommit_delta: Duration::from_millis(500),
                ..LinearTimeouts::default()
            },
            ..pacing(None)
        };
        let r = p.retry_timeouts();
        let at = |t: &LinearTimeouts, kind, round| {
            t.duration_for(Timeout::new(Round::new(round), kind))
                .as_millis()
        };
        assert_eq!(at(&r, TimeoutKind::Propose, 0), 500);
        assert_eq!(at(&r, TimeoutKind::Precommit, 0), 500);
        for round in [1, 2] {
            for kind in [
                TimeoutKind::Propose,
                TimeoutKind::Precommit,
                TimeoutKind::Prevote,
            ] {
                assert!(
                    at(&r, kind, round) >= at(&p.timeouts, kind, round),
                    "{kind:?} in round {round}"
                );
            }
        }
        assert_eq!(at(&r, TimeoutKind::Propose, 1), 3_000);
        assert_eq!(at(&r, TimeoutKind::Precommit, 1), 1_500);
        // Timeouts already shorter stay as they are.
        let short = Pacing {
            timeouts: LinearTimeouts {
                propose: Duration::from_millis(100),
                precommit: Duration::from_millis(100),
                ..LinearTimeouts::default()
            },
            ..pacing(None)
        };
        assert_eq!(at(&short.retry_timeouts(), TimeoutKind::Propose, 0), 100);
    }

    #[test]
    fn an_idle_proposer_holds_its_block_to_the_end_of_the_interval() {
        let p = pacing(Some(100));
        assert_eq!(ask(&p, 0, false, 0, 30, TIMEOUT), Some((100, Hold::Idle)));
    }

    #[test]
    fn a_proposer_with_a_ready_transaction_or_no_interval_or_a_late_round_builds_at_once() {
        let p = pacing(Some(100));
        assert_eq!(ask(&p, 0, true, 99, 30, TIMEOUT), None);
        assert_eq!(ask(&p, 1, false, 0, 30, TIMEOUT), None);
        assert_eq!(ask(&pacing(None), 0, false, 0, 30, TIMEOUT), None);
    }

    #[test]
    fn the_interval_already_passed_or_a_short_timeout_bounds_the_wait() {
        let p = pacing(Some(100));
        assert_eq!(ask(&p, 0, false, 0, 150, TIMEOUT), None);
        assert_eq!(ask(&p, 0, false, 0, 10, 60), Some((40, Hold::Idle)));
    }

    #[test]
    fn a_busy_proposer_holds_its_block_to_the_end_of_the_busy_interval_only_in_round_0() {
        let p = pacing(Some(100));
        assert_eq!(ask(&p, 0, true, 100, 20, TIMEOUT), Some((50, Hold::Busy)));
        assert_eq!(ask(&p, 0, true, 5_000, 20, TIMEOUT), Some((50, Hold::Busy)));
        // Below the threshold, in a later round, past the interval or with no busy interval,
        // it builds at once.
        assert_eq!(ask(&p, 0, true, 99, 20, TIMEOUT), None);
        assert_eq!(ask(&p, 1, true, 500, 20, TIMEOUT), None);
        assert_eq!(ask(&p, 0, true, 500, 60, TIMEOUT), None);
        let never = Pacing {
            busy_interval: None,
            ..p
        };
        assert_eq!(ask(&never, 0, true, 500, 20, TIMEOUT), None);
        // A short propose timeout bounds this wait too.
        assert_eq!(ask(&p, 0, true, 500, 20, 40), Some((40, Hold::Busy)));
    }
}
