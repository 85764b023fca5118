"""``oodforge synth``: prepare the output root, index sources, build the pool, run, rebuild the manifest.

Resume: every image writes its files atomically and then its record under ``OUT/.oodforge/records``;
a re-run skips images whose record is complete and rebuilds ``manifest.jsonl`` (sorted, no
duplicates) from the records. A run killed at any point and restarted ends byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oodforge._io import atomic_write_bytes
from oodforge._seeding import stable_unit
from oodforge.config.loader import dump_resolved, load_config
from oodforge.config.schema import SynthConfig
from oodforge.errors import ConfigError, DataLayoutError, UsageError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import record_sort_key
from oodforge.sources.cityscapes import check_split_has_labels, list_image_ids
from oodforge.sources.coco_pool import load_or_build_pool
from oodforge.synth.context import SynthContext
from oodforge.synth.executors import run_tasks
from oodforge.synth.geometry import real_height_m

__all__ = ["RunSummary", "part_of", "plan_tasks", "prepare_output", "rebuild_manifest", "synthesize_dataset"]

#: progress(stage, done, total); stages: "pool", "synth"
Progress = Callable[[str, int, int], None]
_MANAGED_SUBDIRS = ("images", "gt_pixel", "instances", "labels")


@dataclass
class RunSummary:
    """What a run did."""

    output_root: Path
    total: int = 0
    skipped: int = 0
    processed: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (split, image_id, error)
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)
    stopped_early: bool = False
    pool_summary: str = ""  # the COCO pool's size and rejection counts per filter


def part_of(image_id: str) -> float:
    """The stable position of an image id in [0, 1) used by ``splits.<name>.part``."""
    return stable_unit("part", image_id)


def prepare_output(cfg: SynthConfig, resolved: bytes, *, overwrite: bool) -> DatasetLayout:
    """Create or validate the output root; refuse a folder holding another config unless ``overwrite``."""
    root = Path(cfg.dataset.output_root)
    lay = DatasetLayout(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"dataset.output_root {root}: exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        if lay.config_path.is_file():
            if lay.config_path.read_bytes() != resolved and not overwrite:
                raise UsageError(
                    f"{root}: holds a dataset made from another config ({lay.config_path} differs); "
                    "use --overwrite to replace it or choose another dataset.output_root"
                )
        elif not overwrite:
            raise UsageError(
                f"{root}: folder is not empty and holds no oodforge dataset; use --overwrite or an empty folder"
            )
        if overwrite and (not lay.config_path.is_file() or lay.config_path.read_bytes() != resolved):
            _clear_dataset(lay)
    root.mkdir(parents=True, exist_ok=True)
    for tmp in root.rglob(".*.tmp"):  # leftovers of a killed run
        tmp.unlink(missing_ok=True)
    if not lay.config_path.is_file() or lay.config_path.read_bytes() != resolved:
        atomic_write_bytes(lay.config_path, resolved)
    return lay


def _clear_dataset(lay: DatasetLayout) -> None:
    for p in (lay.config_path, lay.manifest_path, lay.root / "preview.png"):
        p.unlink(missing_ok=True)
    shutil.rmtree(lay.state_dir, ignore_errors=True)
    for sub in lay.root.iterdir():
        if sub.is_dir() and any((sub / m).is_dir() for m in _MANAGED_SUBDIRS):
            for m in _MANAGED_SUBDIRS:
                shutil.rmtree(sub / m, ignore_errors=True)
            if not any(sub.iterdir()):
                sub.rmdir()


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


def _record_complete(lay: DatasetLayout, split: str, image_id: str, config_sha: str) -> bool:
    path = lay.record_path(split, image_id)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if rec.get("status") != "ok" or rec.get("config_sha256") != config_sha:
        return False
    for rel in rec.get("outputs", {}).values():
        for r in [rel] if isinstance(rel, str) else rel:
            if not lay.abs(r).is_file():
                return False
    return True


def rebuild_manifest(lay: DatasetLayout, splits: list[str]) -> list[dict[str, Any]]:
    """Rewrite ``manifest.jsonl`` from the per-image records, sorted by (split, image_id), atomically."""
    records: list[dict[str, Any]] = []
    for split in splits:
        folder = lay.state_dir / "records" / split
        if folder.is_dir():
            records.extend(json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json")))
    records.sort(key=record_sort_key)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    atomic_write_bytes(lay.manifest_path, text.encode("utf-8"))
    return records


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
    progress: Progress | None = None,
) -> RunSummary:
    """Build or resume a dataset (the library function behind ``oodforge synth``).

    Raises:
        UsageError: bad config, data layout or arguments (nothing is written before these checks).
    """
    if workers < 1:
        raise UsageError(f"--workers: expected at least 1, got {workers}")
    cfg = config if isinstance(config, SynthConfig) else load_config(config)
    resolved = dump_resolved(cfg)
    config_sha = hashlib.sha256(resolved).hexdigest()
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
    lay = prepare_output(cfg, resolved, overwrite=overwrite)
    summary = RunSummary(lay.root, total=len(tasks), pool_summary=pool.summary())
    todo = [t for t in tasks if not _record_complete(lay, t[0], t[1], config_sha)]
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

    try:
        run_tasks(ctx, todo, workers=workers, executor=executor, scheduler=scheduler, on_result=on_result)
    finally:
        records = rebuild_manifest(lay, list(cfg.splits))
    summary.stopped_early = done < len(tasks)
    for rec in records:
        s = summary.per_split.setdefault(rec["split"], {"images": 0, "synthetic": 0, "with_anomaly": 0, "failed": 0})
        s["images"] += 1
        s["synthetic"] += int(rec["is_synth"])
        s["with_anomaly"] += int(rec["has_anomaly"])
        s["failed"] += int(rec["status"] != "ok")
    return summary
