//! Runs a plain-Rust loop compiled for AVX2 when the CPU has it, and for the build's baseline
//! (SSE2 on x86-64) otherwise.
//!
//! The workspace is built without `target-cpu`, so auto-vectorized loops use 128-bit SSE2
//! registers, and SSE2 has no 64-bit integer multiply: counter-based random numbers and the
//! transforms after them run about twice as fast with 256-bit AVX2. A [`Kernel`] is written
//! once; [`run`] instantiates it inside a function with AVX2 enabled, so the same source is
//! compiled twice and chosen at run time.
//!
//! Both versions give the same bits when the kernel uses only operations that round once and
//! exactly as IEEE 754 says (`+ - × ÷`, `sqrt`, conversions, integer and bit operations):
//! Rust never contracts a multiply and an add into a fused multiply-add, and AVX2 does not
//! enable FMA. Library calls (`ln`, `sin`, `exp`, `powf`, …) do not have this guarantee.
//!
//! `unsafe` here only calls the AVX2 instance after checking that the CPU supports it.
#![allow(unsafe_code)]

/// A computation to compile for more than one instruction set.
///
/// `run` and every function its loops call must be `#[inline(always)]`: only code inlined into
/// the AVX2 instance is compiled with AVX2.
pub trait Kernel {
    /// What the computation returns.
    type Output;
    /// Does the work.
    fn run(self) -> Self::Output;
}

/// Runs `kernel` compiled with AVX2 if the CPU supports it, else compiled for the baseline.
/// Both give bit-identical results for kernels that follow the rules in the module docs.
#[inline]
pub fn run<K: Kernel>(kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { run_avx2(kernel) };
    }
    kernel.run()
}

/// Runs `kernel` compiled for the baseline instruction set (for tests and comparisons).
pub fn run_baseline<K: Kernel>(kernel: K) -> K::Output {
    kernel.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2<K: Kernel>(kernel: K) -> K::Output {
    kernel.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums of square roots and quotients of a sequence: vectorizable float work.
    struct Roots<'a>(&'a mut [f32]);

    impl Kernel for Roots<'_> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            for (i, v) in self.0.iter_mut().enumerate() {
                let x = i as f32 * 0.37 + 1.0;
                *v = x.sqrt() / (x + 3.0) * 1.5 - 0.25;
            }
        }
    }

    #[test]
    fn dispatched_and_baseline_give_identical_bits() {
        let (mut a, mut b) = (vec![0f32; 10_007], vec![0f32; 10_007]);
        run(Roots(&mut a));
        run_baseline(Roots(&mut b));
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        // The closed form at i = 0: √1 / 4 · 1.5 - 0.25 = 0.125, exact in f32.
        assert_eq!(a[0], 0.125);
    }
}
