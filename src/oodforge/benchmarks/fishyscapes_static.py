"""Fishyscapes Static (validation, 30 frames): Cityscapes frames with pasted Pascal VOC objects.

Official layout (``fs_val_v{1,2,3}.zip``, extracted into the root)::

    <root>/<fsid:04d>_<cityscapes id>_labels.png     0 normal / 1 anomaly / anything else void
    <root>/<fsid:04d>_<cityscapes id>_rgb.npz         key "rgb": int (H, W, 3) overlay
    <cityscapes_root>/leftImg8bit/{val,train,test}/<city>/<cityscapes id>_leftImg8bit.png

The image is ``clip(cityscapes frame + overlay, 0, 255)`` as in the Fishyscapes tfds builder
(``cityscapes_root`` defaults to the root, then ``<root>/cityscapes``).

Redistributed layout (``Validation_Dataset/fs_static``): ``images/<stem>.jpg`` and
``labels_masks/<stem>.png``. Its label encoding is ambiguous (``benchmarks.md`` section 4): one
course codebase reads 1 as anomaly, another reads 255 as OOD, and the files were not available to
settle it. Hence the explicit ``label_encoding`` option:

``"binary"`` (default)
    0 normal, 1 anomaly, 255 void, the encoding of the official Fishyscapes labels and of the
    redistributed ``FS_LostFound_full`` copy. Other values raise. A frame holding 255 but no 1 is
    refused too: every Fishyscapes Static frame contains a pasted object, so such a file is almost
    certainly in the "255 is OOD" encoding.
``"255_is_ood"``
    0 normal, 255 anomaly, no void; any other value (a 1 included) raises.

Either way a contradiction fails loudly, naming the file and the other encoding, instead of
producing a silently wrong ground truth.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import numpy as np

from oodforge._io import read_image_rgb
from oodforge.benchmarks._base import BenchmarkReader, FrameFiles
from oodforge.benchmarks._folders import FolderLayout, describe_layouts, detect_layout
from oodforge.benchmarks._labels import ANOMALY, FISHYSCAPES, STRICT_255_IS_OOD, STRICT_BINARY, VOID, LabelEncoding
from oodforge.benchmarks._registry import register_benchmark
from oodforge.benchmarks.fishyscapes import fishyscapes_labels
from oodforge.errors import DataLayoutError, SampleError, ShapeError, UsageError, ValueCheckError

__all__ = ["LABEL_ENCODINGS", "FishyscapesStatic"]

#: Accepted values of the ``label_encoding`` option (redistributed copy only).
LABEL_ENCODINGS: dict[str, LabelEncoding] = {"binary": STRICT_BINARY, "255_is_ood": STRICT_255_IS_OOD}
_CITYSCAPES_ID_RE = re.compile(r"^(.+)_\d{6}_\d{6}$")


@register_benchmark("fishyscapes_static")
class FishyscapesStatic(BenchmarkReader):
    """Fishyscapes Static, split ``val`` (the test set is hidden on the Fishyscapes server).

    Args:
        root: Folder holding the official ``*_labels.png`` + ``*_rgb.npz`` files, or a redistributed
            ``fs_static`` folder or its parent.
        split: ``val`` (or None).
        cityscapes_root: Cityscapes root holding ``leftImg8bit/`` (official layout only).
        label_encoding: ``"binary"`` or ``"255_is_ood"`` for the redistributed copy (None: ``"binary"``);
            setting it for the official layout is an error.

    Raises:
        UsageError: unknown ``label_encoding``, or one given for the official layout.
    """

    splits: ClassVar[tuple[str, ...]] = ("val",)
    default_split: ClassVar[str] = "val"
    redistributed: ClassVar[tuple[FolderLayout, ...]] = (
        FolderLayout("fs_static/images", "fs_static/labels_masks", ".png", ("jpg", "png", "webp")),
        FolderLayout("images", "labels_masks", ".png", ("jpg", "png", "webp")),
    )
    official: bool

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        cityscapes_root: str | Path | None = None,
        label_encoding: str | None = None,
    ) -> None:
        if label_encoding is not None and label_encoding not in LABEL_ENCODINGS:
            raise UsageError(
                f"fishyscapes_static: unknown label_encoding '{label_encoding}'; valid: {', '.join(LABEL_ENCODINGS)}"
            )
        self.cityscapes_root = None if cityscapes_root is None else Path(cityscapes_root)
        self._requested_encoding = label_encoding
        super().__init__(root, split)
        if self.official and label_encoding is not None:
            raise UsageError(
                f"{self.root}: label_encoding applies to the redistributed fs_static copy only; the official "
                "Fishyscapes labels are always 0 normal / 1 anomaly / other void"
            )
        self.label_encoding = None if self.official else (label_encoding or "binary")

    def expected_layout(self) -> str:
        """The accepted layouts (one line)."""
        return (
            "<root>/<fsid:04d>_<cityscapes_id>_labels.png with <root>/<fsid:04d>_<cityscapes_id>_rgb.npz and "
            "<cityscapes_root>/leftImg8bit/val/<city>/<cityscapes_id>_leftImg8bit.png (cityscapes_root: option, "
            f"default <root> or <root>/cityscapes), or {describe_layouts(self.redistributed)}"
        )

    def _encoding(self, files: FrameFiles) -> LabelEncoding:
        if self.official:
            return FISHYSCAPES
        return LABEL_ENCODINGS[self._requested_encoding or "binary"]

    def _check_label(self, label: np.ndarray, files: FrameFiles) -> None:
        if self.official or (self._requested_encoding or "binary") != "binary":
            return
        if np.any(label == VOID) and not np.any(label == ANOMALY):
            raise ValueCheckError(
                f"{files.label_path}: holds 0 and 255 but no 1, which contradicts label_encoding='binary' "
                "(1 anomaly, 255 void; every Fishyscapes Static frame has an anomaly): the file looks like the "
                "'255 is OOD' encoding, pass label_encoding='255_is_ood'"
            )

    def _load_image(self, files: FrameFiles) -> np.ndarray:
        base = read_image_rgb(files.image_path)
        if files.overlay_path is None:
            return base
        try:
            with np.load(files.overlay_path, allow_pickle=False) as npz:
                overlay = np.asarray(npz["rgb"])
        except (OSError, ValueError, KeyError) as exc:
            raise SampleError(f"{files.overlay_path}: unreadable Fishyscapes overlay ({exc})") from None
        if overlay.shape != base.shape:
            raise ShapeError(
                f"{files.overlay_path}: overlay shape {overlay.shape} differs from the image {files.image_path} "
                f"shape {base.shape}"
            )
        return np.clip(base.astype(np.int64) + overlay.astype(np.int64), 0, 255).astype(np.uint8)

    def _discover(self, split: str) -> dict[str, FrameFiles]:
        labels = fishyscapes_labels([self.root])
        self.official = bool(labels)
        if not labels:
            found = detect_layout(self.root, self.redistributed)
            if found is None:
                raise DataLayoutError(f"{self.root}: no labels or images found; expected {self.expected_layout()}")
            return found[1]
        roots = [self.cityscapes_root] if self.cityscapes_root is not None else [self.root, self.root / "cityscapes"]
        frames: dict[str, FrameFiles] = {}
        for image_id, (cid, label_path) in sorted(labels.items()):
            overlay = _overlay(label_path, image_id)
            image = _cityscapes_image(roots, cid)
            if overlay is None or image is None:
                what = (
                    f"overlay {label_path.parent}/{image_id}_rgb.npz"
                    if overlay is None
                    else f"Cityscapes frame {' or '.join(map(str, roots))}/leftImg8bit/val/<city>/{cid}_leftImg8bit.png"
                )
                raise DataLayoutError(
                    f"{self.root}: no {what} for {label_path.name}; expected {self.expected_layout()}"
                )
            frames[image_id] = FrameFiles(image, label_path, overlay)
        return frames


def _overlay(label_path: Path, image_id: str) -> Path | None:
    """``<image_id>_rgb.npz`` next to the label, else the first ``<fsid>_*rgb.npz`` (tfds rule)."""
    exact = label_path.with_name(f"{image_id}_rgb.npz")
    if exact.is_file():
        return exact
    fsid = image_id.split("_", 1)[0]
    matches = sorted(p for p in label_path.parent.glob(f"{fsid}_*rgb.npz") if p.is_file())
    return matches[0] if matches else None


def _cityscapes_image(roots: list[Path], cid: str) -> Path | None:
    """The Cityscapes ``leftImg8bit`` frame of ``cid`` (val, train or test split), or None."""
    m = _CITYSCAPES_ID_RE.match(cid)
    if m is None:
        return None
    for base in roots:
        for split in ("val", "train", "test"):
            path = base / "leftImg8bit" / split / m.group(1) / f"{cid}_leftImg8bit.png"
            if path.is_file():
                return path
    return None
