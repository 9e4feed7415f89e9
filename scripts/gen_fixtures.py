"""Writes tenfold's small transformer fixture models: tests/fixtures/{gpt2,bert,vit}/.

Each model is built from a transformers config class with random weights (seeded with
torch.manual_seed, nothing is downloaded), exported with the dynamo ONNX exporter (opset 18) as one
self-contained .onnx file, and run by ONNX Runtime (CPU, graph optimizations disabled) on fixed
seeded inputs. Layout per model, the same as the ONNX backend test cases:

    tests/fixtures/<name>/model.onnx
    tests/fixtures/<name>/test_data_set_0/input_K.pb    (K in the order of graph.input)
    tests/fixtures/<name>/test_data_set_0/output_K.pb   (K in the order of graph.output; ORT's values)
    tests/fixtures/<name>/inputs.npz                    (keys are the ONNX input names)

and tests/fixtures/README.md describing them. Run it through scripts/gen_fixtures.sh, which sets up
the pinned environment (.venv-fixtures).

Usage: python scripts/gen_fixtures.py [OUT]   (OUT defaults to tests/fixtures)
"""

import collections
import logging
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from onnx import numpy_helper

MAX_BYTES = 2 * 1024 * 1024
OPSET = 18
SEED = 0


class GPT2Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False, return_dict=False)[0]


class BertOutputs(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)
        return out[0], out[1]


class ViTOutputs(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        out = self.model(pixel_values=pixel_values, return_dict=False)
        return out[0], out[1]


def perturb(module, scale=0.1):
    """Adds seeded noise to every 1-D parameter (biases, LayerNorm scales and shifts).

    The default init makes biases exactly 0 and LayerNorm scales exactly 1, which lets the exporter
    share one all-zero initializer between many biases and would let an interpreter that ignores a
    bias or a LayerNorm scale pass the test.
    """
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * scale)
    return module


def build_gpt2():
    cfg = transformers.GPT2Config(
        n_layer=2,
        n_head=4,
        n_embd=64,
        vocab_size=512,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
        use_cache=False,
    )
    cfg._attn_implementation = "eager"
    model = GPT2Logits(perturb(transformers.GPT2LMHeadModel(cfg)))
    g = torch.Generator().manual_seed(SEED + 1)
    inputs = {"input_ids": torch.randint(0, cfg.vocab_size, (1, 16), generator=g, dtype=torch.int64)}
    return model, inputs, ["logits"]


def build_bert():
    cfg = transformers.BertConfig(
        vocab_size=512,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    cfg._attn_implementation = "eager"
    model = BertOutputs(perturb(transformers.BertModel(cfg)))
    g = torch.Generator().manual_seed(SEED + 2)
    input_ids = torch.randint(1, cfg.vocab_size, (2, 16), generator=g, dtype=torch.int64)
    attention_mask = torch.ones((2, 16), dtype=torch.int64)
    attention_mask[1, -5:] = 0
    input_ids[1, -5:] = cfg.pad_token_id
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    return model, inputs, ["last_hidden_state", "pooler_output"]


def build_vit():
    cfg = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        num_hidden_layers=2,
        hidden_size=64,
        num_attention_heads=4,
        intermediate_size=128,
    )
    cfg._attn_implementation = "eager"
    model = ViTOutputs(perturb(transformers.ViTModel(cfg)))
    g = torch.Generator().manual_seed(SEED + 3)
    inputs = {"pixel_values": torch.randn((1, 3, 32, 32), generator=g, dtype=torch.float32)}
    return model, inputs, ["last_hidden_state", "pooler_output"]


