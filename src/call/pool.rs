//! The worker pool every call shares for recognition and synthesis.
//!
//! Whisper and Piper are CPU-bound: run unbounded, ten calls would each get a tenth of a core and every
//! caller would wait ten times longer. The pool hands out threads (one permit each) from a fair tokio
//! [`Semaphore`]: jobs wait their turn first come, first served, whichever call they belong to, and a
//! call that asks for a lot of work only queues behind itself (back-pressure). A job that finds the
//! pool idle may take two threads (Whisper on two threads is ~1.5× faster, see BENCHMARKS.md), so a
//! lone caller is answered sooner without a busy pool ever running more threads than it has.
//!
//! Optional work (partial transcripts) only starts on threads nobody waits for, and yields them back:
//! it runs with a [`Cancel`] the pool raises as soon as work that must not wait finds too few threads.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

/// A job that could not give its result.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{stage} panicked: {message}")]
    Panicked { stage: &'static str, message: String },
    #[error("{stage} was cancelled because the runtime is shutting down")]
    Cancelled { stage: &'static str },
}

/// Asks a running job to stop early; the job polls it (Whisper's abort hook does).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for a job that hands it to a model's abort hook.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// A bounded, fair pool of worker threads for blocking model work.
#[derive(Debug, Clone)]
pub struct WorkerPool {
    permits: Arc<Semaphore>,
    threads: usize,
    /// The optional jobs running now, each holding one thread, which yield it when asked.
    yielding: Arc<Yielding>,
}

/// The optional jobs running now, by a number of their own.
#[derive(Debug, Default)]
struct Yielding {
    next: AtomicU64,
    running: Mutex<Vec<(u64, Arc<AtomicBool>)>>,
}

impl Yielding {
    fn running(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<AtomicBool>)>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An optional job's place among the running ones, left when the job ends (or unwinds).
struct Running {
    yielding: Arc<Yielding>,
    id: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.yielding.running().retain(|(id, _)| *id != self.id);
    }
}

impl WorkerPool {
    /// A pool that never runs more than `threads` threads of model work at once (0 is taken as 1).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        Self { permits: Arc::new(Semaphore::new(threads)), threads, yielding: Arc::default() }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Threads not working right now.
    pub fn idle_threads(&self) -> usize {
        self.permits.available_permits()
    }

    /// Run `job` on a blocking thread once it is this job's turn, with as many threads as are idle up to
    /// `max_threads` (at least one); `job` is told how many it got. Waiting is first come, first served.
    /// Threads held by optional work count as idle: that work is cancelled to make room.
    pub async fn run<T, F>(&self, stage: &'static str, max_threads: usize, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(usize) -> T + Send + 'static,
    {
        let available = self.permits.available_permits();
        let yieldable = self.yieldable();
        let threads = (available + yieldable).clamp(1, max_threads.clamp(1, self.threads));
        if threads > available {
            self.cancel_optional();
        }
        let threads_u32 = u32::try_from(threads).unwrap_or(1);
        let permit = Arc::clone(&self.permits)
            .acquire_many_owned(threads_u32)
            .await
            .map_err(|_| PoolError::Cancelled { stage })?;
        blocking(stage, move || {
            // Held until the job returns (or unwinds), so a panicking job still gives its threads back.
            let _permit = permit;
            job(threads)
        })
        .await
    }

    /// Run optional `job` on one thread now, but only if that leaves at least `keep_idle` threads idle
    /// for work that must not wait (a caller's final transcript); `None` when the pool is too busy.
    /// `cancel` is raised if such work later finds the pool short of threads: the job should then stop.
    pub fn try_run<T, F>(
        &self,
        stage: &'static str,
        keep_idle: usize,
        cancel: &Cancel,
        job: F,
    ) -> Option<impl Future<Output = Result<T, PoolError>> + Send + 'static>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.permits.available_permits() < keep_idle + 1 {
            return None;
        }
        let permit = Arc::clone(&self.permits).try_acquire_owned().ok()?;
        let id = self.yielding.next.fetch_add(1, Ordering::Relaxed);
        self.yielding.running().push((id, cancel.flag()));
        let running = Running { yielding: Arc::clone(&self.yielding), id };
        Some(blocking(stage, move || {
            // Both held until the job returns (or unwinds).
            let (_permit, _running) = (permit, running);
            job()
        }))
    }

    /// Optional jobs running now that have not been asked to stop.
    fn yieldable(&self) -> usize {
        self.yielding.running().iter().filter(|(_, flag)| !flag.load(Ordering::Relaxed)).count()
    }

    fn cancel_optional(&self) {
        for (_, flag) in self.yielding.running().iter() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Run `job` with `spawn_blocking`, turning a panic into an error naming the stage.
pub async fn blocking<T, F>(stage: &'static str, job: F) -> Result<T, PoolError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(job).await.map_err(|error| {
        if error.is_panic() {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            PoolError::Panicked { stage, message }
        } else {
            PoolError::Cancelled { stage }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Keep one thread of `pool` busy until the returned sender is used (or dropped).
    async fn occupy_one(pool: &WorkerPool) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let idle = pool.idle_threads();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run("hold", 1, move |_| hold.recv().ok()).await.expect("hold");
            })
        };
        while pool.idle_threads() + 1 > idle {
            tokio::task::yield_now().await;
        }
        (release, busy)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_threads_than_it_has() {
        let pool = WorkerPool::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (pool, running, most) = (pool.clone(), Arc::clone(&running), Arc::clone(&most));
                tokio::spawn(async move {
                    pool.run("test", 2, move |threads| {
                        let now = running.fetch_add(threads, Ordering::SeqCst) + threads;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(threads, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for job in jobs {
            job.await.expect("task").expect("job");
        }
        assert!(most.load(Ordering::SeqCst) <= 2, "ran {} threads at once", most.load(Ordering::SeqCst));
        assert_eq!(pool.idle_threads(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_start_in_the_order_they_asked_whichever_call_they_belong_to() {
        let pool = WorkerPool::new(1);
        let order = Arc::new(Mutex::new(Vec::new()));
        // One long job holds the only thread while the others line up: call A asks three times, call B
        // once, in between.
        let (release, first) = occupy_one(&pool).await;
        let mut waiting = Vec::new();
        for name in ["A1", "B1", "A2", "A3"] {
            let (pool, order) = (pool.clone(), Arc::clone(&order));
            waiting.push(tokio::spawn(async move {
                pool.run("test", 1, move |_| order.lock().expect("order").push(name)).await
            }));
            // Let the task reach the semaphore's queue before the next one asks.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        release.send(()).expect("release");
        first.await.expect("task");
        for job in waiting {
            job.await.expect("task").expect("job");
        }
        assert_eq!(*order.lock().expect("order"), ["A1", "B1", "A2", "A3"]);
    }

    #[tokio::test]
    async fn an_idle_pool_lends_two_threads_and_a_busy_one_lends_one() {
        let pool = WorkerPool::new(2);
        assert_eq!(pool.run("test", 2, |threads| threads).await.expect("job"), 2);
        assert_eq!(pool.run("test", 1, |threads| threads).await.expect("job"), 1);
        let (release, busy) = occupy_one(&pool).await;
        assert_eq!(pool.run("test", 2, |threads| threads).await.expect("job"), 1);
        release.send(()).expect("release");
        busy.await.expect("task");
    }

    #[tokio::test]
    async fn optional_work_runs_only_when_it_leaves_a_thread_idle() {
        let pool = WorkerPool::new(2);
        let cancel = Cancel::default();
        let partial = pool.try_run("partial", 1, &cancel, || 7).expect("two idle threads: one may go");
        assert_eq!(partial.await.expect("job"), 7);
        let (release, busy) = occupy_one(&pool).await;
        assert!(pool.try_run("partial", 1, &cancel, || ()).is_none(), "the last idle thread is kept for finals");
        release.send(()).expect("release");
        busy.await.expect("task");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn optional_work_yields_its_thread_to_work_that_must_not_wait() {
        let pool = WorkerPool::new(2);
        let cancel = Cancel::default();
        let flag = cancel.flag();
        let optional = pool
            .try_run("partial", 1, &cancel, move || {
                // Polls its cancel flag, as Whisper's abort hook does.
                let started = std::time::Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    assert!(started.elapsed() < Duration::from_secs(10), "never asked to yield");
                    std::thread::sleep(Duration::from_millis(1));
                }
                "yielded"
            })
            .expect("two threads idle");
        let optional = tokio::spawn(optional);
        while pool.idle_threads() > 1 {
            tokio::task::yield_now().await;
        }
        // Work that must not wait asks for two threads: the optional job's counts as available.
        assert_eq!(pool.run("final", 2, |threads| threads).await.expect("job"), 2);
        assert!(cancel.is_cancelled());
        assert_eq!(optional.await.expect("task").expect("job"), "yielded");
        // Finished optional work is no longer cancelled by later demand.
        let later = Cancel::default();
        pool.try_run("partial", 1, &later, || ()).expect("idle").await.expect("job");
        pool.run("final", 2, |_| ()).await.expect("job");
        assert!(!later.is_cancelled());
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_gives_its_thread_back() {
        let pool = WorkerPool::new(1);
        let error = pool.run("recognition", 1, |_| -> () { panic!("decoder exploded") }).await.expect_err("panic");
        assert!(matches!(error, PoolError::Panicked { stage: "recognition", .. }), "{error:?}");
        assert!(error.to_string().contains("decoder exploded"), "{error}");
        assert_eq!(pool.idle_threads(), 1);
        assert_eq!(pool.run("after", 1, |_| 1).await.expect("job"), 1);
    }
}
