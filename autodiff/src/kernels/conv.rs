//! Sliding-window kernels: im2col and its adjoint col2im (convolution as a GEMM), max and
//! average pooling and their gradients.
//!
//! Every kernel sees its tensor as `[outer, L0, L1, L2, inner]`: up to three spatial axes
//! (lower ranks are padded in front with trivial axes, see [`Window`]) between a leading block
//! (the batch, or batch × channels for a channels-first layout) and a contiguous trailing block
//! (the channels, or 1). Window taps are visited in row-major order over `(t0, t1, t2)`.
//!
//! Kernels that gather (each output block computed on its own) split their output into fixed
//! chunks of whole blocks; kernels that scatter-add into the input's shape split by whole
//! `outer` blocks, inside which the accumulation order is fixed. Either way results are
//! bit-identical for any number of threads.

use smallvec::SmallVec;

use super::{should_par, CHUNK};
use crate::conv_geometry::SpatialAxis;
use crate::scalar::Scalar;
use crate::team::for_each_chunk_mut;

/// Up to three resolved spatial axes, padded in front with [`SpatialAxis::UNIT`].
#[derive(Clone, Copy, Debug)]
pub struct Window {
    axes: [SpatialAxis; 3],
}

/// The taps of one window position that land inside the input: per axis, the input index of
/// tap 0 and the valid tap range.
#[derive(Clone, Copy, Debug)]
struct Taps {
    start: [isize; 3],
    lo: [usize; 3],
    hi: [usize; 3],
}

impl Window {
    /// A window over the given axes (at most three).
    pub fn new(axes: &[SpatialAxis]) -> Self {
        assert!(axes.len() <= 3, "invariant: at most three spatial axes");
        let mut a = [SpatialAxis::UNIT; 3];
        a[3 - axes.len()..].copy_from_slice(axes);
        Window { axes: a }
    }
    /// Input positions per `outer` block (`L0·L1·L2`).
    pub fn in_size(&self) -> usize {
        self.axes.iter().map(|a| a.len).product()
    }
    /// Output positions per `outer` block (`O0·O1·O2`).
    pub fn out_size(&self) -> usize {
        self.axes.iter().map(|a| a.out).product()
    }
    /// Whether no two windows share an input position: along every axis the window's extent
    /// is at most its stride.
    pub fn disjoint(&self) -> bool {
        self.axes.iter().all(|a| a.out <= 1 || (a.kernel - 1) * a.dilation < a.stride)
    }
    /// Whether the windows, without padding, cover every input position exactly once (dense
    /// taps, strides equal to the window, and nothing left over).
    pub fn tiles_input(&self) -> bool {
        self.axes
            .iter()
            .all(|a| a.pad_before == 0 && a.dilation == 1 && a.kernel == a.stride && a.out * a.stride == a.len)
    }
    /// Whether every window is a single tap at its own position (unit windows and strides), so
    /// the patches of an input are the input itself.
    pub fn is_pointwise(&self) -> bool {
        self.axes.iter().all(|a| a.kernel == 1 && a.stride == 1 && a.pad_before == 0 && a.out == a.len)
    }
    /// Taps per window (`k0·k1·k2`).
    pub fn taps_per_window(&self) -> usize {
        self.axes.iter().map(|a| a.kernel).product()
    }
    /// The taps of output position `(o0, o1, ·)`; the last axis is filled in by
    /// [`Self::set_last`].
    #[inline]
    fn row_taps(&self, o0: usize, o1: usize) -> Taps {
        let (s0, l0, h0) = self.axes[0].taps(o0);
        let (s1, l1, h1) = self.axes[1].taps(o1);
        Taps { start: [s0, s1, 0], lo: [l0, l1, 0], hi: [h0, h1, 0] }
    }
    #[inline]
    fn set_last(&self, tp: &mut Taps, o2: usize) {
        let (s2, l2, h2) = self.axes[2].taps(o2);
        (tp.start[2], tp.lo[2], tp.hi[2]) = (s2, l2, h2);
    }
    /// Calls `f(o, taps)` for every output position `o` of one `outer` block, in order.
    #[inline]
    fn for_each_position(&self, mut f: impl FnMut(usize, &Taps)) {
        let mut o = 0;
        for o0 in 0..self.axes[0].out {
            for o1 in 0..self.axes[1].out {
                let mut tp = self.row_taps(o0, o1);
                for o2 in 0..self.axes[2].out {
                    self.set_last(&mut tp, o2);
                    f(o, &tp);
                    o += 1;
                }
            }
        }
    }
    /// Input position (within an `outer` block) of tap `t` on axis `a`, for a tap known valid.
    #[inline]
    fn pos(&self, tp: &Taps, a: usize, t: usize) -> usize {
        (tp.start[a] + (t * self.axes[a].dilation) as isize) as usize
    }
    /// Calls `f(p)` for the input position `p` (within an `outer` block) of every valid tap, in
    /// window order.
    #[inline]
    fn for_each_tap(&self, tp: &Taps, mut f: impl FnMut(usize)) {
        let (l1, l2) = (self.axes[1].len, self.axes[2].len);
        for t0 in tp.lo[0]..tp.hi[0] {
            let p0 = self.pos(tp, 0, t0);
            for t1 in tp.lo[1]..tp.hi[1] {
                let row = (p0 * l1 + self.pos(tp, 1, t1)) * l2;
                for t2 in tp.lo[2]..tp.hi[2] {
                    f(row + self.pos(tp, 2, t2));
                }
            }
        }
    }
    /// Number of valid taps.
    #[inline]
    fn count(tp: &Taps) -> usize {
        (0..3).map(|a| tp.hi[a] - tp.lo[a]).product()
    }
}

