"""Writes the synthetic benchmark models: one folder per model with model.onnx and inputs.npz.

Each model isolates one thing the compiler must do well, at a size where it dominates the time:

- mlp:       batch 128, 512 -> 2048 -> 512 with ReLU between, as torch exports nn.Linear on a
             2-D input through MatMul + Add (bias) + Relu, MatMul + Add (GEMM with epilogues);
- gemm1024:  one MatMul 1024x1024 . 1024x1024 with a constant weight (raw GEMM throughput);
- softmax:   attention scores [64, 12, 128, 128] * scale + mask [1, 1, 1, 128] -> Softmax over
             the last axis (a fused, memory-bound reduction);
- layernorm: x + residual -> LayerNormalization over the last axis of [8, 128, 768] with scale
             and bias (residual add fused into a normalization);
- gelu:      h + bias -> GELU as torch exports nn.GELU() (Div by sqrt 2, Erf, Add 1, Mul, Mul
             by 0.5) on [512, 3072], BERT-base's feed-forward activation at sequence 512 (a
             transcendental-bound pointwise kernel).

Everything is f32, opset 18, IR version 9, and seeded: the same files on every run.

Usage: python benches/models.py [--out DIR] [--force] [NAME ...]
       (default DIR: target/bench-models; default: every model; existing folders are kept
       unless --force)
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "target", "bench-models")
OPSET = 18
IR_VERSION = 9


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _init(name, array):
    return numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)


def _linear_weight(rng, fan_in, fan_out):
    # torch.nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), stored [in, out] as
    # the exporter writes the MatMul operand (W transposed).
    bound = 1.0 / np.sqrt(fan_in)
    w = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(np.float32)
    b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
    return w, b


def _model(name, nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="tenfold-benches",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def mlp(rng):
    batch, d_in, d_hidden, d_out = 128, 512, 2048, 512
    w1, b1 = _linear_weight(rng, d_in, d_hidden)
    w2, b2 = _linear_weight(rng, d_hidden, d_out)
    nodes = [
        helper.make_node("MatMul", ["x", "fc1.weight_t"], ["/fc1/MatMul_output_0"],
                         name="/fc1/MatMul"),
        helper.make_node("Add", ["/fc1/MatMul_output_0", "fc1.bias"], ["/fc1/Add_output_0"],
                         name="/fc1/Add"),
        helper.make_node("Relu", ["/fc1/Add_output_0"], ["/act/Relu_output_0"],
                         name="/act/Relu"),
        helper.make_node("MatMul", ["/act/Relu_output_0", "fc2.weight_t"],
                         ["/fc2/MatMul_output_0"], name="/fc2/MatMul"),
        helper.make_node("Add", ["/fc2/MatMul_output_0", "fc2.bias"], ["y"], name="/fc2/Add"),
    ]
    model = _model(
        "mlp", nodes, [_f32("x", [batch, d_in])], [_f32("y", [batch, d_out])],
        [_init("fc1.weight_t", w1), _init("fc1.bias", b1),
         _init("fc2.weight_t", w2), _init("fc2.bias", b2)],
    )
    inputs = {"x": rng.standard_normal((batch, d_in), dtype=np.float32)}
    return model, inputs


def gemm1024(rng):
    n = 1024
    w = (rng.standard_normal((n, n), dtype=np.float32) / np.sqrt(n)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["y"], name="/MatMul")]
    model = _model("gemm1024", nodes, [_f32("a", [n, n])], [_f32("y", [n, n])],
                   [_init("w", w)])
    inputs = {"a": rng.standard_normal((n, n), dtype=np.float32)}
    return model, inputs


def softmax(rng):
    shape = [64, 12, 128, 128]
    head_dim = 64
    nodes = [
        helper.make_node("Mul", ["scores", "scale"], ["scaled"], name="/attn/Mul"),
        helper.make_node("Add", ["scaled", "mask"], ["masked"], name="/attn/Add"),
        helper.make_node("Softmax", ["masked"], ["probs"], name="/attn/Softmax", axis=-1),
    ]
    model = _model(
        "softmax", nodes,
        [_f32("scores", shape), _f32("mask", [1, 1, 1, shape[-1]])],
        [_f32("probs", shape)],
        [_init("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))],
    )
    # A BERT-style additive padding mask: the last 16 key positions are masked out.
    mask = np.zeros((1, 1, 1, shape[-1]), dtype=np.float32)
    mask[..., -16:] = -10000.0
    scores = (rng.standard_normal(shape, dtype=np.float32) * 4.0).astype(np.float32)
    return model, {"scores": scores, "mask": mask}


def layernorm(rng):
    shape = [8, 128, 768]
    hidden = shape[-1]
    nodes = [
        helper.make_node("Add", ["x", "residual"], ["sum"], name="/block/Add"),
        helper.make_node("LayerNormalization", ["sum", "ln.weight", "ln.bias"], ["y"],
                         name="/block/ln/LayerNormalization", axis=-1, epsilon=1e-5),
    ]
    scale = (1.0 + 0.1 * rng.standard_normal(hidden, dtype=np.float32)).astype(np.float32)
    bias = (0.1 * rng.standard_normal(hidden, dtype=np.float32)).astype(np.float32)
    model = _model(
        "layernorm", nodes, [_f32("x", shape), _f32("residual", shape)], [_f32("y", shape)],
        [_init("ln.weight", scale), _init("ln.bias", bias)],
    )
    inputs = {
        "x": rng.standard_normal(shape, dtype=np.float32),
        "residual": rng.standard_normal(shape, dtype=np.float32),
    }
    return model, inputs


def gelu(rng):
    shape = [512, 3072]
    nodes = [
        helper.make_node("Add", ["h", "fc1.bias"], ["/fc1/Add_output_0"], name="/fc1/Add"),
        helper.make_node("Div", ["/fc1/Add_output_0", "sqrt2"], ["/act/Div_output_0"],
                         name="/act/Div"),
        helper.make_node("Erf", ["/act/Div_output_0"], ["/act/Erf_output_0"], name="/act/Erf"),
        helper.make_node("Add", ["/act/Erf_output_0", "one"], ["/act/Add_output_0"],
                         name="/act/Add"),
        helper.make_node("Mul", ["/fc1/Add_output_0", "/act/Add_output_0"],
                         ["/act/Mul_output_0"], name="/act/Mul"),
        helper.make_node("Mul", ["/act/Mul_output_0", "half"], ["y"], name="/act/Mul_1"),
    ]
    model = _model(
        "gelu", nodes, [_f32("h", shape)], [_f32("y", shape)],
        [_init("fc1.bias", 0.1 * rng.standard_normal(shape[-1], dtype=np.float32)),
         _init("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32)),
         _init("one", np.array(1.0, dtype=np.float32)),
         _init("half", np.array(0.5, dtype=np.float32))],
    )
    inputs = {"h": (2.0 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)}
    return model, inputs


# name -> (builder, seed). Each model has its own seed so that adding one changes no other.
MODELS = {
    "mlp": (mlp, 1),
    "gemm1024": (gemm1024, 2),
    "softmax": (softmax, 3),
    "layernorm": (layernorm, 4),
    "gelu": (gelu, 5),
}


# The light_* CNNs that ship inside the onnx package (AlexNet, ResNet-50, ShuffleNet, ...):
# their weights are ConstantOfShape fills, so the files are small.
LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def light_names():
    """The light models of the installed onnx package, by name (light_resnet50, ...)."""
    if not os.path.isdir(LIGHT_DIR):
        return []
    return sorted(os.path.splitext(f)[0] for f in os.listdir(LIGHT_DIR)
                  if f.startswith("light_") and f.endswith(".onnx"))


def write_light(name, out=DEFAULT_OUT):
    """Writes a light model's folder: the model as shipped, and the input ramp the conformance
    cases use (arange / count, f32), so that the expected outputs shipped with it apply."""
    model = onnx.load(os.path.join(LIGHT_DIR, name + ".onnx"))
    inits = {i.name for i in model.graph.initializer}
    inputs = {}
    for x in model.graph.input:
        if x.name in inits:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1
                      for d in x.type.tensor_type.shape.dim)
        count = int(np.prod(shape))
        inputs[x.name] = (np.arange(count).reshape(shape) / count).astype(np.float32)
    return save_folder(model_dir(name, out), model, inputs)


def model_dir(name, out=DEFAULT_OUT):
    return os.path.join(out, name)


def is_written(name, out=DEFAULT_OUT):
    d = model_dir(name, out)
    return all(os.path.isfile(os.path.join(d, f)) for f in ("model.onnx", "inputs.npz"))


def write(name, out=DEFAULT_OUT):
    """Writes one model's folder."""
    build, seed = MODELS[name]
    model, inputs = build(np.random.default_rng(seed))
    return save_folder(model_dir(name, out), model, inputs)


