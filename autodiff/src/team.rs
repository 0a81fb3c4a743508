//! A fork-join team for kernels: the thread that runs a session and helpers of its own.
//!
//! A session's kernels split their work into parts with [`for_each`]. The thread that calls
//! `Session::run` leads: it publishes the parts, works on them itself, and returns when they are
//! all done. A pool that the caller hands each run to (as `rayon::ThreadPool::install` does)
//! costs two cross-core wake-ups per run, 20–40 µs on virtual machines, where an idle virtual
//! CPU is halted: that is a sixth of a 2-thread 256×256·256×256 product. Here the leader never
//! waits to be woken, and helpers wait actively while a run is under way, like OpenMP's
//! `OMP_WAIT_POLICY=active`, so a part is picked up within a fraction of a microsecond. Between
//! runs helpers spin for [`GRACE`] more, so that back-to-back runs and the optimizer step
//! between them find them awake, then sleep.
//!
//! Each thread starts on a contiguous share of the parts and then takes what is left of the
//! others', so which thread runs which part varies; kernels make each part's result independent
//! of that, so results are bit-identical for any team size. A part that calls [`for_each`] again
//! runs the inner parts itself. Publishing a job allocates nothing, and neither does waiting for
//! one.
//!
//! `unsafe` here erases the lifetime of the job a leader publishes (its closure lives on the
//! leader's stack; the leader does not return before every helper has left it) and hands out
//! disjoint chunks of a mutable slice to parts.
#![allow(unsafe_code)]

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::kernels::ftz;

/// How long helpers keep spinning after a run ends before they sleep.
pub const GRACE: Duration = Duration::from_millis(2);

/// A job's parts and what to run on each, with the closure's lifetime erased.
#[derive(Clone, Copy)]
struct Job {
    f: *const (dyn Fn(usize) + Sync + 'static),
    parts: usize,
}

/// `state`'s bit for an open job; the bits above count the helpers inside it.
const OPEN: usize = 1;
const INSIDE: usize = 2;

struct Shared {
    /// Bumped for every job published.
    epoch: AtomicUsize,
    /// [`OPEN`] while parts may still be claimed, plus [`INSIDE`] per helper working on the job.
    state: AtomicUsize,
    /// The current job. Written by the leader only while `state` is 0; read by a helper only
    /// after it entered an open job.
    job: UnsafeCell<Job>,
    /// Per thread, the next unclaimed part of its share (see [`claim`]).
    next: Box<[Padded]>,
    /// A part panicked on a helper.
    panicked: AtomicBool,
    /// A leader is inside [`KernelTeam::lead`]; also keeps a second leader out.
    leading: AtomicBool,
    /// Helpers asleep on `wake`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    stop: AtomicBool,
}

// SAFETY: `job` is written and read under the protocol of `state` described on its fields; the
// rest are atomics and a mutex.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// Threads that split a session's kernels: the caller of a run and `threads - 1` helpers.
///
/// A team serves one leading thread at a time. Sessions may share a team; a session whose team is
/// busy with another thread's run runs on its own thread instead.
pub struct KernelTeam {
    shared: Arc<Shared>,
    threads: usize,
    helpers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for KernelTeam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KernelTeam({} threads)", self.threads)
    }
}

std::thread_local! {
    /// The team this thread leads, with its size; null when none.
    static CURRENT: Cell<(*const Shared, usize)> = const { Cell::new((std::ptr::null(), 1)) };
    /// Whether this thread is running a part (nested splits then run in place).
    static IN_PART: Cell<bool> = const { Cell::new(false) };
}

