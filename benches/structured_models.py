"""Writes the structured benchmark models: dense ONNX graphs that hide an exact structure.

Each model's weights or matrix chain hide a structure that `tenfold optimize` should find and
exploit.

One folder per model, target/bench-models/structured/<name>/{model.onnx,inputs.npz} (the layout of
benches/models.py; the keys of inputs.npz are the graph's input names). Every model computes one
output `y`; the structure is exact up to the rounding of the stored f32 values:

- kron_dense_<m1>x<n1>[_<m2>x<n2>][_n<N>]:  y = x @ W, W = np.kron(A, B) stored as ONE dense
                       constant (A [m1, n1], B [m2, n2]; B the same size as A when not given);
                       16x64 (W 256x4096) and 32x32 (W 1024x1024) with x [512, rows of W],
                       16x16_64x64 (W 1024x1024) with x [256, 1024], 16x64_n64 with x [64, 256];
- kron_export_<m>x<n>: the same product the way torch.onnx exports torch.kron(A, B) for 2-D
                       A [m1, n1], B [m2, n2]: Reshape(A, [m1, 1, n1, 1])
                       * Reshape(B, [1, m2, 1, n2]) -> Reshape [m1*m2, n1*n2], then
                       MatMul(x, that); A, B and the shapes are initializers (as the dynamo
                       exporter writes them);
                       sizes 16x64 (W 256x4096) and 32x32 (W 1024x1024), x [512, rows of W];
- lowrank_<k>x<n>_r<r>: y = x @ W, W = U @ V (rank r, product taken in float64) stored dense;
                       2048x512 of rank 16 and 1024x1024 of rank 32, x [512, k];
- monarch_grid_b<b>_s<s>[_n<N>]: y = x @ W, W dense and exactly Monarch in the square-grid
                       form of Dao et al.: R b blocks of s x s, L s blocks of b x b (the
                       definition is monarch_apply below, with t = b); n = b*s;
                       b=16 s=64, b=32 s=32 (n 1024) and b=64 s=64 (n 4096), x [256, n];
                       b=16 s=64 also with x [64, n] and x [1024, n];
- monarch_layer_b16_s64: the layout of a Monarch layer with 16 blocks of 64 in both factors
                       (t = s): 8 = b/2 times fewer FLOPs, the most this layout allows;
- chain_<n>:           y = (a @ b) @ v with a, b [n, n], v [n, 1] all graph inputs, n 512 and 1024;
- chain4_<n>:          y = ((a @ b) @ c) @ v (a chain of four), all graph inputs, n 512;
- lowrank_chain:       y = x @ (U @ V), U [1024, 16], V [16, 1024] constants whose product is a
                       MatMul node of the graph (a weight-only subgraph); x [512, 1024].

Scales are chosen so that every output has about unit standard deviation (x standard normal,
each factor N(0, 1/fan-in)). Everything is f32, opset 18, IR version 9, and seeded: the same
files on every run.

Run as a script it also prints, for every model, its input and output shapes, its dense FLOPs
(2*M*K*N summed over the graph's MatMul nodes, read from the written model.onnx with ONNX shape
inference; elementwise ops are not counted), the analytic FLOPs of the best structured form
(the matmul FLOPs once the structure is exploited) and their ratio, so that the report of
benches/structured.py can be checked against them.

Usage: python benches/structured_models.py [--out DIR] [--force] [NAME ...]
       (default DIR: target/bench-models/structured; default: every model; existing folders are
       kept unless --force)
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models as bench_models  # noqa: E402  (benches/models.py: shared model-writing helpers)
from models import _f32, _init, _model, model_dir, save_folder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "target", "bench-models", "structured")


def monarch_apply(x, R, L):  # x [B, n], R [b, s, s], L [g, t, t], n = b*s = g*t
    """The Monarch product, exactly as the detection in tenfold is written against."""
    B = x.shape[0]
    b, s, _ = R.shape
    g, t, _ = L.shape
    u = np.einsum('Bki,kij->Bkj', x.reshape(B, b, s), R)      # block-diagonal R
    u = u.transpose(0, 2, 1).reshape(B, g, t)                  # permutation: m = j*b + k
    v = np.einsum('Bli,lic->Blc', u, L)                        # block-diagonal L
    return v.transpose(0, 2, 1).reshape(B, b * s)              # output: column c*g + l


def _shape_init(name, dims):
    return numpy_helper.from_array(np.asarray(dims, dtype=np.int64), name)


def _normal(rng, shape, fan_in):
    """N(0, 1/fan_in) in float64: a factor that keeps a unit-variance input at unit variance."""
    return rng.standard_normal(shape) / np.sqrt(fan_in)


def _dense_matmul(name, x, w):
    """y = x @ w with w one dense constant initializer."""
    nodes = [helper.make_node("MatMul", ["x", "weight"], ["y"], name="/MatMul")]
    return _model(name, nodes, [_f32("x", list(x.shape))], [_f32("y", [x.shape[0], w.shape[1]])],
                  [_init("weight", w)])


# ---- Kronecker ---------------------------------------------------------------------------

KRON_BATCH = 512


def _kron_factors(rng, m1, n1, m2, n2):
    # x @ kron(A, B) sums m1*m2 products x * A * B: var(A) = 1/m1, var(B) = 1/m2 keeps it unit.
    return _normal(rng, (m1, n1), m1), _normal(rng, (m2, n2), m2)


def kron_dense(m1, n1, m2=None, n2=None, batch=KRON_BATCH):
    m2, n2 = (m1, n1) if m2 is None else (m2, n2)

    def build(rng, name):
        a, b = _kron_factors(rng, m1, n1, m2, n2)
        w = np.kron(a, b).astype(np.float32)
        x = rng.standard_normal((batch, w.shape[0]), dtype=np.float32)
        return _dense_matmul(name, x, w), {"x": x}
    return build


def kron_export(m, n):
    def build(rng, name):
        a, b = _kron_factors(rng, m, n, m, n)
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        m1, n1, m2, n2 = m, n, m, n
        rows, cols = m1 * m2, n1 * n2
        # torch's decomposition of aten::kron for 2-D operands, as the exporter writes it.
        nodes = [
            helper.make_node("Reshape", ["kron.a", "/kron/Reshape_shape"],
                             ["/kron/Reshape_output_0"], name="/kron/Reshape"),
            helper.make_node("Reshape", ["kron.b", "/kron/Reshape_1_shape"],
                             ["/kron/Reshape_1_output_0"], name="/kron/Reshape_1"),
            helper.make_node("Mul", ["/kron/Reshape_output_0", "/kron/Reshape_1_output_0"],
                             ["/kron/Mul_output_0"], name="/kron/Mul"),
            helper.make_node("Reshape", ["/kron/Mul_output_0", "/kron/Reshape_2_shape"],
                             ["/kron/Reshape_2_output_0"], name="/kron/Reshape_2"),
            helper.make_node("MatMul", ["x", "/kron/Reshape_2_output_0"], ["y"], name="/MatMul"),
        ]
        inits = [
            _init("kron.a", a32), _init("kron.b", b32),
            _shape_init("/kron/Reshape_shape", [m1, 1, n1, 1]),
            _shape_init("/kron/Reshape_1_shape", [1, m2, 1, n2]),
            _shape_init("/kron/Reshape_2_shape", [rows, cols]),
        ]
        # The exported subgraph must compute exactly np.kron of the stored f32 factors.
        w = (a32.reshape(m1, 1, n1, 1) * b32.reshape(1, m2, 1, n2)).reshape(rows, cols)
        assert np.array_equal(w, np.kron(a32, b32)), "export pattern is not kron(A, B)"
        x = rng.standard_normal((KRON_BATCH, rows), dtype=np.float32)
        model = _model(name, nodes, [_f32("x", [KRON_BATCH, rows])],
                       [_f32("y", [KRON_BATCH, cols])], inits)
        return model, {"x": x}
    return build


def kron_flops(m1, n1, m2=None, n2=None, batch=KRON_BATCH):
    # x [B, m1*m2] viewed as [B, m1, m2]; contract with B then A, or A then B.
    m2, n2 = (m1, n1) if m2 is None else (m2, n2)
    return 2 * batch * min(m1 * m2 * n2 + m1 * n1 * n2, m1 * n1 * m2 + n1 * m2 * n2)


# ---- Low rank -----------------------------------------------------------------------------

LOWRANK_BATCH = 512


def lowrank(k, n, r):
    def build(rng, name):
        u = _normal(rng, (k, r), k)
        v = _normal(rng, (r, n), r)
        w = (u @ v).astype(np.float32)
        x = rng.standard_normal((LOWRANK_BATCH, k), dtype=np.float32)
        return _dense_matmul(name, x, w), {"x": x}
    return build


def lowrank_flops(k, n, r):
    return 2 * LOWRANK_BATCH * r * (k + n)


def lowrank_chain(rng, name):
    k, r, n = 1024, 16, 1024
    u = _normal(rng, (k, r), k).astype(np.float32)
    v = _normal(rng, (r, n), r).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["lowrank.u", "lowrank.v"], ["/lowrank/MatMul_output_0"],
                         name="/lowrank/MatMul"),
        helper.make_node("MatMul", ["x", "/lowrank/MatMul_output_0"], ["y"], name="/MatMul"),
    ]
    model = _model(name, nodes, [_f32("x", [LOWRANK_BATCH, k])], [_f32("y", [LOWRANK_BATCH, n])],
                   [_init("lowrank.u", u), _init("lowrank.v", v)])
    return model, {"x": rng.standard_normal((LOWRANK_BATCH, k), dtype=np.float32)}


# ---- Monarch ------------------------------------------------------------------------------

MONARCH_BATCH = 256


def monarch(b, s, t, batch=MONARCH_BATCH):
    """x @ W with W = monarch_apply(I, R, L), R [b, s, s] and L [n/t, t, t]."""
    def build(rng, name):
        n = b * s
        r = _normal(rng, (b, s, s), s)
        l = _normal(rng, (n // t, t, t), t)
        w = monarch_apply(np.eye(n, dtype=np.float64), r, l).astype(np.float32)
        x = rng.standard_normal((batch, n), dtype=np.float32)
        # x @ W (f32, as a runtime computes it) must be monarch_apply(x, R, L) (float64) to 1e-5
        # relative to the output's largest magnitude.
        want = monarch_apply(x.astype(np.float64), r, l)
        err = np.abs((x @ w).astype(np.float64) - want).max() / np.abs(want).max()
        assert err <= 1e-5, f"{name}: x @ W differs from monarch_apply by {err:.2e} (relative)"
        return _dense_matmul(name, x, w), {"x": x}
    return build


def monarch_flops(b, s, t, batch=MONARCH_BATCH):
    return 2 * batch * b * s * (s + t)


# ---- Matrix chains of graph inputs ----------------------------------------------------------

def chain(n, length):
    """y = ((m_0 @ m_1) @ ...) @ v with `length` [n, n] matrices and v [n, 1], all inputs
    (chain4_512: three matrices and v, a chain of four)."""
    def build(rng, name):
        mats = [chr(ord("a") + i) for i in range(length)]
        nodes, acc = [], mats[0]
        for i, m in enumerate(mats[1:] + ["v"]):
            out = "y" if m == "v" else f"/MatMul_{i}_output_0"
            nodes.append(helper.make_node("MatMul", [acc, m], [out], name=f"/MatMul_{i}"))
            acc = out
        inputs = [_f32(m, [n, n]) for m in mats] + [_f32("v", [n, 1])]
        model = _model(name, nodes, inputs, [_f32("y", [n, 1])], [])
        feeds = {m: _normal(rng, (n, n), n).astype(np.float32) for m in mats}
        feeds["v"] = rng.standard_normal((n, 1), dtype=np.float32)
        return model, feeds
    return build


def chain_flops(n, length):
    return 2 * length * n * n      # right to left: `length` matrix-vector products


# name -> (builder, seed, analytic FLOPs of the structured form). Each model has its own seed so
# that adding one changes no other.
MODELS = {
    "kron_dense_16x64": (kron_dense(16, 64), 11, kron_flops(16, 64)),
    "kron_dense_16x64_n64": (kron_dense(16, 64, batch=64), 15, kron_flops(16, 64, batch=64)),
    "kron_dense_32x32": (kron_dense(32, 32), 12, kron_flops(32, 32)),
    "kron_dense_16x16_64x64": (kron_dense(16, 16, 64, 64, batch=256), 16,
                               kron_flops(16, 16, 64, 64, batch=256)),
    "kron_export_16x64": (kron_export(16, 64), 13, kron_flops(16, 64)),
    "kron_export_32x32": (kron_export(32, 32), 14, kron_flops(32, 32)),
    "lowrank_2048x512_r16": (lowrank(2048, 512, 16), 21, lowrank_flops(2048, 512, 16)),
    "lowrank_1024x1024_r32": (lowrank(1024, 1024, 32), 22, lowrank_flops(1024, 1024, 32)),
    "monarch_grid_b16_s64": (monarch(16, 64, 16), 34, monarch_flops(16, 64, 16)),
    "monarch_grid_b16_s64_n64": (monarch(16, 64, 16, batch=64), 35,
                                 monarch_flops(16, 64, 16, batch=64)),
    "monarch_grid_b16_s64_n1024": (monarch(16, 64, 16, batch=1024), 38,
                                   monarch_flops(16, 64, 16, batch=1024)),
    "monarch_grid_b32_s32": (monarch(32, 32, 32), 36, monarch_flops(32, 32, 32)),
    "monarch_grid_b64_s64": (monarch(64, 64, 64), 37, monarch_flops(64, 64, 64)),
    "monarch_layer_b16_s64": (monarch(16, 64, 64), 31, monarch_flops(16, 64, 64)),
    "chain_512": (chain(512, 2), 41, chain_flops(512, 2)),
    "chain_1024": (chain(1024, 2), 42, chain_flops(1024, 2)),
    "chain4_512": (chain(512, 3), 43, chain_flops(512, 3)),
    "lowrank_chain": (lowrank_chain, 51, lowrank_flops(1024, 1024, 16)),
}


def write(name, out=DEFAULT_OUT):
    """Writes one model's folder."""
    build, seed, _ = MODELS[name]
    model, inputs = build(np.random.default_rng(seed), name)
    return save_folder(model_dir(name, out), model, inputs)


