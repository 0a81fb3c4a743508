//! `matmul(a, b, ta, tb) = op(a) @ op(b)`, where `op` transposes the last two axes when its flag
//! is set. Leading (batch) axes broadcast. Transposes are strides passed to the GEMM, never
//! copies.
//!
//! Shapes: `op(a)` is `[..., m, k]`, `op(b)` is `[..., k, n]`, the output `[..., m, n]`.
//!
//! VJP (with `A = op(a)`, `B = op(b)`): `gA = gy @ Bᵀ`, `gB = Aᵀ @ gy`, each transposed back
//! when the input was, all as matmuls with flags:
//! `ga = ta ? matmul(b, gy, tb, true) : matmul(gy, b, false, !tb)`,
//! `gb = tb ? matmul(gy, a, true, ta) : matmul(a, gy, !ta, false)`.
//! Batch axes that were broadcast are summed back by the gradient driver, except for an operand
//! of rank 2 against a batched other: its gradient is `matmul_batch_sum` (the same products,
//! summed over the batch inside one GEMM). Domain: all reals.
//!
//! With an addend (`Matmul::accumulate`, built by the gradient driver through
//! [`Op::with_addend`]): `op(a) @ op(b) + c` for a third input `c` of the output's shape, a GEMM
//! with β = 1 that works in `c`'s buffer when `c` dies. The gradient of a weight that is both
//! multiplied and regularized (a Bayesian layer's mean: the product's gradient plus the KL's) is
//! then summed inside the GEMM instead of in a pass of its own. `gc = gy`.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::broadcast_strides;
use crate::kernels::matmul::{gemm, MatRef};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matmul_batch_sum;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};
use std::sync::Arc;

/// Matrix product with optional transposes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Matmul {
    /// Transpose the last two axes of `a`.
    pub ta: bool,
    /// Transpose the last two axes of `b`.
    pub tb: bool,
    /// Add a third input of the output's shape to the product.
    pub accumulate: bool,
}

fn mk(dims: &[Dim], t: bool) -> (Dim, Dim) {
    let r = dims.len();
    if t {
        (dims[r - 1], dims[r - 2])
    } else {
        (dims[r - 2], dims[r - 1])
    }
}

