//! Small graphs in text form, compiled at -O2 against the interpreter: minimal forms of
//! property-test failures (views, broadcast reductions, in-place outputs), BatchNormalization's
//! lowering and fusion, and Concat.

use super::common::{PlanSummary, compile_graph};
use super::generator::Rng;
use super::property::{compare_outputs, is_codegen_bug};
use super::{parse, random_f32};
use ir::{DType, Tensor};
use std::collections::HashMap;
use tenfold::OptLevel;

/// Small graphs whose outputs, or the inputs of interpreted nodes, are views (Reshape,
/// Squeeze, Unsqueeze, Flatten, an identity Transpose) of another buffer: each must keep its
/// own shape. Minimal forms of failures the property test found.
#[test]
fn views_keep_their_own_shapes() {
    let cases = [
        // A graph output that is a view of a graph input.
        "graph v(x: f32[3,1]) -> (y) {
  const axes: i64[1] = [1]
  y = Squeeze(x, axes)
}",
        "graph v(x: f32[2,3,4]) -> (y) {
  y = Flatten{axis=1}(x)
}",
        // A graph output that is a view of a computed value.
        "graph v(x: f32[5,7]) -> (y) {
  const axes: i64[1] = [1]
  const at: i64[2] = [0, 2]
  r = Reduce{kind=Max, keepdims=false, noop_with_empty_axes=false}(x, axes)
  y = Unsqueeze(r, at)
}",
        "graph v(x: f32[6,4]) -> (e, y) {
  const s: i64[3] = [2, 3, 4]
  e = Unary(Exp)(x)
  y = Reshape{allowzero=false}(e, s)
}",
        "graph v(x: f32[6,4]) -> (y) {
  const s: i64[3] = [2, 3, 4]
  e = Unary(Exp)(x)
  r = Reshape{allowzero=false}(e, s)
  y = Transpose{perm=[0, 1, 2]}(r)
}",
        // An interpreted node reading a view.
        "graph v(x: f32[5], z: f32[2,5]) -> (y) {
  const at: i64[1] = [0]
  u = Unsqueeze(x, at)
  y = Concat{axis=0}(z, u)
}",
        "graph v(x: f32[5], z: f32[2,5]) -> (y) {
  const at: i64[1] = [0]
  e = Unary(Exp)(x)
  u = Unsqueeze(e, at)
  y = Concat{axis=0}(z, u)
}",
        "graph v(x: f32[9,9]) -> (y) {
  const s: i64[3] = [3, 1, 27]
  r = Reshape{allowzero=false}(x, s)
  y = Softmax{kind=Softmax, axis=0, coerce_2d=false}(r)
}",
    ];
    check_small_graphs("view", &cases);
}

