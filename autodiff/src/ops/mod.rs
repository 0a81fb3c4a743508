//! The ops, one per file. Each file holds the op's struct, its `Op` (or elementwise) impl, its
//! public constructor, a doc header with the forward and gradient math, and its tests.

mod add;
mod add_n;
mod broadcast_to;
mod div;
mod expand_dims;
mod fill;
mod matmul;
mod matrix_transpose;
mod mul;
mod neg;
mod pad;
mod reduce_sum;
mod reshape;
mod slice;
mod squeeze;
mod strided_slice;
mod strided_slice_grad;
mod sub;
mod sum_to;
mod transpose;
mod zeros_like;

pub use add::*;
pub use add_n::*;
pub use broadcast_to::*;
pub use div::*;
pub use expand_dims::*;
pub use fill::*;
pub use matmul::*;
pub use matrix_transpose::*;
pub use mul::*;
pub use neg::*;
pub use pad::*;
pub use reduce_sum::*;
pub use reshape::*;
pub use slice::*;
pub use squeeze::*;
pub use strided_slice::*;
pub use strided_slice_grad::*;
pub use sub::*;
pub use sum_to::*;
pub use transpose::*;
pub use zeros_like::*;