impl<F: Scalar> Op<F> for Matmul {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (a, b) = (inputs[0], inputs[1]);
        if a.rank() < 2 || b.rank() < 2 {
            return Err(ShapeError::Custom(format!(
                "both operands need rank >= 2, got {a} @ {b} (use expand_dims for vectors)"
            )));
        }
        let (m, k) = mk(a.dims(), self.ta);
        let (k2, n) = mk(b.dims(), self.tb);
        if k != k2 {
            let ta = if self.ta { "ᵀ" } else { "" };
            let tb = if self.tb { "ᵀ" } else { "" };
            return Err(ShapeError::Custom(format!("inner dimensions differ: {a}{ta} @ {b}{tb} ({k} vs {k2})")));
        }
        let ba = Shape::from(&a.dims()[..a.rank() - 2]);
        let bb = Shape::from(&b.dims()[..b.rank() - 2]);
        let batch = ba
            .broadcast_with(&bb)
            .map_err(|_| ShapeError::Custom(format!("batch dimensions {ba} and {bb} of {a} @ {b} do not broadcast")))?;
        let mut out = batch;
        out.dims_mut().push(m);
        out.dims_mut().push(n);
        if self.accumulate && *inputs[2] != out {
            return Err(ShapeError::Custom(format!("the addend {} must have the product's shape {out}", inputs[2])));
        }
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (a, b) = (cx.input(0), cx.input(1));
        let (ad, bd) = (cx.input_dims(0), cx.input_dims(1));
        let od = cx.out_dims();
        let (ra, rb, ro) = (ad.len(), bd.len(), od.len());
        let (am, ak) = (ad[ra - 2], ad[ra - 1]);
        let (bk, bn) = (bd[rb - 2], bd[rb - 1]);
        let (m, n) = (od[ro - 2], od[ro - 1]);
        let addend = if self.accumulate { Some(cx.input_opt(2)) } else { None };
        let out = cx.out();
        // β = 1 adds the addend, which is in `out` already when the op works in its buffer.
        let beta = match addend {
            None => F::zero(),
            Some(None) => F::one(),
            Some(Some(c)) => {
                out.copy_from_slice(c);
                F::one()
            }
        };
        // A batch of `a` against a single `b`: one tall GEMM instead of many small ones.
        if rb == 2 && !self.ta && ra > 2 {
            let rows: usize = ad[..ra - 1].iter().product();
            gemm(MatRef::new(a, rows, ak, false), MatRef::new(b, bk, bn, self.tb), beta, out);
            return Ok(());
        }
        let batch_dims = &od[..ro - 2];
        let nb: usize = batch_dims.iter().product();
        let sa = broadcast_strides(&ad[..ra - 2], batch_dims);
        let sb = broadcast_strides(&bd[..rb - 2], batch_dims);
        let (asz, bsz) = (am * ak, bk * bn);
        for bi in 0..nb {
            let (mut oa, mut ob, mut rem) = (0, 0, bi);
            for ax in (0..batch_dims.len()).rev() {
                let i = rem % batch_dims[ax];
                rem /= batch_dims[ax];
                oa += i * sa[ax];
                ob += i * sb[ax];
            }
            let am_ = MatRef::new(&a[oa * asz..(oa + 1) * asz], am, ak, self.ta);
            let bm_ = MatRef::new(&b[ob * bsz..(ob + 1) * bsz], bk, bn, self.tb);
            gemm(am_, bm_, beta, &mut out[bi * m * n..(bi + 1) * m * n]);
        }
        Ok(())
    }
    fn flops(&self, inputs: &[&[usize]], out: &[usize]) -> u64 {
        let a = inputs[0];
        let k = if self.ta { a[a.len() - 2] } else { a[a.len() - 1] };
        2 * k as u64 * out.iter().product::<usize>() as u64
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (a, b, gy) = (cx.input(0), cx.input(1), cx.grad_output());
        let (ra, rb) = (a.shape().rank(), b.shape().rank());
        // An operand without batch axes was applied to every batch entry: its gradient is the
        // products summed over the batch, one tall GEMM instead of a GEMM per entry and a sum.
        let product = |summed: bool, x, y, tx, ty| {
            if summed {
                matmul_batch_sum(x, y, tx, ty)
            } else {
                matmul_t(x, y, tx, ty)
            }
        };
        let (sum_a, sum_b) = (ra == 2 && rb > 2, rb == 2 && ra > 2);
        let ga = if self.ta { product(sum_a, b, gy, self.tb, true) } else { product(sum_a, gy, b, false, !self.tb) };
        let gb = if self.tb { product(sum_b, gy, a, true, self.ta) } else { product(sum_b, a, gy, !self.ta, false) };
        if self.accumulate {
            grads([Some(ga), Some(gb), Some(gy)])
        } else {
            grads([Some(ga), Some(gb)])
        }
    }
    fn in_place(&self) -> Option<usize> {
        self.accumulate.then_some(2)
    }
    fn with_addend(&self) -> Option<Arc<dyn Op<F>>> {
        (!self.accumulate).then(|| Arc::new(Matmul { accumulate: true, ..*self }) as Arc<dyn Op<F>>)
    }
}

/// `a @ b` over the last two axes, batch axes broadcast.
#[track_caller]
pub fn matmul<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Matmul::default(), &[a, b])
}

