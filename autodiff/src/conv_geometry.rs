//! Where a sliding window visits: the geometry shared by convolutions and pooling, with
//! TensorFlow's (and Keras's) output-length and padding rules.
//!
//! Along one spatial axis of length `L`, a window of `k` taps spaced `d` apart (the dilation)
//! covers `k_eff = k + (k - 1)(d - 1)` input positions and moves by the stride `s`:
//!
//! * `Padding::Valid`: no padding, `out = ceil((L - k_eff + 1) / s)`; `L < k_eff` is an error.
//! * `Padding::Same`: `out = ceil(L / s)`, padded with `pad_total = max((out - 1)·s + k_eff - L, 0)`
//!   positions, `pad_total / 2` before and the rest (one more when odd) after.
//!
//! Output position `o` then starts at input index `o·s - pad_before`, and tap `t` reads index
//! `o·s - pad_before + t·d`; taps outside `0..L` read the padding. With these rules every
//! window overlaps the input in at least one position.
//!
//! Tensors are laid out `[batch, spatial..., channels]` (`DataFormat::ChannelsLast`, TF's
//! `NHWC`) or `[batch, channels, spatial...]` (`DataFormat::ChannelsFirst`, `NCHW`). The batch
//! axis may be the symbolic batch dimension; spatial and channel axes must be fixed.

use std::ops::Range;

use smallvec::SmallVec;

use crate::error::ShapeError;
use crate::shape::{Dim, Shape};

/// How a window treats the borders of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Only windows that fit entirely inside the input.
    Valid,
    /// Zero padding (ignored by pooling) so that `out = ceil(L / s)`.
    Same,
}

/// Where the channel axis is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DataFormat {
    /// `[batch, spatial..., channels]` (Keras's default).
    #[default]
    ChannelsLast,
    /// `[batch, channels, spatial...]`.
    ChannelsFirst,
}

/// Strides, dilations, padding and layout of a 1-, 2- or 3-D sliding window. The window's size
/// (kernel or pool size) is passed separately.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    /// Step of the window along each spatial axis.
    pub strides: SmallVec<[usize; 3]>,
    /// Spacing of the taps along each spatial axis (1 is a dense window).
    pub dilations: SmallVec<[usize; 3]>,
    /// Border handling.
    pub padding: Padding,
    /// Position of the channel axis.
    pub data_format: DataFormat,
}

/// One spatial axis resolved for a given input length: everything a kernel needs to visit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpatialAxis {
    /// Input length `L`.
    pub len: usize,
    /// Taps `k`.
    pub kernel: usize,
    /// Stride `s`.
    pub stride: usize,
    /// Dilation `d`.
    pub dilation: usize,
    /// Padding before the first input position.
    pub pad_before: usize,
    /// Output length.
    pub out: usize,
}

impl SpatialAxis {
    /// The trivial axis (length 1, one tap), used to pad lower-rank windows to rank 3.
    pub const UNIT: SpatialAxis = SpatialAxis { len: 1, kernel: 1, stride: 1, dilation: 1, pad_before: 0, out: 1 };

    /// For output position `o`: the input index of tap 0 (negative inside the padding) and the
    /// range `lo..hi` of taps that land inside `0..len` (empty as `0..0`).
    #[inline]
    pub fn taps(&self, o: usize) -> (isize, usize, usize) {
        let start = (o * self.stride) as isize - self.pad_before as isize;
        let (lo, hi) = if self.dilation == 1 {
            ((-start).max(0) as usize, (self.len as isize - start).clamp(0, self.kernel as isize) as usize)
        } else {
            let d = self.dilation as isize;
            let lo = if start >= 0 { 0 } else { ((-start + d - 1) / d) as usize };
            let last = self.len as isize - 1 - start;
            (lo, if last < 0 { 0 } else { ((last / d) as usize + 1).min(self.kernel) })
        };
        if lo >= hi {
            (start, 0, 0)
        } else {
            (start, lo, hi)
        }
    }
}

/// The dilated window extent `k + (k - 1)(d - 1)`.
pub fn effective_kernel(kernel: usize, dilation: usize) -> usize {
    if kernel == 0 {
        0
    } else {
        (kernel - 1) * dilation + 1
    }
}

