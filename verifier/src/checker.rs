//! One presentation in, one [`Report`] out: decode, ask the ledger for live status, and run
//! core's `verify` against the light client's trust (spec/verifier.md §3).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use credledger_core::ids::Timestamp;
use credledger_core::presentation::{CompactPresentation, Presentation, StatusEvidence};
use credledger_core::verify::{
    Check, Outcome, Policy, Rejection, SignatureBatch, SignatureItems, Verdict, describe,
    describe_claims, verify_absence_with, verify_parts_traced, verify_parts_with,
};
use futures_util::StreamExt;

use crate::ledger::{Fetched, Fresh, LedgerClient};
use crate::registry::{Lookup, RegistryLearner};
use crate::report::{CheckResult, LedgerView, Report, State};
use crate::signature_queue::SignatureQueue;
use crate::trust::Trust;

/// The verifier's core: trust, the ledger client and the freshness bound.
#[derive(Debug)]
pub struct Checker {
    trust: Arc<Trust>,
    ledger: Arc<LedgerClient>,
    /// Status older than this (ms) is not believed (except revocation).
    freshness_ms: u64,
    /// Looks up issuers, keys and kinds added after genesis.
    learner: RegistryLearner,
    /// Checks the issuer signatures of concurrent scans together.
    signatures: SignatureQueue,
}

/// The clock, in ms since 1970.
pub fn now_ms() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    )
}

impl Checker {
    /// A checker over `trust` and `ledger`.
    pub fn new(trust: Arc<Trust>, ledger: LedgerClient, freshness_ms: u64) -> Self {
        Checker {
            trust,
            ledger: Arc::new(ledger),
            freshness_ms,
            learner: RegistryLearner::default(),
            signatures: SignatureQueue::default(),
        }
    }

    /// The queue that checks concurrent scans' signatures together.
    pub fn signatures(&self) -> &SignatureQueue {
        &self.signatures
    }

    /// The ledger client.
    pub fn ledger(&self) -> &Arc<LedgerClient> {
        &self.ledger
    }

    /// The trust.
    pub fn trust(&self) -> &Arc<Trust> {
        &self.trust
    }

    /// The freshness bound in ms.
    pub fn freshness_ms(&self) -> u64 {
        self.freshness_ms
    }

    /// Checks a presentation's text at the current time.
    pub async fn check_text(&self, text: &str) -> Report {
        self.check_text_at(text, None).await
    }

    /// Checks a presentation's text at `now` (the clock if `None`). Its issuer signature is
    /// checked together with those of the scans in progress at the same moment
    /// ([`SignatureQueue`]); the verdict is the same as alone.
    pub async fn check_text_at(&self, text: &str, now: Option<Timestamp>) -> Report {
        let text = text.trim();
        let decoded = Presentation::from_text(text);
        // Gathered under the trust lock, checked after it is released (as in `check_texts`).
        let items = match &decoded {
            Ok(p) => self
                .trust
                .read(|s| SignatureBatch::items([p.compact()], &s.anchor)),
            Err(_) => SignatureItems::default(),
        };
        let checked = self.signatures.check(items).await;
        self.check_decoded(text, decoded, now, &checked).await
    }

    /// Checks many presentations' texts at the current time, each exactly as [`check_text`]
    /// would, in order. Their issuer signatures are first checked together in ZIP-215 batches,
    /// which accept exactly what single checks accept (spec/verifier.md §4.1); up to `at_once`
    /// of them wait for the ledger at a time.
    ///
    /// [`check_text`]: Checker::check_text
    pub async fn check_texts(&self, texts: &[String], at_once: usize) -> Vec<Report> {
        let decoded: Vec<_> = texts
            .iter()
            .map(|t| {
                let t = t.trim();
                (t.to_string(), Presentation::from_text(t))
            })
            .collect();
        // The keys and messages are gathered under the trust lock; the curve arithmetic runs
        // after it is released, so a batch never holds back the light client's updates.
        let items = self.trust.read(|s| {
            let compacts = decoded
                .iter()
                .filter_map(|(_, p)| p.as_ref().ok().map(Presentation::compact));
            SignatureBatch::items(compacts, &s.anchor)
        });
        let checked = SignatureBatch::check_items(items);
        let checked = &checked;
        futures_util::stream::iter(decoded)
            .map(|(text, p)| async move { self.check_decoded(&text, p, None, checked).await })
            .buffered(at_once.max(1))
            .collect()
            .await
    }

    async fn check_decoded(
        &self,
        text: &str,
        decoded: Result<Presentation, credledger_core::presentation::PresentationError>,
        now: Option<Timestamp>,
        signatures: &SignatureBatch,
    ) -> Report {
        match decoded {
            Ok(p) => {
                let mut r = self.check_with(&p, now, signatures).await;
                r.presentation = Some(text.to_string());
                r
            }
            Err(e) => self.refused(Rejection::from(e), None, now.unwrap_or_else(now_ms), false),
        }
    }

    /// Checks a decoded presentation: live status from the ledger; a full presentation whose
    /// status cannot be had live falls back to its own evidence, reported as not live.
    pub async fn check(&self, p: &Presentation, now: Option<Timestamp>) -> Report {
        self.check_with(p, now, &SignatureBatch::none()).await
    }

