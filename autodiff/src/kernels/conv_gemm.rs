//! Convolution and its two gradients as GEMMs over blocks of patches, never materialising the
//! whole patch matrix.
//!
//! With `P = im2col(x)` (`[rows, K]`, one row per output position, `K = taps · C_in`) and the
//! kernel `W` as a `[K, C_out]` matrix:
//!
//! * [`conv_forward`]: `y = P @ W`;
//! * [`conv_backprop_input`]: `gx = col2im(gy @ Wᵀ)`;
//! * [`conv_backprop_filter`]: `gW = Pᵀ @ gy`.
//!
//! `P` is as large as the input times the taps (13 MB for a 64-example batch of 8×8 outputs
//! with 5×5×32 patches): built whole, it is written, read back by the GEMM, and read again by
//! the gradient, all from main memory. Here each block of rows of `P` (or of `gy @ Wᵀ`) is
//! built in a per-thread scratch buffer that stays in cache and consumed right away.
//!
//! Determinism: `conv_forward` and `conv_backprop_input` split their outputs into fixed blocks
//! (whole examples for the scatter-adding `col2im`), each computed by one thread in a fixed
//! order. `conv_backprop_filter` sums the blocks one after the other into the output (the GEMM
//! itself is split over output rows or columns only). Results do not depend on the number of
//! threads.

use std::any::Any;
use std::cell::RefCell;

use rayon::prelude::*;

use super::conv::{col2im_rows, im2col_rows, Window};
use super::matmul::{gemm, MatRef};
use super::{serial, should_par, threads, CHUNK};
use crate::scalar::Scalar;

/// Target size of a block of patches, in elements: 512 KiB of `f32`, well inside a core's
/// private cache alongside the GEMM's packed panels.
const BLOCK: usize = 1 << 17;

/// Below this many multiply-adds a convolution runs on one thread.
const PAR_MACS: usize = 1 << 20;

/// Sizes of one convolution: `outer` examples, the resolved window, channels in and out.
#[derive(Clone, Copy, Debug)]
pub struct ConvDims<'a> {
    /// Examples.
    pub outer: usize,
    /// The window over the spatial axes.
    pub window: &'a Window,
    /// Input channels.
    pub c_in: usize,
    /// Output channels (filters).
    pub c_out: usize,
}

impl ConvDims<'_> {
    /// Values per patch, `taps · C_in`.
    fn k(&self) -> usize {
        self.window.taps_per_window() * self.c_in
    }
    /// Patch rows, one per output position of every example.
    fn rows(&self) -> usize {
        self.outer * self.window.out_size()
    }
    /// Rows per block.
    fn block_rows(&self) -> usize {
        (BLOCK / self.k().max(1)).max(16)
    }
    fn macs(&self) -> usize {
        self.rows() * self.k() * self.c_out
    }
    fn parallel(&self) -> bool {
        threads() > 1 && self.macs() >= PAR_MACS
    }
}

