//! The inputs of a run: tensors from `--inputs`/`--input` files, and seeded random data of the
//! declared shape and dtype for the rest (floats uniform in [-1, 1), integers in [0, 10), bools
//! fair coins; symbolic dims take `--dim` values, sizes fixed by given feeds, or 1).

use super::args::FeedArgs;
use crate::error::Error;
use crate::io;
use ir::shape::display_shape;
use ir::{DType, Dim, Graph, Tensor, TensorType};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Generated inputs larger than this many elements are refused (give the data instead).
const MAX_GENERATED_ELEMENTS: usize = 1 << 30;

/// The feeds of a run and where each came from.
pub struct Feeds {
    pub tensors: HashMap<String, Tensor>,
    /// The file each given (not generated) feed was read from.
    pub sources: HashMap<String, PathBuf>,
    /// Things the user should know (symbolic dims that defaulted to 1...).
    pub notes: Vec<String>,
}

/// Parses `NAME=SIZE` specs of `--dim`.
pub fn parse_dims(specs: &[String]) -> Result<BTreeMap<String, usize>, Error> {
    let mut dims = BTreeMap::new();
    for spec in specs {
        let parsed = spec
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .and_then(|(name, size)| Some((name, size.trim().parse::<usize>().ok()?)));
        let Some((name, size)) = parsed else {
            return Err(Error::Invalid(format!(
                "bad --dim '{spec}': expected NAME=SIZE with SIZE a non-negative integer"
            )));
        };
        dims.insert(name.to_string(), size);
    }
    Ok(dims)
}

/// Reads the given inputs and generates the missing ones.
pub fn build(graph: &Graph, args: &FeedArgs) -> Result<Feeds, Error> {
    let input_names: Vec<&str> = graph
        .inputs
        .iter()
        .map(|&i| graph.value(i).name.as_str())
        .collect();
    let not_an_input = |name: &str| {
        let known = if input_names.is_empty() {
            "the model has no inputs".to_string()
        } else {
            format!("inputs: {}", input_names.join(", "))
        };
        format!("'{name}' is not an input of the model ({known})")
    };
    let mut tensors = HashMap::new();
    let mut sources = HashMap::new();
    if let Some(path) = &args.inputs {
        for (name, t) in io::read_npz(path)? {
            if !input_names.contains(&name.as_str()) {
                return Err(Error::format(path, not_an_input(&name)));
            }
            sources.insert(name.clone(), path.clone());
            tensors.insert(name, t);
        }
    }
    for spec in &args.input {
        let Some((name, file)) = spec
            .split_once('=')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty())
        else {
            return Err(Error::Invalid(format!(
                "bad --input '{spec}': expected NAME=FILE.npy or NAME=FILE.pb"
            )));
        };
        if !input_names.contains(&name) {
            return Err(Error::Invalid(format!(
                "--input {spec}: {}",
                not_an_input(name)
            )));
        }
        let path = PathBuf::from(file);
        let t = io::read_tensor(&path)?;
        sources.insert(name.to_string(), path);
        tensors.insert(name.to_string(), t);
    }

    let mut dims = parse_dims(&args.dim)?;
    let mut notes = Vec::new();
    let declared = symbolic_dims(graph);
    for dim in dims.keys().filter(|d| !declared.contains(d)) {
        notes.push(format!(
            "--dim {dim}: no graph input has a symbolic dim named '{dim}'"
        ));
    }
    bind_dims_from_feeds(graph, &tensors, &mut dims);
    let mut defaulted = Vec::new();
    for (k, &input) in graph.inputs.iter().enumerate() {
        let value = graph.value(input);
        if tensors.contains_key(&value.name) {
            continue;
        }
        let Some(ty) = &value.ty else {
            return Err(Error::Invalid(format!(
                "input '{}' has no declared type; give it with --input or --inputs",
                value.name
            )));
        };
        let shape = concrete_shape(&value.name, ty, &dims, &mut defaulted)?;
        let seed = args.seed ^ (k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let t = random_tensor(&value.name, ty.dtype, shape, seed)?;
        tensors.insert(value.name.clone(), t);
    }
    for (input, dim) in defaulted {
        notes.push(format!(
            "input '{input}': symbolic dim '{dim}' set to 1 (choose it with --dim {dim}=N)"
        ));
    }
    Ok(Feeds {
        tensors,
        sources,
        notes,
    })
}

/// A shape with every symbolic dim replaced by its size in `dims`, or 1 (recorded in
/// `defaulted` as `(input, dim)`).
pub fn concrete_shape(
    input: &str,
    ty: &TensorType,
    dims: &BTreeMap<String, usize>,
    defaulted: &mut Vec<(String, String)>,
) -> Result<Vec<usize>, Error> {
    let Some(shape) = &ty.shape else {
        return Err(Error::Invalid(format!(
            "input '{input}' has an unknown shape; give it with --input or --inputs"
        )));
    };
    Ok(shape
        .iter()
        .map(|d| match d {
            Dim::Static(n) => *n,
            Dim::Symbolic(s) => dims.get(s).copied().unwrap_or_else(|| {
                if !defaulted.iter().any(|(_, known)| known == s) {
                    defaulted.push((input.to_string(), s.clone()));
                }
                1
            }),
        })
        .collect())
}