impl KernelTeam {
    /// A team of `threads` threads: the caller of each run and `threads - 1` helpers, which
    /// flush denormals to zero like every thread that runs kernels.
    pub fn new(threads: usize) -> Arc<Self> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            state: AtomicUsize::new(0),
            job: UnsafeCell::new(Job { f: &|_| {}, parts: 0 }),
            next: (0..threads).map(|_| Padded(AtomicUsize::new(0))).collect(),
            panicked: AtomicBool::new(false),
            leading: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let helpers = (1..threads)
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("autodiff-kernel-{i}"))
                    .spawn(move || help(&shared, i))
                    .expect("failed to start a kernel thread")
            })
            .collect();
        Arc::new(KernelTeam { shared, threads, helpers })
    }

    /// Threads in the team, the leader included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on the calling thread as the team's leader: kernels inside split across the team,
    /// with denormals flushed. If another thread is leading the team, `f` runs with kernels
    /// confined to the calling thread instead.
    pub fn lead<R>(&self, f: impl FnOnce() -> R) -> R {
        let s = &*self.shared;
        if self.threads == 1 || s.leading.compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            return crate::kernels::serial_flushed(f);
        }
        let saved = ftz::enable();
        wake_sleepers(s);
        let outer = CURRENT.with(|c| c.replace((s as *const Shared, self.threads)));
        // Restores the thread's state and releases the team even if `f` panics.
        struct Release<'a>(&'a Shared, (*const Shared, usize), u32);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.1));
                self.0.leading.store(false, Ordering::Release);
                ftz::restore(self.2);
            }
        }
        let _release = Release(s, outer, saved);
        f()
    }
}

