"""Synthesis speed on generated 2048x1024 scenes, side by side with the OpenCV codec floor.

Figures (written to results/synth.json and results/synth.md, with the library versions):
- ms per synthetic image on one worker (the per-image task, in-process) vs the OpenCV codec floor: decoding
  the image's input PNGs (leftImg8bit + labelIds) and encoding its output PNGs (image, gt, id map) with OpenCV
  at the settings oodforge used before ``export.png_codec`` (``IMWRITE_PNG_COMPRESSION=1``); the ratio is
  measured per image, interleaved, median over repeats; for the default config (``png_codec: fast``, the
  realism steps on), with the realism steps off, and with ``png_codec: opencv`` (the old path);
- speed-up of 2 workers over 1 for a whole `synthesize_dataset` run (process start-up included);
- COCO pool build time and cached pool load time.

Usage: python benchmarks/synth_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import yaml
from _common import machine_info, timed, write_results

from oodforge._codec import fast_codec_versions
from oodforge._io import decode_image_rgb, read_label_png
from oodforge.config.identity import config_sha256
from oodforge.config.loader import dump_resolved, load_config
from oodforge.demo.run import demo_config_bytes
from oodforge.demo.world import write_demo_world
from oodforge.export.output_root import open_output_root
from oodforge.sources.cityscapes import frame_paths
from oodforge.sources.coco_pool import CocoPool, load_or_build_pool
from oodforge.synth.context import SynthContext
from oodforge.synth.runner import MANAGED_SUBDIRS, synthesize_dataset
from oodforge.synth.sample import process_image

#: per-image variants: name -> config overrides (dotted keys)
VARIANTS: dict[str, dict[str, object]] = {
    "fast codec, realism on (default)": {},
    "fast codec, realism off": {
        "synthesis.blending.photometric.strength": 0.0, "synthesis.blending.sharpness.enabled": False,
        "synthesis.blending.noise.enabled": False, "synthesis.blending.shadow.enabled": False,
        "synthesis.placement.occlusion": False,
    },
    "opencv codec (before), realism on": {"export.png_codec": "opencv"},
}  # fmt: skip


def _config(base: Path, world: Path, out: str, cache: Path, overrides: dict[str, object] | None = None) -> Path:
    data = yaml.safe_load(demo_config_bytes())
    data["sources"]["cityscapes"]["root"] = str(world / "cityscapes")
    data["sources"]["coco"]["root"] = str(world / "coco")
    data["sources"]["coco"]["cache_dir"] = str(cache)
    data["dataset"]["output_root"] = str(base / out)
    data["splits"] = {"bench": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0}}
    data["synthesis"]["geometry"]["final_area_ratio"] = [0.001, 0.05]
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path = base / f"{out}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _replicate_val(cs_root: Path, copies: int) -> None:
    """Copy every val frame ``copies - 1`` more times under new sequence numbers (new ids: different pastes)."""
    for img in sorted((cs_root / "leftImg8bit" / "val").rglob("*_leftImg8bit.png")):
        stem = img.name.removesuffix("_leftImg8bit.png")
        city, seq, frame = stem.rsplit("_", 2)
        for c in range(1, copies):
            new = f"{city}_{int(seq) + 1000 * c:06d}_{frame}"
            for folder, suffix in (("leftImg8bit", "_leftImg8bit.png"), ("gtFine", "_gtFine_labelIds.png"),
                                   ("gtFine", "_gtFine_instanceIds.png"), ("camera", "_camera.json")):  # fmt: skip
                src = cs_root / folder / "val" / city / f"{stem}{suffix}"
                if src.exists():
                    shutil.copyfile(src, src.with_name(f"{new}{suffix}"))


def _floor_ms(cs_root: Path, rec: dict, out_root: Path) -> float:
    """OpenCV alone, at the old settings: decode the inputs, encode the outputs (level 1, adaptive filters)."""
    frame = frame_paths(cs_root, rec["source_split"], rec["image_id"])
    img_b, lab_b = frame.image_path.read_bytes(), frame.label_path.read_bytes()
    out_img = decode_image_rgb((out_root / rec["outputs"]["image"]).read_bytes())
    gt = read_label_png(out_root / rec["outputs"]["gt_pixel"])
    ids = read_label_png(out_root / rec["outputs"]["instances"], dtype=np.uint16)
    level = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    t0 = time.perf_counter()
    cv2.cvtColor(cv2.imdecode(np.frombuffer(img_b, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    cv2.imdecode(np.frombuffer(lab_b, np.uint8), cv2.IMREAD_UNCHANGED)
    cv2.imencode(".png", cv2.cvtColor(out_img, cv2.COLOR_RGB2BGR), level)
    cv2.imencode(".png", gt, level)
    cv2.imencode(".png", ids, level)
    return (time.perf_counter() - t0) * 1e3


def _versions() -> dict[str, str | None]:
    from importlib.metadata import version

    return {"opencv": cv2.__version__, "numpy": np.__version__, **fast_codec_versions(),
            "oodforge": version("oodforge")}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few small frames (smoke run)")
    args = ap.parse_args()
    size = (512, 256) if args.quick else (2048, 1024)
    n_val = 6 if args.quick else 12
    copies = 1 if args.quick else 8
    repeats = 1 if args.quick else 3
    base = Path(tempfile.mkdtemp(prefix="oodforge-synth-bench-"))
    try:
        world = base / "world"
        t_world, _ = timed(
            lambda: write_demo_world(world, n_train=1, n_val=n_val, n_test=1, size=size, n_coco_images=60)
        )
        _replicate_val(world / "cityscapes", copies)
        cache = base / "cache"
        cfg_path = _config(base, world, "one", cache)
        cfg = load_config(cfg_path)
        coco = cfg.sources.coco
        ann = Path(coco.root) / coco.annotations
        filt = cfg.synthesis.coco.filters
        t_build, pool = timed(lambda: load_or_build_pool(ann, cfg.synthesis.coco.allowed_categories, filt, cache))
        t_cached, _ = timed(lambda: load_or_build_pool(ann, cfg.synthesis.coco.allowed_categories, filt, cache))
        t_open, opened = timed(lambda: CocoPool.open(pool.path))
        t_first_mask, _ = timed(lambda: opened.mask(0))

        # per-image task of each variant vs the OpenCV codec floor, interleaved
        all_ids = sorted(
            p.name.replace("_leftImg8bit.png", "")
            for p in (world / "cityscapes" / "leftImg8bit" / "val").rglob("*.png")
        )
        ids = all_ids[:24]
        contexts = {}
        for k, (name, overrides) in enumerate(VARIANTS.items()):
            vcfg = load_config(_config(base, world, f"v{k}", cache, overrides))
            resolved = dump_resolved(vcfg)
            out_root = Path(vcfg.dataset.output_root)
            with open_output_root(
                out_root, resolved, splits=vcfg.splits, managed=MANAGED_SUBDIRS, overwrite=True, command="synth_bench"
            ):
                pass
            contexts[name] = (SynthContext(vcfg, config_sha256(resolved), pool.path), out_root)
            process_image(contexts[name][0], "bench", ids[0])  # warm-up (pool mmap, imports)
        task_ms: dict[str, dict[str, list[float]]] = {v: {i: [] for i in ids} for v in VARIANTS}
        floor_ms: dict[str, list[float]] = {i: [] for i in ids}
        records: dict[str, dict[str, dict]] = {v: {} for v in VARIANTS}
        default = next(iter(VARIANTS))
        for _ in range(repeats):
            for image_id in ids:
                for name, (ctx, _root) in contexts.items():
                    t0 = time.perf_counter()
                    records[name][image_id] = process_image(ctx, "bench", image_id)
                    task_ms[name][image_id].append((time.perf_counter() - t0) * 1e3)
                rec = records[default][image_id]
                floor_ms[image_id].append(_floor_ms(world / "cityscapes", rec, contexts[default][1]))
        pasted = [i for i in ids if records[default][i]["placed_instances"] > 0]
        med_floor = statistics.median(min(floor_ms[i]) for i in pasted)
        per_variant = {}
        for name in VARIANTS:
            ratios = [min(task_ms[name][i]) / min(floor_ms[i]) for i in pasted]
            per_variant[name] = {
                "per_image_ms_median": round(statistics.median(min(task_ms[name][i]) for i in pasted), 2),
                "ratio_to_floor_median": round(statistics.median(ratios), 3),
                "ratio_to_floor_total": round(
                    sum(min(task_ms[name][i]) for i in pasted) / sum(min(floor_ms[i]) for i in pasted), 3
                ),
            }
        med_task = per_variant[default]["per_image_ms_median"]

        # whole runs: 1 vs 2 workers (pool cached; process start-up included) and steady-state throughput
        def whole_run(out: str, workers: int) -> tuple[float, float]:
            marks: list[tuple[float, int]] = []
            t0 = time.perf_counter()

            def progress(stage: str, done: int, total: int) -> None:
                if stage == "synth" and done > 0:
                    marks.append((time.perf_counter() - t0, done))

            synthesize_dataset(_config(base, world, out, cache), workers=workers, progress=progress)
            total = time.perf_counter() - t0
            # images per second between the first result of every worker and the last result
            (t_a, n_a), (t_b, n_b) = marks[workers - 1], marks[-1]
            return total, (n_b - n_a) / (t_b - t_a)

        t1, rate1 = whole_run("w1", 1)
        t2, rate2 = whole_run("w2", 2)

        data = {
            "machine": machine_info(),
            "frame_size": list(size),
            "n_images_per_image_timing": len(ids),
            "n_images_whole_run": len(all_ids),
            "n_with_paste": len(pasted),
            "instances_placed": sum(records[default][i]["placed_instances"] for i in ids),
            "versions": _versions(),
            "variants": per_variant,
            "world_generation_s": round(t_world, 2),
            "per_image_ms_median": med_task,
            "codec_floor_ms_median": round(med_floor, 2),
            "ratio_to_floor_median": per_variant[default]["ratio_to_floor_median"],
            "ratio_to_floor_total": per_variant[default]["ratio_to_floor_total"],
            "run_1_worker_s": round(t1, 2),
            "run_2_workers_s": round(t2, 2),
            "speedup_2_over_1": round(t1 / t2, 2),
            "throughput_1_worker_img_s": round(rate1, 2),
            "throughput_2_workers_img_s": round(rate2, 2),
            "throughput_speedup_2_over_1": round(rate2 / rate1, 2),
            "pool_instances": len(pool),
            "pool_build_s": round(t_build, 3),
            "pool_cached_load_ms": round(t_cached * 1e3, 2),
            "pool_open_ms": round(t_open * 1e3, 2),
            "pool_first_mask_ms": round(t_first_mask * 1e3, 3),
        }
        versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items())  # type: ignore[union-attr]
        md = (
            "# Synthesis benchmark\n\n"
            f"Generated {size[0]}x{size[1]} textured scenes (about 4 MB per input PNG), all synthetic. Per-image "
            "timing "
            f"on {len(ids)} frames ({len(pasted)} with pastes, {data['instances_placed']} objects), interleaved with "
            f"the OpenCV codec floor (decode the input PNGs, encode the output PNGs with OpenCV at level 1, the "
            f"settings before `export.png_codec`); whole runs on {len(all_ids)} frames (process start-up included); "
            f"{machine_info()['cpu_count']} cores. Versions: {versions}.\n\n"
            "| per synthetic image, 1 worker (median) | ms | / OpenCV codec floor (median, total) | target |\n"
            "|---|---|---|---|\n"
            f"| OpenCV codec floor (same images) | {med_floor:.1f} | 1 | |\n"
        )
        for name, v in per_variant.items():
            target = "<= 0.6" if not name.startswith("opencv") else ""
            md += (
                f"| oodforge, {name} | {v['per_image_ms_median']:.1f} | {v['ratio_to_floor_median']} / "
                f"{v['ratio_to_floor_total']} | {target} |\n"
            )
        md += (
            "\n| whole runs (default config) | value | target |\n|---|---|---|\n"
            f"| whole run, 1 worker | {t1:.2f} s | |\n"
            f"| whole run, 2 workers | {t2:.2f} s | |\n"
            f"| speed-up 2 over 1, whole run (start-up included) | {data['speedup_2_over_1']}x | >= 1.8 |\n"
            f"| throughput 1 / 2 workers (after start-up) | {rate1:.2f} / {rate2:.2f} images/s | |\n"
            f"| speed-up 2 over 1, steady-state throughput | {data['throughput_speedup_2_over_1']}x | >= 1.8 |\n"
            f"| COCO pool build ({len(pool)} instances) | {t_build:.3f} s | |\n"
            f"| cached pool load | {t_cached * 1e3:.1f} ms | |\n"
        )
        write_results("synth" if not args.quick else "synth_quick", data, md)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
