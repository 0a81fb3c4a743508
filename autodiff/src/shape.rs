//! Shapes with an optional symbolic batch dimension, NumPy broadcasting and axis handling.

use std::fmt;

use smallvec::SmallVec;

use crate::error::ShapeError;

/// One dimension of a shape: a fixed size, or the symbolic batch size chosen at run time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Dim {
    /// A size known when the graph is built.
    Fixed(usize),
    /// The batch size, fixed per run by the fed inputs. One compiled plan serves any batch.
    Batch,
}

/// The symbolic batch dimension, for writing shapes such as `[B, 784.into()]`.
pub const B: Dim = Dim::Batch;

impl Dim {
    /// The size, given the run's batch size.
    #[inline]
    pub fn resolve(self, batch: usize) -> usize {
        match self {
            Dim::Fixed(n) => n,
            Dim::Batch => batch,
        }
    }
    /// The fixed size, or `None` for the batch dimension.
    #[inline]
    pub fn fixed(self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(n),
            Dim::Batch => None,
        }
    }
    /// Whether this is the dimension of size 1 (which broadcasts).
    #[inline]
    pub fn is_one(self) -> bool {
        self == Dim::Fixed(1)
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Self {
        Dim::Fixed(n)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Batch => f.write_str("B"),
        }
    }
}

/// A tensor shape. `[]` is a scalar. Dimensions are row-major (last is contiguous).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(SmallVec<[Dim; 4]>);

/// A resolved shape for one run, with every dimension a concrete size.
pub type Dims = SmallVec<[usize; 4]>;

