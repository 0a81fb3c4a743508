//! Checkpoints: a [`ParamStore`] plus optimizer state in one [safetensors] file.
//!
//! The file is a plain safetensors file, so `safetensors.numpy.load_file` and
//! `safetensors.torch.load_file` open it directly:
//!
//! - every parameter is a tensor named by its path (`"bnn/dense1/kernel_loc"`), with the
//!   parameter's shape and dtype `F32` or `F64`, little-endian, row-major;
//! - every extra tensor (optimizer state and anything else that is not a parameter) is stored
//!   under the reserved prefix [`STATE_PREFIX`] (`"state/adam/m/bnn/dense1/kernel_loc"`) and
//!   handed back by [`load`] without it. A name is a parameter if and only if it does not start
//!   with `"state/"`, which is why [`save`] refuses parameter paths under that prefix;
//! - `__metadata__` holds `format` = [`FORMAT`], `dtype` = `"F32"` or `"F64"`, `frozen` = the
//!   paths of the non-trainable parameters, one per line, and every user key.
//!
//! Saving writes a temporary file next to the target, syncs it and renames it over the target,
//! so a crash leaves either the old checkpoint or the new one, never half of one.
//!
//! Loading is all-or-nothing: the whole file is parsed and every tensor checked against the
//! store (presence, dtype, shape) before a single value is written, so on any error the store
//! is exactly as it was.
//!
//! [`save_training`] and [`load_training`] keep a training run (parameters and an optimizer's
//! whole state) in one file; loading one changes both or neither.
//!
//! Values are copied as bit patterns (no conversion through another float type), so `-0.0`,
//! subnormals and NaN payloads survive a round trip.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use autodiff::optim::{OptimError, Optimizer};
use autodiff::{ParamId, ParamStore, Scalar};
use safetensors::tensor::{Metadata, TensorView};
use safetensors::{Dtype, SafeTensors};

/// Value of the `format` metadata key written by [`save`].
pub const FORMAT: &str = "bayes-rs-checkpoint/1";

/// On-disk prefix of extra (non-parameter) tensors.
pub const STATE_PREFIX: &str = "state/";

/// Metadata keys written by [`save`]; user metadata may not use them.
pub const RESERVED_KEYS: [&str; 3] = ["format", "dtype", "frozen"];