std::thread_local! {
    static SCRATCH_F32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static SCRATCH_F64: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Moves the calling thread's scratch buffer for `F` out of (`take`) or back into its slot.
fn swap_scratch<F: Scalar>(buf: &mut Vec<F>) {
    // The whole `Vec` is swapped (its allocation is what is kept), hence `&mut Vec`.
    #[allow(clippy::ptr_arg)]
    fn swap<T: 'static, F: 'static>(cell: &'static std::thread::LocalKey<RefCell<Vec<T>>>, buf: &mut Vec<F>) -> bool {
        match (buf as &mut dyn Any).downcast_mut::<Vec<T>>() {
            Some(b) => {
                cell.with(|c| std::mem::swap(&mut *c.borrow_mut(), b));
                true
            }
            None => false,
        }
    }
    let _ = swap(&SCRATCH_F32, buf) || swap(&SCRATCH_F64, buf);
}

/// Runs `f` on a scratch slice of `len` elements, reusing a per-thread buffer so that runs
/// after the first allocate nothing. A nested call (e.g. from a task stolen while `f` waits)
/// finds the slot empty and uses a buffer of its own.
fn with_scratch<F: Scalar, R>(len: usize, f: impl FnOnce(&mut [F]) -> R) -> R {
    let mut buf = Vec::new();
    swap_scratch(&mut buf);
    if buf.len() < len {
        buf.resize(len, F::zero());
    }
    let r = f(&mut buf[..len]);
    let ours = buf.len();
    swap_scratch(&mut buf);
    // A nested call refilled the slot meanwhile: keep the larger of the two buffers.
    if buf.len() > ours {
        swap_scratch(&mut buf);
    }
    r
}

/// Whether the patches are the input's own rows (one tap, unit strides, no padding), so the
/// GEMMs read `x` directly.
fn pointwise(w: &Window) -> bool {
    w.is_pointwise()
}

/// `y = im2col(x) @ W`: `x` is `[outer, L..., C_in]`, `kernel` `[K, C_out]` (a TF kernel
/// `[k..., C_in, C_out]`), `y` `[outer, O..., C_out]`.
pub fn conv_forward<F: Scalar>(x: &[F], kernel: &[F], d: &ConvDims<'_>, y: &mut [F]) {
    let (k, c_out, rows) = (d.k(), d.c_out, d.rows());
    debug_assert_eq!(x.len(), d.outer * d.window.in_size() * d.c_in);
    debug_assert_eq!(kernel.len(), k * c_out);
    debug_assert_eq!(y.len(), rows * c_out);
    if y.is_empty() {
        return;
    }
    let w = MatRef::new(kernel, k, c_out, false);
    if pointwise(d.window) {
        gemm(MatRef::new(x, rows, k, false), w, F::zero(), y);
        return;
    }
    let br = d.block_rows();
    let run = |b: usize, yb: &mut [F]| {
        let nr = yb.len() / c_out;
        with_scratch(nr * k, |cols: &mut [F]| {
            im2col_rows(x, d.window, d.c_in, b * br, cols);
            gemm(MatRef::new(cols, nr, k, false), w, F::zero(), yb);
        });
    };
    if d.parallel() && rows > br {
        y.par_chunks_mut(br * c_out).enumerate().for_each(|(b, yb)| serial(|| run(b, yb)));
    } else {
        y.chunks_mut(br * c_out).enumerate().for_each(|(b, yb)| run(b, yb));
    }
}

/// `gx = col2im(gy @ Wᵀ)`: `gy` is `[outer, O..., C_out]`, `kernel` `[K, C_out]`, `gx`
/// `[outer, L..., C_in]`.
pub fn conv_backprop_input<F: Scalar>(gy: &[F], kernel: &[F], d: &ConvDims<'_>, gx: &mut [F]) {
    let (k, c_out, rows) = (d.k(), d.c_out, d.rows());
    let (p, in_block) = (d.window.out_size(), d.window.in_size() * d.c_in);
    debug_assert_eq!(gy.len(), rows * c_out);
    debug_assert_eq!(kernel.len(), k * c_out);
    debug_assert_eq!(gx.len(), d.outer * in_block);
    if gx.is_empty() {
        return;
    }
    let wt = MatRef::new(kernel, k, c_out, true);
    if pointwise(d.window) {
        gemm(MatRef::new(gy, rows, c_out, false), wt, F::zero(), gx);
        return;
    }
    let br = d.block_rows();
    // Whole examples per task, since col2im adds overlapping patches into one example.
    let per = (br / p.max(1)).max(1);
    let run = |n0: usize, chunk: &mut [F]| {
        chunk.fill(F::zero());
        let (r0, r1) = (n0 * p, (n0 + chunk.len() / in_block) * p);
        with_scratch(br.min(r1 - r0) * k, |cols: &mut [F]| {
            for s in (r0..r1).step_by(br) {
                let nr = br.min(r1 - s);
                let c = &mut cols[..nr * k];
                gemm(MatRef::new(&gy[s * c_out..(s + nr) * c_out], nr, c_out, false), wt, F::zero(), c);
                col2im_rows(c, d.window, d.c_in, s, n0, chunk);
            }
        });
    };
    if d.parallel() && d.outer > per {
        gx.par_chunks_mut(per * in_block).enumerate().for_each(|(i, chunk)| serial(|| run(i * per, chunk)));
    } else {
        gx.chunks_mut(per * in_block).enumerate().for_each(|(i, chunk)| run(i * per, chunk));
    }
}

/// `gW = im2col(x)ᵀ @ gy`: `x` is `[outer, L..., C_in]`, `gy` `[outer, O..., C_out]`, `gk`
/// `[K, C_out]`.
pub fn conv_backprop_filter<F: Scalar>(x: &[F], gy: &[F], d: &ConvDims<'_>, gk: &mut [F]) {
    let (k, c_out, rows) = (d.k(), d.c_out, d.rows());
    debug_assert_eq!(x.len(), d.outer * d.window.in_size() * d.c_in);
    debug_assert_eq!(gy.len(), rows * c_out);
    debug_assert_eq!(gk.len(), k * c_out);
    if gk.is_empty() {
        return;
    }
    if rows == 0 {
        gk.fill(F::zero());
        return;
    }
    if pointwise(d.window) {
        gemm(MatRef::new(x, rows, k, true), MatRef::new(gy, rows, c_out, false), F::zero(), gk);
        return;
    }
    let br = d.block_rows();
    let par = d.parallel();
    with_scratch(br.min(rows) * k, |cols: &mut [F]| {
        for (b, s) in (0..rows).step_by(br).enumerate() {
            let nr = br.min(rows - s);
            let c = &mut cols[..nr * k];
            if par && should_par(c.len()) {
                let sub = (CHUNK / k).max(1);
                c.par_chunks_mut(sub * k)
                    .enumerate()
                    .for_each(|(j, cc)| im2col_rows(x, d.window, d.c_in, s + j * sub, cc));
            } else {
                im2col_rows(x, d.window, d.c_in, s, c);
            }
            let g = MatRef::new(&gy[s * c_out..(s + nr) * c_out], nr, c_out, false);
            gemm(MatRef::new(c, nr, k, true), g, if b == 0 { F::zero() } else { F::one() }, gk);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::{ConvGeometry, DataFormat, Padding};
    use crate::kernels::conv::{col2im, im2col};

    fn window(spatial: &[usize], k: &[usize], s: &[usize], dil: &[usize], p: Padding) -> Window {
        let g = ConvGeometry::new(s, dil, p, DataFormat::ChannelsLast);
        Window::new(&g.resolve(spatial, k).unwrap())
    }

    fn pseudo(n: usize, salt: usize) -> Vec<f64> {
        (0..n).map(|i| (((i + salt) * 7919) % 101) as f64 / 50.0 - 1.0).collect()
    }

    fn naive_gemm(a: &[f64], m: usize, k: usize, b: &[f64], n: usize, ta: bool) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let av = if ta { a[p * m + i] } else { a[i * k + p] };
                    c[i * n + j] += av * b[p * n + j];
                }
            }
        }
        c
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn blocked_kernels_match_whole_patch_matrix() {
        // Against im2col / col2im of the whole batch and plain GEMMs; the sizes make the
        // blocks cut through examples and lines (several blocks per example for the largest).
        for (sp, ks, s, dil, p, c_in, c_out, outer) in [
            (vec![9, 8], vec![3, 3], vec![1, 1], vec![1, 1], Padding::Same, 3, 4, 3),
            (vec![12, 12], vec![5, 5], vec![1, 1], vec![1, 1], Padding::Valid, 32, 5, 2),
            (vec![7], vec![3], vec![2], vec![1], Padding::Same, 2, 3, 5),
            (vec![6, 5], vec![2, 2], vec![1, 1], vec![2, 1], Padding::Valid, 2, 2, 2),
            (vec![4, 4, 3], vec![2, 2, 2], vec![1, 2, 1], vec![1, 1, 1], Padding::Same, 2, 3, 2),
            (vec![5, 4], vec![1, 1], vec![1, 1], vec![1, 1], Padding::Valid, 3, 2, 2),
            (vec![40, 40], vec![3, 3], vec![1, 1], vec![1, 1], Padding::Same, 40, 3, 1),
        ] {
            let w = window(&sp, &ks, &s, &dil, p);
            let d = ConvDims { outer, window: &w, c_in, c_out };
            let (k, rows) = (d.k(), d.rows());
            let x = pseudo(outer * w.in_size() * c_in, 1);
            let kern = pseudo(k * c_out, 2);
            let gy = pseudo(rows * c_out, 3);
            let mut cols = vec![0.0; rows * k];
            im2col(&x, outer, &w, c_in, &mut cols);

            let mut y = vec![f64::NAN; rows * c_out];
            conv_forward(&x, &kern, &d, &mut y);
            close(&y, &naive_gemm(&cols, rows, k, &kern, c_out, false));

            let mut gk = vec![f64::NAN; k * c_out];
            conv_backprop_filter(&x, &gy, &d, &mut gk);
            close(&gk, &naive_gemm(&cols, k, rows, &gy, c_out, true));

            // gy @ Wᵀ, then col2im.
            let mut kt = vec![0.0; k * c_out];
            for i in 0..k {
                for j in 0..c_out {
                    kt[j * k + i] = kern[i * c_out + j];
                }
            }
            let gcols = naive_gemm(&gy, rows, c_out, &kt, k, false);
            let mut want = vec![0.0; x.len()];
            col2im(&gcols, outer, &w, c_in, &mut want);
            let mut gx = vec![f64::NAN; x.len()];
            conv_backprop_input(&gy, &kern, &d, &mut gx);
            close(&gx, &want);
        }
    }

    #[test]
    fn blocked_kernels_are_bit_identical_across_threads() {
        let w = window(&[14, 14], &[5, 5], &[1, 1], &[1, 1], Padding::Same);
        let (outer, c_in, c_out) = (6, 16, 8);
        let d = ConvDims { outer, window: &w, c_in, c_out };
        let x: Vec<f32> = pseudo(outer * w.in_size() * c_in, 4).iter().map(|&v| v as f32).collect();
        let kern: Vec<f32> = pseudo(d.k() * c_out, 5).iter().map(|&v| v as f32).collect();
        let gy: Vec<f32> = pseudo(d.rows() * c_out, 6).iter().map(|&v| v as f32).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut y = vec![0.0f32; d.rows() * c_out];
                conv_forward(&x, &kern, &d, &mut y);
                let mut gx = vec![0.0f32; x.len()];
                conv_backprop_input(&gy, &kern, &d, &mut gx);
                let mut gk = vec![0.0f32; kern.len()];
                conv_backprop_filter(&x, &gy, &d, &mut gk);
                (y, gx, gk)
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}
