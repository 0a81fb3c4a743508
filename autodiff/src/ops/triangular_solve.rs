//! `triangular_solve(l, b, lower, adjoint)`: the solution `X` of `op(L) X = B` for triangular
//! `L`, where `op(L) = Lᵀ` if `adjoint`, else `L` (TensorFlow's `matrix_triangular_solve`). Only
//! the lower (if `lower`) or upper triangle of `L`, diagonal included, is read; the other
//! triangle may hold anything.
//!
//! Shapes: `l` is `[..., n, n]`, `b` is `[..., n, k]`; their leading (batch) axes broadcast like
//! `matmul`'s (the batch dimension included), and `X` is `[broadcast..., n, k]`.
//!
//! VJP, with `A = op(L)` and `X = A⁻¹ B`: from `dX = A⁻¹ (dB − dA X)`,
//! `gB = A⁻ᵀ gX = triangular_solve(l, gy, lower, !adjoint)` and `gA = −gB Xᵀ`, so
//! `gL = −gB Xᵀ` (or its transpose `−X gBᵀ` if `adjoint`), masked with `band_part` to the triangle
//! the forward reads (the other triangle has no influence, so its gradient is 0). All graph ops,
//! so second derivatives work.
//!
//! Domain in gradient checks: entries at least 1 away from 0 (a well-conditioned diagonal of
//! either sign). Numerics: forward or back substitution, backward stable; a zero on the diagonal
//! gives infinities or NaN, like a division by zero (no error is raised, as in TensorFlow).
//! Runs in place in `b`'s buffer when `b` dies here and has the output's shape.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::broadcast_strides;
use crate::kernels::linalg::{batch_offset, for_each_matrix_ok, triangular_solve_in_place};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matrix_diag_part::square_dim;
use crate::ops::{band_part, matmul_t, neg};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Solve a triangular system.
#[derive(Debug, Clone, Copy)]
pub struct TriangularSolve {
    /// `L` is lower triangular (else upper).
    pub lower: bool,
    /// Solve with `Lᵀ` instead of `L`.
    pub adjoint: bool,
}