/// Runs `f(i, block)` on every `block`-sized piece of `out`, in fixed chunks across threads when
/// the output is large.
fn for_blocks<F: Send>(out: &mut [F], block: usize, f: impl Fn(usize, &mut [F]) + Sync) {
    if block == 0 || out.is_empty() {
        return;
    }
    if should_par(out.len()) {
        let per = (CHUNK / block).max(1);
        for_each_chunk_mut(out, per * block, |c, chunk| {
            for (j, b) in chunk.chunks_exact_mut(block).enumerate() {
                f(c * per + j, b);
            }
        });
    } else {
        for (i, b) in out.chunks_exact_mut(block).enumerate() {
            f(i, b);
        }
    }
}

/// Runs `f(n, taps, block)` for every output position of every `outer` block `n`, where
/// `block` is the position's `per_pos`-sized piece of `out` (`[outer, O0, O1, O2, per_pos]`).
/// Rows along the last axis are the unit of work, so the first two axes are resolved once per
/// row.
fn for_positions<F: Send>(out: &mut [F], w: &Window, per_pos: usize, f: impl Fn(usize, &Taps, &mut [F]) + Sync) {
    let [a0, a1, a2] = &w.axes;
    let rows = a0.out * a1.out;
    for_blocks(out, a2.out * per_pos, |row, dst| {
        let (n, r) = (row / rows, row % rows);
        let mut tp = w.row_taps(r / a1.out, r % a1.out);
        for (o2, b) in dst.chunks_exact_mut(per_pos).enumerate() {
            w.set_last(&mut tp, o2);
            f(n, &tp, b);
        }
    });
}

/// Runs `f(first_outer, chunk)` over chunks of whole `per_outer`-sized blocks of `out` (a
/// tensor of the input's shape), across threads when `work` is large.
fn for_outer<F: Send>(out: &mut [F], per_outer: usize, work: usize, f: impl Fn(usize, &mut [F]) + Sync) {
    if per_outer == 0 || out.is_empty() {
        return;
    }
    let outer = out.len() / per_outer;
    if outer > 1 && should_par(work) {
        let per = (CHUNK / per_outer).max(1);
        for_each_chunk_mut(out, per * per_outer, |c, chunk| f(c * per, chunk));
    } else {
        f(0, out);
    }
}

#[inline]
fn add_into<F: Scalar>(dst: &mut [F], src: &[F]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = *d + s;
    }
}

/// The patch (`[k0, k1, k2, c]`, row-major) of window `tp` over the `outer` block `xb`.
#[inline]
fn fill_patch<F: Scalar>(xb: &[F], w: &Window, c: usize, tp: &Taps, dst: &mut [F]) {
    let [_, a1, a2] = w.axes;
    let row2 = a2.kernel * c;
    let row1 = a1.kernel * row2;
    let zero = F::zero();
    let (lo, hi) = (tp.lo[2], tp.hi[2]);
    for (t0, d0) in dst.chunks_exact_mut(row1).enumerate() {
        if t0 < tp.lo[0] || t0 >= tp.hi[0] {
            d0.fill(zero);
            continue;
        }
        let p0 = w.pos(tp, 0, t0);
        for (t1, d1) in d0.chunks_exact_mut(row2).enumerate() {
            if t1 < tp.lo[1] || t1 >= tp.hi[1] || lo == hi {
                d1.fill(zero);
                continue;
            }
            let xrow = &xb[(p0 * a1.len + w.pos(tp, 1, t1)) * a2.len * c..][..a2.len * c];
            if lo > 0 {
                d1[..lo * c].fill(zero);
            }
            if hi < a2.kernel {
                d1[hi * c..].fill(zero);
            }
            if a2.dilation == 1 {
                let p = w.pos(tp, 2, lo);
                d1[lo * c..hi * c].copy_from_slice(&xrow[p * c..(p + hi - lo) * c]);
            } else {
                for t2 in lo..hi {
                    let p = w.pos(tp, 2, t2);
                    d1[t2 * c..(t2 + 1) * c].copy_from_slice(&xrow[p * c..(p + 1) * c]);
                }
            }
        }
    }
}

