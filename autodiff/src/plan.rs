//! Compilation: prune the graph to what the fetches need, keep a topological order (the node
//! order, with independent matrix products moved next to each other, see `plan_pairs`), and
//! assign every computed value a buffer slot by liveness, so that a run reuses a
//! fixed set of buffers and, once they have grown to the largest batch, allocates nothing.
//!
//! A value's slot is released after its last consumer. An op that declares
//! [`Op::in_place`](crate::Op::in_place) takes over its input's slot when that input dies at
//! this op and has the op's shape, so elementwise chains run in place. Ops that broadcast their
//! inputs themselves read a `broadcast_to`'s input directly (see
//! [`Op::broadcasts_inputs`](crate::Op::broadcasts_inputs)).

use std::panic::Location;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::GraphError;
use crate::graph::{Graph, Node, NodeKind, Tensor};
use crate::op::Op;
use crate::params::ParamId;
use crate::plan_pairs;
use crate::random::Sampler;
use crate::scalar::Scalar;
use crate::shape::Shape;

pub(crate) enum StepKind<F: Scalar> {
    Feed(usize),
    Param(usize),
    Const(Arc<[F]>),
    Random { sampler: Arc<dyn Sampler<F>>, key: u64, seed: Option<u64> },
    Op(Arc<dyn Op<F>>),
}

pub(crate) struct Step<F: Scalar> {
    pub kind: StepKind<F>,
    pub inputs: SmallVec<[usize; 3]>,
    pub shape: Shape,
    /// Buffer slot of computed values (ops and random leaves).
    pub slot: Option<usize>,
    /// Input position whose buffer this op's output took over.
    pub alias: Option<usize>,
    pub label: Option<Arc<str>>,
    pub origin: &'static Location<'static>,
}

impl<F: Scalar> Step<F> {
    pub fn name(&self) -> &'static str {
        match &self.kind {
            StepKind::Feed(_) => "input",
            StepKind::Param(_) => "param",
            StepKind::Const(_) => "constant",
            StepKind::Random { sampler, .. } => sampler.name(),
            StepKind::Op(op) => op.name(),
        }
    }
}

pub(crate) struct FeedSpec {
    pub name: Arc<str>,
    pub shape: Shape,
}

pub(crate) struct ParamSpec {
    pub id: ParamId,
    pub path: Arc<str>,
    pub shape: Shape,
}

pub(crate) struct PlanInner<F: Scalar> {
    pub steps: Vec<Step<F>>,
    pub fetch: Vec<usize>,
    pub feeds: Vec<FeedSpec>,
    pub params: Vec<ParamSpec>,
    pub n_slots: usize,
    /// Whether step `i` and step `i + 1` may run at once (see [`plan_pairs`]).
    pub pairs: Vec<bool>,
}

/// A compiled, pruned and liveness-analysed graph. Owned, cheap to clone, `Send + Sync`: several
/// sessions can run one plan at once (e.g. Monte-Carlo prediction in parallel).
pub struct Plan<F: Scalar> {
    pub(crate) inner: Arc<PlanInner<F>>,
}

impl<F: Scalar> Clone for Plan<F> {
    fn clone(&self) -> Self {
        Plan { inner: self.inner.clone() }
    }
}

impl<F: Scalar> std::fmt::Debug for Plan<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Plan<{}>({} steps, {} buffers, {} fetches)",
            F::NAME,
            self.inner.steps.len(),
            self.inner.n_slots,
            self.inner.fetch.len()
        )
    }
}

impl<F: Scalar> Plan<F> {
    /// Number of steps (nodes kept after pruning).
    pub fn num_steps(&self) -> usize {
        self.inner.steps.len()
    }
    /// Number of buffer slots the plan uses.
    pub fn num_buffers(&self) -> usize {
        self.inner.n_slots
    }
    /// Names of the inputs the plan needs fed.
    pub fn input_names(&self) -> Vec<Arc<str>> {
        self.inner.feeds.iter().map(|f| f.name.clone()).collect()
    }
    /// Number of steps whose output took over an input's buffer.
    pub fn num_in_place(&self) -> usize {
        self.inner.steps.iter().filter(|s| s.alias.is_some()).count()
    }
    /// Floating-point operations of one run at the given batch size, counted by the ops that
    /// report them (matrix products, convolutions).
    pub fn flops(&self, batch: usize) -> u64 {
        let dims: Vec<crate::shape::Dims> = self.inner.steps.iter().map(|s| s.shape.resolve(batch)).collect();
        self.inner
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| match &s.kind {
                StepKind::Op(op) => {
                    let ins: SmallVec<[&[usize]; 4]> = s.inputs.iter().map(|&p| &dims[p][..]).collect();
                    op.flops(&ins, &dims[i])
                }
                _ => 0,
            })
            .sum()
    }

    /// Names of the ops executed, in order (for inspection and tests).
    pub fn op_names(&self) -> Vec<&'static str> {
        self.inner.steps.iter().filter(|s| matches!(s.kind, StepKind::Op(_))).map(|s| s.name()).collect()
    }
}

