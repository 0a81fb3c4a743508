//! Flush-to-zero and denormals-are-zero for the threads that run kernels.
//!
//! Arithmetic on subnormal floats is up to two orders of magnitude slower on x86. Gradients of a
//! memorised batch drift into that range and can slow training several-fold, so kernels run
//! with the MXCSR FTZ and DAZ bits set. Reading and writing MXCSR needs `unsafe`; this is the
//! only other place that has it. On other architectures these are no-ops.
#![allow(unsafe_code)]

/// FTZ (bit 15) and DAZ (bit 6) of MXCSR.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// The control word kernels run under: the power-on default (round to nearest, every exception
/// masked, no status flag) plus FTZ and DAZ. Setting all of it, rather than adding the two bits
/// to whatever the caller had, gives the leader of a team and its helpers (fresh threads, with
/// the default word) the same arithmetic even if the caller changed its rounding mode, so
/// results never depend on which thread computed which part.
#[cfg(target_arch = "x86_64")]
const KERNEL_WORD: u32 = 0x1f80 | FTZ_DAZ;

/// Sets the kernels' control word (FTZ and DAZ on) on the current thread; returns the previous
/// control word.
#[cfg(target_arch = "x86_64")]
pub fn enable() -> u32 {
    let old = read();
    write(KERNEL_WORD);
    old
}

/// Restores a control word returned by [`enable`] (status flags included, as they were then).
#[cfg(target_arch = "x86_64")]
pub fn restore(word: u32) {
    write(word);
}

/// Whether FTZ is on for the current thread.
#[cfg(target_arch = "x86_64")]
pub fn is_enabled() -> bool {
    read() & FTZ_DAZ == FTZ_DAZ
}

#[cfg(target_arch = "x86_64")]
fn read() -> u32 {
    let mut word: u32 = 0;
    // SAFETY: stmxcsr stores the 32-bit control register to the given address.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut word, options(nostack)) };
    word
}

#[cfg(target_arch = "x86_64")]
fn write(word: u32) {
    // SAFETY: ldmxcsr loads a control word with no reserved bit set: `KERNEL_WORD`, or a word
    // read from the register. The compiler assumes the default floating-point environment;
    // `KERNEL_WORD` keeps its rounding mode and masks, and FTZ/DAZ only change results that are
    // subnormal, which kernels accept (see the module docs).
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &word, options(nostack)) };
}

/// Runs `f` with the kernels' control word (FTZ and DAZ on) on the current thread, and
/// restores the previous word afterwards, also when `f` panics.
pub fn flushed<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            restore(self.0);
        }
    }
    let _restore = Restore(enable());
    f()
}

/// No-op off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub fn enable() -> u32 {
    0
}
/// No-op off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub fn restore(_: u32) {}
/// Always false off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub fn is_enabled() -> bool {
    false
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Rounding control (bits 13–14): toward zero.
    const ROUND_TOWARD_ZERO: u32 = 3 << 13;

    #[test]
    fn kernels_round_to_nearest_whatever_the_caller_set() {
        let caller = read();
        write(caller | ROUND_TOWARD_ZERO);
        // The compiler may move arithmetic across a change of the control word: the opaque
        // `black_box` on both sides keeps the division between the writes.
        let third = || std::hint::black_box(std::hint::black_box(1.0f32) / 3.0);
        let truncated = third();
        let in_kernels = flushed(third);
        let after = read();
        write(caller);
        // 1/3 rounds up to nearest (…AAAB) and down toward zero (…AAAA).
        assert_eq!(in_kernels.to_bits(), 0x3eaa_aaab);
        assert_eq!(truncated.to_bits(), 0x3eaa_aaaa);
        // The low six bits are status flags (the divisions were inexact).
        assert_eq!(after & !0x3f, (caller | ROUND_TOWARD_ZERO) & !0x3f, "the caller's word is restored");
    }

    #[test]
    fn the_callers_word_is_restored_when_a_kernel_panics() {
        let before = read();
        let r = std::panic::catch_unwind(|| flushed(|| panic!("a kernel failed")));
        assert!(r.is_err());
        assert_eq!(read(), before);
        assert!(!is_enabled());
    }
}
