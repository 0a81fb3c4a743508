//! `cholesky(a)`: the lower-triangular factor `L` with positive diagonal of a symmetric
//! positive-definite `A = L Lᵀ`. Like TensorFlow and LAPACK, only the lower triangle of `a`
//! (diagonal included) is read: the matrix factored is `sym(a) = tril(a) + tril(a, −1)ᵀ`, and
//! the upper triangle of `a` may hold anything.
//!
//! Shapes: `a` is `[..., n, n]` (the leading axes, which may include the batch dimension, are a
//! batch), `L` has `a`'s shape.
//!
//! Failure: a matrix that is not positive definite (a pivot `A_ii − Σ_{k<i} L_ik²` that is not
//! positive, or NaN) fails the run with "matrix is not positive definite (pivot i = value)".
//!
//! VJP (Murray 2016, "Differentiation of the Cholesky decomposition", adapted to a
//! forward that reads one triangle). With `Φ(X)` = the lower triangle of `X` with its diagonal
//! halved: differentiating `A = L Lᵀ` gives `L⁻¹ dA L⁻ᵀ = L⁻¹dL + (L⁻¹dL)ᵀ` with `L⁻¹dL` lower
//! triangular, so `dL = L Φ(L⁻¹ dA L⁻ᵀ)` for symmetric `dA`. Since `Φ` is self-adjoint,
//! `⟨gL, dL⟩ = ⟨P, L⁻¹ dA L⁻ᵀ⟩ = ⟨G, dA⟩` with `P = Φ(Lᵀ gL)` and `G = L⁻ᵀ P L⁻¹`. The forward
//! reads `a_ij` (`i > j`) in two places of `sym(a)` and `a_ii` in one, so
//! `ga_ij = G_ij + G_ji` below the diagonal, `ga_ii = G_ii`, and 0 above:
//!
//! `ga = Φ(L⁻ᵀ S L⁻¹)` with `S = P + Pᵀ`,
//!
//! a lower-triangular gradient, consistent with the forward (TensorFlow returns the symmetric
//! `(G + Gᵀ)/2` instead, which is right only for symmetric perturbations). `P` reads only the
//! lower triangle of `gL` (the output's upper triangle is constant). `S` is built without a
//! transpose from `M = Lᵀ gL` and `Mᵀ = gLᵀ L` (two `matmul_t`s):
//! `S = matrix_set_diag(tril(M) + band_part(Mᵀ, 0, −1), diag(M))`, then
//! `L⁻ᵀ S L⁻¹ = triangular_solve(L, S L⁻¹, lower, adjoint)` with `L⁻¹ = triangular_solve(L, I)`.
//! All graph ops, so second derivatives work.
//!
//! Domain in gradient checks: `Domain::PosDef` (`B Bᵀ + n I`). Numerics: row-oriented
//! Cholesky–Banachiewicz in the output buffer, backward stable for positive-definite input; the
//! VJP's explicit `L⁻¹` (as in TensorFlow) loses accuracy as `L` becomes ill-conditioned.
//! Runs in place when `a` dies here.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::linalg::{cholesky_in_place, for_each_matrix};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matrix_diag_part::square_dim;
use crate::ops::{
    band_part, matmul, matmul_t, matrix_diag, matrix_diag_part, matrix_set_diag, ones_like, triangular_solve,
};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Cholesky factorisation of symmetric positive-definite matrices.
#[derive(Debug, Clone, Copy)]
pub struct Cholesky;

