//! The graph under construction: an append-only arena of nodes and the `Copy` tensor handle.
//!
//! Nodes are created only after their inputs, so ascending [`NodeId`] order is a topological
//! order; the gradient driver and the planner rely on it. Building never panics: the first
//! mistake is recorded with the op, label, caller location and shapes, later nodes built on a
//! poisoned node stay quiet, and [`Graph::check`] or [`Graph::compile`] reports it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::{GraphError, ShapeError};
use crate::op::Op;
use crate::params::{ParamId, ParamStore};
use crate::random::Sampler;
use crate::rng::hash_str;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Index of a node in its graph. Ascending ids are a topological order.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The index in the graph's arena.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a node is.
#[derive(Clone)]
pub(crate) enum NodeKind<F: Scalar> {
    /// Fed per run under a name.
    Input { name: Arc<str> },
    /// Read from the [`ParamStore`] passed to each run.
    Param { id: ParamId, path: Arc<str> },
    /// A constant baked into the graph.
    Const(Arc<[F]>),
    /// Re-sampled on every run from `(seed, key, step, block)`.
    Random { sampler: Arc<dyn Sampler<F>>, key: u64, seed: Option<u64> },
    /// A pure function of its inputs.
    Op(Arc<dyn Op<F>>),
}

impl<F: Scalar> NodeKind<F> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            NodeKind::Input { .. } => "input",
            NodeKind::Param { .. } => "param",
            NodeKind::Const(_) => "constant",
            NodeKind::Random { sampler, .. } => sampler.name(),
            NodeKind::Op(op) => op.name(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Node<F: Scalar> {
    pub kind: NodeKind<F>,
    pub inputs: SmallVec<[NodeId; 3]>,
    pub shape: Shape,
    pub label: Option<Arc<str>>,
    pub origin: &'static Location<'static>,
    pub poisoned: bool,
}

struct Inner<F: Scalar> {
    nodes: Vec<Node<F>>,
    first_error: Option<GraphError>,
    scopes: Vec<String>,
    salts: HashSet<String>,
    input_names: HashMap<Arc<str>, NodeId>,
    /// The line errors are attributed to while [`Graph::attributed_to`] runs.
    site: Option<&'static Location<'static>>,
    /// Made by [`Graph::detached_error`] to hold one error.
    detached: bool,
}

/// A computation graph under construction, over one element type `F`.
///
/// ```
/// use autodiff::prelude::*;
/// let g = Graph::<f64>::new();
/// let x = g.input("x", [3]);
/// let y = (x * x).sum_all();
/// let dy = grad(y, &[x]);
/// let plan = g.compile(&[y, dy[0]]).unwrap();
/// let mut s = Session::new(plan, 0);
/// let out = s.run(&ParamStore::new(0), &[("x", &[1.0, 2.0, 3.0])]).unwrap();
/// assert_eq!(out[0], [14.0]);
/// assert_eq!(out[1], [2.0, 4.0, 6.0]);
/// ```
pub struct Graph<F: Scalar> {
    inner: RefCell<Inner<F>>,
}

impl<F: Scalar> Default for Graph<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Scalar> fmt::Debug for Graph<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Graph<{}>({} nodes)", F::NAME, self.len())
    }
}

/// A handle to a node: cheap to copy, with operator overloading.
#[derive(Copy, Clone)]
pub struct Tensor<'g, F: Scalar> {
    pub(crate) id: NodeId,
    pub(crate) g: &'g Graph<F>,
}