/// Adds the patch `src` of window `tp` back into the `outer` block `xb` (the adjoint of
/// [`fill_patch`]; taps in the padding are dropped).
#[inline]
fn add_patch<F: Scalar>(src: &[F], w: &Window, c: usize, tp: &Taps, xb: &mut [F]) {
    let [_, a1, a2] = w.axes;
    let row2 = a2.kernel * c;
    let row1 = a1.kernel * row2;
    let (lo, hi) = (tp.lo[2], tp.hi[2]);
    if lo == hi {
        return;
    }
    for t0 in tp.lo[0]..tp.hi[0] {
        let p0 = w.pos(tp, 0, t0);
        for t1 in tp.lo[1]..tp.hi[1] {
            let s1 = &src[t0 * row1 + t1 * row2..][..row2];
            let xrow = &mut xb[(p0 * a1.len + w.pos(tp, 1, t1)) * a2.len * c..][..a2.len * c];
            if a2.dilation == 1 {
                let p = w.pos(tp, 2, lo);
                add_into(&mut xrow[p * c..(p + hi - lo) * c], &s1[lo * c..hi * c]);
            } else {
                for t2 in lo..hi {
                    let p = w.pos(tp, 2, t2);
                    add_into(&mut xrow[p * c..(p + 1) * c], &s1[t2 * c..(t2 + 1) * c]);
                }
            }
        }
    }
}

/// Rows `row0..` of the patch matrix of `x` (see [`im2col`]) into `out`, which holds whole
/// rows of `taps · c` values, on the calling thread.
pub fn im2col_rows<F: Scalar>(x: &[F], w: &Window, c: usize, row0: usize, out: &mut [F]) {
    let block = w.taps_per_window() * c;
    let in_block = w.in_size() * c;
    if block == 0 {
        return;
    }
    let out_size = w.out_size();
    let [_, a1, a2] = w.axes;
    let inner = Interior::new(w, c);
    let mut rest = out;
    let mut r = row0;
    for run in RowRuns::new(rest.len() / block, row0, out_size, a2.out) {
        let (n, p) = (r / out_size, r % out_size);
        let (line, o2) = (p / a2.out, p % a2.out);
        let mut tp = w.row_taps(line / a1.out, line % a1.out);
        let xb = &x[n * in_block..][..in_block];
        let (dst, tail) = std::mem::take(&mut rest).split_at_mut(run * block);
        for (j, d) in dst.chunks_exact_mut(block).enumerate() {
            w.set_last(&mut tp, o2 + j);
            match inner.as_ref().and_then(|i| i.base(w, &tp)) {
                Some(base) => inner.as_ref().map_or((), |i| i.gather(xb, base, d)),
                None => fill_patch(xb, w, c, &tp, d),
            }
        }
        rest = tail;
        r += run;
    }
}

/// Offsets of the window rows of a patch whose taps all land inside the input (the common
/// case away from the borders), when the last axis is not dilated: the patch is then
/// `k0 · k1` contiguous runs of `k2 · c` values at fixed offsets from the window's first tap.
struct Interior {
    offs: SmallVec<[usize; 32]>,
    run: usize,
    c: usize,
}

