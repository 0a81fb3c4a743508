//! Kernel estimators: the one hook in which the variational layers differ (TFP's
//! `_apply_variational_kernel`). A new estimator is one new file implementing
//! [`KernelEstimator`].

mod flipout;
mod local_reparameterization;
mod reparameterization;

pub use flipout::Flipout;
pub use local_reparameterization::LocalReparameterization;
pub use reparameterization::Reparameterization;

use autodiff::prelude::*;
use distributions::{Distribution, Family, Normal};

use crate::layer::LayerCx;
use crate::linear_map::LinearMap;
use crate::tensor_fn::TensorFn;

/// The result of applying a variational kernel.
pub struct Applied<'g, F: Scalar> {
    /// The pre-bias output.
    pub output: Tensor<'g, F>,
    /// A draw of the kernel from the posterior, handed to the divergence function. Nodes that
    /// nothing reads are pruned at compile time, so estimators may build it freely.
    pub kernel_sample: Tensor<'g, F>,
}

/// How a variational layer turns its kernel posterior and an input into an output.
pub trait KernelEstimator: Send + Sync + std::fmt::Debug + Clone + 'static {
    /// The estimator's name (`"flipout"`): the suffix of the default layer name
    /// (`dense_flipout`) and, by convention, the prefix of the estimator's own noise salts.
    const NAME: &'static str;
    /// The layer-name part, e.g. `"Flipout"` in `DenseFlipout`.
    const TITLE: &'static str;
    /// Applies the kernel posterior `q` to `x` through `map`.
    fn apply<'g, F: Scalar>(
        &self,
        x: Tensor<'g, F>,
        q: &dyn Distribution<'g, F>,
        tensor_fn: &TensorFn<F>,
        map: &dyn LinearMap<F>,
        cx: &mut LayerCx<'g, '_, F>,
    ) -> Applied<'g, F>;
}

/// The loc and scale of an `Independent(Normal)` posterior, which Flipout and local
/// reparameterization require (TFP raises `TypeError` otherwise). Records a graph error naming
/// the layer and the family found, and returns `None`, for any other posterior.
#[track_caller]
pub fn independent_normal<'a, 'g, F: Scalar>(
    q: &'a dyn Distribution<'g, F>,
    layer: &str,
    cx: &LayerCx<'g, '_, F>,
) -> Option<&'a Normal<'g, F>> {
    if let Family::Independent(ind) = q.family() {
        if let Family::Normal(n) = ind.base().family() {
            return Some(n);
        }
    }
    let found = match q.family() {
        Family::Independent(ind) => format!("Independent({})", ind.base().name()),
        _ => q.name().to_string(),
    };
    cx.graph().record_shape_error(
        "variational layer",
        ShapeError::Custom(format!("{layer} needs an Independent(Normal) kernel posterior, got {found}")),
        &[],
    );
    None
}
