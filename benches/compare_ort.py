"""Times tenfold against ONNX Runtime on the same models, in one run, with the same thread count,
and checks that tenfold's outputs match ONNX Runtime's.

For each model:
- ONNX Runtime (CPUExecutionProvider, intra-op threads = --threads, default graph
  optimizations) and `tenfold bench --json` each run --runs times after --warmup runs on the
  same inputs (the model's inputs.npz). The pair (ORT, tenfold) is repeated --repeat times,
  interleaved, so that a slow spell of the machine hits both; each side reports the median of
  its per-repeat medians.
- ratio = ORT ms / tenfold ms: above 1 means tenfold is faster.
- compile = tenfold's compile time (median over the repeats), from `tenfold bench`.
- match: `tenfold run --output` once, compared with ORT's outputs elementwise under
  |tenfold - ORT| <= atol + rtol * |ORT| (rtol 1e-4, atol 1e-5; integer and bool outputs must
  be equal). "max rel err" is max |tenfold - ORT| / max(|ORT|, atol / rtol): the relative error,
  with |ORT| floored at 0.1 so that outputs near zero do not blow it up.
- plan: from `tenfold info --plan --json`: how many kernels, and how many of them run in the
  interpreter ("interp" means the whole graph does; its times measure the interpreter).
- GFLOP/s for the GEMM-bound models (gemm1024, mlp; FLOPs from `tenfold info --json`).

Default models: the fixtures tests/fixtures/{gpt2,bert,vit} and the generated models of
benches/models.py (written into target/bench-models when missing).

Usage: python benches/compare_ort.py [--tenfold target/release/tenfold] [--threads N]
           [--runs N] [--warmup N] [--repeat K] [--json] [--json-out FILE] [--no-check]
           [MODEL ...]
A MODEL is a folder holding model.onnx and inputs.npz, or the name of a fixture or of a
generated model (gpt2, bert, vit, mlp, gemm1024, softmax, layernorm, gelu), or of a CNN that
ships inside the onnx package (light_resnet50, light_shufflenet, ...; `light` names them all),
written into target/bench-models with the input ramp of the conformance cases.
Exit status 1 when a model failed to run in tenfold or its outputs did not match.
Run it alone on the machine: a concurrent build makes every number meaningless.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models as bench_models  # noqa: E402  (benches/models.py, found through the path above)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = ("gpt2", "bert", "vit")
# Models whose time is dominated by matrix multiplication: GFLOP/s is meaningful for them.
GEMM_BOUND = ("gemm1024", "mlp")
RTOL, ATOL = 1e-4, 1e-5


class TenfoldError(Exception):
    """A tenfold command failed or broke its output contract; the message says how."""


def tenfold(exe, *args):
    """Runs `tenfold ARGS`, returns stdout; raises TenfoldError with tenfold's error line."""
    p = subprocess.run([exe, *args], capture_output=True, text=True)
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        raise TenfoldError(lines[-1] if lines else f"exit status {p.returncode}")
    return p.stdout


def last_json_line(stdout, what="tenfold"):
    """The JSON object on the last line of a command's stdout."""
    lines = stdout.strip().splitlines()
    try:
        obj = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise TenfoldError(f"{what}: the last line of stdout is not JSON") from None
    if not isinstance(obj, dict):
        raise TenfoldError(f"{what}: the last line of stdout is not a JSON object")
    return obj


def resolve_models(names):
    """Model folders for the command line's MODEL arguments (or the default set)."""
    if not names:
        dirs = [os.path.join(ROOT, "tests", "fixtures", m) for m in FIXTURES]
        return dirs + bench_models.ensure(list(bench_models.MODELS))
    dirs = []
    for n in names:
        if os.path.isdir(n):
            dirs.append(n)
        elif n in FIXTURES:
            dirs.append(os.path.join(ROOT, "tests", "fixtures", n))
        elif n in bench_models.MODELS:
            dirs.extend(bench_models.ensure([n]))
        elif n == "light" or n in bench_models.light_names():
            names = bench_models.light_names() if n == "light" else [n]
            dirs.extend(bench_models.ensure(names, write=bench_models.write_light))
        else:
            known = ", ".join(FIXTURES + tuple(bench_models.MODELS) + ("light",)
                              + tuple(bench_models.light_names()))
            raise SystemExit(f"error: '{n}' is neither a folder nor a known model ({known})")
    return dirs


