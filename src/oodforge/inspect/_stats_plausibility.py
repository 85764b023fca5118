"""Helpers of the plausibility figures of ``oodforge stats``: reach a dataset's sources, print the figures.

:func:`read_sources` reads the paths and real heights from ``OUT/config.yaml`` (relative paths are taken
against ``OUT``); :class:`CocoObjects` loads the COCO annotation JSON once, keeps only the annotations
the dataset uses and decodes one object at a time; :func:`print_plausibility` prints the figures of
:func:`oodforge.inspect.plausibility.dataset_plausibility`.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from oodforge._io import read_image_rgb, read_label_png
from oodforge.errors import InputFileError, SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord
from oodforge.sources._coco_filters import decode
from oodforge.synth.heights import CATEGORY_HEIGHTS_M

__all__ = [
    "SIZE_RANGE",
    "CocoObjects",
    "ObjectFigures",
    "Sources",
    "decode_coco_mask",
    "print_plausibility",
    "read_sources",
    "summarise",
]

#: size ratios in this range (inclusive) count as plausible
SIZE_RANGE = (0.5, 2.0)


@dataclass
class Sources:
    """Where a dataset's sources are, as its ``config.yaml`` says; a None path comes with ``problem``."""

    cityscapes_root: Path | None = None
    coco_images: Path | None = None
    coco_annotations: Path | None = None
    heights: dict[str, float] = field(default_factory=lambda: dict(CATEGORY_HEIGHTS_M))
    problem: str | None = None

    def label_ids(self, rec: ManifestRecord) -> np.ndarray:
        """The source frame's ``gtFine`` label ids.

        Raises:
            SampleError: the Cityscapes root is unknown or the label file unreadable.
        """
        if self.cityscapes_root is None:
            raise SampleError(self.problem or "no Cityscapes root")
        name = f"{rec.image_id}_gtFine_labelIds.png"
        return read_label_png(self.cityscapes_root / "gtFine" / rec.source_split / rec.city / name)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def read_sources(layout: DatasetLayout) -> Sources:
    """The source paths and real heights of a dataset, from its ``config.yaml`` (no validation beyond need)."""
    path = layout.config_path
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return Sources(problem=f"{path}: unreadable config ({str(exc).splitlines()[0]})")
    out = Sources()
    heights = _get(data, "synthesis", "geometry", "category_heights_m")
    if isinstance(heights, dict):
        out.heights.update({str(k): float(v) for k, v in heights.items() if isinstance(v, int | float) and v > 0})
    cs_root, coco_root = _get(data, "sources", "cityscapes", "root"), _get(data, "sources", "coco", "root")
    if isinstance(cs_root, str):
        out.cityscapes_root = layout.root / Path(cs_root).expanduser()
    if isinstance(coco_root, str):
        coco = layout.root / Path(coco_root).expanduser()
        images = _get(data, "sources", "coco", "images")
        annotations = _get(data, "sources", "coco", "annotations")
        out.coco_images = coco / (images if isinstance(images, str) else "train2017")
        ann = annotations if isinstance(annotations, str) else "annotations/instances_train2017.json"
        out.coco_annotations = coco / ann
    if out.cityscapes_root is None or out.coco_annotations is None:
        out.problem = f"{path}: no sources.cityscapes.root / sources.coco.root"
    elif not out.cityscapes_root.is_dir():
        out.problem = f"Cityscapes root {out.cityscapes_root} not found"
        out.cityscapes_root = None
    return out


def decode_coco_mask(ann: dict[str, Any], height: int, width: int, path: Path) -> np.ndarray:
    """(H, W) bool mask of a COCO annotation, decoded like the pool does (``COCO.annToMask``).

    Raises:
        SampleError: the segmentation is not decodable.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            return decode(ann, width, height, path)
    except (InputFileError, KeyError) as exc:
        raise SampleError(str(exc)) from None


class CocoObjects:
    """The source COCO objects of a dataset: the annotation JSON read once, on first use, cut to ``ann_ids``."""

    def __init__(self, sources: Sources, ann_ids: set[int]) -> None:
        self._sources = sources
        self._wanted = ann_ids
        self._anns: dict[int, dict[str, Any]] | None = None
        self._images: dict[int, dict[str, Any]] = {}
        self._error: str | None = None

    def _load(self) -> None:
        path = self._sources.coco_annotations
        if path is None:
            self._error = self._sources.problem or "no COCO annotations path"
            return
        try:
            with path.open("rb") as fh:
                data = json.load(fh)
            anns = {int(a["id"]): a for a in data["annotations"] if int(a["id"]) in self._wanted}
            wanted_images = {int(a["image_id"]) for a in anns.values()}
            self._images = {int(i["id"]): i for i in data["images"] if int(i["id"]) in wanted_images}
        except FileNotFoundError:
            self._error = f"COCO annotations {path} not found"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._error = f"COCO annotations {path} unreadable ({str(exc).splitlines()[0]})"
        else:
            self._anns = anns

    def get(self, ann_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(RGB image, bool mask) of one source object.

        Raises:
            SampleError: the annotations, the annotation, its image record or its image file are unreachable.
        """
        if self._anns is None and self._error is None:
            self._load()
        if self._anns is None:
            raise SampleError(self._error or "COCO annotations not loaded")
        ann = self._anns.get(ann_id)
        image = self._images.get(int(ann["image_id"])) if ann is not None else None
        if ann is None or image is None or self._sources.coco_images is None:
            raise SampleError(f"COCO annotation {ann_id} or its image not in {self._sources.coco_annotations}")
        rgb = read_image_rgb(self._sources.coco_images / str(image["file_name"]))
        path = self._sources.coco_annotations or Path("<annotations>")
        return rgb, decode_coco_mask(ann, rgb.shape[0], rgb.shape[1], path)


