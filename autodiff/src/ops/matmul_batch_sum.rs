//! `matmul_batch_sum(a, b, ta, tb) = Σ_i op(a[i]) @ op(b[i])`: the matrix products of every
//! batch entry, summed over the batch. `op` transposes the last two axes when its flag is set.
//!
//! This is the gradient of a batched `matmul` with respect to an operand it broadcast over the
//! batch (a weight matrix applied to every example or position, e.g. a convolution's kernel
//! against its patches). Computing it directly skips the `[batch..., m, n]` intermediate and its
//! sum, and in the common `ta` case it is one tall GEMM: `Σ_i a[i]ᵀ b[i] = A_flatᵀ @ B_flat`
//! with the batch rows stacked, `A_flat` `[Π batch · k, m]`.
//!
//! VJP (with `A_i = op(a[i])`, `B_i = op(b[i])`, `gS` the output gradient): `gA_i = gS @ B_iᵀ`,
//! `gB_i = A_iᵀ @ gS`, i.e. `matmul`'s VJP with `gS` broadcast over the batch:
//! `ga = ta ? matmul_t(b, gS, tb, true) : matmul_t(gS, b, false, !tb)`,
//! `gb = tb ? matmul_t(gS, a, true, ta) : matmul_t(a, gS, !ta, false)`.
//!
//! Shapes: `op(a)` is `[batch..., m, k]`, `op(b)` is `[batch..., k, n]` with identical leading
//! axes (which may include the batch dimension), the output `[m, n]`. Domain: all reals.
//!
//! Numerics: each output element is one dot product over the batch and `k`, accumulated in a
//! fixed order; the GEMM is split over output rows or columns only, so results do not depend
//! on the number of threads.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::matmul::{gemm, MatRef};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matmul_t;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Sum over the batch of matrix products.
#[derive(Debug, Clone, Copy, Default)]
pub struct MatmulBatchSum {
    /// Transpose the last two axes of `a`.
    pub ta: bool,
    /// Transpose the last two axes of `b`.
    pub tb: bool,
}

impl<F: Scalar> Op<F> for MatmulBatchSum {
    fn name(&self) -> &'static str {
        "matmul_batch_sum"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (a, b) = (inputs[0], inputs[1]);
        if a.rank() < 2 || a.rank() != b.rank() || a.dims()[..a.rank() - 2] != b.dims()[..b.rank() - 2] {
            return Err(ShapeError::Custom(format!(
                "operands need rank >= 2 and identical leading (batch) axes, got {a} and {b}"
            )));
        }
        let r = a.rank();
        let (m, k) = if self.ta { (a.dim(r - 1), a.dim(r - 2)) } else { (a.dim(r - 2), a.dim(r - 1)) };
        let (k2, n) = if self.tb { (b.dim(r - 1), b.dim(r - 2)) } else { (b.dim(r - 2), b.dim(r - 1)) };
        if k != k2 {
            return Err(ShapeError::Custom(format!("inner dimensions differ: {a} and {b} ({k} vs {k2})")));
        }
        Ok(Shape::new([m, n]))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (a, b) = (cx.input(0), cx.input(1));
        let ad = cx.input_dims(0);
        let bd = cx.input_dims(1);
        let r = ad.len();
        let nb: usize = ad[..r - 2].iter().product();
        let (ar, ac, br, bc) = (ad[r - 2], ad[r - 1], bd[r - 2], bd[r - 1]);
        let out = cx.out();
        if nb == 0 {
            out.fill(F::zero());
            return Ok(());
        }
        if self.ta && !self.tb {
            // Stacked rows: a is [nb·k, m], b is [nb·k, n].
            gemm(MatRef::new(a, nb * ar, ac, true), MatRef::new(b, nb * br, bc, false), F::zero(), out);
            return Ok(());
        }
        let (asz, bsz) = (ar * ac, br * bc);
        for i in 0..nb {
            let am = MatRef::new(&a[i * asz..(i + 1) * asz], ar, ac, self.ta);
            let bm = MatRef::new(&b[i * bsz..(i + 1) * bsz], br, bc, self.tb);
            gemm(am, bm, if i == 0 { F::zero() } else { F::one() }, out);
        }
        Ok(())
    }
    fn flops(&self, inputs: &[&[usize]], out: &[usize]) -> u64 {
        // 2 per multiply-add: Π batch · m · k · n, with Π batch · m · k the size of `a`.
        2 * inputs[0].iter().product::<usize>() as u64 * out[1] as u64
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (a, b, gs) = (cx.input(0), cx.input(1), cx.grad_output());
        let ga = if self.ta { matmul_t(b, gs, self.tb, true) } else { matmul_t(gs, b, false, !self.tb) };
        let gb = if self.tb { matmul_t(gs, a, true, self.ta) } else { matmul_t(a, gs, !self.ta, false) };
        grads([Some(ga), Some(gb)])
    }
}

