//! `global_avg_pool(x, data_format)`: the mean over every spatial axis, Keras's
//! `GlobalAveragePooling1D/2D/3D` (without `keepdims`): `[N, L..., C] -> [N, C]` (or
//! `[N, C, L...] -> [N, C]` channels-first), `y[n, c] = (1/Π L) Σ_{p} x[n, p, c]`. A composite
//! of `reduce_mean` over the spatial axes.
//!
//! VJP: that of `reduce_mean`, `gx = broadcast(gy) / Π L`. The spatial rank is `x.rank() - 2`
//! and must be 1, 2 or 3; `N` may be the batch dimension. Domain: all reals.

use crate::conv_geometry::DataFormat;
use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::ops::reduce_mean;
use crate::scalar::Scalar;

/// The mean of `x` over its spatial axes: `[N, C]`.
#[track_caller]
pub fn global_avg_pool<'g, F: Scalar>(x: Tensor<'g, F>, data_format: DataFormat) -> Tensor<'g, F> {
    let g = x.graph();
    if x.is_poisoned() {
        return g.poisoned();
    }
    let r = x.rank();
    if !(3..=5).contains(&r) {
        let detail =
            format!("needs [batch, spatial..., channels] with 1 to 3 spatial axes (rank 3 to 5), got rank {r}");
        g.record_shape_error("global_avg_pool", ShapeError::Custom(detail), &[x]);
        return g.poisoned();
    }
    let axes: Vec<isize> = match data_format {
        DataFormat::ChannelsLast => (1..r as isize - 1).collect(),
        DataFormat::ChannelsFirst => (2..r as isize).collect(),
    };
    reduce_mean(x, &axes, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Dim, Shape, B};
    use crate::testing::*;

    #[test]
    fn global_avg_pool_forward() {
        // 2×2 image, two channels [v, 10v] for v = 1..4: means 2.5 and 25.
        let x = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
        assert_forward(|g| global_avg_pool(g.constant_f64(&x, [1, 2, 2, 2]), DataFormat::ChannelsLast), &[2.5, 25.0]);
        // Channels-first [1, 2, 4]: rows are channels, means (1+10+2+20)/4 and (3+30+4+40)/4.
        assert_forward(
            |g| global_avg_pool(g.constant_f64(&x, [1, 2, 4]), DataFormat::ChannelsFirst),
            &[33.0 / 4.0, 77.0 / 4.0],
        );
    }

    #[test]
    fn global_avg_pool_grad() {
        check_grads(|_, x| global_avg_pool(x[0], DataFormat::ChannelsLast), &[Spec::new([2, 3, 4, 2])], 2);
        check_grads(
            |_, x| {
                let y = global_avg_pool(x[0], DataFormat::ChannelsFirst);
                y * y
            },
            &[Spec::new([1, 2, 3, 2, 2])],
            2,
        );
    }

    #[test]
    fn global_avg_pool_shapes_and_errors() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(5), Dim::Fixed(5), Dim::Fixed(8)]);
        assert_eq!(global_avg_pool(x, DataFormat::ChannelsLast).shape(), Shape::from([B, Dim::Fixed(8)]));
        assert!(g.check().is_ok());
        let _ = global_avg_pool(g.input("y", [B, Dim::Fixed(8)]), DataFormat::ChannelsLast);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("global_avg_pool") && msg.contains("[B, 8]") && msg.contains("rank 2"), "{msg}");
    }
}
