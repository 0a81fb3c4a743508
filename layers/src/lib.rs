//! # layers
//!
//! Variational layers for Bayesian neural networks.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkpoint;
