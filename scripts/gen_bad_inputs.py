"""Writes tenfold's bad-input corpus: tests/bad_inputs/.

Every case is a CLI invocation that must fail cleanly: exactly one `error: ...` line on stderr that
names what went wrong and where, and a non-zero exit status (no panic, no abort, no backtrace).
tests/bad_inputs/cases.txt lists them, one per line:

    <name> TAB <arguments for the tenfold CLI> TAB <substring the error line must contain>

The arguments are separated by single spaces and name files relative to tests/bad_inputs/ (run the
CLI from that directory).

The invalid models are built with onnx.helper and written with SerializeToString(): onnx.save and
the checker may refuse them, and the checker is deliberately never run. Everything is seeded and
tiny, so rerunning the script rewrites the same bytes.

Usage: .venv/bin/python scripts/gen_bad_inputs.py [OUT]   (OUT defaults to tests/bad_inputs;
scripts/setup_venv.sh creates .venv)
"""

import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10
OPSET = 18
F = TensorProto.FLOAT
I64 = TensorProto.INT64


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def model(nodes, inputs, outputs, initializers=(), opsets=None, name="bad"):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    if opsets is None:
        opsets = [helper.make_opsetid("", OPSET)]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="tenfold gen_bad_inputs")
    m.ir_version = IR_VERSION
    return m


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def relu_model():
    """The valid model the feed cases use: x f32 [2,3] -> Relu -> y f32 [2,3]."""
    return model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [vi("x", F, [2, 3])],
        [vi("y", F, [2, 3])],
        name="relu",
    )