impl Drop for KernelTeam {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _g = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

fn wake_sleepers(s: &Shared) {
    if s.sleepers.load(Ordering::SeqCst) > 0 {
        let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
        s.wake.notify_all();
    }
}

/// A helper's life (helper `me`, the leader being 0): wait for a job, work on it, repeat until
/// the team is dropped.
fn help(s: &Shared, me: usize) {
    ftz::enable();
    let mut seen = s.epoch.load(Ordering::Acquire);
    loop {
        let mut idle_since: Option<Instant> = None;
        let mut spins = 0u32;
        loop {
            if s.stop.load(Ordering::Acquire) {
                return;
            }
            let e = s.epoch.load(Ordering::Acquire);
            if e != seen {
                seen = e;
                break;
            }
            std::hint::spin_loop();
            if s.leading.load(Ordering::Relaxed) {
                idle_since = None;
                continue;
            }
            // Reading the clock costs more than a spin; look at it now and then.
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(256) || idle_since.get_or_insert_with(Instant::now).elapsed() < GRACE {
                continue;
            }
            let g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleepers.fetch_add(1, Ordering::SeqCst);
            // Checked after announcing the sleep, so a leader that starts now sees the sleeper.
            let g = if s.epoch.load(Ordering::SeqCst) == seen
                && !s.leading.load(Ordering::SeqCst)
                && !s.stop.load(Ordering::SeqCst)
            {
                s.wake.wait(g).unwrap_or_else(|e| e.into_inner())
            } else {
                g
            };
            s.sleepers.fetch_sub(1, Ordering::SeqCst);
            drop(g);
            idle_since = None;
        }
        if enter(s) {
            // SAFETY: a helper inside an open job reads the job its leader published before
            // opening it, and the leader keeps the closure alive until every helper has left.
            let job = unsafe { *s.job.get() };
            let f = unsafe { &*job.f };
            if catch_unwind(AssertUnwindSafe(|| claim(s, me, job.parts, f))).is_err() {
                s.panicked.store(true, Ordering::Release);
            }
            s.state.fetch_sub(INSIDE, Ordering::Release);
        }
    }
}

/// Joins the open job, if there is one.
fn enter(s: &Shared) -> bool {
    let mut st = s.state.load(Ordering::Acquire);
    loop {
        if st & OPEN == 0 {
            return false;
        }
        match s.state.compare_exchange_weak(st, st + INSIDE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(now) => st = now,
        }
    }
}

/// An atomic on a cache line of its own, so threads claiming parts do not contend for one line.
#[repr(align(128))]
struct Padded(AtomicUsize);

/// The parts of thread `t`'s share: the `t`-th of `threads` near-equal contiguous ranges.
fn share(t: usize, threads: usize, parts: usize) -> (usize, usize) {
    (t * parts / threads, (t + 1) * parts / threads)
}

/// Runs parts of thread `me`'s share, then parts left in the others', until none is left.
///
/// Each thread starts on a share of its own so that consecutive kernels over arrays of one
/// length give each thread the same ranges, which are then still in its cache: a per-weight
/// step of a Bayesian layer reads what the step before it wrote. Taking what is left of other
/// shares keeps the threads busy when one is late.
fn claim(s: &Shared, me: usize, parts: usize, f: &(dyn Fn(usize) + Sync)) {
    // Clears the mark even if a part panics.
    struct Mark;
    impl Drop for Mark {
        fn drop(&mut self) {
            IN_PART.with(|p| p.set(false));
        }
    }
    IN_PART.with(|p| p.set(true));
    let _mark = Mark;
    let threads = s.next.len();
    for t in (0..threads).map(|k| (me + k) % threads) {
        let end = share(t, threads, parts).1;
        loop {
            let i = s.next[t].0.fetch_add(1, Ordering::Relaxed);
            if i >= end {
                break;
            }
            f(i);
        }
    }
}

/// Threads the kernel running now may split across: the current team's size, or 1 outside a
/// team, inside a part, or where kernels are confined to one thread.
pub fn current_threads() -> usize {
    if IN_PART.with(|p| p.get()) {
        return 1;
    }
    CURRENT.with(|c| c.get().1)
}

/// Runs `f(i)` for every `i` in `0..parts`, split across the current team when there is one
/// (see [`current_threads`]), and in order on the calling thread otherwise. Returns when all
/// parts are done. This is how an op's kernel splits its work: make each part's result depend
/// on `i` only, and the op gives the same bits for any number of threads.
pub fn for_each(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    let (team, _) = CURRENT.with(|c| c.get());
    if parts <= 1 || team.is_null() || crate::kernels::threads() <= 1 {
        (0..parts).for_each(f);
        return;
    }
    // SAFETY: `CURRENT` points at the team this thread leads, alive for the whole run.
    let s = unsafe { &*team };
    // SAFETY: the erased closure is only called until every helper has left the job, and this
    // function does not return (or unwind) before that.
    let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
    // SAFETY: no helper is inside a job (`state` is 0), so none reads `job` now.
    unsafe { *s.job.get() = Job { f: erased, parts } };
    for (t, next) in s.next.iter().enumerate() {
        next.0.store(share(t, s.next.len(), parts).0, Ordering::Relaxed);
    }
    s.state.store(OPEN, Ordering::Release);
    s.epoch.fetch_add(1, Ordering::SeqCst);
    wake_sleepers(s);
    let mine = catch_unwind(AssertUnwindSafe(|| claim(s, 0, parts, f)));
    // Every part is claimed: close the job and wait for the helpers still working on theirs.
    s.state.fetch_and(!OPEN, Ordering::AcqRel);
    while s.state.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
    // Clear the helpers' flag before any unwinding, so that it never outlives this job.
    let helper_panicked = s.panicked.swap(false, Ordering::AcqRel);
    if let Err(e) = mine {
        resume_unwind(e);
    }
    if helper_panicked {
        panic!("a kernel panicked on a helper thread");
    }
}

/// A mutable slice cut into chunks that parts borrow one at a time.
struct Chunks<'a, T> {
    ptr: *mut T,
    len: usize,
    size: usize,
    _slice: PhantomData<&'a mut [T]>,
}

// SAFETY: parts borrow disjoint chunks (each index once per job), so sharing the cutter between
// threads shares no element.
unsafe impl<T: Send> Sync for Chunks<'_, T> {}

impl<'a, T> Chunks<'a, T> {
    fn new(s: &'a mut [T], size: usize) -> Self {
        Chunks { ptr: s.as_mut_ptr(), len: s.len(), size, _slice: PhantomData }
    }

