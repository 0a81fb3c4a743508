//! Operator overloading on tensor handles: tensor with tensor, and tensor with a scalar on
//! either side (`x * 2.0`, `1.0 - x`). Shapes broadcast as in NumPy.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::graph::Tensor;
use crate::ops::{add, div, mul, neg, sub};
use crate::scalar::Scalar;

macro_rules! binop {
    ($trait:ident, $method:ident, $f:ident) => {
        impl<'g, F: Scalar> $trait<Tensor<'g, F>> for Tensor<'g, F> {
            type Output = Tensor<'g, F>;
            #[track_caller]
            fn $method(self, rhs: Tensor<'g, F>) -> Tensor<'g, F> {
                $f(self, rhs)
            }
        }
        impl<'g, F: Scalar> $trait<F> for Tensor<'g, F> {
            type Output = Tensor<'g, F>;
            #[track_caller]
            fn $method(self, rhs: F) -> Tensor<'g, F> {
                let c = self.graph().constant(vec![rhs], crate::shape::Shape::scalar());
                $f(self, c)
            }
        }
        impl<'g> $trait<Tensor<'g, f64>> for f64 {
            type Output = Tensor<'g, f64>;
            #[track_caller]
            fn $method(self, rhs: Tensor<'g, f64>) -> Tensor<'g, f64> {
                let c = rhs.graph().constant(vec![self], crate::shape::Shape::scalar());
                $f(c, rhs)
            }
        }
        impl<'g> $trait<Tensor<'g, f32>> for f32 {
            type Output = Tensor<'g, f32>;
            #[track_caller]
            fn $method(self, rhs: Tensor<'g, f32>) -> Tensor<'g, f32> {
                let c = rhs.graph().constant(vec![self], crate::shape::Shape::scalar());
                $f(c, rhs)
            }
        }
    };
}

binop!(Add, add, add);
binop!(Sub, sub, sub);
binop!(Mul, mul, mul);
binop!(Div, div, div);

impl<'g, F: Scalar> Neg for Tensor<'g, F> {
    type Output = Tensor<'g, F>;
    #[track_caller]
    fn neg(self) -> Tensor<'g, F> {
        neg(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn operators_with_scalars_on_either_side() {
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 2.0], [2]);
                (2.0 - x) * 3.0 + x / 2.0 - (-x)
            },
            &[1.0 * 3.0 + 0.5 + 1.0, 0.0 + 1.0 + 2.0],
        );
    }
}
