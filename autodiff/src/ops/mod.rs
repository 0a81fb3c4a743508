//! The ops, one per file. Each file holds the op's struct, its `Op` (or elementwise) impl, its
//! public constructor, a doc header with the forward and gradient math, and its tests.

mod add;
mod add_n;
mod broadcast_to;
mod div;
mod fill;
mod matmul;
mod mul;
mod neg;
mod prod_of_others;
mod reduce_max;
mod reduce_mean;
mod reduce_mean_grad;
mod reduce_min;
mod reduce_prod;
mod reduce_sum;
mod reduce_variance;
mod reshape;
mod sub;
mod sum_to;
mod tie_weights;
mod zeros_like;

pub use add::*;
pub use add_n::*;
pub use broadcast_to::*;
pub use div::*;
pub use fill::*;
pub use matmul::*;
pub use mul::*;
pub use neg::*;
pub use prod_of_others::*;
pub use reduce_max::*;
pub use reduce_mean::*;
pub use reduce_mean_grad::*;
pub use reduce_min::*;
pub use reduce_prod::*;
pub use reduce_sum::*;
pub use reduce_variance::*;
pub use reshape::*;
pub use sub::*;
pub use sum_to::*;
pub use tie_weights::*;
pub use zeros_like::*;
