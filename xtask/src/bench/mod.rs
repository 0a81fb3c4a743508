//! Benchmarks. Timings are medians over repeated runs after a warm-up; ratios are always taken
//! against figures measured in the same process, since machines are often shared and their
//! speed drifts.

mod autodiff_group;
mod fastmath_group;
mod layers_group;
mod rng_group;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Runs the named groups (all of them when none is named). Words after a group that are not
/// group names select parts of it: `bench layers conv` runs only the `conv` workload.
pub fn run(args: &[String]) -> ExitCode {
    let all = ["autodiff", "layers", "rng", "fastmath"];
    let mut chosen: Vec<(&str, Vec<&str>)> = Vec::new();
    for a in args {
        if all.contains(&a.as_str()) {
            chosen.push((a, Vec::new()));
        } else if let Some((_, parts)) = chosen.last_mut() {
            parts.push(a);
        } else {
            eprintln!("unknown bench group `{a}`; groups: {all:?}");
            return ExitCode::FAILURE;
        }
    }
    if chosen.is_empty() {
        chosen = all.iter().map(|&g| (g, Vec::new())).collect();
    }
    for (g, parts) in chosen {
        if !parts.is_empty() && g != "layers" {
            eprintln!("bench group `{g}` has no parts to select; got {parts:?}");
            return ExitCode::FAILURE;
        }
        let report = match g {
            "autodiff" => autodiff_group::run(),
            "layers" => match layers_group::run(&parts) {
                Some(r) => r,
                None => return ExitCode::FAILURE,
            },
            "rng" => rng_group::run(),
            "fastmath" => fastmath_group::run(),
            _ => unreachable!("group names are checked above"),
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

/// Median wall times in microseconds of several functions measured in alternation: `rounds`
/// rounds, each timing `per_round` consecutive runs of every function in turn, after `warmup`
/// runs of each. The machine's speed drifts by 10% and more over seconds (other tenants, clock
/// states), so figures that are compared as a ratio must be taken in the same minutes: timed one
/// after the other, two fast phases and a slow one can pass for a 10% gain. Runs of one function
/// stay consecutive within a round, after an untimed run, and each
/// round starts with the next function, so that none always runs after the same one (a product
/// split across two threads runs slower just after a single-threaded one has pulled its data
/// into one core's cache).
///
/// Functions that split kernels across threads should share one kernel team: a team's helpers
/// spin for a while after each run, on the cores that another team's runs would need.
pub fn interleaved_medians_us(warmup: usize, rounds: usize, per_round: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    for f in fs.iter_mut() {
        for _ in 0..warmup {
            f();
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds * per_round); fs.len()];
    for round in 0..rounds {
        let count = fs.len();
        for i in (0..count).map(|i| (i + round) % count) {
            // One untimed run brings this function's data back into cache.
            fs[i]();
            for _ in 0..per_round {
                let s = Instant::now();
                fs[i]();
                times[i].push(s.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(|a, b| a.total_cmp(b));
            t[t.len() / 2]
        })
        .collect()
}
