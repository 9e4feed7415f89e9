"""Writes the fixtures of tenfold's CLI and tensor-file tests (run from the repository root):

    tests/data/npy/*.npy, *.npz   files written by numpy, to check tenfold reads them; each holds
                                  np.arange(n) reshaped to its shape and cast to its dtype (bools:
                                  arange % 3 == 0), whatever its byte order, memory order or
                                  format version, so tests can rebuild the expected values.
    tests/data/mlp/model.onnx     x[batch,4] -> MatMul(w[4,3]) -> Add(b[3]) = hidden -> Relu = y
    tests/data/mlp/inputs.npz     x of shape [2,4]
    tests/data/mlp/expected.npz   hidden and y computed by numpy
    tests/data/loop/model.onnx    Loop(n, v0[1,4]) with body v -> Tanh(v @ w[4,4]), scanning
                                  ReduceSum of each new v: outputs v_final [1,4], sums [n]
    tests/data/loop/inputs.npz    n = 3 and v0
    tests/data/loop/expected.npz  v_final and sums computed by numpy

Usage: .venv/bin/python tests/data/make_fixtures.py
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def arange(shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    if np.dtype(dtype) == np.bool_:
        return (np.arange(n) % 3 == 0).reshape(shape)
    return np.arange(n).astype(dtype).reshape(shape)


def npy_fixtures():
    out = os.path.join(HERE, "npy")
    os.makedirs(out, exist_ok=True)
    cases = {
        "f4_2x3": arange((2, 3), "<f4"),
        "f2_scalar": arange((), "<f2"),
        "f8_empty": arange((0, 3), "<f8"),
        "i1_5": arange((5,), "i1"),
        "i2_big_2x2": arange((2, 2), ">i2"),
        "i4_3": arange((3,), "<i4"),
        "i8_big_2x3": arange((2, 3), ">i8"),
        "u1_4": arange((4,), "u1"),
        "u2_4": arange((4,), "<u2"),
        "u4_4": arange((4,), "<u4"),
        "u8_4": arange((4,), "<u8"),
        "b1_2x3": arange((2, 3), "?"),
        "f8_fortran_2x3x4": np.asfortranarray(arange((2, 3, 4), "<f8")),
        "f4_big_fortran_3x2": np.asfortranarray(arange((3, 2), ">f4")),
    }
    for name, a in cases.items():
        np.save(os.path.join(out, name + ".npy"), a)
    for version in [(2, 0), (3, 0)]:
        with open(os.path.join(out, "f4_2x3_v%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, arange((2, 3), "<f4"), version=version)
    np.savez(os.path.join(out, "stored.npz"), a=arange((2, 3), "<f4"), b=arange((4,), "<i8"))
    np.savez_compressed(os.path.join(out, "deflated.npz"), a=arange((2, 3), "<f4"), b=arange((4,), "<i8"))


def mlp_fixture():
    out = os.path.join(HERE, "mlp")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240611)
    w = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (3,)).astype(np.float32)
    x = rng.uniform(-1, 1, (2, 4)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "b"], ["hidden"], name="add"),
        helper.make_node("Relu", ["hidden"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [
            helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
        ],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, "model.onnx"))
    hidden = x @ w + b
    np.savez(os.path.join(out, "inputs.npz"), x=x)
    np.savez(os.path.join(out, "expected.npz"), hidden=hidden, y=np.maximum(hidden, 0))


def loop_fixture():
    out = os.path.join(HERE, "loop")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261123)
    w = rng.uniform(-1, 1, (4, 4)).astype(np.float32)
    v0 = rng.uniform(-1, 1, (1, 4)).astype(np.float32)
    f = TensorProto.FLOAT
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["v", "w"], ["p"]),
            helper.make_node("Tanh", ["p"], ["v_next"]),
            helper.make_node("Identity", ["cond"], ["cond_next"]),
            helper.make_node("ReduceSum", ["v_next"], ["s"], keepdims=0),
        ],
        "step",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", f, [1, 4]),
        ],
        [
            helper.make_tensor_value_info("cond_next", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_next", f, [1, 4]),
            helper.make_tensor_value_info("s", f, []),
        ],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "", "v0"], ["v_final", "sums"], body=body)],
        "loop",
        [
            helper.make_tensor_value_info("n", TensorProto.INT64, []),
            helper.make_tensor_value_info("v0", f, [1, 4]),
        ],
        [
            helper.make_tensor_value_info("v_final", f, [1, 4]),
            helper.make_tensor_value_info("sums", f, ["n"]),
        ],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(out, "model.onnx"))
    v, sums = v0.astype(np.float64), []
    for _ in range(3):
        v = np.tanh(v @ w.astype(np.float64))
        sums.append(v.sum())
    np.savez(os.path.join(out, "inputs.npz"), n=np.array(3, np.int64), v0=v0)
    np.savez(
        os.path.join(out, "expected.npz"),
        v_final=v.astype(np.float32),
        sums=np.array(sums, np.float32),
    )


if __name__ == "__main__":
    npy_fixtures()
    mlp_fixture()
    loop_fixture()
