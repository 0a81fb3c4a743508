//! Per-step timings of a session's runs, for finding where a model spends its time.
//!
//! Profiling is off by default because reading the clock around every step costs about as much
//! as a small elementwise node. Turn it on with [`Session::set_profiling`](crate::Session::set_profiling),
//! run a few steps, and print [`Session::profile`](crate::Session::profile):
//!
//! ```
//! use autodiff::prelude::*;
//!
//! let g = Graph::<f32>::new();
//! let x = g.input("x", [B, Dim::Fixed(64)]);
//! let y = g.scope("head", || reduce_sum(exp(x), &[1], false));
//! let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
//! s.set_profiling(true);
//! for _ in 0..3 {
//!     s.run(&ParamStore::new(0), &[("x", &[0.5; 128])]).unwrap();
//! }
//! let p = s.profile();
//! assert_eq!(p.runs(), 3);
//! assert!(p.entries().iter().any(|e| e.op == "exp" && e.calls == 3));
//! println!("{p}");
//! ```

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// The accumulated time of one plan step.
#[derive(Clone, Debug)]
pub struct ProfileEntry {
    /// The op (or random leaf) name.
    pub op: &'static str,
    /// The node's label, if it has one.
    pub label: Option<Arc<str>>,
    /// Where the node was built.
    pub origin: &'static Location<'static>,
    /// Total time over all profiled runs.
    pub total: Duration,
    /// Number of profiled runs that executed the step.
    pub calls: u64,
    /// Elements the step produced in the last run.
    pub numel: usize,
}

/// Timings of every step of a plan over the profiled runs, in plan order.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub(crate) entries: Vec<ProfileEntry>,
    pub(crate) runs: u64,
}

impl Profile {
    /// The steps in plan order.
    pub fn entries(&self) -> &[ProfileEntry] {
        &self.entries
    }
    /// Number of profiled runs.
    pub fn runs(&self) -> u64 {
        self.runs
    }
    /// Total time of all steps over all runs.
    pub fn total(&self) -> Duration {
        self.entries.iter().map(|e| e.total).sum()
    }
    /// Time per run summed by op name, largest first.
    pub fn by_op(&self) -> Vec<(&'static str, Duration)> {
        let mut ops: Vec<(&'static str, Duration)> = Vec::new();
        for e in &self.entries {
            match ops.iter_mut().find(|(n, _)| *n == e.op) {
                Some((_, t)) => *t += e.total,
                None => ops.push((e.op, e.total)),
            }
        }
        let runs = self.runs.max(1) as u32;
        for (_, t) in &mut ops {
            *t /= runs;
        }
        ops.sort_by_key(|o| std::cmp::Reverse(o.1));
        ops
    }
}

/// A table of the steps, most expensive first, with time per run and share of the total.
impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs = self.runs.max(1) as f64;
        let total = self.total().as_secs_f64().max(f64::MIN_POSITIVE);
        writeln!(f, "{} runs, {:.1} µs per run", self.runs, total * 1e6 / runs)?;
        writeln!(f, "{:>10} {:>6} {:>10}  {:<28} label (built at)", "µs/run", "share", "elements", "op")?;
        let mut order: Vec<&ProfileEntry> = self.entries.iter().filter(|e| e.calls > 0).collect();
        order.sort_by_key(|e| std::cmp::Reverse(e.total));
        for e in order {
            let t = e.total.as_secs_f64();
            writeln!(
                f,
                "{:>10.1} {:>5.1}% {:>10}  {:<28} {} ({}:{})",
                t * 1e6 / runs,
                100.0 * t / total,
                e.numel,
                e.op,
                e.label.as_deref().unwrap_or("-"),
                e.origin.file(),
                e.origin.line()
            )?;
        }
        Ok(())
    }
}