/// `Σ_i op(a[i]) @ op(b[i])` over the identical leading axes of `a` and `b`, transposing the
/// last two axes of `a` if `ta` and of `b` if `tb`.
#[track_caller]
pub fn matmul_batch_sum<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>, ta: bool, tb: bool) -> Tensor<'g, F> {
    a.graph().apply(MatmulBatchSum { ta, tb }, &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::reduce_sum;
    use crate::shape::{Dim, B};
    use crate::testing::*;

    #[test]
    fn matmul_batch_sum_forward() {
        // a = [[[1, 2]], [[3, 4]]] (two 1×2), b = [[[5], [6]], [[7], [8]]] (two 2×1):
        // 1·5 + 2·6 + 3·7 + 4·8 = 17 + 53 = 70.
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        assert_forward(
            |g| matmul_batch_sum(g.constant_f64(&a, [2, 1, 2]), g.constant_f64(&b, [2, 2, 1]), false, false),
            &[70.0],
        );
        // Transposed a (the one-GEMM path): a[i] is 2×1 so op(a[i]) is 1×2, the same rows as
        // above; b as before: again 70.
        assert_forward(
            |g| matmul_batch_sum(g.constant_f64(&a, [2, 2, 1]), g.constant_f64(&b, [2, 2, 1]), true, false),
            &[70.0],
        );
        // Outer products summed: a[i]ᵀ b[i] with a[i], b[i] 1×2: [1,2]ᵀ[5,6] + [3,4]ᵀ[7,8] =
        // [[5, 6], [10, 12]] + [[21, 24], [28, 32]] = [[26, 30], [38, 44]].
        assert_forward(
            |g| matmul_batch_sum(g.constant_f64(&a, [2, 1, 2]), g.constant_f64(&b, [2, 1, 2]), true, false),
            &[26.0, 30.0, 38.0, 44.0],
        );
        // a[i] @ b[i]ᵀ with a[i], b[i] 2×1: [1,2]ᵀ·[5,6] + [3,4]ᵀ·[7,8], the same sum.
        assert_forward(
            |g| matmul_batch_sum(g.constant_f64(&a, [2, 2, 1]), g.constant_f64(&b, [2, 2, 1]), false, true),
            &[26.0, 30.0, 38.0, 44.0],
        );
    }

    #[test]
    fn matmul_batch_sum_equals_summed_matmul() {
        // Every transpose combination against the definition, over two batch axes.
        for ta in [false, true] {
            for tb in [false, true] {
                let sa = if ta { [2, 3, 4, 5] } else { [2, 3, 5, 4] };
                let sb = if tb { [2, 3, 6, 4] } else { [2, 3, 4, 6] };
                let av: Vec<f64> = (0..120).map(|i| ((i * 37) % 19) as f64 - 9.0).collect();
                let bv: Vec<f64> = (0..144).map(|i| ((i * 53) % 23) as f64 - 11.0).collect();
                let got = eval(|g| matmul_batch_sum(g.constant_f64(&av, sa), g.constant_f64(&bv, sb), ta, tb));
                let want = eval(|g| {
                    let p = matmul_t(g.constant_f64(&av, sa), g.constant_f64(&bv, sb), ta, tb);
                    reduce_sum(p, &[0, 1], false)
                });
                // Integer data: both sums are exact.
                assert_eq!(got, want, "ta {ta} tb {tb}");
            }
        }
    }

    #[test]
    fn matmul_batch_sum_grad() {
        for ta in [false, true] {
            for tb in [false, true] {
                let sa = if ta { [3, 4, 2] } else { [3, 2, 4] };
                let sb = if tb { [3, 5, 4] } else { [3, 4, 5] };
                check_grads(move |_, x| matmul_batch_sum(x[0], x[1], ta, tb), &[Spec::new(sa), Spec::new(sb)], 2);
            }
        }
        // A nonlinear consumer, so second derivatives mix both operands.
        check_grads(
            |_, x| {
                let s = matmul_batch_sum(x[0], x[1], true, false);
                s * s
            },
            &[Spec::new([2, 3, 2]), Spec::new([2, 3, 2])],
            2,
        );
    }

    #[test]
    fn matmul_batch_sum_reports_flops_and_takes_the_batch_dimension() {
        let g = Graph::<f64>::new();
        let a = g.input("a", [B, Dim::Fixed(6), Dim::Fixed(5)]);
        let b = g.input("b", [B, Dim::Fixed(6), Dim::Fixed(7)]);
        let s = matmul_batch_sum(a, b, true, false);
        assert_eq!(s.shape(), Shape::from([5, 7]));
        // 4 examples of 5×6·6×7: 2 · 4 · 5 · 6 · 7.
        assert_eq!(g.compile(&[s]).unwrap().flops(4), 2 * 4 * 5 * 6 * 7);
    }

    #[test]
    fn matmul_batch_sum_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = matmul_batch_sum(g.input("a", [2, 3, 4]), g.input("b", [3, 4, 5]), false, false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matmul_batch_sum") && msg.contains("[2, 3, 4]") && msg.contains("[3, 4, 5]"), "{msg}");
        assert!(msg.contains("leading"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = matmul_batch_sum(g.input("a", [2, 3, 4]), g.input("b", [2, 5, 6]), false, false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matmul_batch_sum") && msg.contains("inner dimensions"), "{msg}");
    }
}