/// TF's output length of one axis, or `None` when a `Valid` window does not fit (`L < k_eff`).
/// `kernel`, `stride` and `dilation` must be positive.
pub fn output_len(len: usize, kernel: usize, stride: usize, dilation: usize, padding: Padding) -> Option<usize> {
    let k_eff = effective_kernel(kernel, dilation);
    match padding {
        Padding::Valid => (len >= k_eff).then(|| (len - k_eff) / stride + 1),
        Padding::Same => Some(len.div_ceil(stride)),
    }
}

/// TF's `(before, after)` padding of one axis: zero for `Valid`; for `Same`, the total needed so
/// the last window ends at the padded border, with the odd one out after.
pub fn padding_amounts(len: usize, kernel: usize, stride: usize, dilation: usize, padding: Padding) -> (usize, usize) {
    match padding {
        Padding::Valid => (0, 0),
        Padding::Same => {
            let out = len.div_ceil(stride);
            let need = (out.saturating_sub(1) * stride + effective_kernel(kernel, dilation)).saturating_sub(len);
            let total = if out == 0 { 0 } else { need };
            (total / 2, total - total / 2)
        }
    }
}

impl ConvGeometry {
    /// A geometry from its parts (checked when an op uses it).
    pub fn new(strides: &[usize], dilations: &[usize], padding: Padding, data_format: DataFormat) -> Self {
        ConvGeometry { strides: strides.into(), dilations: dilations.into(), padding, data_format }
    }

    /// A dense window (`dilations` all 1) of the given strides, as pooling uses.
    pub fn pooling(strides: &[usize], padding: Padding, data_format: DataFormat) -> Self {
        ConvGeometry::new(strides, &SmallVec::<[usize; 3]>::from_elem(1, strides.len()), padding, data_format)
    }

    /// Number of spatial axes.
    pub fn rank(&self) -> usize {
        self.strides.len()
    }

    /// Positions of the spatial axes in a tensor of rank `rank() + 2`.
    pub fn spatial_axes(&self) -> Range<usize> {
        match self.data_format {
            DataFormat::ChannelsLast => 1..self.rank() + 1,
            DataFormat::ChannelsFirst => 2..self.rank() + 2,
        }
    }

    /// Position of the channel axis in a tensor of rank `rank() + 2`.
    pub fn channel_axis(&self) -> usize {
        match self.data_format {
            DataFormat::ChannelsLast => self.rank() + 1,
            DataFormat::ChannelsFirst => 1,
        }
    }

    /// Checks the geometry against a window size: 1 to 3 spatial axes, one stride, dilation and
    /// window size per axis, all positive, and (as in TF) no stride above 1 together with a
    /// dilation above 1.
    pub fn check(&self, window: &[usize]) -> Result<(), ShapeError> {
        let r = self.rank();
        if !(1..=3).contains(&r) || self.dilations.len() != r || window.len() != r {
            return Err(ShapeError::Custom(format!(
                "window {window:?}, strides {:?} and dilations {:?} must all have 1, 2 or 3 entries, one per spatial axis",
                &self.strides[..],
                &self.dilations[..]
            )));
        }
        if window.contains(&0) || self.strides.contains(&0) || self.dilations.contains(&0) {
            return Err(ShapeError::Custom(format!(
                "window {window:?}, strides {:?} and dilations {:?} must be positive",
                &self.strides[..],
                &self.dilations[..]
            )));
        }
        if self.strides.iter().any(|&s| s > 1) && self.dilations.iter().any(|&d| d > 1) {
            return Err(ShapeError::Custom(format!(
                "strides {:?} > 1 together with dilations {:?} > 1 are not supported (as in TensorFlow)",
                &self.strides[..],
                &self.dilations[..]
            )));
        }
        Ok(())
    }

    /// Checks an input shape of rank `rank() + 2` (batch axis fixed or symbolic, the others
    /// fixed) and returns its spatial lengths and channel count.
    pub fn split_input(&self, x: &Shape) -> Result<(SmallVec<[usize; 3]>, usize), ShapeError> {
        let r = self.rank();
        if x.rank() != r + 2 {
            let layout = match self.data_format {
                DataFormat::ChannelsLast => "[batch, spatial..., channels]",
                DataFormat::ChannelsFirst => "[batch, channels, spatial...]",
            };
            return Err(ShapeError::Custom(format!(
                "a {r}-D window needs an input of rank {} laid out {layout}, got {x}",
                r + 2
            )));
        }
        let fixed = |a: usize| match x.dim(a) {
            Dim::Fixed(n) => Ok(n),
            Dim::Batch => Err(ShapeError::Custom(format!(
                "axis {a} of {x} is the batch dimension; only axis 0 may be the batch dimension"
            ))),
        };
        let spatial = self.spatial_axes().map(fixed).collect::<Result<_, _>>()?;
        Ok((spatial, fixed(self.channel_axis())?))
    }

