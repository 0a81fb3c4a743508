//! `assert_valid(x, constraint, distribution, parameter)`: passes `x` through unchanged and fails
//! the run when a value breaks the parameter's constraint, naming the distribution, its label,
//! the parameter, the bad value and its element. This is what the families' `validated()` inserts
//! (TFP's `validate_args`): constraints such as `scale > 0` depend on values, so they can only be
//! checked when the graph runs.
//!
//! Forward: `y = x` (in place when `x` dies here); `Err(OpFailure)` at the first element that
//! breaks the constraint (NaN breaks every constraint).
//! VJP: `gx = gy` (the check is the identity where it passes).
//! Shape: `y` has `x`'s shape. `Constraint::PositiveDiagonal` needs rank >= 2 and square trailing
//! matrices.

use autodiff::op::{grads, ForwardCx, Grads, Op, VjpCx};
use autodiff::{OpFailure, Scalar, Shape, ShapeError, Tensor};

use crate::util::label_of;

/// What a parameter must satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// Every element `> 0` (scales, degrees of freedom).
    Positive,
    /// The diagonal of every trailing `d × d` matrix `> 0` (a Cholesky factor's diagonal).
    PositiveDiagonal,
    /// Every element in `[0, 1]` (probabilities).
    UnitInterval,
}

impl Constraint {
    fn holds(self, v: f64) -> bool {
        match self {
            Constraint::Positive | Constraint::PositiveDiagonal => v > 0.0,
            Constraint::UnitInterval => (0.0..=1.0).contains(&v),
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Constraint::Positive => "must be > 0",
            Constraint::PositiveDiagonal => "must have a diagonal > 0",
            Constraint::UnitInterval => "must be in [0, 1]",
        }
    }
}

/// The checking identity op.
#[derive(Debug, Clone)]
pub struct AssertValid {
    /// The constraint checked.
    pub constraint: Constraint,
    /// Prefix of the failure message, e.g. `"Normal (dense1/kernel_posterior): scale"`.
    pub what: String,
}

impl<F: Scalar> Op<F> for AssertValid {
    fn name(&self) -> &'static str {
        "assert_valid"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let s = inputs[0];
        if self.constraint == Constraint::PositiveDiagonal {
            let r = s.rank();
            if r < 2 || s.dim(r - 1) != s.dim(r - 2) {
                return Err(ShapeError::Custom(format!("{}: needs square matrices [..., d, d], got {s}", self.what)));
            }
        }
        Ok(s.clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let dims = cx.input_dims(0);
        let aliased = cx.aliased().is_some();
        let x = if aliased { None } else { Some(cx.input(0)) };
        let out = cx.out();
        if let Some(x) = x {
            out.copy_from_slice(x);
        }
        let bad = match self.constraint {
            Constraint::PositiveDiagonal => {
                let d = dims[dims.len() - 1];
                let diag = (0..out.len() / (d * d).max(1)).flat_map(|m| (0..d).map(move |i| m * d * d + i * d + i));
                diag.into_iter().find(|&k| !self.constraint.holds(out[k].to_f64_lossless()))
            }
            c => out.iter().position(|v| !c.holds(v.to_f64_lossless())),
        };
        match bad {
            None => Ok(()),
            Some(k) => Err(OpFailure(format!(
                "{} {}, got {} at element {k}",
                self.what,
                self.constraint.describe(),
                out[k].to_f64_lossless()
            ))),
        }
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(cx.grad_output())])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// Passes `x` through, failing the run if it breaks `constraint`. The message names the
/// distribution, the parameter's label (or the current name scope) and the parameter:
/// `Normal (dense1): scale must be > 0, got -0.5 at element 3`.
#[track_caller]
pub fn assert_valid<'g, F: Scalar>(
    x: Tensor<'g, F>,
    constraint: Constraint,
    distribution: &str,
    parameter: &str,
) -> Tensor<'g, F> {
    let what = match label_of(x) {
        Some(l) => format!("{distribution} ({l}): {parameter}"),
        None => format!("{distribution}: {parameter}"),
    };
    x.graph().apply(AssertValid { constraint, what }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::testing::*;
    use autodiff::{ParamStore, Session};

    fn run_err(build: impl for<'g> Fn(&'g Graph<f64>) -> Tensor<'g, f64>) -> Option<String> {
        let g = Graph::<f64>::new();
        let y = build(&g);
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        s.run(&ParamStore::new(0), &[]).err().map(|e| e.to_string())
    }

    #[test]
    fn assert_valid_forward_passes_values_through() {
        assert_forward(
            |g| assert_valid(g.constant_f64(&[0.5, 2.0], [2]), Constraint::Positive, "Normal", "scale"),
            &[0.5, 2.0],
        );
        // Only the diagonal of [[1, -3], [-2, 4]] is checked.
        assert_forward(
            |g| {
                let l = g.constant_f64(&[1.0, -3.0, -2.0, 4.0], [2, 2]);
                assert_valid(l, Constraint::PositiveDiagonal, "MultivariateNormalTriL", "scale_tril")
            },
            &[1.0, -3.0, -2.0, 4.0],
        );
    }

    #[test]
    fn assert_valid_forward_reports_the_first_bad_element() {
        let e = run_err(|g| {
            g.scope("prior", || {
                assert_valid(g.constant_f64(&[1.0, 2.0, 3.0, -0.5], [4]), Constraint::Positive, "Normal", "scale")
            })
        })
        .unwrap();
        assert!(e.contains("Normal (prior): scale must be > 0, got -0.5 at element 3"), "{e}");
        let e = run_err(|g| {
            let p = g.constant_f64(&[0.0, 1.0, 1.5], [3]);
            assert_valid(p, Constraint::UnitInterval, "Bernoulli", "probs")
        })
        .unwrap();
        assert!(e.contains("Bernoulli: probs must be in [0, 1], got 1.5 at element 2"), "{e}");
        let e = run_err(|g| {
            let l = g.constant_f64(&[1.0, 0.0, 5.0, 0.0, 2.0, 1.0, 0.0, 0.0, f64::NAN], [1, 3, 3]);
            assert_valid(l, Constraint::PositiveDiagonal, "MultivariateNormalTriL", "scale_tril")
        })
        .unwrap();
        assert!(e.contains("scale_tril must have a diagonal > 0, got NaN at element 8"), "{e}");
    }

    #[test]
    fn assert_valid_grad_is_identity() {
        check_grads(
            |_, x| assert_valid(x[0], Constraint::Positive, "Normal", "scale") * x[0],
            &[Spec::new([3]).domain(Domain::Positive)],
            2,
        );
    }

    #[test]
    fn assert_valid_shape_error_names_the_parameter() {
        let g = Graph::<f64>::new();
        let _ = assert_valid(g.constant_f64(&[1.0; 6], [2, 3]), Constraint::PositiveDiagonal, "Mvn", "scale_tril");
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("assert_valid") && e.contains("Mvn: scale_tril") && e.contains("[2, 3]"), "{e}");
    }
}
