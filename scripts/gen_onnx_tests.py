"""Writes the ONNX backend test cases tenfold's conformance test runs.

Node cases come from onnx.backend.test.case.node.collect_testcases(): each becomes
OUT/node/<name>/model.onnx with test_data_set_N/input_K.pb and output_K.pb. The light_* models
that ship inside the onnx package become OUT/light/<name>/ in the same layout, with the inputs
the onnx test runner feeds them (arange(n)/n in the declared shape) and the expected outputs
that ship beside them.

Usage: python scripts/gen_onnx_tests.py OUT
"""

import glob
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases

STAMP = ".complete"


def write_pb(path, value):
    if isinstance(value, onnx.TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(np.asarray(value))
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def write_node_cases(out):
    cases = collect_testcases(None)
    n = 0
    for case in cases:
        d = os.path.join(out, "node", case.name)
        os.makedirs(d, exist_ok=True)
        onnx.save(case.model, os.path.join(d, "model.onnx"))
        graph_inputs = [i for i in case.model.graph.input]
        for k, (inputs, outputs) in enumerate(case.data_sets or []):
            ds = os.path.join(d, f"test_data_set_{k}")
            os.makedirs(ds, exist_ok=True)
            for j, x in enumerate(inputs):
                if x is None or isinstance(x, (list, dict)) or (
                    hasattr(x, "dtype") and x.dtype == object
                ):
                    # Sequences, maps and optionals are not tensors; the model is unsupported.
                    open(os.path.join(ds, f"input_{j}.unsupported"), "w").close()
                    continue
                write_pb(os.path.join(ds, f"input_{j}.pb"), x)
            for j, y in enumerate(outputs):
                if y is None or isinstance(y, (list, dict)) or (
                    hasattr(y, "dtype") and y.dtype == object
                ):
                    open(os.path.join(ds, f"output_{j}.unsupported"), "w").close()
                    continue
                write_pb(os.path.join(ds, f"output_{j}.pb"), y)
        del graph_inputs
        n += 1
    return n


def write_light_models(out):
    src = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    n = 0
    for model_path in sorted(glob.glob(os.path.join(src, "light_*.onnx"))):
        name = os.path.splitext(os.path.basename(model_path))[0]
        d = os.path.join(out, "light", name)
        ds = os.path.join(d, "test_data_set_0")
        os.makedirs(ds, exist_ok=True)
        shutil.copy(model_path, os.path.join(d, "model.onnx"))
        model = onnx.load(model_path)
        inits = {i.name for i in model.graph.initializer}
        k = 0
        for x in model.graph.input:
            if x.name in inits:
                continue
            shape = tuple(
                dim.dim_value if dim.HasField("dim_value") else 1
                for dim in x.type.tensor_type.shape.dim
            )
            count = int(np.prod(shape))
            value = (np.arange(count).reshape(shape) / count).astype(np.float32)
            write_pb(os.path.join(ds, f"input_{k}.pb"), value)
            k += 1
        prefix = os.path.splitext(model_path)[0]
        for j in range(len(model.graph.output)):
            shutil.copy(f"{prefix}_output_{j}.pb", os.path.join(ds, f"output_{j}.pb"))
        n += 1
    return n


def main():
    out = sys.argv[1]
    stamp = os.path.join(out, STAMP)
    if os.path.exists(stamp):
        print(f"ONNX test cases already in {out}: {open(stamp).read().strip()}")
        return
    if os.path.exists(out):
        shutil.rmtree(out)
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    nodes = write_node_cases(out)
    lights = write_light_models(out)
    with open(stamp, "w") as f:
        f.write(f"onnx {onnx.__version__}: {nodes} node cases, {lights} light models\n")
    print(f"wrote {nodes} node cases and {lights} light models to {out}")


if __name__ == "__main__":
    main()
