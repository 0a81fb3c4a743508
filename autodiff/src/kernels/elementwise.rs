//! Elementwise kernels: unary maps and binary maps with NumPy broadcasting.
//!
//! Work is split into fixed chunks above [`PAR_MIN`](super::PAR_MIN) elements; each element is
//! computed by the same expression whatever the chunking, so results are bit-identical for any
//! number of threads.

use super::{should_par, CHUNK};
use crate::team::for_each_chunk_mut;

/// `out[i] = f(x[i])`. If `x` is `None`, the input already lives in `out` (in place).
pub fn unary<F, Fn1>(x: Option<&[F]>, out: &mut [F], f: Fn1)
where
    F: Copy + Send + Sync,
    Fn1: Fn(F) -> F + Sync,
{
    let n = out.len();
    match x {
        Some(x) => {
            debug_assert_eq!(x.len(), n);
            if should_par(n) {
                for_each_chunk_mut(out, CHUNK, |c, o| {
                    for (o, &x) in o.iter_mut().zip(&x[c * CHUNK..]) {
                        *o = f(x);
                    }
                });
            } else {
                for (o, &x) in out.iter_mut().zip(x) {
                    *o = f(x);
                }
            }
        }
        None => {
            if should_par(n) {
                for_each_chunk_mut(out, CHUNK, |_, o| o.iter_mut().for_each(|v| *v = f(*v)));
            } else {
                out.iter_mut().for_each(|v| *v = f(*v));
            }
        }
    }
}

/// Calls `f(start, chunk)` on `out` cut into fixed chunks of [`CHUNK`] elements (`start` is the
/// chunk's offset), in parallel above [`PAR_MIN`](super::PAR_MIN) and as one call otherwise. For
/// fused kernels with their own loops: a kernel that computes each element by the same
/// expression gives the same bits for any number of threads.
pub fn for_each_chunk<F: Send>(out: &mut [F], f: impl Fn(usize, &mut [F]) + Sync) {
    if should_par(out.len()) {
        for_each_chunk_mut(out, CHUNK, |c, o| f(c * CHUNK, o));
    } else {
        f(0, out);
    }
}

/// Broadcast strides of `dims` (right-aligned) against `out_dims`: 0 where the input is
/// broadcast, the row-major stride otherwise.
pub fn broadcast_strides(dims: &[usize], out_dims: &[usize]) -> smallvec::SmallVec<[usize; 6]> {
    let r = out_dims.len();
    let lead = r - dims.len();
    let mut s = smallvec::SmallVec::from_elem(0usize, r);
    let mut acc = 1;
    for i in (0..dims.len()).rev() {
        if dims[i] != 1 {
            s[lead + i] = acc;
        }
        acc *= dims[i];
    }
    s
}

/// Where one operand of a binary kernel lives.
#[derive(Clone, Copy)]
pub enum Operand<'a, F> {
    /// Its own slice, with its dimensions (broadcastable to the output's).
    Slice(&'a [F], &'a [usize]),
    /// In the output buffer (in-place); its shape is the output's.
    Out,
}

