"""``oodforge synth``: check the output root, index sources, build the pool, run, rebuild the manifest.

Resume: every image writes its files atomically and then its record under ``OUT/.oodforge/records``;
a re-run skips images whose record is complete (:func:`oodforge.export.records.record_complete`) and
rebuilds ``manifest.jsonl`` (sorted, no duplicates) from the records. A run killed at any point and
restarted ends byte-identical. ``repair=True`` also re-hashes every finished image's files and redoes
those that no longer match their record. The output root is handled by
:mod:`oodforge.export.output_root` (shared with ``render``): locked for the run, and ``--overwrite``
deletes only files oodforge wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oodforge._seeding import stable_unit
from oodforge.config.identity import config_sha256
from oodforge.config.loader import dump_resolved, load_config
from oodforge.config.schema import SynthConfig
from oodforge.errors import ConfigError, DataLayoutError, UsageError
from oodforge.export.layout import DatasetLayout
from oodforge.export.output_root import open_output_root
from oodforge.export.records import rebuild_manifest, record_complete
from oodforge.sources.cityscapes import check_split_has_labels, list_image_ids
from oodforge.sources.coco_pool import load_or_build_pool
from oodforge.synth.context import SynthContext
from oodforge.synth.executors import run_tasks
from oodforge.synth.geometry import real_height_m
from oodforge.synth.split_warnings import empty_split_warnings

__all__ = [
    "MANAGED_SUBDIRS", "RunSummary", "empty_split_warnings", "part_of", "plan_tasks", "rebuild_manifest",
    "synthesize_dataset",
]  # fmt: skip

#: progress(stage, done, total); stages: "pool", "check", "synth"
Progress = Callable[[str, int, int], None]
#: the folders oodforge writes in each split folder
MANAGED_SUBDIRS = ("images", "gt_pixel", "instances", "labels")


@dataclass
class RunSummary:
    """What a run did."""

    output_root: Path
    total: int = 0
    skipped: int = 0
    processed: int = 0
    repaired: int = 0  # finished images redone because their files no longer matched (--repair)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (split, image_id, error)
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)
    stopped_early: bool = False
    interrupted: bool = False  # Ctrl-C: the finished images are kept; the same command resumes
    pool_summary: str = ""  # the COCO pool's size and rejection counts per filter
    warnings: list[str] = field(default_factory=list)
    cleared_files: int = 0  # files of another config's dataset deleted by --overwrite
    kept_files: int = 0  # files in that dataset's folders that no record listed (left alone)


def part_of(image_id: str) -> float:
    """The stable position of an image id in [0, 1) used by ``splits.<name>.part``."""
    return stable_unit("part", image_id)


def plan_tasks(cfg: SynthConfig, *, split: str | None = None, limit: int | None = None) -> list[tuple[str, str]]:
    """The (split, image_id) pairs of a run: per split, the source ids in its ``part``, sorted, first ``limit``."""
    if split is not None and split not in cfg.splits:
        raise UsageError(f"--split: unknown split '{split}'; the config defines {', '.join(cfg.splits)}")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit: expected a positive number of images per split, got {limit}")
    root = Path(cfg.sources.cityscapes.root)
    by_source: dict[str, list[str]] = {}
    tasks: list[tuple[str, str]] = []
    for name, scfg in cfg.splits.items():
        if split is not None and name != split:
            continue
        if scfg.source not in by_source:
            ids = list_image_ids(root, scfg.source)
            check_split_has_labels(root, scfg.source, ids)
            by_source[scfg.source] = ids
        lo, hi = scfg.part
        ids = [i for i in by_source[scfg.source] if lo <= part_of(i) < hi or (hi == 1.0 and part_of(i) >= lo)]
        tasks.extend((name, i) for i in ids[:limit])
    return tasks


def _check_names(ctx: SynthContext) -> None:
    _ = ctx.target_ids, ctx.forbidden_lut  # raise ConfigError on unknown Cityscapes names
    geo = ctx.config.synthesis.geometry
    if geo.scale_mode == "metric":
        for cat in ctx.config.synthesis.coco.allowed_categories:
            real_height_m(cat, geo.category_heights_m)


def synthesize_dataset(
    config: str | Path | SynthConfig,
    *,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    overwrite: bool = False,
    fail_fast: bool = False,
    repair: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    """Build, resume or repair a dataset (the library function behind ``oodforge synth``).

    Ctrl-C (KeyboardInterrupt) stops the run cleanly: the manifest is rebuilt from the finished images
    and the summary comes back with ``interrupted`` set.

    Raises:
        UsageError: bad config, data layout or arguments, a foreign or locked output root (nothing is
            written before these checks).
    """
    if workers < 1:
        raise UsageError(f"--workers: expected at least 1, got {workers}")
    cfg = config if isinstance(config, SynthConfig) else load_config(config)
    resolved = dump_resolved(cfg)
    config_sha = config_sha256(resolved)
    coco = cfg.sources.coco
    ann_path = Path(coco.root) / coco.annotations
    ctx = SynthContext(cfg, config_sha, Path())
    _check_names(ctx)
    if not ctx.coco_images_root.is_dir():
        raise DataLayoutError(
            f"sources.coco.images: {ctx.coco_images_root} is not a folder; expected the COCO images "
            f"(<coco root>/{coco.images}/<12-digit id>.jpg)"
        )
    tasks = plan_tasks(cfg, split=split, limit=limit)
    if not tasks:
        raise ConfigError("splits: no image falls into any selected split (check `part` ranges and --split)")
    cb = (lambda d, t: progress("pool", d, t)) if progress else None
    cache = Path(coco.cache_dir) if coco.cache_dir else None
    pool = load_or_build_pool(
        ann_path, cfg.synthesis.coco.allowed_categories, cfg.synthesis.coco.filters, cache, progress=cb
    )
    ctx.pool_path = pool.path
    with open_output_root(
        Path(cfg.dataset.output_root), resolved, splits=cfg.splits, managed=MANAGED_SUBDIRS, overwrite=overwrite,
        command="oodforge synth", key="dataset.output_root",
    ) as out:  # fmt: skip
        summary = RunSummary(out.layout.root, total=len(tasks), pool_summary=pool.summary())
        summary.warnings = empty_split_warnings(cfg, tasks, split)
        summary.cleared_files, summary.kept_files = out.cleared_files, out.kept_files
        _run(ctx, out.layout, tasks, summary, workers, executor, scheduler, fail_fast, repair, progress)
    return summary


def _run(
    ctx: SynthContext, lay: DatasetLayout, tasks: list[tuple[str, str]], summary: RunSummary, workers: int,
    executor: str, scheduler: str | None, fail_fast: bool, repair: bool, progress: Progress | None,
) -> None:  # fmt: skip
    todo: list[tuple[str, str]] = []
    for i, (split, image_id) in enumerate(tasks):
        if not record_complete(lay, split, image_id, ctx.config_sha256):
            todo.append((split, image_id))
        elif repair and not record_complete(lay, split, image_id, ctx.config_sha256, check_hashes=True):
            todo.append((split, image_id))
            summary.repaired += 1
        if progress and repair:
            progress("check", i + 1, len(tasks))
    summary.skipped = len(tasks) - len(todo)
    done = summary.skipped
    if progress:
        progress("synth", done, len(tasks))

    def on_result(rec: dict[str, Any]) -> bool:
        nonlocal done
        done += 1
        summary.processed += 1
        if rec["status"] != "ok":
            summary.failed.append((rec["split"], rec["image_id"], str(rec.get("error"))))
        if progress:
            progress("synth", done, len(tasks))
        return not (fail_fast and summary.failed)

    def tally(rec: dict[str, Any]) -> None:
        s = summary.per_split.setdefault(rec["split"], {"images": 0, "synthetic": 0, "with_anomaly": 0, "failed": 0})
        s["images"] += 1
        s["synthetic"] += int(bool(rec.get("is_synth")))
        s["with_anomaly"] += int(bool(rec.get("has_anomaly")))
        s["failed"] += int(rec.get("status") != "ok")

    try:
        run_tasks(
            ctx, todo, workers=workers, executor=executor, scheduler=scheduler, on_result=on_result, collect=False
        )
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        rebuild_manifest(lay, list(ctx.config.splits), tally)
    summary.stopped_early = done < len(tasks)
