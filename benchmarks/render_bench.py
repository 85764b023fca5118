"""Rendering speed of the procedural scene on the CPU, and oodforge's own share of it.

Figures (written to results/render.json and results/render.md): seconds per frame at 256x256 and 512x512
with 16 and 64 Cycles samples, the time inside Blender's render call (Cycles, compositor, Blender's own
file output) and oodforge's own work: the anomaly placement search, posing the scene, reading the
object-index pass, the masks, PNG metadata stripping and encoding, hashing, atomic writes and records
(the frame loop minus the render call), and the scene setup (Blender reset, procedural scene, anomaly
meshes) on top. Each setting renders one camera and day: 2 normal and 4 anomalous frames
(illumination x colour modes). Target: oodforge's own share <= 10 %.

Usage: python benchmarks/render_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _common import machine_info, write_results

from oodforge.render import render_config_from_dict, render_dataset


def _config(out: Path, size: int, samples: int) -> dict:
    return {
        "seed": 0,
        "output_root": str(out),
        "anomalies": ["drill"],
        "modes": {"illumination": {"sun_strengths": [5, 10]}, "colour": {"palette": ["red", "blue"]}},
        "cameras": {"count": 4, "start": 1, "end": 1},
        "days": {"start": 1, "end": 1},
        "render": {"samples": samples, "resolution": [size, size], "device": "CPU"},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small frames, few samples (smoke run)")
    args = ap.parse_args()
    settings = [(128, 4), (128, 16)] if args.quick else [(256, 16), (256, 64), (512, 16), (512, 64)]
    import bpy  # noqa: F401  (imported once up front: the import is not part of any timing)

    base = Path(tempfile.mkdtemp(prefix="oodforge-render-bench-"))
    rows = []
    try:
        for size, samples in settings:
            cfg = render_config_from_dict(_config(base / f"r{size}_{samples}", size, samples))
            t0 = time.perf_counter()
            s = render_dataset(cfg)
            wall = time.perf_counter() - t0
            n = s.processed
            own_loop = s.frames_s - s.render_call_s
            rows.append({
                "resolution": [size, size],
                "samples": samples,
                "frames": n,
                "device": s.device,
                "s_per_frame": round(s.frames_s / n, 4),
                "blender_render_s_per_frame": round(s.render_call_s / n, 4),
                "own_s_per_frame": round(own_loop / n, 4),
                "placement_s_total": round(s.placement_s, 4),
                "setup_s": round(s.setup_s, 3),
                "run_wall_s": round(wall, 3),
                "own_share_frame_loop": round(own_loop / s.frames_s, 4),
                "own_share_with_setup": round((own_loop + s.setup_s) / (s.frames_s + s.setup_s), 4),
            })  # fmt: skip
            shutil.rmtree(base / f"r{size}_{samples}", ignore_errors=True)
            print(rows[-1], flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    info = machine_info()
    info["blender"] = __import__("bpy").app.version_string
    md = (
        "# Render benchmark\n\n"
        f"Procedural moon-and-station scene, Cycles on the CPU ({info['cpu_count']} cores, Blender {info['blender']}); "
        f"per setting one camera and day: {rows[0]['frames']} frames (2 normal, 4 anomalous). Own work = the frame "
        "loop minus Blender's render call (placement, posing, index pass, masks, PNG, hashing, writes, records); "
        "setup = Blender reset, scene and anomaly meshes, once per run.\n\n"
        "| resolution | samples | s / frame | in Blender's render call | oodforge own / frame | setup | "
        "own share (frames) | own share (with setup) | target |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        md += (
            f"| {r['resolution'][0]}x{r['resolution'][1]} | {r['samples']} | {r['s_per_frame']:.3f} s | "
            f"{r['blender_render_s_per_frame']:.3f} s | {r['own_s_per_frame'] * 1e3:.1f} ms | {r['setup_s']:.2f} s | "
            f"{100 * r['own_share_frame_loop']:.1f} % | {100 * r['own_share_with_setup']:.1f} % | <= 10 % |\n"
        )
    write_results("render_quick" if args.quick else "render", {"machine": info, "settings": rows}, md)


if __name__ == "__main__":
    main()
