"""``oodforge stats`` for rendered datasets: frame counts per camera, anomaly pixel counts, mode values, objects.

:func:`render_dataset_stats` returns plain JSON-serialisable data; :func:`print_render_stats` prints it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from oodforge.export.layout import DatasetLayout
from oodforge.inspect._render_record import RenderRecord

__all__ = ["PERCENTILES", "RENDER_COUNT_KEYS", "RENDER_HIST_KEYS", "print_render_stats", "render_dataset_stats"]

#: name -> percentile of the distributions (``min`` = 0, ``max`` = 100); shared with the synth stats
PERCENTILES = {"min": 0.0, "p5": 5.0, "p25": 25.0, "median": 50.0, "p75": 75.0, "p95": 95.0, "max": 100.0}
RENDER_COUNT_KEYS = ("n_frames", "n_normal", "n_anomalous", "n_visible", "n_hidden", "n_failed")
#: histogram key -> (value of a record or None, label of a value); numeric values sort by value
_NUMERIC: dict[str, tuple[Callable[[RenderRecord], float | None], str]] = {
    "sun_strength": (lambda r: r.modes.sun_strength, "g"),
    "depth_offset": (lambda r: r.modes.depth_offset, "+g"),
    "scale": (lambda r: r.modes.scale, "g"),
}
RENDER_HIST_KEYS = (*_NUMERIC, "colour", "objects")


def render_dataset_stats(root: Path, layout: DatasetLayout, records: list[RenderRecord]) -> dict[str, Any]:
    """Summarise a rendered dataset from its manifest.

    Returns:
        ``{"root": str, "kind": "render", "cameras": {camera: stats}, "totals": stats}``. Each ``stats``
        holds ``n_frames`` (every record), ``n_normal`` and ``n_anomalous`` (``ok`` frames by
        ``is_anomalous``), ``n_visible`` (``has_anomaly``) and ``n_hidden`` (``anomaly_hidden``) among the
        anomalous ones, ``n_failed``; ``image_size`` ([H, W] of the camera's first GT; None in totals);
        ``pixel_count``: ``{min, p5, p25, median, p75, p95, max}`` of the anomaly pixels of the visible
        anomalies (None without any); the histograms (value -> frames, over ``ok`` frames)
        ``sun_strength``, ``depth_offset``, ``scale`` (by value), ``colour`` and ``objects`` (by count
        descending, then name; ``objects`` over anomalous frames).
    """
    by_camera: dict[str, list[RenderRecord]] = {}
    for rec in sorted(records, key=lambda r: (r.split, r.image_id)):
        by_camera.setdefault(rec.split, []).append(rec)
    cameras = {cam: _summarise(recs, _image_size(layout, recs)) for cam, recs in by_camera.items()}
    return {"root": str(root), "kind": "render", "cameras": cameras, "totals": _summarise(records, None)}


def _image_size(layout: DatasetLayout, recs: list[RenderRecord]) -> tuple[int, int] | None:
    """(H, W) of the first readable GT file of the camera."""
    for rec in recs:
        rel = rec.outputs.get("gt_pixel")
        if rel is not None and layout.abs(rel).is_file():
            arr = cv2.imread(str(layout.abs(rel)), cv2.IMREAD_UNCHANGED)
            if arr is not None:
                return int(arr.shape[0]), int(arr.shape[1])
    return None


def _distribution(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, np.float64)
    return {name: float(np.percentile(arr, q)) for name, q in PERCENTILES.items()}


def _by_count(names: list[str]) -> dict[str, int]:
    return dict(sorted(Counter(names).items(), key=lambda kv: (-kv[1], kv[0])))


def _by_value(values: list[float], spec: str) -> dict[str, int]:
    counts = Counter(values)
    return {format(v, spec): counts[v] for v in sorted(counts)}


def _summarise(recs: list[RenderRecord], size: tuple[int, int] | None) -> dict[str, Any]:
    """The statistics of one group of frames (a camera, or all of them)."""
    ok = [rec for rec in recs if rec.status == "ok"]
    anomalous = [rec for rec in ok if rec.is_anomalous]
    out: dict[str, Any] = {
        "n_frames": len(recs),
        "n_normal": len(ok) - len(anomalous),
        "n_anomalous": len(anomalous),
        "n_visible": sum(rec.has_anomaly for rec in anomalous),
        "n_hidden": sum(rec.anomaly_hidden for rec in anomalous),
        "n_failed": sum(rec.status == "failed" for rec in recs),
        "image_size": list(size) if size is not None else None,
        "pixel_count": _distribution([float(rec.pixel_count) for rec in anomalous if rec.has_anomaly]),
    }
    for key, (get, spec) in _NUMERIC.items():
        out[key] = _by_value([v for v in map(get, ok) if v is not None], spec)
    out["colour"] = _by_count([rec.modes.colour for rec in ok if rec.modes.colour is not None])
    out["objects"] = _by_count([rec.object_ for rec in anomalous if rec.object_ is not None])
    return out


def print_render_stats(stats: dict[str, Any], console: Console) -> None:
    """Print :func:`render_dataset_stats` as rich tables: counts, pixel counts, then one table per histogram."""
    groups = {**stats["cameras"], "total": stats["totals"]}
    counts = _table(f"oodforge rendered dataset {stats['root']}", "", groups)
    for key in RENDER_COUNT_KEYS:
        counts.add_row(key, *(f"{g[key]:,}" for g in groups.values()))
    sizes = ("x".join(map(str, g["image_size"])) if g["image_size"] else "-" for g in groups.values())
    counts.add_row("image_size (HxW)", *sizes)
    console.print(counts)
    dist = Table(title="anomaly pixel_count (visible anomalies)", title_justify="left")
    dist.add_column("")
    for col in PERCENTILES:
        dist.add_column(col, justify="right")
    for name, group in groups.items():
        values = group["pixel_count"]
        dist.add_row(name, *(f"{values[c]:,.0f}" if values else "-" for c in PERCENTILES))
    console.print(dist)
    for key in RENDER_HIST_KEYS:
        names = list(stats["totals"][key])  # every value, in the histogram's order
        if not names:
            continue
        hist = _table(f"{key} (frames)", key, groups)
        for name in names:
            hist.add_row(name, *(f"{g[key].get(name, 0):,}" for g in groups.values()))
        console.print(hist)


def _table(title: str, first: str, groups: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(first)
    for name in groups:
        table.add_column(name, justify="right", style="bold" if name == "total" else None)
    return table
