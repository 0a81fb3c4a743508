//! Benchmarks. Timings are medians over repeated runs after a warm-up; ratios are always taken
//! against figures measured in the same process, because the machine is shared and noisy.

mod autodiff_group;
mod fastmath_group;
mod layers_group;
mod rng_group;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(groups: &[String]) -> ExitCode {
    let all = ["autodiff", "layers", "rng", "fastmath"];
    let chosen: Vec<&str> = if groups.is_empty() { all.to_vec() } else { groups.iter().map(String::as_str).collect() };
    for g in chosen {
        let report = match g {
            "autodiff" => autodiff_group::run(),
            "layers" => layers_group::run(),
            "rng" => rng_group::run(),
            "fastmath" => fastmath_group::run(),
            other => {
                eprintln!("unknown bench group `{other}`; groups: {all:?}");
                return ExitCode::FAILURE;
            }
        };
        let path = out_dir().join(format!("{g}.json"));
        std::fs::write(&path, report.render()).expect("write bench report");
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

fn out_dir() -> PathBuf {
    let root = std::env::var("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    let dir = root.parent().map(|p| p.join("target/bench")).unwrap_or_else(|| PathBuf::from("target/bench"));
    std::fs::create_dir_all(&dir).expect("create target/bench");
    dir
}

/// Median wall time of `f` in microseconds over `reps` runs, after `warmup` runs.
pub fn median_us(warmup: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}