MODELS = [
    ("gpt2", build_gpt2,
     "GPT-2 style decoder (GPT2LMHeadModel: 2 layers, 4 heads, n_embd 64, vocab 512, "
     "n_positions 64): token + position embeddings, pre-LN blocks, causal self-attention, "
     "tanh-approximated GELU MLP (Pow/Tanh), tied LM head. The shapes are static, so the exporter "
     "folds the position embeddings and the causal mask into initializers; Conv1D layers are Gemm "
     "(transB 0), and the fused QKV projection is a Split with num_outputs 3"),
    ("bert", build_bert,
     "BERT style encoder (BertModel: 2 layers, hidden 64, 4 heads, intermediate 128, vocab 512): "
     "word + position + token-type embeddings and LayerNorm, masked self-attention, post-LN blocks, "
     "erf GELU, tanh pooler. Row 1 of the input is padded: attention_mask is 0 (and input_ids the "
     "pad id 0) on its last 5 positions. transformers builds the padding mask as "
     "Cast -> GatherND -> And -> Where (a -3.4e38 additive mask), and the default token_type_ids "
     "as GatherElements + Expand of a constant buffer"),
    ("vit", build_vit,
     "ViT style encoder (ViTModel: image 32, patch 8, 3 channels, 2 layers, hidden 64, 4 heads, "
     "intermediate 128): Conv patch embedding (8x8, stride 8), CLS token (Concat), position "
     "embeddings, pre-LN blocks, erf GELU, tanh pooler on the CLS token"),
]


def export(model, inputs, output_names, path):
    for ext in (path, path + ".data"):
        if os.path.exists(ext):
            os.remove(ext)
    with torch.no_grad():
        torch.onnx.export(
            model,
            tuple(inputs.values()),
            path,
            dynamo=True,
            opset_version=OPSET,
            input_names=list(inputs.keys()),
            output_names=output_names,
            external_data=False,
            verbose=False,
        )
    # Whatever the exporter did, make the file self-contained.
    proto = onnx.load(path, load_external_data=True)
    for ext in [path + ".data"]:
        if os.path.exists(ext):
            os.remove(ext)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    leftovers = [
        t.name
        for t in proto.graph.initializer
        if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    assert not leftovers, f"{path}: external initializers remain: {leftovers}"
    return proto


def op_histogram(proto):
    hist = collections.Counter()

    def walk(graph):
        for node in graph.node:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            hist[key] += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(proto.graph)
    for fn in proto.functions:
        for node in fn.node:
            hist[f"(function {fn.name}) {node.op_type}"] += 1
    return dict(sorted(hist.items()))


def write_pb(path, array):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.asarray(array)).SerializeToString())


def dims(vi):
    t = vi.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
    return onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, shape


def generate(name, build, out):
    torch.manual_seed(SEED)
    model, inputs, output_names = build()
    model.eval()
    d = os.path.join(out, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    proto = export(model, inputs, output_names, path)

    graph_inputs = [i.name for i in proto.graph.input]
    graph_outputs = [o.name for o in proto.graph.output]
    assert graph_inputs == list(inputs.keys()), (name, graph_inputs)
    feeds = {k: v.numpy() for k, v in inputs.items()}

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    results = sess.run(graph_outputs, feeds)

    with torch.no_grad():
        ref = model(*inputs.values())
    ref = ref if isinstance(ref, tuple) else (ref,)
    max_diff = max(
        float(np.max(np.abs(r.numpy() - o))) for r, o in zip(ref, results)
    )

    for old in os.listdir(ds):
        os.remove(os.path.join(ds, old))
    for k, n in enumerate(graph_inputs):
        write_pb(os.path.join(ds, f"input_{k}.pb"), feeds[n])
    for k, v in enumerate(results):
        write_pb(os.path.join(ds, f"output_{k}.pb"), v)
    np.savez(os.path.join(d, "inputs.npz"), **feeds)

    size = os.path.getsize(path)
    assert size < MAX_BYTES, f"{path} is {size} bytes (limit {MAX_BYTES})"
    hist = op_histogram(proto)
    opsets = {(o.domain or "ai.onnx"): o.version for o in proto.opset_import}
    n_params = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)

    print(f"== {name}: {path} ({size} bytes, {len(proto.graph.node)} nodes, "
          f"{len(proto.graph.initializer)} initializers, {n_params} parameters)")
    print(f"   opset imports: {opsets}")
    print(f"   inputs:  {[(i.name, *dims(i)) for i in proto.graph.input]}")
    print(f"   outputs: {[(o.name, *dims(o)) for o in proto.graph.output]}")
    print(f"   max |torch - onnxruntime| = {max_diff:.3g}")
    print("   ops: " + ", ".join(f"{k}={v}" for k, v in hist.items()))
    return {
        "name": name,
        "size": size,
        "nodes": len(proto.graph.node),
        "initializers": len(proto.graph.initializer),
        "params": n_params,
        "opsets": opsets,
        "inputs": [(i.name, *dims(i)) for i in proto.graph.input],
        "outputs": [(o.name, *dims(o)) for o in proto.graph.output],
        "hist": hist,
        "max_diff": max_diff,
    }