/// `op(a) @ op(b)`, transposing the last two axes of `a` if `ta` and of `b` if `tb`, without
/// copying.
#[track_caller]
pub fn matmul_t<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>, ta: bool, tb: bool) -> Tensor<'g, F> {
    a.graph().apply(Matmul { ta, tb, accumulate: false }, &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn matmul_forward() {
        // [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        assert_forward(|g| matmul(g.constant_f64(&a, [2, 2]), g.constant_f64(&b, [2, 2])), &[19.0, 22.0, 43.0, 50.0]);
        // aᵀ @ b = [[26,30],[38,44]]
        assert_forward(
            |g| matmul_t(g.constant_f64(&a, [2, 2]), g.constant_f64(&b, [2, 2]), true, false),
            &[26.0, 30.0, 38.0, 44.0],
        );
        // a @ bᵀ = [[17,23],[39,53]]
        assert_forward(
            |g| matmul_t(g.constant_f64(&a, [2, 2]), g.constant_f64(&b, [2, 2]), false, true),
            &[17.0, 23.0, 39.0, 53.0],
        );
    }

    #[test]
    fn matmul_grad_all_transposes() {
        for ta in [false, true] {
            for tb in [false, true] {
                let sa = if ta { [4, 3] } else { [3, 4] };
                let sb = if tb { [2, 4] } else { [4, 2] };
                check_grads(move |_, x| matmul_t(x[0], x[1], ta, tb), &[Spec::new(sa), Spec::new(sb)], 2);
            }
        }
    }

    #[test]
    fn matmul_grad_batched_and_broadcast() {
        check_grads(|_, x| matmul(x[0], x[1]), &[Spec::new([2, 3, 4]), Spec::new([4, 2])], 2);
        check_grads(|_, x| matmul(x[0], x[1]), &[Spec::new([2, 1, 3, 4]), Spec::new([3, 4, 2])], 1);
        check_grads(|_, x| matmul_t(x[0], x[1], true, true), &[Spec::new([2, 4, 3]), Spec::new([2, 2, 4])], 1);
    }

    /// `op(a) @ op(b) + c` through the addend form the gradient driver builds.
    fn matmul_add<'g>(
        a: Tensor<'g, f64>,
        b: Tensor<'g, f64>,
        c: Tensor<'g, f64>,
        ta: bool,
        tb: bool,
    ) -> Tensor<'g, f64> {
        let op = Op::<f64>::with_addend(&Matmul { ta, tb, accumulate: false }).expect("matmul takes an addend");
        a.graph().apply_at(op, &[a, b, c], std::panic::Location::caller())
    }

    #[test]
    fn matmul_with_addend_forward() {
        // [[1,2],[3,4]] @ [[5,6],[7,8]] + [[1,-1],[0.5,2]] = [[20,21],[43.5,52]]; aᵀ @ b + c
        // = [[27,29],[38.5,46]]; and a batch of two against one `b`, the second entry [[2,4],[6,8]]
        // @ b = [[38,44],[86,100]], plus c.
        let (a, b, c) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [1.0, -1.0, 0.5, 2.0]);
        for (ta, want) in [(false, [20.0, 21.0, 43.5, 52.0]), (true, [27.0, 29.0, 38.5, 46.0])] {
            assert_forward(
                |g| {
                    matmul_add(
                        g.constant_f64(&a, [2, 2]),
                        g.constant_f64(&b, [2, 2]),
                        g.constant_f64(&c, [2, 2]),
                        ta,
                        false,
                    )
                },
                &want,
            );
        }
        let a2 = [1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 8.0];
        let c2 = [1.0, -1.0, 0.5, 2.0, 0.0, 1.0, 2.0, 3.0];
        assert_forward(
            |g| {
                matmul_add(
                    g.constant_f64(&a2, [2, 2, 2]),
                    g.constant_f64(&b, [2, 2]),
                    g.constant_f64(&c2, [2, 2, 2]),
                    false,
                    false,
                )
            },
            &[20.0, 21.0, 43.5, 52.0, 38.0, 45.0, 88.0, 103.0],
        );
    }

    #[test]
    fn matmul_with_addend_grad() {
        check_grads(
            |_, x| matmul_add(x[0], x[1], x[2], false, false),
            &[Spec::new([3, 4]), Spec::new([4, 2]), Spec::new([3, 2])],
            2,
        );
        check_grads(
            |_, x| matmul_add(x[0], x[1], x[2], true, true),
            &[Spec::new([4, 3]), Spec::new([2, 4]), Spec::new([3, 2])],
            2,
        );
        check_grads(
            |_, x| matmul_add(x[0], x[1], x[2], false, false),
            &[Spec::new([2, 3, 4]), Spec::new([4, 2]), Spec::new([2, 3, 2])],
            1,
        );
    }

    #[test]
    fn matmul_with_addend_of_another_shape_is_an_error() {
        let g = Graph::<f64>::new();
        let (a, b, c) = (g.input("a", [3, 4]), g.input("b", [4, 2]), g.input("c", [1, 2]));
        let _ = matmul_add(a, b, c, false, false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matmul") && msg.contains("addend [1, 2]") && msg.contains("[3, 2]"), "{msg}");
    }

    #[test]
    fn a_weights_two_gradient_parts_are_summed_inside_the_gemm() {
        // d/dw [Σ x@w + ½ Σ w²] = xᵀ 1 + w: the product's part takes the other as its addend, so
        // the plan holds no add_n; the values are the closed form.
        let g = Graph::<f64>::new();
        let x = g.input("x", [2, 3]);
        let w = g.input("w", [3, 2]);
        let loss = matmul(x, w).sum_all() + crate::ops::square(w).sum_all() * 0.5;
        let gw = crate::grad(loss, &[w])[0];
        let plan = g.compile(&[gw]).unwrap();
        assert!(!plan.op_names().contains(&"add_n"), "{:?}", plan.op_names());
        let xs = [1.0, 2.0, 3.0, -1.0, 0.5, 4.0];
        let ws = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6];
        let mut session = crate::Session::new(plan, 0);
        let store = crate::ParamStore::new(0);
        let out = session.run(&store, &[("x", &xs), ("w", &ws)]).unwrap();
        // Column sums of x: 0, 2.5, 7, each row of xᵀ1 repeated over w's two columns.
        let want = [0.1, -0.2, 2.8, 2.9, 6.5, 7.6];
        assert!(out.get(0).iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-12), "{:?}", out.get(0));
    }

    #[test]
    fn matmul_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let a = g.input("a", [32, 784]);
        let b = g.input("b", [128, 10]);
        let _ = matmul(a, b);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matmul") && msg.contains("[32, 784]") && msg.contains("[128, 10]"), "{msg}");
        assert!(msg.contains("matmul.rs"), "{msg}");
    }
}
