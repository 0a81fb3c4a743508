//! `tile(x, multiples)`: `x` repeated `multiples[k]` times along each axis `k`,
//! `y[i] = x[i mod x.shape]` (TF's `tile`).
//!
//! VJP: the sum of the tiles, as graph ops: `gy` reshaped so that each tiled axis `k` splits
//! into `[multiples[k], n_k]` (the copy index is the major one), then `reduce_sum` over the
//! `multiples` axes. Shape: `y.shape[k] = multiples[k] · x.shape[k]`, one multiple per axis; an
//! axis holding the batch dimension must have multiple 1. Domain: all reals (linear, exact).
//!
//! The kernel writes one copy of each innermost row per repeat and replicates whole finished
//! blocks with `copy_within`.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::{reduce_sum, reshape};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Repetition along each axis.
#[derive(Debug, Clone)]
pub struct Tile {
    /// Number of copies along each axis.
    pub multiples: SmallVec<[usize; 4]>,
}

impl<F: Scalar> Op<F> for Tile {
    fn name(&self) -> &'static str {
        "tile"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        if self.multiples.len() != x.rank() {
            return Err(ShapeError::Custom(format!(
                "{} multiples given for {x} of rank {}",
                self.multiples.len(),
                x.rank()
            )));
        }
        let mut out = x.clone();
        for (a, (d, &m)) in out.dims_mut().iter_mut().zip(&self.multiples).enumerate() {
            *d = match *d {
                Dim::Fixed(n) => match n.checked_mul(m) {
                    Some(t) => Dim::Fixed(t),
                    None => {
                        return Err(ShapeError::Custom(format!("tiling axis {a} of {x} {m} times overflows the size type")))
                    }
                },
                Dim::Batch if m == 1 => Dim::Batch,
                Dim::Batch => {
                    return Err(ShapeError::Custom(format!(
                        "cannot tile axis {a} of {x} {m} times: it is the batch dimension, whose size is only known at run time"
                    )))
                }
            };
        }
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        shape_ops::tile(x, xd, &self.multiples, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        let xs = cx.input(0).shape();
        let mut split = Shape::scalar();
        let mut copies: SmallVec<[isize; 4]> = SmallVec::new();
        for (&d, &m) in xs.dims().iter().zip(&self.multiples) {
            if m != 1 {
                copies.push(split.rank() as isize);
                split.dims_mut().push(Dim::Fixed(m));
            }
            split.dims_mut().push(d);
        }
        if copies.is_empty() {
            return grads([Some(gy)]);
        }
        grads([Some(reduce_sum(reshape(gy, split), &copies, false))])
    }
}

/// `x` repeated `multiples[k]` times along each axis `k`.
#[track_caller]
pub fn tile<'g, F: Scalar>(x: Tensor<'g, F>, multiples: &[usize]) -> Tensor<'g, F> {
    x.graph().apply(Tile { multiples: multiples.into() }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn tile_forward() {
        // [1, 2] three times: [1, 2, 1, 2, 1, 2].
        assert_forward(|g| tile(g.constant_f64(&[1.0, 2.0], [2]), &[3]), &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
        // [[1, 2], [3, 4]] tiled (2, 1): the matrix stacked twice.
        assert_forward(
            |g| tile(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), &[2, 1]),
            &[1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0],
        );
        // [[1], [2]] tiled (2, 3): [[1, 1, 1], [2, 2, 2], [1, 1, 1], [2, 2, 2]].
        assert_forward(
            |g| tile(g.constant_f64(&[1.0, 2.0], [2, 1]), &[2, 3]),
            &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
        );
        // Zero copies give an empty tensor; a scalar tiles to itself.
        assert_forward(|g| tile(g.constant_f64(&[1.0, 2.0], [2]), &[0]), &[]);
        assert_forward(|g| tile(g.scalar(5.0), &[]), &[5.0]);
    }

    #[test]
    fn tile_grad() {
        check_grads(|_, x| tile(x[0], &[2, 1, 3]), &[Spec::new([2, 3, 2])], 2);
        check_grads(
            |_, x| {
                let y = tile(x[0], &[3, 2]);
                y * y
            },
            &[Spec::new([1, 3])],
            2,
        );
    }

    #[test]
    fn tile_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(2)]);
        let y = tile(x, &[1, 2]);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(4)]));
        let w = g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [4]);
        let gx = crate::grad((y * w).sum_all(), &[x])[0];
        let mut s = Session::new(g.compile(&[y, gx]).unwrap(), 0);
        // Batch 2: each row [a, b] becomes [a, b, a, b]; the gradient of each row is
        // [w0 + w2, w1 + w3] = [4, 6].
        let out = s.run(&ParamStore::new(0), &[("x", &[1.0, 2.0, 3.0, 4.0])]).unwrap();
        assert_eq!(out[0], [1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]);
        assert_eq!(out[1], [4.0, 6.0, 4.0, 6.0]);
    }

    #[test]
    fn tile_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = tile(g.input("x", [B, Dim::Fixed(2)]), &[2, 1]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("tile") && msg.contains("batch dimension") && msg.contains("[B, 2]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = tile(g.input("x", [2, 3]), &[2]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("tile") && msg.contains("1 multiples") && msg.contains("[2, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = tile(g.input("x", [3]), &[usize::MAX]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("tiling axis 0 of [3]") && msg.contains("overflows"), "{msg}");
    }
}
