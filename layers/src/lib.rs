//! # layers
//!
//! Variational layers for Bayesian neural networks, ported from TensorFlow Probability's
//! `tfp.layers` (and R's `tfprobability`) with the same math and defaults: DenseFlipout,
//! DenseReparameterization, DenseLocalReparameterization and DenseVariational, a deterministic
//! Dense layer, models with ELBO training, Monte-Carlo prediction, and checkpoints.
//! Also MADE ([`AutoregressiveNetwork`]), masked autoregressive flows ([`Flow`]) and
//! [`VariableLayer`].
//!
//! Each layer registers its KL divergence as a loss; [`elbo_loss`] divides the total by the
//! number of training examples exactly once.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod activation;
pub mod autoregressive;
pub mod bijector;
pub mod builders;
pub mod checkpoint;
pub mod conv;
pub mod conv_map;
pub mod data;
pub mod dense;
pub mod dense_variational;
pub mod divergence;
pub mod elbo;
pub mod estimators;
pub mod flow;
pub mod layer;
pub mod likelihood;
pub mod linear_map;
pub mod masked_autoregressive_flow;
pub mod model;
pub mod sequential;
pub mod tensor_fn;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod variable_layer;
pub mod variational;

pub use activation::Activation;
pub use autoregressive::{
    made_degrees, made_masks, AutoregressiveNetwork, ConditionalInputLayers, HiddenDegrees, InputOrder,
};
pub use bijector::{Bijector, Permute};
pub use builders::{
    DistFn, DistributionFn, MeanFieldNormal, MvnTriLPosterior, NormalPrior, PointEstimate, ScaleMixturePrior,
    TrainableNormalPrior,
};
pub use conv::{Conv, Flatten, Pool};
pub use conv_map::{
    Conv1DFlipout, Conv1DReparameterization, Conv2DFlipout, Conv2DReparameterization, Conv3DFlipout,
    Conv3DReparameterization, ConvMap,
};
pub use data::Dataset;
pub use dense::Dense;
pub use dense_variational::DenseVariational;
pub use divergence::Divergence;
pub use elbo::elbo_loss;
pub use estimators::{Flipout, KernelEstimator, LocalReparameterization, Reparameterization};
pub use flow::{Flow, FlowEpochStats};
pub use layer::{build_layer, Layer, LayerCx, Loss, LossKind, Mode};
pub use likelihood::Likelihood;
pub use linear_map::{DenseMap, LinearMap};
pub use masked_autoregressive_flow::MaskedAutoregressiveFlow;
pub use model::{EpochStats, FitOptions, McPrediction, Model, ModelError, Pass};
pub use sequential::Sequential;
pub use tensor_fn::TensorFn;
pub use variable_layer::{Constraint, VariableLayer};
pub use variational::{DenseFlipout, DenseLocalReparameterization, DenseReparameterization, Regularizer, Variational};