def write_readme(out, infos, descriptions):
    lines = [
        "# Transformer fixture models",
        "",
        "Small transformer models with **random weights** (seeded; nothing is downloaded), built from",
        "transformers config classes, exported with the dynamo ONNX exporter",
        f"(`torch.onnx.export(..., dynamo=True, opset_version={OPSET})`) as self-contained .onnx files.",
        "The expected outputs are ONNX Runtime's (CPUExecutionProvider, graph optimizations",
        "disabled) on the exported file, not PyTorch's.",
        "",
        "Layout per model (the ONNX backend test layout):",
        "",
        "- `<name>/model.onnx`",
        "- `<name>/test_data_set_0/input_K.pb`, `output_K.pb`: TensorProto files, K in the order of",
        "  the graph's inputs / outputs",
        "- `<name>/inputs.npz`: the same inputs keyed by ONNX input name, for",
        "  `tenfold run <name>/model.onnx --inputs <name>/inputs.npz`",
        "",
        "Generated with " + ", ".join(
            f"{m.__name__} {m.__version__}" for m in (torch, transformers, onnx, ort, np)
        ) + ".",
        "",
        "## Regenerating",
        "",
        "```",
        "scripts/gen_fixtures.sh",
        "```",
        "",
        "It creates (or reuses) the pinned environment `.venv-fixtures` and runs",
        "`scripts/gen_fixtures.py`, which rewrites everything in this directory. Weights and inputs",
        "are seeded, but a different torch/transformers/onnxscript version may export a different",
        "graph.",
        "",
    ]
    for info in infos:
        name = info["name"]
        lines += [
            f"## {name}",
            "",
            descriptions[name] + ".",
            "",
            f"- model.onnx: {info['size']} bytes, {info['nodes']} nodes, "
            f"{info['initializers']} initializers ({info['params']} parameters)",
            "- opset imports: " + ", ".join(f"{k} {v}" for k, v in info["opsets"].items()),
            "- inputs: " + ", ".join(f"`{n}` {t} {s}" for n, t, s in info["inputs"]),
            "- outputs: " + ", ".join(f"`{n}` {t} {s}" for n, t, s in info["outputs"]),
            f"- max |PyTorch - ONNX Runtime| on the test inputs: {info['max_diff']:.3g}",
            "",
            "| op | count |",
            "|----|------:|",
        ]
        lines += [f"| {k} | {v} |" for k, v in info["hist"].items()]
        lines.append("")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures")
    os.makedirs(out, exist_ok=True)
    warnings.filterwarnings("ignore")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    # The exporter's constant folder runs onnx's reference evaluator, which fails on BERT's
    # GatherElements of the token_type_ids buffer ("Evaluation failed: cannot reshape ...") and
    # then leaves the node in the graph; that is harmless, so keep the message out of the log.
    logging.getLogger("onnxscript.optimizer._constant_folding").setLevel(logging.ERROR)
    transformers.logging.set_verbosity_error()
    torch.use_deterministic_algorithms(True)
    infos = []
    descriptions = {}
    for name, build, desc in MODELS:
        descriptions[name] = desc
        infos.append(generate(name, build, out))
    write_readme(out, infos, descriptions)
    print(f"wrote {out}/README.md")


if __name__ == "__main__":
    main()