/// Runs each graph (text form, static f32/i64 inputs fed with seeded data: f32 in [-2, 2], i64
/// in [0, 3)) compiled at -O2 and in the interpreter, and fails listing every graph that
/// differs.
fn check_small_graphs(what: &str, cases: &[&str]) {
    let mut failures = Vec::new();
    for text in cases {
        let graph = parse(&format!("{text}\n"));
        let feeds = small_feeds(&graph);
        let want = ir::interp::run(&graph, &feeds).expect("the interpreter runs it");
        let got = compile_graph(&graph, OptLevel::O2, 1)
            .map_err(|e| e.to_string())
            .and_then(|exe| {
                let plan = PlanSummary::of_run(&exe, &feeds).map_err(|e| e.to_string())?;
                let got = exe.run(&feeds).map_err(|e| e.to_string())?;
                Ok((plan, got))
            });
        match got {
            Err(m) => failures.push(format!("{m}\n{text}")),
            Ok((plan, got)) => {
                if let Err(m) = compare_outputs(&got, &want, 1.0) {
                    failures.push(format!("{m} (plan: {})\n{text}", plan.describe()));
                }
                if let Some(why) = plan.fallback.as_deref().filter(|w| is_codegen_bug(w)) {
                    failures.push(format!("fell back to the interpreter: {why}\n{text}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {what} graphs fail compiled:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Seeded feeds for a test graph's static inputs: f32 in [-2, 2], i64 in [0, 3).
fn small_feeds(graph: &ir::Graph) -> HashMap<String, Tensor> {
    let mut rng = Rng::new(5);
    graph
        .inputs
        .iter()
        .map(|&v| {
            let value = graph.value(v);
            let ty = value.ty.as_ref().expect("typed test inputs");
            let shape = ir::shape::concrete(ty.shape.as_deref().expect("ranked test inputs"))
                .expect("static test inputs");
            let t = match ty.dtype {
                DType::I64 => {
                    let n = shape.iter().product();
                    let v = (0..n).map(|_| rng.range(0, 2)).collect();
                    Tensor::from_i64(shape, v).expect("sizes match")
                }
                _ => random_f32(&mut rng, &shape),
            };
            (value.name.clone(), t)
        })
        .collect()
}

/// Reductions and softmax whose operand is broadcast (an Expand: stride 0 along the reduced or
/// the innermost dim) compile and match. Minimal forms of property-test seeds
/// 0x6746a33c72cd7d05, 0xc8872b540df7e91c, 0xa9019fdaf310dba5 and 0xe81bc9677ffa981e, where
/// the backend rejected the kernel (a scalar load used as an f32x4 operand) and the whole graph
/// fell back to the interpreter.
#[test]
fn reductions_of_broadcast_operands_compile() {
    check_small_graphs(
        "broadcast reduction",
        &[
            "graph r(x: f32[5,1]) -> (y) {
  const s: i64[2] = [5, 8]
  const axes: i64[1] = [1]
  e = Expand(x, s)
  y = Reduce{kind=Sum, keepdims=false, noop_with_empty_axes=false}(e, axes)
}",
            "graph r(x: f32[7]) -> (y) {
  const s: i64[2] = [2, 1]
  e = Expand(x, s)
  t = Transpose{perm=[1, 0]}(e)
  y = Reduce{kind=Mean, keepdims=false, noop_with_empty_axes=false}(t)
}",
            "graph r(x: f32[1,2,7,2]) -> (y) {
  const s: i64[4] = [4, 1, 7, 1]
  const axes: i64[1] = [0]
  e = Expand(x, s)
  y = Reduce{kind=Max, keepdims=false, noop_with_empty_axes=false}(e, axes)
}",
            "graph r(x: f32[8,10,1]) -> (y) {
  const s: i64[4] = [3, 8, 10, 4]
  const axes: i64[1] = [3]
  e = Expand(x, s)
  y = Reduce{kind=Sum, keepdims=true, noop_with_empty_axes=false}(e, axes)
}",
            "graph r(x: f32[6,1]) -> (y) {
  const s: i64[2] = [1, 4]
  e = Expand(x, s)
  y = Softmax{kind=Softmax, axis=1, coerce_2d=false}(e)
}",
        ],
    );
}

/// A pointwise kernel may write its output in place of an input that dies in it only when
/// both have the same element width: here `Gather + Where` writes f32 and reads a bool mask
/// that dies in it. A minimal form of the expanded NegativeLogLikelihoodLoss (conformance case
/// test_nllloss_NCd1_weight_ii_expanded, 3x2 targets with ignore_index 1).
#[test]
fn in_place_outputs_do_not_clobber_narrower_inputs() {
    check_small_graphs(
        "in-place",
        &[
            "graph m(input: f32[3,5,2], target: i64[3,2], weight: f32[5]) -> (loss) {
  const zero: i64[1] = [0]
  const one: i64[1] = [1]
  const axes: i64[1] = [1]
  const ii: i64[] = [1]
  const zf: f32[] = [0]
  u = Unsqueeze(target, axes)
  zt = Binary(Sub)(u, u)
  ut = Cast{to=I64, saturate=true}(u)
  mask = Binary(Equal)(ut, ii)
  tt = Where(mask, zt, u)
  ge = GatherElements{axis=1}(input, tt)
  get = Where(mask, zf, ge)
  ncdd = Unary(Neg)(get)
  n1dd = Slice(ncdd, zero, one, one)
  wt = Gather{axis=0}(weight, tt)
  wt1 = Where(mask, zf, wt)
  wg = Squeeze(wt1, axes)
  lu = Squeeze(n1dd, axes)
  lndd = Binary(Mul)(lu, wg)
  ls = Reduce{kind=Sum, keepdims=false, noop_with_empty_axes=false}(lndd)
  ws = Reduce{kind=Sum, keepdims=false, noop_with_empty_axes=false}(wg)
  loss = Binary(Div)(ls, ws)
}",
        ],
    );
}

/// BatchNormalization (inference) compiles as a pointwise operation: fused into a
/// convolution's epilogue before a Relu (the ResNet order), before a convolution on its own
/// (the DenseNet order), with per-activation statistics, and on rank 2, each matching the
/// interpreter and running no node in it.
#[test]
fn batch_normalization_compiles_and_fuses() {
    let bn_params = "  const g: f32[3] = [1.5, 0.5, -1]
  const b: f32[3] = [0.1, -0.2, 0.3]
  const m: f32[3] = [0.25, -0.5, 1]
  const v: f32[3] = [0.5, 2, 0.04]";
    let cases = [
        format!(
            "graph r(x: f32[2,2,5,5]) -> (y) {{
  const w: f32[3,2,1,1] = [0.5, -1, 0.25, 2, 1, -0.75]
{bn_params}
  c = Conv{{kernel_shape=none, strides=[1, 1], dilations=[], pads=[0, 0, 0, 0], auto_pad=NotSet, group=1}}(x, w, _)
  n = BatchNormalization{{epsilon=0.00001}}(c, g, b, m, v)
  y = Unary(Relu)(n)
}}"
        ),
        format!(
            "graph d(x: f32[2,3,4,4]) -> (y) {{
  const w: f32[2,3,1,1] = [0.5, -1, 0.25, 2, 1, -0.75]
{bn_params}
  n = BatchNormalization{{epsilon=0.001}}(x, g, b, m, v)
  r = Unary(Relu)(n)
  y = Conv{{kernel_shape=none, strides=[1, 1], dilations=[], pads=[0, 0, 0, 0], auto_pad=NotSet, group=1}}(r, w, _)
}}"
        ),
        "graph a(x: f32[4,3,2]) -> (y) {
  const g: f32[3,2] = [1, 2, 3, 4, 5, 6]
  const b: f32[3,2] = [0, 1, 0, 1, 0, 1]
  const m: f32[3,2] = [0.5, 0.5, -0.5, -0.5, 1, 1]
  const v: f32[3,2] = [1, 2, 3, 4, 5, 6]
  y = BatchNormalization{epsilon=0.00001}(x, g, b, m, v)
}"
        .to_string(),
        format!(
            "graph f(x: f32[6,3]) -> (y) {{
{bn_params}
  y = BatchNormalization{{epsilon=0.00001}}(x, g, b, m, v)
}}"
        ),
    ];
    let texts: Vec<&str> = cases.iter().map(String::as_str).collect();
    check_small_graphs("batch-norm", &texts);
    for text in &texts {
        let graph = parse(&format!("{text}\n"));
        let exe = compile_graph(&graph, OptLevel::O2, 1).expect("compiles");
        let plan = PlanSummary::of_run(&exe, &small_feeds(&graph)).expect("plans");
        assert!(
            plan.fallback.is_none() && !plan.describe().contains("interp"),
            "{}: {}",
            graph.name,
            plan.describe()
        );
        if graph.name == "r" {
            assert_eq!(plan.describe(), "conv 1", "Conv + BN + Relu is one kernel");
        }
    }
}

