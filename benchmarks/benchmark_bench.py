"""``oodforge benchmark``: metric overhead vs the forward pass (CPU), and memory flat in the number of frames.

Two measurements, side by side in one run (written to results/benchmark.json and results/benchmark.md):

1. **Overhead per frame**, ERFNet (20 classes) at 1024x512 on CPU through the engine's own path
   (``run_benchmark`` + ``ModelSource`` around the ``Predictor`` that ``oodforge benchmark --model erfnet
   --weights W`` loads), over a generated RoadAnomaly21-layout benchmark, once with protocol ``smiyc`` and once
   with ``fishyscapes`` (components on the AnomalyTrack). Weights: the published ERFNet of
   ``<repo>/../shared/realweights`` when present, else a random init (recorded). The default suite's rows
   (msp, maxlogit, entropy, energy x T in {1, 2}: 7 distinct score maps, MaxLogit takes no T). The engine's
   own functions are wrapped with ``perf_counter`` timers (no library change), ``workers=1`` so that every
   second of a frame is attributed once; per category the least-disturbed frame (the minimum over frames:
   the machine may be shared), medians kept in the JSON:

   - forward: ``ModelSource.output`` (input convention, ``model(x)``, logits restored to the image size);
   - (a) scores: the registered score functions + the float16 conversion ``oodforge score`` applies;
   - (b) metric accumulation: per row one float16 key count by label class feeding the pixel metric state and
     the score histogram, worst-frame bookkeeping (per-frame AP from the primary row's count + heap), component
     bookkeeping (float16 maps kept for pass 2, read back, label read again and its components labelled once,
     ``ComponentPass.update_truth`` per row), and the end-of-benchmark compute + reports amortised per frame;
   - (c) the rest: decoding the image and label, the up-front label check, dispatch.

   A second run with the default thread count (``min(4, CPUs)``) gives the wall-clock overhead as a user sees it.
2. **Peak memory at 50 and 500 frames** (256x128, saved float16 logits through ``LogitsSource``, no model),
   each run in a fresh child process: tracemalloc peak of what Python and numpy allocate after the imports,
   and ``ru_maxrss`` (imports included), for protocol ``fishyscapes`` (constant state) and ``smiyc`` (keeps
   <= 769 bins per frame like the official per-frame histograms: grows with the number of frames by design).

Usage: python benchmarks/benchmark_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine_info, write_results

HERE = Path(__file__).resolve().parent
REAL_WEIGHTS = HERE.parent.parent / "shared" / "realweights" / "erfnet_cityscapes20_lorkenzo_dequantized_oodforge.pth"
CLASSES = 20
SCORES = ["msp", "maxlogit", "entropy", "energy"]
TEMPS = [1.0, 2.0]
MB = 2**20

# ---- data: a RoadAnomaly21-layout benchmark (official layout, split ``all``) ------------------------------


def _frame(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A road-like RGB frame and its SMIYC label (0 normal, 1 anomaly, 255 void) with 1-4 anomaly blobs."""
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (np.array([90, 140, 200], np.float32) * (1 - rows) + np.array([80, 80, 85], np.float32) * rows).repeat(
        w, axis=1
    )
    img += rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    label = np.zeros((h, w), np.uint8)
    label[: h // 5] = 255  # sky: void
    for _ in range(int(rng.integers(1, 5))):
        bh, bw = int(rng.integers(h // 16, h // 5)), int(rng.integers(w // 32, w // 8))
        y, x = int(rng.integers(h // 4, h - bh)), int(rng.integers(0, w - bw))
        yy, xx = np.ogrid[:bh, :bw]
        blob = ((yy - bh / 2) / (bh / 2)) ** 2 + ((xx - bw / 2) / (bw / 2)) ** 2 <= 1
        label[y : y + bh, x : x + bw][blob] = 1
        img[y : y + bh, x : x + bw][blob] = rng.integers(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8), label


def _logits(rng: np.random.Generator, label: np.ndarray) -> np.ndarray:
    """Float16 (C, H, W) logits: a confident class on normal pixels, flatter on anomalies (bench_fixtures' idea)."""
    h, w = label.shape
    z = rng.standard_normal((CLASSES, h, w), dtype=np.float32) * 1.5
    cls = (np.arange(h)[:, None] * 7 // h + np.arange(w)[None, :] * 5 // w) % 19
    rows, cols = np.indices((h, w))
    z[cls, rows, cols] += np.where(label == 1, 0.5, 3.0).astype(np.float32)
    return z.astype(np.float16)


def write_ra21(root: Path, n: int, h: int, w: int, logits_dir: Path | None = None, seed: int = 0) -> list[str]:
    """``root/dataset_AnomalyTrack/{images,labels_masks}`` with ``n`` frames; saved logits when asked."""
    from oodforge._io import encode_image, encode_png

    rng = np.random.default_rng(seed)
    images, labels = root / "dataset_AnomalyTrack" / "images", root / "dataset_AnomalyTrack" / "labels_masks"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    ids = [f"frame{k:04d}" for k in range(n)]
    for fid in ids:
        img, label = _frame(rng, h, w)
        (images / f"{fid}.jpg").write_bytes(encode_image(img, "jpg"))
        (labels / f"{fid}_labels_semantic.png").write_bytes(encode_png(label))
        if logits_dir is not None:
            logits_dir.mkdir(parents=True, exist_ok=True)
            np.save(logits_dir / f"{fid}.npy", _logits(rng, label))
    return ids


def write_suite(path: Path, entries: list[tuple[str, Path, str]]) -> Path:
    """A suite like the packaged default (its scores and temperatures) over RA21-layout roots."""
    import yaml

    data = {
        "name": "bench",
        "benchmarks": [
            {"name": name, "benchmark": "road_anomaly_21", "root": str(root), "split": "all", "protocol": protocol}
            for name, root, protocol in entries
        ],
        "scores": SCORES,
        "temperatures": {"values": TEMPS},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ---- part 1: overhead per frame (child process) ------------------------------------------------------------


class Timers:
    """perf_counter timers wrapped around the engine's functions, bucketed per (entry, pass, frame).

    Exclusive timers count only at the outermost level (per thread), so nested calls are not counted twice
    (the per-frame AP calls the pixel metric code; it counts as worst-frame bookkeeping).
    """

    def __init__(self) -> None:
        self.bucket: tuple[str, str, int] = ("", "setup", 0)
        self.data: dict[tuple[str, str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.marks: dict[tuple[str, str, int], float] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, name: str, fn: Callable[..., Any], exclusive: bool = True) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._local, "depth", 0)
            if exclusive and depth:
                return fn(*args, **kwargs)
            bucket = self.bucket
            if exclusive:
                self._local.depth = depth + 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                if exclusive:
                    self._local.depth = depth
                with self._lock:
                    self.data[bucket][name] += dt

        return timed

    def progress(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        entry, _, what = stage.partition(": ")
        if what == "pixel metrics":
            self.marks[(entry, "p1", done)] = now
            self.bucket = (entry, "p1", done + 1) if done < total else (entry, "p2", 1)
        elif what == "component metrics":
            self.marks[(entry, "p2", done)] = now
            self.bucket = (entry, "p2", done + 1) if done < total else (entry, "end", 0)


def _predictor(weights: Path) -> Any:
    from oodforge.learn.predict import load_predictor

    return load_predictor(model="erfnet", weights=weights, device="cpu")


def _instrument(timers: Timers) -> None:
    """Wrap the engine's functions (module attributes and class methods) with the timers."""
    import oodforge.eval._bench_entry as entry_mod
    import oodforge.eval.bench_engine as engine_mod
    from oodforge.eval._bench_frames import WorstFrames
    from oodforge.eval._bench_pairs import PairState, make_scorer
    from oodforge.eval._eval_steps import ComponentPass
    from oodforge.metrics import ComponentMetrics, PixelMetrics

    def scorer(spec: Any, sml: Any) -> Callable[..., Any]:
        return timers.wrap(f"score {spec.folder}", make_scorer(spec, sml))

    setattr(engine_mod, "make_scorer", scorer)  # noqa: B010 (monkeypatch)
    for name, attr in (
        ("score msp+entropy+energy (shared LSE per T)", "softmax_family_scores"),
        ("float16", "float16_scores"),
        ("worst_ap", "frame_ap"),
        ("decode", "_load"),
        ("maps_save", "_scratch_save"),
    ):
        setattr(entry_mod, attr, timers.wrap(name, getattr(entry_mod, attr)))
    for cls, attr, name in (
        (PairState, "update", "pixel_update"),
        (PixelMetrics, "compute", "pixel_compute"),
        (entry_mod.FrameLabel, "__init__", "label_offsets"),
        (WorstFrames, "offer", "worst_offer"),
        (entry_mod.EntryRunner, "_save_map", "maps_save"),
        (entry_mod.EntryRunner, "load_map", "maps_load"),
        (entry_mod.EntryRunner, "_pass2_label", "label_reload"),
        (ComponentPass, "update_truth", "comp_update"),
        (entry_mod.EntryRunner, "_report", "reports"),
    ):
        setattr(cls, attr, timers.wrap(name, getattr(cls, attr)))
    setattr(ComponentMetrics, "truth", staticmethod(timers.wrap("comp_truth", ComponentMetrics.truth)))  # noqa: B010
    run = entry_mod.EntryRunner._run

    def start(self: Any, *args: Any) -> Any:
        timers.marks[(self.plan.name, "p1", 0)] = time.perf_counter()
        timers.bucket = (self.plan.name, "p1", 1)
        return run(self, *args)

    setattr(entry_mod.EntryRunner, "_run", start)  # noqa: B010


#: (b) metric accumulation, by group
METRIC_GROUPS = {
    "pixel state + score histogram (one key count per row)": ["label_offsets", "pixel_update"],
    "worst frames": ["worst_ap", "worst_offer"],
    "components (pass 2)": ["maps_save", "maps_load", "label_reload", "comp_truth", "comp_update", "pass2_loop"],
    "compute + reports (amortised)": ["pixel_compute", "reports"],
}


def _per_frame(timers: Timers, entry: str, n: int) -> dict[str, Any]:
    """Per-frame seconds of each category on one entry: median over frames of (pass 1 + pass 2), + end / n.

    The pixel metrics are computed once between the passes (timed in the first pass-2 interval): they count
    as end-of-benchmark work, with the reports.
    """
    frames: list[dict[str, float]] = []
    end: dict[str, float] = defaultdict(float, timers.data[(entry, "end", 0)])
    for k in range(1, n + 1):
        row: dict[str, float] = defaultdict(float)
        p1, p2 = dict(timers.data[(entry, "p1", k)]), dict(timers.data[(entry, "p2", k)])
        wall1 = timers.marks[(entry, "p1", k)] - timers.marks[(entry, "p1", k - 1)]
        prev2 = timers.marks[(entry, "p2", k - 1)] if k > 1 else timers.marks[(entry, "p1", n)]
        wall2 = timers.marks[(entry, "p2", k)] - prev2
        between = p2.pop("pixel_compute", 0.0)
        end["pixel_compute"] += between
        wall2 -= between
        for d in (p1, p2):
            for key, v in d.items():
                row[key] += v
        row["dispatch"] = wall1 - sum(v for key, v in p1.items() if key != "model")
        row["pass2_loop"] = wall2 - sum(p2.values())  # the loop itself
        row["wall_p1"], row["wall_p2"] = wall1, wall2
        row["outside"] = wall1 - p1.get("forward", 0.0) - p1.get("decode", 0.0) + wall2
        frames.append(row)
    keys = {k for f in frames for k in f} | set(end)
    stats: dict[str, dict[str, float]] = {}
    for name, fn in (("min", min), ("median", statistics.median)):
        stats[name] = {key: fn(f.get(key, 0.0) for f in frames) for key in keys}
        for key, v in end.items():
            stats[name][key] += v / n
            stats[name]["outside"] += v / n
    # primary: the least-disturbed frame per category (the machine is shared: other jobs slow some frames down)
    out: dict[str, Any] = dict(stats["min"])
    out["median"] = stats["median"]
    out["per_frame"] = [dict(f) for f in frames]
    out["end"] = dict(end)
    out["frames"] = n
    return out


def child_overhead(frames: int, repeat_threaded: bool) -> dict[str, Any]:
    import tempfile as tf

    import torch

    from oodforge.eval.bench_engine import ModelSource, open_benchmarks, run_benchmark
    from oodforge.eval.suite import load_suite
    from oodforge.models import create_model

    out: dict[str, Any] = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    with tf.TemporaryDirectory(prefix="oodforge-benchmark-bench-") as tmp:
        base = Path(tmp)
        ids = write_ra21(base / "ra21", frames, 512, 1024)
        if REAL_WEIGHTS.exists():
            weights, out["weights"] = REAL_WEIGHTS, f"published ERFNet ({REAL_WEIGHTS.name})"
        else:
            torch.manual_seed(0)
            weights = base / "erfnet_random.pth"
            torch.save(create_model("erfnet", num_classes=CLASSES).state_dict(), weights)
            out["weights"] = "random init (seed 0): ../shared/realweights absent"
        suite_path = write_suite(
            base / "suite.yaml", [("smiyc", base / "ra21", "smiyc"), ("fishyscapes", base / "ra21", "fishyscapes")]
        )
        timers = Timers()
        _instrument(timers)
        pred = _predictor(weights)
        source = ModelSource(pred)
        inner = pred.model
        setattr(inner, "forward", timers.wrap("model", inner.forward, exclusive=False))  # noqa: B010
        setattr(source, "output", timers.wrap("forward", source.output))  # noqa: B010
        out["input_convention"] = pred.convention.describe()
        suite = load_suite(suite_path)
        with torch.no_grad():  # one warm-up forward pass (first-call allocations), not counted
            inner(torch.zeros(1, 3, 512, 1024))
        timers.data.clear()
        out["loadavg_before"] = os.getloadavg()
        t0 = time.perf_counter()
        plans = open_benchmarks(suite.config)
        label_check = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_benchmark(suite, source, plans=plans, work_dir=base, progress=timers.progress, workers=1)
        out["run_s"] = time.perf_counter() - t0
        out["label_check_per_frame_s"] = label_check / (2 * frames)
        out["entries"] = {name: _per_frame(timers, name, frames) for name in ("smiyc", "fishyscapes")}
        out["frames"] = frames
        out["image_ids"] = len(ids)
        if repeat_threaded:
            threads = min(4, os.cpu_count() or 1)
            timers.data.clear()
            timers.marks.clear()
            t0 = time.perf_counter()
            run_benchmark(suite, source, plans=plans, work_dir=base, progress=timers.progress, workers=threads)
            out["threaded"] = {"workers": threads, "run_s": time.perf_counter() - t0, "entries": {}}
            for name in ("smiyc", "fishyscapes"):
                pf = _per_frame(timers, name, frames)  # only the walls, forward and decode: rows ran in threads
                out["threaded"]["entries"][name] = {k: pf[k] for k in ("forward", "decode", "outside")}
    out["loadavg_after"] = os.getloadavg()
    return out


# ---- part 2: memory at 50 and 500 frames (child process) ---------------------------------------------------


def child_memory(suite_path: str, logits: str) -> dict[str, Any]:
    import tracemalloc

    import oodforge.eval._bench_entry as entry_mod
    from oodforge.eval.bench_engine import LogitsSource, run_benchmark
    from oodforge.eval.suite import load_suite

    held: dict[str, int] = {}
    run = entry_mod.EntryRunner.run

    def measured(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = run(self, *args, **kwargs)
        held["state_bytes"] = self.nbytes  # metric states + worst-frame thumbnails after the last frame
        held["temp_bytes"] = self.temp_bytes
        return out

    setattr(entry_mod.EntryRunner, "run", measured)  # noqa: B010
    tracemalloc.start()
    t0 = time.perf_counter()
    suite = load_suite(suite_path)
    result = run_benchmark(suite, LogitsSource(Path(logits)))
    seconds = time.perf_counter() - t0
    entry = result.entries[0]
    first = next(iter(result.reports[entry.name].values()))
    return {
        "frames": entry.n_images,
        "protocol": entry.protocol,
        "s": seconds,
        "py_peak_mb": tracemalloc.get_traced_memory()[1] / MB,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "state_mb": held["state_bytes"] / MB,
        "temp_maps_mb": held["temp_bytes"] / MB,
        "ap_msp_t1": first.pixel.ap,
    }


def _spawn(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True, text=True, check=False, cwd=HERE,
    )  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _memory(base: Path, sizes: tuple[int, int], hw: tuple[int, int]) -> dict[str, dict[str, Any]]:
    small, large = sizes
    logits = base / "logits"
    write_ra21(base / f"ra21_{large}", large, *hw, logits_dir=logits / "bench", seed=1)
    src, dst = base / f"ra21_{large}" / "dataset_AnomalyTrack", base / f"ra21_{small}" / "dataset_AnomalyTrack"
    for sub, suffix in (("images", ".jpg"), ("labels_masks", "_labels_semantic.png")):
        (dst / sub).mkdir(parents=True)
        for k in range(small):  # the first `small` frames of the large set (the logits folder is shared)
            shutil.copyfile(src / sub / f"frame{k:04d}{suffix}", dst / sub / f"frame{k:04d}{suffix}")
    out: dict[str, dict[str, Any]] = {}
    for protocol in ("fishyscapes", "smiyc"):
        out[protocol] = {}
        for n in sizes:
            suite = write_suite(base / f"suite_{protocol}_{n}.yaml", [("bench", base / f"ra21_{n}", protocol)])
            out[protocol][str(n)] = _spawn("memory", str(suite), str(logits))
            print(f"memory {protocol} {n}: {json.dumps(out[protocol][str(n)])}", flush=True)
    return out


# ---- report -----------------------------------------------------------------------------------------------


def _overhead_rows(pf: dict[str, Any], label_check: float) -> dict[str, Any]:
    fwd = pf["forward"]
    groups = {g: sum(pf.get(k, 0.0) for k in keys) for g, keys in METRIC_GROUPS.items()}
    score_parts = {k: v for k, v in sorted(pf.items()) if k.startswith("score ")} | {"float16": pf.get("float16", 0.0)}
    a = sum(score_parts.values())
    b = sum(groups.values())
    c = pf.get("decode", 0.0) + pf.get("dispatch", 0.0) + label_check
    return {
        "forward_s": fwd,
        "model_s": pf.get("model", 0.0),
        "scores_s": a,
        "scores_parts_s": score_parts,
        "metric_s": b,
        "metric_groups_s": groups,
        "metric_parts_s": {k: pf.get(k, 0.0) for keys in METRIC_GROUPS.values() for k in keys},
        "other_s": c,
        "other_parts_s": {"decode": pf.get("decode", 0.0), "dispatch": pf.get("dispatch", 0.0), "label": label_check},
        "metric_pct": 100 * b / fwd,
        "metric_without_components_pct": 100 * (b - groups["components (pass 2)"]) / fwd,
        "scores_plus_metric_pct": 100 * (a + b) / fwd,
        "all_outside_forward_pct": 100 * (a + b + c) / fwd,
    }


def _markdown(data: dict[str, Any]) -> str:
    o, m = data["overhead"], data["memory"]
    n = o["frames"]
    lines = [
        "# `oodforge benchmark`: metric overhead vs the forward pass, memory vs the number of frames",
        "",
        f"Mode: {data['mode']}; {data['machine']['cpu_count']} CPUs (shared), torch {o['torch']} with "
        f"{o['torch_threads']} threads; whole bench {data['bench_s']:.0f} s.",
        "",
        f"## Per 1024x512 frame, ERFNet on CPU ({o['weights']})",
        "",
        f"{n} generated RoadAnomaly21-layout frames per protocol, components on; the default suite's rows (msp, "
        "maxlogit, entropy, energy x T in {1, 2}: 7 distinct float16 maps per frame). End-of-benchmark work "
        "amortised per frame; timers wrap the engine's own functions, `workers=1` so each "
        "second counts once. Forward = `ModelSource.output` (input convention + `model(x)` + logits restored). "
        f"The CPUs are shared with other jobs (1-min load average {o['loadavg_before'][0]:.1f} before, "
        f"{o['loadavg_after'][0]:.1f} after), which can slow the forward pass several-fold on some frames: each "
        "figure is the least-disturbed frame's (minimum over frames; medians and every frame in the JSON).",
        "",
        "| per frame | smiyc ms | % of forward | fishyscapes ms | % of forward | target |",
        "|---|---|---|---|---|---|",
    ]
    rs, rf = o["rows"]["smiyc"], o["rows"]["fishyscapes"]

    def line(label: str, a: float, b: float, target: str = "") -> str:
        return (
            f"| {label} | {1000 * a:.1f} | {100 * a / rs['forward_s']:.2f} % | {1000 * b:.1f} | "
            f"{100 * b / rf['forward_s']:.2f} % | {target} |"
        )

    lines.append(
        f"| forward pass (of which `model(x)`: {1000 * rs['model_s']:.0f} / {1000 * rf['model_s']:.0f} ms) "
        f"| {1000 * rs['forward_s']:.0f} | 100 % | {1000 * rf['forward_s']:.0f} | 100 % | |"
    )
    lines.append(line("**(a) scores** (7 score maps + float16 conversion)", rs["scores_s"], rf["scores_s"]))
    for k in rs["scores_parts_s"]:
        lines.append(line(f"&nbsp;&nbsp;(a) {k}", rs["scores_parts_s"][k], rf["scores_parts_s"][k]))
    lines.append(line("**(b) metric accumulation**", rs["metric_s"], rf["metric_s"], "<= 5 %"))
    for g in METRIC_GROUPS:
        lines.append(line(f"&nbsp;&nbsp;(b) {g}", rs["metric_groups_s"][g], rf["metric_groups_s"][g]))
    comp = "components (pass 2)"
    lines.append(
        line(
            "(b) without the component pass (benchmarks without a component track: Fishyscapes, Road Anomaly, synth)",
            rs["metric_s"] - rs["metric_groups_s"][comp],
            rf["metric_s"] - rf["metric_groups_s"][comp],
            "<= 5 %",
        )
    )
    lines.append(line("**(a) + (b)**", rs["scores_s"] + rs["metric_s"], rf["scores_s"] + rf["metric_s"]))
    lines.append(line("(c) decode image + label, label check, dispatch", rs["other_s"], rf["other_s"]))
    lines.append(
        line(
            "everything outside the forward pass",
            rs["scores_s"] + rs["metric_s"] + rs["other_s"],
            rf["scores_s"] + rf["metric_s"] + rf["other_s"],
        )
    )
    lines.append("")
    for name, r in (("smiyc", rs), ("fishyscapes", rf)):
        ok_b = "meets" if r["metric_pct"] <= 5 else "misses"
        ok_ab = "meets it too" if r["scores_plus_metric_pct"] <= 5 else "does **not** meet it"
        ok_p = "meets" if r["metric_without_components_pct"] <= 5 else "misses"
        lines.append(
            f"- {name}: the metric overhead (b) is {r['metric_pct']:.2f} % of the forward pass with the component "
            f"pass: it {ok_b} the <= 5 % target; without it (pixel metrics, histogram, worst frames, reports) "
            f"{r['metric_without_components_pct']:.2f} %: it {ok_p} it; scores + metrics (a) + (b) are "
            f"{r['scores_plus_metric_pct']:.2f} %: {ok_ab}."
        )
    top = sorted(rs["scores_parts_s"].items(), key=lambda kv: -kv[1])[:3]
    lines.append(
        "- Where (a) goes (smiyc run): "
        + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in top)
        + f"; maxlogit costs {1000 * rs['scores_parts_s'].get('score maxlogit_T1', 0.0):.0f} ms: the log-sum-exp "
        "over the 20 classes of 512x1024 pixels (shared by msp, entropy and energy, once per T) is the bulk of (a)."
    )
    if "threaded" in o:
        t = o["threaded"]
        parts = ", ".join(
            f"{name} {1000 * e['outside']:.0f} ms ({100 * e['outside'] / e['forward']:.1f} % of the forward pass; "
            f"{1000 * o['entries'][name]['outside']:.0f} ms with 1 worker)"
            for name, e in t["entries"].items()
        )
        faster = [e["outside"] < o["entries"][name]["outside"] for name, e in t["entries"].items()]
        gain = (
            "The threads help here."
            if all(faster)
            else "The threads do not help on this machine."
            if not any(faster)
            else "Mixed: on this shared machine the thread gain is within the run-to-run noise."
        )
        lines.append(
            f"- Wall clock with the default {t['workers']} worker threads (the rows of a frame in parallel), per "
            f"frame outside the forward pass and the image decode (scores + metrics + dispatch): {parts}. {gain}"
        )
    small, large = data["memory_sizes"]
    h, w = data["memory_frame_hw"]
    lines += [
        "",
        f"## Peak memory over a suite of {small} vs {large} frames",
        "",
        f"{w}x{h} frames, saved float16 logits (20 classes) through `LogitsSource` (no model), the default "
        "suite's rows, components on; each run in a fresh process. Allocated peak: tracemalloc (Python + numpy "
        "allocations after the imports); resident peak: `ru_maxrss` (imports included). State: the metric "
        "states + worst-frame thumbnails held after the last frame.",
        "",
        f"| protocol | allocated peak MB at {small} / {large} | ratio | target | resident peak MB at {small} / "
        f"{large} | state MB at {small} / {large} | s at {small} / {large} |",
        "|---|---|---|---|---|---|---|",
    ]
    for protocol, runs in m.items():
        a, b = runs[str(small)], runs[str(large)]
        target = "<= 1.2 (flat)" if protocol == "fishyscapes" else "grows by design (per-frame bins)"
        lines.append(
            f"| {protocol} | {a['py_peak_mb']:.1f} / {b['py_peak_mb']:.1f} | {b['py_peak_mb'] / a['py_peak_mb']:.2f} "
            f"| {target} | {a['peak_mb']:.0f} / {b['peak_mb']:.0f} | {a['state_mb']:.2f} / {b['state_mb']:.2f} "
            f"| {a['s']:.1f} / {b['s']:.1f} |"
        )
    sm = m["smiyc"]
    growth = (sm[str(large)]["state_mb"] - sm[str(small)]["state_mb"]) / (large - small) * 2**20 / 7
    fs = m["fishyscapes"]
    fs_ratio = fs[str(large)]["py_peak_mb"] / fs[str(small)]["py_peak_mb"]
    verdict = "flat: meets the target" if fs_ratio <= 1.2 else "NOT flat: misses the target"
    lines += [
        "",
        f"- fishyscapes: {fs_ratio:.2f}x the allocated peak for {large // small}x the frames, state constant "
        f"({fs[str(large)]['state_mb']:.2f} MB): {verdict}.",
        f"- smiyc is **not** flat, by design: like the official toolkit's per-frame histograms it keeps each frame's "
        f"bins, about {growth / 1024:.1f} KiB per frame and row ({growth * 7 / 1024:.0f} KiB per frame for the 7 "
        f"rows), so the state grows linearly ({sm[str(small)]['state_mb']:.1f} -> {sm[str(large)]['state_mb']:.1f}"
        " MB here). The bins are bounded per frame, independent of its size (one 2048x1024 float16 map is 4 MiB).",
        f"- The component pass keeps the float16 maps on disk between the two passes (not in memory): "
        f"{sm[str(large)]['temp_maps_mb']:.0f} MiB at {large} frames, deleted at the end.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 model frames, 10 / 100 memory frames (smoke run)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        task, *params = args.child
        if task == "overhead":
            print(json.dumps(child_overhead(int(params[0]), params[1] == "True")))
        else:
            print(json.dumps(child_memory(*params)))
        return
    frames = 2 if args.quick else 8
    sizes = (10, 100) if args.quick else (50, 500)
    hw = (128, 256)
    t0 = time.perf_counter()
    data: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine_info()}
    overhead = _spawn("overhead", str(frames), str(not args.quick))
    overhead["rows"] = {
        name: _overhead_rows(pf, overhead["label_check_per_frame_s"]) for name, pf in overhead["entries"].items()
    }
    overhead["rows_median"] = {
        name: _overhead_rows(pf["median"], overhead["label_check_per_frame_s"])
        for name, pf in overhead["entries"].items()
    }
    print(json.dumps(overhead["rows"], indent=1), flush=True)
    data["overhead"] = overhead
    base = Path(tempfile.mkdtemp(prefix="oodforge-benchmark-bench-"))
    try:
        data["memory"] = _memory(base, sizes, hw)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    data["memory_sizes"], data["memory_frame_hw"] = list(sizes), list(hw)
    data["bench_s"] = round(time.perf_counter() - t0, 1)
    write_results("benchmark_quick" if args.quick else "benchmark", data, _markdown(data))


if __name__ == "__main__":
    main()