impl<F: Scalar> fmt::Debug for Tensor<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor(#{} {} {})", self.id.0, self.op_name(), self.shape())
    }
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// The node's id.
    pub fn id(self) -> NodeId {
        self.id
    }
    /// The graph this tensor belongs to.
    pub fn graph(self) -> &'g Graph<F> {
        self.g
    }
    /// The inferred shape (may contain the symbolic batch dimension).
    pub fn shape(self) -> Shape {
        self.g.inner.borrow().nodes[self.id.index()].shape.clone()
    }
    /// The rank.
    pub fn rank(self) -> usize {
        self.g.inner.borrow().nodes[self.id.index()].shape.rank()
    }
    /// The name of the op (or leaf kind) that produced this tensor.
    pub fn op_name(self) -> &'static str {
        self.g.inner.borrow().nodes[self.id.index()].kind.name()
    }
    /// The node's label (name scope plus any name given with [`Tensor::named`]).
    pub fn label(self) -> Option<Arc<str>> {
        self.g.inner.borrow().nodes[self.id.index()].label.clone()
    }
    /// Names this node; the label becomes `scope/name`. Returns the same tensor.
    pub fn named(self, name: &str) -> Self {
        let mut inner = self.g.inner.borrow_mut();
        let label = join_scope(&inner.scopes, name);
        inner.nodes[self.id.index()].label = Some(label.into());
        drop(inner);
        self
    }
    /// Whether the node was built from an erroneous input (its shape is meaningless).
    pub fn is_poisoned(self) -> bool {
        self.g.inner.borrow().nodes[self.id.index()].poisoned
    }
    /// A scalar constant in this tensor's graph.
    #[track_caller]
    pub fn scalar(self, v: f64) -> Self {
        self.g.scalar(v)
    }
}

fn join_scope(scopes: &[String], name: &str) -> String {
    if scopes.is_empty() {
        name.to_string()
    } else {
        let mut s = scopes.join("/");
        if !name.is_empty() {
            s.push('/');
            s.push_str(name);
        }
        s
    }
}

