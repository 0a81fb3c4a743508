//! Reductions over any set of axes. Serial and in a fixed order, so results never depend on
//! the number of threads.

use smallvec::SmallVec;

use super::{should_par, CHUNK};
use crate::scalar::Scalar;

/// Reduces `x` (dimensions `dims`) over the axes where `reduced[axis]` is true, into `out`
/// (whose length is the product of the kept dimensions). `out` is first set to `init`, then
/// every element is folded in with `op(acc, x)`.
pub fn reduce<F: Copy>(x: &[F], dims: &[usize], reduced: &[bool], out: &mut [F], init: F, op: impl Fn(F, F) -> F) {
    out.iter_mut().for_each(|o| *o = init);
    if x.is_empty() {
        return;
    }
    let r = dims.len();
    if r == 0 {
        out[0] = op(out[0], x[0]);
        return;
    }
    // Output strides over the input's axes (0 on reduced axes).
    let mut os: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r);
    let mut acc = 1;
    for i in (0..r).rev() {
        if !reduced[i] {
            os[i] = acc;
            acc *= dims[i];
        }
    }
    let inner = dims[r - 1];
    let rows = x.len() / inner;
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r.saturating_sub(1));
    let mut o_base = 0usize;
    for row in 0..rows {
        let xr = &x[row * inner..(row + 1) * inner];
        if reduced[r - 1] {
            let mut a = out[o_base];
            for &v in xr {
                a = op(a, v);
            }
            out[o_base] = a;
        } else {
            for (o, &v) in out[o_base..o_base + inner].iter_mut().zip(xr) {
                *o = op(*o, v);
            }
        }
        // advance the multi-index over the outer axes
        for ax in (0..r - 1).rev() {
            idx[ax] += 1;
            o_base += os[ax];
            if idx[ax] < dims[ax] {
                break;
            }
            o_base -= os[ax] * dims[ax];
            idx[ax] = 0;
        }
    }
}

/// Sums `x` over the axes where `reduced[axis]` is true, like [`reduce`] with `+`, but
/// accumulating runs along the last axis in `f64` with independent lanes: accurate for
/// long sums in `f32` (a naive `f32` running sum of 7,840 equal KL terms drifts by 1e-4
/// relative) and vectorizable. The order is fixed, so results never depend on threads.
pub fn sum<F: Scalar>(x: &[F], dims: &[usize], reduced: &[bool], out: &mut [F]) {
    let r = dims.len();
    if r == 0 || !reduced[r - 1] {
        // Columns: each output adds one element per row, in row order.
        reduce(x, dims, reduced, out, F::zero(), |a, b| a + b);
        return;
    }
    let inner = dims[r - 1];
    if inner == 0 {
        out.iter_mut().for_each(|o| *o = F::zero());
        return;
    }
    // Sum each row in f64 and fold the row sums into their outputs; with few outputs (a full
    // reduction) the fold stays in f64 too.
    let rows = x.len() / inner;
    if out.len() == 1 {
        out[0] = F::of(rows_sum(x, inner, 0, rows));
        return;
    }
    let mut os: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r - 1);
    let mut acc = 1;
    for i in (0..r - 1).rev() {
        if !reduced[i] {
            os[i] = acc;
            acc *= dims[i];
        }
    }
    let mut wide: SmallVec<[f64; 8]> = SmallVec::from_elem(0.0, out.len().min(8));
    let use_wide = out.len() <= 8;
    if !use_wide {
        out.iter_mut().for_each(|o| *o = F::zero());
    }
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r - 1);
    let mut o = 0usize;
    for row in 0..rows {
        let s = row_sum(&x[row * inner..(row + 1) * inner]);
        if use_wide {
            wide[o] += s;
        } else {
            out[o] = out[o] + F::of(s);
        }
        for ax in (0..r - 1).rev() {
            idx[ax] += 1;
            o += os[ax];
            if idx[ax] < dims[ax] {
                break;
            }
            o -= os[ax] * dims[ax];
            idx[ax] = 0;
        }
    }
    if use_wide {
        for (o, w) in out.iter_mut().zip(&wide) {
            *o = F::of(*w);
        }
    }
}

/// The `f64` sum of rows `[lo, hi)` (of `inner` values each): in order up to [`CHUNK`] values,
/// and as the sum of the two halves above, which run in parallel where the kernel may split.
/// The halves are cut at the same rows whatever the number of threads, so the bits are too.
fn rows_sum<F: Scalar>(x: &[F], inner: usize, lo: usize, hi: usize) -> f64 {
    if (hi - lo) * inner <= CHUNK || hi - lo == 1 {
        return (lo..hi).map(|r| row_sum(&x[r * inner..(r + 1) * inner])).fold(0.0, |a, b| a + b);
    }
    let mid = lo + (hi - lo) / 2;
    let (a, b) = if should_par((hi - lo) * inner) {
        crate::team::join(|| rows_sum(x, inner, lo, mid), || rows_sum(x, inner, mid, hi))
    } else {
        (rows_sum(x, inner, lo, mid), rows_sum(x, inner, mid, hi))
    };
    a + b
}

