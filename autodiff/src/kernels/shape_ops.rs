//! Copy kernels for the shape ops: axis permutation, slicing, padding, concatenation, tiling,
//! gathering and scatter-adding along an axis.
//!
//! Every kernel views its tensors as blocks of contiguous rows and moves whole rows with
//! `copy_from_slice`; per-element index arithmetic is left only where the data really is
//! strided (the two axes a transpose swaps, a strided slice of the last axis).

use smallvec::SmallVec;

use crate::scalar::Scalar;
use crate::shape::{strides, Dims};

type Idx = SmallVec<[usize; 6]>;

/// Walks a multi-index over `dims` in row-major order, keeping two linear offsets (one per
/// stride vector) up to date incrementally.
struct Walk<'a> {
    dims: &'a [usize],
    sa: &'a [usize],
    sb: &'a [usize],
    idx: Idx,
    a: usize,
    b: usize,
}

impl<'a> Walk<'a> {
    fn new(dims: &'a [usize], sa: &'a [usize], sb: &'a [usize]) -> Self {
        Walk { dims, sa, sb, idx: SmallVec::from_elem(0, dims.len()), a: 0, b: 0 }
    }
    #[inline]
    fn advance(&mut self) {
        for ax in (0..self.dims.len()).rev() {
            self.idx[ax] += 1;
            self.a += self.sa[ax];
            self.b += self.sb[ax];
            if self.idx[ax] < self.dims[ax] {
                return;
            }
            self.a -= self.sa[ax] * self.dims[ax];
            self.b -= self.sb[ax] * self.dims[ax];
            self.idx[ax] = 0;
        }
    }
}

/// Drops size-1 axes and merges runs of axes that stay adjacent and in order under `perm`,
/// which leaves the memory layout of both tensors unchanged. Returns the merged input dims and
/// the merged permutation (output axis `k` is input axis `perm[k]`).
fn simplify_permutation(dims: &[usize], perm: &[usize]) -> (Idx, Idx) {
    let mut compact: Idx = SmallVec::from_elem(usize::MAX, dims.len());
    let mut kept_dims: Idx = SmallVec::new();
    for (a, &d) in dims.iter().enumerate() {
        if d != 1 {
            compact[a] = kept_dims.len();
            kept_dims.push(d);
        }
    }
    let order: Idx = perm.iter().map(|&a| compact[a]).filter(|&c| c != usize::MAX).collect();
    // Groups of consecutive compact axes, in output order: (first axis, merged size).
    let mut groups: SmallVec<[(usize, usize); 6]> = SmallVec::new();
    for (i, &c) in order.iter().enumerate() {
        if i > 0 && c == order[i - 1] + 1 {
            groups.last_mut().expect("invariant: a group is open").1 *= kept_dims[c];
        } else {
            groups.push((c, kept_dims[c]));
        }
    }
    let mut by_input: SmallVec<[usize; 6]> = (0..groups.len()).collect();
    by_input.sort_unstable_by_key(|&k| groups[k].0);
    let new_dims: Idx = by_input.iter().map(|&k| groups[k].1).collect();
    let mut rank_of: Idx = SmallVec::from_elem(0, groups.len());
    for (pos, &k) in by_input.iter().enumerate() {
        rank_of[k] = pos;
    }
    let new_perm: Idx = (0..groups.len()).map(|k| rank_of[k]).collect();
    (new_dims, new_perm)
}

/// Side of the square tiles a transpose moves at a time, so that the strided reads of one tile
/// stay in cache.
const TILE: usize = 32;