    /// Resolves every spatial axis for the given input lengths and window size. Fails when a
    /// `Valid` window is longer than its axis.
    pub fn resolve(&self, spatial: &[usize], window: &[usize]) -> Result<SmallVec<[SpatialAxis; 3]>, ShapeError> {
        let mut axes = SmallVec::new();
        for (i, (&len, &k)) in spatial.iter().zip(window).enumerate() {
            let (s, d) = (self.strides[i], self.dilations[i]);
            let out = output_len(len, k, s, d, self.padding).ok_or_else(|| {
                ShapeError::Custom(format!(
                    "spatial axis {i} has length {len}, shorter than the window's extent {} ({k} taps, dilation {d}) with Valid padding",
                    effective_kernel(k, d)
                ))
            })?;
            let (pad_before, _) = padding_amounts(len, k, s, d, self.padding);
            axes.push(SpatialAxis { len, kernel: k, stride: s, dilation: d, pad_before, out });
        }
        Ok(axes)
    }

    /// The common shape rule of the window ops: checks the geometry against `window` and the
    /// input shape `x`, and returns the resolved spatial axes and the channel count.
    pub fn infer(&self, x: &Shape, window: &[usize]) -> Result<(SmallVec<[SpatialAxis; 3]>, usize), ShapeError> {
        self.check(window)?;
        let (spatial, channels) = self.split_input(x)?;
        Ok((self.resolve(&spatial, window)?, channels))
    }

