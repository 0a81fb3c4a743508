//! Checkpoint round trips, corrupted files and mismatches against the store.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use autodiff::optim::{Adam, Optimizer};
use autodiff::{ParamStore, Scalar};
use layers::checkpoint::{load, load_training, load_with, save, save_training, CheckpointError, LoadOptions, FORMAT};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("layers-ckpt-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Exact bit patterns, so NaN payloads and signed zeros compare.
trait Bits: Scalar {
    fn bits(self) -> u64;
}
impl Bits for f32 {
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}
impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

fn bits<F: Bits>(v: &[F]) -> Vec<u64> {
    v.iter().map(|x| x.bits()).collect()
}

type Snapshot = Vec<(String, Vec<usize>, Vec<u64>, bool)>;

fn snapshot<F: Bits>(store: &ParamStore<F>) -> Snapshot {
    store.iter().map(|(_, p)| (p.path().to_string(), p.shape().to_vec(), bits(p.data()), p.trainable())).collect()
}

/// A small store: `net/w` [2, 3] holding `w`, frozen `net/b` [3], scalar `net/scale` [] and an
/// empty `net/empty` [0, 4].
fn store_with<F: Scalar>(w: &[F]) -> ParamStore<F> {
    let mut s = ParamStore::new(1);
    s.insert("net/w", &[2, 3], w.to_vec(), true);
    s.insert("net/b", &[3], vec![F::of(0.5), F::of(-1.5), F::of(2.25)], false);
    s.insert("net/scale", &[], vec![F::of(3.0)], true);
    s.insert("net/empty", &[0, 4], vec![], true);
    s
}

/// Same paths and shapes as `store_with`, other values and flags.
fn blank_store<F: Scalar>() -> ParamStore<F> {
    let mut s = ParamStore::new(2);
    s.insert("net/w", &[2, 3], vec![F::of(9.0); 6], false);
    s.insert("net/b", &[3], vec![F::of(9.0); 3], true);
    s.insert("net/scale", &[], vec![F::of(9.0)], false);
    s.insert("net/empty", &[0, 4], vec![], true);
    s
}

fn round_trip<F: Bits>(w: Vec<F>, m: Vec<F>) {
    let dir = TempDir::new("roundtrip");
    let path = dir.file("model.safetensors");
    let store = store_with(&w);
    let extra = vec![
        ("adam/m/net/w".to_string(), vec![6], m.clone()),
        ("adam/step".to_string(), vec![], vec![F::of(7.0)]),
        ("adam/v/net/w".to_string(), vec![2, 3], vec![F::of(0.125); 6]),
    ];
    save(&path, &store, &extra, &[("epoch", "12"), ("note", "a, b\nc")]).unwrap();

    let mut loaded = blank_store::<F>();
    let out = load(&path, &mut loaded).unwrap();
    assert_eq!(snapshot(&loaded), snapshot(&store));
    assert_eq!(bits(loaded.get("net/w").unwrap()), bits(&w));
    assert!(!loaded.param(loaded.id("net/b").unwrap()).trainable());
    assert!(loaded.param(loaded.id("net/w").unwrap()).trainable());
    assert!(loaded.param(loaded.id("net/scale").unwrap()).trainable());

    // Extras come back without the "state/" prefix, sorted by name.
    let names: Vec<&str> = out.extra.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["adam/m/net/w", "adam/step", "adam/v/net/w"]);
    assert_eq!(out.extra[0].1, [6]);
    assert_eq!(bits(&out.extra[0].2), bits(&m));
    assert_eq!(out.extra[1].1, Vec::<usize>::new());
    assert_eq!(bits(&out.extra[1].2), bits(&[F::of(7.0)]));
    assert_eq!(out.extra[2].1, [2, 3]);
    assert_eq!(bits(&out.extra[2].2), bits(&[F::of(0.125); 6]));

    let dtype = if std::mem::size_of::<F>() == 4 { "F32" } else { "F64" };
    assert_eq!(out.metadata["format"], FORMAT);
    assert_eq!(out.metadata["dtype"], dtype);
    assert_eq!(out.metadata["frozen"], "net/b");
    assert_eq!(out.metadata["epoch"], "12");
    assert_eq!(out.metadata["note"], "a, b\nc");
    assert_eq!(out.metadata.len(), 5);
    assert!(out.skipped.is_empty());
    // Only the checkpoint is left: the temporary file was renamed onto it.
    assert_eq!(dir.entries(), ["model.safetensors"]);
}