impl<F: Scalar> Op<F> for Cholesky {
    fn name(&self) -> &'static str {
        "cholesky"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        square_dim(inputs[0], "the input")?;
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let a = cx.input_opt(0);
        let od = cx.out_dims();
        let n = od[od.len() - 1];
        let batched = od.len() > 2 && od[..od.len() - 2].iter().product::<usize>() > 1;
        let work = cx.out().len() * n;
        let r = for_each_matrix(cx.out(), n * n, work, |b, m| {
            if let Some(a) = a {
                m.copy_from_slice(&a[b * n * n..(b + 1) * n * n]);
            }
            cholesky_in_place(m, n)
        });
        r.map_err(|(b, (i, p))| {
            let at = if batched { format!(" in matrix {b} of the batch") } else { String::new() };
            OpFailure(format!("matrix is not positive definite (pivot {i} = {p}){at}"))
        })
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (l, gl) = (cx.output(), cx.grad_output());
        let m = matmul_t(l, gl, true, false);
        let mt = matmul_t(gl, l, true, false);
        let s = matrix_set_diag(band_part(m, -1, 0) + band_part(mt, 0, -1), matrix_diag_part(m));
        let eye = matrix_diag(ones_like(matrix_diag_part(l)));
        let l_inv = triangular_solve(l, eye, true, false);
        let w = triangular_solve(l, matmul(s, l_inv), true, true);
        let ga = matrix_set_diag(band_part(w, -1, 0), matrix_diag_part(w) * F::of(0.5));
        grads([Some(ga)])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// The lower Cholesky factor `L` (`A = L Lᵀ`) of each symmetric positive-definite matrix of
/// `a: [..., n, n]`, reading only its lower triangle.
#[track_caller]
pub fn cholesky<F: Scalar>(a: Tensor<'_, F>) -> Tensor<'_, F> {
    a.graph().apply(Cholesky, &[a])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::log_det_tril;
    use crate::shape::Dim;
    use crate::testing::*;
    use crate::{grad, ParamStore, Session};

    #[test]
    fn cholesky_forward() {
        // [[4,2],[2,2]]: L₀₀ = √4 = 2, L₁₀ = 2/2 = 1, L₁₁ = √(2 − 1²) = 1.
        assert_forward(|g| cholesky(g.constant_f64(&[4.0, 2.0, 2.0, 2.0], [2, 2])), &[2.0, 0.0, 1.0, 1.0]);
        // The upper triangle is not read.
        assert_forward(|g| cholesky(g.constant_f64(&[4.0, -7.0, 2.0, 2.0], [2, 2])), &[2.0, 0.0, 1.0, 1.0]);
        // [[4,12,−16],[12,37,−43],[−16,−43,98]]: L₀₀ = 2, L₁₀ = 12/2 = 6, L₁₁ = √(37 − 36) = 1,
        // L₂₀ = −16/2 = −8, L₂₁ = (−43 − 6·(−8))/1 = 5, L₂₂ = √(98 − 64 − 25) = 3.
        assert_forward(
            |g| cholesky(g.constant_f64(&[4.0, 12.0, -16.0, 12.0, 37.0, -43.0, -16.0, -43.0, 98.0], [3, 3])),
            &[2.0, 0.0, 0.0, 6.0, 1.0, 0.0, -8.0, 5.0, 3.0],
        );
    }

    #[test]
    fn cholesky_forward_f32() {
        // As above, exact in f32 too.
        let g = Graph::<f32>::new();
        let y = cholesky(g.constant(vec![4.0f32, 2.0, 2.0, 2.0], [2, 2]));
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], [2.0f32, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn cholesky_forward_batched() {
        // A [2, 3] batch of c·[[4,2],[2,2]] with c = s² for s = 1..6: L = s·[[2,0],[1,1]].
        let a: Vec<f64> = (1..=6).flat_map(|s| [4.0, 2.0, 2.0, 2.0].map(|v| v * (s * s) as f64)).collect();
        let want: Vec<f64> = (1..=6).flat_map(|s| [2.0, 0.0, 1.0, 1.0].map(|v| v * s as f64)).collect();
        assert_forward(|g| cholesky(g.constant_f64(&a, [2, 3, 2, 2])), &want);
    }

    #[test]
    fn cholesky_forward_in_place() {
        let g = Graph::<f64>::new();
        let y = cholesky(g.constant_f64(&[4.0, 2.0, 2.0, 2.0], [2, 2]) * 1.0);
        assert_eq!(g.compile(&[y]).unwrap().num_in_place(), 1);
        assert_forward(|g| cholesky(g.constant_f64(&[4.0, 2.0, 2.0, 2.0], [2, 2]) * 1.0), &[2.0, 0.0, 1.0, 1.0]);
    }

    fn run_err(a: &[f64], shape: &[usize]) -> String {
        let g = Graph::<f64>::new();
        let y = cholesky(g.input("a", shape));
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        s.run(&ParamStore::new(0), &[("a", a)]).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn cholesky_not_positive_definite_fails() {
        // [[1,2],[2,1]]: pivot 1 = 1 − 2² = −3.
        let msg = run_err(&[1.0, 2.0, 2.0, 1.0], &[2, 2]);
        assert!(msg.contains("cholesky") && msg.contains("matrix is not positive definite (pivot 1 = -3)"), "{msg}");
        // A zero pivot and a NaN pivot fail too.
        let msg = run_err(&[0.0, 0.0, 0.0, 1.0], &[2, 2]);
        assert!(msg.contains("(pivot 0 = 0)"), "{msg}");
        let msg = run_err(&[f64::NAN, 0.0, 0.0, 1.0], &[2, 2]);
        assert!(msg.contains("(pivot 0 = NaN)"), "{msg}");
        // The second matrix of a batch: [[1,0],[0,−1]], pivot 1 = −1.
        let msg = run_err(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, -1.0], &[2, 2, 2]);
        assert!(msg.contains("(pivot 1 = -1) in matrix 1 of the batch"), "{msg}");
    }

    #[test]
    fn cholesky_large_batch_runs_in_parallel() {
        // 6000 matrices (enough work for the threaded path): s²·[[4,2],[2,2]] factors as
        // s·[[2,0],[1,1]], with s cycling through 1..=4.
        let count = 6000;
        let scale = |b: usize| (b % 4 + 1) as f64;
        let mut a: Vec<f64> = (0..count).flat_map(|b| [4.0, 2.0, 2.0, 2.0].map(|v| v * scale(b) * scale(b))).collect();
        let g = Graph::<f64>::new();
        let y = cholesky(g.input("a", [count, 2, 2]));
        let opts = crate::SessionOptions { threads: Some(2), check_finite: false };
        let mut s = Session::with_options(g.compile(&[y]).unwrap(), 0, opts);
        let store = ParamStore::new(0);
        let want: Vec<f64> = (0..count).flat_map(|b| [2.0, 0.0, 1.0, 1.0].map(|v| v * scale(b))).collect();
        assert_eq!(s.run(&store, &[("a", &a)]).unwrap()[0], want[..]);
        // Two failing matrices: the lower-numbered one is reported, whatever the threading.
        a[4 * 5000 + 3] = -1.0;
        a[4 * 4000 + 3] = -1.0;
        let msg = s.run(&store, &[("a", &a)]).map(|_| ()).unwrap_err().to_string();
        assert!(msg.contains("in matrix 4000 of the batch"), "{msg}");
    }

    #[test]
    fn cholesky_grad() {
        check_grads(|_, x| cholesky(x[0]), &[Spec::new([3, 3]).domain(Domain::PosDef)], 2);
        check_grads(|_, x| cholesky(x[0]), &[Spec::new([1, 1]).domain(Domain::PosDef)], 2);
    }

    #[test]
    fn cholesky_grad_batched() {
        check_grads(|_, x| cholesky(x[0]), &[Spec::new([2, 2, 4, 4]).domain(Domain::PosDef)], 1);
    }

    #[test]
    fn cholesky_grad_through_log_det() {
        // log det A = 2 log_det_tril(cholesky(A)); its gradient is A⁻¹ folded onto the lower
        // triangle, and the Hessian is checked too.
        check_grads(|_, x| log_det_tril(cholesky(x[0])), &[Spec::new([3, 3]).domain(Domain::PosDef)], 2);
    }

    #[test]
    fn linalg_with_symbolic_batch_runs_at_two_batch_sizes() {
        let g = Graph::<f64>::new();
        let a = g.input("a", Shape::new([Dim::Batch, Dim::Fixed(2), Dim::Fixed(2)]));
        let l = cholesky(a);
        let x = triangular_solve(l, g.constant_f64(&[2.0, 3.0], [2, 1]), true, false);
        let ld = log_det_tril(l);
        let ga = grad(ld.sum_all(), &[a])[0];
        assert_eq!(ld.shape(), Shape::new([Dim::Batch]));
        let mut s = Session::new(g.compile(&[l, x, ld, ga]).unwrap(), 0);
        let store = ParamStore::new(0);
        // Matrix s of the batch is A_s = s²·[[4,2],[2,2]], so L_s = s·[[2,0],[1,1]],
        // L_s⁻¹ [2,3] = [1,2]/s and log_det_tril(L_s) = log 2 + 2 log s. The gradient of
        // log_det_tril(cholesky(A)) = ½ log det A is ½ A⁻¹ = [[1,−1],[−1,2]]/(4s²) folded onto the
        // lower triangle (off-diagonal counted twice): [[1,0],[−2,2]]/(4s²).
        for batch in [1usize, 3] {
            let feed: Vec<f64> = (1..=batch).flat_map(|k| [4.0, 2.0, 2.0, 2.0].map(|v| v * (k * k) as f64)).collect();
            let out = s.run(&store, &[("a", &feed)]).unwrap();
            let close = |got: &[f64], want: Vec<f64>| {
                assert_eq!(got.len(), want.len());
                for (u, v) in got.iter().zip(&want) {
                    assert!((u - v).abs() < 1e-12 * (1.0 + v.abs()), "batch {batch}: {got:?} vs {want:?}");
                }
            };
            let ks = || (1..=batch).map(|k| k as f64);
            close(out.get(0), ks().flat_map(|k| [2.0 * k, 0.0, k, k]).collect());
            close(out.get(1), ks().flat_map(|k| [1.0 / k, 2.0 / k]).collect());
            close(out.get(2), ks().map(|k| 2f64.ln() + 2.0 * k.ln()).collect());
            close(out.get(3), ks().flat_map(|k| [0.25, 0.0, -0.5, 0.5].map(|v| v / (k * k))).collect());
            assert_eq!(out.dims(0), [batch, 2, 2]);
        }
    }

    #[test]
    fn cholesky_shape_error() {
        let g = Graph::<f64>::new();
        let _ = cholesky(g.input("a", [2, 3, 4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("cholesky") && msg.contains("[2, 3, 4]") && msg.contains("square"), "{msg}");
    }
}
