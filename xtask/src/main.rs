//! Project chores, run as `cargo xtask <task>`:
//!
//! * `cargo xtask ci`: what CI runs: formatting, clippy with warnings denied, the tests, the docs
//!   with warnings denied, and every example's `--quick` run.
//! * `cargo xtask bench [GROUP [PART...]]...`: the benchmarks (groups: `autodiff`, `layers` (with the conv workload), `rng`, `fastmath`), each
//!   printing a table and writing `target/bench/<group>.json`; `bench layers conv` runs one
//!   workload of the `layers` group.

mod bench;
mod json;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask ci | cargo xtask bench [autodiff|layers [WORKLOAD...]|rng|fastmath]...");
            ExitCode::FAILURE
        }
    }
}

/// The examples CI smoke-tests with `--quick`.
pub const EXAMPLES: &[&str] = &["regression", "digits", "flipout_variance", "made_density", "custom_layer"];

fn cargo(args: &[&str], env: &[(&str, &str)]) -> bool {
    eprintln!("\n==> cargo {}", args.join(" "));
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.status().map(|s| s.success()).unwrap_or(false)
}

/// A cargo invocation: its arguments and extra environment.
type Step<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);

fn ci() -> ExitCode {
    let mut steps: Vec<Step> = vec![
        (vec!["fmt", "--all", "--", "--check"], vec![]),
        (vec!["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"], vec![]),
        (vec!["test", "--workspace"], vec![]),
        (vec!["doc", "--workspace", "--no-deps"], vec![("RUSTDOCFLAGS", "-D warnings")]),
    ];
    for ex in EXAMPLES {
        steps.push((vec!["run", "--release", "-p", "examples", "--example", ex, "--", "--quick"], vec![]));
    }
    for (args, env) in &steps {
        if !cargo(args, env) {
            eprintln!("\nxtask ci: `cargo {}` failed", args.join(" "));
            return ExitCode::FAILURE;
        }
    }
    eprintln!("\nxtask ci: all steps passed");
    ExitCode::SUCCESS
}