#[test]
fn round_trip_f32_is_bit_exact() {
    let w = vec![
        -0.0f32,
        f32::from_bits(1),       // smallest subnormal
        f32::MIN_POSITIVE / 4.0, // subnormal
        1e38,
        f32::from_bits(0x7fc0_1234), // quiet NaN with a payload
        f32::from_bits(0xff80_0001), // negative signalling NaN
    ];
    let m = vec![f32::INFINITY, f32::NEG_INFINITY, -1e38, f32::MAX, 0.0, -f32::from_bits(3)];
    round_trip(w, m);
}

#[test]
fn round_trip_f64_is_bit_exact() {
    let w = vec![
        -0.0f64,
        f64::from_bits(1), // 5e-324
        f64::MIN_POSITIVE / 1024.0,
        1e38,
        f64::from_bits(0x7ff8_0000_dead_beef),
        f64::from_bits(0xfff0_0000_0000_0001),
    ];
    let m = vec![f64::INFINITY, f64::NEG_INFINITY, 1e308, f64::MAX, 0.1, -f64::from_bits(3)];
    round_trip(w, m);
}

#[test]
fn saving_again_replaces_the_file_atomically() {
    let dir = TempDir::new("replace");
    let path = dir.file("ckpt.safetensors");
    save(&path, &store_with(&[1.0f64; 6]), &[], &[]).unwrap();
    save(&path, &store_with(&[2.0f64; 6]), &[], &[]).unwrap();
    assert_eq!(dir.entries(), ["ckpt.safetensors"]);
    let mut s = blank_store::<f64>();
    load(&path, &mut s).unwrap();
    assert_eq!(s.get("net/w").unwrap(), &[2.0; 6]);
}

#[test]
fn file_is_readable_by_the_safetensors_crate() {
    let dir = TempDir::new("interop");
    let path = dir.file("model.safetensors");
    let w = [1.0f32, -2.0, 0.5, 1e-3, -0.0, 3.25];
    save(&path, &store_with(&w), &[("adam/m/net/w".to_string(), vec![6], vec![0.25f32; 6])], &[("epoch", "3")])
        .unwrap();

    let bytes = fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("net/w").unwrap();
    assert_eq!(t.dtype(), Dtype::F32);
    assert_eq!(t.shape(), &[2, 3]);
    let expected: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(t.data(), &expected[..]);

    let b = st.tensor("net/b").unwrap();
    assert_eq!(b.shape(), &[3]);
    assert_eq!(b.data(), &[0.5f32, -1.5, 2.25].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>()[..]);
    let scale = st.tensor("net/scale").unwrap();
    assert_eq!(scale.shape(), &[] as &[usize]);
    assert_eq!(scale.data(), &3.0f32.to_le_bytes());
    let m = st.tensor("state/adam/m/net/w").unwrap();
    assert_eq!(m.shape(), &[6]);
    assert_eq!(m.data(), &[0.25f32; 6].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>()[..]);

    let mut names: Vec<&String> = st.names();
    names.sort();
    assert_eq!(names, ["net/b", "net/empty", "net/scale", "net/w", "state/adam/m/net/w"]);

    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert_eq!(meta["format"], "bayes-rs-checkpoint/1");
    assert_eq!(meta["dtype"], "F32");
    assert_eq!(meta["frozen"], "net/b");
    assert_eq!(meta["epoch"], "3");
}

/// Asserts `err` is `Corrupt` naming `path`.
fn assert_corrupt(err: CheckpointError, path: &Path, what: &str) {
    let msg = err.to_string();
    match err {
        CheckpointError::Corrupt { file, .. } => assert_eq!(file, path, "{what}"),
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    }
    assert!(msg.contains("truncated or corrupted"), "{what}: {msg}");
    assert!(msg.contains(&path.display().to_string()), "{what}: {msg}");
}

