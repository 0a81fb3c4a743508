//! `split(x, axis, sizes)`: consecutive pieces of one axis, piece `i` being
//! `slice(x, axis, oᵢ, oᵢ + sizes[i])` with `oᵢ = sizes[0] + … + sizes[i-1]` (composed of
//! `slice`).
//!
//! VJP: that of `slice` for each piece (the pieces' gradients are padded back and summed by the
//! gradient driver). Shape: `sizes` must add up to the axis size; the batch dimension may be on
//! any other axis. Domain: all reals (linear, exact).

use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::ops::slice;
use crate::ops::slice::fixed_axis;
use crate::scalar::Scalar;

/// `x` cut along `axis` into consecutive pieces of the given sizes.
#[track_caller]
pub fn split<'g, F: Scalar>(x: Tensor<'g, F>, axis: isize, sizes: &[usize]) -> Vec<Tensor<'g, F>> {
    let s = x.shape();
    let checked = fixed_axis(&s, axis, "split").and_then(|(a, n)| {
        let total: usize = sizes.iter().sum();
        if total == n {
            Ok(a)
        } else {
            Err(ShapeError::Custom(format!("sizes {sizes:?} add up to {total}, but axis {a} has size {n}")))
        }
    });
    let a = match checked {
        Ok(a) => a as isize,
        Err(e) => {
            let g = x.graph();
            g.record_shape_error("split", e, &[x]);
            return sizes.iter().map(|_| g.poisoned()).collect();
        }
    };
    let mut at = 0;
    sizes
        .iter()
        .map(|&n| {
            at += n;
            slice(x, a, at - n, at)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{add_n, reduce_sum};
    use crate::shape::{Dim, Shape, B};
    use crate::testing::*;

    #[test]
    fn split_forward() {
        // [[0, 1, 2], [3, 4, 5]] into columns {0} and {1, 2}: [[0], [3]] and [[1, 2], [4, 5]].
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        assert_forward(|g| split(g.constant_f64(&x, [2, 3]), 1, &[1, 2])[0], &[0.0, 3.0]);
        assert_forward(|g| split(g.constant_f64(&x, [2, 3]), -1, &[1, 2])[1], &[1.0, 2.0, 4.0, 5.0]);
        assert_forward(|g| split(g.constant_f64(&x, [2, 3]), 0, &[1, 1])[1], &[3.0, 4.0, 5.0]);
    }

    #[test]
    fn split_grad() {
        // The pieces enter nonlinearly and with different weights, so a gradient sent to the
        // wrong place shows; the empty middle piece contributes nothing.
        check_grads(
            |_, x| {
                let p = split(x[0], 1, &[1, 0, 3]);
                let p2 = p[2] * 3.0;
                add_n(&[
                    reduce_sum(p[0] * p[0], &[1], false),
                    reduce_sum(p2 * p2, &[1], false),
                    reduce_sum(p[1], &[1], false),
                ])
            },
            &[Spec::new([2, 4])],
            2,
        );
    }

    #[test]
    fn split_with_batch_dimension_on_another_axis() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(5)]);
        let p = split(x, 1, &[2, 3]);
        assert_eq!(p[1].shape(), Shape::from([B, Dim::Fixed(3)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn split_shape_errors() {
        let g = Graph::<f64>::new();
        let p = split(g.input("x", [2, 5]), 1, &[2, 2]);
        assert_eq!(p.len(), 2);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("split") && msg.contains("add up to 4") && msg.contains("[2, 5]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = split(g.input("x", [B, Dim::Fixed(5)]), 0, &[1, 1]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("split") && msg.contains("batch dimension") && msg.contains("[B, 5]"), "{msg}");
    }
}