    /// Chunk `i`.
    ///
    /// # Safety
    /// Each `i` may be borrowed once at a time.
    #[allow(clippy::mut_from_ref)]
    unsafe fn get(&self, i: usize) -> &mut [T] {
        let start = (i * self.size).min(self.len);
        let end = (start + self.size).min(self.len);
        // SAFETY: `[start, end)` lies in the slice, and the caller borrows it once.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }
}

/// Runs `f(i, chunk)` on `out` cut into chunks of `size` (the last may be shorter), split across
/// the current team.
pub fn for_each_chunk_mut<T: Send>(out: &mut [T], size: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let parts = out.len().div_ceil(size.max(1));
    let c = Chunks::new(out, size.max(1));
    // SAFETY: `for_each` runs each index once.
    for_each(parts, &|i| f(i, unsafe { c.get(i) }));
}

/// [`for_each_chunk_mut`] over two slices of the same length, cut alike.
pub(crate) fn for_each_chunk_mut2<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    size: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    assert_eq!(a.len(), b.len(), "invariant: chunked slices have one length");
    let parts = a.len().div_ceil(size.max(1));
    let (ca, cb) = (Chunks::new(a, size.max(1)), Chunks::new(b, size.max(1)));
    // SAFETY: `for_each` runs each index once.
    for_each(parts, &|i| unsafe { f(i, ca.get(i), cb.get(i)) });
}

/// [`for_each_chunk_mut`] over three slices of the same length, cut alike.
pub(crate) fn for_each_chunk_mut3<A: Send, B: Send, C: Send>(
    a: &mut [A],
    b: &mut [B],
    c: &mut [C],
    size: usize,
    f: impl Fn(usize, &mut [A], &mut [B], &mut [C]) + Sync,
) {
    assert!(a.len() == b.len() && a.len() == c.len(), "invariant: chunked slices have one length");
    let parts = a.len().div_ceil(size.max(1));
    let (ca, cb, cc) = (Chunks::new(a, size.max(1)), Chunks::new(b, size.max(1)), Chunks::new(c, size.max(1)));
    // SAFETY: `for_each` runs each index once.
    for_each(parts, &|i| unsafe { f(i, ca.get(i), cb.get(i), cc.get(i)) });
}

/// [`for_each_chunk_mut`] over four slices of the same length, cut alike.
pub(crate) fn for_each_chunk_mut4<A: Send, B: Send, C: Send, D: Send>(
    a: &mut [A],
    b: &mut [B],
    c: &mut [C],
    d: &mut [D],
    size: usize,
    f: impl Fn(usize, &mut [A], &mut [B], &mut [C], &mut [D]) + Sync,
) {
    assert!(
        a.len() == b.len() && a.len() == c.len() && a.len() == d.len(),
        "invariant: chunked slices have one length"
    );
    let s = size.max(1);
    let parts = a.len().div_ceil(s);
    let (ca, cb, cc, cd) = (Chunks::new(a, s), Chunks::new(b, s), Chunks::new(c, s), Chunks::new(d, s));
    // SAFETY: `for_each` runs each index once.
    for_each(parts, &|i| unsafe { f(i, ca.get(i), cb.get(i), cc.get(i), cd.get(i)) });
}

