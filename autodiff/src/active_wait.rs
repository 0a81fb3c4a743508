//! Running a session's work with the pool's other threads kept awake.
//!
//! Kernels split their work with `rayon::join`, and the half a thread offers is only taken if
//! another thread is awake to steal it. rayon parks idle threads after a short spin, and waking
//! a parked thread can take longer than a kernel (tens to hundreds of microseconds on virtual
//! machines, where the idle CPU itself is halted): the offering thread then runs both halves
//! alone, and a 2-thread run is no faster than a 1-thread one. While a session runs, the other
//! threads of its pool therefore wait actively, like OpenMP's `OMP_WAIT_POLICY=active`: each
//! loops on `rayon::yield_now`, which runs any job it can steal, until the run ends. Between
//! runs they park as usual. A session's pool is meant to own its cores while it runs; on an
//! oversubscribed machine the waiters compete with other work for the length of a run.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::ThreadPool;

/// Runs `f` on `pool` with the pool's other threads stealing work until `f` returns.
pub(crate) fn install<R: Send>(pool: &ThreadPool, f: impl FnOnce() -> R + Send) -> R {
    let threads = pool.current_num_threads();
    if threads <= 1 {
        return pool.install(f);
    }
    pool.install(|| {
        let done = AtomicBool::new(false);
        let runner = rayon::current_thread_index();
        // `join` keeps its jobs on the stack, so a run still allocates nothing. The waiters are
        // the offered half: idle threads steal the oldest job first, so they take the waiters
        // before any half a kernel offers later.
        let (r, ()) = rayon::join(
            || {
                let r = f();
                done.store(true, Ordering::Release);
                r
            },
            || waiters(threads - 1, &done, runner),
        );
        r
    })
}

/// `n` waiters, each on a thread of its own once stolen.
fn waiters(n: usize, done: &AtomicBool, runner: Option<usize>) {
    if n > 1 {
        rayon::join(|| wait(done, runner), || waiters(n - 1, done, runner));
    } else {
        wait(done, runner);
    }
}

/// Runs stolen jobs until `done`.
fn wait(done: &AtomicBool, runner: Option<usize>) {
    // The running thread picks a waiter up itself when no other thread took it before the run
    // ended; one that started spinning there could keep a run from finishing.
    if rayon::current_thread_index() == runner {
        return;
    }
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_waiters_return() {
        // Nested joins inside the run complete (the runner may execute a waiter task itself
        // while it waits for a stolen half, and that task must return at once), and the run
        // returns its value once the waiters have stopped. Which thread steals what depends on
        // the machine's load, so only the results are asserted.
        fn tree(depth: u32, i: u64) -> u64 {
            if depth == 0 {
                return i;
            }
            let (a, b) = rayon::join(|| tree(depth - 1, 2 * i), || tree(depth - 1, 2 * i + 1));
            a + b
        }
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for _ in 0..50 {
                // The leaves of a depth-10 tree number 0..1024, each once.
                assert_eq!(install(&pool, || tree(10, 0)), (0..1024).sum::<u64>());
            }
        }
    }
}