/// `out = x` with axes permuted: output axis `k` is input axis `perm[k]`. `dims` are `x`'s.
pub fn permute<F: Copy>(x: &[F], dims: &[usize], perm: &[usize], out: &mut [F]) {
    debug_assert_eq!(x.len(), out.len());
    if out.is_empty() {
        return;
    }
    let (d, p) = simplify_permutation(dims, perm);
    let r = d.len();
    if r <= 1 {
        out.copy_from_slice(x);
        return;
    }
    let xs = strides(&d);
    let od: Idx = p.iter().map(|&a| d[a]).collect();
    let os = strides(&od);
    // Input stride of each output axis.
    let ps: Idx = p.iter().map(|&a| xs[a]).collect();
    if p[r - 1] == r - 1 {
        // The contiguous axis stays last: copy whole rows.
        let inner = d[r - 1];
        let mut w = Walk::new(&od[..r - 1], &ps[..r - 1], &os[..r - 1]);
        for orow in out.chunks_exact_mut(inner) {
            orow.copy_from_slice(&x[w.a..w.a + inner]);
            w.advance();
        }
        return;
    }
    // Output position of the input's contiguous axis; the output's contiguous axis reads `x`
    // with stride `sj`. Everything else is an outer loop around one 2-D tiled transpose.
    let q = p.iter().position(|&a| a == r - 1).expect("invariant: perm is a permutation");
    let (ni, nj) = (od[q], od[r - 1]);
    let (oi_stride, sj) = (os[q], ps[r - 1]);
    let mut outer_dims: Idx = SmallVec::new();
    let mut outer_xs: Idx = SmallVec::new();
    let mut outer_os: Idx = SmallVec::new();
    for k in 0..r - 1 {
        if k != q {
            outer_dims.push(od[k]);
            outer_xs.push(ps[k]);
            outer_os.push(os[k]);
        }
    }
    let n_outer: usize = outer_dims.iter().product();
    let mut w = Walk::new(&outer_dims, &outer_xs, &outer_os);
    for _ in 0..n_outer {
        let (xb, ob) = (w.a, w.b);
        for i0 in (0..ni).step_by(TILE) {
            let i1 = (i0 + TILE).min(ni);
            for j0 in (0..nj).step_by(TILE) {
                let j1 = (j0 + TILE).min(nj);
                for i in i0..i1 {
                    let o = ob + i * oi_stride;
                    let src = &x[xb + i..];
                    for (j, v) in out[o + j0..o + j1].iter_mut().enumerate() {
                        *v = src[(j0 + j) * sj];
                    }
                }
            }
        }
        w.advance();
    }
}

/// Copies positions `start, start + stride, …` (`count` of them) of the middle axis of `x`
/// viewed as `[outer, n, inner]` into `out` viewed as `[outer, count, inner]`.
pub fn slice_axis<F: Copy>(
    x: &[F],
    (outer, n, inner): (usize, usize, usize),
    start: usize,
    stride: usize,
    count: usize,
    out: &mut [F],
) {
    let (xb, ob) = (n * inner, count * inner);
    if ob == 0 {
        return;
    }
    for (o, orow) in out.chunks_exact_mut(ob).enumerate().take(outer) {
        let src = &x[o * xb..(o + 1) * xb];
        if stride == 1 {
            orow.copy_from_slice(&src[start * inner..(start + count) * inner]);
        } else if inner == 1 {
            for (k, v) in orow.iter_mut().enumerate() {
                *v = src[start + k * stride];
            }
        } else {
            for (k, row) in orow.chunks_exact_mut(inner).enumerate() {
                let s = (start + k * stride) * inner;
                row.copy_from_slice(&src[s..s + inner]);
            }
        }
    }
}

/// The adjoint of [`slice_axis`]: `out` (viewed as `[outer, n, inner]`) is zero except at
/// positions `start + k·stride` of the middle axis, which receive row `k` of `g` (viewed as
/// `[outer, count, inner]`).
pub fn unslice_axis<F: Copy>(
    g: &[F],
    (outer, n, inner): (usize, usize, usize),
    start: usize,
    stride: usize,
    count: usize,
    zero: F,
    out: &mut [F],
) {
    out.fill(zero);
    let (ob, gb) = (n * inner, count * inner);
    if gb == 0 {
        return;
    }
    for o in 0..outer {
        let src = &g[o * gb..(o + 1) * gb];
        let dst = &mut out[o * ob..(o + 1) * ob];
        for (k, row) in src.chunks_exact(inner).enumerate() {
            let s = (start + k * stride) * inner;
            dst[s..s + inner].copy_from_slice(row);
        }
    }
}

