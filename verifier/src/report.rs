//! The verifier's answer to one presentation: the one big state a person sees, every check, the
//! disclosed claims and what the ledger was checked against (spec/verifier.md §4).

use credledger_core::ids::{Height, Timestamp};
use credledger_core::verify::{Check, Description, Outcome, Rejection, StatusFinding};
use serde::Serialize;

/// The state shown big on the result screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Genuine, active, fresh status.
    Valid,
    /// Forged, altered, or not from a registered issuer.
    NotGenuine,
    /// Revoked.
    Revoked,
    /// Suspended.
    Suspended,
    /// Outside its validity window.
    Expired,
    /// The status cannot be established now.
    CannotCheck,
}

impl State {
    /// Every state, for metrics.
    pub const ALL: [State; 6] = [
        State::Valid,
        State::NotGenuine,
        State::Revoked,
        State::Suspended,
        State::Expired,
        State::CannotCheck,
    ];

    /// The name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Valid => "VALID",
            State::NotGenuine => "NOT_GENUINE",
            State::Revoked => "REVOKED",
            State::Suspended => "SUSPENDED",
            State::Expired => "EXPIRED",
            State::CannotCheck => "CANNOT_CHECK",
        }
    }
}

impl From<Outcome> for State {
    fn from(o: Outcome) -> State {
        match o {
            Outcome::NotGenuine => State::NotGenuine,
            Outcome::Revoked => State::Revoked,
            Outcome::Suspended => State::Suspended,
            Outcome::Expired => State::Expired,
            Outcome::CannotCheck => State::CannotCheck,
        }
    }
}

/// One check and whether it passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The check (spec/verification.md §2).
    pub check: Check,
    /// Whether it passed.
    pub passed: bool,
}

/// Where the verifier's light client stood when it answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerView {
    /// Height of the last verified header.
    pub height: Height,
    /// Its time.
    pub time: Timestamp,
    /// Whether the fork alarm is raised.
    pub fork_alarm: bool,
}

/// The answer.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The big state.
    pub outcome: State,
    /// Whether the status came live from the ledger (false: a full presentation's own evidence,
    /// "status as of" its time, because the ledger could not be reached).
    pub live: bool,
    /// When the check ran (the verifier's clock, ms since 1970).
    pub checked_at: Timestamp,
    /// The checks that ran, in order; on a refusal the last one failed.
    pub checks: Vec<CheckResult>,
    /// The check that failed, if any.
    pub failed_check: Option<Check>,
    /// Why, in words, if refused.
    pub reason: Option<String>,
    /// The refusal with its values, if refused by `verify`.
    pub rejection: Option<Rejection>,
    /// The status finding of an accepted presentation.
    pub status: Option<StatusFinding>,
    /// Issuer, kind and disclosed claims; absent when NOT GENUINE (nothing forged is shown).
    pub credential: Option<Description>,
    /// The light client's position.
    pub ledger: LedgerView,
    /// The presentation text that was checked (after decoding a QR image).
    pub presentation: Option<String>,
}
