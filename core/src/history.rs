//! A credential's history: every status change the ledger applied to it, folded into one
//! running digest kept in its state record, so a full history fetched from any node is checked
//! against a proven record and cannot be shortened, reordered or altered (spec/state.md §5.1).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::encoding::encode;
use crate::hash::{Digest, Domain};
use crate::ids::{Height, Timestamp};
use crate::state::{CredentialRecord, CredentialStatus};

/// Most events a node serves or a client accepts for one credential. A credential changes
/// status a handful of times in its life; an issuer that toggles one this often is refused
/// a readable history rather than given an unbounded answer.
pub const MAX_HISTORY_EVENTS: usize = 4_096;

/// One change in a credential's life, as the block that made it applied it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CredentialEvent {
    /// Height of that block.
    pub height: Height,
    /// That block's time.
    pub time: Timestamp,
    /// The status the change left: `Active` for the publication (always the first event) and
    /// for a reinstatement.
    pub status: CredentialStatus,
}

impl CredentialEvent {
    /// The history digest after this event, given the digest before it
    /// (`H_credential-history(previous ‖ encode(event))`; all zero before the publication).
    pub fn chain(&self, previous: &Digest) -> Digest {
        Domain::CredentialHistory.hash(&[&previous.0, &encode(self)])
    }
}

/// Why a history does not match the proven record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// No events at all: every credential has at least its publication.
    #[error("the history is empty, but every credential has at least its publication")]
    Empty,
    /// More events than [`MAX_HISTORY_EVENTS`].
    #[error("the history has {count} events, more than the {max} accepted")]
    TooLong {
        /// Events given.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// The events do not fold to the record's digest: some were left out, added, reordered or
    /// altered.
    #[error(
        "the {count} events fold to history digest {got}, but the proven record holds {expected}: \
         events are missing, extra or altered"
    )]
    Mismatch {
        /// Events given.
        count: usize,
        /// Their digest.
        got: Digest,
        /// The record's.
        expected: Digest,
    },
}

/// The events of one credential, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialHistory {
    /// The events.
    pub events: Vec<CredentialEvent>,
}

impl CredentialHistory {
    /// The digest the events fold to.
    pub fn digest(&self) -> Digest {
        self.events
            .iter()
            .fold(Digest::ZERO, |previous, e| e.chain(&previous))
    }

    /// Checks that these are exactly the events behind `record`, a record the caller proved
    /// under a verified state root (spec/state.md §5.1).
    pub fn check(&self, record: &CredentialRecord) -> Result<(), HistoryError> {
        if self.events.is_empty() {
            return Err(HistoryError::Empty);
        }
        if self.events.len() > MAX_HISTORY_EVENTS {
            return Err(HistoryError::TooLong {
                count: self.events.len(),
                max: MAX_HISTORY_EVENTS,
            });
        }
        let got = self.digest();
        if got != record.history {
            return Err(HistoryError::Mismatch {
                count: self.events.len(),
                got,
                expected: record.history,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ReasonCode;

    fn event(height: u64, status: CredentialStatus) -> CredentialEvent {
        CredentialEvent {
            height: Height(height),
            time: Timestamp(height * 1_000),
            status,
        }
    }

    fn lived() -> (CredentialRecord, CredentialHistory) {
        let suspended = CredentialStatus::Suspended {
            reason: ReasonCode::Order,
        };
        let mut record = CredentialRecord::published(Digest([7; 32]), Height(3), Timestamp(3_000));
        let mut history = CredentialHistory {
            events: vec![event(3, CredentialStatus::Active)],
        };
        for e in [event(5, suspended), event(9, CredentialStatus::Active)] {
            record.record(&e);
            history.events.push(e);
        }
        (record, history)
    }

    #[test]
    fn the_events_that_built_a_record_check_against_it() {
        let (record, history) = lived();
        assert_eq!(history.check(&record), Ok(()));
        assert_eq!(record.changed_at, Timestamp(9_000));
        assert_eq!(record.status, CredentialStatus::Active);
    }

    #[test]
    fn a_dropped_reordered_or_altered_event_is_refused() {
        let (record, history) = lived();
        let mut dropped = history.clone();
        dropped.events.remove(1);
        let mut swapped = history.clone();
        swapped.events.swap(1, 2);
        let mut altered = history.clone();
        altered.events[1].status = CredentialStatus::Suspended {
            reason: ReasonCode::Disciplinary,
        };
        let mut shifted = history.clone();
        shifted.events[2].height = Height(10);
        for bad in [dropped, swapped, altered, shifted] {
            assert!(matches!(
                bad.check(&record),
                Err(HistoryError::Mismatch { expected, .. }) if expected == record.history
            ));
        }
        assert_eq!(
            CredentialHistory::default().check(&record),
            Err(HistoryError::Empty)
        );
    }

    #[test]
    fn an_overlong_history_is_refused_before_hashing() {
        let (record, _) = lived();
        let long = CredentialHistory {
            events: vec![event(1, CredentialStatus::Active); MAX_HISTORY_EVENTS + 1],
        };
        assert!(matches!(
            long.check(&record),
            Err(HistoryError::TooLong { count, .. }) if count == MAX_HISTORY_EVENTS + 1
        ));
    }
}
