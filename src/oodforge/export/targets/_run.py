"""The machinery every export target shares: the export folder, verified writes, ``exports.json``.

An export folder holds one target's export of one dataset:

```
OUT/exports.json                 what was exported: target, options, per-split counts, files, version, config hash
OUT/.oodforge/files.json         the files oodforge wrote (oodforge.export.owned_folder)
OUT/...                          the target's files (PNG targets: OUT/<split>/<image_id>.png)
```

Before anything is written every input file is checked to exist (a missing Cityscapes label fails in one
line naming it, with nothing written); each written file is decoded back and compared with what was meant
to be written; ``exports.json`` is written last, so its absence marks an export that did not finish.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oodforge import __version__
from oodforge._io import atomic_write_bytes, atomic_write_json, encode_png
from oodforge.errors import InputFileError, OodforgeError, UsageError
from oodforge.export.manifest import ManifestRecord
from oodforge.export.owned_folder import OwnedFolder, check_owned_folder, open_owned_folder
from oodforge.export.targets._dataset import Composite, DatasetView, read_composite

__all__ = [
    "EXPORTS_JSON",
    "Progress",
    "TargetExport",
    "new_counts",
    "open_export",
    "preflight",
    "run_png_export",
    "write_exports_json",
    "write_verified_json",
    "write_verified_png",
]

Progress = Callable[[str, int, int], None]
EXPORTS_JSON = "exports.json"
EXPORTS_FORMAT = "oodforge-export/1"
_COUNT_KEYS = ("images", "with_anomaly", "anomaly_pixels", "ignore_pixels", "instances", "hidden_instances", "failed")


def new_counts(failed: int = 0) -> dict[str, int]:
    """Zeroed per-split counts: images, with_anomaly, anomaly/ignore pixels, (hidden) instances, failed."""
    counts = dict.fromkeys(_COUNT_KEYS, 0)
    counts["failed"] = failed
    return counts


@dataclass
class TargetExport:
    """Outcome of one export.

    Attributes:
        root: the export folder.
        target: the target name (``trainids``, ``outlier-mask``, ``coco``, ``cityscapes-instances``).
        options: the target's options as recorded in ``exports.json``.
        per_split: per split: ``images`` written, ``with_anomaly`` (>= 1 anomaly pixel), ``anomaly_pixels``,
            ``ignore_pixels`` (of the written labels), ``instances`` (visible, labelled), ``hidden_instances``
            (listed in ``labels/<id>.json`` but without a visible pixel: no label written), ``failed``
            (records of the dataset that failed; skipped).
        files: the ``files`` entries of ``exports.json``.
        kept_files: files in ``root`` that oodforge did not write (left alone).
    """

    root: Path
    target: str
    options: dict[str, Any]
    per_split: dict[str, dict[str, int]]
    files: list[dict[str, Any]] = field(default_factory=list)
    kept_files: int = 0

    @property
    def totals(self) -> dict[str, int]:
        """The per-split counts summed over splits."""
        return {k: sum(c[k] for c in self.per_split.values()) for k in _COUNT_KEYS}


def preflight(view: DatasetView, scene_files: Callable[[ManifestRecord], Iterable[Path]] | None = None) -> None:
    """Check that every file the export will read exists, before anything is written.

    Raises:
        InputFileError: the first missing file, named, with how many images lack one.
    """
    missing: list[Path] = []
    for rec in view.records:
        paths = [view.root / rel for key in ("image", "gt_pixel", "instances", "labels") for rel in _outputs(rec, key)]
        paths += list(scene_files(rec)) if scene_files else []
        missing += [p for p in paths if not p.is_file()][:1]
    if missing:
        raise InputFileError(
            f"{missing[0]}: file not found ({len(missing)} of {len(view.records)} images lack an input file); "
            "nothing was exported"
        )


def _outputs(rec: ManifestRecord, key: str) -> list[str]:
    value = rec.outputs.get(key)
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _check_out(out: Path, dataset: Path, overwrite: bool) -> None:
    o, d = out.resolve(), dataset.resolve()
    if o == d or d in o.parents or o in d.parents:
        raise UsageError(f"{out}: the export folder must be outside the dataset {dataset} (and not contain it)")
    check_owned_folder(out, overwrite=overwrite, key="export folder", what="export")


@contextmanager
def open_export(
    view: DatasetView, out: Path, target: str, rels: list[str], *, overwrite: bool
) -> Iterator[OwnedFolder]:
    """Check, lock and open ``out``; claim ``rels`` and ``exports.json`` (replacing a previous export).

    Raises:
        UsageError: ``out`` overlaps the dataset, is not empty and not an export, holds an export and
            ``overwrite`` is False, or holds a file oodforge did not write at a path to write.
    """
    _check_out(out, view.root, overwrite)
    with open_owned_folder(out, command=f"oodforge export {target}", overwrite=overwrite, key="export folder",
                           what="export") as owned:  # fmt: skip
        owned.claim([*rels, EXPORTS_JSON], replace=True)
        yield owned


def write_verified_png(path: Path, arr: np.ndarray) -> None:
    """Write an (H, W) uint8/uint16 label array as PNG atomically, decode the file back and compare.

    Raises:
        OodforgeError: the file read back differs from ``arr`` (dtype, shape or a pixel).
    """
    atomic_write_bytes(path, encode_png(arr))
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if back is None or back.dtype != arr.dtype or back.shape != arr.shape or not np.array_equal(back, arr):
        found = "unreadable" if back is None else f"{back.dtype} {back.shape}"
        raise OodforgeError(f"{path}: verification failed: the written PNG ({found}) differs from the label array")


def write_verified_json(path: Path, doc: Any, *, indent: int | None = None) -> None:
    """Write JSON atomically (``indent`` as in :func:`json.dumps`), parse the file back and compare with ``doc``.

    Raises:
        OodforgeError: the parsed file differs from ``doc``.
    """
    atomic_write_json(path, doc, indent=indent)
    if json.loads(path.read_text(encoding="utf-8")) != doc:
        raise OodforgeError(f"{path}: verification failed: the written JSON differs from what was meant")


def write_exports_json(view: DatasetView, res: TargetExport) -> None:
    """Write ``OUT/exports.json`` (see the module docstring)."""
    doc = {
        "format": EXPORTS_FORMAT,
        "target": res.target,
        "options": res.options,
        "dataset": str(view.root.resolve()),
        "config_sha256": view.config_sha256,
        "oodforge_version": __version__,
        "splits": res.per_split,
        "files": res.files,
    }
    write_verified_json(res.root / EXPORTS_JSON, doc, indent=1)


def png_rel(comp: Composite | ManifestRecord) -> str:
    """``<split>/<image_id>.png``: where a PNG target writes the label of one image."""
    return f"{comp.split}/{comp.image_id}.png"


def run_png_export(
    view: DatasetView,
    out: Path,
    *,
    target: str,
    options: dict[str, Any],
    derive: Callable[[Composite], np.ndarray],
    count_ignore: Callable[[np.ndarray], int],
    scene_files: Callable[[ManifestRecord], Iterable[Path]] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TargetExport:
    """Write one PNG label per ``ok`` record, derived from its composite by ``derive``.

    Args:
        view: the opened dataset.
        out: the export folder.
        target: the target name.
        options: the options recorded in ``exports.json``.
        derive: composite -> (H, W) uint8/uint16 label array.
        count_ignore: label array -> number of its ignore pixels (for the counts).
        scene_files: record -> the Cityscapes files the target reads (checked before writing).
        overwrite: replace a previous export in ``out``.
        progress: optional ``progress(stage, done, total)`` callback.
    """
    preflight(view, scene_files)
    res = TargetExport(out, target, options, {s: new_counts(n) for s, n in view.failed.items()})
    rels = [png_rel(rec) for rec in view.records]
    with open_export(view, out, target, rels, overwrite=overwrite) as owned:
        for i, (rec, rel) in enumerate(zip(view.records, rels, strict=True), 1):
            comp = read_composite(view.root, rec)
            label = derive(comp)
            write_verified_png(out / rel, label)
            visible = comp.visible_ids
            counts = res.per_split[rec.split]
            counts["images"] += 1
            n_anomaly = int(np.count_nonzero(comp.gt == 1))
            counts["with_anomaly"] += int(n_anomaly > 0)
            counts["anomaly_pixels"] += n_anomaly
            counts["ignore_pixels"] += count_ignore(label)
            counts["instances"] += len(visible)
            counts["hidden_instances"] += len(set(comp.labels) - set(visible))
            res.files.append({"split": rec.split, "image_id": rec.image_id, "image": comp.image_rel, "label": rel})
            if progress:
                progress(f"{target}: writing", i, len(rels))
        res.kept_files = owned.kept
        write_exports_json(view, res)
    return res
