//! `select(cond, a, b)`: `a` where `cond != 0`, else `b`, elementwise with three-way NumPy
//! broadcasting (TensorFlow 2's `tf.where(cond, a, b)`, with a numeric mask such as the output
//! of `greater`).
//!
//! VJP: `ga = select(cond, gy, 0)`, `gb = select(cond, 0, gy)`; no gradient to `cond` (its
//! derivative is zero wherever it exists). Shape rule: the broadcast of all three shapes.
//! Gradient checks: `a` and `b` standard normal, `cond` a fixed 0/1 mask.
//!
//! A NaN in `cond` counts as true (it is `!= 0`). Values of the unselected branch never reach
//! the output, but its gradient still flows through that branch as zeros: with
//! `select(x > 0, log(x), 0)`, `log`'s VJP computes `0 / x`, which is NaN at `x = 0`. Guard the
//! argument instead, `log(select(x > 0, x, 1))` (the "double where" trick).

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::broadcast_strides;
use crate::kernels::{should_par, CHUNK};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;
use crate::team::for_each_chunk_mut;

/// Elementwise choice between two tensors by a mask.
#[derive(Debug, Clone, Copy)]
pub struct Select;

impl<F: Scalar> Op<F> for Select {
    fn name(&self) -> &'static str {
        "select"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        inputs[0].broadcast_with(inputs[1])?.broadcast_with(inputs[2])
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let cond = (cx.input(0), cx.input_dims(0));
        let a = cx.input_opt(1).map(|s| (s, cx.input_dims(1)));
        let b = (cx.input(2), cx.input_dims(2));
        let od = cx.out_dims();
        select_kernel(cond, a, b, cx.out(), od);
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (cond, gy) = (cx.input(0), cx.grad_output());
        let zero = gy.scalar(0.0);
        grads([None, Some(select(cond, gy, zero)), Some(select(cond, zero, gy))])
    }
    fn in_place(&self) -> Option<usize> {
        // `a` may already live in the output: then only the elements where `cond` is 0 change.
        Some(1)
    }
}

/// `a` where `cond != 0`, else `b`, broadcasting all three. Equivalent to TensorFlow 2's
/// `tf.where(cond, a, b)`.
#[track_caller]
pub fn select<'g, F: Scalar>(cond: Tensor<'g, F>, a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    cond.graph().apply(Select, &[cond, a, b])
}

type Operand<'a, F> = (&'a [F], &'a [usize]);