def save_folder(d, model, inputs):
    """Writes model.onnx and inputs.npz into folder `d`; files are renamed into place so a
    killed run leaves none half-written (is_written stays honest)."""
    os.makedirs(d, exist_ok=True)
    onnx_path, npz_path = os.path.join(d, "model.onnx"), os.path.join(d, "inputs.npz")
    onnx.save_model(model, onnx_path + ".tmp")
    with open(npz_path + ".tmp", "wb") as f:
        np.savez(f, **inputs)
    os.replace(onnx_path + ".tmp", onnx_path)
    os.replace(npz_path + ".tmp", npz_path)
    return d


def ensure(names, out=DEFAULT_OUT, force=False, write=write):
    """The folders of `names`, writing those missing (or all with force) with `write`."""
    dirs = []
    for name in names:
        if force or not is_written(name, out):
            write(name, out)
        dirs.append(model_dir(name, out))
    return dirs


def write_models_cli(doc, models, default_out, ensure_fn):
    """The command line of a model-writing script: writes the named models (default: all of
    `models`) with `ensure_fn(names, out, force)`, prints their folders, returns the names and
    the output folder."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", default=default_out, help="folder of the model folders")
    ap.add_argument("--force", action="store_true", help="rewrite existing models")
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"models to write (default: all of {', '.join(models)})")
    a = ap.parse_args()
    unknown = [n for n in a.names if n not in models]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)} (known: {', '.join(models)})")
    names = a.names or list(models)
    for d in ensure_fn(names, a.out, a.force):
        print(d)
    return names, a.out


def main():
    write_models_cli(__doc__, MODELS, DEFAULT_OUT, ensure)


if __name__ == "__main__":
    sys.exit(main())
