//! Tensor files: numpy `.npy`/`.npz` and ONNX `TensorProto` `.pb`, read and written with errors
//! that name the file. Writes are atomic: a temporary file in the same folder, then a rename.

pub mod npy;
pub mod npz;

use crate::error::Error;
use ir::Tensor;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
    npy::decode(&bytes).map_err(|msg| Error::format(path, msg))
}

/// Writes a `.npy` file atomically.
pub fn write_npy(path: &Path, tensor: &Tensor) -> Result<(), Error> {
    let bytes = npy::encode(tensor)
        .map_err(|msg| Error::Unrepresentable(format!("{}: {msg}", path.display())))?;
    write_atomic(path, |f| {
        f.write_all(&bytes)
            .map_err(|e| Error::io(path, "cannot write", e))
    })
}

/// Reads a `.npz` file into `(key, tensor)` pairs in archive order.
pub fn read_npz(path: &Path) -> Result<Vec<(String, Tensor)>, Error> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    npz::decode(BufReader::new(file)).map_err(|msg| Error::format(path, msg))
}

/// Writes a `.npz` file atomically (uncompressed, like `numpy.savez`).
pub fn write_npz(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), Error> {
    write_atomic(path, |f| {
        let buffered = npz::encode(BufWriter::new(f), tensors)
            .map_err(|msg| Error::Unrepresentable(format!("{}: {msg}", path.display())))?;
        buffered
            .into_inner()
            .map(drop)
            .map_err(|e| Error::io(path, "cannot write", e.into_error()))
    })
}

/// Reads a serialized ONNX `TensorProto`; returns its stored name (may be empty) and value.
pub fn read_pb(path: &Path) -> Result<(String, Tensor), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
    ir::onnx::tensor_from_bytes(&bytes).map_err(|e| Error::format(path, e.to_string()))
}

/// Reads one tensor from a `.npy` or `.pb` file, chosen by extension.
pub fn read_tensor(path: &Path) -> Result<Tensor, Error> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => read_npy(path),
        Some("pb") => read_pb(path).map(|(_, t)| t),
        _ => Err(Error::format(
            path,
            "unknown tensor file type (expected a .npy or .pb file)",
        )),
    }
}

/// Runs `write` on a temporary file next to `path`, then renames it over `path`; on any error
/// the temporary file is removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), Error>,
) -> Result<(), Error> {
    let tmp = temp_path(path);
    let result = File::create(&tmp)
        .map_err(|e| Error::io(path, "cannot create", e))
        .and_then(|mut f| {
            write(&mut f)?;
            f.sync_all().map_err(|e| Error::io(path, "cannot write", e))
        })
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "cannot write", e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tenfold-io-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn files_round_trip_and_leave_no_temporaries() {
        let dir = scratch_dir("roundtrip");
        let t = Tensor::from_f32(vec![3], vec![1.0, -2.0, 0.5]).unwrap();
        write_npy(&dir.join("x.npy"), &t).unwrap();
        assert_eq!(read_npy(&dir.join("x.npy")).unwrap(), t);
        let pairs = vec![("x".to_string(), t.clone())];
        write_npz(&dir.join("x.npz"), &pairs).unwrap();
        assert_eq!(read_npz(&dir.join("x.npz")).unwrap(), pairs);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["x.npy", "x.npz"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = scratch_dir("failed");
        let path = dir.join("y.npz");
        std::fs::write(&path, b"old").unwrap();
        let bf16 = Tensor::from_f64(ir::DType::BF16, vec![1], &[1.0]).unwrap();
        let err = write_npz(&path, &[("y".into(), bf16)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bf16") && err.contains("y.npz"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// np.arange(n) reshaped and cast, the content of every fixture (see make_fixtures.py).
    fn arange(dtype: ir::DType, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        if dtype == ir::DType::Bool {
            let v = (0..n).map(|i| i % 3 == 0).collect();
            return Tensor::from_bool(shape.to_vec(), v).unwrap();
        }
        let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
        Tensor::from_f64(dtype, shape.to_vec(), &v).unwrap()
    }

    #[test]
    fn files_written_by_numpy_read_back() {
        use ir::DType::*;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/npy");
        let cases: &[(&str, ir::DType, &[usize])] = &[
            ("f4_2x3", F32, &[2, 3]),
            ("f4_2x3_v2", F32, &[2, 3]),
            ("f4_2x3_v3", F32, &[2, 3]),
            ("f2_scalar", F16, &[]),
            ("f8_empty", F64, &[0, 3]),
            ("i1_5", I8, &[5]),
            ("i2_big_2x2", I16, &[2, 2]),
            ("i4_3", I32, &[3]),
            ("i8_big_2x3", I64, &[2, 3]),
            ("u1_4", U8, &[4]),
            ("u2_4", U16, &[4]),
            ("u4_4", U32, &[4]),
            ("u8_4", U64, &[4]),
            ("b1_2x3", Bool, &[2, 3]),
            ("f8_fortran_2x3x4", F64, &[2, 3, 4]),
            ("f4_big_fortran_3x2", F32, &[3, 2]),
        ];
        for &(name, dtype, shape) in cases {
            let t = read_npy(&dir.join(format!("{name}.npy"))).unwrap();
            assert_eq!(t, arange(dtype, shape), "{name}");
        }
        for archive in ["stored.npz", "deflated.npz"] {
            let pairs = read_npz(&dir.join(archive)).unwrap();
            let want = vec![
                ("a".to_string(), arange(F32, &[2, 3])),
                ("b".to_string(), arange(I64, &[4])),
            ];
            assert_eq!(pairs, want, "{archive}");
        }
    }

    #[test]
    fn missing_files_name_the_path() {
        let err = read_npy(Path::new("/nonexistent/q.npy"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/nonexistent/q.npy: cannot read"), "{err}");
    }
}
