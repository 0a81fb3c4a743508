//! # autodiff
//!
//! A static computation graph with symbolic reverse-mode differentiation and planned,
//! allocation-free execution, for research on Bayesian neural networks.
//!
//! * **Build** a [`Graph`] through cheap `Copy` [`Tensor`] handles with operator overloading.
//!   Shapes are inferred when a node is created, with NumPy broadcasting; an input may use the
//!   symbolic batch dimension [`B`] so one model serves every batch size.
//! * **Differentiate** with [`grad`] or [`vjp`]: gradients are new nodes of the same graph, so
//!   they can be differentiated again.
//! * **Compile** the nodes you fetch into a [`Plan`] (pruned, ordered, liveness-analysed), and
//!   **run** it in a [`Session`] with named feeds and a [`ParamStore`]. Steady-state runs
//!   allocate nothing; random nodes draw fresh noise per run and `run_at_step` replays a run.
//! * **Errors** never panic: building records the first mistake with the op, label, caller
//!   location and shapes, returned by [`Graph::check`] or [`Graph::compile`].
//!
//! ```
//! use autodiff::prelude::*;
//!
//! let g = Graph::<f64>::new();
//! let x = g.batched_input("x", &[2]);                 // [B, 2]
//! let w = g.constant_f64(&[1.0, -1.0], [2, 1]);
//! let y = matmul(x, w).sum_all();
//! let gx = grad(y, &[x])[0];
//! let mut s = Session::new(g.compile(&[y, gx]).unwrap(), 0);
//! let out = s.run(&ParamStore::new(0), &[("x", &[3.0, 1.0, 0.5, 0.5])]).unwrap();
//! assert_eq!(out.scalar(0), 2.0);
//! assert_eq!(out[1], [1.0, -1.0, 1.0, -1.0]);
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod conv_geometry;
pub mod elementwise;
pub mod error;
mod grad;
mod graph;
pub mod kernels;
pub mod op;
pub mod ops;
pub mod optim;
pub mod params;
mod plan;
mod plan_pairs;
mod profile;
pub mod random;
pub mod rng;
pub mod scalar;
mod session;
pub mod shape;
pub mod team;
mod tensor;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{GraphError, OpFailure, RunError, ShapeError};
pub use grad::{grad, vjp};
pub use graph::{Graph, NodeId, Tensor};
pub use op::{ForwardCx, Grads, Op, VjpCx};
pub use params::{Init, ParamId, ParamStore};
pub use plan::Plan;
pub use profile::{Profile, ProfileEntry};
pub use scalar::Scalar;
pub use session::{default_threads, Outputs, Session, SessionOptions};
pub use shape::{Dim, Shape, B};
pub use team::KernelTeam;

/// Everything needed to build, differentiate and run graphs.
pub mod prelude {
    pub use crate::ops::*;
    pub use crate::optim::{Adam, AdamW, ClipByGlobalNorm, OptimError, Optimizer, RmsProp, Sgd};
    pub use crate::random::{Bernoulli, Rademacher, StandardNormal, Uniform};
    pub use crate::{
        grad, vjp, Dim, Graph, GraphError, Init, ParamId, ParamStore, Plan, RunError, Scalar, Session, SessionOptions,
        Shape, ShapeError, Tensor, B,
    };
}
