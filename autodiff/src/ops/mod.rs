//! The ops, one per file. Each file holds the op's struct, its `Op` (or elementwise) impl, its
//! public constructor, a doc header with the forward and gradient math, and its tests.

mod add;
mod add_n;
mod broadcast_to;
mod div;
mod equal;
mod fill;
mod greater;
mod greater_equal;
mod less;
mod less_equal;
mod matmul;
mod mul;
mod neg;
mod not_equal;
mod reduce_sum;
mod reshape;
mod select;
mod stop_gradient;
mod sub;
mod sum_to;
mod zeros_like;

pub use add::*;
pub use add_n::*;
pub use broadcast_to::*;
pub use div::*;
pub use equal::*;
pub use fill::*;
pub use greater::*;
pub use greater_equal::*;
pub use less::*;
pub use less_equal::*;
pub use matmul::*;
pub use mul::*;
pub use neg::*;
pub use not_equal::*;
pub use reduce_sum::*;
pub use reshape::*;
pub use select::*;
pub use stop_gradient::*;
pub use sub::*;
pub use sum_to::*;
pub use zeros_like::*;
