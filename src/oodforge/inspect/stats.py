"""``oodforge stats``: counts per split, planned/placed, categories, object sizes, coverage, scale, plausibility.

:func:`dataset_stats` returns plain JSON-serialisable data (``oodforge stats --json``);
:func:`render_stats` prints it as rich tables. Rendered datasets (``oodforge render``) get their own
summary (per camera: frames, anomalies, pixel counts, mode values; :mod:`oodforge.inspect._stats_render`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord
from oodforge.inspect._dataset import load_any, output_paths
from oodforge.inspect._stats_plausibility import print_plausibility
from oodforge.inspect._stats_render import PERCENTILES, print_render_stats, render_dataset_stats
from oodforge.inspect.plausibility import dataset_plausibility

__all__ = ["PERCENTILES", "dataset_stats", "render_stats"]

COUNT_KEYS = (
    "n_images",
    "n_clean",
    "n_synth",
    "n_with_anomaly",
    "n_synth_without_anomaly",
    "n_failed",
    "planned_instances",
    "placed_instances",
)
DIST_KEYS = ("area_px", "area_frac", "coverage", "scale")


def dataset_stats(root: Path, *, plausibility: bool = True) -> dict[str, Any]:
    """Summarise a synthesized or rendered dataset from its manifest.

    A rendered dataset gives :func:`oodforge.inspect._stats_render.render_dataset_stats` (with
    ``"kind": "render"``); the rest of this docstring describes a synthesized one.

    Args:
        root: the output root of ``oodforge synth`` or ``oodforge render``.
        plausibility: measure the placed objects (reads every image with objects, its instances, its
            source labels and the source COCO objects: about 0.1 s per 2048x1024 image); False leaves
            the ``plausibility`` key out.

    Returns:
        ``{"root": str, "splits": {split: stats}, "totals": stats}``. Each ``stats`` holds the counts
        ``n_images, n_clean, n_synth, n_with_anomaly, n_synth_without_anomaly, n_failed,
        planned_instances, placed_instances``, ``placement_rate`` (placed / planned, None when nothing
        was planned), ``categories`` and ``target_labels`` (name -> count, by count descending),
        ``flip_rate``, ``image_size`` ([H, W] read from the split's first GT file; None in totals) and the
        distributions ``area_px``, ``area_frac`` (area / image area), ``coverage`` and ``scale``, each
        ``{min, p5, p25, median, p75, p95, max}`` or None without placed instances; ``plausibility``: the
        figures of the placed objects (:func:`oodforge.inspect.plausibility.dataset_plausibility`: size,
        wholeness, chroma shift, texture ratio, forbidden labels, visible fraction, target-label shares).

    Raises:
        InputFileError: ``root`` is missing, or the manifest has a malformed line or mixes record kinds.
        DataLayoutError: ``root`` is not a dataset folder.
    """
    data = load_any(root)
    if data.kind == "render":
        return render_dataset_stats(root, data.layout, data.render)
    layout, records = data.layout, data.synth
    by_split: dict[str, list[ManifestRecord]] = {}
    for rec in sorted(records, key=lambda r: (r.split, r.image_id)):
        by_split.setdefault(rec.split, []).append(rec)
    splits = {}
    fracs_all: list[float] = []
    for split, recs in by_split.items():
        size = _image_size(layout, recs)
        fracs = _area_fracs(recs, size)
        fracs_all.extend(fracs)
        splits[split] = _summarise(recs, fracs, size)
    totals = _summarise(records, fracs_all, None)
    if plausibility:
        figures = dataset_plausibility(layout, records)
        for split, fig in figures["splits"].items():
            splits[split]["plausibility"] = fig
        totals["plausibility"] = figures["totals"]
    return {"root": str(root), "splits": splits, "totals": totals}


def _image_size(layout: DatasetLayout, recs: list[ManifestRecord]) -> tuple[int, int] | None:
    """(H, W) of the first readable GT file of the split."""
    for rec in recs:
        for rel in output_paths(rec, "gt_pixel"):
            path = layout.abs(rel)
            if path.is_file():
                arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
                if arr is not None:
                    return int(arr.shape[0]), int(arr.shape[1])
    return None


def _area_fracs(recs: list[ManifestRecord], size: tuple[int, int] | None) -> list[float]:
    if size is None:
        return []
    return [inst.area_px / (size[0] * size[1]) for rec in recs for inst in rec.instances]


def _distribution(values: list[float]) -> dict[str, float] | None:
    """Percentiles (linear interpolation) of ``values``; None when empty."""
    if not values:
        return None
    arr = np.asarray(values, np.float64)
    return {name: float(np.percentile(arr, q)) for name, q in PERCENTILES.items()}


def _histogram(names: list[str]) -> dict[str, int]:
    """Count the names: name -> count, by count descending then name."""
    return dict(sorted(Counter(names).items(), key=lambda kv: (-kv[1], kv[0])))


def _summarise(recs: list[ManifestRecord], fracs: list[float], size: tuple[int, int] | None) -> dict[str, Any]:
    """The statistics of one group of records (a split, or all of them)."""
    instances = [inst for rec in recs for inst in rec.instances]
    planned = sum(rec.planned_instances for rec in recs)
    placed = sum(rec.placed_instances for rec in recs)
    return {
        "n_images": len(recs),
        "n_clean": sum(not rec.is_synth for rec in recs),
        "n_synth": sum(rec.is_synth for rec in recs),
        "n_with_anomaly": sum(rec.has_anomaly for rec in recs),
        "n_synth_without_anomaly": sum(rec.is_synth and rec.status == "ok" and not rec.has_anomaly for rec in recs),
        "n_failed": sum(rec.status == "failed" for rec in recs),
        "planned_instances": planned,
        "placed_instances": placed,
        "placement_rate": placed / planned if planned else None,
        "image_size": list(size) if size is not None else None,
        "categories": _histogram([inst.category for inst in instances]),
        "target_labels": _histogram([inst.target_label for inst in instances]),
        "flip_rate": sum(inst.flip for inst in instances) / len(instances) if instances else None,
        "area_px": _distribution([float(inst.area_px) for inst in instances]),
        "area_frac": _distribution(fracs),
        "coverage": _distribution([inst.coverage for inst in instances]),
        "scale": _distribution([inst.scale for inst in instances]),
    }


def _fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if key in ("placement_rate", "flip_rate"):
            return f"{value:.1%}"
        if key == "area_frac":
            return f"{value:.4%}"
        return f"{value:,.0f}" if key == "area_px" else f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_stats(stats: dict[str, Any], console: Console) -> None:
    """Print the output of :func:`dataset_stats` as rich tables: counts, one table per split, plausibility."""
    if stats.get("kind") == "render":
        print_render_stats(stats, console)
        return
    groups = {**stats["splits"], "total": stats["totals"]}
    counts = Table(title=f"oodforge dataset {stats['root']}", title_justify="left")
    counts.add_column("")
    for name in groups:
        counts.add_column(name, justify="right", style="bold" if name == "total" else None)
    for key in (*COUNT_KEYS, "placement_rate", "flip_rate"):
        counts.add_row(key, *(_fmt(g[key], key) for g in groups.values()))
    sizes = ("x".join(map(str, g["image_size"])) if g["image_size"] else None for g in groups.values())
    counts.add_row("image_size (HxW)", *(_fmt(size) for size in sizes))
    console.print(counts)
    for name, group in groups.items():
        if not group["placed_instances"]:
            continue
        dist = Table(title=f"{name}: placed objects", title_justify="left")
        dist.add_column("")
        for col in PERCENTILES:
            dist.add_column(col, justify="right")
        for key in DIST_KEYS:
            values = group[key]
            dist.add_row(key, *(_fmt(values[c], key) if values else "-" for c in PERCENTILES))
        console.print(dist)
        hist = Table(title=f"{name}: categories", title_justify="left")
        hist.add_column("category")
        hist.add_column("count", justify="right")
        for cat, count in group["categories"].items():
            hist.add_row(cat, f"{count:,}")
        console.print(hist)
        targets = ", ".join(f"{label} {count:,}" for label, count in group["target_labels"].items())
        console.print(f"{name}: target labels: {targets}", highlight=False)
    print_plausibility(groups, console)
