//! Metrics shared by the examples: classification scores computed from predicted probabilities
//! (accuracy, negative log-likelihood, entropy, expected calibration error and the reliability
//! diagram behind it) and the least-squares slope of a log-log plot.
//!
//! Probabilities are row-major: `classes` values per example, each row summing to one.

/// Probabilities below this count as this when scoring a label. An `f32` softmax underflows to
/// exactly 0 for logit gaps above about 104, and one such example would make the mean NLL
/// infinite; the floor caps its cost at `-ln(1e-12)` ≈ 27.6 nats.
pub const PROB_FLOOR: f64 = 1e-12;

/// Index of the largest value (the first one on ties).
pub fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best
}

fn rows<'a>(probs: &'a [f64], classes: usize, labels: &[usize]) -> std::slice::ChunksExact<'a, f64> {
    assert!(classes > 0, "metrics: classes must be at least 1");
    assert_eq!(
        probs.len(),
        classes * labels.len(),
        "metrics: {} probabilities are not {} examples × {classes} classes",
        probs.len(),
        labels.len()
    );
    probs.chunks_exact(classes)
}

/// Fraction of examples whose most probable class is the label.
///
/// # Panics
/// If `probs` does not hold `classes` values per label.
pub fn accuracy(probs: &[f64], classes: usize, labels: &[usize]) -> f64 {
    let hits = rows(probs, classes, labels).zip(labels).filter(|(p, &y)| argmax(p) == y).count();
    hits as f64 / labels.len() as f64
}

/// Mean negative log-probability (nats) of the labels, with probabilities floored at
/// [`PROB_FLOOR`].
///
/// # Panics
/// If `probs` does not hold `classes` values per label.
pub fn nll(probs: &[f64], classes: usize, labels: &[usize]) -> f64 {
    let total: f64 = rows(probs, classes, labels).zip(labels).map(|(p, &y)| -p[y].max(PROB_FLOOR).ln()).sum();
    total / labels.len() as f64
}

/// Entropy (nats) of one distribution; zero probabilities contribute nothing (`0 ln 0 = 0`).
pub fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&q| q > 0.0).map(|&q| q * q.ln()).sum::<f64>()
}

/// Mean entropy (nats) of the rows of `probs`.
///
/// # Panics
/// If `probs` is not a whole number of rows of `classes` values.
pub fn mean_entropy(probs: &[f64], classes: usize) -> f64 {
    assert!(
        classes > 0 && probs.len().is_multiple_of(classes),
        "metrics: {} values are not rows of {classes}",
        probs.len()
    );
    let n = probs.len() / classes;
    probs.chunks_exact(classes).map(entropy).sum::<f64>() / n as f64
}

/// One confidence bin of a reliability diagram.
#[derive(Clone, Debug, PartialEq)]
pub struct ReliabilityBin {
    /// Lower edge (excluded).
    pub lower: f64,
    /// Upper edge (included).
    pub upper: f64,
    /// Examples whose confidence falls in the bin.
    pub count: usize,
    /// Their mean confidence (the top probability); 0 for an empty bin.
    pub confidence: f64,
    /// Their accuracy; 0 for an empty bin.
    pub accuracy: f64,
}