impl Interior {
    fn new(w: &Window, c: usize) -> Option<Self> {
        let [a0, a1, a2] = w.axes;
        if a2.dilation != 1 {
            return None;
        }
        let mut offs = SmallVec::new();
        for t0 in 0..a0.kernel {
            for t1 in 0..a1.kernel {
                offs.push(((t0 * a0.dilation * a1.len + t1 * a1.dilation) * a2.len) * c);
            }
        }
        Some(Interior { offs, run: a2.kernel * c, c })
    }
    /// The offset in the `outer` block of the window's first tap, if every tap is inside.
    #[inline]
    fn base(&self, w: &Window, tp: &Taps) -> Option<usize> {
        let full = (0..3).all(|a| tp.lo[a] == 0 && tp.hi[a] == w.axes[a].kernel);
        if !full {
            return None;
        }
        let [_, a1, a2] = w.axes;
        let p = (tp.start[0] as usize * a1.len + tp.start[1] as usize) * a2.len + tp.start[2] as usize;
        Some(p * self.c)
    }
    /// Copies the patch at `base` into `dst`.
    #[inline]
    fn gather<F: Copy>(&self, xb: &[F], base: usize, dst: &mut [F]) {
        // Constant run lengths compile to a few moves; first layers (one or three channels,
        // a handful of taps) have runs far shorter than a `memcpy` call is worth.
        match self.run {
            1 => gather_runs::<F, 1>(xb, base, &self.offs, dst),
            2 => gather_runs::<F, 2>(xb, base, &self.offs, dst),
            3 => gather_runs::<F, 3>(xb, base, &self.offs, dst),
            4 => gather_runs::<F, 4>(xb, base, &self.offs, dst),
            5 => gather_runs::<F, 5>(xb, base, &self.offs, dst),
            6 => gather_runs::<F, 6>(xb, base, &self.offs, dst),
            7 => gather_runs::<F, 7>(xb, base, &self.offs, dst),
            8 => gather_runs::<F, 8>(xb, base, &self.offs, dst),
            9 => gather_runs::<F, 9>(xb, base, &self.offs, dst),
            _ => {
                for (d, &o) in dst.chunks_exact_mut(self.run).zip(&self.offs) {
                    d.copy_from_slice(&xb[base + o..][..self.run]);
                }
            }
        }
    }
    /// Adds the patch `src` back at `base` (the adjoint of [`Self::gather`]).
    #[inline]
    fn scatter_add<F: Scalar>(&self, src: &[F], base: usize, xb: &mut [F]) {
        for (s, &o) in src.chunks_exact(self.run).zip(&self.offs) {
            add_into(&mut xb[base + o..][..self.run], s);
        }
    }
}

#[inline(always)]
fn gather_runs<F: Copy, const N: usize>(xb: &[F], base: usize, offs: &[usize], dst: &mut [F]) {
    for (d, &o) in dst.chunks_exact_mut(N).zip(offs) {
        let d: &mut [F; N] = d.try_into().expect("invariant: chunk of N");
        let s: &[F; N] = xb[base + o..][..N].try_into().expect("invariant: run of N");
        *d = *s;
    }
}

/// Adds rows `row0..` of a patch matrix (`cols`, whole rows of `taps · c` values) back into
/// `out`, which holds the inputs of examples `n0..` (`[.., L0, L1, L2, c]`); every row must
/// belong to one of those examples. The adjoint of [`im2col_rows`], on the calling thread.
pub fn col2im_rows<F: Scalar>(cols: &[F], w: &Window, c: usize, row0: usize, n0: usize, out: &mut [F]) {
    let block = w.taps_per_window() * c;
    let in_block = w.in_size() * c;
    if block == 0 || in_block == 0 {
        return;
    }
    let out_size = w.out_size();
    let [_, a1, a2] = w.axes;
    let inner = Interior::new(w, c);
    let mut r = row0;
    for run in RowRuns::new(cols.len() / block, row0, out_size, a2.out) {
        let (n, p) = (r / out_size, r % out_size);
        let (line, o2) = (p / a2.out, p % a2.out);
        let mut tp = w.row_taps(line / a1.out, line % a1.out);
        let xb = &mut out[(n - n0) * in_block..][..in_block];
        for j in 0..run {
            w.set_last(&mut tp, o2 + j);
            let src = &cols[(r - row0 + j) * block..][..block];
            match inner.as_ref().and_then(|i| i.base(w, &tp)) {
                Some(base) => inner.as_ref().map_or((), |i| i.scatter_add(src, base, xb)),
                None => add_patch(src, w, c, &tp, xb),
            }
        }
        r += run;
    }
}

/// Lengths of the runs of consecutive rows along the last output axis, covering `rows` rows
/// from `row0`.
struct RowRuns {
    left: usize,
    r: usize,
    out_size: usize,
    line: usize,
}

impl RowRuns {
    fn new(rows: usize, row0: usize, out_size: usize, line: usize) -> Self {
        RowRuns { left: rows, r: row0, out_size, line }
    }
}

impl Iterator for RowRuns {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 || self.line == 0 || self.out_size == 0 {
            return None;
        }
        let o2 = (self.r % self.out_size) % self.line;
        let len = (self.line - o2).min(self.left);
        self.left -= len;
        self.r += len;
        Some(len)
    }
}

/// im2col: `x` is `[outer, L0, L1, L2, c]`, `out` is `[outer, O0, O1, O2, k0, k1, k2, c]` with
/// `out[n, o, t, :] = x[n, o·s - pad + t·d, :]`, zero where that position is padding.
///
/// Moves contiguous runs: `c` channels per tap, or, when the last axis is not dilated, all
/// valid taps of a window row at once. Splits the rows into fixed chunks across threads.
pub fn im2col<F: Scalar>(x: &[F], outer: usize, w: &Window, c: usize, out: &mut [F]) {
    let block = w.taps_per_window() * c;
    debug_assert_eq!(x.len(), outer * w.in_size() * c);
    debug_assert_eq!(out.len(), outer * w.out_size() * block);
    if block == 0 {
        return;
    }
    if should_par(out.len()) {
        let per = (CHUNK / block).max(1);
        for_each_chunk_mut(out, per * block, |i, rows| im2col_rows(x, w, c, i * per, rows));
    } else {
        im2col_rows(x, w, c, 0, out);
    }
}

