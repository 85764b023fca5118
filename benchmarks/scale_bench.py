"""Memory is flat in the number of images: synth, resume, repair and verify at N and 10 N images.

The synthesis benchmark runs 96 frames; this one runs the same pipeline at 96 and 960 frames (small
256x128 frames, so the per-image work stays short and the bookkeeping dominates) and records the peak
resident memory of each command, measured in a fresh child process (``ru_maxrss`` of the child). Flat
means the 10x run peaks within a few per cent of the 1x run.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import machine_info, write_results

from oodforge.demo.run import demo_config_bytes
from oodforge.demo.world import write_demo_world

_CHILD = """
import json, resource, sys, time, tracemalloc
from pathlib import Path
from oodforge.synth.runner import synthesize_dataset
from oodforge.inspect.verify import verify_dataset
cfg, what = sys.argv[1], sys.argv[2]
tracemalloc.start()
t0 = time.perf_counter()
if what == "verify":
    import yaml
    out = yaml.safe_load(open(cfg))["dataset"]["output_root"]
    report = verify_dataset(Path(out))
    n = -1
else:
    s = synthesize_dataset(cfg, repair=(what == "repair"))
    n = s.processed
print(json.dumps({"s": time.perf_counter() - t0, "processed": n,
                  "py_peak_mb": tracemalloc.get_traced_memory()[1] / 2**20,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _replicate(cs_root: Path, total: int) -> None:
    """Copy the val frames under new sequence numbers until the split holds ``total`` frames."""
    frames = sorted((cs_root / "leftImg8bit" / "val").rglob("*_leftImg8bit.png"))
    n = len(frames)
    c = 1
    while n < total:
        for img in frames:
            if n >= total:
                break
            stem = img.name.removesuffix("_leftImg8bit.png")
            city, seq, frame = stem.rsplit("_", 2)
            new = f"{city}_{int(seq) + 1000 * c:06d}_{frame}"
            for folder, suffix in (("leftImg8bit", "_leftImg8bit.png"), ("gtFine", "_gtFine_labelIds.png"),
                                   ("gtFine", "_gtFine_instanceIds.png"), ("camera", "_camera.json")):  # fmt: skip
                src = cs_root / folder / "val" / img.parent.name / f"{stem}{suffix}"
                if src.exists():
                    shutil.copyfile(src, src.with_name(f"{new}{suffix}"))
            n += 1
        c += 1


def _config(base: Path, world: Path, name: str) -> Path:
    data = yaml.safe_load(demo_config_bytes())
    data["sources"]["cityscapes"]["root"] = str(world / "cityscapes")
    data["sources"]["coco"]["root"] = str(world / "coco")
    data["sources"]["coco"]["cache_dir"] = str(base / "cache")
    data["dataset"]["output_root"] = str(base / name)
    data["splits"] = {"bench": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 0.5, "synth_ratio": 0.5}}
    path = base / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _child(cfg: Path, what: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(cfg), what], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{what} on {cfg} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _measure(base: Path, n: int) -> dict[str, dict[str, float]]:
    world = base / f"world{n}"
    write_demo_world(world, n_train=1, n_val=12, n_test=1, size=(256, 128), n_coco_images=40)
    _replicate(world / "cityscapes", n)
    cfg = _config(base, world, f"ds{n}")
    res = {"synth": _child(cfg, "synth"), "resume": _child(cfg, "resume")}
    victim = sorted((base / f"ds{n}" / "bench" / "gt_pixel").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    res["repair"] = _child(cfg, "repair")
    res["verify"] = _child(cfg, "verify")
    shutil.rmtree(world)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="20 and 200 images")
    args = ap.parse_args()
    small = 20 if args.quick else 96
    base = Path(tempfile.mkdtemp(prefix="oodforge-scale-bench-"))
    t0 = time.perf_counter()
    try:
        runs = {small: _measure(base, small), 10 * small: _measure(base, 10 * small)}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = []
    for what in ("synth", "resume", "repair", "verify"):
        a, b = runs[small][what], runs[10 * small][what]
        ratio = b["py_peak_mb"] / a["py_peak_mb"]
        rows.append((what, a["py_peak_mb"], b["py_peak_mb"], ratio, a["peak_mb"], b["peak_mb"], a["s"], b["s"]))
    data = {
        "machine": machine_info(),
        "images": [small, 10 * small],
        "frame_size": [256, 128],
        "runs": {str(k): v for k, v in runs.items()},
        "py_peak_ratio_10x": {r[0]: round(r[3], 3) for r in rows},
        "bench_s": round(time.perf_counter() - t0, 1),
        "self_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    md = (
        "# Scale benchmark: memory flat in the number of images\n\n"
        f"Each command in a fresh process on {small} and {10 * small} images (256x128 frames, half synthetic, "
        "1 worker, in-process): peak of the memory Python and numpy allocate after the imports (tracemalloc; "
        "this is what grows when records are held) and peak resident memory of the process (imports "
        "included). `repair` follows one flipped byte; `verify` checks every file.\n\n"
        f"| command | allocated peak MB at {small} / {10 * small} | ratio | target | resident peak MB "
        f"at {small} / {10 * small} | s at {small} / {10 * small} |\n|---|---|---|---|---|---|\n"
        + "".join(
            f"| {w} | {a:.2f} / {b:.2f} | {r:.2f} | <= 1.2 | {ra:.0f} / {rb:.0f} | {sa:.1f} / {sb:.1f} |\n"
            for w, a, b, r, ra, rb, sa, sb in rows
        )
    )
    write_results("scale" if not args.quick else "scale_quick", data, md)


if __name__ == "__main__":
    main()
