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
//! order. `conv_backprop_filter` sums fixed ranges of rows into partial sums (one thread each,
//! blocks in order) and adds the partials in order. The ranges depend on the shapes only, so
//! results do not depend on the number of threads.
//!
//! Patches of at most 32 values (first layers: one or three channels) are multiplied by
//! register-tiled loops on L1-sized chunks instead: a GEMM's packing and short inner loops
//! would cost more than the arithmetic.
//!
//! Scratch buffers are kept per thread and reused, so only a thread's first convolution (or a
//! larger one) allocates.

use std::any::Any;
use std::cell::RefCell;

use super::conv::{col2im_rows, im2col_rows, Window};
use super::matmul::{gemm, MatRef};
use super::{serial, should_par, threads, CHUNK};
use crate::scalar::Scalar;
use crate::team::for_each_chunk_mut;

/// Largest block of patches, in elements: 1 MiB of `f32`, inside a core's private cache
/// alongside the GEMM's packed panels.
const BLOCK: usize = 1 << 18;

/// Longest patch (`taps · C_in`) for the small-patch kernels.
const SMALL_K: usize = 32;

/// Rows of patches per chunk in the small-patch kernels: a few KiB that stay in L1.
const SMALL_ROWS: usize = 128;

/// Rows (rounded up to whole blocks) per partial sum of [`conv_backprop_filter`]: fixed, so
/// the sums do not depend on the number of threads.
const PARTIAL_ROWS: usize = 512;

/// Rows, patch entries and output channels per register tile of the small-patch kernels.
const TILE_ROWS: usize = 8;
const TILE_K: usize = 6;
const TILE_LANES: usize = 16;

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
    /// Rows per block: a patch block of about [`BLOCK`] values, or for short patches (which
    /// are built in smaller chunks anyway) enough rows to keep threads evenly loaded.
    fn block_rows(&self) -> usize {
        if self.small() {
            PARTIAL_ROWS
        } else {
            // A power of two (at least 64): whole panels of the GEMM's row blocking, so no
            // block ends in a partial tile, and batches of power-of-two sizes split evenly.
            let r = (BLOCK / self.k().max(1)).max(64);
            1 << (usize::BITS - 1 - r.leading_zeros())
        }
    }
    /// Whether patches are short enough (first layers: one or three channels) that a GEMM's
    /// packing and short inner loops cost more than the arithmetic, so the register-blocked
    /// kernels below run instead.
    fn small(&self) -> bool {
        self.k() <= SMALL_K
    }
    fn macs(&self) -> usize {
        self.rows() * self.k() * self.c_out
    }
    fn parallel(&self) -> bool {
        threads() > 1 && self.macs() >= PAR_MACS
    }
}

std::thread_local! {
    static SCRATCH_F32: [RefCell<Vec<f32>>; 2] = const { [RefCell::new(Vec::new()), RefCell::new(Vec::new())] };
    static SCRATCH_F64: [RefCell<Vec<f64>>; 2] = const { [RefCell::new(Vec::new()), RefCell::new(Vec::new())] };
}

/// Swaps `buf` with the calling thread's scratch buffer `slot` for `F`.
fn swap_scratch<F: Scalar>(slot: usize, buf: &mut Vec<F>) {
    // The whole `Vec` is swapped (its allocation is what is kept), hence `&mut Vec`.
    #[allow(clippy::ptr_arg)]
    fn swap<T: 'static, F: 'static>(
        cells: &'static std::thread::LocalKey<[RefCell<Vec<T>>; 2]>,
        slot: usize,
        buf: &mut Vec<F>,
    ) -> bool {
        match (buf as &mut dyn Any).downcast_mut::<Vec<T>>() {
            Some(b) => {
                cells.with(|c| std::mem::swap(&mut *c[slot].borrow_mut(), b));
                true
            }
            None => false,
        }
    }
    let _ = swap(&SCRATCH_F32, slot, buf) || swap(&SCRATCH_F64, slot, buf);
}