/// col2im, the adjoint of [`im2col`]: `out` (`[outer, L0, L1, L2, c]`) is the sum, over every
/// window position and valid tap, of the column entry that [`im2col`] copied from it.
pub fn col2im<F: Scalar>(cols: &[F], outer: usize, w: &Window, c: usize, out: &mut [F]) {
    let block = w.taps_per_window() * c;
    let (out_size, in_block) = (w.out_size(), w.in_size() * c);
    let cols_block = out_size * block;
    debug_assert_eq!(out.len(), outer * in_block);
    debug_assert_eq!(cols.len(), outer * cols_block);
    for_outer(out, in_block, cols.len(), |n0, chunk| {
        chunk.fill(F::zero());
        let ne = chunk.len() / in_block;
        col2im_rows(&cols[n0 * cols_block..(n0 + ne) * cols_block], w, c, n0 * out_size, n0, chunk);
    });
}

/// Channels handled together when locating maxima, so the scan over taps reads contiguous
/// runs; fixed-size arrays keep it allocation-free.
const LANES: usize = 16;

/// The max-pooling rule: `v` replaces the running maximum `m` when larger, or when NaN (so NaN
/// propagates). Starting from the first valid tap this picks the first maximum in window order.
#[inline(always)]
fn beats<F: Scalar>(v: F, m: F) -> bool {
    v > m || v.is_nan()
}

/// For channels `c0..c0 + len` of window `tp`, writes into `idx[..len]` the offset in `xb` (an
/// `outer` block) of each channel's maximum. The window must have a valid tap.
#[inline]
fn argmax_lanes<F: Scalar>(
    xb: &[F],
    w: &Window,
    tp: &Taps,
    inner: usize,
    c0: usize,
    len: usize,
    idx: &mut [usize; LANES],
) {
    let mut best = [F::zero(); LANES];
    let mut first = true;
    w.for_each_tap(tp, |p| {
        let base = p * inner + c0;
        let src = &xb[base..base + len];
        if first {
            first = false;
            best[..len].copy_from_slice(src);
            for (j, i) in idx[..len].iter_mut().enumerate() {
                *i = base + j;
            }
        } else {
            for (j, &v) in src.iter().enumerate() {
                if beats(v, best[j]) {
                    best[j] = v;
                    idx[j] = base + j;
                }
            }
        }
    });
}

/// Max pooling: `out[n, o, :]` (`[outer, O0, O1, O2, inner]`) is the maximum of `x` over the
/// valid taps of window `o` (padding is ignored); NaN propagates.
pub fn max_pool<F: Scalar>(x: &[F], outer: usize, w: &Window, inner: usize, out: &mut [F]) {
    let (out_size, in_block) = (w.out_size(), w.in_size() * inner);
    debug_assert_eq!(out.len(), outer * out_size * inner);
    for_positions(out, w, inner, |n, tp, dst| {
        let xb = &x[n * in_block..][..in_block];
        let mut first = true;
        w.for_each_tap(tp, |p| {
            let src = &xb[p * inner..(p + 1) * inner];
            if first {
                first = false;
                dst.copy_from_slice(src);
            } else {
                for (m, &v) in dst.iter_mut().zip(src) {
                    if beats(v, *m) {
                        *m = v;
                    }
                }
            }
        });
        if first {
            dst.fill(F::neg_infinity());
        }
    });
}

/// The gradient of [`max_pool`]: `out` (`x`'s shape) receives `gy[n, o, c]` at the position of
/// the maximum of window `o`, channel `c` (the first in window order); overlapping windows add.
pub fn max_pool_grad<F: Scalar>(x: &[F], gy: &[F], outer: usize, w: &Window, inner: usize, out: &mut [F]) {
    let (out_size, in_block) = (w.out_size(), w.in_size() * inner);
    let g_block = out_size * inner;
    debug_assert_eq!(out.len(), outer * in_block);
    debug_assert_eq!(gy.len(), outer * g_block);
    if w.disjoint() && w.taps_per_window() <= DISJOINT_TAPS {
        return max_pool_grad_disjoint(x, gy, w, inner, out);
    }
    for_outer(out, in_block, gy.len() * w.taps_per_window(), |n0, chunk| {
        chunk.fill(F::zero());
        for (j, ob) in chunk.chunks_exact_mut(in_block).enumerate() {
            let n = n0 + j;
            let xb = &x[n * in_block..][..in_block];
            let gb = &gy[n * g_block..][..g_block];
            let mut idx = [0usize; LANES];
            w.for_each_position(|o, tp| {
                if Window::count(tp) == 0 {
                    return;
                }
                for c0 in (0..inner).step_by(LANES) {
                    let len = LANES.min(inner - c0);
                    argmax_lanes(xb, w, tp, inner, c0, len, &mut idx);
                    for (k, &i) in idx[..len].iter().enumerate() {
                        ob[i] = ob[i] + gb[o * inner + c0 + k];
                    }
                }
            });
        }
    });
}

