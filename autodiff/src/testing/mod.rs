//! Tools for testing ops and layers, public so that people extending the library test their
//! own ops the same way: gradient checks in `f64` (full Jacobian by central differences for
//! small inputs, random projection for large ones, and second order), input domains per op,
//! forward-value assertions, proptest strategies for shapes, and an allocation counter.

mod alloc_count;
mod gradcheck;
pub mod strategies;

pub use alloc_count::{count_allocations, CountingAllocator};
pub use gradcheck::{assert_forward, check_grads, eval, try_check_grads, Domain, GradCheckOptions, Spec};

// Re-exported so op tests can `use crate::testing::*` and have the graph types at hand.
pub use crate::graph::{Graph, Tensor};