def matmul_relu_model():
    """A valid x f32 [2,3] @ w f32 [3,4] -> Relu model (the one case 3 truncates)."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 12.0
    return model(
        [
            helper.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
            helper.make_node("Relu", ["xw"], ["y"], name="relu"),
        ],
        [vi("x", F, [2, 3])],
        [vi("y", F, [2, 4])],
        [const("w", w)],
        name="matmul_relu",
    )


# ---------------------------------------------------------------------------------------------
# Protobuf wire-format checks, so the corpus does not depend on one protobuf library's leniency.


def read_varint(buf, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            return None, pos
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def top_level_fields(buf):
    """(field, wire_type, start, end) of each top-level field, stopping at the first bad one."""
    pos, out = 0, []
    while pos < len(buf):
        start = pos
        tag, pos = read_varint(buf, pos)
        if tag is None:
            return out, start
        field, wt = tag >> 3, tag & 7
        if field == 0 or wt in (3, 4, 6, 7):
            return out, start
        if wt == 0:
            _, pos = read_varint(buf, pos)
            if _ is None:
                return out, start
        elif wt == 1:
            pos += 8
        elif wt == 5:
            pos += 4
        else:
            n, pos = read_varint(buf, pos)
            if n is None:
                return out, start
            pos += n
        if pos > len(buf):
            return out, start
        out.append((field, wt, start, pos))
    return out, None


def must_not_parse(data, what):
    try:
        onnx.ModelProto().ParseFromString(data)
    except Exception:
        return
    raise AssertionError(f"{what}: python protobuf parses it as a ModelProto")


def random_bytes():
    """4 KiB from the first seed whose first byte is already an invalid protobuf tag (field 0, or
    wire type 6/7), so every protobuf decoder rejects it at offset 0, not after some luck."""
    for seed in range(1000):
        data = np.random.default_rng(seed).bytes(4096)
        b = data[0]
        if b < 0x80 and (b >> 3 == 0 or b & 7 in (6, 7)):
            return seed, data
    raise AssertionError("no seed found")


def truncated(full):
    """The first half of a valid model, checked to end inside a length-delimited field."""
    cut = len(full) // 2
    fields, bad = top_level_fields(full)
    assert bad is None, "the valid model does not scan"
    hit = [f for f in fields if f[2] < cut < f[3]]
    assert hit and hit[0][1] == 2, f"cut at {cut} is not inside a length-delimited field: {fields}"
    return full[:cut]


TEXT_MODEL = """\
ir_version: 10
opset_import { domain: "" version: 18 }
graph {
  name: "this is the text format, not the binary protobuf an .onnx file holds"
  node { input: "x" output: "y" op_type: "Relu" name: "relu" }
  input { name: "x" type { tensor_type { elem_type: 1 shape { dim { dim_value: 2 } } } } }
  output { name: "y" type { tensor_type { elem_type: 1 shape { dim { dim_value: 2 } } } } }
}
"""


# ---------------------------------------------------------------------------------------------


def build(out):
    files = {}  # relative path -> bytes
    cases = []  # (name, args, expected substring)

    def add_model(path, m):
        files[path] = m.SerializeToString()

    def add_npy(path, array):
        import io

        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        files[path] = buf.getvalue()

    def case(name, args, expect):
        cases.append((name, args, expect))

    x = np.array([[-1.0, 0.5, 2.0], [3.0, -4.0, 0.25]], dtype=np.float32)
    add_npy("x_2x3.npy", x)
    feed_x = "--input x=x_2x3.npy"

    # 1-4: files that are not ONNX models.
    files["empty.onnx"] = b""
    case("empty_file", "run empty.onnx", "empty")

    seed, data = random_bytes()
    must_not_parse(data, "random.onnx")
    files["random.onnx"] = data
    case("random_bytes", "run random.onnx", "not a valid ONNX model")

    full = matmul_relu_model().SerializeToString()
    assert onnx.load_from_string(full).graph.node[0].op_type == "MatMul"
    files["valid_matmul_relu.onnx"] = full
    half = truncated(full)
    must_not_parse(half, "truncated.onnx")
    files["truncated.onnx"] = half
    case("truncated_model", "run truncated.onnx", "not a valid ONNX model")

    text = TEXT_MODEL.encode()
    must_not_parse(text, "text/model.onnx")
    files["text/model.onnx"] = text
    case("text_file", "run text/model.onnx", "not a valid ONNX model")

    # 5-13: structurally broken models (fed valid inputs, so the model is what fails).
    add_model(
        "unknown_op.onnx",
        model(
            [helper.make_node("Frobnicate", ["x"], ["y"], name="frob_node")],
            [vi("x", F, [2, 3])],
            [vi("y", F, [2, 3])],
        ),
    )
    case("unknown_op", f"run unknown_op.onnx {feed_x}", "Frobnicate")

    add_model(
        "matmul_shapes.onnx",
        model(
            [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
            [vi("a", F, [2, 3]), vi("b", F, [4, 5])],
            [vi("y", F, None)],
        ),
    )
    add_npy("a_2x3.npy", np.ones((2, 3), dtype=np.float32))
    add_npy("b_4x5.npy", np.ones((4, 5), dtype=np.float32))
    case("matmul_shapes", "run matmul_shapes.onnx --input a=a_2x3.npy --input b=b_4x5.npy", "'mm'")

    add_model(
        "dangling_input.onnx",
        model(
            [helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")],
            [vi("x", F, [2, 3])],
            [vi("y", F, [2, 3])],
        ),
    )
    case("dangling_input", f"run dangling_input.onnx {feed_x}", "ghost")

    add_model(
        "cycle.onnx",
        model(
            [
                helper.make_node("Relu", ["b_out"], ["a_out"], name="a"),
                helper.make_node("Relu", ["a_out"], ["b_out"], name="b"),
            ],
            [],
            [vi("a_out", F, [2, 3])],
        ),
    )
    case("cycle", "run cycle.onnx", "cycle")

    tp = helper.make_node("Transpose", ["x"], ["y"], name="tp")
    tp.attribute.append(helper.make_attribute("perm", 1.0))
    assert tp.attribute[0].type == onnx.AttributeProto.FLOAT
    add_model("attr_wrong_type.onnx", model([tp], [vi("x", F, [2, 3])], [vi("y", F, [3, 2])]))
    case("attr_wrong_type", f"run attr_wrong_type.onnx {feed_x}", "perm")

    add_model(
        "bad_perm.onnx",
        model(
            [helper.make_node("Transpose", ["x"], ["y"], name="bad_perm", perm=[0, 0])],
            [vi("x", F, [2, 3])],
            [vi("y", F, None)],
        ),
    )
    case("bad_perm", f"run bad_perm.onnx {feed_x}", "bad_perm")

    add_model(
        "bad_reshape.onnx",
        model(
            [helper.make_node("Reshape", ["x", "shape"], ["y"], name="rs")],
            [vi("x", F, [2, 3])],
            [vi("y", F, None)],
            [const("shape", np.array([4, 2], dtype=np.int64))],
        ),
    )
    case("bad_reshape", f"run bad_reshape.onnx {feed_x}", "'rs'")

    # 10 bytes of raw_data for a [3,4] f32 tensor, which needs 48 (make_tensor would refuse it).
    w = TensorProto(name="w", data_type=F, dims=[3, 4], raw_data=b"\x00" * 10)
    add_model(
        "bad_raw_data.onnx",
        model(
            [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
            [vi("x", F, [2, 3])],
            [vi("y", F, [2, 4])],
            [w],
        ),
    )
    case("bad_raw_data", f"run bad_raw_data.onnx {feed_x}", "'w'")

    relu99 = relu_model()
    del relu99.opset_import[:]
    relu99.opset_import.append(helper.make_opsetid("", 99))
    add_model("opset99.onnx", relu99)
    case("opset_99", f"run opset99.onnx {feed_x}", "opset 99")

    # 14-17 and more: bad feeds and missing files, against a valid model.
    add_model("valid.onnx", relu_model())
    add_npy("bad_shape.npy", np.zeros((3, 2), dtype=np.float32))
    case("feed_wrong_shape", "run valid.onnx --input x=bad_shape.npy", "'x'")
    add_npy("bad_dtype.npy", np.zeros((2, 3), dtype=np.int64))
    case("feed_wrong_dtype", "run valid.onnx --input x=bad_dtype.npy", "dtype")
    case("missing_input_file", "run valid.onnx --input x=does_not_exist.npy", "does_not_exist.npy")
    case("missing_model_file", "run no_such_model.onnx", "no_such_model.onnx")

    # Extras.
    add_model(
        "unproduced_output.onnx",
        model(
            [helper.make_node("Relu", ["x"], ["y"], name="relu")],
            [vi("x", F, [2, 3])],
            [vi("y", F, [2, 3]), vi("nowhere", F, [2, 3])],
        ),
    )
    case("unproduced_output", f"run unproduced_output.onnx {feed_x}", "nowhere")

    add_model(
        "duplicate_producer.onnx",
        model(
            [
                helper.make_node("Relu", ["x"], ["dup_value"], name="dup_a"),
                helper.make_node("Neg", ["x"], ["dup_value"], name="dup_b"),
            ],
            [vi("x", F, [2, 3])],
            [vi("dup_value", F, [2, 3])],
        ),
    )
    case("duplicate_producer", f"run duplicate_producer.onnx {feed_x}", "dup_value")

    neg = TensorProto(name="w_neg", data_type=F, dims=[-1, 3])
    add_model(
        "negative_dim.onnx",
        model(
            [helper.make_node("Add", ["x", "w_neg"], ["y"], name="add")],
            [vi("x", F, [2, 3])],
            [vi("y", F, [2, 3])],
            [neg],
        ),
    )
    case("negative_dim", f"run negative_dim.onnx {feed_x}", "w_neg")

    add_model(
        "unknown_domain.onnx",
        model(
            [helper.make_node("Foo", ["x"], ["y"], name="custom_node", domain="com.example")],
            [vi("x", F, [2, 3])],
            [vi("y", F, [2, 3])],
            opsets=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.example", 1)],
        ),
    )
    case("unknown_domain", f"run unknown_domain.onnx {feed_x}", "com.example")

    add_model(
        "too_few_inputs.onnx",
        model(
            [helper.make_node("MatMul", ["x"], ["y"], name="mm_one")],
            [vi("x", F, [2, 3])],
            [vi("y", F, None)],
        ),
    )
    case("too_few_inputs", f"run too_few_inputs.onnx {feed_x}", "mm_one")

    # Index 7 is out of range for an axis of size 2: a data-dependent error while running.
    add_model(
        "gather_out_of_range.onnx",
        model(
            [helper.make_node("Gather", ["x", "idx"], ["y"], name="gather_oob", axis=0)],
            [vi("x", F, [2, 3])],
            [vi("y", F, [1, 3])],
            [const("idx", np.array([7], dtype=np.int64))],
        ),
    )
    case("gather_out_of_range", f"run gather_out_of_range.onnx {feed_x}", "gather_oob")

    # 2^20 * 2^20 * 2^10 f32 elements (4 PiB): must be refused, not attempted (an allocation
    # failure aborts a Rust process instead of printing an error).
    add_model(
        "huge_alloc.onnx",
        model(
            [helper.make_node("ConstantOfShape", ["shape"], ["y"], name="huge")],
            [],
            [vi("y", F, None)],
            [const("shape", np.array([1 << 20, 1 << 20, 1 << 10], dtype=np.int64))],
        ),
    )
    case("huge_alloc", "run huge_alloc.onnx", "'huge'")

    # Inputs not given are filled with random data, so a missing feed is not an error; an
    # input of a dtype tenfold does not hold is.
    add_model(
        "string_input.onnx",
        model(
            [helper.make_node("Identity", ["s"], ["y"], name="id")],
            [vi("s", onnx.TensorProto.STRING, [2])],
            [vi("y", onnx.TensorProto.STRING, [2])],
            [],
        ),
    )
    case("string_input", "run string_input.onnx", "STRING")
    case("feed_unknown_name", "run valid.onnx --input x=x_2x3.npy --input nonexistent=x_2x3.npy",
         "nonexistent")
    files["corrupt.npy"] = b"\x93NUMPY\x01\x00this header is not a dict\n" + bytes(range(32))
    case("feed_corrupt_npy", "run valid.onnx --input x=corrupt.npy", "corrupt.npy")
    files["bad_dtype.pb"] = numpy_helper.from_array(
        np.zeros((2, 3), dtype=np.int64), "x"
    ).SerializeToString()
    case("feed_wrong_dtype_pb", "run valid.onnx --input x=bad_dtype.pb", "dtype")
    case("feed_missing_equals", "run valid.onnx --input x_2x3.npy", "x_2x3.npy")
    np_buf = __import__("io").BytesIO()
    np.savez(np_buf, x=x, not_an_input=x)
    files["wrong_key.npz"] = np_buf.getvalue()
    case("npz_unknown_name", "run valid.onnx --inputs wrong_key.npz", "not_an_input")

    # Sanity: every referenced file exists (except the deliberately missing ones), names unique.
    names = [c[0] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    missing_on_purpose = {"does_not_exist.npy", "no_such_model.onnx"}
    for name, args, expect in cases:
        assert "\t" not in args and "\n" not in args and "\t" not in expect
        for tok in args.split(" ")[1:]:
            path = tok.split("=", 1)[-1]
            if path.startswith("--") or path in missing_on_purpose:
                continue
            assert path in files, f"{name}: {path} is not in the corpus"
    for path in missing_on_purpose:
        assert path not in files
    for path, data in files.items():
        assert len(data) <= 8192, f"{path} is {len(data)} bytes"

    # Write: clear the old corpus (keeping README.md), then the files and cases.txt.
    os.makedirs(out, exist_ok=True)
    for entry in os.listdir(out):
        if entry == "README.md":
            continue
        p = os.path.join(out, entry)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    for path, data in sorted(files.items()):
        full_path = os.path.join(out, path)
        os.makedirs(os.path.dirname(full_path), exist_ok=True)
        with open(full_path, "wb") as f:
            f.write(data)
    with open(os.path.join(out, "cases.txt"), "w") as f:
        for name, args, expect in cases:
            f.write(f"{name}\t{args}\t{expect}\n")
    print(f"wrote {len(files)} files and {len(cases)} cases to {out} (random.onnx: seed {seed})")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "bad_inputs")
    build(out)


if __name__ == "__main__":
    main()
