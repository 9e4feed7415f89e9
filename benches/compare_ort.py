"""Times tenfold against ONNX Runtime on the same models, in one run, with the same thread count.

For each model: ONNX Runtime (CPUExecutionProvider, intra-op threads = --threads, default graph
optimizations) and `tenfold bench --json` each run --runs times after --warmup runs on the same
inputs; the median times and their ratio (ORT time / tenfold time: above 1 means tenfold is
faster) are printed as a table, and as JSON with --json.

Usage: python benches/compare_ort.py [--tenfold target/release/tenfold] [--threads N]
           [--runs N] [--warmup N] [--json] [MODEL_DIR ...]
A MODEL_DIR holds model.onnx and inputs.npz (default: the fixtures in tests/fixtures).
Run it alone on the machine: a concurrent build makes every number meaningless.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def time_ort(model, feeds, threads, runs, warmup):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_tenfold(exe, model, inputs, threads, runs, warmup):
    cmd = [exe, "bench", model, "--inputs", inputs, "--threads", str(threads),
           "--runs", str(runs), "--warmup", str(warmup), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenfold", default=os.path.join(ROOT, "target", "release", "tenfold"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()
    dirs = a.models or [os.path.join(ROOT, "tests", "fixtures", m) for m in ("gpt2", "bert", "vit")]
    rows = []
    for d in dirs:
        model, inputs = os.path.join(d, "model.onnx"), os.path.join(d, "inputs.npz")
        feeds = dict(np.load(inputs))
        ort_ms = time_ort(model, feeds, a.threads, a.runs, a.warmup)
        tf = time_tenfold(a.tenfold, model, inputs, a.threads, a.runs, a.warmup)
        rows.append({
            "model": os.path.basename(os.path.normpath(d)),
            "threads": a.threads,
            "ort_median_ms": round(ort_ms, 3),
            "tenfold_median_ms": round(tf["median_ms"], 3),
            "tenfold_compile_ms": round(tf["compile_ms"], 3),
            "speed_vs_ort": round(ort_ms / tf["median_ms"], 3),
        })
    print(f"{'model':<10} {'threads':>7} {'ORT ms':>10} {'tenfold ms':>11} {'speed vs ORT':>13}")
    for r in rows:
        print(f"{r['model']:<10} {r['threads']:>7} {r['ort_median_ms']:>10.3f} "
              f"{r['tenfold_median_ms']:>11.3f} {r['speed_vs_ort']:>12.3f}x")
    if a.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    sys.exit(main())
