//! Plain slice kernels shared by ops. Nothing in here knows about graphs.

pub mod conv;
pub mod conv_gemm;
pub mod elementwise;
pub mod fastmath;
pub mod ftz;
pub mod linalg;
pub mod matmul;
pub mod reduce;
pub mod reduce_groups;
pub mod shape_ops;
pub mod simd;
pub mod special;

/// Below this many elements a kernel runs on the calling thread: splitting it costs more than it
/// saves on small tensors.
pub const PAR_MIN: usize = 1 << 15;

std::thread_local! {
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a kernel over `n` elements should split its work across threads: above
/// [`PAR_MIN`], when the current context has more than one thread. A single-threaded session
/// runs kernels on the caller's thread.
#[inline]
pub fn should_par(n: usize) -> bool {
    n >= PAR_MIN && threads() > 1
}

/// Threads available to the kernel running now: its session's team, or 1 in a single-threaded
/// session, outside a session, or inside a part of a split kernel.
#[inline]
pub fn threads() -> usize {
    if SERIAL.with(|s| s.get()) {
        1
    } else {
        crate::team::current_threads()
    }
}

/// Runs `f` with kernels confined to the calling thread (until `f` returns or unwinds).
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(SERIAL.with(|s| s.replace(true)));
    f()
}

/// Runs `f` as a single-threaded run does: kernels confined to the calling thread, with
/// denormals flushed (see [`ftz::flushed`]).
pub(crate) fn serial_flushed<R>(f: impl FnOnce() -> R) -> R {
    ftz::flushed(|| serial(f))
}

/// Elements per parallel chunk. Fixed, so results never depend on the number of threads.
pub const CHUNK: usize = 1 << 13;