/// Concat runs natively on its buffers (straight copies, see `runtime/native.rs`): along the
/// first, a middle and the last axis (negative too), of three inputs, for f32, i64 and bool,
/// with a transposed view and a computed value as inputs; each matches the interpreter.
#[test]
fn concat_matches_the_interpreter() {
    check_small_graphs(
        "concat",
        &[
            "graph c(a: f32[2,3,4], b: f32[1,3,4], d: f32[3,3,4]) -> (y) {
  y = Concat{axis=0}(a, b, d)
}",
            "graph c(a: f32[2,3,4], b: f32[2,1,4], d: f32[2,5,4]) -> (y) {
  y = Concat{axis=1}(a, b, d)
}",
            "graph c(a: f32[2,3,4], b: f32[2,3,1], d: f32[4,3,2]) -> (y) {
  t = Transpose{perm=[2, 1, 0]}(d)
  e = Unary(Exp)(b)
  y = Concat{axis=-1}(a, e, t)
}",
            "graph c(a: i64[3,2], b: i64[3,1]) -> (y) {
  y = Concat{axis=1}(a, b, a)
}",
            "graph c(a: f32[3,2], b: f32[3,2]) -> (y) {
  p = Binary(Less)(a, b)
  q = Binary(Greater)(a, b)
  y = Concat{axis=0}(p, q)
}",
        ],
    );
}
