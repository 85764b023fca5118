"""Fishyscapes Lost & Found (validation, 100 frames); shared helpers of the Fishyscapes readers.

Official layout: ``fishyscapes_lostandfound.zip`` holds ``<fsid:04d>_<lafid>_labels.png`` (in the
root or ``<root>/fishyscapes_lostandfound/``); the images are the Lost and Found ``leftImg8bit``
frames named by ``lafid``, searched under ``laf_root`` (default: the root, then
``<root>/dataset_LostAndFound``)::

    <laf_root>/leftImg8bit/{train,test}/<NN>_<scene>/<lafid>_leftImg8bit.png

Labels: 0 normal, 1 anomaly, every other value (255 included) void, as Fishyscapes' ``eval.py``.
Image ids are ``<fsid:04d>_<lafid>`` (the label name without ``_labels.png``), so sorted ids follow
the integer Fishyscapes id.

Redistributed layout (``Validation_Dataset/FS_LostFound_full``, already remapped): images
``images/<stem>.png``, labels ``labels_masks/<stem>.png`` holding only 0 / 1 / 255; any other value
raises :class:`~oodforge.errors.ValueCheckError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from oodforge.benchmarks._base import BenchmarkReader, FrameFiles
from oodforge.benchmarks._folders import FolderLayout, describe_layouts, detect_layout
from oodforge.benchmarks._labels import FISHYSCAPES, STRICT_BINARY, LabelEncoding
from oodforge.benchmarks._registry import register_benchmark
from oodforge.errors import DataLayoutError

__all__ = ["FishyscapesLostAndFound", "fishyscapes_labels"]

_LABEL_RE = re.compile(r"^(\d+)_(.+)_labels\.png$")
_LAF_ID_RE = re.compile(r"^(\d{2}_.+)_\d{6}_\d{6}$")
_LAF_EXTS = ("png", "webp", "jpg")


def fishyscapes_labels(label_dirs: list[Path]) -> dict[str, tuple[str, Path]]:
    """Official Fishyscapes label files in the first folder of ``label_dirs`` that has any.

    Returns:
        image id (``<fsid>_<base id>``) -> (base id, label path); empty when no folder has labels.
    """
    for folder in label_dirs:
        if not folder.is_dir():
            continue
        found = {}
        for path in folder.glob("*_labels.png"):
            m = _LABEL_RE.match(path.name)
            if m and path.is_file():
                found[f"{m.group(1)}_{m.group(2)}"] = (m.group(2), path)
        if found:
            return found
    return {}


def _laf_image(laf_roots: list[Path], lafid: str) -> Path | None:
    """The Lost and Found ``leftImg8bit`` frame of ``lafid`` (train or test split), or None."""
    m = _LAF_ID_RE.match(lafid)
    if m is None:
        return None
    for base in laf_roots:
        for split in ("train", "test"):
            for ext in _LAF_EXTS:
                path = base / "leftImg8bit" / split / m.group(1) / f"{lafid}_leftImg8bit.{ext}"
                if path.is_file():
                    return path
    return None


@register_benchmark("fishyscapes_lost_and_found")
class FishyscapesLostAndFound(BenchmarkReader):
    """Fishyscapes Lost & Found, split ``val`` (the test set is hidden on the Fishyscapes server).

    Args:
        root: Folder holding the ``*_labels.png`` files (or ``fishyscapes_lostandfound/``), or a
            redistributed ``FS_LostFound_full`` folder or its parent.
        split: ``val`` (or None).
        laf_root: Lost and Found root holding ``leftImg8bit/`` for the official layout; default: the
            root, then ``<root>/dataset_LostAndFound``.
    """

    splits: ClassVar[tuple[str, ...]] = ("val",)
    default_split: ClassVar[str] = "val"
    redistributed: ClassVar[tuple[FolderLayout, ...]] = (
        FolderLayout("FS_LostFound_full/images", "FS_LostFound_full/labels_masks", ".png", ("png", "jpg", "webp")),
        FolderLayout("images", "labels_masks", ".png", ("png", "jpg", "webp")),
    )
    official: bool

    def __init__(self, root: str | Path, split: str | None = None, laf_root: str | Path | None = None) -> None:
        self.laf_root = None if laf_root is None else Path(laf_root)
        super().__init__(root, split)

    def _laf_roots(self) -> list[Path]:
        if self.laf_root is not None:
            return [self.laf_root]
        return [self.root, self.root / "dataset_LostAndFound"]

    def expected_layout(self) -> str:
        """The accepted layouts (one line)."""
        return (
            "<root>/<fsid:04d>_<lafid>_labels.png (or in <root>/fishyscapes_lostandfound/) with images "
            "<laf_root>/leftImg8bit/{train,test}/<NN>_<scene>/<lafid>_leftImg8bit.png (laf_root: option, default "
            f"<root> or <root>/dataset_LostAndFound), or {describe_layouts(self.redistributed)}"
        )

    def _encoding(self, files: FrameFiles) -> LabelEncoding:
        return FISHYSCAPES if self.official else STRICT_BINARY

    def _discover(self, split: str) -> dict[str, FrameFiles]:
        labels = fishyscapes_labels([self.root, self.root / "fishyscapes_lostandfound"])
        self.official = bool(labels)
        if not labels:
            found = detect_layout(self.root, self.redistributed)
            if found is None:
                raise DataLayoutError(f"{self.root}: no labels or images found; expected {self.expected_layout()}")
            return found[1]
        roots = self._laf_roots()
        frames, missing = {}, []
        for image_id, (lafid, label_path) in labels.items():
            image = _laf_image(roots, lafid)
            if image is None:
                missing.append(lafid)
            else:
                frames[image_id] = FrameFiles(image, label_path)
        if missing:
            where = " or ".join(str(r) for r in roots)
            raise DataLayoutError(
                f"{self.root}: no Lost and Found image for {len(missing)} of {len(labels)} Fishyscapes labels "
                f"(first: {sorted(missing)[0]}); expected {where}/leftImg8bit/{{train,test}}/<NN>_<scene>/"
                "<lafid>_leftImg8bit.png (pass laf_root= if Lost and Found lives elsewhere)"
            )
        return frames
