//! The ops, one per file. Each file holds the op's struct, its `Op` (or elementwise) impl, its
//! public constructor, a doc header with the forward and gradient math, and its tests.

mod add;
mod add_n;
mod band_part;
mod broadcast_to;
mod cholesky;
mod div;
mod fill;
mod log_det_tril;
mod matmul;
mod matrix_diag;
mod matrix_diag_part;
mod matrix_set_diag;
mod mul;
mod neg;
mod reduce_sum;
mod reshape;
mod sub;
mod sum_to;
mod triangular_solve;
mod tril;
mod zeros_like;

pub use add::*;
pub use add_n::*;
pub use band_part::*;
pub use broadcast_to::*;
pub use cholesky::*;
pub use div::*;
pub use fill::*;
pub use log_det_tril::*;
pub use matmul::*;
pub use matrix_diag::*;
pub use matrix_diag_part::*;
pub use matrix_set_diag::*;
pub use mul::*;
pub use neg::*;
pub use reduce_sum::*;
pub use reshape::*;
pub use sub::*;
pub use sum_to::*;
pub use triangular_solve::*;
pub use tril::*;
pub use zeros_like::*;