def ensure(names, out=DEFAULT_OUT, force=False):
    """The folders of `names`, writing those missing (or all with force)."""
    return bench_models.ensure(names, out, force, write=write)


def _dims(vi):
    return [d.dim_value for d in vi.type.tensor_type.shape.dim]


def describe(name, out=DEFAULT_OUT):
    """Shapes and FLOPs of a written model: {inputs, outputs, weights, dense_flops,
    structured_flops}. Dense FLOPs are 2*M*K*N over the MatMul nodes (2-D operands), with
    shapes from ONNX shape inference on the stored model.onnx."""
    model = onnx.load(os.path.join(model_dir(name, out), "model.onnx"))
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    g = model.graph
    shapes = {vi.name: _dims(vi) for vi in list(g.input) + list(g.output) + list(g.value_info)}
    shapes.update({t.name: list(t.dims) for t in g.initializer})
    flops = 0
    for node in g.node:
        if node.op_type == "MatMul":
            (m, k), (k2, n) = shapes[node.input[0]], shapes[node.input[1]]
            assert k == k2, f"{name}: {node.name} contracts {k} with {k2}"
            flops += 2 * m * k * n
    return {
        "inputs": {vi.name: _dims(vi) for vi in g.input},
        "outputs": {vi.name: _dims(vi) for vi in g.output},
        "weights": {t.name: list(t.dims) for t in g.initializer
                    if t.data_type == TensorProto.FLOAT},
        "dense_flops": flops,
        "structured_flops": MODELS[name][2],
    }


def _fmt_shapes(d):
    return ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in d.items())


def print_table(names, out=DEFAULT_OUT):
    print(f"{'model':<26} {'dense FLOPs':>14} {'structured':>12} {'ratio':>6}  "
          f"inputs -> outputs; constant weights")
    for name in names:
        d = describe(name, out)
        ratio = d["dense_flops"] / d["structured_flops"]
        weights = _fmt_shapes(d["weights"]) or "none"
        print(f"{name:<26} {d['dense_flops']:>14,} {d['structured_flops']:>12,} {ratio:>6.1f}  "
              f"{_fmt_shapes(d['inputs'])} -> {_fmt_shapes(d['outputs'])}; {weights}")
    print("dense FLOPs: 2*M*K*N summed over the MatMul nodes as written; structured: the analytic "
          "matmul FLOPs once the structure is used; ratio = dense / structured")


def main():
    names, out = bench_models.write_models_cli(__doc__, MODELS, DEFAULT_OUT, ensure)
    print()
    print_table(names, out)


if __name__ == "__main__":
    sys.exit(main())
