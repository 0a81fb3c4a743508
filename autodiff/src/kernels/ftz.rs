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

/// Sets FTZ and DAZ on the current thread; returns the previous control word.
#[cfg(target_arch = "x86_64")]
pub fn enable() -> u32 {
    let old = read();
    write(old | FTZ_DAZ);
    old
}

/// Restores a control word returned by [`enable`].
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
    // SAFETY: ldmxcsr loads a valid control word (only FTZ/DAZ differ from the current one).
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &word, options(nostack)) };
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