@dataclass
class ObjectFigures:
    """The figures of one placed object; None = not measured, with the reason under ``missing[figure]``."""

    target_label: str
    visible_fraction: float | None = None
    size_ratio: float | None = None
    whole: bool | None = None
    chroma_shift: float | None = None
    texture_ratio: float | None = None
    forbidden: bool | None = None
    missing: dict[str, str] = field(default_factory=dict)


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, np.float64), q)) if values else None


def summarise(objs: list[ObjectFigures]) -> dict[str, Any]:
    """The figures of a group of objects (JSON-serialisable; None where nothing was measured).

    Returns:
        ``n_objects``; ``size_in_range`` (share of sized objects within :data:`SIZE_RANGE`),
        ``size_ratio_median`` (finite ratios); ``whole`` (share); ``chroma_shift_median``,
        ``chroma_shift_p90``; ``texture_ratio_median``; ``forbidden_objects`` (count) of
        ``forbidden_checked``; ``visible_fraction_median``; ``target_label_shares`` (label -> share, by
        share descending then label); ``notes``: one line per figure some objects lack, with the count
        and the first reason.
    """
    ratios = [o.size_ratio for o in objs if o.size_ratio is not None]
    chroma = [o.chroma_shift for o in objs if o.chroma_shift is not None]
    forbidden = [o.forbidden for o in objs if o.forbidden is not None]
    counts = Counter(o.target_label for o in objs)
    missing: dict[str, list[str]] = {}
    for obj in objs:
        for figure, why in obj.missing.items():
            missing.setdefault(figure, []).append(why)
    return {
        "n_objects": len(objs),
        "size_in_range": _share([SIZE_RANGE[0] <= r <= SIZE_RANGE[1] for r in ratios]),
        "size_ratio_median": _percentile([r for r in ratios if math.isfinite(r)], 50),
        "whole": _share([o.whole for o in objs if o.whole is not None]),
        "chroma_shift_median": _percentile(chroma, 50),
        "chroma_shift_p90": _percentile(chroma, 90),
        "texture_ratio_median": _percentile([o.texture_ratio for o in objs if o.texture_ratio is not None], 50),
        "forbidden_objects": sum(forbidden) if forbidden else None,
        "forbidden_checked": len(forbidden),
        "visible_fraction_median": _percentile(
            [o.visible_fraction for o in objs if o.visible_fraction is not None], 50
        ),
        "target_label_shares": {k: v / len(objs) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))},
        "notes": [f"{fig}: {len(whys)} object(s) not measured ({whys[0]})" for fig, whys in missing.items()],
    }


#: row label -> (key, format); "share" prints a percentage, "count" prints "n of checked"
_ROWS = (
    ("objects", "n_objects", "int"),
    ("size within 0.5-2x", "size_in_range", "share"),
    ("size ratio median", "size_ratio_median", "float"),
    ("whole (>= 95 % one piece)", "whole", "share"),
    ("chroma shift median", "chroma_shift_median", "float"),
    ("chroma shift p90", "chroma_shift_p90", "float"),
    ("texture ratio median", "texture_ratio_median", "float"),
    ("on ego/border/out of roi", "forbidden_objects", "count"),
    ("visible fraction median", "visible_fraction_median", "float"),
)


def _cell(fig: dict[str, Any], key: str, kind: str) -> str:
    value = fig[key]
    if value is None:
        return "-"
    if kind == "share":
        return f"{value:.1%}"
    if kind == "count":
        return f"{value} of {fig['forbidden_checked']}"
    return f"{value:.2f}" if kind == "float" else f"{value:,}"


def print_plausibility(groups: dict[str, dict[str, Any]], console: Console) -> None:
    """Print the ``plausibility`` figures of the groups (split name or ``total`` -> stats) as one table."""
    figs = {name: g["plausibility"] for name, g in groups.items() if g.get("plausibility", {}).get("n_objects")}
    if not figs:
        return
    table = Table(title="plausibility of placed objects", title_justify="left")
    table.add_column("")
    for name in figs:
        table.add_column(name, justify="right", style="bold" if name == "total" else None)
    for label, key, kind in _ROWS:
        table.add_row(label, *(_cell(f, key, kind) for f in figs.values()))
    labels = list(figs.get("total", next(iter(figs.values())))["target_label_shares"])
    for target in labels:
        table.add_row(f"target {target}", *(f"{f['target_label_shares'].get(target, 0.0):.1%}" for f in figs.values()))
    console.print(table)
    for name, fig in figs.items():
        for note in fig["notes"]:
            console.print(f"{name}: {note}", highlight=False, markup=False, soft_wrap=True)
