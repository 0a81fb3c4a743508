//! `transpose(x, perm)`: permutes the axes, `y[i₀, …, i_{r-1}] = x[j]` with `j[perm[k]] = i[k]`,
//! so output axis `k` is input axis `perm[k]` (NumPy's and TF's convention).
//!
//! VJP: `gx = transpose(gy, perm⁻¹)`, the inverse permutation. Shape: `y.shape[k] =
//! x.shape[perm[k]]`; `perm` must be a permutation of `0..rank`. The batch dimension may be on
//! any axis and moves with it. Domain: all reals (linear, exact).
//!
//! The kernel first drops size-1 axes and merges axes that stay adjacent, so e.g. `[0, 2, 3, 1]`
//! on `[a, b, c, d]` is a 2-D transpose of `[b, c·d]` blocks; when the last axis stays last it
//! copies whole rows, otherwise it transposes in cache-sized tiles.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops::permute;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Permutation of the axes.
#[derive(Debug, Clone)]
pub struct Transpose {
    /// Output axis `k` is input axis `perm[k]`.
    pub perm: SmallVec<[usize; 6]>,
}

/// The inverse permutation: `inverse(p)[p[k]] = k`. `p` must be a permutation.
pub(crate) fn inverse_permutation(p: &[usize]) -> SmallVec<[usize; 6]> {
    let mut inv = SmallVec::from_elem(0, p.len());
    for (k, &a) in p.iter().enumerate() {
        inv[a] = k;
    }
    inv
}

fn is_permutation(p: &[usize]) -> bool {
    let mut seen: SmallVec<[bool; 6]> = SmallVec::from_elem(false, p.len());
    for &a in p {
        if a >= p.len() || seen[a] {
            return false;
        }
        seen[a] = true;
    }
    true
}

impl<F: Scalar> Op<F> for Transpose {
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        if self.perm.len() != x.rank() || !is_permutation(&self.perm) {
            return Err(ShapeError::Custom(format!(
                "perm {:?} is not a permutation of the {} axes of {x}",
                &self.perm[..],
                x.rank()
            )));
        }
        Ok(Shape::new(self.perm.iter().map(|&a| x.dim(a))))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        permute(x, xd, &self.perm, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let inv = inverse_permutation(&self.perm);
        grads([Some(transpose(cx.grad_output(), &inv))])
    }
}

