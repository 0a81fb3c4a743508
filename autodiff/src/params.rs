//! Parameters: a store keyed by hierarchical paths (`"bnn/dense1/kernel_loc"`), each
//! initialised from a stream keyed by the store's seed and its own path, so adding a layer never
//! changes another layer's initial values.

use std::collections::HashMap;
use std::fmt;

use crate::rng::CounterRng;
use crate::scalar::Scalar;

/// Index of a parameter in its store.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ParamId(pub(crate) u32);

impl ParamId {
    /// The index in the store.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// How a parameter's initial values are drawn. Fans follow Keras: for a kernel
/// `[k..., in, out]`, `fan_in = in · Πk` and `fan_out = out · Πk`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// One value everywhere.
    Constant(f64),
    /// `N(mean, std²)`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// `N(mean, std²)` redrawn until within two standard deviations (Keras' TruncatedNormal).
    TruncatedNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation before truncation.
        std: f64,
    },
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Uniform on `±sqrt(6 / (fan_in + fan_out))`.
    GlorotUniform,
    /// Truncated normal with std `sqrt(2 / (fan_in + fan_out)) / 0.87962566`.
    GlorotNormal,
    /// Uniform on `±sqrt(6 / fan_in)`.
    HeUniform,
    /// Truncated normal with std `sqrt(2 / fan_in) / 0.87962566`.
    HeNormal,
}

/// Keras' fans of a weight shape.
pub fn fans(shape: &[usize]) -> (f64, f64) {
    match shape.len() {
        0 => (1.0, 1.0),
        1 => (shape[0] as f64, shape[0] as f64),
        r => {
            let rf: usize = shape[..r - 2].iter().product();
            ((shape[r - 2] * rf) as f64, (shape[r - 1] * rf) as f64)
        }
    }
}

// Std of a standard normal truncated to ±2: Keras divides by it so the truncated draw has the
// intended variance.
const TRUNC_STD: f64 = 0.879_625_661_034_239_8;

fn normal(rng: &mut CounterRng) -> f64 {
    let r = (-2.0 * rng.uniform_open0().ln()).sqrt();
    r * (std::f64::consts::TAU * rng.uniform()).cos()
}

fn truncated(rng: &mut CounterRng) -> f64 {
    loop {
        let z = normal(rng);
        if z.abs() <= 2.0 {
            return z;
        }
    }
}

impl Init {
    /// Draws values for a parameter of `shape` from `rng`.
    pub fn sample(&self, shape: &[usize], rng: &mut CounterRng) -> Vec<f64> {
        let n: usize = shape.iter().product();
        let (fi, fo) = fans(shape);
        (0..n)
            .map(|_| match *self {
                Init::Zeros => 0.0,
                Init::Ones => 1.0,
                Init::Constant(c) => c,
                Init::Normal { mean, std } => mean + std * normal(rng),
                Init::TruncatedNormal { mean, std } => mean + std * truncated(rng),
                Init::Uniform { low, high } => low + (high - low) * rng.uniform(),
                Init::GlorotUniform => {
                    let l = (6.0 / (fi + fo)).sqrt();
                    -l + 2.0 * l * rng.uniform()
                }
                Init::GlorotNormal => (2.0 / (fi + fo)).sqrt() / TRUNC_STD * truncated(rng),
                Init::HeUniform => {
                    let l = (6.0 / fi).sqrt();
                    -l + 2.0 * l * rng.uniform()
                }
                Init::HeNormal => (2.0 / fi).sqrt() / TRUNC_STD * truncated(rng),
            })
            .collect()
    }
}

/// One parameter: its path, shape, values and whether optimizers update it.
#[derive(Clone)]
pub struct Param<F> {
    path: String,
    shape: Vec<usize>,
    data: Vec<F>,
    trainable: bool,
}

impl<F: Scalar> Param<F> {
    /// The hierarchical path.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// The values, row-major.
    pub fn data(&self) -> &[F] {
        &self.data
    }
    /// Whether optimizers update it.
    pub fn trainable(&self) -> bool {
        self.trainable
    }
}

impl<F> fmt::Debug for Param<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}{}", self.path, self.shape, if self.trainable { "" } else { " (frozen)" })
    }
}

/// All parameters of a model, keyed by path. Optimizers update it between runs; sessions read
/// it during runs.
#[derive(Clone, Debug)]
pub struct ParamStore<F> {
    seed: u64,
    params: Vec<Param<F>>,
    index: HashMap<String, ParamId>,
}

impl<F: Scalar> ParamStore<F> {
    /// An empty store whose initializers are keyed by `seed`.
    pub fn new(seed: u64) -> Self {
        ParamStore { seed, params: Vec::new(), index: HashMap::new() }
    }
    /// The seed initializers are keyed by.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }
    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
    /// Total number of scalar values.
    pub fn num_values(&self) -> usize {
        self.params.iter().map(|p| p.data.len()).sum()
    }

