//! Errors: graph-building errors (returned by `check`/`compile`) and run errors.
//!
//! Every message names the op, the node's label, the caller's source location and the shapes
//! involved, e.g. `matmul (encoder) at src/main.rs:12:9: inner dimensions differ: [B, 784] @
//! [128, 10] (784 vs 128); input shapes: [B, 784], [128, 10]`.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use crate::shape::Shape;

/// Why a shape rule rejected its inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum ShapeError {
    /// Ranks differ where they must agree.
    RankMismatch {
        /// Expected rank (or minimum rank, as the message says).
        expected: usize,
        /// Rank found.
        got: usize,
    },
    /// One dimension differs between two inputs.
    DimMismatch {
        /// The axis compared.
        axis: usize,
        /// Left input's shape.
        lhs: Shape,
        /// Right input's shape.
        rhs: Shape,
    },
    /// Two shapes do not broadcast under NumPy's rules.
    NotBroadcastable {
        /// Left shape.
        lhs: Shape,
        /// Right shape.
        rhs: Shape,
    },
    /// An axis is outside `-rank..rank`.
    AxisOutOfRange {
        /// The axis given.
        axis: isize,
        /// The rank of the shape.
        rank: usize,
    },
    /// Any other rule, explained in words.
    Custom(String),
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::RankMismatch { expected, got } => {
                write!(f, "expected rank {expected}, got rank {got}")
            }
            ShapeError::DimMismatch { axis, lhs, rhs } => {
                write!(f, "dimension {axis} differs: {lhs} vs {rhs}")
            }
            ShapeError::NotBroadcastable { lhs, rhs } => {
                write!(f, "shapes {lhs} and {rhs} do not broadcast")
            }
            ShapeError::AxisOutOfRange { axis, rank } => {
                write!(f, "axis {axis} is out of range for rank {rank}")
            }
            ShapeError::Custom(s) => f.write_str(s),
        }
    }
}

/// A mistake made while building a graph. The first one is recorded and returned by
/// [`Graph::check`](crate::Graph::check) and [`Graph::compile`](crate::Graph::compile).
#[derive(Clone, Debug)]
pub enum GraphError {
    /// An op's shape rule rejected its inputs.
    Shape {
        /// The op's name.
        op: &'static str,
        /// What was wrong.
        detail: ShapeError,
        /// The input shapes.
        inputs: Vec<Shape>,
        /// The name scope and label of the node.
        label: Option<Arc<str>>,
        /// Where the user built the node.
        at: &'static Location<'static>,
    },
    /// `grad` was asked to differentiate a non-scalar.
    NonScalarGrad {
        /// The shape of `y`.
        shape: Shape,
        /// Where `grad` was called.
        at: &'static Location<'static>,
    },
    /// A tensor handle from another graph was used.
    ForeignTensor {
        /// Where the mix-up happened.
        at: &'static Location<'static>,
    },
    /// Two random nodes were given the same salt in the same scope: they would draw identical noise.
    DuplicateSalt {
        /// The full salt (scope and name).
        salt: String,
        /// Where the second one was created.
        at: &'static Location<'static>,
    },
    /// Two inputs share a name.
    DuplicateInput {
        /// The name.
        name: String,
        /// Where the second one was created.
        at: &'static Location<'static>,
    },
    /// A parameter node names a parameter or shape the store does not have.
    Param {
        /// The parameter path.
        path: String,
        /// What was wrong.
        detail: String,
        /// Where the node was built.
        at: &'static Location<'static>,
    },
    /// An op's vector-Jacobian product returned the wrong number or shape of gradients.
    /// This is a bug in the op.
    BadVjp {
        /// The op's name.
        op: &'static str,
        /// The input whose gradient was wrong.
        input: usize,
        /// The input's shape.
        expected: Shape,
        /// What the VJP produced.
        got: Option<Shape>,
    },
    /// `compile` was called with nothing to fetch.
    NothingToFetch,
}

impl GraphError {
    /// Replaces the line the error names, if it names one.
    pub(crate) fn attribute_to(&mut self, site: &'static Location<'static>) {
        match self {
            GraphError::Shape { at, .. }
            | GraphError::NonScalarGrad { at, .. }
            | GraphError::ForeignTensor { at }
            | GraphError::DuplicateSalt { at, .. }
            | GraphError::DuplicateInput { at, .. }
            | GraphError::Param { at, .. } => *at = site,
            GraphError::BadVjp { .. } | GraphError::NothingToFetch => {}
        }
    }
}

/// Formats a location as `file:line:column`.
pub(crate) struct At(pub &'static Location<'static>);
impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.0.file(), self.0.line(), self.0.column())
    }
}