    /// [`Checker::check`] where the issuer signature may already have been checked in a batch.
    async fn check_with(
        &self,
        p: &Presentation,
        now: Option<Timestamp>,
        signatures: &SignatureBatch,
    ) -> Report {
        let c = p.compact();
        if let Some(r) = self.fork_refusal(now.unwrap_or_else(now_ms)) {
            return r;
        }
        // A credential whose status is not cached is first checked for genuineness, so a forged
        // presentation costs the nodes nothing (spec/verifier.md §3.2).
        let cached = self.ledger.is_cached(&c.body.issuer, c.body.id);
        if !cached
            && let Some(refused) = self
                .refuse_early(c, now.unwrap_or_else(now_ms), signatures)
                .await
        {
            return refused;
        }
        let now = now.unwrap_or_else(now_ms);
        let fresh = Fresh {
            now,
            max_age_ms: self.freshness_ms,
        };
        let mut fetched = self
            .ledger
            .evidence(&self.trust, &c.body.issuer, c.body.id, fresh)
            .await;
        let (mut result, mut problem, mut passed) = self.judge(c, &fetched, now, signatures);
        let mut unusable = matches!(&result, Err(r) if r.outcome() == Outcome::CannotCheck);
        if unusable && matches!(fetched, Fetched::Evidence(_)) {
            self.ledger.forget(&c.body.issuer, c.body.id);
        }
        if unusable && cached {
            // Cached evidence that no longer verifies (grown stale, say) was dropped above;
            // the nodes are asked again at once, so one unusable copy never stands for the
            // ledger's answer, nor lets a full presentation fall back on its own evidence
            // while a node can give a fresh one.
            let again = self
                .ledger
                .fetch(&self.trust, &c.body.issuer, c.body.id, fresh)
                .await;
            (result, problem, passed) = self.judge(c, &again, now, signatures);
            unusable = matches!(&result, Err(r) if r.outcome() == Outcome::CannotCheck);
            if unusable && matches!(again, Fetched::Evidence(_)) {
                self.ledger.forget(&c.body.issuer, c.body.id);
            }
            fetched = again;
        }
        // spec/verifier.md §3.3: a full presentation carries status as of its own header;
        // when the live ledger cannot answer, that is reported, marked as not live. Evidence
        // a node gave that is too old to be live but newer than the presentation's own, and
        // verifies, is the later word on the status (a revocation after the holder's copy).
        let (result, passed, live) = match (unusable, p.evidence()) {
            (true, Some(own)) => {
                let offline = |ev: &StatusEvidence| {
                    let mut passed = Vec::new();
                    let r = self.trust.read(|s| {
                        verify_parts_traced(
                            c,
                            Some(ev),
                            &s.anchor,
                            now,
                            &Policy::OFFLINE,
                            signatures,
                            &mut passed,
                        )
                    });
                    (r, passed)
                };
                let newer = match &fetched {
                    Fetched::Evidence(ev) if ev.header.time > own.header.time => Some(offline(ev))
                        .filter(
                            |(r, _)| !matches!(r, Err(r) if r.outcome() == Outcome::CannotCheck),
                        ),
                    _ => None,
                };
                let (r, passed) = newer.unwrap_or_else(|| offline(own));
                (r, passed, false)
            }
            _ => (result, passed, true),
        };
        // The nodes asked for this very scan may have shown the fork (one served a conflicting
        // header, the next one answered): nothing is answered but CANNOT CHECK from then on.
        if let Some(r) = self.fork_refusal(now) {
            return r;
        }
        let described = |s: &crate::trust::TrustState| describe(c, &s.anchor);
        match result {
            Ok(v) => Report {
                outcome: State::Valid,
                live,
                checked_at: now,
                checks: v
                    .checks
                    .iter()
                    .map(|&check| CheckResult {
                        check,
                        passed: true,
                    })
                    .collect(),
                failed_check: None,
                reason: None,
                rejection: None,
                status: Some(v.status.clone()),
                credential: self
                    .trust
                    .read(|s| describe_claims(c, &s.anchor, v.disclosed)),
                ledger: self.ledger_view(),
                presentation: None,
            },
            Err(rejection) => {
                let mut r = self.refused(rejection, problem, now, live);
                // What held before the check that failed: a REVOKED credential is genuine.
                r.checks.splice(
                    0..0,
                    passed.into_iter().map(|check| CheckResult {
                        check,
                        passed: true,
                    }),
                );
                if r.outcome != State::NotGenuine {
                    r.credential = self.trust.read(described);
                }
                r
            }
        }
    }

    /// CANNOT CHECK, if the fork alarm is raised (spec/verifier.md §2 step 5).
    fn fork_refusal(&self, now: Timestamp) -> Option<Report> {
        let height = self.trust.read(|s| s.alarm.as_ref().map(|a| a.height))?;
        Some(self.refused_with(
            State::CannotCheck,
            Check::Anchoring,
            format!(
                "the ledger's validators signed two different blocks at height {height}; this \
                 verifier stopped trusting the ledger until its operators act"
            ),
            now,
        ))
    }

