//! In-memory data sets and mini-batching.

use autodiff::rng::{fold_in, CounterRng};
use autodiff::Scalar;

/// Examples `x` (each of shape `x_dims`) and labels `y` (each of shape `y_dims`), row-major.
#[derive(Clone, Debug)]
pub struct Dataset<F> {
    /// Inputs, `len × Π x_dims` values.
    pub x: Vec<F>,
    /// Labels, `len × Π y_dims` values.
    pub y: Vec<F>,
    /// Dimensions of one input.
    pub x_dims: Vec<usize>,
    /// Dimensions of one label.
    pub y_dims: Vec<usize>,
}

impl<F: Scalar> Dataset<F> {
    /// A data set; errors if the value counts do not match a whole number of examples.
    pub fn new(x: Vec<F>, x_dims: &[usize], y: Vec<F>, y_dims: &[usize]) -> Result<Self, String> {
        let (xw, yw) = (x_dims.iter().product::<usize>(), y_dims.iter().product::<usize>());
        if xw == 0 || !x.len().is_multiple_of(xw) {
            return Err(format!("{} input values are not a whole number of examples of shape {x_dims:?}", x.len()));
        }
        let n = x.len() / xw;
        if y.len() != n * yw {
            return Err(format!("{n} examples need {} label values of shape {y_dims:?}, got {}", n * yw, y.len()));
        }
        Ok(Dataset { x, y, x_dims: x_dims.to_vec(), y_dims: y_dims.to_vec() })
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.x.len().checked_div(self.x_width()).unwrap_or(0)
    }
    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per input.
    pub fn x_width(&self) -> usize {
        self.x_dims.iter().product()
    }
    /// Values per label.
    pub fn y_width(&self) -> usize {
        self.y_dims.iter().product()
    }
    /// The examples at `idx`, in that order, as a new data set.
    pub fn subset(&self, idx: &[usize]) -> Self {
        let (xw, yw) = (self.x_width(), self.y_width());
        let mut x = Vec::with_capacity(idx.len() * xw);
        let mut y = Vec::with_capacity(idx.len() * yw);
        for &i in idx {
            x.extend_from_slice(&self.x[i * xw..(i + 1) * xw]);
            y.extend_from_slice(&self.y[i * yw..(i + 1) * yw]);
        }
        Dataset { x, y, x_dims: self.x_dims.clone(), y_dims: self.y_dims.clone() }
    }
    /// Copies the examples at `idx` into `xb` and `yb` (cleared first; their capacity is reused).
    pub fn gather_into(&self, idx: &[usize], xb: &mut Vec<F>, yb: &mut Vec<F>) {
        let (xw, yw) = (self.x_width(), self.y_width());
        xb.clear();
        yb.clear();
        for &i in idx {
            xb.extend_from_slice(&self.x[i * xw..(i + 1) * xw]);
            yb.extend_from_slice(&self.y[i * yw..(i + 1) * yw]);
        }
    }
    /// A seeded split into `(train, test)` with `test_fraction` (in `[0, 1]`) of the examples
    /// in the test set.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Self, Self), String> {
        if !(0.0..=1.0).contains(&test_fraction) {
            return Err(format!("the test fraction must be in [0, 1], got {test_fraction}"));
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        shuffle(&mut idx, seed, 0);
        let n_test = ((self.len() as f64) * test_fraction).round() as usize;
        Ok((self.subset(&idx[n_test..]), self.subset(&idx[..n_test])))
    }
}

/// Fisher–Yates shuffle keyed by `(seed, epoch)`: reproducible and independent of `rand`'s
/// version.
pub fn shuffle(idx: &mut [usize], seed: u64, epoch: u64) {
    let mut rng = CounterRng::new(fold_in(fold_in(seed, 0x5u64), epoch));
    for i in (1..idx.len()).rev() {
        let j = (rng.uniform() * (i + 1) as f64) as usize;
        idx.swap(i, j.min(i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<usize> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, 1, 2);
        shuffle(&mut b, 1, 2);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        let mut c: Vec<usize> = (0..100).collect();
        shuffle(&mut c, 1, 3);
        assert_ne!(a, c);
    }

    #[test]
    fn dataset_checks_sizes_and_splits() {
        assert!(Dataset::<f64>::new(vec![0.0; 7], &[2], vec![0.0; 3], &[1]).is_err());
        let d =
            Dataset::<f64>::new((0..20).map(|i| i as f64).collect(), &[2], (0..10).map(|i| i as f64).collect(), &[1])
                .unwrap();
        let (tr, te) = d.split(0.3, 9).unwrap();
        assert_eq!((tr.len(), te.len()), (7, 3));
        for k in 0..te.len() {
            let label = te.y[k] as usize;
            assert_eq!(te.x[2 * k], (2 * label) as f64, "inputs and labels stay paired");
        }
    }
}
