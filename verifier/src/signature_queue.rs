//! Issuer signatures of concurrent single scans, checked together (spec/verifier.md §4.2).
//!
//! Under load the service has many scans in progress at once, each with one issuer signature
//! to check. A ZIP-215 batch of signatures by one key costs about a quarter of checking them one
//! by one, and accepts exactly what single checks accept, so a scan's verdict never depends on
//! which others it was checked with. The first scan to arrive while none is waiting leads: it
//! yields once, so the runtime can run the other ready requests up to their own signature
//! checks, then checks all the signatures gathered meanwhile, in batches of at most
//! [`MAX_BATCH`], and hands each waiting scan the result. A lone scan is checked alone, at the
//! cost of that one yield. The leader does the curve arithmetic for all of them on its own
//! thread; on a runtime of several workers the others' requests meanwhile wait, as they would
//! for their own checks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use credledger_core::verify::{SignatureBatch, SignatureItems};
use tokio::sync::oneshot;

/// Most signatures checked in one batch. A forged signature makes its batch be searched
/// (halved until it stands alone), which delays every scan in that batch: the cap bounds how
/// many honest scans one forgery can hold up, while larger batches would save little more (a
/// batch's cost per signature hardly falls beyond a few dozen).
pub const MAX_BATCH: usize = 64;

/// One scan's signatures, and where their result goes.
struct Waiting {
    items: SignatureItems,
    reply: oneshot::Sender<Arc<SignatureBatch>>,
}

/// Scans waiting for their signatures to be checked, and counts for `/metrics`.
#[derive(Default)]
pub struct SignatureQueue {
    waiting: Mutex<Vec<Waiting>>,
    batches: AtomicU64,
    signatures: AtomicU64,
}

impl std::fmt::Debug for SignatureQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureQueue")
            .field("batches", &self.batches())
            .field("signatures", &self.signatures())
            .finish_non_exhaustive()
    }
}

/// The leading scan's duty: when it is dropped, whether it finished or its request was
/// cancelled while it yielded, the waiting scans are checked, so none is left without a result.
struct Lead<'a>(&'a SignatureQueue);

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        self.0.check_waiting();
    }
}

impl SignatureQueue {
    /// Checks `items` (one scan's signatures) together with those of the scans that are ready
    /// at the same moment. The result records every signature of the batch; the caller looks
    /// up its own. The future must be polled to completion or dropped, as a request's is: a
    /// leading scan's future held unpolled would hold the others' results back.
    pub async fn check(&self, items: SignatureItems) -> Arc<SignatureBatch> {
        if items.is_empty() {
            return Arc::new(SignatureBatch::none());
        }
        let (reply, result) = oneshot::channel();
        let leads = {
            let mut waiting = self.lock();
            waiting.push(Waiting { items, reply });
            waiting.len() == 1
        };
        if leads {
            let lead = Lead(self);
            tokio::task::yield_now().await;
            drop(lead);
        }
        // `check_waiting` sends to every scan it takes. Were a sender ever dropped unsent (a
        // panic in the check), an empty result makes `verify` check the signature alone, with
        // the same verdict.
        result
            .await
            .unwrap_or_else(|_| Arc::new(SignatureBatch::none()))
    }

