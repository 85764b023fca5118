"""Evaluation metrics speed and memory, side by side with scikit-learn on the same arrays.

Figures (written to results/eval.json and results/eval.md):
- exact AP + AUROC + FPR95 on 5e7 and 1e8 float32 scores (1 % positives, sigmoid(N(0, 1) + 2y)):
  scikit-learn (``average_precision_score`` + ``roc_curve`` + ``roc_auc_score``) vs oodforge
  ``pixel_metrics(protocol="fishyscapes")`` and the streaming ``PixelMetrics`` (50 updates);
  time, |difference| of the values, peak extra memory;
- the ``smiyc`` protocol on 50 float16 frames of 2048x1024 (~1.05e8 pixels), with the literal
  official per-frame algorithm (np.quantile + np.histogram) timed on a few frames for scale;
- component metrics on one 2048x1024 frame with 50 ground-truth components, with the literal
  official loops (``scipy.ndimage.label`` + per-component masks) for scale.

Each measurement runs in a fresh subprocess that generates the same seeded arrays, then resets the
kernel's peak-RSS mark (``/proc/self/clear_refs``) so "peak extra" is the peak RSS during the call
minus the RSS just before it (arrays and imports excluded). Memory runs use a fixed glibc mmap
threshold so that freed blocks go back to the OS and RSS follows the live allocations; oodforge's
times come from a second run with the default allocator (scikit-learn is run once, its large
blocks are mmapped under either setting).

Usage: python benchmarks/eval_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine_info, write_results

HERE = Path(__file__).resolve().parent
MB = 2**20


def _status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            key, value = line.split(":")
            out[key] = int(value.split()[0]) * 1024
    return out


def _measure(fn: Any) -> tuple[float, int, Any]:
    """(seconds, peak extra bytes, result) of one call."""
    import gc

    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    base = _status()["VmRSS"]
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    return seconds, _status()["VmHWM"] - base, out


def _pooled_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    labels = (rng.random(n, dtype=np.float32) < 0.01).astype(np.uint8)
    scores = np.empty(n, np.float32)
    step = 1 << 22
    for i in range(0, n, step):
        z = rng.standard_normal(min(step, n - i), dtype=np.float32) + 2 * labels[i : i + step]
        scores[i : i + step] = 1 / (1 + np.exp(-z))
    return scores, labels


def _frames(count: int, h: int, w: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.zeros((count, h, w), np.uint8)
    labels[:, : h // 4] = 255  # void sky
    scores = np.empty((count, h, w), np.float16)
    for i in range(count):
        for _ in range(5):
            y, x = rng.integers(h // 4, h - 80), rng.integers(0, w - 80)
            labels[i, y : y + rng.integers(10, 80), x : x + rng.integers(10, 80)] = 1
        z = rng.standard_normal((h, w), dtype=np.float32) + 2.5 * (labels[i] == 1)
        scores[i] = np.minimum(1 / (1 + np.exp(-z)) * 1.05, 1)  # float16 saturation at 1.0
    return scores, labels


def _component_frame(h: int, w: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    labels = np.zeros((h, w), np.uint8)
    labels[: h // 5] = 255
    scores = (rng.random((h, w), dtype=np.float32) * 0.45).astype(np.float16)
    placed = 0
    while placed < n:
        y, x = rng.integers(h // 5, h - 70), rng.integers(0, w - 70)
        dy, dx = rng.integers(12, 60, 2)
        if labels[y - 2 : y + dy + 2, x - 2 : x + dx + 2].any():
            continue
        labels[y : y + dy, x : x + dx] = 1
        scores[y + 3 : y + dy + 3, x + 1 : x + dx] = 0.8
        placed += 1
    for _ in range(n // 2):  # false positives
        y, x = rng.integers(h // 5, h - 40), rng.integers(0, w - 40)
        scores[y : y + 30, x : x + 30] = np.maximum(scores[y : y + 30, x : x + 30], 0.7)
    return scores, labels


def child_sklearn(n: int) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    scores, labels = _pooled_data(n)
    out: dict[str, Any] = {}
    t_ap, m_ap, ap = _measure(lambda: average_precision_score(labels, scores))
    t_roc, m_roc, roc = _measure(lambda: roc_curve(labels, scores, drop_intermediate=False))
    fpr, tpr, _ = roc
    fpr95 = float(fpr[np.flatnonzero(tpr >= 0.95)[0]])
    del roc, fpr, tpr
    t_auc, m_auc, auc = _measure(lambda: roc_auc_score(labels, scores))
    out.update(ap=float(ap), auroc=float(auc), fpr95=fpr95, seconds=t_ap + t_roc + t_auc)
    out["calls"] = {"average_precision_score": t_ap, "roc_curve": t_roc, "roc_auc_score": t_auc}
    out["peak_extra_bytes"] = max(m_ap, m_roc, m_auc)
    return out


def child_oodforge(n: int, streaming: bool) -> dict[str, Any]:
    from oodforge.metrics import PixelMetrics, pixel_metrics

    scores, labels = _pooled_data(n)

    def run_streaming() -> Any:
        metric = PixelMetrics("fishyscapes")
        for s, lab in zip(np.array_split(scores, 50), np.array_split(labels, 50), strict=True):
            metric.update(s, lab)
        return metric.compute()

    fn = run_streaming if streaming else (lambda: pixel_metrics(scores, labels, "fishyscapes"))
    seconds, peak, r = _measure(fn)
    return {"ap": r.ap, "auroc": r.auroc, "fpr95": r.fpr95, "seconds": seconds, "peak_extra_bytes": peak}


def child_smiyc(count: int, h: int, w: int, ref_frames: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent / "tests" / "metrics"))
    from metrics_smiyc_ref import reference_frame

    from oodforge.metrics import PixelMetrics

    scores, labels = _frames(count, h, w)

    def run() -> Any:
        metric = PixelMetrics("smiyc")
        for i in range(count):
            metric.update(scores[i], labels[i])
        return metric.compute()

    seconds, peak, r = _measure(run)
    t0 = time.perf_counter()
    for i in range(ref_frames):
        reference_frame(scores[i], labels[i])
    ref_per_frame = (time.perf_counter() - t0) / ref_frames
    return {
        "pixels": int(scores.size),
        "seconds": seconds,
        "peak_extra_bytes": peak,
        "ap": r.ap,
        "fpr95": r.fpr95,
        "official_style_seconds_per_frame": ref_per_frame,
        "official_style_seconds_extrapolated": ref_per_frame * count,
    }


def child_components(h: int, w: int, n: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent / "tests" / "metrics"))
    from metrics_component_ref import reference_split

    from oodforge.metrics import component_metrics

    scores, labels = _component_frame(h, w, n)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        r = component_metrics(scores, labels, "obstacle", threshold=0.5)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ref = reference_split([scores > np.float16(0.5)], [labels], 50, 10)
    ref_seconds = time.perf_counter() - t0
    return {
        "seconds_median": statistics.median(times),
        "seconds_min": min(times),
        "num_gt": r.num_gt,
        "num_pred": r.num_pred,
        "f1_mean": r.f1_mean,
        "official_style_seconds": ref_seconds,
        "matches_official_style": bool(
            abs(r.f1_mean - ref["f1_mean"]) < 1e-12 and abs(r.siou_gt - ref["siou_gt"]) < 1e-12
        ),
    }


def _spawn(*args: str, for_memory: bool = True) -> dict[str, Any]:
    # for_memory: a fixed mmap threshold returns every freed block >= 128 KiB to the OS, so RSS tracks
    # the live allocations (the default allocator may reuse heap freed while generating the data)
    env = dict(os.environ)
    if for_memory:
        env |= {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if proc.returncode:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _markdown(data: dict[str, Any]) -> str:
    lines = ["# Evaluation metrics benchmark", "", f"Mode: {data['mode']}; machine: {data['machine']}", ""]
    lines += ["## Exact pooled AP + AUROC + FPR95 (float32, 1 % positives)", ""]
    lines += [
        "| pixels | method | time s | speed-up | peak extra MiB | mem vs sklearn | max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["exact"]:
        sk = row["sklearn"]
        n, sk_mem = f"{row['n']:.0e}", sk["peak_extra_bytes"]
        lines.append(
            f"| {n} | sklearn (AP + roc_curve + roc_auc_score) | {sk['seconds']:.2f} | 1.0x"
            f" | {sk_mem / MB:.0f} | 100 % | - |"
        )
        for name in ("oodforge_function", "oodforge_streaming"):
            r = row[name]
            lines.append(
                f"| {n} | {name.replace('_', ' ')} | {r['seconds']:.2f} | {sk['seconds'] / r['seconds']:.1f}x"
                f" | {r['peak_extra_bytes'] / MB:.0f} | {100 * r['peak_extra_bytes'] / sk_mem:.1f} %"
                f" | {r['max_abs_diff']:.1e} |"
            )
    s = data["smiyc"]
    lines += ["", f"## smiyc protocol, {s['pixels']:.2e} float16 pixels ({s['frames']} frames {s['shape']})", ""]
    lines += [
        f"- oodforge: {s['seconds']:.2f} s, peak extra {s['peak_extra_bytes'] / MB:.0f} MiB (AP {s['ap']:.4f})",
        f"- official-style per-frame np.quantile + np.histogram: {s['official_style_seconds_per_frame']:.3f} s/frame"
        f" (~{s['official_style_seconds_extrapolated']:.1f} s extrapolated)",
    ]
    c = data["components"]
    lines += [
        "",
        f"## Component metrics, one {c['shape']} frame, {c['num_gt']} GT / {c['num_pred']} predicted components",
        "",
    ]
    lines += [
        f"- oodforge: median {1000 * c['seconds_median']:.1f} ms (min {1000 * c['seconds_min']:.1f} ms)",
        f"- official-style loops: {c['official_style_seconds']:.2f} s; same numbers: {c['matches_official_style']}",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, *params = args.child
        funcs = {
            "sklearn": child_sklearn,
            "oodforge": child_oodforge,
            "smiyc": child_smiyc,
            "components": child_components,
        }
        values = [int(p) if p.lstrip("-").isdigit() else p == "True" for p in params]
        print(json.dumps(funcs[task](*values)))
        return
    sizes = [10**6, 2 * 10**6] if args.quick else [5 * 10**7, 10**8]
    frames, h, w, ref_frames = (4, 256, 512, 2) if args.quick else (50, 1024, 2048, 3)
    ch, cw = (256, 512) if args.quick else (1024, 2048)
    data: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine_info(), "exact": []}
    for n in sizes:
        row: dict[str, Any] = {"n": n, "sklearn": _spawn("sklearn", str(n))}
        for name, streaming in (("oodforge_function", False), ("oodforge_streaming", True)):
            r = _spawn("oodforge", str(n), str(streaming))
            r["seconds"] = _spawn("oodforge", str(n), str(streaming), for_memory=False)["seconds"]
            r["max_abs_diff"] = max(abs(r[k] - row["sklearn"][k]) for k in ("ap", "auroc", "fpr95"))
            row[name] = r
        data["exact"].append(row)
        print(json.dumps(row), flush=True)
    data["smiyc"] = _spawn("smiyc", str(frames), str(h), str(w), str(ref_frames)) | {
        "frames": frames,
        "shape": f"{w}x{h}",
    }
    data["components"] = _spawn("components", str(ch), str(cw), "50", for_memory=False) | {"shape": f"{cw}x{ch}"}
    write_results("eval_quick" if args.quick else "eval", data, _markdown(data))


if __name__ == "__main__":
    main()