/// Adds to `dims` the sizes that given feeds fix for symbolic dims not set by `--dim`.
fn bind_dims_from_feeds(
    graph: &Graph,
    feeds: &HashMap<String, Tensor>,
    dims: &mut BTreeMap<String, usize>,
) {
    for &input in &graph.inputs {
        let value = graph.value(input);
        let (Some(t), Some(shape)) = (
            feeds.get(&value.name),
            value.ty.as_ref().and_then(|t| t.shape.as_ref()),
        ) else {
            continue;
        };
        if shape.len() != t.rank() {
            continue;
        }
        for (d, &n) in shape.iter().zip(t.shape()) {
            if let Dim::Symbolic(s) = d {
                dims.entry(s.clone()).or_insert(n);
            }
        }
    }
}

fn symbolic_dims(graph: &Graph) -> Vec<String> {
    graph
        .inputs
        .iter()
        .filter_map(|&i| graph.value(i).ty.as_ref()?.shape.as_ref())
        .flatten()
        .filter_map(|d| match d {
            Dim::Symbolic(s) => Some(s.clone()),
            Dim::Static(_) => None,
        })
        .collect()
}

/// Seeded random data of `dtype` and `shape`.
fn random_tensor(name: &str, dtype: DType, shape: Vec<usize>, seed: u64) -> Result<Tensor, Error> {
    let too_big = || {
        Error::Invalid(format!(
            "input '{name}': generated data of shape {shape:?} would be too large; give it with --input or --inputs"
        ))
    };
    let n = ir::tensor::checked_numel(&shape).map_err(|_| too_big())?;
    if n > MAX_GENERATED_ELEMENTS {
        return Err(too_big());
    }
    let mut rng = SplitMix64(seed);
    let result = if dtype.is_float() {
        let v: Vec<f64> = (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect();
        Tensor::from_f64(dtype, shape.clone(), &v)
    } else {
        // Integers in [0, 10), narrowed to the dtype's range (u2 holds 0..=3); bools 0 or 1.
        let hi = match dtype.int_range() {
            Some((_, max)) => max.min(9) + 1,
            None => 2,
        };
        let v: Vec<i128> = (0..n).map(|_| (rng.next() % hi as u64) as i128).collect();
        Tensor::from_i128(dtype, shape.clone(), &v)
    };
    result.map_err(|e| Error::Invalid(format!("input '{name}': {e}")))
}

/// Rewrites errors of a run so a bad feed names the file it came from.
pub fn explain_run_error(e: Error, feeds: &Feeds, model: &Path) -> Error {
    match e {
        Error::Ir(ir::Error::Input { name, msg }) => match feeds.sources.get(&name) {
            Some(path) => Error::format(path, format!("input '{name}': {msg}")),
            None => Error::Ir(ir::Error::Input { name, msg }),
        },
        Error::Ir(source) => Error::Model {
            path: model.to_path_buf(),
            source,
        },
        other => other,
    }
}

/// Describes a value type as `f32[1,3,224,224]`.
pub fn describe(ty: Option<&TensorType>) -> String {
    match ty {
        Some(TensorType {
            dtype,
            shape: Some(s),
        }) => format!("{dtype}{}", display_shape(s)),
        Some(TensorType { dtype, shape: None }) => format!("{dtype}[?]"),
        None => "?".to_string(),
    }
}

/// A small, fast, seedable generator (Steele et al.'s SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_data_is_seeded_and_in_range() {
        let a = random_tensor("x", DType::F32, vec![100], 7).unwrap();
        assert_eq!(a, random_tensor("x", DType::F32, vec![100], 7).unwrap());
        assert_ne!(a, random_tensor("x", DType::F32, vec![100], 8).unwrap());
        assert!(a.to_f64_vec().iter().all(|&x| (-1.0..1.0).contains(&x)));
        let i = random_tensor("i", DType::I64, vec![100], 1).unwrap();
        assert!(i.to_i128_vec().iter().all(|&x| (0..10).contains(&x)));
        let u2 = random_tensor("u", DType::U2, vec![100], 1).unwrap();
        assert!(u2.to_i128_vec().iter().all(|&x| (0..4).contains(&x)));
        let b = random_tensor("b", DType::Bool, vec![100], 1).unwrap();
        let trues = b.to_bool_vec().iter().filter(|&&x| x).count();
        assert!(trues > 20 && trues < 80, "{trues}");
    }

    #[test]
    fn dims_parse_and_reject_garbage() {
        let dims = parse_dims(&["batch=4".into(), "seq=0".into()]).unwrap();
        assert_eq!(dims.get("batch"), Some(&4));
        assert!(parse_dims(&["batch".into()]).is_err());
        assert!(parse_dims(&["=3".into()]).is_err());
        assert!(parse_dims(&["b=-1".into()]).is_err());
    }
}
