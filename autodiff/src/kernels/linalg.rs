//! Small dense linear-algebra kernels on row-major matrices (Cholesky, triangular solve) and a
//! driver that maps a kernel over a batch of matrices.
//!
//! Every matrix of a batch is computed by the same serial code whatever the threading, so
//! results are bit-identical for any number of threads.

use std::sync::Mutex;

use super::CHUNK;
use crate::scalar::Scalar;
use crate::team::for_each_chunk_mut;

/// Calls `f(b, m)` for each consecutive block `m` of `size` elements of `out` (matrix `b` of a
/// batch), split across threads when `work` (an estimate of the multiply-adds) is at least
/// [`PAR_MIN`](super::PAR_MIN). Returns the failure of the lowest-numbered failing block, so the reported error
/// does not depend on the number of threads. Does nothing when `size` is 0.
pub fn for_each_matrix<F, E, Fun>(out: &mut [F], size: usize, work: usize, f: Fun) -> Result<(), (usize, E)>
where
    F: Send,
    E: Send,
    Fun: Fn(usize, &mut [F]) -> Result<(), E> + Sync,
{
    if size == 0 || out.is_empty() {
        return Ok(());
    }
    let count = out.len() / size;
    if count > 1 && super::should_par(work) {
        // Whole matrices per part, at least CHUNK elements' worth.
        let per = (CHUNK / size).max(1);
        let first: Mutex<Option<(usize, E)>> = Mutex::new(None);
        for_each_chunk_mut(out, per * size, |c, ms| {
            for (j, m) in ms.chunks_mut(size).enumerate() {
                if let Err(e) = f(c * per + j, m) {
                    let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
                    if first.as_ref().is_none_or(|(b, _)| c * per + j < *b) {
                        *first = Some((c * per + j, e));
                    }
                    return;
                }
            }
        });
        return match first.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        };
    }
    for (b, m) in out.chunks_mut(size).enumerate() {
        f(b, m).map_err(|e| (b, e))?;
    }
    Ok(())
}

/// [`for_each_matrix`] for kernels that cannot fail.
pub fn for_each_matrix_ok<F, Fun>(out: &mut [F], size: usize, work: usize, f: Fun)
where
    F: Send,
    Fun: Fn(usize, &mut [F]) + Sync,
{
    let r: Result<(), (usize, std::convert::Infallible)> = for_each_matrix(out, size, work, |b, m| {
        f(b, m);
        Ok(())
    });
    if let Err((_, never)) = r {
        match never {}
    }
}

/// The offset (in whole matrices) of batch entry `b` of an operand with broadcast strides
/// `strides` (from [`broadcast_strides`](super::elementwise::broadcast_strides)) against the
/// output batch dimensions `dims`.
#[inline]
pub fn batch_offset(mut b: usize, dims: &[usize], strides: &[usize]) -> usize {
    let mut off = 0;
    for ax in (0..dims.len()).rev() {
        off += (b % dims[ax]) * strides[ax];
        b /= dims[ax];
    }
    off
}

/// `Σ a[i] b[i]` with four partial sums (the order is fixed, so the result is deterministic).
#[inline]
pub fn dot<F: Scalar>(a: &[F], b: &[F]) -> F {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [F::zero(); 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..4 {
            acc[l] = acc[l] + x[l] * y[l];
        }
    }
    let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        s = s + x * y;
    }
    s
}

