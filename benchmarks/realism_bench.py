"""Plausibility of `oodforge synth` on real Cityscapes frames: the default look, the old look, each new step off.

Every variant synthesizes the real train frames of DIR (``DIR/cityscapes``, ``DIR/coco``: the realdata layout)
in ``--draws`` splits ``r00, r01, ...`` that all cover every frame (``clean_ratio 0``): each split gives every
frame its own random stream (the per-image seed hashes dataset seed, split and image id), so the splits act
as independent dataset seeds and ``oodforge stats`` pools their objects. Figures per variant (written to
results/realism.json and results/realism.md): the ``plausibility`` block of ``dataset_stats`` over all
placed objects, objects placed / planned, and the texture ratio of the real objects of the same frames. The
variants run side by side in ``--workers`` processes (one worker each); results/realism_grid.png shows the
first draw of the old look and of the default on the same frames.

Usage: python benchmarks/realism_bench.py [DIR] [--quick] [--draws N] [--workers N]
(DIR defaults to <repo>/../shared/realdata; when it is absent the bench says so and exits 0.)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml
from _common import RESULTS, machine_info, timed, write_results
from _realism_grid import write_grid
from _realism_report import GOALS, VARIANTS, Variant, goals, markdown, nested, real_objects

from oodforge.config.loader import load_config
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import read_manifest
from oodforge.inspect.stats import dataset_stats
from oodforge.sources.coco_pool import load_or_build_pool
from oodforge.synth.runner import synthesize_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared" / "realdata"
GRID_VARIANTS = ("old look", "default")  # before, after
DATASET_SEED = 0


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _config(base: Path, data: Path, variant: Variant, draws: int) -> Path:
    """Write the variant's config (outputs under ``base/<slug>``, pool cache in ``base/cache``)."""
    split = {"source": "train", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0}
    cfg: dict[str, Any] = {
        "dataset": {"name": f"realism-{variant.slug}", "seed": DATASET_SEED, "output_root": str(base / variant.slug)},
        "sources": {
            "cityscapes": {"root": str(data / "cityscapes")},
            "coco": {"root": str(data / "coco"), "cache_dir": str(base / "cache")},
        },
        "splits": {f"r{k:02d}": dict(split) for k in range(draws)},
    }
    _merge(cfg, nested(variant.overrides))
    path = base / f"{variant.slug}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _build_pools(paths: list[Path]) -> None:
    """Build every distinct COCO pool once, before the variants run in parallel (no two builds race)."""
    for path in paths:
        cfg = load_config(path)
        coco = cfg.sources.coco
        cache = Path(coco.cache_dir) if coco.cache_dir else None
        ann = Path(coco.root) / coco.annotations
        load_or_build_pool(ann, cfg.synthesis.coco.allowed_categories, cfg.synthesis.coco.filters, cache)


def _applied(root: Path) -> dict[str, Any]:
    """What the steps did to the placed objects, from the manifest (explains figures that do not move)."""
    insts = [i for r in read_manifest(DatasetLayout(root).manifest_path) for i in r.instances]
    blur = [float((i.texture or {}).get("blur_sigma") or 0.0) for i in insts]
    noise = [float((i.texture or {}).get("noise_sigma") or 0.0) for i in insts]
    return {
        "objects": len(insts),
        "blurred": sum(b > 0 for b in blur),
        "blur_sigma_median": statistics.median(blur) if blur else None,
        "noised": sum(n > 0 for n in noise),
        "noise_sigma_max": max(noise, default=None),
        "partly_hidden": sum(i.visible_fraction < 1.0 for i in insts),
        "shadowed": sum(i.shadow is not None for i in insts),
    }