/// Why a checkpoint could not be saved or loaded. Every variant names the checkpoint file.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The operating system refused a file operation.
    Io {
        /// The checkpoint file.
        file: PathBuf,
        /// What was being done (`"read"`, `"write temporary file for"`, ...).
        action: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The file is not a valid safetensors file (truncated header, bad JSON, offsets out of
    /// range, size not matching the header).
    Corrupt {
        /// The checkpoint file.
        file: PathBuf,
        /// The parser's description.
        reason: String,
    },
    /// The file's `format` metadata names a format this version cannot read.
    UnsupportedFormat {
        /// The checkpoint file.
        file: PathBuf,
        /// The `format` value found.
        format: String,
    },
    /// A parameter of the store is not in the file.
    MissingParam {
        /// The checkpoint file.
        file: PathBuf,
        /// The parameter path.
        param: String,
    },
    /// A parameter has a different shape in the file than in the store.
    ShapeMismatch {
        /// The checkpoint file.
        file: PathBuf,
        /// The parameter path.
        param: String,
        /// Shape in the file.
        file_shape: Vec<usize>,
        /// Shape in the store.
        store_shape: Vec<usize>,
    },
    /// A tensor (parameter or extra state, named as on disk) is stored with a dtype other than
    /// the store's.
    DtypeMismatch {
        /// The checkpoint file.
        file: PathBuf,
        /// The tensor name in the file.
        tensor: String,
        /// Dtype in the file (`"F64"`, `"BF16"`, ...).
        file_dtype: String,
        /// Dtype of the store (`"F32"` or `"F64"`).
        expected: &'static str,
    },
    /// The file holds a parameter the store lacks (allowed with
    /// [`LoadOptions::allow_unexpected`]).
    UnexpectedParam {
        /// The checkpoint file.
        file: PathBuf,
        /// The parameter path.
        param: String,
    },
    /// [`save`] was given a name it cannot store unambiguously: an empty parameter path, a
    /// parameter path under [`STATE_PREFIX`] or containing a newline, `"__metadata__"`, or a
    /// duplicate extra tensor name.
    InvalidName {
        /// The checkpoint file.
        file: PathBuf,
        /// The offending name.
        name: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// [`save`] was given an extra tensor whose number of values does not match its shape.
    ValueCount {
        /// The checkpoint file.
        file: PathBuf,
        /// The extra tensor's name.
        name: String,
        /// Its declared shape.
        shape: Vec<usize>,
        /// Number of values given.
        len: usize,
    },
    /// The file's parameters fit the store but its optimizer state does not fit the optimizer
    /// (missing, wrong length, or invalid); see [`load_training`].
    OptimizerState {
        /// The checkpoint file.
        file: PathBuf,
        /// What the optimizer refused.
        source: OptimError,
    },
    /// [`save`] was given user metadata with a reserved or repeated key.
    InvalidMetadataKey {
        /// The checkpoint file.
        file: PathBuf,
        /// The key.
        key: String,
        /// Why it is rejected.
        reason: &'static str,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CheckpointError::*;
        match self {
            Io { file, action, source } => write!(f, "checkpoint {}: cannot {action}: {source}", file.display()),
            Corrupt { file, reason } => {
                write!(f, "checkpoint {}: file is truncated or corrupted ({reason})", file.display())
            }
            UnsupportedFormat { file, format } => {
                write!(f, "checkpoint {}: unsupported format \"{format}\" (expected \"{FORMAT}\")", file.display())
            }
            MissingParam { file, param } => {
                write!(f, "checkpoint {}: parameter \"{param}\" is missing from the file", file.display())
            }
            ShapeMismatch { file, param, file_shape, store_shape } => write!(
                f,
                "checkpoint {}: parameter \"{param}\" has shape {file_shape:?} in the file but {store_shape:?} in the store",
                file.display()
            ),
            DtypeMismatch { file, tensor, file_dtype, expected } => write!(
                f,
                "checkpoint {}: tensor \"{tensor}\" has dtype {file_dtype} in the file but the store holds {expected}",
                file.display()
            ),
            UnexpectedParam { file, param } => {
                write!(f, "checkpoint {}: parameter \"{param}\" is in the file but not in the store", file.display())
            }
            InvalidName { file, name, reason } => {
                write!(f, "checkpoint {}: cannot save tensor \"{name}\": {reason}", file.display())
            }
            ValueCount { file, name, shape, len } => write!(
                f,
                "checkpoint {}: extra tensor \"{name}\" has {len} values for shape {shape:?}",
                file.display()
            ),
            InvalidMetadataKey { file, key, reason } => {
                write!(f, "checkpoint {}: metadata key \"{key}\": {reason}", file.display())
            }
            OptimizerState { file, source } => {
                write!(f, "checkpoint {}: optimizer state does not fit: {source}", file.display())
            }
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            CheckpointError::OptimizerState { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What [`load`] returns besides filling the store.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<F> {
    /// Extra tensors `(name without "state/", shape, values)`, sorted by name.
    pub extra: Vec<(String, Vec<usize>, Vec<F>)>,
    /// The file's whole `__metadata__`: the reserved keys (`format`, `dtype`, `frozen`) and
    /// every user key.
    pub metadata: HashMap<String, String>,
    /// Parameters in the file that the store lacks, sorted (empty unless
    /// [`LoadOptions::allow_unexpected`]).
    pub skipped: Vec<String>,
}

/// Options of [`load_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Skip parameters in the file that the store lacks instead of failing with
    /// [`CheckpointError::UnexpectedParam`]; they are listed in [`Loaded::skipped`].
    pub allow_unexpected: bool,
}

fn dtype_of<F: Scalar>() -> Dtype {
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::F32 => "F32",
        _ => "F64",
    }
}

// `Scalar` is sealed to f32 and f64, so the downcasts below always hit one of the two arms.
// Going through `Any` keeps the exact bit pattern, which a conversion through f64 would not
// guarantee for NaN payloads.
fn encode<F: Scalar>(values: &[F], out: &mut Vec<u8>) {
    out.reserve(std::mem::size_of_val(values));
    for v in values {
        let v: &dyn Any = v;
        if let Some(x) = v.downcast_ref::<f32>() {
            out.extend_from_slice(&x.to_le_bytes());
        } else if let Some(x) = v.downcast_ref::<f64>() {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

fn decode<F: Scalar>(bytes: &[u8]) -> Vec<F> {
    let boxed: Box<dyn Any> = if dtype_of::<F>() == Dtype::F32 {
        Box::new(
            bytes
                .chunks_exact(4)
                .map(|c| {
                    let mut a = [0u8; 4];
                    a.copy_from_slice(c);
                    f32::from_le_bytes(a)
                })
                .collect::<Vec<f32>>(),
        )
    } else {
        Box::new(
            bytes
                .chunks_exact(8)
                .map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    f64::from_le_bytes(a)
                })
                .collect::<Vec<f64>>(),
        )
    };
    *boxed.downcast::<Vec<F>>().expect("invariant: Scalar is f32 or f64")
}

/// Saves every parameter of `store` and the `extra` tensors `(name, shape, values)` to `path`
/// (see the module docs for the layout). `metadata` pairs are added to `__metadata__`; they may
/// not use the [`RESERVED_KEYS`]. Everything is validated before the file is touched; the file
/// is replaced atomically.
pub fn save<F: Scalar>(
    path: &Path,
    store: &ParamStore<F>,
    extra: &[(String, Vec<usize>, Vec<F>)],
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let file = || path.to_path_buf();
    let invalid = |name: &str, reason| CheckpointError::InvalidName { file: file(), name: name.to_string(), reason };

    let mut meta = HashMap::new();
    for &(k, v) in metadata {
        if RESERVED_KEYS.contains(&k) {
            return Err(CheckpointError::InvalidMetadataKey {
                file: file(),
                key: k.to_string(),
                reason: "reserved for the checkpoint format",
            });
        }
        if meta.insert(k.to_string(), v.to_string()).is_some() {
            return Err(CheckpointError::InvalidMetadataKey {
                file: file(),
                key: k.to_string(),
                reason: "given twice",
            });
        }
    }

    // (name on disk, shape, little-endian bytes)
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(store.len() + extra.len());
    let mut frozen = Vec::new();
    for (_, p) in store.iter() {
        let name = p.path();
        if name.is_empty() {
            return Err(invalid(name, "empty parameter path"));
        }
        if name.starts_with(STATE_PREFIX) {
            return Err(invalid(name, "parameter paths may not start with \"state/\" (reserved for extra tensors)"));
        }
        if name.contains('\n') {
            return Err(invalid(name, "parameter paths may not contain a newline"));
        }
        if name == "__metadata__" {
            return Err(invalid(name, "\"__metadata__\" is the safetensors header key"));
        }
        if !p.trainable() {
            frozen.push(name);
        }
        let mut bytes = Vec::new();
        encode(p.data(), &mut bytes);
        tensors.push((name.to_string(), p.shape().to_vec(), bytes));
    }
    let mut seen = HashSet::new();
    for (name, shape, values) in extra {
        if !seen.insert(name.as_str()) {
            return Err(invalid(name, "extra tensor name given twice"));
        }
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n != Some(values.len()) {
            return Err(CheckpointError::ValueCount {
                file: file(),
                name: name.clone(),
                shape: shape.clone(),
                len: values.len(),
            });
        }
        let mut bytes = Vec::new();
        encode(values, &mut bytes);
        tensors.push((format!("{STATE_PREFIX}{name}"), shape.clone(), bytes));
    }

    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("dtype".to_string(), dtype_name(dtype_of::<F>()).to_string());
    meta.insert("frozen".to_string(), frozen.join("\n"));

    let dtype = dtype_of::<F>();
    let mut views = Vec::with_capacity(tensors.len());
    for (name, shape, bytes) in &tensors {
        // Lengths were checked above, so this cannot fail; map it anyway rather than panic.
        let view = TensorView::new(dtype, shape.clone(), bytes).map_err(|e| CheckpointError::Io {
            file: file(),
            action: "encode",
            source: io::Error::other(e),
        })?;
        views.push((name.as_str(), view));
    }
    let buf = safetensors::serialize(views, &Some(meta)).map_err(|e| CheckpointError::Io {
        file: file(),
        action: "encode",
        source: io::Error::other(e),
    })?;
    write_atomic(path, &buf)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_err = |action, source| CheckpointError::Io { file: path.to_path_buf(), action, source };

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let base = path.file_name().ok_or_else(|| {
        io_err("name a temporary file for", io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))
    })?;
    // The same directory keeps the rename on one filesystem (so it is atomic); pid and counter
    // keep concurrent writers in one or several processes apart.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(base);
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);

    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_err("create temporary file for", e))?;
        f.write_all(bytes).map_err(|e| io_err("write temporary file for", e))?;
        f.sync_all().map_err(|e| io_err("sync temporary file for", e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io_err("rename temporary file onto", e))
    })();
    if written.is_err() {
        // Best effort: the error being returned is the one that matters.
        let _ = fs::remove_file(&tmp);
        return written;
    }
    // Persist the rename itself. Directories cannot be opened for syncing everywhere (Windows),
    // and the data is already safe in the file, so failure here is not reported.
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads `path` into `store` strictly: see [`load_with`] with default [`LoadOptions`].
pub fn load<F: Scalar>(path: &Path, store: &mut ParamStore<F>) -> Result<Loaded<F>, CheckpointError> {
    load_with(path, store, LoadOptions::default())
}

/// Loads `path` into `store`. Every parameter of the store must be in the file with the same
/// shape and the store's dtype; parameters in the file that the store lacks are an error unless
/// `options.allow_unexpected`. Extra tensors must have the store's dtype too. If the file has a
/// `frozen` metadata entry (every file written by [`save`] has one), each parameter's trainable
/// flag is set from it; files from other tools leave the flags alone.
///
/// Nothing in `store` changes unless the whole load succeeds.
pub fn load_with<F: Scalar>(
    path: &Path,
    store: &mut ParamStore<F>,
    options: LoadOptions,
) -> Result<Loaded<F>, CheckpointError> {
    let file = || path.to_path_buf();
    let bytes = fs::read(path).map_err(|source| CheckpointError::Io { file: file(), action: "read", source })?;
    let (n, header): (usize, Metadata) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| CheckpointError::Corrupt { file: file(), reason: e.to_string() })?;
    // `read_metadata` checked that the offsets tile `bytes[8 + n..]` exactly.
    let data = &bytes[8 + n..];
    let metadata = header.metadata().clone().unwrap_or_default();
    if let Some(format) = metadata.get("format") {
        if format != FORMAT {
            return Err(CheckpointError::UnsupportedFormat { file: file(), format: format.clone() });
        }
    }

    let expected = dtype_of::<F>();
    let check_dtype = |name: &str, d: Dtype| {
        if d == expected {
            Ok(())
        } else {
            Err(CheckpointError::DtypeMismatch {
                file: file(),
                tensor: name.to_string(),
                file_dtype: format!("{d:?}"),
                expected: dtype_name(expected),
            })
        }
    };

    let infos = header.tensors();
    let mut staged: Vec<(ParamId, Vec<F>)> = Vec::with_capacity(store.len());
    for (id, p) in store.iter() {
        let info = infos
            .get(p.path())
            .filter(|_| !p.path().starts_with(STATE_PREFIX))
            .ok_or_else(|| CheckpointError::MissingParam { file: file(), param: p.path().to_string() })?;
        check_dtype(p.path(), info.dtype)?;
        if info.shape != p.shape() {
            return Err(CheckpointError::ShapeMismatch {
                file: file(),
                param: p.path().to_string(),
                file_shape: info.shape.clone(),
                store_shape: p.shape().to_vec(),
            });
        }
        let (s, e) = info.data_offsets;
        staged.push((id, decode(&data[s..e])));
    }

    let mut names: Vec<&String> = infos.keys().collect();
    names.sort();
    let mut extra = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        let info = infos[name];
        if let Some(short) = name.strip_prefix(STATE_PREFIX) {
            check_dtype(name, info.dtype)?;
            let (s, e) = info.data_offsets;
            extra.push((short.to_string(), info.shape.clone(), decode(&data[s..e])));
        } else if store.id(name).is_none() {
            if !options.allow_unexpected {
                return Err(CheckpointError::UnexpectedParam { file: file(), param: name.clone() });
            }
            skipped.push(name.clone());
        }
    }

    // Validation is complete: from here on nothing can fail.
    let frozen: Option<HashSet<&str>> =
        metadata.get("frozen").map(|s| s.split('\n').filter(|l| !l.is_empty()).collect());
    for (id, values) in staged {
        store.data_mut(id).copy_from_slice(&values);
        if let Some(frozen) = &frozen {
            let trainable = !frozen.contains(store.param(id).path());
            store.set_trainable(id, trainable);
        }
    }
    Ok(Loaded { extra, metadata, skipped })
}

