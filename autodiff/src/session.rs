//! Running a plan: feeds and parameters in, fetched values out, in reused buffers.
//!
//! Each run draws fresh noise (the step counter advances); `run_at_step(s)` replays run `s`
//! exactly, which is how gradient checks freeze the noise. Kernels run with denormals flushed to
//! zero, so a model whose gradients underflow does not slow down.

use std::ops::Index;
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;

use crate::error::{OpFailure, RunError};
use crate::op::ForwardCx;
use crate::params::ParamStore;
use crate::plan::{Plan, PlanInner, Step, StepKind};
use crate::profile::{Profile, ProfileEntry};
use crate::random::fill_blocks;
use crate::scalar::Scalar;
use crate::shape::Dims;
use crate::team::{lock, KernelTeam};

/// How a session runs.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Threads for kernels, the thread calling `run` included. `None`: `RAYON_NUM_THREADS` if
    /// set, else the machine's cores. With more than one, the session's helper threads wait for
    /// work actively (spinning) while a run lasts, so that short kernels can split their work at
    /// all, and for [`GRACE`](crate::team::GRACE) after it; then they sleep.
    pub threads: Option<usize>,
    /// Check every computed value for NaN and infinity and report the first node producing one.
    pub check_finite: bool,
}

/// The number of kernel threads a session uses by default.
pub fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// Runs a [`Plan`], owning the buffers it reuses across runs.
pub struct Session<F: Scalar> {
    plan: Plan<F>,
    seed: u64,
    next_step: u64,
    slots: Vec<Vec<F>>,
    dims: Vec<Dims>,
    batch: Option<usize>,
    feed_index: Vec<usize>,
    team: Option<Arc<KernelTeam>>,
    check_finite: bool,
    allocations: usize,
    /// Per-step timings while profiling is on.
    profile: Option<Profile>,
    /// Whether any kernel at the current batch size is large enough to split across threads;
    /// if none is, runs stay on the caller's thread without waking the team's helpers.
    parallel: bool,
    /// Per step, whether it runs at once with the next at the current batch size: a pair of
    /// independent products (see `plan_pairs`), both large and of similar size.
    together: Vec<bool>,
    /// The first step whose shape has the batch dimension, if any: its size must come from a
    /// batched feed.
    first_batched: Option<usize>,
}

impl<F: Scalar> std::fmt::Debug for Session<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session(seed {}, next step {}, {:?})", self.seed, self.next_step, self.plan)
    }
}

impl<F: Scalar> Session<F> {
    /// A session with default options; `seed` keys all of its random nodes.
    pub fn new(plan: Plan<F>, seed: u64) -> Self {
        Self::with_options(plan, seed, SessionOptions::default())
    }

    /// A session with explicit options.
    pub fn with_options(plan: Plan<F>, seed: u64, opts: SessionOptions) -> Self {
        let threads = opts.threads.unwrap_or_else(default_threads);
        let team = (threads > 1).then(|| KernelTeam::new(threads));
        Self::build(plan, seed, team, opts.check_finite)
    }

    /// A session splitting its kernels across a shared team. Sessions on one team may run from
    /// different threads; a run that finds the team busy with another thread's run runs on its
    /// own thread.
    pub fn with_team(plan: Plan<F>, seed: u64, team: Arc<KernelTeam>) -> Self {
        Self::build(plan, seed, Some(team), false)
    }

    fn build(plan: Plan<F>, seed: u64, team: Option<Arc<KernelTeam>>, check_finite: bool) -> Self {
        let n_slots = plan.inner.n_slots;
        let n_steps = plan.inner.steps.len();
        let n_feeds = plan.inner.feeds.len();
        let first_batched = plan.inner.steps.iter().position(|s| s.shape.has_batch());
        Session {
            plan,
            seed,
            next_step: 0,
            slots: vec![Vec::new(); n_slots],
            dims: vec![Dims::new(); n_steps],
            batch: None,
            feed_index: vec![usize::MAX; n_feeds],
            team,
            check_finite,
            allocations: 0,
            profile: None,
            parallel: false,
            together: vec![false; n_steps],
            first_batched,
        }
    }