/// The reliability diagram of Guo et al. (2017), "On Calibration of Modern Neural Networks",
/// §2: examples grouped by confidence (their top probability) into `bins` equal-width bins
/// `(i/bins, (i+1)/bins]`, with each bin's mean confidence and accuracy.
///
/// # Panics
/// If `bins` is 0 or `probs` does not hold `classes` values per label.
pub fn reliability(probs: &[f64], classes: usize, labels: &[usize], bins: usize) -> Vec<ReliabilityBin> {
    assert!(bins > 0, "metrics: bins must be at least 1");
    let mut out: Vec<ReliabilityBin> = (0..bins)
        .map(|i| ReliabilityBin {
            lower: i as f64 / bins as f64,
            upper: (i + 1) as f64 / bins as f64,
            count: 0,
            confidence: 0.0,
            accuracy: 0.0,
        })
        .collect();
    for (p, &y) in rows(probs, classes, labels).zip(labels) {
        let k = argmax(p);
        let conf = p[k];
        // Right-closed bins: a confidence of exactly 1 belongs to the last bin.
        let b = ((conf * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        out[b].count += 1;
        out[b].confidence += conf;
        out[b].accuracy += f64::from(u8::from(k == y));
    }
    for b in &mut out {
        if b.count > 0 {
            b.confidence /= b.count as f64;
            b.accuracy /= b.count as f64;
        }
    }
    out
}

/// Expected calibration error (Guo et al. 2017, eq. 3; Naeini et al. 2015): the mean over
/// examples of |accuracy − confidence| of their bin, `Σ_b (n_b / n) |acc_b − conf_b|`, over
/// `bins` equal-width confidence bins (15 in Guo et al.).
///
/// # Panics
/// If `bins` is 0 or `probs` does not hold `classes` values per label.
pub fn ece(probs: &[f64], classes: usize, labels: &[usize], bins: usize) -> f64 {
    let n = labels.len() as f64;
    reliability(probs, classes, labels, bins)
        .iter()
        .map(|b| b.count as f64 / n * (b.accuracy - b.confidence).abs())
        .sum()
}

/// The least-squares slope of `ln y` against `ln x`: the exponent `a` of a power law `y ∝ xᵃ`.
///
/// # Panics
/// If the lengths differ, there are fewer than two points, or all `x` are equal.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "loglog_slope: {} x values but {} y values", x.len(), y.len());
    assert!(x.len() >= 2, "loglog_slope: need at least two points");
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = x.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx).powi(2)).sum();
    assert!(sxx > 0.0, "loglog_slope: all x values are equal");
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    // Rows: argmax 0 (label 0, hit), argmax 2 (label 1, miss), tie 0.5/0.5 → index 0 (label 1, miss).
    const P: [f64; 9] = [0.7, 0.2, 0.1, 0.1, 0.3, 0.6, 0.5, 0.5, 0.0];

    #[test]
    fn accuracy_counts_argmax_hits_and_breaks_ties_low() {
        assert_eq!(argmax(&[0.5, 0.5, 0.0]), 0);
        close(accuracy(&P, 3, &[0, 1, 1]), 1.0 / 3.0);
        close(accuracy(&P, 3, &[0, 2, 0]), 1.0);
    }

    #[test]
    fn nll_is_the_mean_negative_log_probability_of_the_labels() {
        // −(ln 0.7 + ln 0.6 + ln 0.5) / 3 = (0.356674944 + 0.510825624 + 0.693147181) / 3
        close(nll(&P, 3, &[0, 2, 1]), 1.560647748264668 / 3.0);
        // A zero probability for the label costs −ln(1e-12) = 27.631021115928547.
        close(nll(&P, 3, &[2, 2, 2]), (-(0.1f64.ln()) - 0.6f64.ln() + 27.631021115928547) / 3.0);
    }

    #[test]
    fn entropy_matches_hand_values() {
        close(entropy(&[0.5, 0.5]), std::f64::consts::LN_2);
        close(entropy(&[0.25; 4]), 4f64.ln());
        close(entropy(&[1.0, 0.0]), 0.0);
        // 0.7·0.356674944 + 0.2·1.609437912 + 0.1·2.302585093
        close(entropy(&[0.7, 0.2, 0.1]), 0.8018185525433373);
        close(mean_entropy(&[0.5, 0.5, 1.0, 0.0], 2), std::f64::consts::LN_2 / 2.0);
    }

    #[test]
    fn ece_weights_each_bins_gap_by_its_share_of_examples() {
        // Confidences 0.85 (hit), 0.85 (miss), 0.58 (hit), 0.52 (hit), 10 bins:
        // bin (0.8, 0.9]: accuracy 0.5, confidence 0.85, gap 0.35, weight 2/4;
        // bin (0.5, 0.6]: accuracy 1.0, confidence 0.55, gap 0.45, weight 2/4.
        // ECE = 0.5·0.35 + 0.5·0.45 = 0.4.
        let p = [0.85, 0.15, 0.15, 0.85, 0.42, 0.58, 0.52, 0.48];
        let y = [0, 0, 1, 0];
        close(ece(&p, 2, &y, 10), 0.4);
        let bins = reliability(&p, 2, &y, 10);
        assert_eq!(bins.iter().map(|b| b.count).collect::<Vec<_>>(), [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]);
        close(bins[5].confidence, 0.55);
        close(bins[5].accuracy, 1.0);
        close(bins[8].confidence, 0.85);
        close(bins[8].accuracy, 0.5);
        close(bins[8].lower, 0.8);
        close(bins[8].upper, 0.9);
        // Calibrated: confidence 0.75 and three hits in four.
        close(ece(&[0.75, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25], 2, &[0, 0, 0, 1], 15), 0.0);
        // A certain hit lands in the last bin and costs nothing.
        close(ece(&[1.0, 0.0], 2, &[0], 15), 0.0);
        assert_eq!(reliability(&[1.0, 0.0], 2, &[0], 15)[14].count, 1);
    }

    #[test]
    fn loglog_slope_recovers_power_laws() {
        let x = [1.0, 2.0, 4.0, 8.0, 16.0];
        close(loglog_slope(&x, &x.map(|v| 3.0 / v)), -1.0);
        close(loglog_slope(&x, &x.map(|v| 0.5 * v.sqrt())), 0.5);
        // ln x = 0, 1, 2 and ln y = 0, 1, 4: Σ(dx·dy) = (−1)(−5/3) + 0 + (1)(7/3) = 4, Σdx² = 2.
        let e = std::f64::consts::E;
        close(loglog_slope(&[1.0, e, e * e], &[1.0, e, e.powi(4)]), 2.0);
    }
}