    /// Core's verdict on what the ledger gave, with the problem that left it without any, and
    /// the checks that passed.
    fn judge(
        &self,
        c: &CompactPresentation,
        fetched: &Fetched,
        now: Timestamp,
        signatures: &SignatureBatch,
    ) -> (Result<Verdict, Rejection>, Option<String>, Vec<Check>) {
        let mut passed = Vec::new();
        let live_policy = Policy {
            require_status: true,
            max_status_age_ms: Some(self.freshness_ms),
        };
        match fetched {
            Fetched::Evidence(ev) => {
                let r = self.trust.read(|s| {
                    verify_parts_traced(
                        c,
                        Some(ev.as_ref()),
                        &s.anchor,
                        now,
                        &live_policy,
                        signatures,
                        &mut passed,
                    )
                });
                (r, None, passed)
            }
            Fetched::Absent(a) => {
                let r = self
                    .trust
                    .read(|s| verify_absence_with(c, a, &s.anchor, now, &live_policy, signatures));
                (Err(r), None, passed)
            }
            Fetched::Unavailable(problem) => {
                let r = self.trust.read(|s| {
                    verify_parts_traced(
                        c,
                        None,
                        &s.anchor,
                        now,
                        &live_policy,
                        signatures,
                        &mut passed,
                    )
                });
                (r, Some(problem.clone()), passed)
            }
        }
    }

    /// The checks that need no ledger (issuer, kind, signature, claims); a registry gap is
    /// first filled from the ledger (spec/verifier.md §3.4). `Some` if the presentation fails
    /// one of them.
    async fn refuse_early(
        &self,
        c: &CompactPresentation,
        now: Timestamp,
        signatures: &SignatureBatch,
    ) -> Option<Report> {
        let genuine = |s: &crate::trust::TrustState| {
            verify_parts_with(c, None, &s.anchor, now, &Policy::GENUINENESS, signatures)
        };
        let mut result = self.trust.read(genuine);
        let gap = matches!(
            &result,
            Err(Rejection::UnknownIssuer { .. }
                | Rejection::UnknownKey { .. }
                | Rejection::UnknownKind { .. }
                | Rejection::KindNotAuthorized { .. })
        );
        if gap {
            let b = &c.body;
            let found = self
                .learner
                .learn(
                    &self.ledger,
                    &self.trust,
                    &b.issuer,
                    &b.key_id,
                    &b.kind,
                    self.freshness_ms,
                )
                .await;
            // Judged again after any look but one that found nothing new: an incomplete one
            // may still have added the issuer.
            if found != Lookup::Current {
                result = self.trust.read(genuine);
            }
            // spec/verification.md §4: the registry lacks a name and the ledger could not be
            // asked about it; a genuine credential of an issuer registered since genesis must
            // not look forged for that.
            if let Err(e) = &result
                && found == Lookup::Unknown
                && matches!(
                    e,
                    Rejection::UnknownIssuer { .. }
                        | Rejection::UnknownKey { .. }
                        | Rejection::UnknownKind { .. }
                        | Rejection::KindNotAuthorized { .. }
                )
            {
                return Some(self.refused_with(
                    State::CannotCheck,
                    e.check(),
                    format!("{e}; the ledger could not be asked about it now"),
                    now,
                ));
            }
        }
        match result {
            Err(e)
                if matches!(
                    e.check(),
                    Check::Decoding
                        | Check::IssuerKnown
                        | Check::KindAuthorized
                        | Check::Signature
                        | Check::Claims
                ) =>
            {
                Some(self.refused(e, None, now, true))
            }
            // Key validity and the window depend on the ledger's record: judged below.
            _ => None,
        }
    }

    fn ledger_view(&self) -> LedgerView {
        self.trust.read(|s| LedgerView {
            height: s.light.height,
            time: s.light.time,
            fork_alarm: s.alarm.is_some(),
        })
    }

    fn refused(
        &self,
        rejection: Rejection,
        problem: Option<String>,
        now: Timestamp,
        live: bool,
    ) -> Report {
        let mut reason = rejection.to_string();
        if let Some(p) = problem.filter(|_| rejection.outcome() == Outcome::CannotCheck) {
            reason = format!("{reason} ({p})");
        }
        Report {
            outcome: State::from(rejection.outcome()),
            live,
            checked_at: now,
            checks: vec![CheckResult {
                check: rejection.check(),
                passed: false,
            }],
            failed_check: Some(rejection.check()),
            reason: Some(reason),
            rejection: Some(rejection),
            status: None,
            credential: None,
            ledger: self.ledger_view(),
            presentation: None,
        }
    }

    fn refused_with(&self, outcome: State, check: Check, reason: String, now: Timestamp) -> Report {
        Report {
            outcome,
            live: true,
            checked_at: now,
            checks: vec![CheckResult {
                check,
                passed: false,
            }],
            failed_check: Some(check),
            reason: Some(reason),
            rejection: None,
            status: None,
            credential: None,
            ledger: self.ledger_view(),
            presentation: None,
        }
    }
}