def ort_session(model, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def time_ort(sess, feeds, runs, warmup):
    """Median ms of `runs` timed runs after `warmup` untimed ones."""
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_tenfold(exe, model, inputs, threads, runs, warmup):
    """`tenfold bench --json`'s result object (median_ms, compile_ms, ...)."""
    out = tenfold(exe, "bench", model, "--inputs", inputs, "--threads", str(threads),
                  "--runs", str(runs), "--warmup", str(warmup), "--json")
    return last_json_line(out)


def describe(exe, model, threads):
    """FLOPs (or None) and a short plan summary from `tenfold info --json [--plan]`."""
    try:
        info = last_json_line(tenfold(exe, "info", model, "--json", "--plan",
                                      "--threads", str(threads)))
    except TenfoldError as e:
        # Compiling failed: still count the FLOPs, and say why there is no plan.
        info = last_json_line(tenfold(exe, "info", model, "--json"))
        return info.get("flops"), f"error: {e}"
    plan = info.get("plan") or {}
    if not plan.get("compiled"):
        return info.get("flops"), "interp"
    kernels = len(plan.get("kernels", []))
    interpreted = len(plan.get("interpreted", []))
    return info.get("flops"), f"{kernels}k/{interpreted}i"


def compare_outputs(exe, model, inputs, threads, ort_names, ort_outputs):
    """(matches, max rel err, note) of tenfold's outputs against ORT's."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "out.npz")
        tenfold(exe, "run", model, "--inputs", inputs, "--output", out_path,
                "--threads", str(threads))
        with np.load(out_path) as z:
            got = {k: z[k] for k in z.files}
    return compare_arrays(ort_names, ort_outputs, got, RTOL, ATOL)


def compare_arrays(names, want_list, have_by_name, rtol, atol):
    """(passes, max rel err, note) of outputs `have_by_name` against `want_list` (in `names` order):
    float outputs within |have - want| <= atol + rtol * |want|, others equal."""
    ok, worst, notes = True, 0.0, []
    for name, want in zip(names, want_list):
        want = np.asarray(want)
        if name not in have_by_name:
            ok = False
            notes.append(f"{name}: missing")
            continue
        have = np.asarray(have_by_name[name])
        if have.shape != want.shape:
            ok = False
            notes.append(f"{name}: shape {list(have.shape)} != {list(want.shape)}")
            continue
        if want.dtype.kind not in "fc":
            if not np.array_equal(have, want):
                ok = False
                notes.append(f"{name}: values differ")
            continue
        have64, want64 = have.astype(np.float64), want.astype(np.float64)
        if not np.allclose(have64, want64, rtol=rtol, atol=atol, equal_nan=True):
            ok = False
            notes.append(f"{name}: not within rtol {rtol:g} atol {atol:g}")
        both_nan = np.isnan(have64) & np.isnan(want64)
        with np.errstate(invalid="ignore"):
            err = np.abs(have64 - want64) / np.maximum(np.abs(want64), atol / rtol)
        err = np.where(both_nan, 0.0, err)
        if err.size:
            # A NaN on one side only is an infinite error.
            worst = max(worst, float(np.nan_to_num(err, nan=np.inf).max()))
    return ok, worst, "; ".join(notes)


def bench_model(a, d):
    """One row of the table for the model folder `d`."""
    name = os.path.basename(os.path.normpath(d))
    model, inputs = os.path.join(d, "model.onnx"), os.path.join(d, "inputs.npz")
    with np.load(inputs) as z:
        feeds = {k: z[k] for k in z.files}
    row = {"model": name, "threads": a.threads}
    sess = ort_session(model, a.threads)
    ort_names = [o.name for o in sess.get_outputs()]
    try:
        row["flops"], row["plan"] = describe(a.tenfold, model, a.threads)
        if a.check:
            ok, err, note = compare_outputs(a.tenfold, model, inputs, a.threads, ort_names,
                                            sess.run(None, feeds))
            row.update(match=ok, max_rel_err=err, mismatch=note)
        ort_ms, tf_ms, compile_ms = [], [], []
        for _ in range(a.repeat):
            ort_ms.append(time_ort(sess, feeds, a.runs, a.warmup))
            tf = time_tenfold(a.tenfold, model, inputs, a.threads, a.runs, a.warmup)
            tf_ms.append(tf["median_ms"])
            compile_ms.append(tf["compile_ms"])
    except TenfoldError as e:
        row["error"] = str(e)
        return row
    row["ort_median_ms"] = statistics.median(ort_ms)
    row["tenfold_median_ms"] = statistics.median(tf_ms)
    row["tenfold_compile_ms"] = statistics.median(compile_ms)
    row["speed_vs_ort"] = row["ort_median_ms"] / row["tenfold_median_ms"]
    row["ort_repeats_ms"] = ort_ms
    row["tenfold_repeats_ms"] = tf_ms
    if row["flops"]:
        row["ort_gflops"] = row["flops"] / (row["ort_median_ms"] * 1e6)
        row["tenfold_gflops"] = row["flops"] / (row["tenfold_median_ms"] * 1e6)
    return row


def print_table(rows, a):
    print(f"threads {a.threads}, {a.runs} runs after {a.warmup} warmup, median of "
          f"{a.repeat} interleaved repeat{'s' if a.repeat != 1 else ''}; "
          f"ratio = ORT/tenfold (> 1: tenfold faster)")
    head = (f"{'model':<10} {'ORT ms':>10} {'tenfold ms':>11} {'ratio':>7} "
            f"{'compile ms':>11} {'plan':>9}  {'match':<5} {'max rel err':>11}")
    print(head)
    print("-" * len(head))
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<10} tenfold failed: {r['error']}")
            continue
        match = "-" if "match" not in r else ("yes" if r["match"] else "NO")
        err = f"{r['max_rel_err']:11.2e}" if "max_rel_err" in r else f"{'-':>11}"
        print(f"{r['model']:<10} {r['ort_median_ms']:>10.3f} {r['tenfold_median_ms']:>11.3f} "
              f"{r['speed_vs_ort']:>6.2f}x {r['tenfold_compile_ms']:>11.1f} {r['plan']:>9}  "
              f"{match:<5} {err}")
    for r in rows:
        if r.get("mismatch"):
            print(f"  {r['model']}: {r['mismatch']}")
    gemm = [r for r in rows if r["model"] in GEMM_BOUND and "tenfold_gflops" in r]
    if gemm:
        print()
        print(f"{'model':<10} {'GFLOP':>8} {'ORT GFLOP/s':>12} {'tenfold GFLOP/s':>16}")
        for r in gemm:
            print(f"{r['model']:<10} {r['flops'] / 1e9:>8.3f} {r['ort_gflops']:>12.1f} "
                  f"{r['tenfold_gflops']:>16.1f}")
    print("plan: kernels/interpreted kernels of the compiled program; interp: the whole graph "
          "runs in the interpreter")



def check_timing_args(ap, a):
    """Rejects (through `ap.error`) counts below 1, a negative warmup and a missing binary."""
    for flag in ("threads", "runs", "repeat"):
        if getattr(a, flag) < 1:
            ap.error(f"--{flag} must be at least 1")
    if a.warmup < 0:
        ap.error("--warmup must not be negative")
    if not os.path.isfile(a.tenfold):
        ap.error(f"no tenfold binary at {a.tenfold} (run `cargo build --release`)")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tenfold", default=os.path.join(ROOT, "target", "release", "tenfold"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3,
                    help="interleaved (ORT, tenfold) repeats; the median of their medians")
    ap.add_argument("--json", action="store_true", help="also print the rows as one JSON line")
    ap.add_argument("--json-out", metavar="FILE", help="write the rows as JSON to FILE")
    ap.add_argument("--no-check", dest="check", action="store_false",
                    help="skip comparing tenfold's outputs with ORT's")
    ap.add_argument("models", nargs="*", metavar="MODEL")
    a = ap.parse_args()
    check_timing_args(ap, a)

    rows = [bench_model(a, d) for d in resolve_models(a.models)]
    print_table(rows, a)
    if a.json:
        print(json.dumps(rows))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(rows, f, indent=1)
    failed = [r for r in rows if "error" in r or r.get("match") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
