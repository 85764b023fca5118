"""Read what a synthesized dataset shows: the final composite of each image (GT, id map, labels).

Every export target derives its labels from these three files only, never from the manifest's
bookkeeping (``instances``, ``area_px``, ``bbox``): the manifest only says which files belong together.
:func:`read_composite` checks the pixel conventions (SPEC "Pixel-level definitions") before anything is
derived: GT values in {0, 1, 255}, ``idmap > 0`` exactly where ``GT == 1`` (an object covers a pixel
there and nowhere else), and a labels entry for every id visible in the id map.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._io import read_bytes, read_label_png
from oodforge._paths import relative_inside
from oodforge.config.identity import config_sha256
from oodforge.errors import DataLayoutError, InputFileError, SampleError, UsageError
from oodforge.export.manifest import ManifestRecord, read_manifest

__all__ = ["Composite", "DatasetView", "check_composite", "open_dataset", "read_composite", "read_labels"]


@dataclass(frozen=True)
class Composite:
    """The final composite of one image, as written in the dataset.

    Attributes:
        split: the dataset split.
        image_id: the Cityscapes stem.
        source_split: the Cityscapes split the scene comes from.
        image_rel: the image path relative to the dataset root.
        gt: (H, W) uint8 0 normal / 1 anomaly / 255 ignore.
        idmap: (H, W) uint16, k = k-th placed instance, 0 none.
        labels: labels entries (``labels/<id>.json``) keyed by their id.
    """

    split: str
    image_id: str
    source_split: str
    image_rel: str
    gt: np.ndarray
    idmap: np.ndarray
    labels: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def visible_ids(self) -> list[int]:
        """The instance ids that hold at least one pixel of the id map, ascending."""
        return [int(k) for k in np.unique(self.idmap) if k != 0]


@dataclass(frozen=True)
class DatasetView:
    """An opened dataset: its ``ok`` records (of the chosen splits) and what the export reports about it.

    Attributes:
        root: the dataset root.
        records: the ``ok`` records of the chosen splits, in manifest order.
        failed: per split, the number of ``failed`` records (skipped).
        splits: the chosen splits (sorted).
        config_sha256: the records' ``config_sha256`` (of the resolved config without machine-local paths).
    """

    root: Path
    records: list[ManifestRecord]
    failed: dict[str, int]
    splits: list[str]
    config_sha256: str


def open_dataset(root: Path, splits: list[str] | None = None) -> DatasetView:
    """Open a dataset written by ``oodforge synth`` and select its ``ok`` records.

    Raises:
        InputFileError: ``root`` does not exist, or a manifest line is malformed.
        DataLayoutError: ``root`` is not a folder or has no manifest.
        UsageError: a split in ``splits`` that the dataset does not have.
    """
    if not root.exists():
        raise InputFileError(f"{root}: dataset folder not found")
    if not root.is_dir() or not (root / "manifest.jsonl").is_file():
        raise DataLayoutError(
            f"{root}: not an oodforge dataset (no manifest.jsonl); expected the output of `oodforge synth`"
        )
    records = read_manifest(root / "manifest.jsonl")
    present = sorted({r.split for r in records})
    unknown = sorted(set(splits or ()) - set(present))
    if unknown:
        raise UsageError(f"unknown split {unknown[0]!r}; the dataset has: {', '.join(present) or 'none'}")
    chosen = sorted(set(splits)) if splits else present
    kept = [r for r in records if r.split in chosen]
    failed = {s: sum(r.split == s and r.status == "failed" for r in kept) for s in chosen}
    shas = sorted({r.config_sha256 for r in records})
    config = root / "config.yaml"
    sha = shas[0] if len(shas) == 1 else ""
    if not sha and config.is_file():  # no record, or records of several configs: the config as it is now
        sha = config_sha256(config.read_bytes(), str(config))
    return DatasetView(root, [r for r in kept if r.status == "ok"], failed, chosen, sha)


def _rel(rec: ManifestRecord, key: str) -> list[str]:
    value = rec.outputs.get(key)
    rels = [] if value is None else [value] if isinstance(value, str) else list(value)
    for rel in rels:
        if relative_inside(rel) is None:
            raise DataLayoutError(f"{rec.split}/{rec.image_id}: outputs.{key} {rel!r} leaves the dataset root")
    return rels


def _read_png(path: Path, dtype: type) -> np.ndarray:
    try:
        return read_label_png(path, dtype)
    except SampleError as exc:
        raise InputFileError(str(exc)) from None


def _read_idmap(root: Path, rec: ManifestRecord, shape: tuple[int, ...]) -> np.ndarray:
    """The uint16 id map: the ``idmap`` PNG, or the ``npy`` masks combined (mask k -> id k, a later one wins)."""
    value = rec.outputs.get("instances")
    rels = _rel(rec, "instances")
    if isinstance(value, str):
        return _read_png(root / rels[0], np.uint16)
    idmap = np.zeros(shape, np.uint16)
    for k, rel in enumerate(rels, 1):
        try:
            mask = np.load(io.BytesIO(read_bytes(root / rel)), allow_pickle=False)
        except SampleError as exc:
            raise InputFileError(str(exc)) from None
        except (ValueError, OSError, EOFError) as exc:
            raise InputFileError(f"{root / rel}: unreadable .npy instance mask ({exc})") from None
        if mask.shape != shape or mask.dtype != np.bool_:
            raise DataLayoutError(f"{root / rel}: expected a {shape} bool mask, got {mask.shape} {mask.dtype}")
        idmap[mask] = k
    return idmap


def read_labels(root: Path, rec: ManifestRecord) -> dict[int, dict[str, Any]]:
    """The labels entries of one record (``labels/<id>.json``) keyed by their id (empty when none).

    Raises:
        InputFileError: the file is missing or not JSON.
        DataLayoutError: not a list of objects with unique integer ids >= 1.
    """
    rels = _rel(rec, "labels")
    if not rels:
        return {}
    path = root / rels[0]
    try:
        doc = json.loads(read_bytes(path).decode("utf-8"))
    except SampleError as exc:
        raise InputFileError(str(exc)) from None
    except ValueError as exc:
        raise InputFileError(f"{path}: not a JSON labels file ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, list):
        raise DataLayoutError(f"{path}: expected a JSON list of labels, found {type(doc).__name__}")
    labels: dict[int, dict[str, Any]] = {}
    for entry in doc:
        k = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k in labels:
            raise DataLayoutError(f"{path}: label entry {entry!r}: expected an object with a unique integer id >= 1")
        labels[k] = entry
    return labels


def check_composite(gt: np.ndarray, idmap: np.ndarray, labels: dict[int, dict[str, Any]], where: str) -> None:
    """Check the pixel conventions of one composite (see the module docstring).

    Args:
        gt: (H, W) uint8 ground truth.
        idmap: (H, W) uint16 instance id map.
        labels: labels entries keyed by id.
        where: how messages name the image (its GT file).

    Raises:
        DataLayoutError: shapes differ, GT values outside {0, 1, 255}, GT 1 and the id map disagree, or a
            visible id has no labels entry.

    Example:
        >>> gt = np.array([[0, 1, 255]], np.uint8)
        >>> check_composite(gt, np.array([[0, 1, 0]], np.uint16), {1: {"id": 1}}, "x.png")
        >>> check_composite(gt, np.array([[2, 1, 0]], np.uint16), {1: {"id": 1}}, "x.png")
        Traceback (most recent call last):
        ...
        oodforge.errors.DataLayoutError: x.png: 1 pixel(s) with GT != 1 hold an instance id (e.g. row 0, col 0); expected idmap > 0 exactly where GT == 1
    """  # noqa: E501
    if gt.shape != idmap.shape:
        raise DataLayoutError(f"{where}: GT is {gt.shape} but the instance map is {idmap.shape}; expected one size")
    bad = np.setdiff1d(np.unique(gt), (0, 1, 255))
    if bad.size:
        raise DataLayoutError(f"{where}: GT values {bad.tolist()[:5]} found; expected 0, 1 and 255 only")
    for name, wrong in (
        ("GT == 1 hold no instance id", (gt == 1) & (idmap == 0)),
        ("GT != 1 hold an instance id", (gt != 1) & (idmap != 0)),
    ):
        n = int(np.count_nonzero(wrong))
        if n:
            r, c = (int(v[0]) for v in np.nonzero(wrong))
            raise DataLayoutError(
                f"{where}: {n} pixel(s) with {name} (e.g. row {r}, col {c}); expected idmap > 0 exactly where GT == 1"
            )
    missing = [k for k in np.unique(idmap).tolist() if k and k not in labels]
    if missing:
        raise DataLayoutError(f"{where}: instance id {missing[0]} is visible but has no labels entry")


def read_composite(root: Path, rec: ManifestRecord) -> Composite:
    """Read and check the composite of one ``ok`` record (see :func:`check_composite`).

    Raises:
        InputFileError: a file is missing or unreadable (the message names it).
        DataLayoutError: the files break the pixel conventions.
    """
    image_rel = _rel(rec, "image")
    gt_rel = _rel(rec, "gt_pixel")
    if not image_rel or not gt_rel:
        raise DataLayoutError(f"{rec.split}/{rec.image_id}: the record lists no image or gt_pixel output")
    gt = _read_png(root / gt_rel[0], np.uint8)
    idmap = _read_idmap(root, rec, gt.shape)
    labels = read_labels(root, rec)
    check_composite(gt, idmap, labels, str(root / gt_rel[0]))
    return Composite(rec.split, rec.image_id, rec.source_split, image_rel[0], gt, idmap, labels)