/// Most taps per window of [`max_pool_grad_disjoint`], which lists a window's taps on the stack.
const DISJOINT_TAPS: usize = 32;

/// [`max_pool_grad`] for windows that never overlap (e.g. Keras' default pooling, strides equal
/// to the pool size): every input position is written once, either the cotangent of the window
/// it is the maximum of or zero, so nothing is accumulated and a block of channels is routed
/// at once, in registers.
fn max_pool_grad_disjoint<F: Scalar>(x: &[F], gy: &[F], w: &Window, inner: usize, out: &mut [F]) {
    let (out_size, in_block) = (w.out_size(), w.in_size() * inner);
    let g_block = out_size * inner;
    let covered = w.tiles_input();
    for_outer(out, in_block, gy.len() * w.taps_per_window(), |n0, chunk| {
        if !covered {
            chunk.fill(F::zero());
        }
        for (j, ob) in chunk.chunks_exact_mut(in_block).enumerate() {
            let n = n0 + j;
            let xb = &x[n * in_block..][..in_block];
            let gb = &gy[n * g_block..][..g_block];
            w.for_each_position(|o, tp| {
                let mut taps = [0usize; DISJOINT_TAPS];
                let mut nt = 0;
                w.for_each_tap(tp, |p| {
                    taps[nt] = p * inner;
                    nt += 1;
                });
                if nt == 0 {
                    return;
                }
                let (taps, g) = (&taps[..nt], &gb[o * inner..][..inner]);
                let mut c0 = 0;
                while c0 + LANES <= inner {
                    route_max::<F, LANES>(xb, g, taps, c0, ob);
                    c0 += LANES;
                }
                for c in c0..inner {
                    route_max::<F, 1>(xb, g, taps, c, ob);
                }
            });
        }
    });
}

/// Channels `c0..c0 + L` of one window (tap offsets `taps`, in window order): writes `g` at
/// each channel's maximum (per [`beats`]) and zero at the window's other taps.
#[inline(always)]
fn route_max<F: Scalar, const L: usize>(xb: &[F], g: &[F], taps: &[usize], c0: usize, ob: &mut [F]) {
    let load = |p: usize| -> [F; L] { xb[p + c0..][..L].try_into().expect("invariant: L lanes") };
    let mut best = load(taps[0]);
    // The index of the tap holding the maximum, as F (exact for any window size).
    let mut at = [F::zero(); L];
    for (k, &p) in taps.iter().enumerate().skip(1) {
        let (v, kf) = (load(p), F::of(k as f64));
        for j in 0..L {
            let take = beats(v[j], best[j]);
            best[j] = if take { v[j] } else { best[j] };
            at[j] = if take { kf } else { at[j] };
        }
    }
    let gv: [F; L] = g[c0..][..L].try_into().expect("invariant: L lanes");
    for (k, &p) in taps.iter().enumerate() {
        let kf = F::of(k as f64);
        let d: &mut [F; L] = (&mut ob[p + c0..][..L]).try_into().expect("invariant: L lanes");
        for j in 0..L {
            // `0 + g`, as the accumulating kernel computes it (turns -0 into 0).
            d[j] = if at[j] == kf { F::zero() + gv[j] } else { F::zero() };
        }
    }
}

/// The adjoint of [`max_pool_grad`] in its second argument: `out[n, o, c]` (`gy`'s shape) is
/// `g` at the position of the maximum of `x` over window `o`, channel `c`.
pub fn max_pool_grad_grad<F: Scalar>(x: &[F], g: &[F], outer: usize, w: &Window, inner: usize, out: &mut [F]) {
    let (out_size, in_block) = (w.out_size(), w.in_size() * inner);
    debug_assert_eq!(out.len(), outer * out_size * inner);
    debug_assert_eq!(g.len(), outer * in_block);
    for_positions(out, w, inner, |n, tp, dst| {
        let (xb, gb) = (&x[n * in_block..][..in_block], &g[n * in_block..][..in_block]);
        if Window::count(tp) == 0 {
            dst.fill(F::zero());
            return;
        }
        let mut idx = [0usize; LANES];
        for (ci, d) in dst.chunks_mut(LANES).enumerate() {
            argmax_lanes(xb, w, tp, inner, ci * LANES, d.len(), &mut idx);
            for (v, &k) in d.iter_mut().zip(&idx) {
                *v = gb[k];
            }
        }
    });
}