/// Saves a training run: every parameter of `store` and the whole state of `optimizer` (its
/// moments and step count, each as a one-dimensional tensor), plus `metadata`. Resume it with
/// [`load_training`].
pub fn save_training<F: Scalar>(
    path: &Path,
    store: &ParamStore<F>,
    optimizer: &dyn Optimizer<F>,
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let extra: Vec<(String, Vec<usize>, Vec<F>)> =
        optimizer.state(store).into_iter().map(|(name, values)| (name, vec![values.len()], values)).collect();
    save(path, store, &extra, metadata)
}

/// Loads a training run saved by [`save_training`] into `store` and `optimizer`, strictly (as
/// [`load`]). Both or neither change: the parameters are loaded into a copy of the store, the
/// optimizer takes its state from the file against that copy (whose trainable flags are the
/// file's), and only then is the copy put in place. State the optimizer does not use is
/// ignored; state it needs and the file lacks is [`CheckpointError::OptimizerState`].
pub fn load_training<F: Scalar>(
    path: &Path,
    store: &mut ParamStore<F>,
    optimizer: &mut dyn Optimizer<F>,
) -> Result<Loaded<F>, CheckpointError> {
    load_training_checked(path, store, optimizer, |_| Ok(())).map(|(loaded, ())| loaded)
}

/// [`load_training`], with `check` reading the file's metadata before anything changes: its
/// error leaves the store and the optimizer as they were.
pub(crate) fn load_training_checked<F: Scalar, R>(
    path: &Path,
    store: &mut ParamStore<F>,
    optimizer: &mut dyn Optimizer<F>,
    check: impl FnOnce(&HashMap<String, String>) -> Result<R, CheckpointError>,
) -> Result<(Loaded<F>, R), CheckpointError> {
    let mut staged = store.clone();
    let loaded = load(path, &mut staged)?;
    let checked = check(&loaded.metadata)?;
    let state: Vec<(String, Vec<F>)> =
        loaded.extra.iter().map(|(name, _, values)| (name.clone(), values.clone())).collect();
    optimizer
        .load_state(&staged, &state)
        .map_err(|source| CheckpointError::OptimizerState { file: path.to_path_buf(), source })?;
    *store = staged;
    Ok((loaded, checked))
}