/// Constant padding: `out` (dims `x`'s plus `lo + hi` per axis) holds `x` at offset `lo` and
/// `value` everywhere else.
pub fn pad<F: Copy>(x: &[F], dims: &[usize], pads: &[(usize, usize)], value: F, out: &mut [F]) {
    let r = dims.len();
    if out.is_empty() {
        return;
    }
    if r == 0 {
        out[0] = x[0];
        return;
    }
    let od: Idx = dims.iter().zip(pads).map(|(&d, &(lo, hi))| d + lo + hi).collect();
    let xs = strides(dims);
    let (lo_last, d_last) = (pads[r - 1].0, dims[r - 1]);
    let row_len = od[r - 1];
    let mut idx: Idx = SmallVec::from_elem(0, r - 1);
    for orow in out.chunks_exact_mut(row_len) {
        // Source row, if this output row lies inside the copy of `x` on every outer axis.
        let mut src = Some(0usize);
        for ax in 0..r - 1 {
            let (i, lo) = (idx[ax], pads[ax].0);
            if i < lo || i >= lo + dims[ax] {
                src = None;
                break;
            }
            src = src.map(|s| s + (i - lo) * xs[ax]);
        }
        match src {
            Some(s) if d_last > 0 => {
                orow[..lo_last].fill(value);
                orow[lo_last..lo_last + d_last].copy_from_slice(&x[s..s + d_last]);
                orow[lo_last + d_last..].fill(value);
            }
            _ => orow.fill(value),
        }
        for ax in (0..r - 1).rev() {
            idx[ax] += 1;
            if idx[ax] < od[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
}

/// Concatenation of blocks: for each of `outer` rows of the output, input `i` contributes its
/// next `blocks[i]` contiguous elements. This is concatenation along an axis (a block is the
/// input's extent on that axis times the inner size) and stacking (a block is a whole example).
pub fn concat_blocks<F: Copy>(xs: &[&[F]], blocks: &[usize], outer: usize, out: &mut [F]) {
    let total: usize = blocks.iter().sum();
    if total == 0 {
        return;
    }
    for (o, orow) in out.chunks_exact_mut(total).enumerate().take(outer) {
        let mut at = 0;
        for (x, &b) in xs.iter().zip(blocks) {
            orow[at..at + b].copy_from_slice(&x[o * b..(o + 1) * b]);
            at += b;
        }
    }
}

/// Tiling: `out` (dims `dims[k]·multiples[k]`) repeats `x` `multiples[k]` times along axis `k`.
pub fn tile<F: Copy>(x: &[F], dims: &[usize], multiples: &[usize], out: &mut [F]) {
    if out.is_empty() {
        return;
    }
    if dims.is_empty() {
        out[0] = x[0];
        return;
    }
    let od: Idx = dims.iter().zip(multiples).map(|(&d, &m)| d * m).collect();
    let cx = TileCx { x, dims, multiples, xs: strides(dims), os: strides(&od) };
    cx.fill(0, 0, 0, out);
}

struct TileCx<'a, F> {
    x: &'a [F],
    dims: &'a [usize],
    multiples: &'a [usize],
    xs: Dims,
    os: Dims,
}

impl<F: Copy> TileCx<'_, F> {
    /// Writes the tiled block of `axis..` that starts at input offset `xo`, output offset `oo`:
    /// one copy of the input's sub-block first, then `copy_within` for the repeats.
    fn fill(&self, axis: usize, xo: usize, oo: usize, out: &mut [F]) {
        let (d, m) = (self.dims[axis], self.multiples[axis]);
        if axis + 1 == self.dims.len() {
            let row = &self.x[xo..xo + d];
            for k in 0..m {
                out[oo + k * d..oo + (k + 1) * d].copy_from_slice(row);
            }
            return;
        }
        for i in 0..d {
            self.fill(axis + 1, xo + i * self.xs[axis], oo + i * self.os[axis], out);
        }
        let block = d * self.os[axis];
        for k in 1..m {
            out.copy_within(oo..oo + block, oo + k * block);
        }
    }
}

/// Why an index tensor was rejected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BadIndex {
    /// Not an integer (or not finite).
    NotInteger(f64),
    /// An integer outside `0..size`.
    OutOfRange(f64),
}

/// Converts a float-encoded index, checking it is an integer in `0..size`.
#[inline]
pub fn to_index(v: f64, size: usize) -> Result<usize, BadIndex> {
    if !v.is_finite() || v.fract() != 0.0 {
        return Err(BadIndex::NotInteger(v));
    }
    if v < 0.0 || v >= size as f64 {
        return Err(BadIndex::OutOfRange(v));
    }
    Ok(v as usize)
}

/// Checks every index (see [`to_index`]); the first bad one is returned.
pub fn check_indices<F: Scalar>(idx: &[F], size: usize) -> Result<(), BadIndex> {
    for &v in idx {
        to_index(v.to_f64_lossless(), size)?;
    }
    Ok(())
}

/// A float-encoded index already validated by [`check_indices`].
#[inline(always)]
fn as_index<F: Scalar>(v: F) -> usize {
    v.to_f64_lossless() as usize
}