    /// Run-time dims of a tensor of rank `rank() + 2` seen as `(outer, spatial, inner)`, the
    /// view of the window kernels: `(batch, spatial, channels)` for channels-last,
    /// `(batch · channels, spatial, 1)` for channels-first.
    pub fn kernel_view<'a>(&self, dims: &'a [usize]) -> (usize, &'a [usize], usize) {
        let r = self.rank();
        match self.data_format {
            DataFormat::ChannelsLast => (dims[0], &dims[1..r + 1], dims[r + 1]),
            DataFormat::ChannelsFirst => (dims[0] * dims[1], &dims[2..r + 2], 1),
        }
    }

    /// The shape of `x` with every spatial axis replaced by its output length and the channel
    /// axis by `channels`.
    pub fn output_shape(&self, x: &Shape, axes: &[SpatialAxis], channels: usize) -> Shape {
        let mut out = x.clone();
        for (a, ax) in self.spatial_axes().zip(axes) {
            out.dims_mut()[a] = Dim::Fixed(ax.out);
        }
        out.dims_mut()[self.channel_axis()] = Dim::Fixed(channels);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;

    #[test]
    fn output_lengths_follow_tensorflow() {
        // (L, k, s, d, padding) -> out, each by TF's rule:
        // valid: ceil((L - k_eff + 1) / s), same: ceil(L / s), k_eff = k + (k-1)(d-1).
        let table = [
            (4, 3, 1, 1, Padding::Valid, Some(2)), // ceil(2 / 1)
            (7, 3, 2, 1, Padding::Valid, Some(3)), // ceil(5 / 2)
            (6, 3, 2, 1, Padding::Valid, Some(2)), // ceil(4 / 2)
            (7, 3, 1, 2, Padding::Valid, Some(3)), // k_eff 5: ceil(3 / 1)
            (5, 3, 1, 3, Padding::Valid, None),    // k_eff 7 > 5
            (7, 3, 1, 3, Padding::Valid, Some(1)), // k_eff 7: ceil(1 / 1)
            (5, 5, 1, 1, Padding::Valid, Some(1)),
            (5, 3, 1, 1, Padding::Same, Some(5)),
            (5, 3, 2, 1, Padding::Same, Some(3)), // ceil(5 / 2)
            (6, 3, 2, 1, Padding::Same, Some(3)),
            (7, 2, 3, 1, Padding::Same, Some(3)), // ceil(7 / 3)
            (4, 3, 1, 2, Padding::Same, Some(4)),
            (28, 2, 2, 1, Padding::Valid, Some(14)),
            (28, 5, 1, 1, Padding::Valid, Some(24)),
        ];
        for (l, k, s, d, p, out) in table {
            assert_eq!(output_len(l, k, s, d, p), out, "L={l} k={k} s={s} d={d} {p:?}");
        }
    }

    #[test]
    fn same_padding_puts_the_odd_one_after() {
        // L=5, k=3, s=2: out 3, total (3-1)·2 + 3 - 5 = 2 -> (1, 1).
        assert_eq!(padding_amounts(5, 3, 2, 1, Padding::Same), (1, 1));
        // L=6, k=3, s=2: out 3, total 2·2 + 3 - 6 = 1 -> (0, 1).
        assert_eq!(padding_amounts(6, 3, 2, 1, Padding::Same), (0, 1));
        // L=5, k=4, s=1: out 5, total 4 + 4 - 5 = 3 -> (1, 2).
        assert_eq!(padding_amounts(5, 4, 1, 1, Padding::Same), (1, 2));
        // L=4, k=3, d=2 (k_eff 5): total 3 + 5 - 4 = 4 -> (2, 2).
        assert_eq!(padding_amounts(4, 3, 1, 2, Padding::Same), (2, 2));
        // L=7, k=2, s=3: out 3, total 6 + 2 - 7 = 1 -> (0, 1). A window may need no padding.
        assert_eq!(padding_amounts(7, 2, 3, 1, Padding::Same), (0, 1));
        assert_eq!(padding_amounts(8, 2, 2, 1, Padding::Same), (0, 0));
        assert_eq!(padding_amounts(8, 3, 1, 1, Padding::Valid), (0, 0));
    }

    #[test]
    fn taps_clip_to_the_input() {
        // L=5, k=3, s=2, pad_before 1: starts -1, 1, 3; the first window loses tap 0, the last
        // loses tap 2 (index 5).
        let ax = SpatialAxis { len: 5, kernel: 3, stride: 2, dilation: 1, pad_before: 1, out: 3 };
        assert_eq!(ax.taps(0), (-1, 1, 3));
        assert_eq!(ax.taps(1), (1, 0, 3));
        assert_eq!(ax.taps(2), (3, 0, 2));
        // L=4, k=3, d=2, pad_before 2: start -2 reads -2, 0, 2 -> taps 1..3; start 1 reads
        // 1, 3, 5 -> taps 0..2.
        let ax = SpatialAxis { len: 4, kernel: 3, stride: 1, dilation: 2, pad_before: 2, out: 4 };
        assert_eq!(ax.taps(0), (-2, 1, 3));
        assert_eq!(ax.taps(3), (1, 0, 2));
    }

    #[test]
    fn geometry_checks_and_shapes() {
        let g = ConvGeometry::new(&[2, 1], &[1, 1], Padding::Same, DataFormat::ChannelsLast);
        assert!(g.check(&[3, 3]).is_ok());
        assert!(g.check(&[3]).is_err());
        assert!(g.check(&[0, 3]).is_err());
        let bad = ConvGeometry::new(&[2], &[2], Padding::Valid, DataFormat::ChannelsLast);
        assert!(bad.check(&[3]).unwrap_err().to_string().contains("not supported"));
        let x = Shape::from([B, Dim::Fixed(5), Dim::Fixed(6), Dim::Fixed(3)]);
        let (sp, c) = g.split_input(&x).unwrap();
        assert_eq!((&sp[..], c), (&[5, 6][..], 3));
        let axes = g.resolve(&sp, &[3, 3]).unwrap();
        assert_eq!(g.output_shape(&x, &axes, 8), Shape::from([B, Dim::Fixed(3), Dim::Fixed(6), Dim::Fixed(8)]));
        let cf = ConvGeometry::pooling(&[2], Padding::Valid, DataFormat::ChannelsFirst);
        let x = Shape::from([B, Dim::Fixed(3), Dim::Fixed(7)]);
        let (sp, c) = cf.split_input(&x).unwrap();
        assert_eq!((&sp[..], c), (&[7][..], 3));
        let axes = cf.resolve(&sp, &[2]).unwrap();
        assert_eq!(cf.output_shape(&x, &axes, 3), Shape::from([B, Dim::Fixed(3), Dim::Fixed(3)]));
        assert!(cf.split_input(&Shape::from([B, B, Dim::Fixed(7)])).is_err());
        assert!(cf.resolve(&[1], &[2]).is_err());
    }
}