    /// The plan this session runs.
    pub fn plan(&self) -> &Plan<F> {
        &self.plan
    }
    /// The seed keying the random nodes.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The step the next [`Session::run`] will use.
    pub fn next_step(&self) -> u64 {
        self.next_step
    }
    /// Turns NaN/infinity checking on or off.
    pub fn set_check_finite(&mut self, on: bool) {
        self.check_finite = on;
    }
    /// Turns per-step timing on (clearing earlier timings) or off. See [`Profile`].
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| Profile {
            entries: self
                .plan
                .inner
                .steps
                .iter()
                .map(|s| ProfileEntry {
                    op: s.name(),
                    label: s.label.clone(),
                    origin: s.origin,
                    total: std::time::Duration::ZERO,
                    calls: 0,
                    numel: 0,
                })
                .collect(),
            runs: 0,
        });
    }
    /// The timings gathered since profiling was turned on (empty if it is off).
    pub fn profile(&self) -> Profile {
        self.profile.clone().unwrap_or_default()
    }
    /// How many times a buffer had to grow so far. Constant in a steady state.
    pub fn buffer_growths(&self) -> usize {
        self.allocations
    }

    /// Runs the plan with fresh noise (the step counter advances).
    pub fn run(&mut self, params: &ParamStore<F>, feeds: &[(&str, &[F])]) -> Result<Outputs<'_, F>, RunError> {
        let step = self.next_step;
        self.next_step += 1;
        self.run_at_step(step, params, feeds)
    }

    /// Runs the plan with the noise of run `step` (replay). Does not advance the counter.
    pub fn run_at_step(
        &mut self,
        step: u64,
        params: &ParamStore<F>,
        feeds: &[(&str, &[F])],
    ) -> Result<Outputs<'_, F>, RunError> {
        self.bind_feeds(feeds)?;
        self.check_params(params)?;
        let batch = self.batch_size(feeds)?;
        if self.batch != Some(batch) {
            for (d, s) in self.dims.iter_mut().zip(&self.plan.inner.steps) {
                s.shape.resolve_into(batch, d);
            }
            self.batch = Some(batch);
            self.parallel = self.team.is_some() && self.any_parallel_kernel();
            self.find_pairs_worth_running_together();
        }
        match self.team.clone() {
            Some(team) if self.parallel => team.lead(|| self.execute(step, params, feeds)),
            _ => crate::kernels::serial_flushed(|| self.execute(step, params, feeds)),
        }?;
        Ok(Outputs { s: self })
    }

    /// Whether some step at the resolved dims reaches a kernel's threshold for splitting work:
    /// [`PAR_MIN`](crate::kernels::PAR_MIN) elements in or out, or a matrix product above the
    /// GEMM's threshold.
    fn any_parallel_kernel(&self) -> bool {
        let min = crate::kernels::PAR_MIN;
        let gemm_flops = 2 * crate::kernels::matmul::PAR_FLOPS as u64;
        let numel = |i: usize| self.dims[i].iter().product::<usize>();
        self.plan.inner.steps.iter().enumerate().any(|(i, s)| match &s.kind {
            StepKind::Random { .. } => numel(i) >= min,
            StepKind::Op(op) => {
                let ins: SmallVec<[&[usize]; 8]> = s.inputs.iter().map(|&p| &self.dims[p][..]).collect();
                numel(i) >= min
                    || s.inputs.iter().any(|&p| numel(p) >= min)
                    || op.flops(&ins, &self.dims[i]) >= gemm_flops
            }
            _ => false,
        })
    }

    /// Marks the plan's pairs of products each large enough to keep a thread busy, and within a
    /// factor of two of each other, so that neither thread waits long for the other. In place: a
    /// change of batch size allocates nothing.
    fn find_pairs_worth_running_together(&mut self) {
        let inner = &self.plan.inner;
        let flops = |i: usize| match &inner.steps[i].kind {
            StepKind::Op(op) => {
                let ins: SmallVec<[&[usize]; 8]> = inner.steps[i].inputs.iter().map(|&p| &self.dims[p][..]).collect();
                op.flops(&ins, &self.dims[i])
            }
            _ => 0,
        };
        let min = 4 * crate::kernels::matmul::PAR_FLOPS as u64;
        for i in 0..inner.steps.len() {
            let worth = inner.pairs[i] && {
                let (a, b) = (flops(i), flops(i + 1));
                a.min(b) >= min && 2 * a.min(b) >= a.max(b)
            };
            self.together[i] = worth;
        }
    }

    fn bind_feeds(&mut self, feeds: &[(&str, &[F])]) -> Result<(), RunError> {
        let specs = &self.plan.inner.feeds;
        for (k, spec) in specs.iter().enumerate() {
            let cached = self.feed_index[k];
            if cached < feeds.len() && *feeds[cached].0 == *spec.name {
                continue;
            }
            match feeds.iter().position(|(n, _)| **n == *spec.name) {
                Some(p) => self.feed_index[k] = p,
                // A feed that names no input is the likelier mistake (a misspelt name), and its
                // error lists the inputs.
                None => {
                    return Err(self.unknown_feed(feeds).unwrap_or(RunError::MissingFeed { name: spec.name.clone() }))
                }
            }
        }
        // Every input was found, so more feeds than inputs means an unknown name or a repeated
        // one (the first of which would be read, silently).
        if feeds.len() > specs.len() {
            if let Some(e) = self.unknown_feed(feeds) {
                return Err(e);
            }
            for (i, (n, _)) in feeds.iter().enumerate() {
                if feeds[..i].iter().any(|(m, _)| m == n) {
                    return Err(RunError::DuplicateFeed { name: (*n).into() });
                }
            }
        }
        Ok(())
    }

    /// [`RunError::UnknownFeed`] for the first feed that names no input, if any.
    fn unknown_feed(&self, feeds: &[(&str, &[F])]) -> Option<RunError> {
        let specs = &self.plan.inner.feeds;
        let (name, _) = feeds.iter().find(|(n, _)| !specs.iter().any(|s| *s.name == **n))?;
        Some(RunError::UnknownFeed { name: name.to_string(), known: specs.iter().map(|s| s.name.clone()).collect() })
    }

    fn check_params(&self, params: &ParamStore<F>) -> Result<(), RunError> {
        for p in &self.plan.inner.params {
            if p.id.index() >= params.len() || params.param(p.id).path() != &*p.path {
                return Err(RunError::MissingParam {
                    path: p.path.to_string(),
                    detail: "the store passed to run has no such parameter (was the plan built against another store?)"
                        .into(),
                });
            }
            let have = params.param(p.id).shape();
            if p.shape.fixed_dims().as_deref() != Some(have) {
                return Err(RunError::MissingParam {
                    path: p.path.to_string(),
                    detail: format!("the plan expects shape {}, the store has {have:?}", p.shape),
                });
            }
        }
        Ok(())
    }

    fn batch_size(&self, feeds: &[(&str, &[F])]) -> Result<usize, RunError> {
        let mut batch: Option<(usize, usize)> = None;
        for (k, spec) in self.plan.inner.feeds.iter().enumerate() {
            let len = feeds[self.feed_index[k]].1.len();
            let fixed = spec.shape.fixed_product();
            let fail = |detail: String| RunError::FeedShape {
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                len,
                detail,
            };
            if spec.shape.has_batch() {
                if fixed == 0 || !len.is_multiple_of(fixed) {
                    return Err(fail(format!("not a whole number of examples of {fixed} values")));
                }
                let b = len / fixed;
                if let Some((b0, k0)) = batch {
                    if b0 != b {
                        return Err(fail(format!(
                            "batch size {b} differs from {b0} of input \"{}\"",
                            self.plan.inner.feeds[k0].name
                        )));
                    }
                }
                batch = Some((b, k));
            } else if len != fixed {
                return Err(fail(format!("expected {fixed} values")));
            }
        }
        match (batch, self.first_batched) {
            (Some((b, _)), _) => Ok(b),
            (None, None) => Ok(1),
            (None, Some(i)) => {
                let s = &self.plan.inner.steps[i];
                Err(RunError::UnknownBatch { op: s.name(), label: s.label.clone(), at: s.origin })
            }
        }
    }

    fn execute(&mut self, step: u64, params: &ParamStore<F>, feeds: &[(&str, &[F])]) -> Result<(), RunError> {
        let inner = self.plan.inner.clone();
        let mut next = 0;
        while next < inner.steps.len() {
            let i = next;
            if self.together[i] && crate::kernels::threads() == 2 {
                self.execute_pair(&inner, i, params, feeds)?;
                next += 2;
                continue;
            }
            next += 1;
            let s = &inner.steps[i];
            let Some(slot) = s.slot else { continue };
            let (mut buf, numel) = self.take_output(slot, i);
            let started = self.profile.is_some().then(std::time::Instant::now);
            let result = match &s.kind {
                StepKind::Random { sampler, key, seed } => {
                    fill_blocks(sampler.as_ref(), &mut buf[..numel], seed.unwrap_or(self.seed), *key, step);
                    Ok(())
                }
                StepKind::Op(op) => {
                    let (mut ins, mut in_dims) = (SmallVec::new(), SmallVec::new());
                    self.inputs(&inner, i, params, feeds, &mut ins, &mut in_dims);
                    op.forward(&mut ForwardCx::new(ins, in_dims, &mut buf[..numel], &self.dims[i]))
                }
                _ => Ok(()),
            };
            let elapsed = started.map(|t0| t0.elapsed());
            self.finish(s, i, buf, numel, result, elapsed)?;
        }
        if let Some(p) = self.profile.as_mut() {
            p.runs += 1;
        }
        Ok(())
    }

    /// Takes step `i`'s output buffer out of `slot`, grown to the step's size if needed.
    #[inline(always)]
    fn take_output(&mut self, slot: usize, i: usize) -> (Vec<F>, usize) {
        let numel: usize = self.dims[i].iter().product();
        let mut buf = std::mem::take(&mut self.slots[slot]);
        // A slot keeps the largest length it has held, and each step works on an exact-size
        // prefix: resizing down and up again would zero-fill memory on every run.
        if buf.len() < numel {
            if buf.capacity() < numel {
                self.allocations += 1;
            }
            buf.resize(numel, F::zero());
        }
        (buf, numel)
    }

    /// Pushes the input values and dimensions of op step `i` (`None` for an input it works on
    /// in place). Filled in place: returning the two vectors costs a tenth of a small step.
    #[inline(always)]
    fn inputs<'s>(
        &'s self,
        inner: &'s PlanInner<F>,
        i: usize,
        params: &'s ParamStore<F>,
        feeds: &[(&str, &'s [F])],
        ins: &mut SmallVec<[Option<&'s [F]>; 8]>,
        in_dims: &mut SmallVec<[&'s [usize]; 8]>,
    ) {
        let s = &inner.steps[i];
        for (k, &p) in s.inputs.iter().enumerate() {
            in_dims.push(&self.dims[p]);
            if s.alias == Some(k) {
                ins.push(None);
                continue;
            }
            let ps = &inner.steps[p];
            let data: &[F] = match &ps.kind {
                StepKind::Feed(f) => feeds[self.feed_index[*f]].1,
                StepKind::Param(q) => params.data(inner.params[*q].id),
                StepKind::Const(d) => d,
                _ => {
                    let n: usize = self.dims[p].iter().product();
                    &self.slots[ps.slot.expect("invariant: computed step has a slot")][..n]
                }
            };
            ins.push(Some(data));
        }
    }

    /// Puts step `i`'s buffer back and reports its failure or first non-finite value.
    #[inline(always)]
    fn finish(
        &mut self,
        s: &Step<F>,
        i: usize,
        buf: Vec<F>,
        numel: usize,
        result: Result<(), OpFailure>,
        elapsed: Option<std::time::Duration>,
    ) -> Result<(), RunError> {
        if let (Some(t), Some(p)) = (elapsed, self.profile.as_mut()) {
            let e = &mut p.entries[i];
            e.total += t;
            e.calls += 1;
            e.numel = numel;
        }
        let finite = if self.check_finite { buf[..numel].iter().position(|v| !v.is_finite()) } else { None };
        let slot = s.slot.expect("invariant: computed step has a slot");
        self.slots[slot] = buf;
        if let Err(e) = result {
            return Err(RunError::OpFailed { op: s.name(), label: s.label.clone(), at: s.origin, msg: e.0 });
        }
        if let Some(index) = finite {
            return Err(RunError::NonFinite {
                op: s.name(),
                label: s.label.clone(),
                at: s.origin,
                index,
                value: self.slots[slot][index].to_f64_lossless(),
            });
        }
        Ok(())
    }

    /// Runs op steps `i` and `i + 1`, a pair of independent products (see `plan_pairs`), at
    /// once, each on one thread of the team.
    fn execute_pair(
        &mut self,
        inner: &PlanInner<F>,
        i: usize,
        params: &ParamStore<F>,
        feeds: &[(&str, &[F])],
    ) -> Result<(), RunError> {
        let (sa, sb) = (&inner.steps[i], &inner.steps[i + 1]);
        let slot = |s: &Step<F>| s.slot.expect("invariant: a paired step has a slot");
        let (mut ba, na) = self.take_output(slot(sa), i);
        let (mut bb, nb) = self.take_output(slot(sb), i + 1);
        type Done = Mutex<Option<(Result<(), OpFailure>, std::time::Duration)>>;
        let done: [Done; 2] = [Mutex::new(None), Mutex::new(None)];
        {
            let op = |s: &Step<F>| match &s.kind {
                StepKind::Op(op) => op.clone(),
                _ => unreachable!("invariant: paired steps are ops"),
            };
            let (mut ia, mut da, mut ib, mut db) = (SmallVec::new(), SmallVec::new(), SmallVec::new(), SmallVec::new());
            self.inputs(inner, i, params, feeds, &mut ia, &mut da);
            self.inputs(inner, i + 1, params, feeds, &mut ib, &mut db);
            let work = [
                Mutex::new(Some((op(sa), ForwardCx::new(ia, da, &mut ba[..na], &self.dims[i])))),
                Mutex::new(Some((op(sb), ForwardCx::new(ib, db, &mut bb[..nb], &self.dims[i + 1])))),
            ];
            crate::team::for_each(2, &|k| {
                let (op, mut cx) = lock(&work[k]).take().expect("invariant: each part runs once");
                let t0 = std::time::Instant::now();
                let r = op.forward(&mut cx);
                *lock(&done[k]) = Some((r, t0.elapsed()));
            });
        }
        let [da, db] = done.map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()).expect("invariant: part ran"));
        let timed = self.profile.is_some();
        let ra = self.finish(sa, i, ba, na, da.0, timed.then_some(da.1));
        let rb = self.finish(sb, i + 1, bb, nb, db.0, timed.then_some(db.1));
        ra.and(rb)
    }

    /// Runs `f` on the calling thread in this session's threading context: leading the session's
    /// kernel team, or with kernels confined to the thread (and denormals flushed) for a
    /// single-threaded session, or when no kernel of the last run's batch size was large enough
    /// to split (then neither are the parameters an optimizer updates). Use it for work between
    /// runs that should follow the session's threading, such as optimizer steps.
    pub fn in_context<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.team {
            Some(team) if self.parallel => team.lead(f),
            _ => crate::kernels::serial_flushed(f),
        }
    }

    /// The resolved dimensions of fetch `i` after the last run.
    ///
    /// # Panics
    /// If the plan has no fetch `i`, naming the caller's line.
    #[track_caller]
    pub fn fetch_dims(&self, i: usize) -> &[usize] {
        &self.dims[self.fetch_step(i)]
    }

    /// The plan step of fetch `i`.
    #[track_caller]
    fn fetch_step(&self, i: usize) -> usize {
        let fetch = &self.plan.inner.fetch;
        match fetch.get(i) {
            Some(&step) => step,
            None => panic!("fetch {i} does not exist: the plan fetches {} tensors (0..{})", fetch.len(), fetch.len()),
        }
    }
}