/// Independent `f64` accumulators of [`row_sum`]: enough to cover the latency of vector adds
/// (four cycles, two per cycle on current x86), so the sum runs at load speed.
const LANES: usize = 32;

/// Sum of a slice in `f64`, [`LANES`] lanes then combined pairwise.
#[inline]
fn row_sum<F: Scalar>(x: &[F]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v.to_f64_lossless();
        }
    }
    let mut tail = 0.0;
    for v in chunks.remainder() {
        tail += v.to_f64_lossless();
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] += lanes[i + width];
        }
    }
    lanes[0] + tail
}

/// Broadcasts `x` (dimensions `dims`, right-aligned against `out_dims`) into `out`.
pub fn broadcast<F: Copy + Send + Sync>(x: &[F], dims: &[usize], out: &mut [F], out_dims: &[usize]) {
    super::elementwise::binary(
        super::elementwise::Operand::Slice(x, dims),
        super::elementwise::Operand::Slice(x, dims),
        out,
        out_dims,
        |a, _| a,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_sums_accumulate_in_f64() {
        // 7,840 equal KL terms: a running f32 sum drifts by ~1 (every addition rounds the same
        // way within a binade); the f64 lanes give the exact product to f32 precision.
        let x = vec![2.525_57_f32; 7840];
        let mut o = [0.0f32];
        sum(&x, &[7840], &[true], &mut o);
        let exact = 7840.0 * 2.525_57_f32 as f64;
        assert!((o[0] as f64 - exact).abs() < 2e-3, "{}", o[0]);
        let mut naive = 0.0f32;
        x.iter().for_each(|v| naive += v);
        assert!((naive as f64 - exact).abs() > 0.1, "the test input must defeat naive summation");
        // rows of a matrix and a column reduction agree with exact sums
        let m: Vec<f64> = (0..12).map(|i| i as f64).collect();
        let mut rows = [0.0; 3];
        sum(&m, &[3, 4], &[false, true], &mut rows);
        assert_eq!(rows, [6.0, 22.0, 38.0]);
        let mut cols = [0.0; 4];
        sum(&m, &[3, 4], &[true, false], &mut cols);
        assert_eq!(cols, [12.0, 15.0, 18.0, 21.0]);
    }

    #[test]
    fn reduces_any_axes() {
        let x: Vec<f64> = (0..24).map(|i| i as f64).collect(); // [2,3,4]
        let mut o = vec![0.0; 4];
        reduce(&x, &[2, 3, 4], &[true, true, false], &mut o, 0.0, |a, b| a + b);
        assert_eq!(o, [60.0, 66.0, 72.0, 78.0]);
        let mut o = vec![0.0; 6];
        reduce(&x, &[2, 3, 4], &[false, false, true], &mut o, 0.0, |a, b| a + b);
        assert_eq!(o, [6.0, 22.0, 38.0, 54.0, 70.0, 86.0]);
        let mut o = vec![0.0; 3];
        reduce(&x, &[2, 3, 4], &[true, false, true], &mut o, 0.0, |a, b| a + b);
        assert_eq!(o, [60.0, 92.0, 124.0]);
        let mut o = vec![0.0; 1];
        reduce(&x, &[2, 3, 4], &[true, true, true], &mut o, f64::NEG_INFINITY, f64::max);
        assert_eq!(o, [23.0]);
    }

    #[test]
    fn a_full_sum_splits_the_same_way_on_any_number_of_threads() {
        // Σ_{i<n} i = n(n − 1)/2 = 7 199 940 000 for n = 300·400: every partial sum is an integer
        // below 2⁵³, so exact in f64, and the result is that value rounded to f32 once.
        let (rows, inner) = (300, 400);
        let x: Vec<f32> = (0..rows * inner).map(|i| i as f32).collect();
        let want = (rows * inner * (rows * inner - 1) / 2) as f64 as f32;
        let mut bits = Vec::new();
        for threads in [1, 2, 3] {
            let pool = crate::team::KernelTeam::new(threads);
            let mut out = [0f32];
            pool.lead(|| sum(&x, &[rows, inner], &[true, true], &mut out));
            assert_eq!(out[0], want);
            // Fractional values round differently per grouping: the bits must still agree.
            let y: Vec<f32> = (0..rows * inner).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 + 0.1).collect();
            pool.lead(|| sum(&y, &[rows, inner], &[true, true], &mut out));
            bits.push(out[0].to_bits());
        }
        assert!(bits.windows(2).all(|w| w[0] == w[1]), "{bits:?}");
    }
}