    /// Creates the parameter at `path`, drawn from `init` with a stream keyed by the store seed
    /// and the path. If it exists with the same shape, returns it unchanged (so a model can be
    /// rebuilt against a trained store); a different shape is an error naming both shapes.
    pub fn create(&mut self, path: &str, shape: &[usize], init: Init) -> Result<ParamId, String> {
        if let Some(&id) = self.index.get(path) {
            let have = &self.params[id.index()].shape;
            if have != shape {
                return Err(format!("param \"{path}\" exists with shape {have:?}, requested {shape:?}"));
            }
            return Ok(id);
        }
        let mut rng = CounterRng::from_seed_and_path(self.seed, path);
        let data = init.sample(shape, &mut rng).into_iter().map(F::of).collect();
        Ok(self.insert(path, shape, data, true))
    }

    /// Inserts (or replaces) a parameter with given values.
    ///
    /// # Panics
    /// If `data` does not have one value per element of `shape`, naming the caller's line.
    #[track_caller]
    pub fn insert(&mut self, path: &str, shape: &[usize], data: Vec<F>, trainable: bool) -> ParamId {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "ParamStore::insert(\"{path}\"): {} values for shape {shape:?}",
            data.len()
        );
        let p = Param { path: path.to_string(), shape: shape.to_vec(), data, trainable };
        match self.index.get(path) {
            Some(&id) => {
                self.params[id.index()] = p;
                id
            }
            None => {
                let id = ParamId(self.params.len() as u32);
                self.params.push(p);
                self.index.insert(path.to_string(), id);
                id
            }
        }
    }

    /// The parameter with this id.
    pub fn param(&self, id: ParamId) -> &Param<F> {
        &self.params[id.index()]
    }
    /// The id of a path.
    pub fn id(&self, path: &str) -> Option<ParamId> {
        self.index.get(path).copied()
    }
    /// The values of a parameter.
    pub fn data(&self, id: ParamId) -> &[F] {
        &self.params[id.index()].data
    }
    /// Mutable values of a parameter.
    pub fn data_mut(&mut self, id: ParamId) -> &mut [F] {
        &mut self.params[id.index()].data
    }
    /// The values at a path.
    pub fn get(&self, path: &str) -> Option<&[F]> {
        self.id(path).map(|id| self.data(id))
    }
    /// Marks a parameter (non-)trainable.
    pub fn set_trainable(&mut self, id: ParamId, trainable: bool) {
        self.params[id.index()].trainable = trainable;
    }
    /// All parameters in creation order, with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Param<F>)> {
        self.params.iter().enumerate().map(|(i, p)| (ParamId(i as u32), p))
    }
    /// Ids of all parameters whose path starts with `prefix`.
    pub fn ids_under(&self, prefix: &str) -> Vec<ParamId> {
        self.iter().filter(|(_, p)| p.path.starts_with(prefix)).map(|(id, _)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_keyed_by_path_not_order() {
        let mut a = ParamStore::<f64>::new(7);
        let mut b = ParamStore::<f64>::new(7);
        let ia = a.create("net/w", &[3, 4], Init::Normal { mean: 0.0, std: 1.0 }).unwrap();
        b.create("net/other", &[5], Init::Normal { mean: 0.0, std: 1.0 }).unwrap();
        let ib = b.create("net/w", &[3, 4], Init::Normal { mean: 0.0, std: 1.0 }).unwrap();
        assert_eq!(a.data(ia), b.data(ib));
        assert!(a.create("net/w", &[4, 3], Init::Zeros).unwrap_err().contains("[3, 4]"));
    }

    #[test]
    fn glorot_uniform_bounds_and_variance() {
        let mut rng = CounterRng::new(3);
        let v = Init::GlorotUniform.sample(&[200, 300], &mut rng);
        let l = (6.0f64 / 500.0).sqrt();
        assert!(v.iter().all(|x| x.abs() <= l));
        let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        // Var of U(-l, l) = l²/3 = 2/(fan_in+fan_out) = 0.004; se ≈ 0.004*sqrt(0.8/60000)
        assert!((var - 0.004).abs() < 4.0 * 0.004 * (0.8f64 / 60000.0).sqrt(), "{var}");
        let t = Init::TruncatedNormal { mean: 1.0, std: 0.5 }.sample(&[1000], &mut rng);
        assert!(t.iter().all(|x| (x - 1.0).abs() <= 1.0));
        assert_eq!(fans(&[3, 3, 8, 16]), (72.0, 144.0));
    }

    const N: f64 = 60000.0;

    /// erf by its Taylor series 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)); for |x| ≤ 2 the largest
    /// term is below 4, so 60 terms give f64 accuracy.
    fn erf(x: f64) -> f64 {
        let (mut term, mut sum) = (x, 0.0);
        for n in 0..60 {
            sum += term / (2 * n + 1) as f64;
            term *= -x * x / (n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    /// For z ~ N(0, 1) conditioned on |z| ≤ 2: (E z², Var z² / (E z²)²). Integrating by parts,
    /// ∫ z²φ = Z − 2aφ(a) and ∫ z⁴φ = 3∫ z²φ − 2a³φ(a) over [−a, a], Z = Φ(a) − Φ(−a) = erf(a/√2),
    /// so E z² = 1 − 2aφ(a)/Z and E z⁴ = 3 − 2a(a² + 3)φ(a)/Z, with a = 2.
    fn truncated_moments() -> (f64, f64) {
        let a = 2.0f64;
        let phi = (-a * a / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let z = erf(a / std::f64::consts::SQRT_2);
        let m2 = 1.0 - 2.0 * a * phi / z;
        let m4 = 3.0 - 2.0 * a * (a * a + 3.0) * phi / z;
        (m2, (m4 - m2 * m2) / (m2 * m2))
    }

    /// Checks the mean of `v` against `mu` and its mean squared deviation from `mu` against
    /// `var`, each within 4 standard errors: sqrt(var / n) for the mean and
    /// var·sqrt(kurt_ratio / n) for the variance, where kurt_ratio = Var((x − μ)²) / var²
    /// (2 for a normal, 0.8 for a uniform: E x⁴ = l⁴/5 against (l²/3)²).
    #[track_caller]
    fn check_moments(what: &str, v: &[f64], mu: f64, var: f64, kurt_ratio: f64) {
        let n = v.len() as f64;
        assert_eq!(n, N, "{what}");
        let m = v.iter().sum::<f64>() / n;
        let s2 = v.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / n;
        let (se_m, se_v) = ((var / n).sqrt(), var * (kurt_ratio / n).sqrt());
        assert!((m - mu).abs() <= 4.0 * se_m, "{what} mean {m}, want {mu} ± {}", 4.0 * se_m);
        assert!((s2 - var).abs() <= 4.0 * se_v, "{what} variance {s2}, want {var} ± {}", 4.0 * se_v);
    }

    #[test]
    fn trunc_std_is_the_standard_deviation_of_a_normal_truncated_at_two() {
        let (m2, ratio) = truncated_moments();
        // erf(√2) = Φ(2) − Φ(−2) = 0.9544997361036416 (python math.erf).
        assert!((erf(std::f64::consts::SQRT_2) - 0.954_499_736_103_641_6).abs() < 1e-15);
        assert!((m2.sqrt() - TRUNC_STD).abs() < 1e-15, "{} vs {TRUNC_STD}", m2.sqrt());
        assert!((ratio - 1.365_536_717_129_649).abs() < 1e-12, "{ratio}");
    }

    #[test]
    fn normal_and_truncated_normal_init_moments() {
        let mut rng = CounterRng::new(11);
        let v = Init::Normal { mean: 1.5, std: 0.3 }.sample(&[200, 300], &mut rng);
        check_moments("Normal(1.5, 0.3)", &v, 1.5, 0.09, 2.0);
        // N(1, 0.5²) cut at ±2σ: std 0.5·TRUNC_STD; draws reach the cut (density there ≈ 0.11
        // per σ, so ~70 of 60000 within 0.01σ of it) and never pass it.
        let (m2, ratio) = truncated_moments();
        let t = Init::TruncatedNormal { mean: 1.0, std: 0.5 }.sample(&[200, 300], &mut rng);
        check_moments("TruncatedNormal(1, 0.5)", &t, 1.0, 0.25 * m2, ratio);
        let far = t.iter().map(|x| (x - 1.0).abs()).fold(0.0, f64::max);
        assert!(far <= 1.0 && far > 0.995, "{far}");
    }

    #[test]
    fn glorot_and_he_init_moments() {
        let (_, ratio) = truncated_moments();
        let mut rng = CounterRng::new(13);
        // [200, 300]: Keras' glorot_normal, a truncated normal of std sqrt(2/500)/TRUNC_STD,
        // so the variance is 2/(fan_in + fan_out) = 0.004 and |w| ≤ 2·sqrt(0.004)/TRUNC_STD.
        let g = Init::GlorotNormal.sample(&[200, 300], &mut rng);
        check_moments("GlorotNormal", &g, 0.0, 0.004, ratio);
        assert!(g.iter().all(|x| x.abs() <= 2.0 * 0.004f64.sqrt() / TRUNC_STD));
        // A [5, 5, 40, 60] kernel: fan_in = 1000, fan_out = 1500. He uses fan_in only.
        assert_eq!(fans(&[5, 5, 40, 60]), (1000.0, 1500.0));
        let h = Init::HeNormal.sample(&[5, 5, 40, 60], &mut rng);
        check_moments("HeNormal", &h, 0.0, 0.002, ratio);
        assert!(h.iter().all(|x| x.abs() <= 2.0 * 0.002f64.sqrt() / TRUNC_STD));
        // U(±sqrt(6/1000)): variance l²/3 = 2/fan_in. The extremes come within 1e-3·l of ±l
        // except with probability (1 − 5e-4)^60000 ≈ e^−30 each.
        let l = 0.006f64.sqrt();
        let u = Init::HeUniform.sample(&[5, 5, 40, 60], &mut rng);
        check_moments("HeUniform", &u, 0.0, 0.002, 0.8);
        let (lo, hi) = u.iter().fold((0.0f64, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(-l <= lo && lo < -0.999 * l && 0.999 * l < hi && hi <= l, "[{lo}, {hi}] vs ±{l}");
    }
}
