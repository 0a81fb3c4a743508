//! Shape bookkeeping shared by the families: broadcasting parameters, sample shapes, checked
//! arguments, and the error path that records a message naming the distribution.

use autodiff::ops::{broadcast_to, equal, reduce_sum, reshape, select};
use autodiff::{Dim, Graph, Scalar, Shape, ShapeError, Tensor};

/// `½ ln 2π`, the normalizer of a standard normal density.
pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Records a construction or argument error naming `what` (e.g. `"Normal"` or
/// `"Normal.log_prob"`) and the given tensors' shapes.
#[track_caller]
pub(crate) fn fail<F: Scalar>(g: &Graph<F>, what: &'static str, msg: String, inputs: &[Tensor<'_, F>]) {
    g.record_shape_error(what, ShapeError::Custom(msg), inputs);
}

/// Whether any tensor is poisoned (an earlier error; its shape means nothing, so skip checks).
pub(crate) fn any_poisoned<F: Scalar>(ts: &[Tensor<'_, F>]) -> bool {
    ts.iter().any(|t| t.is_poisoned())
}

/// The NumPy broadcast of several shapes.
pub(crate) fn broadcast_all(shapes: &[Shape]) -> Result<Shape, ShapeError> {
    let mut out = Shape::scalar();
    for s in shapes {
        out = out.broadcast_with(s)?;
    }
    Ok(out)
}

/// `a ++ b`.
pub(crate) fn concat(a: &Shape, b: &Shape) -> Shape {
    Shape::new(a.dims().iter().chain(b.dims()).copied())
}

/// `sample_shape ++ batch ++ event`: the shape of `sample(sample_shape)`.
pub(crate) fn sample_shape(sample: &[usize], batch: &Shape, event: &Shape) -> Shape {
    Shape::new(
        sample.iter().map(|&n| Dim::Fixed(n)).chain(batch.dims().iter().copied()).chain(event.dims().iter().copied()),
    )
}

/// The first `rank - n` dimensions of `s` (all of them dropped if `n >= rank`).
pub(crate) fn drop_last(s: &Shape, n: usize) -> Shape {
    Shape::from(&s.dims()[..s.rank().saturating_sub(n)])
}

/// The last `n` dimensions of `s`.
pub(crate) fn last(s: &Shape, n: usize) -> Shape {
    Shape::from(&s.dims()[s.rank().saturating_sub(n)..])
}

/// `x` broadcast to `shape`, without a node when it already has that shape.
#[track_caller]
pub(crate) fn bcast<'g, F: Scalar>(x: Tensor<'g, F>, shape: &Shape) -> Tensor<'g, F> {
    if x.shape() == *shape || x.is_poisoned() {
        x
    } else {
        broadcast_to(x, shape)
    }
}

/// `x` broadcast against `batch`: a distribution's per-element results (log-densities,
/// divergences) cover its whole batch shape, also where the batch was declared larger than the
/// parameters (see `Normal::with_batch_shape`). No node when `x` already covers it.
#[track_caller]
pub(crate) fn over_batch<'g, F: Scalar>(x: Tensor<'g, F>, batch: &Shape) -> Tensor<'g, F> {
    match x.shape().broadcast_with(batch) {
        Ok(shape) => bcast(x, &shape),
        // Shapes were checked when the distribution and the value were built.
        Err(_) => x,
    }
}

/// `x · y` with `0 · y = 0` even where `y` is infinite or NaN (TF's `multiply_no_nan`, which tests
/// its second argument, with the roles swapped): the
/// `p log p` terms of entropies and divergences, where a class of probability 0 has a log of
/// −∞. `y` is replaced by 0 where `x` is 0 before multiplying, so gradients stay finite too.
#[track_caller]
pub(crate) fn mul_no_nan<'g, F: Scalar>(x: Tensor<'g, F>, y: Tensor<'g, F>) -> Tensor<'g, F> {
    let zero = x.graph().scalar(0.0);
    x * select(equal(x, zero), zero, y)
}

/// A tensor of `shape` holding `v` everywhere (works with the batch dimension).
#[track_caller]
pub(crate) fn full<'g, F: Scalar>(g: &'g Graph<F>, shape: &Shape, v: f64) -> Tensor<'g, F> {
    bcast(g.scalar(v), shape)
}

/// Sums the last `n` axes (no node for `n == 0`).
#[track_caller]
pub(crate) fn sum_last<'g, F: Scalar>(x: Tensor<'g, F>, n: usize) -> Tensor<'g, F> {
    if n == 0 || x.is_poisoned() {
        return x;
    }
    let axes: Vec<isize> = (1..=n as isize).map(|k| -k).collect();
    reduce_sum(x, &axes, false)
}

/// `x[..., None]`: a trailing axis of size 1 (a reshape, so it needs no copy).
#[track_caller]
pub(crate) fn unsqueeze_last<'g, F: Scalar>(x: Tensor<'g, F>) -> Tensor<'g, F> {
    let s = x.shape();
    reshape(x, concat(&s, &Shape::from([1])))
}

/// Drops a trailing axis of size 1.
#[track_caller]
pub(crate) fn squeeze_last<'g, F: Scalar>(x: Tensor<'g, F>) -> Tensor<'g, F> {
    let s = x.shape();
    reshape(x, drop_last(&s, 1))
}

/// Checks that a value `x` passed to `method` broadcasts against `support` (the distribution's
/// `batch ++ event` shape) with its trailing `event` dimensions intact. Records an error naming
/// the method and returns `false` otherwise.
#[track_caller]
pub(crate) fn check_value<F: Scalar>(method: &'static str, x: Tensor<'_, F>, batch: &Shape, event: &Shape) -> bool {
    if x.is_poisoned() {
        return false;
    }
    let xs = x.shape();
    let full = concat(batch, event);
    let ok = xs.rank() >= event.rank() && last(&xs, event.rank()) == *event && xs.broadcast_with(&full).is_ok();
    if !ok {
        fail(
            x.graph(),
            method,
            format!(
                "the value's shape {xs} does not fit batch shape {batch} and event shape {event} \
                 (it must broadcast against {full} and end in the event shape)"
            ),
            &[x],
        );
    }
    ok
}

/// A readable label for error messages: the tensor's label, else the current scope, else none.
pub(crate) fn label_of<F: Scalar>(t: Tensor<'_, F>) -> Option<String> {
    t.label().map(|l| l.to_string()).or_else(|| {
        let s = t.graph().scope_path();
        (!s.is_empty()).then_some(s)
    })
}