/// Cholesky factorisation in place of a row-major `n × n` matrix: reads only the lower
/// triangle (diagonal included), leaves `L` there and zeroes the strict upper triangle, so
/// `A = L Lᵀ` with `L` lower triangular and a positive diagonal.
///
/// Row by row (Cholesky–Banachiewicz): `L_ij = (A_ij − Σ_{k<j} L_ik L_jk) / L_jj` for `j < i`,
/// `L_ii = √(A_ii − Σ_{k<i} L_ik²)`; both sums are dot products of contiguous row prefixes.
/// A pivot `A_ii − Σ L_ik²` that is not positive (or NaN) returns `Err((i, pivot))`, with the
/// matrix partly overwritten.
pub fn cholesky_in_place<F: Scalar>(a: &mut [F], n: usize) -> Result<(), (usize, F)> {
    debug_assert_eq!(a.len(), n * n);
    for i in 0..n {
        let (done, rest) = a.split_at_mut(i * n);
        let row = &mut rest[..n];
        for j in 0..i {
            let lj = &done[j * n..j * n + j + 1];
            row[j] = (row[j] - dot(&row[..j], &lj[..j])) / lj[j];
        }
        let pivot = row[i] - dot(&row[..i], &row[..i]);
        if pivot.is_nan() || pivot <= F::zero() {
            return Err((i, pivot));
        }
        row[i] = pivot.sqrt();
        row[i + 1..].iter_mut().for_each(|v| *v = F::zero());
    }
    Ok(())
}

/// Solves `op(L) X = B` in place for a row-major `n × n` triangular `L` and `n × k` `X` (which
/// holds `B` on entry): `op(L) = Lᵀ` if `adjoint`, else `L`. Only the lower (if `lower`) or
/// upper triangle of `L` is read.
///
/// `op(L)` is lower triangular when `lower != adjoint`, solved by forward substitution, else by
/// back substitution; each step updates a whole row of `X` (`k` contiguous values), or for
/// `k = 1` works along rows of `L` (see `solve_vector`). A zero on
/// the diagonal gives infinities or NaN, as a division by zero does.
pub fn triangular_solve_in_place<F: Scalar>(l: &[F], x: &mut [F], n: usize, k: usize, lower: bool, adjoint: bool) {
    debug_assert!(l.len() == n * n && x.len() == n * k);
    if k == 1 {
        solve_vector(l, x, n, lower, adjoint);
        return;
    }
    // Entry (i, j) of op(L).
    let a = |i: usize, j: usize| if adjoint { l[j * n + i] } else { l[i * n + j] };
    if lower != adjoint {
        for i in 0..n {
            let (solved, rest) = x.split_at_mut(i * k);
            let xi = &mut rest[..k];
            for j in 0..i {
                let c = a(i, j);
                for (v, &s) in xi.iter_mut().zip(&solved[j * k..(j + 1) * k]) {
                    *v = *v - c * s;
                }
            }
            let d = a(i, i);
            xi.iter_mut().for_each(|v| *v = *v / d);
        }
    } else {
        for i in (0..n).rev() {
            let (head, solved) = x.split_at_mut((i + 1) * k);
            let xi = &mut head[i * k..];
            for j in i + 1..n {
                let c = a(i, j);
                let o = (j - i - 1) * k;
                for (v, &s) in xi.iter_mut().zip(&solved[o..o + k]) {
                    *v = *v - c * s;
                }
            }
            let d = a(i, i);
            xi.iter_mut().for_each(|v| *v = *v / d);
        }
    }
}

