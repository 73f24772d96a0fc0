//! Client submissions admitted together. A submission that finds no admission running starts
//! one at once, so an idle node adds no wait; those that arrive while it runs queue, and the
//! next admission takes them all, up to [`MAX_GROUP`], checking their signatures in one batch
//! as a relayed batch's are (a transaction admitted alone cost its node about 2.5 times one
//! admitted in a batch: BENCHMARKS.md, session 26).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use credledger_core::hash::Digest;
use tokio::sync::oneshot;

use super::ApiError;

/// Transactions admitted together at most.
pub const MAX_GROUP: usize = 256;

/// One submission waiting for its admission.
struct Waiting {
    bytes: Vec<u8>,
    answer: oneshot::Sender<Result<Digest, ApiError>>,
}

/// The queue of submissions and whether an admission task is draining it. The queue holds no
/// more than the API's requests in flight (its cap answers 503 beyond), each within the body
/// limit.
#[derive(Default)]
pub struct Submissions {
    queue: Mutex<VecDeque<Waiting>>,
    draining: AtomicBool,
}

impl Submissions {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Waiting>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits `bytes` with whatever else is waiting, by `admit` (one answer per transaction,
    /// in order); its id, or why it was not admitted.
    pub async fn submit<F>(self: &Arc<Self>, admit: F, bytes: Vec<u8>) -> Result<Digest, ApiError>
    where
        F: Fn(Vec<Vec<u8>>) -> Vec<Result<Digest, ApiError>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        self.queue().push_back(Waiting { bytes, answer });
        if !self.draining.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().drain(admit));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(ApiError::Internal("admission stopped".into())))
    }

    /// Admits what is queued, group by group, until the queue is empty.
    async fn drain<F>(self: Arc<Self>, admit: F)
    where
        F: Fn(Vec<Vec<u8>>) -> Vec<Result<Digest, ApiError>>,
    {
        let _unwinding = ReleaseOnPanic(&self.draining);
        loop {
            let group: Vec<Waiting> = {
                let mut q = self.queue();
                let n = q.len().min(MAX_GROUP);
                q.drain(..n).collect()
            };
            if group.is_empty() {
                self.draining.store(false, Ordering::Release);
                // A submission queued after the queue was found empty but before the flag
                // fell saw the flag set and started no task: take it up here, unless one
                // started since.
                if self.queue().is_empty() || self.draining.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            let (bytes, answers): (Vec<_>, Vec<_>) =
                group.into_iter().map(|w| (w.bytes, w.answer)).unzip();
            let results = admit(bytes);
            for (answer, result) in answers.into_iter().zip(results) {
                // The client may have gone; its transaction is admitted all the same.
                let _ = answer.send(result);
            }
            // Admission holds this worker for the group's length; let other tasks run before
            // the next group.
            tokio::task::yield_now().await;
        }
    }
}

/// Lowers the draining flag if an admission panics, so that the next submission starts a new
/// drain instead of queuing behind one that is gone (its waiters are answered `internal`).
struct ReleaseOnPanic<'a>(&'a AtomicBool);

impl Drop for ReleaseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// An admission that takes 20 ms, records its group sizes and answers each transaction
    /// with a digest of its bytes (or a refusal for an empty one).
    fn slow_admission(
        groups: Arc<Mutex<Vec<usize>>>,
    ) -> impl Fn(Vec<Vec<u8>>) -> Vec<Result<Digest, ApiError>> + Send + 'static {
        move |batch| {
            groups.lock().unwrap().push(batch.len());
            std::thread::sleep(Duration::from_millis(20));
            batch
                .iter()
                .map(|b| match b.first() {
                    Some(&x) => Ok(Digest([x; 32])),
                    None => Err(ApiError::Refused("empty".into())),
                })
                .collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_submission_goes_alone_and_those_arriving_meanwhile_go_together() {
        let subs = Arc::new(Submissions::default());
        let groups = Arc::new(Mutex::new(Vec::new()));
        // Alone: admitted at once, by itself.
        let id = subs
            .submit(slow_admission(groups.clone()), vec![7])
            .await
            .unwrap();
        assert_eq!(id, Digest([7; 32]));
        assert_eq!(*groups.lock().unwrap(), vec![1]);

        // Forty at once: each gets its own answer, in fewer admissions than submissions.
        let answered = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..40u8 {
            let (subs, groups, answered) = (subs.clone(), groups.clone(), answered.clone());
            tasks.push(tokio::spawn(async move {
                let bytes = if i == 13 { vec![] } else { vec![i] };
                let got = subs.submit(slow_admission(groups), bytes).await;
                match got {
                    Ok(d) => assert_eq!(d, Digest([i; 32])),
                    Err(e) => assert!(i == 13 && matches!(e, ApiError::Refused(_)), "{e:?}"),
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(answered.load(Ordering::Relaxed), 40);
        // The drain answers before it finds the queue empty and ends.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while subs.draining.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!subs.draining.load(Ordering::Acquire), "the drain ended");
        let groups = groups.lock().unwrap();
        assert_eq!(groups.iter().sum::<usize>(), 41, "{groups:?}");
        assert!(groups.len() < 20, "submissions went together: {groups:?}");
    }

    #[tokio::test]
    async fn an_admission_that_panics_answers_internal_and_the_next_submission_is_admitted() {
        let subs = Arc::new(Submissions::default());
        let panicking = |_: Vec<Vec<u8>>| -> Vec<Result<Digest, ApiError>> {
            panic!("admission failed");
        };
        let got = subs.submit(panicking, vec![1]).await;
        assert!(matches!(got, Err(ApiError::Internal(_))), "{got:?}");
        let groups = Arc::new(Mutex::new(Vec::new()));
        let id = tokio::time::timeout(
            Duration::from_secs(5),
            subs.submit(slow_admission(groups), vec![2]),
        )
        .await
        .expect("the queue is not left waiting on the dead admission")
        .unwrap();
        assert_eq!(id, Digest([2; 32]));
    }
}