/// The fetched values of one run, borrowed from the session's buffers (no copies).
pub struct Outputs<'s, F: Scalar> {
    s: &'s Session<F>,
}

impl<'s, F: Scalar> Outputs<'s, F> {
    /// Fetch `i`'s values, in the order the tensors were passed to `compile`.
    ///
    /// # Panics
    /// If the plan has no fetch `i`, naming the caller's line.
    #[track_caller]
    pub fn get(&self, i: usize) -> &'s [F] {
        let step = self.s.fetch_step(i);
        let slot = self.s.plan.inner.steps[step].slot.expect("invariant: fetches have slots");
        let numel: usize = self.s.dims[step].iter().product();
        &self.s.slots[slot][..numel]
    }
    /// Fetch `i`'s dimensions.
    ///
    /// # Panics
    /// If the plan has no fetch `i`, naming the caller's line.
    #[track_caller]
    pub fn dims(&self, i: usize) -> &'s [usize] {
        self.s.fetch_dims(i)
    }
    /// Fetch `i` as a scalar (its first element).
    ///
    /// # Panics
    /// If the plan has no fetch `i` or it has no elements, naming the caller's line.
    #[track_caller]
    pub fn scalar(&self, i: usize) -> F {
        match self.get(i).first() {
            Some(&v) => v,
            None => panic!("fetch {i} has no elements (dims {:?}), so it has no scalar value", self.dims(i)),
        }
    }
    /// Runs `f` in the session's threading context (see [`Session::in_context`]), e.g. an
    /// optimizer step that reads these gradients.
    pub fn in_context<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.s.in_context(f)
    }
    /// Number of fetches.
    pub fn len(&self) -> usize {
        self.s.plan.inner.fetch.len()
    }
    /// Whether nothing was fetched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<F: Scalar> Index<usize> for Outputs<'_, F> {
    type Output = [F];
    /// Fetch `i`'s values, as [`Outputs::get`] (and panicking as it does).
    #[track_caller]
    fn index(&self, i: usize) -> &[F] {
        self.get(i)
    }
}

impl<F: Scalar> std::fmt::Debug for Outputs<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries((0..self.len()).map(|i| self.get(i))).finish()
    }
}

// Plans are shared between sessions on several threads (Monte-Carlo prediction): keep them
// `Send + Sync`, checked at compile time.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Plan<f32>>();
    send_sync::<Plan<f64>>();
};