/// `out = f(a, b)` with NumPy broadcasting of `a` and `b` to `out_dims`.
pub fn binary<F, Fn2>(a: Operand<'_, F>, b: Operand<'_, F>, out: &mut [F], out_dims: &[usize], f: Fn2)
where
    F: Copy + Send + Sync,
    Fn2: Fn(F, F) -> F + Sync,
{
    let n = out.len();
    if n == 0 {
        return;
    }
    let (a_s, a_len) = match a {
        Operand::Slice(s, d) => (broadcast_strides(d, out_dims), s.len()),
        Operand::Out => (broadcast_strides(out_dims, out_dims), n),
    };
    let (b_s, b_len) = match b {
        Operand::Slice(s, d) => (broadcast_strides(d, out_dims), s.len()),
        Operand::Out => (broadcast_strides(out_dims, out_dims), n),
    };
    let (out_dims, a_s, b_s) = coalesce(out_dims, &a_s, &b_s);
    let out_dims = &out_dims[..];
    let r = out_dims.len();
    let inner = if r == 0 { 1 } else { out_dims[r - 1] };
    let outer_dims = if r == 0 { &[][..] } else { &out_dims[..r - 1] };
    let a_inner = if r == 0 { 0 } else { a_s[r - 1] };
    let b_inner = if r == 0 { 0 } else { b_s[r - 1] };

    // Fast paths: identical shapes, or a scalar operand.
    let a_full =
        a_len == n && matches!(a, Operand::Out | Operand::Slice(..)) && a_inner == 1 && is_dense(&a_s, out_dims);
    let b_full = b_len == n && b_inner == 1 && is_dense(&b_s, out_dims);
    let row = |o: &mut [F], start: usize| {
        // `start` is the flat output index of o[0], always a multiple of `inner`. The operand
        // offsets of the first row are computed once; the following rows step them like an
        // odometer (divisions per row would cost more than a short row itself).
        let first = start / inner.max(1);
        let (mut ao, mut bo) = offsets(first, outer_dims, &a_s, &b_s);
        let mut idx = Dims::from_elem(0, outer_dims.len());
        let mut rest = first;
        for ax in (0..outer_dims.len()).rev() {
            idx[ax] = rest % outer_dims[ax];
            rest /= outer_dims[ax];
        }
        let mut row_start = start;
        for orow in o.chunks_mut(inner) {
            row_kernel(orow, a, ao, a_inner, b, bo, b_inner, &f, row_start);
            row_start += inner;
            for ax in (0..outer_dims.len()).rev() {
                idx[ax] += 1;
                ao += a_s[ax];
                bo += b_s[ax];
                if idx[ax] < outer_dims[ax] {
                    break;
                }
                idx[ax] = 0;
                ao -= a_s[ax] * outer_dims[ax];
                bo -= b_s[ax] * outer_dims[ax];
            }
        }
    };
    if a_full && b_full {
        flat(a, b, out, &f);
        return;
    }
    if b_len == 1 && a_full {
        if let Operand::Slice(bs, _) = b {
            let bv = bs[0];
            flat_scalar_rhs(a, bv, out, &f);
            return;
        }
    }
    if a_len == 1 && b_full {
        if let Operand::Slice(as_, _) = a {
            let av = as_[0];
            flat_scalar_lhs(av, b, out, &f);
            return;
        }
    }
    if should_par(n) && inner > 0 {
        let rows_per_chunk = (CHUNK / inner).max(1);
        for_each_chunk_mut(out, rows_per_chunk * inner, |c, o| row(o, c * rows_per_chunk * inner));
    } else {
        row(out, 0);
    }
}

type Dims = smallvec::SmallVec<[usize; 6]>;

/// The same iteration over fewer axes: drops axes of length 1 and merges neighbours that both
/// operands step through contiguously (or both broadcast), so e.g. `[64, 28, 28, 1] ⊙
/// [64, 1, 1, 1]` runs as `[64, 784] ⊙ [64, 1]`, rows of 784 against one value, instead of 50 176
/// rows of one element. Only the loop structure changes, never the expression per element.
fn coalesce(dims: &[usize], a_s: &[usize], b_s: &[usize]) -> (Dims, Dims, Dims) {
    let (mut d, mut sa, mut sb) = (Dims::new(), Dims::new(), Dims::new());
    for i in 0..dims.len() {
        if dims[i] == 1 {
            continue;
        }
        if let (Some(&pa), Some(&pb)) = (sa.last(), sb.last()) {
            if pa == a_s[i] * dims[i] && pb == b_s[i] * dims[i] {
                let last = d.len() - 1;
                d[last] *= dims[i];
                sa[last] = a_s[i];
                sb[last] = b_s[i];
                continue;
            }
        }
        d.push(dims[i]);
        sa.push(a_s[i]);
        sb.push(b_s[i]);
    }
    (d, sa, sb)
}

fn is_dense(strides: &[usize], dims: &[usize]) -> bool {
    let mut acc = 1;
    for i in (0..dims.len()).rev() {
        if dims[i] != 1 && strides[i] != acc {
            return false;
        }
        acc *= dims[i];
    }
    true
}