/// Writes `bytes` to `path`, loads it into a populated store and checks the error is `Corrupt`
/// and the store unchanged.
fn expect_corrupt(path: &Path, bytes: &[u8], what: &str) {
    fs::write(path, bytes).unwrap();
    let mut s = store_with(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let before = snapshot(&s);
    assert_corrupt(load(path, &mut s).unwrap_err(), path, what);
    assert_eq!(snapshot(&s), before, "{what}");
}

fn header_len(bytes: &[u8]) -> usize {
    u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn truncated_files_are_rejected() {
    let dir = TempDir::new("truncated");
    let good = dir.file("good.safetensors");
    save(&good, &store_with(&[0.5f32; 6]), &[("adam/m/net/w".to_string(), vec![6], vec![1.0; 6])], &[]).unwrap();
    let bytes = fs::read(&good).unwrap();
    let n = header_len(&bytes);
    // Data: w (6) + b (3) + scale (1) + m (6) f32 values.
    assert_eq!(bytes.len(), 8 + n + 16 * 4);

    let bad = dir.file("bad.safetensors");
    for cut in [0, 1, 7, 8, 9, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 1, 8 + n + 30, bytes.len() - 1] {
        expect_corrupt(&bad, &bytes[..cut], &format!("truncated at {cut} of {}", bytes.len()));
    }
    // Trailing bytes are as wrong as missing ones.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 4]);
    expect_corrupt(&bad, &longer, "4 bytes appended");
}

#[test]
fn flipped_header_length_bits_are_rejected() {
    let dir = TempDir::new("flipped");
    let good = dir.file("good.safetensors");
    save(&good, &store_with(&[0.5f32; 6]), &[], &[]).unwrap();
    let bytes = fs::read(&good).unwrap();
    let bad = dir.file("bad.safetensors");
    // Every single-bit change of the 8-byte header length: the header then either ends inside
    // the JSON, runs into the data, or claims more than the file holds.
    for byte in 0..8 {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[byte] ^= 1 << bit;
            expect_corrupt(&bad, &b, &format!("length byte {byte} bit {bit} flipped"));
        }
    }
}

#[test]
fn garbage_and_malformed_headers_are_rejected() {
    let dir = TempDir::new("garbage");
    let bad = dir.file("bad.safetensors");
    expect_corrupt(&bad, b"", "empty file");
    expect_corrupt(&bad, b"not a checkpoint at all", "text");
    // A fixed pseudo-random stream (64-bit LCG, Knuth's constants).
    let mut x = 0x1234_5678_9abc_def0u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect();
    expect_corrupt(&bad, &noise, "random bytes");

    let with_header = |json: &str, data: &[u8]| {
        let mut b = (json.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(json.as_bytes());
        b.extend_from_slice(data);
        b
    };
    expect_corrupt(&bad, &with_header("{\"net/w\": {\"dtype\"", &[]), "JSON cut short");
    expect_corrupt(&bad, &with_header("[1, 2, 3]", &[]), "JSON not an object");
    expect_corrupt(
        &bad,
        &with_header(r#"{"net/w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,240]}}"#, &[0; 24]),
        "offsets past the end of the file",
    );
    expect_corrupt(
        &bad,
        &with_header(r#"{"net/w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, &[0; 20]),
        "offsets not matching the shape",
    );
    expect_corrupt(
        &bad,
        &with_header(r#"{"net/w":{"dtype":"F32","shape":[2,3],"data_offsets":[4,28]}}"#, &[0; 28]),
        "offsets leaving a gap",
    );
    let mut flipped = fs::read({
        save(&bad, &store_with(&[0.5f32; 6]), &[], &[]).unwrap();
        &bad
    })
    .unwrap();
    flipped[8] = b'x'; // the opening brace of the JSON
    expect_corrupt(&bad, &flipped, "JSON's first byte changed");
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = TempDir::new("missing");
    let path = dir.file("nope.safetensors");
    let mut s = store_with(&[1.0f64; 6]);
    let err = load(&path, &mut s).unwrap_err();
    let msg = err.to_string();
    match &err {
        CheckpointError::Io { file, source, .. } => {
            assert_eq!(file, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn missing_param_leaves_store_unchanged() {
    let dir = TempDir::new("missingparam");
    let path = dir.file("ckpt.safetensors");
    save(&path, &store_with(&[1.0f32; 6]), &[], &[]).unwrap();

    // The store's first parameters are in the file and would load; the last is not.
    let mut s = blank_store::<f32>();
    s.insert("net/extra_layer/kernel", &[4, 2], vec![7.0; 8], true);
    let before = snapshot(&s);
    let err = load(&path, &mut s).unwrap_err();
    let msg = err.to_string();
    match err {
        CheckpointError::MissingParam { file, param } => {
            assert_eq!(file, path);
            assert_eq!(param, "net/extra_layer/kernel");
        }
        other => panic!("expected MissingParam, got {other:?}"),
    }
    assert!(msg.contains(&path.display().to_string()) && msg.contains("\"net/extra_layer/kernel\""), "{msg}");
    assert_eq!(snapshot(&s), before);
}

#[test]
fn shape_mismatch_names_both_shapes_and_leaves_store_unchanged() {
    let dir = TempDir::new("shape");
    let path = dir.file("ckpt.safetensors");
    save(&path, &store_with(&[1.0f64; 6]), &[], &[]).unwrap();

    let mut s = ParamStore::<f64>::new(3);
    s.insert("net/b", &[3], vec![4.0, 5.0, 6.0], true);
    s.insert("net/w", &[3, 2], vec![-1.0; 6], true);
    s.insert("net/scale", &[], vec![8.0], true);
    s.insert("net/empty", &[0, 4], vec![], true);
    let before = snapshot(&s);
    let err = load(&path, &mut s).unwrap_err();
    let msg = err.to_string();
    match err {
        CheckpointError::ShapeMismatch { file, param, file_shape, store_shape } => {
            assert_eq!(file, path);
            assert_eq!(param, "net/w");
            assert_eq!(file_shape, [2, 3]);
            assert_eq!(store_shape, [3, 2]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(msg.contains("\"net/w\"") && msg.contains("[2, 3]") && msg.contains("[3, 2]"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_eq!(snapshot(&s), before);
}

#[test]
fn f64_file_into_f32_store_is_a_dtype_mismatch() {
    let dir = TempDir::new("dtype");
    let path = dir.file("ckpt.safetensors");
    save(&path, &store_with(&[1.0f64; 6]), &[], &[]).unwrap();

    let mut s = store_with(&[2.0f32; 6]);
    let before = snapshot(&s);
    let err = load(&path, &mut s).unwrap_err();
    let msg = err.to_string();
    match err {
        CheckpointError::DtypeMismatch { file, tensor, file_dtype, expected } => {
            assert_eq!(file, path);
            // The first parameter in creation order.
            assert_eq!(tensor, "net/w");
            assert_eq!(file_dtype, "F64");
            assert_eq!(expected, "F32");
        }
        other => panic!("expected DtypeMismatch, got {other:?}"),
    }
    assert!(msg.contains("\"net/w\"") && msg.contains("F64") && msg.contains("F32"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_eq!(snapshot(&s), before);
}

/// Writes a safetensors file the way other tools would (no checkpoint metadata).
fn write_foreign(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)], meta: Option<HashMap<String, String>>) {
    let views: Vec<(&str, TensorView)> =
        tensors.iter().map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap())).collect();
    fs::write(path, safetensors::serialize(views, &meta).unwrap()).unwrap();
}

fn le32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn foreign_file_loads_and_keeps_trainable_flags() {
    let dir = TempDir::new("foreign");
    let path = dir.file("torch.safetensors");
    write_foreign(
        &path,
        &[
            ("net/w", Dtype::F32, vec![2, 3], le32(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
            ("net/b", Dtype::F32, vec![3], le32(&[7.0, 8.0, 9.0])),
            ("net/scale", Dtype::F32, vec![], le32(&[10.0])),
            ("net/empty", Dtype::F32, vec![0, 4], vec![]),
        ],
        None,
    );
    let mut s = blank_store::<f32>();
    let out = load(&path, &mut s).unwrap();
    assert_eq!(s.get("net/w").unwrap(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(s.get("net/b").unwrap(), &[7.0, 8.0, 9.0]);
    assert_eq!(s.get("net/scale").unwrap(), &[10.0]);
    // No "frozen" entry: the flags of `blank_store` stay as they were.
    assert!(!s.param(s.id("net/w").unwrap()).trainable());
    assert!(s.param(s.id("net/b").unwrap()).trainable());
    assert!(out.extra.is_empty() && out.metadata.is_empty());
}

#[test]
fn extra_tensor_with_wrong_dtype_is_rejected() {
    let dir = TempDir::new("extradtype");
    let path = dir.file("ckpt.safetensors");
    write_foreign(
        &path,
        &[
            ("net/w", Dtype::F32, vec![2, 3], le32(&[1.0; 6])),
            ("net/b", Dtype::F32, vec![3], le32(&[1.0; 3])),
            ("net/scale", Dtype::F32, vec![], le32(&[1.0])),
            ("net/empty", Dtype::F32, vec![0, 4], vec![]),
            ("state/adam/step", Dtype::I64, vec![], 5i64.to_le_bytes().to_vec()),
        ],
        None,
    );
    let mut s = blank_store::<f32>();
    let before = snapshot(&s);
    match load(&path, &mut s).unwrap_err() {
        CheckpointError::DtypeMismatch { file, tensor, file_dtype, expected } => {
            assert_eq!(file, path);
            assert_eq!(tensor, "state/adam/step");
            assert_eq!(file_dtype, "I64");
            assert_eq!(expected, "F32");
        }
        other => panic!("expected DtypeMismatch, got {other:?}"),
    }
    assert_eq!(snapshot(&s), before);
}

#[test]
fn unexpected_param_is_rejected_unless_allowed() {
    let dir = TempDir::new("unexpected");
    let path = dir.file("ckpt.safetensors");
    let mut big = store_with(&[3.0f32; 6]);
    big.insert("old/head", &[2], vec![1.0, 2.0], true);
    save(&path, &big, &[("optim/lr".to_string(), vec![], vec![0.01])], &[]).unwrap();

    let mut s = blank_store::<f32>();
    let before = snapshot(&s);
    let err = load(&path, &mut s).unwrap_err();
    let msg = err.to_string();
    match err {
        CheckpointError::UnexpectedParam { file, param } => {
            assert_eq!(file, path);
            assert_eq!(param, "old/head");
        }
        other => panic!("expected UnexpectedParam, got {other:?}"),
    }
    assert!(msg.contains("\"old/head\"") && msg.contains(&path.display().to_string()), "{msg}");
    assert_eq!(snapshot(&s), before);

    let out = load_with(&path, &mut s, LoadOptions { allow_unexpected: true }).unwrap();
    assert_eq!(out.skipped, ["old/head"]);
    assert_eq!(s.get("net/w").unwrap(), &[3.0; 6]);
    assert!(s.id("old/head").is_none());
    // Extra state is never mistaken for an unexpected parameter.
    assert_eq!(out.extra, vec![("optim/lr".to_string(), vec![], vec![0.01f32])]);
}

#[test]
fn unknown_format_version_is_rejected() {
    let dir = TempDir::new("format");
    let path = dir.file("ckpt.safetensors");
    let meta = HashMap::from([("format".to_string(), "bayes-rs-checkpoint/2".to_string())]);
    write_foreign(&path, &[("net/w", Dtype::F32, vec![2, 3], le32(&[1.0; 6]))], Some(meta));
    let mut s = blank_store::<f32>();
    let before = snapshot(&s);
    match load(&path, &mut s).unwrap_err() {
        CheckpointError::UnsupportedFormat { file, format } => {
            assert_eq!(file, path);
            assert_eq!(format, "bayes-rs-checkpoint/2");
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
    assert_eq!(snapshot(&s), before);
}

#[test]
fn invalid_save_input_writes_nothing() {
    let dir = TempDir::new("badsave");
    let path = dir.file("ckpt.safetensors");

    let mut s = store_with(&[1.0f32; 6]);
    s.insert("state/oops", &[1], vec![0.0], true);
    match save(&path, &s, &[], &[]).unwrap_err() {
        CheckpointError::InvalidName { file, name, .. } => {
            assert_eq!(file, path);
            assert_eq!(name, "state/oops");
        }
        other => panic!("expected InvalidName, got {other:?}"),
    }

    let s = store_with(&[1.0f32; 6]);
    let extra = vec![("adam/m".to_string(), vec![2, 3], vec![0.0f32; 5])];
    let err = save(&path, &s, &extra, &[]).unwrap_err();
    assert!(err.to_string().contains("5 values for shape [2, 3]"), "{err}");
    assert!(matches!(err, CheckpointError::ValueCount { ref name, len: 5, .. } if name == "adam/m"));

    let extra = vec![("a".to_string(), vec![1], vec![0.0f32]), ("a".to_string(), vec![1], vec![1.0f32])];
    assert!(matches!(save(&path, &s, &extra, &[]).unwrap_err(), CheckpointError::InvalidName { .. }));

    match save(&path, &s, &[], &[("format", "mine")]).unwrap_err() {
        CheckpointError::InvalidMetadataKey { file, key, .. } => {
            assert_eq!(file, path);
            assert_eq!(key, "format");
        }
        other => panic!("expected InvalidMetadataKey, got {other:?}"),
    }
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
}

#[test]
fn failed_write_leaves_no_temporary_file() {
    let dir = TempDir::new("failwrite");
    let path = dir.file("ckpt.safetensors");
    save(&path, &store_with(&[1.0f32; 6]), &[], &[]).unwrap();
    let old = fs::read(&path).unwrap();
    // Renaming a file onto a non-empty directory fails on every platform.
    let blocker = dir.file("dir.safetensors");
    fs::create_dir(&blocker).unwrap();
    fs::write(blocker.join("keep"), b"x").unwrap();
    match save(&blocker, &store_with(&[2.0f32; 6]), &[], &[]).unwrap_err() {
        CheckpointError::Io { file, .. } => assert_eq!(file, blocker),
        other => panic!("expected Io, got {other:?}"),
    }
    assert_eq!(dir.entries(), ["ckpt.safetensors", "dir.safetensors"]);
    assert_eq!(fs::read(&path).unwrap(), old);
}

#[test]
fn a_training_run_resumes_exactly_and_a_file_without_its_optimizer_state_changes_nothing() {
    let dir = TempDir::new("training");
    let path = dir.file("run.safetensors");
    let mut store = store_with(&[0.5f32, -1.0, 2.0, 0.25, -0.75, 1.5]);
    let (w, scale) = (store.id("net/w").unwrap(), store.id("net/scale").unwrap());
    let grads = |k: f32| [0.1 * k, -0.2, 0.3, -0.4 * k, 0.5, -0.6];
    let mut adam = Adam::<f32>::new(0.01);
    for k in 0..3 {
        adam.step(&mut store, &[(w, &grads(k as f32)), (scale, &[0.7])]).unwrap();
    }
    save_training(&path, &store, &adam, &[("epoch", "3")]).unwrap();

    // Resumed, both copies take the same next step to the bit.
    let mut resumed = blank_store::<f32>();
    let mut resumed_adam = Adam::<f32>::new(0.01);
    let loaded = load_training(&path, &mut resumed, &mut resumed_adam).unwrap();
    assert_eq!(loaded.metadata["epoch"], "3");
    assert_eq!((snapshot(&resumed), resumed_adam.steps()), (snapshot(&store), 3));
    adam.step(&mut store, &[(w, &grads(5.0)), (scale, &[0.7])]).unwrap();
    resumed_adam.step(&mut resumed, &[(w, &grads(5.0)), (scale, &[0.7])]).unwrap();
    assert_eq!(snapshot(&resumed), snapshot(&store));

    // A file with the parameters but not the moments: neither the store nor the optimizer moves.
    let params_only = dir.file("params_only.safetensors");
    save(&params_only, &store, &[], &[]).unwrap();
    let mut target = blank_store::<f32>();
    let before = snapshot(&target);
    let mut fresh = Adam::<f32>::new(0.01);
    let err = load_training(&params_only, &mut target, &mut fresh).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CheckpointError::OptimizerState { .. }), "{err:?}");
    assert!(msg.contains(&params_only.display().to_string()) && msg.contains("adam/"), "{msg}");
    assert_eq!((snapshot(&target), fresh.steps()), (before, 0));
    assert!(fresh.state(&target).iter().all(|(_, v)| v.iter().all(|&x| x == 0.0)));
}

#[test]
fn a_saved_and_reloaded_model_predicts_and_trains_on_identically() {
    use layers::{Dataset, DenseFlipout, FitOptions, Likelihood, Mode, Model, Sequential};
    let net = || Sequential::new().add(DenseFlipout::<f32>::new(8)).add(DenseFlipout::new(3));
    let x: Vec<f32> = (0..96).map(|i| ((i * 29) % 17) as f32 / 17.0 - 0.5).collect();
    let y: Vec<f32> = (0..24).map(|i| (i % 3) as f32).collect();
    let data = Dataset::new(x.clone(), &[4], y, &[1]).unwrap();
    let opts = |seed| FitOptions { epochs: 2, batch_size: 8, shuffle: true, seed, threads: Some(1) };
    let mut model = Model::new(net(), &[4], Likelihood::Categorical, 1).unwrap();
    let mut adam = Adam::<f32>::new(0.01);
    model.fit(&data, &opts(5), &mut adam, |_| {}).unwrap();
    let dir = TempDir::new("model");
    let path = dir.file("model.safetensors");
    model.save_training(&path, &adam, &[("note", "two epochs")]).unwrap();

    // A fresh model (its initial values, not the trained ones), then the checkpoint. The seed
    // is the model's, a constructor argument: it keys `predict`'s stochastic passes.
    let mut reloaded = Model::new(net(), &[4], Likelihood::Categorical, 1).unwrap();
    let mut reloaded_adam = Adam::<f32>::new(0.01);
    assert_ne!(snapshot(reloaded.store()), snapshot(model.store()));
    let loaded = reloaded.load_training(&path, &mut reloaded_adam).unwrap();
    assert_eq!((loaded.metadata["note"].as_str(), loaded.metadata["epochs_trained"].as_str()), ("two epochs", "2"));
    assert_eq!(snapshot(reloaded.store()), snapshot(model.store()));
    assert_eq!((reloaded.epochs_trained(), reloaded.steps_trained()), (2, 6));
    let mean = |m: &mut Model<f32>| m.predict(&x, Mode::Mean, 0).unwrap().0;
    let sample = |m: &mut Model<f32>| m.predict(&x, Mode::Sample, 3).unwrap().0;
    assert_eq!(bits(&mean(&mut reloaded)), bits(&mean(&mut model)));
    assert_eq!(bits(&sample(&mut reloaded)), bits(&sample(&mut model)));
    let mc = |m: &mut Model<f32>| m.predict_mc(&x, 8, 4).unwrap().mean;
    assert_eq!(mc(&mut reloaded), mc(&mut model));
    // Training on from the checkpoint continues the same run: the same shuffles and noise as
    // the original's third and fourth epochs.
    model.fit(&data, &opts(5), &mut adam, |_| {}).unwrap();
    reloaded.fit(&data, &opts(5), &mut reloaded_adam, |_| {}).unwrap();
    assert_eq!(snapshot(reloaded.store()), snapshot(model.store()));
    // A progress entry that is not a count: an error naming it, and nothing changes.
    let bad = dir.file("bad.safetensors");
    save_training(&bad, model.store(), &adam, &[("epochs_trained", "two")]).unwrap();
    let before = snapshot(reloaded.store());
    let e = reloaded.load_training(&bad, &mut reloaded_adam).unwrap_err().to_string();
    assert!(e.contains("metadata \"epochs_trained\" is \"two\", not a count"), "{e}");
    assert_eq!((snapshot(reloaded.store()), reloaded.epochs_trained()), (before, 4));
}
