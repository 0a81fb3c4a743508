//! # layers
//!
//! Variational layers for Bayesian neural networks, ported from TensorFlow Probability's
//! `tfp.layers` (and R's `tfprobability`) with the same math and defaults: DenseFlipout,
//! DenseReparameterization, DenseLocalReparameterization and DenseVariational, their
//! convolutional siblings, MADE with masked autoregressive flows, VariableLayer, deterministic
//! layers, models with ELBO training, Monte-Carlo prediction, and checkpoints.
//!
//! Each layer registers its KL divergence as a loss; [`elbo_loss`] divides the total by the
//! number of training examples exactly once.
//!
//! ```
//! use autodiff::optim::Adam;
//! use layers::{Activation, Dataset, DenseFlipout, FitOptions, Likelihood, Model, Sequential};
//!
//! // y = sin(3x) + noise, 200 points
//! let x: Vec<f32> = (0..200).map(|i| i as f32 / 100.0 - 1.0).collect();
//! let y: Vec<f32> = x.iter().enumerate().map(|(i, v)| (3.0 * v).sin() + 0.1 * ((i * 7 % 11) as f32 / 5.5 - 1.0)).collect();
//! let data = Dataset::new(x.clone(), &[1], y, &[1]).unwrap();
//!
//! let net = Sequential::new()
//!     .add(DenseFlipout::new(32).activation(Activation::Relu))
//!     .add(DenseFlipout::new(1));
//! let mut model = Model::new(net, &[1], Likelihood::NormalLearnedScale { init_scale: 1.0 }, 0).unwrap();
//! let opts = FitOptions { epochs: 50, batch_size: 32, ..Default::default() };
//! model.fit(&data, &opts, &mut Adam::new(0.01), |e| println!("epoch {} -ELBO/N {:.3}", e.epoch, e.loss)).unwrap();
//!
//! // Monte-Carlo predictive mean and standard deviation over 100 stochastic passes (in parallel)
//! let pred = model.predict_mc(&x, 100, 1).unwrap();
//! println!("x = 0: {:.2} ± {:.2}", pred.mean[100], pred.stddev[100]);
//! assert!(pred.stddev[100] > 0.0);
//! ```
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
/// Convolution and pooling settings, re-exported so layer code needs no `autodiff` import.
pub use autodiff::ops::{DataFormat, Padding};
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