impl<F: Scalar> Op<F> for TriangularSolve {
    fn name(&self) -> &'static str {
        "triangular_solve"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (l, b) = (inputs[0], inputs[1]);
        let n = square_dim(l, "the triangular matrix")?;
        let rb = b.rank();
        if rb < 2 || b.dim(rb - 2) != n {
            return Err(ShapeError::Custom(format!(
                "the right-hand side must be [..., {n}, k] for a {l} matrix, got {b} (use reshape for a vector)"
            )));
        }
        let lb = Shape::from(&l.dims()[..l.rank() - 2]);
        let bb = Shape::from(&b.dims()[..rb - 2]);
        let mut out = lb.broadcast_with(&bb).map_err(|_| {
            ShapeError::Custom(format!(
                "batch dimensions {lb} of the matrix and {bb} of the right-hand side do not broadcast"
            ))
        })?;
        out.dims_mut().push(n);
        out.dims_mut().push(b.dim(rb - 1));
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (l, b) = (cx.input(0), cx.input_opt(1));
        let (ld, bd, od) = (cx.input_dims(0), cx.input_dims(1), cx.out_dims());
        let r = od.len();
        let (n, k) = (od[r - 2], od[r - 1]);
        let batch = &od[..r - 2];
        let sl = broadcast_strides(&ld[..ld.len() - 2], batch);
        let sb = broadcast_strides(&bd[..bd.len() - 2], batch);
        let work = cx.out().len() * n;
        let (lower, adjoint) = (self.lower, self.adjoint);
        for_each_matrix_ok(cx.out(), n * k, work, |i, x| {
            if let Some(b) = b {
                let o = batch_offset(i, batch, &sb) * n * k;
                x.copy_from_slice(&b[o..o + n * k]);
            }
            let o = batch_offset(i, batch, &sl) * n * n;
            triangular_solve_in_place(&l[o..o + n * n], x, n, k, lower, adjoint);
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (l, x, gy) = (cx.input(0), cx.output(), cx.grad_output());
        let gb = triangular_solve(l, gy, self.lower, !self.adjoint);
        let gl = if self.adjoint { matmul_t(x, gb, false, true) } else { matmul_t(gb, x, false, true) };
        let gl = if self.lower { band_part(gl, -1, 0) } else { band_part(gl, 0, -1) };
        grads([Some(neg(gl)), Some(gb)])
    }
    fn in_place(&self) -> Option<usize> {
        Some(1)
    }
}

/// The solution `X` of `op(L) X = B` (`op(L) = Lᵀ` if `adjoint`) for `l: [..., n, n]`, lower
/// triangular if `lower` (else upper; only that triangle is read), and `b: [..., n, k]`, with
/// broadcast batch axes.
#[track_caller]
pub fn triangular_solve<'g, F: Scalar>(
    l: Tensor<'g, F>,
    b: Tensor<'g, F>,
    lower: bool,
    adjoint: bool,
) -> Tensor<'g, F> {
    l.graph().apply(TriangularSolve { lower, adjoint }, &[l, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    fn solve(l: [f64; 4], b: [f64; 2], lower: bool, adjoint: bool) -> Vec<f64> {
        eval(|g| triangular_solve(g.constant_f64(&l, [2, 2]), g.constant_f64(&b, [2, 1]), lower, adjoint))
    }

    #[test]
    fn triangular_solve_forward() {
        // [[2,0],[1,1]] x = [2,3]: x₀ = 2/2 = 1, x₁ = (3 − 1·1)/1 = 2.
        assert_forward(
            |g| {
                triangular_solve(
                    g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]),
                    g.constant_f64(&[2.0, 3.0], [2, 1]),
                    true,
                    false,
                )
            },
            &[1.0, 2.0],
        );
    }

    #[test]
    fn triangular_solve_forward_all_variants_ignore_other_triangle() {
        // L = [[2,·],[1,1]] (the · entry is never read): L x = [2,3] gives [1,2] as above;
        // Lᵀ = [[2,1],[0,1]]: x₁ = 3, x₀ = (2 − 3)/2 = −0.5.
        assert_eq!(solve([2.0, 100.0, 1.0, 1.0], [2.0, 3.0], true, false), [1.0, 2.0]);
        assert_eq!(solve([2.0, 100.0, 1.0, 1.0], [2.0, 3.0], true, true), [-0.5, 3.0]);
        // U = [[2,1],[·,1]] is that Lᵀ: U x = [2,3] gives [−0.5, 3] and Uᵀ x = [2,3] gives [1,2].
        assert_eq!(solve([2.0, 1.0, 100.0, 1.0], [2.0, 3.0], false, false), [-0.5, 3.0]);
        assert_eq!(solve([2.0, 1.0, 100.0, 1.0], [2.0, 3.0], false, true), [1.0, 2.0]);
    }

    #[test]
    fn triangular_solve_forward_mvn_scales() {
        // The scale of one MVN relative to another, Lb⁻¹ La, with La = [[1,0],[0.5,2]] and
        // Lb = [[2,0],[1,1]]. Column 1 solves Lb x = [1, 0.5]: x₀ = 0.5, x₁ = 0.5 − 0.5 = 0.
        // Column 2 solves Lb x = [0, 2]: x₀ = 0, x₁ = 2. Check: Lb [[0.5,0],[0,2]] = [[1,0],[0.5,2]].
        assert_forward(
            |g| {
                let la = g.constant_f64(&[1.0, 0.0, 0.5, 2.0], [2, 2]);
                let lb = g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]);
                triangular_solve(lb, la, true, false)
            },
            &[0.5, 0.0, 0.0, 2.0],
        );
    }

    #[test]
    fn triangular_solve_forward_batched_and_broadcast() {
        // L = s·[[2,0],[1,1]] for s = 1..6 over a [2, 3] batch, one shared b = [[2],[3]]:
        // X = [1, 2] / s.
        let l: Vec<f64> = (1..=6).flat_map(|s| [2.0, 0.0, 1.0, 1.0].map(|v| v * s as f64)).collect();
        let want: Vec<f64> = (1..=6).flat_map(|s| [1.0 / s as f64, 2.0 / s as f64]).collect();
        assert_forward(
            |g| triangular_solve(g.constant_f64(&l, [2, 3, 2, 2]), g.constant_f64(&[2.0, 3.0], [2, 1]), true, false),
            &want,
        );
        // One L, a batch of right-hand sides [[2],[3]]·t for t = 1, 2: X = t·[1, 2].
        assert_forward(
            |g| {
                triangular_solve(
                    g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]),
                    g.constant_f64(&[2.0, 3.0, 4.0, 6.0], [2, 2, 1]),
                    true,
                    false,
                )
            },
            &[1.0, 2.0, 2.0, 4.0],
        );
    }

    #[test]
    fn triangular_solve_large_batch_runs_in_parallel() {
        // 20000 right-hand sides t·[2,3] (t cycling through 1..=7) against one broadcast
        // L = [[2,0],[1,1]]: X = t·[1,2], exactly.
        let count = 20000;
        let t = |i: usize| (i % 7 + 1) as f64;
        let b: Vec<f64> = (0..count).flat_map(|i| [2.0 * t(i), 3.0 * t(i)]).collect();
        let g = Graph::<f64>::new();
        let y =
            triangular_solve(g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]), g.input("b", [count, 2, 1]), true, false);
        let opts = crate::SessionOptions { threads: Some(2), check_finite: false };
        let mut s = crate::Session::with_options(g.compile(&[y]).unwrap(), 0, opts);
        let out = s.run(&crate::ParamStore::new(0), &[("b", &b)]).unwrap();
        let want: Vec<f64> = (0..count).flat_map(|i| [t(i), 2.0 * t(i)]).collect();
        assert_eq!(out[0], want[..]);
    }

    #[test]
    fn triangular_solve_forward_in_place() {
        let g = Graph::<f64>::new();
        let l = g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]);
        let y = triangular_solve(l, g.constant_f64(&[2.0, 3.0], [2, 1]) * 1.0, true, false);
        assert_eq!(g.compile(&[y]).unwrap().num_in_place(), 1);
        assert_forward(
            |g| {
                let l = g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]);
                triangular_solve(l, g.constant_f64(&[2.0, 3.0], [2, 1]) * 1.0, true, false)
            },
            &[1.0, 2.0],
        );
    }

    #[test]
    fn triangular_solve_grad_all_variants() {
        let dom = Domain::AwayFrom(0.0, 1.0);
        // k = 1 and k = 2 take different kernel paths.
        for k in [1, 2] {
            for lower in [false, true] {
                for adjoint in [false, true] {
                    check_grads(
                        move |_, x| triangular_solve(x[0], x[1], lower, adjoint),
                        &[Spec::new([3, 3]).domain(dom), Spec::new([3, k])],
                        2,
                    );
                }
            }
        }
    }

    #[test]
    fn triangular_solve_grad_batched_and_broadcast() {
        let dom = Domain::AwayFrom(0.0, 1.0);
        check_grads(
            |_, x| triangular_solve(x[0], x[1], true, false),
            &[Spec::new([2, 3, 3]).domain(dom), Spec::new([3, 2])],
            1,
        );
        check_grads(
            |_, x| triangular_solve(x[0], x[1], false, true),
            &[Spec::new([3, 3]).domain(dom), Spec::new([2, 1, 3, 1])],
            1,
        );
    }

    #[test]
    fn triangular_solve_shape_error() {
        let g = Graph::<f64>::new();
        let _ = triangular_solve(g.input("l", [3, 3]), g.input("b", [2, 1]), true, false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("triangular_solve") && msg.contains("[3, 3]") && msg.contains("[2, 1]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = triangular_solve(g.input("l", [3, 2]), g.input("b", [3, 1]), true, false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("square") && msg.contains("[3, 2]"), "{msg}");
    }
}