/// Formats an optional label as ` (label)`.
pub(crate) struct Lbl<'a>(pub &'a Option<Arc<str>>);
impl fmt::Display for Lbl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(l) => write!(f, " ({l})"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Shape { op, detail, inputs, label, at } => {
                write!(f, "{op}{} at {}: {detail}; input shapes: ", Lbl(label), At(at))?;
                for (i, s) in inputs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{s}")?;
                }
                Ok(())
            }
            GraphError::NonScalarGrad { shape, at } => write!(
                f,
                "grad at {}: y must be a scalar, got shape {shape}; reduce it (e.g. reduce_sum) or use vjp with an explicit cotangent",
                At(at)
            ),
            GraphError::ForeignTensor { at } => {
                write!(f, "at {}: a tensor from another graph was used", At(at))
            }
            GraphError::DuplicateSalt { salt, at } => write!(
                f,
                "random node at {}: salt \"{salt}\" is already used in this scope, so both nodes would draw the same noise; give each a distinct salt",
                At(at)
            ),
            GraphError::DuplicateInput { name, at } => {
                write!(f, "input at {}: an input named \"{name}\" already exists", At(at))
            }
            GraphError::Param { path, detail, at } => {
                write!(f, "param \"{path}\" at {}: {detail}", At(at))
            }
            GraphError::BadVjp { op, input, expected, got } => match got {
                Some(g) => write!(
                    f,
                    "{op}: vjp for input {input} has shape {g}, not {expected} (a bug in the op, please report)"
                ),
                None => write!(f, "{op}: vjp returned the wrong number of gradients (a bug in the op, please report)"),
            },
            GraphError::NothingToFetch => f.write_str("compile: nothing to fetch"),
        }
    }
}

impl std::error::Error for GraphError {}

/// Why an op failed on the values it was given (e.g. a Cholesky of a non-positive-definite
/// matrix). Returned by [`Op::forward`](crate::Op::forward).
#[derive(Clone, Debug, PartialEq)]
pub struct OpFailure(pub String);

impl<S: Into<String>> From<S> for OpFailure {
    fn from(s: S) -> Self {
        OpFailure(s.into())
    }
}

/// A failure while running a plan.
#[derive(Clone, Debug)]
pub enum RunError {
    /// An input of the plan was not fed.
    MissingFeed {
        /// The input's name.
        name: Arc<str>,
    },
    /// A feed names no input of the plan.
    UnknownFeed {
        /// The name given.
        name: String,
        /// The plan's inputs.
        known: Vec<Arc<str>>,
    },
    /// Two feeds name the same input.
    DuplicateFeed {
        /// The input's name.
        name: Arc<str>,
    },
    /// A node has the batch dimension, but no fed input has it, so its size is unknown.
    UnknownBatch {
        /// The first such node's op (or leaf kind).
        op: &'static str,
        /// Its label.
        label: Option<Arc<str>>,
        /// Where it was built.
        at: &'static Location<'static>,
    },
    /// A feed's length does not fit the input's shape.
    FeedShape {
        /// The input's name.
        name: Arc<str>,
        /// The declared shape.
        expected: Shape,
        /// The number of values fed.
        len: usize,
        /// Why it does not fit.
        detail: String,
    },
    /// The parameter store lacks a parameter the plan reads, or has it with another shape.
    MissingParam {
        /// The parameter path.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// An op failed on its values.
    OpFailed {
        /// The op's name.
        op: &'static str,
        /// The node's label.
        label: Option<Arc<str>>,
        /// Where the node was built.
        at: &'static Location<'static>,
        /// What went wrong.
        msg: String,
    },
    /// With checking on, a node produced NaN or infinity.
    NonFinite {
        /// The op (or leaf kind) that produced it.
        op: &'static str,
        /// The node's label.
        label: Option<Arc<str>>,
        /// Where the node was built.
        at: &'static Location<'static>,
        /// Index of the first bad element.
        index: usize,
        /// The bad value.
        value: f64,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::MissingFeed { name } => write!(f, "input \"{name}\" was not fed"),
            RunError::UnknownFeed { name, known } => {
                write!(f, "feed \"{name}\" names no input of the plan; its inputs are {known:?}")
            }
            RunError::DuplicateFeed { name } => write!(f, "input \"{name}\" is fed twice"),
            RunError::UnknownBatch { op, label, at } => write!(
                f,
                "{op}{} at {} has the batch dimension, but no fed input has it, so the batch size is unknown",
                Lbl(label),
                At(at)
            ),
            RunError::FeedShape { name, expected, len, detail } => {
                write!(f, "feed \"{name}\": {len} values do not fit shape {expected}: {detail}")
            }
            RunError::MissingParam { path, detail } => write!(f, "param \"{path}\": {detail}"),
            RunError::OpFailed { op, label, at, msg } => {
                write!(f, "{op}{} at {}: {msg}", Lbl(label), At(at))
            }
            RunError::NonFinite { op, label, at, index, value } => {
                write!(f, "{op}{} at {} produced {value} at element {index}", Lbl(label), At(at))
            }
        }
    }
}

impl std::error::Error for RunError {}
