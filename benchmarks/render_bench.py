"""Rendering throughput for worker x thread splits, oodforge's own share, ephemeris lookups, native preprocessing.

Figures (written to results/render.json and results/render.md):

- frames per minute (wall clock of the whole ``render_dataset`` call: worker start-up, scene builds and
  the manifest included) at 256x256 and 512x512, 16 Cycles samples on the CPU, for the splits of the
  CPUs between Blender processes (``--workers``) and Cycles threads (``--threads-per-worker``):
  1 worker with Blender's automatic threads (every CPU), 1 worker x 1 thread, 2 workers x 1 thread and
  2 workers x 2 threads (oversubscribed on 2 CPUs). Each run renders 4 (camera, day) groups: 4 frames
  per group at 256x256 (16 frames), 2 at 512x512 (8 frames). Target: 2 workers >= 1.7x 1 worker at 512x512.
- oodforge's own share of the 1-worker runs: the frame loop minus Blender's render call (placement,
  posing, index pass, masks, PNG, hashing, writes, records), and the scene setup. Target <= 10 %.
- the ephemeris: reading and checking a 365-row ALLO table, and one day's lookup.
- ``oodforge preprocess`` on ALLO's native layout (two experiments, normal and anomalous, 1920x1080).

The load average before and after is recorded: on a shared machine the figures move with it.

Usage: python benchmarks/render_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine_info, write_results

from oodforge.render import render_config_from_dict, render_dataset
from oodforge.render._parallel_render import cpu_slots

SAMPLES = 16


def _config(out: Path, size: int, samples: int, per_group: int) -> dict[str, Any]:
    strengths = [5, 10] if per_group == 4 else [10]
    return {
        "seed": 0,
        "output_root": str(out),
        "anomalies": ["drill"],
        "modes": {"illumination": {"sun_strengths": strengths}},
        "cameras": {"count": 4, "start": 1, "end": 2},
        "days": {"start": 1, "end": 2},
        "render": {"samples": samples, "resolution": [size, size], "device": "CPU"},
    }


def _splits(quick: bool) -> list[tuple[int, int, list[tuple[int, int | None]]]]:
    """(size, frames per group, [(workers, threads)]) in run order."""
    if quick:
        return [(128, 2, [(1, None), (2, 1)])]
    return [(256, 4, [(1, None), (2, 1), (2, 2)]), (512, 2, [(1, None), (1, 1), (2, 1), (2, 2)])]


def _render_rows(base: Path, quick: bool) -> list[dict[str, Any]]:
    rows = []
    samples = 4 if quick else SAMPLES
    for size, per_group, splits in _splits(quick):
        first: dict[str, str] | None = None
        for workers, threads in splits:
            out = base / f"r{size}_{workers}x{threads}"
            cfg = render_config_from_dict(_config(out, size, samples, per_group))
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            s = render_dataset(cfg, workers=workers, threads_per_worker=threads)
            wall = time.perf_counter() - t0
            assert not s.failed, s.failed
            n = s.processed
            own_loop = s.frames_s - s.render_call_s
            rows.append({
                "resolution": [size, size], "samples": samples, "frames": n, "workers": workers,
                "threads_per_worker": s.threads, "threads_label": "auto" if threads is None else str(threads),
                "device": s.device, "wall_s": round(wall, 3), "frames_per_min": round(60 * n / wall, 2),
                "load_avg_1min_before": round(load, 2),
                "s_per_frame_in_worker": round(s.frames_s / n, 4),
                "blender_render_s_per_frame": round(s.render_call_s / n, 4),
                "own_s_per_frame": round(own_loop / n, 4), "setup_s_total": round(s.setup_s, 3),
                "own_share_frame_loop": round(own_loop / s.frames_s, 4),
                "own_share_with_setup": round((own_loop + s.setup_s) / (s.frames_s + s.setup_s), 4),
            })  # fmt: skip
            hashes = _tree_hashes(out)
            first = first or hashes
            rows[-1]["bytes_identical_to_first_split"] = hashes == first  # every split renders the same bytes
            shutil.rmtree(out, ignore_errors=True)
            print(rows[-1], flush=True)
    return rows


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".oodforge" not in p.parts
    }


def _ephemeris(base: Path) -> dict[str, Any]:
    try:
        from oodforge.render.ephemeris import load_ephemeris
    except ImportError:  # TODO(integrator): render/ephemeris.py missing: time its lookup here
        return {"todo": "render/ephemeris.py not present: ephemeris lookup not timed"}
    rng = np.random.default_rng(0)
    rows = ["6.9e-310,-3.6e+304" + ",0" * 10]  # ALLO's row 0: uninitialised memory
    for d in range(1, 365):
        a = 2 * np.pi * d / 365
        moon = [1737.0, 4e3 * np.cos(a), 4e3 * np.sin(a), 50.0]
        sun = [6.96e5, 1.5e8 * np.cos(a / 12), 1.5e8 * np.sin(a / 12), 1e6]
        earth = [6371.0, *(3.8e5 * rng.standard_normal(3))]
        rows.append(",".join(f"{v:.6e}" for v in moon + sun + earth))
    path = base / "render_data_csv"
    path.write_text("\n".join(rows) + "\n")
    t0 = time.perf_counter()
    eph = load_ephemeris(path)
    load_s = time.perf_counter() - t0
    n = 20_000
    t0 = time.perf_counter()
    for i in range(n):
        eph.day(1 + i % 364)
    lookup_s = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(1000):
        load_ephemeris(path)
    cached_s = (time.perf_counter() - t0) / 1000
    return {"rows": 365, "load_and_check_ms": round(load_s * 1e3, 3), "lookup_us": round(lookup_s * 1e6, 3),
            "cached_reload_us": round(cached_s * 1e6, 3)}  # fmt: skip


def _write_native(root: Path, cameras: int, days: int, size: tuple[int, int]) -> int:
    """ALLO's native layout: exp_1 (normal run) and exp_2 (anomalous run); returns the number of frames."""
    from oodforge._io import encode_png

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    base = ((xx / w) * 160 + (yy / h) * 60).astype(np.uint8)
    disc = ((xx - w // 2) ** 2 + (yy - h // 2) ** 2 < (h // 8) ** 2).astype(np.uint8) * 255
    fb = ((yy > h // 3) & (yy < 2 * h // 3)).astype(np.uint8) * 255
    n = 0
    for k in range(1, cameras + 1):
        for d in range(1, days + 1):
            img = np.dstack([base, base, np.clip(base.astype(int) + rng.integers(0, 8, base.shape), 0, 255)])
            img = img.astype(np.uint8)
            for exp, folder, name in (
                ("exp_1", "normal", f"{d}_normal_10"),
                ("exp_2", "anomaly", f"{d}_drill_10_-1_0_default"),
            ):
                cam = root / exp / f"Camera{k}"
                files = {folder: img, "fb_mask": np.dstack([fb] * 3)}
                if folder == "anomaly":
                    files["anomaly_mask"] = np.dstack([disc] * 3)
                for sub, arr in files.items():
                    (cam / sub).mkdir(parents=True, exist_ok=True)
                    (cam / sub / f"{name}.png").write_bytes(encode_png(arr))
                n += 1  # fmt: skip
    return n


def _preprocess_native(base: Path, quick: bool) -> dict[str, Any]:
    try:
        from oodforge.render.allo_native import ALLO_SIZE
        from oodforge.render.preprocess import preprocess_renders
    except ImportError:  # TODO(integrator): the native ALLO reader is missing: time preprocess on it here
        return {"todo": "render/allo_native.py not present: native-layout preprocessing not timed"}
    size = (480, 270) if quick else ALLO_SIZE
    src = base / "allo_native"
    n = _write_native(src, 2, 2 if quick else 6, size)
    t0 = time.perf_counter()
    s = preprocess_renders(src, base / "allo_pre", expect_size=size)
    wall = time.perf_counter() - t0
    counts = list(s.per_camera.values())
    left_out = sum(c.get("skipped", 0) + c.get("rejected", 0) for c in counts)
    written = sum(sum(c.values()) for c in counts) - left_out
    return {"frames": n, "written": written, "left_out": left_out, "size": list(size), "wall_s": round(wall, 3),
            "frames_per_s": round(n / wall, 2), "problems": len(s.problems)}  # fmt: skip


def _speedups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for size in sorted({r["resolution"][0] for r in rows}):
        at = {(r["workers"], r["threads_label"]): r["frames_per_min"] for r in rows if r["resolution"][0] == size}
        base = at.get((1, "auto"))
        for (w, t), fpm in sorted(at.items()):
            entry = {"resolution": size, "split": f"{w} x {t}", "frames_per_min": fpm}
            entry["vs_1_worker_auto"] = round(fpm / base, 3) if base else None
            entry["vs_1_worker_1_thread"] = round(fpm / at[(1, "1")], 3) if (1, "1") in at else None
            out.append(entry)
    return out


def _markdown(info: dict[str, Any], rows: list[dict[str, Any]], speed: list[dict[str, Any]], eph: dict[str, Any],
              pre: dict[str, Any]) -> str:  # fmt: skip
    cpus = info["cpu_slots"]
    md = (
        "# Render benchmark\n\n"
        f"Procedural moon-and-station scene, Cycles on the CPU ({cpus} CPUs, Blender {info['blender']}), "
        f"{rows[0]['samples']} samples. Load average (1 min) {info['load_before'][0]:.2f} before, "
        f"{info['load_after'][0]:.2f} after: the machine was {'shared' if info['load_before'][0] > 0.5 else 'quiet'}. "
        "Frames per minute are wall clock for the whole run (worker start-up, scene builds, manifest included); "
        "4 (camera, day) groups per run. `auto` = Blender's automatic thread count (every CPU). Same bytes: every "
        "output file and the manifest equal those of the 1 x auto run.\n\n"
        "## Worker x thread splits\n\n"
        "| resolution | workers x threads | frames | wall | frames / min | vs 1 x auto | vs 1 x 1 | load before | "
        "same bytes |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    by = {(r["resolution"][0], f"{r['workers']} x {r['threads_label']}"): r for r in rows}
    for e in speed:
        r = by[(e["resolution"], e["split"])]
        vs1 = f"{e['vs_1_worker_1_thread']:.2f}x" if e["vs_1_worker_1_thread"] else "-"
        md += (
            f"| {e['resolution']}x{e['resolution']} | {e['split']} | {r['frames']} | {r['wall_s']:.1f} s | "
            f"{e['frames_per_min']:.1f} | {e['vs_1_worker_auto']:.2f}x | {vs1} | {r['load_avg_1min_before']:.2f} | "
            f"{'yes' if r['bytes_identical_to_first_split'] else 'NO'} |\n"
        )
    md += (
        "\n## oodforge's own share (1 worker, automatic threads)\n\n"
        "| resolution | s / frame | in Blender's render call | oodforge own / frame | setup | own share (frames) | "
        "own share (with setup) | target |\n|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        if r["workers"] == 1 and r["threads_label"] == "auto":
            md += (
                f"| {r['resolution'][0]}x{r['resolution'][1]} | {r['s_per_frame_in_worker']:.3f} s | "
                f"{r['blender_render_s_per_frame']:.3f} s | {r['own_s_per_frame'] * 1e3:.1f} ms | "
                f"{r['setup_s_total']:.2f} s | {100 * r['own_share_frame_loop']:.1f} % | "
                f"{100 * r['own_share_with_setup']:.1f} % | <= 10 % |\n"
            )
    md += "\n## Ephemeris\n\n"
    if "todo" in eph:
        md += f"TODO(integrator): {eph['todo']}\n"
    else:
        md += (
            f"ALLO table of {eph['rows']} rows: read and checked in {eph['load_and_check_ms']:.2f} ms; one day's "
            f"lookup {eph['lookup_us']:.2f} µs; a cached re-read {eph['cached_reload_us']:.2f} µs.\n"
        )
    md += "\n## Preprocessing ALLO's native layout\n\n"
    if "todo" in pre:
        md += f"TODO(integrator): {pre['todo']}\n"
    else:
        md += (
            f"{pre['frames']} frames ({pre['size'][0]}x{pre['size'][1]}, exp_1 normal + exp_2 anomalous, 2 cameras): "
            f"{pre['wall_s']:.2f} s, {pre['frames_per_s']:.1f} frames / s ({pre['written']} written, "
            f"{pre['left_out']} left out, {pre['problems']} problem(s)).\n"
        )
    return md


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small frames, few samples (smoke run)")
    args = ap.parse_args()
    import bpy  # noqa: F401  (imported once up front: the import is not part of any timing)

    info = machine_info()
    info["blender"] = __import__("bpy").app.version_string
    info["cpu_slots"] = cpu_slots()
    info["load_before"] = [round(x, 2) for x in os.getloadavg()]
    base = Path(tempfile.mkdtemp(prefix="oodforge-render-bench-"))
    try:
        rows = _render_rows(base, args.quick)
        eph = _ephemeris(base)
        pre = _preprocess_native(base, args.quick)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    speed = _speedups(rows)
    data = {"machine": info, "settings": rows, "speedups": speed, "ephemeris": eph, "preprocess_native": pre}
    write_results("render_quick" if args.quick else "render", data, _markdown(info, rows, speed, eph, pre))


if __name__ == "__main__":
    main()