/// `out = cond != 0 ? a : b` with broadcasting to `od`; `a = None` means `a` is already in `out`.
fn select_kernel<F: Scalar>(
    (c, cd): Operand<'_, F>,
    a: Option<Operand<'_, F>>,
    (b, bd): Operand<'_, F>,
    out: &mut [F],
    od: &[usize],
) {
    let n = out.len();
    if n == 0 {
        return;
    }
    // An operand that broadcasts to the output and has as many elements has its layout.
    if c.len() == n && b.len() == n && a.iter().all(|(a, _)| a.len() == n) {
        let go = |o: &mut [F], start: usize| {
            let m = o.len();
            let (c, b) = (&c[start..start + m], &b[start..start + m]);
            match a {
                Some((a, _)) => {
                    for (((o, &c), &a), &b) in o.iter_mut().zip(c).zip(&a[start..start + m]).zip(b) {
                        *o = if c != F::zero() { a } else { b };
                    }
                }
                None => {
                    for ((o, &c), &b) in o.iter_mut().zip(c).zip(b) {
                        *o = if c != F::zero() { *o } else { b };
                    }
                }
            }
        };
        if should_par(n) {
            for_each_chunk_mut(out, CHUNK, |k, o| go(o, k * CHUNK));
        } else {
            go(out, 0);
        }
        return;
    }

    let r = od.len();
    let inner = if r == 0 { 1 } else { od[r - 1] };
    let outer = &od[..r.saturating_sub(1)];
    let cs = broadcast_strides(cd, od);
    let bs = broadcast_strides(bd, od);
    let as_ = broadcast_strides(a.map_or(od, |(_, d)| d), od);
    let last = |s: &[usize]| if r == 0 { 0 } else { s[r - 1] };
    let (ci, ai, bi) = (last(&cs), last(&as_), last(&bs));
    // `first_row` is the index of `o`'s first row among all rows of length `inner`.
    let rows = |o: &mut [F], first_row: usize| {
        for (k, orow) in o.chunks_mut(inner).enumerate() {
            let (mut row, mut co, mut ao, mut bo) = (first_row + k, 0, 0, 0);
            for i in (0..outer.len()).rev() {
                let j = row % outer[i];
                row /= outer[i];
                co += j * cs[i];
                ao += j * as_[i];
                bo += j * bs[i];
            }
            match a {
                Some((a, _)) => {
                    for (j, o) in orow.iter_mut().enumerate() {
                        *o = if c[co + j * ci] != F::zero() { a[ao + j * ai] } else { b[bo + j * bi] };
                    }
                }
                None => {
                    for (j, o) in orow.iter_mut().enumerate() {
                        if c[co + j * ci] == F::zero() {
                            *o = b[bo + j * bi];
                        }
                    }
                }
            }
        }
    };
    if should_par(n) {
        let rows_per_chunk = (CHUNK / inner).max(1);
        for_each_chunk_mut(out, rows_per_chunk * inner, |k, o| rows(o, k * rows_per_chunk));
    } else {
        rows(out, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn select_forward_broadcasts_three_ways() {
        // cond [2, 1] = [1, 0] picks row-wise between a [3] and the scalar b.
        assert_forward(
            |g| select(g.constant_f64(&[1.0, 0.0], [2, 1]), g.constant_f64(&[1.0, 2.0, 3.0], [3]), g.scalar(-1.0)),
            &[1.0, 2.0, 3.0, -1.0, -1.0, -1.0],
        );
        // Same shapes; any nonzero cond (including NaN and -0.5) picks a, and -0.0 picks b.
        assert_forward(
            |g| {
                let c = g.constant_f64(&[2.0, 0.0, f64::NAN, -0.0, -0.5], [5]);
                select(
                    c,
                    g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0], [5]),
                    g.constant_f64(&[6.0, 7.0, 8.0, 9.0, 10.0], [5]),
                )
            },
            &[1.0, 7.0, 3.0, 9.0, 5.0],
        );
    }

    #[test]
    fn select_forward_in_place_and_large() {
        // `a = x + 1` dies at select and has the output's shape, so it may be computed in place;
        // n is above PAR_MIN so the parallel paths run too. Expected values by a direct loop.
        let n = 3 * 20_000;
        let cv: Vec<f64> = (0..n).map(|i| (i % 3 == 0) as u8 as f64).collect();
        let xv: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let bv = [-1.0, -2.0, -3.0];
        let want: Vec<f64> = (0..n).map(|i| if cv[i] != 0.0 { xv[i] + 1.0 } else { bv[i % 3] }).collect();
        let (cs, xs) = (cv.clone(), xv.clone());
        assert_forward(
            move |g| {
                let x = g.constant_f64(&xs, [n / 3, 3]);
                select(g.constant_f64(&cs, [n / 3, 3]), x + 1.0, g.constant_f64(&bv, [3]))
            },
            &want,
        );
        // Broadcast (row) path with a column mask, above PAR_MIN.
        let want: Vec<f64> = (0..n).map(|i| if (i / 3) % 2 == 0 { xv[i] } else { bv[i % 3] }).collect();
        let mask: Vec<f64> = (0..n / 3).map(|r| (r % 2 == 0) as u8 as f64).collect();
        assert_forward(
            move |g| {
                let c = g.constant_f64(&mask, [n / 3, 1]);
                select(c, g.constant_f64(&xv, [n / 3, 3]), g.constant_f64(&bv, [3]))
            },
            &want,
        );
    }

    #[test]
    fn select_grad() {
        check_grads(
            |g, x| select(g.constant_f64(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [2, 3]), x[0], x[1]),
            &[Spec::new([2, 3]), Spec::new([3])],
            2,
        );
        check_grads(
            |g, x| select(g.constant_f64(&[0.0, 1.0], [2, 1]), x[0], x[1]),
            &[Spec::new([1, 3]), Spec::new([2, 3])],
            2,
        );
    }

    #[test]
    fn select_has_no_grad_to_cond() {
        // cond's entries are 0 and 1; nudging a 0 either way makes it nonzero, so both central
        // difference points pick `a` and the numerical derivative is 0 as well. Order 1: the
        // gradient to cond is zeros that depend on cond alone, and check_grads cannot feed the
        // other inputs to a graph that does not use them.
        check_grads(
            |_, x| select(x[0], x[1], x[2]),
            &[Spec::new([4]).values(vec![0.0, 1.0, 1.0, 0.0]), Spec::new([4]), Spec::new([4])],
            1,
        );
    }

    #[test]
    fn select_shape_error() {
        let g = Graph::<f64>::new();
        let _ = select(g.input("c", [2, 3]), g.input("a", [3]), g.input("b", [4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("select") && msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
    }
}