/// Copies a fetched leaf into a buffer, so every fetch is served from a slot.
#[derive(Debug)]
struct FetchCopy;

impl<F: Scalar> Op<F> for FetchCopy {
    fn name(&self) -> &'static str {
        "fetch_copy"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, crate::error::ShapeError> {
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut crate::op::ForwardCx<'_, F>) -> Result<(), crate::error::OpFailure> {
        let x = cx.input(0);
        cx.out().copy_from_slice(x);
        Ok(())
    }
    fn vjp<'g>(&self, cx: &crate::op::VjpCx<'g, F>) -> crate::op::Grads<'g, F> {
        crate::op::grads([Some(cx.grad_output())])
    }
}

impl<F: Scalar> Graph<F> {
    /// Compiles the subgraph needed for `fetch` into a [`Plan`]. Returns the first error
    /// recorded while building, if any.
    #[track_caller]
    pub fn compile(&self, fetch: &[Tensor<'_, F>]) -> Result<Plan<F>, GraphError> {
        self.check()?;
        if fetch.is_empty() {
            return Err(GraphError::NothingToFetch);
        }
        for t in fetch {
            if !std::ptr::eq(t.graph(), self) {
                return Err(Graph::foreign_error(*t, Location::caller()));
            }
        }
        let mut nodes = self.snapshot();
        elide_broadcasts(&mut nodes);
        let n = nodes.len();
        let mut need = vec![false; n];
        for t in fetch {
            need[t.id.index()] = true;
        }
        for i in (0..n).rev() {
            if need[i] {
                for p in &nodes[i].inputs {
                    need[p.index()] = true;
                }
            }
        }
        let mut index = vec![usize::MAX; n];
        let mut steps: Vec<Step<F>> = Vec::new();
        let mut feeds = Vec::new();
        let mut params = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            if !need[i] {
                continue;
            }
            let kind = match &node.kind {
                NodeKind::Input { name } => {
                    feeds.push(FeedSpec { name: name.clone(), shape: node.shape.clone() });
                    StepKind::Feed(feeds.len() - 1)
                }
                NodeKind::Param { id, path } => {
                    params.push(ParamSpec { id: *id, path: path.clone(), shape: node.shape.clone() });
                    StepKind::Param(params.len() - 1)
                }
                NodeKind::Const(d) => StepKind::Const(d.clone()),
                NodeKind::Random { sampler, key, seed } => {
                    StepKind::Random { sampler: sampler.clone(), key: *key, seed: *seed }
                }
                NodeKind::Op(op) => StepKind::Op(op.clone()),
            };
            index[i] = steps.len();
            steps.push(Step {
                kind,
                inputs: node.inputs.iter().map(|p| index[p.index()]).collect(),
                shape: node.shape.clone(),
                slot: None,
                alias: None,
                label: node.label.clone(),
                origin: node.origin,
            });
        }
        // Fetches are served from slots: wrap leaves in a copy.
        let mut fetch_steps = Vec::with_capacity(fetch.len());
        for t in fetch {
            let s = index[t.id.index()];
            let fs = if matches!(steps[s].kind, StepKind::Op(_) | StepKind::Random { .. }) {
                s
            } else {
                steps.push(Step {
                    kind: StepKind::Op(Arc::new(FetchCopy)),
                    inputs: SmallVec::from_slice(&[s]),
                    shape: steps[s].shape.clone(),
                    slot: None,
                    alias: None,
                    label: steps[s].label.clone(),
                    origin: steps[s].origin,
                });
                steps.len() - 1
            };
            fetch_steps.push(fs);
        }
        plan_pairs::bring_together(&mut steps, &mut fetch_steps);
        let hold = plan_pairs::adjacent_pairs(&steps);
        let n_slots = assign_slots(&mut steps, &fetch_steps, &hold);
        let pairs = plan_pairs::runnable_together(&steps);
        Ok(Plan { inner: Arc::new(PlanInner { steps, fetch: fetch_steps, feeds, params, n_slots, pairs }) })
    }
}