    /// Batches checked since start.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// The signatures checked in those batches.
    pub fn signatures(&self) -> u64 {
        self.signatures.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        // A panic while the lock was held cannot leave the list half-changed (push and take
        // are whole), so a poisoned lock is used as it is.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes every waiting scan and checks their signatures, in batches of at most
    /// [`MAX_BATCH`]. The lock is released first, so scans arriving meanwhile start the next
    /// round with a leader of their own.
    fn check_waiting(&self) {
        let taken = std::mem::take(&mut *self.lock());
        let mut taken = taken.into_iter().peekable();
        while taken.peek().is_some() {
            let mut items = SignatureItems::default();
            let mut replies = Vec::new();
            while items.len() < MAX_BATCH
                && let Some(mut w) = taken.next()
            {
                items.append(&mut w.items);
                replies.push(w.reply);
            }
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.signatures
                .fetch_add(items.len() as u64, Ordering::Relaxed);
            let checked = Arc::new(SignatureBatch::check_items(items));
            for reply in replies {
                // A scan whose request was dropped no longer listens; nothing to do for it.
                let _ = reply.send(checked.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SignatureQueue;
    use credledger_core::presentation::Presentation;
    use credledger_core::testkit::World;
    use credledger_core::verify::SignatureBatch;
    use std::future::Future;
    use std::sync::Arc;

    fn scans(forged: &[usize]) -> (World, Vec<Presentation>) {
        let w = World::new(3, 4);
        let mut ps: Vec<_> = (0..12)
            .map(|n| World::compact(&w.lawyer_license(n, None), None))
            .collect();
        for &i in forged {
            if let Presentation::Compact(c) = &mut ps[i] {
                c.signature.0[11] ^= 8;
            }
        }
        (w, ps)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_scans_share_one_batch_and_keep_their_verdicts() {
        let (w, ps) = scans(&[5]);
        let anchor = w.anchor();
        let queue = Arc::new(SignatureQueue::default());
        let mut tasks = Vec::new();
        for p in &ps {
            let items = SignatureBatch::items([p.compact()], &anchor);
            let queue = queue.clone();
            tasks.push(tokio::spawn(async move { queue.check(items).await }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        // All twelve were ready before the first one's yield ended: one batch.
        assert_eq!((queue.batches(), queue.signatures()), (1, 12));
        for (i, (p, checked)) in ps.iter().zip(&results).enumerate() {
            assert_eq!((checked.valid_count(), checked.invalid_count()), (11, 1));
            let r = credledger_core::verify::verify_parts_with(
                p.compact(),
                None,
                &anchor,
                credledger_core::ids::Timestamp(1_767_225_612_000),
                &credledger_core::verify::Policy::GENUINENESS,
                checked,
            );
            assert_eq!(r.is_err(), i == 5, "scan {i}: {r:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_burst_larger_than_a_batch_is_checked_in_capped_batches() {
        let w = World::new(5, 4);
        let anchor = w.anchor();
        let ps: Vec<_> = (0..150)
            .map(|n| World::compact(&w.lawyer_license(n, None), None))
            .collect();
        let queue = Arc::new(SignatureQueue::default());
        let tasks: Vec<_> = ps
            .iter()
            .map(|p| {
                let (queue, items) = (queue.clone(), SignatureBatch::items([p.compact()], &anchor));
                tokio::spawn(async move { queue.check(items).await })
            })
            .collect();
        for t in tasks {
            let checked = t.await.unwrap();
            assert!(checked.valid_count() <= super::MAX_BATCH);
            assert_eq!(checked.invalid_count(), 0);
        }
        // All 150 were waiting when the leader's yield ended: 64 + 64 + 22.
        assert_eq!((queue.batches(), queue.signatures()), (3, 150));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scans_on_two_workers_each_get_their_own_verdict() {
        // Leaders on both workers take turns; every scan is answered, with the verdict of its
        // own signature, whichever batch it landed in.
        let forged: Vec<usize> = (0..200).filter(|i| i % 37 == 5).collect();
        let w = World::new(6, 4);
        let anchor = Arc::new(w.anchor());
        let mut ps: Vec<_> = (0..200)
            .map(|n| World::compact(&w.lawyer_license(n, None), None))
            .collect();
        for &i in &forged {
            if let Presentation::Compact(c) = &mut ps[i] {
                c.signature.0[3] ^= 16;
            }
        }
        let queue = Arc::new(SignatureQueue::default());
        let tasks: Vec<_> = ps
            .into_iter()
            .map(|p| {
                let (queue, anchor) = (queue.clone(), anchor.clone());
                tokio::spawn(async move {
                    let checked = queue
                        .check(SignatureBatch::items([p.compact()], &anchor))
                        .await;
                    credledger_core::verify::verify_parts_with(
                        p.compact(),
                        None,
                        &anchor,
                        credledger_core::ids::Timestamp(1_767_225_612_000),
                        &credledger_core::verify::Policy::GENUINENESS,
                        &checked,
                    )
                    .is_ok()
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            let genuine = tokio::time::timeout(std::time::Duration::from_secs(10), t)
                .await
                .expect("every scan is answered")
                .unwrap();
            assert_eq!(genuine, !forged.contains(&i), "scan {i}");
        }
        assert_eq!(queue.signatures(), 200);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn scans_one_after_another_are_checked_alone() {
        let (w, ps) = scans(&[2]);
        let anchor = w.anchor();
        let queue = SignatureQueue::default();
        for (i, p) in ps.iter().take(4).enumerate() {
            let checked = queue
                .check(SignatureBatch::items([p.compact()], &anchor))
                .await;
            let expected = if i == 2 { (0, 1) } else { (1, 0) };
            assert_eq!((checked.valid_count(), checked.invalid_count()), expected);
        }
        assert_eq!((queue.batches(), queue.signatures()), (4, 4));
        // A presentation whose key the registry does not know has nothing to check here.
        let none = queue.check(Default::default()).await;
        assert_eq!((none.valid_count(), none.invalid_count()), (0, 0));
        assert_eq!(queue.batches(), 4);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_leader_cancelled_while_it_yields_still_answers_the_others() {
        let (w, ps) = scans(&[]);
        let anchor = w.anchor();
        let queue = Arc::new(SignatureQueue::default());
        // The leader's future is polled once (it queues and yields), then dropped, as a request
        // whose client went away is.
        let mut lead = Box::pin(queue.check(SignatureBatch::items([ps[0].compact()], &anchor)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(lead.as_mut().poll(&mut cx).is_pending());
        let follower = {
            let queue = queue.clone();
            let items = SignatureBatch::items([ps[1].compact()], &anchor);
            tokio::spawn(async move { queue.check(items).await })
        };
        tokio::task::yield_now().await;
        drop(lead);
        let checked = tokio::time::timeout(std::time::Duration::from_secs(5), follower)
            .await
            .expect("the follower is answered")
            .unwrap();
        assert_eq!((checked.valid_count(), checked.invalid_count()), (2, 0));
    }
}
