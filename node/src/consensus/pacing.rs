//! When this node, as proposer, builds its block: at once if transactions are ready, else when
//! one arrives or when the block interval since the height started has passed.
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
}

/// The engine's request for this node's proposal, held back while nothing is ready.
pub struct HeldProposal {
    /// The height asked for.
    pub height: Height,
    /// The round asked for.
    pub round: Round,
    /// When the block is built whatever the mempool holds.
    pub until: Instant,
    /// Where the value goes.
    pub reply: oneshot::Sender<LocallyProposedValue<Ctx>>,
}

impl Pacing {
    /// Until when the proposer of `round` holds back its block, asked at `now` for a height
    /// that started at `started`, with `timeout` to answer; `None`: build it now.
    pub fn hold_until(
        &self,
        round: Round,
        ready: bool,
        started: Instant,
        now: Instant,
        timeout: Duration,
    ) -> Option<Instant> {
        // A later round means round 0 failed: the chain is not idle, it is late.
        if ready || round != Round::new(0) {
            return None;
        }
        let end = started + self.block_interval?;
        // The engine gives up on its request after `timeout`; answer well before that, so a
        // short propose timeout can never turn an idle height into a failed round.
        let end = end.min(now + timeout / 2);
        (end > now).then_some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacing(interval_ms: Option<u64>) -> Pacing {
        Pacing {
            timeouts: LinearTimeouts::default(),
            block_interval: interval_ms.map(Duration::from_millis),
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(2);

    #[test]
    fn an_idle_proposer_holds_its_block_to_the_end_of_the_interval() {
        let started = Instant::now();
        let now = started + Duration::from_millis(30);
        assert_eq!(
            pacing(Some(100)).hold_until(Round::new(0), false, started, now, TIMEOUT),
            Some(started + Duration::from_millis(100))
        );
    }

    #[test]
    fn a_proposer_with_a_ready_transaction_or_no_interval_or_a_late_round_builds_at_once() {
        let started = Instant::now();
        let now = started + Duration::from_millis(30);
        let p = pacing(Some(100));
        assert_eq!(
            p.hold_until(Round::new(0), true, started, now, TIMEOUT),
            None
        );
        assert_eq!(
            p.hold_until(Round::new(1), false, started, now, TIMEOUT),
            None
        );
        assert_eq!(
            pacing(None).hold_until(Round::new(0), false, started, now, TIMEOUT),
            None
        );
    }

    #[test]
    fn the_interval_already_passed_or_a_short_timeout_bounds_the_wait() {
        let started = Instant::now();
        let late = started + Duration::from_millis(150);
        let p = pacing(Some(100));
        assert_eq!(
            p.hold_until(Round::new(0), false, started, late, TIMEOUT),
            None
        );
        let now = started + Duration::from_millis(10);
        assert_eq!(
            p.hold_until(
                Round::new(0),
                false,
                started,
                now,
                Duration::from_millis(60)
            ),
            Some(now + Duration::from_millis(30))
        );
    }
}
