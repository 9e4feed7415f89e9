//! numpy's `.npz` format: a zip archive of `.npy` files (stored or deflated), one per array,
//! keyed by the entry's name minus `.npy`.

use super::npy;
use ir::Tensor;
use std::io::{Read, Seek, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Decodes an archive into `(key, tensor)` pairs in archive order. The error says what is wrong,
/// without the file's name.
pub fn decode<R: Read + Seek>(reader: R) -> Result<Vec<(String, Tensor)>, String> {
    let mut archive =
        ZipArchive::new(reader).map_err(|e| format!("not a valid .npz file (zip archive): {e}"))?;
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("cannot read entry {i} of the archive: {e}"))?;
        let name = entry.name().to_string();
        let Some(key) = name.strip_suffix(".npy") else {
            return Err(format!("entry '{name}' is not a .npy file"));
        };
        let mut bytes = Vec::with_capacity(entry.size().min(1 << 30) as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("entry '{name}': {e}"))?;
        let tensor = npy::decode(&bytes).map_err(|e| format!("entry '{name}': {e}"))?;
        if out.iter().any(|(k, _)| k == key) {
            return Err(format!("key '{key}' appears twice"));
        }
        out.push((key.to_string(), tensor));
    }
    Ok(out)
}

/// Writes tensors as an uncompressed archive, like `numpy.savez`; returns the writer, unflushed.
pub fn encode<W: Write + Seek>(writer: W, tensors: &[(String, Tensor)]) -> Result<W, String> {
    let mut zip = ZipWriter::new(writer);
    for (name, t) in tensors {
        let bytes = npy::encode(t).map_err(|e| format!("tensor '{name}': {e}"))?;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        zip.start_file(format!("{name}.npy"), options)
            .and_then(|()| zip.write_all(&bytes).map_err(Into::into))
            .map_err(|e| format!("tensor '{name}': {e}"))?;
    }
    zip.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::DType;
    use std::io::Cursor;

    #[test]
    fn archives_round_trip_in_order() {
        let tensors = vec![
            (
                "b".to_string(),
                Tensor::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
            ),
            (
                "a/x".to_string(),
                Tensor::from_i64(vec![1], vec![7]).unwrap(),
            ),
            (
                "flag".to_string(),
                Tensor::from_bool(vec![], vec![true]).unwrap(),
            ),
        ];
        let mut buf = Cursor::new(Vec::new());
        encode(&mut buf, &tensors).unwrap();
        buf.set_position(0);
        assert_eq!(decode(buf).unwrap(), tensors);
    }

    #[test]
    fn bf16_is_refused_with_the_tensor_named() {
        let t = Tensor::from_f64(DType::BF16, vec![1], &[1.0]).unwrap();
        let err = encode(Cursor::new(Vec::new()), &[("y".into(), t)]).unwrap_err();
        assert!(err.contains("'y'") && err.contains("bf16"), "{err}");
    }

    #[test]
    fn garbage_is_not_an_archive() {
        let err = decode(Cursor::new(b"hello".to_vec())).unwrap_err();
        assert!(err.contains("not a valid .npz"), "{err}");
    }
}