#[inline]
fn offsets(mut row: usize, outer_dims: &[usize], a_s: &[usize], b_s: &[usize]) -> (usize, usize) {
    let (mut ao, mut bo) = (0, 0);
    for i in (0..outer_dims.len()).rev() {
        let d = outer_dims[i];
        let k = row % d;
        row /= d;
        ao += k * a_s[i];
        bo += k * b_s[i];
    }
    (ao, bo)
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn row_kernel<F: Copy, Fn2: Fn(F, F) -> F>(
    o: &mut [F],
    a: Operand<'_, F>,
    ao: usize,
    sa: usize,
    b: Operand<'_, F>,
    bo: usize,
    sb: usize,
    f: &Fn2,
    _start: usize,
) {
    let n = o.len();
    match (a, b) {
        (Operand::Slice(a, _), Operand::Slice(b, _)) => match (sa, sb) {
            (1, 1) => {
                for ((o, &x), &y) in o.iter_mut().zip(&a[ao..ao + n]).zip(&b[bo..bo + n]) {
                    *o = f(x, y);
                }
            }
            (1, 0) => {
                let y = b[bo];
                for (o, &x) in o.iter_mut().zip(&a[ao..ao + n]) {
                    *o = f(x, y);
                }
            }
            (0, 1) => {
                let x = a[ao];
                for (o, &y) in o.iter_mut().zip(&b[bo..bo + n]) {
                    *o = f(x, y);
                }
            }
            _ => {
                let v = f(a[ao], b[bo]);
                o.iter_mut().for_each(|o| *o = v);
            }
        },
        (Operand::Out, Operand::Slice(b, _)) => {
            if sb == 1 {
                for (o, &y) in o.iter_mut().zip(&b[bo..bo + n]) {
                    *o = f(*o, y);
                }
            } else {
                let y = b[bo];
                o.iter_mut().for_each(|o| *o = f(*o, y));
            }
        }
        (Operand::Slice(a, _), Operand::Out) => {
            if sa == 1 {
                for (o, &x) in o.iter_mut().zip(&a[ao..ao + n]) {
                    *o = f(x, *o);
                }
            } else {
                let x = a[ao];
                o.iter_mut().for_each(|o| *o = f(x, *o));
            }
        }
        (Operand::Out, Operand::Out) => o.iter_mut().for_each(|o| *o = f(*o, *o)),
    }
}

fn flat<F: Copy + Send + Sync, Fn2: Fn(F, F) -> F + Sync>(
    a: Operand<'_, F>,
    b: Operand<'_, F>,
    out: &mut [F],
    f: &Fn2,
) {
    let n = out.len();
    let go = |o: &mut [F], start: usize| {
        let m = o.len();
        match (a, b) {
            (Operand::Slice(a, _), Operand::Slice(b, _)) => {
                for ((o, &x), &y) in o.iter_mut().zip(&a[start..start + m]).zip(&b[start..start + m]) {
                    *o = f(x, y);
                }
            }
            (Operand::Out, Operand::Slice(b, _)) => {
                for (o, &y) in o.iter_mut().zip(&b[start..start + m]) {
                    *o = f(*o, y);
                }
            }
            (Operand::Slice(a, _), Operand::Out) => {
                for (o, &x) in o.iter_mut().zip(&a[start..start + m]) {
                    *o = f(x, *o);
                }
            }
            (Operand::Out, Operand::Out) => o.iter_mut().for_each(|o| *o = f(*o, *o)),
        }
    };
    if should_par(n) {
        for_each_chunk_mut(out, CHUNK, |c, o| go(o, c * CHUNK));
    } else {
        go(out, 0);
    }
}

fn flat_scalar_rhs<F: Copy + Send + Sync, Fn2: Fn(F, F) -> F + Sync>(a: Operand<'_, F>, y: F, out: &mut [F], f: &Fn2) {
    let n = out.len();
    let go = |o: &mut [F], start: usize| match a {
        Operand::Slice(a, _) => {
            let m = o.len();
            for (o, &x) in o.iter_mut().zip(&a[start..start + m]) {
                *o = f(x, y);
            }
        }
        Operand::Out => o.iter_mut().for_each(|o| *o = f(*o, y)),
    };
    if should_par(n) {
        for_each_chunk_mut(out, CHUNK, |c, o| go(o, c * CHUNK));
    } else {
        go(out, 0);
    }
}

fn flat_scalar_lhs<F: Copy + Send + Sync, Fn2: Fn(F, F) -> F + Sync>(x: F, b: Operand<'_, F>, out: &mut [F], f: &Fn2) {
    let n = out.len();
    let go = |o: &mut [F], start: usize| match b {
        Operand::Slice(b, _) => {
            let m = o.len();
            for (o, &y) in o.iter_mut().zip(&b[start..start + m]) {
                *o = f(x, y);
            }
        }
        Operand::Out => o.iter_mut().for_each(|o| *o = f(x, *o)),
    };
    if should_par(n) {
        for_each_chunk_mut(out, CHUNK, |c, o| go(o, c * CHUNK));
    } else {
        go(out, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_broadcasts_rows_and_columns() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
        let row = [10.0, 20.0, 30.0]; // [3]
        let col = [100.0, 200.0]; // [2, 1]
        let mut out = [0.0; 6];
        binary(Operand::Slice(&a, &[2, 3]), Operand::Slice(&row, &[3]), &mut out, &[2, 3], |x, y| x + y);
        assert_eq!(out, [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        binary(Operand::Slice(&a, &[2, 3]), Operand::Slice(&col, &[2, 1]), &mut out, &[2, 3], |x, y| x + y);
        assert_eq!(out, [101.0, 102.0, 103.0, 204.0, 205.0, 206.0]);
        // outer product by broadcasting [2,1] with [3]
        binary(Operand::Slice(&col, &[2, 1]), Operand::Slice(&row, &[3]), &mut out, &[2, 3], |x, y| x * y);
        assert_eq!(out, [1000.0, 2000.0, 3000.0, 2000.0, 4000.0, 6000.0]);
        // in place
        let mut io = a;
        binary(Operand::Out, Operand::Slice(&row, &[3]), &mut io, &[2, 3], |x, y| x - y);
        assert_eq!(io, [-9.0, -18.0, -27.0, -6.0, -15.0, -24.0]);
    }

    #[test]
    fn binary_coalesces_broadcast_axes() {
        // [2, 3, 2, 1] ⊙ [2, 1, 1, 1] runs as [2, 6] ⊙ [2, 1]; [2, 3, 2] ⊙ [2, 1, 2] keeps its
        // three axes. Both against the definition.
        let a: Vec<f64> = (0..12).map(f64::from).collect();
        let s = [10.0, -1.0];
        let mut out = [0.0; 12];
        binary(
            Operand::Slice(&a, &[2, 3, 2, 1]),
            Operand::Slice(&s, &[2, 1, 1, 1]),
            &mut out,
            &[2, 3, 2, 1],
            |x, y| x * y,
        );
        for i in 0..12 {
            assert_eq!(out[i], a[i] * s[i / 6]);
        }
        let c = [1.0, 2.0, 3.0, 4.0]; // [2, 1, 2]
        binary(Operand::Slice(&a, &[2, 3, 2]), Operand::Slice(&c, &[2, 1, 2]), &mut out, &[2, 3, 2], |x, y| x - y);
        for i in 0..12 {
            assert_eq!(out[i], a[i] - c[(i / 6) * 2 + i % 2]);
        }
        // A scalar result (every axis of length 1).
        let mut one = [0.0];
        binary(Operand::Slice(&[3.0], &[1, 1]), Operand::Slice(&[4.0], &[1]), &mut one, &[1, 1], |x, y| x * y);
        assert_eq!(one, [12.0]);
    }

    #[test]
    fn large_binary_matches_serial() {
        let n = 17 * 6000;
        let a: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let b: Vec<f64> = (0..17).map(|i| i as f64).collect();
        let dims = [n / 17, 17];
        assert_eq!(n % 17, 0);
        let mut out = vec![0.0; n];
        binary(Operand::Slice(&a, &dims), Operand::Slice(&b, &[17]), &mut out, &dims, |x, y| x * y + 1.0);
        for i in 0..n {
            assert_eq!(out[i], a[i] * b[i % 17] + 1.0);
        }
    }
}