impl<F: Scalar> Graph<F> {
    /// An empty graph.
    pub fn new() -> Self {
        Graph {
            inner: RefCell::new(Inner {
                nodes: Vec::new(),
                first_error: None,
                scopes: Vec::new(),
                salts: HashSet::new(),
                input_names: HashMap::new(),
                site: None,
                detached: false,
            }),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.inner.borrow().nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` inside the name scope `name`: labels and random salts created inside are
    /// prefixed with it (`"bnn/dense1/..."`).
    pub fn scope<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        self.inner.borrow_mut().scopes.push(name.to_string());
        let r = f();
        self.inner.borrow_mut().scopes.pop();
        r
    }

    /// Runs `f` with the errors it records attributed to `site` instead of the lines that built
    /// the failing nodes; `None` restores the nodes' own lines inside `f`. A component built in
    /// library code (a layer, say) passes the line its user created it on, which is where the
    /// mistake can be fixed.
    pub fn attributed_to<R>(&self, site: Option<&'static Location<'static>>, f: impl FnOnce() -> R) -> R {
        let outer = std::mem::replace(&mut self.inner.borrow_mut().site, site);
        let r = f();
        self.inner.borrow_mut().site = outer;
        r
    }

    /// The current scope path, `""` at top level.
    pub fn scope_path(&self) -> String {
        self.inner.borrow().scopes.join("/")
    }

    /// The first recorded error, if any.
    pub fn check(&self) -> Result<(), GraphError> {
        match &self.inner.borrow().first_error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records an error unless one is already recorded.
    pub(crate) fn record(&self, mut e: GraphError) {
        let mut inner = self.inner.borrow_mut();
        if inner.first_error.is_none() {
            if let Some(site) = inner.site {
                e.attribute_to(site);
            }
            inner.first_error = Some(e);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<Node<F>> {
        self.inner.borrow().nodes.clone()
    }

    fn push(&self, node: Node<F>) -> Tensor<'_, F> {
        let mut inner = self.inner.borrow_mut();
        let id = NodeId(u32::try_from(inner.nodes.len()).expect("graph exceeds 2^32 nodes"));
        inner.nodes.push(node);
        Tensor { id, g: self }
    }

    fn scope_label(&self) -> Option<Arc<str>> {
        let inner = self.inner.borrow();
        (!inner.scopes.is_empty()).then(|| inner.scopes.join("/").into())
    }

    fn leaf(
        &self,
        kind: NodeKind<F>,
        shape: Shape,
        label: Option<Arc<str>>,
        at: &'static Location<'static>,
    ) -> Tensor<'_, F> {
        self.push(Node { kind, inputs: SmallVec::new(), shape, label, origin: at, poisoned: false })
    }

    /// Records an error if a leaf's shape has the batch dimension more than once: a run resolves
    /// one batch size from the feeds' lengths, which a `[B, B]` leaf could not be checked against.
    fn check_one_batch_dim(&self, what: &'static str, shape: &Shape, at: &'static Location<'static>) {
        if shape.batch_count() > 1 {
            let detail =
                ShapeError::Custom(format!("{shape} has the batch dimension more than once; it may appear once"));
            self.record(GraphError::Shape { op: what, detail, inputs: vec![], label: self.scope_label(), at });
        }
    }

    /// A named input, fed on every run. Its shape may use the batch dimension [`crate::B`].
    #[track_caller]
    pub fn input(&self, name: &str, shape: impl Into<Shape>) -> Tensor<'_, F> {
        let at = Location::caller();
        let name: Arc<str> = name.into();
        let label = Some(Arc::from(join_scope(&self.inner.borrow().scopes, &name)));
        let shape = shape.into();
        self.check_one_batch_dim("input", &shape, at);
        let t = self.leaf(NodeKind::Input { name: name.clone() }, shape, label, at);
        let dup = self.inner.borrow_mut().input_names.insert(name.clone(), t.id).is_some();
        if dup {
            self.record(GraphError::DuplicateInput { name: name.to_string(), at });
        }
        t
    }

    /// An input of shape `[B, dims...]`: a batch of any size of examples shaped `dims`.
    #[track_caller]
    pub fn batched_input(&self, name: &str, dims: &[usize]) -> Tensor<'_, F> {
        self.input(name, Shape::batched(dims))
    }

    /// A constant tensor.
    #[track_caller]
    pub fn constant(&self, data: impl Into<Arc<[F]>>, shape: impl Into<Shape>) -> Tensor<'_, F> {
        let at = Location::caller();
        let data = data.into();
        let shape = shape.into();
        let t = self.leaf(NodeKind::Const(data.clone()), shape.clone(), self.scope_label(), at);
        if shape.fixed_numel() != Some(data.len()) {
            self.record(GraphError::Shape {
                op: "constant",
                detail: ShapeError::Custom(format!(
                    "{} values given for shape {shape} (constants cannot use the batch dimension)",
                    data.len()
                )),
                inputs: vec![],
                label: self.scope_label(),
                at,
            });
            self.inner.borrow_mut().nodes[t.id.index()].poisoned = true;
        }
        t
    }

    /// A constant from `f64` values (converted to `F`).
    #[track_caller]
    pub fn constant_f64(&self, data: &[f64], shape: impl Into<Shape>) -> Tensor<'_, F> {
        let v: Vec<F> = data.iter().map(|&x| F::of(x)).collect();
        self.constant(v, shape)
    }

    /// A scalar constant.
    #[track_caller]
    pub fn scalar(&self, v: f64) -> Tensor<'_, F> {
        self.constant(vec![F::of(v)], Shape::scalar())
    }

    /// A parameter read from the store passed to each run.
    #[track_caller]
    pub fn param(&self, store: &ParamStore<F>, id: ParamId) -> Tensor<'_, F> {
        let at = Location::caller();
        let p = store.param(id);
        let path: Arc<str> = p.path().into();
        self.leaf(NodeKind::Param { id, path: path.clone() }, Shape::from(p.shape()), Some(path), at)
    }

    /// A parameter looked up by path. An unknown path is recorded as an error.
    #[track_caller]
    pub fn param_by_path(&self, store: &ParamStore<F>, path: &str) -> Tensor<'_, F> {
        let at = Location::caller();
        match store.id(path) {
            Some(id) => self.param(store, id),
            None => {
                self.record(GraphError::Param {
                    path: path.to_string(),
                    detail: "no such parameter in the store".into(),
                    at,
                });
                let t = self.leaf(NodeKind::Const(Arc::from(vec![])), Shape::scalar(), None, at);
                self.inner.borrow_mut().nodes[t.id.index()].poisoned = true;
                t
            }
        }
    }

    /// A random leaf: fresh values on every run, one value per run seen by all consumers.
    ///
    /// The stream is keyed by the session seed, `scope/salt`, the run's step and the block
    /// index. Two random nodes with the same salt in one scope are an error.
    #[track_caller]
    pub fn random(&self, sampler: impl Sampler<F>, shape: impl Into<Shape>, salt: &str) -> Tensor<'_, F> {
        self.random_seeded(sampler, shape, salt, None)
    }

    /// Like [`Graph::random`], with an optional seed that replaces the session seed for this
    /// node, so its noise is reproducible whatever the session.
    #[track_caller]
    pub fn random_seeded(
        &self,
        sampler: impl Sampler<F>,
        shape: impl Into<Shape>,
        salt: &str,
        seed: Option<u64>,
    ) -> Tensor<'_, F> {
        let at = Location::caller();
        let shape = shape.into();
        self.check_one_batch_dim("random", &shape, at);
        if let Err(msg) = sampler.check() {
            let detail = ShapeError::Custom(msg);
            self.record(GraphError::Shape {
                op: sampler.name(),
                detail,
                inputs: vec![],
                label: self.scope_label(),
                at,
            });
        }
        let full = join_scope(&self.inner.borrow().scopes, salt);
        let key = hash_str(&full);
        let fresh = self.inner.borrow_mut().salts.insert(full.clone());
        let t =
            self.leaf(NodeKind::Random { sampler: Arc::new(sampler), key, seed }, shape, Some(full.clone().into()), at);
        if !fresh {
            self.record(GraphError::DuplicateSalt { salt: full, at });
        }
        t
    }

    /// Adds an op node. Checks that the inputs belong to this graph, runs the op's shape rule,
    /// and records the first error (the node is then poisoned, and nodes built on it too).
    #[track_caller]
    pub fn apply<'g>(&'g self, op: impl Op<F>, inputs: &[Tensor<'g, F>]) -> Tensor<'g, F> {
        self.apply_at(Arc::new(op), inputs, Location::caller())
    }

    pub(crate) fn apply_at<'g>(
        &'g self,
        op: Arc<dyn Op<F>>,
        inputs: &[Tensor<'g, F>],
        at: &'static Location<'static>,
    ) -> Tensor<'g, F> {
        let label = self.scope_label();
        let mut poisoned = false;
        for t in inputs {
            if !std::ptr::eq(t.g, self) {
                self.record(Graph::foreign_error(*t, at));
                poisoned = true;
            }
        }
        let ids: SmallVec<[NodeId; 3]> = inputs.iter().map(|t| t.id).collect();
        let shape = if poisoned {
            Shape::scalar()
        } else {
            let inner = self.inner.borrow();
            if ids.iter().any(|i| inner.nodes[i.index()].poisoned) {
                poisoned = true;
                Shape::scalar()
            } else {
                let shapes: SmallVec<[&Shape; 4]> = ids.iter().map(|i| &inner.nodes[i.index()].shape).collect();
                let r = op.infer_shape(&shapes).map_err(|detail| GraphError::Shape {
                    op: op.name(),
                    detail,
                    inputs: shapes.iter().map(|s| (*s).clone()).collect(),
                    label: label.clone(),
                    at,
                });
                drop(shapes);
                drop(inner);
                match r {
                    Ok(s) => s,
                    Err(e) => {
                        self.record(e);
                        poisoned = true;
                        Shape::scalar()
                    }
                }
            }
        };
        let ids = if poisoned && inputs.iter().any(|t| !std::ptr::eq(t.g, self)) { SmallVec::new() } else { ids };
        self.push(Node { kind: NodeKind::Op(op), inputs: ids, shape, label, origin: at, poisoned })
    }

    /// The shape of a node by id.
    pub fn shape_of(&self, id: NodeId) -> Shape {
        self.inner.borrow().nodes[id.index()].shape.clone()
    }

    /// A handle to an existing node.
    pub fn tensor(&self, id: NodeId) -> Tensor<'_, F> {
        Tensor { id, g: self }
    }

    /// The most recent node with this label (e.g. `"dense1/flipout/eps"`, a random leaf's
    /// scope and salt), to fetch intermediate values such as a layer's noise.
    pub fn find(&self, label: &str) -> Option<Tensor<'_, F>> {
        let inner = self.inner.borrow();
        let i = inner.nodes.iter().rposition(|n| n.label.as_deref() == Some(label))?;
        Some(Tensor { id: NodeId(i as u32), g: self })
    }

    /// Whether a node is a parameter, and which.
    pub fn param_id(&self, t: Tensor<'_, F>) -> Option<ParamId> {
        match &self.inner.borrow().nodes[t.id.index()].kind {
            NodeKind::Param { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub(crate) fn op_of(&self, id: NodeId) -> Option<Arc<dyn Op<F>>> {
        match &self.inner.borrow().nodes[id.index()].kind {
            NodeKind::Op(op) => Some(op.clone()),
            _ => None,
        }
    }

    pub(crate) fn origin_of(&self, id: NodeId) -> &'static Location<'static> {
        self.inner.borrow().nodes[id.index()].origin
    }

    pub(crate) fn inputs_of(&self, id: NodeId) -> SmallVec<[NodeId; 3]> {
        self.inner.borrow().nodes[id.index()].inputs.clone()
    }

    /// Records a shape error for a composite function built from several ops, so the message
    /// names the function the user called rather than an internal op.
    #[track_caller]
    pub fn record_shape_error(&self, op: &'static str, detail: ShapeError, inputs: &[Tensor<'_, F>]) {
        let at = Location::caller();
        let shapes = inputs.iter().map(|t| t.shape()).collect();
        self.record(GraphError::Shape { op, detail, inputs: shapes, label: self.scope_label(), at });
    }

    /// A poisoned placeholder node, returned by composite functions after recording an error.
    #[track_caller]
    pub fn poisoned(&self) -> Tensor<'_, F> {
        let at = Location::caller();
        let t = self.leaf(NodeKind::Const(Arc::from(vec![])), Shape::scalar(), None, at);
        self.inner.borrow_mut().nodes[t.id.index()].poisoned = true;
        t
    }

    /// Reports a mistake found by a constructor that was given no tensor to reach the caller's
    /// graph from (an empty slice, as in `add_n(&[])`): records the error in a fresh graph of
    /// its own and returns a poisoned node there. That graph is leaked, so the handle is valid for
    /// whatever `'g` the caller needs; this costs one small allocation per such mistake, never in
    /// correct code. Building on the node in the caller's graph, or compiling it there, reports
    /// this error with its op and location (see [`Graph::foreign_error`]), and so does
    /// `t.graph().check()`.
    #[track_caller]
    pub(crate) fn detached_error<'g>(op: &'static str, detail: ShapeError) -> Tensor<'g, F> {
        let g: &'static Graph<F> = Box::leak(Box::new(Graph::new()));
        g.inner.borrow_mut().detached = true;
        g.record_shape_error(op, detail, &[]);
        g.poisoned()
    }

    /// The error for using `t`, a tensor of another graph, at `at`: the error `t` carries if it
    /// came from [`Graph::detached_error`] (the real mistake, with its own location), otherwise
    /// [`GraphError::ForeignTensor`].
    pub(crate) fn foreign_error(t: Tensor<'_, F>, at: &'static Location<'static>) -> GraphError {
        let other = t.g.inner.borrow();
        match &other.first_error {
            Some(e) if other.detached => e.clone(),
            _ => GraphError::ForeignTensor { at },
        }
    }

    /// Whether the dimension is the batch dimension (helper for shape rules in user ops).
    pub fn is_batch(d: Dim) -> bool {
        d == Dim::Batch
    }
}