/// `x` with its axes permuted: output axis `k` is input axis `perm[k]`.
#[track_caller]
pub fn transpose<'g, F: Scalar>(x: Tensor<'g, F>, perm: &[usize]) -> Tensor<'g, F> {
    x.graph().apply(Transpose { perm: perm.into() }, &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// The tensor with its axes permuted (see [`transpose`]).
    #[track_caller]
    pub fn transpose(self, perm: &[usize]) -> Tensor<'g, F> {
        transpose(self, perm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Dim, B};
    use crate::testing::*;
    use crate::{ParamStore, Session, SessionOptions};
    use proptest::prelude::*;

    fn iota(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn transpose_forward_matrix() {
        // [[0, 1, 2], [3, 4, 5]]ᵀ = [[0, 3], [1, 4], [2, 5]].
        assert_forward(|g| transpose(g.constant_f64(&iota(6), [2, 3]), &[1, 0]), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn transpose_forward_rank3() {
        // On shape [2, 3, 2], x[i, j, k] = 6i + 2j + k.
        // perm [2, 0, 1]: y[k, i, j] = x[i, j, k], y has shape [2, 2, 3], row-major over (k, i, j):
        // k = 0: 0 2 4 | 6 8 10; k = 1: 1 3 5 | 7 9 11.
        assert_forward(
            |g| transpose(g.constant_f64(&iota(12), [2, 3, 2]), &[2, 0, 1]),
            &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0],
        );
        // perm [1, 0, 2] keeps the last axis: rows of 2 move, y[j, i, :] = x[i, j, :].
        assert_forward(
            |g| g.constant_f64(&iota(12), [2, 3, 2]).transpose(&[1, 0, 2]),
            &[0.0, 1.0, 6.0, 7.0, 2.0, 3.0, 8.0, 9.0, 4.0, 5.0, 10.0, 11.0],
        );
    }

    #[test]
    fn transpose_forward_large_tiled() {
        // 70 x 45 crosses several 32 x 32 tiles; y[j, i] = x[i, j] = 45i + j.
        let (m, n) = (70, 45);
        let expected: Vec<f64> = (0..n).flat_map(|j| (0..m).map(move |i| (i * n + j) as f64)).collect();
        assert_forward(|g| transpose(g.constant_f64(&iota(m * n), [m, n]), &[1, 0]), &expected);
    }

    #[test]
    fn transpose_grad() {
        check_grads(|_, x| transpose(x[0], &[1, 0]), &[Spec::new([3, 4])], 2);
        check_grads(|_, x| transpose(x[0], &[2, 0, 1]), &[Spec::new([2, 3, 2])], 2);
        // Nonlinear in x, so the second-order check differentiates the VJP's transpose too.
        check_grads(
            |_, x| {
                let y = transpose(x[0], &[1, 2, 0]);
                y * y * transpose(x[1], &[1, 0, 2])
            },
            &[Spec::new([2, 3, 2]), Spec::new([2, 3, 2])],
            2,
        );
    }

    #[test]
    fn transpose_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(2), Dim::Fixed(3)]);
        let y = transpose(x, &[2, 0, 1]);
        assert_eq!(y.shape(), Shape::from([Dim::Fixed(3), B, Dim::Fixed(2)]));
        let gx = crate::grad((y * y).sum_all(), &[x])[0];
        let mut s = Session::with_options(
            g.compile(&[y, gx]).unwrap(),
            0,
            SessionOptions { threads: Some(1), ..Default::default() },
        );
        // Batch 2: x[b, i, k] = 6b + 3i + k; y[k, b, i] = x[b, i, k].
        let xv = iota(12);
        let out = s.run(&ParamStore::new(0), &[("x", &xv)]).unwrap();
        assert_eq!(out.dims(0), &[3, 2, 2]);
        assert_eq!(out[0], [0.0, 3.0, 6.0, 9.0, 1.0, 4.0, 7.0, 10.0, 2.0, 5.0, 8.0, 11.0]);
        // d/dx Σ y² = 2x.
        let twice: Vec<f64> = xv.iter().map(|v| 2.0 * v).collect();
        assert_eq!(out[1], twice[..]);
    }

    #[test]
    fn transpose_shape_error_names_perm_and_shape() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [2, 3, 4]);
        let _ = transpose(x, &[0, 0, 1]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("transpose") && msg.contains("[0, 0, 1]") && msg.contains("[2, 3, 4]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = transpose(g.input("x", [2, 3]), &[1, 0, 2]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("transpose") && msg.contains("[2, 3]"), "{msg}");
    }

    fn shape_and_perm() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        strategies::shapes(1..=4, 1..=3).prop_flat_map(|s| {
            let r = s.len();
            (Just(s), Just((0..r).collect::<Vec<_>>()).prop_shuffle())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn transpose_prop_inverse_and_grad((shape, perm) in shape_and_perm()) {
            let n: usize = shape.iter().product();
            let xv = iota(n);
            let inv = inverse_permutation(&perm);
            let round_trip = eval(|g| transpose(transpose(g.constant_f64(&xv, &shape[..]), &perm), &inv));
            prop_assert_eq!(round_trip, xv);
            let p = perm.clone();
            let r = try_check_grads(&move |_, x| transpose(x[0], &p), &[Spec::new(&shape[..])], 1, GradCheckOptions::default());
            prop_assert!(r.is_ok(), "{:?}", r);
        }
    }
}
