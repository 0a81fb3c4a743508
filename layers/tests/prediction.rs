//! Monte-Carlo prediction: the summary of K passes against hand-computed values, and the passes
//! against the stochastic forward pass they claim to be.

use layers::{DenseFlipout, Likelihood, McPrediction, Mode, Model, Pass, Sequential};

fn pass(mean: &[f64], scale: Option<&[f64]>) -> Pass<f64> {
    Pass { step: 0, mean: mean.to_vec(), scale: scale.map(|s| s.to_vec()) }
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12), "{a:?} vs {b:?}");
}

#[test]
fn regression_summaries_are_those_of_the_mixture_of_the_passes_normals() {
    // Means 1 and 3 with scale 1: the mixture's mean is 2, the spread of the means (the
    // epistemic part, over the K passes) is 1, and the total variance is 1 + 1.
    let p = McPrediction::from_passes(
        Likelihood::Normal { scale: 1.0 },
        &[pass(&[1.0, -2.0], Some(&[1.0, 1.0])), pass(&[3.0, -2.0], Some(&[1.0, 1.0]))],
        vec![1],
    );
    close(&p.mean, &[2.0, -2.0]);
    close(p.epistemic_stddev.as_ref().unwrap(), &[1.0, 0.0]);
    close(&p.stddev, &[2f64.sqrt(), 1.0]);
    assert!(p.entropy.is_none());
    // A learned scale: the aleatoric variance is the passes' mean variance, (1 + 9)/2.
    let p = McPrediction::from_passes(
        Likelihood::NormalLearnedScale { init_scale: 1.0 },
        &[pass(&[1.0], Some(&[1.0])), pass(&[3.0], Some(&[3.0]))],
        vec![1],
    );
    close(&p.stddev, &[6f64.sqrt()]);
}

#[test]
fn classification_summaries_are_the_mean_probabilities_their_spread_and_its_entropy() {
    // Passes (0.2, 0.8) and (0.6, 0.4): mean (0.4, 0.6), each probability's spread 0.2, entropy
    // −0.4 ln 0.4 − 0.6 ln 0.6 of the mean, not the mean of the passes' entropies (0.5867).
    let h = 0.673_011_667_009_256_5;
    let p = McPrediction::from_passes(
        Likelihood::Categorical,
        &[pass(&[0.2, 0.8, 1.0, 0.0], None), pass(&[0.6, 0.4, 1.0, 0.0], None)],
        vec![2],
    );
    close(&p.mean, &[0.4, 0.6, 1.0, 0.0]);
    close(&p.stddev, &[0.2, 0.2, 0.0, 0.0]);
    close(p.entropy.as_ref().unwrap(), &[h, 0.0]);
    assert!(p.epistemic_stddev.is_none());
    // Bernoulli: one probability per output element, the entropy of each.
    let p =
        McPrediction::from_passes(Likelihood::Bernoulli, &[pass(&[0.2, 1.0], None), pass(&[0.6, 1.0], None)], vec![2]);
    close(&p.mean, &[0.4, 1.0]);
    close(p.entropy.as_ref().unwrap(), &[h, 0.0]);
}

#[test]
fn predict_mc_summarises_the_models_own_stochastic_passes() {
    let net = Sequential::new().add(DenseFlipout::<f64>::new(8)).add(DenseFlipout::new(1));
    let mut model = Model::new(net, &[2], Likelihood::Normal { scale: 0.5 }, 3).unwrap();
    let x = [0.5, -1.0, 2.0, 0.25, -1.5, 1.0];
    // Keyed by the model's own seed, pass k is `predict`'s stochastic pass at step k.
    let passes = model.mc_passes(&x, 16, 3).unwrap();
    for p in &passes {
        assert_eq!(model.predict(&x, Mode::Sample, p.step).unwrap().0, p.mean);
    }
    assert!(passes[0].mean != passes[1].mean);
    let mc = model.predict_mc(&x, 16, 3).unwrap();
    for i in 0..3 {
        let means: Vec<f64> = passes.iter().map(|p| p.mean[i]).collect();
        let m = means.iter().sum::<f64>() / 16.0;
        let var = means.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 16.0;
        assert!((mc.mean[i] - m).abs() < 1e-12 && (mc.stddev[i] - (0.25 + var).sqrt()).abs() < 1e-12, "example {i}");
        assert!(var > 0.0);
    }
}
