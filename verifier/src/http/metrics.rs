//! Counters for `/metrics` (Prometheus text). Only counts and the ledger position: nothing
//! about who or what was checked.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::checker::now_ms;
use crate::report::State;
use crate::signature_queue::SignatureQueue;
use crate::trust::Trust;

/// The verifier's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    outcomes: [AtomicU64; 6],
    /// Requests refused by the per-address rate limit.
    pub rate_limited: AtomicU64,
    /// Requests refused because too many were in progress.
    pub overloaded: AtomicU64,
    /// Connections accepted and served.
    pub connections_opened: AtomicU64,
    /// Connections closed at once: their address, or the service, had as many open as allowed.
    pub connections_refused: AtomicU64,
    /// Images in which no presentation could be read.
    pub unreadable_images: AtomicU64,
}

impl Metrics {
    /// Counts one answer.
    pub fn count(&self, s: State) {
        let i = State::ALL.iter().position(|x| *x == s).unwrap_or(0);
        self.outcomes[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text.
    pub fn render(&self, trust: &Trust, signatures: &SignatureQueue) -> String {
        let (height, time) = trust.tip();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP credledger_verifier_verifications_total Answers given, by state.\n\
             # TYPE credledger_verifier_verifications_total counter"
        );
        for (i, s) in State::ALL.iter().enumerate() {
            let _ = writeln!(
                out,
                "credledger_verifier_verifications_total{{outcome=\"{}\"}} {}",
                s.as_str(),
                self.outcomes[i].load(Ordering::Relaxed)
            );
        }
        let counters = [
            (
                "rate_limited_total",
                "Requests answered 429.",
                &self.rate_limited,
            ),
            (
                "overloaded_total",
                "Requests answered 503 (busy).",
                &self.overloaded,
            ),
            (
                "connections_total",
                "Connections accepted and served.",
                &self.connections_opened,
            ),
            (
                "connections_refused_total",
                "Connections closed at once: too many open from their address, or in all.",
                &self.connections_refused,
            ),
            (
                "unreadable_images_total",
                "Images without a readable QR code.",
                &self.unreadable_images,
            ),
        ];
        let batched = [
            (
                "signature_batches_total",
                "Batches in which single scans' issuer signatures were checked (a lone scan is a batch of one).",
                signatures.batches(),
            ),
            (
                "batched_signatures_total",
                "Issuer signatures checked in those batches.",
                signatures.signatures(),
            ),
        ];
        let counters = counters
            .into_iter()
            .map(|(name, help, v)| (name, help, v.load(Ordering::Relaxed)))
            .chain(batched);
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP credledger_verifier_{name} {help}\n# TYPE credledger_verifier_{name} counter\n\
                 credledger_verifier_{name} {v}"
            );
        }
        let age = now_ms().since(time);
        let _ = writeln!(
            out,
            "# HELP credledger_verifier_verified_height Height of the last header the light client verified.\n\
             # TYPE credledger_verifier_verified_height gauge\ncredledger_verifier_verified_height {}\n\
             # HELP credledger_verifier_header_age_ms Age of that header.\n\
             # TYPE credledger_verifier_header_age_ms gauge\ncredledger_verifier_header_age_ms {age}\n\
             # HELP credledger_verifier_fork_alarm 1 once conflicting commits were seen.\n\
             # TYPE credledger_verifier_fork_alarm gauge\ncredledger_verifier_fork_alarm {}",
            height.0,
            u8::from(trust.alarm().is_some())
        );
        out
    }
}
