//! Shared helpers for the examples: command-line flags, the embedded data sets, standardisation
//! and the machine-readable `RESULT` line.
#![deny(missing_docs)]

use std::fmt::Write;

pub mod metrics;
pub mod noisy_gate;

/// Flags every example takes.
#[derive(Clone, Debug)]
pub struct Args {
    /// A short run for smoke tests (CI).
    pub quick: bool,
    /// Seed of data splits, initialisation and noise.
    pub seed: u64,
}

impl Args {
    /// Parses `--quick` and `--seed N` from the command line; exits with usage on anything else.
    pub fn parse(name: &str) -> Args {
        let mut args = Args { quick: false, seed: 0 };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => args.quick = true,
                "--seed" => match it.next().and_then(|s| s.parse().ok()) {
                    Some(s) => args.seed = s,
                    None => usage(name),
                },
                _ => usage(name),
            }
        }
        args
    }
}

fn usage(name: &str) -> ! {
    eprintln!("usage: cargo run --release -p examples --example {name} -- [--quick] [--seed N]");
    std::process::exit(2)
}

/// Parses whitespace- or comma-separated numbers, one row per line.
pub fn parse_rows(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().expect("number"))
                .collect()
        })
        .collect()
}

/// The diabetes regression data: 442 patients, 10 raw features, and the disease progression.
pub fn diabetes() -> (Vec<Vec<f64>>, Vec<f64>) {
    let x = parse_rows(include_str!("../data/diabetes_data.csv"));
    let y = parse_rows(include_str!("../data/diabetes_target.csv")).into_iter().map(|r| r[0]).collect();
    (x, y)
}

/// The digits classification data: 1,797 images of 8×8 pixels (0..16) and their labels.
pub fn digits() -> (Vec<Vec<f64>>, Vec<f64>) {
    let rows = parse_rows(include_str!("../data/digits.csv"));
    let y = rows.iter().map(|r| r[64]).collect();
    let x = rows.into_iter().map(|mut r| {
        r.truncate(64);
        r
    });
    (x.collect(), y)
}

/// Per-column mean and standard deviation.
pub fn column_stats(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let d = rows[0].len();
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let std =
        (0..d).map(|j| (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt().max(1e-12)).collect();
    (mean, std)
}

/// The final machine-readable line: `RESULT key=value key=value ...`.
pub fn result_line(pairs: &[(&str, f64)]) -> String {
    let mut s = String::from("RESULT");
    for (k, v) in pairs {
        write!(s, " {k}={v:.6}").unwrap();
    }
    s
}