/// Locks `m`, whether or not a thread panicked holding it: the parts of a job keep their own
/// values in mutexes and never leave them half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `a` and `b`, in parallel on the current team when it has a thread to spare.
pub(crate) fn join<RA: Send, RB: Send>(a: impl FnOnce() -> RA + Send, b: impl FnOnce() -> RB + Send) -> (RA, RB) {
    if crate::kernels::threads() <= 1 {
        return (a(), b());
    }
    fn take<T>(m: Mutex<Option<T>>) -> T {
        m.into_inner().unwrap_or_else(|e| e.into_inner()).expect("invariant: each part runs once")
    }
    let (fa, fb) = (Mutex::new(Some(a)), Mutex::new(Some(b)));
    let (ra, rb) = (Mutex::new(None), Mutex::new(None));
    for_each(2, &|i| {
        if i == 0 {
            let f = lock(&fa).take().expect("invariant: each part runs once");
            *lock(&ra) = Some(f());
        } else {
            let f = lock(&fb).take().expect("invariant: each part runs once");
            *lock(&rb) = Some(f());
        }
    });
    (take(ra), take(rb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_part_runs_once_and_the_team_shares_them() {
        let team = KernelTeam::new(3);
        let hits: Vec<AtomicU64> = (0..1000).map(|_| AtomicU64::new(0)).collect();
        let names = Mutex::new(HashSet::new());
        team.lead(|| {
            for _ in 0..20 {
                for_each(1000, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                    // Enough work per part that helpers get a share.
                    std::thread::sleep(Duration::from_micros(5));
                    names.lock().unwrap().insert(std::thread::current().name().map(str::to_owned));
                });
            }
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 20));
        assert!(names.lock().unwrap().len() >= 2, "the parts all ran on one thread");
    }

    #[test]
    fn nested_splits_run_in_place_and_chunks_cover_the_slice() {
        let team = KernelTeam::new(2);
        let mut out = vec![0u64; 10_007];
        team.lead(|| {
            assert_eq!(current_threads(), 2);
            for_each_chunk_mut(&mut out, 1000, |i, c| {
                assert_eq!(current_threads(), 1);
                for_each(3, &|_| {});
                for (j, v) in c.iter_mut().enumerate() {
                    *v = (i * 1000 + j) as u64;
                }
            });
        });
        assert!(out.iter().enumerate().all(|(i, &v)| v == i as u64));
        assert_eq!(current_threads(), 1);
    }

    #[test]
    fn a_busy_team_runs_a_second_leader_on_its_own_thread() {
        let team = KernelTeam::new(2);
        team.lead(|| {
            std::thread::scope(|s| {
                s.spawn(|| team.lead(|| assert_eq!(current_threads(), 1)));
            });
            assert_eq!(current_threads(), 2);
        });
    }

    #[test]
    fn helpers_wake_after_sleeping() {
        let team = KernelTeam::new(2);
        for _ in 0..3 {
            std::thread::sleep(GRACE * 3);
            let sum = AtomicU64::new(0);
            team.lead(|| {
                for_each(64, &|i| {
                    sum.fetch_add(i as u64, Ordering::Relaxed);
                })
            });
            assert_eq!(sum.load(Ordering::Relaxed), 64 * 63 / 2);
        }
    }

    #[test]
    fn join_returns_both_results() {
        let team = KernelTeam::new(2);
        let (a, b) = team.lead(|| join(|| 6 * 7, || "b"));
        assert_eq!((a, b), (42, "b"));
        assert_eq!(join(|| 1, || 2), (1, 2));
    }

    #[test]
    fn a_panicking_part_reaches_the_leader_and_the_team_recovers() {
        let team = KernelTeam::new(2);
        let r = catch_unwind(AssertUnwindSafe(|| {
            team.lead(|| {
                for_each(100, &|i| {
                    std::thread::sleep(Duration::from_micros(20));
                    assert!(i != 57, "part 57");
                })
            })
        }));
        assert!(r.is_err());
        let sum = AtomicU64::new(0);
        team.lead(|| {
            for_each(10, &|i| {
                sum.fetch_add(i as u64, Ordering::Relaxed);
            })
        });
        assert_eq!(sum.load(Ordering::Relaxed), 45);
    }

    #[test]
    fn panics_on_the_leader_and_a_helper_at_once_leave_nothing_for_the_next_job() {
        let team = KernelTeam::new(2);
        for _ in 0..5 {
            // Each thread starts on its own part; both parts panic, the helper's first (the
            // leader's part sleeps longer, so the helper has joined and panicked by then).
            let r = catch_unwind(AssertUnwindSafe(|| {
                team.lead(|| {
                    for_each(2, &|i| {
                        std::thread::sleep(Duration::from_millis(if i == 0 { 4 } else { 1 }));
                        panic!("part {i}");
                    })
                })
            }));
            assert!(r.is_err());
            team.lead(|| for_each(4, &|_| {}));
        }
    }

    #[test]
    fn a_panic_in_a_serial_run_leaves_the_thread_as_it_was() {
        let r = catch_unwind(|| crate::kernels::serial_flushed(|| panic!("an op failed")));
        assert!(r.is_err());
        assert!(!crate::kernels::ftz::is_enabled(), "the caller's control word is back");
        let team = KernelTeam::new(2);
        assert_eq!(team.lead(crate::kernels::threads), 2, "kernels split again");
    }
}