/// Runs `f` on a scratch slice of `len` elements, reusing the calling thread's buffer `slot`
/// (0: patches, 1: partial sums) so that runs after the first allocate nothing. A nested call
/// on the same slot (e.g. from a task stolen while `f` waits) finds it empty and uses a buffer
/// of its own.
fn with_scratch<F: Scalar, R>(slot: usize, len: usize, f: impl FnOnce(&mut [F]) -> R) -> R {
    let mut buf = Vec::new();
    swap_scratch(slot, &mut buf);
    if buf.len() < len {
        buf.resize(len, F::zero());
    }
    let r = f(&mut buf[..len]);
    let ours = buf.len();
    swap_scratch(slot, &mut buf);
    // A nested call refilled the slot meanwhile: keep the larger of the two buffers.
    if buf.len() > ours {
        swap_scratch(slot, &mut buf);
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
    let small = d.small();
    let run = |b: usize, yb: &mut [F]| {
        let nr = yb.len() / c_out;
        if small {
            with_scratch(0, SMALL_ROWS.min(nr) * k, |cols: &mut [F]| {
                for (j, ys) in yb.chunks_mut(SMALL_ROWS * c_out).enumerate() {
                    let c = &mut cols[..ys.len() / c_out * k];
                    im2col_rows(x, d.window, d.c_in, b * br + j * SMALL_ROWS, c);
                    small_forward(c, k, kernel, c_out, ys);
                }
            });
            return;
        }
        with_scratch(0, nr * k, |cols: &mut [F]| {
            im2col_rows(x, d.window, d.c_in, b * br, cols);
            gemm(MatRef::new(cols, nr, k, false), w, F::zero(), yb);
        });
    };
    if d.parallel() && rows > br {
        for_each_chunk_mut(y, br * c_out, |b, yb| serial(|| run(b, yb)));
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
        with_scratch(0, br.min(r1 - r0) * k, |cols: &mut [F]| {
            for s in (r0..r1).step_by(br) {
                let nr = br.min(r1 - s);
                let c = &mut cols[..nr * k];
                gemm(MatRef::new(&gy[s * c_out..(s + nr) * c_out], nr, c_out, false), wt, F::zero(), c);
                col2im_rows(c, d.window, d.c_in, s, n0, chunk);
            }
        });
    };
    if d.parallel() && d.outer > per {
        for_each_chunk_mut(gx, per * in_block, |i, chunk| serial(|| run(i * per, chunk)));
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
    // Rows are summed in fixed ranges, each into its own partial (in parallel), and the
    // partials are added in order: the ranges depend on the shape only, never on the threads.
    let small = d.small();
    let chunk = if small { SMALL_ROWS } else { d.block_rows() };
    let per_part = chunk * PARTIAL_ROWS.div_ceil(chunk);
    let parts = rows.div_ceil(per_part);
    let kn = k * c_out;
    let run = |p: usize, acc: &mut [F]| {
        let (r0, r1) = (p * per_part, ((p + 1) * per_part).min(rows));
        with_scratch(0, chunk.min(r1 - r0) * k, |cols: &mut [F]| {
            for (b, s) in (r0..r1).step_by(chunk).enumerate() {
                let nr = chunk.min(r1 - s);
                let c = &mut cols[..nr * k];
                im2col_rows(x, d.window, d.c_in, s, c);
                let g = &gy[s * c_out..(s + nr) * c_out];
                if small {
                    if b == 0 {
                        acc.fill(F::zero());
                    }
                    small_filter(c, k, g, c_out, acc);
                } else {
                    let beta = if b == 0 { F::zero() } else { F::one() };
                    gemm(MatRef::new(c, nr, k, true), MatRef::new(g, nr, c_out, false), beta, acc);
                }
            }
        });
    };
    if parts == 1 {
        run(0, gk);
        return;
    }
    with_scratch(1, parts * kn, |partial: &mut [F]| {
        if d.parallel() {
            for_each_chunk_mut(partial, kn, |p, acc| serial(|| run(p, acc)));
        } else {
            partial.chunks_mut(kn).enumerate().for_each(|(p, acc)| run(p, acc));
        }
        // Each output adds its partials in order, whatever the chunking.
        let sum = |j: usize, out: &mut [F]| {
            let len = out.len();
            out.copy_from_slice(&partial[j..j + len]);
            for part in partial[kn..].chunks_exact(kn) {
                for (g, &v) in out.iter_mut().zip(&part[j..j + len]) {
                    *g = *g + v;
                }
            }
        };
        if d.parallel() && should_par(kn) {
            for_each_chunk_mut(gk, CHUNK, |i, out| sum(i * CHUNK, out));
        } else {
            sum(0, gk);
        }
    });
}

/// `y = cols @ w` for short rows: `cols` `[rows, k]`, `w` `[k, n]`, `y` `[rows, n]`, in
/// register tiles of [`TILE_ROWS`] rows × up to [`TILE_LANES`] outputs.
fn small_forward<F: Scalar>(cols: &[F], k: usize, w: &[F], n: usize, y: &mut [F]) {
    let rows = y.len() / n;
    let mut r = 0;
    while r + TILE_ROWS <= rows {
        forward_rows::<F, TILE_ROWS>(&cols[r * k..(r + TILE_ROWS) * k], k, w, n, &mut y[r * n..(r + TILE_ROWS) * n]);
        r += TILE_ROWS;
    }
    for r in r..rows {
        forward_rows::<F, 1>(&cols[r * k..(r + 1) * k], k, w, n, &mut y[r * n..(r + 1) * n]);
    }
}

#[inline(always)]
fn forward_rows<F: Scalar, const R: usize>(cols: &[F], k: usize, w: &[F], n: usize, y: &mut [F]) {
    let a: [&[F]; R] = std::array::from_fn(|r| &cols[r * k..(r + 1) * k]);
    let mut f0 = 0;
    while f0 + TILE_LANES <= n {
        forward_tile::<F, R, TILE_LANES>(&a, w, n, f0, y);
        f0 += TILE_LANES;
    }
    while f0 + 8 <= n {
        forward_tile::<F, R, 8>(&a, w, n, f0, y);
        f0 += 8;
    }
    for f in f0..n {
        forward_tile::<F, R, 1>(&a, w, n, f, y);
    }
}

/// Outputs `f0..f0 + L` of the `R` rows `a`.
#[inline(always)]
fn forward_tile<F: Scalar, const R: usize, const L: usize>(a: &[&[F]; R], w: &[F], n: usize, f0: usize, y: &mut [F]) {
    let mut acc = [[F::zero(); L]; R];
    for (kk, wrow) in w.chunks_exact(n).enumerate() {
        let wv: &[F; L] = wrow[f0..f0 + L].try_into().expect("invariant: L lanes");
        for (s, ar) in acc.iter_mut().zip(a) {
            let av = ar[kk];
            for (sl, &wl) in s.iter_mut().zip(wv) {
                *sl = av.mul_add(wl, *sl);
            }
        }
    }
    for (r, s) in acc.iter().enumerate() {
        y[r * n + f0..][..L].copy_from_slice(s);
    }
}

/// `acc += colsᵀ @ g` for short rows: `cols` `[rows, k]`, `g` `[rows, n]`, `acc` `[k, n]`, in
/// register tiles of [`TILE_K`] patch entries × up to [`TILE_LANES`] outputs.
fn small_filter<F: Scalar>(cols: &[F], k: usize, g: &[F], n: usize, acc: &mut [F]) {
    let mut k0 = 0;
    while k0 + TILE_K <= k {
        filter_rows::<F, TILE_K>(cols, k, g, n, k0, acc);
        k0 += TILE_K;
    }
    for kk in k0..k {
        filter_rows::<F, 1>(cols, k, g, n, kk, acc);
    }
}

#[inline(always)]
fn filter_rows<F: Scalar, const KR: usize>(cols: &[F], k: usize, g: &[F], n: usize, k0: usize, acc: &mut [F]) {
    let mut f0 = 0;
    while f0 + TILE_LANES <= n {
        filter_tile::<F, KR, TILE_LANES>(cols, k, g, n, k0, f0, acc);
        f0 += TILE_LANES;
    }
    while f0 + 8 <= n {
        filter_tile::<F, KR, 8>(cols, k, g, n, k0, f0, acc);
        f0 += 8;
    }
    for f in f0..n {
        filter_tile::<F, KR, 1>(cols, k, g, n, k0, f, acc);
    }
}

/// Entries `k0..k0 + KR` × outputs `f0..f0 + L` of `acc`, summed over all rows in order.
// Compiled on its own: inlined into the row loops, LLVM vectorized across rows (with gathers)
// instead of keeping the accumulators in vector registers, about ten times slower.
#[inline(never)]
fn filter_tile<F: Scalar, const KR: usize, const L: usize>(
    cols: &[F],
    k: usize,
    g: &[F],
    n: usize,
    k0: usize,
    f0: usize,
    acc: &mut [F],
) {
    let mut t = [[F::zero(); L]; KR];
    for (row, gr) in cols.chunks_exact(k).zip(g.chunks_exact(n)) {
        let gv: &[F; L] = gr[f0..f0 + L].try_into().expect("invariant: L lanes");
        let av: &[F; KR] = row[k0..k0 + KR].try_into().expect("invariant: KR entries");
        for (ti, &a) in t.iter_mut().zip(av) {
            for (s, &gl) in ti.iter_mut().zip(gv) {
                *s = a.mul_add(gl, *s);
            }
        }
    }
    for (i, ti) in t.iter().enumerate() {
        for (d, &v) in acc[(k0 + i) * n + f0..][..L].iter_mut().zip(ti) {
            *d = *d + v;
        }
    }
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
            // Short patches (the register-tiled kernels) over more rows than one partial sum.
            (vec![40, 40], vec![3, 3], vec![1, 1], vec![1, 1], Padding::Same, 2, 21, 2),
            (vec![28, 28], vec![5, 5], vec![1, 1], vec![1, 1], Padding::Valid, 1, 32, 5),
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
        // Long patches (blocked GEMMs) and short ones (register tiles, partial sums).
        for (c_in, c_out) in [(16, 8), (1, 20)] {
            bit_identical(c_in, c_out);
        }
    }

    fn bit_identical(c_in: usize, c_out: usize) {
        let w = window(&[14, 14], &[5, 5], &[1, 1], &[1, 1], Padding::Same);
        let outer = 16;
        let d = ConvDims { outer, window: &w, c_in, c_out };
        let x: Vec<f32> = pseudo(outer * w.in_size() * c_in, 4).iter().map(|&v| v as f32).collect();
        let kern: Vec<f32> = pseudo(d.k() * c_out, 5).iter().map(|&v| v as f32).collect();
        let gy: Vec<f32> = pseudo(d.rows() * c_out, 6).iter().map(|&v| v as f32).collect();
        let run = |threads: usize| {
            let pool = crate::team::KernelTeam::new(threads);
            pool.lead(|| {
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