/// `out[o, j, :] = x[o, idx[j], :]` with `x` viewed as `[outer, n, inner]` and `out` as
/// `[outer, idx.len(), inner]`. Indices are float-encoded and must already be checked with
/// [`check_indices`].
pub fn gather_rows<F: Scalar>(x: &[F], (outer, n, inner): (usize, usize, usize), idx: &[F], out: &mut [F]) {
    let ob = idx.len() * inner;
    if ob == 0 {
        return;
    }
    for (o, orow) in out.chunks_exact_mut(ob).enumerate().take(outer) {
        let src = &x[o * n * inner..(o + 1) * n * inner];
        for (row, &i) in orow.chunks_exact_mut(inner).zip(idx) {
            let i = as_index(i);
            row.copy_from_slice(&src[i * inner..(i + 1) * inner]);
        }
    }
}

/// The adjoint of [`gather_rows`]: `out` (`[outer, n, inner]`) starts at zero and row `j` of
/// `g` (`[outer, idx.len(), inner]`) is added into row `idx[j]`. Serial, in index order, so
/// repeated indices sum in a fixed order.
pub fn scatter_add_rows<F: Scalar>(g: &[F], (outer, n, inner): (usize, usize, usize), idx: &[F], out: &mut [F]) {
    out.fill(F::zero());
    let gb = idx.len() * inner;
    if gb == 0 || n * inner == 0 {
        return;
    }
    for (o, dst) in out.chunks_exact_mut(n * inner).enumerate().take(outer) {
        let src = &g[o * gb..(o + 1) * gb];
        for (row, &i) in src.chunks_exact(inner).zip(idx) {
            let i = as_index(i);
            for (d, &s) in dst[i * inner..(i + 1) * inner].iter_mut().zip(row) {
                *d = *d + s;
            }
        }
    }
}

/// `[outer, n, inner]` view of `dims` around `axis`.
pub fn around_axis(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    (dims[..axis].iter().product(), dims[axis], dims[axis + 1..].iter().product())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference transpose by explicit index arithmetic.
    fn naive_permute(x: &[f64], dims: &[usize], perm: &[usize]) -> Vec<f64> {
        let od: Vec<usize> = perm.iter().map(|&a| dims[a]).collect();
        let xs = strides(dims);
        let n: usize = dims.iter().product();
        let mut out = vec![0.0; n];
        for (flat, o) in out.iter_mut().enumerate() {
            let mut rem = flat;
            let mut src = 0;
            for k in (0..od.len()).rev() {
                src += (rem % od[k]) * xs[perm[k]];
                rem /= od[k];
            }
            *o = x[src];
        }
        out
    }

    #[test]
    fn permute_matches_index_arithmetic() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[2, 3], &[1, 0]),
            (&[2, 3, 4], &[2, 0, 1]),
            (&[2, 3, 4], &[0, 2, 1]),
            (&[2, 3, 4], &[1, 0, 2]),
            (&[2, 1, 3, 4], &[3, 1, 0, 2]),
            (&[40, 70], &[1, 0]),
            (&[3, 35, 33], &[2, 1, 0]),
            (&[2, 3, 4, 5], &[0, 1, 3, 2]),
            (&[2, 3, 4, 5], &[2, 3, 0, 1]),
            (&[1, 1], &[1, 0]),
        ];
        for &(dims, perm) in cases {
            let n: usize = dims.iter().product();
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let mut out = vec![f64::NAN; n];
            permute(&x, dims, perm, &mut out);
            assert_eq!(out, naive_permute(&x, dims, perm), "dims {dims:?} perm {perm:?}");
        }
    }

    #[test]
    fn simplify_merges_adjacent_axes() {
        let (d, p) = simplify_permutation(&[2, 3, 4, 5], &[2, 3, 0, 1]);
        assert_eq!((&d[..], &p[..]), (&[6, 20][..], &[1, 0][..]));
        let (d, p) = simplify_permutation(&[2, 1, 3], &[1, 0, 2]);
        assert_eq!((&d[..], &p[..]), (&[6][..], &[0][..]));
    }

    #[test]
    fn tile_repeats_blocks() {
        // [[1, 2]] tiled (2, 2) is [[1, 2, 1, 2], [1, 2, 1, 2]].
        let mut out = vec![0.0; 8];
        tile(&[1.0, 2.0], &[1, 2], &[2, 2], &mut out);
        assert_eq!(out, [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn indices_are_checked() {
        assert_eq!(to_index(2.0, 3), Ok(2));
        assert_eq!(to_index(3.0, 3), Err(BadIndex::OutOfRange(3.0)));
        assert_eq!(to_index(-1.0, 3), Err(BadIndex::OutOfRange(-1.0)));
        assert_eq!(to_index(0.5, 3), Err(BadIndex::NotInteger(0.5)));
        assert!(matches!(to_index(f64::NAN, 3), Err(BadIndex::NotInteger(_))));
    }
}