/// [`triangular_solve_in_place`] for one right-hand side (the common case of a batch of vectors),
/// reading `L` by rows only: a dot product per row for `L`, an update with a row of `L` per
/// solved entry for `Lᵀ` (whose rows are `L`'s columns).
fn solve_vector<F: Scalar>(l: &[F], x: &mut [F], n: usize, lower: bool, adjoint: bool) {
    match (lower, adjoint) {
        (true, false) => {
            for i in 0..n {
                let (solved, rest) = x.split_at_mut(i);
                rest[0] = (rest[0] - dot(&l[i * n..i * n + i], solved)) / l[i * n + i];
            }
        }
        (false, false) => {
            for i in (0..n).rev() {
                let (head, solved) = x.split_at_mut(i + 1);
                head[i] = (head[i] - dot(&l[i * n + i + 1..(i + 1) * n], solved)) / l[i * n + i];
            }
        }
        // Lᵀ is upper triangular: once x_j is known, remove L_ji x_j (row j of L) from the rows above.
        (true, true) => {
            for j in (0..n).rev() {
                x[j] = x[j] / l[j * n + j];
                let xj = x[j];
                for (v, &c) in x[..j].iter_mut().zip(&l[j * n..j * n + j]) {
                    *v = *v - c * xj;
                }
            }
        }
        // Uᵀ is lower triangular: once x_j is known, remove U_ji x_j (row j of U) from the rows below.
        (false, true) => {
            for j in 0..n {
                x[j] = x[j] / l[j * n + j];
                let xj = x[j];
                for (v, &c) in x[j + 1..].iter_mut().zip(&l[j * n + j + 1..(j + 1) * n]) {
                    *v = *v - c * xj;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], n: usize, k: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * k];
        for i in 0..n {
            for j in 0..k {
                c[i * k + j] = (0..n).map(|p| a[i * n + p] * b[p * k + j]).sum();
            }
        }
        c
    }

    fn transpose(a: &[f64], n: usize) -> Vec<f64> {
        (0..n * n).map(|e| a[(e % n) * n + e / n]).collect()
    }

    #[test]
    fn cholesky_reconstructs_and_ignores_upper() {
        let n = 5;
        let m: Vec<f64> = (0..n * n).map(|i| ((i * 37) % 11) as f64 / 7.0 - 0.6).collect();
        // A = M Mᵀ + n I is positive definite.
        let mut a = matmul(&m, &transpose(&m, n), n, n);
        (0..n).for_each(|i| a[i * n + i] += n as f64);
        let mut l = a.clone();
        // Garbage above the diagonal must not matter.
        (0..n).for_each(|i| (i + 1..n).for_each(|j| l[i * n + j] = 1e9));
        cholesky_in_place(&mut l, n).unwrap();
        let llt = matmul(&l, &transpose(&l, n), n, n);
        for (x, y) in llt.iter().zip(&a) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        (0..n).for_each(|i| (i + 1..n).for_each(|j| assert_eq!(l[i * n + j], 0.0)));
    }

    #[test]
    fn cholesky_reports_the_failing_pivot() {
        // [[1, 2], [2, 1]]: pivot 1 = 1 − 2² = −3.
        let mut a = [1.0, 2.0, 2.0, 1.0];
        assert_eq!(cholesky_in_place(&mut a, 2), Err((1, -3.0)));
        let mut a = [f64::NAN];
        assert!(cholesky_in_place(&mut a, 1).is_err());
    }

    #[test]
    fn triangular_solve_all_variants() {
        let n = 4;
        let full: Vec<f64> = (0..n * n).map(|i| ((i * 13) % 7) as f64 / 3.0 + 0.5).collect();
        for (k, lower) in [1, 3].into_iter().flat_map(|k| [(k, false), (k, true)]) {
            let b: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.7).sin()).collect();
            for adjoint in [false, true] {
                // The triangle the solve reads, zeros elsewhere.
                let tri: Vec<f64> = (0..n * n)
                    .map(|e| {
                        let (i, j) = (e / n, e % n);
                        if (lower && j <= i) || (!lower && j >= i) {
                            full[e]
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let mut x = b.clone();
                triangular_solve_in_place(&full, &mut x, n, k, lower, adjoint);
                let op = if adjoint { transpose(&tri, n) } else { tri };
                let back = matmul(&op, &x, n, k);
                for (u, v) in back.iter().zip(&b) {
                    assert!((u - v).abs() < 1e-12, "lower {lower} adjoint {adjoint}: {u} vs {v}");
                }
            }
        }
    }

    #[test]
    fn for_each_matrix_reports_first_failure_in_parallel() {
        let mut v = vec![0.0f64; 4 * 10_000];
        let r = for_each_matrix(&mut v, 4, crate::kernels::PAR_MIN, |b, m| {
            m[0] = b as f64;
            if b % 3000 == 7 {
                Err(b)
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err((7, 7)));
    }
}