/// Average pooling: `out[n, o, :]` is the mean of `x` over the valid taps of window `o`,
/// dividing by their number (padding is not counted).
pub fn avg_pool<F: Scalar>(x: &[F], outer: usize, w: &Window, inner: usize, out: &mut [F]) {
    let (out_size, in_block) = (w.out_size(), w.in_size() * inner);
    debug_assert_eq!(out.len(), outer * out_size * inner);
    for_positions(out, w, inner, |n, tp, dst| {
        let xb = &x[n * in_block..][..in_block];
        dst.fill(F::zero());
        w.for_each_tap(tp, |p| add_into(dst, &xb[p * inner..(p + 1) * inner]));
        let count = Window::count(tp);
        if count > 0 {
            let r = F::one() / F::of(count as f64);
            dst.iter_mut().for_each(|v| *v = *v * r);
        }
    });
}

/// The gradient of [`avg_pool`] (and its adjoint): `out` (`x`'s shape) receives
/// `gy[n, o, :] / count(o)` at every valid tap of window `o`.
pub fn avg_pool_grad<F: Scalar>(gy: &[F], outer: usize, w: &Window, inner: usize, out: &mut [F]) {
    let (out_size, in_block) = (w.out_size(), w.in_size() * inner);
    let g_block = out_size * inner;
    debug_assert_eq!(out.len(), outer * in_block);
    debug_assert_eq!(gy.len(), outer * g_block);
    for_outer(out, in_block, gy.len() * w.taps_per_window(), |n0, chunk| {
        chunk.fill(F::zero());
        for (j, ob) in chunk.chunks_exact_mut(in_block).enumerate() {
            let gb = &gy[(n0 + j) * g_block..][..g_block];
            w.for_each_position(|o, tp| {
                let count = Window::count(tp);
                if count == 0 {
                    return;
                }
                let r = F::one() / F::of(count as f64);
                let src = &gb[o * inner..(o + 1) * inner];
                w.for_each_tap(tp, |p| {
                    for (d, &s) in ob[p * inner..(p + 1) * inner].iter_mut().zip(src) {
                        *d = *d + s * r;
                    }
                });
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::{ConvGeometry, DataFormat, Padding};

    fn window(spatial: &[usize], k: &[usize], s: &[usize], d: &[usize], p: Padding) -> Window {
        let g = ConvGeometry::new(s, d, p, DataFormat::ChannelsLast);
        Window::new(&g.resolve(spatial, k).unwrap())
    }

    fn pseudo(n: usize, salt: usize) -> Vec<f64> {
        (0..n).map(|i| (((i + salt) * 7919) % 101) as f64 / 50.0 - 1.0).collect()
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for every geometry, including dilation on the last
        // axis (per-tap copies) and padding on both sides.
        for (sp, k, s, d, p) in [
            (vec![7], vec![3], vec![2], vec![1], Padding::Same),
            (vec![6], vec![3], vec![1], vec![2], Padding::Same),
            (vec![4, 5], vec![3, 2], vec![1, 2], vec![1, 1], Padding::Same),
            (vec![5, 5], vec![2, 3], vec![1, 1], vec![2, 2], Padding::Valid),
            (vec![3, 3, 4], vec![2, 2, 3], vec![1, 1, 1], vec![1, 1, 1], Padding::Same),
        ] {
            let w = window(&sp, &k, &s, &d, p);
            let (outer, c) = (2, 3);
            let x = pseudo(outer * w.in_size() * c, 1);
            let nc = outer * w.out_size() * w.taps_per_window() * c;
            let cv = pseudo(nc, 2);
            let mut cols = vec![f64::NAN; nc];
            im2col(&x, outer, &w, c, &mut cols);
            let mut back = vec![f64::NAN; x.len()];
            col2im(&cv, outer, &w, c, &mut back);
            let lhs: f64 = cols.iter().zip(&cv).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-10, "{sp:?} {k:?}: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn pooling_grads_are_adjoints() {
        let w = window(&[5, 4], &[3, 2], &[2, 1], &[1, 1], Padding::Same);
        let (outer, inner) = (2, 19); // more channels than one LANES block
        let x = pseudo(outer * w.in_size() * inner, 3);
        let gy = pseudo(outer * w.out_size() * inner, 4);
        let g = pseudo(x.len(), 5);
        let mut a = vec![0.0; x.len()];
        max_pool_grad(&x, &gy, outer, &w, inner, &mut a);
        let mut b = vec![0.0; gy.len()];
        max_pool_grad_grad(&x, &g, outer, &w, inner, &mut b);
        let lhs: f64 = a.iter().zip(&g).map(|(p, q)| p * q).sum();
        let rhs: f64 = b.iter().zip(&gy).map(|(p, q)| p * q).sum();
        assert!((lhs - rhs).abs() < 1e-10);
        let mut y = vec![0.0; gy.len()];
        avg_pool(&g, outer, &w, inner, &mut y);
        avg_pool_grad(&gy, outer, &w, inner, &mut a);
        let lhs: f64 = y.iter().zip(&gy).map(|(p, q)| p * q).sum();
        let rhs: f64 = a.iter().zip(&g).map(|(p, q)| p * q).sum();
        assert!((lhs - rhs).abs() < 1e-10);
    }

    /// `max_pool_grad` by the definition: each cotangent goes to its window's running maximum
    /// under `beats`, starting from the first valid tap.
    fn naive_max_pool_grad(x: &[f64], gy: &[f64], outer: usize, w: &Window, inner: usize) -> Vec<f64> {
        let (in_block, g_block) = (w.in_size() * inner, w.out_size() * inner);
        let mut out = vec![0.0; x.len()];
        for n in 0..outer {
            w.for_each_position(|o, tp| {
                for c in 0..inner {
                    let mut best: Option<(f64, usize)> = None;
                    w.for_each_tap(tp, |p| {
                        let i = n * in_block + p * inner + c;
                        best = match best {
                            Some((m, _)) if !beats(x[i], m) => best,
                            _ => Some((x[i], i)),
                        };
                    });
                    if let Some((_, i)) = best {
                        out[i] += gy[n * g_block + o * inner + c];
                    }
                }
            });
        }
        out
    }

    #[test]
    fn disjoint_max_pool_grad_matches_the_definition() {
        // Windows that never overlap take the routing path; tiled inputs, leftover positions
        // (valid), padded windows (same), more channels than one block of lanes, ties and NaN.
        for (sp, k, s, p, inner) in [
            (vec![4, 6], vec![2, 2], vec![2, 2], Padding::Valid, 19),
            (vec![5, 5], vec![2, 2], vec![2, 2], Padding::Valid, 3),
            (vec![5, 7], vec![2, 3], vec![2, 3], Padding::Same, 17),
            (vec![7], vec![2], vec![3], Padding::Valid, 2),
            (vec![4, 4, 3], vec![2, 2, 3], vec![2, 2, 3], Padding::Valid, 1),
        ] {
            let w = window(&sp, &k, &s, &vec![1; sp.len()], p);
            assert!(w.disjoint());
            let outer = 2;
            // Coarse values make ties common.
            let mut x: Vec<f64> = (0..outer * w.in_size() * inner).map(|i| ((i * 7919) % 5) as f64).collect();
            let mid = x.len() / 2;
            x[3] = f64::NAN;
            x[mid] = f64::NAN;
            let gy = pseudo(outer * w.out_size() * inner, 8);
            let mut got = vec![f64::NAN; x.len()];
            max_pool_grad(&x, &gy, outer, &w, inner, &mut got);
            let want = naive_max_pool_grad(&x, &gy, outer, &w, inner);
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{sp:?} {k:?} {s:?} {p:?}");
        }
    }

    #[test]
    fn kernels_are_bit_identical_across_threads() {
        // Large enough to split across threads: 8 × 24 × 24 × 16 inputs.
        let w = window(&[24, 24], &[3, 3], &[1, 1], &[1, 1], Padding::Same);
        let (outer, c) = (8, 16);
        let x = pseudo(outer * w.in_size() * c, 6);
        let nc = outer * w.out_size() * w.taps_per_window() * c;
        let cv = pseudo(nc, 7);
        let run = |threads: usize| {
            let pool = crate::team::KernelTeam::new(threads);
            pool.lead(|| {
                let mut cols = vec![0.0; nc];
                im2col(&x, outer, &w, c, &mut cols);
                let mut back = vec![0.0; x.len()];
                col2im(&cv, outer, &w, c, &mut back);
                // The 3×3 same window with unit strides keeps the spatial size, so `x` serves
                // as a cotangent too.
                let mut pooled = [vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]];
                max_pool(&x, outer, &w, c, &mut pooled[0]);
                avg_pool(&x, outer, &w, c, &mut pooled[1]);
                max_pool_grad_grad(&x, &back, outer, &w, c, &mut pooled[2]);
                avg_pool_grad(&x, outer, &w, c, &mut pooled[3]);
                let mut mp = vec![0.0; x.len()];
                max_pool_grad(&x, &x, outer, &w, c, &mut mp);
                (cols, back, mp, pooled)
            })
        };
        assert_eq!(run(1), run(3));
    }
}