/// Rewires ops that broadcast their inputs themselves to read a `broadcast_to`'s input instead of
/// its output, where that leaves the op's output shape unchanged. A broadcast left without
/// readers is then pruned: the cotangent of a sum stays one value instead of a full tensor.
fn elide_broadcasts<F: Scalar>(nodes: &mut [Node<F>]) {
    for i in 0..nodes.len() {
        let NodeKind::Op(op) = &nodes[i].kind else { continue };
        if !op.broadcasts_inputs() {
            continue;
        }
        let op = op.clone();
        for k in 0..nodes[i].inputs.len() {
            let p = nodes[i].inputs[k].index();
            let src = match &nodes[p].kind {
                NodeKind::Op(b) if b.name() == "broadcast_to" => nodes[p].inputs[0],
                _ => continue,
            };
            let shapes: SmallVec<[&Shape; 4]> = nodes[i]
                .inputs
                .iter()
                .enumerate()
                .map(|(j, q)| if j == k { &nodes[src.index()].shape } else { &nodes[q.index()].shape })
                .collect();
            let same_output = op.infer_shape(&shapes).is_ok_and(|s| s == nodes[i].shape);
            drop(shapes);
            if same_output {
                nodes[i].inputs[k] = src;
            }
        }
    }
}

/// Liveness-based slot assignment. Returns the number of slots. Where `hold[i]`, the buffers
/// step `i` frees are freed after step `i + 1` instead, so the two may run at once.
fn assign_slots<F: Scalar>(steps: &mut [Step<F>], fetch: &[usize], hold: &[bool]) -> usize {
    let n = steps.len();
    let mut last_use = vec![0usize; n];
    for (i, s) in steps.iter().enumerate() {
        last_use[i] = i;
        for &p in &s.inputs {
            last_use[p] = last_use[p].max(i);
        }
    }
    for &f in fetch {
        last_use[f] = usize::MAX;
    }
    let mut free: Vec<(usize, Shape)> = Vec::new();
    let mut held: Vec<(usize, Shape)> = Vec::new();
    let mut slot_shape: Vec<Shape> = Vec::new();
    for i in 0..n {
        if i > 0 && hold[i - 1] {
            // Freed below, after this step has its slot.
        } else {
            free.append(&mut held);
        }
        let computed = matches!(steps[i].kind, StepKind::Op(_) | StepKind::Random { .. });
        if !computed {
            free.append(&mut held);
            continue;
        }
        // In place: take over an input that dies here and has our shape.
        let mut chosen = None;
        if let StepKind::Op(op) = &steps[i].kind {
            if let Some(k) = op.in_place() {
                if let Some(&p) = steps[i].inputs.get(k) {
                    let dies_here = last_use[p] == i && steps[i].inputs.iter().filter(|&&q| q == p).count() == 1;
                    let same_size = steps[p].shape.same_size(&steps[i].shape);
                    if dies_here && same_size && steps[p].slot.is_some() {
                        chosen = steps[p].slot;
                        steps[i].alias = Some(k);
                    }
                }
            }
        }
        let slot = match chosen {
            Some(s) => s,
            None => {
                // Prefer a free slot last used for the same shape, so buffers keep their size.
                let pos = free.iter().rposition(|(_, sh)| *sh == steps[i].shape).or(if free.is_empty() {
                    None
                } else {
                    Some(free.len() - 1)
                });
                match pos {
                    Some(p) => free.swap_remove(p).0,
                    None => {
                        slot_shape.push(steps[i].shape.clone());
                        slot_shape.len() - 1
                    }
                }
            }
        };
        steps[i].slot = Some(slot);
        if i > 0 && hold[i - 1] {
            free.append(&mut held);
        }
        let release = if hold[i] { &mut held } else { &mut free };
        // Release inputs whose last use is this step (not the one taken over).
        let inputs = steps[i].inputs.clone();
        for (k, &p) in inputs.iter().enumerate() {
            if last_use[p] == i && steps[i].alias != Some(k) && inputs[..k].iter().all(|&q| q != p) {
                if let Some(s) = steps[p].slot {
                    release.push((s, steps[p].shape.clone()));
                }
            }
        }
        // A computed value nobody reads (and not fetched) is released at once.
        if last_use[i] == i {
            release.push((slot, steps[i].shape.clone()));
        }
    }
    slot_shape.len()
}