def _run_variant(path: Path, keep: bool) -> dict[str, Any]:
    """Synthesize one variant on one worker and measure it (runs in a worker process)."""
    marks: list[tuple[float, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "synth" and done > 0:
            marks.append((time.perf_counter(), done))

    t_synth, summary = timed(lambda: synthesize_dataset(path, workers=1, overwrite=True, progress=progress))
    # steady state: from the first image's result to the last (pool load and first-image warm-up left out)
    (t_a, n_a), (t_b, n_b) = marks[0], marks[-1]
    ms_per_image = 1e3 * (t_b - t_a) / (n_b - n_a) if n_b > n_a else 1e3 * t_synth / max(n_b, 1)
    t_stats, stats = timed(lambda: dataset_stats(summary.output_root))
    totals = stats["totals"]
    applied = _applied(summary.output_root)
    if not keep:
        shutil.rmtree(summary.output_root, ignore_errors=True)
    return {
        "synth_s": round(t_synth, 2),
        "ms_per_image": round(ms_per_image, 1),
        "stats_s": round(t_stats, 2),
        "n_images": totals["n_images"],
        "n_failed": totals["n_failed"],
        "planned": totals["planned_instances"],
        "placed": totals["placed_instances"],
        "figures": totals.get("plausibility"),
        "pool": summary.pool_summary,
        "applied": applied,
        "root": str(summary.output_root),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR, help="real-data folder (realdata layout)")
    ap.add_argument("--quick", action="store_true", help="3 draws (smoke run), results/realism_quick.*")
    ap.add_argument("--draws", type=int, default=13, help="splits per variant (independent draws)")
    ap.add_argument("--workers", type=int, default=2, help="variants run at the same time")
    args = ap.parse_args()
    data: Path = args.dir.resolve()
    if not (data / "cityscapes" / "leftImg8bit" / "train").is_dir() or not (data / "coco").is_dir():
        print(f"realism bench skipped: no real data at {data} (expected cityscapes/leftImg8bit/train and coco/)")
        return
    draws = 3 if args.quick else args.draws
    name = "realism_quick" if args.quick else "realism"
    base = Path(tempfile.mkdtemp(prefix="oodforge-realism-bench-"))
    t0 = time.perf_counter()
    try:
        paths = {v.name: _config(base, data, v, draws) for v in VARIANTS}
        t_pools, _ = timed(lambda: _build_pools(list(paths.values())))
        with ProcessPoolExecutor(max(1, args.workers), mp_context=get_context("spawn")) as ex:
            futures = {v.name: ex.submit(_run_variant, paths[v.name], v.name in GRID_VARIANTS) for v in VARIANTS}
            runs = {n: f.result() for n, f in futures.items()}
        real = real_objects(data / "cityscapes")
        grid_path = RESULTS / f"{name}_grid.png"
        t_grid, grid_info = timed(
            lambda: write_grid(Path(runs["old look"]["root"]), Path(runs["default"]["root"]), "r00", grid_path)
        )
        ms_per_image = runs["default"]["ms_per_image"]
        total_s = time.perf_counter() - t0
        variants_out = {}
        for v in VARIANTS:
            run = {k: val for k, val in runs[v.name].items() if k != "root"}
            variants_out[v.name] = {"what": v.what, "overrides": v.overrides, **run, "goals": goals(run)}
        result = {
            "machine": machine_info(),
            "oodforge": _version(),
            "data_dir": str(data),
            "frames": real["frames"],
            "draws": draws,
            "dataset_seed": DATASET_SEED,
            "workers": args.workers,
            "default_ms_per_image": round(ms_per_image, 1),
            "pool_build_s": round(t_pools, 2),
            "grid": {"path": str(grid_path.relative_to(REPO)), "s": round(t_grid, 2), **grid_info},
            "total_s": round(total_s, 1),
            "goals": {k: list(v) for k, v in GOALS.items()},
            "real_objects": real,
            "variants": variants_out,
        }
        write_results(name, result, markdown(result))
        synth_times = [r["synth_s"] for r in runs.values()]
        print(f"total {total_s:.1f} s; synth per variant median {statistics.median(synth_times):.1f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("oodforge")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    main()