impl Shape {
    /// The scalar shape `[]`.
    pub fn scalar() -> Self {
        Shape(SmallVec::new())
    }
    /// A shape from its dimensions.
    pub fn new(dims: impl IntoIterator<Item = Dim>) -> Self {
        Shape(dims.into_iter().collect())
    }
    /// `[B, dims...]`: a batch of examples of shape `dims`.
    pub fn batched(dims: &[usize]) -> Self {
        let mut s = Shape(SmallVec::with_capacity(dims.len() + 1));
        s.0.push(Dim::Batch);
        s.0.extend(dims.iter().map(|&d| Dim::Fixed(d)));
        s
    }
    /// Number of dimensions.
    #[inline]
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// The dimensions.
    #[inline]
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }
    /// Dimension `axis` (must be in range).
    #[inline]
    pub fn dim(&self, axis: usize) -> Dim {
        self.0[axis]
    }
    /// Whether any dimension is the symbolic batch.
    pub fn has_batch(&self) -> bool {
        self.0.contains(&Dim::Batch)
    }
    /// How many dimensions are the symbolic batch.
    pub fn batch_count(&self) -> usize {
        self.0.iter().filter(|d| **d == Dim::Batch).count()
    }
    /// Whether two shapes always have the same number of elements, whatever the batch size.
    pub fn same_size(&self, other: &Shape) -> bool {
        self.fixed_product() == other.fixed_product() && self.batch_count() == other.batch_count()
    }
    /// The concrete dimensions if none is symbolic.
    pub fn fixed_dims(&self) -> Option<Dims> {
        self.0.iter().map(|d| d.fixed()).collect()
    }
    /// Number of elements, if no dimension is symbolic.
    pub fn fixed_numel(&self) -> Option<usize> {
        self.0.iter().map(|d| d.fixed()).product()
    }
    /// Product of the fixed dimensions (the batch dimension counts as 1).
    pub fn fixed_product(&self) -> usize {
        self.0.iter().map(|d| d.fixed().unwrap_or(1)).product()
    }
    /// Resolves the batch dimension into `out` (cleared first).
    pub fn resolve_into(&self, batch: usize, out: &mut Dims) {
        out.clear();
        out.extend(self.0.iter().map(|d| d.resolve(batch)));
    }
    /// The concrete dimensions for a run with the given batch size.
    pub fn resolve(&self, batch: usize) -> Dims {
        self.0.iter().map(|d| d.resolve(batch)).collect()
    }
    /// Whether the shape is `[]`.
    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// NumPy broadcasting of two shapes. `B` broadcasts with `1` and with `B`.
    pub fn broadcast_with(&self, other: &Shape) -> Result<Shape, ShapeError> {
        let r = self.rank().max(other.rank());
        let mut out = SmallVec::with_capacity(r);
        for i in 0..r {
            let a = if i + self.rank() >= r { self.0[i + self.rank() - r] } else { Dim::Fixed(1) };
            let b = if i + other.rank() >= r { other.0[i + other.rank() - r] } else { Dim::Fixed(1) };
            let d = if a == b || b.is_one() {
                a
            } else if a.is_one() {
                b
            } else {
                return Err(ShapeError::NotBroadcastable { lhs: self.clone(), rhs: other.clone() });
            };
            out.push(d);
        }
        Ok(Shape(out))
    }

    /// Axes of `self` (a broadcast result) that must be summed to get back `target`,
    /// and whether the result then needs a reshape (rank differs).
    pub fn axes_summed_to(&self, target: &Shape) -> Result<SmallVec<[usize; 4]>, ShapeError> {
        if target.rank() > self.rank() {
            return Err(ShapeError::NotBroadcastable { lhs: target.clone(), rhs: self.clone() });
        }
        let lead = self.rank() - target.rank();
        let mut axes = SmallVec::new();
        for (i, d) in self.0.iter().enumerate() {
            if i < lead {
                axes.push(i);
            } else {
                let t = target.0[i - lead];
                if t == *d {
                    continue;
                } else if t.is_one() {
                    axes.push(i);
                } else {
                    return Err(ShapeError::NotBroadcastable { lhs: target.clone(), rhs: self.clone() });
                }
            }
        }
        Ok(axes)
    }

    /// Normalizes possibly negative axes (`-1` is the last) and checks them; sorted, deduplicated.
    pub fn normalize_axes(&self, axes: &[isize]) -> Result<SmallVec<[usize; 4]>, ShapeError> {
        let mut out: SmallVec<[usize; 4]> = SmallVec::new();
        for &a in axes {
            out.push(self.normalize_axis(a)?);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Normalizes one possibly negative axis.
    pub fn normalize_axis(&self, axis: isize) -> Result<usize, ShapeError> {
        normalize_axis(axis, self.rank()).ok_or(ShapeError::AxisOutOfRange { axis, rank: self.rank() })
    }

    /// The shape after reducing `axes` (normalized), keeping them as size 1 or dropping them.
    pub fn reduced(&self, axes: &[usize], keep_dims: bool) -> Shape {
        let mut out = SmallVec::new();
        for (i, d) in self.0.iter().enumerate() {
            if axes.contains(&i) {
                if keep_dims {
                    out.push(Dim::Fixed(1));
                }
            } else {
                out.push(*d);
            }
        }
        Shape(out)
    }

    /// A copy with dimension `axis` replaced.
    pub fn with_dim(&self, axis: usize, d: Dim) -> Shape {
        let mut s = self.clone();
        s.0[axis] = d;
        s
    }

    /// Mutable access to the dimensions, for shape rules that build on an input shape.
    pub fn dims_mut(&mut self) -> &mut SmallVec<[Dim; 4]> {
        &mut self.0
    }
}

/// Normalizes an axis in `-rank..rank` to `0..rank`.
pub fn normalize_axis(axis: isize, rank: usize) -> Option<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

/// Row-major strides of concrete dimensions.
pub fn strides(dims: &[usize]) -> Dims {
    let mut s: Dims = SmallVec::from_elem(0, dims.len());
    let mut acc = 1;
    for i in (0..dims.len()).rev() {
        s[i] = acc;
        acc *= dims[i];
    }
    s
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape(d.iter().map(|&n| Dim::Fixed(n)).collect())
    }
}
impl<const N: usize> From<[Dim; N]> for Shape {
    fn from(d: [Dim; N]) -> Self {
        Shape(d.iter().copied().collect())
    }
}
impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(d.iter().map(|&n| Dim::Fixed(n)).collect())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape::from(&d[..])
    }
}
impl From<&[Dim]> for Shape {
    fn from(d: &[Dim]) -> Self {
        Shape(d.iter().copied().collect())
    }
}
impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        let a = Shape::from([4, 1, 3]);
        let b = Shape::from([5, 1]);
        assert_eq!(a.broadcast_with(&b).unwrap(), Shape::from([4, 5, 3]));
        assert!(Shape::from([2, 3]).broadcast_with(&Shape::from([4, 3])).is_err());
        let x = Shape::batched(&[3]);
        assert_eq!(x.broadcast_with(&Shape::from([3])).unwrap(), x);
        assert_eq!(x.broadcast_with(&Shape::from([1, 1])).unwrap(), x);
        assert!(x.broadcast_with(&Shape::from([7, 3])).is_err());
    }

    #[test]
    fn summed_axes_undo_broadcast() {
        let big = Shape::from([4, 5, 3]);
        assert_eq!(&big.axes_summed_to(&Shape::from([5, 1])).unwrap()[..], &[0, 2]);
        assert_eq!(&big.axes_summed_to(&Shape::from([4, 5, 3])).unwrap()[..], &[] as &[usize]);
        assert!(big.axes_summed_to(&Shape::from([2, 3])).is_err());
    }

    #[test]
    fn axes_normalize() {
        let s = Shape::from([2, 3, 4]);
        assert_eq!(&s.normalize_axes(&[-1, 0, 2]).unwrap()[..], &[0, 2]);
        assert!(s.normalize_axis(3).is_err());
        assert_eq!(s.reduced(&[1], true), Shape::from([2, 1, 4]));
        assert_eq!(s.reduced(&[1], false), Shape::from([2, 4]));
        assert_eq!(&strides(&[2, 3, 4])[..], &[12, 4, 1]);
    }
}
